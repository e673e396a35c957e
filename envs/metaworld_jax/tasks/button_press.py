"""button-press{,-topdown}{,-wall}-v3: press the button of a button box into its hole."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, f32, register


class _PressTask(Task):
    """A button pressed along axis `_AXIS` until it reaches the goal; the context holds the
    tcp after the hand reset and the button's travel at reset ("obj_to_target_init")."""

    CONTEXT = {"init_tcp": 3, "obj_to_target_init": 1}
    _AXIS: int
    success_radius: float

    def _terms(self, r, obs, ctx, near_radius):
        """tcp_to_obj, obj_to_target, near_button, button_pressed."""
        obj = obs[4:7]
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        tcp_to_obj_init = ru.norm(obj - ctx["init_tcp"])
        obj_to_target = jnp.abs(ctx["goal"][self._AXIS] - obj[self._AXIS])
        near = ru.tolerance(tcp_to_obj, (0.0, near_radius), tcp_to_obj_init, "long_tail")
        pressed = ru.tolerance(obj_to_target, (0.0, 0.005), ctx["obj_to_target_init"], "long_tail")
        return tcp_to_obj, obj_to_target, near, pressed

    def _open_press_reward(self, r, obs, ctx):
        """button-press-v3's reward (coffee-button-v3's too): approach with the gripper open,
        then press once the tcp is within 5 cm."""
        tcp_to_obj, obj_to_target, near, pressed = self._terms(r, obs, ctx, 0.05)
        reward = 2.0 * ru.hamacher_product(jnp.maximum(obs[3], 0.0), near)
        reward = reward + jnp.where(tcp_to_obj <= 0.05, 8.0 * pressed, 0.0)
        return reward, obj_to_target <= self.success_radius


class _ButtonBoxTask(_PressTask):
    """The button box (body "box", button on slide joint qpos 9) is placed at rand_vec in the
    model; the goal is the box's "hole" site. The observed object is the button body shifted
    by 0.193 m towards its face (`_FACE_OFFSET`), with its raw MuJoCo (w, x, y, z) quaternion.
    `_AXIS` is the press axis (z from the top, y from the side)."""

    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    # metaworld stores these envs' hand_init_pos as float32, and the mocap is held at exactly
    # those (rounded) values while the hand settles.
    hand_init_pos = f32(0.0, 0.4, 0.2)
    goal_low = hand_low  # metaworld's goal_space is the hand space here
    goal_high = hand_high
    READINGS = {"button": ("body_xpos", "button"), "button_quat": ("body_xquat", "button")}
    _FACE_OFFSET: tuple[float, float, float]

    def _place_box(self, sim, rand_vec) -> None:
        raise NotImplementedError

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        sim.set_body_pos("box", rand_vec)
        self._place_box(sim, rand_vec)
        goal = sim.site_xpos("hole")
        obj_to_target_init = abs(goal[self._AXIS] - sim.site_xpos("buttonStart")[self._AXIS])
        return {"goal": goal, "init_tcp": init_tcp, "obj_to_target_init": obj_to_target_init}

    def objects(self, r):
        return jnp.concatenate([r["button"] + jnp.asarray(self._FACE_OFFSET, jnp.float32), r["button_quat"]])


class _Topdown(_ButtonBoxTask):
    rand_low = (-0.1, 0.8, 0.115)
    rand_high = (0.1, 0.9, 0.115)
    _AXIS = 2
    _FACE_OFFSET = (0.0, 0.0, 0.193)
    success_radius = 0.024

    def _place_box(self, sim, rand_vec):
        sim.forward()  # metaworld runs mj_forward so the "hole" site sees the moved box

    def _closed(self, gripper):
        raise NotImplementedError

    def reward(self, r, obs, action, ctx):
        tcp_to_obj, obj_to_target, near, pressed = self._terms(r, obs, ctx, 0.01)
        reward = 5.0 * ru.hamacher_product(self._closed(obs[3]), near)
        reward = reward + jnp.where(tcp_to_obj <= 0.03, 5.0 * pressed, 0.0)
        return reward, obj_to_target <= self.success_radius


@register
class ButtonPressTopdown(_Topdown):
    name = "button-press-topdown-v3"
    scene = "sawyer_xyz/sawyer_button_press_topdown.xml"

    def _closed(self, gripper):
        return 1.0 - gripper


@register
class ButtonPressTopdownWall(_Topdown):
    name = "button-press-topdown-wall-v3"
    scene = "sawyer_xyz/sawyer_button_press_topdown_wall.xml"

    def _closed(self, gripper):
        # the wall variant rewards an *open* gripper (metaworld's max(obs[3], 0))
        return jnp.maximum(gripper, 0.0)


class _Side(_ButtonBoxTask):
    _AXIS = 1
    _FACE_OFFSET = (0.0, -0.193, 0.0)

    def _place_box(self, sim, rand_vec):
        # metaworld's _set_obj_xyz(0): button joint (qpos 9) to rest, then mj_forward
        sim.set_obj_xyz(np.zeros(1), qpos_slice=slice(9, 10), qvel_slice=slice(9, 10))


@register
class ButtonPress(_Side):
    name = "button-press-v3"
    scene = "sawyer_xyz/sawyer_button_press.xml"
    rand_low = (-0.1, 0.85, 0.115)
    rand_high = (0.1, 0.9, 0.115)
    success_radius = 0.02

    def reward(self, r, obs, action, ctx):
        return self._open_press_reward(r, obs, ctx)


@register
class ButtonPressWall(_Side):
    name = "button-press-wall-v3"
    scene = "sawyer_xyz/sawyer_button_press_wall.xml"
    rand_low = (-0.05, 0.85, 0.1149)
    rand_high = (0.05, 0.9, 0.1151)
    success_radius = 0.03

    def reward(self, r, obs, action, ctx):
        tcp_to_obj, obj_to_target, near, pressed = self._terms(r, obs, ctx, 0.01)
        # far from the button: approach with the gripper closed; near: open it and press
        far = 2.0 * ru.hamacher_product((1.0 - obs[3]) / 2.0, near)
        close = 2.0 + 2.0 * (1.0 + obs[3]) + 4.0 * pressed**2
        return jnp.where(tcp_to_obj > 0.07, far, close), obj_to_target <= self.success_radius
