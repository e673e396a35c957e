"""window-open-v3 / window-close-v3: slide the window sash open or shut by its handle
(sawyer_window_horizontal.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, f32, register

_HANDLE_RADIUS = 0.02


class _WindowTask(Task):
    """The window frame (body "window") is placed at rand_vec in the model; the sash slides
    along x on "window_slide". The observed object is a handle site, with a zero quaternion.
    Progress is the handle's x distance to the goal."""

    scene = "sawyer_xyz/sawyer_window_horizontal.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    # metaworld stores this hand_init_pos as float32: the mocap holds the rounded values.
    hand_init_pos = f32(0.0, 0.4, 0.2)
    goal_low = hand_low  # metaworld's goal_space is the hand space here
    goal_high = hand_high
    CONTEXT = {"in_place_margin": 1, "reach_margin": 1}
    _HANDLE_SITE: str
    _REACH_SIGMOID: str

    def _terms(self, r, ctx):
        handle = r["handle"]
        target_to_obj = jnp.abs(handle[0] - ctx["goal"][0])
        in_place = ru.tolerance(target_to_obj, (0.0, self.success_radius), ctx["in_place_margin"], "long_tail")
        reach = ru.tolerance(
            ru.norm(handle - ru.tcp_center(r)), (0.0, _HANDLE_RADIUS), ctx["reach_margin"], self._REACH_SIGMOID
        )
        return 10.0 * ru.hamacher_product(reach, in_place), target_to_obj <= self.success_radius

    def objects(self, r):
        return jnp.concatenate([r["handle"], jnp.zeros(4)])

    def reward(self, r, obs, action, ctx):
        return self._terms(r, ctx)

    @staticmethod
    def _margins(goal_x, obj_init_x, handle_init, init_tcp, radius):
        """The reward's constant margins, in float64 as metaworld computes them."""
        return {
            "in_place_margin": abs(abs(obj_init_x - goal_x) - radius),
            "reach_margin": abs(np.linalg.norm(handle_init - init_tcp) - _HANDLE_RADIUS),
        }


@register
class WindowOpen(_WindowTask):
    name = "window-open-v3"
    rand_low = (-0.1, 0.7, 0.16)
    rand_high = (0.1, 0.9, 0.16)
    READINGS = {"handle": ("site_xpos", "handleOpenStart")}
    _REACH_SIGMOID = "long_tail"

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        goal = rand_vec + np.array([0.2, 0.0, 0.0])
        sim.set_body_pos("window", rand_vec)
        # Read with no mj_forward after the model edit: the data still holds the hand reset's
        # kinematics (which already saw the moved window, as metaworld runs reset_model twice).
        handle_init = sim.site_xpos("handleOpenStart")
        sim.set_joint_qpos("window_slide", 0.0)
        sim.set_site_pos("goal", goal)
        margins = self._margins(goal[0], rand_vec[0], handle_init, init_tcp, self.success_radius)
        return {"goal": goal, **margins}


@register
class WindowClose(_WindowTask):
    name = "window-close-v3"
    rand_low = (0.0, 0.75, 0.2)
    rand_high = (0.0, 0.9, 0.2)
    READINGS = {"handle": ("site_xpos", "handleCloseStart")}
    _REACH_SIGMOID = "gaussian"

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        goal = rand_vec.copy()
        sim.set_body_pos("window", rand_vec)
        # The handle as the (stale, closed-sash) data shows it, moved to where the open sash puts it.
        handle_init = sim.site_xpos("handleCloseStart") + np.array([0.2, 0.0, 0.0])
        # The sash starts open; no mj_forward, so the reset observation still shows it closed.
        sim.set_joint_qpos("window_slide", 0.2)
        sim.set_site_pos("goal", goal)
        margins = self._margins(goal[0], handle_init[0], handle_init, init_tcp, self.success_radius)
        return {"goal": goal, **margins}
