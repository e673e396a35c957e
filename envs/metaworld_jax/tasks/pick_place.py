"""pick-place-v3: pick up the puck and place it at a goal point in the air (sawyer_pick_place_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _GraspPlaceTask
from metaworld_jax.tasks.base import register


@register
class PickPlace(_GraspPlaceTask):
    name = "pick-place-v3"
    scene = "sawyer_xyz/sawyer_pick_place_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.1, 0.8, 0.05)
    goal_high = (0.1, 0.9, 0.3)
    rand_low = (-0.1, 0.6, 0.02, -0.1, 0.8, 0.05)
    rand_high = (0.1, 0.7, 0.02, 0.1, 0.9, 0.3)

    def _grasped(self, r, action, obj, ctx):
        """Pick-place's own caging: signed pad-to-object y offsets (a pad on the wrong side of
        the puck scores nothing). metaworld's "initial" pad positions are live views of the
        pads (get_body_com), so the margins use the pads' current positions."""
        caging = ru.signed_pad_caging(
            r, obj, ctx["obj_init_pos"], ctx["init_tcp"], obj_radius=0.015, xz_thresh=0.005
        )
        gripper_closed = jnp.clip(action[-1], 0.0, 1.0)
        gripping = jnp.where(caging > 0.97, gripper_closed, 0.0)
        return (ru.hamacher_product(caging, gripping) + caging) / 2
