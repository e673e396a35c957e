"""drawer-open-v3 / drawer-close-v3: pull the drawer out by its handle, or push it shut
(sawyer_drawer.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, f32, register



class _DrawerTask(Task):
    """The drawer cabinet (body "drawer") is placed at rand_vec in the model; the drawer itself
    slides on qpos 9 ("goal_slidey"). The handle is observed at an offset from "drawer_link"."""

    scene = "sawyer_xyz/sawyer_drawer.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    # metaworld stores the drawer envs' hand_init_pos as float32: the mocap holds the rounded values.
    hand_init_pos = f32(0.0, 0.6, 0.2)
    goal_low = hand_low  # metaworld's goal_space is the hand space here
    goal_high = hand_high
    rand_low = (-0.1, 0.9, 0.0)
    rand_high = (0.1, 0.9, 0.0)
    READINGS = {"drawer_link": ("body_xpos", "drawer_link")}


@register
class DrawerOpen(_DrawerTask):
    name = "drawer-open-v3"
    READINGS = {**_DrawerTask.READINGS, "drawer_quat": ("body_xquat", "drawer_link")}
    CONTEXT = {"init_tcp": 3}
    _MAX_DIST = 0.2  # how far the drawer opens

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        # No mj_forward follows the model edit: the reset observation is what the hand reset
        # left in the data (already the moved drawer, as metaworld runs reset_model twice).
        sim.set_body_pos("drawer", rand_vec)
        goal = rand_vec + np.array([0.0, -0.16 - self._MAX_DIST, 0.09])
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "init_tcp": init_tcp}

    def objects(self, r):
        # metaworld shows the body quaternion as MuJoCo stores it (w, x, y, z).
        return jnp.concatenate([r["drawer_link"] + jnp.array([0.0, -0.16, 0.0]), r["drawer_quat"]])

    def reward(self, r, obs, action, ctx):
        gripper, handle, target = obs[:3], obs[4:7], ctx["goal"]
        handle_error = ru.norm(handle - target)
        opening = ru.tolerance(handle_error, (0.0, 0.02), self._MAX_DIST, "long_tail")
        handle_pos_init = target + jnp.array([0.0, self._MAX_DIST, 0.0])
        # x-y error weighs more, so the gripper can hook the handle from above without
        # losing much reward for the z gap.
        scale = jnp.array([3.0, 3.0, 1.0])
        caging = ru.tolerance(
            ru.norm((handle - gripper) * scale),
            (0.0, 0.01),
            ru.norm((handle_pos_init - ctx["init_tcp"]) * scale),
            "long_tail",
        )
        return 5.0 * (caging + opening), handle_error <= 0.03


@register
class DrawerClose(_DrawerTask):
    name = "drawer-close-v3"
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}
    _MAX_DIST = 0.15  # how far the drawer starts open
    _OBJ_OFFSET = (0.0, -0.16, 0.05)

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        sim.set_body_pos("drawer", rand_vec)
        goal = rand_vec + np.array([0.0, -0.16, 0.09])
        # Pull the drawer fully out; metaworld leaves its velocity as it was.
        sim.set_obj_xyz(np.array([-self._MAX_DIST]), qpos_slice=slice(9, 10), qvel_slice=slice(0, 0))
        obj_init_pos = sim.body_xpos("drawer_link") + np.asarray(self._OBJ_OFFSET)
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def objects(self, r):
        return jnp.concatenate([r["drawer_link"] + jnp.asarray(self._OBJ_OFFSET), jnp.zeros(4)])

    def reward(self, r, obs, action, ctx):
        radius = self.success_radius  # metaworld's TARGET_RADIUS, 0.05
        obj, target, obj_init = obs[4:7], ctx["goal"], ctx["obj_init_pos"]
        target_to_obj = ru.norm(obj - target)
        in_place = ru.tolerance(
            target_to_obj, (0.0, radius), jnp.abs(ru.norm(obj_init - target) - radius), "long_tail"
        )
        reach_radius = 0.005
        reach = ru.tolerance(
            ru.norm(obj - ru.tcp_center(r)),
            (0.0, reach_radius),
            jnp.abs(ru.norm(obj_init - ctx["init_tcp"]) - reach_radius),
            "gaussian",
        )
        reach = ru.hamacher_product(reach, jnp.clip(action[-1], 0.0, 1.0))
        success = target_to_obj <= radius + 0.015
        return 10.0 * jnp.where(success, 1.0, ru.hamacher_product(reach, in_place)), success
