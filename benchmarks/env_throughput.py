"""Env-only throughput: metaworld_jax (jitted, batched, random actions inside lax.scan)
against metaworld's own gymnasium vector envs, in one run on one machine.

    python -m benchmarks.env_throughput --suite mt10 --batch-sizes 10 50 200

Writes benchmarks/results/env_throughput-<suite>-<time>.json and prints the ratios.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import metaworld_jax
from benchmarks import common


def ours(suite: str, batch: int, steps: int, repeats: int = 3) -> dict:
    env = metaworld_jax.make(suite)
    tasks = jnp.arange(batch) % env.num_tasks
    goals = jnp.arange(batch) % env.num_goals

    @jax.jit
    def run(key):
        state = jax.vmap(env.reset, in_axes=(None, 0, 0))(key, tasks, goals)

        def body(state, k):
            a = jax.random.uniform(k, (batch, env.action_size), minval=-1.0, maxval=1.0)
            state = jax.vmap(env.step)(state, a)
            return state, state.reward.sum()

        state, rewards = jax.lax.scan(body, state, jax.random.split(key, steps))
        return rewards.sum()

    t0 = time.perf_counter()
    jax.block_until_ready(run(jax.random.PRNGKey(0)))
    compile_s = time.perf_counter() - t0
    best = float("inf")
    for r in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(run(jax.random.PRNGKey(r + 1)))
        best = min(best, time.perf_counter() - t0)
    return {"batch": batch, "steps": steps, "env_steps_per_s": batch * steps / best, "first_call_s": compile_s}


def metaworld_vec(suite: str, strategy: str, steps: int) -> dict:
    import gymnasium as gym
    import metaworld  # noqa: F401  (registers the Meta-World/* ids)

    envs = gym.make_vec(f"Meta-World/{suite.upper()}", vector_strategy=strategy, seed=0)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    shape = envs.action_space.shape
    t0 = time.perf_counter()
    for _ in range(steps):
        envs.step(rng.uniform(-1, 1, size=shape).astype(np.float32))
    dt = time.perf_counter() - t0
    envs.close()
    return {"strategy": strategy, "num_envs": shape[0], "steps": steps, "env_steps_per_s": shape[0] * steps / dt}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="mt10", choices=["mt10", "mt50"])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 50, 200])
    p.add_argument("--steps", type=int, default=200, help="scan length per measured call")
    p.add_argument("--metaworld-steps", type=int, default=200)
    p.add_argument("--strategies", nargs="+", default=["sync"], choices=["sync", "async"])
    args = p.parse_args(argv)

    reference = [metaworld_vec(args.suite, s, args.metaworld_steps) for s in args.strategies]
    sync = next((r["env_steps_per_s"] for r in reference if r["strategy"] == "sync"), None)
    results = []
    for b in args.batch_sizes:
        r = ours(args.suite, b, args.steps)
        if sync:
            r["ratio_vs_metaworld_sync"] = r["env_steps_per_s"] / sync
        results.append(r)
        print(f"metaworld_jax {args.suite} batch {b}: {r['env_steps_per_s']:,.0f} env-steps/s"
              + (f" ({r['ratio_vs_metaworld_sync']:.1f}x metaworld sync)" if sync else ""))
    for r in reference:
        print(f"metaworld {r['strategy']} vector env ({r['num_envs']} envs): {r['env_steps_per_s']:,.0f} env-steps/s")
    path = common.write(f"env_throughput-{args.suite}", {"config": vars(args), "ours": results, "metaworld": reference})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
