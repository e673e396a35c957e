"""Where the compile time of the GPU physics path goes: trace, lower and XLA compile seconds,
HLO size and peak memory, per backend and program.

    make bench-compile                                         # every case below
    python -m benchmarks.compile --backends mjx --cases step-1 parts
    python -m benchmarks.compile --cases step-mt10 --timeout 900 --mem-limit-gb 16
    PYTHONPATH=<old checkout>/src:<old checkout>/envs python -m benchmarks.compile --cases step-1 --label before

Cases (each in its own subprocess, so peak resident memory is the case's own):
  step-1     the vector env step, one scene (reach-v3)
  step-mt10  the vector env step, MT10 (10 tasks on 8 scenes)
  step-mt50  the vector env step, MT50 (50 tasks on 36 scenes)
  train-mt10 the whole training program of a tiny MT10 SAC run through the CLI's own
             `driver.prepare`: init, steps (the one program of warm-up, learning chunks and
             evaluation rounds) and the evaluation's two small programs (its rounds' resets
             and per-task means), each lowered and compiled as the driver runs it
  parts      one scene (reach-v3), MJX-JAX only: the pieces of a physics step compiled
             alone (kinematics and dynamics, collision, constraints, solver, readings,
             rewards), to see which part the program's size and time come from
The step cases run `jax.jit(jax.vmap(step))` over `--slots-per-task` slots of every task,
laid out as the trainer lays them out (task-major, one task per block of slots), with the
step the trainer uses. On backend "warp" each case starts with an empty Warp kernel cache,
so its first call includes every Warp kernel build (and the count of kernel modules built
is recorded: the same count for one scene and for 50 shows the kernels are shared); a
second call is timed too.

A case that runs past `--timeout` seconds or `--mem-limit-gb` of resident memory is stopped
and recorded as such, with the peak memory seen. The JSON
(benchmarks/results/compile-<time>.json) is rewritten after every case.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common

CASES = ("step-1", "step-mt10", "step-mt50", "train-mt10", "parts")
TASKS = {"step-1": "reach-v3", "step-mt10": "mt10", "step-mt50": "mt50"}
PART_SCENE_TASK = "reach-v3"
_RESULT = "COMPILE-RESULT "
_PART = "COMPILE-PART "


# ----------------------------------------------------------------------------- worker side


def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def _block_call(compiled, *args):
    import jax

    t0 = time.perf_counter()
    out = compiled(*args)
    jax.block_until_ready(out)
    return round(time.perf_counter() - t0, 3), out


def _timed_compile():
    """drats_jax.warm_cache.timed_compile, from this checkout's file when the code measured is an
    older checkout's (PYTHONPATH=<old>/src:<old>/envs) that has no warm_cache module."""
    try:
        from drats_jax.warm_cache import timed_compile
    except ImportError:
        import importlib.util

        path = Path(__file__).resolve().parents[1] / "src" / "drats_jax" / "warm_cache.py"
        spec = importlib.util.spec_from_file_location("_harness_warm_cache", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        timed_compile = module.timed_compile
    return timed_compile


def step_case(tasks: str, backend: str, slots_per_task: int) -> dict:
    """Compile the vector step of `tasks` on `backend`, task-major slots."""
    import jax
    import jax.numpy as jnp

    import metaworld_jax
    from drats_jax import types as drats_types

    timed_compile = _timed_compile()
    t0 = time.perf_counter()
    env = metaworld_jax.make(tasks, backend=backend, seed=0, block_size=slots_per_task)
    build_s = time.perf_counter() - t0
    n = env.num_tasks
    task = jnp.repeat(jnp.arange(n, dtype=jnp.int32), slots_per_task)
    goal = jnp.tile(jnp.arange(slots_per_task, dtype=jnp.int32), n)
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), n * slots_per_task), task, goal)
    actions = jnp.zeros((n * slots_per_task, env.action_size), jnp.float32)
    out = {"tasks": n, "scenes": len({t.scene for t in env.tasks}), "slots": n * slots_per_task,
           "env_build_s": round(build_s, 2)}
    # Code from before env.vector_step existed (a "before" measurement): the trainer's vmap(step).
    step = (drats_types.vector_step(env, slots_per_task) if hasattr(drats_types, "vector_step")
            else jax.vmap(env.step))
    timed, compiled = timed_compile(jax.jit(step), states, actions)
    out.update(timed)
    out["first_call_s"], states = _block_call(compiled, states, actions)
    out["second_call_s"], _ = _block_call(compiled, states, actions)
    return out


def train_case(backend: str) -> dict:
    """Compile every program of a tiny MT10 SAC run as the CLI's driver builds it."""
    from drats_jax import driver
    from drats_jax.warm_cache import compile_programs

    with tempfile.TemporaryDirectory() as tmp:
        argv = ["--tasks", "mt10", "--backend", backend, "--seeds", "1", "--out", str(Path(tmp) / "run"),
                "--eval-episodes", "1", "--no-progress", "--train.num-envs", "10", "--total-steps", "2000",
                "--train.warmup-env-steps", "500", "--train.chunk-length", "50", "--train.buffer-capacity", "2000",
                "--train.sac.batch-size", "32", "--train.sac.hidden-width", "32", "--train.sampler.interval", "5000"]
        t0 = time.perf_counter()
        prepared = driver.prepare(argv)
        build_s = time.perf_counter() - t0
        try:
            programs = compile_programs(prepared)
        finally:
            prepared.checkpointer.close()
    total = {k: round(sum(p[k] for p in programs.values()), 2) for k in ("trace_s", "lower_s", "compile_s", "hlo_mb")}
    return {"env_build_s": round(build_s, 2), "programs": programs, **total}


def parts_case() -> dict:
    """MJX-JAX on one scene (8 slots): the stages of a forward pass compiled one by one, each
    on the previous stage's output (so no stage is compiled twice), then the readings and the
    task layer. Each stage's figures are printed as it ends (kept if the case is stopped)."""
    import jax
    import jax.numpy as jnp
    from mujoco import mjx

    import metaworld_jax
    from drats_jax.warm_cache import timed_compile
    from metaworld_jax.backends import scene_adapter

    env = metaworld_jax.make(PART_SCENE_TASK, backend="mjx", seed=0)
    task = env.tasks[0]
    m = scene_adapter.load(task.scene, "mjx")
    mx, d0 = mjx.put_model(m), mjx.make_data(m)
    d = jax.vmap(lambda q: d0.replace(qpos=q))(jnp.tile(d0.qpos, (8, 1)))

    def smooth(mx, d):  # forward up to the smooth accelerations: no contacts
        for fn in (mjx.kinematics, mjx.com_pos, mjx.crb, mjx.factor_m, mjx.com_vel, mjx.passive, mjx.rne,
                   mjx.fwd_actuation, mjx.fwd_acceleration):
            d = fn(mx, d)
        return d

    stages = {"kinematics and dynamics (no contacts)": smooth, "collision": mjx.collision,
              "constraints": mjx.make_constraint, "solver": mjx.solve,
              "integration (euler)": mjx.euler}
    out = {"scene": task.scene, "slots": 8, "pieces": {}}
    for name, fn in stages.items():
        timed, compiled = timed_compile(jax.jit(jax.vmap(fn, in_axes=(None, 0))), mx, d)
        out["pieces"][name] = timed
        print(_PART + json.dumps({name: timed}), flush=True)
        if name != "integration (euler)":
            d = compiled(mx, d)  # the next stage's input
    reader = env.backend.readers[0]
    out["pieces"]["readings"], _ = timed_compile(jax.jit(jax.vmap(lambda d: reader.read(d, reader.layout.size))), d)
    print(_PART + json.dumps({"readings": out["pieces"]["readings"]}), flush=True)
    states = jax.vmap(env.reset, in_axes=(None, None, 0))(jax.random.PRNGKey(0), 0, jnp.arange(8))
    r = jnp.zeros((8, env.backend.reading_size), jnp.float32)
    layer = jax.jit(jax.vmap(lambda s, r, a: task_layer(env, s, r, a)))
    out["pieces"]["rewards (task layer)"], _ = timed_compile(layer, states, r, jnp.zeros((8, 4), jnp.float32))
    return out


def task_layer(env, state, readings, action):
    """Observation, reward and success of task 0 from readings (one slot)."""
    return env.task_layer(0, readings, state.physics.context, state.physics.prev_frame, action)


def worker(case: str, backend: str, slots_per_task: int) -> dict:
    import jax

    cache = os.environ.get("BENCH_COMPILE_CACHE")
    if cache:  # only when asked: a warm persistent cache hides the compile this measures
        jax.config.update("jax_compilation_cache_dir", cache)
    if case in TASKS:
        out = step_case(TASKS[case], backend, slots_per_task)
    elif case == "train-mt10":
        out = train_case(backend)
    elif case == "parts":
        out = parts_case()
    else:
        raise ValueError(f"unknown case {case!r}")
    out["peak_rss_gb"] = round(_peak_rss_gb(), 2)
    return out


# ----------------------------------------------------------------------------- driver side


def _rss_gb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return 0.0


def run_case(case: str, backend: str, args) -> dict:
    """One case in a subprocess, watched for time and memory."""
    cmd = [sys.executable, "-m", "benchmarks.compile", "--worker", case, "--backend", backend,
           "--slots-per-task", str(args.slots_per_task)]
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}  # measure cold compiles
    peak, stopped = 0.0, None
    with tempfile.TemporaryFile("w+") as log, tempfile.TemporaryDirectory() as kernels:
        # Warp builds its kernels in the first call into an empty kernel cache: first_call_s
        # then includes every kernel build of the case (how many scenes share them shows).
        if not args.warm_warp_cache:
            env["WARP_CACHE_PATH"] = kernels
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env,
                                cwd=Path(__file__).resolve().parents[1])
        while proc.poll() is None:
            peak = max(peak, _rss_gb(proc.pid))
            if time.perf_counter() - t0 > args.timeout:
                stopped = f"stopped after the {args.timeout:g} s timeout"
            elif peak > args.mem_limit_gb:
                stopped = f"stopped at {peak:.1f} GB resident (limit {args.mem_limit_gb:g} GB)"
            if stopped:
                proc.kill()
                break
            time.sleep(0.5)
        proc.wait()
        log.seek(0)
        lines = log.read().splitlines()
        kernel_modules = sum(1 for _ in Path(kernels).rglob("*.o")) + sum(1 for _ in Path(kernels).rglob("*.cubin"))
    wall = round(time.perf_counter() - t0, 1)
    result = next((json.loads(line[len(_RESULT):]) for line in lines if line.startswith(_RESULT)), None)
    if result is not None:
        result["peak_rss_gb"] = round(max(peak, result.get("peak_rss_gb", 0.0)), 2)
        if backend == "warp" and not args.warm_warp_cache:
            result["warp_kernel_modules_built"] = kernel_modules
        return {"status": "ok", "wall_s": wall, **result}
    tail = [line for line in lines if line.strip() and not line.startswith(_PART)][-3:]
    parts = {k: v for line in lines if line.startswith(_PART) for k, v in json.loads(line[len(_PART):]).items()}
    return {"status": stopped or f"failed (exit {proc.returncode})", "wall_s": wall, "peak_rss_gb": round(peak, 2),
            "error": " | ".join(tail), **({"pieces": parts} if parts else {})}


def main(argv=None) -> int:
    ap = common.arg_parser("python -m benchmarks.compile", __doc__)
    ap.add_argument("--backends", nargs="+", default=["mjx", "warp"], choices=["mjx", "warp"])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    ap.add_argument("--slots-per-task", type=int, default=8, help="slots (one block) per task in the step cases")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before a case is stopped")
    ap.add_argument("--mem-limit-gb", type=float, default=18.0, help="resident GB at which a case is stopped")
    ap.add_argument("--warm-warp-cache", action="store_true",
                    help="Warp cases use Warp's own kernel cache instead of an empty one (first calls then skip kernel builds)")
    ap.add_argument("--label", default=None, help="free text saved with the result (e.g. 'before')")
    ap.add_argument("--out-dir", default=None, help="where the JSON goes (default benchmarks/results)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--backend", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(_RESULT + json.dumps(worker(args.worker, args.backend, args.slots_per_task)), flush=True)
        return 0

    from metaworld_jax.backends import mjx as mjx_backend

    record = common.Record("compile", {"label": args.label, "slots_per_task": args.slots_per_task,
               "timeout_s": args.timeout, "mem_limit_gb": args.mem_limit_gb, "cases": {}}, args.out_dir)
    for backend in args.backends:
        if not mjx_backend.supports_impl("jax" if backend == "mjx" else "warp"):
            record.data["cases"][backend] = {"skipped": f"this environment has no {backend} backend"}
            continue
        for case in args.cases:
            if case == "parts" and backend != "mjx":
                continue
            print(f"[compile] {backend} {case} ...", flush=True)
            result = run_case(case, backend, args)
            record.data["cases"].setdefault(backend, {})[case] = result
            keys = ("status", "trace_s", "lower_s", "compile_s", "first_call_s", "hlo_mb", "peak_rss_gb", "wall_s")
            print(f"[compile] {backend} {case}: " + ", ".join(f"{k} {result[k]}" for k in keys if k in result),
                  flush=True)
            record.save()
    print(f"[compile] wrote {record.save()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
