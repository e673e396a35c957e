"""push-v3: push the puck to a goal on the table (sawyer_push_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.reach import _ObjPuckTask


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

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_z = sim.body_xpos("obj")[2]  # the puck's resting height, read after the hand settles
        goal = np.array([rand_vec[3], rand_vec[4], obj_z])
        obj_init_pos = np.array([rand_vec[0], rand_vec[1], obj_z])
        sim.set_obj_xyz(obj_init_pos)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

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
