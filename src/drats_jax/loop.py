"""What every learner's training loop shares: the :class:`Trainer` the driver calls, and the
chunk bookkeeping (learner metric means, the divergence check) computed inside the jit.

A learner's ``make_train(config, env)`` (e.g. :mod:`drats_jax.agents.sac.train`) returns a
Trainer of pure functions over its own state pytree:

    state = trainer.init(rng)
    state, _ = trainer.warmup(state)               # random-action warm-up
    for _ in range(trainer.num_chunks):
        state, metrics = trainer.run_chunk(state)  # chunk_length vector steps, one jitted call

Every state has ``step`` (i32[], vector steps done, warm-up included) and ``agent``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding

from drats_jax import mesh as mesh_lib
from drats_jax.agents.common import mean
from drats_jax.allocation import EPISODE_KEYS, make_allocation
from drats_jax.config import resolve
from drats_jax.mesh import DataAxis, MeshSpec
from drats_jax.samplers import make_sampler


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """What ``make_train`` returns. Calling it is ``train(rng) -> (state, metrics)``.

    A plain (weak-referenceable, identity-hashed) class so ``jax.jit(trainer)`` works.
    """

    config: Any  # the resolved TrainConfig
    env: Any
    agent: Any  # has act(agent_state, obs, task_id, rng, deterministic)
    sampler: Any
    num_envs: int  # E
    num_tasks: int  # N
    warmup_steps: int  # vector steps of random actions
    window_steps: int  # vector steps per sampler window (window_steps x E = sampler.interval env steps)
    chunk_length: int  # vector steps per run_chunk
    num_chunks: int  # run_chunk calls after warm-up
    init: Callable[[jax.Array], Any]
    warmup: Callable[[Any], tuple[Any, dict]]
    run_chunk: Callable[[Any], tuple[Any, dict]]
    train: Callable[[jax.Array], tuple[Any, dict]]
    mesh: MeshSpec | None = None  # None / one device: the one-device program
    # Whether run_chunk donates its input state (SAC: the replay ring is not copied). PPO's state
    # is small and is not donated, so a stop request can save the state a running chunk started
    # from (drats_jax.chunk_loop).
    donate_chunk: bool = True
    # (replicated spec, per-device spec) -> a prefix tree of the state's PartitionSpecs
    # (per-device: env slots and replay rows, split over data).
    state_specs: Callable[[Any, Any], Any] | None = None

    def __call__(self, rng: jax.Array):
        return self.train(rng)

    @property
    def window_env_steps(self) -> int:
        return self.window_steps * self.num_envs

    @property
    def env_steps_per_chunk(self) -> int:
        return self.chunk_length * self.num_envs

    @property
    def total_env_steps(self) -> int:
        """Env steps actually run (warm-up + whole chunks; <= config.total_env_steps)."""
        return (self.warmup_steps + self.num_chunks * self.chunk_length) * self.num_envs

    def jitted(self, num_seeds: int | None = None):
        """(init, warmup, run_chunk), jitted; warmup and (if donate_chunk) run_chunk donate the state.

        num_seeds=None: one run (rng is one key). Otherwise every function is vmapped
        over a leading seed axis (rng: keys[num_seeds]). On a mesh of more than one device
        each is ``jit(shard_map(vmapped fn))``: seeds split over ``seed``, slots and replay
        rows over ``data``; init places the keys itself.
        """
        init, warm, chunk = self.init, self.warmup, self.run_chunk
        if num_seeds is not None:
            init, warm, chunk = jax.vmap(init), jax.vmap(warm), jax.vmap(chunk)
        if self.mesh is None or self.mesh.size == 1:
            return (jax.jit(init), jax.jit(warm, donate_argnums=0),
                    jax.jit(chunk, donate_argnums=0 if self.donate_chunk else ()))
        seeds = num_seeds is not None
        if self.mesh.seed > 1 and (not seeds or num_seeds % self.mesh.seed):
            raise ValueError(f"--mesh seed={self.mesh.seed} must divide the number of seeds ({num_seeds})")
        mesh = mesh_lib.make_mesh(self.mesh)
        rep = mesh_lib.specs(seeds, sharded=False)  # metrics, keys: replicated over data
        state = self.state_specs(rep, mesh_lib.specs(seeds, sharded=True))
        init_sharded = mesh_lib.shard(init, mesh, (rep,), state)
        warm = mesh_lib.shard(warm, mesh, (state,), (state, rep), donate=True)
        chunk = mesh_lib.shard(chunk, mesh, (state,), (state, rep), donate=self.donate_chunk)

        def init_placed(rng):
            return init_sharded(jax.device_put(rng, NamedSharding(mesh, rep)))

        init_placed.sharded = init_sharded  # for jax.eval_shape (checkpoint restore)
        return init_placed, warm, chunk

    def state_shardings(self, abstract_state, num_seeds: int | None = None):
        """NamedShardings of a state (e.g. jax.eval_shape of init) on this trainer's mesh."""
        mesh = mesh_lib.make_mesh(self.mesh)
        seeds = num_seeds is not None
        prefix = self.state_specs(mesh_lib.specs(seeds, False), mesh_lib.specs(seeds, True))
        return mesh_lib.shardings(mesh, prefix, abstract_state)


def setup(config, env, sampler=None, mesh: MeshSpec | None = None):
    """What every learner's make_train starts with: resolve and validate ``config`` for ``env``
    and ``mesh`` (ValueError before anything is traced), build the sampler (unless given)
    and the task allocation. Returns (resolved config, Resolved sizes, sampler, Allocation,
    DataAxis of the mesh)."""
    config, sizes = resolve(config, env)
    data = DataAxis(1 if mesh is None else mesh.data)
    if mesh is not None:
        n = int(env.num_tasks)
        minibatch = sizes.window_env_steps // config.ppo.num_minibatches
        mesh_lib.validate_sizes(mesh, num_envs=sizes.num_envs, task_block=sizes.task_block, algo=config.algo,
                                batch_size=config.sac.batch_size, buffer_capacity=config.buffer_capacity,
                                rings=n if config.buffer_sampling == "per_task" else 1, minibatch=minibatch)
    if sampler is None:
        sampler = make_sampler(config.sampler, int(env.num_tasks), total_env_steps=config.total_env_steps)
    alloc = make_allocation(env, sampler, num_envs=sizes.num_envs, task_block=sizes.task_block,
                            window_steps=sizes.window_steps, success_window=config.sampler.success_window,
                            learn_from_start=sizes.warmup_steps == 0, data=data)
    return config, sizes, sampler, alloc, data


def chunking(total_env_steps: int, num_envs: int, warmup_steps: int, chunk_length: int) -> tuple[int, int]:
    """(chunk_length, num_chunks) of the learning phase; ValueError if nothing is left to learn."""
    learn_steps = total_env_steps // num_envs - warmup_steps
    length = max(1, min(chunk_length, learn_steps))
    num_chunks = learn_steps // length
    if num_chunks < 1:
        raise ValueError(f"total_env_steps={total_env_steps} leaves no learning step after "
                         f"{warmup_steps} warm-up vector steps of {num_envs} slots")
    return length, num_chunks


def learner_means(per_step: dict) -> dict:
    """Chunk means of the learner's scalar metrics (everything but the episode sums), as dot
    products (:func:`drats_jax.agents.common.mean`: the same whatever the number of seeds)."""
    return {k: mean(v) for k, v in per_step.items() if k not in EPISODE_KEYS}


def health(per_step: dict, params: dict, length: int) -> dict:
    """Where the run stopped being finite: {name: i32[]} = the first vector step of the chunk
    (0-based) at which that learner metric was NaN/inf, or -1; for each parameter group of
    ``params`` (checked at the chunk's end) length - 1, or -1."""
    out = {}
    for k, v in per_step.items():
        if k not in EPISODE_KEYS:
            bad = ~jnp.isfinite(v)
            out[k] = jnp.where(jnp.any(bad), jnp.argmax(bad), -1).astype(jnp.int32)
    for name, tree in params.items():
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))
        out[name] = jnp.where(finite, -1, length - 1).astype(jnp.int32)
    return out
