"""sweep-v3: sweep the puck sideways off the table edge (sawyer_sweep_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, register


def pad_gripping_reward(r, obj, obj_init, init_tcp, *, obj_radius, grip_extra, xz_thresh):
    """The `_gripper_caging_reward` override of soccer/sweep/sweep-into: (caging + y-gripping)/2.

    metaworld's `init_left_pad` / `init_right_pad` are live views of `data.xpos`, so the
    pad margins use the pads' *current* positions (not their construction positions).
    """
    pad_margin = 0.05
    left_y, right_y = r["leftpad"][1], r["rightpad"][1]
    d_left = left_y - obj[1]
    d_right = obj[1] - right_y
    m_left = jnp.abs(jnp.abs(obj[1] - left_y) - pad_margin)
    m_right = jnp.abs(jnp.abs(obj[1] - right_y) - pad_margin)
    cage = lambda d, m, hi: ru.tolerance(d, (obj_radius, hi), m, "long_tail")
    y_caging = ru.hamacher_product(cage(d_right, m_right, pad_margin), cage(d_left, m_left, pad_margin))
    grip_hi = obj_radius + grip_extra
    y_gripping = ru.hamacher_product(cage(d_right, m_right, grip_hi), cage(d_left, m_left, grip_hi))

    xz = jnp.array([0, 2])
    tcp = ru.tcp_center(r)
    xz_margin = ru.norm(obj_init[xz] - init_tcp[xz]) - xz_thresh
    xz_caging = ru.tolerance(ru.norm(tcp[xz] - obj[xz]), (0.0, xz_thresh), xz_margin, "long_tail")

    caging = ru.hamacher_product(y_caging, xz_caging)
    gripping = jnp.where(caging > 0.95, y_gripping, 0.0)
    return (caging + gripping) / 2


@register
class Sweep(Task):
    name = "sweep-v3"
    scene = "sawyer_xyz/sawyer_sweep_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (0.49, 0.6, 0.0)
    goal_high = (0.51, 0.7, 0.02)
    rand_low = (-0.1, 0.6, 0.02)  # the puck only; the goal follows its y
    rand_high = (0.1, 0.7, 0.02)
    READINGS = {"obj": ("body_xpos", "obj"), "obj_xquat": ("body_xquat", "obj")}
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}
    OBJ_RADIUS = 0.02

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        goal = np.array([0.5, rand_vec[1], 0.01])
        obj_init_pos = np.array([rand_vec[0], rand_vec[1], 0.02])
        sim.set_obj_xyz(obj_init_pos)
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def objects(self, r):
        # metaworld shows the body quaternion as MuJoCo stores it (w, x, y, z), unconverted.
        return jnp.concatenate([r["obj"], r["obj_xquat"]])

    def reward(self, r, obs, action, ctx):
        obj, target, obj_init = obs[4:7], ctx["goal"], ctx["obj_init_pos"]
        obj_to_target = ru.norm(obj - target)
        in_place = ru.tolerance(obj_to_target, (0.0, 0.05), ru.norm(obj_init - target), "long_tail")
        grasped = pad_gripping_reward(
            r, obj, obj_init, ctx["init_tcp"], obj_radius=self.OBJ_RADIUS, grip_extra=0.01, xz_thresh=0.005
        )
        reward = 2.0 * grasped + 6.0 * ru.hamacher_product(grasped, in_place)
        reward = jnp.where(obj_to_target < 0.05, 10.0, reward)
        return reward, obj_to_target <= 0.05
