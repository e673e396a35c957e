"""The native (C) stepping loop of the MuJoCo backend is bit-identical to the Python loop."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import metaworld_jax
from metaworld_jax.backends import native

TASKS = ["reach-v3", "stick-push-v3", "door-open-v3", "drawer-close-v3", "pick-place-v3"]

pytestmark = pytest.mark.skipif(native.load() is None, reason="native step unavailable (no C compiler?)")


def _env(monkeypatch, use_native: bool, num_threads: int):
    monkeypatch.setenv("METAWORLD_JAX_NATIVE", "1" if use_native else "0")
    env = metaworld_jax.make(TASKS, seed=0, num_threads=num_threads)
    assert (env.backend.native is not None) == use_native
    return env


@pytest.mark.parametrize("num_threads", [1, 2])
def test_native_matches_python_loop(monkeypatch, num_threads):
    fast, slow = _env(monkeypatch, True, num_threads), _env(monkeypatch, False, num_threads)
    B, T = 20, len(TASKS)
    tasks = np.arange(B, dtype=np.int32) % T
    goals = (np.arange(B, dtype=np.int32) * 7) % 50
    reset = jax.vmap(fast.reset, in_axes=(None, 0, 0))
    physics = np.asarray(reset(jax.random.PRNGKey(0), tasks, goals).physics.backend)
    rng = np.random.default_rng(0)
    p_fast = p_slow = physics
    for step in range(30):
        # metaworld's control: xyz already x0.01 in f32, grip in [-1, 1]
        a = rng.uniform(-1, 1, (B, 4)).astype(np.float32)
        control = np.concatenate([a[:, :3] * np.float32(0.01), a[:, 3:]], axis=1)
        if step % 10 == 9:  # goals (and with them the model overrides) change per slot
            goals = rng.integers(0, 50, B).astype(np.int32)
        p_fast, r_fast = fast.backend._host_step(p_fast, tasks, goals, control)
        p_slow, r_slow = slow.backend._host_step(p_slow, tasks, goals, control)
        np.testing.assert_array_equal(p_fast, p_slow)
        np.testing.assert_array_equal(r_fast, r_slow)
    assert np.any(p_fast != physics)


def test_pairwise_sum_matches_numpy():
    """The summed pad force rounds exactly like numpy's `sum` (pairwise summation)."""
    lib = native.load()
    rng = np.random.default_rng(0)
    for n in list(range(0, 140)) + [255, 256, 1000]:
        a = np.ascontiguousarray(rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n))
        assert lib.mwj_np_sum(a.ctypes.data, n) == np.sum(a), n


def test_disabled_by_env(monkeypatch):
    monkeypatch.setenv("METAWORLD_JAX_NATIVE", "0")
    assert native.load() is None


def test_native_matches_python_loop_with_grasps(monkeypatch):
    """stick-push under metaworld's scripted policy: the pads grasp the stick, so the
    "touching" reading (contacts + efc_force) is 1.0 on some steps; both loops agree."""
    policies = pytest.importorskip("metaworld.policies")
    name = "stick-push-v3"
    monkeypatch.setenv("METAWORLD_JAX_NATIVE", "1")
    fast = metaworld_jax.make(name, seed=0, num_threads=1)
    monkeypatch.setenv("METAWORLD_JAX_NATIVE", "0")
    slow = metaworld_jax.make(name, seed=0, num_threads=1)
    assert fast.backend.native is not None and slow.backend.native is None
    seen = []
    host_step = fast.backend._host_step

    def recording(*args):
        out = host_step(*args)
        seen.append(np.asarray(out[1]).copy())
        return out

    fast.backend._host_step = recording  # before tracing: the callback looks it up then
    (name_touching,) = [n for n, (kind, _) in fast.tasks[0].READINGS.items() if kind == "touching"]
    off, _ = fast.backend.readers[0].layout.slots[name_touching]
    goals = np.array([3, 29], np.int32)
    states = []
    for env in (fast, slow):
        reset, step = jax.jit(jax.vmap(env.reset, in_axes=(None, 0, 0))), jax.jit(jax.vmap(env.step))
        s = reset(jax.random.PRNGKey(0), np.zeros_like(goals), goals)
        states.append((s, step))
    policy = policies.ENV_POLICY_MAP[name]()
    rng = np.random.default_rng(0)
    (sf, step_f), (ss, step_s) = states
    for _ in range(120):
        obs = np.asarray(sf.obs, np.float64)
        a = np.stack([policy.get_action(o.copy()) for o in obs])
        a = np.clip(a + rng.normal(0, 0.1, a.shape), -1, 1).astype(np.float32)
        sf, ss = step_f(sf, a), step_s(ss, a)
        np.testing.assert_array_equal(sf.physics.backend, ss.physics.backend)
        np.testing.assert_array_equal(sf.obs, ss.obs)
        np.testing.assert_array_equal(sf.reward, ss.reward)
    touching = np.stack(seen)[..., off]
    assert touching.max() == 1.0, "the scripted policy never grasped the stick"


def test_native_reading_codes_are_the_reading_table():
    """native_step.c's enum of reading kinds numbers them as readings.KINDS does."""
    import pathlib
    import re

    from metaworld_jax.readings import KINDS

    src = (pathlib.Path(native.__file__).with_name("native_step.c")).read_text()
    enum = {name.lower(): int(code) for name, code in re.findall(r"K_(\w+) = (\d+)", src)}
    assert enum == {name: kind.code for name, kind in KINDS.items()}
