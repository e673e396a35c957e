"""pick-out-of-hole-v3: lift the peg out of a hole in the table to a goal point above it
(sawyer_pick_out_of_hole.xml)."""

from __future__ import annotations

import jax.numpy as jnp

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _ObjPuckTask
from metaworld_jax.tasks.base import register


@register
class PickOutOfHole(_ObjPuckTask):
    name = "pick-out-of-hole-v3"
    scene = "sawyer_xyz/sawyer_pick_out_of_hole.xml"
    hand_low = (-0.5, 0.40, -0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.1, 0.5, 0.15)
    goal_high = (0.1, 0.6, 0.3)
    rand_low = (0.0, 0.75, 0.02, -0.1, 0.5, 0.15)
    rand_high = (0.0, 0.75, 0.02, 0.1, 0.6, 0.3)
    # metaworld shows the body quaternion as MuJoCo stores it (w, x, y, z)
    READINGS = {"obj": ("body_xpos", "obj"), "obj_xquat": ("body_xquat", "obj")}

    def reward(self, r, obs, action, ctx):
        obj = obs[4:7]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        tcp = ru.tcp_center(r)
        obj_to_target = ru.norm(obj - target)
        tcp_to_obj = ru.norm(obj - tcp)
        # the floor is a funnel around the hole: keep the hand above it while approaching
        floor = ru.funnel_floor(ru.norm(tcp[:2] - obj_init[:2]), throat=0.03, slope=0.015, height=0.15)
        above_floor = ru.above_floor(tcp[2], floor, 0.02)
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.02, xz_thresh=0.03,
            desired_gripper_effort=0.1, high_density=True,
        )
        in_place = ru.tolerance(obj_to_target, (0.0, 0.02), ru.norm(obj_init - target), "long_tail")
        reward = ru.hamacher_product(grasped, in_place)
        grasp_success = (tcp_to_obj < 0.04) & (obj[2] - 0.02 > obj_init[2]) & ~(obs[3] < 0.33)
        reward = jnp.where(grasp_success, reward + 1.0 + 5.0 * ru.hamacher_product(in_place, above_floor), reward)
        # metaworld's 10-point bonus uses the base class radius (0.05), not this env's 0.02
        reward = jnp.where(obj_to_target < self.success_radius, 10.0, reward)
        return reward, obj_to_target <= 0.07
