"""Mixed tasks on device: a per-slot `lax.switch` that, under vmap, runs each scene once per block.

`vmap(lax.switch)` with a batched index runs every branch on every slot and selects: with 50
scenes that is 50 physics steps per slot. `grouped_switch` instead groups the B slots into
blocks of b = gcd(B, block_size) consecutive slots and, block by block (`lax.map`), runs the
branch of each distinct task present in the block on the whole block, keeping each slot's
own result. A block whose slots share one task (the trainer draws one task per block) costs
one branch; any assignment of tasks to slots stays correct, only slower.

Branch indices are scalars inside the block loop, so on GPU/TPU only that scene's kernels run.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_batching import custom_vmap


def grouped_switch(make_branches: Callable[[int], Sequence[Callable]], block_size: int) -> Callable:
    """f(index, *args) -> branches[index](0, *args) for one slot (index i32[], args pytrees).

    make_branches(b) returns the per-slot branches `branch(lane, *args)` used inside blocks
    of b slots, lane i32[] being the slot's position in its block (MJX-Warp sizes its contact
    buffers per call and numbers its worlds by it). Every branch returns the same pytree of
    shapes. Under vmap (any nesting: slots, seeds) the slots are grouped into blocks as the
    module docstring says.
    """
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")

    def run_blocks(index, *args):
        """index i32[B], args [B, ...] -> outputs [B, ...]."""
        batch = index.shape[0]
        b = math.gcd(batch, block_size)
        lanes = jnp.arange(b, dtype=jnp.int32)
        vbranches = [functools.partial(jax.vmap(f), lanes) for f in make_branches(b)]
        out_shape = jax.eval_shape(vbranches[0], *jax.tree.map(lambda x: x[:b], args))

        def one_block(block):
            idx, blk = block

            def body(carry):
                out, todo = carry
                task = idx[jnp.argmax(todo)]
                new = lax.switch(task, vbranches, *blk)
                take = todo & (idx == task)
                out = jax.tree.map(lambda o, n: jnp.where(take.reshape((-1,) + (1,) * (n.ndim - 1)), n, o), out, new)
                return out, todo & ~take

            init = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), out_shape)
            out, _ = lax.while_loop(lambda c: jnp.any(c[1]), body, (init, jnp.ones((b,), bool)))
            return out

        split = lambda x: x.reshape((batch // b, b) + x.shape[1:])  # noqa: E731
        out = lax.map(one_block, (split(index), jax.tree.map(split, args)))
        return jax.tree.map(lambda x: x.reshape((batch,) + x.shape[2:]), out)

    @custom_vmap
    def blocks(index, *args):
        return run_blocks(index, *args)

    @blocks.def_vmap
    def _blocks_vmap(axis_size, in_batched, index, *args):
        # An outer vmap (seeds): fold it into the slot axis; blocks never straddle two seeds
        # because gcd(S * B, block_size) blocks are chosen from the inner B below.
        index, args = _broadcast(axis_size, in_batched, (index, args))
        inner = index.shape[1]
        flat = lambda x: x.reshape((axis_size * inner,) + x.shape[2:])  # noqa: E731
        b = math.gcd(inner, block_size)
        out = grouped_switch(make_branches, b)._blocks(flat(index), *jax.tree.map(flat, args))
        return jax.tree.map(lambda x: x.reshape((axis_size, inner) + x.shape[1:]), out), _all_true(out)

    @custom_vmap
    def one(index, *args):
        return lax.switch(index, make_branches(1), jnp.zeros((), jnp.int32), *args)

    @one.def_vmap
    def _one_vmap(axis_size, in_batched, index, *args):
        index, args = _broadcast(axis_size, in_batched, (index, args))
        out = blocks(index, *args)
        return out, _all_true(out)

    one._blocks = blocks  # used by the outer-vmap rule above
    return one


def _broadcast(axis_size, in_batched, tree):
    flat_in, _ = jax.tree.flatten(in_batched)
    leaves, treedef = jax.tree.flatten(tree)
    leaves = [x if bat else jnp.broadcast_to(x, (axis_size,) + jnp.shape(x)) for x, bat in zip(leaves, flat_in)]
    return jax.tree.unflatten(treedef, leaves)


def _all_true(tree):
    return jax.tree.map(lambda _: True, tree)
