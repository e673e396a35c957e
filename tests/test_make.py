"""The Makefile as a newcomer meets it: plain `make` lists every target with one line each and
builds nothing; `make install` installs the lock file; `make install-mtsac` without a
working Python 3.12 says in one line how to set MTSAC_PYTHON."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _make(*args, **kwargs) -> subprocess.CompletedProcess:
    # Under `make test` the outer make's variables would turn this into a sub-make, which prints
    # "Entering directory" lines a user typing the command never sees.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    return subprocess.run(["make", *args], cwd=REPO, capture_output=True, text=True, timeout=60, env=env, **kwargs)


def _phony() -> list[str]:
    text = (REPO / "Makefile").read_text()
    return re.search(r"^\.PHONY:(.*)$", text, re.MULTILINE).group(1).split()


def test_plain_make_lists_every_target_and_builds_nothing():
    out = _make()
    assert out.returncode == 0, out.stderr
    listed = [line.split()[0] for line in out.stdout.splitlines()[1:]]
    assert sorted(listed) == sorted(_phony()), set(listed) ^ set(_phony())
    for line in out.stdout.splitlines()[1:]:
        assert len(line.split(None, 1)) == 2, line  # a target and its description
    dry = _make("-n")
    assert "venv" not in dry.stdout and "pip" not in dry.stdout, dry.stdout


def test_install_uses_the_lock_then_the_project_without_dependencies(tmp_path):
    out = _make("-n", "-B", "install", f"VENV={tmp_path / 'v'}")
    assert out.returncode == 0, out.stderr
    pip = [line for line in out.stdout.splitlines() if "pip install" in line]
    assert "-r requirements/lock.txt" in pip[1] and "--no-deps -e ." in pip[2], pip
    lock = (REPO / "requirements" / "lock.txt").read_text().splitlines()
    pins = [line for line in lock if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^ ]+", p) for p in pins), pins
    names = {p.split("==")[0].lower().replace("_", "-") for p in pins}
    assert {"jax", "mujoco", "imageio-ffmpeg", "pytest"} <= names and "drats-jax" not in names


def test_install_mtsac_without_python312_is_one_line(tmp_path):
    out = _make("install-mtsac", f"MTSAC_VENV={tmp_path / 'venv'}", f"MTSAC_SRC={tmp_path / 'src'}",
                f"MTSAC_PYTHON={tmp_path / 'no-python'}")
    assert out.returncode != 0
    assert out.stdout.strip().count("\n") == 0, out.stdout
    assert out.stdout.startswith("install-mtsac: no Python >= 3.12") and "set MTSAC_PYTHON" in out.stdout
    assert not (tmp_path / "src").exists() and not (tmp_path / "venv").exists()
