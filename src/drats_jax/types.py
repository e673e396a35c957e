"""Data types shared by the allocation loop and the learners."""

from __future__ import annotations

import jax
from flax import struct


@struct.dataclass
class Transition:
    """A batch of B transitions (B = slots on a vector step, batch size on sampling).

    obs, next_obs: f32[B, obs_size] (next_obs is the true next observation, before any
    autoreset); action: f32[B, action_size] in [-1, 1]; reward: f32[B]; terminal: bool[B]
    (true end: no bootstrap); truncation: bool[B] (time limit: still bootstraps);
    task_id: i32[B].
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminal: jax.Array
    truncation: jax.Array
    task_id: jax.Array
