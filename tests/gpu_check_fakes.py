"""Stages for the device check's orchestrator tests (benchmarks.gpu_check runs them as
"tests.gpu_check_fakes:NAME" in their own processes): no JAX program is compiled."""

from __future__ import annotations

import time


def measures(rec, value: float) -> dict:
    """A stage that measures something and ends."""
    rec.data["measured"] = value
    return {"done": True}


def raises(rec, message: str) -> dict:
    """A stage that fails after a first measurement."""
    rec.data["measured"] = 1.0
    rec.save()
    raise RuntimeError(message)


def hangs(rec, seconds: float) -> dict:
    """A stage that writes a first measurement, then runs past any budget (a compile that does not end)."""
    rec.data["measured"] = 2.0
    rec.data["running"] = "compiling forever"
    rec.save()
    time.sleep(seconds)
    return {"done": True}
