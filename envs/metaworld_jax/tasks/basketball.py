"""basketball-v3: pick up the ball and drop it through the hoop (sawyer_basketball.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _ObjPuckTask
from metaworld_jax.tasks.base import f32, register

_BALL_Z = f32(0.03)[0]  # metaworld stores the ball's init position in float32
_BASKET_LOW = (-0.1, 0.85, 0.0)
_BASKET_HIGH = (0.1, 0.9 + 1e-7, 0.0)
_SCALE = np.array([1.0, 1.0, 2.0], np.float32)  # height errors count double


@register
class Basketball(_ObjPuckTask):
    name = "basketball-v3"
    scene = "sawyer_xyz/sawyer_basketball.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = f32(0.0, 0.6, 0.2)  # float32 in metaworld
    # goal_space: the basket range shifted to the hoop, computed as metaworld does (same floats)
    goal_low = tuple(np.array(_BASKET_LOW) + np.array([0, -0.083, 0.2499]))
    goal_high = tuple(np.array(_BASKET_HIGH) + np.array([0, -0.083, 0.2501]))
    rand_low = (-0.1, 0.6, 0.0299) + _BASKET_LOW
    rand_high = (0.1, 0.7, 0.0301) + _BASKET_HIGH
    # metaworld shows the body quaternion as MuJoCo stores it (w, x, y, z)
    READINGS = {"obj": ("body_xpos", "bsktball"), "obj_xquat": ("body_xquat", "bsktball")}
    success_radius = 0.08

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_init_pos = np.array([rand_vec[0], rand_vec[1], _BALL_Z])
        sim.set_body_pos("basket_goal", rand_vec[3:])
        sim.set_obj_xyz(obj_init_pos)
        # the hoop's goal site, once the moved basket is through the forward pass. metaworld
        # then writes this world position into the site's local pos; the site shares its
        # body's frame, so MuJoCo ignores that (recorded anyway, to mirror the model).
        goal = sim.site_xpos("goal")
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        obj_init = ctx["obj_init_pos"]
        target = ctx["goal"].at[2].set(0.3)  # slightly above the hoop
        target_to_obj = ru.norm((obj - target) * _SCALE)
        in_place = ru.tolerance(
            target_to_obj, (0.0, self.success_radius), ru.norm((obj_init - target) * _SCALE), "long_tail"
        )
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.025, pad_success_thresh=0.06, xz_thresh=0.005,
            high_density=True,
        )
        lifted = (tcp_to_obj < 0.035) & (tcp_opened > 0) & (obj[2] - 0.01 > obj_init[2])
        grasped = jnp.where(lifted, 1.0, grasped)
        reward = ru.hamacher_product(grasped, in_place)
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(target_to_obj < self.success_radius, 10.0, reward)
        return reward, target_to_obj <= self.success_radius
