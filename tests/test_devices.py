"""The one-line warning of --backend warp without a GPU (no MJX compile: the device query is
replaced), and which Warp device the env package reports for JAX's backend."""

from __future__ import annotations

import dataclasses

import jax
import pytest

from drats_jax import devices, driver
from metaworld_jax.backends import mjx
from tests.pointmass import PointMass


@pytest.mark.parametrize("jax_backend, warp", [("gpu", "cuda"), ("cpu", "cpu"), ("tpu", "cpu")])
def test_warp_device_follows_jax_default_backend(jax_backend, warp, monkeypatch):
    monkeypatch.setattr(jax, "default_backend", lambda: jax_backend)
    assert mjx.warp_device() == warp


def test_warning_only_for_warp_on_cpu(monkeypatch):
    monkeypatch.setattr(mjx, "warp_device", lambda: "cuda")
    assert devices.backend_warning("warp") is None
    monkeypatch.setattr(mjx, "warp_device", lambda: "cpu")
    assert devices.backend_warning("mujoco") is None and devices.backend_warning("mjx") is None
    line = devices.backend_warning("warp")
    assert "Warp's CPU device" in line and "for tests only, slow" in line and "\n" not in line


def test_trainer_prints_the_warning_once_before_training(monkeypatch, capsys, tmp_path):
    argv = ["--train.num-envs", "4", "--total-steps", "2000", "--train.warmup-env-steps", "400",
            "--train.chunk-length", "50", "--train.buffer-capacity", "2000", "--train.sac.hidden-width", "16",
            "--train.sac.hidden-depth", "1", "--train.sac.batch-size", "32", "--eval-episodes", "2",
            "--no-progress", "--out", str(tmp_path / "run")]
    prepared = driver.prepare(argv, env=PointMass())
    prepared.cfg = dataclasses.replace(prepared.cfg, backend="warp")  # as if built on MJX-Warp
    monkeypatch.setattr(driver, "prepare", lambda argv, env=None: prepared)
    monkeypatch.setattr(driver, "train_and_evaluate", lambda p: {"interrupted": "SIGTERM", "env_steps": 0})
    monkeypatch.setattr(mjx, "warp_device", lambda: "cpu")
    assert driver.main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("drats_jax.train: warning: --backend warp runs on Warp's CPU"), err
    prepared.checkpointer.close()
