"""The device mesh of a run: axes ``('seed', 'data')``, parsed from ``--mesh seed=S,data=D``.

- ``seed``: independent seeds (the vmapped seed axis) split over S devices. Each device runs
  its seeds exactly as the one-device vmapped program does (bit for bit).
- ``data``: one run's E env slots and its replay ring split over D devices (E/D slots,
  capacity/D rows, batch/D sampled rows each). Parameters, optimiser states, the sampler
  and the task statistics are replicated; :class:`DataAxis` holds the collectives the
  learners use for that (gather per-slot vectors, slice global draws, average gradients).

A mesh of one device (or ``None``) is today's one-device program unchanged. The whole
vector step stays one program: ``jax.jit(jax.shard_map(vmapped fn))`` with every axis
manual (:func:`shard`). ``check_vma=False``: with it on, ``jax.grad`` of a replicated
parameter over per-device data already sums over ``data`` and a ``pmean`` on top gives D x
the mean (docs/distributed.md); with it off, :meth:`DataAxis.mean` is the one reduction.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import jax
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXES = ("seed", "data")


@dataclasses.dataclass(frozen=True)
class MeshSpec:
    """seed: devices the seeds are split over (S); data: devices one run is split over (D)."""

    seed: int = 1
    data: int = 1

    @property
    def size(self) -> int:
        return self.seed * self.data

    def __str__(self) -> str:
        return f"seed={self.seed},data={self.data}"


# --mesh seeds-first: as many devices on `seed` as the seeds allow (gcd(seeds, devices)), the
# rest on `data`: independent seeds need no communication, so they scale best (the GPU presets).
SEEDS_FIRST = "seeds-first"


def parse(text: str | None, device_count: int, seeds: int = 1) -> MeshSpec:
    """``"seed=S,data=D"`` (either may be left out: 1) -> MeshSpec. None or "": the default,
    every device on ``data``; SEEDS_FIRST: seed=gcd(seeds, devices), data=devices/seed.
    Raises ValueError (one line) on bad input."""
    if not text:
        return MeshSpec(1, device_count)
    if text == SEEDS_FIRST:
        on_seed = math.gcd(seeds, device_count)
        return MeshSpec(on_seed, device_count // on_seed)
    sizes = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in AXES:
            raise ValueError(f"--mesh {text!r}: expected axes seed=S,data=D, got {part.strip()!r}"
                             if sep else f"--mesh {text!r}: expected NAME=SIZE, got {part.strip()!r}")
        if name in sizes:
            raise ValueError(f"--mesh {text!r}: axis {name!r} given twice")
        if not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"--mesh {text!r}: {name} must be a positive integer, got {value.strip()!r}")
        sizes[name] = int(value)
    return MeshSpec(**sizes)


def validate_devices(spec: MeshSpec, *, device_count: int, seeds: int, eval_episodes: int) -> None:
    """The mesh against the devices jax sees, --seeds and --eval-episodes; ValueError (one line)."""
    if spec.size != device_count:
        raise ValueError(f"--mesh {spec} uses {spec.size} devices; jax sees {device_count}")
    if seeds % spec.seed:
        raise ValueError(f"--mesh seed={spec.seed} must divide --seeds {seeds}")
    if eval_episodes % spec.data:
        raise ValueError(f"--mesh data={spec.data} must divide the evaluation episodes per task "
                         f"(--eval-episodes {eval_episodes})")


def validate_sizes(spec: MeshSpec, *, num_envs: int, task_block: int, algo: str, batch_size: int,
                   buffer_capacity: int, rings: int, minibatch: int) -> None:
    """Every size the data axis splits must split evenly; ValueError (one line) naming the
    first that does not. Called by make_train before anything is traced. ``rings``: replay
    rings (1 or N); ``minibatch``: PPO transitions per minibatch (ignored for SAC)."""
    d = spec.data
    if d == 1:
        return
    checks = [("num_envs (env slots)", num_envs)]
    if algo == "sac":
        checks += [("sac.batch_size", batch_size),
                   (f"buffer_capacity per ring ({rings} ring(s))", buffer_capacity // rings)]
    else:
        checks += [("the PPO minibatch (transitions)", minibatch)]
    for what, value in checks:
        if value % d:
            raise ValueError(f"--mesh data={d} must divide {what} = {value}")
    if (num_envs // d) % task_block:
        raise ValueError(f"--mesh data={d}: slots per device ({num_envs // d}) must be a multiple of "
                         f"task_block ({task_block})")
    if algo == "sac" and rings > 1 and buffer_capacity // rings // d < num_envs // d:
        raise ValueError(f"--mesh data={d}: each device's per-task ring ({buffer_capacity // rings // d} rows) "
                         f"is smaller than its slots ({num_envs // d})")


def make_mesh(spec: MeshSpec, devices: Any = None) -> Mesh:
    """The (seed, data) Mesh over ``devices`` (default: all of jax.devices(), in order)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices[: spec.size]).reshape(spec.seed, spec.data), AXES)


@dataclasses.dataclass(frozen=True)
class DataAxis:
    """The collectives over ``data`` a learner uses inside the sharded program. size 1: every
    method is the identity (no collective), so the one-device program is unchanged."""

    size: int = 1
    name: str = "data"

    def gather(self, x: jax.Array) -> jax.Array:
        """Per-device x[E_local, ...] -> global x[E, ...] (device order = slot order)."""
        return x if self.size == 1 else lax.all_gather(x, self.name, tiled=True)

    def local(self, x: jax.Array) -> jax.Array:
        """Global x[E, ...] (replicated) -> this device's slots x[E/D, ...]: per-slot randomness
        is drawn globally and sliced, so each slot sees the one-device draw."""
        if self.size == 1:
            return x
        n = x.shape[0] // self.size
        return lax.dynamic_slice_in_dim(x, lax.axis_index(self.name) * n, n)

    def mean(self, tree):
        """pmean over data: gradients and learner metrics (replicated afterwards)."""
        return tree if self.size == 1 else lax.pmean(tree, self.name)

    def sum(self, tree):
        return tree if self.size == 1 else lax.psum(tree, self.name)

    def fold(self, key: jax.Array) -> jax.Array:
        """A per-device key (replay sampling, per-device noise)."""
        return key if self.size == 1 else jax.random.fold_in(key, lax.axis_index(self.name))


def specs(seeds: bool, sharded: bool) -> P:
    """PartitionSpec of a state leaf: leading seed axis (when vmapped over seeds), then the
    data axis for per-device leaves (env slots, replay rows)."""
    axes = (("seed",) if seeds else ()) + (("data",) if sharded else ())
    return P(*axes)


def shard(fn: Callable, mesh: Mesh, in_specs, out_specs, donate: bool = False):
    """jax.jit(jax.shard_map(fn)) with every axis manual; donates argument 0 if asked."""
    mapped = jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)
    return jax.jit(mapped, donate_argnums=0 if donate else ())


def shardings(mesh: Mesh, spec_prefix, tree):
    """NamedShardings for every leaf of ``tree`` from a prefix tree of PartitionSpecs."""
    return jax.tree.map(lambda spec, sub: jax.tree.map(lambda _: NamedSharding(mesh, spec), sub),
                        spec_prefix, tree, is_leaf=lambda x: isinstance(x, P))
