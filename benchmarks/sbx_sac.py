"""The peer learner of benchmarks.learning: sbx-rl's SAC on the real metaworld env.

Runs in .venv-bench (``make install-bench``: sbx-rl, stable-baselines3, torch, metaworld
3.1.1), not in the main .venv, and imports nothing from this project. One process = one
seed of one task:

    .venv-bench/bin/python benchmarks/sbx_sac.py --task reach-v3 --seed 0 --total-steps 30000 \\
        --warmup 5000 --eval-steps 10000,20000,30000 --out /tmp/sbx-reach-0.jsonl

Training env: ``gym.make("Meta-World/MT1", env_name=task, seed=env_seed)`` (metaworld 3.1.1's
registration): the 50 goals of ``metaworld.MT1(task, seed=env_seed)``, a goal drawn at random
on every reset, 500-step episodes (truncation; the agent bootstraps through it: SB3's
replay buffer drops ``done`` on a time-limit truncation), rewards v2. The goal draws use the
env's own generator, re-seeded from ``--seed`` (metaworld ignores ``reset(seed=...)``), so the
seeds differ in their goal sequence while every seed sees the same 50 goals.

Evaluation (MetaWorld's protocol, ``metaworld.evaluation``): ``--eval-episodes`` episodes,
episode k on goal k of the same 50, deterministic actions (tanh of the actor's mean), an
episode succeeds at its first successful step and ends there (or at step 500); its return is
the sum of rewards up to its end. All episodes run side by side, the actor called once per
step on the batch of running episodes. Evaluation happens in an SB3 callback when the env-step
count reaches each of ``--eval-steps`` (before that step's gradient step).

Writes JSON lines to ``--out``: one ``{"kind": "eval", ...}`` row per evaluation point and a
final ``{"kind": "summary", ...}`` row (config, versions, timings). Timings: ``train_s`` is wall
time outside evaluation (env steps, gradient steps, first-call compiles), ``eval_s`` the time
spent evaluating.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from peer_common import Evaluator, eval_points, fresh_output, versions  # benchmarks/peer_common.py


def _parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="benchmarks/sbx_sac.py", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--task", required=True, help="a metaworld v3 task, e.g. reach-v3")
    ap.add_argument("--seed", type=int, required=True, help="training seed (networks, buffer, goal draws)")
    ap.add_argument("--env-seed", type=int, default=0, help="benchmark seed fixing the 50 goals (metaworld.MT1)")
    ap.add_argument("--total-steps", type=int, required=True, help="env steps, warm-up included")
    ap.add_argument("--warmup", type=int, required=True, help="env steps of uniform random actions first")
    ap.add_argument("--eval-steps", required=True, help="comma list of env-step counts to evaluate at")
    ap.add_argument("--eval-episodes", type=int, default=50)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-4, help="actor, critic and temperature learning rate")
    ap.add_argument("--gamma", type=float, default=0.99)
    ap.add_argument("--tau", type=float, default=0.005)
    ap.add_argument("--initial-temperature", type=float, default=1.0)
    ap.add_argument("--target-entropy", type=float, default=None, help="default: -action size")
    ap.add_argument("--buffer-size", type=int, default=None, help="default: --total-steps")
    ap.add_argument("--out", required=True, help="JSON lines output")
    return ap.parse_args(argv)


def _introspect(model) -> dict:
    """What the peer actually ran with, read off the objects (for the differences table)."""
    from sbx.common.policies import SquashedGaussianActor

    pol = model.policy
    return {"actor_class": type(pol.actor).__name__, "net_arch_pi": list(pol.net_arch_pi),
            "net_arch_qf": list(pol.net_arch_qf), "n_critics": pol.n_critics,
            "log_std_bounds": [float(SquashedGaussianActor.log_std_min), float(SquashedGaussianActor.log_std_max)],
            "optimizer": getattr(pol.optimizer_class, "__name__", repr(pol.optimizer_class)),
            "optimizer_kwargs": {k: repr(v) for k, v in (pol.optimizer_kwargs or {}).items()},
            "learning_starts": model.learning_starts, "buffer_size": model.buffer_size,
            "handle_timeout_termination": bool(getattr(model.replay_buffer, "handle_timeout_termination", False)),
            "target_entropy": float(model.target_entropy), "policy_delay": model.policy_delay,
            "train_freq": str(model.train_freq), "gradient_steps": model.gradient_steps}


def main(argv=None) -> int:
    args = _parse(argv)
    t_start = time.perf_counter()
    import gymnasium as gym
    import metaworld  # noqa: F401  (registers Meta-World/*)
    import numpy as np
    from sbx import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    eval_steps = eval_points(args.eval_steps, args.total_steps)
    out = fresh_output(args.out)

    env = gym.make("Meta-World/MT1", env_name=args.task, seed=args.env_seed)
    # metaworld ignores reset(seed=...): re-seed the generator that draws the goal at each reset.
    env.unwrapped.seed(args.seed)
    horizon = int(env.unwrapped.max_path_length)
    tasks = list(env.get_wrapper_attr("tasks"))
    evaluator = Evaluator(type(env.unwrapped), tasks, args.eval_episodes)

    def deterministic(model, obs):  # tanh of the actor's mean, in the env's action range
        from sbx.common.policies import BaseJaxPolicy

        act = np.asarray(BaseJaxPolicy.select_action(model.policy.actor_state, obs.astype(np.float32)))
        return model.policy.unscale_action(np.clip(act, -1.0, 1.0))

    target_entropy = "auto" if args.target_entropy is None else float(args.target_entropy)
    model = SAC(
        "MlpPolicy", env,
        learning_rate=args.lr, buffer_size=args.buffer_size or args.total_steps, learning_starts=args.warmup,
        batch_size=args.batch_size, tau=args.tau, gamma=args.gamma, train_freq=1, gradient_steps=1,
        ent_coef=f"auto_{args.initial_temperature}", target_entropy=target_entropy,
        policy_kwargs={"net_arch": [args.width] * args.depth}, seed=args.seed, verbose=0,
    )

    timing = {"eval_s": 0.0, "episodes": 0, "episode_lengths": set()}

    def write(row: dict) -> None:
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")

    class EvalCallback(BaseCallback):
        def __init__(self):
            super().__init__()
            self.pending = list(eval_steps)

        def _on_step(self) -> bool:
            for done, info in zip(self.locals.get("dones", []), self.locals.get("infos", [])):
                if done and "episode" in info:
                    timing["episodes"] += 1
                    timing["episode_lengths"].add(int(info["episode"]["l"]))
            while self.pending and self.num_timesteps >= self.pending[0]:
                step = self.pending.pop(0)
                t0 = time.perf_counter()
                r = evaluator(lambda obs: deterministic(self.model, obs))
                dt = time.perf_counter() - t0
                timing["eval_s"] += dt
                wall = time.perf_counter() - t_learn
                write({"kind": "eval", "env_steps": step, "seed": args.seed, "task": args.task,
                       "success": r["success"], "return": r["return"], "mean_length": r["mean_length"],
                       "eval_s": dt, "wall_s": wall, "train_s": wall - timing["eval_s"],
                       "grad_steps": int(self.model._n_updates)})
                print(f"sbx {args.task} seed {args.seed} @ {step}: success {r['success']:.2f} "
                      f"return {r['return']:.0f} (eval {dt:.1f}s)", flush=True)
            return True

    t_learn = time.perf_counter()
    model.learn(total_timesteps=args.total_steps, callback=EvalCallback())
    wall = time.perf_counter() - t_learn
    train_s = wall - timing["eval_s"]
    write({"kind": "summary", "task": args.task, "seed": args.seed, "env_steps": int(model.num_timesteps),
           "grad_steps": int(model._n_updates), "wall_s": wall, "train_s": train_s, "eval_s": timing["eval_s"],
           "setup_s": t_learn - t_start, "env_steps_per_s": model.num_timesteps / train_s,
           "episodes": timing["episodes"], "episode_lengths": sorted(timing["episode_lengths"]),
           "horizon": horizon, "goals": len(tasks), "config": vars(args), "versions": versions(("sbx-rl", "stable-baselines3", "jax", "jaxlib", "flax", "optax", "tfp-nightly")),
           "peer_settings": _introspect(model)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
