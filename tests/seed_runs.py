"""Shared check for both learners: a vmapped seed is that seed's single run.

Bit for bit where XLA's batched and plain matmuls accumulate in the same order (seen on
AVX-512 CPUs), to float tolerance where they do not (AVX2); the same vmapped program run
twice is always bit-identical.
"""

from __future__ import annotations

import jax
import numpy as np


def single_and_vmapped(trainer, keys):
    """(single runs [one per key], the vmapped run); asserts the vmapped program repeats bit for bit."""
    single = jax.jit(trainer)
    runs = [jax.device_get(single(k)) for k in keys]
    vmapped = jax.jit(jax.vmap(trainer))
    both = jax.device_get(vmapped(keys))
    again = jax.device_get(vmapped(keys))
    for a, b in zip(jax.tree.leaves(both), jax.tree.leaves(again)):
        assert np.array_equal(a, b, equal_nan=True)  # determinism: same program, same bits
    return runs, both


def assert_seeds_match(runs, both) -> None:
    """Every leaf of seed i of the vmapped run equals run i's (rtol 1e-4, atol 1e-5)."""
    for i, run in enumerate(runs):
        mine = jax.tree_util.tree_leaves_with_path(run)
        theirs = jax.tree.leaves(jax.tree.map(lambda x: x[i], both))
        assert len(mine) == len(theirs)
        for (path, a), b in zip(mine, theirs):
            np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-4, atol=1e-5,
                                       err_msg=f"seed {i}: {jax.tree_util.keystr(path)}")
