"""The one-line warnings of --backend warp / mjx without a GPU and the one-line note of the GPU
default backend (no MJX compile: the device query is replaced), which Warp device the env
package reports for JAX's backend, and the jax version `make install-gpu` pins for jax's CUDA
plugin (make -n: nothing is installed)."""

from __future__ import annotations

import dataclasses
import pathlib
import re
import shutil
import subprocess

import jax
import pytest

from drats_jax import devices, driver
from metaworld_jax.backends import mjx
from tests.pointmass import PointMass

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("jax_backend, warp", [("gpu", "cuda"), ("cpu", "cpu"), ("tpu", "cpu")])
def test_warp_device_follows_jax_default_backend(jax_backend, warp, monkeypatch):
    monkeypatch.setattr(jax, "default_backend", lambda: jax_backend)
    assert mjx.warp_device() == warp


def test_warning_only_for_mjx_backends_without_a_gpu(monkeypatch):
    monkeypatch.setattr(mjx, "warp_device", lambda: "cuda")
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert devices.backend_warning("warp") is None and devices.backend_warning("mjx") is None
    monkeypatch.setattr(jax, "default_backend", lambda: "tpu")  # MJX-JAX's other home
    assert devices.backend_warning("mjx") is None
    monkeypatch.setattr(mjx, "warp_device", lambda: "cpu")
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    assert devices.backend_warning("mujoco") is None
    line = devices.backend_warning("warp")
    assert "Warp's CPU device" in line and "for tests only, slow" in line and "\n" not in line
    line = devices.backend_warning("mjx")
    assert "MJX-JAX on the CPU" in line and "1000x slower than C MuJoCo" in line and "\n" not in line


def _main_without_training(monkeypatch, tmp_path, backend: str | None = None):
    """(argv, prepared): driver.main(argv) prepares a tiny PointMass run (its backend set to
    ``backend``, as if built on it) and stops at once: only what main prints before training runs."""
    argv = ["--train.num-envs", "4", "--total-steps", "2000", "--train.warmup-env-steps", "400",
            "--train.chunk-length", "50", "--train.buffer-capacity", "2000", "--train.sac.hidden-width", "16",
            "--train.sac.hidden-depth", "1", "--train.sac.batch-size", "32", "--eval-episodes", "2",
            "--no-progress", "--out", str(tmp_path / "run")]
    prepared = driver.prepare(argv, env=PointMass())
    if backend is not None:
        prepared.cfg = dataclasses.replace(prepared.cfg, backend=backend)
    monkeypatch.setattr(driver, "prepare", lambda argv, env=None: prepared)
    monkeypatch.setattr(driver, "train_and_evaluate", lambda p: {"interrupted": "SIGTERM", "env_steps": 0, "abandoned_chunk": False})
    return argv, prepared


def test_trainer_prints_the_warning_once_before_training(monkeypatch, capsys, tmp_path):
    argv, prepared = _main_without_training(monkeypatch, tmp_path, backend="warp")
    monkeypatch.setattr(mjx, "warp_device", lambda: "cpu")
    assert driver.main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("drats_jax.train: warning: --backend warp runs on Warp's CPU"), err
    prepared.checkpointer.close()


def test_the_trainer_says_which_backend_a_gpu_machine_runs(monkeypatch, capsys, tmp_path):
    argv, prepared = _main_without_training(monkeypatch, tmp_path)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(devices, "_available", lambda name: False)  # a GPU, but no MJX-Warp in this environment
    assert driver.main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("drats_jax.train: JAX sees a GPU, but MJX-Warp is not installed"), err
    assert driver.main([*argv, "--backend", "mujoco"]) == 0  # the user chose: no line
    assert capsys.readouterr().err.strip() == ""
    prepared.checkpointer.close()


def _make_install_gpu(tmp_path, *args: str) -> str:
    out = subprocess.run(["make", "-n", "install-gpu", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return next(line for line in out.stdout.splitlines() if "pip install" in line and "jax[cuda" in line)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_install_gpu_pins_the_jax_version_of_the_warp_environment(tmp_path):
    fake = tmp_path / "python"  # an environment whose jax is 0.9.7
    fake.write_text("#!/bin/sh\necho 0.9.7\n")
    fake.chmod(0o755)
    assert _make_install_gpu(tmp_path, f"WARP_PY={fake}").endswith('pip install -q "jax[cuda13]==0.9.7"')
    assert '"jax[cuda12]==0.9.7"' in _make_install_gpu(tmp_path, f"WARP_PY={fake}", "CUDA=12")
    # no environment yet: requirements/warp.txt's pin
    pin = re.search(r"^jax==([0-9.]+)$", (REPO / "requirements" / "warp.txt").read_text(), re.M).group(1)
    assert _make_install_gpu(tmp_path, f"WARP_PY={tmp_path / 'none'}").endswith(f'"jax[cuda13]=={pin}"')
