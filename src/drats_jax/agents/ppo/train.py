"""Multi-task PPO as a learner of :mod:`drats_jax.trainer`: its state, its policy, its
rollout record and its update.

Shapes: E env slots, N tasks, O obs size, A action size, T = one sampler window of vector
steps (``sampler.interval`` env steps / E, at least one episode).

One chunk is one rollout and its update:
  1. T vector steps (the trainer's scan), each: sample u ~ pi(.|obs, task) with its log-prob
     (``act``), the allocation's step with the env action clip(u, -1, 1), and the step kept
     as a :class:`Rollout` (``collect``). The window ends at the rollout's last step, so q is
     updated once per rollout and the slots that reset at that step already draw from the new q.
  2. ``learn``: V(obs) and V(next_obs) of the whole rollout (next_obs is the true next
     observation, before the autoreset, so truncated episodes bootstrap from their final
     observation), GAE (:func:`drats_jax.agents.ppo.losses.gae`), then the epochs of
     minibatch updates (:meth:`drats_jax.agents.ppo.update.PPO.update`).

``config.chunk_length`` is not used: a chunk is always one rollout. The random-action
warm-up (0 by default for PPO) is never learned from. A vector step splits the run's key into
(rng, k_act, k_reset); each update splits off its own key.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from drats_jax.agents.ppo.losses import gae
from drats_jax.agents.ppo.update import Batch, PPOState, make_ppo
from drats_jax.allocation import AllocationShortcuts, AllocationState
from drats_jax.allocation import state_specs as alloc_specs
from drats_jax.config import Resolved, TrainConfig
from drats_jax.mesh import DataAxis
from drats_jax.trainer import Learner


@struct.dataclass
class TrainState(AllocationShortcuts):
    """The full training state (one pytree; checkpoint it whole for exact resume).

    rng:        PRNGKey, the run's key (split every vector step and every update).
    agent:      PPOState (actor and critic params, optimiser states).
    alloc:      AllocationState (env slots, sampler state with q, per-task statistics).
    step:       i32[] vector steps done (warm-up included); env steps = step * E.
    grad_steps: i32[] minibatch updates done (fewer than epochs x minibatches per rollout
                when the target KL stopped one).
    """

    rng: jax.Array
    agent: PPOState
    alloc: AllocationState
    step: jax.Array
    grad_steps: jax.Array


@struct.dataclass
class Rollout:
    """What a rollout step keeps, [E] per step ([T, E] stacked): action is the raw sample."""

    obs: jax.Array
    task_id: jax.Array
    action: jax.Array
    log_prob: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminal: jax.Array
    truncation: jax.Array


def make_learner(config: TrainConfig, env, sizes: Resolved, data: DataAxis) -> Learner:
    """The PPO learner. ``data`` > 1: each device keeps the rollout of its E/D slots (B/D
    transitions); advantages are normalised over the global rollout, gradients averaged over data."""
    n, e = int(env.num_tasks), sizes.num_envs
    e_local = e // data.size
    ppo_cfg = config.ppo
    rollout_length = sizes.window_steps  # T: one rollout = one sampler window
    agent = make_ppo(ppo_cfg, n, int(env.observation_size), int(env.action_size), data)

    def act(agent_state: PPOState, obs, task, key):
        """(env action clip(u, -1, 1), (u, log p(u)))."""
        u, log_prob = agent.sample(agent_state, obs, task, key)
        return jnp.clip(u, -1.0, 1.0), (u, log_prob)

    def collect(state: TrainState, tr, obs, task, extras, keys, learning):
        """The step as a Rollout record (a warm-up chunk's is never learned from)."""
        del keys, learning
        u, log_prob = extras
        kept = Rollout(obs=obs, task_id=task, action=u, log_prob=log_prob, reward=tr.reward, next_obs=tr.next_obs,
                       terminal=tr.terminal, truncation=tr.truncation)
        return state, kept, {}

    def learn(state: TrainState, ro: Rollout):
        """GAE over the rollout ([T, E] arrays), then the epochs of minibatch updates."""
        value = agent.value(state.agent, ro.obs, ro.task_id)  # [T, E], the rollout's critic
        next_value = agent.value(state.agent, ro.next_obs, ro.task_id)
        advantage, returns = gae(ro.reward, value, next_value, ro.terminal, ro.truncation, ppo_cfg.gamma,
                                 ppo_cfg.gae_lambda, ppo_cfg.bootstrap_truncation)
        flat = lambda x: x.reshape((rollout_length * e_local,) + x.shape[2:])  # noqa: E731
        batch = Batch(obs=flat(ro.obs), task_id=flat(ro.task_id), action=flat(ro.action),
                      log_prob=flat(ro.log_prob), advantage=flat(advantage), returns=flat(returns))
        rng, k_update = jax.random.split(state.rng)
        agent_state, metrics = agent.update(state.agent, batch, k_update)
        return state.replace(rng=rng, agent=agent_state, grad_steps=state.grad_steps + metrics["updates"]), metrics

    def params(agent_state: PPOState) -> dict:
        return {"actor_params": agent_state.actor_params, "critic_params": agent_state.critic_params}

    return Learner(agent=agent, init=TrainState, act=act, collect=collect, learn=learn, params=params,
                   state_specs=state_specs, step_keys=3, chunk_length=rollout_length, donate_chunk=False)


def state_specs(replicated, per_device) -> TrainState:
    """Prefix tree of a TrainState's PartitionSpecs (slots split over data)."""
    return TrainState(rng=replicated, agent=replicated, alloc=alloc_specs(replicated, per_device),
                      step=replicated, grad_steps=replicated)
