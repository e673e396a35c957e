"""box-close-v3: pick up the lid by its handle and put it on the box (sawyer_box.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.host_sim import FRAME_SKIP
from metaworld_jax.tasks.base import Task, f32, redraw_while_close, register

_UPRIGHT_QUAT = np.array([0.707, 0.0, 0.0, 0.707], np.float32)  # (w, x, y, z)
_LID_Z = f32(0.02)[0]  # metaworld's obj_init_pos is float32; its z is kept


@register
class BoxClose(Task):
    name = "box-close-v3"
    scene = "sawyer_xyz/sawyer_box.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = f32(0.0, 0.6, 0.2)  # f32 in metaworld
    goal_low = (-0.1, 0.7, 0.133)
    goal_high = (0.1, 0.8, 0.133)
    rand_low = (-0.05, 0.5, 0.02, -0.1, 0.7, 0.133)
    rand_high = (0.05, 0.55, 0.02, 0.1, 0.8, 0.133)
    # The lid (top_link) is the free body at qpos 9:16; observed as its body frame.
    READINGS = {"lid": ("body_xpos", "top_link"), "lid_quat": ("body_xquat", "top_link")}

    def draw_rand_vec(self, draw):
        # (lid xyz, box xyz), redrawn while the two are closer than 25 cm in x-y.
        return redraw_while_close(draw, 0.25)

    def reset(self, sim, rand_vec):
        sim.reset_hand(self.hand_init_pos)
        box_height = sim.body_xpos("boxbody")[2]
        target = rand_vec[3:]
        sim.set_body_pos("boxbody", np.array([target[0], target[1], box_height]))
        # metaworld lets the moved box settle for one control step's worth of substeps.
        sim.mj_step(FRAME_SKIP)
        sim.set_obj_xyz(np.array([rand_vec[0], rand_vec[1], _LID_Z]))
        sim.set_site_pos("goal", target)
        return {"goal": target}

    def objects(self, r):
        return jnp.concatenate([r["lid"], r["lid_quat"]])

    def reward(self, r, obs, action, ctx):
        target = ctx["goal"]
        grab_effort = jnp.clip((jnp.clip(action[3], -1.0, 1.0) + 1.0) / 2.0, 0.0, 1.0)
        # Heavy weight on an upright lid, so flipping it onto the box does not pay.
        quat = jnp.maximum(1.0 - ru.norm(obs[7:11] - _UPRIGHT_QUAT) / 0.2, 0.0)

        hand = obs[:3]
        handle = obs[4:7] + jnp.array([0.0, 0.0, 0.02])
        # A funnel-shaped floor around the handle keeps the hand from hitting it from the side.
        floor = ru.funnel_floor(ru.norm(hand[:2] - handle[:2]), throat=0.02, slope=0.04, height=0.4)
        above_floor = ru.above_floor(hand[2], floor, floor / 2.0)
        at_handle = ru.tolerance(ru.norm(hand - handle), (0.0, 0.02), 0.5, "long_tail")
        ready_to_lift = ru.hamacher_product(above_floor, at_handle)
        placed_error = (target - handle) * jnp.array([1.0, 1.0, 3.0])
        lifted = 0.2 * (handle[2] > 0.04) + 0.8 * ru.tolerance(ru.norm(placed_error), (0.0, 0.05), 0.25, "long_tail")

        reward = 2.0 * ru.hamacher_product(grab_effort, ready_to_lift) + 8.0 * lifted
        success = ru.norm(obs[4:7] - target) < 0.08
        reward = jnp.where(success, 10.0, reward)
        return reward * quat, success
