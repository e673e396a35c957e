"""GPU proof of the MJX backends: every scene steps, scripted policies succeed, env-steps/s.

    make bench-gpu                      # .venv-warp with jax's CUDA plugin (make install-gpu)
    python -m benchmarks.gpu --backends warp mjx --suites mt10 mt50 --batches 1280 6400 25600

Sections (all in one run, one machine, so ratios compare like with like):
  scenes    every task of --policy-suite, `scene_goals` goals each, `scene_steps` random-action
            steps from the same start on each MJX backend and on C MuJoCo: finite, and the
            max |obs diff| against C at steps 10 and `scene_steps` (divergence report).
  policies  metaworld's scripted policies on --policy-goals goals of every task, 500 steps, on
            each MJX backend and on C MuJoCo (the reference, same scenes as metaworld): per task
            successes, and whether the backend keeps >= 90% of the reference's successes.
  speed     env-steps/s of a jitted `lax.scan` of random-action steps for each backend, suite
            and batch size: one task per block, as the trainer assigns them, with the largest
            block (<= --block-size) that gives every task of the suite a block; trace+lower and
            XLA compile seconds timed apart, and the first call (Warp builds its kernels there).
  peers     MTCWorldMJX (if it installs) at the same suites and batch sizes.
Each case (a backend's rollout, a suite x batch, ...) is one entry of its section; a case that
raises records its error in one line and the run goes on. The JSON
(benchmarks/results/bench-gpu-<time>.json: device name, versions) is rewritten after every case.

Default sizes fit a GPU lease of minutes, not hours: the GPU backend only (MJX-JAX programs of
MT10 and MT50 take from tens of minutes to hours to compile: pass --backends warp mjx to include
it), scenes and scripted policies on MT10 with 10 goals. On a CPU, `--quick` shrinks every size
so the whole path runs in minutes (a smoke test).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from benchmarks import common

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


def scene_rollout(suite, backend: str, goals_per_task: int, steps: int, block: int) -> tuple[dict, np.ndarray]:
    """Random actions (seed 0) from the same starts: (timings, obs f32[steps, tasks x goals, 39])."""
    import jax
    import jax.numpy as jnp

    from benchmarks.timing import compile_timed
    from metaworld_jax.rollout import rollout

    env, make_s = _make(suite, backend, block)
    tasks, goals = _blocked_slots(env.num_tasks, goals_per_task, np.arange(goals_per_task) * 7 % env.num_goals)
    actions = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (steps, tasks.size, 4)).astype(np.float32))
    roll = jax.jit(lambda a: rollout(env, jnp.asarray(tasks), jnp.asarray(goals), a)[1].obs)
    compiled, comp = compile_timed(roll, actions)
    t0 = time.perf_counter()
    obs = np.asarray(jax.block_until_ready(compiled(actions)))
    info = {"backend": backend, "make_s": make_s, **comp, "first_call_s": time.perf_counter() - t0,
            "names": list(env.task_names)}
    _log(f"  scenes: {backend} stepped {env.num_tasks} tasks x {goals_per_task} goals x {steps} steps "
         f"(compile {comp['compile_s']:.0f}s, first call {info['first_call_s']:.0f}s)")
    return info, obs


def compare_scenes(names, obs: np.ndarray, ref: np.ndarray, goals_per_task: int) -> dict:
    """Per task: finite, and max |obs diff| against the reference at step 10 and at the end."""
    steps = obs.shape[0]
    per_task = {}
    for t, name in enumerate(names):
        rows = slice(t * goals_per_task, (t + 1) * goals_per_task)
        d = np.abs(obs[:, rows] - ref[:, rows]).max(axis=(1, 2))
        per_task[name] = {"finite": bool(np.isfinite(obs[:, rows]).all()),
                          "max_obs_diff_step10": float(d[min(9, steps - 1)]), "max_obs_diff_end": float(d[-1])}
    return {"per_task": per_task, "all_finite": all(v["finite"] for v in per_task.values())}


def scenes(rec, suite, backends, goals_per_task: int, steps: int, block: int) -> None:
    """One case per backend's rollout (C MuJoCo first, the reference), then one comparison each."""
    obs, names = {}, {}

    def roll(backend):
        info, obs[backend] = scene_rollout(suite, backend, goals_per_task, steps, block)
        names[backend] = info["names"]
        return info

    for backend in ("mujoco", *backends):
        rec.case("scenes", f"rollout {backend}", roll, backend, log=_log)
    for backend in backends:
        def compare(backend=backend):
            if "mujoco" not in obs or backend not in obs:
                raise RuntimeError("its rollout or the C MuJoCo reference failed (see its case)")
            return {"backend": backend, **compare_scenes(names[backend], obs[backend], obs["mujoco"], goals_per_task)}

        rec.case("scenes", f"compare {backend}", compare, log=_log)


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
    first_step_s = None
    for _ in range(steps):
        obs = np.asarray(state.obs, np.float64)
        # .copy(): some scripted policies edit the observation they are given.
        actions = np.stack([policies[t].get_action(o.copy()) for t, o in zip(tasks, obs)]).astype(np.float32)
        t1 = time.perf_counter()
        state = step(state, jnp.asarray(np.clip(actions, -1, 1)))
        ok |= np.asarray(state.info["success"])
        first_step_s = time.perf_counter() - t1 if first_step_s is None else first_step_s
    counts = ok.reshape(env.num_tasks, goals).sum(1)
    return {"backend": backend, "counts": dict(zip(env.task_names, map(int, counts))),
            "seconds": time.perf_counter() - t0, "first_step_s": first_step_s, "make_s": make_s}


def policies(rec, suite, backends, goals: int, steps: int, block: int) -> None:
    """The C MuJoCo reference, then each backend against it (>= MIN_KEPT of its successes per task)."""
    ref = rec.case("policies", "reference mujoco", policy_successes, suite, "mujoco", goals, steps, None, log=_log)

    def versus(backend):
        r = policy_successes(suite, backend, goals, steps, block)
        if "counts" not in ref:
            raise RuntimeError(f"the C MuJoCo reference failed ({ref.get('error')}); counts: {r['counts']}")
        kept = {n: (r["counts"][n] >= MIN_KEPT * c) for n, c in ref["counts"].items()}
        r.update(kept_90pct=kept, tasks_below_bar=sorted(n for n, k in kept.items() if not k))
        _log(f"  policies: {backend} in {r['seconds']:.0f}s; tasks below 90% of C's successes: "
             f"{r['tasks_below_bar'] or 'none'}")
        return r

    for backend in backends:
        rec.case("policies", f"versus {backend}", versus, backend, log=_log)


# ----------------------------------------------------------------------------- speed


def _block_for(batch: int, num_tasks: int, cap: int) -> int:
    """The largest block (a divisor of batch, <= cap) that still leaves every task a block."""
    limit = max(1, min(cap, batch // num_tasks))
    return max(d for d in range(1, limit + 1) if batch % d == 0)


def speed(suite, backend: str, batch: int, block: int, steps: int, repeats: int) -> dict:
    """env-steps/s of one jitted scan of `steps` random-action vector steps over `batch` slots,
    one task per block (block: the largest divisor of batch <= `block` leaving every task one).
    Seconds: make (env build), trace+lower and XLA compile (timed apart, persistent cache as
    configured), first call (Warp builds its kernels there; cached in ~/.cache/warp)."""
    import jax
    import jax.numpy as jnp

    import metaworld_jax
    from benchmarks.timing import compile_timed

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

    state = jax.vmap(env.reset, in_axes=(None, 0, 0))(jax.random.PRNGKey(0), tasks, goals)
    run, comp = compile_timed(jax.jit(run, donate_argnums=0), state, jax.random.PRNGKey(1))
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
            "times_s": times, **comp, "first_call_s": first, "make_s": make_s}


def suite_of(s: str):
    """mt10 / mt50, or a comma list of task names."""
    return s if s in ("mt10", "mt50") else [x for x in s.split(",") if x]


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    from drats_jax.devices import GPU_BACKEND

    ap = common.arg_parser("python -m benchmarks.gpu", __doc__)
    ap.add_argument("--backends", nargs="+", default=[GPU_BACKEND], choices=["mjx", "warp"])
    ap.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    ap.add_argument("--suites", nargs="+", default=["mt10", "mt50"], help="mt10, mt50 or comma lists of tasks")
    ap.add_argument("--batches", nargs="+", type=int, default=[1280, 6400, 25600])
    ap.add_argument("--block-size", type=int, default=256, help="most slots per block (one task per block)")
    ap.add_argument("--steps", type=int, default=100, help="vector steps per timed call (speed)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--policy-suite", default="mt10", help="suite of the scenes/policies sections")
    ap.add_argument("--policy-goals", type=int, default=10, help="goals per task of the policies section (<= 50)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a CPU smoke test of every path")
    ap.add_argument("--out-dir", default=None)
    args = ap.parse_args(argv)
    if (any(b < 1 for b in args.batches) or min(args.block_size, args.steps, args.repeats) < 1
            or not 1 <= args.policy_goals <= 50):
        ap.error("--batches, --block-size, --steps and --repeats must be >= 1, --policy-goals in 1..50")

    import metaworld_jax

    try:
        for s in args.suites + [args.policy_suite]:
            metaworld_jax.resolve_tasks(suite_of(s))  # unknown names fail before anything runs
        for backend in args.backends:
            metaworld_jax.backends.check_available(backend)
    except ValueError as exc:
        ap.error(" ".join(str(exc).split()))
    q = args.quick
    scene_goals, scene_steps = (2, 12) if q else (8, 100)
    goals, policy_steps = (min(args.policy_goals, 4), 60) if q else (args.policy_goals, 500)
    t_start = time.perf_counter()
    rec = common.Record("bench-gpu-quick" if q else "bench-gpu", {"config": vars(args), "min_kept": MIN_KEPT},
                        args.out_dir)
    _log(f"writing {rec.path} after every case")
    policy_suite = suite_of(args.policy_suite)
    if "scenes" in args.sections:
        _log("scenes")
        scenes(rec, policy_suite, args.backends, scene_goals, scene_steps, scene_goals)
    if "policies" in args.sections:
        _log("policies")
        policies(rec, policy_suite, args.backends, goals, policy_steps, goals)
    if "speed" in args.sections:
        _log("speed")
        for backend in args.backends:
            for s in args.suites:
                for batch in args.batches:
                    r = rec.case("speed", f"{backend} {s} batch {batch}", speed, suite_of(s), backend, batch,
                                 args.block_size, args.steps, args.repeats, log=_log)
                    if "error" not in r:
                        r["suite"] = s
                        _log(f"  {backend} {s} batch {batch}: {r['env_steps_per_s']:,.0f} env-steps/s "
                             f"(trace+lower {r['lower_s']:.0f}s, compile {r['compile_s']:.0f}s, "
                             f"first call {r['first_call_s']:.0f}s)")
    if "peers" in args.sections:
        from benchmarks import mtcworld

        ok, why = mtcworld.available()
        rec.data["peers"] = {"mtcworldmjx": {"available": ok, "detail": why}}
        if ok:
            for s in args.suites:
                for batch in args.batches:
                    r = rec.case("peers_mtcworldmjx", f"MTCWorldMJX {s} batch {batch}", mtcworld.bench, s, batch,
                                 args.steps, args.repeats, log=_log)
                    if "error" not in r:
                        _log(f"  MTCWorldMJX {s} batch {batch}: {r['env_steps_per_s']:,.0f} env-steps/s")
        else:
            _log(f"  MTCWorldMJX not available: {why}")
    rec.data["runtime_s"] = time.perf_counter() - t_start
    rec.save()
    failed = [c["case"] for sec in SECTIONS + ("peers_mtcworldmjx",) for c in rec.data.get(sec, [])
              if isinstance(c, dict) and "error" in c]
    _log(f"wrote {rec.path} ({rec.data['runtime_s']:.0f}s)" + (f"; failed cases: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
