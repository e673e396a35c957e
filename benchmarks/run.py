"""Throughput benchmark of drats-jax: env-only, metaworld's vector envs, full training, compile
time and where the time goes, measured in one run on one machine.

    python -m benchmarks.run --preset cpu      # make bench       (2-core CPU: a few minutes)
    python -m benchmarks.run --preset mt50     # make bench-mt50  (sized for a GPU node; smaller on a CPU)
    python -m benchmarks.report                # markdown table from the newest results

Sections (``--sections``, default all):
  env        env-only env-steps/s of metaworld_jax (jit(scan(vmap(env.step))), random actions)
             for each suite and batch size of the preset;
  metaworld  the same for metaworld's gymnasium vector envs (sync and async);
  train      full SAC training (act, step, insert, K SAC updates, sampler draw/update, all inside
             the jitted lax.scan chunk) with DRATS and with uniform task allocation under the
             same config; their chunks are timed interleaved (D, U, D, U, ...) so machine noise
             hits both alike; ratio = DRATS / uniform env-steps/s (benchmarks/training.py);
  train_ppo  the same for PPO at the DRATS paper's learner settings: one chunk = one rollout of
             a sampler window and its epochs of minibatch updates;
  breakdown  each piece of a vector step jitted alone at the training shapes (inside a lax.scan,
             so dispatch overhead is excluded), amortised per vector step.

Every timing excludes the first (compiling) call; compile time is measured separately with
``jit(f).lower(...).compile()`` and the persistent compilation cache is disabled (unless
``--compile-cache``) so compile figures are real compiles. Throughput is the median over the
repeats (best also recorded). Writes benchmarks/results/bench-<preset>-<time>.json and a PNG
with the same stem.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.breakdown import bench_breakdown
from benchmarks.timing import block, compile_timed, log, summary
from benchmarks.training import bench_training, ppo_config

SCHEMA_VERSION = 1

# ----------------------------------------------------------------------------- presets
# Suites are "mt10", "mt50" or a list of metaworld_jax task names.
# `scales`: the preset's sizes per JAX backend ("cpu" = no accelerator; "accel" = GPU/TPU).

_TRAIN_PROD = dict(hidden_width=400, hidden_depth=3, batch_size=1280, updates_per_step=1)
# PPO at the DRATS paper's learner settings (3x400, 16 epochs x 32 minibatches per rollout).
_PPO_PAPER = dict(hidden_width=400, hidden_depth=3, num_epochs=16, num_minibatches=32, episode_length=500)

PRESETS: dict[str, dict[str, dict]] = {
    "cpu": {
        "cpu": dict(
            env={"mt10": [10, 50, 200], "mt50": [50, 200]},
            env_call_env_steps=3000, env_min_steps=20, env_repeats=5,
            metaworld={"mt10": ["sync", "async"]}, metaworld_steps=100, metaworld_repeats=3,
            train=dict(suite="mt10", num_envs=None, chunk_length=25, timed_chunks=6, sampler_interval=25,
                       buffer_capacity=200_000, **_TRAIN_PROD),
            train_ppo=dict(suite="mt10", num_envs=None, sampler_interval=5_000, timed_chunks=3, **_PPO_PAPER),
            breakdown=dict(length=10, repeats=3, host_calls=30),
        ),
    },
    "mt50": {
        "cpu": dict(
            env={"mt10": [10, 200], "mt50": [50, 200, 500]},
            env_call_env_steps=4000, env_min_steps=20, env_repeats=5,
            metaworld={"mt10": ["sync", "async"], "mt50": ["sync", "async"]},
            metaworld_steps=60, metaworld_repeats=3,
            train=dict(suite="mt50", num_envs=None, chunk_length=20, timed_chunks=4, sampler_interval=20,
                       buffer_capacity=200_000, **_TRAIN_PROD),
            train_ppo=dict(suite="mt50", num_envs=None, sampler_interval=25_000, timed_chunks=2, **_PPO_PAPER),
            breakdown=dict(length=10, repeats=3, host_calls=20),
        ),
        "accel": dict(
            env={"mt10": [10, 100, 1000], "mt50": [50, 500, 2000, 5000]},
            env_call_env_steps=50_000, env_min_steps=20, env_repeats=5,
            metaworld={"mt10": ["sync", "async"], "mt50": ["sync", "async"]},
            metaworld_steps=100, metaworld_repeats=3,
            train=dict(suite="mt50", num_envs=None, chunk_length=200, timed_chunks=5, sampler_interval=50,
                       buffer_capacity=1_000_000, **_TRAIN_PROD),
            train_ppo=dict(suite="mt50", num_envs=500, sampler_interval=500_000, timed_chunks=3, **_PPO_PAPER),
            breakdown=dict(length=100, repeats=5, host_calls=50),
        ),
    },
    # For tests/test_benchmarks.py: 2 tasks, tiny networks, a few steps (< 1 min on 2 cores).
    "tiny": {
        "cpu": dict(
            env={"reach-v3,push-v3": [2, 4]},
            env_call_env_steps=40, env_min_steps=5, env_repeats=2,
            metaworld={"reach-v3,push-v3": ["sync"]}, metaworld_steps=5, metaworld_repeats=2,
            train=dict(suite="reach-v3,push-v3", num_envs=None, chunk_length=4, timed_chunks=2,
                       sampler_interval=2, buffer_capacity=1_000, hidden_width=16, hidden_depth=1,
                       batch_size=16, updates_per_step=1, warmup_env_steps=0),
            train_ppo=dict(suite="reach-v3,push-v3", num_envs=None, sampler_interval=2, timed_chunks=2, hidden_width=16,
                           hidden_depth=1, num_epochs=2, num_minibatches=2, episode_length=500),
            breakdown=dict(length=3, repeats=2, host_calls=3),
        ),
    },
}
PRESETS["tiny"]["accel"] = PRESETS["tiny"]["cpu"]
PRESETS["cpu"]["accel"] = PRESETS["cpu"]["cpu"]

SECTIONS = ("env", "metaworld", "train", "train_ppo", "breakdown")

# Targets shown in the report (not asserted anywhere).
TARGETS = {"env_vs_metaworld_sync": 10.0, "drats_over_uniform": 0.98}

# What a result JSON must hold (checked by tests/test_benchmarks.py and by benchmarks.report).
SCHEMA = {
    "top": ("benchmark", "schema_version", "preset", "scale", "date", "machine", "device", "device_kind",
            "versions", "commit", "config", "env_only", "metaworld", "training", "breakdown", "targets",
            "runtime_s"),
    "env_only": ("suite", "num_tasks", "batch", "steps_per_call", "env_steps_per_s", "env_steps_per_s_best",
                 "times_s", "lower_s", "compile_s", "first_call_s", "make_s"),
    "metaworld": ("suite", "strategy", "num_envs", "steps_per_block", "env_steps_per_s",
                  "env_steps_per_s_best", "times_s", "construct_s"),
    "training_run": ("sampler", "env_steps_per_s", "env_steps_per_s_best", "grad_steps_per_s", "chunk_times_s",
                     "compile_s", "first_chunk_s", "warmup_s", "warmup_env_steps_per_s"),
    "breakdown_part": ("name", "per_call_s", "per_call_s_best", "calls_per_vector_step", "per_vector_step_s",
                       "share"),
}


def validate(result: dict) -> list[str]:
    """Schema problems of a result dict (empty list: fine). Sections that were skipped may be
    empty (``[]`` / ``{}``) but must be present."""
    # training_ppo is optional: results from before PPO was timed have none.
    errs = [f"missing top-level key {k!r}" for k in SCHEMA["top"] if k not in result]
    for row in result.get("env_only", []):
        errs += [f"env_only row lacks {k!r}" for k in SCHEMA["env_only"] if k not in row]
    for row in result.get("metaworld", []):
        errs += [f"metaworld row lacks {k!r}" for k in SCHEMA["metaworld"] if k not in row]
    for key in ("training", "training_ppo"):
        tr = result.get(key) or {}
        for k in ("suite", "num_envs", "runs", "ratio_drats_over_uniform", "ratio_drats_over_uniform_best"):
            if tr and k not in tr:
                errs.append(f"{key} lacks {k!r}")
        for name, run in (tr.get("runs") or {}).items():
            errs += [f"{key} run {name} lacks {k!r}" for k in SCHEMA["training_run"] if k not in run]
    bd = result.get("breakdown") or {}
    if bd:
        for k in ("vector_step_s", "parts", "other_s"):
            if k not in bd:
                errs.append(f"breakdown lacks {k!r}")
        for row in bd.get("parts", []):
            errs += [f"breakdown part lacks {k!r}" for k in SCHEMA["breakdown_part"] if k not in row]
    return errs


# ----------------------------------------------------------------------------- helpers


def _suite_spec(suite: str):
    """"mt10" -> "mt10"; "a,b" -> ["a", "b"] (metaworld_jax.make accepts both)."""
    return suite if suite in ("mt10", "mt50") else [s.strip() for s in suite.split(",") if s.strip()]


class _EnvCache:
    """One env per suite (MT50's reset tables take a while to load)."""

    def __init__(self, backend: str):
        self.backend, self.envs, self.make_s = backend, {}, {}

    def get(self, suite: str):
        if suite not in self.envs:
            import metaworld_jax

            t0 = time.perf_counter()
            self.envs[suite] = metaworld_jax.make(_suite_spec(suite), backend=self.backend)
            self.make_s[suite] = time.perf_counter() - t0
            log(f"  made {suite} ({self.envs[suite].num_tasks} tasks, backend {self.backend}) "
                 f"in {self.make_s[suite]:.1f}s")
        return self.envs[suite]


# ----------------------------------------------------------------------------- (a) env only


def bench_env(env, suite: str, batch: int, steps: int, repeats: int, make_s: float) -> dict:
    import jax
    import jax.numpy as jnp

    n = env.num_tasks
    tasks = jnp.arange(batch, dtype=jnp.int32) % n
    goals = (jnp.arange(batch, dtype=jnp.int32) // n) % env.num_goals
    reset = jax.jit(jax.vmap(env.reset, in_axes=(None, 0, 0)))
    v_step = jax.vmap(env.step)

    def run(state, key):
        def body(state, k):
            a = jax.random.uniform(k, (batch, env.action_size), minval=-1.0, maxval=1.0)
            state = v_step(state, a)
            return state, jnp.sum(state.reward)

        state, rewards = jax.lax.scan(body, state, jax.random.split(key, steps))
        return state, jnp.sum(rewards)

    state = block(reset(jax.random.PRNGKey(0), tasks, goals))
    compiled, comp = compile_timed(jax.jit(run, donate_argnums=0), state, jax.random.PRNGKey(0))
    t0 = time.perf_counter()
    state, _ = block(compiled(state, jax.random.PRNGKey(1)))
    first = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        state, _ = block(compiled(state, jax.random.PRNGKey(r + 2)))
        times.append(time.perf_counter() - t0)
    s = summary(times)
    return {"suite": suite, "num_tasks": n, "batch": batch, "steps_per_call": steps,
            "env_steps_per_s": batch * steps / s["median"], "env_steps_per_s_best": batch * steps / s["best"],
            "times_s": times, **comp, "first_call_s": first, "make_s": make_s}


# ----------------------------------------------------------------------------- (b) metaworld


def bench_metaworld(suite: str, strategy: str, steps: int, repeats: int, warm_steps: int = 5) -> dict:
    import gymnasium as gym
    import metaworld  # noqa: F401  (registers the Meta-World/* ids)

    spec = _suite_spec(suite)
    # metaworld truncates at 500 steps and then autoresets (a reset costs ~100 control steps);
    # stay inside the first episode, as the env-only benchmark of ours does.
    steps = max(1, min(steps, (499 - warm_steps) // repeats))
    t0 = time.perf_counter()
    if isinstance(spec, str):
        envs = gym.make_vec(f"Meta-World/{spec.upper()}", vector_strategy=strategy, seed=0)
    else:
        envs = gym.make_vec("Meta-World/custom-mt-envs", vector_strategy=strategy, envs_list=spec, seed=0)
    envs.reset(seed=0)
    construct = time.perf_counter() - t0
    try:
        rng = np.random.default_rng(0)
        shape = envs.action_space.shape
        for _ in range(warm_steps):
            envs.step(rng.uniform(-1, 1, size=shape).astype(np.float32))
        times = []
        for _ in range(repeats):
            actions = rng.uniform(-1, 1, size=(steps,) + shape).astype(np.float32)
            t0 = time.perf_counter()
            for a in actions:
                envs.step(a)
            times.append(time.perf_counter() - t0)
    finally:
        envs.close()
    s = summary(times)
    return {"suite": suite, "strategy": strategy, "num_envs": shape[0], "steps_per_block": steps,
            "env_steps_per_s": shape[0] * steps / s["median"], "env_steps_per_s_best": shape[0] * steps / s["best"],
            "times_s": times, "construct_s": construct}


# ----------------------------------------------------------------------------- plot


def plot(result: dict, path: Path) -> Path | None:
    from benchmarks import common

    plt = common.pyplot(log)
    if plt is None:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0, 0]
    suites = sorted({r["suite"] for r in result["env_only"]})
    colors = dict(zip(suites, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for s in suites:
        rows = sorted((r for r in result["env_only"] if r["suite"] == s), key=lambda r: r["batch"])
        ax.plot([r["batch"] for r in rows], [r["env_steps_per_s"] for r in rows], "o-", color=colors[s],
                label=f"metaworld_jax {s}")
    for r in result["metaworld"]:
        ax.axhline(r["env_steps_per_s"], color=colors.get(r["suite"], "gray"),
                   ls="--" if r["strategy"] == "sync" else ":",
                   label=f"metaworld {r['suite']} {r['strategy']} ({r['num_envs']} envs)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch (env slots)")
    ax.set_ylabel("env-steps/s (median)")
    ax.set_title("(a, b) env only")
    ax.legend(fontsize=7)

    ax = axes[0, 1]
    tr = result.get("training") or {}
    runs = tr.get("runs") or {}
    if runs:
        names = list(runs)
        vals = [runs[n]["env_steps_per_s"] for n in names]
        bars = ax.bar(names, vals, color=["C3", "C0", "C2", "C4"][: len(names)])
        for bar, n in zip(bars, names):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(),
                    f"{runs[n]['env_steps_per_s']:,.0f} env/s\n{runs[n]['grad_steps_per_s']:,.1f} grad/s",
                    ha="center", va="bottom", fontsize=8)
        ratio = tr.get("ratio_drats_over_uniform")
        ax.set_title(f"(c) training {tr['suite']}, E={tr['num_envs']}: DRATS/uniform = "
                     + (f"{ratio:.3f}" if ratio else "n/a"))
        ax.set_ylabel("env-steps/s (median)")
        ax.margins(y=0.2)
    else:
        ax.set_title("(c) training: skipped")

    ax = axes[1, 0]
    bd = result.get("breakdown") or {}
    if bd:
        parts = [p for p in bd["parts"] if p["calls_per_vector_step"] > 0]
        labels = [p["name"] for p in parts] + ["other"]
        vals = [p["per_vector_step_s"] * 1e3 for p in parts] + [max(bd["other_s"], 0.0) * 1e3]
        vals = [max(v, 1e-6) for v in vals]
        ax.barh(labels, vals, color="C1")
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:.3g} ms", va="center", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("ms per vector step (amortised, log scale)")
        ax.set_title(f"(e) where the time goes: vector step {bd['vector_step_s'] * 1e3:.2f} ms ({bd['sampler']})")
        ax.margins(x=0.25)
    else:
        ax.set_title("(e) breakdown: skipped")

    ax = axes[1, 1]
    labels, vals = [], []
    for r in result["env_only"]:
        labels.append(f"env {r['suite']} b{r['batch']}")
        vals.append(r["lower_s"] + r["compile_s"])
    for n, run in runs.items():
        for p, v in run["compile_s"].items():
            labels.append(f"train {n} {p}")
            vals.append(v)
    if labels:
        ax.barh(labels, vals, color="C5")
        ax.set_xlabel("seconds (lower + compile)")
    ax.set_title("(d) compile time")
    ax.tick_params(axis="y", labelsize=7)
    return common.save_figure(fig, path, f"drats-jax benchmark '{result['preset']}' ({result['scale']}) on "
                              f"{result['device_kind']}, {result['machine']['cpu_count']} CPUs, {result['date']}",
                              dpi=110)


# ----------------------------------------------------------------------------- driver


def targets(result: dict) -> dict:
    out = {}
    sync = {r["suite"]: r["env_steps_per_s"] for r in result["metaworld"] if r["strategy"] == "sync"}
    best = {}
    for r in result["env_only"]:
        if r["suite"] in sync:
            r["ratio_vs_metaworld_sync"] = r["env_steps_per_s"] / sync[r["suite"]]
            if r["ratio_vs_metaworld_sync"] > best.get(r["suite"], {}).get("value", -1):
                best[r["suite"]] = {"value": r["ratio_vs_metaworld_sync"], "batch": r["batch"]}
    for suite, b in best.items():
        out[f"env_vs_metaworld_sync_{suite}"] = {
            "value": b["value"], "at_batch": b["batch"], "target": TARGETS["env_vs_metaworld_sync"],
            "met": b["value"] >= TARGETS["env_vs_metaworld_sync"],
            "what": f"best metaworld_jax {suite} env-only env-steps/s over batch sizes / metaworld sync vector env"}
    for key, name, learner in (("training", "drats_over_uniform", "SAC"), ("training_ppo", "drats_over_uniform_ppo",
                                                                        "PPO")):
        ratio = (result.get(key) or {}).get("ratio_drats_over_uniform")
        if ratio is not None:
            out[name] = {"value": ratio, "target": TARGETS["drats_over_uniform"], "met": ratio >= TARGETS["drats_over_uniform"],
                         "what": f"{learner} training env-steps/s with DRATS / with uniform, same config (measured)"}
    implied = (result.get("breakdown") or {}).get("implied_ratio_drats_over_uniform")
    if implied is not None:
        out["drats_over_uniform_implied"] = {
            "value": implied, "target": TARGETS["drats_over_uniform"], "met": implied >= TARGETS["drats_over_uniform"],
            "what": "same ratio implied by the breakdown: vector step with uniform's sampler cost in place of DRATS's"}
    return out


def run_preset(preset: str, sections=SECTIONS, backend: str = "mujoco", out_dir: Path | str | None = None,
               compile_cache: bool = False, overrides: dict | None = None, plot_png: bool = True) -> Path:
    import jax

    if not compile_cache:
        jax.config.update("jax_enable_compilation_cache", False)
    from benchmarks import common

    t_start = time.perf_counter()
    scale = "cpu" if jax.default_backend() == "cpu" else "accel"
    p = copy.deepcopy(PRESETS[preset][scale])
    for k, v in (overrides or {}).items():
        p[k] = v
    log(f"benchmark preset {preset!r} ({scale} sizes) on {jax.devices()[0]} ({jax.default_backend()}), "
         f"backend {backend}, sections {', '.join(sections)}")
    envs = _EnvCache(backend)
    result: dict = {"schema_version": SCHEMA_VERSION, "preset": preset, "scale": scale,
                    "config": {"preset": p, "sections": list(sections), "backend": backend,
                               "compilation_cache": compile_cache, "statistic": "median (best also recorded)"},
                    "env_only": [], "metaworld": [], "training": {}, "training_ppo": {}, "breakdown": {}}

    if "env" in sections:
        log("(a) env only")
        for suite, batches in p["env"].items():
            env = envs.get(suite)
            for batch in batches:
                steps = max(p["env_min_steps"], p["env_call_env_steps"] // batch)
                r = bench_env(env, suite, batch, steps, p["env_repeats"], envs.make_s[suite])
                result["env_only"].append(r)
                log(f"  metaworld_jax {suite} batch {batch}: {r['env_steps_per_s']:,.0f} env-steps/s "
                     f"(best {r['env_steps_per_s_best']:,.0f}; compile {r['lower_s'] + r['compile_s']:.1f}s)")
    if "metaworld" in sections:
        log("(b) metaworld vector envs")
        for suite, strategies in p["metaworld"].items():
            for strategy in strategies:
                r = bench_metaworld(suite, strategy, p["metaworld_steps"], p["metaworld_repeats"])
                result["metaworld"].append(r)
                log(f"  metaworld {suite} {strategy} ({r['num_envs']} envs): {r['env_steps_per_s']:,.0f} "
                     f"env-steps/s (construct {r['construct_s']:.1f}s)")
    if "train" in sections or "breakdown" in sections:
        log("(c, d) training")
        t = p["train"]
        env = envs.get(t["suite"])
        samplers = ("drats", "uniform") if "train" in sections else ("drats",)
        section, setups = bench_training(env, t, samplers)
        if "train" in sections:
            result["training"] = section
            if section.get("ratio_drats_over_uniform") is not None:
                log(f"  DRATS / uniform env-steps/s: {section['ratio_drats_over_uniform']:.3f} "
                     f"(best-of: {section['ratio_drats_over_uniform_best']:.3f})")
    if "train_ppo" in sections and "train_ppo" in p:
        log("(c) training, PPO")
        t = p["train_ppo"]
        result["training_ppo"], _ = bench_training(envs.get(t["suite"]), t, ("drats", "uniform"),
                                                   make_config=ppo_config)
        log(f"  PPO DRATS / uniform env-steps/s: {result['training_ppo']['ratio_drats_over_uniform']:.3f}")
    if "breakdown" in sections:
        log("(e) breakdown")
        result["breakdown"] = bench_breakdown(envs.get(p["train"]["suite"]), setups, p["breakdown"])
    result["env_make_s"] = envs.make_s
    result["targets"] = targets(result)
    result["runtime_s"] = time.perf_counter() - t_start
    path = common.write(f"bench-{preset}", result, out_dir)
    if plot_png:
        full = json.loads(path.read_text())
        png = plot(full, path.with_suffix(".png"))
        if png is not None:
            full["png"] = png.name
            path.write_text(json.dumps(full, indent=2))
    log(f"wrote {path} ({result['runtime_s']:.0f}s)")
    for name, tgt in result["targets"].items():
        log(f"  target {name}: {tgt['value']:.3f} (target >= {tgt['target']}): "
             f"{'met' if tgt['met'] else 'NOT met'}")
    return path


def main(argv=None) -> int:
    ap = common.arg_parser("python -m benchmarks.run", __doc__)
    ap.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    ap.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    ap.add_argument("--backend", default="mujoco", help="metaworld_jax physics backend")
    ap.add_argument("--out-dir", default=None, help="where to write JSON/PNG (default benchmarks/results)")
    ap.add_argument("--compile-cache", action="store_true",
                    help="keep JAX's persistent compilation cache on (compile times then measure cache loads)")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    if args.backend != "mujoco":
        ap.error("this benchmark runs the C MuJoCo backend; for mjx and warp use "
                 "`python -m benchmarks.gpu` (make bench-gpu)")
    run_preset(args.preset, tuple(args.sections), args.backend, args.out_dir, args.compile_cache,
               plot_png=not args.no_plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
