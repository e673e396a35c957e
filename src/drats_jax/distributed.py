"""Joining a multi-process JAX run (``jax.distributed``): options, cluster detection, a bounded join.

One Python process per host (or per GPU) runs the same program; process 0 hosts JAX's
coordination service at ``HOST:PORT`` and every process connects to it before anything touches
a JAX backend. Where the options come from, first match wins:

1. flags: ``--coordinator HOST:PORT --num-processes P --process-id I`` (all three, or none);
2. SLURM (``srun``): ``SLURM_JOB_ID``, ``SLURM_NTASKS`` (P), ``SLURM_PROCID`` (I) and the first
   host of ``SLURM_STEP_NODELIST`` (else ``SLURM_JOB_NODELIST``); the port is
   ``$JAX_COORDINATOR_PORT``, else JAX's own rule ``61440 + SLURM_JOB_ID % 4096``, so the address
   is the one ``jax.distributed.initialize()`` would pick. JAX's SLURM detection still runs for
   ``local_device_ids`` (one GPU per task when ``SLURM_LOCALID`` is set);
3. Open MPI (``mpirun``): ``OMPI_COMM_WORLD_SIZE`` (P), ``OMPI_COMM_WORLD_RANK`` (I); the address
   is left to JAX's own Open MPI detection (``OMPI_MCA_orte_hnp_uri``).

Other launchers JAX can detect (Kubernetes, Cloud TPU, mpi4py) are not read here: pass the flags.
One process (no options, or P = 1) joins nothing: today's single-process program.

Every failure is one :class:`~drats_jax.errors.UsageError` line: a malformed option, a coordinator
that cannot be reached, a join not complete within ``--coordinator-timeout`` seconds (JAX's own
timeout aborts the process with a C++ trace, so a watchdog ends the process first with one line),
and processes that disagree on the process count or on their number of devices.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Mapping

from drats_jax.errors import UsageError
from drats_jax.flags import flag_value, int_flag

FLAGS = ("--coordinator", "--num-processes", "--process-id")
DEFAULT_TIMEOUT_S = 60.0
# JAX's own backstop (it aborts the process) runs this long after our watchdog's one line.
_JAX_TIMEOUT_MARGIN_S = 30
_KEY_PREFIX = "drats_jax/join"


@dataclasses.dataclass(frozen=True)
class ProcessOptions:
    """How this process joins a run of ``num_processes`` processes.

    coordinator: ``HOST:PORT`` of process 0's coordination service (None: JAX's cluster detection
    finds it, Open MPI only); timeout_s: seconds to reach the coordinator and complete the join;
    source: where the options came from ("flags", "SLURM", "Open MPI"), named in error lines.
    """

    coordinator: str | None
    num_processes: int
    process_id: int
    timeout_s: float = DEFAULT_TIMEOUT_S
    source: str = "flags"

    def __post_init__(self) -> None:
        if self.num_processes < 1:
            raise UsageError(f"--num-processes must be >= 1, got {self.num_processes} ({self.source})")
        if not 0 <= self.process_id < self.num_processes:
            raise UsageError(f"--process-id must be in [0, {self.num_processes}) for {self.num_processes} "
                             f"process(es), got {self.process_id} ({self.source})")
        if not self.timeout_s > 0:
            raise UsageError(f"--coordinator-timeout must be > 0 seconds, got {self.timeout_s}")
        if self.coordinator is not None:
            parse_address(self.coordinator)


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 as ``[::1]:PORT``) -> (host, port); UsageError if malformed."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([A-Za-z0-9_.-]+):(\d+)", address.strip())
    port = int(m.group(2) or m.group(4)) if m else 0
    if m is None or not 0 < port < 65536:
        raise UsageError(f"--coordinator must be HOST:PORT with a port in 1..65535, got {address!r}")
    return (m.group(1) or m.group(3)), port


def options_from_argv(argv: list[str], environ: Mapping[str, str] | None = None) -> ProcessOptions | None:
    """The process options of a command line (flags), else of the cluster's environment, else None.

    Reads only the flags named in :data:`FLAGS` and ``--coordinator-timeout`` (seconds), so it
    runs before the full parse, which may touch a JAX backend. Raises UsageError (one line).
    """
    environ = os.environ if environ is None else environ
    coordinator = flag_value(argv, "--coordinator")
    coordinator = None if coordinator == "None" else coordinator
    num, pid = int_flag(argv, "--num-processes"), int_flag(argv, "--process-id")
    timeout = flag_value(argv, "--coordinator-timeout")
    try:
        timeout_s = DEFAULT_TIMEOUT_S if timeout is None else float(timeout)
    except ValueError:
        raise UsageError(f"--coordinator-timeout must be a number of seconds, got {timeout!r}") from None
    given = [f for f, v in zip(FLAGS, (coordinator, num, pid)) if v is not None]
    if given and len(given) < len(FLAGS):
        missing = [f for f in FLAGS if f not in given]
        raise UsageError(f"{' '.join(given)} also need{'s' if len(given) == 1 else ''} {' and '.join(missing)} "
                         f"(a multi-process run takes all of {', '.join(FLAGS)})")
    if given:
        opts = ProcessOptions(coordinator, num, pid, timeout_s, "flags")
    else:
        opts = detect_cluster(environ, timeout_s)
    return opts if opts is not None and opts.num_processes > 1 else None


def detect_cluster(environ: Mapping[str, str], timeout_s: float = DEFAULT_TIMEOUT_S) -> ProcessOptions | None:
    """Options from a SLURM step or an Open MPI launch (see the module docstring), else None."""
    nodes = environ.get("SLURM_STEP_NODELIST") or environ.get("SLURM_JOB_NODELIST")
    if all(k in environ for k in ("SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_PROCID")) and nodes:
        port = environ.get("JAX_COORDINATOR_PORT") or str(_env_int(environ, "SLURM_JOB_ID") % 4096 + 61440)
        return ProcessOptions(f"{first_host(nodes)}:{port}", _env_int(environ, "SLURM_NTASKS"),
                              _env_int(environ, "SLURM_PROCID"), timeout_s, "SLURM")
    if "OMPI_COMM_WORLD_SIZE" in environ and "OMPI_COMM_WORLD_RANK" in environ:
        return ProcessOptions(None, _env_int(environ, "OMPI_COMM_WORLD_SIZE"),
                              _env_int(environ, "OMPI_COMM_WORLD_RANK"), timeout_s, "Open MPI")
    return None


def _env_int(environ: Mapping[str, str], name: str) -> int:
    try:
        return int(environ[name])
    except ValueError:
        raise UsageError(f"environment variable {name} must be an integer, got {environ[name]!r}") from None


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: 'gpu[003-005,9],cpu1' -> 'gpu003' (as JAX reads it)."""
    m = re.match(r"([^,\[]*)(?:\[([^,\-\]]*))?", nodelist.strip())
    return m.group(1) + (m.group(2) or "")


def wait_for_coordinator(address: str, timeout_s: float, source: str = "flags") -> None:
    """Retries a TCP connect to ``address`` until it accepts, or raises UsageError after
    ``timeout_s`` seconds. Processes other than 0 call it before joining: JAX's own connect
    timeout aborts the process instead of raising."""
    host, port = parse_address(address)
    deadline = time.monotonic() + timeout_s
    last = "no attempt"
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=max(0.1, min(left, 2.0))):
                return
        except OSError as exc:
            last = exc.strerror or type(exc).__name__
        if time.monotonic() + 0.25 >= deadline:
            raise UsageError(f"coordinator {address} ({source}) unreachable after {timeout_s:g} s ({last}); "
                             "is process 0 running and the address reachable from this host?")
        time.sleep(0.25)


def check_port_free(address: str) -> None:
    """Process 0: UsageError if the coordinator's port is taken on this host. JAX's service binds
    ``[::]:PORT``; when that fails, JAX 0.10.2 sometimes crashes (SIGSEGV) instead of raising."""
    _, port = parse_address(address)
    for family, host in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC: TIME_WAIT is no conflict
                probe.bind((host, port))
            return
        except OSError as exc:
            if family == socket.AF_INET6 and exc.errno == errno.EAFNOSUPPORT:
                continue  # no IPv6 on this host: JAX binds IPv4 then
            raise UsageError(f"process 0 cannot host the coordinator at {address}: port {port} is taken on this "
                             f"host ({exc.strerror}); choose another --coordinator port") from None


class _Watchdog:
    """Ends the process with one line (exit code 2) if a blocking join outlives its deadline."""

    def __init__(self, timeout_s: float, message: str):
        self._timer = threading.Timer(timeout_s, self._fire, args=(message,))
        self._timer.daemon = True

    @staticmethod
    def _fire(message: str) -> None:
        sys.stderr.write(f"drats_jax.train: error: {message}\n")
        sys.stderr.flush()
        os._exit(2)  # the join blocks in C++ (GIL released); nothing else can interrupt it

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()


def initialize(opts: ProcessOptions | None) -> None:
    """Joins the run: ``jax.distributed.initialize`` within ``opts.timeout_s`` seconds, then checks
    that all processes agree on the process count and devices per process. None: nothing to join.

    Must run before anything touches a JAX backend (jax.devices(), any computation, importing
    metaworld_jax). Raises UsageError (one line) or ends the process with one line on a timeout.
    """
    if opts is None:
        return
    import jax  # noqa: PLC0415
    from jax._src import xla_bridge  # noqa: PLC0415

    if xla_bridge.backends_are_initialized():
        raise UsageError("a JAX backend was started before joining the multi-process run "
                         "(drats_jax.distributed.initialize must come first)")
    start = time.monotonic()
    if opts.coordinator is not None and opts.process_id == 0:
        check_port_free(opts.coordinator)
    elif opts.coordinator is not None:
        wait_for_coordinator(opts.coordinator, opts.timeout_s, opts.source)
    left = max(1.0, opts.timeout_s - (time.monotonic() - start))
    where = opts.coordinator or "the Open MPI coordinator"
    message = (f"process {opts.process_id}: the join of {opts.num_processes} processes at {where} ({opts.source}) "
               f"did not complete within {opts.timeout_s:g} s: a process is missing, or the processes "
               "disagree on --num-processes")
    with _Watchdog(left, message):
        try:
            jax.distributed.initialize(opts.coordinator, opts.num_processes, opts.process_id,
                                       initialization_timeout=int(left) + _JAX_TIMEOUT_MARGIN_S)
        except (ValueError, RuntimeError) as exc:  # e.g. the port is taken, no Open MPI address
            raise UsageError(f"process {opts.process_id} could not join the run at {where} ({opts.source}): "
                             f"{' '.join(str(exc).split())[:300]}") from None
        check_topology(opts, left)


def check_topology(opts: ProcessOptions, timeout_s: float) -> None:
    """After the join: every process publishes (its --num-processes, its local device count) in
    the coordinator's key-value store and compares all of them; UsageError on any mismatch.

    A process that was told another process count still joins when its id is in range, and
    processes with different device counts still start: both would deadlock in the first
    collective, so this check (no compile, only the coordinator's store) runs first.
    """
    import jax  # noqa: PLC0415
    from jax._src.distributed import global_state  # noqa: PLC0415  the coordination client

    client, count = global_state.client, jax.process_count()
    mine = (opts.num_processes, jax.local_device_count())
    client.key_value_set(f"{_KEY_PREFIX}/{opts.process_id}", f"{mine[0]},{mine[1]}")
    seen = {}
    for i in range(count):
        text = client.blocking_key_value_get(f"{_KEY_PREFIX}/{i}", int(timeout_s * 1000))
        seen[i] = tuple(int(x) for x in text.split(","))
    told = {i: s[0] for i, s in seen.items()}
    if set(told.values()) != {count}:
        raise UsageError(f"the processes disagree on the process count: --num-processes per process "
                         f"{told}, {count} joined the coordinator")
    devices = {i: s[1] for i, s in seen.items()}
    if len(set(devices.values())) != 1:
        raise UsageError(f"the processes have different numbers of devices: {devices} (process: devices); "
                         "give every process the same number")


def join(argv: list[str], environ: Mapping[str, str] | None = None) -> ProcessOptions | None:
    """The trainer's first step: options from argv or the cluster, then the bounded join.
    Returns the options (None: single process). ``--help`` joins nothing. Raises UsageError."""
    if "-h" in argv or "--help" in argv:
        return None
    opts = options_from_argv(argv, environ)
    initialize(opts)
    return opts


def check_joined(num_processes: int | None) -> None:
    """For callers of driver.prepare that skipped :func:`join`: a config naming P > 1 processes
    in a process that joined no run of P processes is refused (it would train alone)."""
    from drats_jax import processes  # noqa: PLC0415

    if num_processes is not None and num_processes > 1 and processes.process_count() != num_processes:
        raise UsageError(f"--num-processes {num_processes}, but this process joined {processes.process_count()} "
                         "process(es): call drats_jax.distributed.join(argv) before driver.prepare")
