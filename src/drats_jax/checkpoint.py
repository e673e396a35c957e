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

Reading a part: :meth:`Checkpointer.restore_part` restores only the leaves it is given (orbax's
partial restore), e.g. the actor's parameters without the replay buffer. A weights-only
*export* (:func:`save_export` / :func:`load_export`) is a folder with such a part as its own
orbax checkpoint, a JSON ``meta`` and the files needed to use it (the run's config.json).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
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
        step, where = self._check_meta(step)
        try:
            restored = self.manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state)))["state"]
            # Sharded targets (a mesh run) come back as sharded jax arrays, in place; np.asarray
            # would fail for arrays spanning other processes.
            sharded = any(getattr(a, "sharding", None) is not None for a in jax.tree.leaves(abstract_state))
            state = restored if sharded else jax.tree.map(np.asarray, restored)
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(f"checkpoint {where} is unreadable or corrupt: {_one_line(exc)}") from None
        check_matches(where, abstract_state, state)
        return int(step), state

    def restore_part(self, part: Any, step: int | None = None) -> tuple[int, Any]:
        """-> (step, values of ``part``'s leaves) as numpy, reading nothing else (orbax's partial
        restore). ``part``: a subtree of the abstract TrainState as nested dicts keyed by the
        state's field names, e.g. {"agent": {"actor_params": ...}}. Raises CheckpointError as
        :meth:`restore` does."""
        step, where = self._check_meta(step)
        try:
            args = ocp.args.PyTreeRestore(item=part, restore_args=ocp.checkpoint_utils.construct_restore_args(part),
                                          partial_restore=True)
            state = jax.tree.map(np.asarray, self.manager.restore(step, args=ocp.args.Composite(state=args))["state"])
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(f"checkpoint {where} is unreadable or corrupt: {_one_line(exc)}") from None
        check_matches(where, part, state)
        return int(step), state

    def _check_meta(self, step: int | None) -> tuple[int, pathlib.Path]:
        """(step, its folder) once its meta says this config wrote it; else CheckpointError."""
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
        return step, where

    def close(self) -> None:
        self.manager.close()


def check_matches(where: Any, abstract: Any, tree: Any) -> None:
    """CheckpointError unless ``tree`` has ``abstract``'s structure, shapes and dtypes."""
    if jax.tree.structure(abstract) != jax.tree.structure(tree):
        raise CheckpointError(f"checkpoint {where} has another state structure than this run")
    for a, b in zip(jax.tree.leaves(abstract), jax.tree.leaves(tree)):
        if tuple(a.shape) != tuple(b.shape) or np.dtype(a.dtype) != b.dtype:
            raise CheckpointError(f"checkpoint {where} does not match this run: array {b.shape} {b.dtype}, "
                                  f"expected {a.shape} {a.dtype}")


EXPORT_META = "export.json"
_WEIGHTS = "weights"


def save_export(path: pathlib.Path, tree: Any, meta: dict, files: dict[str, str]) -> None:
    """Writes a weights-only export: folder ``path`` with ``weights/`` (orbax: the pytree
    ``tree``), ``export.json`` (``meta`` and the SHA-256 of every weights file) and ``files``
    ({name: text}). Built in a hidden sibling folder and renamed, so ``path`` is either
    complete or absent."""
    path = pathlib.Path(path).absolute()
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as ckptr:
            ckptr.save(tmp / _WEIGHTS, args=ocp.args.StandardSave(tree))
        meta = {**meta, "sha256": _digests(tmp)}
        for name, text in {**files, EXPORT_META: json.dumps(meta, indent=2) + "\n"}.items():
            (tmp / name).write_text(text)
        os.rename(tmp, path)  # fails if path exists: an export is never overwritten
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def is_export(path: pathlib.Path) -> bool:
    return (pathlib.Path(path) / EXPORT_META).is_file()


def export_meta(path: pathlib.Path) -> dict:
    """An export's ``meta``; CheckpointError (one line) if it cannot be read."""
    try:
        meta = json.loads((pathlib.Path(path) / EXPORT_META).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"export {path} is unreadable: {_one_line(exc)}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"export {path} is unreadable: {EXPORT_META} is not an object")
    return meta


def _digests(folder: pathlib.Path) -> dict[str, str]:
    """{path relative to folder: SHA-256} of every file under folder/weights."""
    files = sorted(f for f in (folder / _WEIGHTS).rglob("*") if f.is_file())
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def load_export(path: pathlib.Path, abstract: Any) -> Any:
    """The pytree of an export, as numpy, checked against ``abstract`` (CheckpointError, one line).

    Its files are checked against their SHA-256 first: a damaged byte is caught before orbax
    reads anything (a damaged value could read back without error), and no read fails
    half-way (orbax's reader threads then print tracebacks after the failure)."""
    folder = pathlib.Path(path).absolute()
    where = folder / _WEIGHTS
    want = export_meta(path).get("sha256")
    if not isinstance(want, dict) or not want:
        raise CheckpointError(f"export {path} is unreadable: {EXPORT_META} lists no weights files")
    try:
        got = _digests(folder)
    except OSError as exc:
        raise CheckpointError(f"export {path} is unreadable: {_one_line(exc)}") from None
    bad = sorted(set(want) ^ set(got) | {f for f in set(want) & set(got) if want[f] != got[f]})
    if bad:
        raise CheckpointError(f"export {path} is corrupt: {len(bad)} file(s) missing, extra or changed, "
                              f"e.g. {bad[0]}")
    try:
        with ocp.Checkpointer(ocp.StandardCheckpointHandler()) as ckptr:
            tree = jax.tree.map(np.asarray, ckptr.restore(where, args=ocp.args.StandardRestore(abstract)))
    except Exception as exc:  # noqa: BLE001  any failure = unreadable
        raise CheckpointError(f"export {path} is unreadable or corrupt: {_one_line(exc)}") from None
    check_matches(where, abstract, tree)
    return tree


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "...") if len(text) > 300 else (text or type(exc).__name__)
