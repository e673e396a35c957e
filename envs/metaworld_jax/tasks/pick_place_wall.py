"""pick-place-wall-v3: pick up the puck and carry it over a wall to a goal point
(sawyer_pick_place_wall_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.reach import _ObjPuckTask

_IN_PLACE_SCALE = jnp.array([1.0, 1.0, 3.0])  # height errors count triple on the way over the wall


@register
class PickPlaceWall(_ObjPuckTask):
    name = "pick-place-wall-v3"
    scene = "sawyer_xyz/sawyer_pick_place_wall_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.05, 0.85, 0.05)
    goal_high = (0.05, 0.9, 0.3)
    rand_low = (-0.05, 0.6, 0.015, -0.05, 0.85, 0.05)
    rand_high = (0.05, 0.65, 0.015, 0.05, 0.9, 0.3)
    # the observation shows the puck geom's centre, not the body's
    READINGS = {"obj": ("geom_xpos", "objGeom"), "obj_xmat": ("geom_xmat", "objGeom")}

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_init_pos, goal = rand_vec[:3], rand_vec[3:]
        sim.set_obj_xyz(obj_init_pos)
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        radius = self.success_radius
        # first reach a waypoint above the wall, then the goal
        midpoint = jnp.stack([target[0], jnp.float32(0.77), jnp.float32(0.25)])
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
        )
        in_place_and_grasped = ru.hamacher_product(grasped, in_place_mid)
        lifted = (tcp_to_obj < 0.02) & (tcp_opened > 0) & (obj[2] - 0.015 > obj_init[2])
        carried = jnp.where(
            obj[1] > 0.75,
            in_place_and_grasped + 1.0 + 4.0 + 3.0 * in_place_goal,
            in_place_and_grasped + 1.0 + 4.0 * in_place_mid,
        )
        reward = jnp.where(lifted, carried, in_place_and_grasped)
        reward = jnp.where(obj_to_target < radius, 10.0, reward)
        return reward, obj_to_target <= 0.07
