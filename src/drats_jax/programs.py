"""The jitted (on a mesh: sharded) programs a :class:`drats_jax.trainer.Trainer` runs, and the
flags of its one steps program.

- ``init``: keys -> the state.
- ``run_steps(state, phase, active)``: T vector steps of warm-up, learning or evaluation
  (:data:`WARMUP`, :data:`LEARN`, :data:`EVALUATE`; the first ``active`` of them run). The
  physics is compiled once, in this program.
- The evaluation's two small programs: the reset of a round's slots and the per-task means
  (no physics).

One run (num_seeds None) or seeds vmapped on a leading axis (the flags are not batched); on a
mesh of more than one device each program is ``jit(shard_map(fn))``: seeds split over
``seed``, slots and replay rows over ``data``, flags replicated.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from drats_jax import mesh as mesh_lib
from drats_jax.evaluate import rounds as eval_rounds
from drats_jax.mesh import DataAxis

# run_steps' phases: what the program's vector steps do.
WARMUP, LEARN, EVALUATE = 0, 1, 2


def flags(phase: int, active: int, place=None) -> tuple[jax.Array, jax.Array]:
    """run_steps' (phase i32[], active i32[]) arguments; ``place``: their sharding."""
    out = (jnp.asarray(phase, jnp.int32), jnp.asarray(active, jnp.int32))
    return out if place is None else jax.device_put(out, place)


def jitted(trainer: Any, num_seeds: int | None):
    """(init, warmup, run_chunk) of ``trainer`` (see :meth:`Trainer.jitted`): ``run_chunk.program``
    is the steps program (donating its state if trainer.donate_chunk), ``run_chunk.flags`` a
    learning chunk's flags, ``run_chunk.place`` the flags' sharding (None: one device)."""
    init, run = trainer.init, trainer.run_steps
    if num_seeds is not None:
        init, run = jax.vmap(init), jax.vmap(run, in_axes=(0, None, None))
    mesh = trainer.mesh
    if mesh is None or mesh.size == 1:
        init_placed = jax.jit(init)
        program, place = jax.jit(run, donate_argnums=0 if trainer.donate_chunk else ()), None
    else:
        seeds = num_seeds is not None
        if mesh.seed > 1 and (not seeds or num_seeds % mesh.seed):
            raise ValueError(f"--mesh seed={mesh.seed} must divide the number of seeds ({num_seeds})")
        devices = mesh_lib.make_mesh(mesh)
        rep = mesh_lib.specs(seeds, sharded=False)  # metrics, keys: replicated over data
        state = trainer.state_specs(rep, mesh_lib.specs(seeds, sharded=True))
        init_sharded = mesh_lib.shard(init, devices, (rep,), state)
        program = mesh_lib.shard(run, devices, (state, P(), P()), (state, rep), donate=trainer.donate_chunk)
        place = NamedSharding(devices, P())

        def init_placed(rng):
            return init_sharded(jax.device_put(rng, NamedSharding(devices, rep)))

        init_placed.sharded = init_sharded  # for jax.eval_shape (checkpoint restore)
    learning = flags(LEARN, trainer.chunk_length, place)

    def warmup(state):
        return trainer.warmup(state, program, place)

    def run_chunk(state):
        return program(state, *learning)

    warmup.program = run_chunk.program = program
    run_chunk.flags, run_chunk.place = learning, place
    return init_placed, warmup, run_chunk


def evaluator(trainer: Any, episodes: int, num_seeds: int | None):
    """evaluate(state) -> (state, result) of :meth:`Trainer.evaluator`: for each of the R
    rounds (:mod:`drats_jax.evaluate.rounds`), fresh evaluation slots, then the env's episode
    length in calls of the steps program in its EVALUATE phase; then the per-task means of
    every round's tally. ``evaluate.programs``: the two small programs (for warm_cache)."""
    mesh = trainer.mesh
    data = DataAxis(1 if mesh is None else mesh.data)
    rounds = eval_rounds.make_rounds(trainer.env, trainer.num_envs // data.size, episodes, data)
    run_chunk = trainer.jitted(num_seeds)[2]
    program, place = run_chunk.program, run_chunk.place
    begin, result = rounds.begin, rounds.result
    if num_seeds is not None:
        seeds = num_seeds // (1 if mesh is None else mesh.seed)  # this device's seeds: the same slots

        def begin(r):
            return jax.tree.map(lambda x: jnp.broadcast_to(x, (seeds,) + x.shape), rounds.begin(r))

        result = jax.vmap(rounds.result)
    if mesh is None or mesh.size == 1:
        begin, result = jax.jit(begin), jax.jit(result)
    else:
        devices, seeded = mesh_lib.make_mesh(mesh), num_seeds is not None
        slots = mesh_lib.specs(seeded, sharded=True)
        begin = mesh_lib.shard(begin, devices, (P(),), slots)
        result = mesh_lib.shard(result, devices, (slots,), mesh_lib.specs(seeded, sharded=False))
    full, rest = divmod(rounds.horizon, trainer.chunk_length)
    calls = [flags(EVALUATE, a, place) for a in (trainer.chunk_length,) * full + ((rest,) if rest else ())]

    def evaluate(state):
        tallies = []
        for r in range(rounds.count):
            index = jnp.asarray(r, jnp.int32)
            fresh = begin(index if place is None else jax.device_put(index, place))
            state = state.replace(alloc=state.alloc.replace(eval_slots=fresh))
            for args in calls:
                state, _ = program(state, *args)
            tallies.append(state.alloc.eval_slots.tally)
        return state, result(tallies)

    evaluate.programs = {"eval_begin": begin, "eval_result": result}
    evaluate.rounds = rounds.count
    return evaluate
