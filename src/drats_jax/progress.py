"""Live progress bar (rich): env steps, env steps/s, mean / worst-task success, current q."""

from __future__ import annotations

import time
import warnings

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def format_q(q: np.ndarray, max_tasks: int = 10) -> str:
    q = np.asarray(q)
    if q.size <= max_tasks:
        return "[" + " ".join(f"{x:.2f}" for x in q) + "]"
    return f"[min {q.min():.3f} max {q.max():.3f} (task {int(q.argmax())})]"


class ProgressBar:
    def __init__(self, total: int, start: int = 0, enabled: bool = True):
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.bar = Progress(TextColumn("[bold]env steps"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=self.console,
                            disable=not enabled)
        self.task = self.bar.add_task("train", total=total, completed=start, info="compiling...")
        self._last = (time.perf_counter(), start)
        self.eval_text = ""

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)

    def set_eval(self, mean_success: float, worst_success: float) -> None:
        self.eval_text = f" | eval succ {mean_success:.2f} worst {worst_success:.2f}"

    def update(self, env_steps: int, train_success: np.ndarray, q: np.ndarray) -> None:
        """env_steps: per seed (all seeds advance together); train_success f32[S, N]; q f32[S, N]."""
        now = time.perf_counter()
        t0, s0 = self._last
        sps = (env_steps - s0) / max(now - t0, 1e-9) * train_success.shape[0]
        self._last = (now, env_steps)
        per_task = np.asarray(train_success, np.float64)  # NaN: no episode of the task in the chunk
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_t = float(np.nanmean(per_task))
            worst_t = float(np.nanmin(np.nanmean(per_task, axis=0)))
        info = (f"{sps:,.0f} sps | train succ {mean_t:.2f} worst {worst_t:.2f}{self.eval_text} "
                f"| q {format_q(np.mean(q, axis=0))}")
        self.bar.update(self.task, completed=env_steps, info=info)
