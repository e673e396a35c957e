"""peg-unplug-side-v3: pull the peg sideways out of the box (sawyer_peg_unplug_side.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, register

_PLUG_FROM_BOX = np.array([0.044, 0.0, 0.131])
_PULL = np.array([0.15, 0.0, 0.0])  # the goal: 15 cm out of the socket along +x


@register
class PegUnplugSide(Task):
    name = "peg-unplug-side-v3"
    scene = "sawyer_xyz/sawyer_peg_unplug_side.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.25 + 0.194, 0.6, -0.001 + 0.131)
    goal_high = (-0.15 + 0.194, 0.8, 0.001 + 0.131)
    rand_low = (-0.25, 0.6, -0.001)
    rand_high = (-0.15, 0.8, 0.001)
    # The plug (plug1) is the free body at qpos 9:16; observed at its end site.
    READINGS = {"peg_end": ("site_xpos", "pegEnd"), "plug_quat": ("body_xquat", "plug1")}
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}
    success_radius = 0.07

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        sim.set_body_pos("box", rand_vec)
        plug = rand_vec + _PLUG_FROM_BOX
        # metaworld's `_set_obj_xyz` here also resets the orientation and zeroes only the
        # linear velocity.
        qpos, qvel = sim.data.qpos.copy(), sim.data.qvel.copy()
        qpos[9:12], qpos[12:16], qvel[9:12] = plug, (1.0, 0.0, 0.0, 0.0), 0.0
        sim.set_state(qpos, qvel)
        obj_init_pos = sim.site_xpos("pegEnd")
        target = plug + _PULL
        sim.set_site_pos("goal", target)
        return {"goal": target, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def objects(self, r):
        return jnp.concatenate([r["peg_end"], r["plug_quat"]])

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        obj_to_target = ru.norm(obj - target)
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.025, pad_success_thresh=0.05, xz_thresh=0.005,
            desired_gripper_effort=0.8, high_density=True,
        )
        in_place = ru.tolerance(obj_to_target, (0.0, 0.05), ru.norm(obj_init - target), "long_tail")
        # "Grasped" here: gripper still open (straddling the peg) and the peg already moving out.
        pulling = (tcp_opened > 0.5) & (obj[0] - obj_init[0] > 0.015)
        reward = 2.0 * grasped
        reward = jnp.where(pulling & (tcp_to_obj < 0.035), 1.0 + 2.0 * grasped + 5.0 * in_place, reward)
        reward = jnp.where(obj_to_target <= 0.05, 10.0, reward)
        return reward, obj_to_target <= self.success_radius
