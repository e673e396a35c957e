"""The multi-task SAC loop, PureJaxRL style: ``make_train(config, env)`` -> a pure ``train(rng)``.

Shapes: E env slots (default one per task), N tasks, O obs size, A action size.

One *vector step* (one lax.scan iteration) does, in order:
  1. act in every slot (uniform random actions during warm-up, else the SAC policy),
  2. the task allocation's step (:mod:`drats_jax.allocation`): step all slots, per-task
     statistics, sampler window and q update, autoreset with tasks drawn from q,
  3. insert the E transitions into the replay ring,
  4. (after warm-up) K = updates_per_step SAC gradient steps (inner lax.scan).

See :mod:`drats_jax.loop` for the Trainer interface; ``trainer(rng)`` (= ``train(rng)``)
runs warm-up and every chunk as one traceable function, so
``jax.jit(jax.vmap(trainer))(rngs)`` trains independent seeds in one program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from jax import lax

from drats_jax import buffer as replay
from drats_jax import loop
from drats_jax.agents.common import mean
from drats_jax.agents.sac.update import SACState, make_sac
from drats_jax.allocation import AllocationShortcuts, AllocationState
from drats_jax.allocation import state_specs as alloc_specs
from drats_jax.config import TrainConfig
from drats_jax.mesh import MeshSpec
from drats_jax.samplers import Sampler


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


def make_train(config: TrainConfig, env, sampler: Sampler | None = None, mesh: MeshSpec | None = None) -> loop.Trainer:
    """Validates ``config`` against ``env`` (no tracing) and builds the pure train functions.

    ``config``'s None defaults are resolved (:func:`drats_jax.config.resolve`); the
    Trainer's ``config`` is the resolved one. ``sampler`` replaces the one named in
    ``config.sampler`` (custom samplers, tests). ``mesh``: data > 1 builds the per-device
    program (E/D slots, capacity/D replay rows, batch/D rows per update, gradients and
    learner metrics averaged over data); run it through ``trainer.jitted``.
    """
    config, sizes, sampler, alloc, data = loop.setup(config, env, sampler, mesh)  # ValueError before any compile
    n, e = int(env.num_tasks), sizes.num_envs
    obs_size, action_size = int(env.observation_size), int(env.action_size)
    sac_cfg = config.sac
    chunk_length, num_chunks = loop.chunking(config.total_env_steps, e, sizes.warmup_steps, config.chunk_length)
    agent = make_sac(sac_cfg, n, obs_size, action_size, data)
    rings = n if config.buffer_sampling == "per_task" else 1  # the replay layout decides the sampling

    def init(rng: jax.Array) -> TrainState:
        rng, k_agent, k_env = jax.random.split(rng, 3)
        return TrainState(rng=rng, agent=agent.init(k_agent),
                          buffer=replay.init(config.buffer_capacity // data.size, obs_size, action_size, rings),
                          alloc=alloc.init(k_env),
                          step=jnp.zeros((), jnp.int32), grad_steps=jnp.zeros((), jnp.int32))

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

    def vector_step(state: TrainState, learn: bool):
        rng, k_act, k_reset, k_update = jax.random.split(state.rng, 4)
        obs, task = alloc.observe(state.alloc)
        # Actions for all E slots, this device's sliced out: the policy noise and warm-up
        # actions of a slot are the one-device draws (the E-slot forward pass is cheap).
        if learn:
            action = data.local(agent.act(state.agent, data.gather(obs), data.gather(task), k_act))
        else:
            action = data.local(jax.random.uniform(k_act, (e, action_size), jnp.float32, -1.0, 1.0))
        alloc_state, transition, metrics = alloc.step(state.alloc, action, k_reset, learn)
        buf = replay.insert(state.buffer, transition)
        agent_state, grad_steps = state.agent, state.grad_steps
        if learn:
            agent_state, learn_metrics = gradient_steps(agent_state, buf, k_update)
            grad_steps = grad_steps + config.updates_per_step
            metrics = {**metrics, **learn_metrics}
        return TrainState(rng=rng, agent=agent_state, buffer=buf, alloc=alloc_state, step=state.step + 1,
                          grad_steps=grad_steps), metrics

    def run_steps(state: TrainState, length: int, learn: bool):
        state, per_step = lax.scan(lambda s, _: vector_step(s, learn), state, None, length=length)
        params = {"actor_params": state.agent.actor_params, "critic_params": state.agent.critic_params,
                  "log_alpha": state.agent.log_alpha}
        metrics = {**alloc.chunk_metrics(state.alloc, per_step), "env_steps": state.step * e,
                   "grad_steps": state.grad_steps, **loop.learner_means(per_step),
                   "health": loop.health(per_step, params, length)}
        return state, metrics

    def warmup(state: TrainState):
        return run_steps(state, sizes.warmup_steps, learn=False)

    def run_chunk(state: TrainState):
        return run_steps(state, chunk_length, learn=True)

    def train(rng: jax.Array):
        """Whole run as one traceable function; metrics have a leading chunk axis."""
        state, _ = warmup(init(rng))
        return lax.scan(lambda s, _: run_chunk(s), state, None, length=num_chunks)

    return loop.Trainer(config=config, env=env, agent=agent, sampler=sampler, num_envs=e, num_tasks=n,
                        warmup_steps=sizes.warmup_steps, window_steps=sizes.window_steps, chunk_length=chunk_length,
                        num_chunks=num_chunks, init=init, warmup=warmup, run_chunk=run_chunk, train=train,
                        mesh=mesh, state_specs=state_specs)


def state_specs(replicated, per_device) -> TrainState:
    """Prefix tree of a TrainState's PartitionSpecs: replay rows and slots split over data."""
    return TrainState(rng=replicated, agent=replicated, buffer=per_device,
                      alloc=alloc_specs(replicated, per_device), step=replicated, grad_steps=replicated)
