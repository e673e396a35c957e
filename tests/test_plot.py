"""Plots and summary table from run folders written by the logger (synthetic metrics), and
the rliable aggregates behind them (drats_jax.aggregate)."""

from __future__ import annotations

import json
import pathlib

import numpy as np

from drats_jax import aggregate as agg
from drats_jax import plot
from drats_jax.logger import MetricsLogger, per_seed_rows

TASKS = ("reach-v3", "push-v3", "door-open-v3")
PNGS = ("success_per_task.png", "success_mean_worst.png", "normalized_return.png", "q_heatmap_a.png",
        "q_heatmap_b.png", "env_steps_per_task.png")


def _fake_run(folder: pathlib.Path, sampler: str, seeds: int, offset: float, full: bool = True) -> None:
    """Evaluations at 2000 and 4000 env steps; return_full = 5000 x success + 100 (if full)."""
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
            metrics = {"mean_success": success.mean(1), "worst_success": success.min(1),
                       "normalized_return": success.mean(1) / 2, "success": success, "return": 2500 * success}
            if full:
                metrics.update(normalized_return_full=success.mean(1) + 0.02, return_full=5000 * success + 100)
            logger.log("eval", steps, per_seed_rows(metrics, TASKS))
    logger.close()


def _check_pngs(folder: pathlib.Path) -> None:
    for name in PNGS:
        data = (folder / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name


def test_plots_and_summary(tmp_path, capsys):
    _fake_run(tmp_path / "a", "drats", seeds=3, offset=0.1)
    _fake_run(tmp_path / "b", "uniform", seeds=2, offset=0.0)
    assert plot.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "p"), "--reps", "200"]) == 0
    _check_pngs(tmp_path / "p")
    table = (tmp_path / "p" / "summary.md").read_text()
    assert "| a | drats | 3 | 4,000 | mean success | seed x task |" in table
    assert "| b | uniform | 2 | 4,000 | worst-task success | seed |" in table
    assert "return_full / best return_full of any run (DRATS)" in table and "Fell back" not in table
    assert "| push-v3 |" in table and "/ 5000" in table and "stratified bootstrap" in table
    assert "summary.md" in capsys.readouterr().out


def test_estimates_bracket_the_point_are_deterministic_and_leave_global_rng_alone():
    scores = np.random.default_rng(3).uniform(0, 1, (5, 4))
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    e = agg.estimate(scores, reps=500)
    assert e == agg.estimate(scores, reps=500)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # never the global RNG
    assert e.iqm_lo <= e.iqm <= e.iqm_hi and e.mean_lo < e.mean < e.mean_hi
    np.testing.assert_allclose(e.mean, scores.mean())
    np.testing.assert_allclose(e.iqm, np.sort(scores.ravel())[5:15].mean())  # 20 scores: drop 5 each end
    assert e != agg.estimate(scores, seed=1, reps=500)  # the seed is the only randomness
    # one seed: nothing to resample; a NaN seed is left out
    assert agg.estimate(scores[:1]).mean_lo == agg.estimate(scores[:1]).mean_hi == scores[0].mean()
    with_nan = np.vstack([scores, np.full((1, 4), np.nan)])
    assert agg.estimate(with_nan, reps=500) == e


def test_per_task_estimates_equal_one_bootstrap_per_task():
    scores = np.random.default_rng(4).uniform(0, 1, (6, 3))
    per_task = agg.estimate_per_task(scores, reps=500)
    for j, e in enumerate(per_task):
        np.testing.assert_allclose(e.mean, scores[:, j].mean())
        assert e.mean_lo < e.mean < e.mean_hi and e.iqm_lo <= e.iqm <= e.iqm_hi
        alone = agg.estimate(scores[:, j:j + 1], reps=4000)
        # same statistics; intervals agree up to bootstrap noise
        np.testing.assert_allclose(e.iqm, alone.iqm)
        np.testing.assert_allclose([e.mean_lo, e.mean_hi], [alone.mean_lo, alone.mean_hi], atol=0.08)


def test_normalisation_by_the_best_return_of_any_run(tmp_path):
    _fake_run(tmp_path / "a", "drats", seeds=3, offset=0.1)
    _fake_run(tmp_path / "b", "uniform", seeds=2, offset=0.0)
    runs = [plot.Run(tmp_path / "a"), plot.Run(tmp_path / "b")]
    assert plot.return_key(runs) == "return_full"
    scores = plot.best_normalized(runs)
    returns = {r: r.eval_tasks("return_full")[1] for r in runs}
    best = np.max([v.max(axis=(0, 1)) for v in returns.values()], axis=0)  # per task
    for r in runs:
        np.testing.assert_allclose(scores[r][1], returns[r] / best)
    top = np.max([s.max(axis=(0, 1)) for _, s in scores.values()], axis=0)
    np.testing.assert_allclose(top, 1.0)  # every task's best evaluation of any run scores 1
    # the normaliser depends on who is compared: b alone is its own best
    alone = plot.best_normalized(runs[1:])[runs[1]][1]
    np.testing.assert_allclose(alone.max(axis=(0, 1)), 1.0)
    assert np.all(alone >= scores[runs[1]][1])


def test_old_logs_without_return_full_still_plot(tmp_path):
    _fake_run(tmp_path / "a", "drats", seeds=3, offset=0.1)
    _fake_run(tmp_path / "b", "uniform", seeds=2, offset=0.0, full=False)
    runs = [plot.Run(tmp_path / "a"), plot.Run(tmp_path / "b")]
    assert runs[0].has_return_full and not runs[1].has_return_full
    assert plot.return_key(runs) == "return"  # one metric for all runs, never mixed
    scores = plot.best_normalized(runs)
    ret = runs[1].eval_tasks("return")[1]
    best = np.maximum(runs[0].eval_tasks("return")[1].max(axis=(0, 1)), ret.max(axis=(0, 1)))
    np.testing.assert_allclose(scores[runs[1]][1], ret / best)
    assert plot.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "p"), "--reps", "100"]) == 0
    _check_pngs(tmp_path / "p")
    table = (tmp_path / "p" / "summary.md").read_text()
    assert "return / best return of any run (DRATS)" in table
    assert "Fell back to `return`" in table and "no `return_full` in the logs of b" in table


def test_not_a_run_folder(tmp_path, capsys):
    assert plot.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("drats_jax.plot: error:") and "not a run folder" in err and "\n" not in err
