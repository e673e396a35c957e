"""The environment interface every drats-jax environment follows.

An environment is a small object with two pure, jit-able functions over one slot:

    state = env.reset(rng, task_id, goal_index)   # rng: PRNGKey, task_id/goal_index: int32 scalars
    state = env.step(state, action)               # action: f32[action_size] in [-1, 1]

Both batch with ``jax.vmap``. Static facts live on the env object:
``num_tasks``, ``task_names``, ``observation_size``, ``action_size``,
``episode_length`` (steps before truncation) and ``num_goals`` (fixed goal variations per task).
"""

from __future__ import annotations

from typing import Any, Protocol

import jax
from flax import struct


@struct.dataclass
class State:
    """One env slot.

    physics: backend-specific pytree (opaque to everyone but the backend).
    obs:     f32[observation_size].
    reward:  f32[] reward of the last transition (0 after reset).
    done:    bool[] the episode ended at this step (MetaWorld: only by truncation).
    info:    dict of per-slot scalars; always holds
             ``success`` (bool), ``truncation`` (bool), ``task_id`` (int32),
             ``goal_index`` (int32), ``steps`` (int32, steps taken in this episode).
    """

    physics: Any
    obs: jax.Array
    reward: jax.Array
    done: jax.Array
    info: dict[str, jax.Array]


class Env(Protocol):
    """What the trainer needs from an environment (structural type)."""

    num_tasks: int
    task_names: tuple[str, ...]
    observation_size: int
    action_size: int
    episode_length: int
    num_goals: int

    def reset(self, rng: jax.Array, task_id: jax.Array, goal_index: jax.Array) -> State: ...

    def step(self, state: State, action: jax.Array) -> State: ...
