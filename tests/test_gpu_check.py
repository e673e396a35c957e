"""The device check's quick mode end to end (`make gpu-check-quick`), in .venv-warp (`make
test-warp`): the same stages and code as on a GPU, at tiny sizes on Warp's CPU device (which
compiles in seconds; MJX-JAX's compiles take minutes on a CPU, so its stage is skipped), the
training stage on the C backend (MetaWorld's 500-step evaluation alone takes minutes on Warp's
CPU device; Warp training is tested in test_warp_backend.py)."""

from __future__ import annotations

import json

import pytest

from benchmarks import gpu_check

pytestmark = pytest.mark.warp_env


def test_quick_device_check_runs_every_stage(tmp_path):
    assert gpu_check.main(["--quick", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    status = {name: s["status"] for name, s in summary["stages"].items()}
    assert status == {"device": "ok", "env-mt10-warp": "ok", "train-mt10": "ok",
                      "env-mt10-mjx": "skipped: not run with --quick", "env-mt50-warp": "ok"}, status
    device = json.loads((tmp_path / "device.json").read_text())
    assert device["versions"]["jax"] and device["versions"]["warp-lang"] and device["devices"]
    env = json.loads((tmp_path / "env-mt10-warp.json").read_text())
    assert [row["batch"] for row in env["sizes"]] == [4, 8, 16]
    for row in env["sizes"]:
        assert row["backend"] == "warp" and row["env_steps_per_s"] > 0 and row["compile_s"] > 0
    train = json.loads((tmp_path / "train-mt10.json").read_text())
    assert train["preset"] == "gpu-mt10" and train["config"]["train"]["updates_per_step"] == 2
    for name in ("drats", "uniform"):
        run = train["runs"][name]
        assert run["env_steps_per_s"] > 0 and run["grad_steps_per_s"] > 0 and run["compile_s"]["steps"] > 0
    assert train["ratio_drats_over_uniform"] > 0 and train["drats_alone"]["env_steps_trained"] > 0
    assert 0.0 <= train["evaluation"]["mean_success"] <= 1.0
    assert set(train["evaluation"]["success_per_task"]) == {"reach-v3", "push-v3"}
    mt50 = json.loads((tmp_path / "env-mt50-warp.json").read_text())
    assert len(mt50["sizes"]) == 1 and mt50["sizes"][0]["env_steps_per_s"] > 0
    assert summary["elapsed_s"] <= 900
