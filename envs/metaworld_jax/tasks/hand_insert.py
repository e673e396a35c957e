"""hand-insert-v3: push the puck into a hole in the table (sawyer_table_with_hole.xml)."""

from __future__ import annotations

import numpy as np

from metaworld_jax.tasks._obj import _GraspPlaceTask
from metaworld_jax.tasks.base import f32, register

_OBJ_Z = 0.05  # metaworld's init_config obj height, kept whatever the draw says


@register
class HandInsert(_GraspPlaceTask):
    name = "hand-insert-v3"
    scene = "sawyer_xyz/sawyer_table_with_hole.xml"
    hand_low = (-0.5, 0.40, -0.15)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = f32(0.0, 0.6, 0.2)  # metaworld stores this env's hand_init_pos in float32
    goal_low = (-0.04, 0.8, -0.0201)
    goal_high = (0.04, 0.88, -0.0199)
    rand_low = (-0.1, 0.6, 0.05, -0.04, 0.8, -0.0201)
    rand_high = (0.1, 0.7, 0.05, 0.04, 0.88, -0.0199)
    # metaworld shows the body quaternion as MuJoCo stores it (w, x, y, z)
    READINGS = {"obj": ("body_xpos", "obj"), "obj_xquat": ("body_xquat", "obj")}
    CAGING = dict(
        object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.05, xz_thresh=0.005, high_density=True
    )
    LIFT = None  # the bonus needs the tcp at the puck, not a lift
    BONUS = 7.0
    PLACED_RADIUS = 0.05

    def _placement(self, sim, rand_vec):
        return np.array([rand_vec[0], rand_vec[1], _OBJ_Z]), rand_vec[3:]
