"""Multi-task SAC as a learner of :mod:`drats_jax.trainer`: its state, its policy and what it
does with each vector step.

Shapes: E env slots, N tasks, O obs size, A action size, K = updates_per_step.

SAC learns every vector step: ``collect`` inserts the E transitions into the replay ring and,
after the warm-up, runs K gradient steps on batches sampled from it (an inner lax.scan). The
vector step splits the run's key into (rng, k_act, k_reset, k_update).
"""

from __future__ import annotations

import jax
from flax import struct
from jax import lax

from drats_jax import buffer as replay
from drats_jax.agents.common import mean
from drats_jax.agents.sac.update import SACState, make_sac
from drats_jax.allocation import AllocationShortcuts, AllocationState
from drats_jax.allocation import state_specs as alloc_specs
from drats_jax.config import Resolved, TrainConfig
from drats_jax.mesh import DataAxis
from drats_jax.trainer import Learner, when


@struct.dataclass
class TrainState(AllocationShortcuts):
    """The full training state (one pytree; checkpoint it whole for exact resume).

    rng:        PRNGKey, the run's key (split every vector step).
    agent:      SACState (params, target params, per-task log-alpha, optimizer states).
    buffer:     ReplayBuffer (capacity C; one ring, or one per task for per_task replay).
    alloc:      AllocationState (env slots, sampler state with q, per-task statistics).
    step:       i32[] vector steps done (warm-up included); env steps = step * E.
    grad_steps: i32[] SAC gradient steps done.
    """

    rng: jax.Array
    agent: SACState
    buffer: replay.ReplayBuffer
    alloc: AllocationState
    step: jax.Array
    grad_steps: jax.Array


def make_learner(config: TrainConfig, env, sizes: Resolved, data: DataAxis) -> Learner:
    """The SAC learner. ``data`` > 1: capacity/D replay rows and batch/D rows per update on each
    device; gradients and learner metrics averaged over data."""
    n, obs_size, action_size = int(env.num_tasks), int(env.observation_size), int(env.action_size)
    sac_cfg = config.sac
    agent = make_sac(sac_cfg, n, obs_size, action_size, data)
    rings = n if config.buffer_sampling == "per_task" else 1  # the replay layout decides the sampling

    def init(**shared) -> TrainState:
        return TrainState(buffer=replay.init(config.buffer_capacity // data.size, obs_size, action_size, rings),
                          **shared)

    def act(agent_state, obs, task, key):
        return agent.act(agent_state, obs, task, key), None

    def gradient_steps(agent_state, buf, rng):
        """K SAC updates on batches from the (just updated) buffer; metrics averaged over K
        (and over data: each device samples batch/D rows of its own ring, with its own keys)."""
        def one(agent_state, key):
            k_batch, k_update = (data.fold(k) for k in jax.random.split(key))
            batch = replay.sample(buf, k_batch, sac_cfg.batch_size // data.size)
            agent_state, metrics = agent.update(agent_state, batch, k_update)
            return agent_state, data.mean(metrics)

        agent_state, metrics = lax.scan(one, agent_state, jax.random.split(rng, config.updates_per_step))
        return agent_state, jax.tree.map(mean, metrics)

    def learn_step(state: TrainState, k_update):
        agent_state, metrics = gradient_steps(state.agent, state.buffer, k_update)
        return state.replace(agent=agent_state, grad_steps=state.grad_steps + config.updates_per_step), metrics

    def collect(state: TrainState, transition, obs, task, extras, keys, learning):
        """Insert the E transitions; when learning (after warm-up), K gradient steps.
        -> (state, nothing kept, metrics: zeros in warm-up)."""
        del obs, task, extras
        (k_update,) = keys
        state = state.replace(buffer=replay.insert(state.buffer, transition))
        state, metrics = when(learning, learn_step, state, k_update)
        return state, None, metrics

    def params(agent_state: SACState) -> dict:
        return {"actor_params": agent_state.actor_params, "critic_params": agent_state.critic_params,
                "log_alpha": agent_state.log_alpha}

    return Learner(agent=agent, init=init, act=act, collect=collect, params=params, state_specs=state_specs,
                   step_keys=4)


def state_specs(replicated, per_device) -> TrainState:
    """Prefix tree of a TrainState's PartitionSpecs: replay rows and slots split over data."""
    return TrainState(rng=replicated, agent=replicated, buffer=per_device,
                      alloc=alloc_specs(replicated, per_device), step=replicated, grad_steps=replicated)
