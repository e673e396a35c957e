"""soccer-v3: push the ball into the goal net (sawyer_soccer.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _ObjPuckTask
from metaworld_jax.tasks.base import register

_TARGET_RADIUS = 0.07
_BALL_Z = 0.03  # metaworld keeps its initial ball height, never the drawn one


@register
class Soccer(_ObjPuckTask):
    name = "soccer-v3"
    scene = "sawyer_xyz/sawyer_soccer.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.1, 0.8, 0.0)
    goal_high = (0.1, 0.9, 0.0)
    rand_low = (-0.1, 0.6, 0.03, -0.1, 0.8, 0.0)
    rand_high = (0.1, 0.7, 0.03, 0.1, 0.9, 0.0)
    # objGeom sits at the ball body's frame (identity child body and geom offsets), so its
    # xmat is the body's xmat that metaworld converts.
    READINGS = {"obj": ("body_xpos", "soccer_ball"), "obj_xmat": ("geom_xmat", "objGeom")}
    OBJ_RADIUS = 0.013

    def _placement(self, sim, rand_vec):
        goal = rand_vec[3:]
        sim.set_body_pos("goal_whole", goal)  # the net moves with the goal (model edit)
        return np.array([rand_vec[0], rand_vec[1], _BALL_Z]), goal

    def reward(self, r, obs, action, ctx):
        obj, target, obj_init = obs[4:7], ctx["goal"], ctx["obj_init_pos"]
        x_scaling = jnp.array([3.0, 1.0, 1.0])  # misses to the side count triple
        target_to_obj = ru.norm((obj - target) * x_scaling)
        in_place = ru.tolerance(
            target_to_obj, (0.0, _TARGET_RADIUS), ru.norm((obj - obj_init) * x_scaling), "long_tail"
        )
        # Past the goal line but wide of the net: penalised the further it goes.
        goal_line = target[1] - 0.1
        wide = (obj[1] > goal_line) & (jnp.abs(obj[0] - target[0]) > 0.10)
        in_place = jnp.where(
            wide, jnp.clip(in_place - 2.0 * ((obj[1] - goal_line) / (1.0 - goal_line)), 0.0, 1.0), in_place
        )
        grasped = ru.pad_gripping_reward(
            r, obj, obj_init, ctx["init_tcp"], obj_radius=self.OBJ_RADIUS, grip_extra=0.01, xz_thresh=0.005
        )
        reward = 3.0 * grasped + 6.5 * in_place
        reward = jnp.where(target_to_obj < _TARGET_RADIUS, 10.0, reward)
        # success uses the unscaled distance
        return reward, ru.norm(obj - target) <= _TARGET_RADIUS
