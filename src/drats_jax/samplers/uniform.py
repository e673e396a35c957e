"""Uniform baseline: q stays uniform (DRATS with step size 0); slots still draw at reset."""

from __future__ import annotations

from drats_jax.config import SamplerConfig
from drats_jax.samplers import stats as task_stats
from drats_jax.samplers.base import ProbState, Sampler, uniform_probs


def update(state: ProbState, stats: task_stats.TaskStats):
    return state, stats


def make(config: SamplerConfig, num_tasks: int, total_env_steps: int | None = None) -> Sampler:
    del config, total_env_steps
    return Sampler(
        name="uniform",
        num_tasks=num_tasks,
        init=lambda: ProbState(q=uniform_probs(num_tasks)),
        update=update,
        probabilities=lambda state: state.q,
    )
