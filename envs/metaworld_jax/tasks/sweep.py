"""sweep-v3: sweep the puck sideways off the table edge (sawyer_sweep_v3.xml)."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _ObjTask
from metaworld_jax.tasks.base import register


class _SweepTask(_ObjTask):
    """sweep-v3 / sweep-into-v3's reward: 2 * grasped + 6 * hamacher(grasped, in_place), 10 (and
    success) within 5 cm of `_target`; grasped is the pad-gripping caging override."""

    OBJ_RADIUS: ClassVar[float] = 0.02
    GRIP_EXTRA: ClassVar[float]  # pad_gripping_reward's constants
    XZ_THRESH: ClassVar[float]

    def _target(self, ctx, obj):
        return ctx["goal"]

    def reward(self, r, obs, action, ctx):
        obj, obj_init = obs[4:7], ctx["obj_init_pos"]
        target = self._target(ctx, obj)
        obj_to_target = ru.norm(obj - target)
        in_place = ru.tolerance(obj_to_target, (0.0, 0.05), ru.norm(obj_init - target), "long_tail")
        grasped = ru.pad_gripping_reward(
            r, obj, obj_init, ctx["init_tcp"],
            obj_radius=self.OBJ_RADIUS, grip_extra=self.GRIP_EXTRA, xz_thresh=self.XZ_THRESH,
        )
        reward = 2.0 * grasped + 6.0 * ru.hamacher_product(grasped, in_place)
        reward = jnp.where(obj_to_target < 0.05, 10.0, reward)
        return reward, obj_to_target <= 0.05


@register
class Sweep(_SweepTask):
    name = "sweep-v3"
    scene = "sawyer_xyz/sawyer_sweep_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (0.49, 0.6, 0.0)
    goal_high = (0.51, 0.7, 0.02)
    rand_low = (-0.1, 0.6, 0.02)  # the puck only; the goal follows its y
    rand_high = (0.1, 0.7, 0.02)
    # metaworld shows the body quaternion as MuJoCo stores it (w, x, y, z), unconverted.
    READINGS = {"obj": ("body_xpos", "obj"), "obj_xquat": ("body_xquat", "obj")}
    GRIP_EXTRA = 0.01
    XZ_THRESH = 0.005

    def _placement(self, sim, rand_vec):
        return np.array([rand_vec[0], rand_vec[1], 0.02]), np.array([0.5, rand_vec[1], 0.01])
