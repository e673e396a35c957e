"""pick-place-v3: pick up the puck and place it at a goal point in the air (sawyer_pick_place_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.reach import _ObjPuckTask


@register
class PickPlace(_ObjPuckTask):
    name = "pick-place-v3"
    scene = "sawyer_xyz/sawyer_pick_place_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.1, 0.8, 0.05)
    goal_high = (0.1, 0.9, 0.3)
    rand_low = (-0.1, 0.6, 0.02, -0.1, 0.8, 0.05)
    rand_high = (0.1, 0.7, 0.02, 0.1, 0.9, 0.3)

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_init_pos = rand_vec[:3]
        goal = rand_vec[3:]
        sim.set_obj_xyz(obj_init_pos)
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def _caging(self, r, action, obj, ctx):
        """Pick-place's own caging: signed pad-to-object y offsets (a pad on the wrong side of
        the puck scores nothing). metaworld's "initial" pad positions are live views of the
        pads (get_body_com), so the margins use the pads' current positions."""
        pad_margin, xz_margin, obj_radius = 0.05, 0.005, 0.015
        left = ru.tolerance(
            r["leftpad"][1] - obj[1], (obj_radius, pad_margin),
            jnp.abs(jnp.abs(obj[1] - r["leftpad"][1]) - pad_margin), "long_tail",
        )
        right = ru.tolerance(
            obj[1] - r["rightpad"][1], (obj_radius, pad_margin),
            jnp.abs(jnp.abs(obj[1] - r["rightpad"][1]) - pad_margin), "long_tail",
        )
        y_caging = ru.hamacher_product(left, right)
        xz = jnp.array([0, 2])
        tcp = ru.tcp_center(r)
        xz_caging = ru.tolerance(
            ru.norm(tcp[xz] - obj[xz]), (0.0, xz_margin),
            ru.norm(ctx["obj_init_pos"][xz] - ctx["init_tcp"][xz]) - xz_margin, "long_tail",
        )
        gripper_closed = jnp.clip(action[-1], 0.0, 1.0)
        caging = ru.hamacher_product(y_caging, xz_caging)
        gripping = jnp.where(caging > 0.97, gripper_closed, 0.0)
        return (ru.hamacher_product(caging, gripping) + caging) / 2

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        obj_to_target = ru.norm(obj - target)
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        in_place = ru.tolerance(obj_to_target, (0.0, self.success_radius), ru.norm(obj_init - target), "long_tail")
        reward = ru.hamacher_product(self._caging(r, action, obj, ctx), in_place)
        lifted = (tcp_to_obj < 0.02) & (tcp_opened > 0) & (obj[2] - 0.01 > obj_init[2])
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(obj_to_target < self.success_radius, 10.0, reward)
        return reward, obj_to_target <= 0.07
