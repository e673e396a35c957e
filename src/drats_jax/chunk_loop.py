"""The driver's loop over chunks: log, checkpoint, evaluate, stop on NaN or on a signal.

Preemption (SIGTERM/SIGINT, :class:`drats_jax.safety.StopRequest`) must end with a saved
checkpoint within a cluster's grace period (often 30 s), so the loop never makes a stop wait
for long work:

- Saving comes first at every chunk boundary; a due evaluation runs after it, and a stop
  request drops it (in a one-process run): the resumed run runs an evaluation that its
  checkpoint's step lacks (:func:`missing_evaluation`), whether a stop or a kill took it.
- The warm-up and every chunk run on a worker thread while the main thread polls, so a signal
  is handled while they run (and while they compile): with host callbacks (the C MuJoCo
  backend) a jitted call returns only when its computation has finished, which would hold
  Python's signal handlers for a whole chunk. When the learner's chunk does not donate its
  input state (PPO, whose chunk is a whole rollout plus its epochs and whose state is small)
  and the run is one process, the state the chunk started from is saved at once and the chunk
  is abandoned: the resumed run redoes it exactly. Otherwise (SAC, whose chunk donates the
  replay ring; multi-process runs, whose processes must save the same step) the stop waits for
  the chunk's end, which ``chunk_length`` bounds.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import jax
import numpy as np

from drats_jax.safety import Diverged, StopRequest, first_nonfinite

# Seconds between two looks at a running chunk (and at the stop flag).
POLL_S = 0.05


def due(env_steps: int, per_chunk: int, interval: int) -> bool:
    """True at the first chunk boundary at or after each multiple of ``interval`` env steps."""
    return interval > 0 and env_steps // interval > (env_steps - per_chunk) // interval


def call(worker: ThreadPoolExecutor, fn: Callable, arg: Any, stop: StopRequest, may_abandon: bool):
    """fn(arg) (a jitted call) computed on ``worker`` while this thread polls; its outputs, or
    None when a stop request came first and ``may_abandon`` (the caller then saves ``arg``)."""
    future = worker.submit(lambda: jax.block_until_ready(fn(arg)))
    while True:
        if may_abandon and stop.requested:
            return None
        if future.done():
            return future.result()
        time.sleep(POLL_S)


def host_copy(state: Any) -> Any:
    """numpy copies of a state's (ready) arrays: saving them starts no device computation, which
    would queue behind the chunk still running on the device."""
    return jax.tree.map(np.asarray, state)


def missing_evaluation(out, env_steps: int) -> bool:
    """Whether eval.jsonl has no row at ``env_steps``."""
    from drats_jax.logger import read_rows  # noqa: PLC0415

    return all(r["env_steps"] != env_steps for r in read_rows(out / "eval.jsonl"))


def run_chunks(p: Any, logger: Any, stop: StopRequest, log: Callable[[str], None], evaluate: Callable,
               keys: jax.Array) -> tuple[int, bool]:
    """Warm-up (unless resumed), then chunks until the end or a stop request. Returns (env steps
    per seed reached, whether a running chunk was abandoned: the process should exit without
    waiting for it)."""
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drats-chunk")
    abandoned = False
    try:
        env_steps, abandoned = _run(p, logger, stop, log, evaluate, keys, worker)
    finally:
        worker.shutdown(wait=not abandoned)
    return env_steps, abandoned


def _run(p, logger, stop, log, evaluate, keys, worker) -> tuple[int, bool]:
    """run_chunks' loop (its worker thread made and shut down around it)."""
    from drats_jax import evaluate as evaluation  # noqa: PLC0415
    from drats_jax import processes  # noqa: PLC0415
    from drats_jax.logger import per_seed_rows  # noqa: PLC0415
    from drats_jax.progress import ProgressBar  # noqa: PLC0415

    cfg, trainer, env, ckpt = p.cfg, p.trainer, p.env, p.checkpointer
    names = tuple(env.task_names)
    e, per_chunk = trainer.num_envs, trainer.env_steps_per_chunk
    init, warmup, chunk = trainer.jitted(cfg.seeds)
    scale = evaluation.return_scale(env)
    may_abandon = not trainer.donate_chunk and processes.process_count() == 1

    def save(env_steps: int, state) -> None:
        if ckpt.latest_step() != env_steps:  # (a stop at a step the interval had saved)
            ckpt.save(env_steps, state)
        if stop.requested:
            log(f"checkpoint at {env_steps:,} env steps saved {time.monotonic() - stop.at:.1f} s after "
                f"{stop.requested}")

    def run_evaluation(state, env_steps: int, bar):
        """Evaluates and logs -> the state (the training program evaluates on slots of the
        state's own: trainer.evaluator), or None (nothing logged) when a stop request came
        first in a one-process run: the checkpoint is saved and the resumed run evaluates."""
        out = call(worker, evaluate, state, stop, processes.process_count() == 1)
        if out is None:
            return None
        state, result = out
        result = processes.fetch(result)
        summary = evaluation.summarize(result, scale)
        logger.log("eval", env_steps, per_seed_rows({**summary, **result}, names))
        bar.set_eval(float(np.mean(summary["mean_success"])), float(np.mean(summary["worst_success"])))
        return state

    if p.resumed is not None:
        # On a mesh it was restored sharded in place (device_put of arrays spanning other processes fails).
        state = p.resumed[1] if trainer.mesh is not None else jax.device_put(p.resumed[1])
        log(f"resumed {p.out} at {p.resumed[0]:,} env steps per seed")
    else:
        state, _ = call(worker, warmup, init(keys), stop, False)
        if stop.requested:
            save(trainer.warmup_steps * e, state)
            return trainer.warmup_steps * e, False
    done = (int(processes.fetch(state.step).reshape(-1)[0]) - trainer.warmup_steps) // trainer.chunk_length
    env_steps = (trainer.warmup_steps + done * trainer.chunk_length) * e
    # Tests set this to signal the run at a deterministic point: "SIGKILL:1400" / "SIGTERM:1400"
    # after the chunk that reaches 1400 env steps, "SIGTERM:1400:mid" while the chunk that
    # starts at 1400 runs (a signal from outside races with how fast a tiny run finishes).
    test_signal = os.environ.get("DRATS_JAX_TEST_SIGNAL_AT")
    with ProgressBar(trainer.total_env_steps, env_steps, enabled=cfg.progress and processes.is_primary()) as bar:
        if done > 0 and (done == trainer.num_chunks or due(env_steps, per_chunk, cfg.eval_interval)) and \
                missing_evaluation(p.out, env_steps):
            state = run_evaluation(state, env_steps, bar)
            if state is None:
                return env_steps, True  # (the run that saved this checkpoint was stopped before it)
        for i in range(done, trainer.num_chunks):
            chunk_start, start_state = env_steps, state
            test_signal = _test_signal(test_signal, chunk_start, mid=True)
            outputs = call(worker, chunk, start_state, stop, may_abandon)
            if outputs is None:
                save(chunk_start, host_copy(start_state))
                return chunk_start, True
            (state, metrics), start_state = outputs, None
            m = processes.fetch(metrics)  # the same on every process (a collective)
            env_steps = int(np.asarray(m["env_steps"]).reshape(-1)[0])
            bad = first_nonfinite(m.pop("health"), chunk_start, e)
            if bad is not None:
                last_good = ckpt.latest_step()
                kept = (f"the last good checkpoint ({last_good:,} env steps) is kept" if last_good is not None
                        else "no checkpoint had been written")
                raise Diverged(f"{bad}; stopped without saving, {kept}")
            logger.log("train", env_steps, per_seed_rows(_train_metrics(m), names))
            test_signal = _test_signal(test_signal, env_steps, mid=False)
            last = i == trainer.num_chunks - 1
            if last or stop.requested or due(env_steps, per_chunk, cfg.checkpoint_interval):
                save(env_steps, state)
            # After the save, and dropped when a stop comes (the resumed run evaluates): a stop never waits for it.
            if last or due(env_steps, per_chunk, cfg.eval_interval):
                state = run_evaluation(state, env_steps, bar)
                if state is None:
                    return env_steps, True
            bar.update(env_steps, np.asarray(m["success_rate"]), np.asarray(m["q"]))
            if stop.requested and not last:
                return env_steps, False
    stop.requested = None  # the run ended anyway
    return env_steps, False


def _test_signal(spec: str | None, env_steps: int, mid: bool) -> str | None:
    """Sends DRATS_JAX_TEST_SIGNAL_AT's signal once its point is reached; returns what is
    still pending (None once sent)."""
    if spec is None or spec.endswith(":mid") != mid or env_steps < int(spec.split(":")[1]):
        return spec
    os.kill(os.getpid(), getattr(signal, spec.split(":")[0]))
    return None


def _train_metrics(m: dict) -> dict:
    """Chunk metrics to log: per-task training success/return/q/env steps, the learner's scalars."""
    out = {"grad_steps": m["grad_steps"], "train_success": m["success_rate"], "train_return": m["episode_return"],
           "episodes": m["episodes"], "q": m["q"], "task_env_steps": m["task_env_steps"]}
    out.update({k: v for k, v in m.items() if k not in ("env_steps", "grad_steps", "success_rate",
                                                        "episode_return", "episodes", "q", "task_env_steps")})
    return out
