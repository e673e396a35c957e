"""Blocks of one task (backends/task_blocks.py): the mixed and uniform dispatch give every slot
its own task's result; the uniform one (the trainer's) has no data-dependent loop; and the
jitted MT10 vector step on MJX-JAX runs one physics branch per scene, with no host callback
and no loop outside MuJoCo's solver (its jaxpr, traced only: nothing is compiled)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from metaworld_jax.backends import task_blocks

NUM_TASKS = 5


def _make_block(calls):
    """Block function of a toy env: task t maps x to x * (t + 1) + lane, counting traces."""

    def make_block(b):
        calls.append(b)
        branches = [lambda lanes, x, t=t: x * (t + 1) + lanes[:, None] for t in range(NUM_TASKS)]

        def f(task, lanes, x):
            return jax.lax.switch(task, branches, lanes, x)

        return f

    return make_block


def _reference(task, x, block):
    lanes = np.arange(task.shape[0]) % block
    return np.asarray(x) * (np.asarray(task)[:, None] + 1) + lanes[:, None]


@pytest.mark.parametrize("uniform", [False, True])
def test_dispatch_gives_each_slot_its_task(uniform):
    block, rng = 4, np.random.default_rng(0)
    if uniform:  # one task per block of 4, as the trainer lays slots out
        task = np.repeat(rng.integers(0, NUM_TASKS, 3), block).astype(np.int32)
    else:  # any task in any slot
        task = rng.integers(0, NUM_TASKS, 12).astype(np.int32)
    x = rng.normal(size=(12, 2)).astype(np.float32)
    g = task_blocks.dispatch(_make_block([]), block, uniform=uniform)  # batched
    np.testing.assert_allclose(jax.jit(g)(task, x), _reference(task, x, block), rtol=1e-5, atol=1e-5)
    # Seeds: an outer vmap folds into the slot axis; blocks never straddle two seeds.
    seeds = jax.jit(jax.vmap(g))(np.stack([task, task]), np.stack([x, 2 * x]))
    np.testing.assert_allclose(seeds[1], _reference(task, 2 * x, block), rtol=1e-5, atol=1e-5)
    if not uniform:  # the env API's per-slot form: vmapped, and alone (a block of one slot)
        h = task_blocks.per_slot(_make_block([]), block)
        np.testing.assert_allclose(jax.jit(jax.vmap(h))(task, x), _reference(task, x, block), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(h(task[5], x[5]), x[5] * (task[5] + 1), rtol=1e-5, atol=1e-5)


def loops_outside_solver(jaxpr) -> list[str]:
    """Name stacks of every `while` outside MuJoCo's solver (scope "solve"), in all sub-jaxprs."""
    found = []
    for eqn in _eqns(jaxpr):
        if eqn.primitive.name == "while" and "solve" not in str(eqn.source_info.name_stack):
            found.append(str(eqn.source_info.name_stack) or "<top>")
    return found


def host_callbacks(jaxpr) -> list[str]:
    return [e.primitive.name for e in _eqns(jaxpr) if "callback" in e.primitive.name]


def switch_widths(jaxpr) -> list[int]:
    """Branch counts of every `lax.switch` (cond) in the program."""
    return [len(e.params["branches"]) for e in _eqns(jaxpr) if e.primitive.name == "cond"]


def _eqns(jaxpr):
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    for eqn in jaxpr.eqns:
        yield eqn
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            yield from _eqns(sub)


def test_uniform_dispatch_has_no_data_dependent_loop():
    task = np.repeat(np.arange(3, dtype=np.int32), 4)
    x = np.ones((12, 2), np.float32)
    uniform = jax.make_jaxpr(task_blocks.dispatch(_make_block([]), 4, uniform=True))(task, x)
    mixed = jax.make_jaxpr(task_blocks.dispatch(_make_block([]), 4, uniform=False))(task, x)
    assert loops_outside_solver(uniform) == []
    assert loops_outside_solver(mixed)  # the checker sees the mixed path's loop over tasks
    assert switch_widths(uniform) == [NUM_TASKS]


def test_dispatch_traces_each_block_function_once():
    calls = []
    g = task_blocks.dispatch(_make_block(calls), 4, uniform=True)
    step = jax.jit(chex.assert_max_traces(g, n=1))
    task, x = np.repeat(np.arange(2, dtype=np.int32), 4), np.ones((8, 2), np.float32)
    for _ in range(3):
        x = step(task, x)
    assert calls == [4]
    with pytest.raises(ValueError, match="block_size"):
        task_blocks.dispatch(_make_block([]), 0, uniform=True)


def test_mt10_vector_step_on_mjx_is_one_branch_per_scene_with_no_host_round_trip():
    """The program the trainer runs on MJX-JAX, MT10 with one slot per task: traced, not compiled."""
    import metaworld_jax

    env = metaworld_jax.make("mt10", backend="mjx", seed=0, block_size=1)
    task = jnp.arange(env.num_tasks, dtype=jnp.int32)
    states = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), env.num_tasks), task, jnp.zeros_like(task))
    actions = jnp.zeros((env.num_tasks, env.action_size))
    jaxpr = jax.make_jaxpr(env.vector_step(1))(states, actions)
    scenes = len({t.scene for t in env.tasks})
    assert scenes == 8
    assert host_callbacks(jaxpr) == []
    assert loops_outside_solver(jaxpr) == []
    widths = switch_widths(jaxpr)
    assert widths.count(scenes) == 1  # the physics: one branch per scene
    assert widths.count(env.num_tasks) == 1  # the task layer: one branch per task, one runs
