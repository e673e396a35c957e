"""One process of a multi-process test (tests/test_distributed.py), started as a subprocess:

    python tests/multiprocess_worker.py MODE [trainer flags ...]

It joins the run with drats_jax.distributed (flags from argv), then per MODE:
    psum     a psum over all global devices (each contributes 1 + its global index); prints
             "psum <value> process <i> of <n> primary <bool> devices <global>"
    join     joins only; prints "joined"
    prepare  driver.prepare(flags, point-mass env): prints "out <folder>"; process 0 alone writes
Usage errors end the process as the trainer does: one line on stderr, exit code 2.
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def _psum() -> float:
    import jax  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P  # noqa: PLC0415

    mesh = Mesh(np.array(jax.devices()), ("d",))
    n = jax.device_count()
    x = jax.make_array_from_callback((n,), NamedSharding(mesh, P("d")),
                                     lambda idx: np.arange(n, dtype=np.float32)[idx] + 1.0)
    total = jax.jit(jax.shard_map(lambda v: jax.lax.psum(v, "d"), mesh=mesh, in_specs=P("d"), out_specs=P()))(x)
    return float(np.asarray(total.addressable_data(0))[0])


def main(mode: str, argv: list[str]) -> int:
    from drats_jax import cli, distributed, processes  # noqa: PLC0415

    try:
        distributed.initialize(distributed.options_from_argv(argv))
        if mode == "psum":
            import jax  # noqa: PLC0415

            value = _psum()
            print(f"psum {value:g} process {processes.process_index()} of {processes.process_count()} "
                  f"primary {processes.is_primary()} devices {jax.device_count()}", flush=True)
        elif mode == "join":
            print("joined", flush=True)
        elif mode == "prepare":
            from drats_jax import driver  # noqa: PLC0415
            from tests.pointmass import PointMass  # noqa: PLC0415

            prepared = driver.prepare(argv, env=PointMass())
            prepared.checkpointer.close()
            print(f"out {prepared.out}", flush=True)
    except cli.UsageError as exc:
        print(f"drats_jax.train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
