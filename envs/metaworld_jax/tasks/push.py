"""push-v3: push the puck to a goal on the table (sawyer_push_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _ObjPuckTask
from metaworld_jax.tasks.base import register


@register
class Push(_ObjPuckTask):
    name = "push-v3"
    scene = "sawyer_xyz/sawyer_push_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.1, 0.8, 0.01)
    goal_high = (0.1, 0.9, 0.02)
    rand_low = (-0.1, 0.6, 0.02, -0.1, 0.8, 0.01)
    rand_high = (0.1, 0.7, 0.02, 0.1, 0.9, 0.02)
    GOAL_SITE = False

    def _placement(self, sim, rand_vec):
        return self._on_table(sim, rand_vec)  # puck and goal at the puck's resting height

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        target_to_obj = ru.norm(obj - target)
        in_place = ru.tolerance(
            target_to_obj, (0.0, self.success_radius), ru.norm(obj_init - target), "long_tail"
        )
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.05,
            xz_thresh=0.005, high_density=True,
        )
        reward = 2.0 * grasped
        reward = jnp.where((tcp_to_obj < 0.02) & (tcp_opened > 0), 2.0 * reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(target_to_obj < self.success_radius, 10.0, reward)
        return reward, target_to_obj <= self.success_radius
