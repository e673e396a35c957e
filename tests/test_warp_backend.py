"""backend="warp" (MJX's Warp implementation), run in .venv-warp (`make test-warp`).

Here on Warp's CPU backend (slow, but the same kernels and the same JAX FFI path as on an
NVIDIA GPU): stock scenes step, agree with C MuJoCo from the same start under the same
actions, mixed tasks advance in one scan with one scene per block, and the contact-based
`touching` reading matches C MuJoCo through a scripted grasp.
"""

from __future__ import annotations

import functools
import time

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import metaworld_jax
from metaworld_jax.rollout import rollout

pytestmark = pytest.mark.warp_env

TASKS = ["reach-v3", "pick-place-v3"]
BLOCK, STEPS = 4, 40


@functools.cache
def _rollouts():
    """2 tasks x 4 slots (one block each), same goals and random actions, warp vs C."""
    tasks = jnp.repeat(jnp.arange(len(TASKS), dtype=jnp.int32), BLOCK)
    goals = jnp.tile(jnp.arange(BLOCK, dtype=jnp.int32) * 11, len(TASKS))
    actions = np.random.default_rng(0).uniform(-1, 1, (STEPS, len(TASKS) * BLOCK, 4)).astype(np.float32)
    out, seconds = {}, {}
    for backend in ("warp", "mujoco"):
        env = metaworld_jax.make(TASKS, backend=backend, seed=0, block_size=BLOCK if backend == "warp" else None)

        @jax.jit
        def roll(actions):
            _, trace = rollout(env, tasks, goals, actions)
            return trace.obs, trace.reward

        t = time.perf_counter()
        out[backend] = jax.block_until_ready(roll(jnp.asarray(actions)))
        seconds[backend] = time.perf_counter() - t
    return out, seconds


def test_warp_mixed_tasks_agree_with_c_mujoco():
    out, seconds = _rollouts()
    (obs, reward), (ref_obs, ref_reward) = out["warp"], out["mujoco"]
    assert obs.shape == (STEPS, len(TASKS) * BLOCK, 39)
    for t, name in enumerate(TASKS):
        rows = slice(t * BLOCK, (t + 1) * BLOCK)
        d_obs = np.abs(np.asarray(obs[:, rows]) - np.asarray(ref_obs[:, rows])).max(axis=(1, 2))
        d_rew = np.abs(np.asarray(reward[:, rows]) - np.asarray(ref_reward[:, rows])).max()
        print(f"\nwarp vs C, {name}: max |obs diff| at steps 1/10/{STEPS}: "
              f"{d_obs[0]:.1e} {d_obs[9]:.1e} {d_obs[-1]:.1e}; max |reward diff| {d_rew:.1e}")
        assert d_obs.max() < 5e-3 and d_rew < 0.1, name
    print(f"first call (compile + run) seconds: {seconds}")


def test_vector_step_equals_the_env_api_step_on_any_layout():
    """The trainer's step (`vector_step`: one task per block, no loop over tasks) equals the
    env API's per-slot step, which stays correct when blocks mix tasks; under a seed vmap too."""
    env = metaworld_jax.make(["reach-v3", "push-v3", "pick-place-v3"], backend="warp", seed=0, block_size=2)
    tasks, goals = jnp.repeat(jnp.arange(3, dtype=jnp.int32), 2), jnp.tile(jnp.arange(2, dtype=jnp.int32), 3)
    states = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 6), tasks, goals)
    actions = jax.random.uniform(jax.random.PRNGKey(1), (6, 4), minval=-1, maxval=1)
    blocked = jax.jit(env.vector_step(2))(states, actions)
    per_slot = jax.jit(jax.vmap(env.step))(states, actions)
    chex.assert_trees_all_close(blocked, per_slot, atol=0, rtol=0)
    perm = jnp.array([3, 0, 5, 1, 4, 2])  # every block of 2 now holds two tasks
    mixed = jax.jit(jax.vmap(env.step))(jax.tree.map(lambda x: x[perm], states), actions[perm])
    chex.assert_trees_all_close(mixed, jax.tree.map(lambda x: x[perm], blocked), atol=0, rtol=0)
    seeds = jax.jit(jax.vmap(env.vector_step(2)))(*jax.tree.map(lambda x: jnp.stack([x, x]), (states, actions)))
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[1], seeds), blocked, atol=0, rtol=0)
    assert float(jnp.abs(blocked.obs - states.obs).max()) > 1e-4  # the physics did advance


def test_mt10_vector_step_on_warp_has_no_host_round_trip():
    """MJX-Warp's MT10 step as the trainer runs it: one branch per scene, no host callback,
    no data-dependent loop (Warp's solver runs inside its kernels). Traced, not compiled."""
    from tests.test_task_blocks import host_callbacks, loops_outside_solver, switch_widths

    env = metaworld_jax.make("mt10", backend="warp", seed=0, block_size=1)
    task = jnp.arange(env.num_tasks, dtype=jnp.int32)
    states = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), env.num_tasks), task, jnp.zeros_like(task))
    jaxpr = jax.make_jaxpr(env.vector_step(1))(states, jnp.zeros((env.num_tasks, env.action_size)))
    assert host_callbacks(jaxpr) == [] and loops_outside_solver(jaxpr) == []
    widths = switch_widths(jaxpr)
    assert widths.count(8) == 1 and widths.count(env.num_tasks) == 1  # 8 scenes; the task layer


def test_warp_touching_matches_c_through_a_scripted_grasp():
    """stick-push's reward reads `touching` (both pads press on the stick): contacts and
    normal forces from MJX-Warp's shared contact list. From each state of a scripted-policy
    episode (C MuJoCo), one step on both backends gives the same touching reading."""
    from metaworld.policies import ENV_POLICY_MAP

    name, steps = "stick-push-v3", 120
    env_c = metaworld_jax.make(name, backend="mujoco", seed=0)
    env_w = metaworld_jax.make(name, backend="warp", seed=0, block_size=steps)
    policy = ENV_POLICY_MAP[name]()
    step = jax.jit(env_c.step)
    state = env_c.reset(jax.random.PRNGKey(0), 0, 0)
    physics, controls = [], []
    for _ in range(steps):
        action = np.clip(policy.get_action(np.asarray(state.obs, np.float64).copy()), -1, 1).astype(np.float32)
        physics.append(np.asarray(state.physics.backend))
        controls.append(np.concatenate([action[:3] * np.float32(0.01), action[3:]]))
        state = step(state, jnp.asarray(action))
    tid, gid = jnp.zeros(steps, jnp.int32), jnp.zeros(steps, jnp.int32)
    controls = jnp.asarray(np.stack(controls))
    # The same physical states in each backend's format (C: float64 words; warp: f32 fields).
    states64 = [p.view(np.float64)[: env_c.backend.state_sizes[0]] for p in physics]
    physics_w = jnp.asarray(np.stack([env_w.backend.pack(0, s) for s in states64]))
    _, r_c = jax.vmap(env_c.backend.step)(jnp.asarray(np.stack(physics)), tid, gid, controls)
    _, r_w = jax.jit(jax.vmap(env_w.backend.step))(physics_w, tid, gid, controls)
    off, _ = env_c.reading_layouts[0].slots["touching"]
    t_c, t_w = np.asarray(r_c[:, off]), np.asarray(r_w[:, off])
    agree = np.mean(t_c == t_w)
    print(f"\n{name}: touching on {int(t_c.sum())}/{steps} steps in C, {int(t_w.sum())} in warp; agree on {agree:.0%}")
    assert t_c.sum() >= 10  # the policy did grasp the stick
    assert agree >= 0.95


def test_train_cli_end_to_end_on_warp(tmp_path):
    """`python -m drats_jax.train --backend warp`: blocks of one task, training, evaluation
    (episodes padded to whole blocks), checkpoint, summary."""
    import json

    from drats_jax.train import main

    out = tmp_path / "run"
    argv = ["--tasks", "reach-v3,push-v3", "--backend", "warp", "--block-size", "2", "--train.num-envs", "2",
            "--total-steps", "160", "--train.warmup-env-steps", "40", "--train.chunk-length", "20",
            "--train.buffer-capacity", "160", "--train.sac.hidden-width", "16", "--train.sac.hidden-depth", "1",
            "--train.sac.batch-size", "16", "--train.sampler.interval", "10", "--eval-episodes", "2",
            "--eval-interval", "0", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads((out / "config.json").read_text())["backend"] == "warp"
    text = json.dumps(summary)
    assert "reach-v3" in text and "push-v3" in text
    assert any((out / "checkpoints").iterdir())


def test_gpu_proof_script_runs_every_section(tmp_path):
    """`benchmarks/gpu.py --quick` (what `make bench-gpu` runs at full size on a GPU): scenes
    against C MuJoCo, scripted-policy successes against C's, env-steps/s with compile seconds;
    one JSON case per backend / size, with versions."""
    import json

    from benchmarks import gpu

    tasks = "reach-v3,push-v3"
    assert gpu.main(["--quick", "--backends", "warp", "--suites", tasks, "--policy-suite", tasks, "--batches", "4",
                     "--block-size", "2", "--steps", "2", "--repeats", "1", "--sections", "scenes", "policies",
                     "speed", "peers", "--out-dir", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("bench-gpu-quick-*.json")
    r = json.loads(path.read_text())
    assert r["versions"]["mujoco-mjx"] and r["device"]
    rollouts = {c["backend"]: c for c in r["scenes"] if c["case"].startswith("rollout")}
    assert set(rollouts) == {"mujoco", "warp"} and rollouts["warp"]["compile_s"] > 0
    (compare,) = [c for c in r["scenes"] if c["case"] == "compare warp"]
    assert compare["all_finite"] and set(compare["per_task"]) == {"reach-v3", "push-v3"}
    ref, versus = r["policies"]
    assert set(ref["counts"]) == {"reach-v3", "push-v3"} and set(versus["counts"]) == set(ref["counts"])
    (speed,) = r["speed"]
    assert speed["block_size"] == 2 and speed["env_steps_per_s"] > 0 and speed["compile_s"] > 0
    assert "mtcworldmjx" in r["peers"]


def test_warm_cache_compiles_what_a_warp_run_uses(tmp_path):
    from tests.test_programs import warm_cache_fills_what_the_run_uses

    warm_cache_fills_what_the_run_uses(tmp_path, "--backend", "warp", "--block-size", "2")
