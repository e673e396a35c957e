"""C MuJoCo backend: exact metaworld physics on the CPU, called from inside jit.

Each step is one `jax.pure_callback` over the whole batch (vmap_method="broadcast_all"):
the host sorts slots by (task, goal) so any slot may hold any task, splits them over a
thread pool (MuJoCo releases the GIL while stepping), and per slot restores the float64
state (`mjSTATE_INTEGRATION`: qpos, qvel, warm start, mocap, ctrl...), applies the action,
runs `mj_step` x frame_skip and the `mj_forward` metaworld runs before reading the
observation. The float64 state travels through JAX as pairs of uint32 words, so nothing
is lost to JAX's default 32-bit mode, and results never depend on thread scheduling.

Concurrent callbacks: inside a program sharded with shard_map, JAX runs one callback per
shard at the same time, on separate threads. Each call checks out its own *worker set* (one
private MjModel/MjData per scene per thread) for its whole duration and returns it after, so
no two calls ever touch the same MjData; a call that finds every set busy builds a new one
(once: sets are reused afterwards, at most one per concurrent shard).

The per-slot loop runs in C (`native_step.c`, built and loaded by `native.py`) when a C
compiler is available: the same MuJoCo calls in the same order, bit-identical to `_run`,
without holding the GIL. Otherwise, or with METAWORLD_JAX_NATIVE=0, `_run` runs in Python.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import threading
from typing import Sequence

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from metaworld_jax.backends import native as _native
from metaworld_jax.backends import scene_adapter
from metaworld_jax.backends.overrides import complete_overrides, layout, same_layout
from metaworld_jax.host_sim import FRAME_SKIP, MOCAP_QUAT, STATE_SPEC
from metaworld_jax.readings import COMMON_READINGS, KINDS, HostReader, pad_geoms, resolve


class _Worker:
    """One thread's private models and datas (one per scene), so threads never share."""

    def __init__(self, scenes: Sequence[str], variant: str):
        self.models = {s: scene_adapter.load(s, variant) for s in dict.fromkeys(scenes)}
        self.datas = {s: mujoco.MjData(m) for s, m in self.models.items()}
        self.applied: dict[str, tuple[int, int]] = {}  # scene -> (task, goal) overrides in place
        self.ptrs = None  # (mjModel*, mjData*) addresses by task, for the native loop

    def pointers(self, scenes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Raw mjModel* / mjData* addresses, indexed by task."""
        return (
            np.array([self.models[s]._address for s in scenes], np.uint64),
            np.array([self.datas[s]._address for s in scenes], np.uint64),
        )


class MujocoBackend:
    name = "mujoco"

    block_size = 1  # any slot may hold any task at no extra cost

    def __init__(self, tasks, overrides, num_threads: int | None = None, scenes: str = "stock"):
        """tasks: list of Task; overrides: per task {("body"|"site", name): f64[G, 3]};
        scenes: "stock" (metaworld's) or "mjx" (the MJX-JAX variant, see scene_adapter)."""
        self.tasks = list(tasks)
        self.scenes = [t.scene for t in self.tasks]
        probe = {s: scene_adapter.load(s, scenes) for s in dict.fromkeys(self.scenes)}
        overrides = complete_overrides(self.tasks, overrides, probe)
        self.readers = [HostReader(probe[t.scene], {**COMMON_READINGS, **t.READINGS},
                                   scene_adapter.frame_fix(t.scene, scenes)) for t in self.tasks]
        self.state_sizes = [mujoco.mj_stateSize(probe[s], STATE_SPEC) for s in self.scenes]
        self._layouts = {s: layout(m) for s, m in probe.items()}  # see write_host
        self.physics_words = 2 * max(self.state_sizes)  # float64 as uint32 pairs
        self.reading_size = max(r.layout.size for r in self.readers)
        self._mocap = [t.mocap_bounds for t in self.tasks]
        self._override_ids = [
            [(kind, probe[t.scene].body(n).id if kind == "body" else probe[t.scene].site(n).id) for kind, n in ov]
            for t, ov in zip(self.tasks, overrides)
        ]
        self._override_vals = [np.stack(list(ov.values()), axis=1) if ov else None for ov in overrides]
        self._threads = num_threads or min(os.cpu_count() or 1, 8)
        self._variant = scenes
        self._pool = (concurrent.futures.ThreadPoolExecutor(max_workers=self._threads)
                      if self._threads > 1 else None)
        # None: the Python loop (also for adapted scenes, whose readings may need frame fixes).
        self.native = _native.load() if scenes == "stock" else None
        if self.native is not None:
            self._native_tables = self._build_native_tables(probe)
        self._sets_lock = threading.Lock()
        self._worker_sets: list[list[_Worker]] = []
        self._free_sets: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._free_sets.put(self._new_worker_set())

    def _new_worker_set(self) -> int:
        """Builds one worker per thread (private models and datas); returns the set's index."""
        workers = [_Worker(self.scenes, self._variant) for _ in range(self._threads)]
        if self.native is not None:
            for w in workers:
                w.ptrs = w.pointers(self.scenes)
        with self._sets_lock:
            self._worker_sets.append(workers)
            return len(self._worker_sets) - 1

    def _checkout(self) -> int:
        """A worker set no other call is using (a new one if all are busy)."""
        try:
            return self._free_sets.get_nowait()
        except queue.Empty:
            return self._new_worker_set()

    # ---------- packing ----------
    def pack(self, task: int, state64: np.ndarray) -> np.ndarray:
        """Task `task`'s f64[n] mjSTATE_INTEGRATION state -> u32[physics_words] (zero padded)."""
        out = np.zeros(self.physics_words // 2, np.float64)
        out[: state64.shape[0]] = state64
        return out.view(np.uint32)

    # ---------- host: a slot's state in a host MjData (rendering) ----------
    def write_host(self, task: int, goal: int, physics: np.ndarray, model: mujoco.MjModel,
                   data: mujoco.MjData) -> None:
        """The inverse of `pack` (and of a step's output): one slot's physics u32[physics_words]
        into `data` of `model`, a model of the task's scene (this backend's variant or the stock
        one, e.g. for rendering: variants share bodies, joints and sites), the bodies goal `goal`
        moves set on `model`, then the forward pass (every position and frame)."""
        same_layout(self._layouts[self.scenes[task]], model, self.scenes[task])
        self.apply_overrides(model, task, goal)
        # a copy: mj_setState takes a writable array, and states from JAX are read-only
        state = np.array(np.ascontiguousarray(physics, np.uint32).view(np.float64)[: self.state_sizes[task]])
        mujoco.mj_setState(model, data, state, STATE_SPEC)
        mujoco.mj_forward(model, data)

    # ---------- device API ----------
    def step(self, physics, task_id, goal_index, control):
        """physics u32[W], task_id i32[], goal_index i32[], control f32[4] -> (u32[W], f32[R])."""
        out_shapes = (
            jax.ShapeDtypeStruct(physics.shape, jnp.uint32),
            jax.ShapeDtypeStruct(physics.shape[:-1] + (self.reading_size,), jnp.float32),
        )
        return jax.pure_callback(
            self._host_step, out_shapes, physics, task_id, goal_index, control, vmap_method="broadcast_all"
        )

    # ---------- host ----------
    def _host_step(self, physics, task_id, goal_index, control):
        batch = np.shape(task_id)
        physics = np.ascontiguousarray(physics).reshape(-1, self.physics_words)
        tasks = np.asarray(task_id).reshape(-1)
        goals = np.asarray(goal_index).reshape(-1)
        control = np.asarray(control, np.float32).reshape(-1, 4)
        state = physics.view(np.float64).copy()
        readings = np.zeros((tasks.shape[0], self.reading_size), np.float64)
        order = np.lexsort((goals, tasks))
        if self.native is not None:
            run = self._run_native
            tasks = np.ascontiguousarray(tasks, np.int32)
            goals = np.ascontiguousarray(goals, np.int32)
            control = np.ascontiguousarray(control)
        else:
            run = self._run
        k = self._checkout()
        workers = self._worker_sets[k]
        try:
            if self._pool is None or len(order) < 2 * len(workers):
                run(workers[0], order, tasks, goals, control, state, readings)
            else:
                chunks = np.array_split(order, len(workers))
                futures = [self._pool.submit(run, w, c, tasks, goals, control, state, readings)
                           for w, c in zip(workers, chunks)]
                for f in futures:
                    f.result()
        finally:
            self._free_sets.put(k)
        return (
            state.view(np.uint32).reshape(batch + (self.physics_words,)),
            readings.astype(np.float32).reshape(batch + (self.reading_size,)),
        )

    def _run(self, worker, slots, tasks, goals, control, state, readings):
        for i in slots:
            t, g = int(tasks[i]), int(goals[i])
            scene = self.scenes[t]
            m, d = worker.models[scene], worker.datas[scene]
            if worker.applied.get(scene) != (t, g):
                self.apply_overrides(m, t, g)
                worker.applied[scene] = (t, g)
            n = self.state_sizes[t]
            mujoco.mj_setState(m, d, state[i, :n], STATE_SPEC)
            # metaworld: a[:3] (already x0.01 in f32) moves the mocap, clipped to the task's
            # bounds in float64; a[3] drives the two fingers in opposition.
            lo, hi = self._mocap[t]
            d.mocap_pos[0] = np.clip(d.mocap_pos[0] + control[i, :3], lo, hi)
            d.mocap_quat[0] = MOCAP_QUAT
            d.ctrl[0] = control[i, 3]
            d.ctrl[1] = -control[i, 3]
            mujoco.mj_step(m, d, nstep=FRAME_SKIP)
            # Not just mj_kinematics: in MuJoCo 3.3 mj_forward also refreshes qacc_warmstart,
            # which the next step's solver starts from (measured: skipping it drifts 2e-3).
            mujoco.mj_forward(m, d)
            self.readers[t].read(d, readings[i])
            mujoco.mj_getState(m, d, state[i, :n], STATE_SPEC)

    def _run_native(self, worker, slots, tasks, goals, control, state, readings):
        """`_run` in C (native_step.c): same calls, same order, GIL released."""
        slots = np.ascontiguousarray(slots, np.int64)
        models, datas = worker.ptrs
        tb = self._native_tables
        ptr = lambda a: a.ctypes.data  # noqa: E731
        rc = self.native.mwj_run(
            len(slots), ptr(slots), ptr(tasks), ptr(goals), ptr(control),
            ptr(state), state.shape[1], ptr(readings), readings.shape[1],
            ptr(models), ptr(datas), ptr(tb["mocap_lo"]), ptr(tb["mocap_hi"]),
            ptr(tb["ov_start"]), ptr(tb["ov_ids"]), ptr(tb["ov_val_off"]), ptr(tb["ov_vals"]),
            ptr(tb["plan_start"]), ptr(tb["plan"]), FRAME_SKIP, int(STATE_SPEC),
        )
        if rc != 0:
            raise RuntimeError(f"native step failed ({rc})")
        # C applies the overrides on every slot; the Python loop must re-apply after it.
        worker.applied.clear()

    def _build_native_tables(self, probe):
        """Flat per-task tables for native_step.c (kept alive on self)."""
        lo = np.stack([b[0] for b in self._mocap]).astype(np.float64)
        hi = np.stack([b[1] for b in self._mocap]).astype(np.float64)
        ov_start, ov_ids, ov_val_off, vals, off = [0], [], [], [], 0
        for ids, v in zip(self._override_ids, self._override_vals):
            ov_start.append(ov_start[-1] + len(ids))
            ov_ids += [(0 if kind == "body" else 1, idx) for kind, idx in ids]
            ov_val_off.append(off)
            if v is not None:
                flat = np.ascontiguousarray(v, np.float64).reshape(-1)  # [G, K, 3]
                vals.append(flat)
                off += flat.size
        plan_start, plan = [0], []
        for t in self.tasks:
            rows = _native_plan(probe[t.scene], {**COMMON_READINGS, **t.READINGS})
            plan += rows
            plan_start.append(len(plan))
        return {
            "mocap_lo": np.ascontiguousarray(lo.reshape(-1, 3)),
            "mocap_hi": np.ascontiguousarray(hi.reshape(-1, 3)),
            "ov_start": np.array(ov_start, np.int32),
            "ov_ids": np.array(ov_ids, np.int32).reshape(-1, 2),
            "ov_val_off": np.array(ov_val_off, np.int64),
            "ov_vals": np.concatenate(vals) if vals else np.zeros(1),
            "plan_start": np.array(plan_start, np.int32),
            "plan": np.array(plan, np.int32).reshape(-1, 4),
        }

    def apply_overrides(self, model, t, g):
        """Moves the bodies and sites task t moves at reset for goal g, in `model`."""
        vals = self._override_vals[t]
        for k, (kind, idx) in enumerate(self._override_ids[t]):
            (model.body_pos if kind == "body" else model.site_pos)[idx] = vals[g, k]


def _native_plan(model, spec):
    """Reading spec -> rows (kind, index, left pad, right pad) for native_step.c, in
    HostReader's order."""
    rows = []
    for kind, name in spec.values():
        left, right = pad_geoms(model) if kind == "touching" else (-1, -1)
        rows.append((KINDS[kind].code, resolve(model, kind, name), left, right))
    return rows
