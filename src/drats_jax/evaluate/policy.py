"""A run's policy, without its replay buffer: from a checkpoint of a run folder or from a
weights-only export, with the env and agent rebuilt from the run's saved config.json.

A *policy* is what ``agent.act(state, ..., deterministic=True)`` reads of an agent's state,
:data:`POLICY_FIELDS` (SAC and PPO: the actor's parameters), held in the agent's own state
type with every other field None (so act() runs unchanged, and fails loudly if it ever
reads more), with a leading seed axis. A checkpoint's policy is restored with orbax's
partial restore: the replay buffer, critics and optimiser states are never read.

An export (``python -m drats_jax.evaluate RUN --export PATH``) is a folder: ``weights/``
(orbax: the policy of the chosen seeds), ``config.json`` (the run's) and ``export.json``
(the source run and step, the run's seed index of each row, the checkpoints' fingerprint).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import jax
import numpy as np

from drats_jax import checkpoint, cli
from drats_jax.errors import one_line

POLICY_FIELDS = ("actor_params",)


@dataclasses.dataclass(frozen=True)
class Source:
    """A checked run folder or export: nothing is built or read beyond its small files."""

    path: pathlib.Path
    cfg: Any  # cli.RunConfig, as the run saved it
    step: int  # env steps per seed of the checkpoint (an export's: of the checkpoint it came from)
    seeds: tuple[int, ...]  # the run's seed index of each stored policy row
    export: bool


def open_source(path: str, step: int | None = None) -> Source:
    """Checks that ``path`` is a run folder with a checkpoint at ``step`` (None: its last) or
    an export (``step`` None or its own). Raises cli.UsageError (one line)."""
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise cli.UsageError(f"cannot evaluate {folder}: not a folder")
    if checkpoint.is_export(folder):
        try:
            meta = checkpoint.export_meta(folder)
            cfg = cli.load_config(folder, "evaluate")
            saved, seeds = int(meta["env_steps"]), tuple(int(s) for s in meta["seeds"])
        except (checkpoint.CheckpointError, KeyError, TypeError, ValueError) as exc:
            raise cli.UsageError(f"cannot evaluate {folder}: unreadable export ({one_line(exc)})") from None
        if step is not None and step != saved:
            raise cli.UsageError(f"export {folder} holds step {saved:,} only, not --step {step}")
        return Source(folder, cfg, saved, seeds, export=True)
    cfg = cli.load_config(folder, "evaluate")
    steps = _steps(folder)
    if not steps:
        raise cli.UsageError(f"cannot evaluate {folder}: no complete checkpoint in {folder / 'checkpoints'}")
    if step is not None and step not in steps:
        raise cli.UsageError(f"no checkpoint at step {step} in {folder}; its checkpoints: "
                             f"{', '.join(str(s) for s in steps)}")
    return Source(folder, cfg, steps[-1] if step is None else step, tuple(range(cfg.seeds)), export=False)


def _steps(folder: pathlib.Path) -> list[int]:
    """Steps of the complete checkpoints (orbax renames a step's folder to its number when done)."""
    ckpts = folder / "checkpoints"
    return sorted(int(p.name) for p in ckpts.iterdir() if p.is_dir() and p.name.isdigit()) if ckpts.is_dir() else []


@dataclasses.dataclass(frozen=True)
class Loaded:
    """A source's policy with the env and agent that run it."""

    source: Source
    env: Any
    agent: Any  # has act(policy, obs, task_id, rng, deterministic)
    policy: Any  # the agent's state type, POLICY_FIELDS only, leaves [seeds, ...]
    seeds: tuple[int, ...]  # the run's seed index of each row
    slots: int  # the run's env slots E: training evaluates in rounds of E episodes


def load(source: Source, seeds: tuple[int, ...] | None = None, backend: str | None = None) -> Loaded:
    """Rebuilds the run's env (on ``backend``, default the run's) and agent, and restores the
    policy of ``seeds`` (the run's seed indices; default all the source holds). Compiles
    nothing. Raises cli.UsageError (one line)."""
    import metaworld_jax  # noqa: PLC0415

    from drats_jax.agents import make_train  # noqa: PLC0415

    cfg = run_config(source, backend)
    cli.check_names(cfg)
    env = metaworld_jax.make(cfg.tasks, backend=cfg.backend, seed=cfg.env_seed, block_size=cfg.block_size)
    try:
        trainer = make_train(cfg.train, env)  # builds the agent; traces nothing
    except ValueError as exc:
        raise cli.UsageError(" ".join(str(exc).split())) from None
    one = jax.eval_shape(trainer.init, jax.random.PRNGKey(0)).agent  # shapes only, compiles nothing
    rows = len(source.seeds)
    part = {f: jax.tree.map(lambda x: jax.ShapeDtypeStruct((rows,) + x.shape, x.dtype), getattr(one, f))
            for f in POLICY_FIELDS}
    try:
        if source.export:
            values = checkpoint.load_export(source.path, part)
            _check_fingerprint(source)
        else:
            ckpt = checkpoint.Checkpointer(source.path / "checkpoints", source.cfg.keep_checkpoints,
                                           cli.fixed_config(source.cfg))
            try:
                _, values = ckpt.restore_part({"agent": part}, source.step)
            finally:
                ckpt.close()
            values = values["agent"]
    except checkpoint.CheckpointError as exc:
        raise cli.UsageError(str(exc)) from None
    chosen = source.seeds if seeds is None else tuple(seeds)
    index = [source.seeds.index(s) for s in chosen]
    values = jax.tree.map(lambda x: x[np.asarray(index)], values)
    empty = {f.name: None for f in dataclasses.fields(one) if f.name not in POLICY_FIELDS}
    return Loaded(source, env, trainer.agent, one.replace(**empty, **values), chosen, trainer.num_envs)


def run_config(source: Source, backend: str | None = None):
    """The run's config, on ``backend`` when given (with that backend's default block size:
    --block-size is for mjx/warp only)."""
    if backend is None or backend == source.cfg.backend:
        return source.cfg
    return dataclasses.replace(source.cfg, backend=backend, block_size=None)


def _check_fingerprint(source: Source) -> None:
    """The export's config.json is the one its checkpoint was written with."""
    want = checkpoint.export_meta(source.path).get("fingerprint")
    got = checkpoint.fingerprint(cli.fixed_config(source.cfg))
    if want != got:
        raise checkpoint.CheckpointError(f"export {source.path} does not match its {cli.CONFIG_FILE} "
                                         f"(fingerprint {got}, export {want})")


def export(loaded: Loaded, path: str) -> pathlib.Path:
    """Writes ``loaded``'s policy as a weights-only export at ``path`` (atomically; refuses an
    existing path with cli.UsageError)."""
    out = pathlib.Path(path)
    if out.exists():
        raise cli.UsageError(f"export {out} already exists; choose another path")
    if not out.parent.is_dir():
        raise cli.UsageError(f"export {out} cannot be written: {out.parent} is not a folder")
    cfg = loaded.source.cfg
    meta = {"source": str(loaded.source.path.absolute()), "env_steps": loaded.source.step,
            "seeds": list(loaded.seeds), "fingerprint": checkpoint.fingerprint(cli.fixed_config(cfg)),
            "fields": list(POLICY_FIELDS)}
    tree = {f: getattr(loaded.policy, f) for f in POLICY_FIELDS}
    try:
        checkpoint.save_export(out, tree, meta, {cli.CONFIG_FILE: json.dumps(cli.to_dict(cfg), indent=2) + "\n"})
    except OSError as exc:
        raise cli.UsageError(f"export {out} cannot be written: {one_line(exc)}") from None
    return out
