"""MT10 section: the CLI's CPU-default config, every task sampler x replay sampling, seeds vmapped;
the reference MTSAC (rainx0r/metaworld-algorithms, benchmarks/mtsac_peer.py) beside it when
``--peer-mtsac-python`` is given, one process per seed, same budget and evaluation points."""

from __future__ import annotations

from pathlib import Path

from benchmarks.learning import curves as cv
from benchmarks.learning.jobs import Job, our_timing, rates
from benchmarks.learning.plan import (mt10_cmd, mt10_configs, mt10_estimate_s, mt10_eval_interval, mt10_eval_points,
                                      mtsac_peer_cmd, mtsac_peer_estimate_s)

PEER = "reference-mtsac"  # the peer's key among the section's runs
PEER_LABEL = "reference MTSAC (metaworld-algorithms)"


def mtsac_peer_available(args) -> tuple[bool, str]:
    if not args.peer_mtsac_python:
        return False, ("--peer-mtsac-python not given (make install-mtsac creates its venv: Python >= 3.12, "
                       "metaworld-algorithms at the versions of its uv.lock, metaworld 3.1.1)")
    if not Path(args.peer_mtsac_python).exists():
        return False, f"{args.peer_mtsac_python} not found (make install-mtsac creates it)"
    if args.mt10_tasks != "mt10":
        return False, f"--mt10-tasks is {args.mt10_tasks!r}: the reference runs MT10 only"
    return True, ""


def run_mt10(args, work: Path) -> tuple[dict, list[Job], callable]:
    """Builds one job per configuration; returns (section skeleton, jobs, finish(section) -> section)."""
    import dataclasses

    import metaworld_jax
    from drats_jax import cli

    # The CPU default's warm-up and sampler window scale with N: resolved here as the run resolves them.
    n = len(metaworld_jax.resolve_tasks(args.mt10_tasks)[0])
    cfg = cli.cpu_train_config()
    cfg = cfg.replace(warmup_env_steps=cfg.resolved_warmup_env_steps(n),
                      sampler=dataclasses.replace(cfg.sampler, interval=cfg.sampler.resolved_interval(n)))
    cpu = cli.to_dict(cfg)
    if args.mt10_steps_default and cpu.get("total_env_steps"):
        args.mt10_steps = min(args.mt10_steps, int(cpu["total_env_steps"]))
    configs = mt10_configs(args)
    section = {"config": {"tasks": args.mt10_tasks, "cpu_train_config": cpu, "total_env_steps": args.mt10_steps,
                          "seeds": args.mt10_seeds, "eval_episodes": args.mt10_eval_episodes,
                          "eval_interval": mt10_eval_interval(args), "overrides": list(args.mt10_overrides),
                          "samplers": list(args.samplers), "buffer_samplings": list(args.buffer_samplings),
                          "eval_points": mt10_eval_points(args, cpu)},
               "runs": {}}
    peer_ok, peer_reason = mtsac_peer_available(args)
    section["peer"] = {"name": PEER_LABEL, "python": args.peer_mtsac_python, "ran": peer_ok,
                       "reason": None if peer_ok else peer_reason}
    jobs, runs = [], {}
    for name, run in configs.items() if not getattr(args, "mt10_peer_only", False) else ():
        slug = f"{run['sampler']}-{run['buffer_sampling']}"
        out = work / "mt10" / slug
        job = Job(f"{args.mt10_tasks} {run['sampler']} sampler, {run['buffer_sampling']} replay "
                  f"({args.mt10_seeds} seeds)", "ours-mt10", mt10_cmd(run, args, out),
                  work / "logs" / f"mt10-{slug}.log", mt10_estimate_s(args), watch=out)
        jobs.append(job)
        runs[name] = (job, out)
    points = section["config"]["eval_points"]
    peer_jobs = []
    for seed in range(args.mt10_seeds if peer_ok else 0):
        f = work / "mt10" / f"mtsac-peer-seed{seed}.jsonl"
        pj = Job(f"reference MTSAC {args.mt10_tasks} seed {seed}", "peer-mt10",
                 mtsac_peer_cmd(seed, points, cpu, args, f), work / "logs" / f"mt10-mtsac-peer-seed{seed}.log",
                 mtsac_peer_estimate_s(args, points))
        jobs.append(pj)
        peer_jobs.append((pj, f))

    def finish(section: dict) -> dict:
        names = None
        for name, (job, out) in runs.items():
            names = cv.task_names(out) or names or []
            curves = cv.our_curves(out, names)
            section["runs"][name] = {**configs[name], "job": job.record(), "config": cv.run_config(out), **curves,
                                     "timing": our_timing(job, curves["points"], args.mt10_seeds)}
        if peer_jobs:
            entry = peer_run(peer_jobs, names)
            names = names or entry.pop("task_names")
            section["runs"][PEER] = entry
            section["peer"].update(settings=entry.pop("settings"), versions=entry.pop("versions"),
                                   seeds_finished=entry["seeds"], seeds_planned=args.mt10_seeds)
        section["task_names"] = names
        section["stats"] = mt10_stats(section["runs"], names, args.reps)
        return section

    return section, jobs, finish


def peer_run(pjobs: list[tuple[Job, Path]], names: list[str] | None) -> dict:
    """The reference's entry among the runs: curves of the seeds that finished (all, unless
    --collect), per-seed timings, and its settings and versions (first summary row)."""
    done = [(pj, f) for pj, f in pjobs if pj.rc == 0]
    curves = cv.peer_mt_curves([f for _, f in done], names)
    summaries = curves.pop("summaries")
    timing = []
    for pj, _ in done:
        seed = int(pj.cmd[pj.cmd.index("--seed") + 1])
        summ = next((x for x in summaries if x["seed"] == seed), None) or {}
        at = [{"env_steps": r["env_steps"], "train_s": r["train_s"], "eval_s": r["eval_s"]}
              for r in curves["evals"] if r["seed"] == seed]
        t = {"seed": seed, "wall_s": pj.wall_s or summ.get("wall_s"), "train_s": summ.get("train_s"),
             "eval_s": summ.get("eval_s"), "setup_s": summ.get("setup_s"), "at_eval": at}
        t.update(rates(at, 1, summ.get("wall_s"), summ.get("eval_s", 0.0), summ.get("env_steps")))
        timing.append(t)
    steady = [t["env_steps_per_s_steady"] for t in timing if t.get("env_steps_per_s_steady")]
    walls = [t["wall_s"] for t in timing if t.get("wall_s")]
    first = summaries[0] if summaries else {}
    return {"sampler": "uniform (one env per task)", "buffer_sampling": "per_task", "label": PEER_LABEL,
            "job": {"jobs": [pj.record() for pj, _ in pjobs],
                    "error": "; ".join(f"{pj.name}: {pj.error}" for pj, _ in pjobs if pj.error) or None},
            **{k: v for k, v in curves.items() if k != "evals"}, "evals": curves["evals"],
            "timing": {"seeds_per_process": 1, "per_seed": timing,
                       "env_steps_per_s_steady": sum(steady) / len(steady) if steady else None,
                       "wall_s": sum(walls) / len(walls) if walls else None},
            "task_names": first.get("task_names"), "settings": first.get("peer_settings"),
            "versions": first.get("versions")}


def mt10_stats(runs: dict, names: list[str], reps: int) -> dict | None:
    """At the evaluation points all runs with results share: IQM/mean with CIs of the mean-task
    success (over seeds x tasks) and of the worst-task success (over seeds), the final point of
    both, and the final success per task (mean of seeds)."""
    import numpy as np

    done = {n: r for n, r in runs.items() if r["points"]}
    points = cv.common_points(list(done.values()))
    if not points:
        return None
    success = {n: cv.select(r, points) for n, r in done.items()}  # [seeds, tasks, points]
    worst = {n: np.nanmin(m, axis=1, keepdims=True) for n, m in success.items()}
    est_m, est_w = cv.interval_estimates(success, reps), cv.interval_estimates(worst, reps)
    return {"points": points, "runs": list(done), "success": est_m, "worst_success": est_w,
            "final": {n: {"success": cv.at(est_m[n], -1), "worst_success": cv.at(est_w[n], -1)} for n in done},
            "final_per_task": {n: {t: float(np.nanmean(m[:, i, -1])) for i, t in enumerate(names)}
                               for n, m in success.items()}}
