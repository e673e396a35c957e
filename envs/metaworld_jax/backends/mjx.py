"""MJX backends: metaworld physics as JAX programs, for GPUs and TPUs.

  backend="mjx"   MJX's JAX implementation (any JAX device; slow on CPU) on the adapted
                  scenes of `scene_adapter` (MJX-JAX rejects most stock scenes);
  backend="warp"  MJX's Warp implementation (NVIDIA GPUs) on the stock physics (the stock
                  scenes without their visual-only meshes, `scene_adapter.WARP`).

Per slot the physics state is one flat f32 vector (`StateLayout`): time, qpos, qvel, act,
the solver warm start, ctrl and the mocap pose, zero padded to the largest scene, so slots
of different tasks share one array. A step rebuilds the scene's `mjx.Data` from it, applies
the action as the C backend does, runs frame_skip `mjx.step`s and the `mjx.forward` metaworld
runs before observing, and reads the task's readings. Per-goal model edits (bodies metaworld
moves at reset) are set on the slot's `mjx.Model`.

One physics branch per *scene*, not per task: tasks that share a scene (MT50: 50 tasks on
36 scenes) share its compiled step; what differs per task (mocap bounds, the bodies moved per
goal, which readings it reads) is data indexed by the task id. `block_step(b)` is the step of
a block of b slots that hold one task: a scalar-index `lax.switch` over the scenes, so only
that scene's physics runs; `task_blocks.dispatch` groups the slots into such blocks.

On MJX-JAX a step is 6 passes of one loop body: `mjx.forward`, then Euler integration on the
first 5 (metaworld's frame_skip); the 6th pass is the forward metaworld runs before it
observes. The same arithmetic as 5 `mjx.step`s and a `mjx.forward`, with one copy of the
forward pass (collision, constraints, solver) in the program instead of two.
"""

from __future__ import annotations

import dataclasses
import inspect

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from metaworld_jax.backends import scene_adapter
from metaworld_jax.backends.overrides import complete_overrides, layout, same_layout
from metaworld_jax.backends import task_blocks
from metaworld_jax.host_sim import FRAME_SKIP, MOCAP_QUAT, STATE_SPEC
from metaworld_jax.readings import COMMON_READINGS, KIND_SIZES, Layout, field_row, pad_geoms, resolve

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

    def unpack_host(self, flat: np.ndarray, d: mujoco.MjData) -> None:
        """The inverse of `pack_host`: writes the fields of a flat vector into a host MjData."""
        for name, (off, k) in self.slots.items():
            if name == "time":  # a scalar attribute, not an array
                d.time = float(flat[off])
            else:
                getattr(d, name)[...] = np.reshape(flat[off : off + k], np.shape(getattr(d, name)))

    def unpack(self, flat, d):
        """Writes the flat fields into an mjx.Data (shapes from `d`)."""
        fields = {name: flat[off : off + k].reshape(jnp.shape(getattr(d, name))) for name, (off, k) in self.slots.items()}
        return d.replace(**fields)

    def pack(self, d, width: int):
        flat = jnp.concatenate([jnp.reshape(getattr(d, name), (-1,)) for name in self.FIELDS]).astype(jnp.float32)
        return jnp.pad(flat, (0, width - self.size))


class DeviceReader:
    """Fills a reading vector from an mjx.Data, in JAX (f32): a task's readings, or any list
    of resolved (kind, index) items (a scene's union of its tasks' readings)."""

    def __init__(self, model: mujoco.MjModel, spec, frame_fix=None):
        """spec: {name: (kind, mujoco name)}; frame_fix: {geom id: f64[3, 3]}, see
        `scene_adapter.AdaptedScene.frame_fix`."""
        self.layout = Layout.of(spec)
        self.items = tuple((kind, resolve(model, kind, name)) for kind, name in spec.values())
        self._pads = pad_geoms(model)
        self.frame_fix = dict(frame_fix or {})
        self._fix = {i: np.asarray(c, np.float32) for i, c in self.frame_fix.items()}

    @classmethod
    def of_items(cls, model: mujoco.MjModel, items, frame_fix=None) -> "DeviceReader":
        """A reader of resolved items [(kind, index)], in that order."""
        reader = cls(model, {}, frame_fix)
        reader.items = tuple(items)
        reader.layout = Layout.of_sizes({f"{k}:{i}": KIND_SIZES[k] for k, i in reader.items})
        return reader

    def read(self, d, size: int, lane=0):
        parts = []
        for kind, i in self.items:
            if kind == "touching":
                parts.append(self._touching(d, i, lane)[None])
            elif kind == "geom_xmat" and i in self._fix:
                parts.append((field_row(d, kind, i).reshape(3, 3) @ self._fix[i]).reshape(9))
            else:
                parts.append(field_row(d, kind, i))
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
        variant = "mjx" if impl == "jax" else "warp"  # warp: the stock physics (scene_adapter.WARP)
        self.scenes = list(dict.fromkeys(t.scene for t in self.tasks))
        models = {s: scene_adapter.load(s, variant) for s in self.scenes}
        overrides = complete_overrides(self.tasks, overrides, models)
        self._models = models
        self._layouts = {s: StateLayout.of(m) for s, m in models.items()}
        self.readers = [DeviceReader(models[t.scene], {**COMMON_READINGS, **t.READINGS},
                                     scene_adapter.frame_fix(t.scene, variant)) for t in self.tasks]
        self.physics_size = max(l.size for l in self._layouts.values())
        self.reading_size = max(r.layout.size for r in self.readers)
        self._host_data = {s: mujoco.MjData(m) for s, m in models.items()}
        self._max_contacts = dict.fromkeys(self.scenes, 0)  # most contacts seen in a reset state
        # Per task, indexed by task id: its scene, its index among its scene's tasks, mocap bounds.
        self.scene_of = np.array([self.scenes.index(t.scene) for t in self.tasks], np.int32)
        self._local = np.array([[u.scene for u in self.tasks[:i]].count(t.scene) for i, t in enumerate(self.tasks)],
                               np.int32)
        self._mocap = np.array([np.stack(t.mocap_bounds) for t in self.tasks], np.float32)  # [T, 2, 3]
        self._scene_data = [self._scene_tables(s, overrides) for s in self.scenes]
        self._device = {}  # (scene, block) -> (mjx.Model, mjx.Data template), built on first trace
        self._blocks = {}  # (scene, block) -> jitted block step, see _scene_block
        mixed = task_blocks.per_slot(self.block_step, self.block_size)

        def step(physics, task_id, goal_index, control):
            """One slot's step, any task (vmap it for a batch): the C backend's signature,
            (physics f32[P], task i32[], goal i32[], control f32[4]) -> (physics, readings)."""
            return mixed(task_id, physics, goal_index, control)

        self.step = step

    # ---------- host ----------
    def pack(self, task: int, state64: np.ndarray) -> np.ndarray:
        """Task `task`'s f64 mjSTATE_INTEGRATION state (from the reset builder) -> f32[physics_size]."""
        scene = self.tasks[task].scene
        m, d = self._models[scene], self._host_data[scene]
        mujoco.mj_setState(m, d, np.asarray(state64, np.float64), STATE_SPEC)
        mujoco.mj_forward(m, d)
        self._max_contacts[scene] = max(self._max_contacts[scene], int(d.ncon))
        return self._layouts[scene].pack_host(d, self.physics_size)

    def write_host(self, task: int, goal: int, physics: np.ndarray, model: mujoco.MjModel,
                   data: mujoco.MjData) -> None:
        """The inverse of `pack` (and of a step's output): one slot's physics f32[physics_size]
        into `data` of `model`, a model of the task's scene (this backend's variant or the
        stock one, e.g. for rendering: variants share bodies, joints and sites), the bodies goal
        `goal` moves set on `model` (as a step sets them on its mjx.Model), then C MuJoCo's
        forward pass."""
        scene = self.tasks[task].scene
        same_layout(layout(self._models[scene]), model, scene)
        tables, row = self._scene_data[int(self.scene_of[task])], int(self._local[task])
        for (ids, vals), field in ((tables["bodies"], model.body_pos), (tables["sites"], model.site_pos)):
            if vals is not None:
                field[ids] = vals[row, goal]
        self._layouts[self.tasks[task].scene].unpack_host(np.asarray(physics, np.float32), data)
        mujoco.mj_forward(model, data)

    def _scene_tables(self, scene, overrides) -> dict:
        """What a scene's branch looks up by the task's index among the scene's tasks:
        overridden body/site ids and their values per (task, goal), and each task's readings
        as indices into the scene's union of readings (the last entry of which is a 0)."""
        model = self._models[scene]
        mine = [i for i, t in enumerate(self.tasks) if t.scene == scene]
        # complete_overrides gives every task of a scene the same keys, in the same order.
        keys = list(overrides[mine[0]])

        def table(kind, lookup):
            ks = [n for k, n in keys if k == kind]
            if not ks:
                return np.zeros(0, np.int32), None
            ids = np.array([lookup(n).id for n in ks], np.int32)
            vals = np.stack([np.stack([overrides[i][(kind, n)] for n in ks], 1) for i in mine]).astype(np.float32)
            return ids, vals  # vals f32[tasks of the scene, G, k, 3]

        items = list(dict.fromkeys(item for i in mine for item in self.readers[i].items))
        offsets, off = {}, 0
        for item in items:
            offsets[item] = off
            off += KIND_SIZES[item[0]]
        gather = np.full((len(mine), self.reading_size), off, np.int32)  # default: the trailing 0
        for row, i in enumerate(mine):
            idx = [offsets[item] + j for item in self.readers[i].items for j in range(KIND_SIZES[item[0]])]
            gather[row, : len(idx)] = idx
        reader = DeviceReader.of_items(model, items, self.readers[mine[0]].frame_fix)
        return {"bodies": table("body", model.body), "sites": table("site", model.site), "reader": reader,
                "gather": gather}

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
    def block_step(self, block: int):
        """The step of a block of `block` slots that hold one task:
        f(task i32[], lanes i32[b], physics f32[b, P], goal i32[b], control f32[b, 4])
        -> (physics f32[b, P], readings f32[b, R]); only the task's scene runs."""
        branches = [self._scene_block(s, block) for s in range(len(self.scenes))]
        scene_of = self.scene_of

        def f(task, lanes, physics, goal, control):
            return jax.lax.switch(jnp.asarray(scene_of)[task], branches, task, lanes, physics, goal, control)

        return f

    def _scene_block(self, s: int, block: int):
        """Scene s's step of a block (block_step's signature), traced once per (scene, block):
        every program that steps this scene (the trainer's step, seeds folded in, the mixed
        path's tasks, the evaluation) reuses one jaxpr instead of running MJX's Python again,
        which is most of the trace time."""
        if (s, block) not in self._blocks:
            self._blocks[(s, block)] = task_blocks.traced_once(self._make_scene_block(s, block))
        return self._blocks[(s, block)]

    def _make_scene_block(self, s: int, block: int):
        scene = self.scenes[s]
        layout, tables = self._layouts[scene], self._scene_data[s]
        body_ids, body_vals = tables["bodies"]
        site_ids, site_vals = tables["sites"]
        reader, gather = tables["reader"], tables["gather"]
        width, local, mocap = self.physics_size, self._local, self._mocap

        def prepare(task, physics, goal, control):
            """One slot: its model's moved bodies/sites, and its mjx.Data with the action applied."""
            mx, d = self._device_scene(scene, block)
            row = jnp.asarray(local)[task]  # the task's index among the scene's tasks
            body_pos, site_pos = mx.body_pos, mx.site_pos
            if body_vals is not None:
                body_pos = body_pos.at[body_ids].set(jnp.asarray(body_vals)[row, goal])
            if site_vals is not None:
                site_pos = site_pos.at[site_ids].set(jnp.asarray(site_vals)[row, goal])
            lo, hi = jnp.asarray(mocap)[task]
            d = layout.unpack(physics, d)
            # As the C backend: the mocap moves by the (scaled, clipped) action within the
            # task's bounds; the gripper command drives the two fingers in opposition.
            d = d.replace(
                mocap_pos=d.mocap_pos.at[0].set(jnp.clip(d.mocap_pos[0] + control[:3], lo, hi)),
                mocap_quat=d.mocap_quat.at[0].set(jnp.asarray(MOCAP_QUAT, jnp.float32)),
                ctrl=d.ctrl.at[0].set(control[3]).at[1].set(-control[3]),
            )
            return body_pos, site_pos, d

        def each_slot(fn):
            """fn(mjx.Model, mjx.Data) on every slot, each with its own moved bodies/sites."""
            mx, _ = self._device_scene(scene, block)
            return jax.vmap(lambda bp, sp, d: fn(mx.replace(body_pos=bp, site_pos=sp), d))

        def readings(task, lane, d):
            union = jnp.concatenate([reader.read(d, reader.layout.size, lane), jnp.zeros((1,), jnp.float32)])
            return layout.pack(d, width), union[jnp.asarray(gather)[jnp.asarray(local)[task]]]

        def f(task, lanes, physics, goal, control):
            mjx = mjx_module()
            bp, sp, d = jax.vmap(prepare, in_axes=(None, 0, 0, 0))(task, physics, goal, control)
            if self.impl == "jax":
                # One forward pass in the program (module docstring). The loop carries the
                # block's batched Data, so the slots' vmap sits inside the loop body.
                forward, euler = each_slot(mjx.forward), each_slot(mjx.euler)

                def substep(i, d):
                    d = forward(bp, sp, d)
                    return jax.lax.cond(i < FRAME_SKIP, lambda d: euler(bp, sp, d), lambda d: d, d)

                d = jax.lax.fori_loop(0, FRAME_SKIP + 1, substep, d)
            else:  # MJX-Warp: each call is one batched kernel launch sequence over the block's worlds
                def one_slot(mx, d):
                    d = jax.lax.fori_loop(0, FRAME_SKIP, lambda _, d: mjx.step(mx, d), d)
                    return mjx.forward(mx, d)

                d = each_slot(one_slot)(bp, sp, d)
            return jax.vmap(readings, in_axes=(None, 0, 0))(task, lanes, d)

        return f
