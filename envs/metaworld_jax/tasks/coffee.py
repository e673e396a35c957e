"""coffee-button-v3 (press the machine's button), coffee-pull-v3 / coffee-push-v3 (slide the
mug away from / under the machine) in sawyer_coffee.xml."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, redraw_while_close, register
from metaworld_jax.tasks.button_press import _PressTask

_MUG_TO_MACHINE = np.array([0.0, 0.22, 0.0])  # the machine sits 22 cm behind the mug spot
_BUTTON_TRAVEL = 0.03  # metaworld's max_dist: the button's press depth


def _place_mug(sim, pos) -> None:
    """metaworld's coffee `_set_obj_xyz`: the mug's free joint is qpos 0:3 (its body comes
    first in the scene), but the zeroed velocities are qvel 9:15, as metaworld does it."""
    sim.set_obj_xyz(pos, qpos_slice=slice(0, 3), qvel_slice=slice(9, 15))


@register
class CoffeeButton(_PressTask):
    name = "coffee-button-v3"
    scene = "sawyer_xyz/sawyer_coffee.xml"
    hand_low = (-0.5, 0.4, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.4, 0.2)
    rand_low = (-0.1, 0.8, -0.001)
    rand_high = (0.1, 0.9, 0.001)
    goal_low = tuple(np.array(rand_low) + np.array([-0.001, -0.22 + _BUTTON_TRAVEL, 0.299]))
    goal_high = tuple(np.array(rand_high) + np.array([0.001, -0.22 + _BUTTON_TRAVEL, 0.301]))
    READINGS = {"button": ("site_xpos", "buttonStart")}
    _AXIS = 1
    success_radius = 0.02

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        sim.set_body_pos("coffee_machine", rand_vec)
        _place_mug(sim, rand_vec - _MUG_TO_MACHINE)
        button = rand_vec + np.array([0.0, -0.22, 0.3])
        goal = button + np.array([0.0, _BUTTON_TRAVEL, 0.0])  # the button fully pressed
        # the press margin is metaworld's fixed max_dist, not a travel measured at reset
        return {"goal": goal, "init_tcp": init_tcp, "obj_to_target_init": _BUTTON_TRAVEL}

    def objects(self, r):
        return jnp.concatenate([r["button"], jnp.array([1.0, 0.0, 0.0, 0.0])])

    def reward(self, r, obs, action, ctx):
        return self._open_press_reward(r, obs, ctx)


class _CoffeeMug(Task):
    """Mug at rand_vec[:3], goal at rand_vec[3:] (redrawn while closer than 15 cm in x-y)."""

    scene = "sawyer_xyz/sawyer_coffee.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.4, 0.2)
    READINGS = {"mug": ("body_xpos", "obj"), "mug_xmat": ("geom_xmat", "mug")}
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}

    def _machine_pos(self, mug_init, goal) -> np.ndarray:
        raise NotImplementedError

    def draw_rand_vec(self, draw):
        return redraw_while_close(draw, 0.15)

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        mug_init, goal = rand_vec[:3], rand_vec[3:]
        _place_mug(sim, mug_init)
        # model edits after the last mj_forward: the reset observation does not see them
        sim.set_body_pos("coffee_machine", self._machine_pos(mug_init, goal))
        sim.set_site_pos("mug_goal", goal)
        return {"goal": goal, "obj_init_pos": mug_init, "init_tcp": init_tcp}

    def objects(self, r):
        return jnp.concatenate([r["mug"], ru.mat_to_quat(r["mug_xmat"])])

    def reward(self, r, obs, action, ctx):
        obj, target, obj_init = obs[4:7], ctx["goal"], ctx["obj_init_pos"]
        scale = jnp.array([2.0, 2.0, 1.0])  # x-y errors count double
        target_to_obj = ru.norm((obj - target) * scale)
        in_place = ru.tolerance(
            target_to_obj, (0.0, 0.05), ru.norm((obj_init - target) * scale), "long_tail"
        )
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.04, obj_radius=0.02, pad_success_thresh=0.05,
            xz_thresh=0.05, desired_gripper_effort=0.7, medium_density=True,
        )
        reward = ru.hamacher_product(grasped, in_place)
        reward = reward + jnp.where((tcp_to_obj < 0.04) & (obs[3] > 0), 1.0 + 5.0 * in_place, 0.0)
        reward = jnp.where(target_to_obj < 0.05, 10.0, reward)
        return reward, ru.norm(obj - target) <= 0.07


@register
class CoffeePull(_CoffeeMug):
    name = "coffee-pull-v3"
    goal_low = (-0.1, 0.55, -0.001)
    goal_high = (0.1, 0.65, 0.001)
    rand_low = (-0.05, 0.7, -0.001, *goal_low)
    rand_high = (0.05, 0.75, 0.001, *goal_high)

    def _machine_pos(self, mug_init, goal):
        return mug_init + _MUG_TO_MACHINE  # the mug starts under the machine


@register
class CoffeePush(_CoffeeMug):
    name = "coffee-push-v3"
    goal_low = (-0.05, 0.7, -0.001)
    goal_high = (0.05, 0.75, 0.001)
    rand_low = (-0.1, 0.55, -0.001, *goal_low)
    rand_high = (0.1, 0.65, 0.001, *goal_high)

    def _machine_pos(self, mug_init, goal):
        return goal + _MUG_TO_MACHINE  # the goal is under the machine
