"""The training loop every learner shares, PureJaxRL style: ``make_trainer(config, env, learner)``
-> a :class:`Trainer` of pure functions over one state pytree.

Shapes: E env slots, N tasks, O obs size, A action size, T vector steps per chunk.

A learner (:class:`Learner`, e.g. :mod:`drats_jax.agents.sac.train`) supplies only its own
logic: its state pytree, how it acts, what it keeps of a vector step and how it learns. The
trainer owns the rest: validation and sizes (:func:`drats_jax.config.resolve`), the sampler and
the task allocation (:mod:`drats_jax.allocation`), the random-action warm-up, the scan over
vector steps, chunk metrics, the divergence check and the jitted (on a mesh, sharded) programs
of training, checkpoint restore and evaluation.

One *vector step* (one lax.scan iteration), in order:
  1. split the run's key: (rng, k_act, k_reset, *the learner's keys)
  2. act in every slot: uniform random actions during warm-up, else ``learner.act``
     (all E slots, this device's sliced out),
  3. the task allocation's step: step all slots, per-task statistics, sampler window,
     autoreset with tasks drawn from q,
  4. ``learner.collect``: keep the transitions (SAC: replay ring and, when learning, its
     gradient steps; PPO: the rollout record).
A chunk is T vector steps, then (when learning) ``learner.learn`` on what they kept (PPO:
GAE and its epochs).

Warm-up, learning and evaluation are ONE program, ``run_steps(state, phase, active)``: T
vector steps of which the first ``active`` run (the rest pass the state through), with
``phase`` (:data:`WARMUP`, :data:`LEARN`, :data:`EVALUATE`) a traced flag, not a Python
constant. On the MJX backends the physics is most of a program's compile time and every
program holds its own copy of it, so a run compiles the physics once: the program calls it
once per vector step, on the training slots or (evaluating) on the evaluation slots.

- Warm-up: W vector steps of random actions, ceil(W / T) calls (the last one runs W mod T
  steps, when that is not 0).
- Learning: every chunk is a call with all T steps active.
- Evaluation (MetaWorld's protocol, :mod:`drats_jax.evaluate.rounds`): rounds of E episodes
  on the E evaluation slots (``state.alloc.eval_slots``), each the env's episode length in
  calls of T steps; deterministic actions, no autoreset, nothing else of the state changes
  (not even its key), so evaluating never changes what training does.
Both flags are the same for every seed and device (unbatched under a seed vmap, replicated
on a mesh), so their conds stay conds.

    state = trainer.init(rng)
    state, _ = trainer.warmup(state)               # random-action warm-up
    for _ in range(trainer.num_chunks):
        state, metrics = trainer.run_chunk(state)  # T vector steps, one jitted call
    state, result = trainer.evaluator(50)(state)   # {"success", "return", "return_full": [N]}

``trainer(rng)`` (= ``train(rng)``) runs warm-up and every chunk as one traceable function
(one scan over the calls above), so ``jax.jit(jax.vmap(trainer))(rngs)`` trains independent
seeds in one program. Every state has ``rng``, ``agent``, ``alloc``, ``step`` (i32[],
vector steps done, warm-up included) and ``grad_steps`` (i32[]).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import lax

from drats_jax import mesh as mesh_lib
from drats_jax import programs
from drats_jax.allocation import make_allocation, observe_slots
from drats_jax.chunk_metrics import health, learner_means, merge_metrics
from drats_jax.config import resolve
from drats_jax.evaluate import rounds as eval_rounds
from drats_jax.mesh import DataAxis, MeshSpec
from drats_jax.programs import EVALUATE, LEARN, WARMUP, flags
from drats_jax.samplers import make_sampler


def _nothing_to_learn(state, kept):
    del kept
    return state, {}


def when(pred: jax.Array, fn: Callable, state, *args, otherwise: Callable | None = None):
    """``fn(state, *args) -> (state, out)`` where the scalar ``pred`` holds, else ``(state,
    zeros shaped like out)`` (``otherwise(state, *args)`` in place of that state when given):
    a ``lax.cond`` whose skipped branch costs nothing. ``pred`` must not be batched (under
    vmap a batched one runs both branches, still correct)."""
    out_shape = jax.eval_shape(fn, state, *args)[1]

    def skip(state, *args):
        state = state if otherwise is None else otherwise(state, *args)
        return state, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), out_shape)

    return lax.cond(pred, fn, skip, state, *args)


@dataclasses.dataclass(frozen=True)
class Learner:
    """What a learner gives the trainer (built by its ``make_learner(config, env, sizes, data)``).

    agent:       static agent; ``agent.init(key)`` -> agent state, and
                 ``agent.act(agent_state, obs, task_id, rng, deterministic)`` (evaluation:
                 deterministic=True, this device's slots).
    init:        (rng, agent, alloc, step, grad_steps) -> the learner's state pytree.
    act:         (agent_state, obs f32[E, O], task_id i32[E], key) -> (env action f32[E, A],
                 extras: a pytree of [E, ...] arrays ``collect`` gets back, this device's slots).
    collect:     (state, transition, obs, task_id, extras, keys, learning) -> (state, kept, metrics):
                 after the allocation's step (state has the new rng, alloc and step); ``kept`` is
                 stacked over the chunk for ``learn``; ``metrics``: per-step learner scalars
                 (the same pytree whatever ``learning`` is: zeros where nothing was learned,
                 see :func:`when`). ``keys``: the ``step_keys - 3`` learner keys of this vector
                 step. ``learning``: bool[], traced (False during the warm-up, whose
                 ``extras`` are zeros). Not called by evaluation steps.
    learn:       (state, kept [T, ...]) -> (state, metrics of f32[] / i32[]), once per learning
                 chunk.
    params:      agent state -> {name: parameter pytree}, checked for NaN/inf after every chunk.
    state_specs: (replicated spec, per-device spec) -> a prefix tree of the state's PartitionSpecs.
    step_keys:   keys split from the run's key every vector step (at least 3).
    chunk_length: vector steps per chunk (None: config.chunk_length).
    donate_chunk: whether run_chunk donates its input state (see :class:`Trainer`).
    """

    agent: Any
    init: Callable[..., Any]
    act: Callable[..., tuple[jax.Array, Any]]
    collect: Callable[..., tuple[Any, Any, dict]]
    params: Callable[[Any], dict]
    state_specs: Callable[[Any, Any], Any]
    learn: Callable[[Any, Any], tuple[Any, dict]] = _nothing_to_learn
    step_keys: int = 3
    chunk_length: int | None = None
    donate_chunk: bool = True


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """What ``make_trainer`` returns. Calling it is ``train(rng) -> (state, metrics)``.

    A plain (weak-referenceable, identity-hashed) class so ``jax.jit(trainer)`` works.
    """

    config: Any  # the resolved TrainConfig
    env: Any
    agent: Any  # has act(agent_state, obs, task_id, rng, deterministic)
    sampler: Any
    num_envs: int  # E
    num_tasks: int  # N
    warmup_steps: int  # vector steps of random actions
    window_steps: int  # vector steps per sampler window (window_steps x E = sampler.interval env steps)
    chunk_length: int  # vector steps per run_chunk
    num_chunks: int  # run_chunk calls after warm-up
    init: Callable[[jax.Array], Any]
    # (state, phase i32[], active i32[]) -> (state, metrics): the one program of warm-up,
    # learning and evaluation (module docstring).
    run_steps: Callable[[Any, jax.Array, jax.Array], tuple[Any, dict]]
    train: Callable[[jax.Array], tuple[Any, dict]]
    mesh: MeshSpec | None = None  # None / one device: the one-device program
    # Whether run_steps donates its input state (SAC: the replay ring is not copied). PPO's state
    # is small and is not donated, so a stop request can save the state a running chunk started
    # from (drats_jax.chunk_loop).
    donate_chunk: bool = True
    # (replicated spec, per-device spec) -> a prefix tree of the state's PartitionSpecs
    # (per-device: env slots and replay rows, split over data).
    state_specs: Callable[[Any, Any], Any] | None = None
    # jitted(num_seeds)'s programs, built once per num_seeds (each jax.jit compiles its own)
    _programs: dict = dataclasses.field(default_factory=dict, init=False, repr=False)

    def __call__(self, rng: jax.Array):
        return self.train(rng)

    @property
    def warmup_calls(self) -> tuple[int, ...]:
        """Active vector steps of each warm-up call of run_steps: ceil(W / T) calls summing to W."""
        full, rest = divmod(self.warmup_steps, self.chunk_length)
        return (self.chunk_length,) * full + ((rest,) if rest else ())

    @property
    def window_env_steps(self) -> int:
        return self.window_steps * self.num_envs

    @property
    def env_steps_per_chunk(self) -> int:
        return self.chunk_length * self.num_envs

    @property
    def total_env_steps(self) -> int:
        """Env steps actually run (warm-up + whole chunks; <= config.total_env_steps)."""
        return (self.warmup_steps + self.num_chunks * self.chunk_length) * self.num_envs

    def warmup(self, state, program=None, place=None):
        """The random-action warm-up: ``warmup_calls`` calls of ``program`` (default: the
        unjitted run_steps; ``place``: the flags' sharding) -> (state, the warm-up's metrics,
        see :func:`merge_metrics`)."""
        program = program or self.run_steps
        metrics = []
        for active in self.warmup_calls:
            state, m = program(state, *flags(WARMUP, active, place))
            metrics.append(m)
        return state, merge_metrics(metrics)

    def run_chunk(self, state):
        """One learning chunk (unjitted): T vector steps and the learner's update."""
        return self.run_steps(state, *flags(LEARN, self.chunk_length))

    def jitted(self, num_seeds: int | None = None):
        """(init, warmup, run_chunk): init jitted; warmup and run_chunk call the one jitted
        run_steps program (``run_chunk.program``), which donates its state if donate_chunk.

        num_seeds=None: one run (rng is one key). Otherwise every function is vmapped
        over a leading seed axis (rng: keys[num_seeds]; the flags are not batched). On a mesh
        of more than one device each is ``jit(shard_map(vmapped fn))``: seeds split over
        ``seed``, slots and replay rows over ``data``, the flags replicated; init places the
        keys itself. Built once per num_seeds (so :meth:`evaluator` runs the same program).
        """
        if num_seeds not in self._programs:
            self._programs[num_seeds] = programs.jitted(self, num_seeds)
        return self._programs[num_seeds]

    def abstract_state(self, keys: jax.Array):
        """The seed-vmapped state's shapes for keys[S] (and, on a mesh, its shardings): what a
        checkpoint is restored into and a program is compiled for. Traces, compiles nothing."""
        if self.mesh is None:
            return jax.eval_shape(jax.vmap(self.init), keys)
        init, _, _ = self.jitted(keys.shape[0])
        shapes = jax.eval_shape(init.sharded, keys)
        return jax.tree.map(lambda x, sh: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sh), shapes,
                            self.state_shardings(shapes, keys.shape[0]))

    def evaluator(self, episodes: int, num_seeds: int | None = None):
        """evaluate(state) -> (state, per-seed result {"success", "return", "return_full":
        f32[S, N]}): MetaWorld's protocol, ``episodes`` per task, run by :meth:`jitted`'s
        program (module docstring; :func:`drats_jax.programs.evaluator`). Only
        ``state.alloc.eval_slots`` changes. num_seeds as in :meth:`jitted`."""
        return programs.evaluator(self, episodes, num_seeds)

    def state_shardings(self, abstract_state, num_seeds: int | None = None):
        """NamedShardings of a state (e.g. jax.eval_shape of init) on this trainer's mesh."""
        mesh = mesh_lib.make_mesh(self.mesh)
        seeds = num_seeds is not None
        prefix = self.state_specs(mesh_lib.specs(seeds, False), mesh_lib.specs(seeds, True))
        return mesh_lib.shardings(mesh, prefix, abstract_state)


def make_trainer(config, env, make_learner: Callable[..., Learner], sampler=None,
                 mesh: MeshSpec | None = None) -> Trainer:
    """Validates ``config`` against ``env`` and ``mesh`` (ValueError before anything is traced)
    and builds the pure train functions around the learner ``make_learner(config, env, sizes,
    data)`` returns.

    ``config``'s None defaults are resolved (:func:`drats_jax.config.resolve`); the Trainer's
    ``config`` is the resolved one. ``sampler`` replaces the one named in ``config.sampler``
    (custom samplers, tests). ``mesh``: data > 1 builds the per-device program (E/D slots, the
    learner's per-device data); run it through ``trainer.jitted``.
    """
    config, sizes = resolve(config, env, mesh)
    n, e = int(env.num_tasks), sizes.num_envs
    data = DataAxis(1 if mesh is None else mesh.data)
    if sampler is None:
        sampler = make_sampler(config.sampler, n, total_env_steps=config.total_env_steps)
    alloc = make_allocation(env, sampler, num_envs=e, task_block=sizes.task_block,
                            window_steps=sizes.window_steps, success_window=config.sampler.success_window,
                            learn_from_start=sizes.warmup_steps == 0, data=data)
    learner = make_learner(config, env, sizes, data)
    chunk_length, num_chunks = chunking(config.total_env_steps, e, sizes.warmup_steps,
                                        learner.chunk_length or config.chunk_length)
    action_size = int(env.action_size)

    def init(rng: jax.Array):
        rng, k_agent, k_env = jax.random.split(rng, 3)
        return learner.init(rng=rng, agent=learner.agent.init(k_agent), alloc=alloc.init(k_env),
                            step=jnp.zeros((), jnp.int32), grad_steps=jnp.zeros((), jnp.int32))

    def act(state, obs, task, key, phase):
        """Actions for this device's slots (and the learner's extras; zeros unless learning).
        Training draws are over all E slots, this device's sliced out, so a slot's policy noise
        and warm-up action are its one-device draws (the E-slot forward pass is cheap);
        evaluation's deterministic actions need no draw."""
        def policy(_):
            everyone = learner.act(state.agent, data.gather(obs), data.gather(task), key)
            return jax.tree.map(data.local, everyone)

        no_extras = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(policy, None)[1])

        def random(_):
            return data.local(jax.random.uniform(key, (e, action_size), jnp.float32, -1.0, 1.0)), no_extras

        def deterministic(_):
            return learner.agent.act(state.agent, obs, task, key, deterministic=True), no_extras

        return lax.switch(phase, (random, policy, deterministic), None)  # WARMUP, LEARN, EVALUATE

    def vector_step(state, phase):
        """One step of every training slot, or (evaluating) of every evaluation slot ->
        (state, (kept, per-step metrics); zeros when evaluating). phase: i32[]."""
        learning, evaluating = phase == LEARN, phase == EVALUATE
        rng, k_act, k_reset, *k_learner = jax.random.split(state.rng, learner.step_keys)
        slots = lax.cond(evaluating, lambda a: a.eval_slots.env_state, lambda a: a.env_state, state.alloc)
        obs, task = observe_slots(slots)
        action, extras = act(state, obs, task, k_act, phase)
        nxt = alloc.physics(slots, action)  # the program's one call of the physics

        def train(state):
            alloc_state, transition, metrics = alloc.record(state.alloc, action, nxt, k_reset, learning)
            state = state.replace(rng=rng, alloc=alloc_state, step=state.step + 1)
            state, kept, learner_metrics = learner.collect(state, transition, obs, task, extras, k_learner, learning)
            return state, (kept, {**metrics, **learner_metrics})

        def evaluate(state):
            return state.replace(alloc=state.alloc.replace(eval_slots=eval_rounds.advance(state.alloc.eval_slots, nxt)))

        return when(~evaluating, train, state, otherwise=evaluate)

    def run_steps(state, phase, active):
        """T vector steps of which the first ``active`` (i32[]) run, then, if ``phase`` is
        LEARN, the learner's chunk update; chunk metrics (module docstring)."""
        learning = phase == LEARN

        def one(state, i):
            return when(i < active, lambda s: vector_step(s, phase), state)

        state, (kept, per_step) = lax.scan(one, state, jnp.arange(chunk_length))
        state, learned = when(learning, learner.learn, state, kept)
        return state, chunk_metrics(state, per_step, learned, chunk_length)

    def chunk_metrics(state, per_step: dict, learned: dict, length: int) -> dict:
        """Allocation metrics, counters, learner means and the divergence check. Metrics of the
        chunk's update (``learned``) are reported at its last step, after which it runs."""
        once = {k: v[None] for k, v in learned.items()}
        after = health(once, {}, 1)
        return {**alloc.chunk_metrics(state.alloc, per_step), "env_steps": state.step * e,
                "grad_steps": state.grad_steps, **learner_means(per_step), **learner_means(once),
                "health": {**health(per_step, learner.params(state.agent), length),
                           **{k: jnp.where(v >= 0, length - 1, -1).astype(jnp.int32) for k, v in after.items()}}}

    def train(rng: jax.Array):
        """Whole run as one traceable function (one scan over the warm-up's and learning's
        calls of run_steps); metrics have a leading chunk axis (learning chunks only)."""
        calls = [(WARMUP, a) for a in trainer.warmup_calls] + [(LEARN, chunk_length)] * num_chunks
        args = (jnp.array([c[0] for c in calls], jnp.int32), jnp.array([c[1] for c in calls], jnp.int32))
        state, metrics = lax.scan(lambda s, f: run_steps(s, *f), init(rng), args)
        return state, jax.tree.map(lambda m: m[len(trainer.warmup_calls):], metrics)

    trainer = Trainer(config=config, env=env, agent=learner.agent, sampler=sampler, num_envs=e, num_tasks=n,
                      warmup_steps=sizes.warmup_steps, window_steps=sizes.window_steps, chunk_length=chunk_length,
                      num_chunks=num_chunks, init=init, run_steps=run_steps, train=train, mesh=mesh,
                      donate_chunk=learner.donate_chunk, state_specs=learner.state_specs)
    return trainer


def chunking(total_env_steps: int, num_envs: int, warmup_steps: int, chunk_length: int) -> tuple[int, int]:
    """(chunk_length, num_chunks) of the learning phase (config.validate_for_env checked that
    something is left to learn)."""
    learn_steps = total_env_steps // num_envs - warmup_steps
    length = max(1, min(chunk_length, learn_steps))
    return length, learn_steps // length
