"""A slot's physics state back in a host MjData (what metaworld_jax.render draws), on the C
and MJX backends: the inverse of each backend's pack, with the goal's moved bodies. Host code
only: nothing is compiled and no OpenGL context is needed (the MP4s: tests/test_evaluate_command.py)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

import metaworld_jax
from metaworld_jax import assets, resets
from metaworld_jax.host_sim import STATE_SPEC

TASKS = "reach-v3,door-open-v3"  # door-open moves its door body and goal site per goal
GOALS = (0, 7)


@pytest.fixture(scope="module")
def envs():
    c = metaworld_jax.make(TASKS, backend="mujoco")
    m = metaworld_jax.make(TASKS, backend="mjx")  # built on the host; never stepped here
    tables = [resets.build(t, v) for t, v in zip(c.tasks, c.rand_vecs)]  # cached on disk
    return c, m, tuple(zip(*tables))  # (states, readings, contexts, overrides) per task and goal


def _placed(env, task, goal):
    """(model, data) of slot (task, goal) in its reset state, as the renderer gets them: in
    the task's stock scene, on every backend."""
    model = assets.load_model(env.tasks[task].scene)
    data = mujoco.MjData(model)
    env.backend.write_host(task, goal, np.asarray(env._reset_physics[task, goal]), model, data)
    return model, data


def test_c_backend_writes_the_exact_state_and_the_goals_bodies(envs):
    c, _, (states, _, _, overrides) = envs
    for task in range(c.num_tasks):
        for goal in GOALS:
            model, data = _placed(c, task, goal)
            want = mujoco.MjData(model)
            mujoco.mj_setState(model, want, np.array(states[task][goal]), STATE_SPEC)
            # Bit for bit: the inverse of pack (the forward pass then refreshes only derived
            # quantities, the solver's warm start among them).
            for field in ("time", "qpos", "qvel", "act", "ctrl", "mocap_pos", "mocap_quat"):
                np.testing.assert_array_equal(getattr(data, field), getattr(want, field), err_msg=field)
            for (kind, name), values in overrides[task].items():
                where = model.body(name).pos if kind == "body" else model.site(name).pos
                np.testing.assert_array_equal(where, values[goal])
    # The door stands elsewhere for another goal: the model was edited, not left at goal 0's.
    a, b = (_placed(c, 1, g)[1].body("door").xpos.copy() for g in GOALS)
    assert np.linalg.norm(a - b) > 1e-3


def test_mjx_backend_writes_the_same_scene_to_float32(envs):
    """MJX's flat f32 StateLayout vector, written into the stock scene, puts every body and
    site where the C backend's float64 state does, to float32 rounding; a model of another
    layout is refused."""
    c, m, _ = envs
    for task in range(c.num_tasks):
        for goal in GOALS:
            (mc, dc), (mm, dm) = _placed(c, task, goal), _placed(m, task, goal)
            np.testing.assert_allclose(dm.qpos, dc.qpos, atol=1e-6)
            np.testing.assert_allclose(dm.mocap_pos, dc.mocap_pos, atol=1e-6)
            np.testing.assert_allclose(dm.xpos, dc.xpos, atol=1e-5)
            np.testing.assert_allclose(dm.site_xpos, dc.site_xpos, atol=1e-5)
    other = assets.load_model(c.tasks[0].scene)  # reach's scene for door-open's slot
    for env in (c, m):
        with pytest.raises(ValueError, match="another layout"):
            env.backend.write_host(1, 0, np.asarray(env._reset_physics[1, 0]), other, mujoco.MjData(other))
