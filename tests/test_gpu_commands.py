"""GPU-aware commands, run on a CPU: make install-gpu's GPU check (one line, exit 1 here), the
GPU default backend and its one line, JAX's GPU memory settings set before JAX starts, the
seeds-first mesh, the GPU presets (validated at their sizes; the README's commands run at CPU
sizes on the C backend), bench-gpu's JSON written after every case, the device check's stages
under a budget (fake stages: no compile), and the carried wheels' parts."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

import jax
import pytest

from drats_jax import cli, devices, driver, gpu_presets
from drats_jax import mesh as mesh_lib
from drats_jax.config import resolve

REPO = pathlib.Path(__file__).resolve().parents[1]
NO_GPU_DRIVER = not os.path.exists("/proc/driver/nvidia/version")


def _run(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


# ---------------------------------------------------------------------- make install-gpu's check


@pytest.mark.skipif(not NO_GPU_DRIVER, reason="this machine has an NVIDIA driver")
def test_gpu_check_fails_with_one_line_without_a_gpu():
    for flags in ([], ["--driver"]):
        out = _run("-m", "drats_jax.devices", *flags)
        lines = (out.stdout + out.stderr).strip().splitlines()
        assert out.returncode == 1 and len(lines) == 1, (flags, out.stdout, out.stderr)
        assert lines[0].startswith("drats_jax.devices: error: ")
    assert "JAX sees no usable GPU" in _run("-m", "drats_jax.devices").stderr
    assert _run("-m", "drats_jax.devices", "--quiet").stdout == ""


def test_gpu_check_passes_when_jax_sees_a_gpu(monkeypatch, capsys):
    cpu = jax.devices("cpu")
    monkeypatch.setattr(jax, "devices", lambda backend=None: cpu)  # as if jax.devices("gpu") found one
    assert devices.main([]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert line.startswith(f"JAX {jax.__version__} sees 1 GPU(s)")
    assert devices.main(["--bogus"]) == 2


def test_make_install_gpu_checks_the_driver_before_and_jax_after_the_cuda_wheels():
    out = subprocess.run(["make", "-n", "install-gpu"], cwd=REPO, capture_output=True, text=True, timeout=60)
    lines = [line for line in out.stdout.splitlines() if "drats_jax.devices" in line or "jax[cuda" in line]
    assert [("--driver" in x, "jax[cuda" in x) for x in lines] == [(True, False), (False, True), (False, False)]


# ---------------------------------------------------------------------- backend default, memory


def test_gpu_machines_default_to_the_gpu_backend_with_one_line(monkeypatch):
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    assert devices.default_backend() == "mujoco" and devices.gpu_backend_note("mujoco") is None
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(devices, "_available", lambda name: True)
    assert devices.default_backend() == devices.GPU_BACKEND == "warp"
    assert "physics backend warp" in devices.gpu_backend_note("warp")
    monkeypatch.setattr(devices, "_available", lambda name: False)  # a GPU, but no MJX-Warp here
    assert devices.default_backend() == "mujoco"
    note = devices.gpu_backend_note("mujoco")
    assert "MJX-Warp is not installed" in note and "make install-gpu" in note and "\n" not in note


def test_the_cli_resolves_the_machine_default_unless_a_backend_is_given(monkeypatch, tmp_path):
    assert cli.parse_args([]).backend == "mujoco"  # this CPU
    monkeypatch.setattr(devices, "default_backend", lambda: "mjx")  # stands for a GPU machine's choice
    assert cli.parse_args([]).backend == "mjx"
    assert cli.parse_args(["--backend", "mujoco"]).backend == "mujoco"
    assert cli.parse_args(["--preset", "drats-paper-mt10"]).backend == "mjx"
    cli.save_config(cli.RunConfig(tasks="reach-v3"), tmp_path)  # written without a backend
    assert cli.parse_args(["--resume", str(tmp_path)]).backend == "mjx"
    assert not cli.backend_given([]) and cli.backend_given(["--backend", "warp"])
    assert cli.backend_given(["--resume", str(tmp_path)])


def test_gpu_memory_settings_come_from_the_command_line_before_jax_starts(tmp_path):
    env = {}
    assert devices.set_gpu_memory(0.6, env) == env == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                                                       "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.6",
                                                       "XLA_CLIENT_MEM_FRACTION": "0.6"}
    mine = {"XLA_PYTHON_CLIENT_MEM_FRACTION": ".9"}
    assert devices.set_gpu_memory(0.6, mine) == {} and mine == {"XLA_PYTHON_CLIENT_MEM_FRACTION": ".9"}
    assert devices.set_gpu_memory(None, env := {}) == {} and env == {}
    with pytest.raises(ValueError, match="must be in"):
        devices.gpu_memory_env(1.5)
    frac = gpu_presets.gpu_memory_fraction
    assert frac([]) is None and frac(["--preset", "drats-paper-mt10"]) is None
    assert frac(["--preset", "gpu-mt10"]) == frac(["--preset", "gpu-mt50"]) == devices.GPU_MEMORY_FRACTION
    assert frac(["--preset", "gpu-mt10", "--gpu-memory-fraction", "0.5"]) == 0.5
    cli.save_config(cli.RunConfig(tasks="reach-v3", backend="mujoco", gpu_memory_fraction=0.4), tmp_path)
    assert frac(["--resume", str(tmp_path)]) == 0.4
    assert "must be in (0, 1]" in _error(["--gpu-memory-fraction", "2"], tmp_path)
    # Reading a GPU preset's memory setting starts no JAX backend (it must come before JAX starts).
    code = ("from drats_jax.gpu_presets import gpu_memory_fraction as f; from jax._src import xla_bridge as x; "
            "assert f(['--preset', 'gpu-mt50']) == 0.75; print(x.backends_are_initialized())")
    assert _run("-c", code).stdout.strip() == "False"


def _error(argv, tmp_path) -> str:
    with pytest.raises(cli.UsageError) as info:
        cli.parse_args([*argv, "--out", str(tmp_path / "r")])
    return str(info.value)


def test_seeds_first_mesh():
    first = mesh_lib.SEEDS_FIRST
    assert [tuple(dataclasses.astuple(mesh_lib.parse(first, d, s))) for d, s in
            ((1, 1), (8, 1), (8, 8), (8, 4), (8, 12), (2, 3))] == [(1, 1), (1, 8), (8, 1), (4, 2), (4, 2), (1, 2)]
    assert cli.RunConfig(mesh=first).mesh == first  # resolved when the devices are known (driver._mesh)


# ---------------------------------------------------------------------- GPU presets


class _SizesOnly:
    """What config.resolve reads of an env: the sizes of MetaWorld at the MJX backends' block."""

    def __init__(self, num_tasks: int, block_size: int):
        self.num_tasks, self.block_size = num_tasks, block_size
        self.observation_size, self.action_size, self.episode_length, self.num_goals = 39, 4, 500, 50


@pytest.mark.parametrize("suite, n", [("mt10", 10), ("mt50", 50)])
def test_gpu_presets_validate_at_their_sizes(suite, n):
    cfg = cli.PRESETS[f"gpu-{suite}"]()  # parse_args would refuse warp here (.venv has no MJX-Warp)
    assert cfg.preset == f"gpu-{suite}"
    t = cfg.train
    assert (cfg.tasks, cfg.backend, cfg.mesh, cfg.gpu_memory_fraction) == (
        suite, devices.GPU_BACKEND, mesh_lib.SEEDS_FIRST, devices.GPU_MEMORY_FRACTION)
    assert t.num_envs >= 1000 and t.num_envs % (n * cfg.block_size) == 0 and t.buffer_capacity % t.num_envs == 0
    assert (t.sac.batch_size, t.updates_per_step) == (gpu_presets.GPU_BATCH, gpu_presets.GPU_UPDATES_PER_STEP)
    resolved, sizes = resolve(t, _SizesOnly(n, cfg.block_size))
    assert sizes.task_block == cfg.block_size and sizes.warmup_env_steps >= t.sac.batch_size
    for d in (1, 2):  # one seed per GPU on 2 GPUs, or 1 seed split over 2
        for seeds in (1, d):
            spec = mesh_lib.parse(cfg.mesh, d, seeds)
            mesh_lib.validate_devices(spec, device_count=d, seeds=seeds, eval_episodes=cfg.eval_episodes)
            mesh_lib.validate_sizes(spec, num_envs=t.num_envs, task_block=sizes.task_block, algo="sac",
                                    batch_size=t.sac.batch_size, buffer_capacity=t.buffer_capacity, rings=1,
                                    minibatch=0)


def test_preset_help_shows_the_resolved_values():
    out = _run("-m", "drats_jax.train", "--preset", "gpu-mt10", "--help", env={"COLUMNS": "80"})  # one column
    assert out.returncode == 0, out.stderr
    text = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", out.stdout))
    for value in ("(default: 3840)", "(default: 32768)", "(default: 7864320)", "(default: seeds-first)",
                  "(default: warp)", "(default: 0.75)", "(default: gpu-mt10)"):
        assert value in text, value


def _readme_gpu_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    lines = [line.split("#")[0].strip() for line in text.splitlines() if line.startswith("python -m drats_jax.train --preset gpu-")]
    return [shlex.split(line)[3:] for line in lines if "--help" not in line]


def test_readme_gpu_commands_run_at_cpu_sizes(tmp_path):
    """The README's GPU training commands, with CPU-sized overrides on the C backend: a few
    vector steps, a checkpoint and MetaWorld's evaluation, for both presets."""
    commands = _readme_gpu_commands()
    assert sorted(c[1] for c in commands) == ["gpu-mt10", "gpu-mt50"], commands
    for argv in commands:
        n = {"gpu-mt10": 10, "gpu-mt50": 50}[argv[1]]
        tiny = ["--backend", "mujoco", "--block-size", "None", "--train.num-envs", str(n), "--total-steps", str(8 * n),
                "--train.warmup-env-steps", str(4 * n), "--train.chunk-length", "2", "--train.buffer-capacity",
                str(20 * n), "--train.sac.batch-size", "16", "--train.sac.hidden-width", "16",
                "--train.sac.hidden-depth", "1", "--eval-episodes", "1", "--eval-interval", "0",
                "--no-progress", "--out", str(tmp_path / argv[1])]
        assert driver.main([*argv, *tiny]) == 0, argv
        summary = json.loads((tmp_path / argv[1] / "summary.json").read_text())
        saved = json.loads((tmp_path / argv[1] / "config.json").read_text())
        assert summary["env_steps"] == 8 * n and saved["preset"] == argv[1] and saved["train"]["updates_per_step"] == 2
