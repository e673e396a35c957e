"""``python -m drats_jax.evaluate RUN_DIR``: evaluate, film or export a run's policy.

    python -m drats_jax.evaluate runs/mt10-drats-...                 # last checkpoint, the run's settings
    python -m drats_jax.evaluate RUN --step 250000 --episodes 10 --tasks reach-v3,push-v3 --seed 0
    python -m drats_jax.evaluate RUN --out eval.json --video videos/  # JSON results; one MP4 per task
    python -m drats_jax.evaluate RUN --export policy/                 # weights-only export, then exit
    python -m drats_jax.evaluate policy/                              # an export evaluates the same

It loads the policy of a checkpoint without its replay buffer (:mod:`.policy`), rebuilds the
env and agent from the run's config.json and runs MetaWorld's evaluation protocol
(:func:`.protocol.make_evaluate` in rounds of the run's E slots, the episodes and policy
batches training evaluates with inside its own program): by default the last
checkpoint, the run's ``--eval-episodes`` and every seed, which reproduces the run's last row
of eval.csv per seed, value for value (on the run's backend; a run trained on several devices
split its evaluation episodes over them and agrees to float rounding; ``--seed`` alone too,
see its help). It prints the
per-task table (means over seeds) and with ``--out`` writes JSON: ``tasks`` (each task's
success, return and full-length return, means over seeds), the seed means of mean / worst-task
success and normalised returns, and ``per_seed`` (one row per seed with eval.csv's keys).

``--video DIR``: one MP4 per task of the first ``--video-episodes`` episodes of the first
evaluated seed (:mod:`.video`; MuJoCo's renderer: EGL on GPU nodes, OSMesa on CPUs). Where no
OpenGL context can be made one line says what to install and everything else still runs.

Bad input (not a run folder, no checkpoint, unknown step, task or seed, unreadable export)
gets one line and exit code 2 before anything compiles.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
from dataclasses import dataclass
from typing import Annotated, Literal

import tyro

from drats_jax import cli

PROG = "python -m drats_jax.evaluate"


def _default(text: str):
    """tyro's help hint for an option whose None means ``text``."""
    return tyro.conf.arg(help_behavior_hint=f"(default: {text})")


@dataclass(frozen=True)
class EvaluateArgs:
    """Evaluate a run's checkpoint (or an export) with MetaWorld's protocol; film or export it."""

    # A run folder (python -m drats_jax.train --out) or an export (--export).
    run: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="RUN_DIR")]
    # Checkpoint to load, in env steps per seed.
    step: Annotated[int | None, _default("the last")] = None
    # Evaluate only these of the run's tasks: a comma list, e.g. reach-v3,push-v3.
    tasks: Annotated[str | None, _default("all")] = None
    # Episodes per task; episode k uses goal k % 50.
    episodes: Annotated[int | None, _default("the run's --eval-episodes")] = None
    # Only this seed of the run, 0..seeds-1. One seed alone matches its row of the run's eval.csv up
    # to float rounding (a program over one seed rounds the policy's matrix products differently).
    seed: Annotated[int | None, _default("every seed")] = None
    # Physics backend; another one than the run's does not reproduce its numbers.
    backend: Annotated[cli.Backend | None, _default("the run's")] = None
    # Write the results as JSON to this file.
    out: Annotated[str | None, _default("none")] = None
    # Write one MP4 per task into this folder.
    video: Annotated[str | None, _default("none")] = None
    # Episodes per task in each video (the first ones of the protocol).
    video_episodes: int = 2
    # Video frame size WIDTHxHEIGHT, multiples of 16.
    video_size: str = "480x480"
    # Render every N-th step (80 / N frames per second: real time).
    video_stride: int = 2
    # Camera of the MetaWorld scenes.
    video_camera: Literal["corner", "corner2", "corner3", "corner4", "topview", "behindGripper", "gripperPOV"] = "corner2"
    # Write a weights-only export (the policy and the run's config) to this new folder and exit.
    export: Annotated[str | None, _default("none")] = None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = cli.run_tyro(EvaluateArgs, argv, PROG, EvaluateArgs.__doc__)
        size = no_video = None
        if args.video is not None:
            from drats_jax.evaluate import video  # noqa: PLC0415

            size = _checked(video.parse_size, args.video_size)
            no_video = video.choose_gl()  # before anything imports mujoco
        cli.setup_compile_cache()
        loaded, task_ids, episodes = _prepare(args)
    except cli.UsageError as exc:
        print(f"drats_jax.evaluate: error: {exc}", file=sys.stderr)
        return 2
    if args.export is not None:
        from drats_jax.evaluate import policy  # noqa: PLC0415

        try:
            out = policy.export(loaded, args.export)
        except cli.UsageError as exc:
            print(f"drats_jax.evaluate: error: {exc}", file=sys.stderr)
            return 2
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        print(f"exported the policy of {loaded.source.path} at {loaded.source.step:,} env steps, seed(s) "
              f"{', '.join(map(str, loaded.seeds))}, to {out} ({size / 1e6:.2f} MB); "
              f"evaluate it with: {PROG} {out}")
        return 0
    if args.video is not None and no_video is None:
        try:
            video.check_writer()
        except video.VideoUnavailable as exc:
            no_video = str(exc)
    if no_video is not None:  # said now, before the evaluation runs
        print(f"drats_jax.evaluate: no videos: {no_video}", file=sys.stderr)
    record = min(args.video_episodes, episodes) if args.video is not None and no_video is None else 0
    report, recorded = evaluate(loaded, task_ids, episodes, record)
    print_table(report)
    if args.video is not None:
        report["videos"] = _videos(loaded, recorded, args, size, no_video)
    if args.out is not None:
        _write_json(pathlib.Path(args.out), report)
        print(f"results: {args.out}")
    return 0


def _prepare(args: EvaluateArgs):
    """Every check of the command line, then the env, agent and policy (compiles nothing)."""
    from drats_jax.evaluate import policy  # noqa: PLC0415

    for name in ("episodes", "video_episodes", "video_stride"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise cli.UsageError(f"--{name.replace('_', '-')} must be > 0, got {value}")
    source = policy.open_source(args.run, args.step)
    names = cli.check_names(policy.run_config(source, args.backend))  # the run's tasks, in its order
    wanted = names if args.tasks is None else tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    unknown = [t for t in wanted if t not in names]
    if unknown or not wanted:
        raise cli.UsageError(f"unknown task(s) {', '.join(map(repr, unknown)) or repr(args.tasks)} for this run; "
                             f"its tasks: {', '.join(names)}")
    if args.seed is not None and args.seed not in source.seeds:
        raise cli.UsageError(f"--seed {args.seed} is not in {source.path}; its seeds: "
                             f"{', '.join(map(str, source.seeds))}")
    for path, what in ((args.out, "--out"), (args.export, "--export")):
        if path is not None and not pathlib.Path(path).absolute().parent.is_dir():
            raise cli.UsageError(f"{what} {path}: {pathlib.Path(path).absolute().parent} is not a folder")
    if args.export is not None and pathlib.Path(args.export).exists():
        raise cli.UsageError(f"export {args.export} already exists; choose another path")
    seeds = None if args.seed is None else (args.seed,)
    loaded = policy.load(source, seeds, args.backend)
    if args.video is not None:
        from metaworld_jax.render import check_camera  # noqa: PLC0415

        _checked(lambda camera: check_camera(loaded.env, camera), args.video_camera)
    episodes = source.cfg.eval_episodes if args.episodes is None else args.episodes
    return loaded, [names.index(t) for t in wanted], episodes


def _checked(parse, text):
    try:
        return parse(text)
    except ValueError as exc:
        raise cli.UsageError(str(exc)) from None


def evaluate(loaded, task_ids: list[int], episodes: int, record: int = 0) -> tuple[dict, dict | None]:
    """Runs the protocol on every loaded seed (jit(vmap) as training does) -> (report, the
    first seed's recorded episodes as numpy, or None)."""
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    from drats_jax.evaluate import protocol  # noqa: PLC0415
    from drats_jax.logger import per_seed_rows  # noqa: PLC0415

    env, src = loaded.env, loaded.source
    names = tuple(env.task_names[i] for i in task_ids)
    # In rounds of the run's E slots, as training evaluates (the policy on the same batches).
    run = protocol.make_evaluate(env, loaded.agent, episodes, tasks=task_ids, record=record, slots=loaded.slots)
    result = jax.device_get(jax.jit(jax.vmap(run))(loaded.policy))
    recorded = result.pop("recorded", None)
    if recorded is not None:
        recorded = jax.tree.map(lambda x: np.asarray(x[0]), recorded)
    summary = protocol.summarize(result, protocol.return_scale(env))
    rows = [{"env_steps": src.step, "seed": s, **r}
            for s, r in zip(loaded.seeds, per_seed_rows({**summary, **result}, names))]
    report = {"run": str(src.path), "source": "export" if src.export else "checkpoint", "env_steps": src.step,
              "backend": env.backend.name, "episodes": episodes, "seeds": list(loaded.seeds),
              **{k: float(np.mean(v)) for k, v in summary.items()},
              "tasks": {t: {k: float(np.mean(result[k][:, i])) for k in result} for i, t in enumerate(names)},
              "per_seed": rows}
    return report, recorded


def print_table(report: dict) -> None:
    """The per-task table (means over the evaluated seeds) and the summary line."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    print(f"{report['run']} at {report['env_steps']:,} env steps: {report['episodes']} episodes per task, "
          f"seed(s) {', '.join(map(str, report['seeds']))}, backend {report['backend']}")
    table = Table()
    for column in ("task", "success", "return", "full return"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for name, r in report["tasks"].items():
        table.add_row(name, f"{r['success']:.3f}", f"{r['return']:.1f}", f"{r['return_full']:.1f}")
    table.add_section()
    table.add_row("mean", f"{report['mean_success']:.3f}", f"{report['mean_return']:.1f}", "")
    table.add_row("worst task", f"{report['worst_success']:.3f}", "", "")
    Console().print(table)


def _videos(loaded, recorded, args: EvaluateArgs, size, no_video: str | None) -> dict:
    """Writes the MP4s, or says in one line why not (unless said already: ``no_video``);
    -> the report's "videos" entry."""
    from metaworld_jax.render import RenderUnavailable  # noqa: PLC0415

    from drats_jax.evaluate import video  # noqa: PLC0415

    entry = {"folder": args.video, "seed": loaded.seeds[0]}
    if no_video is not None:
        return {**entry, "error": no_video}
    try:
        entry["tasks"] = video.write_videos(loaded.env, recorded, pathlib.Path(args.video), size=size,
                                            camera=args.video_camera, stride=args.video_stride)
    except (RenderUnavailable, video.VideoUnavailable, ValueError) as exc:  # e.g. mujoco imported before choose_gl
        print(f"drats_jax.evaluate: no videos: {exc}", file=sys.stderr)
        return {**entry, "error": str(exc)}
    frames = sum(v["frames"] for v in entry["tasks"].values())
    print(f"videos: {len(entry['tasks'])} MP4 file(s) of seed {entry['seed']}, {frames} frames, in {args.video}")
    return entry


def _write_json(path: pathlib.Path, report: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
