"""Task samplers: a registry from name to builder ``make(config, num_tasks, total_env_steps)``.

Every sampler is pure JAX (see :mod:`drats_jax.samplers.base`) and works under jit, vmap
and inside lax.scan.
"""

from __future__ import annotations

from drats_jax.config import SamplerConfig
from drats_jax.samplers import drats, learning_progress, smt, stats, uniform
from drats_jax.samplers.base import ProbState, Sampler

REGISTRY = {
    "drats": drats.make,
    "uniform": uniform.make,
    "learning_progress": learning_progress.make,
    "smt": smt.make,
}


def make_sampler(config: SamplerConfig, num_tasks: int, total_env_steps: int | None = None) -> Sampler:
    """Builds the sampler named ``config.name`` for N = num_tasks tasks."""
    try:
        builder = REGISTRY[config.name]
    except KeyError:
        raise ValueError(f"unknown sampler {config.name!r}; known: {sorted(REGISTRY)}") from None
    return builder(config, num_tasks, total_env_steps)


__all__ = ["REGISTRY", "ProbState", "Sampler", "make_sampler", "drats", "uniform",
           "learning_progress", "smt", "stats"]
