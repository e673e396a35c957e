"""The stages of the device check (benchmarks/gpu_check.py): each runs in its own process and
writes its JSON through a :class:`benchmarks.common.Record` after every measurement, so a stage
stopped at its time budget keeps what it measured.

    device(rec)                                   device, driver, versions, JAX's GPU memory settings
    env_step(rec, suite, backend, slots, ...)     compile seconds and env-steps/s per slot count
    train(rec, preset, overrides, train_s, ...)   --preset training: DRATS vs uniform env-steps/s and
                                                  gradient-steps/s, then DRATS alone, mean success
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

from benchmarks.timing import block, log


def _cache_entries() -> int | None:
    """Entries in JAX's persistent compilation cache before a stage (compile seconds of a stage
    that found its programs there are cache loads, not compiles)."""
    import jax

    path = jax.config.jax_compilation_cache_dir
    return len(os.listdir(path)) if path and os.path.isdir(path) else None


# ----------------------------------------------------------------------------- (a) device


def device(rec) -> dict:
    """What the machine is: JAX's devices and memory, the NVIDIA driver, Warp's devices, versions
    (the Record's environment() already holds the package versions and the commit)."""
    import jax

    d = jax.devices()[0]
    out = {"python": platform.python_version(), "jax_backend": jax.default_backend(), "device_count": jax.device_count(),
           "devices": [str(x) for x in jax.devices()], "device_kind": d.device_kind,
           "memory_env": {k: v for k, v in os.environ.items() if k.startswith("XLA_")}}
    try:
        stats = d.memory_stats() or {}
        out["memory_bytes_limit"] = stats.get("bytes_limit")
    except Exception as exc:  # noqa: BLE001  CPU devices have none
        out["memory_bytes_limit"] = f"n/a ({type(exc).__name__})"
    smi = shutil.which("nvidia-smi")
    if smi:
        q = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total,compute_cap", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=30)
        out["nvidia_smi"] = q.stdout.strip() or q.stderr.strip()
    try:
        import warp

        warp.config.quiet = True
        warp.init()
        out["warp"] = {"version": warp.config.version, "devices": [str(x) for x in warp.get_devices()]}
    except Exception as exc:  # noqa: BLE001  not installed, or no usable device
        out["warp"] = {"error": f"{type(exc).__name__}: {exc}"}
    t0 = time.perf_counter()
    x = jax.numpy.ones((4096, 4096), jax.numpy.float32)
    block(x @ x)
    out["first_matmul_s"] = time.perf_counter() - t0
    log(f"device: {out['devices'][0]} ({out['device_kind']}), jax {jax.__version__}, python {out['python']}, "
        f"warp {out['warp'].get('version', out['warp'].get('error'))}")
    return out


# ----------------------------------------------------------------------------- (b, d) env step


def env_step(rec, suite: str, backend: str, slots: list[int], block_cap: int, steps: int, repeats: int) -> dict:
    """benchmarks.gpu.speed at each slot count (one case each, in order): trace+lower and XLA
    compile seconds, the first call (Warp's kernel builds), env-steps/s (median of repeats)."""
    from benchmarks.gpu import speed, suite_of

    rec.data.update(suite=suite, backend=backend, slots=list(slots), cache_entries_before=_cache_entries())
    for n in slots:
        rec.data["running"] = f"{backend} {suite} {n} slots (build, compile, first call)"
        rec.save()
        r = rec.case("sizes", f"{backend} {suite} {n} slots", speed, suite_of(suite), backend, n, block_cap, steps,
                     repeats, log=log)
        if "error" not in r:
            log(f"  {backend} {suite} {n} slots: {r['env_steps_per_s']:,.0f} env-steps/s; trace+lower "
                f"{r['lower_s']:.1f}s, compile {r['compile_s']:.1f}s, first call {r['first_call_s']:.1f}s")
    rec.data.pop("running", None)
    return {}


# ----------------------------------------------------------------------------- (c) training


def train(rec, preset: str, overrides: list[str], train_s: float, interleaved_share: float = 0.3,
          reserve_s: float = 45.0) -> dict:
    """``--preset`` training (its TrainConfig, with ``overrides`` parsed as CLI flags), one seed.

    DRATS and uniform task sampling are built, compiled (timed apart), warmed up and run one
    excluded chunk each; then chunks of the two alternate (D, U, D, U, ...; at least 2 pairs, up
    to ``interleaved_share`` of ``train_s``) for the throughput ratio; then DRATS alone until
    ``train_s`` seconds of chunks have run; then MetaWorld's evaluation of the DRATS agent
    (cli's --eval-episodes per task): mean and worst-task success at the end. Under the device
    check's deadline (gpu_check.DEADLINE_ENV) training stops ``reserve_s`` before it, for the
    evaluation."""
    import jax

    from benchmarks.training import ratios, run_figures, setup, timed_chunk
    from drats_jax import cli
    from drats_jax import evaluate as evaluation

    import metaworld_jax

    cfg = cli.parse_args(["--preset", preset, *overrides, "--no-progress"])
    rec.data.update(preset=preset, overrides=list(overrides), config=cli.to_dict(cfg), train_s=train_s,
                    cache_entries_before=_cache_entries())
    t0 = time.perf_counter()
    env = metaworld_jax.make(cfg.tasks, backend=cfg.backend, seed=cfg.env_seed, block_size=cfg.block_size)
    rec.data["make_s"] = time.perf_counter() - t0
    setups = {}
    for name in ("drats", "uniform"):
        rec.data["running"] = f"{name}: compile, warm-up and first chunk"
        rec.save()
        sampler = dataclasses.replace(cfg.train.sampler, name=name)
        setups[name] = setup(env, cfg.train.replace(sampler=sampler), name, cfg.train.seed)
    from benchmarks.gpu_check import DEADLINE_ENV

    deadline = float(os.environ.get(DEADLINE_ENV, "inf"))
    train_s = max(0.0, min(train_s, deadline - time.time() - reserve_s))
    rec.data["train_s_used"] = train_s
    start = time.perf_counter()
    pairs = 0
    rec.data["running"] = "interleaved DRATS / uniform chunks"
    while pairs < 2 or time.perf_counter() - start < interleaved_share * train_s:
        for s in setups.values():
            timed_chunk(s)
        pairs += 1
    runs = {name: run_figures(name, s) for name, s in setups.items()}
    rec.data.update(runs=runs, interleaved_pairs=pairs, **ratios(setups, runs))
    rec.data["running"] = "DRATS alone"
    rec.save()
    d = setups.pop("drats")
    del setups  # the uniform run's state (its replay ring) leaves the device
    interleaved = len(d["times"])
    while time.perf_counter() - start < train_s:
        timed_chunk(d)
    alone = d["times"][interleaved:]
    tr = d["trainer"]
    env_steps = int(np.asarray(d["state"].step)) * tr.num_envs
    rec.data["drats_alone"] = {
        "chunks": len(alone), "env_steps_per_s": tr.env_steps_per_chunk / statistics.median(alone) if alone else None,
        "env_steps_trained": env_steps, "grad_steps": int(np.asarray(d["state"].grad_steps)),
        "train_wall_s": time.perf_counter() - start}
    rec.data["running"] = "evaluation"
    rec.save()
    # As a run evaluates: rounds of the training program (compiled above) on the E evaluation
    # slots; its first call compiles only the rounds' resets and per-task means.
    evaluate = tr.evaluator(cfg.eval_episodes)
    t = time.perf_counter()
    d["state"], result = evaluate(d["state"])
    result = jax.device_get(result)
    summary = evaluation.summarize(result, evaluation.return_scale(env))
    rec.data["evaluation"] = {"episodes_per_task": cfg.eval_episodes, "env_steps": env_steps,
                              "rounds": evaluate.rounds, "run_s": time.perf_counter() - t,
                              **{k: float(v) for k, v in summary.items()},
                              "success_per_task": dict(zip(env.task_names, map(float, result["success"])))}
    rec.data.pop("running")
    log(f"  after {env_steps:,} env steps: mean success {summary['mean_success']:.3f}, "
        f"worst task {summary['worst_success']:.3f}")
    return {}


STAGE_FUNCTIONS = {"device": device, "env_step": env_step, "train": train}


def main_stage(fn_name: str, rec, params: dict) -> None:
    """Runs one stage function into ``rec`` (called by gpu_check in the stage's process)."""
    fn = STAGE_FUNCTIONS[fn_name] if fn_name in STAGE_FUNCTIONS else _import(fn_name)
    rec.data.update(fn(rec, **params) or {})
    rec.save()


def _import(dotted: str):
    """"package.module:function" -> the function (stages defined elsewhere, e.g. the tests')."""
    import importlib

    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


if __name__ == "__main__":  # pragma: no cover - stages run through benchmarks.gpu_check
    sys.exit("run stages through python -m benchmarks.gpu_check")
