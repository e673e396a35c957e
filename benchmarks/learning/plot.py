"""The learning benchmark's figure: single-task curves, MT10 curves and per-task success, throughput."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import pyplot, save_figure
from benchmarks.learning.plan import log, mt10_label

COLORS = {"ours": "C0", "peer": "C3", "drats": "C2", "uniform": "C1"}
REPLAY_STYLE = {"uniform": ("o", "-"), "per_task": ("s", "--")}  # marker, line style per replay sampling


def _single_panel(ax, task: str, entry: dict, seeds, peer_label: str = "sbx-rl SAC") -> None:
    st = entry.get("stats")
    for name, label in (("ours", "ours (drats_jax)"), ("peer", peer_label)):
        curves = entry.get(name)
        if not curves or not curves.get("points"):
            continue
        for s in range(len(curves["success"])):
            ax.plot(curves["points"], curves["success"][s][0], color=COLORS[name], alpha=0.25, lw=0.8)
        if st and st["rows"] and name in st["rows"][0]:
            iqm = [r[name]["iqm"] for r in st["rows"]]
            lo, hi = zip(*(r[name]["iqm_ci"] for r in st["rows"]))
            ax.plot(st["points"], iqm, "o-", color=COLORS[name], label=f"{label} IQM")
            ax.fill_between(st["points"], lo, hi, color=COLORS[name], alpha=0.2)
    ax.set_title(f"{task} ({seeds} seeds)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("eval success (50 goals)")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=7)


def _run_color(run: dict):
    """The reference MTSAC (a run with its own label) in the peer's colour, ours by sampler."""
    return COLORS["peer"] if run.get("label") else COLORS.get(run["sampler"])


def _mt10_curves(ax, mt10: dict, key: str, what: str) -> None:
    st, runs = mt10.get("stats"), mt10.get("runs") or {}
    suite = (mt10.get("config") or {}).get("tasks", "mt10")
    suite = "MT10" if suite == "mt10" else suite
    c = mt10["config"]
    ax.set_title(f"{suite} {what}, IQM and 95% CI\nCLI CPU-default config, first {c['total_env_steps']:,} env steps, "
                 f"{c['seeds']} seeds", fontsize=8)
    ax.set_xlabel("env steps (all tasks)")
    ax.set_ylabel(f"eval {what}")
    ax.set_ylim(-0.03, 1.03)
    if not st:
        ax.text(0.5, 0.5, "no result", ha="center", va="center", transform=ax.transAxes)
        return
    for name, est in st[key].items():
        run = runs[name]
        marker, ls = REPLAY_STYLE.get(run["buffer_sampling"], ("^", ":"))
        color = _run_color(run)
        ax.plot(st["points"], est["iqm"], marker=marker, ls=ls, color=color, label=mt10_label(run))
        ax.fill_between(st["points"], *zip(*est["iqm_ci"]), color=color, alpha=0.12)
    ax.legend(fontsize=7)


def _mt10_per_task(ax, mt10: dict) -> None:
    st, runs = mt10.get("stats"), mt10.get("runs") or {}
    if not st:
        ax.axis("off")
        return
    names = mt10.get("task_names") or []
    width = 0.8 / max(1, len(st["final_per_task"]))
    for k, (name, per_task) in enumerate(st["final_per_task"].items()):
        run = runs[name]
        ax.bar([i + k * width for i in range(len(names))], [per_task[t] for t in names], width,
               color=_run_color(run), hatch="//" if run["buffer_sampling"] == "per_task" else None,
               edgecolor="white", label=mt10_label(run))
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))])
    ax.set_xticklabels([t.replace("-v3", "") for t in names], rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=6)
    ax.set_title(f"final success per task (mean of seeds, {st['points'][-1]:,} env steps)", fontsize=8)


def _throughput(ax, result: dict) -> None:
    labels, vals, cols = [], [], []
    for task, entry in ((result.get("single") or {}).get("tasks") or {}).items():
        for name in ("ours", "peer"):
            t = (entry.get(name) or {}).get("timing")
            timings = t if isinstance(t, list) else [t] if t else []
            found = [x["env_steps_per_s_steady"] for x in timings if x.get("env_steps_per_s_steady")]
            if found:
                per_proc = timings[0]["seeds_per_process"]
                labels.append(f"{'ours' if name == 'ours' else 'sbx'} {task.replace('-v3', '')} ({per_proc} seed/proc)")
                vals.append(sum(found) / len(found))
                cols.append(COLORS[name])
    for name, run in ((result.get("mt10") or {}).get("runs") or {}).items():
        v = (run.get("timing") or {}).get("env_steps_per_s_steady")
        if v:
            labels.append(f"mt10 {name}" + (" (1 seed/proc)" if run.get("label") else ""))
            vals.append(v)
            cols.append(_run_color(run) or "C5")
    if vals:
        ax.barh(labels, vals, color=cols)
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:,.0f}", va="center", fontsize=7)
        ax.margins(x=0.25)
    ax.set_xlabel("env steps/s per process (all its seeds; eval excluded)")
    ax.set_title(f"throughput ({result['config']['jobs']} jobs at a time)")
    ax.tick_params(axis="y", labelsize=7)


def plot_ppo(result: dict, path: Path, plt) -> Path | None:
    """The PPO section's figure: per task, ours vs SB3 PPO success curves (seeds thin, IQM and CI)."""
    ppo = result["ppo"]
    tasks = list((ppo.get("tasks") or {}).items())
    fig, axes = plt.subplots(1, max(1, len(tasks)), figsize=(4.6 * max(1, len(tasks)), 4.2), squeeze=False)
    for j, (task, entry) in enumerate(tasks):
        _single_panel(axes[0, j], f"PPO {task}", entry, ppo.get("seeds"), "stable-baselines3 PPO")
    return save_figure(fig, path, f"drats-jax learning benchmark, PPO{' (quick)' if result['config'].get('quick') else ''}"
                       f", {result['machine']['cpu_count']} CPUs, {result['date']}")


def plot(result: dict, path: Path) -> Path | None:
    plt = pyplot(log)
    if plt is None:
        return None
    single, mt10 = result.get("single") or {}, result.get("mt10") or {}
    if result.get("ppo") and not (single or mt10):
        return plot_ppo(result, path, plt)
    tasks = list((single.get("tasks") or {}).items())
    ncols = max(4, len(tasks))
    fig, axes = plt.subplots(2, ncols, figsize=(4.6 * ncols, 8.2), squeeze=False)
    for j, (task, entry) in enumerate(tasks):
        _single_panel(axes[0, j], task, entry, single.get("seeds"))
    for ax in axes[0, len(tasks):]:
        ax.axis("off")
    if mt10:
        _mt10_curves(axes[1, 0], mt10, "success", "mean-task success")
        _mt10_curves(axes[1, 1], mt10, "worst_success", "worst-task success")
        _mt10_per_task(axes[1, 2], mt10)
    else:
        for ax in axes[1, :3]:
            ax.axis("off")
        axes[1, 0].text(0.5, 0.5, "multi-task section not run", ha="center", va="center")
    _throughput(axes[1, 3], result)
    for ax in axes[1, 4:]:
        ax.axis("off")
    return save_figure(fig, path, f"drats-jax learning benchmark{' (quick)' if result['config'].get('quick') else ''}, "
                       f"{result['machine']['cpu_count']} CPUs, {result['date']}")
