"""door-lock-v3 / door-unlock-v3: turn the door's lock lever down, or push it sideways open
(sawyer_door_lock.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.host_sim import FRAME_SKIP
from metaworld_jax.tasks.base import Task, f32, register

_LOCK_LENGTH = 0.1
_LOCK_QPOS = slice(9, 10)  # the lock lever's (unnamed) hinge, qpos 9 / dof 9


class _DoorLockTask(Task):
    """The door (body "door") is placed at rand_vec in the model; the goal is set from the
    lock lever's ("lock_link") position once the scene has moved. The observed object is a
    lock site, with door_link's raw MuJoCo (w, x, y, z) quaternion."""

    scene = "sawyer_xyz/sawyer_door_lock.xml"
    hand_low = (-0.5, 0.40, -0.15)
    hand_high = (0.5, 1.0, 0.5)
    # metaworld stores this hand_init_pos as float32: the mocap holds the rounded values.
    hand_init_pos = f32(0.0, 0.6, 0.2)
    rand_low = (-0.1, 0.8, 0.15)
    rand_high = (0.1, 0.85, 0.15)

    def objects(self, r):
        return jnp.concatenate([r["lock"], r["door_quat"]])


@register
class DoorLock(_DoorLockTask):
    name = "door-lock-v3"
    goal_low = _DoorLockTask.hand_low  # metaworld's goal_space is the hand space here
    goal_high = _DoorLockTask.hand_high
    READINGS = {"lock": ("site_xpos", "lockStartLock"), "door_quat": ("body_xquat", "door_link")}

    def reset(self, sim, rand_vec):
        sim.reset_hand(self.hand_init_pos)
        sim.set_body_pos("door", rand_vec)
        sim.mj_step(FRAME_SKIP)  # metaworld lets the moved door settle for one frame
        goal = sim.body_xpos("lock_link") + np.array([0.0, -0.04, -0.1])
        return {"goal": goal}

    def reward(self, r, obs, action, ctx):
        obj = obs[4:7]
        scale = jnp.array([0.25, 1.0, 0.5])
        tcp_to_obj = ru.norm((obj - r["leftpad"]) * scale)
        # metaworld's margin uses init_left_pad, which aliases the live left pad position, so
        # the margin is tcp_to_obj itself.
        near_lock = ru.tolerance(tcp_to_obj, (0.0, 0.01), tcp_to_obj, "long_tail")
        obj_to_target = jnp.abs(ctx["goal"][2] - obj[2])
        lock_pressed = ru.tolerance(obj_to_target, (0.0, 0.005), _LOCK_LENGTH, "long_tail")
        tcp_opened = jnp.maximum(obs[3], 0.0)
        reward = 2.0 * ru.hamacher_product(tcp_opened, near_lock) + 8.0 * lock_pressed
        return reward, obj_to_target <= 0.02


@register
class DoorUnlock(_DoorLockTask):
    name = "door-unlock-v3"
    goal_low = (0.0, 0.64, 0.2100)
    goal_high = (0.2, 0.7, 0.2111)
    READINGS = {
        "lock": ("site_xpos", "lockStartUnlock"),
        "door_quat": ("body_xquat", "door_link"),
        "lock_link": ("body_xpos", "lock_link"),
    }
    CONTEXT = {"init_tcp": 3}

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        sim.set_body_pos("door", rand_vec)
        sim.set_obj_xyz(np.array([1.5708]), qpos_slice=_LOCK_QPOS, qvel_slice=_LOCK_QPOS)  # lever starts locked
        goal = sim.body_xpos("lock_link") + np.array([0.1, -0.04, 0.0])
        return {"goal": goal, "init_tcp": init_tcp}

    def reward(self, r, obs, action, ctx):
        gripper, lock = obs[:3], obs[4:7]
        # Track the gripper's shoulder rather than the fingers.
        offset = jnp.array([0.0, 0.055, 0.07])
        scale = jnp.array([0.25, 1.0, 0.5])
        shoulder_to_lock = ru.norm((gripper + offset - lock) * scale)
        # metaworld's obj_init_pos aliases the live lock_link position, so this margin moves.
        shoulder_to_lock_init = ru.norm((ctx["init_tcp"] + offset - r["lock_link"]) * scale)
        ready_to_push = ru.tolerance(shoulder_to_lock, (0.0, 0.02), shoulder_to_lock_init, "long_tail")
        obj_to_target = jnp.abs(ctx["goal"][0] - lock[0])
        pushed = ru.tolerance(obj_to_target, (0.0, 0.005), _LOCK_LENGTH, "long_tail")
        return 2.0 * ready_to_push + 8.0 * pushed, obj_to_target <= 0.02
