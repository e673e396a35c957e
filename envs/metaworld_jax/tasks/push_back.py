"""push-back-v3: push the puck back towards the robot to a goal on the table (sawyer_push_back_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.reach import _ObjPuckTask

_F32 = lambda x: float(np.float32(x))  # metaworld stores this env's hand_init_pos in float32
_OBJ_RADIUS = 0.007


@register
class PushBack(_ObjPuckTask):
    name = "push-back-v3"
    scene = "sawyer_xyz/sawyer_push_back_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, _F32(0.6), _F32(0.2))
    goal_low = (-0.1, 0.6, 0.0199)
    goal_high = (0.1, 0.7, 0.0201)
    rand_low = (-0.1, 0.8, 0.02, -0.1, 0.6, 0.0199)
    rand_high = (0.1, 0.85, 0.02, 0.1, 0.7, 0.0201)
    # the observation shows the puck geom's centre, not the body's
    READINGS = {"obj": ("geom_xpos", "objGeom"), "obj_xmat": ("geom_xmat", "objGeom")}

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_z = sim.geom_xpos("objGeom")[2]  # the puck geom's resting height after the hand settles
        goal = np.array([rand_vec[3], rand_vec[4], obj_z])
        obj_init_pos = np.array([rand_vec[0], rand_vec[1], obj_z])
        sim.set_obj_xyz(obj_init_pos)
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def _caging(self, r, obj, ctx):
        """push-back's own caging: signed pad-to-puck y offsets, a tight "gripping" band
        instead of the gripper command. metaworld's "initial" pads are live views of the
        pads (get_body_com at construction), so the margins use the pads' current positions."""
        pad_margin, grip_margin, xz_margin = 0.05, _OBJ_RADIUS + 0.003, 0.01
        left_d, right_d = r["leftpad"][1] - obj[1], obj[1] - r["rightpad"][1]
        left_m = jnp.abs(jnp.abs(obj[1] - r["leftpad"][1]) - pad_margin)
        right_m = jnp.abs(jnp.abs(obj[1] - r["rightpad"][1]) - pad_margin)
        band = lambda d, hi, m: ru.tolerance(d, (_OBJ_RADIUS, hi), m, "long_tail")
        y_caging = ru.hamacher_product(band(right_d, pad_margin, right_m), band(left_d, pad_margin, left_m))
        y_gripping = ru.hamacher_product(band(right_d, grip_margin, right_m), band(left_d, grip_margin, left_m))
        xz = jnp.array([0, 2])
        tcp = ru.tcp_center(r)
        xz_caging = ru.tolerance(
            ru.norm(tcp[xz] - obj[xz]), (0.0, xz_margin),
            ru.norm(ctx["obj_init_pos"][xz] - ctx["init_tcp"][xz]) - xz_margin, "long_tail",
        )
        caging = ru.hamacher_product(y_caging, xz_caging)
        gripping = jnp.where(caging > 0.95, y_gripping, 0.0)
        return (caging + gripping) / 2

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        target_to_obj = ru.norm(obj - target)
        target_to_obj_init = ru.norm(obj_init - target)
        in_place = ru.tolerance(target_to_obj, (0.0, self.success_radius), target_to_obj_init, "long_tail")
        reward = ru.hamacher_product(self._caging(r, obj, ctx), in_place)
        pushing = (tcp_to_obj < 0.01) & (tcp_opened > 0) & (tcp_opened < 0.55) & (
            target_to_obj_init - target_to_obj > 0.01
        )
        reward = jnp.where(pushing, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(target_to_obj < self.success_radius, 10.0, reward)
        return reward, target_to_obj <= 0.07
