"""push-back-v3: push the puck back towards the robot to a goal on the table (sawyer_push_back_v3.xml)."""

from __future__ import annotations

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks._obj import _GraspPlaceTask
from metaworld_jax.tasks.base import f32, register

_OBJ_RADIUS = 0.007


@register
class PushBack(_GraspPlaceTask):
    name = "push-back-v3"
    scene = "sawyer_xyz/sawyer_push_back_v3.xml"
    hand_low = (-0.5, 0.40, 0.05)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = f32(0.0, 0.6, 0.2)  # metaworld stores this env's hand_init_pos in float32
    goal_low = (-0.1, 0.6, 0.0199)
    goal_high = (0.1, 0.7, 0.0201)
    rand_low = (-0.1, 0.8, 0.02, -0.1, 0.6, 0.0199)
    rand_high = (0.1, 0.85, 0.02, 0.1, 0.7, 0.0201)
    # the observation shows the puck geom's centre, not the body's
    READINGS = {"obj": ("geom_xpos", "objGeom"), "obj_xmat": ("geom_xmat", "objGeom")}

    def _placement(self, sim, rand_vec):
        return self._on_table(sim, rand_vec)  # at the puck geom's resting height

    def _grasped(self, r, action, obj, ctx):
        """push-back's own caging: signed pad-to-puck y offsets, a tight "gripping" band
        instead of the gripper command (live pads, see ru.pad_gripping_reward)."""
        return ru.pad_gripping_reward(
            r, obj, ctx["obj_init_pos"], ctx["init_tcp"], obj_radius=_OBJ_RADIUS, grip_extra=0.003, xz_thresh=0.01
        )

    def _held(self, obs, ctx, tcp_to_obj, obj_to_target):
        # pushing, not holding: tcp at the puck, gripper half open, the puck already moved on
        tcp_opened = obs[3]
        progress = ru.norm(ctx["obj_init_pos"] - ctx["goal"]) - obj_to_target
        return (tcp_to_obj < 0.01) & (tcp_opened > 0) & (tcp_opened < 0.55) & (progress > 0.01)
