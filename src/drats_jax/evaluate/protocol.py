"""Evaluation with MetaWorld's protocol, as one jitted program on device.

    evaluate = make_evaluate(env, agent, episodes_per_task=50)
    result = evaluate(agent_state)  # {"success": f32[N], "return": f32[N], "return_full": f32[N]}
    summary = summarize(result, scale)     # mean / worst-task success, normalised returns

Protocol (metaworld/evaluation.py): ``episodes_per_task`` episodes of every task, all run
in parallel (N x episodes slots); episode k of a task uses goal k % num_goals; actions are
deterministic (``agent.act(..., deterministic=True)``: tanh of SAC's mean, PPO's clipped
mean); an episode succeeds if any step succeeds and it ends at its first success
(terminate on success) or at truncation. ``return`` is the sum of rewards up to that end.

``return_full``, the return the DRATS paper's metric uses: the same episodes, the sum of
rewards over every step until the env's own done (truncation; on MetaWorld all 500 steps),
with no stop at success. Terminating on success would make a policy that succeeds early
score a lower return than one that dithers. So the loop runs until every counted episode
is done (MetaWorld: ``episode_length`` steps), not until every episode has succeeded;
both returns come out of the same rollout.

Both are per-task means over the counted episodes. Normalised return: per-task mean
return / (episode_length x 10), 10 being MetaWorld's maximum reward per step (5000 for
MetaWorld's 500-step episodes).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from drats_jax.mesh import DataAxis
from drats_jax.types import vector_step

MAX_REWARD_PER_STEP = 10.0


def make_evaluate(env: Any, agent: Any, episodes_per_task: int = 50, data: DataAxis = DataAxis(),
                  tasks: Sequence[int] | None = None, record: int = 0) -> Callable[[Any], dict]:
    """-> evaluate(agent_state) -> {"success", "return", "return_full": f32[N]} (pure; jit/vmap it).

    ``data`` (inside a program sharded over it): each device runs episodes
    [d k/D, (d+1) k/D) of every task (k divisible by D) and the per-task sums are psum'd
    once at the end, so every device returns the global result.

    ``tasks``: the env's task ids to evaluate (default: all of them, in order); N = len(tasks).

    ``record`` = V > 0 (one device only): the result also holds ``"recorded"``, the first V
    episodes of every evaluated task as they ran, for videos: ``state`` (the env's State of
    those R = N x V slots, task-major, before the first step and after each step: leaves
    [H + 1, R, ...], H = episode_length), ``shown`` (bool[H + 1, R]: the state belongs to
    the protocol's episode: the reset and every step up to and including its end),
    ``success`` (bool[R]) and ``return`` (f32[R]) of each episode, ``task`` and ``goal``
    (i32[R]). Recording adds writes only: the protocol's numbers are the same.
    """
    task_ids = np.arange(int(env.num_tasks)) if tasks is None else np.asarray(tasks, np.int32).reshape(-1)
    n, k = int(task_ids.shape[0]), int(episodes_per_task)
    k_local = k // data.size
    # Each task's slots are padded to whole blocks of one scene (MJX backends; 1 on the C
    # backend); the padding episodes run but are not counted.
    block = int(getattr(env, "block_size", 1))
    k_pad = -(-k_local // block) * block
    slots = n * k_pad
    task = jnp.repeat(jnp.asarray(task_ids, jnp.int32), k_pad)  # slot i: task_ids[i // k_pad]
    counted = jnp.tile(jnp.arange(k_pad) < k_local, n)
    horizon = int(env.episode_length)
    v_reset, v_step = jax.vmap(env.reset), vector_step(env, block)  # slots task-major, whole blocks
    if record and (data.size != 1 or not 0 < record <= k):
        raise ValueError(f"record={record} needs one device and at most {k} episodes per task")
    kept = (np.arange(n)[:, None] * k_pad + np.arange(record)[None, :]).reshape(-1)  # recorded slots

    def evaluate(agent_state) -> dict:
        # Env resets are keyed for the interface (MetaWorld's and the test envs' resets ignore
        # the key: a reset is a table lookup by task and goal); actions use none.
        rng = jax.random.PRNGKey(0)
        first = 0 if data.size == 1 else lax.axis_index(data.name) * k_local  # this device's first episode
        goal = jnp.tile((first + jnp.arange(k_pad, dtype=jnp.int32)) % int(env.num_goals), n)  # episode j: goal j % G
        state = v_reset(jax.random.split(rng, slots), task, goal)

        def cond(carry):
            t, _, _, alive, _, _, _, _ = carry
            return (t < horizon) & jnp.any(alive)

        def body(carry):
            # active: the protocol's episode goes on (no success, not done yet);
            # alive: the env's episode goes on (not done), for the full-length return.
            t, state, active, alive, ret, ret_full, success, tape = carry
            action = agent.act(agent_state, state.obs, task, rng, deterministic=True)
            nxt = v_step(state, action)
            hit = nxt.info["success"].astype(bool)
            done = nxt.done.astype(bool)
            ret = ret + jnp.where(active, nxt.reward, 0.0)
            ret_full = ret_full + jnp.where(alive, nxt.reward, 0.0)
            success = success | (active & hit)
            if record:  # the step is part of the episode when the episode was still active
                tape = _write(tape, t + 1, nxt, active)
            active = active & ~hit & ~done
            alive = alive & ~done
            return t + 1, nxt, active, alive, ret, ret_full, success, tape

        zeros = jnp.zeros((slots,), jnp.float32)
        tape = None
        if record:
            tape = jax.tree.map(lambda x: jnp.zeros((horizon + 1,) + x[kept].shape, x.dtype), (state, counted))
            tape = _write(tape, 0, state, counted)
        carry = (jnp.zeros((), jnp.int32), state, counted, counted, zeros, zeros, jnp.zeros((slots,), bool), tape)
        _, _, _, _, ret, ret_full, success, tape = lax.while_loop(cond, body, carry)

        def per_task(x):  # f[slots] -> f32[N], mean over the counted episodes of each task
            x = x.reshape(n, k_pad)[:, :k_local].astype(jnp.float32)
            return jnp.mean(x, axis=1) if data.size == 1 else data.sum(jnp.sum(x, axis=1)) / k

        out = {"success": per_task(success), "return": per_task(ret), "return_full": per_task(ret_full)}
        if record:
            out["recorded"] = {"state": tape[0], "shown": tape[1], "success": success[kept], "return": ret[kept],
                               "task": task[kept], "goal": goal[kept]}
        return out

    def _write(tape, t, state, shown):
        """Row t of the tape: the recorded slots' state and whether it is part of their episode."""
        return jax.tree.map(lambda buf, x: lax.dynamic_update_index_in_dim(buf, x[kept], t, 0), tape, (state, shown))

    return evaluate


def return_scale(env: Any) -> float:
    """The normaliser of returns: episode_length x max reward per step (MetaWorld: 5000)."""
    return float(env.episode_length) * MAX_REWARD_PER_STEP


def summarize(result: dict, scale: float) -> dict:
    """Per-seed scalars from evaluate's output (leading axes kept, task axis reduced).

    mean_success, worst_success (min over tasks), mean_return, normalized_return
    (mean over tasks of return / scale) and, when the result has ``return_full``,
    normalized_return_full (mean over tasks of return_full / scale).
    """
    success, ret = np.asarray(result["success"]), np.asarray(result["return"])
    out = {
        "mean_success": success.mean(-1),
        "worst_success": success.min(-1),
        "mean_return": ret.mean(-1),
        "normalized_return": (ret / scale).mean(-1),
    }
    if "return_full" in result:
        out["normalized_return_full"] = (np.asarray(result["return_full"]) / scale).mean(-1)
    return out
