"""push-wall-v3: push the puck around a wall to a goal on the table (sawyer_push_wall_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.reach import _ObjPuckTask

_IN_PLACE_SCALE = jnp.array([3.0, 1.0, 1.0])  # x errors count triple: get around the wall first


@register
class PushWall(_ObjPuckTask):
    name = "push-wall-v3"
    scene = "sawyer_xyz/sawyer_push_wall_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.05, 0.85, 0.01)
    goal_high = (0.05, 0.9, 0.02)
    rand_low = (-0.05, 0.6, 0.015, -0.05, 0.85, 0.01)
    rand_high = (0.05, 0.65, 0.015, 0.05, 0.9, 0.02)
    # the observation shows the puck geom's centre, not the body's
    READINGS = {"obj": ("geom_xpos", "objGeom"), "obj_xmat": ("geom_xmat", "objGeom")}

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_z = sim.geom_xpos("objGeom")[2]  # the puck geom's resting height after the hand settles
        goal = np.array([rand_vec[3], rand_vec[4], obj_z])
        obj_init_pos = np.array([rand_vec[0], rand_vec[1], obj_z])
        sim.set_site_pos("goal", goal)
        sim.set_obj_xyz(obj_init_pos)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        radius = self.success_radius
        # a waypoint beside the wall, at the puck's current height
        midpoint = jnp.stack([jnp.float32(-0.05), jnp.float32(0.77), obj[2]])
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        obj_to_target = ru.norm(obj - target)
        in_place_mid = ru.tolerance(
            ru.norm((obj - midpoint) * _IN_PLACE_SCALE), (0.0, radius),
            ru.norm((obj_init - midpoint) * _IN_PLACE_SCALE), "long_tail",
        )
        in_place_goal = ru.tolerance(obj_to_target, (0.0, radius), ru.norm(obj_init - target), "long_tail")
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.05, xz_thresh=0.005,
            high_density=True,
        )
        near = (tcp_to_obj < 0.02) & (tcp_opened > 0)
        pushing = jnp.where(
            obj[1] > 0.75, 2.0 * grasped + 1.0 + 4.0 + 3.0 * in_place_goal, 2.0 * grasped + 1.0 + 4.0 * in_place_mid
        )
        reward = jnp.where(near, pushing, 2.0 * grasped)
        reward = jnp.where(obj_to_target < radius, 10.0, reward)
        return reward, obj_to_target <= 0.07
