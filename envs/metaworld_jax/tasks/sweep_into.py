"""sweep-into-v3: sweep the puck into the hole in the table (sawyer_table_with_hole.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.sweep import _SweepTask

_HOLE = np.array([0.0, 0.84, 0.02])  # metaworld's fixed goal; the rand_vec's goal part is unused


@register
class SweepInto(_SweepTask):
    name = "sweep-into-v3"
    scene = "sawyer_xyz/sawyer_table_with_hole.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.001, 0.8399, 0.0199)
    goal_high = (0.001, 0.8401, 0.0201)
    rand_low = (-0.1, 0.6, 0.02, -0.001, 0.8399, 0.0199)
    rand_high = (0.1, 0.7, 0.02, 0.001, 0.8401, 0.0201)
    GRIP_EXTRA = 0.005
    XZ_THRESH = 0.01

    def draw_rand_vec(self, draw):
        # Redrawn while the puck would start within 15 cm (x-y) of the fixed hole.
        v = draw()
        while np.linalg.norm(v[:2] - _HOLE[:2]) < 0.15:
            v = draw()
        return v

    def _placement(self, sim, rand_vec):
        obj_init_pos, _ = self._on_table(sim, rand_vec)  # the puck's resting height
        return obj_init_pos, _HOLE.copy()

    def _target(self, ctx, obj):
        # The target follows the puck's height: only x-y distance to the hole counts.
        return jnp.stack([ctx["goal"][0], ctx["goal"][1], obj[2]])
