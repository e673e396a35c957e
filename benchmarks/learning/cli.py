"""``python -m benchmarks.learning``: arguments, the plan and its estimate, the run, the JSON and PNG."""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import shlex
import signal
import threading
import time
from pathlib import Path

import benchmarks.learning as package
from benchmarks.learning.jobs import Job, run_jobs
from benchmarks.learning.plan import (ASSUMED, BENCH, DEFAULTS, QUICK, REPO, SCHEMA_VERSION, SHARED, log, makespan_s,
                                      parse_tasks)

_DEFAULTED = ("tasks", "seeds", "warmup", "eval_points", "eval_episodes", "chunk", "mt10_steps", "mt10_seeds",
              "mt10_eval_points", "mt10_eval_episodes", "samplers", "buffer_samplings", "jobs", "reps", "ppo_tasks",
              "ppo_seeds", "ppo_num_envs", "ppo_eval_points", "ppo_width", "ppo_epochs")
_POSITIVE = ("seeds", "eval_points", "eval_episodes", "chunk", "mt10_steps", "mt10_seeds", "mt10_eval_points",
             "mt10_eval_episodes", "jobs", "reps", "ppo_seeds", "ppo_num_envs", "ppo_eval_points", "ppo_width",
             "ppo_epochs")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.learning", description=package.__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny budgets and networks (for tests)")
    ap.add_argument("--sections", nargs="+", default=["single", "mt10"], choices=["single", "mt10", "ppo"],
                    help="single: SAC ours vs sbx-rl; mt10: the CPU default; ppo: PPO ours vs stable-baselines3 "
                    "(default single mt10; make bench-ppo runs ppo)")
    ap.add_argument("--tasks", default=None, help=f"TASK:ENV_STEPS,... (default {DEFAULTS['tasks']})")
    ap.add_argument("--seeds", type=int, default=None, help=f"single-task seeds (default {DEFAULTS['seeds']})")
    ap.add_argument("--warmup", type=int, default=None,
                    help=f"random-action env steps, both learners (default {DEFAULTS['warmup']})")
    ap.add_argument("--eval-points", type=int, default=None,
                    help=f"evaluations per single-task run, evenly spaced (default {DEFAULTS['eval_points']})")
    ap.add_argument("--eval-episodes", type=int, default=None, help="single task (default 50, MetaWorld's)")
    ap.add_argument("--chunk", type=int, default=None, help=f"our chunk length (default {DEFAULTS['chunk']})")
    ap.add_argument("--hidden-width", type=int, default=None, help=f"default {SHARED['hidden_width']}")
    ap.add_argument("--batch-size", type=int, default=None, help=f"default {SHARED['batch_size']}")
    ap.add_argument("--env-seed", type=int, default=0, help="benchmark seed fixing the 50 goals")
    ap.add_argument("--ours-args", default="",
                    help="extra flags for our single-task runs, e.g. --ours-args='--train.sac.adam-eps 1e-8'")
    ap.add_argument("--peer-python", default=str(REPO / ".venv-bench" / "bin" / "python"),
                    help="python of the sbx-rl environment (make install-bench)")
    ap.add_argument("--no-peer", action="store_true", help="run our side only")
    ap.add_argument("--mt10-tasks", default="mt10",
                    help="the multi-task suite of that section (default mt10; tests use a 2-task list)")
    ap.add_argument("--mt10-steps", type=int, default=None,
                    help=f"MT10 env steps per seed (default {DEFAULTS['mt10_steps']:,}, or the CPU config's "
                    "total_env_steps if smaller)")
    ap.add_argument("--mt10-seeds", type=int, default=None, help=f"default {DEFAULTS['mt10_seeds']}")
    ap.add_argument("--mt10-eval-points", type=int, default=None, help=f"default {DEFAULTS['mt10_eval_points']}")
    ap.add_argument("--mt10-eval-episodes", type=int, default=None, help="default 50")
    ap.add_argument("--samplers", nargs="+", default=None, help="MT10 task samplers (default drats uniform)")
    ap.add_argument("--buffer-samplings", nargs="+", default=None, choices=["uniform", "per_task"],
                    help="MT10 replay sampling, each run with every sampler (default uniform per_task)")
    ap.add_argument("--ppo-tasks", default=None, help=f"PPO section TASK:ENV_STEPS,... (default {DEFAULTS['ppo_tasks']})")
    ap.add_argument("--ppo-seeds", type=int, default=None, help=f"default {DEFAULTS['ppo_seeds']}")
    ap.add_argument("--ppo-num-envs", type=int, default=None,
                    help=f"env copies of the task, both learners (default {DEFAULTS['ppo_num_envs']})")
    ap.add_argument("--ppo-eval-points", type=int, default=None, help=f"default {DEFAULTS['ppo_eval_points']}")
    ap.add_argument("--ppo-width", type=int, default=None, help=f"hidden width (default {DEFAULTS['ppo_width']})")
    ap.add_argument("--ppo-epochs", type=int, default=None, help=f"epochs per rollout (default {DEFAULTS['ppo_epochs']})")
    ap.add_argument("--peer-mtsac-python", default=None,
                    help="python of a rainx0r/metaworld-algorithms environment (make install-mtsac): adds the "
                    "reference MTSAC to the mt10 section (benchmarks/mtsac_peer.py, one process per --mt10-seeds seed)")
    ap.add_argument("--mt10-peer-only", action="store_true",
                    help="mt10 section: run only the reference MTSAC's jobs (with --peer-mtsac-python); --work-dir may "
                    "then be an earlier run's work dir (its files are kept; the peer's must not exist yet), so that "
                    "--collect on it merges both")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every env-step budget (single-task tasks and MT10) by this factor")
    ap.add_argument("--jobs", type=int, default=None, help="processes at a time (default 2)")
    ap.add_argument("--reps", type=int, default=None, help=f"bootstrap replications (default {DEFAULTS['reps']})")
    ap.add_argument("--out-dir", default=None, help="JSON/PNG folder (default benchmarks/results)")
    ap.add_argument("--work-dir", default=None, help="run folders and logs (default .cache/learning/<time>)")
    ap.add_argument("--plan", action="store_true", help="print the jobs and the time estimate, run nothing")
    ap.add_argument("--collect", default=None, metavar="WORK_DIR",
                    help="run nothing: write the JSON from the run folders of a stopped run started with the same "
                    "arguments (only peer seeds that finished count; unfinished jobs are named in the JSON)")
    ap.add_argument("--no-plot", action="store_true")
    return ap


def build_args(argv=None) -> argparse.Namespace:
    ap = _parser()
    args = ap.parse_args(argv)
    base = {**DEFAULTS, **(QUICK if args.quick else {})}
    args.mt10_steps_default = args.mt10_steps is None
    for key in _DEFAULTED:
        if getattr(args, key) is None:
            setattr(args, key, base[key])
    if args.hidden_width is None:
        args.hidden_width = base.get("hidden_width", SHARED["hidden_width"])
    if args.batch_size is None:
        args.batch_size = base.get("batch_size", SHARED["batch_size"])
    args.mt10_overrides = list(base.get("mt10_overrides", []))
    if args.mt10_peer_only and not (args.peer_mtsac_python and args.sections == ["mt10"]):
        ap.error("--mt10-peer-only needs --peer-mtsac-python and --sections mt10")
    if args.scale <= 0:
        ap.error("--scale must be > 0")
    if args.scale != 1.0:
        unit = args.eval_points * args.chunk
        args.tasks = ",".join(f"{t}:{max(unit, round(n * args.scale / unit) * unit)}"
                              for t, n in parse_tasks(args.tasks).items())
        args.mt10_steps = max(1, round(args.mt10_steps * args.scale))
        args.ppo_tasks = ",".join(f"{t}:{max(1, round(n * args.scale))}" for t, n in parse_tasks(args.ppo_tasks).items())
    args.ours_args = shlex.split(args.ours_args)
    for key in _POSITIVE:
        if getattr(args, key) <= 0:
            ap.error(f"--{key.replace('_', '-')} must be > 0")
    try:
        for task, steps in parse_tasks(args.tasks).items():
            if steps <= args.warmup + args.chunk:
                ap.error(f"{task}: budget {steps} must exceed --warmup + --chunk ({args.warmup + args.chunk})")
    except ValueError as exc:
        ap.error(str(exc))
    return args


def _sections(args, work: Path) -> tuple[dict, list[Job]]:
    """{name: (section skeleton, finish)} and all jobs of the chosen sections."""
    from benchmarks.learning.mt10 import run_mt10
    from benchmarks.learning.ppo import run_ppo
    from benchmarks.learning.single import run_single

    sections, jobs = {}, []
    for name, build in (("single", run_single), ("mt10", run_mt10), ("ppo", run_ppo)):
        if name in args.sections:
            sec, js, finish = build(args, work)
            sections[name] = (sec, finish)
            jobs += js
    return sections, jobs


def _print_plan(jobs: list[Job], args, work: Path) -> float:
    """Logs the jobs, longest first, and the estimate; returns the estimated wall time (s)."""
    est = makespan_s([j.estimate_s for j in jobs], args.jobs)
    log(f"{len(jobs)} jobs, {args.jobs} at a time, longest first: estimate {est / 60:.0f} min on an idle CPU with "
        f"{args.jobs} cores ({sum(j.estimate_s for j in jobs) / 60:.0f} min of jobs in all; assumed speeds "
        f"{ASSUMED}); work dir {work}")
    for j in sorted(jobs, key=lambda j: -j.estimate_s):
        log(f"  {j.name}: ~{j.estimate_s / 60:.1f} min: {shlex.join(j.cmd)}")
    return est


def _mark_collected(jobs: list[Job]) -> None:
    """--collect: a job counts as done if its log says so (our runs write summary.json, peers a
    summary row); the others get rc None and an error naming the stopped run."""
    for job in jobs:
        done = (job.watch / "summary.json").exists() if job.watch else _peer_done(job)
        job.rc = 0 if done else None
        if done and job.watch:  # our run's own wall time (its chunk times were not polled)
            job.start, job.end = 0.0, float(json.loads((job.watch / "summary.json").read_text())["wall_s"])
        job.error = None if done else "not finished: the run was stopped and collected with --collect"


def _out(job: Job) -> Path | None:
    return Path(job.cmd[job.cmd.index("--out") + 1]) if "--out" in job.cmd and job.watch is None else None


def _peer_done(job: Job) -> bool:
    out = _out(job)
    return out is not None and out.exists() and '"kind": "summary"' in out.read_text()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _run(jobs: list[Job], args, work: Path) -> bool:
    """Runs the jobs (SIGTERM stops them like Ctrl-C); False if interrupted."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if in_main else None
    try:
        run_jobs(jobs, args.jobs)
    except KeyboardInterrupt:
        log(f"interrupted: jobs stopped, nothing written (logs in {work / 'logs'})")
        return False
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return True


def _peer_mtsac(args, mt10: dict | None) -> dict:
    """The reference MTSAC's status (its results are in the mt10 section, as the run "reference-mtsac")."""
    if mt10 is None:
        return {"ran": False, "python": args.peer_mtsac_python, "reason": "the mt10 section was not run"}
    peer = mt10.get("peer") or {}
    out = {k: peer.get(k) for k in ("ran", "python", "reason", "seeds_finished", "seeds_planned")}
    if peer.get("ran") and not peer.get("seeds_finished"):
        out.update(ran=False, reason="no seed finished (see the mt10 section's reference-mtsac job errors)")
    return out


def _write(result: dict, args) -> Path:
    """The JSON (with the environment, benchmarks.common) and the PNG of the same stem."""
    from benchmarks import common
    from benchmarks.learning.plot import plot

    path = common.write(BENCH, result, args.out_dir)
    if not args.no_plot:
        full = json.loads(path.read_text())
        png = plot(full, path.with_suffix(".png"))
        if png is not None:
            full["png"] = png.name
            path.write_text(json.dumps(full, indent=2))
    return path


def main(argv=None) -> int:
    args = build_args(argv)
    t0 = time.perf_counter()
    try:
        load_at_start = list(os.getloadavg())
    except OSError:
        load_at_start = None
    work = Path(args.collect or args.work_dir) if (args.collect or args.work_dir) else REPO / ".cache" / "learning" / datetime.datetime.now().strftime(
        "%Y%m%d-%H%M%S")
    sections, jobs = _sections(args, work)
    estimate_s = _print_plan(jobs, args, work)
    if args.plan:
        return 0
    if args.collect:
        _mark_collected(jobs)
    else:
        if args.mt10_peer_only:
            clash = [str(p) for j in jobs for p in (_out(j), j.log) if p is not None and p.exists()]
            if clash:
                raise SystemExit(f"--mt10-peer-only: would overwrite {', '.join(clash)}")
        elif work.exists() and any(work.iterdir()):
            raise SystemExit(f"work dir {work} is not empty")
        work.mkdir(parents=True, exist_ok=True)
        if not _run(jobs, args, work):
            return 130
    result = {"schema_version": SCHEMA_VERSION,
              "config": vars(args) | {"work_dir": str(work), "assumed_speeds": ASSUMED, "estimate_s": estimate_s,
                                      "load_average_at_start": load_at_start},
              "single": None, "mt10": None, "ppo": None, "jobs": [j.record() for j in jobs]}
    for name, (sec, finish) in sections.items():
        result[name] = finish(copy.deepcopy(sec))
    result["peer_mtsac"] = _peer_mtsac(args, result["mt10"])
    result["runtime_s"] = time.perf_counter() - t0
    failed = [j.name for j in jobs if j.rc != 0]
    result["failed_jobs"] = failed
    path = _write(result, args)
    log(f"wrote {path} ({result['runtime_s'] / 60:.1f} min)")
    single = result.get("single") or {}
    if single.get("verdicts"):
        log(f"single task: ours vs sbx-rl CI (IQM): {single['verdict_counts_iqm']}")
    if (result.get("ppo") or {}).get("verdicts"):
        log(f"PPO: ours vs stable-baselines3 CI (IQM): {result['ppo']['verdict_counts_iqm']}")
    if failed:
        log(f"FAILED: {', '.join(failed)} (logs in {work / 'logs'})")
        return 1
    return 0
