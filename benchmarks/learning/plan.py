"""What the learning benchmark runs: shared settings, budgets, evaluation points, commands, estimates."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

SCHEMA_VERSION = 2  # 2: mt10 "runs" keyed sampler/replay sampling (1: "samplers" keyed by sampler)
REPO = Path(__file__).resolve().parents[2]
BENCH = "learning"

# Settings given explicitly to both learners (single task). target_entropy = -|A| = -4.
SHARED = {"hidden_width": 256, "hidden_depth": 2, "batch_size": 256, "lr": 3e-4, "gamma": 0.99, "tau": 0.005,
          "initial_temperature": 1.0, "target_entropy": -4.0, "updates_per_env_step": 1, "num_envs": 1}

# Full-run defaults: under an hour on an idle 2-core CPU by the estimate below (`--plan` prints
# it; measured speeds in the report). --scale multiplies every env-step budget.
DEFAULTS = {
    "tasks": "reach-v3:16000,drawer-close-v3:12000,window-open-v3:20000",
    "seeds": 3, "warmup": 2500, "eval_points": 4, "eval_episodes": 50, "chunk": 500,
    # MT10: this many env steps per seed, or the CPU config's own total if that is smaller.
    "mt10_steps": 120_000, "mt10_seeds": 3, "mt10_eval_points": 3, "mt10_eval_episodes": 50,
    "samplers": ["drats", "uniform"], "buffer_samplings": ["uniform", "per_task"], "jobs": 2, "reps": 2000,
    # PPO section (not in the default sections: `make bench-ppo`): PPO at the paper's settings.
    "ppo_tasks": "reach-v3:100000,window-open-v3:100000", "ppo_seeds": 3, "ppo_num_envs": 8, "ppo_eval_points": 4,
    "ppo_width": 400, "ppo_epochs": 16,
}
QUICK = {
    "tasks": "reach-v3:1500", "seeds": 2, "warmup": 500, "eval_points": 3, "eval_episodes": 5, "chunk": 250,
    "hidden_width": 64, "batch_size": 64,
    "mt10_steps": 240, "mt10_seeds": 2, "mt10_eval_points": 1, "mt10_eval_episodes": 2,
    "mt10_overrides": ["--train.warmup-env-steps", "40", "--train.chunk-length", "5", "--train.buffer-capacity",
                       "2000", "--train.sac.hidden-width", "32", "--train.sac.batch-size", "32"],
    "reps": 200, "ppo_tasks": "reach-v3:2000", "ppo_seeds": 2, "ppo_num_envs": 2, "ppo_eval_points": 2,
    "ppo_width": 32, "ppo_epochs": 2,
}

# Speeds for the up-front time estimate only, for an idle 2-core CPU with two jobs at a time:
# measured on a 2-core AMD EPYC while other work ran (about 0.6 of a core per process) and
# scaled to one core per process. ours_all_seeds: env steps/s of one single-task process summed
# over its vmapped seeds (3 seeds cost 3x one); peer: one sbx process (one seed); mt10_one_seed:
# an MT10 run's env steps/s for one seed (k vmapped seeds cost k x); *_eval_s: one evaluation
# (50 episodes per task); *_startup_s: imports, env construction, compiles.
ASSUMED = {"ours_all_seeds": 100.0, "peer": 95.0, "peer_eval_s": 12.0, "peer_startup_s": 25.0,
           "ours_eval_s_per_seed": 4.0, "ours_startup_s": 40.0, "mt10_one_seed": 1000.0,
           "mt10_eval_s_per_seed": 20.0, "mt10_startup_s": 60.0,
           # The reference MTSAC (benchmarks/mtsac_peer.py, one seed per process, its 10 env
           # subprocesses): ~596 env steps/s measured alone at this config; eval: 50 episodes x 10
           # tasks of real metaworld env steps in one process at low success.
           "mtsac_peer": 300.0, "mtsac_peer_eval_s": 250.0, "mtsac_peer_startup_s": 60.0}


def log(msg: str) -> None:
    print(f"[learning {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_tasks(spec: str) -> dict[str, int]:
    """"reach-v3:20000,drawer-close-v3:15000" -> {task: env steps}."""
    out = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, steps = part.partition(":")
        if not steps:
            raise ValueError(f"--tasks entry {part!r} needs a budget: TASK:ENV_STEPS")
        out[name.strip()] = int(steps)
    if not out:
        raise ValueError("--tasks is empty")
    return out


def _due(env_steps: int, per_chunk: int, interval: int) -> bool:
    """drats_jax.train's rule: True at the first chunk boundary at or after each multiple of interval."""
    return interval > 0 and env_steps // interval > (env_steps - per_chunk) // interval


def our_eval_points(total: int, warmup: int, chunk: int, interval: int, num_envs: int = 1) -> list[int]:
    """Env-step counts at which ``python -m drats_jax.train`` evaluates (its chunk and _due rules).

    Checked against the run's eval.jsonl afterwards (``eval_points_match`` in the JSON)."""
    e = num_envs
    warm = math.ceil(warmup / e)
    learn = total // e - warm
    cl = max(1, min(chunk, learn))
    chunks = learn // cl
    points = []
    for i in range(chunks):
        steps = (warm + (i + 1) * cl) * e
        if i == chunks - 1 or _due(steps, cl * e, interval):
            points.append(steps)
    return points


def single_task_plan(task: str, steps: int, args) -> dict:
    interval = max(args.chunk, -(-steps // args.eval_points // args.chunk) * args.chunk)
    points = our_eval_points(steps, args.warmup, args.chunk, interval)
    return {"task": task, "env_steps": steps, "warmup": args.warmup, "chunk_length": args.chunk,
            "eval_interval": interval, "eval_points": points}


def mt10_configs(args) -> dict[str, dict]:
    """{"<sampler>/<replay sampling>": {sampler, buffer_sampling}}, replay sampling outermost."""
    return {f"{s}/{b}": {"sampler": s, "buffer_sampling": b} for b in args.buffer_samplings for s in args.samplers}


def mt10_label(run: dict) -> str:
    if run.get("label"):
        return run["label"]
    return f"{run['sampler']} sampler, {run['buffer_sampling']} replay"


def mt10_eval_interval(args) -> int:
    return max(1, args.mt10_steps // args.mt10_eval_points)


def mt10_settings(args, cpu: dict) -> dict:
    """What our MT10 runs use: the CPU config, with the quick run's overrides applied."""
    over = dict(zip(args.mt10_overrides[::2], args.mt10_overrides[1::2]))
    sac = cpu["sac"]
    pick = {"warmup": ("--train.warmup-env-steps", cpu["warmup_env_steps"]),
            "chunk": ("--train.chunk-length", cpu["chunk_length"]),
            "buffer": ("--train.buffer-capacity", cpu["buffer_capacity"]),
            "width": ("--train.sac.hidden-width", sac["hidden_width"]),
            "batch": ("--train.sac.batch-size", sac["batch_size"])}
    return {k: int(over.get(flag, default)) for k, (flag, default) in pick.items()} | {"num_envs": int(cpu["num_envs"])}


def mt10_eval_points(args, cpu: dict) -> list[int]:
    """Where our MT10 runs evaluate (drats_jax.train's chunk rule): the reference MTSAC
    evaluates at the same env steps."""
    s = mt10_settings(args, cpu)
    return our_eval_points(args.mt10_steps, s["warmup"], s["chunk"], mt10_eval_interval(args), s["num_envs"])


# ----------------------------------------------------------------------------- commands


def _train_cmd(tasks: str, sampler: str, seeds: int, total: int, eval_interval: int, eval_episodes: int,
               out: Path, args, extra: list[str]) -> list[str]:
    """``python -m drats_jax.train --algo sac``: no checkpoints but the last, no progress bar."""
    return [sys.executable, "-m", "drats_jax.train", "--algo", "sac", "--tasks", tasks, "--sampler", sampler,
            "--seeds", str(seeds), "--seed", "0", "--env-seed", str(args.env_seed), "--total-steps", str(total),
            *extra, "--eval-interval", str(eval_interval), "--eval-episodes", str(eval_episodes),
            "--checkpoint-interval", "0", "--keep-checkpoints", "1", "--out", str(out), "--no-progress"]


def our_single_cmd(plan: dict, args, out: Path) -> list[str]:
    lr = str(SHARED["lr"])
    extra = ["--train.num-envs", "1", "--train.updates-per-step", "1",
             "--train.warmup-env-steps", str(plan["warmup"]), "--train.buffer-capacity", str(plan["env_steps"]),
             "--train.chunk-length", str(plan["chunk_length"]),
             "--train.sac.hidden-width", str(args.hidden_width),
             "--train.sac.hidden-depth", str(SHARED["hidden_depth"]),
             "--train.sac.batch-size", str(args.batch_size),
             "--train.sac.actor-lr", lr, "--train.sac.critic-lr", lr, "--train.sac.alpha-lr", lr,
             "--train.sac.gamma", str(SHARED["gamma"]), "--train.sac.tau", str(SHARED["tau"]),
             "--train.sac.initial-temperature", str(SHARED["initial_temperature"]),
             "--train.sac.target-entropy", str(SHARED["target_entropy"])]
    return _train_cmd(plan["task"], "uniform", args.seeds, plan["env_steps"], plan["eval_interval"],
                      args.eval_episodes, out, args, extra) + args.ours_args


def peer_cmd(plan: dict, seed: int, args, out: Path) -> list[str]:
    return [str(args.peer_python), str(REPO / "benchmarks" / "sbx_sac.py"), "--task", plan["task"],
            "--seed", str(seed), "--env-seed", str(args.env_seed), "--total-steps", str(plan["env_steps"]),
            "--warmup", str(plan["warmup"]), "--eval-steps", ",".join(map(str, plan["eval_points"])),
            "--eval-episodes", str(args.eval_episodes), "--width", str(args.hidden_width),
            "--depth", str(SHARED["hidden_depth"]), "--batch-size", str(args.batch_size), "--lr", str(SHARED["lr"]),
            "--gamma", str(SHARED["gamma"]), "--tau", str(SHARED["tau"]),
            "--initial-temperature", str(SHARED["initial_temperature"]),
            "--target-entropy", str(SHARED["target_entropy"]), "--buffer-size", str(plan["env_steps"]),
            "--out", str(out)]


def mt10_cmd(run: dict, args, out: Path) -> list[str]:
    """The CPU-default config (the CLI's defaults) but the budget, replay sampling given explicitly."""
    return _train_cmd(args.mt10_tasks, run["sampler"], args.mt10_seeds, args.mt10_steps, mt10_eval_interval(args),
                      args.mt10_eval_episodes, out, args,
                      ["--train.buffer-sampling", run["buffer_sampling"], *args.mt10_overrides])


def mtsac_peer_cmd(seed: int, points: list[int], cpu: dict, args, out: Path) -> list[str]:
    """benchmarks/mtsac_peer.py (run by --peer-mtsac-python) at the CPU config's settings."""
    sac, s = cpu["sac"], mt10_settings(args, cpu)
    return [str(args.peer_mtsac_python), str(REPO / "benchmarks" / "mtsac_peer.py"), "--seed", str(seed),
            "--env-seed", str(args.env_seed), "--total-steps", str(args.mt10_steps),
            "--warmup", str(s["warmup"]), "--eval-steps", ",".join(map(str, points)),
            "--eval-episodes", str(args.mt10_eval_episodes), "--width", str(s["width"]),
            "--depth", str(sac["hidden_depth"]), "--batch-size", str(s["batch"]), "--lr", str(sac["actor_lr"]),
            "--gamma", str(sac["gamma"]), "--tau", str(sac["tau"]), "--max-grad-norm", str(sac["max_grad_norm"]),
            "--buffer-size", str(max(args.mt10_steps, s["buffer"])), "--out", str(out)]


# ----------------------------------------------------------------------------- estimates


def ours_single_estimate_s(plan: dict, args) -> float:
    return (ASSUMED["ours_startup_s"] + plan["env_steps"] * args.seeds / ASSUMED["ours_all_seeds"]
            + len(plan["eval_points"]) * ASSUMED["ours_eval_s_per_seed"] * args.seeds)


def peer_estimate_s(plan: dict) -> float:
    return (ASSUMED["peer_startup_s"] + plan["env_steps"] / ASSUMED["peer"]
            + len(plan["eval_points"]) * ASSUMED["peer_eval_s"])


def mt10_estimate_s(args) -> float:
    return (ASSUMED["mt10_startup_s"] + args.mt10_steps / ASSUMED["mt10_one_seed"] * args.mt10_seeds
            + args.mt10_eval_points * ASSUMED["mt10_eval_s_per_seed"] * args.mt10_seeds * args.mt10_eval_episodes / 50)


def mtsac_peer_estimate_s(args, points: list[int]) -> float:
    return (ASSUMED["mtsac_peer_startup_s"] + args.mt10_steps / ASSUMED["mtsac_peer"]
            + len(points) * ASSUMED["mtsac_peer_eval_s"] * args.mt10_eval_episodes / 50)


def makespan_s(estimates: list[float], slots: int) -> float:
    """Wall time of running jobs of these lengths ``slots`` at a time, longest first (as jobs.run_jobs)."""
    free = [0.0] * max(1, slots)
    for est in sorted(estimates, reverse=True):
        i = free.index(min(free))
        free[i] += est
    return max(free)
