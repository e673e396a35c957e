"""The `metaworld` package as the oracle: run its env and ours side by side.

Used only by tests and benchmarks (never by the product).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

import metaworld_jax


@functools.cache
def mt1(name: str, seed: int):
    import metaworld

    return metaworld.MT1(name, seed=seed)


def oracle_env(name: str, seed: int, goal: int):
    """A metaworld env of `name` set to MT1(name, seed)'s goal `goal` (not yet reset)."""
    bench = mt1(name, seed)
    env = bench.train_classes[name]()
    env.set_task(bench.train_tasks[goal])
    return env


def scripted_policy(name: str):
    from metaworld.policies import ENV_POLICY_MAP

    return ENV_POLICY_MAP[name]()


@functools.cache
def ours(name: str, seed: int = 0):
    env = metaworld_jax.make(name, seed=seed)
    return env, jax.jit(jax.vmap(env.reset, in_axes=(None, 0, 0))), jax.jit(jax.vmap(env.step))


def rollout_pair(name: str, goals, steps: int, seed: int = 0, mode: str = "random", action_seed: int = 0):
    """Run the oracle and our env from the same goals under the same actions.

    mode "random": uniform f32 actions in [-1, 1]; "policy": metaworld's scripted policy on
    the oracle's observation plus small noise (reaches contacts, grasps and success).
    Returns dict of arrays [steps+1 or steps, len(goals), ...] for both sides.
    """
    env, reset, step = ours(name, seed)
    goals = np.asarray(goals, np.int32)
    state = reset(jax.random.PRNGKey(0), jnp.zeros_like(goals), jnp.asarray(goals))
    oracles = [oracle_env(name, seed, int(g)) for g in goals]
    ref_obs0 = np.stack([o.reset()[0] for o in oracles])
    rng = np.random.default_rng(action_seed)
    policy = scripted_policy(name) if mode == "policy" else None
    out = {k: [] for k in ("obs", "ref_obs", "reward", "ref_reward", "success", "ref_success")}
    out["obs0"], out["ref_obs0"] = np.asarray(state.obs), ref_obs0
    ref_obs = ref_obs0
    for _ in range(steps):
        if policy is None:
            actions = rng.uniform(-1, 1, size=(len(goals), 4)).astype(np.float32)
        else:
            # .copy(): some scripted policies edit the observation they are given in place.
            actions = np.stack([policy.get_action(o.copy()) for o in ref_obs]).astype(np.float32)
            actions = np.clip(actions + rng.normal(0, 0.1, actions.shape), -1, 1).astype(np.float32)
        results = [o.step(a) for o, a in zip(oracles, actions)]
        ref_obs = np.stack([r[0] for r in results])
        state = step(state, jnp.asarray(actions))
        out["obs"].append(np.asarray(state.obs))
        out["ref_obs"].append(ref_obs)
        out["reward"].append(np.asarray(state.reward))
        out["ref_reward"].append(np.array([r[1] for r in results]))
        out["success"].append(np.asarray(state.info["success"]))
        out["ref_success"].append(np.array([bool(r[4]["success"]) for r in results]))
    return {k: np.asarray(v) for k, v in out.items()}


def run_policy_successes(name: str, seed: int = 0, goals=range(50), steps: int = 500):
    """Per goal: did metaworld's scripted policy succeed within `steps`, in the oracle and in ours."""
    env, reset, step = ours(name, seed)
    goals = np.asarray(list(goals), np.int32)
    policy = scripted_policy(name)
    # ours, batched over goals; the policy is numpy so it runs per slot on the host.
    state = reset(jax.random.PRNGKey(0), jnp.zeros_like(goals), jnp.asarray(goals))
    ours_ok = np.zeros(len(goals), bool)
    for _ in range(steps):
        obs = np.asarray(state.obs, np.float64)
        actions = np.stack([policy.get_action(o.copy()) for o in obs]).astype(np.float32)
        state = step(state, jnp.asarray(actions))
        ours_ok |= np.asarray(state.info["success"])
    ref_ok = np.zeros(len(goals), bool)
    for i, g in enumerate(goals):
        o = oracle_env(name, seed, int(g))
        obs, _ = o.reset()
        for _ in range(steps):
            obs, _, _, _, info = o.step(policy.get_action(obs.copy()).astype(np.float32))
            if info["success"]:
                ref_ok[i] = True
                break
    return ours_ok, ref_ok
