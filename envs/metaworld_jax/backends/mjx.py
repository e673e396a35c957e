"""MJX backends: metaworld physics as JAX programs, for GPUs and TPUs.

  backend="mjx"   MJX's JAX implementation (any JAX device; slow on CPU) on the adapted
                  scenes of `scene_adapter` (MJX-JAX rejects most stock scenes);
  backend="warp"  MJX's Warp implementation (NVIDIA GPUs) on the stock scenes.

Per slot the physics state is one flat f32 vector (`StateLayout`): time, qpos, qvel, act,
the solver warm start, ctrl and the mocap pose, zero padded to the largest scene, so slots
of different tasks share one array. A step rebuilds the scene's `mjx.Data` from it, applies
the action as the C backend does, runs frame_skip `mjx.step`s and the `mjx.forward` metaworld
runs before observing, and reads the task's readings. Per-goal model edits (bodies metaworld
moves at reset) are set on the slot's `mjx.Model`.

Mixed tasks: each task is one `lax.switch` branch; under vmap, `task_blocks.grouped_switch`
runs each block of `block_size` slots through the branch of its task only.
"""

from __future__ import annotations

import dataclasses
import inspect

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from metaworld_jax.backends import scene_adapter
from metaworld_jax.backends.overrides import complete_overrides
from metaworld_jax.backends.task_blocks import grouped_switch
from metaworld_jax.host_sim import FRAME_SKIP, MOCAP_QUAT, STATE_SPEC
from metaworld_jax.readings import COMMON_READINGS, Layout, pad_geoms, resolve

DEFAULT_BLOCK_SIZE = 128


def mjx_module():
    try:
        from mujoco import mjx
    except ImportError as e:  # pragma: no cover - mujoco-mjx is a dependency
        raise ImportError("the mjx and warp backends need mujoco-mjx (pip install mujoco-mjx)") from e
    return mjx


def supports_impl(impl: str) -> bool:
    """Whether the installed mujoco-mjx offers `put_model(..., impl=impl)`."""
    mjx = mjx_module()
    if "impl" not in inspect.signature(mjx.put_model).parameters:
        return impl == "jax"  # mujoco-mjx < 3.3.1: the JAX implementation only
    if impl == "warp":
        try:
            import warp  # noqa: F401
        except ImportError:
            return False
    return True


def warp_device() -> str:
    """The Warp device backend="warp" steps on: "cuda" when JAX's default backend is a GPU,
    else "cpu" (Warp's CPU device: MJX-Warp runs its kernels where JAX places the arrays).
    Starts JAX's backend if it is not running yet."""
    return "cuda" if jax.default_backend() == "gpu" else "cpu"


@dataclasses.dataclass(frozen=True)
class StateLayout:
    """Where each mjx.Data field sits in a slot's flat f32 physics vector."""

    slots: dict  # field -> (offset, size)
    size: int

    FIELDS = ("time", "qpos", "qvel", "act", "qacc_warmstart", "ctrl", "mocap_pos", "mocap_quat")

    @staticmethod
    def of(m: mujoco.MjModel) -> "StateLayout":
        sizes = {"time": 1, "qpos": m.nq, "qvel": m.nv, "act": m.na, "qacc_warmstart": m.nv, "ctrl": m.nu,
                 "mocap_pos": 3 * m.nmocap, "mocap_quat": 4 * m.nmocap}
        slots, off = {}, 0
        for name in StateLayout.FIELDS:
            slots[name] = (off, sizes[name])
            off += sizes[name]
        return StateLayout(slots=slots, size=off)

    def pack_host(self, d: mujoco.MjData, width: int) -> np.ndarray:
        out = np.zeros(width, np.float32)
        for name, (off, k) in self.slots.items():
            out[off : off + k] = np.reshape(getattr(d, name), (k,))
        return out

    def unpack(self, flat, d):
        """Writes the flat fields into an mjx.Data (shapes from `d`)."""
        fields = {name: flat[off : off + k].reshape(jnp.shape(getattr(d, name))) for name, (off, k) in self.slots.items()}
        return d.replace(**fields)

    def pack(self, d, width: int):
        flat = jnp.concatenate([jnp.reshape(getattr(d, name), (-1,)) for name in self.FIELDS]).astype(jnp.float32)
        return jnp.pad(flat, (0, width - self.size))


class DeviceReader:
    """Fills a task's reading vector from an mjx.Data, in JAX (f32)."""

    def __init__(self, model: mujoco.MjModel, spec, frame_fix=None):
        """frame_fix: {geom id: f64[3, 3]}, see `scene_adapter.AdaptedScene.frame_fix`."""
        self.layout = Layout.of(spec)
        self._items = [(kind, resolve(model, kind, name)) for kind, name in spec.values()]
        self._pads = pad_geoms(model)
        self._fix = {i: np.asarray(c, np.float32) for i, c in (frame_fix or {}).items()}

    def read(self, d, size: int, lane=0):
        parts = []
        for kind, i in self._items:
            if kind == "body_xpos":
                parts.append(d.xpos[i])
            elif kind == "body_xquat":
                parts.append(d.xquat[i])
            elif kind == "geom_xpos":
                parts.append(d.geom_xpos[i])
            elif kind == "geom_xmat":
                xmat = d.geom_xmat[i].reshape(3, 3)
                parts.append((xmat @ self._fix[i] if i in self._fix else xmat).reshape(9))
            elif kind == "site_xpos":
                parts.append(d.site_xpos[i])
            elif kind == "site_xmat":
                parts.append(d.site_xmat[i].reshape(9))
            elif kind == "qpos":
                parts.append(d.qpos[i : i + 1])
            elif kind == "qvel":
                parts.append(d.qvel[i : i + 1])
            else:
                parts.append(self._touching(d, i, lane)[None])
        flat = jnp.concatenate(parts).astype(jnp.float32)
        return jnp.pad(flat, (0, size - flat.shape[0]))

    def _touching(self, d, obj, lane):
        """Both pads touch `obj` with positive summed normal force (metaworld's rule).

        Elliptic cones: a contact's normal force is efc_force at its efc_address. MJX-JAX keeps
        a fixed set of candidate contacts per slot (live when within margin); MJX-Warp keeps
        one list for all worlds of a call, tagged with each contact's world (= lane).
        """
        impl = getattr(d, "_impl", None)
        if impl is not None and hasattr(impl, "contact__geom"):  # MJX-Warp
            geom, adr = impl.contact__geom, impl.contact__efc_address[:, 0]
            live = (jnp.arange(geom.shape[0]) < impl.nacon[0]) & (impl.contact__worldid == lane) & (adr >= 0)
            efc_force = impl.efc__force
        else:  # MJX-JAX
            c = d.contact
            geom, adr = c.geom, c.efc_address
            live = (c.dist < c.includemargin) & (adr >= 0)
            efc_force = d.efc_force
        g1, g2 = geom[:, 0], geom[:, 1]
        force = jnp.where(live, efc_force[jnp.maximum(adr, 0)], 0.0)
        with_obj = (g1 == obj) | (g2 == obj)

        def pad_force(pad):
            return jnp.sum(jnp.where(with_obj & ((g1 == pad) | (g2 == pad)), force, 0.0))

        left, right = self._pads
        return ((pad_force(left) > 0) & (pad_force(right) > 0)).astype(jnp.float32)


def _quiet_warp() -> None:
    """Warp logs every kernel module it loads; keep that off unless asked for."""
    import os

    import warp

    if not os.environ.get("METAWORLD_JAX_WARP_VERBOSE"):
        warp.config.quiet = True
        warp.config.log_level = getattr(warp, "LOG_WARNING", warp.config.log_level)


class MjxBackend:
    """backend="mjx" (impl "jax", adapted scenes) or "warp" (impl "warp", stock scenes)."""

    def __init__(self, tasks, overrides, *, impl: str = "jax", block_size: int | None = None):
        if impl not in ("jax", "warp"):
            raise ValueError(f"unknown MJX implementation {impl!r}")
        if not supports_impl(impl):
            raise ValueError(f"this mujoco-mjx does not offer impl={impl!r}")
        self.name = "warp" if impl == "warp" else "mjx"
        self.impl = impl
        self.tasks = list(tasks)
        self.block_size = DEFAULT_BLOCK_SIZE if block_size is None else int(block_size)
        if self.block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        variant = "mjx" if impl == "jax" else "stock"
        scenes = list(dict.fromkeys(t.scene for t in self.tasks))
        models = {s: scene_adapter.load(s, variant) for s in scenes}
        overrides = complete_overrides(self.tasks, overrides, models)
        self._models = models
        self._layouts = {s: StateLayout.of(m) for s, m in models.items()}
        self._readers = [DeviceReader(models[t.scene], {**COMMON_READINGS, **t.READINGS},
                                      scene_adapter.frame_fix(t.scene, variant)) for t in self.tasks]
        self.physics_size = max(l.size for l in self._layouts.values())
        self.reading_size = max(r.layout.size for r in self._readers)
        self._host_data = {s: mujoco.MjData(m) for s, m in models.items()}
        self._max_contacts = dict.fromkeys(scenes, 0)  # most contacts seen in a reset state
        self._overrides = [self._override_table(models[t.scene], ov) for t, ov in zip(self.tasks, overrides)]
        self._device = {}  # (scene, block) -> (mjx.Model, mjx.Data template), built on first trace
        self._switch = grouped_switch(self._branches, self.block_size)

    # ---------- host ----------
    def pack(self, task: int, state64: np.ndarray) -> np.ndarray:
        """Task `task`'s f64 mjSTATE_INTEGRATION state (from the reset builder) -> f32[physics_size]."""
        scene = self.tasks[task].scene
        m, d = self._models[scene], self._host_data[scene]
        mujoco.mj_setState(m, d, np.asarray(state64, np.float64), STATE_SPEC)
        mujoco.mj_forward(m, d)
        self._max_contacts[scene] = max(self._max_contacts[scene], int(d.ncon))
        return self._layouts[scene].pack_host(d, self.physics_size)

    @staticmethod
    def _override_table(model, full):
        """-> ((body ids, f32[G, nb, 3] or None), (site ids, f32[G, ns, 3] or None))."""
        bodies = [(model.body(n).id, v) for (k, n), v in full.items() if k == "body"]
        sites = [(model.site(n).id, v) for (k, n), v in full.items() if k == "site"]

        def table(rows):
            if not rows:
                return np.zeros(0, np.int32), None
            return np.array([i for i, _ in rows], np.int32), np.stack([v for _, v in rows], 1).astype(np.float32)

        return table(bodies), table(sites)

    def warp_sizes(self, scene: str, block: int) -> tuple[int, int]:
        """(naconmax over the block's worlds, njmax per world) for MJX-Warp's fixed buffers.

        Per world: 4x the most contacts seen in the scene's reset states, at least 48 (grasps,
        pushes and stacked objects add contacts); constraint rows: <= 4 per contact (condim
        <= 4, elliptic cones), 6 per weld/connect equality, 1 per limited joint.
        """
        m = self._models[scene]
        contacts = max(48, 4 * self._max_contacts[scene])
        rows = 4 * contacts + 6 * m.neq + int(np.sum(m.jnt_limited))
        return contacts * block, rows

    def _device_scene(self, scene: str, block: int):
        key = (scene, block if self.impl == "warp" else 1)
        if key not in self._device:
            mjx = mjx_module()
            m = self._models[scene]
            # Built at first trace; must stay concrete (not traced) so later traces reuse it.
            with jax.ensure_compile_time_eval():
                if self.impl == "warp":
                    _quiet_warp()
                    naconmax, njmax = self.warp_sizes(scene, block)
                    mx = mjx.put_model(m, impl="warp")
                    dx = mjx.make_data(m, impl="warp", naconmax=naconmax, njmax=njmax)
                elif "impl" in inspect.signature(mjx.put_model).parameters:
                    mx, dx = mjx.put_model(m, impl="jax"), mjx.make_data(m, impl="jax")
                else:  # mujoco-mjx < 3.3.1
                    mx, dx = mjx.put_model(m), mjx.make_data(m)
            self._device[key] = (mx, dx)
        return self._device[key]

    # ---------- device ----------
    def _branches(self, block: int):
        """The per-slot step of every task, for blocks of `block` slots (see task_blocks)."""
        return [self._branch(i, block) for i in range(len(self.tasks))]

    def _branch(self, i: int, block: int):
        task = self.tasks[i]
        scene = task.scene
        layout, reader = self._layouts[scene], self._readers[i]
        lo, hi = (np.asarray(b, np.float32) for b in task.mocap_bounds)
        (body_ids, body_vals), (site_ids, site_vals) = self._overrides[i]
        width, r_size = self.physics_size, self.reading_size

        def step(lane, physics, goal, control):
            mjx = mjx_module()
            mx, d = self._device_scene(scene, block)
            if body_vals is not None:
                mx = mx.replace(body_pos=mx.body_pos.at[body_ids].set(jnp.asarray(body_vals)[goal]))
            if site_vals is not None:
                mx = mx.replace(site_pos=mx.site_pos.at[site_ids].set(jnp.asarray(site_vals)[goal]))
            d = layout.unpack(physics, d)
            # As the C backend: the mocap moves by the (scaled, clipped) action within the
            # task's bounds; the gripper command drives the two fingers in opposition.
            d = d.replace(
                mocap_pos=d.mocap_pos.at[0].set(jnp.clip(d.mocap_pos[0] + control[:3], lo, hi)),
                mocap_quat=d.mocap_quat.at[0].set(jnp.asarray(MOCAP_QUAT, jnp.float32)),
                ctrl=d.ctrl.at[0].set(control[3]).at[1].set(-control[3]),
            )
            d = jax.lax.fori_loop(0, FRAME_SKIP, lambda _, d: mjx.step(mx, d), d)
            d = mjx.forward(mx, d)
            return layout.pack(d, width), reader.read(d, r_size, lane)

        return step

    def step(self, physics, task_id, goal_index, control):
        """physics f32[P], task_id i32[], goal_index i32[], control f32[4] -> (f32[P], f32[R])."""
        return self._switch(task_id, physics, goal_index, control)
