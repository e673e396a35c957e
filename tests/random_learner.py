"""A test-only learner: a uniform random policy that learns nothing, run by the same trainer
(:func:`drats_jax.trainer.make_trainer`) as SAC and PPO. It is all a new learner must write:
a state pytree with the five shared fields, an agent (init, act), ``act`` and ``collect``."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from drats_jax.allocation import AllocationState
from drats_jax.allocation import state_specs as alloc_specs
from drats_jax.trainer import Learner


@struct.dataclass
class RandomState:
    rng: jax.Array
    agent: dict
    alloc: AllocationState
    step: jax.Array
    grad_steps: jax.Array


class RandomAgent(NamedTuple):
    action_size: int

    def init(self, rng: jax.Array) -> dict:
        del rng
        return {"scale": jnp.ones((), jnp.float32)}  # a "parameter" for the divergence check

    def act(self, state: dict, obs: jax.Array, task_id: jax.Array, rng: jax.Array, deterministic: bool = False):
        del task_id
        if deterministic:
            return jnp.zeros((obs.shape[0], self.action_size), jnp.float32)
        return state["scale"] * jax.random.uniform(rng, (obs.shape[0], self.action_size), jnp.float32, -1.0, 1.0)


def make_learner(config, env, sizes, data) -> Learner:
    del config, sizes, data
    agent = RandomAgent(int(env.action_size))

    def collect(state, transition, obs, task, extras, keys, learning):
        del transition, obs, task, extras, keys
        # One metric per vector step: the fraction of learning steps (1.0 once warm-up is over).
        return state, None, {"learning": jnp.asarray(learning, jnp.float32)}

    def state_specs(replicated, per_device):
        return RandomState(rng=replicated, agent=replicated, alloc=alloc_specs(replicated, per_device),
                           step=replicated, grad_steps=replicated)

    return Learner(agent=agent, init=RandomState, act=lambda s, o, t, k: (agent.act(s, o, t, k), None),
                   collect=collect, params=lambda s: {"agent": s}, state_specs=state_specs)
