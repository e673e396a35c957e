"""Plots and a summary table of one or more run folders.

    python -m drats_jax.plot runs/a [runs/b ...] [--out plots/] [--reps 2000]

Writes (into --out, default <first run>/plots):
  success_per_task.png   evaluation success of every task against env steps (seed mean)
  success_mean_worst.png IQM and mean of evaluation success over seeds x tasks, and of
                         worst-task success over seeds, with 95% stratified-bootstrap CIs
  normalized_return.png  IQM and mean, with CIs, of the DRATS paper's return normalised by
                         the best return of any compared run, and of return / 5000
  q_heatmap_<run>.png    the sampling distribution q (seed mean) over time, tasks x env steps
  env_steps_per_task.png env steps consumed by each task at the end (seed mean, per run)
  summary.md             final metrics of every run: IQM and mean [95% CI], per-task success

Statistics are rliable's (drats_jax.aggregate): IQM and mean with percentile CIs of the
stratified bootstrap over seeds, ``--reps`` resamples from a fixed seed (deterministic).

The two normalised returns:
- MetaWorld's: per-task evaluation return / (episode length x 10) (= / 5000), mean over
  tasks, logged by the run as ``normalized_return`` (one score per seed).
- The DRATS paper's: per task, return / the best return any of the runs given on the
  command line reached; scores f[seeds, tasks]. The best return of task i is the max, over
  every run, seed and evaluation point, of the per-task mean evaluation return of one
  evaluation (one seed's mean over its 50 episodes, not a seed mean): the best policy any
  run produced, as the paper normalises by the best return any method reached. So the
  score depends on which runs are compared, and the best run's best task scores 1.0. The
  return is ``return_full/<task>`` (every step of the episode, no stop at success); logs
  without it (written before it existed) fall back to ``return/<task>``, the protocol's
  return that stops at the first success, for all runs alike, and summary.md says so.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

from drats_jax import aggregate as agg
from drats_jax.logger import read_rows


class Run:
    """The logs of one run folder as arrays: [steps, seeds(, tasks)]."""

    def __init__(self, folder: pathlib.Path):
        self.folder = pathlib.Path(folder)
        config_path = self.folder / "config.json"
        if not config_path.exists():
            raise ValueError(f"{self.folder} is not a run folder (no config.json)")
        self.config = json.loads(config_path.read_text())
        self.name = self.folder.name
        self.sampler = self.config["train"]["sampler"]["name"]
        self.eval = read_rows(self.folder / "eval.jsonl")
        self.train = read_rows(self.folder / "train.jsonl")
        rows = self.eval or self.train
        if not rows:
            raise ValueError(f"{self.folder} has no logged metrics yet")
        prefix = "success/" if self.eval else "q/"
        self.tasks = [k.split("/", 1)[1] for k in rows[0] if k.startswith(prefix)]
        # every eval row has the full-length return (logs written before it existed have not)
        self.has_return_full = bool(self.eval) and all(
            f"return_full/{t}" in r for r in self.eval for t in self.tasks)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.sampler})"

    @staticmethod
    def _table(rows: list[dict], keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        steps = sorted({r["env_steps"] for r in rows})
        seeds = sorted({r["seed"] for r in rows})
        out = np.full((len(steps), len(seeds), len(keys)), np.nan)
        si, ki = {s: i for i, s in enumerate(steps)}, {s: i for i, s in enumerate(seeds)}
        for r in rows:
            out[si[r["env_steps"]], ki[r["seed"]]] = [np.nan if r.get(k) is None else r[k] for k in keys]
        return np.asarray(steps), out

    def eval_metric(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """-> (env steps i[T], values f[T, S])."""
        steps, v = self._table(self.eval, [key])
        return steps, v[..., 0]

    def eval_tasks(self, metric: str = "success", tasks: list[str] | None = None):
        """-> (env steps i[T], values f[T, S, N]) of ``metric/<task>`` (NaN where not logged)."""
        return self._table(self.eval, [f"{metric}/{t}" for t in (self.tasks if tasks is None else tasks)])

    def train_tasks(self, metric: str):
        return self._table(self.train, [f"{metric}/{t}" for t in self.tasks])


Curves = dict[Run, tuple[np.ndarray, np.ndarray]]  # run -> (env steps i[T], scores f[T, S, N])


def all_tasks(runs: list[Run]) -> list[str]:
    """Task names of all runs, in order of first appearance."""
    return list(dict.fromkeys(t for r in runs for t in r.tasks))


def return_key(runs: list[Run]) -> str:
    """``return_full`` when every evaluated run logs it, else ``return`` for all (old logs)."""
    evaluated = [r for r in runs if r.eval]
    return "return_full" if evaluated and all(r.has_return_full for r in evaluated) else "return"


def best_normalized(runs: list[Run]) -> Curves:
    """The DRATS paper's metric: per-task return / the best return of any run (see the
    module docstring) -> each evaluated run's scores f[T, S, its tasks]."""
    key, tasks = return_key(runs), all_tasks(runs)
    evaluated = [r for r in runs if r.eval]
    tables = [r.eval_tasks(key, tasks) for r in evaluated]
    best = agg.best_returns([v for _, v in tables])
    out = {}
    for run, (steps, v) in zip(evaluated, tables):
        own = [tasks.index(t) for t in run.tasks]
        out[run] = (steps, agg.normalized_by_best(v[..., own], best[own]))
    return out


def success_curves(runs: list[Run]) -> Curves:
    """Per-task success f[T, S, N] of each evaluated run."""
    return {r: r.eval_tasks("success") for r in runs if r.eval}


def worst_curves(runs: list[Run]) -> Curves:
    """Worst-task success f[T, S, 1]: the min over tasks within each seed."""
    return {r: (steps, np.min(v, axis=-1, keepdims=True)) for r, (steps, v) in success_curves(runs).items()}


def scalar_curves(runs: list[Run], key: str) -> Curves:
    """A logged per-seed scalar as scores f[T, S, 1]."""
    out = {}
    for r in (r for r in runs if r.eval):
        steps, v = r.eval_metric(key)
        out[r] = (steps, v[..., None])
    return out


def _plt():
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def plot_success_per_task(runs: list[Run], path: pathlib.Path) -> None:
    plt = _plt()
    tasks = all_tasks(runs)
    cols = min(5, len(tasks))
    rows = int(np.ceil(len(tasks) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, sharey=True)
    for run in runs:
        if not run.eval:
            continue
        steps, v = run.eval_tasks("success")
        for j, t in enumerate(run.tasks):
            axes.flat[tasks.index(t)].plot(steps, np.nanmean(v[:, :, j], axis=1), marker=".", label=run.label)
    for j, ax in enumerate(axes.flat):
        if j < len(tasks):
            ax.set_title(tasks[j], fontsize=9)
            ax.set_ylim(-0.05, 1.05)
            ax.set_xlabel("env steps", fontsize=8)
        else:
            ax.axis("off")
    axes.flat[0].set_ylabel("eval success (seed mean)")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_aggregate(panels: list[tuple[str, Curves]], path: pathlib.Path, reps: int) -> None:
    """One row per (title, curves): IQM (left) and mean (right) against env steps, each run
    with its 95% stratified-bootstrap CI band."""
    plt = _plt()
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.6 * len(panels)), squeeze=False, sharey=True)
    for row, (title, curves) in zip(axes, panels):
        for run, (steps, scores) in curves.items():
            est = agg.estimate_curve(scores, reps=reps)  # [T, 6]: iqm, lo, hi, mean, lo, hi
            for ax, (p, lo, hi), stat in zip(row, ((0, 1, 2), (3, 4, 5)), ("IQM", "mean")):
                line, = ax.plot(steps, est[:, p], marker=".", label=f"{run.label}, {scores.shape[1]} seeds")
                ax.fill_between(steps, est[:, lo], est[:, hi], color=line.get_color(), alpha=0.2)
                ax.set_title(f"{title}: {stat} (95% CI)", fontsize=9)
        for ax in row:
            ax.set_xlabel("env steps (per seed)")
            ax.set_ylim(-0.05, 1.05)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_q_heatmap(run: Run, path: pathlib.Path) -> None:
    plt = _plt()
    steps, q = run.train_tasks("q")  # [T, S, N]
    q = np.nanmean(q, axis=1).T  # [N, T]
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(run.tasks) + 1.5))
    extent = (steps[0], steps[-1], len(run.tasks) - 0.5, -0.5) if len(steps) > 1 else None
    im = ax.imshow(q, aspect="auto", interpolation="nearest", cmap="viridis", extent=extent)
    ax.set_yticks(range(len(run.tasks)), run.tasks, fontsize=8)
    ax.set_xlabel("env steps (per seed)")
    ax.set_title(f"sampling distribution q over time: {run.label}", fontsize=10)
    fig.colorbar(im, ax=ax, label="q")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_env_steps(runs: list[Run], path: pathlib.Path) -> None:
    plt = _plt()
    tasks = runs[0].tasks
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(tasks) * max(1, len(runs))), 4))
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        _, steps = run.train_tasks("task_env_steps")
        final = np.nanmean(steps[-1], axis=0)
        idx = [run.tasks.index(t) for t in tasks if t in run.tasks]
        ax.bar(np.arange(len(idx)) + i * width, final[idx], width, label=run.label)
    ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("env steps allocated (seed mean)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _ci(point: float, lo: float, hi: float) -> str:
    return f"{point:.3f} [{lo:.3f}, {hi:.3f}]"


def summary_rows(runs: list[Run]) -> list[tuple[str, str, Curves]]:
    """(metric, what one score is, curves) of every aggregate in summary.md and the plots."""
    key = return_key(runs)
    return [("mean success", "seed x task", success_curves(runs)),
            ("worst-task success", "seed", worst_curves(runs)),
            (f"{key} / best {key} of any run (DRATS)", "seed x task", best_normalized(runs)),
            ("return / (episode length x 10) (MetaWorld)", "seed", scalar_curves(runs, "normalized_return"))]


def summary_table(runs: list[Run], reps: int = agg.REPS) -> str:
    """summary.md: final evaluation of every run, IQM and mean [95% CI] of each aggregate,
    then per-task success."""
    lines = ["| run | sampler | seeds | env steps | metric | one score per | IQM [95% CI] | mean [95% CI] |",
             "|---|---|---|---|---|---|---|---|"]
    metrics = summary_rows(runs)
    for run in runs:
        if not run.eval:
            lines.append(f"| {run.name} | {run.sampler} | - | - | no evaluation yet | - | - | - |")
            continue
        for metric, unit, curves in metrics:
            steps, scores = curves[run]
            e = agg.estimate(scores[-1], reps=reps)
            lines.append(f"| {run.name} | {run.sampler} | {scores.shape[1]} | {steps[-1]:,} | {metric} | {unit} | "
                         f"{_ci(e.iqm, e.iqm_lo, e.iqm_hi)} | {_ci(e.mean, e.mean_lo, e.mean_hi)} |")
    evaluated = [r for r in runs if r.eval]
    lines += ["", "Final evaluation success per task, over seeds: IQM [95% CI] and mean [95% CI]:", "",
              "| task | " + " | ".join(f"{r.name} IQM | {r.name} mean" for r in evaluated) + " |",
              "|---|" + "---|---|" * len(evaluated)]
    per_task = []
    for run in evaluated:
        _, v = run.eval_tasks("success")
        per_task.append(dict(zip(run.tasks, agg.estimate_per_task(v[-1], reps=reps))))
    for t in all_tasks(runs):
        cells = [f"{_ci(e.iqm, e.iqm_lo, e.iqm_hi)} | {_ci(e.mean, e.mean_lo, e.mean_hi)}" if (e := d.get(t))
                 else "- | -" for d in per_task]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    key = return_key(runs)
    lines += ["", "IQM: 25%-trimmed mean over all scores (nothing trimmed from fewer than 4); CIs: 95% percentile "
              f"intervals of rliable's stratified bootstrap over seeds ({reps} resamples, fixed seed).",
              f"DRATS: per-task `{key}` / the best per-task `{key}` of any run above, over every seed and "
              "evaluation point (one seed's mean over its evaluation episodes), averaged over tasks; "
              "so each task's best evaluation of all runs scores 1.0.",
              "MetaWorld: per-task evaluation return / (episode length x 10) (= / 5000 on MetaWorld), "
              "averaged over tasks (the run's logged normalized_return)."]
    if key == "return" and evaluated:
        old = ", ".join(r.name for r in evaluated if not r.has_return_full)
        lines.append(f"Fell back to `return` (the protocol's return, stopped at the first success) for all runs: "
                     f"no `return_full` in the logs of {old} (written before it was logged).")
    return "\n".join(lines) + "\n"


def make_plots(folders: list[pathlib.Path], out: pathlib.Path, reps: int = agg.REPS) -> list[pathlib.Path]:
    runs = [Run(f) for f in folders]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if any(r.eval for r in runs):
        rows = summary_rows(runs)
        plot_success_per_task(runs, out / "success_per_task.png")
        plot_aggregate([(m, c) for m, _, c in rows[:2]], out / "success_mean_worst.png", reps)
        plot_aggregate([(m, c) for m, _, c in rows[2:]], out / "normalized_return.png", reps)
        written += [out / "success_per_task.png", out / "success_mean_worst.png", out / "normalized_return.png"]
    for run in runs:
        if run.train:
            p = out / f"q_heatmap_{run.name}.png"
            plot_q_heatmap(run, p)
            written.append(p)
    if all(r.train for r in runs):
        plot_env_steps(runs, out / "env_steps_per_task.png")
        written.append(out / "env_steps_per_task.png")
    (out / "summary.md").write_text(summary_table(runs, reps))
    written.append(out / "summary.md")
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m drats_jax.plot", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=pathlib.Path, help="run folders (written by drats_jax.train)")
    p.add_argument("--out", type=pathlib.Path, default=None, help="output folder (default: <first run>/plots)")
    p.add_argument("--reps", type=int, default=agg.REPS,
                   help=f"bootstrap resamples per CI (default {agg.REPS}; each CI costs ~0.1-0.5 s per 2000)")
    args = p.parse_args(argv)
    if args.reps < 1:
        p.error("--reps must be at least 1")
    try:
        written = make_plots(args.runs, args.out or args.runs[0] / "plots", args.reps)
    except (ValueError, OSError) as exc:
        print(f"drats_jax.plot: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    print((written[-1]).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
