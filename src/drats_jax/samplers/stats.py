"""Per-task training statistics shared by every sampler, kept on device.

All arrays have a leading task axis of size N. Returns are undiscounted sums of env
reward over one training episode (stochastic policy); "success" of an episode means
the env reported ``success`` at any step of it (MetaWorld's convention).

The *window* is the span since the last sampler update; its counters are cleared by
:func:`end_window` after each update.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class TaskStats:
    """Per-task statistics.

    window_episodes:    i32[N]  episodes of task i that finished in the current window.
    window_return_sum:  f32[N]  sum of their returns.
    prev_window_mean:   f32[N]  R̄_i of the previous window (0 if it had no episode); for LP.
    success_ring:       bool[N, W] last W episode successes of task i (ring).
    success_next:       i32[N]  next ring slot to write for task i.
    success_filled:     i32[N]  ring slots holding data (<= W).
    max_return:         f32[N]  largest training episode return seen (-inf before any).
    min_return:         f32[N]  smallest one (+inf before any).
    ref_switched:       bool[N] MetaWorld target rule: R_ref has switched to max_return.
    episodes:           i32[N]  episodes finished, all time.
    env_steps:          i32[N]  env steps consumed by task i, all time.
    """

    window_episodes: jax.Array
    window_return_sum: jax.Array
    prev_window_mean: jax.Array
    success_ring: jax.Array
    success_next: jax.Array
    success_filled: jax.Array
    max_return: jax.Array
    min_return: jax.Array
    ref_switched: jax.Array
    episodes: jax.Array
    env_steps: jax.Array


def init_stats(num_tasks: int, success_window: int = 50) -> TaskStats:
    n = num_tasks
    return TaskStats(
        window_episodes=jnp.zeros((n,), jnp.int32),
        window_return_sum=jnp.zeros((n,), jnp.float32),
        prev_window_mean=jnp.zeros((n,), jnp.float32),
        success_ring=jnp.zeros((n, success_window), bool),
        success_next=jnp.zeros((n,), jnp.int32),
        success_filled=jnp.zeros((n,), jnp.int32),
        max_return=jnp.full((n,), -jnp.inf, jnp.float32),
        min_return=jnp.full((n,), jnp.inf, jnp.float32),
        ref_switched=jnp.zeros((n,), bool),
        episodes=jnp.zeros((n,), jnp.int32),
        env_steps=jnp.zeros((n,), jnp.int32),
    )


def record_steps(stats: TaskStats, task_id: jax.Array) -> TaskStats:
    """Counts one env step for each slot. task_id: i32[E] (task each slot just stepped)."""
    n = stats.env_steps.shape[0]
    steps = jnp.bincount(task_id, length=n).astype(jnp.int32)
    return stats.replace(env_steps=stats.env_steps + steps)


def record_episodes(
    stats: TaskStats, task_id: jax.Array, finished: jax.Array, ep_return: jax.Array, ep_success: jax.Array
) -> TaskStats:
    """Adds the episodes that finished this vector step.

    task_id: i32[E]; finished: bool[E]; ep_return: f32[E] (episode return);
    ep_success: bool[E] (success at any step of the episode). Several slots may finish
    episodes of the same task in one step: each gets its own ring slot, in slot order.
    """
    n, w = stats.success_ring.shape
    fin_i = finished.astype(jnp.int32)
    count = jax.ops.segment_sum(fin_i, task_id, num_segments=n)
    ret_sum = jax.ops.segment_sum(jnp.where(finished, ep_return, 0.0), task_id, num_segments=n)
    masked_ret = jnp.where(finished, ep_return, -jnp.inf)
    max_ret = jax.ops.segment_max(masked_ret, task_id, num_segments=n)
    min_ret = jax.ops.segment_min(jnp.where(finished, ep_return, jnp.inf), task_id, num_segments=n)

    # Rank of each finishing slot among this step's finishers of the same task
    # (strictly lower slot index), so same-task writes never share a ring slot.
    same = (task_id[:, None] == task_id[None, :]) & finished[None, :]
    earlier = jnp.tril(jnp.ones_like(same), k=-1)
    rank = jnp.sum(same & earlier, axis=1)
    # Only the last W finishers of a task this step are kept (older ones would be overwritten).
    keep = finished & (count[task_id] - rank <= w)
    pos = (stats.success_next[task_id] + rank) % w
    # Dropped writes go to an out-of-range row, which mode="drop" ignores.
    row = jnp.where(keep, task_id, n)
    ring = stats.success_ring.at[row, pos].set(ep_success, mode="drop")

    return stats.replace(
        window_episodes=stats.window_episodes + count,
        window_return_sum=stats.window_return_sum + ret_sum,
        success_ring=ring,
        success_next=(stats.success_next + count) % w,
        success_filled=jnp.minimum(stats.success_filled + count, w),
        max_return=jnp.maximum(stats.max_return, max_ret),
        min_return=jnp.minimum(stats.min_return, min_ret),
        episodes=stats.episodes + count,
    )


def window_mean(stats: TaskStats) -> jax.Array:
    """R̄_i: mean return of the window's episodes of task i; 0 if there were none. f32[N]."""
    has = stats.window_episodes > 0
    return jnp.where(has, stats.window_return_sum / jnp.maximum(stats.window_episodes, 1), 0.0)


def success_rate(stats: TaskStats, full_window: bool = False) -> jax.Array:
    """Success rate over the last (up to W) episodes of task i; 0 before any. f32[N].

    full_window: 0 until task i has W episodes in its ring, as the DRATS authors' code counts a
    rate for its R_ref switch and Learning Progress's solved test (a rate over fewer episodes,
    e.g. 1 of 1, would say "solved" too early)."""
    hits = jnp.sum(stats.success_ring, axis=1).astype(jnp.float32)
    need = stats.success_ring.shape[1] if full_window else 1
    return jnp.where(stats.success_filled >= need, hits / jnp.maximum(stats.success_filled, 1), 0.0)


def end_window(stats: TaskStats) -> TaskStats:
    """Called after a sampler update: remembers R̄ for LP and clears the window."""
    return stats.replace(
        prev_window_mean=window_mean(stats),
        window_episodes=jnp.zeros_like(stats.window_episodes),
        window_return_sum=jnp.zeros_like(stats.window_return_sum),
    )


# ----------------------------------------------------------------------------------------
# Return-target rules: (stats, initial_ref_return, success_threshold, full_window) -> (stats, gap f32[N]).
# The stats are returned because the MetaWorld rule latches `ref_switched`.


def metaworld_gap(stats: TaskStats, initial_ref_return: float, success_threshold: float, full_window: bool = False):
    """g_i = (R_ref,i - R̄_i) / R_ref,i, not clipped at 0.

    R_ref,i starts at ``initial_ref_return`` (MetaWorld: 500 steps x reward 10 = 5000) and,
    once task i's last-50 success rate exceeds ``success_threshold``, tracks the largest
    training return seen on task i (latched: it never switches back).
    """
    switched = stats.ref_switched | (success_rate(stats, full_window) > success_threshold)
    r_ref = jnp.where(switched, stats.max_return, initial_ref_return)
    # A switched task has a finite, positive max return in MetaWorld (rewards >= 0 and it
    # succeeded); the guard only keeps a pathological env from dividing by <= 0.
    r_ref = jnp.where(jnp.isfinite(r_ref) & (r_ref > 0), r_ref, initial_ref_return)
    gap = (r_ref - window_mean(stats)) / r_ref
    return stats.replace(ref_switched=switched), gap.astype(jnp.float32)


def minmax_gap(stats: TaskStats, initial_ref_return: float, success_threshold: float, full_window: bool = False):
    """g_i = (max_i - R̄_i) / (max_i - min_i) over observed training returns.

    A task with no finished episode in the window, or whose observed range is empty
    (fewer than two distinct returns), gets g_i = 1: nothing is known, so favour it.
    """
    del initial_ref_return, success_threshold, full_window
    span = stats.max_return - stats.min_return
    ok = (stats.window_episodes > 0) & jnp.isfinite(span) & (span > 0)
    gap = jnp.where(ok, (stats.max_return - window_mean(stats)) / jnp.where(ok, span, 1.0), 1.0)
    return stats, gap.astype(jnp.float32)


RETURN_TARGET_RULES = {"metaworld": metaworld_gap, "minmax": minmax_gap}


def return_gap(stats: TaskStats, rule: str, initial_ref_return: float, success_threshold: float,
               full_window: bool = False):
    """Dispatches to a named return-target rule (static string)."""
    return RETURN_TARGET_RULES[rule](stats, initial_ref_return, success_threshold, full_window)
