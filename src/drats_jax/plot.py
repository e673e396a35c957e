"""Plots and a summary table of one or more run folders.

    python -m drats_jax.plot runs/a [runs/b ...] [--out plots/]

Writes (into --out, default <first run>/plots):
  success_per_task.png   evaluation success of every task against env steps (seed mean)
  success_mean_worst.png mean and worst-task evaluation success with 95% bootstrap CIs
                         across seeds (percentile bootstrap, numpy Generator, fixed seed)
  q_heatmap_<run>.png    the sampling distribution q (seed mean) over time, tasks x env steps
  env_steps_per_task.png env steps consumed by each task at the end (seed mean, per run)
  summary.md             final metrics of every run (mean over seeds, 95% CI of mean success)
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

from drats_jax.logger import read_rows

BOOTSTRAP_SAMPLES = 2000


def bootstrap_ci(values: np.ndarray, rng: np.random.Generator, level: float = 0.95,
                 samples: int = BOOTSTRAP_SAMPLES) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` (1-D, one per seed)."""
    values = np.asarray(values, np.float64)
    if values.size < 2:
        m = float(values.mean()) if values.size else float("nan")
        return m, m
    means = values[rng.integers(0, values.size, (samples, values.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


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

    @staticmethod
    def _table(rows: list[dict], keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        steps = sorted({r["env_steps"] for r in rows})
        seeds = sorted({r["seed"] for r in rows})
        out = np.full((len(steps), len(seeds), len(keys)), np.nan)
        si, ki = {s: i for i, s in enumerate(steps)}, {s: i for i, s in enumerate(seeds)}
        for r in rows:
            out[si[r["env_steps"]], ki[r["seed"]]] = [np.nan if r.get(k) is None else r[k] for k in keys]
        return np.asarray(steps), out

    def eval_metric(self, key: str):
        steps, v = self._table(self.eval, [key])
        return steps, v[..., 0]

    def eval_tasks(self, metric: str = "success"):
        return self._table(self.eval, [f"{metric}/{t}" for t in self.tasks])

    def train_tasks(self, metric: str):
        return self._table(self.train, [f"{metric}/{t}" for t in self.tasks])


def _plt():
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def plot_success_per_task(runs: list[Run], path: pathlib.Path) -> None:
    plt = _plt()
    tasks = runs[0].tasks
    cols = min(5, len(tasks))
    rows = int(np.ceil(len(tasks) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, sharey=True)
    for run in runs:
        if not run.eval:
            continue
        steps, v = run.eval_tasks("success")
        for j, t in enumerate(run.tasks):
            if t in tasks:
                ax = axes.flat[tasks.index(t)]
                ax.plot(steps, np.nanmean(v[:, :, j], axis=1), marker=".", label=f"{run.name} ({run.sampler})")
    for j, ax in enumerate(axes.flat):
        if j < len(tasks):
            ax.set_title(tasks[j], fontsize=9)
            ax.set_ylim(-0.05, 1.05)
            ax.set_xlabel("env steps", fontsize=8)
        else:
            ax.axis("off")
    axes.flat[0].set_ylabel("eval success")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_mean_worst(runs: list[Run], path: pathlib.Path, rng: np.random.Generator) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for run in runs:
        if not run.eval:
            continue
        for ax, key in zip(axes, ("mean_success", "worst_success")):
            steps, v = run.eval_metric(key)  # [T, S]
            mean = np.nanmean(v, axis=1)
            ci = np.array([bootstrap_ci(row[np.isfinite(row)], rng) for row in v])
            line, = ax.plot(steps, mean, marker=".", label=f"{run.name} ({run.sampler}, {v.shape[1]} seeds)")
            ax.fill_between(steps, ci[:, 0], ci[:, 1], color=line.get_color(), alpha=0.2)
    for ax, title in zip(axes, ("mean success over tasks", "worst-task success")):
        ax.set_title(f"{title} (95% bootstrap CI over seeds)", fontsize=10)
        ax.set_xlabel("env steps (per seed)")
        ax.set_ylim(-0.05, 1.05)
    axes[0].set_ylabel("eval success")
    axes[0].legend(fontsize=8)
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
    ax.set_title(f"sampling distribution q over time: {run.name} ({run.sampler})", fontsize=10)
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
        ax.bar(np.arange(len(idx)) + i * width, final[idx], width, label=f"{run.name} ({run.sampler})")
    ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("env steps allocated (seed mean)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary_table(runs: list[Run], rng: np.random.Generator) -> str:
    lines = ["| run | sampler | seeds | env steps | mean success [95% CI] | worst-task success | "
             "normalised return |", "|---|---|---|---|---|---|---|"]
    for run in runs:
        if not run.eval:
            lines.append(f"| {run.name} | {run.sampler} | - | - | no evaluation yet | - | - |")
            continue
        steps, mean = run.eval_metric("mean_success")
        _, worst = run.eval_metric("worst_success")
        _, norm = run.eval_metric("normalized_return")
        lo, hi = bootstrap_ci(mean[-1][np.isfinite(mean[-1])], rng)
        lines.append(f"| {run.name} | {run.sampler} | {mean.shape[1]} | {steps[-1]:,} | "
                     f"{np.nanmean(mean[-1]):.3f} [{lo:.3f}, {hi:.3f}] | {np.nanmean(worst[-1]):.3f} | "
                     f"{np.nanmean(norm[-1]):.3f} |")
    tasks = runs[0].tasks
    lines += ["", "Final evaluation success per task (seed mean):", "",
              "| task | " + " | ".join(r.name for r in runs) + " |", "|---|" + "---|" * len(runs)]
    finals = []
    for run in runs:
        if run.eval:
            _, v = run.eval_tasks("success")
            finals.append(dict(zip(run.tasks, np.nanmean(v[-1], axis=0))))
        else:
            finals.append({})
    for t in tasks:
        lines.append(f"| {t} | " + " | ".join(f"{f[t]:.2f}" if t in f else "-" for f in finals) + " |")
    lines += ["", "Normalised return = per-task evaluation return / (episode length x 10) "
              "(= / 5000 on MetaWorld), averaged over tasks."]
    return "\n".join(lines) + "\n"


def make_plots(folders: list[pathlib.Path], out: pathlib.Path) -> list[pathlib.Path]:
    runs = [Run(f) for f in folders]
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    written = []
    if any(r.eval for r in runs):
        plot_success_per_task(runs, out / "success_per_task.png")
        plot_mean_worst(runs, out / "success_mean_worst.png", rng)
        written += [out / "success_per_task.png", out / "success_mean_worst.png"]
    for run in runs:
        if run.train:
            p = out / f"q_heatmap_{run.name}.png"
            plot_q_heatmap(run, p)
            written.append(p)
    if all(r.train for r in runs):
        plot_env_steps(runs, out / "env_steps_per_task.png")
        written.append(out / "env_steps_per_task.png")
    (out / "summary.md").write_text(summary_table(runs, rng))
    written.append(out / "summary.md")
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m drats_jax.plot", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=pathlib.Path, help="run folders (written by drats_jax.train)")
    p.add_argument("--out", type=pathlib.Path, default=None, help="output folder (default: <first run>/plots)")
    args = p.parse_args(argv)
    try:
        written = make_plots(args.runs, args.out or args.runs[0] / "plots")
    except (ValueError, OSError) as exc:
        print(f"drats_jax.plot: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    print((written[-1]).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
