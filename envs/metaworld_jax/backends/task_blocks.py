"""Tasks on device in blocks of slots: per-slot functions that, under vmap, run one task's code
per block of consecutive slots.

`vmap(lax.switch)` with a batched index runs every branch on every slot and selects: with 50
tasks on 36 scenes that is 36 physics steps per slot. `dispatch` instead groups the B slots
into blocks of b = gcd(B, block_size) consecutive slots and calls a *block function*
`f(task, lanes, *args)` with one scalar task id for the whole block, so only that task's
code runs (a scalar-index `lax.switch` inside `f` executes one branch).

`dispatch` is the batched form (what `vector_step` runs), `per_slot` the per-slot form of
the env API (vmap it). Two layouts:
- uniform (the trainer's: it draws one task per block, and every slot of a block starts and
  ends its episodes together): block k runs the task of its first slot. `lax.map` over the
  blocks, no data-dependent loop: a fixed number of block steps per vector step.
- mixed (any task in any slot; the env API's default): a `while_loop` per block over the
  distinct tasks present in it, each running `f` on the whole block and keeping the slots
  of that task. Correct for any layout, slower when blocks mix tasks.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.extend
import jax.numpy as jnp
from jax import lax
from jax.custom_batching import custom_vmap

# make_block(b) -> f(task i32[], lanes i32[b], *args with leading axis b) -> outputs [b, ...]
BlockFn = Callable[[int], Callable]


def dispatch(make_block: BlockFn, block_size: int, *, uniform: bool) -> Callable:
    """The batched function `g(index i32[B], *args [B, ...]) -> outputs [B, ...]`.

    make_block(b) returns the block function for blocks of b slots: it gets one scalar task
    for the block, the lanes 0..b-1 (MJX-Warp numbers its worlds by them) and the block's
    args, and returns the block's outputs (every task the same pytree of shapes). The B slots
    are grouped into blocks of b = gcd(B, block_size); `uniform` picks the layout (module
    docstring). An outer vmap (seeds) folds into the slot axis, so a block's task stays one
    scalar: blocks never straddle two seeds (b divides the inner slot count).
    """
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")

    @custom_vmap
    def g(index, *args):
        batch = index.shape[0]
        b = math.gcd(batch, block_size)
        f = make_block(b)
        lanes = jnp.arange(b, dtype=jnp.int32)
        split = lambda x: x.reshape((batch // b, b) + x.shape[1:])  # noqa: E731
        blocks = (split(index), jax.tree.map(split, args))
        one_block = _uniform_block(f, lanes) if uniform else _mixed_block(f, lanes, args, b)
        if batch == b:
            return one_block(jax.tree.map(lambda x: x[0], blocks))
        out = lax.map(one_block, blocks)
        return jax.tree.map(lambda x: x.reshape((batch,) + x.shape[2:]), out)

    @g.def_vmap
    def _fold(axis_size, in_batched, index, *args):
        index, args = _broadcast(axis_size, in_batched, (index, args))
        inner = index.shape[1]
        flat = lambda x: x.reshape((axis_size * inner,) + x.shape[2:])  # noqa: E731
        out = dispatch(make_block, math.gcd(inner, block_size), uniform=uniform)(flat(index), *jax.tree.map(flat, args))
        return jax.tree.map(lambda x: x.reshape((axis_size, inner) + x.shape[1:]), out), _all_true(out)

    return g


def per_slot(make_block: BlockFn, block_size: int) -> Callable:
    """A per-slot function `h(index i32[], *args) -> out` (the env API's step: any task in
    any slot). Unbatched it runs a block of one slot; under vmap, `dispatch(...,
    uniform=False)` over the batch (JAX traces the unbatched form too, to know the shapes)."""
    blocks = dispatch(make_block, block_size, uniform=False)

    @custom_vmap
    def h(index, *args):
        out = make_block(1)(index, jnp.zeros((1,), jnp.int32), *jax.tree.map(lambda x: x[None], args))
        return jax.tree.map(lambda x: x[0], out)

    @h.def_vmap
    def _batched(axis_size, in_batched, index, *args):
        index, args = _broadcast(axis_size, in_batched, (index, args))
        out = blocks(index, *args)
        return out, _all_true(out)

    return h


def _uniform_block(f, lanes):
    """Block (index i32[b], args [b, ...]) -> f on the task of its first slot."""

    def one_block(block):
        idx, blk = block
        return f(idx[0], lanes, *blk)

    return one_block


def _mixed_block(f, lanes, args, b):
    """Block -> f once per distinct task in it, each slot keeping its own task's result."""
    out_shape = jax.eval_shape(lambda *a: f(jnp.zeros((), jnp.int32), lanes, *a), *jax.tree.map(lambda x: x[:b], args))

    def one_block(block):
        idx, blk = block

        def body(carry):
            out, todo = carry
            task = idx[jnp.argmax(todo)]
            new = f(task, lanes, *blk)
            take = todo & (idx == task)
            out = jax.tree.map(lambda o, n: jnp.where(take.reshape((-1,) + (1,) * (n.ndim - 1)), n, o), out, new)
            return out, todo & ~take

        init = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), out_shape)
        out, _ = lax.while_loop(lambda c: jnp.any(c[1]), body, (init, jnp.ones((b,), bool)))
        return out

    return one_block


def _broadcast(axis_size, in_batched, tree):
    flat_in, _ = jax.tree.flatten(in_batched)
    leaves, treedef = jax.tree.flatten(tree)
    leaves = [x if bat else jnp.broadcast_to(x, (axis_size,) + jnp.shape(x)) for x, bat in zip(leaves, flat_in)]
    return jax.tree.unflatten(treedef, leaves)


def _all_true(tree):
    return jax.tree.map(lambda _: True, tree)


def traced_once(fn):
    """``fn`` (pure, closing over concrete values only), traced to a jaxpr once per argument
    shapes; later calls bind that jaxpr. jax.jit's own cache is not enough here: under a seed
    vmap, dispatch's custom_vmap traces the block twice in contexts jit does not share
    (measured: every scene's physics traced twice per program, ~45 s of MT10's trace)."""
    jaxprs = {}

    def call(*args):
        flat, tree = jax.tree.flatten(args)
        key = (tree, tuple((jnp.shape(x), jnp.result_type(x)) for x in flat))
        if key not in jaxprs:
            closed, out = jax.make_jaxpr(fn, return_shape=True)(*args)
            jaxprs[key] = (jax.extend.core.jaxpr_as_fun(closed), jax.tree.structure(out))
        run, out_tree = jaxprs[key]
        return jax.tree.unflatten(out_tree, run(*flat))

    return call
