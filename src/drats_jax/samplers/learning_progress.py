"""Learning Progress baseline, as in the DRATS authors' code (docs/drats.md).

    score_i = |R̄_i(t) - R̄_i(t-1)| / (max_j score_j + 0.01)
    q'      = mirror step toward exp(eta * score) (DRATS's, same eta and alpha)
    tasks whose success rate over their last W (50) episodes exceeds 0.9 are "solved";
    then the KL floor projection with eps.

What happens to solved tasks is ``solved_rule`` (``SamplerConfig.lp_solved``); the authors'
two codes differ:
- ``"project"`` (their task-distribution module, the default): the step has no floor; solved
  tasks are *set* to eps and the unnormalised result is projected, so a solved task ends at
  eps / (sum of the result) when that is above eps: when the unsolved tasks hold little mass,
  solved tasks keep more than eps.
- ``"pin"`` (their MetaWorld trainer): the step is floored; solved tasks are set to 0 and the
  result projected, so they end at exactly eps; all tasks solved gives uniform.
Both give uniform when every task is solved.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from drats_jax.config import SamplerConfig
from drats_jax.samplers import stats as task_stats
from drats_jax.samplers.base import ProbState, Sampler, prob_sampler, uniform_probs
from drats_jax.samplers.drats import mirror_step, project_floor

SOLVED_RULES = ("project", "pin")


def scores(stats: task_stats.TaskStats) -> jax.Array:
    """Normalised absolute change of the window mean return. f32[N] in [0, 1)."""
    raw = jnp.abs(task_stats.window_mean(stats) - stats.prev_window_mean)
    return raw / (jnp.max(raw) + 0.01)


def update(state: ProbState, stats: task_stats.TaskStats, *, eta: float, alpha: float, eps: float,
           solved_threshold: float = 0.9, solved_rule: str = "project", full_window: bool = True):
    """Window end: (state with the new q f32[N], stats). ``full_window``: a task's success rate
    counts only once its ring holds W episodes (both of the authors' codes)."""
    s = scores(stats)
    solved = task_stats.success_rate(stats, full_window) > solved_threshold
    if solved_rule == "project":
        stepped = mirror_step(state.q, s, eta=eta, alpha=alpha, eps=0.0)
        q = project_floor(jnp.where(solved, eps, stepped), eps)
    elif solved_rule == "pin":
        stepped = mirror_step(state.q, s, eta=eta, alpha=alpha, eps=eps)
        q = jnp.where(jnp.all(solved), uniform_probs(s.shape[-1]), project_floor(jnp.where(solved, 0.0, stepped), eps))
    else:
        raise ValueError(f"unknown lp_solved rule {solved_rule!r}; known: {SOLVED_RULES}")
    return ProbState(q=q), stats


def make(config: SamplerConfig, num_tasks: int, total_env_steps: int | None = None) -> Sampler:
    del total_env_steps
    kw = dict(
        eta=float(config.eta),
        alpha=config.resolved_alpha(),
        eps=config.resolved_eps(num_tasks),
        solved_threshold=float(config.lp_solved_threshold),
        solved_rule=config.lp_solved,
        full_window=bool(config.success_full_window),
    )
    return prob_sampler("learning_progress", num_tasks, lambda state, stats: update(state, stats, **kw))
