"""The peer side of benchmarks.sac_update_check: K gradient steps of sbx-rl's SAC, recorded.

Runs in .venv-bench and imports nothing from this project. Builds sbx's SAC (2 x width
networks, Adam, learned temperature) on observation size O + 1, the last column a constant 1
(our agent's one-hot task column with one task), draws K batches from ``--seed`` (numpy
Generator), and runs sbx's own jitted ``SAC._train`` once per batch (one gradient step each,
exactly as ``gradient_steps=1`` does in training). Writes ``--out`` (.npz):

- ``init/<actor|qf|ent>/<param path>``: the parameters before the first step;
- ``final/...``: after K steps (``target/...`` the target critics);
- ``batch/<field>``: f32[K, B, ...] (obs without the constant column, terminal as 0/1);
- ``noise/critic``, ``noise/actor``: f32[K, B, A], the standard-normal draws behind sbx's
  two action samples of each step (the critic target's next action and the actor's action),
  recovered by sampling sbx's own distribution class with the same key at loc 0, scale 1e-3
  (so tanh is linear to float precision), and checked against sbx's sampled actions;
- ``metrics/<name>``: f32[K] per step (critic loss, actor loss, temperature loss, temperature);
- ``noise_check/max_abs_action_error``: how far tanh(mean + std * noise) is from sbx's sample;
- ``versions``: JSON of the peer's package versions.
"""

from __future__ import annotations

import argparse
import json
import sys

from peer_common import versions  # benchmarks/peer_common.py


def _parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="benchmarks/sbx_sac_updates.py", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--steps", type=int, default=20, help="gradient steps K")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--obs-size", type=int, default=39, help="env observation size (metaworld: 39)")
    ap.add_argument("--action-size", type=int, default=4)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--gamma", type=float, default=0.99)
    ap.add_argument("--tau", type=float, default=0.005)
    ap.add_argument("--initial-temperature", type=float, default=1.0)
    ap.add_argument("--target-entropy", type=float, default=-4.0)
    ap.add_argument("--terminal-fraction", type=float, default=0.05, help="share of batch rows that are terminal")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help=".npz output")
    return ap.parse_args(argv)


def _batches(args, np):
    """K batches of plausible MetaWorld-scale data from a seeded Generator."""
    rng = np.random.default_rng(args.seed)
    k, b, o, a = args.steps, args.batch_size, args.obs_size, args.action_size
    return {
        "obs": rng.normal(0.0, 0.5, (k, b, o)).astype(np.float32),
        "action": rng.uniform(-1.0, 1.0, (k, b, a)).astype(np.float32),
        "reward": rng.uniform(0.0, 10.0, (k, b)).astype(np.float32),
        "next_obs": rng.normal(0.0, 0.5, (k, b, o)).astype(np.float32),
        "terminal": (rng.uniform(size=(k, b)) < args.terminal_fraction).astype(np.float32),
    }


def main(argv=None) -> int:
    args = _parse(argv)
    import gymnasium as gym
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax.traverse_util import flatten_dict
    from sbx import SAC
    from sbx.common.distributions import TanhTransformedDistribution
    from sbx.common.type_aliases import ReplayBufferSamplesNp
    from tensorflow_probability.substrates.jax import distributions as tfd

    obs_size = args.obs_size + 1  # + the constant one-hot column

    class Spaces(gym.Env):  # sbx needs spaces only; no step is taken
        observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_size,), np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, (args.action_size,), np.float32)

    model = SAC("MlpPolicy", Spaces(), learning_rate=args.lr, batch_size=args.batch_size, tau=args.tau,
                gamma=args.gamma, ent_coef=f"auto_{args.initial_temperature}", target_entropy=args.target_entropy,
                policy_kwargs={"net_arch": [args.width] * args.depth}, seed=args.seed, verbose=0)
    pol = model.policy
    out: dict[str, np.ndarray] = {}

    def dump(prefix: str) -> None:
        for name, tree in (("actor", pol.actor_state.params), ("qf", pol.qf_state.params),
                           ("target", pol.qf_state.target_params), ("ent", model.ent_coef_state.params)):
            for path, value in flatten_dict(tree, sep="/").items():
                out[f"{prefix}/{name}/{path}"] = np.asarray(value)

    def standard_normal(key, shape):
        """The draws behind TanhTransformedDistribution(MultivariateNormalDiag).sample(seed=key)."""
        probe = TanhTransformedDistribution(tfd.MultivariateNormalDiag(
            loc=jnp.zeros(shape, jnp.float32), scale_diag=jnp.full(shape, 1e-3, jnp.float32)))
        return np.asarray(jnp.arctanh(probe.sample(seed=key)) / 1e-3)

    def sampled_action_error(params, obs, key, noise):
        dist = pol.actor_state.apply_fn(params, obs)
        base = dist.distribution
        ours = np.tanh(np.asarray(base.loc) + np.asarray(base.stddev()) * noise)
        return float(np.max(np.abs(ours - np.asarray(dist.sample(seed=key)))))

    batches = _batches(args, np)
    out.update({f"batch/{k}": v for k, v in batches.items()})
    dump("init")
    shape = (args.batch_size, args.action_size)
    noise_c, noise_a, metrics, errors = [], [], {"critic_loss": [], "actor_loss": [], "alpha_loss": [], "alpha": []}, []
    ones = np.ones((args.batch_size, 1), np.float32)
    for i in range(args.steps):
        obs = np.concatenate([batches["obs"][i], ones], axis=1)
        next_obs = np.concatenate([batches["next_obs"][i], ones], axis=1)
        # sbx 0.28's key chain inside one step: update_critic splits 4 (noise = [1]), then
        # update_actor splits the carried key 3 (noise = [2]).
        carried, key_c, _, _ = jax.random.split(model.key, 4)
        _, _, key_a = jax.random.split(carried, 3)
        noise_c.append(standard_normal(key_c, shape))
        noise_a.append(standard_normal(key_a, shape))
        errors.append(sampled_action_error(pol.actor_state.params, next_obs, key_c, noise_c[-1]))
        errors.append(sampled_action_error(pol.actor_state.params, obs, key_a, noise_a[-1]))
        data = ReplayBufferSamplesNp(obs, batches["action"][i], next_obs, batches["terminal"][i],
                                     batches["reward"][i], np.full((args.batch_size,), args.gamma, np.float32))
        pol.qf_state, pol.actor_state, model.ent_coef_state, model.key, info = model._train(
            args.tau, model.target_entropy, 1, data, 1, 0, pol.qf_state, pol.actor_state, model.ent_coef_state,
            model.key)
        actor_loss, qf_loss, ent_loss, ent_value = info
        metrics["critic_loss"].append(float(qf_loss))
        metrics["actor_loss"].append(float(actor_loss))
        metrics["alpha_loss"].append(float(ent_loss))
        # ent_value is the temperature the step's critic target used (before the update).
        metrics["alpha"].append(float(model.ent_coef_state.apply_fn({"params": model.ent_coef_state.params})))
    dump("final")
    out["noise/critic"] = np.stack(noise_c)
    out["noise/actor"] = np.stack(noise_a)
    out.update({f"metrics/{k}": np.asarray(v, np.float32) for k, v in metrics.items()})
    out["noise_check/max_abs_action_error"] = np.asarray(max(errors), np.float32)
    out["versions"] = np.asarray(json.dumps(versions(("sbx-rl", "stable-baselines3", "jax", "flax", "optax", "tfp-nightly"))))
    np.savez(args.out, **out)
    print(f"sbx: {args.steps} steps, critic loss {metrics['critic_loss'][0]:.4f} -> {metrics['critic_loss'][-1]:.4f}, "
          f"noise check {max(errors):.2e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
