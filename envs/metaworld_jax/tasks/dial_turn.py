"""dial-turn-v3: turn the dial's knob so its tip reaches the goal (sawyer_dial.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, f32, register

_DIAL_RADIUS = 0.05
_TARGET_RADIUS = 0.07
_REACH_RADIUS = 0.005
_PUSH_OFFSET = np.array([0.05, 0.02, 0.09])  # where the tcp should push, from the knob tip


def _knob_tip(center, angle, xp=np):
    """The knob's tip: dial centre plus radius along the knob angle (angle 0 points to -y)."""
    return center + _DIAL_RADIUS * xp.stack([xp.sin(angle), -xp.cos(angle), 0.0 * angle])


@register
class DialTurn(Task):
    name = "dial-turn-v3"
    scene = "sawyer_xyz/sawyer_dial.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = f32(0.0, 0.6, 0.2)  # f32 in metaworld
    goal_low = (-0.1, 0.73, 0.0299)
    goal_high = (0.1, 0.83, 0.0301)
    rand_low = (-0.1, 0.7, 0.0)
    rand_high = (0.1, 0.8, 0.0)
    READINGS = {
        "dial": ("body_xpos", "dial"),
        "dial_quat": ("body_xquat", "dial"),
        "knob_angle": ("qpos", "knob_Joint_1"),
    }
    # Margins of the two tolerances, fixed at reset (from the initial push position).
    CONTEXT = {"in_place_margin": 1, "reach_margin": 1}

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        target = rand_vec + np.array([0.0, 0.03, 0.03])
        sim.set_body_pos("dial", rand_vec)
        # metaworld reads the knob before any forward pass: the dial's data frame is the one
        # the hand reset left (the model edit of this goal's first reset_model call).
        angle = sim.joint_qpos("knob_Joint_1")[0]
        push_init = _knob_tip(sim.body_xpos("dial"), angle) + _PUSH_OFFSET
        sim.set_site_pos("goal", target)
        return {
            "goal": target,
            "in_place_margin": abs(np.linalg.norm(push_init - target) - _TARGET_RADIUS),
            "reach_margin": abs(np.linalg.norm(push_init - init_tcp) - _REACH_RADIUS),
        }

    def objects(self, r):
        tip = _knob_tip(r["dial"], r["knob_angle"], jnp)
        return jnp.concatenate([tip, r["dial_quat"]])

    def reward(self, r, obs, action, ctx):
        tip = _knob_tip(r["dial"], r["knob_angle"], jnp)
        target_to_obj = ru.norm(tip - ctx["goal"])
        in_place = ru.tolerance(target_to_obj, (0.0, _TARGET_RADIUS), ctx["in_place_margin"], "long_tail")
        tcp_to_push = ru.norm(tip + _PUSH_OFFSET - ru.tcp_center(r))
        reach = ru.tolerance(tcp_to_push, (0.0, _REACH_RADIUS), ctx["reach_margin"], "gaussian")
        reach = ru.hamacher_product(reach, jnp.clip(action[-1], 0.0, 1.0))
        return 10.0 * ru.hamacher_product(reach, in_place), target_to_obj <= _TARGET_RADIUS
