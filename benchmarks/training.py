"""(c, d) of ``make bench``: full training throughput, one learner at a time, with DRATS and
with uniform task allocation under the same config.

Everything a vector step does runs inside the jitted chunk (SAC: act, step, insert, K
updates, sampler draw/update; PPO: one rollout of a sampler window, GAE, the epochs of
minibatch updates, q updated after the rollout). The samplers' chunks are timed interleaved
(D, U, D, U, ...) so machine noise hits both alike; ratio = DRATS / uniform env-steps/s.
Gradient steps are counted from the state (PPO's target-KL stop may end a rollout's epochs
early), so grad-steps/s is what was done, not the configured maximum.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Callable

import numpy as np

from benchmarks.timing import block, compile_timed, log, summary


def sac_config(t: dict, sampler: str, num_tasks: int):
    """The SAC TrainConfig of a preset's ``train`` entry: warm-up of two batches, then
    2 + 2 x timed_chunks chunks (compile, first call and the interleaved timed chunks)."""
    from drats_jax.config import SACConfig, SamplerConfig, TrainConfig

    e = num_tasks if t["num_envs"] is None else int(t["num_envs"])
    warmup = t.get("warmup_env_steps")
    if warmup is None:  # default: two batches of random-action transitions
        warmup = 2 * t["batch_size"]
    warmup += (-warmup) % e
    total = warmup + e * t["chunk_length"] * (2 + 2 * t["timed_chunks"])
    return TrainConfig(
        num_envs=t["num_envs"], total_env_steps=total, warmup_env_steps=warmup,
        updates_per_step=t["updates_per_step"], buffer_capacity=t["buffer_capacity"],
        chunk_length=t["chunk_length"],
        sac=SACConfig(hidden_width=t["hidden_width"], hidden_depth=t["hidden_depth"], batch_size=t["batch_size"]),
        sampler=SamplerConfig(name=sampler, interval=t["sampler_interval"]),
    )


def ppo_config(t: dict, sampler: str, num_tasks: int):
    """The PPO TrainConfig of a preset's ``train_ppo`` entry: one chunk = one rollout of one
    sampler window (``sampler_interval`` env steps, at least one episode per slot); enough
    rollouts for the first call and the timed ones; the paper's learner settings otherwise."""
    from drats_jax.config import PPOConfig, SamplerConfig, TrainConfig

    e = num_tasks if t["num_envs"] is None else int(t["num_envs"])
    window = max(-(-t["sampler_interval"] // e), t["episode_length"]) * e
    return TrainConfig(
        algo="ppo", num_envs=t["num_envs"], total_env_steps=window * (2 + t["timed_chunks"]), warmup_env_steps=0,
        ppo=PPOConfig(hidden_width=t["hidden_width"], hidden_depth=t["hidden_depth"], num_epochs=t["num_epochs"],
                      num_minibatches=t["num_minibatches"]),
        sampler=SamplerConfig(name=sampler, interval=t["sampler_interval"]),
    )


def bench_training(env, t: dict, samplers=("drats", "uniform"), seed: int = 0,
                   make_config: Callable = sac_config) -> tuple[dict, dict]:
    """Returns (training section, {sampler: setup dict with trainer, compiled chunk, state, config})."""
    setups = {name: setup(env, make_config(t, name, env.num_tasks), name, seed) for name in samplers}
    for _ in range(t["timed_chunks"]):  # interleaved, so noise hits every sampler alike
        for name in samplers:
            timed_chunk(setups[name])
    runs = {name: run_figures(name, s) for name, s in setups.items()}
    first = setups[samplers[0]]
    section = {
        "algo": first["config"].algo, "suite": t["suite"], "num_tasks": env.num_tasks,
        "num_envs": first["trainer"].num_envs, "chunk_length": first["trainer"].chunk_length,
        "window_steps": first["trainer"].window_steps, "config": dataclasses.asdict(first["config"]), "runs": runs,
    }
    section.update(ratios(setups, runs))
    return section, setups


def setup(env, cfg, name: str, seed: int) -> dict:
    """Builds, compiles (timed apart), warms up and runs the first (excluded) chunk of one trainer."""
    import jax

    from drats_jax.train import make_train

    trainer = make_train(cfg, env)
    init_j, _, chunk_j = trainer.jitted()
    rng = jax.random.PRNGKey(seed)
    comp = {}
    init_c, comp["init"] = compile_timed(init_j, rng)
    state = block(init_c(rng))
    # Warm-up and learning chunks are one program (drats_jax.trainer), compiled once.
    program_c, comp["steps"] = compile_timed(chunk_j.program, state, *chunk_j.flags)
    t0 = time.perf_counter()
    state, _ = block(trainer.warmup(state, program_c))
    warm_s = time.perf_counter() - t0

    def chunk_c(state):
        return program_c(state, *chunk_j.flags)

    t0 = time.perf_counter()
    state, _ = block(chunk_c(state))  # first call: excluded from the rates
    first = time.perf_counter() - t0
    log(f"  {cfg.algo} {name}: compile init {sum(comp['init'].values()):.1f}s, steps (warm-up and chunk) "
        f"{sum(comp['steps'].values()):.1f}s; first chunk {first:.2f}s")
    return dict(trainer=trainer, chunk=chunk_c, state=state, comp=comp, first=first, warm_s=warm_s,
                config=trainer.config, times=[], grads=[])


def timed_chunk(s: dict) -> None:
    """Runs one chunk of a setup (from :func:`setup`); appends its wall time and gradient steps."""
    before = int(np.asarray(s["state"].grad_steps))
    t0 = time.perf_counter()
    s["state"], metrics = s["chunk"](s["state"])
    block(metrics)
    s["times"].append(time.perf_counter() - t0)
    s["grads"].append(int(np.asarray(s["state"].grad_steps)) - before)


def run_figures(name: str, s: dict) -> dict:
    tr, st = s["trainer"], summary(s["times"])
    per_chunk_grad_rate = [g / dt for g, dt in zip(s["grads"], s["times"])]
    run = {
        "sampler": name,
        "env_steps_per_s": tr.env_steps_per_chunk / st["median"],
        "env_steps_per_s_best": tr.env_steps_per_chunk / st["best"],
        "grad_steps_per_s": statistics.median(per_chunk_grad_rate),
        "grad_steps_per_s_best": max(per_chunk_grad_rate),
        "grad_steps_per_chunk": s["grads"],
        "chunk_times_s": s["times"],
        "compile_s": {p: sum(v.values()) for p, v in s["comp"].items()},
        "compile_detail": s["comp"],
        "first_chunk_s": s["first"],
        "warmup_s": s["warm_s"],
        "warmup_env_steps_per_s": tr.warmup_steps * tr.num_envs / s["warm_s"] if tr.warmup_steps else None,
        "final_grad_steps": int(np.asarray(s["state"].grad_steps)),
    }
    log(f"  {s['config'].algo} {name}: {run['env_steps_per_s']:,.0f} env-steps/s, "
        f"{run['grad_steps_per_s']:,.1f} grad-steps/s (median of {len(s['times'])} chunks)")
    return run


def ratios(setups: dict, runs: dict) -> dict:
    if "drats" not in runs or "uniform" not in runs:
        return {"ratio_drats_over_uniform": None, "ratio_drats_over_uniform_best": None}
    d, u = runs["drats"], runs["uniform"]
    # Paired: DRATS's chunk i ran right after uniform's chunk i - 1 and before its chunk i.
    pairs = [ut / dt for dt, ut in zip(setups["drats"]["times"], setups["uniform"]["times"])]
    return {"ratio_drats_over_uniform": d["env_steps_per_s"] / u["env_steps_per_s"],
            "ratio_drats_over_uniform_best": d["env_steps_per_s_best"] / u["env_steps_per_s_best"],
            "ratio_drats_over_uniform_paired_median": statistics.median(pairs)}
