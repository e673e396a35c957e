"""hand-insert-v3: push the puck into a hole in the table (sawyer_table_with_hole.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.reach import _ObjPuckTask

_F32 = lambda x: float(np.float32(x))  # metaworld stores this env's hand_init_pos in float32
_OBJ_Z = 0.05  # metaworld's init_config obj height, kept whatever the draw says


@register
class HandInsert(_ObjPuckTask):
    name = "hand-insert-v3"
    scene = "sawyer_xyz/sawyer_table_with_hole.xml"
    hand_low = (-0.5, 0.40, -0.15)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, _F32(0.6), _F32(0.2))
    goal_low = (-0.04, 0.8, -0.0201)
    goal_high = (0.04, 0.88, -0.0199)
    rand_low = (-0.1, 0.6, 0.05, -0.04, 0.8, -0.0201)
    rand_high = (0.1, 0.7, 0.05, 0.04, 0.88, -0.0199)
    # metaworld shows the body quaternion as MuJoCo stores it (w, x, y, z)
    READINGS = {"obj": ("body_xpos", "obj"), "obj_xquat": ("body_xquat", "obj")}

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_init_pos = np.array([rand_vec[0], rand_vec[1], _OBJ_Z])
        goal = rand_vec[3:]
        sim.set_obj_xyz(obj_init_pos)
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def objects(self, r):
        return jnp.concatenate([r["obj"], r["obj_xquat"]])

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        target_to_obj = ru.norm(obj - target)
        in_place = ru.tolerance(target_to_obj, (0.0, self.success_radius), ru.norm(obj_init - target), "long_tail")
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.05, xz_thresh=0.005,
            high_density=True,
        )
        reward = ru.hamacher_product(grasped, in_place)
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        reward = jnp.where((tcp_to_obj < 0.02) & (tcp_opened > 0), reward + 1.0 + 7.0 * in_place, reward)
        reward = jnp.where(target_to_obj < self.success_radius, 10.0, reward)
        return reward, target_to_obj <= self.success_radius
