"""The Python driver of a training run: prepare (parse, validate, build, restore), then train
chunk by chunk with logging, evaluation, checkpoints, the divergence stop and the preemption
stop. ``python -m drats_jax.train`` is :func:`main`.

Python only runs between chunks; everything inside a chunk is one jitted program of the
shared loop (:mod:`drats_jax.trainer`) around the learner named by ``--algo``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from typing import Any, Callable

import jax
import numpy as np

from drats_jax import chunk_loop
from drats_jax.agents import make_train
from drats_jax.safety import Diverged, StopRequest
from drats_jax.trainer import Trainer


def run(trainer: Trainer, seed: int = 0, num_seeds: int | None = None, num_chunks: int | None = None,
        log: Callable[[str], None] | None = print) -> tuple[Any, list[dict], dict]:
    """Trains chunk by chunk from Python and measures throughput.

    Returns (final state, per-chunk metrics as numpy, throughput dict). Throughput counts
    only chunks after the first (which includes compilation): env_steps_per_s and
    grad_steps_per_s summed over seeds, plus compile-inclusive wall times.
    """
    from drats_jax import processes  # noqa: PLC0415

    init, warmup, chunk = trainer.jitted(num_seeds)
    rng = jax.random.PRNGKey(seed)
    if num_seeds is not None:
        rng = jax.random.split(rng, num_seeds)
    seeds = 1 if num_seeds is None else num_seeds
    num_chunks = trainer.num_chunks if num_chunks is None else min(num_chunks, trainer.num_chunks)

    t0 = time.perf_counter()
    state = init(rng)
    state, _ = warmup(state)
    jax.block_until_ready(state)
    t_warm = time.perf_counter() - t0
    history, times = [], []
    for i in range(num_chunks):
        t = time.perf_counter()
        state, metrics = chunk(state)
        metrics = processes.fetch(metrics)
        times.append(time.perf_counter() - t)
        history.append(metrics)
        if log is not None:
            ret = np.asarray(metrics["episode_return"])
            q = np.asarray(metrics["q"])
            q0 = np.array2string(q.reshape(-1, q.shape[-1])[0], precision=3, separator=" ")
            log(f"chunk {i + 1}/{num_chunks} env_steps={np.max(metrics['env_steps'])} "
                f"mean_return={np.nanmean(ret) if np.isfinite(ret).any() else float('nan'):.1f} "
                f"q(seed 0)={q0} ({times[-1]:.2f}s)")
    steady = times[1:] if len(times) > 1 else times
    dt = sum(steady)
    # Gradient steps actually done (summed over seeds): PPO's target-KL stop can end a rollout's epochs early.
    done = [int(np.sum(m["grad_steps"])) for m in history]
    grads = (done[-1] - done[0] if len(done) > 1 else done[0]) if done else 0
    throughput = {
        "env_steps_per_s": seeds * trainer.env_steps_per_chunk * len(steady) / dt if dt > 0 else float("nan"),
        "grad_steps_per_s": grads / dt if dt > 0 else float("nan"),
        "init_and_warmup_s": t_warm,
        "first_chunk_s": times[0] if times else float("nan"),
        "seeds": seeds,
    }
    if log is not None:
        log(format_throughput(throughput))
    return state, history, throughput


def format_throughput(t: dict) -> str:
    return (f"throughput ({t['seeds']} seed(s), excluding the first, compiling chunk): "
            f"{t['env_steps_per_s']:.0f} env steps/s, {t['grad_steps_per_s']:.0f} gradient steps/s "
            f"(init+warm-up {t['init_and_warmup_s']:.1f}s, first chunk {t['first_chunk_s']:.1f}s)")


@dataclasses.dataclass
class Prepared:
    """A validated run, ready to compile: everything that can fail on user input has run."""

    cfg: Any  # cli.RunConfig
    out: Any  # pathlib.Path
    env: Any
    trainer: Trainer
    checkpointer: Any  # checkpoint.Checkpointer
    resumed: tuple[int, Any] | None  # (env steps, restored state)


def prepare(argv: list[str] | None = None, env: Any = None) -> Prepared:
    """Parses and validates the command line, builds the env and trainer, restores the
    checkpoint when resuming. Raises cli.UsageError (one line); compiles nothing.

    ``env``: use this env instead of ``metaworld_jax.make(--tasks, ...)`` (tests, custom envs).
    The saved config.json holds the resolved trainer config (warm-up, sampler window)."""
    import pathlib  # noqa: PLC0415

    from drats_jax import checkpoint, cli, distributed, flags, processes  # noqa: PLC0415

    cfg = flags.parse_agreed(argv)  # the same on every process, or one line on each
    distributed.check_joined(cfg.num_processes)
    mesh = _mesh(cfg)
    cfg = dataclasses.replace(cfg, mesh=None if mesh is None else str(mesh))  # recorded in the fingerprint
    resume = cfg.resume is not None
    # All processes must write into one folder: a default name from the clock is process 0's.
    out = pathlib.Path(cfg.resume if resume else (cfg.out or processes.agree("out", str(cli.default_out(cfg)))))
    cfg = dataclasses.replace(cfg, out=str(out))
    # Every process checks before process 0 creates it (a shared filesystem would see it exist).
    processes.collectively("check-out", lambda: cli.check_out_folder(out, resume))
    if cfg.wandb:
        try:
            import wandb  # noqa: F401, PLC0415
        except ImportError:
            raise cli.UsageError("--wandb needs the wandb package, which is not installed") from None
    if env is None:
        import metaworld_jax  # noqa: PLC0415

        env = metaworld_jax.make(cfg.tasks, backend=cfg.backend, seed=cfg.env_seed, block_size=cfg.block_size)
    try:
        trainer = make_train(cfg.train, env, mesh=mesh)
    except ValueError as exc:
        raise cli.UsageError(" ".join(str(exc).split())) from None
    cfg = dataclasses.replace(cfg, train=trainer.config)  # None defaults resolved
    if not resume:
        processes.collectively("create-out", lambda: cli.create_out_folder(out), primary_only=True)
        processes.check_visible(out)
    ckpt = checkpoint.Checkpointer(out / "checkpoints", cfg.keep_checkpoints, cli.fixed_config(cfg))
    resumed = None
    if resume and ckpt.latest_step() is not None:
        abstract = trainer.abstract_state(seed_keys(cfg))  # traces, compiles nothing
        try:
            resumed = ckpt.restore(abstract)
        except checkpoint.CheckpointError as exc:
            ckpt.close()
            raise cli.UsageError(str(exc)) from None
    elif not resume:
        processes.collectively("save-config", lambda: cli.save_config(cfg, out), primary_only=True)
    return Prepared(cfg=cfg, out=out, env=env, trainer=trainer, checkpointer=ckpt, resumed=resumed)


def _mesh(cfg):
    """The run's MeshSpec (None: one device), checked against the devices jax sees."""
    from drats_jax import cli  # noqa: PLC0415
    from drats_jax import mesh as mesh_lib  # noqa: PLC0415

    count = jax.device_count()
    try:
        spec = mesh_lib.parse(cfg.mesh, count, cfg.seeds)
        mesh_lib.validate_devices(spec, device_count=count, seeds=cfg.seeds, eval_episodes=cfg.eval_episodes)
    except ValueError as exc:
        raise cli.UsageError(str(exc)) from None
    return None if spec.size == 1 else spec


def seed_keys(cfg) -> jax.Array:
    """keys[seeds]: seed s of the run trains from split(PRNGKey(train.seed), seeds)[s]."""
    return jax.random.split(jax.random.PRNGKey(cfg.train.seed), cfg.seeds)


def train_and_evaluate(p: Prepared, log: Callable[[str], None] | None = None) -> dict:
    """The Python driver: warm-up, then chunk by chunk (log, evaluate, checkpoint).

    Returns the final evaluation summary (seed means) and wall time, or, when SIGTERM/SIGINT
    arrived, {"env_steps", "interrupted": signal name, "abandoned_chunk", "wall_s"} after
    checkpointing (drats_jax.chunk_loop: the state a running PPO chunk started from at once,
    else at the chunk's end; abandoned_chunk: a chunk is still running on the device). Raises Diverged (nothing saved) when a loss or parameter becomes
    NaN/inf, so the last good checkpoint stays the newest one. ``log``: default print on process 0.
    In a multi-process run only process 0 logs and writes; every process checkpoints.
    """
    from drats_jax import processes  # noqa: PLC0415
    from drats_jax.logger import MetricsLogger, NullLogger  # noqa: PLC0415

    cfg = p.cfg
    log = processes.print0 if log is None else log
    # Resuming drops log rows written after the checkpoint (all of them if there was none).
    resume_step = p.resumed[0] if p.resumed is not None else (-1 if cfg.resume else None)
    logger = MetricsLogger(p.out, resume_step=resume_step, use_wandb=cfg.wandb, wandb_project=cfg.wandb_project,
                           config=cli_dict(cfg)) if processes.is_primary() else NullLogger()
    t0 = time.perf_counter()
    try:
        with StopRequest() as stop:
            evaluate = p.trainer.evaluator(cfg.eval_episodes, cfg.seeds)
            env_steps, abandoned = chunk_loop.run_chunks(p, logger, stop, log, evaluate, seed_keys(cfg))
    finally:
        logger.close()
        p.checkpointer.close()
    if stop.requested:
        log(f"stopped by {stop.requested} at {env_steps:,} env steps per seed; checkpoint saved; "
            f"continue with: python -m drats_jax.train --resume {p.out}")
        return {"env_steps": env_steps, "interrupted": stop.requested, "abandoned_chunk": abandoned,
                "wall_s": time.perf_counter() - t0}
    if not processes.is_primary():
        return {"env_steps": env_steps, "wall_s": time.perf_counter() - t0}
    return _write_summary(p.out, time.perf_counter() - t0)


def _write_summary(out, wall_s: float) -> dict:
    """summary.json (atomic) from the last evaluation's rows: seed means, and wall time."""
    from drats_jax.logger import read_rows  # noqa: PLC0415

    final = read_rows(out / "eval.jsonl")
    last_step = max((r["env_steps"] for r in final), default=None)
    final = [r for r in final if r["env_steps"] == last_step]
    summary = {"env_steps": last_step, "seeds": len(final), "wall_s": wall_s}
    for key in final[0] if final else ():
        if key not in ("env_steps", "seed") and all(isinstance(r[key], (int, float)) for r in final):
            summary[key] = float(np.mean([r[key] for r in final]))
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(out / "summary.json")
    return summary


def cli_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def format_summary(summary: dict, task_names: tuple[str, ...]) -> str:
    """Markdown table of the final evaluation (seed means)."""
    lines = ["| metric | value |", "|---|---|"]
    for key in ("env_steps", "seeds", "mean_success", "worst_success", "mean_return", "normalized_return"):
        if key in summary:
            v = summary[key]
            lines.append(f"| {key} | {v:.3f} |" if isinstance(v, float) else f"| {key} | {v} |")
    for t in task_names:
        if f"success/{t}" in summary:
            lines.append(f"| success/{t} | {summary[f'success/{t}']:.2f} (return {summary[f'return/{t}']:.0f}) |")
    lines.append(f"| wall time (s) | {summary['wall_s']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m drats_jax.train --help``: train, evaluate, log and checkpoint one run."""
    from drats_jax import cli, devices, distributed, gpu_presets  # noqa: PLC0415
    from drats_jax.processes import print0  # noqa: PLC0415

    argv = list(sys.argv[1:] if argv is None else argv)
    cli.setup_compile_cache()  # config only: starts no backend
    try:  # JAX reads its GPU memory settings when its backend starts, i.e. during the parse below
        devices.set_gpu_memory(gpu_presets.gpu_memory_fraction(argv))
    except ValueError:
        pass  # a fraction out of range: parse_args reports it in one line
    try:
        distributed.join(argv)  # before anything touches a JAX backend
        prepared = prepare(argv)
    except cli.UsageError as exc:
        print(f"drats_jax.train: error: {exc}", file=sys.stderr)
        return 2
    cfg, trainer = prepared.cfg, prepared.trainer
    if not cli.backend_given(argv) and (note := devices.gpu_backend_note(cfg.backend)) is not None:
        print0(f"drats_jax.train: {note}", file=sys.stderr)
    if (warning := devices.backend_warning(cfg.backend)) is not None:
        print0(f"drats_jax.train: warning: {warning}", file=sys.stderr)
    print0(json.dumps(cli_dict(cfg), indent=2))
    print0(f"{cfg.tasks}: N={trainer.num_tasks} tasks, E={trainer.num_envs} slots, {cfg.seeds} seed(s), "
           f"{trainer.total_env_steps:,} env steps per seed ({trainer.num_chunks} chunks), "
           f"sampler={cfg.train.sampler.name}, out={prepared.out}")
    s = cfg.train.sampler
    print0(f"warm-up {trainer.warmup_steps * trainer.num_envs:,} env steps; sampler window "
           f"{trainer.window_steps:,} vector steps x {trainer.num_envs} slots = {trainer.window_env_steps:,} env steps"
           + (f"; eta {s.eta:g}, alpha {s.resolved_alpha():.4g}, floor eps {s.resolved_eps(trainer.num_tasks):.4g}"
              if s.name in ("drats", "learning_progress") else ""))
    if (warning := cli.window_warning(cfg.train, trainer.num_tasks, int(prepared.env.episode_length))) is not None:
        print0(f"drats_jax.train: warning: {warning}", file=sys.stderr)
    try:
        summary = train_and_evaluate(prepared)
    except Diverged as exc:
        print(f"drats_jax.train: error: {exc}", file=sys.stderr)
        return 3
    if "interrupted" not in summary:
        print0(format_summary(summary, tuple(prepared.env.task_names)))
    elif summary["abandoned_chunk"]:
        # The checkpoint is written; a normal exit would wait for the abandoned chunk to finish.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
