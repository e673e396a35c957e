"""plate-slide family: slide the plate (puck) into a goal on the table.

plate-slide-v3: forward into the cabinet; plate-slide-back-v3: back out of it;
plate-slide-side-v3: sideways into the cabinet; plate-slide-back-side-v3: sideways out of it.
"""

from __future__ import annotations

import jax.numpy as jnp

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, f32, register

_TARGET_RADIUS = 0.05


class _PlateSlideTask(Task):
    """The puck rides two slide joints (qpos 9:11) whose zero is its spawn point in the scene;
    rand_vec is (object xyz, goal xyz), the object part fixed."""

    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    # metaworld keeps these envs' hand_init_pos in float32; the mocap sees the rounded values.
    hand_init_pos = f32(0.0, 0.6, 0.2)
    READINGS = {"puck": ("geom_xpos", "puck"), "puck_xmat": ("geom_xmat", "puck")}
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}
    success_radius = 0.07
    slide_qpos: tuple[float, float]  # where reset puts the puck on its slide joints
    move_puck_goal_to: str | None = None  # "goal" / "obj": reset moves the puck_goal body there

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_init_pos, target = rand_vec[:3], rand_vec[3:]
        if self.move_puck_goal_to is not None:
            sim.set_body_pos("puck_goal", target if self.move_puck_goal_to == "goal" else obj_init_pos)
        # metaworld's plate `_set_obj_xyz` writes only the two slide joints and keeps qvel.
        qpos = sim.data.qpos.copy()
        qpos[9:11] = self.slide_qpos
        sim.set_state(qpos, sim.data.qvel.copy())
        sim.set_site_pos("goal", target)
        return {"goal": target, "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def objects(self, r):
        return jnp.concatenate([r["puck"], ru.mat_to_quat(r["puck_xmat"])])

    def _terms(self, r, obs, ctx, margin_offset):
        obj, target, obj_init = obs[4:7], ctx["goal"], ctx["obj_init_pos"]
        tcp = ru.tcp_center(r)
        obj_to_target = ru.norm(obj - target)
        in_place = ru.tolerance(
            obj_to_target, (0.0, _TARGET_RADIUS), ru.norm(obj_init - target) - margin_offset, "long_tail"
        )
        tcp_to_obj = ru.norm(tcp - obj)
        grasped = ru.tolerance(
            tcp_to_obj, (0.0, _TARGET_RADIUS), ru.norm(ctx["init_tcp"] - obj_init) - margin_offset, "long_tail"
        )
        return tcp, obj_to_target, tcp_to_obj, in_place, grasped


class _PlateSlideLowTcp(_PlateSlideTask):
    """Reward of the side/back variants: margins shrunk by the target radius, and a bonus
    regime once the tcp is low (z <= 3 cm) and near the plate."""

    def reward(self, r, obs, action, ctx):
        tcp, obj_to_target, tcp_to_obj, in_place, grasped = self._terms(r, obs, ctx, _TARGET_RADIUS)
        reward = 1.5 * grasped
        reward = jnp.where((tcp[2] <= 0.03) & (tcp_to_obj < 0.07), 2.0 + 7.0 * in_place, reward)
        reward = jnp.where(obj_to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, obj_to_target <= self.success_radius


@register
class PlateSlide(_PlateSlideTask):
    name = "plate-slide-v3"
    scene = "sawyer_xyz/sawyer_plate_slide.xml"
    goal_low = (-0.1, 0.85, 0.0)
    goal_high = (0.1, 0.9, 0.0)
    rand_low = (0.0, 0.6, 0.0, -0.1, 0.85, 0.0)
    rand_high = (0.0, 0.6, 0.0, 0.1, 0.9, 0.0)
    slide_qpos = (0.0, 0.0)
    move_puck_goal_to = "goal"

    def reward(self, r, obs, action, ctx):
        _, obj_to_target, _, in_place, grasped = self._terms(r, obs, ctx, 0.0)
        reward = 8.0 * ru.hamacher_product(grasped, in_place)
        reward = jnp.where(obj_to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, obj_to_target <= self.success_radius


@register
class PlateSlideBack(_PlateSlideLowTcp):
    name = "plate-slide-back-v3"
    scene = "sawyer_xyz/sawyer_plate_slide.xml"
    goal_low = (-0.1, 0.6, 0.015)
    goal_high = (0.1, 0.6, 0.015)
    rand_low = (0.0, 0.85, 0.0, -0.1, 0.6, 0.015)
    rand_high = (0.0, 0.85, 0.0, 0.1, 0.6, 0.015)
    slide_qpos = (0.0, 0.15)  # starts inside the cabinet
    # metaworld writes puck_goal's data.xpos here, which the next forward pass overwrites:
    # the model is not moved.


@register
class PlateSlideSide(_PlateSlideLowTcp):
    name = "plate-slide-side-v3"
    scene = "sawyer_xyz/sawyer_plate_slide_sideway.xml"
    goal_low = (-0.3, 0.54, 0.0)
    goal_high = (-0.25, 0.66, 0.0)
    rand_low = (0.0, 0.6, 0.0, -0.3, 0.54, 0.0)
    rand_high = (0.0, 0.6, 0.0, -0.25, 0.66, 0.0)
    slide_qpos = (0.0, 0.0)
    # as plate-slide-back: metaworld's puck_goal data.xpos write has no effect.


@register
class PlateSlideBackSide(_PlateSlideLowTcp):
    name = "plate-slide-back-side-v3"
    scene = "sawyer_xyz/sawyer_plate_slide_sideway.xml"
    goal_low = (-0.05, 0.6, 0.015)
    goal_high = (0.15, 0.6, 0.015)
    rand_low = (-0.25, 0.6, 0.0, -0.05, 0.6, 0.015)
    rand_high = (-0.25, 0.6, 0.0, 0.15, 0.6, 0.015)
    slide_qpos = (-0.15, 0.0)  # starts inside the cabinet
    move_puck_goal_to = "obj"
