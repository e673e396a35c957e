"""Open-loop rollouts: reset a batch of slots and step them under given actions, in one scan."""

from __future__ import annotations

import jax


def rollout(env, task_ids, goal_indices, actions):
    """Reset slots (task_ids i32[B], goal_indices i32[B]) and apply actions f32[T, B, 4].

    Returns (final State [B], trace State [T, B]) — the state after every step. Pure; jit it
    (e.g. `jax.jit(functools.partial(rollout, env))`).
    """
    s0 = jax.vmap(env.reset, in_axes=(None, 0, 0))(jax.random.PRNGKey(0), task_ids, goal_indices)
    return jax.lax.scan(lambda s, a: (jax.vmap(env.step)(s, a),) * 2, s0, actions)
