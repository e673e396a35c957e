"""Learning Progress baseline (as in the DRATS authors' code, docs/drats.md).

    score_i = |R̄_i(t) - R̄_i(t-1)| / (max_j score_j + 0.01)
    q'      = mirror step toward exp(eta * score) WITHOUT the floor
              (uniform instead if every score is 0)
    tasks with last-50 success rate > 0.9 are pinned at eps,
    then the KL floor projection.

Pinning: a solved task is held at exactly eps and the other tasks share the rest in
proportion to q' (it is a "fixed" entry of the projection from its first round). Setting
q'_i = eps and renormalising instead would hand a solved task more than eps whenever
the unsolved tasks' mass is small, defeating the rule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from drats_jax.config import SamplerConfig
from drats_jax.samplers import stats as task_stats
from drats_jax.samplers.base import ProbState, Sampler, prob_sampler, uniform_probs
from drats_jax.samplers.drats import mirror_step, project_floor


def scores(stats: task_stats.TaskStats) -> jax.Array:
    """Normalised absolute change of the window mean return. f32[N] in [0, 1)."""
    raw = jnp.abs(task_stats.window_mean(stats) - stats.prev_window_mean)
    return raw / (jnp.max(raw) + 0.01)


def update(state: ProbState, stats: task_stats.TaskStats, *, eta: float, alpha: float, eps: float,
           solved_threshold: float = 0.9):
    n = state.q.shape[-1]
    s = scores(stats)
    stepped = mirror_step(state.q, s, eta=eta, alpha=alpha, eps=0.0)
    base = jnp.where(jnp.all(s == 0), uniform_probs(n), stepped)
    solved = task_stats.success_rate(stats) > solved_threshold
    return ProbState(q=project_floor(base, eps, fixed=solved)), stats


def make(config: SamplerConfig, num_tasks: int, total_env_steps: int | None = None) -> Sampler:
    del total_env_steps
    kw = dict(
        eta=float(config.eta),
        alpha=config.resolved_alpha(),
        eps=config.resolved_eps(num_tasks),
        solved_threshold=float(config.lp_solved_threshold),
    )
    return prob_sampler("learning_progress", num_tasks, lambda state, stats: update(state, stats, **kw))
