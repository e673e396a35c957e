"""handle-press{,-side}-v3 (push the handle down) and handle-pull{,-side}-v3 (lift it up):
the handle box of sawyer_handle_press{,_sideways}.xml."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, register

_PRESS_SCENE = "sawyer_xyz/sawyer_handle_press.xml"
_SIDE_SCENE = "sawyer_xyz/sawyer_handle_press_sideways.xml"


class _HandleTask(Task):
    """The box (body "box") is placed at rand_vec in the model and the handle's slide joint
    (qpos 9) set to `_HANDLE_START`; the goal is the box's `_GOAL_SITE`, the observed object
    the handle site `_OBJ_SITE`, read as "handle" (its quaternion is reported as zeros)."""

    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    CONTEXT = {"init_tcp": 3, "obj_init_pos": 3}
    _HANDLE_START: float
    _GOAL_SITE: str
    _OBJ_SITE: str

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        sim.set_body_pos("box", rand_vec)
        sim.set_obj_xyz(np.array([self._HANDLE_START]), qpos_slice=slice(9, 10), qvel_slice=slice(9, 10))
        goal = sim.site_xpos(self._GOAL_SITE)
        return {"goal": goal, "init_tcp": init_tcp, "obj_init_pos": self._obj_init(sim, rand_vec)}

    def _obj_init(self, sim, rand_vec) -> np.ndarray:
        """What metaworld's reward takes as the object's initial position."""
        return sim.site_xpos(self._OBJ_SITE)

    def objects(self, r):
        return jnp.concatenate([r["handle"], jnp.zeros(4)])


class _Press(_HandleTask):
    _HANDLE_START = -0.001
    _GOAL_SITE = "goalPress"
    _OBJ_SITE = "handleStart"
    READINGS = {"handle": ("site_xpos", "handleStart")}
    success_radius = 0.02

    def reward(self, r, obs, action, ctx):
        obj, target, handle_init = r["handle"], ctx["goal"], ctx["obj_init_pos"]
        radius = self.success_radius
        target_to_obj = jnp.abs(obj[2] - target[2])
        target_to_obj_init = jnp.abs(handle_init[2] - target[2])
        in_place = ru.tolerance(target_to_obj, (0.0, radius), jnp.abs(target_to_obj_init - radius), "long_tail")
        handle_radius = 0.02
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        tcp_to_obj_init = ru.norm(handle_init - ctx["init_tcp"])
        reach = ru.tolerance(
            tcp_to_obj, (0.0, handle_radius), jnp.abs(tcp_to_obj_init - handle_radius), "long_tail"
        )
        success = target_to_obj <= radius
        return 10.0 * jnp.where(success, 1.0, ru.hamacher_product(reach, in_place)), success


@register
class HandlePress(_Press):
    name = "handle-press-v3"
    scene = _PRESS_SCENE
    goal_low = (-0.1, 0.55, 0.04)
    goal_high = (0.1, 0.70, 0.08)
    rand_low = (-0.1, 0.8, -0.001)
    rand_high = (0.1, 0.9, 0.001)


@register
class HandlePressSide(_Press):
    name = "handle-press-side-v3"
    scene = _SIDE_SCENE
    goal_low = _HandleTask.hand_low
    goal_high = _HandleTask.hand_high
    rand_low = (-0.35, 0.65, -0.001)
    rand_high = (-0.25, 0.75, 0.001)


class _Pull(_HandleTask):
    _HANDLE_START = -0.1
    _GOAL_SITE = "goalPull"
    _LIFT_AXIS: int  # obj[_LIFT_AXIS] - 0.01 > obj_init[2] gates the grasp bonus (sic in metaworld)
    _PAD_SUCCESS_THRESH: float
    _OBJ_RADIUS: float
    _TARGET_RADIUS = 0.05  # the reward's in-place radius (metaworld's default TARGET_RADIUS)

    def _target_to_obj(self, obj, target):
        raise NotImplementedError

    def reward(self, r, obs, action, ctx):
        obj, target, obj_init = obs[4:7], ctx["goal"], ctx["obj_init_pos"]
        target_to_obj = self._target_to_obj(obj, target)
        in_place = ru.tolerance(
            target_to_obj, (0.0, self._TARGET_RADIUS), self._target_to_obj(obj_init, target), "long_tail"
        )
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            pad_success_thresh=self._PAD_SUCCESS_THRESH, obj_radius=self._OBJ_RADIUS,
            object_reach_radius=0.01, xz_thresh=0.01, high_density=True,
        )
        reward = ru.hamacher_product(grasped, in_place)
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        lifted = obj[self._LIFT_AXIS] - 0.01 > obj_init[2]
        reward = reward + jnp.where((tcp_to_obj < 0.035) & (obs[3] > 0) & lifted, 1.0 + 5.0 * in_place, 0.0)
        reward = jnp.where(target_to_obj < self._TARGET_RADIUS, 10.0, reward)
        return reward, target_to_obj <= self.success_radius


@register
class HandlePull(_Pull):
    name = "handle-pull-v3"
    scene = _PRESS_SCENE
    goal_low = (-0.1, 0.55, 0.04)
    goal_high = (0.1, 0.70, 0.18)
    rand_low = (-0.1, 0.8, -0.001)
    rand_high = (0.1, 0.9, 0.001)
    _OBJ_SITE = "handleRight"
    READINGS = {"handle": ("site_xpos", "handleRight")}
    _LIFT_AXIS = 1  # metaworld compares the handle's y here
    _PAD_SUCCESS_THRESH = 0.05
    _OBJ_RADIUS = 0.022
    success_radius = 0.05

    def _obj_init(self, sim, rand_vec):
        return rand_vec  # metaworld keeps the box position as obj_init_pos here

    def _target_to_obj(self, obj, target):
        return jnp.abs(target[2] - obj[2])


@register
class HandlePullSide(_Pull):
    name = "handle-pull-side-v3"
    scene = _SIDE_SCENE
    goal_low = _HandleTask.hand_low
    goal_high = _HandleTask.hand_high
    rand_low = (-0.35, 0.65, 0.0)
    rand_high = (-0.25, 0.75, 0.0)
    _OBJ_SITE = "handleCenter"
    READINGS = {"handle": ("site_xpos", "handleCenter")}
    _LIFT_AXIS = 2
    _PAD_SUCCESS_THRESH = 0.06
    _OBJ_RADIUS = 0.032
    success_radius = 0.08  # evaluate_state's threshold, looser than the reward's radius

    def _target_to_obj(self, obj, target):
        return ru.norm(obj - target)
