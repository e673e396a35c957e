"""Seed s computes the same bits whatever the number of seeds vmapped beside it (what makes
a seed-sharded run equal to the one-device run, tests/test_mesh.py): the pieces in
drats_jax.agents.common and a SAC learner on a batch size that used to show the gap."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drats_jax.agents.common import Dense, mean, pairwise_sum
from drats_jax.agents.sac.update import make_sac
from drats_jax.buffer import Transition
from drats_jax.config import SACConfig


def test_dense_is_flax_dense():
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 7))
    ours, theirs = Dense(3), nn.Dense(3, bias_init=nn.initializers.normal(1.0))
    p = theirs.init(jax.random.PRNGKey(0), x)
    assert jax.tree.structure(ours.init(jax.random.PRNGKey(0), x)) == jax.tree.structure(p)
    assert np.array_equal(ours.apply(p, x), theirs.apply(p, x))
    g_ours = jax.grad(lambda q: jnp.sum(ours.apply(q, x) ** 2))(p)
    g_theirs = jax.grad(lambda q: jnp.sum(theirs.apply(q, x) ** 2))(p)
    for a, b in zip(jax.tree.leaves(g_ours), jax.tree.leaves(g_theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_pairwise_sum_and_mean():
    x = jax.random.normal(jax.random.PRNGKey(0), (37, 3))  # not a power of two: zero-padded
    np.testing.assert_allclose(pairwise_sum(x), np.sum(np.asarray(x, np.float64), axis=0), rtol=1e-5)
    assert float(mean(jnp.arange(6.0))) == 2.5 and pairwise_sum(jnp.ones((1, 2))).shape == (2,)
    np.testing.assert_allclose(jax.grad(mean)(jnp.ones(5)), np.full(5, 0.2))


def test_sac_updates_of_a_seed_do_not_depend_on_how_many_seeds_are_vmapped():
    """Before the pairwise sums the hidden biases (a reduce over the batch), the log-prob's sum
    over action dims and the temperature gradient (a scatter-add) differed in the last bits
    between 4 and 2 vmapped seeds after one step at this size (2 x 256, batch 256)."""
    b = 256
    sac = make_sac(SACConfig(hidden_width=256, hidden_depth=2, batch_size=b), 2, 39, 4)

    def run(key):
        def step(state, i):
            ks = jax.random.split(jax.random.fold_in(key, i), 6)
            batch = Transition(obs=jax.random.normal(ks[0], (b, 39)), next_obs=jax.random.normal(ks[1], (b, 39)),
                               action=jax.random.uniform(ks[2], (b, 4), minval=-1, maxval=1),
                               reward=10 * jax.random.uniform(ks[3], (b,)), terminal=jnp.zeros((b,), bool),
                               truncation=jnp.zeros((b,), bool), task_id=jax.random.randint(ks[4], (b,), 0, 2))
            return sac.update(state, batch, ks[5])

        return jax.lax.scan(step, sac.init(key), jnp.arange(20))

    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    four, two = (jax.device_get(jax.jit(jax.vmap(run))(k)) for k in (keys, keys[:2]))
    for (path, a), c in zip(jax.tree_util.tree_leaves_with_path(four), jax.tree.leaves(two)):
        assert np.array_equal(np.asarray(a)[:2], c), jax.tree_util.keystr(path)
