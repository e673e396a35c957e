"""The ('seed', 'data') mesh: parsing and validation (one line each, before tracing), the
one-device program unchanged, and, in subprocesses with forced host CPU devices
(tests/mesh_checks.py): seeds split over devices, data-parallel SAC, averaged gradients."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from drats_jax.config import SACConfig, SamplerConfig, TrainConfig
from drats_jax.mesh import MeshSpec, parse, validate_devices
from drats_jax.train import make_train
from tests.pointmass import PointMass

REPO = pathlib.Path(__file__).resolve().parents[1]


def _check(name: str, devices: int = 4, timeout: int = 600) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "src"), str(REPO / "envs"),
                                           os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "tests.mesh_checks", name], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


@pytest.mark.parametrize("text, message", [
    ("seed=2,dta=2", "expected axes seed=S,data=D"),
    ("seed2", "expected NAME=SIZE"),
    ("data=0", "data must be a positive integer"),
    ("data=x", "data must be a positive integer"),
    ("data=2,data=2", "given twice"),
])
def test_bad_mesh_text_is_one_line(text, message):
    with pytest.raises(ValueError, match=message) as err:
        parse(text, 4)
    assert "\n" not in str(err.value)


def test_parse_and_default():
    assert parse(None, 4) == MeshSpec(1, 4) and parse("", 1) == MeshSpec(1, 1)
    assert parse("seed=2,data=2", 4) == MeshSpec(2, 2) and parse("seed=4", 4) == MeshSpec(4, 1)


@pytest.mark.parametrize("spec, kw, message", [
    (MeshSpec(2, 2), dict(device_count=2, seeds=2, eval_episodes=10), "uses 4 devices; jax sees 2"),
    (MeshSpec(2, 1), dict(device_count=2, seeds=3, eval_episodes=10), "seed=2 must divide --seeds 3"),
    (MeshSpec(1, 4), dict(device_count=4, seeds=1, eval_episodes=10), "data=4 must divide the evaluation"),
])
def test_devices_seeds_and_eval_episodes_checked(spec, kw, message):
    with pytest.raises(ValueError, match=message):
        validate_devices(spec, **kw)


class _Spy(PointMass):
    calls = 0

    def reset(self, *a):
        _Spy.calls += 1
        return super().reset(*a)


@pytest.mark.parametrize("cfg, message", [
    (TrainConfig(num_envs=6, buffer_capacity=600, sac=SACConfig(batch_size=16)), "data=4 must divide num_envs"),
    (TrainConfig(num_envs=8, buffer_capacity=800, sac=SACConfig(batch_size=18)), "must divide sac.batch_size"),
    (TrainConfig(num_envs=8, buffer_sampling="per_task", buffer_capacity=808, sac=SACConfig(batch_size=16)),
     "buffer_capacity per ring"),
])
def test_sizes_the_data_axis_splits_are_checked_before_tracing(cfg, message):
    with pytest.raises(ValueError, match=message):
        make_train(cfg, _Spy(), mesh=MeshSpec(1, 4))
    assert _Spy.calls == 0


def test_one_device_mesh_is_todays_program():
    cfg = TrainConfig(num_envs=4, total_env_steps=160, warmup_env_steps=40, buffer_capacity=160, chunk_length=10,
                      sac=SACConfig(hidden_width=8, hidden_depth=1, batch_size=8),
                      sampler=SamplerConfig(interval=40, initial_ref_return=500.0))
    runs = []
    for mesh in (None, MeshSpec(1, 1)):
        init, warm, chunk = make_train(cfg, PointMass(episode_length=10), mesh=mesh).jitted(2)
        state, _ = warm(init(jax.random.split(jax.random.PRNGKey(0), 2)))
        runs.append(jax.device_get(chunk(state)))
    for a, b in zip(jax.tree.leaves(runs[0]), jax.tree.leaves(runs[1])):
        assert np.array_equal(a, b, equal_nan=True)


def test_seeds_split_over_2_and_4_devices_equal_the_vmapped_run():
    result = _check("seeds_sharded")
    for name, r in result.items():
        assert r["sharding"] == "P('seed',)", (name, r)
    # Two or more seeds per device: the per-device program is the vmapped program on fewer
    # seeds, bit for bit (this needed Adam's bias correction as a product: agents/common.py).
    assert result["seeds=4/seed=2"]["diff"] == [], result["seeds=4/seed=2"]
    assert result["seeds=8/seed=4"]["diff"] == [], result["seeds=8/seed=4"]
    # One seed per device: XLA runs that device's matmuls unbatched, which on AVX2 CPUs sum in
    # another order than the batched ones (as a vmapped seed against its single run,
    # tests/seed_runs.py). Pin that gap to float rounding.
    for leaf in result["seeds=4/seed=4"]["diff"]:
        assert 0 <= float(leaf.rsplit(": ", 1)[1]) < 1e-5, leaf


def test_data_parallel_sac_keeps_replicated_parts_identical_on_every_device():
    result = _check("data_parallel")
    for name, r in result.items():
        assert r["not_replicated"] == [], (name, r)  # q, statistics, sampler, parameters, metrics
        assert r["warmup_alloc_diff"] == [], (name, r)  # global draws sliced: the one-device warm-up
        assert r["buffer_rows_equal"], (name, r)  # each device's ring holds its own slots' rows
        assert r["env_steps"] == 320 and r["finite"], (name, r)


def test_gradients_are_averaged_over_data_not_summed():
    result = _check("gradient_mean", devices=2)
    assert result["mean"] < 1e-4, result  # == the one-device gradient of the global batch
    assert result["sum"] > 0.5, result  # the D x error (check_vma's implicit sum + pmean) would show


def test_data_parallel_ppo_keeps_replicated_parts_identical_and_normalises_globally():
    r = _check("ppo_data_parallel")
    assert r["not_replicated"] == [] and r["finite"] and r["grad_steps"] > 0, r
    assert r["adv_per_task"] < 1e-5 and r["adv_batch"] < 1e-5, r  # global statistics, not per device


def test_data_parallel_sac_learns_like_the_one_device_run():
    """tests/test_train.py::test_uniform_stays_uniform_and_sac_learns_easy_tasks's run and
    thresholds, with the slots, replay ring and batch split over data=2."""
    r = _check("sac_learns", devices=2, timeout=1200)
    assert r["q"] == [0.25] * 4 and r["grad_steps"] == r["expected_grad_steps"], r
    assert all(f > 2 * x and f > 250.0 for f, x in zip(r["final"], r["random"])), r


def test_evaluation_split_over_devices_equals_one_device():
    r = _check("evaluation_split")
    assert r["return_mean"] > 0, r  # the episodes really ran
    assert r["success"] == 0 and r["return"] < 1e-3 and r["return_full"] < 1e-3, r
    assert r["training_state_diff"] == [], r  # evaluating changes nothing but its own slots


def _cli_run(out: pathlib.Path, devices: int, extra: list[str]) -> dict:
    """``python -m drats_jax.train`` in a subprocess with ``devices`` forced host CPU devices;
    returns the run's train and eval rows."""
    from drats_jax.logger import read_rows  # noqa: PLC0415

    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "envs"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "drats_jax.train", "--tasks", "reach-v3,push-v3", "--seeds", "4",
           "--train.num-envs", "4", "--train.warmup-env-steps", "400", "--total-steps", "6400",
           "--train.chunk-length", "500", "--train.sampler.interval", "2000", "--eval-episodes", "2",
           "--eval-interval", "0", "--checkpoint-interval", "0", "--no-progress", "--out", str(out), *extra]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {name: read_rows(out / f"{name}.jsonl") for name in ("train", "eval")}


def test_seed_sharded_metaworld_cli_run_is_the_one_device_run(tmp_path):
    """The CLI on MetaWorld's C backend, 4 seeds, 1,500 SAC gradient steps, sampler windows of
    500 vector steps (q moves at the second, the first holding no learner episode): the run split
    with --mesh seed=2,data=1 over 2 forced devices logs exactly the rows of the one-device run
    (every loss, per-task return, q and evaluation result of every seed, bit for bit)."""
    one = _cli_run(tmp_path / "one", 1, [])
    mesh = _cli_run(tmp_path / "mesh", 2, ["--mesh", "seed=2,data=1"])
    assert len(one["train"]) == len(mesh["train"]) == 4 * 3 and len(one["eval"]) == len(mesh["eval"]) == 4
    assert {r["seed"] for r in one["eval"]} == {0, 1, 2, 3}
    assert any(r["q/reach-v3"] != 0.5 for r in one["train"]), "the sampler window never ended"
    assert one == mesh


def test_seed_sharded_metaworld_ppo_cli_run_is_the_one_device_run(tmp_path):
    """The same for PPO with the drats-paper presets' update rules (3 rollouts of 500 vector steps,
    2 epochs x 2 minibatches, minibatch advantages, GAE cut at inner truncations, KL stop at 1.5 x
    keeping the step): bit for bit."""
    ppo = ["--algo", "ppo", "--train.warmup-env-steps", "0", "--total-steps", "6000", "--train.ppo.hidden-width", "64",
           "--train.ppo.num-epochs", "2", "--train.ppo.num-minibatches", "2", "--train.ppo.advantage-norm",
           "per_task_minibatch", "--train.ppo.bootstrap-truncation", "rollout_end", "--train.ppo.kl-stop-factor", "1.5",
           "--train.ppo.kl-stop-keeps-step", "--train.ppo.value-coef", "0.001"]
    one = _cli_run(tmp_path / "one", 1, ppo)
    mesh = _cli_run(tmp_path / "mesh", 2, [*ppo, "--mesh", "seed=2,data=1"])
    assert len(one["train"]) == 4 * 3 and all(r["grad_steps"] > 0 for r in one["train"])
    assert any(r["q/reach-v3"] != 0.5 for r in one["train"]), "the sampler window never ended"
    assert one == mesh
