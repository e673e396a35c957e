"""Timing helpers shared by the throughput benchmarks (benchmarks.run, benchmarks.training)."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def log(msg: str) -> None:
    print(msg, flush=True)


def summary(times: list[float]) -> dict:
    """{"median", "best"} of per-call wall times (s)."""
    return {"median": statistics.median(times), "best": min(times)}


def compile_timed(jitted, *args) -> tuple[Callable, dict]:
    """(compiled, {"lower_s", "compile_s"}): a real compile, timed apart from any call."""
    t0 = time.perf_counter()
    lowered = jitted.lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return compiled, {"lower_s": t1 - t0, "compile_s": t2 - t1}


def block(x: Any) -> Any:
    import jax

    return jax.block_until_ready(x)
