"""shelf-place-v3: pick up the block and place it on a shelf (sawyer_shelf_placing.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _GraspPlaceTask
from metaworld_jax.tasks.base import f32, redraw_while_close, register

_SHELF_DROP = np.array([0.0, 0.0, 0.3])  # the drawn goal is the shelf top; the shelf body sits 0.3 below


@register
class ShelfPlace(_GraspPlaceTask):
    name = "shelf-place-v3"
    scene = "sawyer_xyz/sawyer_shelf_placing.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = f32(0.0, 0.6, 0.2)  # metaworld stores this env's hand_init_pos in float32
    goal_low = (-0.1, 0.8, 0.299)
    goal_high = (0.1, 0.9, 0.301)
    rand_low = (-0.1, 0.5, 0.019, -0.1, 0.8, 0.299)
    rand_high = (0.1, 0.6, 0.021, 0.1, 0.9, 0.301)
    GOAL_SITE = False  # the goal site rides on the moved shelf
    CAGING = dict(object_reach_radius=0.01, obj_radius=0.02, pad_success_thresh=0.05, xz_thresh=0.01)
    HOLD_RADIUS = 0.025

    def draw_rand_vec(self, draw):
        return redraw_while_close(draw, 0.1)

    def _placement(self, sim, rand_vec):
        obj_init_pos, _ = self._on_table(sim, rand_vec)  # the block's resting height
        shelf_pos = rand_vec[3:] - _SHELF_DROP
        sim.set_body_pos("shelf", shelf_pos)
        sim.forward()
        # the goal site sits on the shelf; metaworld adds the model positions (site is local)
        goal = sim.model.site("goal").pos.copy() + shelf_pos
        return obj_init_pos, goal

    def _bonus_in_place(self, in_place, obj, target):
        # below the shelf top and in front of it: the closer to the shelf, the bigger the loss
        # (discourages pushing the block into the shelf's front instead of lifting it over)
        radius = self.success_radius
        below_shelf = (0.0 < obj[2]) & (obj[2] < 0.24) & (target[0] - 0.15 < obj[0]) & (obj[0] < target[0] + 0.15)
        in_front = below_shelf & (target[1] - 3 * radius < obj[1]) & (obj[1] < target[1])
        z_scaling = (0.24 - obj[2]) / 0.24
        y_scaling = (obj[1] - (target[1] - 3 * radius)) / (3 * radius)
        bound_loss = ru.hamacher_product(y_scaling, z_scaling)
        in_place = jnp.where(in_front, jnp.clip(in_place - bound_loss, 0.0, 1.0), in_place)
        return jnp.where(below_shelf & (obj[1] > target[1]), 0.0, in_place)
