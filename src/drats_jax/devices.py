"""What the devices of a run mean for the user: the physics backend a machine defaults to, JAX's
GPU memory settings, one-line notes and warnings printed before training, and the GPU check
of ``make install-gpu`` (``python -m drats_jax.devices``).

The env package says where its physics runs (``metaworld_jax.backends.mjx.warp_device``); the
trainer decides what to tell the user, since the env package never imports the trainer.
Nothing here imports JAX at module level: :func:`set_gpu_memory` must run before JAX starts.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping, MutableMapping

# The physics backend `--backend` defaults to where JAX sees a GPU. MJX-Warp, because its
# kernels compile once and are shared by every scene: on this project's CPU, 4 MetaWorld tasks
# compiled in ~9 s on Warp's CPU device while MJX-JAX ran out of memory compiling them, and
# MJX-JAX's program grows with every scene of the suite. No GPU figure of ours exists yet:
# `make gpu-check` (benchmarks/gpu_check.py) measures the env step on both GPU backends, so this
# constant can follow the numbers once they are in.
GPU_BACKEND = "warp"
CPU_BACKEND = "mujoco"

# JAX's GPU memory for runs that share the GPU with MJX-Warp (the GPU presets, the device check):
# no preallocation (by default JAX takes 75% of GPU memory at start, and recent versions let that
# pool grow to all of it), so JAX takes memory as it needs it, at most this share; the rest stays
# for Warp's own allocations (kernel modules, CUDA graphs, scratch) and CUDA.
GPU_MEMORY_FRACTION = 0.75


def gpu_memory_env(fraction: float | None) -> dict[str, str]:
    """The environment variables that give JAX at most ``fraction`` of GPU memory, taken as needed
    (none for None: JAX's own defaults). Both spellings of the fraction: newer JAX reads
    XLA_CLIENT_MEM_FRACTION, older XLA_PYTHON_CLIENT_MEM_FRACTION."""
    if fraction is None:
        return {}
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"the GPU memory fraction must be in (0, 1], got {fraction}")
    value = f"{fraction:g}"
    return {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_PYTHON_CLIENT_MEM_FRACTION": value,
            "XLA_CLIENT_MEM_FRACTION": value}


def set_gpu_memory(fraction: float | None, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Sets :func:`gpu_memory_env` in ``environ`` (default os.environ) where not set already (the
    user's own settings win). Returns what it set. Only takes effect before JAX starts its GPU
    backend; on a CPU it changes nothing."""
    environ = os.environ if environ is None else environ
    wanted = gpu_memory_env(fraction)
    if any(name in environ for name in wanted):  # the user chose JAX's memory: keep all of theirs
        return {}
    environ.update(wanted)
    return wanted


def gpu_visible() -> bool:
    """Whether JAX's default backend is a GPU. Starts JAX's backend only where a GPU plugin is
    installed and JAX_PLATFORMS allows it: parsing a command line on a CPU machine must leave
    the backend unstarted (jax.distributed.initialize refuses to run after it)."""
    from jax._src import xla_bridge  # noqa: PLC0415

    if not xla_bridge.backends_are_initialized() and not _gpu_plugin_may_load():
        return False
    import jax  # noqa: PLC0415

    return jax.default_backend() == "gpu"


def _gpu_plugin_may_load(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a CUDA or ROCm PJRT plugin is installed and JAX_PLATFORMS does not exclude it."""
    import importlib.metadata  # noqa: PLC0415
    import pkgutil  # noqa: PLC0415

    platforms = (os.environ if environ is None else environ).get("JAX_PLATFORMS", "")
    if platforms and not any(p in platforms.lower() for p in ("cuda", "gpu", "rocm")):
        return False
    names = {ep.name for ep in importlib.metadata.entry_points(group="jax_plugins")}
    try:
        import jax_plugins  # noqa: PLC0415  (namespace package of PJRT plugins)

        names |= {m.name for m in pkgutil.iter_modules(jax_plugins.__path__)}
    except ImportError:
        pass
    return any("cuda" in n or "rocm" in n for n in names)


def _available(backend: str) -> bool:
    from metaworld_jax.backends import check_available  # noqa: PLC0415

    try:
        check_available(backend)
    except ValueError:
        return False
    return True


def default_backend() -> str:
    """``--backend``'s default on this machine: GPU_BACKEND where JAX sees a GPU and it is
    installed, else the C backend. Starts JAX's backend."""
    return GPU_BACKEND if gpu_visible() and _available(GPU_BACKEND) else CPU_BACKEND


def gpu_backend_note(backend: str) -> str | None:
    """One line for a run whose backend the user did not choose, on a machine whose JAX sees a
    GPU: which backend it runs, and why. None where JAX sees no GPU."""
    if not gpu_visible():
        return None
    if backend == GPU_BACKEND:
        return (f"JAX sees a GPU: physics backend {backend} (MJX-Warp, the GPU default: drats_jax.devices."
                "GPU_BACKEND); choose with --backend mujoco|mjx|warp")
    if backend == CPU_BACKEND and not _available(GPU_BACKEND):
        return (f"JAX sees a GPU, but MJX-Warp is not installed in this environment (make install-gpu): "
                f"physics backend {backend} (C MuJoCo on the CPU)")
    return f"JAX sees a GPU: physics backend {backend}; choose with --backend mujoco|mjx|warp"


def backend_warning(backend: str) -> str | None:
    """One line when the chosen physics backend runs somewhere it is not meant for, else None.

    backend="warp" without a GPU visible to JAX runs MJX-Warp's kernels on Warp's CPU device;
    backend="mjx" on a CPU runs MJX-JAX there (about 1000x slower than C MuJoCo per step, and
    its programs take minutes to compile per scene). Both are correct, for tests only. Call it
    after the multi-process join (it starts JAX's backend).
    """
    if backend == "mjx":
        import jax  # noqa: PLC0415

        if jax.default_backend() != "cpu":  # a GPU or a TPU: what MJX-JAX is for
            return None
        return ("--backend mjx runs MJX-JAX on the CPU here (JAX sees no GPU): about 1000x slower than C MuJoCo "
                "(--backend mujoco) and minutes of compile per scene; for tests only")
    if backend != "warp":
        return None
    from metaworld_jax.backends.mjx import warp_device  # noqa: PLC0415  only where warp is installed

    if warp_device() == "cuda":
        return None
    return ("--backend warp runs on Warp's CPU device here (JAX sees no GPU): for tests only, slow; "
            "on an NVIDIA GPU machine run `make install-gpu` first")


# ---------------------------------------------------------------------- make install-gpu's check


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def driver_check() -> tuple[bool, str]:
    """Before installing CUDA wheels: is an NVIDIA driver visible (its /proc entry or nvidia-smi)?"""
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    if os.path.exists("/proc/driver/nvidia/version"):
        return True, "NVIDIA driver found (/proc/driver/nvidia/version)"
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"no usable NVIDIA GPU: nvidia-smi failed ({_one_line(exc)})"
        if out.returncode == 0 and out.stdout.strip():
            return True, "NVIDIA GPU: " + out.stdout.strip().splitlines()[0]
    return False, "no NVIDIA GPU driver on this machine (no /proc/driver/nvidia/version, no nvidia-smi)"


def jax_gpu_check() -> tuple[bool, str]:
    """Does JAX see a GPU and run a computation on it? (ok, one line naming it or saying why not)."""
    import logging  # noqa: PLC0415

    # JAX logs a multi-line warning when a CUDA plugin finds no GPU; this check says it in one line.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.CRITICAL)
    try:
        import jax  # noqa: PLC0415
        import jax.numpy as jnp  # noqa: PLC0415

        version = jax.__version__
        gpus = jax.devices("gpu")
        total = float(jax.device_get(jnp.arange(4.0, device=gpus[0]).sum()))
    except Exception as exc:  # noqa: BLE001  any failure means: no usable GPU
        return False, f"JAX sees no usable GPU: {_one_line(exc)}"
    if total != 6.0:
        return False, f"JAX's GPU computed 0+1+2+3 = {total}"
    return True, f"JAX {version} sees {len(gpus)} GPU(s): {gpus[0].device_kind} ({gpus[0]})"


def main(argv: list[str] | None = None) -> int:
    """``python -m drats_jax.devices [--driver] [--quiet]``: one line, exit 0 if usable, else 1.

    --driver: only whether an NVIDIA driver is visible (before installing CUDA wheels).
    --quiet: print nothing (an exit code for scripts, e.g. `make bench-mt50`)."""
    argv = sys.argv[1:] if argv is None else argv
    unknown = [a for a in argv if a not in ("--driver", "--quiet")]
    if unknown:
        print(f"drats_jax.devices: unknown option(s) {' '.join(unknown)}; use --driver and/or --quiet",
              file=sys.stderr)
        return 2
    ok, line = driver_check() if "--driver" in argv else jax_gpu_check()
    if "--quiet" not in argv:
        print(line if ok else f"drats_jax.devices: error: {line}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
