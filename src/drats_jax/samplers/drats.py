"""DRATS: KL mirror ascent of the task distribution toward large return gaps.

    log q* = log p0 + eta * g                       (p0 uniform, g the return gaps)
    log q' = alpha * log q* + (1 - alpha) * log q   (alpha in [0, 1] is the step size)
    q'     = softmax(log q')
    q'     = KL projection of q' onto {q : q_i >= eps, sum q = 1}

Defaults: eta 8, alpha = lr / eta with lr 0.5, eps 1 / (4N) (see docs/drats.md).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from drats_jax.config import SamplerConfig
from drats_jax.samplers import stats as task_stats
from drats_jax.samplers.base import ProbState, Sampler, prob_sampler

# log of a probability that is exactly 0: finite so (1 - alpha) * log q stays well defined
# (0 * -inf would be NaN when alpha == 1).
_LOG_ZERO = -1e30


def project_floor(z: jax.Array, eps: float) -> jax.Array:
    """Exact KL projection of ``z`` onto {q : q_i >= eps, sum q = 1}.

    z: f32[N] non-negative weights (need not sum to 1). eps: the floor (<= 1/N).
    Returns f32[N].

    Iteration: entries are "free" or "fixed" (at eps). Each round gives the free entries
    mass_free = 1 - eps * #fixed in proportion to z (evenly if their z sum to 0), and
    fixes every free entry that fell below eps. A round that fixes nothing is a fixed
    point, and each other round fixes at least one entry, so N rounds always suffice;
    a static-length fori_loop keeps it jit/vmap/scan friendly.
    """
    z = jnp.asarray(z, jnp.float32)
    n = z.shape[-1]
    fixed0 = jnp.zeros(z.shape, bool)

    def assign(fixed_mask):
        n_fixed = jnp.sum(fixed_mask)
        mass_free = 1.0 - eps * n_fixed
        z_free = jnp.where(fixed_mask, 0.0, z)
        total = jnp.sum(z_free)
        n_free = jnp.maximum(n - n_fixed, 1)
        free_vals = jnp.where(total > 0, mass_free * z_free / jnp.where(total > 0, total, 1.0), mass_free / n_free)
        q = jnp.where(fixed_mask, eps, free_vals)
        return q, mass_free

    def round_(_, fixed_mask):
        q, _ = assign(fixed_mask)
        return fixed_mask | (q < eps)

    fixed_final = lax.fori_loop(0, n, round_, fixed0)
    q, mass_free = assign(fixed_final)
    q = q / jnp.sum(q)
    return jnp.where(mass_free < 0, jnp.full_like(q, 1.0 / n), q)


def mirror_step(q: jax.Array, scores: jax.Array, *, eta: float, alpha: float, eps: float) -> jax.Array:
    """One DRATS update of the distribution.

    q: f32[N] current distribution; scores: f32[N] return gaps g (larger = needs more
    data); eta, alpha, eps as in the module docstring (eps = 0 skips the floor).
    Returns f32[N].
    """
    q = jnp.asarray(q, jnp.float32)
    n = q.shape[-1]
    log_p0 = -jnp.log(jnp.float32(n))
    log_q_star = log_p0 + eta * jnp.asarray(scores, jnp.float32)
    log_q = jnp.where(q > 0, jnp.log(jnp.where(q > 0, q, 1.0)), _LOG_ZERO)
    log_new = alpha * log_q_star + (1.0 - alpha) * log_q
    new = jax.nn.softmax(log_new)  # subtracts the max first
    if eps > 0:
        new = project_floor(new, eps)
    return new


def update(state: ProbState, stats: task_stats.TaskStats, *, eta: float, alpha: float, eps: float,
           rule: str = "metaworld", initial_ref_return: float = 5000.0, success_threshold: float = 0.5,
           full_window: bool = False):
    """Window end: gaps from the statistics, then one mirror step. Returns (state, stats)."""
    stats, gap = task_stats.return_gap(stats, rule, initial_ref_return, success_threshold, full_window)
    return ProbState(q=mirror_step(state.q, gap, eta=eta, alpha=alpha, eps=eps)), stats


def make(config: SamplerConfig, num_tasks: int, total_env_steps: int | None = None) -> Sampler:
    del total_env_steps
    kw = dict(
        eta=float(config.eta),
        alpha=config.resolved_alpha(),
        eps=config.resolved_eps(num_tasks),
        rule=config.return_target,
        initial_ref_return=float(config.initial_ref_return),
        success_threshold=float(config.ref_success_threshold),
        full_window=bool(config.success_full_window),
    )
    return prob_sampler("drats", num_tasks, lambda state, stats: update(state, stats, **kw))
