"""Shared bases of the one-free-object tasks (reach, push, pick-place, sweep, soccer...): one
free body at qpos 9:12 placed at reset next to a goal point, and the pick-and-place reward.

Reset programs stay in these base classes rather than free functions: the reset-table cache
keys on the source of every module in a task's MRO (`resets.key`).
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, redraw_while_close


class _ObjTask(Task):
    """One free object (qpos 9:12), read as "obj" (position) plus either "obj_xmat" (a geom's
    xmat, converted to x,y,z,w) or "obj_xquat" (a body's xquat, which metaworld passes through
    in MuJoCo's raw (w, x, y, z) order, so it is copied unconverted).

    reset: hand reset, `_placement` (what metaworld reads/edits before placing the object;
    returns (obj_init_pos, goal)), `set_obj_xyz`, then the "goal" site moved to the goal
    (a model edit; no reading depends on its order) unless `GOAL_SITE` is False.
    """

    READINGS = {"obj": ("body_xpos", "obj"), "obj_xmat": ("geom_xmat", "objGeom")}
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}
    GOAL_SITE: ClassVar[bool] = True

    def _placement(self, sim, rand_vec):
        """(obj_init_pos, goal): by default the drawn points as they are."""
        return rand_vec[:3], rand_vec[3:]

    def _on_table(self, sim, rand_vec):
        """Object and goal at the drawn x-y, both at the object's resting height, read after
        the hand settles where the observation reads the object (body origin or geom centre)."""
        kind, name = self.READINGS["obj"]
        z = (sim.geom_xpos if kind == "geom_xpos" else sim.body_xpos)(name)[2]
        return np.array([rand_vec[0], rand_vec[1], z]), np.array([rand_vec[3], rand_vec[4], z])

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_init_pos, goal = self._placement(sim, rand_vec)
        sim.set_obj_xyz(obj_init_pos)
        if self.GOAL_SITE:
            sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def objects(self, r):
        quat = r["obj_xquat"] if "obj_xquat" in self.READINGS else ru.mat_to_quat(r["obj_xmat"])
        return jnp.concatenate([r["obj"], quat])


class _ObjPuckTask(_ObjTask):
    """Shared by the reach/push/pick-place family: 6-d rand_vec (object xyz, goal xyz)
    redrawn while object and goal are closer than 15 cm in x-y."""

    def draw_rand_vec(self, draw):
        return redraw_while_close(draw, 0.15)


class _GraspPlaceTask(_ObjPuckTask):
    """metaworld's grasp-and-place reward: hamacher(grasped, in_place), plus 1 + BONUS * in_place
    while the object is held (`_held`), 10 within success_radius of the goal. in_place is a
    long-tail tolerance of the object-goal distance (success_radius, over the initial one);
    success is the distance within PLACED_RADIUS (evaluate_state's threshold)."""

    CAGING: ClassVar[dict]  # gripper_caging_reward's constants
    HOLD_RADIUS: ClassVar[float] = 0.02  # tcp-object distance under which the object is held...
    LIFT: ClassVar[float | None] = 0.01  # ...once lifted this far above its start (None: no lift)
    BONUS: ClassVar[float] = 5.0
    PLACED_RADIUS: ClassVar[float] = 0.07

    def _grasped(self, r, action, obj, ctx):
        return ru.gripper_caging_reward(r, action, obj, ctx["obj_init_pos"], ctx["init_tcp"], **self.CAGING)

    def _held(self, obs, ctx, tcp_to_obj, obj_to_target):
        held = (tcp_to_obj < self.HOLD_RADIUS) & (obs[3] > 0)
        if self.LIFT is not None:
            held = held & (obs[4:7][2] - self.LIFT > ctx["obj_init_pos"][2])
        return held

    def _bonus_in_place(self, in_place, obj, target):
        """The in_place the held bonus pays for (shelf-place penalises it near the shelf)."""
        return in_place

    def reward(self, r, obs, action, ctx):
        obj, target = obs[4:7], ctx["goal"]
        obj_to_target = ru.norm(obj - target)
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        in_place = ru.tolerance(
            obj_to_target, (0.0, self.success_radius), ru.norm(ctx["obj_init_pos"] - target), "long_tail"
        )
        reward = ru.hamacher_product(self._grasped(r, action, obj, ctx), in_place)
        bonus_in_place = self._bonus_in_place(in_place, obj, target)
        held = self._held(obs, ctx, tcp_to_obj, obj_to_target)
        reward = jnp.where(held, reward + 1.0 + self.BONUS * bonus_in_place, reward)
        reward = jnp.where(obj_to_target < self.success_radius, 10.0, reward)
        return reward, obj_to_target <= self.PLACED_RADIUS


class _WallDetourTask(_ObjPuckTask):
    """pick-place-wall / push-wall: the puck must go round (or over) a wall, so the reward pays
    for reaching a waypoint beside the wall (`_midpoint`, distances scaled by IN_PLACE_SCALE)
    until the puck is past it (y > 0.75), then for the goal; 10 within success_radius.

    Before the bonus the reward is `_base(grasped, in_place_mid)`; with the tcp at the puck,
    the gripper reading open (and the puck lifted by LIFT, if set) it becomes
    base + 1 + 4 * in_place_mid before the wall and base + 1 + 4 + 3 * in_place_goal past it.
    """

    # the observation shows the puck geom's centre, not the body's
    READINGS = {"obj": ("geom_xpos", "objGeom"), "obj_xmat": ("geom_xmat", "objGeom")}
    CAGING: ClassVar[dict]  # gripper_caging_reward's constants
    IN_PLACE_SCALE: ClassVar[np.ndarray]  # numpy: importing the tasks starts no JAX backend
    LIFT: ClassVar[float | None] = None

    def _midpoint(self, obj, target):
        raise NotImplementedError

    def _base(self, grasped, in_place_mid):
        raise NotImplementedError

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        radius, scale = self.success_radius, self.IN_PLACE_SCALE
        midpoint = self._midpoint(obj, target)
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        obj_to_target = ru.norm(obj - target)
        in_place_mid = ru.tolerance(
            ru.norm((obj - midpoint) * scale), (0.0, radius), ru.norm((obj_init - midpoint) * scale), "long_tail"
        )
        in_place_goal = ru.tolerance(obj_to_target, (0.0, radius), ru.norm(obj_init - target), "long_tail")
        grasped = ru.gripper_caging_reward(r, action, obj, obj_init, ctx["init_tcp"], **self.CAGING)
        base = self._base(grasped, in_place_mid)
        near = (tcp_to_obj < 0.02) & (tcp_opened > 0)
        if self.LIFT is not None:
            near = near & (obj[2] - self.LIFT > obj_init[2])
        detour = jnp.where(obj[1] > 0.75, base + 1.0 + 4.0 + 3.0 * in_place_goal, base + 1.0 + 4.0 * in_place_mid)
        reward = jnp.where(near, detour, base)
        reward = jnp.where(obj_to_target < radius, 10.0, reward)
        return reward, obj_to_target <= 0.07
