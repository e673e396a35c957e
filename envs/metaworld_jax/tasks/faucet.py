"""faucet-open-v3 / faucet-close-v3: turn the faucet handle to its open or closed side
(sawyer_faucet.xml)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from metaworld_jax import reward_utils as ru
from metaworld_jax.tasks.base import Task, register

_HANDLE_LENGTH = 0.175
_TARGET_RADIUS = 0.07
_REACH_RADIUS = 0.01


class _FaucetTask(Task):
    """The faucet (body "faucetBase") is placed at rand_vec in the model; the goal is one
    handle length to the open (+x) or closed (-x) side, 12.5 cm up. The observed object is a
    handle site 1 cm lower, with faucetBase's raw MuJoCo (w, x, y, z) quaternion."""

    scene = "sawyer_xyz/sawyer_faucet.xml"
    hand_low = (-0.5, 0.40, -0.15)
    hand_high = (0.5, 1.0, 0.5)
    hand_init_pos = (0.0, 0.4, 0.2)
    goal_low = hand_low  # metaworld's goal_space is the hand space here
    goal_high = hand_high
    CONTEXT = {"in_place_margin": 1, "reach_margin": 1}
    _SIDE: float  # +1 open, -1 close
    _GOAL_SITE: str
    _OBJ_SHIFT: tuple[float, float, float]  # added to obs[4:7] by the reward

    def reset(self, sim, rand_vec):
        init_tcp = sim.reset_hand(self.hand_init_pos)
        sim.set_body_pos("faucetBase", rand_vec)
        goal = rand_vec + np.array([self._SIDE * _HANDLE_LENGTH, 0.0, 0.125])
        self._after_move(sim)
        sim.set_site_pos(self._GOAL_SITE, goal)
        # The reward's margins are measured from the faucet base (metaworld's obj_init_pos).
        return {
            "goal": goal,
            "in_place_margin": abs(np.linalg.norm(rand_vec - goal) - _TARGET_RADIUS),
            "reach_margin": abs(np.linalg.norm(rand_vec - init_tcp) - _REACH_RADIUS),
        }

    def _after_move(self, sim):
        """What metaworld runs between moving the faucet and returning the reset observation."""

    def objects(self, r):
        return jnp.concatenate([r["handle"] + jnp.array([0.0, 0.0, -0.01]), r["base_quat"]])

    def reward(self, r, obs, action, ctx):
        obj = obs[4:7] + jnp.asarray(self._OBJ_SHIFT)
        target_to_obj = ru.norm(obj - ctx["goal"])
        in_place = ru.tolerance(target_to_obj, (0.0, _TARGET_RADIUS), ctx["in_place_margin"], "long_tail")
        reach = ru.tolerance(
            ru.norm(obj - ru.tcp_center(r)), (0.0, _REACH_RADIUS), ctx["reach_margin"], "gaussian"
        )
        success = target_to_obj <= _TARGET_RADIUS
        return jnp.where(success, 10.0, 2.0 * (2.0 * reach + 3.0 * in_place)), success


@register
class FaucetOpen(_FaucetTask):
    name = "faucet-open-v3"
    rand_low = (-0.05, 0.8, 0.0)
    rand_high = (0.05, 0.85, 0.0)
    READINGS = {"handle": ("site_xpos", "handleStartOpen"), "base_quat": ("body_xquat", "faucetBase")}
    _SIDE = 1.0
    _GOAL_SITE = "goal_open"
    _OBJ_SHIFT = (-0.04, 0.0, 0.03)
    # _after_move does nothing: with no mj_forward, the reset observation is the hand reset's
    # data (which already saw the moved faucet, as metaworld runs reset_model twice).


@register
class FaucetClose(_FaucetTask):
    name = "faucet-close-v3"
    rand_low = (-0.1, 0.8, 0.0)
    rand_high = (0.1, 0.85, 0.0)
    READINGS = {"handle": ("site_xpos", "handleStartClose"), "base_quat": ("body_xquat", "faucetBase")}
    _SIDE = -1.0
    _GOAL_SITE = "goal_close"
    _OBJ_SHIFT = (0.0, 0.0, 0.0)

    def _after_move(self, sim):
        sim.forward()
