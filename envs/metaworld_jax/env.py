"""MetaWorldEnv: MetaWorld v3 tasks as pure, jit-able JAX environments.

Per slot: reset is a lookup into a table of each (task, goal)'s initial state, built on the
host when the env is made (MetaWorld resets are deterministic given the goal); step asks the
physics backend for the next state and readings, then the task layer (a `lax.switch` on the
slot's task id) builds the 39-d observation, reward and success.

On the MJX backends the physics and the task layer of a step run per block of slots that hold
one task (`backends/task_blocks.py`): only that task's scene and reward code run. `step`
accepts any task in any slot; `vector_step(block)` is the batched step for layouts where
every block of `block` consecutive slots holds one task (the trainer's), with no
data-dependent loop.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from metaworld_jax import goals as goals_lib
from metaworld_jax import resets
from metaworld_jax.backends import make_backend, task_blocks
from metaworld_jax.readings import COMMON_READINGS, Layout
from metaworld_jax.tasks import REGISTRY, Task
from metaworld_jax.types import State

OBS_SIZE = 39
EPISODE_LENGTH = 500
ACTION_SIZE = 4
ACTION_SCALE = 0.01  # metres of mocap motion per unit action per step
_HAND_SPACE_LOW = (-0.525, 0.348, -0.0525)
_HAND_SPACE_HIGH = (0.525, 1.025, 0.7)
_OBJ_BLOCK = 14


@struct.dataclass
class Sim:
    """The env-private part of a slot's State (State.physics)."""

    backend: jax.Array  # backend's physics state (C backend: u32[W], float64 words)
    prev_frame: jax.Array  # f32[18] last step's unclipped hand/gripper/object frame
    context: jax.Array  # f32[C] the task's reset context (goal, initial positions, ...)


class MetaWorldEnv:
    """MetaWorld tasks over one physics backend; see `metaworld_jax.make`."""

    episode_length = EPISODE_LENGTH
    action_size = ACTION_SIZE
    num_goals = goals_lib.NUM_GOALS

    def __init__(
        self,
        tasks: Sequence[Task],
        rand_vecs: Sequence[np.ndarray],
        *,
        backend: str = "mujoco",
        task_one_hot: bool = False,
        num_threads: int | None = None,
        block_size: int | None = None,
        scene_variant: str | None = None,
    ):
        self.tasks = list(tasks)
        self.task_names = tuple(t.name for t in self.tasks)
        self.num_tasks = len(self.tasks)
        self.task_one_hot = task_one_hot
        self.observation_size = OBS_SIZE + (self.num_tasks if task_one_hot else 0)
        self.rand_vecs = [np.asarray(v) for v in rand_vecs]

        self.reading_layouts = [Layout.of({**COMMON_READINGS, **t.READINGS}) for t in self.tasks]
        self.context_layouts = [Layout.of_sizes(t.context_sizes) for t in self.tasks]
        states, readings, contexts, overrides = zip(*(resets.build(t, v) for t, v in zip(self.tasks, self.rand_vecs)))
        self.backend = make_backend(backend, tasks=self.tasks, overrides=overrides, num_threads=num_threads,
                                    block_size=block_size, scene_variant=scene_variant)
        # Consecutive slots that should share a task (see backends/task_blocks.py); 1 = any.
        self.block_size = int(self.backend.block_size)
        r_size = self.backend.reading_size
        c_size = max(l.size for l in self.context_layouts)
        # [T, G, ...] tables; reset = one gather per field.
        self._reset_physics = jnp.asarray(np.stack([[self.backend.pack(t, s) for s in per] for t, per in enumerate(states)]))
        self._reset_readings = jnp.asarray(
            np.stack([[np.pad(r, (0, r_size - r.size)) for r in per] for per in readings]), jnp.float32
        )
        self._reset_context = jnp.asarray(
            np.stack([[l.pack(c, c_size) for c in per] for l, per in zip(self.context_layouts, contexts)]),
            jnp.float32,
        )
        self._step_branches = [self._make_step_branch(i) for i in range(self.num_tasks)]
        self._reset_branches = [self._make_reset_branch(i) for i in range(self.num_tasks)]
        # MJX backends: physics and task layer per block of one task (None: the C backend,
        # whose host callback takes any task per slot in one call).
        self._blocked = hasattr(self.backend, "block_step")
        self._mixed_step = task_blocks.per_slot(self._make_block, self.block_size) if self._blocked else None

    # ------------------------------------------------------------------ device: task layer
    def _frame(self, task: Task, r) -> jax.Array:
        """f32[18]: hand xyz, gripper opening in [0, 1], padded object block."""
        gripper = jnp.clip(jnp.linalg.norm(r["rightclaw"] - r["leftclaw"]) / 0.1, 0.0, 1.0)
        objects = task.objects(r)
        objects = jnp.pad(objects, (0, _OBJ_BLOCK - objects.shape[0]))
        return jnp.concatenate([r["hand"], gripper[None], objects]).astype(jnp.float32)

    def _obs_bounds(self, task: Task):
        inf = np.full(_OBJ_BLOCK, np.inf)
        lo = np.concatenate([_HAND_SPACE_LOW, [-1.0], -inf, _HAND_SPACE_LOW, [-1.0], -inf, task.goal_low])
        hi = np.concatenate([_HAND_SPACE_HIGH, [1.0], inf, _HAND_SPACE_HIGH, [1.0], inf, task.goal_high])
        return jnp.asarray(lo, jnp.float32), jnp.asarray(hi, jnp.float32)

    def _make_step_branch(self, i):
        task, rl, cl = self.tasks[i], self.reading_layouts[i], self.context_layouts[i]
        lo, hi = self._obs_bounds(task)

        def branch(readings, context, prev_frame, action):
            r, ctx = rl.unpack(readings), cl.unpack(context)
            frame = self._frame(task, r)
            obs = jnp.clip(jnp.concatenate([frame, prev_frame, task.goal(ctx)]), lo, hi)
            reward, success = task.reward(r, obs, action, ctx)
            return frame, obs, jnp.asarray(reward, jnp.float32), jnp.asarray(success, bool)

        return branch

    def _make_reset_branch(self, i):
        task, rl, cl = self.tasks[i], self.reading_layouts[i], self.context_layouts[i]

        def branch(readings, context):
            r, ctx = rl.unpack(readings), cl.unpack(context)
            frame = self._frame(task, r)
            # metaworld's reset observation is not clipped; its frame stack repeats the frame.
            return frame, jnp.concatenate([frame, frame, task.goal(ctx)]).astype(jnp.float32)

        return branch

    def task_layer(self, task_id, readings, context, prev_frame, action):
        """One slot's (frame f32[18], obs f32[39], reward f32[], success bool[]) from its
        readings; a `lax.switch` on the task (one branch runs when task_id is a scalar)."""
        return jax.lax.switch(task_id, self._step_branches, readings, context, prev_frame, action)

    def _make_block(self, b: int):
        """Block function (task_blocks) of the MJX backends: physics then task layer of b slots
        of one task: (task, lanes, physics, goal, control, context, prev_frame, action) ->
        (physics, frame, obs, reward, success)."""
        physics_step = self.backend.block_step(b)
        layer = jax.vmap(self.task_layer, in_axes=(None, 0, 0, 0, 0))

        def f(task, lanes, physics, goal, control, context, prev_frame, action):
            physics, readings = physics_step(task, lanes, physics, goal, control)
            return (physics, *layer(task, readings, context, prev_frame, action))

        return f

    def vector_step(self, block: int):
        """The batched step (states [B], actions f32[B, 4]) -> states [B] for layouts where
        every block of `block` consecutive slots holds one task (B a multiple of `block`; the
        caller guarantees the layout: a block runs the task of its first slot). On the MJX
        backends it runs one task's physics and task layer per block, with no data-dependent
        loop; on the C backend it is `jax.vmap(step)`."""
        if not self._blocked:
            return jax.vmap(self.step)
        blocked = task_blocks.dispatch(self._make_block, int(block), uniform=True)

        def step(states: State, actions: jax.Array) -> State:
            actions = jnp.asarray(actions, jnp.float32)
            control = jax.vmap(_control)(actions)
            physics, frame, obs, reward, success = blocked(
                states.info["task_id"], states.physics.backend, states.info["goal_index"], control,
                states.physics.context, states.physics.prev_frame, actions)
            return jax.vmap(self._next_state)(states, physics, frame, obs, reward, success)

        return step

    def _with_one_hot(self, obs, task_id):
        if not self.task_one_hot:
            return obs
        return jnp.concatenate([obs, jax.nn.one_hot(task_id, self.num_tasks, dtype=obs.dtype)])

    # ------------------------------------------------------------------ public API
    def reset(self, rng: jax.Array, task_id, goal_index) -> State:
        """Start an episode of task `task_id` (0..num_tasks-1) on goal `goal_index` (0..49).

        MetaWorld resets are deterministic given the goal, so `rng` is unused; it is kept so
        every env shares the same signature. Out-of-range indices raise when concrete.
        """
        del rng
        _check_index("task_id", task_id, self.num_tasks)
        _check_index("goal_index", goal_index, self.num_goals)
        task_id = jnp.asarray(task_id, jnp.int32)
        goal_index = jnp.asarray(goal_index, jnp.int32)
        readings = self._reset_readings[task_id, goal_index]
        context = self._reset_context[task_id, goal_index]
        frame, obs = jax.lax.switch(task_id, self._reset_branches, readings, context)
        return State(
            physics=Sim(backend=self._reset_physics[task_id, goal_index], prev_frame=frame, context=context),
            obs=self._with_one_hot(obs, task_id),
            reward=jnp.zeros((), jnp.float32),
            done=jnp.zeros((), bool),
            info={
                "success": jnp.zeros((), bool),
                "truncation": jnp.zeros((), bool),
                "task_id": task_id,
                "goal_index": goal_index,
                "steps": jnp.zeros((), jnp.int32),
            },
        )

    def step(self, state: State, action: jax.Array) -> State:
        """Advance one control step (frame_skip=5 physics substeps, 12.5 ms).

        action: f32[4] in [-1, 1]: xyz mocap motion (x 1 cm, clipped), gripper command.
        """
        control = _control(action)
        task_id, goal_index = state.info["task_id"], state.info["goal_index"]
        args = (state.physics.context, state.physics.prev_frame, action)
        if self._mixed_step is None:  # C backend: one host callback for every slot, then the task layer
            physics, readings = self.backend.step(state.physics.backend, task_id, goal_index, control)
            return self._next_state(state, physics, *self.task_layer(task_id, readings, *args))
        return self._next_state(state, *self._mixed_step(task_id, state.physics.backend, goal_index, control, *args))

    def _next_state(self, state: State, physics, frame, obs, reward, success) -> State:
        steps = state.info["steps"] + 1
        truncation = steps >= self.episode_length
        return State(
            physics=Sim(backend=physics, prev_frame=frame, context=state.physics.context),
            obs=self._with_one_hot(obs, state.info["task_id"]),
            reward=reward,
            done=truncation,
            info={**state.info, "success": success, "truncation": truncation, "steps": steps},
        )


def _control(action: jax.Array) -> jax.Array:
    """f32[4] action -> the backend's control: mocap motion (clipped, scaled), gripper command."""
    action = jnp.asarray(action, jnp.float32)
    if action.shape != (ACTION_SIZE,):
        raise ValueError(f"action must have shape ({ACTION_SIZE},) per slot (use jax.vmap for batches), got {action.shape}")
    return jnp.concatenate([jnp.clip(action[:3], -1.0, 1.0) * ACTION_SCALE, action[3:]])


def _check_index(what: str, value, bound: int) -> None:
    if isinstance(value, jax.core.Tracer):
        return  # checked where it is concrete; traced indices gather clamped
    v = np.asarray(value)
    if v.size and (v.min() < 0 or v.max() >= bound):
        raise ValueError(f"{what} must be in 0..{bound - 1}, got {value}")
