"""Round-nut (wrench) and peg scene (sawyer_assembly_peg.xml).

assembly-v3: pick up the nut and put it onto the peg;
disassemble-v3: lift the nut off the peg.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, f32, redraw_while_close, register

_WRENCH_HANDLE_HALF_LENGTH = 0.01
_LAID_DOWN_QUAT = np.array([0.707, 0.0, 0.0, 0.707], np.float32)  # (w, x, y, z)


class _NutTask(Task):
    """The nut is one free body (qpos 9:16); its observed position is the handle's end site
    "RoundNut-8", its orientation the body's raw MuJoCo quaternion (w, x, y, z)."""

    scene = "sawyer_xyz/sawyer_assembly_peg.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    READINGS = {
        "nut_handle": ("site_xpos", "RoundNut-8"),
        "nut_quat": ("body_xquat", "RoundNut"),
        "nut_center": ("site_xpos", "RoundNut"),
    }
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}

    def draw_rand_vec(self, draw):
        # (object xyz, goal xyz), redrawn while the two are closer than 10 cm in x-y.
        return redraw_while_close(draw, 0.1)

    def objects(self, r):
        return jnp.concatenate([r["nut_handle"], r["nut_quat"]])

    @staticmethod
    def _quat_reward(obs):
        # 1 when lying flat, falling to 0 at 0.4 away from it (a cheap stand-in for an angle).
        return jnp.maximum(1.0 - ru.norm(obs[7:11] - _LAID_DOWN_QUAT) / 0.4, 0.0)

    def _grab(self, r, obs, action, ctx, **density):
        # The caging reward treats the object as a sphere; the handle is long in x, so the
        # hand counts as centred in x anywhere along it.
        hand, wrench = obs[:3], obs[4:7]
        wrench_x = jnp.where(jnp.abs(wrench[0] - hand[0]) < _WRENCH_HANDLE_HALF_LENGTH, hand[0], wrench[0])
        return ru.gripper_caging_reward(
            r, action, wrench.at[0].set(wrench_x), ctx["obj_init_pos"], ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.015, pad_success_thresh=0.02, xz_thresh=0.01,
            **density,
        )


@register
class Assembly(_NutTask):
    name = "assembly-v3"
    hand_init_pos = f32(0.0, 0.6, 0.2)  # f32 in metaworld
    goal_low = (-0.1, 0.75, 0.1)
    goal_high = (0.1, 0.85, 0.1)
    rand_low = (0.0, 0.6, 0.02, -0.1, 0.75, 0.1)
    rand_high = (0.0, 0.6, 0.02, 0.1, 0.85, 0.1)

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_init_pos, target = rand_vec[:3], rand_vec[3:]
        sim.set_obj_xyz(obj_init_pos)
        sim.set_body_pos("peg", target - np.array([0.0, 0.0, 0.05]))
        sim.set_site_pos("pegTop", target)
        return {"goal": target, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def reward(self, r, obs, action, ctx):
        grab = self._grab(r, obs, action, ctx, medium_density=True)
        center, target = r["nut_center"], ctx["goal"]
        pos_error = target - center
        radius = ru.norm(pos_error[:2])
        success = (radius < 0.02) & (pos_error[2] > 0.0)
        # Target height is a funnel around the peg, widened once the nut is on it.
        threshold = jnp.where(success, 0.02, 0.01)
        target_height = ru.funnel_floor(radius, throat=threshold, slope=0.02, height=0.2)
        scaled_error = jnp.stack([pos_error[0], pos_error[1], 3.0 * (target_height - center[2])])
        lifted = (center[2] > 0.02) | (radius < threshold)
        in_place = 0.1 * lifted + 0.9 * ru.tolerance(ru.norm(scaled_error), (0.0, 0.02), 0.4, "long_tail")
        reward = (2.0 * grab + 6.0 * in_place) * self._quat_reward(obs)
        return jnp.where(success, 10.0, reward), success


@register
class Disassemble(_NutTask):
    name = "disassemble-v3"
    hand_init_pos = f32(0.0, 0.4, 0.2)  # f32 in metaworld
    goal_low = (-0.1, 0.6, 0.1749)  # metaworld's goal space sits 5 mm above the drawn goal
    goal_high = (0.1, 0.75, 0.1751)
    rand_low = (0.0, 0.6, 0.025, -0.1, 0.6, 0.1699)
    rand_high = (0.1, 0.75, 0.02501, 0.1, 0.75, 0.1701)

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        # Only the object part matters: the peg sits under the nut, the goal 15 cm above it.
        obj_init_pos = rand_vec[:3]
        target = obj_init_pos + np.array([0.0, 0.0, 0.15])
        sim.set_body_pos("peg", obj_init_pos + np.array([0.0, 0.0, 0.03]))
        sim.set_site_pos("pegTop", obj_init_pos + np.array([0.0, 0.0, 0.08]))
        sim.forward()
        sim.set_obj_xyz(obj_init_pos)
        return {"goal": target, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def reward(self, r, obs, action, ctx):
        grab = self._grab(r, obs, action, ctx, high_density=True)
        target = ctx["goal"]
        pos_error = target + jnp.array([0.0, 0.0, 0.1]) - r["nut_center"]
        lifted = r["nut_center"][2] > 0.02
        in_place = 0.1 * lifted + 0.9 * ru.tolerance(ru.norm(pos_error), (0.0, 0.02), 0.2, "long_tail")
        reward = (2.0 * grab + 6.0 * in_place) * self._quat_reward(obs)
        success = obs[6] > target[2]
        return jnp.where(success, 10.0, reward), success
