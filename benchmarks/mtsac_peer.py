"""The reference MTSAC (rainx0r/metaworld-algorithms) on metaworld's real MT10, for benchmarks.learning.

Runs in its own venv (``make install-mtsac``: Python 3.12, the versions of its uv.lock, metaworld
3.1.1), not in the main .venv, and imports nothing from this project. One process = one seed:

    /work/peers/venv-mtsac/bin/python benchmarks/mtsac_peer.py --seed 0 --total-steps 120000 \\
        --warmup 10000 --eval-steps 40000,80000,120000 --out /tmp/mtsac-0.jsonl

What runs is the reference's own code: ``MTSACConfig`` -> ``MTSAC.initialize``, its
``MultiTaskReplayBuffer`` (``spawn_replay_buffer``), ``sample_action``/``update``/``eval_action``,
and its env setup (``MetaworldConfig("MT10").spawn``: ``gym.make_vec("Meta-World/MT10")``, one
async subprocess per task, one-hot task ids appended to the observation, 500-step episodes
truncated and bootstrapped through, rewards v2, no termination on success). Its ``Run.start``
refuses to run without an accelerator and its ``OffPolicyAlgorithm.train`` evaluates every N
finished episodes, so this script runs that loop itself, step for step as ``train`` does (random
actions for ``warmstart_steps`` vector steps, then one gradient step per vector step from vector
step ``warmstart_steps + 1``; the final observation of a truncated episode as next_obs), minus
its logging and checkpoints, and evaluates at ``--eval-steps`` env steps (after that vector
step's gradient step, as ours).

Settings: ours where the reference lets them be set (``--width``/``--depth`` of actor and
critics, ``--lr`` for actor, critics and temperature, ``--gamma``, ``--tau``, initial
temperature 1, 2 critics, a buffer holding the whole run); the reference's MT10 example for the
rest (``examples/multi_task/mtsac_mt10.py``: gradient-norm clip 1.0 on actor and critics, none
on the temperature, Adam eps 1e-5, log-std in [-20, 2], target entropy -|A|, one temperature per
task). Differences from our side and why:
  - batch 260 where we use 256: its replay buffer draws batch/num_tasks transitions per task and
    asserts divisibility (``--batch-size`` is rounded up to a multiple of 10; the summary records it);
  - warm-up counts vector steps: ``--warmup`` env steps / 10 (10,000 -> 1,000), and its first
    gradient step comes one vector step later than ours (``global_step > warmstart_steps``);
  - replay sampling: always an equal share per task (our ``--train.buffer-sampling per_task``);
    its buffer stores float32 observations;
  - goals: ``MetaworldConfig.spawn(seed=--env-seed)``, so every seed has the 50 goals per task of
    ``metaworld.MT10(seed=env_seed)``, as ours (the reference's ``Run`` would use the training seed);
    the envs' generators (goal draws, random warm-up actions) are then re-seeded from ``--seed``.
Evaluation: MetaWorld's protocol as benchmarks/peer_common.Evaluator and our side apply it:
``--eval-episodes`` per task, episode k on goal k, deterministic actions (the reference's
``eval_action``: the tanh of the mean), an episode succeeds at its first successful step and ends
there (or at step 500); one env per task in this process, the 10 tasks' episodes side by side.
(The reference's own ``env_config.evaluate`` uses metaworld.evaluation, which draws each
episode's goal at random instead of k.)

Writes JSON lines to ``--out``: one ``{"kind": "eval", ...}`` row per evaluation point (success and
return per task) and a final ``{"kind": "summary", ...}`` row (config, versions, timings). ``train_s``
is wall time outside evaluation (env steps, gradient steps, compiles), ``eval_s`` time evaluating.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from peer_common import eval_points, fresh_output, versions  # benchmarks/peer_common.py

NUM_TASKS = 10


def _parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="benchmarks/mtsac_peer.py", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--seed", type=int, required=True, help="training seed (networks, buffer, env generators)")
    ap.add_argument("--env-seed", type=int, default=0, help="benchmark seed fixing the goals (metaworld.MT10)")
    ap.add_argument("--total-steps", type=int, required=True, help="env steps (all tasks), warm-up included")
    ap.add_argument("--warmup", type=int, required=True, help="env steps of random actions (-> vector steps)")
    ap.add_argument("--eval-steps", required=True, help="comma list of env-step counts to evaluate at")
    ap.add_argument("--eval-episodes", type=int, default=50, help="per task")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256, help="rounded up to a multiple of 10 (per-task batches)")
    ap.add_argument("--lr", type=float, default=3e-4, help="actor, critic and temperature learning rate")
    ap.add_argument("--gamma", type=float, default=0.99)
    ap.add_argument("--tau", type=float, default=0.005)
    ap.add_argument("--max-grad-norm", type=float, default=1.0, help="actor and critics (the MT10 example's)")
    ap.add_argument("--buffer-size", type=int, default=None, help="transitions, all tasks (default --total-steps)")
    ap.add_argument("--out", required=True, help="JSON lines output")
    return ap.parse_args(argv)


class MultiTaskEvaluator:
    """MetaWorld's protocol on one env per task: episode k of task i on goal k of task i,
    ``act(obs f64[n, O], task_ids int[n])`` once per step for the tasks still running."""

    def __init__(self, classes: dict, tasks: list, episodes: int):
        import numpy as np

        self.np, self.names, self.episodes = np, list(classes), episodes
        self.goals = [[t for t in tasks if t.env_name == name] for name in self.names]
        self.envs = [cls() for cls in classes.values()]
        self.horizon = int(self.envs[0].max_path_length)

    def __call__(self, act) -> dict:
        np, n, E = self.np, len(self.envs), self.episodes
        success, ret = np.zeros((n, E), bool), np.zeros((n, E))
        k, t = np.zeros(n, int), np.zeros(n, int)
        obs = np.zeros((n, self.envs[0].observation_space.shape[0]))

        def start(i):
            self.envs[i].set_task(self.goals[i][k[i] % len(self.goals[i])])
            obs[i], t[i] = self.envs[i].reset()[0], 0

        for i in range(n):
            start(i)
        while (k < E).any():
            idx = np.flatnonzero(k < E)
            actions = act(obs[idx], idx)
            for j, i in enumerate(idx):
                o, r, _, truncated, info = self.envs[i].step(actions[j])
                obs[i], t[i] = o, t[i] + 1
                ret[i, k[i]] += float(r)
                success[i, k[i]] |= bool(info["success"])
                if success[i, k[i]] or truncated or t[i] >= self.horizon:
                    k[i] += 1
                    if k[i] < E:
                        start(i)
        return {"success": {name: float(success[i].mean()) for i, name in enumerate(self.names)},
                "return": {name: float(ret[i].mean()) for i, name in enumerate(self.names)}}


def _settings(agent, algo_cfg, env_cfg, train_cfg, replay, backend: str) -> dict:
    """What the reference actually ran with, read off its config objects and agent."""
    def net(cfg) -> dict:
        n = cfg.network_config
        return {"width": n.width, "depth": n.depth, "kernel_init": n.kernel_init.name, "activation": n.activation.name,
                "lr": n.optimizer.lr, "max_grad_norm": n.optimizer.max_grad_norm,
                "optimizer": n.optimizer.optimizer.name, "adam_eps": 1e-5}  # eps: OptimizerConfig.spawn's constant

    actor = algo_cfg.actor_config
    return {"actor": {**net(actor), "log_std_bounds": [actor.log_std_min, actor.log_std_max],
                      "std_type": actor.std_type.name, "squash_tanh": actor.squash_tanh},
            "critic": {**net(algo_cfg.critic_config), "num_critics": agent.num_critics},
            "temperature": {"lr": algo_cfg.temperature_optimizer_config.lr, "per_task": True,
                            "max_grad_norm": algo_cfg.temperature_optimizer_config.max_grad_norm,
                            "initial": algo_cfg.initial_temperature, "target_entropy": float(agent.target_entropy)},
            "gamma": agent.gamma, "tau": agent.tau, "use_task_weights": agent.use_task_weights,
            "batch_size": train_cfg.batch_size, "buffer_size": train_cfg.buffer_size,
            "warmstart_vector_steps": train_cfg.warmstart_steps, "replay_buffer": type(replay).__name__,
            "env": {"env_id": env_cfg.env_id, "use_one_hot": env_cfg.use_one_hot,
                    "max_episode_steps": env_cfg.max_episode_steps, "terminate_on_success": env_cfg.terminate_on_success,
                    "reward_func_version": env_cfg.reward_func_version, "num_goals": env_cfg.num_goals},
            "params": {k: int(v) for k, v in agent.get_num_params().items()}, "jax_backend": backend}


def main(argv=None) -> int:
    args = _parse(argv)
    t_start = time.perf_counter()
    import jax
    import metaworld
    import numpy as np
    from metaworld_algorithms.config.networks import ContinuousActionPolicyConfig, QValueFunctionConfig
    from metaworld_algorithms.config.nn import VanillaNetworkConfig
    from metaworld_algorithms.config.optim import OptimizerConfig
    from metaworld_algorithms.config.rl import OffPolicyTrainingConfig
    from metaworld_algorithms.envs import MetaworldConfig
    from metaworld_algorithms.rl.algorithms import MTSAC, MTSACConfig

    eval_steps = eval_points(args.eval_steps, args.total_steps)
    out = fresh_output(args.out)
    batch = math.ceil(args.batch_size / NUM_TASKS) * NUM_TASKS
    buffer = math.ceil((args.buffer_size or args.total_steps) / NUM_TASKS) * NUM_TASKS
    warmstart = math.ceil(args.warmup / NUM_TASKS)

    def net(opt: OptimizerConfig) -> VanillaNetworkConfig:
        return VanillaNetworkConfig(width=args.width, depth=args.depth, optimizer=opt)

    clipped = OptimizerConfig(lr=args.lr, max_grad_norm=args.max_grad_norm)
    algo_cfg = MTSACConfig(num_tasks=NUM_TASKS, gamma=args.gamma, tau=args.tau, initial_temperature=1.0, num_critics=2,
                           actor_config=ContinuousActionPolicyConfig(network_config=net(clipped)),
                           critic_config=QValueFunctionConfig(network_config=net(clipped)),
                           temperature_optimizer_config=OptimizerConfig(lr=args.lr, max_grad_norm=None))
    env_cfg = MetaworldConfig(env_id="MT10", terminate_on_success=False, evaluation_num_episodes=args.eval_episodes)
    train_cfg = OffPolicyTrainingConfig(total_steps=args.total_steps, warmstart_steps=warmstart, buffer_size=buffer,
                                        batch_size=batch, evaluation_frequency=0)

    envs = env_cfg.spawn(seed=args.env_seed)  # the goals of metaworld.MT10(seed=env_seed)
    envs.call("seed", args.seed)  # each env's generator: goal draws at reset
    envs.action_space.seed(args.seed)  # warm-up actions
    agent = MTSAC.initialize(algo_cfg, env_cfg, seed=args.seed)
    replay = agent.spawn_replay_buffer(env_cfg, train_cfg, seed=args.seed)
    bench = metaworld.MT10(seed=args.env_seed)
    evaluator = MultiTaskEvaluator(dict(bench.train_classes), list(bench.train_tasks), args.eval_episodes)
    eye = np.eye(NUM_TASKS)

    def deterministic(obs, task_idx):
        return agent.eval_action(np.concatenate([obs, eye[task_idx]], axis=1))

    def write(row: dict) -> None:
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")

    num_envs, pending = envs.num_envs, list(eval_steps)
    timing = {"eval_s": 0.0, "episodes": 0, "grad_steps": 0}
    t_learn = time.perf_counter()
    obs, _ = envs.reset()
    for global_step in range(train_cfg.total_steps // num_envs):  # OffPolicyAlgorithm.train's loop
        if global_step < train_cfg.warmstart_steps:
            actions = envs.action_space.sample()
        else:
            agent, actions = agent.sample_action(obs)
        next_obs, rewards, terminations, truncations, infos = envs.step(actions)
        ended = np.logical_or(terminations, truncations)
        buffer_obs = next_obs
        if ended.any():
            buffer_obs = next_obs.copy()
            for i in np.flatnonzero(ended):
                buffer_obs[i] = infos["final_obs"][i]
            timing["episodes"] += int(ended.sum())
        replay.add(obs, buffer_obs, actions, rewards, terminations)
        obs = next_obs
        if global_step > train_cfg.warmstart_steps:
            agent, _ = agent.update(replay.sample(train_cfg.batch_size))
            timing["grad_steps"] += 1
        env_steps = (global_step + 1) * num_envs
        while pending and env_steps >= pending[0]:
            step = pending.pop(0)
            t0 = time.perf_counter()
            r = evaluator(deterministic)
            dt = time.perf_counter() - t0
            timing["eval_s"] += dt
            wall = time.perf_counter() - t_learn
            s = list(r["success"].values())
            write({"kind": "eval", "env_steps": step, "seed": args.seed, **r, "mean_success": float(np.mean(s)),
                   "worst_success": float(np.min(s)), "eval_s": dt, "wall_s": wall,
                   "train_s": wall - timing["eval_s"], "grad_steps": timing["grad_steps"]})
            print(f"mtsac seed {args.seed} @ {step}: mean success {np.mean(s):.2f} (eval {dt:.1f}s)", flush=True)
    wall = time.perf_counter() - t_learn
    envs.close()
    train_s = wall - timing["eval_s"]
    total = train_cfg.total_steps // num_envs * num_envs
    write({"kind": "summary", "seed": args.seed, "env_steps": total, "grad_steps": timing["grad_steps"],
           "wall_s": wall, "train_s": train_s, "eval_s": timing["eval_s"], "setup_s": t_learn - t_start,
           "env_steps_per_s": total / train_s, "episodes": timing["episodes"], "num_envs": num_envs,
           "task_names": evaluator.names, "config": vars(args),
           "peer_settings": _settings(agent, algo_cfg, env_cfg, train_cfg, replay, jax.default_backend()),
           "versions": versions(("metaworld-algorithms", "jax", "jaxlib", "flax", "optax", "distrax",
                                 "orbax-checkpoint"))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
