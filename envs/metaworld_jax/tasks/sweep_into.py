"""sweep-into-v3: sweep the puck into the hole in the table (sawyer_table_with_hole.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.reach import _ObjPuckTask
from metaworld_jax.tasks.sweep import pad_gripping_reward

_HOLE = np.array([0.0, 0.84, 0.02])  # metaworld's fixed goal; the rand_vec's goal part is unused


@register
class SweepInto(_ObjPuckTask):
    name = "sweep-into-v3"
    scene = "sawyer_xyz/sawyer_table_with_hole.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.001, 0.8399, 0.0199)
    goal_high = (0.001, 0.8401, 0.0201)
    rand_low = (-0.1, 0.6, 0.02, -0.001, 0.8399, 0.0199)
    rand_high = (0.1, 0.7, 0.02, 0.001, 0.8401, 0.0201)
    OBJ_RADIUS = 0.02

    def draw_rand_vec(self, draw):
        # Redrawn while the puck would start within 15 cm (x-y) of the fixed hole.
        v = draw()
        while np.linalg.norm(v[:2] - _HOLE[:2]) < 0.15:
            v = draw()
        return v

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_z = sim.body_xpos("obj")[2]  # the puck's resting height, read after the hand settles
        obj_init_pos = np.array([rand_vec[0], rand_vec[1], obj_z])
        sim.set_obj_xyz(obj_init_pos)
        sim.set_site_pos("goal", _HOLE)
        return {"goal": _HOLE.copy(), "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def reward(self, r, obs, action, ctx):
        obj, obj_init = obs[4:7], ctx["obj_init_pos"]
        # The target follows the puck's height: only x-y distance to the hole counts.
        target = jnp.stack([ctx["goal"][0], ctx["goal"][1], obj[2]])
        obj_to_target = ru.norm(obj - target)
        in_place = ru.tolerance(obj_to_target, (0.0, 0.05), ru.norm(obj_init - target), "long_tail")
        grasped = pad_gripping_reward(
            r, obj, obj_init, ctx["init_tcp"], obj_radius=self.OBJ_RADIUS, grip_extra=0.005, xz_thresh=0.01
        )
        reward = 2.0 * grasped + 6.0 * ru.hamacher_product(grasped, in_place)
        reward = jnp.where(obj_to_target < 0.05, 10.0, reward)
        return reward, obj_to_target <= 0.05
