"""Run folders and peer JSONL files -> success curves; rliable statistics over seeds."""

from __future__ import annotations

import json
from pathlib import Path

from drats_jax.logger import read_rows


def _get(row: dict | None, key: str) -> float:
    v = (row or {}).get(key)
    return float("nan") if v is None else float(v)


def our_curves(run: Path, task_names: list[str]) -> dict:
    """eval.jsonl -> {points, seeds, success[seed][task][point], return[...], mean_success[seed][point], worst...}."""
    rows = read_rows(run / "eval.jsonl")
    points = sorted({r["env_steps"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    by = {(r["seed"], r["env_steps"]): r for r in rows}

    def table(key):
        return [[_get(by.get((s, p)), key) for p in points] for s in seeds]

    return {"points": points, "seeds": seeds,
            "success": [[[_get(by.get((s, p)), f"success/{t}") for p in points] for t in task_names] for s in seeds],
            "return": [[[_get(by.get((s, p)), f"return/{t}") for p in points] for t in task_names] for s in seeds],
            "mean_success": table("mean_success"), "worst_success": table("worst_success")}


def _peer_rows(files: list[Path]) -> tuple[dict, list[dict]]:
    """A peer script's JSONL files -> ({(seed, env_steps): eval row}, summary rows)."""
    evals, summaries = {}, []
    for f in files:
        for r in read_rows(f):
            if r.get("kind") == "eval":
                evals[(r["seed"], r["env_steps"])] = r
            elif r.get("kind") == "summary":
                summaries.append(r)
    return evals, summaries


def peer_curves(files: list[Path]) -> dict:
    """sbx_sac.py JSONL files (one per seed) -> curves shaped like ours (one task), evals, summaries."""
    evals, summaries = _peer_rows(files)
    points = sorted({p for _, p in evals})
    seeds = sorted({s for s, _ in evals})
    return {"points": points, "seeds": seeds,
            "success": [[[_get(evals.get((s, p)), "success") for p in points]] for s in seeds],
            "return": [[[_get(evals.get((s, p)), "return") for p in points]] for s in seeds],
            "evals": sorted(evals.values(), key=lambda r: (r["seed"], r["env_steps"])), "summaries": summaries}


def peer_mt_curves(files: list[Path], task_names: list[str] | None) -> dict:
    """mtsac_peer.py JSONL files (one per seed) -> multi-task curves shaped like ours, evals, summaries.

    Task names: ``task_names`` (ours, to align the order) or the first eval row's."""
    evals, summaries = _peer_rows(files)
    points = sorted({p for _, p in evals})
    seeds = sorted({s for s, _ in evals})
    names = task_names or (list(next(iter(evals.values()))["success"]) if evals else [])

    def cell(s, p, key, t=None):
        row = evals.get((s, p)) or {}
        return _get(row.get(key), t) if t is not None else _get(row, key)

    return {"points": points, "seeds": seeds,
            "success": [[[cell(s, p, "success", t) for p in points] for t in names] for s in seeds],
            "return": [[[cell(s, p, "return", t) for p in points] for t in names] for s in seeds],
            "mean_success": [[cell(s, p, "mean_success") for p in points] for s in seeds],
            "worst_success": [[cell(s, p, "worst_success") for p in points] for s in seeds],
            "evals": sorted(evals.values(), key=lambda r: (r["seed"], r["env_steps"])), "summaries": summaries}


def run_config(run: Path) -> dict | None:
    try:
        return json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        return None


def task_names(run: Path) -> list[str] | None:
    """Task names of a run, in its order (the success/<task> keys of its first eval row)."""
    rows = read_rows(run / "eval.jsonl")
    return [k.split("/", 1)[1] for k in rows[0] if k.startswith("success/")] if rows else None


def select(curves: dict, points: list[int]):
    """success at these points: f64[seeds, tasks, points]."""
    import numpy as np

    idx = [curves["points"].index(p) for p in points]
    return np.asarray(curves["success"], float)[:, :, idx]


def common_points(curves: list[dict]) -> list[int]:
    """Evaluation points every one of the curves has, in the first one's order."""
    if not curves:
        return []
    return [p for p in curves[0]["points"] if all(p in c["points"] for c in curves[1:])]


def interval_estimates(scores: dict, reps: int) -> dict:
    """scores {name: f[runs, tasks, points]} -> {name: {iqm, iqm_ci, mean, mean_ci}}, one entry per point.

    drats_jax.aggregate (rliable): IQM and mean over runs x tasks, 95% percentile CIs of the
    stratified bootstrap (runs resampled within each task), drawn from a fixed-seed Generator."""
    import numpy as np

    from drats_jax import aggregate

    out = {}
    for name, s in scores.items():
        curve = aggregate.estimate_curve(np.transpose(np.asarray(s, float), (2, 0, 1)), reps=reps)
        out[name] = {"iqm": [float(r[0]) for r in curve], "iqm_ci": [[float(r[1]), float(r[2])] for r in curve],
                     "mean": [float(r[3]) for r in curve], "mean_ci": [[float(r[4]), float(r[5])] for r in curve]}
    return out


def at(est: dict, i: int) -> dict:
    """One point of an interval_estimates entry: {iqm, iqm_ci, mean, mean_ci}."""
    return {k: est[k][i] for k in ("iqm", "iqm_ci", "mean", "mean_ci")}


def difference(ours, peer, reps: int, seed: int = 0) -> dict:
    """Mean success of ours minus the peer's at one point, with a 95% percentile CI from a
    bootstrap that resamples each side's seeds independently (f[runs] each; fixed-seed
    Generator). Unlike "ours inside the peer's CI" it carries both sides' seed noise, so a
    peer CI of zero width (all its seeds equal) does not make a tiny gap look significant.
    gap: "ours behind" if the CI is below 0, "ours ahead" if above, else "no gap detected"."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a, b = np.asarray(ours, float), np.asarray(peer, float)
    diffs = (rng.choice(a, (reps, a.size)).mean(1) - rng.choice(b, (reps, b.size)).mean(1))
    lo, hi = (float(x) for x in np.percentile(diffs, [2.5, 97.5]))
    gap = "ours behind" if hi < 0 else "ours ahead" if lo > 0 else "no gap detected"
    return {"mean": float(a.mean() - b.mean()), "ci": [lo, hi], "gap": gap}


def verdict(value: float, ci: list[float], tol: float = 1e-9) -> str:
    lo, hi = ci
    if value > hi + tol:
        return "above"
    if value < lo - tol:
        return "below"
    return "within"
