"""bin-picking-v3: pick the cube out of one bin and place it in the other (sawyer_bin_picking.xml)."""

from __future__ import annotations

import copy

import jax.numpy as jnp
import mujoco
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.host_sim import FRAME_SKIP
from metaworld_jax.tasks._obj import _ObjTask
from metaworld_jax.tasks.base import register


def _obj_after_first_step(sim) -> np.ndarray:
    """The cube's position after the episode's first step, from a scratch copy of the data.

    The cube rests untouched for the first step whatever the action (the hand starts 18 cm
    above it), so one idle control step reproduces it.
    """
    data = copy.copy(sim.data)  # MjData copies are deep (full physics state)
    data.ctrl[:] = 0.0
    mujoco.mj_step(sim.model, data, nstep=FRAME_SKIP)
    mujoco.mj_rnePostConstraint(sim.model, data)
    mujoco.mj_forward(sim.model, data)
    return data.body("obj").xpos.copy()


@register
class BinPicking(_ObjTask):
    name = "bin-picking-v3"
    scene = "sawyer_xyz/sawyer_bin_picking.xml"
    hand_low = (-0.5, 0.40, 0.07)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (0.1199, 0.699, -0.001)  # a tiny box around the target bin's centre
    goal_high = (0.1201, 0.701, 0.001)
    rand_low = (-0.21, 0.65, 0.02) + goal_low  # only the cube's x-y is used
    rand_high = (-0.03, 0.75, 0.02) + goal_high
    # metaworld shows the body quaternion as MuJoCo stores it (w, x, y, z)
    READINGS = {"obj": ("body_xpos", "obj"), "obj_xquat": ("body_xquat", "obj")}
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3, "target_to_obj_init": 1}

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_init_pos, _ = self._on_table(sim, rand_vec)  # the cube's resting height; the goal is the bin's
        sim.set_obj_xyz(obj_init_pos)
        goal = sim.body_xpos("bin_goal")
        # metaworld takes its in-place margin from the first reward it computes, i.e. from the
        # cube's position after the first step.
        target_to_obj_init = np.linalg.norm(_obj_after_first_step(sim) - goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp,
                "target_to_obj_init": np.array([target_to_obj_init])}

    def reward(self, r, obs, action, ctx):
        hand, obj = obs[:3], obs[4:7]
        target, obj_init = ctx["goal"], ctx["obj_init_pos"]
        target_to_obj = ru.norm(obj - target)
        in_place = ru.tolerance(target_to_obj, (0.0, self.success_radius), ctx["target_to_obj_init"], "long_tail")
        # the floor is a pair of funnels around the start and the goal: keep the hand above
        # it so it does not run into the bins' walls
        radii = jnp.stack([ru.norm(hand[:2] - obj_init[:2]), ru.norm(hand[:2] - target[:2])])
        floor = jnp.min(ru.funnel_floor(radii, throat=0.03, slope=0.02, height=0.2))
        above_floor = ru.above_floor(hand[2], floor, 0.05)
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.05, xz_thresh=0.01,
            desired_gripper_effort=0.7, high_density=True,
        )
        reward = ru.hamacher_product(grasped, in_place)
        near_object = ru.norm(obj - hand) < 0.04
        pinched_without_obj = obs[3] < 0.43
        lifted = obj[2] - 0.02 > obj_init[2]
        grasp_success = near_object & lifted & ~pinched_without_obj
        reward = jnp.where(grasp_success, reward + 1.0 + 5.0 * ru.hamacher_product(above_floor, in_place), reward)
        reward = jnp.where(target_to_obj < self.success_radius, 10.0, reward)
        return reward, target_to_obj <= self.success_radius
