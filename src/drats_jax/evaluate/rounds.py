"""MetaWorld's evaluation protocol run by the training program itself, in rounds on E slots.

On the MJX backends the physics is most of a program's compile time, and each program holds its
own copy. So a training run does not compile an evaluation program: its steps program
(:mod:`drats_jax.trainer`) has an evaluation phase that steps E evaluation slots, which live
beside the training slots (``AllocationState.eval_slots``), with deterministic actions and no
autoreset, through the same physics call as training. This module is the rest of it:

    rounds = make_rounds(env, slots=E / D, episodes_per_task=k, data)
    tallies = []
    for r in range(rounds.count):                 # R rounds of the protocol's episodes
        slots = rounds.begin(r)                   # the slots reset to round r's episodes
        ... rounds.horizon steps of the program's evaluation phase (advance, each step) ...
        tallies.append(slots.tally)
    rounds.result(tallies)                        # {"success", "return", "return_full": f32[N]}

The episodes, goals, per-slot tally and per-task means are :func:`.protocol.make_evaluate`'s
(the same :class:`.protocol.Layout` and ``add_step``): every round runs the env's whole
episode (``horizon`` steps; the protocol's episode ends at its first success, the
full-length return goes on). ``make_evaluate(..., slots=E)`` (the evaluation command's
default for a run) runs the same rounds as a program of its own, the policy on batches of
the same E rows; all at once (``slots=None``) the numbers may differ in the last bits, an
XLA matmul rounding differently for another batch size.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from drats_jax.evaluate.protocol import Layout, Tally, add_step, start_tally
from drats_jax.mesh import DataAxis


@struct.dataclass
class EvalSlots:
    """The evaluation's slots (leaves [S], S = this device's training slot count): the env
    State of the round's episodes and their :class:`.protocol.Tally`."""

    env_state: Any
    tally: Tally


def init_slots(env: Any, slots: int) -> EvalSlots:
    """Placeholder slots (task 0, goal 0, not counted) of the right shapes; ``begin`` fills them."""
    zeros = jnp.zeros((slots,), jnp.int32)
    state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), slots), zeros, zeros)
    return EvalSlots(env_state=state, tally=start_tally(jnp.zeros((slots,), bool)))


def advance(slots: EvalSlots, nxt: Any) -> EvalSlots:
    """The slots after one evaluation step whose env result is ``nxt``: no autoreset (a round
    is one episode per slot)."""
    return EvalSlots(env_state=nxt, tally=add_step(slots.tally, nxt))


class Rounds(NamedTuple):
    """The protocol's k episodes of every task as rounds of S slots (pure functions; inside a
    program sharded over ``data`` each device runs its k/D episodes of every task)."""

    count: int  # R
    horizon: int  # env steps of every round (the env's episode length)
    begin: Callable[[jax.Array], EvalSlots]  # r i32[] -> slots holding round r's fresh episodes
    result: Callable[[list], dict]  # [R tallies [S]] -> {"success", "return", "return_full": f32[N]}


def make_rounds(env: Any, slots: int, episodes_per_task: int, data: DataAxis = DataAxis()) -> Rounds:
    """Rounds of ``slots`` (this device's training slot count, whole blocks of its task block) over
    ``episodes_per_task`` episodes of each of the env's N tasks (divisible by data.size)."""
    where = Layout.make(env, np.arange(int(env.num_tasks)), episodes_per_task, data, slots)

    def begin(r: jax.Array) -> EvalSlots:
        return EvalSlots(*where.start(env, r))

    def result(tallies: list) -> dict:
        return where.result(jax.tree.map(lambda *x: jnp.concatenate(x), *tallies))

    return Rounds(count=where.rounds, horizon=int(env.episode_length), begin=begin, result=result)
