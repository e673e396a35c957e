"""The MJX-JAX backend under the ('seed', 'data') mesh, on forced host CPU devices.

Slow (marked ``slow``, not in CI): the MJX training loop takes minutes to compile on a CPU.
Run with ``pytest -m slow tests/test_mjx_sharded.py``. It checks that slot blocks of the MJX
scene split over ``data`` and seeds over ``seed`` train end to end: the run finishes, counts
every env step, and its losses and evaluation are finite.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mjx_trains_with_seeds_and_slot_blocks_split_over_four_devices(tmp_path):
    out = tmp_path / "run"
    args = ["--tasks", "reach-v3,push-v3", "--backend", "mjx", "--block-size", "2", "--seeds", "2",
            "--mesh", "seed=2,data=2", "--train.num-envs", "4", "--total-steps", "1600",
            "--train.warmup-env-steps", "400", "--train.chunk-length", "100", "--train.buffer-capacity", "1600",
            "--train.sac.hidden-width", "16", "--train.sac.hidden-depth", "1", "--train.sac.batch-size", "32",
            "--train.sampler.interval", "400", "--eval-episodes", "2", "--eval-interval", "0",
            "--checkpoint-interval", "0", "--no-progress", "--out", str(out)]
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "envs"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "drats_jax.train", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    last = [row for row in train if row["env_steps"] == 1600]
    assert sorted(row["seed"] for row in last) == [0, 1], train[-2:]
    assert all(row["grad_steps"] > 0 for row in last), last
    losses = [row[k] for row in train for k in ("actor_loss", "critic_loss", "alpha_loss")]
    assert all(math.isfinite(v) for v in losses), last
    evals = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    final = [row for row in evals if row["env_steps"] == 1600]
    assert len(final) == 2 and all(math.isfinite(row["mean_return"]) for row in final), evals
