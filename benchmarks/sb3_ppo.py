"""The PPO peer of the learning benchmark: Stable-Baselines3's PPO (PyTorch) on the real metaworld env.

Runs in .venv-bench (``make install-bench``: stable-baselines3, torch CPU, metaworld 3.1.1) and
imports nothing from this project. One process = one seed of one task:

    .venv-bench/bin/python benchmarks/sb3_ppo.py --task reach-v3 --seed 0 --num-envs 8 \\
        --total-steps 200000 --eval-steps 50000,100000,150000,200000 --out /tmp/ppo-reach-0.jsonl

Training env: ``--num-envs`` copies of ``gym.make("Meta-World/MT1", env_name=task,
seed=env_seed)`` in a DummyVecEnv (the 50 goals of ``metaworld.MT1(task, seed=env_seed)``, a
goal drawn at every reset from each copy's generator, re-seeded from ``--seed`` and the copy's
index; 500-step episodes whose truncation SB3 bootstraps from V(final observation)).

sbx-rl's PPO is not used: its ``target_kl`` adapts the learning rate instead of stopping the
epochs, which is not the DRATS paper's learner. SB3 stops a rollout's epochs at the first
minibatch whose approx. KL (measured before its step) exceeds 1.5 x target_kl, so
``--target-kl`` is passed to it divided by 1.5: both learners stop at the same threshold.

Evaluation: MetaWorld's protocol (benchmarks/peer_common.py), deterministic actions (the
Gaussian's mean, clipped to the action bounds as SB3 does for the env), at the first rollout
end at or after each of ``--eval-steps``. Writes JSON lines to ``--out``: ``{"kind": "eval"}``
rows and a final ``{"kind": "summary"}`` row (config, versions, timings, settings read off
the model).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from peer_common import Evaluator, eval_points, fresh_output, versions  # benchmarks/peer_common.py


def _parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="benchmarks/sb3_ppo.py", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--task", required=True, help="a metaworld v3 task, e.g. reach-v3")
    ap.add_argument("--seed", type=int, required=True, help="training seed (networks, goal draws)")
    ap.add_argument("--env-seed", type=int, default=0, help="benchmark seed fixing the 50 goals (metaworld.MT1)")
    ap.add_argument("--num-envs", type=int, default=8, help="env copies stepped per vector step")
    ap.add_argument("--rollout-steps", type=int, default=500, help="vector steps per rollout (n_steps)")
    ap.add_argument("--total-steps", type=int, required=True, help="env steps over all copies")
    ap.add_argument("--eval-steps", required=True, help="comma list of env-step counts to evaluate at")
    ap.add_argument("--eval-episodes", type=int, default=50)
    ap.add_argument("--width", type=int, default=400)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--gamma", type=float, default=0.99)
    ap.add_argument("--gae-lambda", type=float, default=0.97)
    ap.add_argument("--clip", type=float, default=0.2)
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--minibatches", type=int, default=32)
    ap.add_argument("--target-kl", type=float, default=0.05, help="the stop threshold (passed to SB3 / 1.5)")
    ap.add_argument("--entropy-coef", type=float, default=0.01)
    ap.add_argument("--value-coef", type=float, default=0.5)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--out", required=True, help="JSON lines output")
    return ap.parse_args(argv)


def _introspect(model) -> dict:
    """What the peer actually ran with, read off the objects (for the differences table)."""
    pol = model.policy
    return {"policy_class": type(pol).__name__, "net_arch": repr(pol.net_arch),
            "activation": pol.activation_fn.__name__, "ortho_init": pol.ortho_init,
            "log_std_init": float(pol.log_std.detach().mean()) if hasattr(pol, "log_std") else None,
            "state_dependent_std": False, "optimizer": type(pol.optimizer).__name__,
            "adam_eps": pol.optimizer.defaults.get("eps"), "n_steps": model.n_steps, "batch_size": model.batch_size,
            "n_epochs": model.n_epochs, "sb3_target_kl": model.target_kl, "normalize_advantage":
            model.normalize_advantage, "clip_range_vf": repr(model.clip_range_vf), "ent_coef": model.ent_coef,
            "vf_coef": model.vf_coef, "max_grad_norm": model.max_grad_norm, "num_threads": _threads()}


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv=None) -> int:
    args = _parse(argv)
    t_start = time.perf_counter()
    import gymnasium as gym
    import metaworld  # noqa: F401  (registers Meta-World/*)
    import numpy as np
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(1)  # one core per process, like our single-process runs' jobs
    eval_steps = eval_points(args.eval_steps, args.total_steps)
    rollout = args.num_envs * args.rollout_steps
    if rollout % args.minibatches:
        raise SystemExit("num_envs x rollout_steps must be a multiple of --minibatches")
    out = fresh_output(args.out)

    def make(i: int):
        def thunk():
            env = gym.make("Meta-World/MT1", env_name=args.task, seed=args.env_seed)
            env.unwrapped.seed(args.seed * 1000 + i)  # metaworld ignores reset(seed=...): seed the goal draws
            return env
        return thunk

    venv = DummyVecEnv([make(i) for i in range(args.num_envs)])
    probe = gym.make("Meta-World/MT1", env_name=args.task, seed=args.env_seed)
    tasks = list(probe.get_wrapper_attr("tasks"))
    evaluator = Evaluator(type(probe.unwrapped), tasks, args.eval_episodes)
    model = PPO(
        "MlpPolicy", venv, learning_rate=args.lr, n_steps=args.rollout_steps, batch_size=rollout // args.minibatches,
        n_epochs=args.epochs, gamma=args.gamma, gae_lambda=args.gae_lambda, clip_range=args.clip,
        ent_coef=args.entropy_coef, vf_coef=args.value_coef, max_grad_norm=args.max_grad_norm,
        target_kl=args.target_kl / 1.5, seed=args.seed, verbose=0, device="cpu",
        policy_kwargs={"net_arch": {"pi": [args.width] * args.depth, "vf": [args.width] * args.depth},
                       "activation_fn": torch.nn.ReLU},
    )
    timing = {"eval_s": 0.0}

    def write(row: dict) -> None:
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")

    def act(obs):
        action, _ = model.predict(obs.astype(np.float32), deterministic=True)  # clipped to the bounds
        return action

    class EvalCallback(BaseCallback):
        def __init__(self):
            super().__init__()
            self.pending = list(eval_steps)

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:  # after the rollout, before its update: as at a chunk start
            return None

        def _on_rollout_start(self) -> None:  # the previous rollout's update is done
            while self.pending and self.num_timesteps >= self.pending[0]:
                self.pending.pop(0)
                t0 = time.perf_counter()
                r = evaluator(act)
                dt = time.perf_counter() - t0
                timing["eval_s"] += dt
                wall = time.perf_counter() - t_learn
                write({"kind": "eval", "env_steps": int(self.num_timesteps), "seed": args.seed, "task": args.task,
                       "success": r["success"], "return": r["return"], "mean_length": r["mean_length"],
                       "eval_s": dt, "wall_s": wall, "train_s": wall - timing["eval_s"],
                       "epochs_done": int(self.model._n_updates)})
                print(f"sb3 ppo {args.task} seed {args.seed} @ {self.num_timesteps}: success {r['success']:.2f} "
                      f"return {r['return']:.0f} (eval {dt:.1f}s)", flush=True)

    t_learn = time.perf_counter()
    callback = EvalCallback()
    model.learn(total_timesteps=args.total_steps, callback=callback)
    callback._on_rollout_start()  # the last rollout's update is done: evaluate the final point
    wall = time.perf_counter() - t_learn
    train_s = wall - timing["eval_s"]
    write({"kind": "summary", "task": args.task, "seed": args.seed, "env_steps": int(model.num_timesteps),
           "epochs_done": int(model._n_updates), "wall_s": wall, "train_s": train_s, "eval_s": timing["eval_s"],
           "setup_s": t_learn - t_start, "env_steps_per_s": model.num_timesteps / train_s,
           "horizon": int(probe.unwrapped.max_path_length), "goals": len(tasks), "config": vars(args),
           "versions": versions(("stable-baselines3",)), "peer_settings": _introspect(model)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
