"""What every benchmark JSON records: machine, device, library versions, and where it goes."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
_PACKAGES = ("jax", "jaxlib", "flax", "optax", "mujoco", "mujoco-mjx", "warp-lang", "metaworld", "gymnasium",
             "numpy", "mtcworldmjx")


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def environment() -> dict:
    import jax

    versions = {}
    for p in _PACKAGES:
        try:
            versions[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            versions[p] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                    text=True, cwd=Path(__file__).parent).stdout.strip())
    except OSError:
        commit, dirty = None, None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": _cpu_model(), "cpu_count": os.cpu_count(),
                    "hostname": platform.node(), "load_average_at_end": load},
        "device": str(jax.devices()[0]),
        "device_kind": jax.devices()[0].device_kind,
        "jax_backend": jax.default_backend(),
        "versions": versions,
        "commit": commit,
        "commit_dirty": dirty,
    }


def write(name: str, payload: dict, out_dir: Path | str | None = None, stamp: str | None = None) -> Path:
    """Writes ``{name}-{stamp or local time}.json`` (environment() merged in) and returns its
    path; pass the same ``stamp`` to rewrite one file as a run goes on."""
    out = Path(out_dir) if out_dir is not None else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    stamp = stamp or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out / f"{name}-{stamp}.json"
    path.write_text(json.dumps({"benchmark": name, **environment(), **payload}, indent=2))
    return path


def pyplot(log):
    """matplotlib.pyplot on the Agg backend, or None (after ``log(...)`` saying why) if it cannot be imported."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as exc:  # noqa: BLE001
        log(f"no plot ({exc})")
        return None
    return plt


def save_figure(fig, path: Path, title: str, dpi: int = 100) -> Path:
    """Titles, lays out, writes and closes a figure; returns path."""
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
