"""soccer-v3: push the ball into the goal net (sawyer_soccer.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, register
from metaworld_jax.tasks.sweep import pad_gripping_reward

_TARGET_RADIUS = 0.07
_BALL_Z = 0.03  # metaworld keeps its initial ball height, never the drawn one


@register
class Soccer(Task):
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
    READINGS = {"ball": ("body_xpos", "soccer_ball"), "ball_xmat": ("geom_xmat", "objGeom")}
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}
    OBJ_RADIUS = 0.013

    def draw_rand_vec(self, draw):
        # Redrawn while ball and goal are closer than 15 cm in x-y.
        v = draw()
        while np.linalg.norm(v[:2] - v[3:5]) < 0.15:
            v = draw()
        return v

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        goal = rand_vec[3:]
        obj_init_pos = np.array([rand_vec[0], rand_vec[1], _BALL_Z])
        sim.set_body_pos("goal_whole", goal)  # the net moves with the goal (model edit)
        sim.set_obj_xyz(obj_init_pos)
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def objects(self, r):
        return jnp.concatenate([r["ball"], ru.mat_to_quat(r["ball_xmat"])])

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
        grasped = pad_gripping_reward(
            r, obj, obj_init, ctx["init_tcp"], obj_radius=self.OBJ_RADIUS, grip_extra=0.01, xz_thresh=0.005
        )
        reward = 3.0 * grasped + 6.5 * in_place
        reward = jnp.where(target_to_obj < _TARGET_RADIUS, 10.0, reward)
        # success uses the unscaled distance
        return reward, ru.norm(obj - target) <= _TARGET_RADIUS
