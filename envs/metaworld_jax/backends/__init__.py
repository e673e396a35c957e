"""Physics backends behind one interface.

A backend is built from the env's tasks and per-goal model overrides and offers
    step(physics, task_id, goal_index, control) -> (physics, readings)
for ONE slot (batch with jax.vmap): it applies the control (mocap delta f32[3] already
scaled and clipped to [-0.01, 0.01] per axis, gripper command f32[]), advances frame_skip
substeps, runs the forward pass metaworld runs before observing, and returns the next
physics state and the flat f32 reading vector (`readings.Layout` of the slot's task).
It also offers `pack(task, state64)` (a reset state from the host builder -> its physics
array) and its inverse for host code, `write_host(task, goal, physics, model, data)` (one
slot's physics into a host MjData of a model of its scene, e.g. the stock one
`metaworld_jax.render` draws),
`reading_size`, and `block_size`: how many consecutive slots should share a task
for the batched step to run one scene per block (1: no such preference). The MJX backends
add `block_step(b)`: the step of a block of b slots of one task (`task_blocks`), which the
env runs together with its task layer.

  mujoco  C MuJoCo on the host, exact metaworld physics (CPU)        mujoco_c.py
  mjx     MJX, JAX implementation, on adapted scenes (GPU/TPU)      mjx.py, scene_adapter.py
  warp    MJX, Warp implementation, on stock scenes (NVIDIA GPU)    mjx.py
"""

from __future__ import annotations

BACKENDS = ("mujoco", "mjx", "warp")


def check_available(name: str) -> None:
    """Raises ValueError, before anything is built, if this backend cannot run here."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "warp":
        from metaworld_jax.backends.mjx import supports_impl

        if not supports_impl("warp"):
            raise ValueError(
                "backend 'warp' needs a mujoco-mjx with impl='warp' and warp-lang (an NVIDIA GPU "
                "environment; see docs/environments.md); this environment offers backends 'mujoco' and 'mjx'"
            )


def make_backend(name: str, *, tasks, overrides, num_threads=None, block_size=None, scene_variant=None):
    if name == "mujoco":
        from metaworld_jax.backends.mujoco_c import MujocoBackend

        if block_size not in (None, 1):
            raise ValueError("block_size applies to the mjx and warp backends only")
        return MujocoBackend(tasks, overrides, num_threads=num_threads, scenes=scene_variant or "stock")
    if name in ("mjx", "warp"):
        from metaworld_jax.backends.mjx import MjxBackend

        if scene_variant is not None:
            raise ValueError(
                "scene_variant applies to the mujoco backend only (mjx always runs the adapted scenes, warp the stock physics)"
            )
        del num_threads  # a knob of the C backend; MJX runs on the JAX device
        return MjxBackend(tasks, overrides, impl="jax" if name == "mjx" else "warp", block_size=block_size)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
