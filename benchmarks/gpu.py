"""GPU proof of the MJX backends: every scene steps, scripted policies succeed, env-steps/s.

    make bench-gpu                      # .venv-warp (mujoco-mjx 3.17 offers impl jax and warp)
    python -m benchmarks.gpu --backends mjx warp --suites mt10 mt50 --batches 2048 8192 32768

Sections (all in one run, one machine, so ratios compare like with like):
  scenes    every task of the suite, `scene_goals` goals each, `scene_steps` random-action
            steps from the same start on each MJX backend and on C MuJoCo: finite, and the
            max |obs diff| against C at steps 10 and `scene_steps` (divergence report).
  policies  metaworld's scripted policies on all 50 goals of every task, 500 steps, on each
            MJX backend and on C MuJoCo (the reference, same scenes as metaworld): per task
            successes, and whether the backend keeps >= 90% of the reference's successes.
  speed     env-steps/s of a jitted `lax.scan` of random-action steps for each backend, suite
            and batch size: one task per block, as the trainer assigns them, with the largest
            block (<= --block-size) that gives every task of the suite a block; compile time =
            first call - one timed call.
  peers     MTCWorldMJX (if it installs) at the same suites and batch sizes.
Writes benchmarks/results/bench-gpu-<time>.json (device name, versions) and prints a summary.
On a CPU, `--quick` shrinks every size so the whole path runs in minutes (a smoke test).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

SECTIONS = ("scenes", "policies", "speed", "peers")
MIN_KEPT = 0.9  # the bar: >= 90% of the goals on which metaworld's policy succeeds


def _log(msg: str) -> None:
    print(msg, flush=True)


def _make(suite, backend: str, block_size: int | None):
    import metaworld_jax

    t0 = time.perf_counter()
    env = metaworld_jax.make(suite, backend=backend, seed=0, block_size=block_size if backend != "mujoco" else None)
    return env, time.perf_counter() - t0


def _blocked_slots(num_tasks: int, per_task: int, goals_per_task) -> tuple[np.ndarray, np.ndarray]:
    """Task-major slots: task t holds slots [t*per_task, (t+1)*per_task)."""
    tasks = np.repeat(np.arange(num_tasks, dtype=np.int32), per_task)
    goals = np.tile(np.asarray(goals_per_task, np.int32), num_tasks)
    return tasks, goals


# ----------------------------------------------------------------------------- scenes


def scenes(suite, backends, goals_per_task: int, steps: int, block: int) -> dict:
    """Same start, same random actions: every backend vs C MuJoCo, per task."""
    import jax
    import jax.numpy as jnp
    from metaworld_jax.rollout import rollout

    out = {}
    for backend in ("mujoco", *backends):
        env, make_s = _make(suite, backend, block)
        tasks, goals = _blocked_slots(env.num_tasks, goals_per_task, np.arange(goals_per_task) * 7 % env.num_goals)
        actions = np.random.default_rng(0).uniform(-1, 1, (steps, tasks.size, 4)).astype(np.float32)

        @jax.jit
        def roll(actions, env=env):
            return rollout(env, jnp.asarray(tasks), jnp.asarray(goals), actions)[1].obs

        t0 = time.perf_counter()
        obs = np.asarray(jax.block_until_ready(roll(jnp.asarray(actions))))
        out[backend] = {"obs": obs, "first_call_s": time.perf_counter() - t0, "make_s": make_s,
                        "names": env.task_names}
        _log(f"  scenes: {backend} stepped {env.num_tasks} tasks x {goals_per_task} goals x {steps} steps "
             f"(first call {out[backend]['first_call_s']:.0f}s)")
    ref = out["mujoco"]["obs"]
    result = {"goals_per_task": goals_per_task, "steps": steps, "backends": {}}
    for backend in backends:
        obs = out[backend]["obs"]
        per_task = {}
        for t, name in enumerate(out[backend]["names"]):
            rows = slice(t * goals_per_task, (t + 1) * goals_per_task)
            d = np.abs(obs[:, rows] - ref[:, rows]).max(axis=(1, 2))
            per_task[name] = {"finite": bool(np.isfinite(obs[:, rows]).all()),
                              "max_obs_diff_step10": float(d[min(9, steps - 1)]), "max_obs_diff_end": float(d[-1])}
        result["backends"][backend] = {"per_task": per_task, "first_call_s": out[backend]["first_call_s"],
                                       "make_s": out[backend]["make_s"],
                                       "all_finite": all(v["finite"] for v in per_task.values())}
    return result


# ----------------------------------------------------------------------------- policies


def policy_successes(suite, backend: str, goals: int, steps: int, block: int | None) -> dict:
    """Per task: on how many of `goals` goals metaworld's scripted policy succeeds (any step)."""
    import jax
    import jax.numpy as jnp
    from metaworld.policies import ENV_POLICY_MAP

    env, make_s = _make(suite, backend, block)
    tasks, goal_idx = _blocked_slots(env.num_tasks, goals, np.arange(goals))
    policies = [ENV_POLICY_MAP[name]() for name in env.task_names]
    reset = jax.jit(jax.vmap(env.reset, in_axes=(None, 0, 0)))
    step = jax.jit(jax.vmap(env.step))
    t0 = time.perf_counter()
    state = reset(jax.random.PRNGKey(0), jnp.asarray(tasks), jnp.asarray(goal_idx))
    ok = np.zeros(tasks.size, bool)
    for _ in range(steps):
        obs = np.asarray(state.obs, np.float64)
        # .copy(): some scripted policies edit the observation they are given.
        actions = np.stack([policies[t].get_action(o.copy()) for t, o in zip(tasks, obs)]).astype(np.float32)
        state = step(state, jnp.asarray(np.clip(actions, -1, 1)))
        ok |= np.asarray(state.info["success"])
    counts = ok.reshape(env.num_tasks, goals).sum(1)
    return {"counts": dict(zip(env.task_names, map(int, counts))), "seconds": time.perf_counter() - t0,
            "make_s": make_s}


def policies(suite, backends, goals: int, steps: int, block: int) -> dict:
    ref = policy_successes(suite, "mujoco", goals, steps, None)
    _log(f"  policies: C MuJoCo reference in {ref['seconds']:.0f}s")
    result = {"goals": goals, "steps": steps, "reference": ref, "backends": {}}
    for backend in backends:
        r = policy_successes(suite, backend, goals, steps, block)
        kept = {n: (r["counts"][n] >= MIN_KEPT * c) for n, c in ref["counts"].items()}
        r["kept_90pct"] = kept
        r["tasks_below_bar"] = sorted(n for n, k in kept.items() if not k)
        result["backends"][backend] = r
        _log(f"  policies: {backend} in {r['seconds']:.0f}s; tasks below 90% of C's successes: "
             f"{r['tasks_below_bar'] or 'none'}")
    return result


# ----------------------------------------------------------------------------- speed


def _block_for(batch: int, num_tasks: int, cap: int) -> int:
    """The largest block (a divisor of batch, <= cap) that still leaves every task a block."""
    limit = max(1, min(cap, batch // num_tasks))
    return max(d for d in range(1, limit + 1) if batch % d == 0)


def speed(suite, backend: str, batch: int, block: int, steps: int, repeats: int) -> dict:
    """env-steps/s of one jitted scan of `steps` random-action vector steps over `batch` slots."""
    import jax
    import jax.numpy as jnp

    import metaworld_jax

    b = _block_for(batch, len(metaworld_jax.resolve_tasks(suite)[0]), block)
    env, make_s = _make(suite, backend, b)
    tasks = jnp.repeat(jnp.arange(batch // b, dtype=jnp.int32) % env.num_tasks, b)
    goals = jnp.arange(batch, dtype=jnp.int32) % env.num_goals
    v_step = jax.vmap(env.step)

    def run(state, key):
        def body(state, k):
            state = v_step(state, jax.random.uniform(k, (batch, 4), minval=-1.0, maxval=1.0))
            return state, jnp.sum(state.reward)

        state, r = jax.lax.scan(body, state, jax.random.split(key, steps))
        return state, jnp.sum(r)

    run = jax.jit(run, donate_argnums=0)
    state = jax.vmap(env.reset, in_axes=(None, 0, 0))(jax.random.PRNGKey(0), tasks, goals)
    t0 = time.perf_counter()
    state, _ = jax.block_until_ready(run(state, jax.random.PRNGKey(1)))
    first = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        state, _ = jax.block_until_ready(run(state, jax.random.PRNGKey(r + 2)))
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"suite": suite, "backend": backend, "batch": batch, "block_size": b, "steps_per_call": steps,
            "env_steps_per_s": batch * steps / med, "env_steps_per_s_best": batch * steps / min(times),
            "times_s": times, "first_call_s": first, "compile_s_est": first - med, "make_s": make_s}


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0])
    ap.add_argument("--backends", nargs="+", default=["mjx", "warp"], choices=["mjx", "warp"])
    ap.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    ap.add_argument("--suites", nargs="+", default=["mt10", "mt50"], help="mt10, mt50 or comma lists of tasks")
    ap.add_argument("--batches", nargs="+", type=int, default=[1024, 4096, 16384])
    ap.add_argument("--block-size", type=int, default=256, help="most slots per block (one task per block)")
    ap.add_argument("--steps", type=int, default=100, help="vector steps per timed call (speed)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--policy-suite", default="mt50", help="suite of the scenes/policies sections")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a CPU smoke test of every path")
    ap.add_argument("--out-dir", default=None)
    args = ap.parse_args(argv)
    if any(b < 1 for b in args.batches) or args.block_size < 1 or args.steps < 1 or args.repeats < 1:
        ap.error("--batches, --block-size, --steps and --repeats must be >= 1")

    import metaworld_jax
    from benchmarks import common


    def suite_of(s):
        return s if s in ("mt10", "mt50") else [x for x in s.split(",") if x]

    for s in args.suites + [args.policy_suite]:
        metaworld_jax.resolve_tasks(suite_of(s))  # unknown names fail before anything runs
    for backend in args.backends:
        metaworld_jax.backends.check_available(backend)
    q = args.quick
    scene_goals, scene_steps = (2, 12) if q else (8, 100)
    goals, policy_steps = (4, 60) if q else (50, 500)
    t_start = time.perf_counter()
    result = {"config": vars(args), "min_kept": MIN_KEPT}
    policy_suite = suite_of(args.policy_suite)
    if "scenes" in args.sections:
        _log("scenes")
        result["scenes"] = scenes(policy_suite, args.backends, scene_goals, scene_steps, scene_goals)
    if "policies" in args.sections:
        _log("policies")
        result["policies"] = policies(policy_suite, args.backends, goals, policy_steps, goals)
    if "speed" in args.sections:
        _log("speed")
        result["speed"] = []
        for backend in args.backends:
            for s in args.suites:
                for batch in args.batches:
                    r = speed(suite_of(s), backend, batch, args.block_size, args.steps, args.repeats)
                    r["suite"] = s
                    result["speed"].append(r)
                    _log(f"  {backend} {s} batch {batch}: {r['env_steps_per_s']:,.0f} env-steps/s "
                         f"(compile ~{r['compile_s_est']:.0f}s)")
    if "peers" in args.sections:
        from benchmarks import mtcworld

        ok, why = mtcworld.available()
        result["peers"] = {"mtcworldmjx": {"available": ok, "detail": why, "runs": []}}
        if ok:
            for s in args.suites:
                for batch in args.batches:
                    try:
                        r = mtcworld.bench(s, batch, args.steps, args.repeats)
                    except Exception as exc:  # record the failure, never a number
                        r = {"suite": s, "batch": batch, "error": f"{type(exc).__name__}: {exc}"}
                    result["peers"]["mtcworldmjx"]["runs"].append(r)
                    _log(f"  MTCWorldMJX {s} batch {batch}: "
                         + (f"{r['env_steps_per_s']:,.0f} env-steps/s" if "error" not in r else r["error"]))
        else:
            _log(f"  MTCWorldMJX not available: {why}")
    result["runtime_s"] = time.perf_counter() - t_start
    path = common.write("bench-gpu" if not q else "bench-gpu-quick", result, args.out_dir)
    _log(f"wrote {path} ({result['runtime_s']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
