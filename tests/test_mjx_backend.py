"""backend="mjx" (MJX's JAX implementation) on CPU: scene adapter, agreement with C MuJoCo.

MJX compiles take minutes on a CPU, so one module fixture compiles one small scene once.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from mujoco import mjx

import metaworld_jax
from metaworld_jax.backends import scene_adapter
from metaworld_jax.rollout import rollout
from metaworld_jax.tasks import REGISTRY

SCENES = sorted({REGISTRY[n].scene for n in REGISTRY})
TASK, GOALS, STEPS = "reach-v3", (0, 17), 5


@pytest.mark.parametrize("scene", SCENES)
def test_adapted_scene_is_accepted_by_mjx(scene):
    adapted = scene_adapter.adapt(scene)
    mjx.put_model(adapted.model)  # raises NotImplementedError on an unsupported feature
    stock = scene_adapter.load(scene, "stock")
    np.testing.assert_array_equal(adapted.model.body_mass, stock.body_mass)
    np.testing.assert_allclose(adapted.model.body_inertia, stock.body_inertia)
    assert adapted.model.nq == stock.nq and adapted.model.ngeom == stock.ngeom


def test_adapter_edits_are_listed_and_needed():
    scene = REGISTRY[TASK].scene
    with pytest.raises(NotImplementedError, match="collisions not implemented"):
        mjx.put_model(scene_adapter.load(scene, "stock"))
    edits = scene_adapter.adapt(scene).edits
    assert any(e.startswith("prism: ") and "objGeom" in e for e in edits)
    assert any(e.startswith("hull: mesh eGripperBase") for e in edits)
    assert any(e.startswith("margin: ") and "leftpad_geom" in e for e in edits)
    m = scene_adapter.adapt(scene).model
    assert max(m.mesh_graph[m.mesh_graphadr[i]] for i in range(m.nmesh) if m.mesh_graphadr[i] >= 0) <= 64


def test_prism_keeps_the_cylinder_cross_section():
    v = scene_adapter.prism_vertices(0.02, 0.01, 16)
    ring = v[:16, :2]
    area = 0.5 * abs(np.dot(ring[:, 0], np.roll(ring[:, 1], 1)) - np.dot(ring[:, 1], np.roll(ring[:, 0], 1)))
    assert area == pytest.approx(np.pi * 0.02**2, rel=1e-12)
    assert np.allclose(v[:16, 2], -0.01) and np.allclose(v[16:, 2], 0.01)
    with pytest.raises(ValueError, match="prism_sides"):
        scene_adapter.AdapterOptions(prism_sides=2)


@functools.cache
def _rollouts():
    """Same goals, same random actions: MJX, C MuJoCo on the adapted scene, C on the stock one."""
    actions = np.random.default_rng(0).uniform(-1, 1, (STEPS, len(GOALS), 4)).astype(np.float32)
    goals = jnp.asarray(GOALS, jnp.int32)
    out, seconds = {}, {}
    for name, kwargs in {"mjx": {"backend": "mjx"}, "c_adapted": {"scene_variant": "mjx"}, "c_stock": {}}.items():
        env = metaworld_jax.make(TASK, seed=0, **kwargs)

        @jax.jit
        def roll(actions):
            s, trace = rollout(env, jnp.zeros_like(goals), goals, actions)
            return trace.obs, trace.reward, s.physics.backend

        t = time.perf_counter()
        out[name] = jax.block_until_ready(roll(jnp.asarray(actions)))
        seconds[name] = time.perf_counter() - t
    return out, seconds


def test_mjx_steps_and_agrees_with_c_mujoco():
    out, seconds = _rollouts()
    obs, reward, physics = out["mjx"]
    assert obs.shape == (STEPS, len(GOALS), 39) and np.all(np.isfinite(obs)) and np.all(np.isfinite(physics))
    hand_moved = np.abs(np.asarray(obs[-1, :, :3]) - np.asarray(out["c_stock"][0][0, :, :3])).max()
    assert hand_moved > 1e-3  # the physics did advance
    rows = []
    for ref in ("c_adapted", "c_stock"):
        d_obs = np.abs(np.asarray(obs) - np.asarray(out[ref][0])).max(axis=(1, 2))
        d_rew = np.abs(np.asarray(reward) - np.asarray(out[ref][1])).max()
        rows.append((ref, d_obs, d_rew))
        print(f"\nmjx vs {ref}, {TASK}, goals {GOALS}: max |obs diff| per step {' '.join(f'{x:.1e}' for x in d_obs)}, "
              f"max |reward diff| {d_rew:.2e}")
    print(f"first call (compile + run) seconds: {seconds}")
    # float32 MJX vs float64 C on the same scene from the same start: close over a few steps.
    for _, d_obs, d_rew in rows:
        assert d_obs.max() < 2e-3 and d_rew < 5e-2


def test_mjx_backend_rejects_bad_options():
    with pytest.raises(ValueError, match="block_size"):
        metaworld_jax.make(TASK, backend="mjx", block_size=0)
    with pytest.raises(ValueError, match="scene_variant applies to the mujoco backend only"):
        metaworld_jax.make(TASK, backend="mjx", scene_variant="stock")
    with pytest.raises(ValueError, match="block_size applies to the mjx and warp backends"):
        metaworld_jax.make(TASK, backend="mujoco", block_size=8)
