"""reach-v3: move the tcp to a goal point (sawyer_reach_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _ObjPuckTask
from metaworld_jax.tasks.base import register


@register
class Reach(_ObjPuckTask):
    name = "reach-v3"
    scene = "sawyer_xyz/sawyer_reach_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.1, 0.8, 0.05)
    goal_high = (0.1, 0.9, 0.3)
    rand_low = (-0.1, 0.6, 0.02, -0.1, 0.8, 0.05)
    rand_high = (0.1, 0.7, 0.02, 0.1, 0.9, 0.3)
    GOAL_SITE = False  # reach-v3 leaves the goal site where the scene has it

    def reward(self, r, obs, action, ctx):
        target = ctx["goal"]
        tcp_to_target = ru.norm(ru.tcp_center(r) - target)
        margin = ru.norm(jnp.asarray(self.hand_init_pos) - target)
        in_place = ru.tolerance(tcp_to_target, (0.0, self.success_radius), margin, "long_tail")
        return 10.0 * in_place, tcp_to_target <= self.success_radius
