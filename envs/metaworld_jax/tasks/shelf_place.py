"""shelf-place-v3: pick up the block and place it on a shelf (sawyer_shelf_placing.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.reach import _ObjPuckTask

_F32 = lambda x: float(np.float32(x))  # metaworld stores this env's hand_init_pos in float32
_SHELF_DROP = np.array([0.0, 0.0, 0.3])  # the drawn goal is the shelf top; the shelf body sits 0.3 below


@register
class ShelfPlace(_ObjPuckTask):
    name = "shelf-place-v3"
    scene = "sawyer_xyz/sawyer_shelf_placing.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, _F32(0.6), _F32(0.2))
    goal_low = (-0.1, 0.8, 0.299)
    goal_high = (0.1, 0.9, 0.301)
    rand_low = (-0.1, 0.5, 0.019, -0.1, 0.8, 0.299)
    rand_high = (0.1, 0.6, 0.021, 0.1, 0.9, 0.301)

    def draw_rand_vec(self, draw):
        v = draw()
        while np.linalg.norm(v[:2] - v[3:5]) < 0.1:
            v = draw()
        return v

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_z = sim.body_xpos("obj")[2]  # the block's resting height, read after the hand settles
        shelf_pos = rand_vec[3:] - _SHELF_DROP
        obj_init_pos = np.array([rand_vec[0], rand_vec[1], obj_z])
        sim.set_body_pos("shelf", shelf_pos)
        sim.forward()
        # the goal site sits on the shelf; metaworld adds the model positions (site is local)
        goal = sim.model.site("goal").pos.copy() + shelf_pos
        sim.set_obj_xyz(obj_init_pos)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        radius = self.success_radius
        obj_to_target = ru.norm(obj - target)
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        in_place = ru.tolerance(obj_to_target, (0.0, radius), ru.norm(obj_init - target), "long_tail")
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.02, pad_success_thresh=0.05, xz_thresh=0.01,
        )
        reward = ru.hamacher_product(grasped, in_place)
        # below the shelf top and in front of it: the closer to the shelf, the bigger the loss
        # (discourages pushing the block into the shelf's front instead of lifting it over)
        below_shelf = (0.0 < obj[2]) & (obj[2] < 0.24) & (target[0] - 0.15 < obj[0]) & (obj[0] < target[0] + 0.15)
        in_front = below_shelf & (target[1] - 3 * radius < obj[1]) & (obj[1] < target[1])
        z_scaling = (0.24 - obj[2]) / 0.24
        y_scaling = (obj[1] - (target[1] - 3 * radius)) / (3 * radius)
        bound_loss = ru.hamacher_product(y_scaling, z_scaling)
        in_place = jnp.where(in_front, jnp.clip(in_place - bound_loss, 0.0, 1.0), in_place)
        in_place = jnp.where(below_shelf & (obj[1] > target[1]), 0.0, in_place)
        lifted = (tcp_to_obj < 0.025) & (tcp_opened > 0) & (obj[2] - 0.01 > obj_init[2])
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(obj_to_target < radius, 10.0, reward)
        return reward, obj_to_target <= 0.07
