"""What every benchmark JSON records: machine, device, library versions, and where it goes."""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import time
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


def write(name: str, payload: dict, out_dir: Path | str | None = None) -> Path:
    """Writes ``{name}-{local time}.json`` (environment() merged in) and returns its path."""
    return Record(name, payload, out_dir).path


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and message, whitespace collapsed, at most 500 characters."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]


class Record:
    """A benchmark JSON written whole (atomically) at creation and after every case, so a run that
    fails or is killed keeps everything measured before.

        rec = Record("bench-gpu", {"config": ...}, out_dir)        # {name}-{local time}.json
        rec.case("speed", "warp mt10 1280", speed, "mt10", ...)    # appends fn's dict, or its error

    ``path``: write there instead (no time stamp)."""

    def __init__(self, name: str, payload: dict, out_dir: Path | str | None = None, path: Path | str | None = None):
        if path is None:
            out = Path(out_dir) if out_dir is not None else RESULTS
            path = out / f"{name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.data = {"benchmark": name, **environment(), **payload}
        self.save()

    def save(self) -> Path:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=_jsonable))
        os.replace(tmp, self.path)
        return self.path

    def case(self, section: str, label: str, fn, *args, log=print, **kwargs) -> dict:
        """Runs ``fn(*args, **kwargs)`` (a dict) as one case of ``section`` (a list in the JSON):
        on an exception the case records {"error": one line} instead and the run goes on. Each
        case records its label and wall seconds; the JSON is saved after it."""
        t0 = time.perf_counter()
        try:
            row = dict(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001  recorded, never a number
            row = {"error": one_line(exc)}
            log(f"  {label}: FAILED: {row['error']}")
        row = {"case": label, **row, "case_s": time.perf_counter() - t0}
        self.data.setdefault(section, []).append(row)
        self.save()
        return row


def _jsonable(x):
    """numpy scalars and arrays in a JSON payload."""
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


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


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows every option's default, also of options without a help text."""

    def _format_action(self, action):
        if action.help is None and action.option_strings and action.nargs != 0:
            action.help = "default: %(default)s"
        return super()._format_action(action)


def arg_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """A benchmark's command line: its module docstring's first paragraph as the description
    (whole sentences), every option's default in --help."""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    return argparse.ArgumentParser(prog=prog, description=first, formatter_class=_HelpFormatter)
