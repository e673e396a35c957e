"""C MuJoCo on the host: the operations metaworld performs, for building each goal's reset.

A task's ``reset`` program runs once per goal on a ``HostSim`` when an env is made; the
resulting physics state, readings and task context are stored in a table, so a reset inside
the jitted loop is a table lookup (MetaWorld resets are deterministic given the goal).
"""

from __future__ import annotations

import mujoco
import numpy as np

from metaworld_jax import assets

FRAME_SKIP = 5
MOCAP_QUAT = np.array([1.0, 0.0, 1.0, 0.0])
# The full physics state carried between steps, solver warm start included, so a step
# from a stored state is bit-identical to metaworld's step from its live MjData.
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


class HostSim:
    """One scene's (model, data) with metaworld's primitive operations.

    Model edits made through `set_body_pos` / `set_site_pos` are recorded as per-goal
    overrides: metaworld moves bodies (drawer, door, button box...) in the *model* at reset.
    """

    def __init__(self, scene: str):
        self.model = assets.load_model(scene)
        self.data = mujoco.MjData(self.model)
        self.overrides: dict[tuple[str, str], np.ndarray] = {}

    # --- model edits (recorded) ---
    def set_body_pos(self, name: str, pos) -> None:
        pos = np.asarray(pos, dtype=np.float64)
        self.model.body(name).pos = pos
        self.overrides[("body", name)] = pos.copy()

    def set_site_pos(self, name: str, pos) -> None:
        pos = np.asarray(pos, dtype=np.float64)
        self.model.site(name).pos = pos
        self.overrides[("site", name)] = pos.copy()

    # --- data operations, in metaworld's order of MuJoCo calls ---
    def reset_data(self) -> None:
        mujoco.mj_resetData(self.model, self.data)

    def forward(self) -> None:
        mujoco.mj_forward(self.model, self.data)

    def do_simulation(self, ctrl) -> None:
        self.data.ctrl[:] = ctrl
        mujoco.mj_step(self.model, self.data, nstep=FRAME_SKIP)
        mujoco.mj_rnePostConstraint(self.model, self.data)

    def mj_step(self, nstep: int = 1) -> None:
        """Bare physics steps with whatever ctrl is set (reset_model loops calling mj_step)."""
        mujoco.mj_step(self.model, self.data, nstep=nstep)

    def set_state(self, qpos, qvel) -> None:
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        self.forward()

    def set_obj_xyz(self, pos, qpos_slice=slice(9, 12), qvel_slice=slice(9, 15)) -> None:
        """Place the main free object (qpos 9:12) at rest, as metaworld's `_set_obj_xyz`."""
        qpos = self.data.qpos.copy()
        qvel = self.data.qvel.copy()
        qpos[qpos_slice] = pos
        qvel[qvel_slice] = 0
        self.set_state(qpos, qvel)

    def set_joint_qpos(self, name: str, value) -> None:
        """Write a joint's qpos with no mj_forward (metaworld's `data.joint(name).qpos = v`):
        positions read before the next step still show the previous configuration."""
        self.data.joint(name).qpos = value

    def reset_hand(self, hand_init_pos, steps: int = 50) -> np.ndarray:
        """Hold the mocap at hand_init_pos, gripper open, for `steps` control steps.

        Returns the tcp centre afterwards (metaworld's `init_tcp`).
        """
        for _ in range(steps):
            self.data.mocap_pos[0] = hand_init_pos
            self.data.mocap_quat[0] = MOCAP_QUAT
            self.do_simulation([-1.0, 1.0])
        return self.tcp_center()

    # --- reads ---
    def body_xpos(self, name: str) -> np.ndarray:
        return self.data.body(name).xpos.copy()

    def geom_xpos(self, name: str) -> np.ndarray:
        return self.data.geom(name).xpos.copy()

    def site_xpos(self, name: str) -> np.ndarray:
        return self.data.site(name).xpos.copy()

    def tcp_center(self) -> np.ndarray:
        return (self.site_xpos("rightEndEffector") + self.site_xpos("leftEndEffector")) / 2.0

    def joint_qpos(self, name: str) -> np.ndarray:
        return self.data.joint(name).qpos.copy()

    def get_state(self) -> np.ndarray:
        out = np.empty(mujoco.mj_stateSize(self.model, STATE_SPEC))
        mujoco.mj_getState(self.model, self.data, out, STATE_SPEC)
        return out
