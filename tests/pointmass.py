"""A tiny multi-task env for tests: 2-D point-mass reach tasks of rising difficulty.

Follows the drats-jax env interface (envs/metaworld_jax/types.py): pure ``reset`` /
``step`` over ONE slot, batched with jax.vmap. Test fixture, not a product env.

Task k of N: reach a goal at distance ``distances[k]`` from the origin, in one of
``num_goals`` fixed directions (goal_index), moving at most ``speed`` per step. Far goals
are hard: a random policy never gets near them and the dense reward there is ~0.
    obs     f32[4]  (position, goal)
    reward  10 * exp(-5 * distance)  per step, in [0, 10]   (MetaWorld-like scale)
    success distance < 0.1
    done    only by truncation after ``episode_length`` steps
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

try:  # the real interface type, if the env package imports cleanly
    from metaworld_jax.types import State
except Exception:  # noqa: BLE001  the env package is written in parallel; keep tests independent

    @struct.dataclass
    class State:  # same fields as metaworld_jax.types.State
        physics: object
        obs: jax.Array
        reward: jax.Array
        done: jax.Array
        info: dict


class PointMass:
    """N point-mass reach tasks. Static attributes as the interface requires."""

    def __init__(self, distances=(0.3, 0.6, 1.0, 1.8), episode_length: int = 50, num_goals: int = 8,
                 speed: float = 0.1, success_radius: float = 0.1):
        self.distances = tuple(float(d) for d in distances)
        self.num_tasks = len(self.distances)
        self.task_names = tuple(f"reach-{d:g}" for d in self.distances)
        self.observation_size = 4
        self.action_size = 2
        self.episode_length = int(episode_length)
        self.num_goals = int(num_goals)
        self.speed = float(speed)
        self.success_radius = float(success_radius)

    def _goal(self, task_id, goal_index):
        dist = jnp.asarray(self.distances, jnp.float32)[task_id]
        angle = 2.0 * math.pi * goal_index.astype(jnp.float32) / self.num_goals
        return dist * jnp.stack([jnp.cos(angle), jnp.sin(angle)])

    def reset(self, rng, task_id, goal_index) -> State:
        del rng  # deterministic start at the origin
        task_id = jnp.asarray(task_id, jnp.int32)
        goal_index = jnp.asarray(goal_index, jnp.int32)
        pos = jnp.zeros((2,), jnp.float32)
        goal = self._goal(task_id, goal_index)
        info = {"success": jnp.zeros((), bool), "truncation": jnp.zeros((), bool), "task_id": task_id,
                "goal_index": goal_index, "steps": jnp.zeros((), jnp.int32)}
        return State(physics={"pos": pos, "goal": goal}, obs=jnp.concatenate([pos, goal]),
                     reward=jnp.zeros((), jnp.float32), done=jnp.zeros((), bool), info=info)

    def step(self, state: State, action) -> State:
        a = jnp.clip(action, -1.0, 1.0)
        pos = jnp.clip(state.physics["pos"] + self.speed * a, -2.5, 2.5)
        goal = state.physics["goal"]
        dist = jnp.linalg.norm(pos - goal)
        reward = 10.0 * jnp.exp(-5.0 * dist)
        steps = state.info["steps"] + 1
        trunc = steps >= self.episode_length
        info = dict(state.info, success=dist < self.success_radius, truncation=trunc, steps=steps)
        return State(physics={"pos": pos, "goal": goal}, obs=jnp.concatenate([pos, goal]),
                     reward=reward.astype(jnp.float32), done=trunc, info=info)
