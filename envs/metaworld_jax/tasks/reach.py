"""reach-v3: move the tcp to a goal point (sawyer_reach_v3.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, register


class _ObjPuckTask(Task):
    """Shared by the reach/push family: one free puck "obj" (qpos 9:12), 6-d rand_vec
    (object xyz, goal xyz) redrawn while object and goal are closer than 15 cm in x-y."""

    READINGS = {"obj": ("body_xpos", "obj"), "obj_xmat": ("geom_xmat", "objGeom")}
    CONTEXT = {"obj_init_pos": 3, "init_tcp": 3}

    def draw_rand_vec(self, draw):
        v = draw()
        while np.linalg.norm(v[:2] - v[3:5]) < 0.15:
            v = draw()
        return v

    def objects(self, r):
        return jnp.concatenate([r["obj"], ru.mat_to_quat(r["obj_xmat"])])


@register
class Reach(_ObjPuckTask):
    name = "reach-v3"
    scene = "sawyer_xyz/sawyer_reach_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.6, 0.2)
    goal_low = (-0.1, 0.8, 0.05)
    goal_high = (0.1, 0.9, 0.3)
    rand_low = (-0.1, 0.6, 0.02, -0.1, 0.8, 0.05)
    rand_high = (0.1, 0.7, 0.02, 0.1, 0.9, 0.3)

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        obj_init_pos = rand_vec[:3]
        sim.set_obj_xyz(obj_init_pos)
        return {"goal": rand_vec[3:], "obj_init_pos": obj_init_pos, "init_tcp": init_tcp}

    def reward(self, r, obs, action, ctx):
        target = ctx["goal"]
        tcp_to_target = ru.norm(ru.tcp_center(r) - target)
        margin = ru.norm(jnp.asarray(self.hand_init_pos) - target)
        in_place = ru.tolerance(tcp_to_target, (0.0, self.success_radius), margin, "long_tail")
        return 10.0 * in_place, tcp_to_target <= self.success_radius
