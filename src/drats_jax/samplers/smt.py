"""SMT, "Hard Tasks First" (Cho et al., ICML 2024), as summarised in docs/drats.md.

Stage 1: K tasks are *active* and share probability kappa; the others share 1 - kappa;
every task keeps at least ``min_prob`` (the KL floor projection; default 1 / (4N), the DRATS
authors' 0.025 on MT10, below 1/N on any N). At each window end,
an active task leaves the active set when its return exceeds the high threshold (solved)
or it has used its per-task env-step budget since it was activated. Leaving with a return
below the low threshold sends it to the *unsolvable* set, otherwise back to the main
pool. Free active places are refilled with the lowest-return tasks of the main pool.
Stage 2 (after ``stage1_fraction`` of the total env steps): the active set becomes the
unsolvable set (kept as is if that set is empty) and stops changing.

"Return" of a task is its latest window mean (kept from older windows while the task
finishes no episode, 0 before its first one).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from drats_jax.config import SamplerConfig
from drats_jax.samplers import stats as task_stats
from drats_jax.samplers.base import Sampler
from drats_jax.samplers.drats import project_floor


@struct.dataclass
class SMTState:
    """q: f32[N]; active, unsolvable: bool[N]; last_return: f32[N] (see module doc);
    active_since: i32[N] the task's env-step count when it was activated; stage2: bool[]."""

    q: jax.Array
    active: jax.Array
    unsolvable: jax.Array
    last_return: jax.Array
    active_since: jax.Array
    stage2: jax.Array


def distribution(active: jax.Array, *, kappa: float, min_prob: float) -> jax.Array:
    """kappa spread over the active tasks, 1 - kappa over the rest, floor min_prob. f32[N]."""
    n = active.shape[-1]
    n_act = jnp.sum(active)
    n_rest = n - n_act
    # With an empty side the other side takes all the mass.
    p_act = jnp.where(n_rest == 0, 1.0, jnp.where(n_act == 0, 0.0, kappa))
    z = jnp.where(active, p_act / jnp.maximum(n_act, 1), (1.0 - p_act) / jnp.maximum(n_rest, 1))
    return project_floor(z, min_prob)


def _refill(active, pool, last_return, num_active):
    """Adds the lowest-return pool tasks until K are active (ties: lower index first)."""
    n = active.shape[-1]
    free = num_active - jnp.sum(active)
    key = jnp.where(pool, last_return, jnp.inf)
    order = jnp.argsort(key, stable=True)
    rank = jnp.zeros((n,), jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32))
    return active | (pool & (rank < free))


def init(num_tasks: int, *, num_active: int, kappa: float, min_prob: float) -> SMTState:
    # All returns are unknown (0): the first K tasks by index start active.
    active = jnp.arange(num_tasks) < num_active
    return SMTState(
        q=distribution(active, kappa=kappa, min_prob=min_prob),
        active=active,
        unsolvable=jnp.zeros((num_tasks,), bool),
        last_return=jnp.zeros((num_tasks,), jnp.float32),
        active_since=jnp.zeros((num_tasks,), jnp.int32),
        stage2=jnp.zeros((), bool),
    )


def update(state: SMTState, stats: task_stats.TaskStats, *, num_active: int, kappa: float, min_prob: float,
           low: float, high: float, task_budget: int, stage1_steps: int):
    has = stats.window_episodes > 0
    ret = jnp.where(has, task_stats.window_mean(stats), state.last_return)

    # Stage 1 bookkeeping.
    used = stats.env_steps - state.active_since
    leave = state.active & ((ret > high) | (used >= task_budget))
    unsolvable = state.unsolvable | (leave & (ret < low))
    active = state.active & ~leave
    pool = ~active & ~unsolvable
    refilled = _refill(active, pool, ret, num_active)
    since = jnp.where(refilled & ~state.active, stats.env_steps, state.active_since)

    # Stage 2: switch once, then freeze the active set.
    enter2 = ~state.stage2 & (jnp.sum(stats.env_steps) >= stage1_steps)
    stage2_active = jnp.where(jnp.any(unsolvable), unsolvable, refilled)
    new_active = jnp.where(state.stage2, state.active, jnp.where(enter2, stage2_active, refilled))
    new_unsolvable = jnp.where(state.stage2, state.unsolvable, unsolvable)
    new_since = jnp.where(state.stage2, state.active_since, since)
    new = SMTState(
        q=distribution(new_active, kappa=kappa, min_prob=min_prob),
        active=new_active,
        unsolvable=new_unsolvable,
        last_return=ret,
        active_since=new_since,
        stage2=state.stage2 | enter2,
    )
    return new, stats


def make(config: SamplerConfig, num_tasks: int, total_env_steps: int | None = None) -> Sampler:
    if total_env_steps is None:
        raise ValueError("the SMT sampler needs total_env_steps (its stage-1 budget)")
    stage1 = int(config.smt_stage1_fraction * total_env_steps)
    budget = config.smt_task_budget if config.smt_task_budget is not None else max(1, stage1 // num_tasks)
    k = config.resolved_num_active(num_tasks)
    min_prob = config.resolved_smt_min_prob(num_tasks)
    if not min_prob < 1.0 / num_tasks:
        raise ValueError(f"sampler.smt_min_prob={min_prob} must be below 1/N = {1.0 / num_tasks:.6g} for N={num_tasks} "
                         "tasks: at 1/N the floor holds every task there and SMT is uniform")
    common = dict(num_active=k, kappa=float(config.smt_kappa), min_prob=min_prob)
    kw = dict(common, low=float(config.smt_low_threshold), high=float(config.smt_high_threshold),
              task_budget=int(budget), stage1_steps=stage1)
    return Sampler(
        name="smt",
        num_tasks=num_tasks,
        init=lambda: init(num_tasks, **common),
        update=lambda state, stats: update(state, stats, **kw),
        probabilities=lambda state: state.q,
    )
