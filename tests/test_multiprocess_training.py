"""Training over two processes x two forced CPU devices on 127.0.0.1 (C MuJoCo backend, tiny
sizes; every subprocess bounded by a timeout): the run ends in both processes with process 0 the
only writer of logs, every process writes its checkpoint shards, a repeated run is bit-identical,
and a SIGKILL of both processes then ``--resume`` in both ends with the uninterrupted run's logs;
resuming on another mesh is refused with one line.

``--mesh seed=2,data=2``: each process holds one seed (the ``seed`` axis spans the processes, so
per-seed metrics and evaluation results live on one process and are gathered for process 0's
logs) split over its two devices (``data``). ``seed=1,data=4`` (gradients averaged across the
processes) is the other topology, checked to train to the end as well.
"""

from __future__ import annotations

import json
import signal

import pytest

from drats_jax.logger import read_rows
from tests.test_distributed import _flags, _finish, _free_port, _one_error_line, _start

LIMIT_S = 600  # per process: a tiny run compiles and trains in ~1-3 min on a busy 2-core machine
MESH = "seed=2,data=2"
# Chunks of 200 vector steps x 2 slots = 400 env steps: boundaries at 800, 1200, 1600, 2000, 2400.


def _args(seeds: int = 2, num_envs: int = 2, chunk: int = 200, eval_episodes: int = 2) -> list[str]:
    return ["--tasks", "reach-v3,push-v3", "--seeds", str(seeds), "--train.num-envs", str(num_envs),
            "--total-steps", "2400", "--train.warmup-env-steps", "400", "--train.chunk-length", str(chunk),
            "--train.buffer-capacity", "2400", "--train.sac.hidden-width", "16", "--train.sac.hidden-depth", "1",
            "--train.sac.batch-size", "32", "--train.sampler.interval", "100", "--eval-episodes", str(eval_episodes),
            "--eval-interval", "1000", "--checkpoint-interval", "800", "--no-progress"]


ARGS = _args()
LOGS = ("train.jsonl", "eval.jsonl", "train.csv", "eval.csv")


def _train(args: list[str], **env: str) -> list[tuple[int, str, str]]:
    """``python -m drats_jax.train ARGS`` in two processes of two devices each -> (code, stdout,
    stderr) per process."""
    port = _free_port()
    procs = [_start([*args, *_flags(port, i, timeout_s=60)], module=True, **env) for i in range(2)]
    return [_finish(p, LIMIT_S) for p in procs]


def _ok(results) -> None:
    for i, (code, _, err) in enumerate(results):
        assert code == 0, f"process {i}: {err[-3000:]}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("multiprocess") / "ref"
    results = _train([*ARGS, "--mesh", MESH, "--out", str(out)])
    _ok(results)
    return out, results


def test_two_processes_train_to_the_end_and_only_process_0_writes_logs(reference):
    out, results = reference
    (_, out0, _), (_, out1, err1) = results
    assert "| env_steps | 2400 |" in out0 and "| seeds | 2 |" in out0, out0[-2000:]
    assert out1.strip() == "", out1[-2000:]  # process 1 prints nothing
    assert "Traceback" not in err1, err1[-2000:]
    assert json.loads((out / "config.json").read_text())["mesh"] == MESH
    assert json.loads((out / "summary.json").read_text())["env_steps"] == 2400
    train, evals = read_rows(out / "train.jsonl"), read_rows(out / "eval.jsonl")
    # One row per chunk and seed: seed 1 is process 1's, gathered for process 0's log.
    assert [(r["env_steps"], r["seed"]) for r in train] == [(s, k) for s in range(800, 2401, 400) for k in (0, 1)]
    assert [(r["env_steps"], r["seed"]) for r in evals] == [(s, k) for s in (1200, 2000, 2400) for k in (0, 1)]
    assert train[-2]["critic_loss"] != train[-1]["critic_loss"]  # two independent seeds
    # Every process wrote its own shards of every checkpoint (orbax, one shared folder).
    steps = sorted(int(p.name) for p in (out / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == [1600, 2400]  # keep_checkpoints = 2
    for step in steps:
        state = out / "checkpoints" / str(step) / "state"
        assert (state / "ocdbt.process_0").is_dir() and (state / "ocdbt.process_1").is_dir()


def test_a_repeated_run_is_bit_identical(reference, tmp_path):
    ref, _ = reference
    _ok(_train([*ARGS, "--mesh", MESH, "--out", str(tmp_path / "again")]))
    for name in LOGS:
        assert (ref / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_sigkill_of_both_processes_then_resume_equals_the_uninterrupted_run(reference, tmp_path):
    ref, _ = reference
    run = tmp_path / "run"
    # Both processes kill themselves after the chunk ending at 1600 env steps: after the checkpoint
    # at 800 and the evaluation at 1200, before the checkpoint at 1600, so the logs run ahead of
    # the last checkpoint and the resumed run must drop and redo those rows.
    killed = _train([*ARGS, "--mesh", MESH, "--out", str(run)], DRATS_JAX_TEST_SIGNAL_AT="SIGKILL:1400")
    for i, (code, _, err) in enumerate(killed):
        assert code == -signal.SIGKILL, f"process {i}: {err[-3000:]}"
    assert (run / "checkpoints" / "800").is_dir() and not (run / "checkpoints" / "1600").exists()
    assert max(r["env_steps"] for r in read_rows(run / "train.jsonl")) == 1600
    assert not (run / "summary.json").exists()

    # Another mesh on the same processes, or the same mesh on one process: one line, exit code 2.
    for code, _, err in _train(["--resume", str(run), "--no-progress", "--mesh", "seed=1,data=4"]):
        assert code == 2
        assert "incompatible config: mesh='seed=1,data=4' (saved: 'seed=2,data=2')" in _one_error_line(err)
    code, _, err = _finish(_start(["--resume", str(run), "--no-progress"], module=True), LIMIT_S)
    assert code == 2 and "--mesh seed=2,data=2 uses 4 devices; jax sees 2" in _one_error_line(err)

    resumed = _train(["--resume", str(run), "--no-progress"])
    _ok(resumed)
    assert f"resumed {run} at 800 env steps per seed" in resumed[0][1]
    for name in LOGS:
        assert (ref / name).read_bytes() == (run / name).read_bytes(), name
    assert json.loads((run / "summary.json").read_text())["env_steps"] == 2400


def test_gradients_averaged_across_the_processes_train_to_the_end(tmp_path):
    """seed=1,data=4: one run's slots and replay rows over all four devices of both processes."""
    out = tmp_path / "data4"
    results = _train([*_args(seeds=1, num_envs=4, chunk=100, eval_episodes=4), "--mesh", "seed=1,data=4",
                      "--out", str(out)])
    _ok(results)
    assert results[1][1].strip() == ""
    assert json.loads((out / "summary.json").read_text())["env_steps"] == 2400
    assert [r["env_steps"] for r in read_rows(out / "eval.jsonl")] == [1200, 2000, 2400]
