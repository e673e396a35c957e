"""PPO section (``--sections ppo``): our PPO against Stable-Baselines3's PPO on single MetaWorld
tasks, at the DRATS paper's learner settings, several seeds, the same env-step budget.

Both learners: ``num_envs`` env copies of one task (goals drawn per episode from the task's
50), rollouts of one 500-step episode per copy (num_envs x 500 transitions), the paper's
3x400 networks and optimisation settings (``PPO_SHARED``), MetaWorld's evaluation protocol
at the same rollout boundaries. Ours runs its seeds vmapped in one process; the peer
(``benchmarks/sb3_ppo.py`` in .venv-bench) one process per seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.learning.jobs import Job
from benchmarks.learning.plan import REPO, our_eval_points, parse_tasks
from benchmarks.learning.single import collect_tasks, peer_available, single_stats

# Given explicitly to both learners (the DRATS paper's MT10 PPO, docs/drats.md).
PPO_SHARED = {"hidden_width": 400, "hidden_depth": 3, "lr": 5e-4, "gamma": 0.99, "gae_lambda": 0.97, "clip": 0.2,
              "epochs": 16, "minibatches": 32, "target_kl": 0.05, "entropy_coef": 0.01, "value_coef": 0.5,
              "max_grad_norm": 1.0, "rollout_steps": 500}

# For the up-front estimate only (idle 2-core CPU, two jobs at a time): env steps/s of our
# process summed over its vmapped seeds, and of one peer process.
PPO_ASSUMED = {"ours_all_seeds": 700.0, "peer": 700.0, "startup_s": 40.0, "eval_s": 10.0}


def ppo_plan(task: str, steps: int, args) -> dict:
    per_rollout = args.ppo_num_envs * PPO_SHARED["rollout_steps"]
    steps = max(per_rollout, steps // per_rollout * per_rollout)  # whole rollouts
    interval = max(per_rollout, steps // args.ppo_eval_points)
    points = our_eval_points(steps, 0, PPO_SHARED["rollout_steps"], interval, num_envs=args.ppo_num_envs)
    return {"task": task, "env_steps": steps, "num_envs": args.ppo_num_envs, "eval_interval": interval,
            "eval_points": points, "rollout_env_steps": per_rollout}


def our_cmd(plan: dict, args, out: Path) -> list[str]:
    s, w = PPO_SHARED, args.ppo_width
    return [sys.executable, "-m", "drats_jax.train", "--algo", "ppo", "--tasks", plan["task"], "--sampler", "uniform",
            "--seeds", str(args.ppo_seeds), "--seed", "0", "--env-seed", str(args.env_seed),
            "--total-steps", str(plan["env_steps"]), "--train.num-envs", str(plan["num_envs"]),
            "--train.warmup-env-steps", "0", "--train.sampler.interval", str(plan["rollout_env_steps"]),
            "--train.ppo.hidden-width", str(w), "--train.ppo.hidden-depth", str(s["hidden_depth"]),
            "--train.ppo.lr", str(s["lr"]), "--train.ppo.gamma", str(s["gamma"]),
            "--train.ppo.gae-lambda", str(s["gae_lambda"]), "--train.ppo.clip-eps", str(s["clip"]),
            "--train.ppo.num-epochs", str(args.ppo_epochs), "--train.ppo.num-minibatches", str(s["minibatches"]),
            "--train.ppo.target-kl", str(s["target_kl"]), "--train.ppo.entropy-coef", str(s["entropy_coef"]),
            "--train.ppo.value-coef", str(s["value_coef"]), "--train.ppo.max-grad-norm", str(s["max_grad_norm"]),
            "--eval-interval", str(plan["eval_interval"]), "--eval-episodes", str(args.eval_episodes),
            "--checkpoint-interval", "0", "--keep-checkpoints", "1", "--out", str(out), "--no-progress"]


def peer_cmd(plan: dict, seed: int, args, out: Path) -> list[str]:
    s = PPO_SHARED
    return [str(args.peer_python), str(REPO / "benchmarks" / "sb3_ppo.py"), "--task", plan["task"],
            "--seed", str(seed), "--env-seed", str(args.env_seed), "--num-envs", str(plan["num_envs"]),
            "--rollout-steps", str(s["rollout_steps"]), "--total-steps", str(plan["env_steps"]),
            "--eval-steps", ",".join(map(str, plan["eval_points"])), "--eval-episodes", str(args.eval_episodes),
            "--width", str(args.ppo_width), "--depth", str(s["hidden_depth"]), "--lr", str(s["lr"]),
            "--gamma", str(s["gamma"]), "--gae-lambda", str(s["gae_lambda"]), "--clip", str(s["clip"]),
            "--epochs", str(args.ppo_epochs), "--minibatches", str(s["minibatches"]),
            "--target-kl", str(s["target_kl"]), "--entropy-coef", str(s["entropy_coef"]),
            "--value-coef", str(s["value_coef"]), "--max-grad-norm", str(s["max_grad_norm"]), "--out", str(out)]


def _estimate(plan: dict, seeds: int, rate: float) -> float:
    return (PPO_ASSUMED["startup_s"] + plan["env_steps"] * seeds / rate
            + len(plan["eval_points"]) * PPO_ASSUMED["eval_s"] * seeds)


def run_ppo(args, work: Path) -> tuple[dict, list[Job], callable]:
    """Builds the PPO jobs; returns (section skeleton, jobs, finish(section) -> section)."""
    plans = {t: ppo_plan(t, n, args) for t, n in parse_tasks(args.ppo_tasks).items()}
    peer_ok, peer_reason = peer_available(args)
    section = {"plans": plans, "seeds": args.ppo_seeds, "eval_episodes": args.eval_episodes,
               "shared": {**PPO_SHARED, "hidden_width": args.ppo_width, "epochs": args.ppo_epochs,
                          "num_envs": args.ppo_num_envs, "env_seed": args.env_seed,
                          "env": "metaworld v3 task, 50 goals of MT1(task, seed=env_seed), 500-step episodes, "
                                 "v2 rewards"},
               "peer": {"name": "stable-baselines3 PPO", "python": str(args.peer_python), "ran": peer_ok,
                        "reason": None if peer_ok else peer_reason}}
    jobs, ours_jobs, peer_jobs = [], {}, {}
    for task, plan in plans.items():
        out = work / "ppo" / f"ours-{task}"
        job = Job(f"ours ppo {task} ({args.ppo_seeds} seeds)", "ours-ppo", our_cmd(plan, args, out),
                  work / "logs" / f"ppo-ours-{task}.log", _estimate(plan, args.ppo_seeds, PPO_ASSUMED["ours_all_seeds"]),
                  watch=out)
        jobs.append(job)
        ours_jobs[task] = (job, out)
        for seed in range(args.ppo_seeds if peer_ok else 0):
            f = work / "ppo" / f"peer-{task}-seed{seed}.jsonl"
            pj = Job(f"sb3 ppo {task} seed {seed}", "peer-ppo", peer_cmd(plan, seed, args, f),
                     work / "logs" / f"ppo-peer-{task}-seed{seed}.log", _estimate(plan, 1, PPO_ASSUMED["peer"]))
            jobs.append(pj)
            peer_jobs.setdefault(task, []).append((pj, f))

    def finish(section: dict) -> dict:
        collect_tasks(section, plans, ours_jobs, peer_jobs, args.ppo_seeds)
        section["differences"] = differences(section["peer"]["settings"])
        single_stats(section, args.reps)
        return section

    return section, jobs, finish


def differences(peer: dict | None) -> list[dict]:
    """What still differs between the two PPOs (besides PPO_SHARED)."""
    peer = peer or {}
    rows = [
        ("policy std", "state-dependent log-std head, clipped to [-20, 2]",
         f"state-independent log-std parameter, init {peer.get('log_std_init', 0.0)}"),
        ("initialisers", "He-uniform hidden kernels, zero biases, U(+-1e-3) actor / U(+-3e-3) critic output",
         f"orthogonal (ortho_init={peer.get('ortho_init')}): gain sqrt(2) hidden, 0.01 policy, 1 value"),
        ("optimisers", "actor and critic each their own Adam (eps 1e-5) and global-norm clip 1.0",
         f"one {peer.get('optimizer', 'Adam')} (eps {peer.get('adam_eps')}) over both, one clip 1.0 over all "
         "parameters; loss = policy + 0.5 value - 0.01 entropy"),
        ("advantage normalisation", "per task over the whole rollout (one task here: the rollout)",
         f"per minibatch (normalize_advantage={peer.get('normalize_advantage')})"),
        ("target-KL stop", "a minibatch whose approx. KL before its step exceeds 0.05 makes no step, nor any later",
         f"the same at 1.5 x target_kl; target_kl passed as 0.05 / 1.5 = {peer.get('sb3_target_kl')}"),
        ("truncation", "GAE bootstraps from V(true final observation)",
         "reward += gamma V(terminal observation) on TimeLimit truncation"),
        ("task one-hot appended to the observation", "yes (1 task: a constant 1)", "no"),
        ("action to the env", "clip(Gaussian sample, -1, 1); log-probs of the raw sample", "the same (SB3 clips)"),
        ("seeds", "split(PRNGKey(0), S)[s], vmapped in one process", "seed s, one process each (1 torch thread)"),
    ]
    return [{"what": w, "ours": o, "peer": p} for w, o, p in rows]
