"""Plots and summary table from run folders written by the logger (synthetic metrics)."""

from __future__ import annotations

import json
import pathlib

import numpy as np

from drats_jax import plot
from drats_jax.logger import MetricsLogger, per_seed_rows

TASKS = ("reach-v3", "push-v3", "door-open-v3")


def _fake_run(folder: pathlib.Path, sampler: str, seeds: int, offset: float) -> None:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"train": {"sampler": {"name": sampler}}}))
    rng = np.random.default_rng(1)
    logger = MetricsLogger(folder)
    for i, steps in enumerate((1000, 2000, 3000, 4000)):
        q = rng.dirichlet(np.ones(3), size=seeds).astype(np.float32)
        logger.log("train", steps, per_seed_rows({
            "train_success": np.full((seeds, 3), np.nan), "q": q,
            "task_env_steps": np.tile(np.array([1, 2, 3]) * steps, (seeds, 1)), "critic_loss": np.ones(seeds)},
            TASKS))
        if i % 2:
            success = np.clip(rng.uniform(0, 1, (seeds, 3)) * (i + 1) / 4 + offset, 0, 1)
            logger.log("eval", steps, per_seed_rows({
                "mean_success": success.mean(1), "worst_success": success.min(1),
                "normalized_return": success.mean(1) / 2, "success": success, "return": 5000 * success},
                TASKS))
    logger.close()


def test_plots_and_summary(tmp_path, capsys):
    _fake_run(tmp_path / "a", "drats", seeds=3, offset=0.1)
    _fake_run(tmp_path / "b", "uniform", seeds=2, offset=0.0)
    assert plot.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "p")]) == 0
    for name in ("success_per_task.png", "success_mean_worst.png", "q_heatmap_a.png", "q_heatmap_b.png",
                 "env_steps_per_task.png"):
        data = (tmp_path / "p" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
    table = (tmp_path / "p" / "summary.md").read_text()
    assert "| a | drats | 3 | 4,000 |" in table and "| b | uniform | 2 | 4,000 |" in table
    assert "| push-v3 |" in table and "/ 5000" in table
    assert "summary.md" in capsys.readouterr().out


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean():
    values = np.array([0.1, 0.4, 0.5, 0.9])
    lo, hi = plot.bootstrap_ci(values, np.random.default_rng(0))
    assert (lo, hi) == plot.bootstrap_ci(values, np.random.default_rng(0))
    assert values.min() <= lo < values.mean() < hi <= values.max()
    assert plot.bootstrap_ci(np.array([0.3]), np.random.default_rng(0)) == (0.3, 0.3)


def test_not_a_run_folder(tmp_path, capsys):
    assert plot.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("drats_jax.plot: error:") and "not a run folder" in err and "\n" not in err
