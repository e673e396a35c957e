"""Fixed-capacity replay ring on device, as pure functions.

    buffer = init(capacity, obs_size, action_size)
    buffer = insert(buffer, transitions)          # E rows at the ring index
    batch  = sample(buffer, rng, batch_size)      # uniform over stored rows

Insertion writes one contiguous block of E rows with ``lax.dynamic_update_slice``; when
the buffer is donated through the enclosing jit (the trainer donates its whole state)
XLA updates it in place, so no insert copies the whole buffer. The capacity must be a
multiple of E, so a block never straddles the end of the ring.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from jax import lax

from drats_jax.types import Transition


@struct.dataclass
class ReplayBuffer:
    """data: Transition with leading axis C (capacity); index: i32[] next row to write;
    size: i32[] rows holding data (<= C)."""

    data: Transition
    index: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return self.data.reward.shape[0]


def init(capacity: int, obs_size: int, action_size: int) -> ReplayBuffer:
    c = capacity
    data = Transition(
        obs=jnp.zeros((c, obs_size), jnp.float32),
        action=jnp.zeros((c, action_size), jnp.float32),
        reward=jnp.zeros((c,), jnp.float32),
        next_obs=jnp.zeros((c, obs_size), jnp.float32),
        terminal=jnp.zeros((c,), bool),
        truncation=jnp.zeros((c,), bool),
        task_id=jnp.zeros((c,), jnp.int32),
    )
    return ReplayBuffer(data=data, index=jnp.zeros((), jnp.int32), size=jnp.zeros((), jnp.int32))


def insert(buffer: ReplayBuffer, rows: Transition) -> ReplayBuffer:
    """Writes E rows (leading axis of ``rows``) at the ring index and advances it."""
    c = buffer.capacity
    e = rows.reward.shape[0]
    if c % e != 0:
        raise ValueError(f"buffer capacity {c} must be a multiple of the rows per insert {e}")

    def write(store, new):
        new = new.astype(store.dtype)
        start = (buffer.index,) + (0,) * (store.ndim - 1)
        return lax.dynamic_update_slice(store, new, start)

    data = jax.tree.map(write, buffer.data, rows)
    return ReplayBuffer(
        data=data,
        index=(buffer.index + e) % c,
        size=jnp.minimum(buffer.size + e, c),
    )


def _gather(buffer: ReplayBuffer, rows: jax.Array) -> Transition:
    return jax.tree.map(lambda x: jnp.take(x, rows, axis=0), buffer.data)


def sample_uniform(buffer: ReplayBuffer, rng: jax.Array, batch_size: int) -> Transition:
    """batch_size rows drawn uniformly (with replacement) from the stored rows."""
    rows = jax.random.randint(rng, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return _gather(buffer, rows)


@struct.dataclass
class TaskIndex:
    """Stored rows grouped by task, for per-task sampling (valid while the buffer is unchanged).

    order: i32[C] row ids sorted by task (empty rows last); start, count: i32[N]."""

    order: jax.Array
    start: jax.Array
    count: jax.Array


def task_index(buffer: ReplayBuffer, num_tasks: int) -> TaskIndex:
    """O(C log C); compute once per vector step and reuse for its K gradient steps."""
    c = buffer.capacity
    stored = jnp.arange(c) < buffer.size  # the ring fills rows 0..size-1 before wrapping
    key = jnp.where(stored, buffer.data.task_id, num_tasks)
    order = jnp.argsort(key, stable=True).astype(jnp.int32)
    count = jnp.bincount(key, length=num_tasks + 1)[:num_tasks].astype(jnp.int32)
    start = (jnp.cumsum(count) - count).astype(jnp.int32)
    return TaskIndex(order=order, start=start, count=count)


def sample_per_task(buffer: ReplayBuffer, rng: jax.Array, batch_size: int, index: TaskIndex) -> Transition:
    """Equal share per task: row b targets task b mod N, uniform among that task's rows.

    A task with no stored row gives its share to uniform draws over all stored rows.
    """
    n = index.count.shape[0]
    k_task, k_any = jax.random.split(rng)
    task = jnp.arange(batch_size) % n
    u = jax.random.uniform(k_task, (batch_size,))
    cnt = index.count[task]
    offset = jnp.minimum((u * cnt).astype(jnp.int32), jnp.maximum(cnt - 1, 0))
    per_task_rows = index.order[index.start[task] + offset]
    any_rows = jax.random.randint(k_any, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return _gather(buffer, jnp.where(cnt > 0, per_task_rows, any_rows))


def sample(buffer: ReplayBuffer, rng: jax.Array, batch_size: int, mode: str = "uniform",
           index: TaskIndex | None = None, num_tasks: int | None = None) -> Transition:
    """Dispatch on the static ``mode`` ("uniform" or "per_task")."""
    if mode == "uniform":
        return sample_uniform(buffer, rng, batch_size)
    if mode == "per_task":
        if index is None:
            if num_tasks is None:
                raise ValueError("per_task sampling needs num_tasks or a precomputed TaskIndex")
            index = task_index(buffer, num_tasks)
        return sample_per_task(buffer, rng, batch_size, index)
    raise ValueError(f"unknown buffer sampling mode {mode!r}")
