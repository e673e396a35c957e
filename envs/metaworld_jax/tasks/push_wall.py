"""push-wall-v3: push the puck around a wall to a goal on the table (sawyer_push_wall_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax.tasks._obj import _WallDetourTask
from metaworld_jax.tasks.base import register


@register
class PushWall(_WallDetourTask):
    name = "push-wall-v3"
    scene = "sawyer_xyz/sawyer_push_wall_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.05, 0.85, 0.01)
    goal_high = (0.05, 0.9, 0.02)
    rand_low = (-0.05, 0.6, 0.015, -0.05, 0.85, 0.01)
    rand_high = (0.05, 0.65, 0.015, 0.05, 0.9, 0.02)
    CAGING = dict(
        object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.05, xz_thresh=0.005, high_density=True
    )
    IN_PLACE_SCALE = np.array([3.0, 1.0, 1.0], np.float32)  # x errors count triple: get around the wall first

    def _placement(self, sim, rand_vec):
        return self._on_table(sim, rand_vec)  # at the puck geom's resting height

    def _midpoint(self, obj, target):
        # a waypoint beside the wall, at the puck's current height
        return jnp.stack([jnp.float32(-0.05), jnp.float32(0.77), obj[2]])

    def _base(self, grasped, in_place_mid):
        return 2.0 * grasped
