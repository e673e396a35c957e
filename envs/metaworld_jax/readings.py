"""Readings: the named quantities the task layer reads from the physics after each step.

A task declares what it reads as ``{name: (kind, mujoco_name)}``. Every backend fills the
same flat f32 vector from its own physics data, so the JAX task layer never sees a backend.

Kinds (size in floats):
  body_xpos 3, body_xquat 4 (w,x,y,z as MuJoCo stores it), geom_xpos 3, geom_xmat 9,
  site_xpos 3, site_xmat 9, qpos 1 (hinge/slide joint), qvel 1,
  touching 1: 1.0 when both finger pads press on the named geom with positive contact
  force, as metaworld's ``touching_object`` decides it.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import mujoco
import numpy as np

_BODY, _GEOM, _SITE, _JOINT = (mujoco.mjtObj.mjOBJ_BODY, mujoco.mjtObj.mjOBJ_GEOM, mujoco.mjtObj.mjOBJ_SITE,
                               mujoco.mjtObj.mjOBJ_JOINT)


@dataclasses.dataclass(frozen=True)
class Kind:
    """What a reading kind is, for every backend: `size` floats, read from row `index` of the
    (Mj / mjx) Data array `field` (None: computed, i.e. `touching`); the name it is given
    names an object of type `obj`; `code` is its number in backends/native_step.c."""

    size: int
    obj: mujoco.mjtObj
    field: str | None
    code: int


# The one table of reading kinds (native_step.c's switch numbers them as `code` does).
KINDS = {
    "body_xpos": Kind(3, _BODY, "xpos", 0),
    "body_xquat": Kind(4, _BODY, "xquat", 1),
    "geom_xpos": Kind(3, _GEOM, "geom_xpos", 2),
    "geom_xmat": Kind(9, _GEOM, "geom_xmat", 3),
    "site_xpos": Kind(3, _SITE, "site_xpos", 4),
    "site_xmat": Kind(9, _SITE, "site_xmat", 5),
    "qpos": Kind(1, _JOINT, "qpos", 6),
    "qvel": Kind(1, _JOINT, "qvel", 7),
    "touching": Kind(1, _GEOM, None, 8),
}
KIND_SIZES = {name: k.size for name, k in KINDS.items()}


def field_row(data, kind: str, index: int):
    """The `size` floats of a field reading (row `index` of its Data array; qpos/qvel: the
    joint's address), from a C MuJoCo MjData (numpy) or an mjx.Data (jax) alike."""
    k = KINDS[kind]
    return getattr(data, k.field).reshape(-1)[index * k.size : (index + 1) * k.size]


# Read by every task: the hand, the claws (gripper opening), the pads (caging rewards) and
# the two end-effector sites (tcp_center).
COMMON_READINGS: dict[str, tuple[str, str]] = {
    "hand": ("body_xpos", "hand"),
    "rightclaw": ("body_xpos", "rightclaw"),
    "leftclaw": ("body_xpos", "leftclaw"),
    "leftpad": ("body_xpos", "leftpad"),
    "rightpad": ("body_xpos", "rightpad"),
    "right_ee": ("site_xpos", "rightEndEffector"),
    "left_ee": ("site_xpos", "leftEndEffector"),
}


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where each named reading sits in the flat vector: name -> (offset, size)."""

    slots: Mapping[str, tuple[int, int]]
    size: int

    @staticmethod
    def of_sizes(sizes: Mapping[str, int]) -> "Layout":
        slots, offset = {}, 0
        for name, k in sizes.items():
            slots[name] = (offset, k)
            offset += k
        return Layout(slots=slots, size=offset)

    @staticmethod
    def of(spec: Mapping[str, tuple[str, str]]) -> "Layout":
        """Layout of a reading spec {name: (kind, mujoco_name)}."""
        for name, (kind, _) in spec.items():
            if kind not in KINDS:
                raise ValueError(f"unknown reading kind {kind!r} for {name!r}")
        return Layout.of_sizes({name: KIND_SIZES[kind] for name, (kind, _) in spec.items()})

    def pack(self, values: Mapping[str, np.ndarray], size: int | None = None) -> np.ndarray:
        """{name: array} -> f64[size or self.size] (zero padded), inverse of `unpack`."""
        out = np.zeros(self.size if size is None else size)
        for name, (off, k) in self.slots.items():
            out[off : off + k] = np.reshape(values[name], (k,))
        return out

    def unpack(self, flat):
        """flat f32[..., >= size] -> {name: f32[..., k]} (k = 1 readings become scalars)."""
        out = {}
        for name, (off, k) in self.slots.items():
            out[name] = flat[..., off] if k == 1 else flat[..., off : off + k]
        return out


def resolve(model: mujoco.MjModel, kind: str, name: str) -> int:
    """The index a reading reads: object id, or the joint's qpos / dof address."""
    obj = KINDS[kind].obj
    i = mujoco.mj_name2id(model, obj, name)
    if i < 0:
        raise ValueError(f"{kind} reading: no {obj.name[6:].lower()} named {name!r} in the scene")
    if kind == "qpos":
        return int(model.jnt_qposadr[i])
    if kind == "qvel":
        return int(model.jnt_dofadr[i])
    return i


def pad_geoms(model: mujoco.MjModel) -> tuple[int, int]:
    """(left, right) finger pad geom ids, for `touching` readings."""
    return (
        mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "leftpad_geom"),
        mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "rightpad_geom"),
    )


class HostReader:
    """Fills a reading vector from a C MuJoCo (model, data) pair, in float64."""

    def __init__(self, model: mujoco.MjModel, spec: Mapping[str, tuple[str, str]], frame_fix=None):
        """frame_fix: {geom id: f64[3, 3]} maps a geom's frame back to the stock scene's
        (`scene_adapter.AdaptedScene.frame_fix`); empty for stock scenes."""
        self.layout = Layout.of(spec)
        self._fix = dict(frame_fix or {})
        self._getters = [self._getter(model, kind, resolve(model, kind, name)) for kind, name in spec.values()]

    def _getter(self, model, kind, i):
        if kind == "touching":
            left, right = pad_geoms(model)
            return lambda d: np.array([_touching(d, i, left, right)])
        if kind == "geom_xmat" and i in self._fix:
            fix = self._fix[i]
            return lambda d: (field_row(d, kind, i).reshape(3, 3) @ fix).reshape(9)
        return lambda d: field_row(d, kind, i)

    def read(self, data: mujoco.MjData, out: np.ndarray) -> None:
        """Writes the readings into out[:layout.size] (float64 or float32)."""
        off = 0
        for get in self._getters:
            v = get(data)
            out[off : off + v.shape[0]] = v
            off += v.shape[0]


def _touching(d: mujoco.MjData, obj: int, left: int, right: int) -> float:
    """Both pads in contact with `obj` with positive summed normal force (metaworld's rule)."""
    n = d.ncon
    if n == 0:
        return 0.0
    c = d.contact
    g1, g2 = c.geom1[:n], c.geom2[:n]
    with_obj = (g1 == obj) | (g2 == obj)
    force = d.efc_force
    adr = c.efc_address[:n]

    def pad_force(pad):
        mask = with_obj & ((g1 == pad) | (g2 == pad))
        return force[adr[mask]].sum() if mask.any() else 0.0

    return float(pad_force(left) > 0 and pad_force(right) > 0)
