"""``python -m drats_jax.warm_cache [the flags of drats_jax.train]``: compile a run's programs
into JAX's persistent compilation cache, and run nothing.

On the MJX backends a run's programs (init; the steps of warm-up, learning and evaluation) take minutes
to compile; this command pays that once, ahead of time (e.g. on a login node with the same
device, or before a queue slot starts), so the run itself starts stepping at once. The cache
is the one ``python -m drats_jax.train`` uses ($DRATS_JAX_CACHE_DIR, else
$JAX_COMPILATION_CACHE_DIR, else <repo>/.cache/jax); a cached program is only reused for the
same program on the same kind of device with the same jax version, so give the flags of the
run itself (``--out`` and ``--resume`` are ignored: nothing is written but the cache). The
C MuJoCo backend's programs call back into the host, and JAX never caches such programs:
with ``--backend mujoco`` the command says so and exits.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp


def timed_compile(fn, *args) -> tuple[dict, Any]:
    """Trace, lower and compile the jitted `fn` on `args` (arrays or ShapeDtypeStructs).
    Returns ({trace_s, lower_s, compile_s, hlo_mb}, the compiled program)."""
    t0 = time.perf_counter()
    traced = fn.trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    hlo_mb = len(lowered.as_text()) / 1e6
    t3 = time.perf_counter()
    compiled = lowered.compile()
    t4 = time.perf_counter()
    return {"trace_s": round(t1 - t0, 2), "lower_s": round(t2 - t1, 2), "compile_s": round(t4 - t3, 2),
            "hlo_mb": round(hlo_mb, 3)}, compiled


def compile_programs(prepared) -> dict[str, dict]:
    """Compile every program the driver runs for `prepared` (driver.prepare's result), on
    abstract arguments: {program: timings of `timed_compile`}. Nothing runs."""
    from drats_jax import driver  # noqa: PLC0415

    trainer, cfg = prepared.trainer, prepared.cfg
    init, _, chunk = trainer.jitted(cfg.seeds)
    keys = driver.seed_keys(cfg)
    init_fn = getattr(init, "sharded", init)  # on a mesh: the sharded program (init places the keys)
    state = jax.eval_shape(init_fn, keys) if trainer.mesh is None else trainer.abstract_state(keys)
    # Warm-up, learning and evaluation are one program (drats_jax.trainer), compiled once as
    # "steps"; evaluation adds two small programs (its rounds' resets and the per-task means).
    evaluate = trainer.evaluator(cfg.eval_episodes, cfg.seeds)
    r = jax.ShapeDtypeStruct((), jnp.int32, sharding=chunk.place)
    out = {"init": timed_compile(init_fn, keys)[0], "steps": timed_compile(chunk.program, state, *chunk.flags)[0]}
    out["eval_begin"], _ = timed_compile(evaluate.programs["eval_begin"], r)
    tally = jax.eval_shape(evaluate.programs["eval_begin"], r).tally
    out["eval_result"], _ = timed_compile(evaluate.programs["eval_result"], [tally] * evaluate.rounds)
    return out


def main(argv: list[str] | None = None) -> int:
    from drats_jax import cli, driver  # noqa: PLC0415

    argv = _without_run_folder(list(sys.argv[1:] if argv is None else argv))
    cache = cli.setup_compile_cache()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            prepared = driver.prepare([*argv, "--out", str(Path(tmp) / "run")])
        except cli.UsageError as exc:
            print(f"drats_jax.warm_cache: error: {exc}", file=sys.stderr)
            return 2
        if prepared.cfg.backend == "mujoco":
            prepared.checkpointer.close()
            print("drats_jax.warm_cache: error: --backend mujoco steps its physics through host callbacks, and JAX's "
                  "persistent cache keeps no program that has them: nothing to warm (they compile in seconds)",
                  file=sys.stderr)
            return 2
        try:
            t0 = time.perf_counter()
            for name, t in compile_programs(prepared).items():
                print(f"{name}: trace {t['trace_s']:.1f} s, lower {t['lower_s']:.1f} s, compile {t['compile_s']:.1f} s")
        finally:
            prepared.checkpointer.close()
    print(f"compiled in {time.perf_counter() - t0:.1f} s into {cache}")
    return 0


def _without_run_folder(argv: list[str]) -> list[str]:
    """argv without --out/--resume (and their values): the programs do not depend on them."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--out", "--resume"):
            skip = True
        elif not a.startswith(("--out=", "--resume=")):
            out.append(a)
    return out


if __name__ == "__main__":
    sys.exit(main())
