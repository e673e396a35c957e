"""metaworld_jax: the MetaWorld v3 tasks as pure JAX environments.

    env = metaworld_jax.make("mt10", backend="mujoco", seed=0)
    state = env.reset(rng, task_id, goal_index)
    state = env.step(state, action)

Observations, rewards (v2), success rules and the 50 goals per task match the `metaworld`
package; scenes are loaded from its installed assets.
"""

from __future__ import annotations

from typing import Sequence

from metaworld_jax import goals as _goals
from metaworld_jax.backends import BACKENDS, check_available
from metaworld_jax.env import MetaWorldEnv
from metaworld_jax.suites import MT10, MT50, SUITES
from metaworld_jax.tasks import REGISTRY
from metaworld_jax.types import Env, State

__all__ = ["make", "registered_tasks", "MetaWorldEnv", "State", "Env", "MT10", "MT50", "SUITES", "BACKENDS"]


def registered_tasks() -> tuple[str, ...]:
    """Names of the tasks this version implements."""
    return tuple(sorted(REGISTRY))


def resolve_tasks(name_or_suite: str | Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """-> (task names, whether goals follow one benchmark sequence as in metaworld.MT10/MT50)."""
    if isinstance(name_or_suite, str):
        key = name_or_suite.strip().lower()
        if key in SUITES:
            names, suite = SUITES[key], True
        else:
            names, suite = tuple(n.strip() for n in name_or_suite.split(",") if n.strip()), False
    else:
        names, suite = tuple(name_or_suite), False
    if not names:
        raise ValueError("no task given: name a task (e.g. 'reach-v3'), 'mt10', 'mt50' or a list")
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(
            f"unknown task(s) {', '.join(map(repr, unknown))}; known: suites {', '.join(SUITES)} "
            f"and tasks {', '.join(registered_tasks())}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"task list has duplicates: {names}")
    return names, suite


def make(
    name_or_suite: str | Sequence[str],
    backend: str = "mujoco",
    seed: int = 0,
    *,
    task_one_hot: bool = False,
    num_threads: int | None = None,
    block_size: int | None = None,
    scene_variant: str | None = None,
) -> MetaWorldEnv:
    """Build an env over a task ("reach-v3"), a suite ("mt10", "mt50") or a list of tasks.

    Task ids follow the suite's order. Goals: a suite's equal `metaworld.MT10(seed)` /
    `MT50(seed)`; a single task's or a list's equal `metaworld.MT1(name, seed)` per task.
    task_one_hot appends the one-hot task id to the 39-d observation.

    Backends: "mujoco" (C MuJoCo, CPU, exact), "mjx" (MJX-JAX on adapted scenes; GPU/TPU),
    "warp" (MJX-Warp on stock scenes; NVIDIA GPU). num_threads: host threads of "mujoco".
    block_size ("mjx"/"warp", default 128): consecutive slots that should share a task so a
    batched step runs one scene per block (any layout stays correct, only slower).
    scene_variant ("mujoco" only): "stock" (default) or "mjx", to run C MuJoCo on the
    scenes MJX-JAX simulates (how the adapter's effect is measured).
    """
    check_available(backend)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    names, suite = resolve_tasks(name_or_suite)
    tasks = [REGISTRY[n]() for n in names]
    if suite:
        rand_vecs = _goals.goals(tasks, seed)
    else:
        rand_vecs = [_goals.goals([t], seed)[0] for t in tasks]
    if block_size is not None and (not isinstance(block_size, int) or block_size < 1):
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    return MetaWorldEnv(tasks, rand_vecs, backend=backend, task_one_hot=task_one_hot, num_threads=num_threads,
                        block_size=block_size, scene_variant=scene_variant)
