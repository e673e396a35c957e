"""Task allocation and the vector env: which task every env slot runs, and the stepping and
autoreset of all E slots, shared by every learner (through :mod:`drats_jax.trainer`).

This module is the vector env: the learner only chooses actions; this module steps the env
slots, autoresets the finished ones and decides which task they run next. One call of
``step`` is one *vector step* of E slots, in this order:

  1. step every slot (``jax.vmap(env.step)``) with the learner's actions,
  2. add the step to each task's env-step count, and the episodes that finished to the
     per-task statistics; episodes that started during the random-action warm-up are not
     the learner's and never reach them (nor the window, success ring or max return),
  3. when a sampler window ends (every ``window_steps`` learning vector steps, i.e.
     ``sampler.interval`` env steps): update q from the window, clear the window,
  4. autoreset finished slots: task ~ Categorical(log q) with the q of step 3, so slots
     whose episode ends with a window start from the new q (one draw per block of
     ``task_block`` consecutive slots on the MJX backends), goal ~ U{0..num_goals-1},
     ``jax.vmap(env.reset)`` merged in with ``jnp.where``.

``step`` returns the transitions of the step (true next observations, before the reset)
for the learner: a replay ring for SAC, a rollout for PPO.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct
from jax import lax

from drats_jax.evaluate.rounds import EvalSlots, init_slots
from drats_jax.mesh import DataAxis
from drats_jax.samplers import Sampler
from drats_jax.samplers import stats as task_stats
from drats_jax.types import Transition, vector_step

# Per-step, per-task episode counts and sums that ``chunk_metrics`` reduces.
EPISODE_KEYS = ("episodes", "return_sum", "success_sum")


@struct.dataclass
class AllocationState:
    """env_state: the env's State with leading axis E; sampler: the sampler's state (holds q);
    stats: TaskStats; episode_return f32[E] / episode_success bool[E]: the running episode
    of each slot so far; learner_episode bool[E]: whether it started after warm-up;
    window_step i32[]: learning vector steps into the current sampler window; eval_slots:
    E more slots that only the trainer's evaluation phase steps (:mod:`drats_jax.evaluate.rounds`;
    scratch between evaluations). Inside a program sharded over data, E is this device's E/D
    slots (sampler, stats, window_step replicated)."""

    env_state: Any
    sampler: Any
    stats: task_stats.TaskStats
    episode_return: jax.Array
    episode_success: jax.Array
    learner_episode: jax.Array
    window_step: jax.Array
    eval_slots: EvalSlots


def state_specs(replicated, per_device) -> AllocationState:
    """Prefix tree of an AllocationState's PartitionSpecs: the slots' arrays are split over
    ``data``; the sampler, statistics and window counter are replicated."""
    return AllocationState(env_state=per_device, sampler=replicated, stats=replicated, episode_return=per_device,
                           episode_success=per_device, learner_episode=per_device, window_step=replicated,
                           eval_slots=per_device)


class AllocationShortcuts:
    """Read-only shortcuts for a learner's train state that holds an AllocationState in
    ``alloc``: ``state.env_state``, ``state.sampler``, ``state.stats``."""

    @property
    def env_state(self):
        return self.alloc.env_state

    @property
    def sampler(self):
        return self.alloc.sampler

    @property
    def stats(self):
        return self.alloc.stats


class Allocation(NamedTuple):
    """Static description (sizes, sampler) and the pure functions over AllocationState."""

    num_envs: int  # E
    num_tasks: int  # N
    task_block: int  # consecutive slots sharing one task draw
    window_steps: int  # learning vector steps per sampler window
    sampler: Sampler
    init: Callable[[jax.Array], AllocationState]
    physics: Callable[[Any, jax.Array], Any]  # (env State [E], action f32[E, A]) -> next env State
    record: Callable[..., tuple[AllocationState, Transition, dict]]  # step's bookkeeping after physics

    def step(self, state: AllocationState, action: jax.Array, rng: jax.Array, learn):
        """One vector step (module docstring): ``record`` of ``physics`` on the training slots.
        action f32[E/D, A]; learn (bool[], may be traced): False during the random-action
        warm-up. Returns (state, transitions with leading axis E, per-task metrics
        {episodes, return_sum, success_sum}: [N] each)."""
        return self.record(state, action, self.physics(state.env_state, action), rng, learn)

    @staticmethod
    def observe(state: AllocationState) -> tuple[jax.Array, jax.Array]:
        """What the learner acts on: (obs f32[E, O], task_id i32[E])."""
        return observe_slots(state.env_state)

    def chunk_metrics(self, state: AllocationState, per_step: dict) -> dict:
        """Per-task metrics of a chunk from step's stacked per-step metrics [T, N]: episodes,
        mean episode_return and success_rate (NaN where no episode finished), q and each
        task's env steps so far."""
        count = jnp.sum(per_step["episodes"], axis=0)
        denom = jnp.where(count > 0, count, 1)
        mean = lambda k: jnp.where(count > 0, jnp.sum(per_step[k], 0) / denom, jnp.nan)  # noqa: E731
        return {"episodes": count, "episode_return": mean("return_sum"), "success_rate": mean("success_sum"),
                "q": self.sampler.probabilities(state.sampler), "task_env_steps": state.stats.env_steps}


def observe_slots(env_state) -> tuple[jax.Array, jax.Array]:
    """(obs f32[E, O], task_id i32[E]) of the env State of E slots."""
    return env_state.obs, env_state.info["task_id"].astype(jnp.int32)


def _where_slots(mask: jax.Array, a, b):
    """Per-slot select over pytrees whose leaves have a leading axis E. mask: bool[E]."""

    def pick(x, y):
        m = mask.reshape(mask.shape + (1,) * (x.ndim - 1))
        return jnp.where(m, x, y)

    return jax.tree.map(pick, a, b)


def make_allocation(env: Any, sampler: Sampler, *, num_envs: int, task_block: int, window_steps: int,
                    success_window: int, learn_from_start: bool = False, data: DataAxis = DataAxis()) -> Allocation:
    """The allocation of E = num_envs slots of ``env`` to its N tasks by ``sampler``.

    ``learn_from_start``: the run has no random-action warm-up (PPO's default), so the first
    episode of every slot is the learner's and reaches the statistics like any other.

    ``data``: inside a program sharded over ``data`` (:mod:`drats_jax.mesh`) this device
    holds E/D consecutive slots: per-slot arrays of the state are E/D long, every per-slot
    draw is the global E-sized draw sliced (so a slot sees what it sees on one device), and
    the per-slot task/done/return/success vectors are gathered so the statistics, q and the
    sampler stay one global, replicated sampler.
    """
    n, e, block = int(env.num_tasks), int(num_envs), int(task_block)
    e_local = e // data.size
    num_goals = int(env.num_goals)
    # Blocks of `block` slots hold one task (one draw per block, episodes end together).
    v_reset, v_step = jax.vmap(env.reset), vector_step(env, block)

    def reset_slots(rng, sampler_state):
        """Fresh episodes in every slot: task ~ Categorical(log q) per block of slots, goal
        uniform per slot."""
        k_draw, k_reset = jax.random.split(rng)
        k_task, k_goal = jax.random.split(k_draw)
        q = sampler.probabilities(sampler_state)
        task = jax.random.categorical(k_task, jnp.log(q), shape=(e // block,)).astype(jnp.int32)
        task = data.local(jnp.repeat(task, block))
        goal = data.local(jax.random.randint(k_goal, (e,), 0, num_goals, dtype=jnp.int32))
        return v_reset(data.local(jax.random.split(k_reset, e)), task, goal)

    def init(rng: jax.Array) -> AllocationState:
        sampler_state = sampler.init()
        return AllocationState(
            env_state=reset_slots(rng, sampler_state), sampler=sampler_state,
            stats=task_stats.init_stats(n, success_window),
            episode_return=jnp.zeros((e_local,), jnp.float32), episode_success=jnp.zeros((e_local,), bool),
            learner_episode=jnp.full((e_local,), learn_from_start), window_step=jnp.zeros((), jnp.int32),
            eval_slots=init_slots(env, e_local))

    def update_sampler(args):
        sampler_state, stats = sampler.update(*args)
        return sampler_state, task_stats.end_window(stats)

    def record(state: AllocationState, action: jax.Array, nxt, rng: jax.Array, learn):
        """Steps 2-4 of a vector step (module docstring), ``nxt`` being the training slots'
        env State after ``action``: see :meth:`Allocation.step`."""
        obs, task = Allocation.observe(state)
        truncation = nxt.info["truncation"].astype(bool)
        done = nxt.done.astype(bool)
        transition = Transition(obs=obs, action=action, reward=nxt.reward, next_obs=nxt.obs,
                                terminal=done & ~truncation,  # only a true terminal stops bootstrapping
                                truncation=truncation, task_id=task)

        # Statistics: every env step counts towards its task's allocation; only the learner's
        # episodes reach what the sampler reads.
        ep_return = state.episode_return + nxt.reward
        ep_success = state.episode_success | nxt.info["success"].astype(bool)
        # Over all devices' slots (gathered; the identity on one device).
        task_g, done_g, return_g, success_g = (data.gather(x) for x in (task, done, ep_return, ep_success))
        stats = task_stats.record_steps(state.stats, task_g)
        stats = task_stats.record_episodes(stats, task_g, done_g & data.gather(state.learner_episode), return_g,
                                           success_g)

        # The window ends BEFORE the resets below draw: they draw from the new q.
        # Only learning steps advance the window.
        window_step = state.window_step + jnp.asarray(learn, jnp.int32)
        window_end = learn & (window_step == window_steps)
        sampler_state, stats = lax.cond(window_end, update_sampler, lambda args: args, (state.sampler, stats))
        window_step = jnp.where(window_end, 0, window_step)

        # Autoreset. cond skips the E resets on steps where no slot finished (most steps);
        # under a seed vmap it becomes a select, which is still correct. Its predicate is
        # per device, so reset_slots must hold no collective (it holds none: axis_index only).
        env_state = lax.cond(jnp.any(done), lambda: _where_slots(done, reset_slots(rng, sampler_state), nxt),
                             lambda: nxt)
        new = AllocationState(
            env_state=env_state, sampler=sampler_state, stats=stats,
            episode_return=jnp.where(done, 0.0, ep_return), episode_success=jnp.where(done, False, ep_success),
            learner_episode=jnp.where(done, learn, state.learner_episode), window_step=window_step,
            eval_slots=state.eval_slots)
        seg = lambda x: jax.ops.segment_sum(x, task_g, num_segments=n)  # noqa: E731
        metrics = {"episodes": seg(done_g.astype(jnp.int32)), "return_sum": seg(jnp.where(done_g, return_g, 0.0)),
                   "success_sum": seg((done_g & success_g).astype(jnp.int32))}
        return new, transition, metrics

    return Allocation(num_envs=e, num_tasks=n, task_block=block, window_steps=int(window_steps), sampler=sampler,
                      init=init, physics=v_step, record=record)
