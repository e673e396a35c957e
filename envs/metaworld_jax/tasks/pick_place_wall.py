"""pick-place-wall-v3: pick up the puck and carry it over a wall to a goal point
(sawyer_pick_place_wall_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _WallDetourTask
from metaworld_jax.tasks.base import register


@register
class PickPlaceWall(_WallDetourTask):
    name = "pick-place-wall-v3"
    scene = "sawyer_xyz/sawyer_pick_place_wall_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.05, 0.85, 0.05)
    goal_high = (0.05, 0.9, 0.3)
    rand_low = (-0.05, 0.6, 0.015, -0.05, 0.85, 0.05)
    rand_high = (0.05, 0.65, 0.015, 0.05, 0.9, 0.3)
    CAGING = dict(object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.05, xz_thresh=0.005)
    IN_PLACE_SCALE = np.array([1.0, 1.0, 3.0], np.float32)  # height errors count triple on the way over the wall
    LIFT = 0.015

    def _midpoint(self, obj, target):
        # a waypoint above the wall, in line with the goal
        return jnp.stack([target[0], jnp.float32(0.77), jnp.float32(0.25)])

    def _base(self, grasped, in_place_mid):
        return ru.hamacher_product(grasped, in_place_mid)
