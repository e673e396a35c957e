"""MT10 section: the CLI's CPU-default config, every task sampler x replay sampling, seeds vmapped."""

from __future__ import annotations

from pathlib import Path

from benchmarks.learning import curves as cv
from benchmarks.learning.jobs import Job, our_timing
from benchmarks.learning.plan import mt10_cmd, mt10_configs, mt10_estimate_s, mt10_eval_interval


def run_mt10(args, work: Path) -> tuple[dict, list[Job], callable]:
    """Builds one job per configuration; returns (section skeleton, jobs, finish(section) -> section)."""
    from drats_jax import cli

    cpu = cli.to_dict(cli.cpu_train_config())
    if args.mt10_steps_default and cpu.get("total_env_steps"):
        args.mt10_steps = min(args.mt10_steps, int(cpu["total_env_steps"]))
    configs = mt10_configs(args)
    section = {"config": {"tasks": args.mt10_tasks, "cpu_train_config": cpu, "total_env_steps": args.mt10_steps,
                          "seeds": args.mt10_seeds, "eval_episodes": args.mt10_eval_episodes,
                          "eval_interval": mt10_eval_interval(args), "overrides": list(args.mt10_overrides),
                          "samplers": list(args.samplers), "buffer_samplings": list(args.buffer_samplings)},
               "runs": {}}
    jobs, runs = [], {}
    for name, run in configs.items():
        slug = f"{run['sampler']}-{run['buffer_sampling']}"
        out = work / "mt10" / slug
        job = Job(f"{args.mt10_tasks} {run['sampler']} sampler, {run['buffer_sampling']} replay "
                  f"({args.mt10_seeds} seeds)", "ours-mt10", mt10_cmd(run, args, out),
                  work / "logs" / f"mt10-{slug}.log", mt10_estimate_s(args), watch=out)
        jobs.append(job)
        runs[name] = (job, out)

    def finish(section: dict) -> dict:
        names = None
        for name, (job, out) in runs.items():
            names = cv.task_names(out) or names or []
            curves = cv.our_curves(out, names)
            section["runs"][name] = {**configs[name], "job": job.record(), "config": cv.run_config(out), **curves,
                                     "timing": our_timing(job, curves["points"], args.mt10_seeds)}
        section["task_names"] = names
        section["stats"] = mt10_stats(section["runs"], names, args.reps)
        return section

    return section, jobs, finish


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
