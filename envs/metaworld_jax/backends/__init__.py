"""Physics backends behind one interface.

A backend is built from the env's tasks and per-goal model overrides and offers
    step(physics, task_id, goal_index, control) -> (physics, readings)
for ONE slot (batch with jax.vmap): it applies the control (mocap delta f32[3] already
scaled and clipped to [-0.01, 0.01] per axis, gripper command f32[]), advances frame_skip
substeps, runs the forward pass metaworld runs before observing, and returns the next
physics state and the flat f32 reading vector (`readings.Layout` of the slot's task).
"""

from __future__ import annotations

BACKENDS = ("mujoco",)


def make_backend(name: str, **kwargs):
    if name == "mujoco":
        from metaworld_jax.backends.mujoco_c import MujocoBackend

        return MujocoBackend(**kwargs)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
