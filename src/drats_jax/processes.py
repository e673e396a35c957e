"""Who does what in a multi-process run: process 0 writes, everyone agrees on outcomes.

Only process 0 (the primary) prints, logs, writes plots, config.json and summaries; every
process takes part in computation and in orbax checkpointing (orbax coordinates its own writes).
Small decisions that must be identical on all processes (the run folder's name, whether a
folder check failed) go through the coordinator's key-value store (:func:`agree`,
:func:`collectively`), so every process ends with the same one-line error instead of some
processes failing and the others waiting forever in a collective.

Results of the sharded program that live on other processes' devices (per-seed metrics when
the ``seed`` axis spans processes) are read on every process with :func:`fetch`; processes started
with different flags are caught by :func:`check_same` before anything compiles.

In a single-process run every helper is the plain single-process behaviour.
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Callable

from drats_jax.errors import UsageError

_PREFIX = "drats_jax/processes"
# Seconds a process waits for another's outcome in the key-value store (process 0 may be
# writing to a slow shared filesystem meanwhile).
WAIT_S = 300.0


def _client():
    """The coordination service client of a joined run, else None (single process)."""
    from jax._src.distributed import global_state  # noqa: PLC0415  no public accessor

    return global_state.client


def process_index() -> int:
    """This process's index (0 in a single-process run)."""
    import jax  # noqa: PLC0415

    return jax.process_index() if _client() is not None else 0


def process_count() -> int:
    """Processes in the run (1 when nothing was joined)."""
    import jax  # noqa: PLC0415

    return jax.process_count() if _client() is not None else 1


def is_primary() -> bool:
    """True on the process that prints and writes logs, plots, config and summaries (process 0)."""
    return process_index() == 0


def print0(*args, **kwargs) -> None:
    """print() on the primary process only."""
    if is_primary():
        print(*args, **kwargs)


def fetch(tree):
    """Host (numpy) copies of a pytree of jax arrays, the same on every process.

    An array sharded over devices of other processes (e.g. per-seed metrics on a ``seed`` axis
    that spans processes) cannot be read with ``np.asarray``: such leaves are first made fully
    replicated by one jitted identity (a collective: every process must call this at the same
    point of the program). Other leaves are copied as ``jax.device_get`` does.
    """
    import jax  # noqa: PLC0415
    from jax.sharding import NamedSharding, PartitionSpec  # noqa: PLC0415

    leaves, treedef = jax.tree.flatten(tree)
    spread = [i for i, x in enumerate(leaves) if isinstance(x, jax.Array)
              and not x.is_fully_addressable and not x.is_fully_replicated]
    if spread:
        parts = [leaves[i] for i in spread]
        replicated = [NamedSharding(x.sharding.mesh, PartitionSpec()) for x in parts]
        for i, x in zip(spread, _replicate(tuple(replicated))(*parts)):
            leaves[i] = x
    return jax.device_get(jax.tree.unflatten(treedef, leaves))


@functools.lru_cache(maxsize=16)
def _replicate(shardings: tuple):
    """A jitted identity whose outputs have ``shardings`` (cached: one compile per layout)."""
    import jax  # noqa: PLC0415

    return jax.jit(lambda *xs: xs, out_shardings=shardings)


def agree(name: str, value: str) -> str:
    """Process 0's ``value`` on every process (e.g. a run folder named after the clock).
    ``name``: a key unique within the run."""
    client = _client()
    if client is None:
        return value
    key = f"{_PREFIX}/agree/{name}"
    if is_primary():
        client.key_value_set(key, value)
        return value
    return client.blocking_key_value_get(key, int(WAIT_S * 1000))


def collectively(name: str, fn: Callable[[], object], primary_only: bool = False) -> None:
    """Runs ``fn`` on every process (or on process 0 only) and makes its outcome everyone's: when
    ``fn`` raises UsageError anywhere, every process raises it (the lowest process's message).

    Each process waits until all outcomes are in, so this is also a barrier: a step that must
    finish before any process goes on (creating the run folder) is wrapped in it.
    """
    client = _client()
    if client is None:
        fn()
        return
    me, count = process_index(), process_count()
    runners = [0] if primary_only else list(range(count))
    if me in runners:
        try:
            fn()
            outcome = "ok"
        except UsageError as exc:
            outcome = "error:" + str(exc)
        except Exception as exc:  # tell the others before failing here, so they do not wait
            client.key_value_set(f"{_PREFIX}/{name}/{me}", f"error:{type(exc).__name__} on process {me}")
            raise
        client.key_value_set(f"{_PREFIX}/{name}/{me}", outcome)
    for i in runners:
        outcome = client.blocking_key_value_get(f"{_PREFIX}/{name}/{i}", int(WAIT_S * 1000))
        if outcome.startswith("error:"):
            raise UsageError(outcome[len("error:"):] + ("" if i == me else f" (on process {i})"))


def check_same(name: str, values: dict, what: str) -> None:
    """Every process publishes ``values`` (a flat dict of JSON values, e.g. its parsed flags) and
    compares all of them with process 0's: UsageError on every process, the same line, naming the
    first keys where a process differs (``what`` says what differs). A barrier, too."""
    client = _client()
    if client is None:
        return
    me, count = process_index(), process_count()
    client.key_value_set(f"{_PREFIX}/same/{name}/{me}", json.dumps(values, sort_keys=True, default=str))
    seen = [json.loads(client.blocking_key_value_get(f"{_PREFIX}/same/{name}/{i}", int(WAIT_S * 1000)))
            for i in range(count)]
    for i in range(1, count):
        keys = sorted(k for k in set(seen[0]) | set(seen[i]) if seen[0].get(k) != seen[i].get(k))
        if keys:
            shown = ", ".join(f"{k}={seen[i].get(k)!r} (process 0: {seen[0].get(k)!r})" for k in keys[:3])
            raise UsageError(f"{what}: process {i} has {shown}")


def check_visible(folder: pathlib.Path) -> None:
    """After process 0 created ``folder``: every process must see it (checkpoints need one
    filesystem shared by all hosts)."""
    def check():
        if not folder.is_dir():
            raise UsageError(f"process {process_index()} does not see the run folder {folder} that process 0 "
                             "created: a multi-process run needs a filesystem shared by all hosts")
    collectively(f"visible/{folder}", check)
