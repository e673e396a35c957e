"""The device check: everything a first GPU lease needs to measure, in <= 8 minutes of run.

    make gpu-check                                      # python -m benchmarks.gpu_check --out benchmarks/results/gpu-check-<time>
    python -m benchmarks.gpu_check --out DIR [--quick] [--budget 480] [--stages device train-mt10 ...]

Stages, in order, each in its own process with its own time budget (capped by what is left of
--budget), each writing DIR/<stage>.json after every measurement; a stage that fails or runs
out of time records why (its JSON keeps what it measured before) and the next one runs:
  device          device, driver, versions, JAX's memory settings (devices.GPU_MEMORY_FRACTION)
  env-mt10-warp   MT10 env step on MJX-Warp at 3 slot counts: trace+lower and compile seconds,
                  first call (Warp's kernel builds), env-steps/s
  train-mt10      --preset gpu-mt10 training for ~3 minutes: DRATS vs uniform env-steps/s and
                  gradient-steps/s, then DRATS alone, then mean success (MetaWorld's evaluation)
  env-mt10-mjx    the same env step on MJX-JAX (its compile may not fit: then the JSON says so)
  env-mt50-warp   MT50 env step on MJX-Warp at one size, with the time that remains
  (train-mt50     --preset gpu-mt50 training, only when named: make bench-mt50 on a GPU)
A stage whose backend is not installed is skipped. DIR/summary.json (rewritten after every
stage) holds each stage's status, seconds and headline figures. --quick: the same stages at
tiny sizes on 2-3 tasks (MJX-JAX skipped: its compiles take minutes on a CPU), for CI on a CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from benchmarks import common

REPO = Path(__file__).resolve().parents[1]
MIN_STAGE_S = 20  # a stage is not started with less time than this left
KILL_GRACE_S = 5  # seconds between SIGTERM and SIGKILL for a stage past its budget
DEADLINE_ENV = "GPU_CHECK_DEADLINE"  # a stage's end (time.time()), for stages that pace themselves

QUICK_TASKS = "reach-v3,push-v3"
# --quick trains on the C backend: MetaWorld's evaluation (500 steps) alone takes minutes on Warp's
# CPU device; training and evaluation on Warp are tested by tests/test_warp_backend.py.
QUICK_TRAIN = ["--tasks", QUICK_TASKS, "--backend", "mujoco", "--block-size", "None", "--train.num-envs", "4",
               "--train.buffer-capacity", "400", "--train.sac.batch-size", "16", "--train.sac.hidden-width", "16",
               "--train.sac.hidden-depth", "1", "--train.warmup-env-steps", "40", "--train.chunk-length", "5",
               "--eval-episodes", "2"]


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: ``fn`` (a gpu_stages.STAGE_FUNCTIONS name or "module:function") called with
    ``params`` (``quick``: with ``quick_params`` instead), at most ``budget_s`` seconds;
    ``backend``: skipped unless that physics backend is installed (the training stage runs its
    preset's backend, and records the one-line error if it is missing)."""

    name: str
    fn: str
    budget_s: float
    params: dict
    quick_budget_s: float = 0.0
    quick_params: dict | None = None  # None: not run with --quick
    backend: str | None = None
    default: bool = True  # False: runs only when named (--stages)


def _env(name, backend, suite, slots, budget, quick_slots, quick_suite=QUICK_TASKS, quick_budget=180.0):
    full = dict(suite=suite, backend=backend, slots=slots, block_cap=128, steps=50, repeats=3)
    quick = None if quick_slots is None else dict(suite=quick_suite, backend=backend, slots=quick_slots, block_cap=2,
                                                  steps=5, repeats=2)
    return Stage(name, "env_step", budget, full, quick_budget, quick, backend)


# Budgets (seconds) for one H200 within 480 s; later stages get what the earlier ones left.
STAGES = (
    Stage("device", "device", 30, {}, 90, {}),
    _env("env-mt10-warp", "warp", "mt10", [1280, 3840, 12800], 100, [4, 8, 16]),
    Stage("train-mt10", "train", 220, dict(preset="gpu-mt10", overrides=[], train_s=150), 240,
          dict(preset="gpu-mt10", overrides=QUICK_TRAIN, train_s=10, reserve_s=20)),
    _env("env-mt10-mjx", "mjx", "mt10", [1280, 3840, 12800], 60, None),
    _env("env-mt50-warp", "warp", "mt50", [6400], 70, [6], quick_suite=QUICK_TASKS + ",pick-place-v3",
         quick_budget=120.0),
    # make bench-mt50 on a GPU (not part of the lease-sized default).
    Stage("train-mt50", "train", 600, dict(preset="gpu-mt50", overrides=[], train_s=300), default=False),
)


@functools.cache
def _installed(backend: str) -> bool:
    """Whether a physics backend is installed (a subprocess: the orchestrator never starts JAX)."""
    code = f"from metaworld_jax.backends import check_available as c; c({backend!r})"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=300).returncode == 0


def _forward(stream, prefix: str, tail: deque) -> None:
    for line in iter(stream.readline, ""):
        print(f"[{prefix}] {line.rstrip()}", flush=True)
        tail.append(line.rstrip())


def run_stage(stage: Stage, out: Path, quick: bool, budget_s: float) -> dict:
    """Runs one stage in a child process for at most ``budget_s`` seconds; returns its status
    (and ensures its JSON exists, recording an error or timeout the child could not write)."""
    path = out / f"{stage.name}.json"
    cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--run-stage", stage.name, "--stage-fn", stage.fn,
           "--params", json.dumps(stage.quick_params if quick else stage.params), "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                         DEADLINE_ENV: str(time.time() + budget_s)})
    tail: deque = deque(maxlen=15)
    reader = threading.Thread(target=_forward, args=(proc.stdout, stage.name, tail), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=budget_s)
        status = "ok" if code == 0 else f"error: exit code {code}"
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=KILL_GRACE_S)
                break
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        status = f"timed out after {budget_s:.0f} s (its budget)"
    reader.join(timeout=5)
    seconds = time.perf_counter() - t0
    data = _read(path)
    if status == "ok" and "error" in data:
        status = f"error: {data['error']}"
    elif status != "ok":
        if status.startswith("error") and "error" in data:
            status = f"error: {data['error']}"
        elif status.startswith("error"):
            status += f": {' | '.join(list(tail)[-3:])}"[:600]
        data.setdefault("stage", stage.name)
        data["status"] = status
        data["output_tail"] = list(tail)
        _write(path, data)
    return {"status": status, "seconds": round(seconds, 1), "budget_s": round(budget_s, 1), **_headline(data)}


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _headline(data: dict) -> dict:
    """The figures the summary shows for a stage's JSON."""
    out = {}
    if "device_kind" in data:
        out.update(device=data.get("devices", [None])[0], device_kind=data["device_kind"],
                   jax=(data.get("versions") or {}).get("jax"), warp=(data.get("warp") or {}).get("version"))
    for row in data.get("sizes", []):
        key = f"slots_{row['case'].split()[-2]}"
        out[key] = ({"error": row["error"]} if "error" in row else
                    {k: round(row[k], 2) for k in ("env_steps_per_s", "lower_s", "compile_s", "first_call_s")})
    if data.get("running"):
        out["was_running"] = data["running"]
    for name, r in (data.get("runs") or {}).items():
        out[f"{name}_env_steps_per_s"] = round(r["env_steps_per_s"], 1)
        out[f"{name}_grad_steps_per_s"] = round(r["grad_steps_per_s"], 2)
    if data.get("ratio_drats_over_uniform") is not None:
        out["ratio_drats_over_uniform"] = round(data["ratio_drats_over_uniform"], 3)
    if "evaluation" in data:
        out.update(mean_success=data["evaluation"]["mean_success"], env_steps=data["evaluation"]["env_steps"])
    return out


def check(out: Path, quick: bool, budget_s: float, names: list[str] | None = None, stages=STAGES) -> dict:
    """Runs the stages in order within ``budget_s`` seconds; writes out/summary.json after each."""
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + budget_s
    from drats_jax.devices import GPU_BACKEND  # noqa: PLC0415  (imports no JAX)

    summary = {"quick": quick, "budget_s": budget_s, "gpu_backend_default": GPU_BACKEND, "stages": {}}
    for stage in stages:
        if (stage.name not in names) if names is not None else not stage.default:
            continue
        left = deadline - time.monotonic()
        cap = stage.quick_budget_s if quick else stage.budget_s
        if quick and stage.quick_params is None:
            status = {"status": "skipped: not run with --quick"}
        elif stage.backend is not None and not _installed(stage.backend):
            status = {"status": f"skipped: backend {stage.backend} is not installed here"}
        elif left < MIN_STAGE_S:
            status = {"status": f"skipped: {max(left, 0):.0f} s of the {budget_s:.0f} s budget left"}
        else:
            print(f"== {stage.name} (at most {min(cap, left):.0f} s)", flush=True)
            status = run_stage(stage, out, quick, min(cap, left))
        if status["status"].startswith("skipped"):
            _write(out / f"{stage.name}.json", {"stage": stage.name, "status": status["status"]})
        summary["stages"][stage.name] = status
        summary["elapsed_s"] = round(budget_s - (deadline - time.monotonic()), 1)
        _write(out / "summary.json", summary)
        print(f"== {stage.name}: {status['status']} ({status.get('seconds', 0)} s)", flush=True)
    return summary


def _child(args) -> int:
    """One stage, in this process: JAX's GPU memory settings first, then the stage function."""
    from drats_jax import devices

    devices.set_gpu_memory(devices.GPU_MEMORY_FRACTION)  # before JAX starts, as in the GPU presets
    from benchmarks import common, gpu_stages
    from drats_jax import cli

    cli.setup_compile_cache()
    rec = common.Record(f"gpu-check-{args.run_stage}", {"stage": args.run_stage}, path=args.out / f"{args.run_stage}.json")
    try:
        gpu_stages.main_stage(args.stage_fn, rec, json.loads(args.params))
    except Exception as exc:  # noqa: BLE001  recorded in the stage's JSON, which keeps what was measured
        rec.data["error"] = common.one_line(exc)
        rec.save()
        print(f"{args.run_stage}: error: {rec.data['error']}", file=sys.stderr, flush=True)
        return 1
    rec.data["status"] = "ok"
    rec.save()
    return 0


def main(argv=None) -> int:
    ap = common.arg_parser("python -m benchmarks.gpu_check", __doc__)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/gpu-check-<time>)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes on a CPU (CI)")
    ap.add_argument("--budget", type=float, default=None, help="seconds for all stages (default 480; --quick 900)")
    ap.add_argument("--stages", nargs="+", default=None, choices=[s.name for s in STAGES], help="run only these")
    ap.add_argument("--run-stage", help=argparse.SUPPRESS)
    ap.add_argument("--stage-fn", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.run_stage:
        return _child(args)
    if args.out is None:
        args.out = REPO / "benchmarks" / "results" / f"gpu-check-{time.strftime('%Y%m%d-%H%M%S')}"
    budget = args.budget if args.budget is not None else (900.0 if args.quick else 480.0)
    if budget < MIN_STAGE_S:
        ap.error(f"--budget must be at least {MIN_STAGE_S} s")
    summary = check(args.out, args.quick, budget, args.stages)
    bad = [n for n, s in summary["stages"].items() if not s["status"].startswith(("ok", "skipped"))]
    print(f"gpu-check: {len(summary['stages']) - len(bad)} of {len(summary['stages'])} stages ok or skipped "
          f"in {summary['elapsed_s']:.0f} s; results in {args.out}" + (f"; failed: {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
