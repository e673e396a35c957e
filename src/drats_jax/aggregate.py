"""Aggregates across seeds with rliable: IQM and mean with stratified-bootstrap CIs.

    est = estimate(scores)                  # scores f[seeds, tasks] -> Estimate (IQM, mean, CIs)
    per_task = estimate_per_task(scores)    # one Estimate per task (column), over seeds
    curve = estimate_curve(scores_t)        # f[T, seeds, tasks] -> f64[T, 6], one row per evaluation
    best = best_returns([ret_a, ret_b])     # f[N]: the DRATS paper's per-task normaliser
    score = normalized_by_best(ret_a, best) # f[..., N]: return / best

Score matrices follow rliable (Agarwal et al. 2021): f[seeds, tasks], one score per seed
(run) and task. IQM is the 25%-trimmed mean over all seed x task scores
(``rliable.metrics.aggregate_iqm``), mean the plain mean over them. CIs are 95% percentile
intervals of the stratified bootstrap (``rliable.library.StratifiedBootstrap``): seeds are
resampled with replacement within each task. A per-seed scalar (e.g. worst-task success,
where the min over tasks must stay within one seed) is a f[seeds, 1] matrix: then IQM and
bootstrap run over seeds alone. With fewer than 4 seeds of one task the IQM trims nothing.

Randomness: every estimate draws from its own ``np.random.default_rng(seed)``, so results
are the same on every call and do not depend on what else is estimated. rliable 1.2's
``get_interval_estimates`` cannot give that: its StratifiedBootstrap draws its indices from
numpy's global RNG (``np.random.choice``) whatever ``random_state`` says. We use its
bootstrap class with the index draw moved onto the bootstrap's own Generator, and otherwise
do what ``get_interval_estimates`` does (``conf_int(func, reps, size, method="percentile")``).

Seeds with a missing (non-finite) score in a matrix are left out of it; a matrix with no
complete seed gives NaN estimates.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np
import scipy.stats
from rliable import metrics
from rliable.library import StratifiedBootstrap

REPS = 2000  # bootstrap resamples; rliable's default 50,000 costs minutes per plot (a Python loop)
LEVEL = 0.95
SEED = 0


class Estimate(NamedTuple):
    """Point estimates and CI bounds of one score matrix (floats, the scores' unit)."""

    iqm: float
    iqm_lo: float
    iqm_hi: float
    mean: float
    mean_lo: float
    mean_hi: float


NAN_ESTIMATE = Estimate(*(float("nan"),) * 6)


class _Bootstrap(StratifiedBootstrap):
    """rliable's stratified bootstrap, its indices drawn from the bootstrap's own Generator
    (passed as ``seed``) instead of numpy's global RNG."""

    def update_indices(self):
        runs = self.generator.integers(0, self._num_items, self._args_shape)
        return (runs, *self._strata_indices)


def _complete_seeds(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    return scores[np.all(np.isfinite(scores), axis=1)]


def _interval(scores: np.ndarray, func: Callable[[np.ndarray], np.ndarray], seed: int, reps: int,
              level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (point f64[K], lower f64[K], upper f64[K]) of func (f[S, N] -> f64[K])."""
    point = func(scores)
    if scores.shape[0] < 2:  # one seed: nothing to resample, the interval is the point
        return point, point, point
    ci = _Bootstrap(scores, seed=np.random.default_rng(seed)).conf_int(
        func, reps=reps, size=level, method="percentile")
    return point, ci[0], ci[1]


def _iqm_and_mean(scores: np.ndarray) -> np.ndarray:
    return np.array([metrics.aggregate_iqm(scores), metrics.aggregate_mean(scores)])


def estimate(scores: np.ndarray, seed: int = SEED, reps: int = REPS, level: float = LEVEL) -> Estimate:
    """IQM and mean over all seed x task scores, each with its CI. scores: f[S, N] or f[S]."""
    scores = _complete_seeds(scores)
    if scores.shape[0] == 0:
        return NAN_ESTIMATE
    p, lo, hi = _interval(scores, _iqm_and_mean, seed, reps, level)
    return Estimate(float(p[0]), float(lo[0]), float(hi[0]), float(p[1]), float(lo[1]), float(hi[1]))


def _per_column(scores: np.ndarray) -> np.ndarray:
    # aggregate_iqm of each column alone (the same scipy trim_mean rliable calls), then means
    return np.concatenate([scipy.stats.trim_mean(scores, 0.25, axis=0), scores.mean(axis=0)])


def estimate_per_task(scores: np.ndarray, seed: int = SEED, reps: int = REPS,
                      level: float = LEVEL) -> list[Estimate]:
    """One Estimate per task over its seeds. scores: f[S, N] -> N Estimates.

    One stratified bootstrap for all tasks: it resamples seeds independently per task, so
    each task's interval is the one a bootstrap of that task alone would give."""
    scores = _complete_seeds(scores)
    n = scores.shape[1]
    if scores.shape[0] == 0:
        return [NAN_ESTIMATE] * n
    p, lo, hi = _interval(scores, _per_column, seed, reps, level)
    return [Estimate(float(p[i]), float(lo[i]), float(hi[i]), float(p[n + i]), float(lo[n + i]),
                     float(hi[n + i])) for i in range(n)]


def estimate_curve(scores: np.ndarray, seed: int = SEED, reps: int = REPS, level: float = LEVEL) -> np.ndarray:
    """Estimates at every evaluation point. scores: f[T, S, N] -> f64[T, 6] (Estimate fields)."""
    return np.array([estimate(s, seed, reps, level) for s in scores], np.float64).reshape(len(scores), 6)


def best_returns(returns: Sequence[np.ndarray]) -> np.ndarray:
    """The DRATS paper's normaliser: per task, the largest return any compared run reached.

    returns: one f[T, S, N] per run (per-task mean evaluation return of each evaluation
    point and seed, tasks aligned, NaN where missing) -> f64[N], the max over every run,
    evaluation point and seed (NaN for a task without any return)."""
    flat = np.concatenate([np.asarray(r, np.float64).reshape(-1, np.shape(r)[-1]) for r in returns])
    finite = np.isfinite(flat)
    best = np.where(finite, flat, -np.inf).max(axis=0)
    return np.where(finite.any(axis=0), best, np.nan)


def normalized_by_best(returns: np.ndarray, best: np.ndarray) -> np.ndarray:
    """returns f[..., N] / best f[N]; NaN where best is not positive (returns are taken to be
    non-negative, as MetaWorld's are: a task nobody scored on cannot be normalised)."""
    best = np.asarray(best, np.float64)
    safe = np.where(best > 0, best, 1.0)
    return np.where(best > 0, np.asarray(returns, np.float64) / safe, np.nan)
