"""Checkpoints of the complete TrainState with orbax-checkpoint.

One checkpoint = the whole ``TrainState`` pytree (networks, optimiser states, replay
buffer, sampler and task statistics, env states, RNG, step counters; with a leading seed
axis) plus a small JSON ``meta`` item (the config fingerprint and env steps). Steps are
env steps per seed.

Atomicity: orbax's CheckpointManager writes each step into
``<step>.orbax-checkpoint-tmp-<n>`` and renames it to ``<step>`` only when everything is
written (``AtomicRenameTemporaryPath``, the default); unfinished tmp folders are never
listed as steps, so a run killed mid-save resumes from the previous complete checkpoint.
Saving is synchronous so no write is in flight when the next chunk donates the state.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


class CheckpointError(Exception):
    """A checkpoint that cannot be used (incompatible or unreadable); message is one line."""


def fingerprint(config: dict) -> str:
    """Stable hash of the parts of a config that fix the TrainState's meaning."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


class Checkpointer:
    """Saves / restores TrainStates under ``folder`` (keeps the last ``keep``)."""

    def __init__(self, folder: pathlib.Path, keep: int, config: dict):
        self.folder = pathlib.Path(folder).absolute()
        self.config = config
        self.fingerprint = fingerprint(config)
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False)
        self.manager = ocp.CheckpointManager(self.folder, options=options, item_names=("state", "meta"))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: Any) -> None:
        meta = {"env_steps": int(step), "fingerprint": self.fingerprint, "config": self.config}
        self.manager.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                               meta=ocp.args.JsonSave(meta)))
        self.manager.wait_until_finished()

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[int, Any]:
        """-> (step, state). ``abstract_state``: jax.eval_shape of the TrainState (no compile);
        leaves that are ShapeDtypeStructs with shardings restore as arrays sharded that way.

        Raises CheckpointError if there is none, it was written by another config, or it
        cannot be read back whole with the expected structure, shapes and dtypes.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no complete checkpoint in {self.folder}")
        where = self.folder / str(step)
        try:
            meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        except Exception as exc:  # noqa: BLE001  any failure = unreadable
            raise CheckpointError(f"checkpoint {where} is unreadable: {_one_line(exc)}") from None
        if not isinstance(meta, dict) or meta.get("fingerprint") != self.fingerprint:
            raise CheckpointError(f"checkpoint {where} was written by an incompatible config "
                                  f"(fingerprint {meta.get('fingerprint') if isinstance(meta, dict) else None}, "
                                  f"this run {self.fingerprint})")
        try:
            restored = self.manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state)))["state"]
            # Sharded targets (a mesh run) come back as sharded jax arrays, in place; np.asarray
            # would fail for arrays spanning other processes.
            sharded = any(getattr(a, "sharding", None) is not None for a in jax.tree.leaves(abstract_state))
            state = restored if sharded else jax.tree.map(np.asarray, restored)
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(f"checkpoint {where} is unreadable or corrupt: {_one_line(exc)}") from None
        want = jax.tree.structure(abstract_state)
        got = jax.tree.structure(state)
        if want != got:
            raise CheckpointError(f"checkpoint {where} has another state structure than this run")
        for a, b in zip(jax.tree.leaves(abstract_state), jax.tree.leaves(state)):
            if tuple(a.shape) != tuple(b.shape) or np.dtype(a.dtype) != b.dtype:
                raise CheckpointError(f"checkpoint {where} does not match this run: array {b.shape} {b.dtype}, "
                                      f"expected {a.shape} {a.dtype}")
        return int(step), state

    def close(self) -> None:
        self.manager.close()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "...") if len(text) > 300 else (text or type(exc).__name__)
