"""Each task's reset table, built on the host and cached on disk.

MetaWorld resets are deterministic given the goal, so an env's reset is a lookup into a table
built once per (task, goal): the physics state, the readings and the task context after
metaworld's `reset_model`, and the per-goal model overrides (bodies and sites metaworld moves
at reset). Building MT50's takes ~20 s of host physics; the table is cached on disk, keyed by
everything it depends on: the task's name and module source, the host-side code that builds
it (this module, host_sim, readings), its goals, and the mujoco and metaworld versions. Location:
$METAWORLD_JAX_CACHE, else ~/.cache/metaworld_jax; set METAWORLD_JAX_CACHE=off to disable.
Writes are atomic (temp file + rename); an unreadable entry is rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import os
import tempfile
from pathlib import Path

import numpy as np

from metaworld_jax import host_sim, readings
from metaworld_jax.host_sim import HostSim
from metaworld_jax.readings import COMMON_READINGS, HostReader, Layout


def build(task, rand_vecs) -> tuple[list, list, list, dict]:
    """A task's reset table over its goals `rand_vecs` (cached): (f64 mjSTATE_INTEGRATION
    states, f64 readings, contexts {name: array}, overrides {(kind, name): f64[G, 3]})."""
    cached = load(task, rand_vecs)
    if cached is not None:
        return cached
    spec = {**COMMON_READINGS, **task.READINGS}
    sim = HostSim(task.scene)
    reader, size = HostReader(sim.model, spec), Layout.of(spec).size
    states, reads, contexts, overrides = [], [], [], []
    for rand_vec in rand_vecs:
        # metaworld runs reset_model, resets the data, and runs reset_model again.
        task.reset(sim, rand_vec)
        sim.reset_data()
        sim.overrides = {}
        ctx = task.reset(sim, rand_vec)
        r = np.zeros(size)
        reader.read(sim.data, r)
        states.append(sim.get_state())
        reads.append(r)
        contexts.append(ctx)
        overrides.append(dict(sim.overrides))
    overrides = {k: np.stack([o[k] for o in overrides]) for k in overrides[0]}
    save(task, rand_vecs, states, reads, contexts, overrides)
    return states, reads, contexts, overrides


def _dir() -> Path | None:
    where = os.environ.get("METAWORLD_JAX_CACHE", str(Path.home() / ".cache" / "metaworld_jax"))
    return None if where.lower() in ("off", "0", "") else Path(where)


def key(task, rand_vecs: np.ndarray) -> str:
    h = hashlib.sha256()
    for part in (
        task.name,
        inspect.getsource(inspect.getmodule(type(task))),
        *(inspect.getsource(inspect.getmodule(c)) for c in type(task).__mro__[1:] if c.__module__.startswith("metaworld_jax")),
        inspect.getsource(host_sim),
        inspect.getsource(readings),
        inspect.getsource(build),
        importlib.metadata.version("mujoco"),
        importlib.metadata.version("metaworld"),
    ):
        h.update(part.encode())
    h.update(np.ascontiguousarray(rand_vecs).tobytes())
    return h.hexdigest()[:32]


def load(task, rand_vecs):
    d = _dir()
    if d is None:
        return None
    path = d / f"{task.name}-{key(task, rand_vecs)}.npz"
    try:
        with np.load(path) as f:
            arrays = dict(f)
    except (OSError, ValueError):
        return None
    states, reads = arrays.pop("states"), arrays.pop("readings")
    contexts = {k[4:]: v for k, v in arrays.items() if k.startswith("ctx:")}
    overrides = {tuple(k[3:].split(":", 1)): v for k, v in arrays.items() if k.startswith("ov:")}
    return list(states), list(reads), [{k: v[g] for k, v in contexts.items()} for g in range(len(states))], overrides


def save(task, rand_vecs, states, reads, contexts, overrides) -> None:
    d = _dir()
    if d is None:
        return
    arrays = {"states": np.stack(states), "readings": np.stack(reads)}
    for k in contexts[0]:
        arrays[f"ctx:{k}"] = np.stack([np.asarray(c[k], np.float64) for c in contexts])
    for (kind, name), v in overrides.items():
        arrays[f"ov:{kind}:{name}"] = v
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, d / f"{task.name}-{key(task, rand_vecs)}.npz")
    except OSError:
        pass  # a cache that cannot be written is only slower
