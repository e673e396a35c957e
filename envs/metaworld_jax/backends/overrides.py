"""Per-goal model overrides: the bodies and sites metaworld moves in the model at reset.

metaworld edits `model.body_pos` / `model.site_pos` when it resets some tasks (the drawer,
the door, the button box...). The reset builder records these edits per goal; every backend
replays them for the slot's (task, goal) at every step.
"""

from __future__ import annotations

import numpy as np

from metaworld_jax.goals import NUM_GOALS


def complete_overrides(tasks, overrides, models):
    """Tasks sharing a scene may move different bodies; a task that does not move one must
    see its stock position, so every task of a scene overrides the union of their keys."""
    keys_by_scene: dict[str, dict] = {}
    for t, ov in zip(tasks, overrides):
        keys_by_scene.setdefault(t.scene, {}).update(dict.fromkeys(ov))
    out = []
    for t, ov in zip(tasks, overrides):
        m = models[t.scene]
        full = {}
        for kind, name in keys_by_scene[t.scene]:
            if (kind, name) in ov:
                full[(kind, name)] = ov[(kind, name)]
            else:
                stock = m.body(name).pos if kind == "body" else m.site(name).pos
                full[(kind, name)] = np.tile(stock, (NUM_GOALS, 1))
        out.append(full)
    return out


def layout(model) -> tuple[int, ...]:
    """What overrides (body/site ids) and a physics state (qpos, qvel, act, ctrl, mocap) index
    into: a scene's variants (stock, mjx, warp) only reshape geoms, so they all share it."""
    return (model.nbody, model.nsite, model.nq, model.nv, model.na, model.nu, model.nmocap)


def same_layout(want: tuple[int, ...], model, scene: str) -> None:
    """ValueError unless ``model`` has the layout ``want`` of ``scene``."""
    if layout(model) != want:
        raise ValueError(f"the model given for {scene} has another layout (bodies, sites, nq, nv, na, nu, "
                         f"nmocap: {layout(model)}, expected {want})")
