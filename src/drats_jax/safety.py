"""What ends a run early without losing data: a loss or parameter that turns NaN/inf
(:class:`Diverged`, named by :func:`first_nonfinite`; the driver then saves nothing, so the
last good checkpoint stays the newest) and SIGTERM/SIGINT (:class:`StopRequest`: checkpoint at
the next chunk boundary, exit 0)."""

from __future__ import annotations

import signal
import time

import numpy as np


# Within one vector step, the order in which a NaN spreads: name the first as the cause.
_CAUSE_ORDER = ("critic_loss", "q_mean", "critic_params", "actor_loss", "entropy", "actor_params", "alpha_loss",
                "alpha_mean", "log_alpha",  # SAC
                "value_loss", "policy_loss", "approx_kl", "clip_frac")  # PPO (with critic/actor params, entropy)


class Diverged(Exception):
    """A loss or parameter became NaN/inf; str(error) is one line naming the metric and step."""


def first_nonfinite(health: dict, chunk_start: int, num_envs: int) -> str | None:
    """The earliest non-finite learner metric or parameter of a chunk, as one line, or None.

    health: {name: i32[S]} from run_chunk (first bad vector step of the chunk, -1 if none);
    chunk_start: env steps per seed before the chunk. Ties name the first metric in order.
    """
    found = []
    for name, idx in health.items():
        idx = np.asarray(idx).reshape(-1)
        for seed in np.flatnonzero(idx >= 0):
            order = _CAUSE_ORDER.index(name) if name in _CAUSE_ORDER else len(_CAUSE_ORDER)
            found.append((chunk_start + (int(idx[seed]) + 1) * num_envs, order, name, int(seed)))
    if not found:
        return None
    at, _, name, seed = min(found)
    what = "parameters" if name.endswith("params") or name == "log_alpha" else "loss/metric"
    return f"non-finite {name} ({what}) at env step {at:,} (seed {seed})"


class StopRequest:
    """Turns SIGTERM/SIGINT (cluster preemption, Ctrl-C) into a request the driver honours
    (drats_jax.chunk_loop): checkpoint, then exit 0. A second signal stops at once.
    ``requested``: the first signal's name; ``at``: its time.monotonic()."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.requested: str | None = None
        self.at: float | None = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested is not None:  # second signal: the default behaviour
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        self.at = time.monotonic()
        self.requested = signal.Signals(signum).name

    def __enter__(self):
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
