"""Metrics logs of a run folder: JSONL + CSV per stream, TensorBoard events, optional wandb.

Streams: ``train`` (one row per chunk and seed: per-task training success/return, q,
env steps per task, the learner's losses) and ``eval`` (one row per evaluation and seed: per-task
success and return, mean / worst-task success, normalised return). Files:
``<stream>.jsonl`` (source of truth, flushed per row), ``<stream>.csv`` (same rows) and
``tb/`` (tensorboardX; scalars averaged over seeds). Per-task keys are
``<metric>/<task name>``; NaN (no episode finished) is written as null / empty.

Rows carry only what the run computes (no wall-clock), so an interrupted and resumed run
writes the same files as an uninterrupted one: on resume, rows after the checkpoint's
step are dropped (:meth:`MetricsLogger.truncate`) and TensorBoard purges them too.
"""

from __future__ import annotations

import csv
import json
import math
import pathlib
from typing import Any

import numpy as np

STREAMS = ("train", "eval")


def _clean(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return None if math.isnan(v) else v
    if isinstance(v, (np.integer, int, np.bool_, bool)):
        return int(v)
    return v


def read_rows(path: pathlib.Path) -> list[dict]:
    """Rows of a JSONL file; a torn last line (killed mid-write) is skipped."""
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


class MetricsLogger:
    def __init__(self, folder: pathlib.Path, resume_step: int | None = None, use_wandb: bool = False,
                 wandb_project: str = "drats-jax", config: dict | None = None):
        self.folder = pathlib.Path(folder)
        if resume_step is not None:
            self.truncate(resume_step)
        from tensorboardX import SummaryWriter  # noqa: PLC0415

        purge = None if resume_step is None else resume_step + 1
        self.tb = SummaryWriter(str(self.folder / "tb"), purge_step=purge)
        self.wandb = None
        if use_wandb:
            import wandb  # noqa: PLC0415

            self.wandb = wandb.init(project=wandb_project, dir=str(self.folder), config=config,
                                    name=self.folder.name, id=self.folder.name, resume="allow")
        self._files = {s: open(self.folder / f"{s}.jsonl", "a") for s in STREAMS}  # noqa: SIM115

    def truncate(self, step: int) -> None:
        """Keeps only rows with env_steps <= step (rewrites JSONL and CSV)."""
        for s in STREAMS:
            rows = [r for r in read_rows(self.folder / f"{s}.jsonl") if r["env_steps"] <= step]
            with open(self.folder / f"{s}.jsonl", "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
            self._write_csv(s, rows)

    def _write_csv(self, stream: str, rows: list[dict]) -> None:
        path = self.folder / f"{stream}.csv"
        if not rows:
            path.unlink(missing_ok=True)
            return
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)

    def log(self, stream: str, env_steps: int, rows: list[dict]) -> None:
        """rows: one dict per seed (the seed index is added)."""
        rows = [{"env_steps": int(env_steps), "seed": i, **{k: _clean(v) for k, v in r.items()}}
                for i, r in enumerate(rows)]
        f = self._files[stream]
        f.writelines(json.dumps(r) + "\n" for r in rows)
        f.flush()
        self._append_csv(stream, rows)
        means = {}
        for key in rows[0]:
            if key in ("env_steps", "seed"):
                continue
            vals = [r[key] for r in rows if isinstance(r[key], (int, float))]
            if vals:
                means[f"{stream}/{key}"] = float(np.mean(vals))
        for k, v in means.items():
            self.tb.add_scalar(k, v, env_steps)
        self.tb.flush()
        if self.wandb is not None:
            self.wandb.log(means, step=int(env_steps))

    def _append_csv(self, stream: str, rows: list[dict]) -> None:
        path = self.folder / f"{stream}.csv"
        new = not path.exists()
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            if new:
                w.writeheader()
            w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


class NullLogger:
    """The logger of processes other than 0 in a multi-process run: writes nothing."""

    def log(self, stream: str, env_steps: int, rows: list[dict]) -> None:
        pass

    def close(self) -> None:
        pass


def per_seed_rows(metrics: dict[str, Any], task_names: tuple[str, ...]) -> list[dict]:
    """{name: array [S] or [S, N]} -> one flat row per seed (task arrays -> name/task keys)."""
    seeds = int(np.asarray(next(iter(metrics.values()))).shape[0])
    rows = []
    for s in range(seeds):
        row = {}
        for key, value in metrics.items():
            v = np.asarray(value)[s]
            if v.ndim == 0:
                row[key] = v.item()
            else:
                row.update({f"{key}/{t}": x.item() for t, x in zip(task_names, v)})
        rows.append(row)
    return rows
