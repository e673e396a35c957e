"""Builds and loads native_step.c, the C version of MujocoBackend's per-slot loop.

Compiled on first use with the system C compiler against the mujoco wheel's headers and
library, cached per user under a key of (C source, mujoco version, python platform), and
loaded with ctypes (which releases the GIL during the call, so the thread pool scales
with the physics). `load()` returns None, after one warning, when anything fails; the
backend then keeps its Python loop. METAWORLD_JAX_NATIVE=0 forces the Python loop.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

import mujoco

log = logging.getLogger(__name__)

_SRC = Path(__file__).with_name("native_step.c")
_ENV = "METAWORLD_JAX_NATIVE"
_lock = threading.Lock()
_cached: list = []  # [lib or None] once tried

def enabled() -> bool:
    return os.environ.get(_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _mujoco_paths() -> tuple[Path, Path]:
    root = Path(mujoco.__file__).parent
    include = root / "include"
    libs = sorted(root.glob("libmujoco.so*")) or sorted(root.glob("libmujoco*.dylib"))
    if not (include / "mujoco" / "mujoco.h").exists() or not libs:
        raise RuntimeError(f"mujoco headers or library not found under {root}")
    return include, libs[0]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "metaworld_jax" / "native"


def _build() -> Path:
    if sys.platform.startswith("win"):
        raise RuntimeError("native step is not supported on Windows")
    include, lib = _mujoco_paths()
    src = _SRC.read_bytes()
    key = hashlib.sha256(
        src + mujoco.__version__.encode() + str(lib).encode() + sysconfig.get_platform().encode()
    ).hexdigest()[:16]
    out_dir = _cache_dir()
    target = out_dir / f"native_step-{key}.so"
    if target.exists():
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise RuntimeError("no C compiler found (cc/gcc/clang)")
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".native_step-", suffix=".so", dir=out_dir)
    os.close(fd)
    try:
        cmd = [
            cc, "-O2", "-shared", "-fPIC", "-std=c99", "-o", tmp, str(_SRC),
            f"-I{include}", str(lib), f"-Wl,-rpath,{lib.parent}", "-lm",
        ]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"compiling {_SRC.name} failed:\n{res.stderr.strip()}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _load():
    path = _build()
    lib = ctypes.CDLL(str(path))
    if lib.mwj_abi_version() != 1:
        raise RuntimeError(f"{path}: unexpected ABI version")
    p = ctypes.c_void_p
    lib.mwj_run.argtypes = [
        ctypes.c_int64, p, p, p, p, p, ctypes.c_int64, p, ctypes.c_int64,  # slots..readings
        p, p, p, p,  # models, datas, mocap lo, hi
        p, p, p, p,  # override start, ids, value offsets, values
        p, p,  # plan start, plan
        ctypes.c_int32, ctypes.c_uint32,
    ]
    lib.mwj_run.restype = ctypes.c_int
    lib.mwj_np_sum.argtypes = [p, ctypes.c_int64]
    lib.mwj_np_sum.restype = ctypes.c_double
    return lib


def load():
    """The loaded library, or None (Python loop) when disabled or it cannot be built."""
    if not enabled():
        return None
    with _lock:
        if not _cached:
            try:
                _cached.append(_load())
            except Exception as e:  # noqa: BLE001 - any failure means: use the Python loop
                log.warning("metaworld_jax: native MuJoCo step unavailable, using the Python loop (%s)", e)
                _cached.append(None)
        return _cached[0]
