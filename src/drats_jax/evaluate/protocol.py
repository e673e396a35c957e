"""Evaluation with MetaWorld's protocol, as one jitted program on device.

    evaluate = make_evaluate(env, agent, episodes_per_task=50)
    result = evaluate(agent_state)  # {"success": f32[N], "return": f32[N], "return_full": f32[N]}
    summary = summarize(result, scale)     # mean / worst-task success, normalised returns

Protocol (metaworld/evaluation.py): ``episodes_per_task`` episodes of every task, run in
parallel (all N x episodes at once, or dealt out in rounds of S slots: :class:`Layout`);
episode k of a task uses goal k % num_goals; actions are deterministic
(``agent.act(..., deterministic=True)``: tanh of SAC's mean, PPO's clipped mean); an episode
succeeds if any step succeeds and it ends at its first success (terminate on success) or at
truncation. ``return`` is the sum of rewards up to that end.

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

import dataclasses
import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax import lax

from drats_jax.mesh import DataAxis
from drats_jax.types import vector_step

MAX_REWARD_PER_STEP = 10.0


@struct.dataclass
class Tally:
    """Each slot's protocol episode so far (leaves [S]): ``active`` (the protocol's episode
    goes on: counted, no success, not done), ``alive`` (the env's episode goes on, for the
    full-length return), ``ret`` / ``ret_full`` (f32: the two returns) and ``success``."""

    active: jax.Array
    alive: jax.Array
    ret: jax.Array
    ret_full: jax.Array
    success: jax.Array


def start_tally(counted: jax.Array) -> Tally:
    """Fresh episodes; only ``counted`` (bool[S]) slots are the protocol's."""
    zeros = jnp.zeros(counted.shape, jnp.float32)
    return Tally(active=counted, alive=counted, ret=zeros, ret_full=zeros, success=jnp.zeros(counted.shape, bool))


def add_step(tally: Tally, nxt) -> Tally:
    """The tally after one env step whose result is the env State ``nxt`` (leaves [S])."""
    hit, done = nxt.info["success"].astype(bool), nxt.done.astype(bool)
    return Tally(active=tally.active & ~hit & ~done, alive=tally.alive & ~done,
                 ret=tally.ret + jnp.where(tally.active, nxt.reward, 0.0),
                 ret_full=tally.ret_full + jnp.where(tally.alive, nxt.reward, 0.0),
                 success=tally.success | (tally.active & hit))


@dataclasses.dataclass(frozen=True, eq=False)
class Layout:
    """Where a device's protocol episodes run: k_local episodes of each of the N tasks, each
    task's padded to whole blocks of the env's ``block_size`` (k_pad; padding episodes run but
    are not counted), task-major, dealt out in R rounds of S slots (S a multiple of the block).
    ``task``, ``episode`` (j: the task's j-th episode on this device; slots past the last task
    repeat it, uncounted) and ``counted``: numpy [R, S]."""

    task: np.ndarray
    episode: np.ndarray
    counted: np.ndarray
    n: int
    k_pad: int
    k_local: int
    num_goals: int
    data: DataAxis

    @staticmethod
    def make(env: Any, task_ids: np.ndarray, episodes: int, data: DataAxis = DataAxis(),
             slots: int | None = None) -> Layout:
        """``episodes`` (k) per task, k/D of them on this device; ``slots`` (S) per round
        (None: all N x k_pad, one round)."""
        n, k_local, block = len(task_ids), int(episodes) // data.size, int(getattr(env, "block_size", 1))
        k_pad = -(-k_local // block) * block
        slots = n * k_pad if slots is None else int(slots)
        g = np.arange(-(-n * k_pad // slots) * slots).reshape(-1, slots)  # place in task-major order
        return Layout(task=np.asarray(task_ids, np.int32)[np.minimum(g // k_pad, n - 1)],
                      episode=(g % k_pad).astype(np.int32), counted=(g < n * k_pad) & (g % k_pad < k_local),
                      n=n, k_pad=k_pad, k_local=k_local, num_goals=int(env.num_goals), data=data)

    @property
    def rounds(self) -> int:
        return int(self.task.shape[0])

    def goal(self, r) -> jax.Array:
        """i32[S]: round r's goals; episode j of a task (j counted over devices) runs goal j % G."""
        first = 0 if self.data.size == 1 else lax.axis_index(self.data.name) * self.k_local
        return (first + jnp.asarray(self.episode)[r]) % self.num_goals

    def start(self, env: Any, r) -> tuple[Any, Tally]:
        """Round r's fresh episodes: (env State [S], Tally [S]). Resets are keyed for the
        interface only (MetaWorld's and the test envs' resets are table lookups)."""
        slots = int(self.task.shape[1])
        state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), slots), jnp.asarray(self.task)[r],
                                    self.goal(r))
        return state, start_tally(jnp.asarray(self.counted)[r])

    def result(self, tally: Tally) -> dict:
        """Every round's tally (leaves [R x S], rounds in order) -> {"success", "return",
        "return_full": f32[N]}: each task's mean over the counted episodes of every device
        (summed over ``data`` once)."""
        def per_task(x):
            x = x[: self.n * self.k_pad].reshape(self.n, self.k_pad)[:, : self.k_local].astype(jnp.float32)
            if self.data.size == 1:
                return jnp.mean(x, axis=1)
            return self.data.sum(jnp.sum(x, axis=1)) / (self.k_local * self.data.size)

        return {"success": per_task(tally.success), "return": per_task(tally.ret),
                "return_full": per_task(tally.ret_full)}


def make_evaluate(env: Any, agent: Any, episodes_per_task: int = 50, data: DataAxis = DataAxis(),
                  tasks: Sequence[int] | None = None, record: int = 0,
                  slots: int | None = None) -> Callable[[Any], dict]:
    """-> evaluate(agent_state) -> {"success", "return", "return_full": f32[N]} (pure; jit/vmap it).

    ``slots``: S slots stepped at once, the episodes dealt out in rounds of S (:class:`Layout`);
    None: all N x k_pad at once, one round. A training run evaluates in rounds of its E slots
    inside its own program (:mod:`.rounds`); with ``slots=E`` this program runs the same
    episodes with the policy on batches of the same E rows, so it reproduces the run's numbers.

    ``data`` (inside a program sharded over it): each device runs episodes
    [d k/D, (d+1) k/D) of every task (k divisible by D) and the per-task sums are psum'd
    once at the end, so every device returns the global result.

    ``tasks``: the env's task ids to evaluate (default: all of them, in order); N = len(tasks).

    ``record`` = V > 0 (one device only): the result also holds ``"recorded"``, the first V
    episodes of every evaluated task as they ran, for videos: ``state`` (the env's State of
    those N x V episodes, task-major, before the first step and after each step: leaves
    [H + 1, N x V, ...], H = episode_length), ``shown`` (bool[H + 1, N x V]: the state belongs
    to the protocol's episode: the reset and every step up to and including its end),
    ``success`` (bool) and ``return`` (f32) of each episode, ``task`` and ``goal`` (i32).
    Recording adds writes only: the protocol's numbers are the same.
    """
    task_ids = np.arange(int(env.num_tasks)) if tasks is None else np.asarray(tasks, np.int32).reshape(-1)
    k = int(episodes_per_task)
    where = Layout.make(env, task_ids, k, data, slots)
    s = int(where.task.shape[1])
    horizon = int(env.episode_length)
    # Slots task-major in whole blocks of one task: the env's block, or (a run's E slots) the
    # blocks the run's own slots step in.
    v_step = vector_step(env, math.gcd(s, int(getattr(env, "block_size", 1))))
    if record and (data.size != 1 or not 0 < record <= k):
        raise ValueError(f"record={record} needs one device and at most {k} episodes per task")
    # The recorded episodes: the first V of every task, at place g of the layout (round g // S, slot g % S).
    kept = (np.arange(where.n)[:, None] * where.k_pad + np.arange(record)[None, :]).reshape(-1)
    kept_round, kept_slot = kept // s, kept % s

    def evaluate(agent_state) -> dict:
        def one_round(tape, r):
            state, tally = where.start(env, r)
            task = jnp.asarray(where.task)[r]

            def cond(carry):
                t, _, tally, _ = carry
                return (t < horizon) & jnp.any(tally.alive)

            def body(carry):
                t, state, tally, tape = carry
                action = agent.act(agent_state, state.obs, task, jax.random.PRNGKey(0), deterministic=True)
                nxt = v_step(state, action)
                if record:  # the step is part of the episode when the episode was still active
                    tape = _write(tape, t + 1, nxt, tally.active, r)
                return t + 1, nxt, add_step(tally, nxt), tape

            if record:
                tape = _write(tape, 0, state, tally.active, r)
            _, _, tally, tape = lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), state, tally, tape))
            return tape, tally

        tape = None
        if record:
            state, tally = jax.eval_shape(lambda: where.start(env, 0))
            tape = jax.tree.map(lambda x: jnp.zeros((horizon + 1, len(kept)) + x.shape[1:], x.dtype),
                                (state, tally.active))
        tape, tallies = lax.scan(one_round, tape, jnp.arange(where.rounds))
        tally = jax.tree.map(lambda x: x.reshape(-1), tallies)  # rounds in order: layout order
        out = where.result(tally)
        if record:
            out["recorded"] = {"state": tape[0], "shown": tape[1], "success": tally.success[kept],
                               "return": tally.ret[kept], "task": jnp.asarray(where.task.reshape(-1)[kept]),
                               "goal": jnp.concatenate([where.goal(r) for r in range(where.rounds)])[kept]}
        return out

    def _write(tape, t, state, shown, r):
        """Row t of the tape: the recorded episodes of round r (state and whether it is part of
        their episode); the other rounds' rows are left as they are."""
        here = jnp.asarray(kept_round) == r

        def put(buf, x):
            old = lax.dynamic_index_in_dim(buf, t, 0, keepdims=False)
            new = jnp.where(here.reshape((-1,) + (1,) * (old.ndim - 1)), x[kept_slot], old)
            return lax.dynamic_update_index_in_dim(buf, new, t, 0)

        return jax.tree.map(put, tape, (state, shown))

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
