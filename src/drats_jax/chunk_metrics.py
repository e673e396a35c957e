"""What a call of the trainer's steps program reports, from the per-step metrics its scan
stacked: learner means, where a run stopped being finite, and the merge of several calls'
metrics into one span's (the warm-up's)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from drats_jax.agents.common import mean
from drats_jax.allocation import EPISODE_KEYS


def merge_metrics(parts: list[dict]) -> dict:
    """The metrics of consecutive calls of run_steps as one span's (the warm-up's):
    episodes summed, episode return and success rate averaged over those episodes (NaN where
    none finished), the rest (q, counters, health) the last call's. {} if no call."""
    if len(parts) <= 1:
        return parts[0] if parts else {}
    count = sum(p["episodes"] for p in parts)
    out = {**parts[-1], "episodes": count}
    for k in ("episode_return", "success_rate"):
        total = sum(jnp.where(p["episodes"] > 0, p[k] * p["episodes"], 0.0) for p in parts)
        out[k] = jnp.where(count > 0, total / jnp.where(count > 0, count, 1), jnp.nan)
    return out


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
