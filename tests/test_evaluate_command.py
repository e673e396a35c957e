"""python -m drats_jax.evaluate on a short CLI run (MetaWorld reach and door-open, C backend, 2 seeds): the last
checkpoint with the run's own settings reproduces the run's last eval.csv rows value for
value; an export evaluates the same; videos change no number and are real MP4s (with OSMesa:
.ci/run installs it); no OpenGL gives one line and the results; bad input gives one line,
exit code 2, before anything is evaluated."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from drats_jax.evaluate import command

REPO = pathlib.Path(__file__).resolve().parents[1]
TRAIN = ["--tasks", "reach-v3,door-open-v3", "--train.num-envs", "2", "--total-steps", "600", "--train.warmup-env-steps",
         "200", "--train.chunk-length", "100", "--train.buffer-capacity", "600", "--train.sac.hidden-width", "16",
         "--train.sac.hidden-depth", "1", "--train.sac.batch-size", "32", "--train.sampler.interval", "50",
         "--eval-episodes", "3", "--seeds", "2", "--no-progress"]


def _run(module: str, *args, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=timeout)


def _evaluate(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    out = _run("drats_jax.evaluate", *args, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("evaluate") / "run"
    out = _run("drats_jax.train", *TRAIN, "--out", folder)
    assert out.returncode == 0, out.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def evaluated(run) -> dict:
    """The run's last checkpoint evaluated with its own settings."""
    path = run.parent / "evaluated.json"
    out = _evaluate(run, "--out", path)
    assert "reach-v3" in out.stdout and "worst task" in out.stdout  # the table
    return json.loads(path.read_text())


def test_last_checkpoint_reproduces_the_runs_last_evaluation(run, evaluated):
    with open(run / "eval.csv") as f:
        rows = list(csv.DictReader(f))
    last = [r for r in rows if int(r["env_steps"]) == max(int(r["env_steps"]) for r in rows)]
    assert len(last) == 2 and evaluated["seeds"] == [0, 1] and evaluated["episodes"] == 3
    for row, ours in zip(last, evaluated["per_seed"], strict=True):
        assert set(row) == set(ours)
        for key, value in row.items():  # csv holds repr(float): a float32 value round-trips exactly
            assert float(value) == float(ours[key]), (key, value, ours[key])
    assert evaluated["source"] == "checkpoint" and evaluated["env_steps"] == 600
    means = {k: np.mean([r[k] for r in evaluated["per_seed"]]) for k in ("mean_success", "worst_success")}
    assert evaluated["mean_success"] == pytest.approx(means["mean_success"])
    assert evaluated["worst_success"] == pytest.approx(means["worst_success"])
    for task in ("reach-v3", "door-open-v3"):
        r = evaluated["tasks"][task]
        assert r["return"] == pytest.approx(np.mean([s[f"return/{task}"] for s in evaluated["per_seed"]]))
        assert set(r) == {"success", "return", "return_full"}


def test_export_evaluates_the_same(run, evaluated, tmp_path):
    out = _evaluate(run, "--export", tmp_path / "policy")
    assert "exported the policy" in out.stdout
    size = sum(f.stat().st_size for f in (tmp_path / "policy").rglob("*") if f.is_file())
    assert size < 100_000  # the actor only: no replay buffer, critics or optimiser states
    _evaluate(tmp_path / "policy", "--out", tmp_path / "export.json")
    again = json.loads((tmp_path / "export.json").read_text())
    assert again["source"] == "export" and again["per_seed"] == evaluated["per_seed"]
    # One seed: the export of seed 1 evaluates as the run's seed 1 alone.
    _evaluate(run, "--export", tmp_path / "seed1", "--seed", "1")
    _evaluate(tmp_path / "seed1", "--out", tmp_path / "e1.json")
    _evaluate(run, "--seed", "1", "--out", tmp_path / "r1.json")
    one, ref = (json.loads((tmp_path / f).read_text()) for f in ("e1.json", "r1.json"))
    assert one["seeds"] == ref["seeds"] == [1] and one["per_seed"] == ref["per_seed"]


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # imageio's ffmpeg reader: fork + exec
def test_videos_are_mp4s_of_the_evaluated_episodes(run, evaluated, tmp_path):
    import imageio.v2 as imageio  # noqa: PLC0415

    out = _evaluate(run, "--video", tmp_path / "videos", "--video-episodes", "2", "--video-size", "160x128",
                    "--video-stride", "50", "--out", tmp_path / "v.json")
    if "no OpenGL context" in out.stderr and not os.environ.get("CI"):
        pytest.skip("no OpenGL here (CI installs OSMesa): " + out.stderr.strip())
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["per_seed"] == evaluated["per_seed"]  # recording changes no number
    videos = report["videos"]["tasks"]
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["door-open-v3.mp4", "reach-v3.mp4"]
    first = {}
    for task, v in videos.items():
        frames = np.stack(imageio.mimread(v["file"], memtest=False))
        # Each episode: every 50th step from its reset, and its last step.
        assert len(v["episodes"]) == 2 and [e["goal"] for e in v["episodes"]] == [0, 1]
        assert frames.shape[0] == v["frames"] >= 2 * 2 and frames.shape[1:] == (128, 160, 3)
        scene = frames[:, 32:].astype(np.float32)  # below the caption
        assert scene.std() > 20 and 20 < scene.mean() < 235  # not blank
        assert np.abs(scene[0] - scene[-1]).mean() > 0.5  # the arm moves
        first[task] = scene[0]
    # Two tasks' scenes differ (door-open's safe stands on the table): 3.6% of the pixels below
    # the caption change by more than 40 of 255 (measured; reach against push, whose scenes differ
    # by a puck only: 0.08%).
    changed = np.mean(np.abs(first["reach-v3"] - first["door-open-v3"]).max(-1) > 40)
    assert changed > 0.02, changed


def test_no_opengl_says_one_line_and_still_writes_the_results(run, evaluated, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    out = subprocess.run([sys.executable, "-m", "drats_jax.evaluate", str(run), "--video", str(tmp_path / "v"),
                          "--out", str(tmp_path / "r.json")], cwd=REPO, capture_output=True, text=True, timeout=600,
                         env=dict(env, MUJOCO_GL="glfw"))  # GLFW without a display: no context
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("drats_jax.evaluate: no videos: no OpenGL context"), out.stderr
    assert "apt-get install libosmesa6" in lines[0]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["per_seed"] == evaluated["per_seed"] and "error" in report["videos"]
    assert not (tmp_path / "v").exists()


def test_bad_input_is_one_line_before_anything_runs(run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(command, "evaluate", lambda *a, **k: pytest.fail("evaluated despite bad input"))
    for name in ("MUJOCO_GL", "PYOPENGL_PLATFORM"):  # --video may choose them: restored afterwards
        monkeypatch.setenv(name, os.environ.get(name, ""))
        monkeypatch.delenv(name)
    (tmp_path / "norun").mkdir()
    shutil.copytree(run, tmp_path / "nockpt", ignore=shutil.ignore_patterns("checkpoints"))
    assert command.main([str(run), "--export", str(tmp_path / "exp")]) == 0
    shutil.copytree(tmp_path / "exp", tmp_path / "badmeta")
    (tmp_path / "badmeta" / "export.json").write_text("{not json")
    shutil.copytree(tmp_path / "exp", tmp_path / "badweights")
    data = next(f for f in sorted((tmp_path / "badweights" / "weights").rglob("*")) if f.is_file() and f.parent.name == "d")
    data.write_bytes(data.read_bytes() + b"x")
    capsys.readouterr()
    cases = [([str(tmp_path / "missing")], "not a folder"),
             ([str(tmp_path / "norun")], "no config.json there (not a run folder?)"),
             ([str(tmp_path / "nockpt")], "no complete checkpoint"),
             ([str(run), "--step", "5"], "no checkpoint at step 5 in"),
             ([str(run), "--tasks", "reach-v3,pick-place-v3"], "unknown task(s) 'pick-place-v3' for this run"),
             ([str(run), "--seed", "2"], "--seed 2 is not in"),
             ([str(tmp_path / "badmeta")], "unreadable export"),
             ([str(tmp_path / "badweights")], "is corrupt: 1 file(s)"),
             ([str(tmp_path / "exp"), "--step", "7"], "holds step 600 only"),
             ([str(run), "--episodes", "0"], "--episodes must be > 0"),
             ([str(run), "--video", str(tmp_path / "v"), "--video-size", "100x100"], "multiples of 16"),
             ([str(run), "--video", str(tmp_path / "v"), "--video-camera", "front"], "front"),
             ([str(run), "--backend", "bullet"], "bullet"),
             ([str(run), "--export", str(tmp_path / "exp")], "already exists"),
             ([str(run), "--no-such-flag"], "no-such-flag")]
    for argv, match in cases:
        assert command.main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("drats_jax.evaluate: error: ") and match in err, (argv, err)
        assert "\n" not in err and "Traceback" not in err, err
