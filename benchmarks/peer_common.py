"""What the peer learners' scripts share (benchmarks/sbx_sac.py, sb3_ppo.py, mtsac_peer.py).

Runs in .venv-bench and imports nothing from this project: MetaWorld's evaluation protocol on
the real metaworld env, and the versions of what the peer ran with.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Callable

COMMON_PACKAGES = ("metaworld", "mujoco", "gymnasium", "numpy", "torch")


def eval_points(text: str, total_steps: int) -> list[int]:
    """``--eval-steps`` "a,b,c" -> sorted env-step counts; SystemExit unless non-empty and <= total."""
    steps = sorted({int(s) for s in text.split(",") if s.strip()})
    if not steps or steps[-1] > total_steps:
        raise SystemExit(f"--eval-steps must be non-empty and <= --total-steps, got {text}")
    return steps


def fresh_output(path: str) -> Path:
    """The JSON-lines output file, created empty (its folder too)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("")
    return out


def versions(packages: tuple[str, ...]) -> dict:
    out = {}
    for p in packages + COMMON_PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = None
    return out


class Evaluator:
    """MetaWorld's evaluation protocol (``metaworld.evaluation``) on ``episodes`` envs: episode
    k on goal k of ``tasks``, deterministic actions, an episode succeeds at its first
    successful step and ends there (or at the horizon); its return is the sum of rewards up
    to its end. All episodes run side by side: ``act`` is called once per step on the batch
    of running episodes' observations f64[n, O] and returns env actions [n, A]."""

    def __init__(self, env_cls, tasks: list, episodes: int):
        import numpy as np

        self.np = np
        self.envs = []
        for k in range(episodes):
            env = env_cls()
            env.set_task(tasks[k % len(tasks)])
            self.envs.append(env)
        self.horizon = int(self.envs[0].max_path_length)

    def __call__(self, act: Callable) -> dict:
        np = self.np
        n = len(self.envs)
        obs = np.stack([env.reset()[0] for env in self.envs])
        active = np.ones(n, bool)
        success = np.zeros(n, bool)
        ret = np.zeros(n, np.float64)
        length = np.zeros(n, np.int64)
        for _ in range(self.horizon):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            actions = act(obs[idx])
            for j, i in enumerate(idx):
                o, r, _, truncated, info = self.envs[i].step(actions[j])
                obs[i] = o
                ret[i] += float(r)
                length[i] += 1
                if info["success"]:
                    success[i] = True
                    active[i] = False
                elif truncated:
                    active[i] = False
        return {"success": float(success.mean()), "return": float(ret.mean()),
                "mean_length": float(length.mean())}
