"""The learning benchmark's jobs: one subprocess each, run a few at a time, timed from their rows."""

from __future__ import annotations

import datetime
import os
import queue
import shlex
import subprocess
import threading
import time
from pathlib import Path

from drats_jax.logger import read_rows

from benchmarks.learning.plan import REPO, log

_RUNNING: set = set()  # Popen objects of running jobs (terminated if the benchmark is interrupted)
_RUNNING_LOCK = threading.Lock()


def _terminate_all() -> None:
    with _RUNNING_LOCK:
        procs = list(_RUNNING)
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


class Job:
    """One subprocess; ``watch`` (a run folder) is polled for new JSONL rows to time chunks."""

    def __init__(self, name: str, kind: str, cmd: list[str], log: Path, estimate_s: float, watch: Path | None = None):
        self.name, self.kind, self.cmd, self.log, self.estimate_s, self.watch = name, kind, cmd, log, estimate_s, watch
        self.rc: int | None = None
        self.start = self.end = None
        self.started_at: str | None = None
        self.events: list[tuple[float, str, int]] = []  # (seconds since start, stream, env_steps)
        self.error: str | None = None
        self.cpu_s: float | None = None  # user + system CPU seconds (sampled from /proc while it runs)

    def _sample_cpu(self, pid: int) -> None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            self.cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass

    def run(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        seen: dict[str, set] = {"train": set(), "eval": set()}
        with self.log.open("w") as logf:
            logf.write("$ " + shlex.join(self.cmd) + "\n")
            logf.flush()
            self.start = time.perf_counter()
            self.started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            try:
                proc = subprocess.Popen(self.cmd, cwd=REPO, stdout=logf, stderr=subprocess.STDOUT)
            except OSError as exc:
                self.rc, self.error, self.end = -1, f"cannot start: {exc}", time.perf_counter()
                return
            with _RUNNING_LOCK:
                _RUNNING.add(proc)
            while True:
                try:
                    rc = proc.wait(timeout=0.25)
                except subprocess.TimeoutExpired:
                    rc = None
                if self.watch is not None:
                    self._poll(seen)
                if rc is not None:
                    break
                self._sample_cpu(proc.pid)
            self.end, self.rc = time.perf_counter(), rc
            with _RUNNING_LOCK:
                _RUNNING.discard(proc)
        if rc != 0:
            tail = self.log.read_text().splitlines()[-15:]
            self.error = f"exit code {rc}; log {self.log}: " + " | ".join(t.strip() for t in tail if t.strip())[-1500:]

    def _poll(self, seen: dict[str, set]) -> None:
        now = time.perf_counter() - self.start
        for stream in ("train", "eval"):
            try:
                rows = read_rows(self.watch / f"{stream}.jsonl")
            except OSError:
                continue
            for row in rows:
                try:
                    step = int(row["env_steps"])
                except (ValueError, KeyError, TypeError):
                    continue
                if step not in seen[stream]:
                    seen[stream].add(step)
                    self.events.append((now, stream, step))

    @property
    def wall_s(self) -> float | None:
        return None if self.start is None or self.end is None else self.end - self.start

    def record(self) -> dict:
        return {"name": self.name, "kind": self.kind, "cmd": shlex.join(self.cmd), "log": str(self.log), "rc": self.rc,
                "wall_s": self.wall_s, "cpu_s": self.cpu_s, "estimate_s": self.estimate_s, "error": self.error,
                "started_at": self.started_at}


def run_jobs(jobs: list[Job], slots: int) -> None:
    """Runs the jobs ``slots`` at a time, longest estimate first."""
    q: queue.Queue = queue.Queue()
    for job in sorted(jobs, key=lambda j: -j.estimate_s):
        q.put(job)
    total, done = len(jobs), [0]
    lock = threading.Lock()

    def worker():
        while True:
            try:
                job = q.get_nowait()
            except queue.Empty:
                return
            log(f"start {job.name} (estimate {job.estimate_s / 60:.1f} min)")
            job.run()
            with lock:
                done[0] += 1
                log(f"done  {job.name}: rc {job.rc}, {job.wall_s:.0f}s ({done[0]}/{total})"
                    + (f" -- {job.error}" if job.error else ""))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, slots))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.5)
    except KeyboardInterrupt:
        while not q.empty():  # nothing new starts
            q.get_nowait()
        _terminate_all()
        raise


def our_timing(job: Job, points: list[int], seeds: int) -> dict:
    """Training-time figures of one of our runs from the polled chunk/eval row times.

    train time at an eval point = time its chunk's rows appeared - eval time spent before it.
    """
    train_t = {s: t for t, stream, s in job.events if stream == "train"}
    eval_t = {s: t for t, stream, s in job.events if stream == "eval"}
    eval_s, at = 0.0, []
    for s in sorted(eval_t):
        if s in train_t:
            d = max(0.0, eval_t[s] - train_t[s])
            at.append({"env_steps": s, "train_s": train_t[s] - eval_s, "eval_s": d})
            eval_s += d
    out = {"wall_s": job.wall_s, "eval_s": eval_s, "seeds_per_process": seeds, "at_eval": at,
           "train_s": (job.wall_s - eval_s) if job.wall_s else None}
    out.update(rates(at, seeds, job.wall_s, eval_s, points[-1] if points else None))
    return out


def rates(at: list[dict], seeds: int, wall_s, eval_s, total_steps) -> dict:
    """Env steps/s of a process (all its seeds): steady (first to last eval point) and overall."""
    out = {"env_steps_per_s_steady": None, "env_steps_per_s_overall": None}
    if len(at) >= 2 and at[-1]["train_s"] > at[0]["train_s"]:
        out["env_steps_per_s_steady"] = seeds * (at[-1]["env_steps"] - at[0]["env_steps"]) / (
            at[-1]["train_s"] - at[0]["train_s"])
    if wall_s and total_steps and wall_s - eval_s > 0:
        out["env_steps_per_s_overall"] = seeds * total_steps / (wall_s - eval_s)
    return out
