"""hammer-v3: pick up the hammer and drive the nail into the box (sawyer_hammer.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, register

_HANDLE_HALF_LENGTH = 0.07
_HEAD_OFFSET = np.array([0.16, 0.06, 0.0], np.float32)  # hammer head, from the hammer's frame
_FLAT_QUAT = np.array([1.0, 0.0, 0.0, 0.0], np.float32)  # (w, x, y, z)
_BOX_POS = np.array([0.24, 0.85, 0.0])


@register
class Hammer(Task):
    name = "hammer-v3"
    scene = "sawyer_xyz/sawyer_hammer.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.4, 0.2)
    goal_low = (0.2399, 0.7399, 0.109)
    goal_high = (0.2401, 0.7401, 0.111)
    rand_low = (-0.1, 0.4, 0.0)
    rand_high = (0.1, 0.5, 0.0)
    # The hammer is the free body at qpos 9:16; the nail slides on NailSlideJoint.
    READINGS = {
        "hammer": ("body_xpos", "hammer"),
        "nail": ("body_xpos", "nail_link"),
        "hammer_quat": ("body_xquat", "hammer"),
        "nail_quat": ("body_xquat", "nail_link"),
        "nail_depth": ("qpos", "NailSlideJoint"),
    }
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        sim.set_body_pos("box", _BOX_POS)
        # Read before any forward pass: the frame left by the hand reset (box already moved
        # by this goal's first reset_model call).
        target = sim.site_xpos("goal")
        sim.set_obj_xyz(rand_vec)
        return {"goal": target, "obj_init_pos": rand_vec, "init_tcp": init_tcp}

    def objects(self, r):
        return jnp.concatenate([r["hammer"], r["hammer_quat"], r["nail"], r["nail_quat"]])

    def reward(self, r, obs, action, ctx):
        hand, hammer = obs[:3], obs[4:7]
        head = hammer + _HEAD_OFFSET
        # The caging reward treats the object as a sphere; the handle is long in x, so the
        # hand counts as centred in x anywhere along it.
        hammer_x = jnp.where(jnp.abs(hammer[0] - hand[0]) < _HANDLE_HALF_LENGTH, hand[0], hammer[0])
        quat = jnp.maximum(1.0 - ru.norm(obs[7:11] - _FLAT_QUAT) / 0.4, 0.0)
        grab = ru.gripper_caging_reward(
            r, action, hammer.at[0].set(hammer_x), ctx["obj_init_pos"], ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.02, xz_thresh=0.01,
            high_density=True,
        )
        lifted = head[2] > 0.02
        in_place = 0.1 * lifted + 0.9 * ru.tolerance(ru.norm(ctx["goal"] - head), (0.0, 0.02), 0.2, "long_tail")
        reward = (2.0 * grab + 6.0 * in_place) * quat
        success = r["nail_depth"] > 0.09
        # The nail can be knocked in without holding the hammer; only a good reward pays 10.
        return jnp.where(success & (reward > 5.0), 10.0, reward), success
