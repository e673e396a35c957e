"""Wheels for a GPU machine that cannot reach a package index and takes at most 64 MiB per call.

    python -m benchmarks.gpu_wheels download [--dir .whl] [--part-mib 56]     # here: make gpu-wheels
    python -m benchmarks.gpu_wheels resets [--dir .whl]                       # here, in .venv-warp
    python -m benchmarks.gpu_wheels stash [--dir .whl]                        # there: calls 1..N-1
    python -m benchmarks.gpu_wheels install --target /tmp/site [--dir .whl]   # there: the last call

``download`` fetches requirements/device.txt's wheels for Python 3.12 / manylinux x86_64 with
--no-deps (one version of each), packs them into one tar (wheels.tar, not compressed: wheels
are zip files already) and splits it into N parts of at most --part-mib MiB, one per carry
folder DIR/1 .. DIR/N (warp-lang's wheel alone is 149 MB). Each folder also holds the manifest
(the tar's sha256 and N). ``stash`` copies the parts of the folders present into STASH (outside
the repository, kept while the machine stays warm between calls); ``install`` stashes, checks
that all N parts are there and that the reassembled tar has the manifest's sha256, extracts it
and installs the wheels with pip --no-index --no-deps --target. ``resets`` builds the MT10 and
MT50 reset tables (metaworld_jax's reset cache) into DIR/resets with this environment's MuJoCo
(run it in .venv-warp: MuJoCo 4.0.1, as carried), so the GPU machine loads them instead of
replaying metaworld's resets (~40 s for MT50 on this project's CPU). Standard library only at
import: it runs on the GPU machine before anything is installed. docs/gpu.md has the calls.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from benchmarks import common

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements" / "device.txt"
STASH = Path("/tmp/drats-jax-wheels")
MANIFEST = "manifest.json"
TAR = "wheels.tar"
# The device image's Python and platform (pip matches manylinux_2_N exactly, so several are named).
PLATFORM_FLAGS = ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
                  *[f for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                                "manylinux2014_x86_64", "manylinux1_x86_64") for f in ("--platform", p)]]
MIB = 1 << 20


def requirements(path: Path = REQUIREMENTS) -> list[str]:
    """NAME==VERSION lines of a requirements file (comments and blanks dropped)."""
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def _dist_name(wheel: str) -> str:
    return re.sub(r"[-_.]+", "-", wheel.split("-")[0]).lower()


def _sha256(paths) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(MIB), b""):
                h.update(block)
    return h.hexdigest()


def pack(wheels: list[Path], out: Path, part_bytes: int) -> dict:
    """Tars ``wheels`` and splits the tar into equal parts of at most ``part_bytes``: out/1 .. out/N,
    each with the manifest. Returns the manifest."""
    tar_path = out / TAR
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for w in sorted(wheels):
            info = tar.gettarinfo(str(w), arcname=w.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(w, "rb") as f:
                tar.addfile(info, f)
    size = tar_path.stat().st_size
    n = max(1, math.ceil(size / part_bytes))
    step = math.ceil(size / n)
    manifest = {"tar_sha256": _sha256([tar_path]), "tar_bytes": size, "parts": n,
                "wheels": {w.name: w.stat().st_size for w in sorted(wheels)}}
    with open(tar_path, "rb") as f:
        for i in range(1, n + 1):
            folder = out / str(i)
            folder.mkdir()
            (folder / f"{TAR}.part{i}").write_bytes(f.read(step))
            (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    tar_path.unlink()
    return manifest


def download(out: Path, part_mib: float, python: str = sys.executable) -> dict:
    """make gpu-wheels: requirements/device.txt -> out/1 .. out/N (out is emptied first)."""
    if out.exists():
        shutil.rmtree(out)
    wheels_dir = out / "wheels"
    wheels_dir.mkdir(parents=True)
    reqs = requirements()
    cmd = [python, "-m", "pip", "download", "-q", "--no-deps", *PLATFORM_FLAGS, "-d", str(wheels_dir), *reqs]
    if subprocess.run(cmd).returncode != 0:
        raise SystemExit(f"gpu_wheels: pip download failed for {' '.join(reqs)}")
    wheels = sorted(wheels_dir.glob("*.whl"))
    names = [_dist_name(w.name) for w in wheels]
    if len(set(names)) != len(names) or len(wheels) != len(reqs):
        raise SystemExit(f"gpu_wheels: expected one wheel per requirement ({len(reqs)}), got {[w.name for w in wheels]}")
    manifest = pack(wheels, out, int(part_mib * MIB))
    shutil.rmtree(wheels_dir)
    return manifest


def resets(out: Path) -> str:
    """The reset tables of MT10 and MT50 into out/resets (this environment's mujoco version must be
    the carried one: the cache key holds it). Returns one line."""
    import importlib.metadata  # noqa: PLC0415

    target = out / "resets"
    os.environ["METAWORLD_JAX_CACHE"] = str(target)
    import metaworld_jax  # noqa: PLC0415  (reads METAWORLD_JAX_CACHE when it builds)

    for suite in ("mt10", "mt50"):
        metaworld_jax.make(suite, backend="mujoco", seed=0)
    size = sum(p.stat().st_size for p in target.iterdir()) / MIB
    return (f"reset tables of MT10 and MT50 (mujoco {importlib.metadata.version('mujoco')}) in {target}: "
            f"{size:.1f} MiB; on the GPU machine: export METAWORLD_JAX_CACHE=$PWD/{os.path.relpath(target, REPO)}")


def stash(src: Path, stash_dir: Path = STASH) -> set[int]:
    """Copies the parts (and the manifest) under src/<k>/ into stash_dir; returns the part numbers held."""
    stash_dir.mkdir(parents=True, exist_ok=True)
    for part in sorted(src.glob(f"*/{TAR}.part*")):
        shutil.copy2(part, stash_dir / part.name)
        shutil.copy2(part.parent / MANIFEST, stash_dir / MANIFEST)
    return {int(p.name.rsplit("part", 1)[1]) for p in stash_dir.glob(f"{TAR}.part*")}


def install(src: Path, target: Path, stash_dir: Path = STASH, python: str = sys.executable) -> str:
    """Stashes, reassembles, verifies and pip-installs the wheels into ``target``; one line of what
    was installed. Raises SystemExit with one line when a part is missing or corrupt."""
    held = stash(src, stash_dir)
    try:
        manifest = json.loads((stash_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        raise SystemExit(f"gpu_wheels: no {MANIFEST} under {src}/*/ or {stash_dir}: carry a part folder") from None
    missing = sorted(set(range(1, manifest["parts"] + 1)) - held)
    if missing:
        raise SystemExit(f"gpu_wheels: parts {missing} of {manifest['parts']} are missing in {stash_dir} (the machine "
                         "went cold between calls, or a call was skipped): run the calls that carry them again")
    parts = [stash_dir / f"{TAR}.part{i}" for i in range(1, manifest["parts"] + 1)]
    if _sha256(parts) != manifest["tar_sha256"]:
        raise SystemExit("gpu_wheels: the reassembled wheels.tar does not match the manifest's sha256: "
                         "parts from different `make gpu-wheels` runs? carry all parts again")
    wheels_dir = stash_dir / "wheels"
    shutil.rmtree(wheels_dir, ignore_errors=True)
    wheels_dir.mkdir()
    with open(stash_dir / TAR, "wb") as whole:
        for p in parts:
            whole.write(p.read_bytes())
    with tarfile.open(stash_dir / TAR) as tar:
        tar.extractall(wheels_dir, filter="data")
    wheels = sorted(str(w) for w in wheels_dir.glob("*.whl"))
    cmd = [python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
           "--upgrade", "--target", str(target), *wheels]
    if subprocess.run(cmd).returncode != 0:
        raise SystemExit("gpu_wheels: pip install of the carried wheels failed (see above)")
    return f"installed {len(wheels)} wheels into {target}: {', '.join(sorted(manifest['wheels']))}"


def main(argv=None) -> int:
    ap = common.arg_parser("python -m benchmarks.gpu_wheels", __doc__)
    ap.add_argument("action", choices=["download", "resets", "stash", "install"])
    ap.add_argument("--dir", type=Path, default=REPO / ".whl", help="carry folders DIR/1 .. DIR/N (git-ignored)")
    ap.add_argument("--part-mib", type=float, default=56.0, help="largest part (MiB); a call carries <= 64 MiB "
                    "with the working tree")
    ap.add_argument("--target", type=Path, default=Path("/tmp/site"), help="install: pip --target folder")
    args = ap.parse_args(argv)
    if args.action == "download":
        m = download(args.dir, args.part_mib)
        mib = m["tar_bytes"] / MIB
        print(f"{len(m['wheels'])} wheels, {mib:.1f} MiB, in {m['parts']} parts of <= {math.ceil(mib / m['parts'])} "
              f"MiB: {', '.join(str(args.dir / str(i)) for i in range(1, m['parts'] + 1))}")
        for name, size in m["wheels"].items():
            print(f"  {name}  {size / 1e6:.2f} MB")
    elif args.action == "resets":
        print(resets(args.dir))
    elif args.action == "stash":
        print(f"{STASH} holds parts {sorted(stash(args.dir))}")
    else:
        print(install(args.dir, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
