"""The sampler interface: three pure functions over a sampler-state pytree.

A :class:`Sampler` is built once per run (static hyperparameters closed over) and used
inside jit / vmap / lax.scan:

    state = sampler.init()                         # pytree, holds at least q: f32[N]
    state, stats = sampler.update(state, stats)    # at the end of each window
    q = sampler.probabilities(state)               # f32[N], q_i >= 0, sum q = 1

``update`` returns the statistics too because a return-target rule may latch per-task
flags in them (MetaWorld's R_ref switch). The trainer clears the window afterwards
(:func:`drats_jax.samplers.stats.end_window`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct


class Sampler(NamedTuple):
    name: str
    num_tasks: int
    init: Callable[[], Any]
    update: Callable[[Any, Any], tuple[Any, Any]]
    probabilities: Callable[[Any], jax.Array]


@struct.dataclass
class ProbState:
    """State of samplers that only carry the distribution. q: f32[N]."""

    q: jax.Array


def uniform_probs(num_tasks: int) -> jax.Array:
    return jnp.full((num_tasks,), 1.0 / num_tasks, jnp.float32)


def prob_sampler(name: str, num_tasks: int, update: Callable[[Any, Any], tuple[Any, Any]]) -> Sampler:
    """A sampler whose state is only q (`ProbState`), starting uniform."""
    return Sampler(
        name=name,
        num_tasks=num_tasks,
        init=lambda: ProbState(q=uniform_probs(num_tasks)),
        update=update,
        probabilities=lambda state: state.q,
    )
