"""Fixed-capacity replay on device, as pure functions: one shared ring or one ring per task.

    buffer = init(capacity, obs_size, action_size)              # one ring of C rows
    buffer = init(capacity, obs_size, action_size, rings=N)     # N rings of C // N rows
    buffer = insert(buffer, transitions)                        # E rows
    batch  = sample(buffer, rng, batch_size)

Sampling follows the layout, so a trainer never has to pass a mode around:
  - one ring (``replay_sampling="uniform"``): rows drawn uniformly over all stored
    transitions, so a task's share of each batch is its share of the collected data
    (the task allocation reaches the updates);
  - one ring per task (``"per_task"``, the reference MTSAC's MultiTaskReplayBuffer): each
    task keeps its own FIFO of C // N rows and every batch holds an equal share of each
    task. Sampling is O(batch), independent of C.

One ring: insertion writes one contiguous block of E rows with ``lax.dynamic_update_slice``;
when the buffer is donated through the enclosing jit (the trainer donates its whole state)
XLA updates it in place. The capacity must be a multiple of E, so a block never straddles
the end of the ring. Per-task rings: the E rows are scattered, row i to the ring of its
task at that ring's index plus the number of earlier rows of the same task in the block.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from jax import lax

from drats_jax.types import Transition


@struct.dataclass
class ReplayBuffer:
    """data: Transition with leading axis C (capacity); ring r holds rows
    [r * C/R, (r+1) * C/R). index: i32[R] next row to write in each ring (relative to
    its start); size: i32[R] rows of each ring holding data (<= C/R). R = 1 or N."""

    data: Transition
    index: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return self.data.reward.shape[0]

    @property
    def rings(self) -> int:
        return self.index.shape[0]

    @property
    def ring_capacity(self) -> int:
        return self.capacity // self.rings


def init(capacity: int, obs_size: int, action_size: int, rings: int = 1) -> ReplayBuffer:
    """``rings`` = 1 (shared ring) or N (one ring per task id 0..N-1; C must be a multiple of N)."""
    if rings < 1 or capacity % rings != 0:
        raise ValueError(f"buffer capacity {capacity} must be a positive multiple of the number of rings {rings}")
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
    return ReplayBuffer(data=data, index=jnp.zeros((rings,), jnp.int32), size=jnp.zeros((rings,), jnp.int32))


def insert(buffer: ReplayBuffer, rows: Transition) -> ReplayBuffer:
    """Writes E rows (leading axis of ``rows``) and advances the ring index (indices)."""
    if buffer.rings == 1:
        return _insert_block(buffer, rows)
    return _insert_per_task(buffer, rows)


def _insert_block(buffer: ReplayBuffer, rows: Transition) -> ReplayBuffer:
    c = buffer.capacity
    e = rows.reward.shape[0]
    if c % e != 0:
        raise ValueError(f"buffer capacity {c} must be a multiple of the rows per insert {e}")

    def write(store, new):
        new = new.astype(store.dtype)
        start = (buffer.index[0],) + (0,) * (store.ndim - 1)
        return lax.dynamic_update_slice(store, new, start)

    data = jax.tree.map(write, buffer.data, rows)
    return ReplayBuffer(data=data, index=(buffer.index + e) % c, size=jnp.minimum(buffer.size + e, c))


def _insert_per_task(buffer: ReplayBuffer, rows: Transition) -> ReplayBuffer:
    n, cap = buffer.rings, buffer.ring_capacity
    e = rows.reward.shape[0]
    if e > cap:  # a block would overwrite its own rows in one ring
        raise ValueError(f"per-task ring capacity {cap} (capacity / {n} tasks) is smaller than the rows per insert {e}")
    task = rows.task_id.astype(jnp.int32)
    same = task[:, None] == task[None, :]
    rank = jnp.sum(jnp.tril(same, k=-1), axis=1)  # earlier rows of the same task in this block
    row = task * cap + (buffer.index[task] + rank) % cap
    data = jax.tree.map(lambda store, new: store.at[row].set(new.astype(store.dtype), unique_indices=True),
                        buffer.data, rows)
    count = jnp.bincount(task, length=n).astype(jnp.int32)
    return ReplayBuffer(data=data, index=(buffer.index + count) % cap, size=jnp.minimum(buffer.size + count, cap))


def _gather(buffer: ReplayBuffer, rows: jax.Array) -> Transition:
    return jax.tree.map(lambda x: jnp.take(x, rows, axis=0), buffer.data)


def _uniform_rows(buffer: ReplayBuffer, rng: jax.Array, batch_size: int) -> jax.Array:
    """Row ids uniform over every stored row of every ring."""
    total = jnp.sum(buffer.size)
    k = jax.random.randint(rng, (batch_size,), 0, jnp.maximum(total, 1))
    if buffer.rings == 1:  # rows 0..size-1 are filled before the ring wraps
        return k
    before = jnp.cumsum(buffer.size) - buffer.size  # stored rows in the rings before ring r
    ring = jnp.searchsorted(jnp.cumsum(buffer.size), k, side="right")
    ring = jnp.minimum(ring, buffer.rings - 1)
    return ring * buffer.ring_capacity + (k - before[ring])


def _per_task_rows(buffer: ReplayBuffer, rng: jax.Array, batch_size: int) -> jax.Array:
    """Row b from ring b mod N, uniform among that ring's stored rows; an empty ring's
    share falls back to uniform draws over all stored rows."""
    n, cap = buffer.rings, buffer.ring_capacity
    k_task, k_any = jax.random.split(rng)
    task = jnp.arange(batch_size) % n
    cnt = buffer.size[task]
    u = jax.random.uniform(k_task, (batch_size,))
    offset = jnp.minimum((u * cnt).astype(jnp.int32), jnp.maximum(cnt - 1, 0))
    return jnp.where(cnt > 0, task * cap + offset, _uniform_rows(buffer, k_any, batch_size))


def sample(buffer: ReplayBuffer, rng: jax.Array, batch_size: int) -> Transition:
    """batch_size rows drawn with replacement: uniform over stored rows (one ring) or an
    equal share per task (one ring per task)."""
    if buffer.rings == 1:
        return _gather(buffer, _uniform_rows(buffer, rng, batch_size))
    return _gather(buffer, _per_task_rows(buffer, rng, batch_size))


def sample_uniform(buffer: ReplayBuffer, rng: jax.Array, batch_size: int) -> Transition:
    """batch_size rows drawn uniformly (with replacement) from all stored rows, whatever the layout."""
    return _gather(buffer, _uniform_rows(buffer, rng, batch_size))
