"""peg-insert-side-v3: pick up the peg and insert it sideways into the hole of a box
(sawyer_peg_insertion_side.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, redraw_while_close, register

_GOAL_LOW = (-0.35, 0.4, -0.001)  # the box's position range
_GOAL_HIGH = (-0.25, 0.7, 0.001)
_BOX_TO_HOLE = np.array([0.03, 0.0, 0.13])  # the goal (hole) relative to the box body
_SCALE = np.array([1.0, 2.0, 2.0], np.float32)  # y-z errors count double: lift first, then insert


@register
class PegInsertSide(Task):
    name = "peg-insert-side-v3"
    scene = "sawyer_xyz/sawyer_peg_insertion_side.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    # goal_space is the box range shifted to the hole, computed as metaworld does (same floats).
    goal_low = tuple(np.array(_GOAL_LOW) + _BOX_TO_HOLE)
    goal_high = tuple(np.array(_GOAL_HIGH) + _BOX_TO_HOLE)
    rand_low = (0.0, 0.5, 0.02) + _GOAL_LOW
    rand_high = (0.2, 0.7, 0.02) + _GOAL_HIGH
    READINGS = {
        "peg_grasp": ("site_xpos", "pegGrasp"),
        "peg_grasp_xmat": ("site_xmat", "pegGrasp"),
        "peg_head": ("site_xpos", "pegHead"),
        # the two no-go prisms around the hole (sites on the moved box body)
        "brc1": ("site_xpos", "bottom_right_corner_collision_box_1"),
        "tlc1": ("site_xpos", "top_left_corner_collision_box_1"),
        "brc2": ("site_xpos", "bottom_right_corner_collision_box_2"),
        "tlc2": ("site_xpos", "top_left_corner_collision_box_2"),
    }
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3, "peg_head_init": 3}
    success_radius = 0.07

    def draw_rand_vec(self, draw):
        return redraw_while_close(draw, 0.1)

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        pos_peg, pos_box = rand_vec[:3], rand_vec[3:]
        # read before the peg is moved: metaworld's in-place margin uses the peg head's
        # settled stock position, not its new one.
        peg_head_init = sim.site_xpos("pegHead")
        sim.set_obj_xyz(pos_peg)
        sim.set_body_pos("box", pos_box)
        goal = pos_box + _BOX_TO_HOLE
        sim.set_site_pos("goal", goal)
        return {"goal": goal, "obj_init_pos": pos_peg, "init_tcp": init_tcp, "peg_head_init": peg_head_init}

    def objects(self, r):
        return jnp.concatenate([r["peg_grasp"], ru.mat_to_quat(r["peg_grasp_xmat"])])

    def reward(self, r, obs, action, ctx):
        obj, tcp_opened = obs[4:7], obs[3]
        target, obj_init, head = ctx["goal"], ctx["obj_init_pos"], r["peg_head"]
        tcp_to_obj = ru.norm(obj - ru.tcp_center(r))
        obj_to_target = ru.norm((head - target) * _SCALE)
        in_place = ru.tolerance(
            obj_to_target, (0.0, self.success_radius), ru.norm((ctx["peg_head_init"] - target) * _SCALE), "long_tail"
        )
        boxes = ru.hamacher_product(
            ru.rect_prism_tolerance(head, r["brc2"], r["tlc2"]), ru.rect_prism_tolerance(head, r["brc1"], r["tlc1"])
        )
        in_place = ru.hamacher_product(in_place, boxes)
        grasped = ru.gripper_caging_reward(
            r, action, obj, obj_init, ctx["init_tcp"],
            object_reach_radius=0.01, obj_radius=0.0075, pad_success_thresh=0.03,
            xz_thresh=0.005, high_density=True,
        )
        lifted = (tcp_to_obj < 0.08) & (tcp_opened > 0) & (obj[2] - 0.01 > obj_init[2])
        grasped = jnp.where(lifted, 1.0, grasped)
        reward = ru.hamacher_product(grasped, in_place)
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(obj_to_target <= self.success_radius, 10.0, reward)
        return reward, obj_to_target <= self.success_radius
