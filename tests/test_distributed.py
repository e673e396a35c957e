"""Joining a multi-process run (drats_jax.distributed, drats_jax.processes): two processes on
127.0.0.1 in subprocesses (each bounded by a timeout), flag and cluster-variable parsing, one-line
errors for bad input, an unreachable coordinator, a missing process and mismatched processes."""

from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys
import time

import pytest

from drats_jax import cli, distributed
from drats_jax.train import main

REPO = pathlib.Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "multiprocess_worker.py"
LIMIT_S = 120  # per subprocess: a hang fails the test instead of blocking the suite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int = 2, **extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'src'}:{REPO / 'envs'}:{REPO}", JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", PYTHONUNBUFFERED="1")
    env.pop("DRATS_JAX_TEST_SIGNAL_AT", None)
    return dict(env, **extra)


def _start(args: list[str], devices: int = 2, cwd: pathlib.Path = REPO, module: bool = False,
           **env: str) -> subprocess.Popen:
    """A worker (or, module=True, ``python -m drats_jax.train``) with ``args``; ``env``: extra variables."""
    cmd = [sys.executable, *(["-m", "drats_jax.train"] if module else [str(WORKER)]), *args]
    return subprocess.Popen(cmd, cwd=cwd, env=_env(devices, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


# gloo prints its connection lines from several threads at once; they can be torn mid-line.
_GLOO = re.compile(r"\[Gloo\]|is connected to \d+ peer ranks")


def _finish(proc: subprocess.Popen, limit_s: float = LIMIT_S) -> tuple[int, str, str]:
    """-> (exit code, stdout, stderr), both without gloo's connection lines."""
    try:
        out, err = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"process hung for {limit_s} s: {err[-2000:]}")
    out, err = ("\n".join(line for line in text.splitlines() if not _GLOO.search(line)) for text in (out, err))
    return proc.returncode, out, err.strip()


def _flags(port: int, pid: int, num: int = 2, timeout_s: float = 20) -> list[str]:
    return ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(num), "--process-id", str(pid),
            "--coordinator-timeout", str(timeout_s)]


def _one_error_line(err: str) -> str:
    assert err.startswith("drats_jax.train: error: "), err
    assert "\n" not in err and "Traceback" not in err, err
    return err


# ---------------------------------------------------------------------- two processes on 127.0.0.1


def test_two_processes_of_two_devices_psum_over_four():
    port = _free_port()
    procs = [_start(["psum", *_flags(port, i)]) for i in range(2)]
    results = [_finish(p) for p in procs]
    for i, (code, out, err) in enumerate(results):
        assert code == 0, err[-2000:]
        # devices 1..4 contribute 1 + their global index: 1 + 2 + 3 + 4 = 10 on every process
        assert f"psum 10 process {i} of 2 primary {i == 0} devices 4" in out, out


def test_unreachable_coordinator_is_one_line_within_the_timeout():
    port = _free_port()  # nothing listens there
    t0 = time.monotonic()
    code, _, err = _finish(_start(["join", *_flags(port, 1, timeout_s=3)]))
    assert code == 2
    assert f"coordinator 127.0.0.1:{port} (flags) unreachable after 3 s" in _one_error_line(err)
    assert time.monotonic() - t0 < 3 + 30  # 3 s of retries plus the interpreter's start on a busy CPU


def test_a_missing_process_is_one_line_within_the_timeout():
    code, _, err = _finish(_start(["join", *_flags(_free_port(), 0, timeout_s=4)]))
    assert code == 2
    assert "process 0: the join of 2 processes" in _one_error_line(err)
    assert "did not complete within 4 s" in err


@pytest.mark.parametrize("family, host", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::")])
def test_a_taken_coordinator_port_is_one_line(family, host):
    with socket.socket(family) as taken:  # JAX's service would bind [::]:PORT (and may crash)
        taken.bind((host, 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = _finish(_start(["join", *_flags(port, 0, timeout_s=10)]))
    assert code == 2
    assert f"cannot host the coordinator at 127.0.0.1:{port}: port {port} is taken" in _one_error_line(err)


@pytest.mark.parametrize("second, devices, match", [
    (["--num-processes", "3", "--process-id", "1"], 2, "the processes disagree on the process count: "
                                                       "--num-processes per process {0: 2, 1: 3}, 2 joined"),
    (["--num-processes", "2", "--process-id", "1"], 1, "the processes have different numbers of devices: {0: 2, 1: 1}"),
])
def test_mismatched_processes_fail_with_one_line_on_each(second, devices, match):
    port = _free_port()
    first = _start(["join", *_flags(port, 0)])
    other = _start(["join", "--coordinator", f"127.0.0.1:{port}", "--coordinator-timeout", "20", *second],
                   devices=devices)
    for code, _, err in (_finish(first), _finish(other)):
        assert code == 2
        assert match in _one_error_line(err)


def test_prepare_in_two_processes_shares_one_run_folder(tmp_path):
    """No --out: the folder named after the clock is process 0's on both; both check it before
    process 0 creates it (a process checking later would find it exists) and see it afterwards."""
    port = _free_port()
    argv = ["--train.num-envs", "4", "--total-steps", "2000", "--train.warmup-env-steps", "400",
            "--train.chunk-length", "50", "--train.buffer-capacity", "2000", "--train.sac.hidden-width", "16",
            "--train.sac.hidden-depth", "1", "--train.sac.batch-size", "32", "--eval-episodes", "4", "--no-progress"]
    # (the default mesh puts all 4 devices of both processes on data: it must divide the episodes)
    procs = [_start(["prepare", *_flags(port, i), *argv], cwd=tmp_path) for i in range(2)]
    results = [_finish(p) for p in procs]
    assert [r[0] for r in results] == [0, 0], [r[2][-2000:] for r in results]
    outs = {r[1].strip() for r in results}
    assert len(outs) == 1, outs
    folder = tmp_path / outs.pop().removeprefix("out ")
    assert (folder / "config.json").is_file() and (folder / "checkpoints").is_dir()


# ---------------------------------------------------------------------- the trainer's command line


@pytest.mark.parametrize("argv, match", [
    (["--coordinator", "127.0.0.1:1234"], "--coordinator also needs --num-processes and --process-id"),
    (["--num-processes", "2", "--process-id", "0"], "--num-processes --process-id also need --coordinator"),
    (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"], "--coordinator must be HOST:PORT"),
    (["--coordinator", "h:70000", "--num-processes", "2", "--process-id", "0"], "port in 1..65535, got 'h:70000'"),
    (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"], "--process-id must be in [0, 2)"),
    (["--coordinator", "h:1", "--num-processes", "0", "--process-id", "0"], "--num-processes must be >= 1, got 0"),
    (["--coordinator", "h:1", "--num-processes", "two", "--process-id", "0"], "--num-processes must be an integer"),
    (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "0", "--coordinator-timeout", "0"],
     "--coordinator-timeout must be > 0"),
])
def test_bad_process_flags_are_one_line_exit_2(argv, match, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path / "run")]) == 2
    assert match in _one_error_line(capsys.readouterr().err.strip())
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("second, match", [
    (["--train.sac.hidden-width", "32"], "the processes were started with different flags (only --process-id may "
                                         "differ): process 1 has train.sac.hidden_width=32 (process 0: 16)"),
    (["--seeds", "2", "--mesh", "seed=2"], "process 1 has mesh='seed=2,data=1' (process 0: None), seeds=2 "
                                           "(process 0: 1)"),
    (["--train.sac.hidden-width", "x"], "--train.sac.hidden-width"),  # a parse error on process 1 only
])
def test_processes_started_with_different_flags_fail_with_the_same_line(second, match, tmp_path):
    """Without the check they would compile different programs and wait forever in the first
    collective; every process says so in the same line, before anything compiles or is written."""
    port = _free_port()
    argv = ["--tasks", "reach-v3", "--out", str(tmp_path / "run"), "--train.sac.hidden-width", "16"]
    procs = [_start([*_flags(port, i), *argv, *(second if i == 1 else [])], module=True) for i in range(2)]
    errors = []
    for code, _, err in (_finish(p) for p in procs):
        assert code == 2, err[-2000:]
        errors.append(_one_error_line(err).removesuffix(" (on process 1)"))
    assert match in errors[0] and errors[0] == errors[1], errors
    assert not (tmp_path / "run").exists()


def test_one_process_joins_nothing():
    assert distributed.options_from_argv([], environ={}) is None
    assert distributed.options_from_argv(_flags(1, 0, num=1), environ={}) is None
    distributed.initialize(None)  # nothing to join: no error although jax is running here


def test_resume_takes_process_options_from_this_launch(tmp_path):
    cli.save_config(cli.RunConfig(tasks="reach-v3", coordinator="10.0.0.1:1234", num_processes=2, process_id=1),
                    tmp_path)
    cfg = cli.parse_args(["--resume", str(tmp_path)])
    assert (cfg.coordinator, cfg.num_processes, cfg.process_id) == (None, None, None)


# ---------------------------------------------------------------------- cluster variables


SLURM = {"SLURM_JOB_ID": "123456", "SLURM_NTASKS": "4", "SLURM_PROCID": "3", "SLURM_LOCALID": "1",
         "SLURM_STEP_NODELIST": "gpu[003-005,9],cpu1", "SLURM_JOB_NODELIST": "other[1-2]"}


@pytest.mark.parametrize("nodes, host", [("gpu[003-005,9],cpu1", "gpu003"), ("node7", "node7"),
                                         ("a1,b2", "a1"), ("n[12,4-5]", "n12"), ("x-y[07,09]", "x-y07")])
def test_slurm_address_is_the_one_jax_picks(nodes, host, monkeypatch):
    from jax._src.clusters.slurm_cluster import SlurmCluster  # noqa: PLC0415

    env = dict(SLURM, SLURM_STEP_NODELIST=nodes)
    opts = distributed.options_from_argv([], environ=env)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("JAX_COORDINATOR_PORT", raising=False)
    assert opts.coordinator == SlurmCluster.get_coordinator_address(None, None) == f"{host}:{123456 % 4096 + 61440}"
    assert (opts.num_processes, opts.process_id, opts.source) == (4, 3, "SLURM")


def test_slurm_single_node_range():
    assert distributed.first_host("x-y[07]") == "x-y07"  # JAX 0.10.2 reads "x-y07]" here


def test_cluster_variables_and_their_precedence():
    env = {k: v for k, v in SLURM.items() if k != "SLURM_STEP_NODELIST"}
    assert distributed.options_from_argv([], environ=env).coordinator.startswith("other1:")  # the job's list
    assert distributed.options_from_argv([], environ=dict(SLURM, JAX_COORDINATOR_PORT="5000")).coordinator == \
        "gpu003:5000"
    flags = distributed.options_from_argv(_flags(7, 1), environ=SLURM)  # flags win
    assert (flags.coordinator, flags.num_processes, flags.process_id, flags.source) == ("127.0.0.1:7", 2, 1, "flags")
    assert distributed.options_from_argv([], environ=dict(SLURM, SLURM_NTASKS="1", SLURM_PROCID="0")) is None
    mpi = distributed.options_from_argv([], environ={"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"})
    assert (mpi.coordinator, mpi.num_processes, mpi.process_id, mpi.source) == (None, 2, 1, "Open MPI")
    with pytest.raises(cli.UsageError, match=r"--process-id must be in \[0, 4\) .* \(SLURM\)"):
        distributed.options_from_argv([], environ=dict(SLURM, SLURM_PROCID="4"))
    with pytest.raises(cli.UsageError, match="SLURM_NTASKS must be an integer"):
        distributed.options_from_argv([], environ=dict(SLURM, SLURM_NTASKS="4(x2)"))


def test_parsing_the_command_line_starts_no_jax_backend():
    """driver.main joins before the full parse; still, importing the env package and parsing
    must not start a backend, or jax.distributed.initialize would refuse to run after them."""
    code = ("from drats_jax import cli; cli.parse_args(['--tasks', 'mt10']); "
            "from jax._src import xla_bridge; print(xla_bridge.backends_are_initialized())")
    out = subprocess.run([sys.executable, "-c", code], env=_env(1), capture_output=True, text=True, timeout=LIMIT_S)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_prepare_without_joining_refuses_process_flags(tmp_path):
    from drats_jax import driver  # noqa: PLC0415

    with pytest.raises(cli.UsageError, match="--num-processes 2, but this process joined 1 process"):
        driver.prepare(["--tasks", "reach-v3", *_flags(1, 0), "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_only_process_0_logs_and_writes_every_process_checkpoints(tmp_path, monkeypatch, capsys):
    """The driver on a process other than 0 (is_primary patched): it trains and checkpoints,
    but writes no log, summary or progress and prints nothing."""
    from drats_jax import driver, processes  # noqa: PLC0415
    from tests.pointmass import PointMass  # noqa: PLC0415

    argv = ["--train.num-envs", "2", "--total-steps", "600", "--train.warmup-env-steps", "200",
            "--train.chunk-length", "100", "--train.buffer-capacity", "600", "--train.sac.hidden-width", "16",
            "--train.sac.hidden-depth", "1", "--train.sac.batch-size", "32", "--eval-episodes", "1",
            "--checkpoint-interval", "0", "--out", str(tmp_path / "run")]
    prepared = driver.prepare(argv, env=PointMass())
    capsys.readouterr()
    monkeypatch.setattr(processes, "is_primary", lambda: False)
    summary = driver.train_and_evaluate(prepared)
    assert summary["env_steps"] == 600 and "mean_success" not in summary
    written = {p.name for p in (tmp_path / "run").iterdir()}
    assert written == {"config.json", "checkpoints"}, written  # config.json: prepare ran unpatched
    assert prepared.checkpointer.latest_step() == 600
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_help_lists_the_process_flags_and_joins_nothing(monkeypatch, capsys):
    for k, v in SLURM.items():  # inside a SLURM step of 4 tasks: --help still only prints
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    for flag in ("--coordinator", "--num-processes", "--process-id", "--coordinator-timeout"):
        assert flag in out, flag
