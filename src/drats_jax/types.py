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


def vector_step(env, block: int):
    """The env's batched step for slots laid out in blocks of ``block`` consecutive slots that
    hold one task (how the allocation and the evaluation lay them out): the env's own
    ``vector_step(block)`` where it offers one (MetaWorld on the MJX backends: one task's
    physics per block, no data-dependent loop), else ``jax.vmap(env.step)``."""
    make = getattr(env, "vector_step", None)
    return make(block) if make is not None else jax.vmap(env.step)
