"""benchmarks.compile: each case in its own watched subprocess, its JSON rewritten after every
case; a case past its time limit is stopped and recorded as such, with what it had measured."""

from __future__ import annotations

import json

import pytest

from benchmarks import compile as compile_bench


def _result(out_dir):
    (path,) = out_dir.glob("compile-*.json")
    return json.loads(path.read_text())


def test_a_case_past_its_timeout_is_stopped_and_recorded(tmp_path):
    assert compile_bench.main(["--backends", "mjx", "--cases", "step-mt10", "--timeout", "3", "--out-dir",
                               str(tmp_path)]) == 0
    case = _result(tmp_path)["cases"]["mjx"]["step-mt10"]
    assert case["status"] == "stopped after the 3 s timeout" and case["wall_s"] < 60 and "peak_rss_gb" in case


@pytest.mark.warp_env
def test_warp_step_case_measures_compile(tmp_path):
    # Warp's own kernel cache: a cold one costs minutes of kernel builds on this CPU.
    assert compile_bench.main(["--backends", "warp", "--cases", "step-1", "--slots-per-task", "2", "--warm-warp-cache",
                               "--out-dir", str(tmp_path)]) == 0
    case = _result(tmp_path)["cases"]["warp"]["step-1"]
    assert case["status"] == "ok", case
    assert case["tasks"] == 1 and case["slots"] == 2
    assert all(case[k] > 0 for k in ("trace_s", "lower_s", "compile_s", "hlo_mb", "first_call_s", "peak_rss_gb"))
