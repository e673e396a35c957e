"""Command-line configuration of a training run: parsing, validation, saving, resume checks.

The config dataclasses are the single source of truth: :class:`RunConfig` (this module:
what to train on, where to write, how often to evaluate and checkpoint) wraps the
trainer's :class:`~drats_jax.config.TrainConfig`. ``tyro`` turns them into flags (help
texts are the field comments); :func:`cpu_default` is the default run, sized for a 2-core
CPU. Every user error is raised as :class:`UsageError` with a one-line message, before
anything is compiled (:class:`~drats_jax.errors.UsageError`, also importable from here);
``python -m drats_jax.train`` prints it and exits with code 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import pathlib
import re
import sys
import time
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import tyro

from drats_jax.config import PPOConfig, SACConfig, SamplerConfig, TrainConfig
from drats_jax.errors import UsageError, one_line  # cli.UsageError: the same class, for callers of cli
from drats_jax.flags import flag_value, flatten

CONFIG_FILE = "config.json"
# How this process joins a multi-process run (drats_jax.distributed): not part of the run itself.
PROCESS_FIELDS = ("coordinator", "num_processes", "process_id", "coordinator_timeout")
# RunConfig fields that may change when resuming (they do not change what is computed).
RESUMABLE_CHANGES = ("out", "resume", "progress", "wandb", "wandb_project", "checkpoint_interval",
                     "keep_checkpoints", "gpu_memory_fraction") + PROCESS_FIELDS


def cpu_train_config() -> TrainConfig:
    """Trainer defaults of the CLI: MT10 in about 12 minutes on a 2-core CPU (docs/example-run/).

    The reference MTSAC's ratio of one gradient step per vector step of one slot per task,
    with a network and batch a 2-core CPU can afford (2 x 256, batch 256: ~8 ms per gradient
    step here, against ~145 ms for the reference's 3 x 400 and batch 1280), 500k env steps,
    a random warm-up of 1,000 env steps per task and a sampler window of 5,000 env steps per
    task (on MT10 10k and 50k: 5 episodes per task per window on average, 10 windows in the
    run; a task at the floor 1/(4N) gets 2.5 per window on any N). Chosen from measured
    candidates: see docs/example-run/README.md. The window and warm-up scale with N and are
    resolved (and saved in config.json) when the run starts.
    """
    return TrainConfig(
        num_envs=10, total_env_steps=500_000, warmup_per_task=1_000, buffer_capacity=500_000, chunk_length=500,
        updates_per_step=1, sac=SACConfig(hidden_width=256, hidden_depth=2, batch_size=256),
        sampler=SamplerConfig(interval_per_task=5_000),
    )


# The choices of --preset and --backend (tyro lists them; tests check they match PRESETS and
# metaworld_jax.backends.BACKENDS).
PresetName = Literal["drats-paper-mt10", "drats-paper-mt50", "mtsac-mt10", "gpu-mt10", "gpu-mt50"]
Backend = Literal["mujoco", "mjx", "warp"]


@dataclass(frozen=True)
class RunConfig:
    """A training run from the command line."""

    # Start from a named setting (flags given with it still override it): drats-paper-mt10 and
    # drats-paper-mt50 are the DRATS paper's runs (PPO, sampler, budget); gpu-mt10 and gpu-mt50
    # multi-task SAC at GPU scale (thousands of slots, large batches; see PRESETS, docs/gpu.md);
    # mtsac-mt10 the reference MTSAC's MT10 setting.
    preset: PresetName | None = None
    # Tasks: mt10, mt50, a task (reach-v3) or a comma list (reach-v3,push-v3).
    tasks: str = "mt10"
    # Physics backend: mujoco (C MuJoCo, CPU), mjx (MJX-JAX, GPU/TPU), warp (MJX-Warp, NVIDIA GPU).
    # None: the machine's default, warp where JAX sees a GPU (drats_jax.devices.GPU_BACKEND), else mujoco.
    backend: Backend | None = None
    # mjx/warp: consecutive slots stepped as one scene (None: the backend's default, 128).
    block_size: int | None = None
    # Independent seeds, vmapped in one program (seed s uses split(PRNGKey(--seed), N)[s]).
    seeds: int = 1
    # Devices: seed=S,data=D (S x D = the devices jax sees). seed splits --seeds over devices;
    # data splits one run's env slots, replay ring, batch and evaluation episodes. Default:
    # every device on data when there is more than one; seeds-first: seed=gcd(seeds, devices), the
    # rest on data. Fixed for a run (resume on the same mesh).
    mesh: str | None = None
    # Run folder (default: runs/<tasks>-<sampler>-<date-time>); must not exist unless resuming.
    out: str | None = None
    # Resume the run in this folder from its last checkpoint (reads its saved config).
    resume: str | None = None
    # Benchmark seed fixing the 50 goals of every task (as metaworld.MT10(seed)).
    env_seed: int = 0
    # Evaluation episodes per task (MetaWorld protocol: 50; episode k uses goal k % 50).
    eval_episodes: int = 50
    # Env steps (per seed) between evaluations; 0: evaluate only at the end.
    eval_interval: int = 125_000
    # Env steps (per seed) between checkpoints; 0: only at the end.
    checkpoint_interval: int = 125_000
    # Checkpoints kept (the last K).
    keep_checkpoints: int = 2
    # Show a live progress bar.
    progress: bool = True
    # Also log to Weights & Biases (needs wandb installed).
    wandb: bool = False
    # Weights & Biases project.
    wandb_project: str = "drats-jax"
    # Multi-process run: HOST:PORT of process 0's coordinator, with --num-processes and --process-id
    # (all three or none; without them SLURM's or Open MPI's variables are read: drats_jax.distributed).
    coordinator: str | None = None
    # Multi-process run: number of processes, each started with the same command.
    num_processes: int | None = None
    # Multi-process run: this process's index, 0..num-processes-1 (process 0 hosts the coordinator).
    process_id: int | None = None
    # Multi-process run: seconds to reach the coordinator and for all processes to join.
    coordinator_timeout: float = 60.0
    # GPU only: JAX takes GPU memory as it needs it, at most this share (no preallocation), leaving
    # the rest to MJX-Warp; set before JAX starts (variables already in the environment win).
    # None: JAX's defaults (it takes 75% of GPU memory at start).
    gpu_memory_fraction: float | None = None
    # Trainer hyperparameters.
    train: TrainConfig = field(default_factory=cpu_train_config)

    def __post_init__(self) -> None:
        from drats_jax.mesh import SEEDS_FIRST  # noqa: PLC0415

        if self.mesh is not None and self.mesh != SEEDS_FIRST:  # one spelling per mesh; one device: None
            from drats_jax.mesh import parse  # noqa: PLC0415

            spec = parse(self.mesh, 1)
            object.__setattr__(self, "mesh", None if spec.size == 1 else str(spec))
        for name in ("seeds", "eval_episodes", "keep_checkpoints"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        for name in ("eval_interval", "checkpoint_interval"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.gpu_memory_fraction is not None and not 0 < self.gpu_memory_fraction <= 1:
            raise ValueError(f"--gpu-memory-fraction must be in (0, 1], got {self.gpu_memory_fraction}")


def drats_paper(suite: str) -> "RunConfig":
    """The DRATS paper's MetaWorld runs, as its authors' code runs them (docs/drats.md):
    multi-head PPO 3x400, Adam 5e-4, clip 0.2, GAE 0.97 bootstrapping only at the rollout's
    end, gamma 0.99, 16 epochs x 32 minibatches, target KL 0.05 checked at 1.5 x and keeping
    the step that crossed it, entropy 0.01 (MT10) / 0.03 (MT50), value-loss weight 0.001,
    advantages normalised per task inside each minibatch; one slot per task; DRATS with eta 8,
    step lr / eta with lr 0.5 (alpha follows --train.sampler.eta), floor 1 / (4N), q updated
    after every rollout of 10,000 vector steps; 100M env steps evaluated every 2M (MT10), 500M
    every 10M (MT50)."""
    mt10 = suite == "mt10"
    ppo = PPOConfig(entropy_coef=0.01 if mt10 else 0.03, value_coef=0.001, advantage_norm="per_task_minibatch",
                    bootstrap_truncation="rollout_end", kl_stop_factor=1.5, kl_stop_keeps_step=True)
    train = TrainConfig(
        algo="ppo", num_envs=None, total_env_steps=100_000_000 if mt10 else 500_000_000, ppo=ppo,
        sampler=SamplerConfig(name="drats", eta=8.0, alpha=None, eps=None, interval=None, lp_solved="pin"))
    every = 2_000_000 if mt10 else 10_000_000
    return RunConfig(preset=f"drats-paper-{suite}", tasks=suite, eval_interval=every, checkpoint_interval=every,
                     train=train)


def mtsac_reference() -> "RunConfig":
    """The reference MTSAC's MT10 setting (rainx0r/metaworld-algorithms' MTSAC MT10 example, the
    learner MetaWorld results are usually compared with): ``TrainConfig()`` as it is (3x400
    networks, batch 1280, one gradient step per vector step of one slot per task, 1M replay,
    4,000 x N warm-up, 20M env steps) with the reference's task allocation and replay sampling:
    uniform task sampling and an equal share of every batch per task. ``--sampler drats`` (and
    ``--train.buffer-sampling uniform``, so the allocation reaches the updates) runs DRATS at the
    reference's learner settings. Evaluated and checkpointed every 500k env steps (our choice)."""
    train = TrainConfig(buffer_sampling="per_task", sampler=SamplerConfig(name="uniform"))
    return RunConfig(preset="mtsac-mt10", tasks="mt10", eval_interval=500_000, checkpoint_interval=500_000,
                     train=train)


PRESETS = {"drats-paper-mt10": lambda: drats_paper("mt10"), "drats-paper-mt50": lambda: drats_paper("mt50"),
           "mtsac-mt10": mtsac_reference}


def _gpu_preset(suite: str) -> "RunConfig":
    from drats_jax.gpu_presets import gpu_preset  # noqa: PLC0415  (it imports this module)

    return gpu_preset(suite)


PRESETS.update({"gpu-mt10": lambda: _gpu_preset("mt10"), "gpu-mt50": lambda: _gpu_preset("mt50")})


def window_warning(train: TrainConfig, num_tasks: int, episode_length: int) -> str | None:
    """One line when the resolved sampler window (``train.sampler.interval``, env steps) gives a
    task at the sampler's floor fewer than 2 episodes per window on average: it then often
    finishes none, gets gap 1 and jumps back up by noise alone. None otherwise."""
    s = train.sampler
    floor = {"drats": s.resolved_eps(num_tasks), "learning_progress": s.resolved_eps(num_tasks),
             "smt": s.resolved_smt_min_prob(num_tasks)}.get(s.name)
    if floor is None or s.interval is None:
        return None
    per_window = s.interval * floor / episode_length
    if per_window >= 2:
        return None
    return (f"the sampler window ({s.interval:,} env steps) gives a task at the floor q={floor:.4g} "
            f"{per_window:.2g} episodes per window (< 2), so its gap is often 1 by chance; raise "
            "--train.sampler.interval (or --train.sampler.interval-per-task)")


# ---------------------------------------------------------------------- dict <-> dataclass


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict) -> Any:
    """Rebuilds nested frozen dataclasses from :func:`to_dict` output (unknown keys: error)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, hint = data[f.name], hints[f.name]
        hint = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
        if dataclasses.is_dataclass(hint):
            value = from_dict(hint, value)
        kwargs[f.name] = value
    return cls(**kwargs)


def save_config(cfg: RunConfig, folder: pathlib.Path) -> None:
    path = folder / CONFIG_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(to_dict(cfg), indent=2) + "\n")
    os.replace(tmp, path)


def load_config(folder: pathlib.Path, action: str = "resume") -> RunConfig:
    """The run config saved in ``folder``; UsageError "cannot <action> <folder>: ..." if unreadable."""
    path = folder / CONFIG_FILE
    try:
        return from_dict(RunConfig, json.loads(path.read_text()))
    except FileNotFoundError:
        raise UsageError(f"cannot {action} {folder}: no {CONFIG_FILE} there (not a run folder?)") from None
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"cannot {action} {folder}: unreadable {CONFIG_FILE}: {one_line(exc)}") from None


def fixed_config(cfg: RunConfig) -> dict:
    """What a run's checkpoints are tied to (their fingerprint): the config but RESUMABLE_CHANGES."""
    return {k: v for k, v in to_dict(cfg).items() if k not in RESUMABLE_CHANGES}


def check_resumable(saved: RunConfig, given: RunConfig) -> None:
    """Refuses a resume whose config changes anything but logging / checkpoint cadence."""
    a, b = flatten(to_dict(saved)), flatten(to_dict(given))
    diffs = [k for k in a if k not in RESUMABLE_CHANGES and a[k] != b.get(k)]
    if diffs:
        shown = ", ".join(f"{k}={b.get(k)!r} (saved: {a[k]!r})" for k in diffs[:3])
        raise UsageError(f"cannot resume {given.resume}: incompatible config: {shown}")


# ---------------------------------------------------------------------- parsing


def _tyro_error(captured: str) -> str:
    """tyro's framed error box -> one line."""
    lines = []
    for line in captured.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip(" │╭╮╰╯─┃━|")
        if not line or line.startswith(("For full helptext", "usage:")) or set(line) <= set("─-+ "):
            continue
        if re.fullmatch(r"[A-Za-z ]*(error|choice)", line, re.IGNORECASE):  # the box title ("Value error")
            continue
        lines.append(line)
    return " ".join(" ".join(lines).split()) or "invalid arguments (see --help)"


def parse_args(argv: list[str] | None = None, prog: str = "python -m drats_jax.train") -> RunConfig:
    """argv -> validated RunConfig (with ``resume`` set, the saved config overridden by argv).

    Raises UsageError (one line); ``--help`` prints and exits 0.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    default = RunConfig()
    saved = None
    resume = flag_value(argv, "--resume")
    preset = flag_value(argv, "--preset")
    if preset is not None and resume is None:
        if preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        default = PRESETS[preset]()
    if resume is not None:
        saved = _machine_backend(load_config(pathlib.Path(resume)))  # a config saved without a backend
        # The saved run's process options are not this launch's: they come from argv or the cluster.
        fresh = {f.name: f.default for f in dataclasses.fields(RunConfig) if f.name in PROCESS_FIELDS}
        default = dataclasses.replace(saved, resume=resume, out=resume, **fresh)
    elif not backend_given(argv):  # shown by --help as it will run
        default = _machine_backend(default)
    cfg = run_tyro(RunConfig, argv, prog, "Train multi-task SAC or PPO with a task sampler (DRATS, uniform, LP, SMT) "
                   "on MetaWorld; evaluate, log and checkpoint.", default)
    cfg = _machine_backend(cfg)  # --backend None
    if saved is not None:
        check_resumable(saved, cfg)
    elif cfg.train.algo == "ppo" and preset is None and all(
            flag_value(argv, f) is None for f in ("--train.warmup-env-steps", "--train.warmup-per-task")):
        # The CPU default's random warm-up fills SAC's replay ring; PPO learns from its first rollout.
        cfg = dataclasses.replace(cfg, train=cfg.train.replace(warmup_env_steps=None, warmup_per_task=None))
    check_names(cfg)
    return cfg


def backend_given(argv: list[str]) -> bool:
    """Whether the command line chooses the physics backend (--backend, or --resume of a saved run)."""
    return flag_value(argv, "--backend") not in (None, "None") or flag_value(argv, "--resume") is not None


def _machine_backend(cfg: RunConfig) -> RunConfig:
    """backend None -> this machine's default (drats_jax.devices.default_backend; starts JAX)."""
    if cfg.backend is not None:
        return cfg
    from drats_jax.devices import default_backend  # noqa: PLC0415

    return dataclasses.replace(cfg, backend=default_backend())


def run_tyro(cls: type, argv: list[str], prog: str, description: str, default: Any = None) -> Any:
    """tyro.cli(cls) on argv; its errors (and ValueErrors of the dataclass) as one-line
    UsageErrors; ``--help`` prints and exits 0."""
    kwargs = dict(args=argv, prog=prog, description=description)
    if default is not None:
        kwargs["default"] = default
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            try:
                return tyro.cli(cls, **kwargs)
            except SystemError as exc:
                # CPython < 3.11.8 can raise a spurious "AST constructor recursion depth mismatch"
                # from ast.parse (gh-106905), which tyro uses to read the options' help comments.
                # It depends on timing; a second parse succeeds.
                if "recursion depth mismatch" not in str(exc):
                    raise
                return tyro.cli(cls, **kwargs)
    except SystemExit as exc:
        if exc.code in (0, None):
            raise
        raise UsageError(_tyro_error(err.getvalue())) from None
    except ValueError as exc:
        raise UsageError(one_line(exc)) from None


def check_names(cfg: RunConfig) -> tuple[str, ...]:
    """Backend and task names (no env is built). Returns the task names."""
    import metaworld_jax  # noqa: PLC0415
    from metaworld_jax.backends import check_available  # noqa: PLC0415

    try:
        check_available(cfg.backend)
        if cfg.block_size is not None and (cfg.backend == "mujoco" or cfg.block_size < 1):
            raise ValueError(f"--block-size applies to the mjx and warp backends and must be >= 1, "
                             f"got {cfg.block_size} with --backend {cfg.backend}")
        names, _ = metaworld_jax.resolve_tasks(cfg.tasks)
    except ValueError as exc:
        raise UsageError(one_line(exc)) from None
    return names


def default_out(cfg: RunConfig) -> pathlib.Path:
    tasks = cfg.tasks if len(cfg.tasks) <= 24 else cfg.tasks[:24]
    tasks = re.sub(r"[^A-Za-z0-9_.-]+", "_", tasks)
    return pathlib.Path("runs") / f"{tasks}-{cfg.train.sampler.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_out_folder(out: pathlib.Path, resume: bool) -> None:
    """A new run needs a folder that does not exist (or is empty) and can be created."""
    if resume:
        if not out.is_dir():
            raise UsageError(f"cannot resume {out}: not a folder")
        if not os.access(out, os.W_OK):
            raise UsageError(f"cannot resume {out}: the folder is not writable")
        return
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise UsageError(f"output folder {out} already exists; pass --resume {out} to continue it, "
                         "or choose another --out")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"output folder {out} cannot be created: {parent} is not a writable folder")


def create_out_folder(out: pathlib.Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"output folder {out} cannot be written: {one_line(exc)}") from None


def setup_compile_cache() -> str | None:
    """Persistent JAX compile cache: $DRATS_JAX_CACHE_DIR, else $JAX_COMPILATION_CACHE_DIR,
    else <repo>/.cache/jax when this package runs from its source checkout."""
    import jax  # noqa: PLC0415

    path = os.environ.get("DRATS_JAX_CACHE_DIR") or os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if not path:
        repo = pathlib.Path(__file__).resolve().parents[2]
        if (repo / "pyproject.toml").is_file() and (repo / "src" / "drats_jax").is_dir():
            path = str(repo / ".cache" / "jax")
    if path:
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return path
