"""stick-push-v3: grasp the stick and push the thermos with it to the goal (sawyer_stick_obj.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, redraw_while_close, register

_STICK_Z = 0.02  # metaworld's stick_init_pos height, kept over the drawn one


class _StickTask(Task):
    """Shared by stick-push/stick-pull: a free stick (qpos 9:12) and a container on two
    slide joints (qpos 16:18); rand_vec = stick xyz, goal xyz, redrawn while they are closer
    than 10 cm in x-y. Object block: stick pos+quat, then the container point (no quat)."""

    scene = "sawyer_xyz/sawyer_stick_obj.xml"
    hand_init_pos = (0.0, 0.6, 0.2)
    # objGeom sits at the stick body's frame (identity child body and geom offsets), so its
    # xmat is the body's xmat that metaworld converts.
    READINGS = {
        "stick": ("body_xpos", "stick"),
        "stick_xmat": ("geom_xmat", "objGeom"),
        "insertion": ("site_xpos", "insertion"),
    }
    CONTEXT = {"stick_init_pos": 3, "obj_init_pos": 3, "init_tcp": 3}
    container_offset = np.zeros(3)  # container point shown = insertion site + offset
    container_qpos = np.zeros(2)  # container slide joints at reset

    def draw_rand_vec(self, draw):
        return redraw_while_close(draw, 0.1)  # metaworld's v[-3:-1] is v[3:5] here (6-d)

    def _goal_z(self, sim) -> float:
        raise NotImplementedError

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        stick_init_pos = np.array([rand_vec[0], rand_vec[1], _STICK_Z])
        goal = np.array([rand_vec[3], rand_vec[4], self._goal_z(sim)])
        sim.set_obj_xyz(stick_init_pos)
        # metaworld's slice qvel[16:18] on nv=17 zeroes only the y slide's velocity.
        sim.set_obj_xyz(self.container_qpos, qpos_slice=slice(16, 18), qvel_slice=slice(16, 18))
        obj_init_pos = sim.body_xpos("object")
        sim.set_site_pos("goal", goal)
        return {
            "goal": goal, "stick_init_pos": stick_init_pos, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp
        }

    def objects(self, r):
        container = r["insertion"] + jnp.asarray(self.container_offset, jnp.float32)
        return jnp.concatenate([r["stick"], ru.mat_to_quat(r["stick_xmat"]), container, jnp.zeros(4)])

    def _stick_caging(self, r, action, stick, margins_from, ctx, obj_radius):
        """Caging of the stick; pad and x-z margins measured from `margins_from` (stick-push
        overrides the caging to use the stick's initial position, stick-pull keeps the base
        one, which uses the container's)."""
        return ru.gripper_caging_reward(
            r, action, stick, margins_from, ctx["init_tcp"],
            obj_radius=obj_radius, pad_success_thresh=0.05, object_reach_radius=0.01,
            xz_thresh=0.01, high_density=True,
        )


@register
class StickPush(_StickTask):
    name = "stick-push-v3"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    goal_low = (0.399, 0.55, 0.1319)
    goal_high = (0.401, 0.6, 0.1321)
    rand_low = (-0.08, 0.58, 0.0, 0.399, 0.55, 0.1319)
    rand_high = (-0.03, 0.62, 0.001, 0.401, 0.6, 0.1321)
    READINGS = {**_StickTask.READINGS, "touching": ("touching", "objGeom")}
    container_offset = np.array([0.0, 0.09, 0.0])
    container_qpos = np.array([0.0, 0.0])

    def _goal_z(self, sim):
        return sim.site_xpos("insertion")[2]  # read after the hand settles, before placing

    def reward(self, r, obs, action, ctx):
        radius = 0.12
        tcp = ru.tcp_center(r)
        stick = obs[4:7] + jnp.array([0.015, 0.0, 0.0])
        container, tcp_opened = obs[11:14], obs[3]
        target, stick_init = ctx["goal"], ctx["stick_init_pos"]

        tcp_to_stick = ru.norm(stick - tcp)
        stick_in_place = ru.tolerance(
            ru.norm(stick - target), (0.0, radius), ru.norm(stick_init - target) - radius, "long_tail"
        )
        container_to_target = ru.norm(container - target)
        container_in_place = ru.tolerance(
            container_to_target, (0.0, radius), ru.norm(ctx["obj_init_pos"] - target) - radius, "long_tail"
        )
        grasped = self._stick_caging(r, action, stick, stick_init, ctx, obj_radius=0.04)

        lifted = (tcp_to_stick < 0.02) & (tcp_opened > 0) & (stick[2] - 0.01 > stick_init[2])
        reward = jnp.where(lifted, 2.0 + 5.0 * stick_in_place + 3.0 * container_in_place, grasped)
        reward = jnp.where(lifted & (container_to_target <= radius), 10.0, reward)

        # success: the thermos is at the goal while the stick is held up (unshifted stick z).
        held = (r["touching"] > 0) & (tcp_opened > 0) & (obs[6] - 0.01 > stick_init[2])
        return reward, held & (container_to_target <= radius)
