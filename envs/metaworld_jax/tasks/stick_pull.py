"""stick-pull-v3: hook the stick into the container's handle, pull it to the goal (sawyer_stick_obj.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.stick_push import _STICK_Z, _StickTask

_RADIUS = 0.05


@register
class StickPull(_StickTask):
    name = "stick-pull-v3"
    hand_low = (-0.5, 0.35, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    goal_low = (0.35, 0.45, 0.0199)
    goal_high = (0.45, 0.55, 0.0201)
    rand_low = (-0.1, 0.55, 0.0, 0.35, 0.45, 0.0199)
    rand_high = (0.0, 0.65, 0.001, 0.45, 0.55, 0.0201)
    READINGS = {**_StickTask.READINGS, "stick_end": ("site_xpos", "stick_end")}
    container_qpos = np.array([0.0, 0.09])

    def _goal_z(self, sim):
        return _STICK_Z

    @staticmethod
    def _inserted(handle, end_of_stick):
        return (
            (end_of_stick[0] >= handle[0])
            & (jnp.abs(end_of_stick[1] - handle[1]) <= 0.040)
            & (jnp.abs(end_of_stick[2] - handle[2]) <= 0.060)
        )

    def reward(self, r, obs, action, ctx):
        tcp = ru.tcp_center(r)
        stick, handle, tcp_opened = obs[4:7], obs[11:14], obs[3]
        target, stick_init = ctx["goal"], ctx["stick_init_pos"]
        offset = jnp.array([0.05, 0.0, 0.0])  # the container's centre, past its handle
        container, container_init = handle + offset, ctx["obj_init_pos"] + offset
        inserted = self._inserted(handle, r["stick_end"])

        tcp_to_stick = ru.norm(stick - tcp)
        handle_to_target = ru.norm(handle - target)
        yz_scaling = jnp.array([1.0, 1.0, 2.0])
        stick_in_place = ru.tolerance(
            ru.norm((stick - container) * yz_scaling), (0.0, _RADIUS),
            ru.norm((stick_init - container_init) * yz_scaling), "long_tail",
        )
        stick_in_place_2 = ru.tolerance(
            ru.norm(stick - target), (0.0, _RADIUS), ru.norm(stick_init - target), "long_tail"
        )
        container_in_place = ru.tolerance(
            ru.norm(container - target), (0.0, _RADIUS), ru.norm(ctx["obj_init_pos"] - target), "long_tail"
        )
        lifted = (tcp_to_stick < 0.02) & (tcp_opened > 0) & (stick[2] - 0.01 > stick_init[2])
        caging = self._stick_caging(r, action, stick, ctx["obj_init_pos"], ctx, obj_radius=0.014)
        grasped = jnp.where(lifted, 1.0, caging)
        in_place_and_grasped = ru.hamacher_product(grasped, stick_in_place)

        reward = jnp.where(lifted, 1.0 + in_place_and_grasped + 5.0 * stick_in_place, in_place_and_grasped)
        reward = jnp.where(
            lifted & inserted,
            1.0 + in_place_and_grasped + 5.0 + 2.0 * stick_in_place_2 + container_in_place,
            reward,
        )
        reward = jnp.where(lifted & inserted & (handle_to_target <= 0.12), 10.0, reward)
        return reward, (handle_to_target <= 0.12) & inserted
