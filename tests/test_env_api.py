"""The metaworld_jax API contract: make/reset/step, batching, suites, bad input."""

from __future__ import annotations

import pickle

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import metaworld_jax
from metaworld_jax import goals as goals_lib
from metaworld_jax.tasks import REGISTRY

KEY = jax.random.PRNGKey(0)


@pytest.fixture(scope="module")
def env():
    return metaworld_jax.make(["reach-v3", "push-v3"], seed=0)


def test_shapes_and_fields(env):
    assert env.num_tasks == 2 and env.task_names == ("reach-v3", "push-v3")
    assert env.observation_size == 39 and env.action_size == 4
    assert env.episode_length == 500 and env.num_goals == 50
    s = env.reset(KEY, 1, 3)
    assert s.obs.shape == (39,) and s.obs.dtype == jnp.float32
    s = jax.jit(env.step)(s, jnp.zeros(4))
    assert s.reward.shape == () and s.done.dtype == jnp.bool_
    assert int(s.info["task_id"]) == 1 and int(s.info["goal_index"]) == 3 and int(s.info["steps"]) == 1
    assert {"success", "truncation"} <= set(s.info)


def test_one_hot():
    env = metaworld_jax.make(["reach-v3", "push-v3"], task_one_hot=True)
    assert env.observation_size == 41
    s = env.reset(KEY, 1, 0)
    np.testing.assert_array_equal(s.obs[39:], [0.0, 1.0])


def test_vmap_matches_single_slots(env):
    """Any slot may hold any task; batching does not change a slot's trajectory."""
    tasks, goals = jnp.array([0, 1, 1, 0]), jnp.array([5, 5, 9, 0])
    reset, step = jax.jit(jax.vmap(env.reset, in_axes=(None, 0, 0))), jax.jit(jax.vmap(env.step))
    batch = reset(KEY, tasks, goals)
    actions = jax.random.uniform(KEY, (10, 4, 4), minval=-1, maxval=1)
    for a in actions:
        batch = step(batch, a)
    single_step = jax.jit(env.step)
    for i in range(4):
        s = env.reset(KEY, tasks[i], goals[i])
        for a in actions:
            s = single_step(s, a[i])
        slot = jax.tree.map(lambda x, i=i: x[i], batch)
        # Every field bit for bit but the reward, which XLA may fuse differently in the batched
        # program (the task layer's batched switch is a select over every task): a few ulp.
        chex.assert_trees_all_equal(s.replace(reward=slot.reward), slot)
        chex.assert_trees_all_close(s.reward, slot.reward, rtol=5e-7, atol=0)


def test_deterministic_inside_scan(env):
    def run(_):
        s = jax.vmap(env.reset, in_axes=(None, 0, 0))(KEY, jnp.array([0, 1]), jnp.array([1, 2]))

        def body(s, a):
            s = jax.vmap(env.step)(s, a)
            return s, s.reward

        return jax.lax.scan(body, s, jax.random.uniform(KEY, (20, 2, 4), minval=-1, maxval=1))

    run = jax.jit(run)
    (s1, r1), (s2, r2) = run(0), run(0)
    chex.assert_shape(r1, (20, 2))
    chex.assert_trees_all_equal((s1, r1), (s2, r2))


def test_truncation_at_500_steps():
    env = metaworld_jax.make("reach-v3")
    s = env.reset(KEY, 0, 0)

    def body(s, _):
        s = env.step(s, jnp.zeros(4))
        return s, (s.done, s.info["truncation"])

    s, (done, trunc) = jax.jit(lambda s: jax.lax.scan(body, s, None, length=500))(s)
    assert not done[:-1].any() and bool(done[-1]) and bool(trunc[-1])


def test_suite_order_and_goals_match_metaworld_mt10():
    import metaworld

    bench = metaworld.MT10(seed=4)
    names = list(bench.train_classes)
    assert tuple(names) == metaworld_jax.MT10
    ours = goals_lib.goals([REGISTRY[n]() for n in names], 4)
    for i, n in enumerate(names):
        ref = np.stack([pickle.loads(t.data)["rand_vec"] for t in bench.train_tasks if t.env_name == n])
        np.testing.assert_array_equal(ours[i], ref)


def test_suite_order_and_goals_match_metaworld_mt50():
    """MT50's goals continue one seeded stream across all 50 tasks (about 35 s in metaworld)."""
    import metaworld

    bench = metaworld.MT50(seed=2)
    names = list(bench.train_classes)
    assert tuple(names) == metaworld_jax.MT50
    ours = goals_lib.goals([REGISTRY[n]() for n in names], 2)
    for i, n in enumerate(names):
        ref = np.stack([pickle.loads(t.data)["rand_vec"] for t in bench.train_tasks if t.env_name == n])
        np.testing.assert_array_equal(ours[i], ref, err_msg=n)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: metaworld_jax.make("reach-v4"), "unknown task"),
        (lambda: metaworld_jax.make(["reach-v3", "nope-v3"]), "unknown task"),
        (lambda: metaworld_jax.make([]), "no task"),
        (lambda: metaworld_jax.make("reach-v3", backend="physx"), "unknown backend"),
        (lambda: metaworld_jax.make("reach-v3", seed="0"), "seed must be an int"),
    ],
)
def test_bad_make(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_reset_and_step(env):
    with pytest.raises(ValueError, match="goal_index must be in 0..49"):
        env.reset(KEY, 0, 50)
    with pytest.raises(ValueError, match="task_id must be in 0..1"):
        env.reset(KEY, 2, 0)
    s = env.reset(KEY, 0, 0)
    with pytest.raises(ValueError, match=r"action must have shape \(4,\)"):
        env.step(s, jnp.zeros(3))


def test_nested_vmap_matches_flat_batch(env):
    """Seeds x slots (two vmap levels, as the seed-vmapped trainer does) = one flat batch."""
    tasks, goals = jnp.array([[0, 1], [1, 0]]), jnp.array([[3, 4], [5, 6]])
    actions = jax.random.uniform(KEY, (2, 2, 4), minval=-1, maxval=1)
    reset2 = jax.vmap(jax.vmap(env.reset, in_axes=(None, 0, 0)), in_axes=(None, 0, 0))
    nested = jax.jit(jax.vmap(jax.vmap(env.step)))(reset2(KEY, tasks, goals), actions)
    flat_reset = jax.vmap(env.reset, in_axes=(None, 0, 0))(KEY, tasks.reshape(-1), goals.reshape(-1))
    flat = jax.jit(jax.vmap(env.step))(flat_reset, actions.reshape(4, 4))
    chex.assert_trees_all_equal_shapes_and_dtypes(jax.tree.map(lambda x: x[0], nested),
                                                  jax.tree.map(lambda x: x[:2], flat))
    chex.assert_trees_all_equal(jax.tree.map(lambda x: x.reshape((4,) + x.shape[2:]), nested), flat)
