"""door-open-v3 / door-close-v3: swing the hinged door (sawyer_door_pull.xml) open or shut."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, f32, register

_DOOR_QPOS = slice(9, 10)  # the door hinge "doorjoint" (qpos 9, dof 9)


class _DoorPullTask(Task):
    """The door body is placed at rand_vec in the model, then the hinge is set to an initial
    angle (and its velocity zeroed). The observed object is the "handle" geom."""

    scene = "sawyer_xyz/sawyer_door_pull.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    rand_low = (0.0, 0.85, 0.15)
    rand_high = (0.1, 0.95, 0.15)
    READINGS = {"handle": ("geom_xpos", "handle"), "handle_xmat": ("geom_xmat", "handle")}
    _GOAL_OFFSET: tuple[float, float, float]
    _INIT_ANGLE: float

    def reset(self, sim, rand_vec):
        sim.reset_hand(self.hand_init_pos)
        goal = rand_vec + np.asarray(self._GOAL_OFFSET)
        sim.set_body_pos("door", rand_vec)
        sim.set_site_pos("goal", goal)
        sim.set_obj_xyz(np.array([self._INIT_ANGLE]), qpos_slice=_DOOR_QPOS, qvel_slice=_DOOR_QPOS)
        return {"goal": goal, "obj_init_pos": rand_vec}

    def objects(self, r):
        return jnp.concatenate([r["handle"], ru.mat_to_quat(r["handle_xmat"])])


@register
class DoorOpen(_DoorPullTask):
    name = "door-open-v3"
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.3, 0.4, 0.1499)
    goal_high = (-0.2, 0.5, 0.1501)
    READINGS = {**_DoorPullTask.READINGS, "theta": ("qpos", "doorjoint")}
    CONTEXT = {"obj_init_pos": 3}
    _GOAL_OFFSET = (-0.3, -0.45, 0.0)
    _INIT_ANGLE = 0.0

    def reward(self, r, obs, action, ctx):
        hand = obs[:3]
        door = obs[4:7] + jnp.array([-0.05, 0.0, 0.0])
        theta = r["theta"]

        # A funnel-shaped floor around the handle keeps the hand from hitting it on the way in.
        threshold = 0.12
        floor = ru.funnel_floor(ru.norm(hand[:2] - door[:2]), throat=threshold, slope=0.04, height=0.4)
        above_floor = ru.above_floor(hand[2], floor, floor / 2.0)
        in_place = ru.tolerance(
            ru.norm(hand - door - jnp.array([0.05, 0.03, -0.01])), (0.0, threshold / 2.0), 0.5, "long_tail"
        )
        ready_to_open = ru.hamacher_product(above_floor, in_place)

        # 0.2 for any opening at all, 0.8 for opening fully (the door opens towards -theta).
        opened = 0.2 * (theta < -np.pi / 90.0) + 0.8 * ru.tolerance(
            np.pi / 2.0 + np.pi / 6 + theta, (0.0, 0.5), np.pi / 3.0, "long_tail"
        )
        grab_effort = (jnp.clip(action[3], -1.0, 1.0) + 1.0) / 2.0
        reward = 2.0 * ru.hamacher_product(ready_to_open, grab_effort) + 8.0 * opened
        success = jnp.abs(obs[4] - ctx["goal"][0]) <= 0.08
        return jnp.where(success, 10.0, reward), success


@register
class DoorClose(_DoorPullTask):
    name = "door-close-v3"
    # metaworld stores this hand_init_pos as float32: the mocap holds the rounded values.
    hand_init_pos = f32(-0.5, 0.6, 0.2)
    goal_low = (0.2, 0.65, 0.1499)
    goal_high = (0.3, 0.75, 0.1501)
    CONTEXT = {"obj_init_pos": 3}
    _GOAL_OFFSET = (0.2, -0.2, 0.0)
    _INIT_ANGLE = -1.5708  # the door starts open

    def reward(self, r, obs, action, ctx):
        radius = 0.05
        obj, target = obs[4:7], ctx["goal"]
        tcp_to_target = ru.norm(ru.tcp_center(r) - target)
        obj_to_target = ru.norm(obj - target)
        in_place = ru.tolerance(
            obj_to_target, (0.0, radius), ru.norm(ctx["obj_init_pos"] - target), "gaussian"
        )
        # metaworld measures the hand margin from the *current* handle position.
        hand_margin = ru.norm(jnp.asarray(self.hand_init_pos) - obj) + 0.1
        hand_in_place = ru.tolerance(tcp_to_target, (0.0, 0.25 * radius), hand_margin, "gaussian")
        reward = 3.0 * hand_in_place + 6.0 * in_place
        return jnp.where(obj_to_target < radius, 10.0, reward), obj_to_target <= 0.08
