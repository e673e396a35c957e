"""The multi-task PPO loop, PureJaxRL style: ``make_train(config, env)`` -> a pure ``train(rng)``.

Shapes: E env slots, N tasks, O obs size, A action size, T = one sampler window of vector
steps (``sampler.interval`` env steps / E, at least one episode).

One chunk (``run_chunk``, one jitted call) is one rollout and its update:
  1. T vector steps in a lax.scan, each: sample u ~ pi(.|obs, task) with its log-prob, then
     the task allocation's step (:mod:`drats_jax.allocation`) with the env action
     clip(u, -1, 1): step all slots, per-task statistics, autoreset with tasks drawn from
     q. The window ends at the rollout's last step, so q is updated once per rollout and
     the slots that reset at that step already draw from the new q.
  2. V(obs) and V(next_obs) of the whole rollout (next_obs is the true next observation,
     before the autoreset, so truncated episodes bootstrap from their final observation),
     GAE (:func:`drats_jax.agents.ppo.losses.gae`), then the epochs of minibatch updates
     (:meth:`drats_jax.agents.ppo.update.PPO.update`).

``config.chunk_length`` is not used: a chunk is always one rollout. The random-action
warm-up (0 by default for PPO) runs before the first chunk, as in the SAC loop.
``trainer(rng)`` runs warm-up and every chunk as one traceable function, so
``jax.jit(jax.vmap(trainer))(rngs)`` trains independent seeds in one program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from jax import lax

from drats_jax import loop
from drats_jax.agents.ppo.losses import gae
from drats_jax.agents.ppo.update import Batch, PPOState, make_ppo
from drats_jax.allocation import AllocationShortcuts, AllocationState
from drats_jax.allocation import state_specs as alloc_specs
from drats_jax.config import TrainConfig
from drats_jax.mesh import MeshSpec
from drats_jax.samplers import Sampler


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


def make_train(config: TrainConfig, env, sampler: Sampler | None = None, mesh: MeshSpec | None = None) -> loop.Trainer:
    """Validates ``config`` against ``env`` (no tracing) and builds the pure train functions.

    ``config``'s None defaults are resolved (:func:`drats_jax.config.resolve`); the
    Trainer's ``config`` is the resolved one. ``sampler`` replaces the one named in
    ``config.sampler`` (custom samplers, tests). ``mesh``: data > 1 builds the per-device
    program (E/D slots, the rollout's B/D transitions, advantages normalised over the global
    rollout, gradients averaged over data); run it through ``trainer.jitted``.
    """
    config, sizes, sampler, alloc, data = loop.setup(config, env, sampler, mesh)  # ValueError before any compile
    e_local = sizes.num_envs // data.size
    n, e = int(env.num_tasks), sizes.num_envs
    obs_size, action_size = int(env.observation_size), int(env.action_size)
    ppo_cfg = config.ppo
    rollout_length = sizes.window_steps  # T: one rollout = one sampler window
    learn_steps = config.total_env_steps // e - sizes.warmup_steps
    if learn_steps < rollout_length:
        raise ValueError(f"total_env_steps={config.total_env_steps} leaves {max(learn_steps, 0) * e} env steps after "
                         f"warm-up, less than one PPO rollout (one sampler window, {rollout_length * e} env steps)")
    chunk_length, num_chunks = loop.chunking(config.total_env_steps, e, sizes.warmup_steps, rollout_length)
    agent = make_ppo(ppo_cfg, n, obs_size, action_size, data)

    def init(rng: jax.Array) -> TrainState:
        rng, k_agent, k_env = jax.random.split(rng, 3)
        return TrainState(rng=rng, agent=agent.init(k_agent), alloc=alloc.init(k_env),
                          step=jnp.zeros((), jnp.int32), grad_steps=jnp.zeros((), jnp.int32))

    def random_step(state: TrainState, _):
        """Warm-up: uniform random actions; the transitions are not kept."""
        rng, k_act, k_reset = jax.random.split(state.rng, 3)
        action = data.local(jax.random.uniform(k_act, (e, action_size), jnp.float32, -1.0, 1.0))
        alloc_state, _, metrics = alloc.step(state.alloc, action, k_reset, False)
        return state.replace(rng=rng, alloc=alloc_state, step=state.step + 1), metrics

    def rollout_step(state: TrainState, _):
        rng, k_act, k_reset = jax.random.split(state.rng, 3)
        obs, task = alloc.observe(state.alloc)
        # Sampled for all E slots, this device's sliced out: each slot gets its one-device noise.
        u, log_prob = (data.local(x) for x in agent.sample(state.agent, data.gather(obs), data.gather(task), k_act))
        alloc_state, tr, metrics = alloc.step(state.alloc, jnp.clip(u, -1.0, 1.0), k_reset, True)
        kept = Rollout(obs=obs, task_id=task, action=u, log_prob=log_prob, reward=tr.reward, next_obs=tr.next_obs,
                       terminal=tr.terminal, truncation=tr.truncation)
        return state.replace(rng=rng, alloc=alloc_state, step=state.step + 1), (kept, metrics)

    def chunk_metrics(state: TrainState, per_step: dict, learner: dict) -> dict:
        """The chunk's metrics: allocation, counters, the learner's metrics (one value per
        rollout) and the divergence check. The update runs after the rollout's last step, so
        a non-finite learner metric is reported at that step."""
        params = {"actor_params": state.agent.actor_params, "critic_params": state.agent.critic_params}
        health = loop.health({k: v[None] for k, v in learner.items()}, params, chunk_length)
        health = {k: jnp.where(v >= 0, chunk_length - 1, -1).astype(jnp.int32) for k, v in health.items()}
        return {**alloc.chunk_metrics(state.alloc, per_step), "env_steps": state.step * e,
                "grad_steps": state.grad_steps, **loop.learner_means(learner), "health": health}

    def warmup(state: TrainState):
        state, per_step = lax.scan(random_step, state, None, length=sizes.warmup_steps)
        return state, chunk_metrics(state, per_step, {})

    def run_chunk(state: TrainState):
        """One rollout of T vector steps, then its update."""
        state, (ro, per_step) = lax.scan(rollout_step, state, None, length=chunk_length)
        value = agent.value(state.agent, ro.obs, ro.task_id)  # [T, E], the rollout's critic
        next_value = agent.value(state.agent, ro.next_obs, ro.task_id)
        advantage, returns = gae(ro.reward, value, next_value, ro.terminal, ro.truncation, ppo_cfg.gamma,
                                 ppo_cfg.gae_lambda, ppo_cfg.bootstrap_truncation)
        flat = lambda x: x.reshape((chunk_length * e_local,) + x.shape[2:])  # noqa: E731
        batch = Batch(obs=flat(ro.obs), task_id=flat(ro.task_id), action=flat(ro.action),
                      log_prob=flat(ro.log_prob), advantage=flat(advantage), returns=flat(returns))
        rng, k_update = jax.random.split(state.rng)
        agent_state, learner = agent.update(state.agent, batch, k_update)
        state = state.replace(rng=rng, agent=agent_state, grad_steps=state.grad_steps + learner["updates"])
        return state, chunk_metrics(state, per_step, learner)

    def train(rng: jax.Array):
        """Whole run as one traceable function; metrics have a leading chunk axis."""
        state, _ = warmup(init(rng))
        return lax.scan(lambda s, _: run_chunk(s), state, None, length=num_chunks)

    return loop.Trainer(config=config, env=env, agent=agent, sampler=sampler, num_envs=e, num_tasks=n,
                        warmup_steps=sizes.warmup_steps, window_steps=sizes.window_steps, chunk_length=chunk_length,
                        num_chunks=num_chunks, init=init, warmup=warmup, run_chunk=run_chunk, train=train,
                        mesh=mesh, state_specs=state_specs, donate_chunk=False)


def state_specs(replicated, per_device) -> TrainState:
    """Prefix tree of a TrainState's PartitionSpecs (slots split over data)."""
    return TrainState(rng=replicated, agent=replicated, alloc=alloc_specs(replicated, per_device),
                      step=replicated, grad_steps=replicated)
