"""Single-task section: our SAC against sbx-rl's, per task; statistics and the remaining differences."""

from __future__ import annotations

from pathlib import Path

from benchmarks.learning import curves as cv
from benchmarks.learning.jobs import Job, our_timing, rates
from benchmarks.learning.plan import (SHARED, our_single_cmd, ours_single_estimate_s, parse_tasks, peer_cmd,
                                      peer_estimate_s, single_task_plan)


def peer_available(args) -> tuple[bool, str]:
    if args.no_peer:
        return False, "--no-peer given"
    p = Path(args.peer_python)
    if not p.exists():
        return False, f"{p} not found (make install-bench creates .venv-bench)"
    return True, ""


def run_single(args, work: Path) -> tuple[dict, list[Job], callable]:
    """Builds the single-task jobs; returns (section skeleton, jobs, finish(section) -> section)."""
    plans = {t: single_task_plan(t, n, args) for t, n in parse_tasks(args.tasks).items()}
    peer_ok, peer_reason = peer_available(args)
    section = {"plans": plans, "seeds": args.seeds, "eval_episodes": args.eval_episodes,
               "shared": {**SHARED, "hidden_width": args.hidden_width, "batch_size": args.batch_size,
                          "warmup_env_steps": args.warmup, "buffer": "holds the whole run",
                          "env": "metaworld v3 task, 50 goals of MT1(task, seed=env_seed), 500-step episodes, "
                                 "v2 rewards", "env_seed": args.env_seed},
               "peer": {"name": "sbx-rl SAC", "python": str(args.peer_python), "ran": peer_ok,
                        "reason": None if peer_ok else peer_reason}}
    jobs, ours_jobs, peer_jobs = [], {}, {}
    for task, plan in plans.items():
        out = work / "single" / f"ours-{task}"
        job = Job(f"ours {task} ({args.seeds} seeds)", "ours-single", our_single_cmd(plan, args, out),
                  work / "logs" / f"ours-{task}.log", ours_single_estimate_s(plan, args), watch=out)
        jobs.append(job)
        ours_jobs[task] = (job, out)
        for seed in range(args.seeds if peer_ok else 0):
            f = work / "single" / f"peer-{task}-seed{seed}.jsonl"
            pj = Job(f"sbx {task} seed {seed}", "peer-single", peer_cmd(plan, seed, args, f),
                     work / "logs" / f"peer-{task}-seed{seed}.log", peer_estimate_s(plan))
            jobs.append(pj)
            peer_jobs.setdefault(task, []).append((pj, f))

    def finish(section: dict) -> dict:
        collect_tasks(section, plans, ours_jobs, peer_jobs, args.seeds)
        ours_cfg = section["ours_config"]
        section["differences"] = differences(ours_cfg, section["peer"]["settings"])
        single_stats(section, args.reps)
        return section

    return section, jobs, finish


def collect_tasks(section: dict, plans: dict, ours_jobs: dict, peer_jobs: dict, seeds: int) -> None:
    """Fills section["tasks"] (per task: plan, our curves and timing, the peer's), "ours_config"
    and the peer's settings and versions (from its first summary row)."""
    section["tasks"], peer_summary = {}, {}
    for task, plan in plans.items():
        job, out = ours_jobs[task]
        ours = cv.our_curves(out, [task])
        section["ours_config"] = section.get("ours_config") or cv.run_config(out)
        entry = {"plan": plan, "ours": {**ours, "job": job.record(), "timing": our_timing(job, plan["eval_points"], seeds),
                                        "eval_points_match": ours["points"] == plan["eval_points"]}}
        if task in peer_jobs:
            entry["peer"], summary = _peer_entry(peer_jobs[task])
            peer_summary = peer_summary or summary
        section["tasks"][task] = entry
    section["peer"]["settings"] = peer_summary.get("peer_settings")
    section["peer"]["versions"] = peer_summary.get("versions")


def _peer_entry(pjobs: list[tuple[Job, Path]]) -> tuple[dict, dict]:
    """The peer's curves and per-seed timings of one task; (entry, the first summary row or {})."""
    pjobs = [(pj, f) for pj, f in pjobs if pj.rc == 0]  # seeds that finished (all, unless --collect)
    peer = cv.peer_curves([f for _, f in pjobs])
    timing = []
    for pj, _ in pjobs:
        seed = int(pj.cmd[pj.cmd.index("--seed") + 1])
        summ = next((x for x in peer["summaries"] if x["seed"] == seed), None) or {}
        at = [{"env_steps": r["env_steps"], "train_s": r["train_s"], "eval_s": r["eval_s"]}
              for r in peer["evals"] if r["seed"] == seed]
        t = {"seed": seed, "wall_s": pj.wall_s or summ.get("wall_s"), "seeds_per_process": 1, "at_eval": at,
             "train_s": summ.get("train_s"), "eval_s": summ.get("eval_s"), "setup_s": summ.get("setup_s")}
        t.update(rates(at, 1, summ.get("wall_s"), summ.get("eval_s", 0.0), summ.get("env_steps")))
        timing.append(t)
    entry = {**{k: v for k, v in peer.items() if k != "summaries"}, "jobs": [pj.record() for pj, _ in pjobs],
             "timing": timing}
    return entry, (peer["summaries"][0] if peer["summaries"] else {})


def single_stats(section: dict, reps: int) -> None:
    """Per task and point: IQM/mean with CIs of both learners and ours against the peer's CI."""
    import numpy as np

    verdicts, final = [], {"ours": [], "peer": []}
    for task, entry in section["tasks"].items():
        ours, peer = entry["ours"], entry.get("peer")
        if not ours["points"]:
            entry["stats"] = None
            continue
        has_peer = bool(peer and peer["points"])
        points = cv.common_points([ours, peer]) if has_peer else ours["points"]
        scores = {"ours": cv.select(ours, points), **({"peer": cv.select(peer, points)} if has_peer else {})}
        est = cv.interval_estimates(scores, reps)
        rows = []
        for i, p in enumerate(points):
            row = {"env_steps": p}
            for name in scores:
                row[name] = {**cv.at(est[name], i), "per_seed": [float(x) for x in scores[name][:, 0, i]]}
            if has_peer:
                row["ours_vs_peer_ci"] = {m: cv.verdict(row["ours"][m], row["peer"][f"{m}_ci"])
                                          for m in ("iqm", "mean")}
                verdicts.append({"task": task, "env_steps": p, **row["ours_vs_peer_ci"]})
            rows.append(row)
        entry["stats"] = {"points": points, "rows": rows}
        if has_peer and points:
            for name in final:
                final[name].append(scores[name][:, :, -1:])
    section["verdicts"] = verdicts
    for m in ("iqm", "mean"):
        section[f"verdict_counts_{m}"] = {v: sum(1 for x in verdicts if x[m] == v)
                                          for v in ("above", "within", "below")}
    section["all_points_within_or_above"] = bool(verdicts) and all(v["iqm"] != "below" for v in verdicts)
    add_differences(section, reps)
    # Final points of all tasks together (runs stratified by task).
    if final["ours"] and len({a.shape[0] for a in final["ours"] + final["peer"]}) == 1:
        est = cv.interval_estimates({n: np.concatenate(a, 1) for n, a in final.items()}, reps)
        section["final_all_tasks"] = {n: cv.at(est[n], 0) for n in final}


def add_differences(section: dict, reps: int) -> dict:
    """Ours - peer mean success per point with its CI (curves.difference, from the per-seed
    values of each row), into rows, verdicts and ``difference_counts``. Also fills results
    written before this statistic existed (the report calls it on them). Returns section."""
    gaps = {}
    for task, entry in section["tasks"].items():
        for row in (entry.get("stats") or {}).get("rows", []):
            if row.get("peer"):
                row["difference"] = cv.difference(row["ours"]["per_seed"], row["peer"]["per_seed"], reps)
                gaps[(task, row["env_steps"])] = row["difference"]["gap"]
    for v in section.get("verdicts") or []:
        v["difference"] = gaps.get((v["task"], v["env_steps"]))
    section["difference_counts"] = {g: sum(1 for x in gaps.values() if x == g)
                                    for g in ("ours behind", "no gap detected", "ours ahead")}
    return section


# ----------------------------------------------------------------------------- differences


def optimizer_clipping(cfg: dict) -> dict:
    """Which of our three optimizers clip gradients, read off the optimizer states make_sac builds."""
    try:
        import jax.numpy as jnp
        import optax

        from drats_jax import cli
        from drats_jax.agents.sac.update import make_sac
        from drats_jax.config import SACConfig

        agent = make_sac(cli.from_dict(SACConfig, cfg["train"]["sac"]), 1, 39, 4)
        out = {}
        for name in ("actor_tx", "critic_tx", "alpha_tx"):
            state = getattr(agent, name).init(jnp.zeros(3))
            out[name] = isinstance(state, tuple) and len(state) > 0 and isinstance(state[0], optax.EmptyState)
        return out
    except Exception as exc:  # noqa: BLE001 - informative only
        return {"error": f"{type(exc).__name__}: {exc}"}


def _our_init(scheme: str | None) -> str:
    """The run's ``sac.init_scheme`` in words (runs before the option: "reference")."""
    if scheme == "lecun":
        return "lecun: flax defaults, LeCun-normal kernels, zero biases (output layers too)"
    try:
        from drats_jax.agents import common

        return (f"reference: He-uniform hidden kernels, zero biases; output layers U(+-{common.ACTOR_HEAD_SCALE:g}) "
                f"actor, U(+-{common.CRITIC_HEAD_SCALE:g}) critic")
    except (ImportError, AttributeError):
        return "see drats_jax/agents/common.py"


def differences(ours_cfg: dict | None, peer_settings: dict | None) -> list[dict]:
    """What still differs between the two learners (besides the shared settings)."""
    train = (ours_cfg or {}).get("train", {})
    sac = train.get("sac", {})
    peer = peer_settings or {}
    clip = optimizer_clipping(ours_cfg) if ours_cfg else {}
    mgn = sac.get("max_grad_norm")

    def clipped(name):
        if "error" in clip or name not in clip:
            return f"max_grad_norm {mgn} (per the config)"
        return f"global norm <= {mgn}" if clip[name] else "none"

    lo, hi = peer.get("log_std_bounds", [-20.0, 2.0])
    rows = [
        ("gradient-norm clipping (actor / critics / temperature)",
         f"{clipped('actor_tx')} / {clipped('critic_tx')} / {clipped('alpha_tx')}", "none / none / none (optax.adam)"),
        ("Adam epsilon", f"{sac.get('adam_eps', 1e-8):g}",
         f"{1e-8:g} (optax default; optimizer_kwargs {peer.get('optimizer_kwargs', {}) or '{}'})"),
        ("actor log-std bounds", f"clip to [{sac.get('log_std_min')}, {sac.get('log_std_max')}]",
         f"clip to [{lo:g}, {hi:g}]"),
        ("actor output layer", "one Dense giving mean and log-std", "two Dense heads (mean, log-std)"),
        ("initialisers", _our_init(sac.get("init_scheme")),
         "flax defaults: LeCun-normal kernels, zero biases (output layers too)"),
        ("critic ensemble", "two separate Q networks", "nn.vmap over 2 critics"),
        ("log-prob of the squashed action", "closed form from the pre-tanh sample",
         "tfp TransformedDistribution(Tanh), log_prob of the sampled action"),
        ("task one-hot appended to the observation", "yes (1 task: a constant 1)", "no"),
        ("observation precision", "float32 (env float64 physics, obs cast)",
         "float64 in the replay buffer, float32 in the networks"),
        ("first gradient step", "after warm-up: one per env step from step warmup+1",
         "SB3: trains once num_timesteps > learning_starts (one fewer step in total)"),
        ("evaluation timing", "at a chunk boundary = the eval step, after its gradient step",
         "SB3 callback right after that env step, before its gradient step"),
        ("replay buffer sampling", f"{train.get('buffer_sampling')}, with replacement, on device",
         "uniform over stored transitions (SB3 ReplayBuffer, numpy)"),
        ("goal draws during training", "one of the 50 goals uniformly per episode (JAX PRNG)",
         "one of the 50 goals uniformly per episode (metaworld's RandomTaskSelectWrapper, env generator "
         "re-seeded per seed)"),
        ("seeds", "split(PRNGKey(0), S)[s], vmapped in one process", "seed s, one process each"),
    ]
    return [{"what": w, "ours": o, "peer": p} for w, o, p in rows]
