"""Scene loading: each task's MJCF straight from the installed `metaworld` package.

Nothing here changes the physics. The one edit is the weld fix metaworld itself applies
(`reset_mocap_welds`): the mocap weld's eq_data becomes [0,0,0, 0,0,0, -1,0,0,0, 5.0] so the
hand follows the mocap body under MuJoCo 3.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
from pathlib import Path

import mujoco
import numpy as np

_WELD_EQ_DATA = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 5.0])


@functools.cache
def metaworld_asset_dir() -> Path:
    """The `assets` folder of the installed metaworld package (not imported: only located)."""
    spec = importlib.util.find_spec("metaworld")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "metaworld_jax loads its scenes from the installed `metaworld` package; "
            "install it with `pip install metaworld==3.1.1`."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "assets"


@functools.cache
def _stock_model(scene: str) -> mujoco.MjModel:
    path = metaworld_asset_dir() / scene
    if not path.is_file():
        raise FileNotFoundError(f"scene {scene!r} not found in the metaworld package at {path}")
    return finish_model(mujoco.MjModel.from_xml_path(str(path)))


def finish_model(model: mujoco.MjModel) -> mujoco.MjModel:
    """Applies metaworld's mocap weld fix to a freshly compiled scene (in place)."""
    if model.nmocap > 0:
        for i in range(model.neq):
            if model.eq_type[i] == mujoco.mjtEq.mjEQ_WELD:
                # MuJoCo 4 stores 12 floats per equality (3.3: 11); metaworld writes the first 11.
                model.eq_data[i, : _WELD_EQ_DATA.size] = _WELD_EQ_DATA
    return model


def load_model(scene: str) -> mujoco.MjModel:
    """A private copy of the scene's model (callers may edit body/site positions on it).

    scene: path relative to metaworld's assets folder, e.g. "sawyer_xyz/sawyer_reach_v3.xml".
    """
    return copy.copy(_stock_model(scene))  # MjModel's copy is a deep copy
