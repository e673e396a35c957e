"""What a MetaWorld task is, for the JAX port: one subclass of `Task` per metaworld env.

A task has two halves:
- host (numpy, C MuJoCo), run once per goal when an env is made: `draw_rand_vec` replays
  metaworld's goal sampling, `reset` replays its `reset_model` on a `HostSim` and returns the
  task context (goal position, initial object position, initial tcp, ...);
- device (JAX, jit-able, f32): `objects` builds the 14-float object block of the observation
  from readings; `reward` returns (reward, success) exactly as metaworld's
  `compute_reward` / `evaluate_state`.

Readings (`readings.py`) are what the physics reports after a step; `COMMON_READINGS` are
always there, a task adds its own in `READINGS`. Context entries are named in `CONTEXT`
(name -> size in floats); "goal" (3) is always present and is what the observation shows.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import jax.numpy as jnp
import numpy as np

from metaworld_jax.host_sim import HostSim

Readings = dict  # name -> f32 array, see readings.Layout.unpack
Context = dict  # name -> f32 array


class Task:
    """Base class; subclasses set the class attributes and implement the four methods."""

    name: ClassVar[str]  # "reach-v3"
    scene: ClassVar[str]  # MJCF path relative to metaworld/assets
    hand_low: ClassVar[tuple[float, float, float]] = (-0.2, 0.55, 0.05)
    hand_high: ClassVar[tuple[float, float, float]] = (0.2, 0.75, 0.3)
    mocap_low: ClassVar[tuple[float, float, float] | None] = None  # defaults to hand bounds
    mocap_high: ClassVar[tuple[float, float, float] | None] = None
    hand_init_pos: ClassVar[tuple[float, float, float]] = (0.0, 0.6, 0.2)
    goal_low: ClassVar[tuple[float, float, float]]  # metaworld's goal_space: clips obs[36:39]
    goal_high: ClassVar[tuple[float, float, float]]
    rand_low: ClassVar[tuple[float, ...]]  # metaworld's _random_reset_space
    rand_high: ClassVar[tuple[float, ...]]
    READINGS: ClassVar[dict[str, tuple[str, str]]] = {}
    CONTEXT: ClassVar[dict[str, int]] = {}
    success_radius: ClassVar[float] = 0.05

    # ---- host side ----
    def draw_rand_vec(self, draw: Callable[[], np.ndarray]) -> np.ndarray:
        """One `reset_model` call's draws; `draw()` is one `_get_state_rand_vec` call.

        Override when metaworld redraws (rejection loops) or draws several times per reset.
        """
        return draw()

    def reset(self, sim: HostSim, rand_vec: np.ndarray) -> dict[str, np.ndarray]:
        """Replays metaworld's `reset_model` for this rand_vec; returns the context."""
        raise NotImplementedError

    # ---- device side ----
    def objects(self, r: Readings) -> jnp.ndarray:
        """Object block: pos(3)+quat(4, x,y,z,w) per object, at most 14 floats."""
        raise NotImplementedError

    def goal(self, ctx: Context) -> jnp.ndarray:
        """The goal shown in obs[36:39] (metaworld's `_get_pos_goal`)."""
        return ctx["goal"]

    def reward(self, r: Readings, obs: jnp.ndarray, action: jnp.ndarray, ctx: Context):
        """(reward f32[], success bool[]) for the step that produced `obs` (f32[39], clipped)."""
        raise NotImplementedError

    # ---- derived ----
    @property
    def mocap_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = self.hand_low if self.mocap_low is None else self.mocap_low
        hi = self.hand_high if self.mocap_high is None else self.mocap_high
        return np.asarray(lo, np.float64), np.asarray(hi, np.float64)

    @property
    def context_sizes(self) -> dict[str, int]:
        return {"goal": 3, **self.CONTEXT}


def f32(*values: float) -> tuple[float, ...]:
    """`values` rounded to float32. Several metaworld envs keep `hand_init_pos` (or an init
    position) in a float32 array, and the mocap is then held at exactly the rounded values."""
    return tuple(float(v) for v in np.float32(values))


def redraw_while_close(draw: Callable[[], np.ndarray], min_dist: float) -> np.ndarray:
    """metaworld's rejection loop over (object xyz, goal xyz) rand_vecs: redraw while the
    object (rand_vec[:2]) and the goal (rand_vec[3:5]) are closer than `min_dist` in x-y."""
    v = draw()
    while np.linalg.norm(v[:2] - v[3:5]) < min_dist:
        v = draw()
    return v


REGISTRY: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: makes the task available to `metaworld_jax.make` by its name."""
    if cls.name in REGISTRY:
        raise ValueError(f"task {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls
