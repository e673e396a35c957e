"""Uniform baseline: q stays uniform (DRATS with step size 0); slots still draw at reset."""

from __future__ import annotations

from drats_jax.config import SamplerConfig
from drats_jax.samplers import stats as task_stats
from drats_jax.samplers.base import ProbState, Sampler, prob_sampler


def update(state: ProbState, stats: task_stats.TaskStats):
    return state, stats


def make(config: SamplerConfig, num_tasks: int, total_env_steps: int | None = None) -> Sampler:
    del config, total_env_steps
    return prob_sampler("uniform", num_tasks, update)
