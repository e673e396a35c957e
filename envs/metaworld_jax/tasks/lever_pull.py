"""lever-pull-v3: swing the lever up to vertical from underneath (sawyer_lever_pull.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, f32, register

_LEVER_RADIUS = 0.2


@register
class LeverPull(Task):
    name = "lever-pull-v3"
    scene = "sawyer_xyz/sawyer_lever_pull.xml"
    hand_low = (-0.5, 0.40, -0.15)
    hand_high = (0.5, 1.0, 0.5)
    # metaworld stores hand_init_pos as float32; the mocap holds those rounded values
    hand_init_pos = f32(0.0, 0.4, 0.2)
    goal_low = hand_low
    goal_high = hand_high
    rand_low = (-0.1, 0.7, 0.0)
    rand_high = (0.1, 0.8, 0.0)
    READINGS = {
        "lever": ("site_xpos", "leverStart"),
        "lever_xmat": ("geom_xmat", "objGeom"),
        "lever_angle": ("qpos", "LeverAxis"),
    }
    CONTEXT = {"init_tcp": 3, "lever_pos_init": 3}

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        # moved in the model after the last mj_forward: the reset observation still shows the
        # lever where the hand settled (as metaworld's does)
        sim.set_body_pos("lever", rand_vec)
        lever_pos_init = rand_vec + np.array([0.12, -_LEVER_RADIUS, 0.25])  # the lever lying flat
        goal = rand_vec + np.array([0.12, 0.0, 0.25 + _LEVER_RADIUS])  # the lever straight up
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "init_tcp": init_tcp, "lever_pos_init": lever_pos_init}

    def objects(self, r):
        return jnp.concatenate([r["lever"], ru.mat_to_quat(r["lever_xmat"])])

    def reward(self, r, obs, action, ctx):
        gripper, lever, target = obs[:3], obs[4:7], ctx["goal"]
        # get the arm's shoulder (not the fingers) under the lever; y error matters less
        scale = jnp.array([4.0, 1.0, 4.0])
        offset = jnp.array([0.0, 0.055, 0.07])
        shoulder_to_lever = ru.norm((gripper + offset - lever) * scale)
        shoulder_to_lever_init = ru.norm((ctx["init_tcp"] + offset - ctx["lever_pos_init"]) * scale)
        ready_to_lift = ru.tolerance(shoulder_to_lever, (0.0, 0.02), shoulder_to_lever_init, "long_tail")
        lever_error = jnp.abs(-r["lever_angle"] - jnp.pi / 2.0)  # the joint angle is negative going up
        in_place = ru.tolerance(
            ru.norm(lever - target), (0.0, 0.04), ru.norm(ctx["lever_pos_init"] - target), "long_tail"
        )
        return 10.0 * ru.hamacher_product(ready_to_lift, in_place), lever_error <= jnp.pi / 24
