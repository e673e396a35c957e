"""The GPU benchmarks' bookkeeping, without compiling a physics program: bench-gpu writes its JSON
after every case and keeps earlier cases when a later one raises; the device check gives each
stage a budget, records a failing or hanging stage and runs the next; the carried wheels split
into parts that reassemble only when all are there and intact."""

from __future__ import annotations

import json
import pathlib

import pytest

from benchmarks import gpu, gpu_check, gpu_wheels

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_bench_gpu_keeps_earlier_cases_when_a_later_case_raises(tmp_path, monkeypatch):
    calls = []

    def fake_speed(suite, backend, batch, block, steps, repeats):
        calls.append(batch)
        if batch == 20:
            raise RuntimeError("XLA ran out of memory\nwhile compiling")
        if batch == 30:  # the JSON on disk already holds the two earlier cases
            (path,) = tmp_path.glob("bench-gpu-*.json")
            rows = json.loads(path.read_text())["speed"]
            assert [r["case"] for r in rows] == ["mjx mt10 batch 10", "mjx mt10 batch 20"]
        return {"batch": batch, "env_steps_per_s": 100.0 * batch, "lower_s": 1.0, "compile_s": 2.0,
                "first_call_s": 3.0}

    monkeypatch.setattr(gpu, "speed", fake_speed)
    code = gpu.main(["--backends", "mjx", "--sections", "speed", "--suites", "mt10", "--batches", "10", "20", "30",
                     "--out-dir", str(tmp_path)])
    assert code == 1 and calls == [10, 20, 30]  # the failing case did not stop the run
    (path,) = tmp_path.glob("bench-gpu-*.json")
    rows = json.loads(path.read_text())["speed"]
    assert [r.get("env_steps_per_s") for r in rows] == [1000.0, None, 3000.0]
    assert rows[1]["error"] == "RuntimeError: XLA ran out of memory while compiling"
    assert all(r["compile_s"] == 2.0 for r in (rows[0], rows[2])) and all("case_s" in r for r in rows)


def _stage(name, fn, budget, **params):
    return gpu_check.Stage(name, f"tests.gpu_check_fakes:{fn}", budget, params)


def test_device_check_records_failed_and_hung_stages_and_goes_on(tmp_path, capsys):
    stages = (_stage("first", "measures", 60, value=3.0), _stage("fails", "raises", 60, message="no\nGPU"),
              _stage("hangs", "hangs", 8, seconds=300), _stage("last", "measures", 60, value=4.0),
              _stage("late", "measures", 60, value=5.0))
    summary = gpu_check.check(tmp_path, quick=False, budget_s=60, stages=stages)
    st = summary["stages"]
    assert st["first"]["status"] == "ok" and st["last"]["status"] == "ok"
    assert st["fails"]["status"] == "error: RuntimeError: no GPU"
    assert st["hangs"]["status"] == "timed out after 8 s (its budget)" and st["hangs"]["seconds"] < 30
    assert st["hangs"]["was_running"] == "compiling forever"
    hung = json.loads((tmp_path / "hangs.json").read_text())
    assert hung["measured"] == 2.0 and hung["status"].startswith("timed out")  # what it measured is kept
    assert json.loads((tmp_path / "fails.json").read_text())["measured"] == 1.0
    assert json.loads((tmp_path / "last.json").read_text())["measured"] == 4.0
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(summary))
    # the 60 s budget is shared: whatever is left when a stage's turn comes caps it
    assert all(s.get("budget_s", 0) <= 60 for s in st.values())
    assert "== hangs: timed out" in capsys.readouterr().out


def test_device_check_skips_stages_without_time_or_backend(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "_installed", lambda backend: backend == "mujoco")
    stages = (gpu_check.Stage("nowarp", "tests.gpu_check_fakes:measures", 60, {"value": 1.0}, backend="warp"),
              gpu_check.Stage("quickless", "tests.gpu_check_fakes:measures", 60, {"value": 1.0}),
              gpu_check.Stage("optional", "tests.gpu_check_fakes:measures", 60, {"value": 1.0}, default=False))
    summary = gpu_check.check(tmp_path, quick=True, budget_s=30, stages=stages)
    assert summary["stages"] == {"nowarp": {"status": "skipped: not run with --quick"},
                                 "quickless": {"status": "skipped: not run with --quick"}}
    summary = gpu_check.check(tmp_path, quick=False, budget_s=30, stages=stages[:1])
    assert summary["stages"]["nowarp"]["status"] == "skipped: backend warp is not installed here"
    summary = gpu_check.check(tmp_path, quick=False, budget_s=30, stages=stages[1:], names=["optional"])
    assert list(summary["stages"]) == ["optional"] and summary["stages"]["optional"]["status"] == "ok"
    assert [s.name for s in gpu_check.STAGES if s.default] == [
        "device", "env-mt10-warp", "train-mt10", "env-mt10-mjx", "env-mt50-warp"]
    assert sum(s.budget_s for s in gpu_check.STAGES if s.default) <= 480  # one H200 lease: <= 8 minutes


def _fake_wheels(folder: pathlib.Path) -> list[pathlib.Path]:
    folder.mkdir()
    out = []
    for i, size in enumerate((5000, 12000, 300)):
        p = folder / f"pkg{i}-1.0-py3-none-any.whl"
        p.write_bytes(bytes(range(256)) * (size // 256) + bytes(size % 256))
        out.append(p)
    return out


def test_carried_wheels_reassemble_only_when_all_parts_are_there(tmp_path):
    wheels = _fake_wheels(tmp_path / "w")
    carry = tmp_path / "whl"
    carry.mkdir()
    manifest = gpu_wheels.pack(wheels, carry, part_bytes=8000)
    n = manifest["parts"]
    assert n == 3 and sorted(p.name for p in carry.iterdir()) == ["1", "2", "3"]
    assert all((carry / str(i) / f"wheels.tar.part{i}").stat().st_size <= 8000 for i in range(1, n + 1))
    stash = tmp_path / "stash"
    recorder = tmp_path / "pip-args.txt"
    fake_python = tmp_path / "python"
    fake_python.write_text(f"#!/bin/sh\necho \"$@\" > {recorder}\n")
    fake_python.chmod(0o755)
    # call 1 carries part 1, call 2 part 2; the last call carries part 3 and installs
    for i in (1, 2):
        assert gpu_wheels.stash(_only(carry, i, tmp_path), stash) == set(range(1, i + 1))
    with pytest.raises(SystemExit, match=r"parts \[3\] of 3 are missing"):
        gpu_wheels.install(_only(carry, 2, tmp_path), tmp_path / "site", stash, python=str(fake_python))
    line = gpu_wheels.install(_only(carry, 3, tmp_path), tmp_path / "site", stash, python=str(fake_python))
    assert line.startswith("installed 3 wheels into")
    args = recorder.read_text().split()
    assert {"--no-index", "--no-deps", "--target", str(tmp_path / "site")} <= set(args)
    assert sorted(pathlib.Path(a).read_bytes() for a in args if a.endswith(".whl")) == sorted(
        w.read_bytes() for w in wheels)
    (stash / "wheels.tar.part2").write_bytes(b"x" * 10)  # a part of another download
    with pytest.raises(SystemExit, match="does not match the manifest"):
        gpu_wheels.install(_only(carry, 3, tmp_path), tmp_path / "site", stash, python=str(fake_python))


def _only(carry: pathlib.Path, i: int, tmp_path: pathlib.Path) -> pathlib.Path:
    """A working tree that carries only part folder i (as one device call does)."""
    tree = tmp_path / f"call{i}"
    if not tree.exists():
        (tree / str(i)).mkdir(parents=True)
        for f in (carry / str(i)).iterdir():
            (tree / str(i) / f.name).write_bytes(f.read_bytes())
    return tree


def test_device_requirements_pin_one_version_of_each_wheel():
    reqs = gpu_wheels.requirements()
    names = [r.split("==")[0].lower() for r in reqs]
    assert all("==" in r for r in reqs) and len(set(names)) == len(names)
    assert {"mujoco", "mujoco-core", "mujoco-mjx", "warp-lang", "metaworld", "tyro"} <= set(names)
    warp_pin = next(line for line in (REPO / "requirements" / "warp.txt").read_text().splitlines()
                    if line.startswith("mujoco-mjx"))
    assert warp_pin.split("==")[1] == next(r for r in reqs if r.startswith("mujoco-mjx==")).split("==")[1]
