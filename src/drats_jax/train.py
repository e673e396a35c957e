"""The training loop, PureJaxRL style: ``make_train(config, env)`` -> a pure ``train(rng)``.

Shapes: E env slots (default one per task), N tasks, O obs size, A action size.

One *vector step* (one lax.scan iteration) does, in order:
  1. act in every slot (uniform random actions during warm-up, else the SAC policy),
  2. step all slots (``jax.vmap(env.step)``) and insert the E transitions into the ring,
  3. add steps / finished episodes to the per-task statistics (episodes that started in
     the random-action warm-up are not the learner's: they never reach the statistics),
  4. when a sampler window ends (every ``window_steps`` vector steps after warm-up, i.e.
     ``sampler.interval`` env steps): update q from the window, clear the window,
  5. autoreset finished slots: task ~ Categorical(log q) with the q of step 4 (per block
     of slots on the MJX backends, see TrainConfig.task_block), goal ~ U{0..num_goals-1},
     ``jax.vmap(env.reset)`` merged in with ``jnp.where``,
  6. (after warm-up) K = updates_per_step SAC gradient steps (inner lax.scan).

Python only runs between chunks:

    trainer = make_train(config, env)
    state = trainer.init(rng)                      # TrainState (one pytree: everything)
    state, _ = trainer.warmup(state)               # random-action warm-up
    for _ in range(trainer.num_chunks):
        state, metrics = trainer.run_chunk(state)  # chunk_length vector steps

``trainer(rng)`` (= ``train(rng)``) does all of that as one traceable function, so
``jax.jit(jax.vmap(trainer))(rngs)`` trains independent seeds in one program;
``trainer.jitted(num_seeds)`` gives the jitted, state-donating, optionally seed-vmapped
functions for a Python-driven loop (logging, checkpoints, resume).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax import lax

from drats_jax import buffer as replay
from drats_jax.agents.sac import SAC, SACState, make_sac
from drats_jax.config import TrainConfig, resolve
from drats_jax.samplers import Sampler, make_sampler
from drats_jax.samplers import stats as task_stats


@struct.dataclass
class TrainState:
    """The full training state (one pytree; checkpoint it whole for exact resume).

    rng:             PRNGKey, the run's key (split every vector step).
    agent:           SACState (params, target params, per-task log-alpha, optimizer states).
    buffer:          ReplayBuffer (capacity C).
    env_state:       the env's State with leading axis E.
    sampler:         the sampler's state pytree (holds q: f32[N]).
    stats:           TaskStats, per-task training statistics.
    episode_return:  f32[E] return so far of each slot's running episode.
    episode_success: bool[E] whether the running episode has succeeded at any step.
    learner_episode: bool[E] whether the running episode started after warm-up.
    step:            i32[] vector steps done (warm-up included); env steps = step * E.
    grad_steps:      i32[] SAC gradient steps done.
    """

    rng: jax.Array
    agent: SACState
    buffer: replay.ReplayBuffer
    env_state: Any
    sampler: Any
    stats: task_stats.TaskStats
    episode_return: jax.Array
    episode_success: jax.Array
    learner_episode: jax.Array
    step: jax.Array
    grad_steps: jax.Array


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """What ``make_train`` returns. Calling it is ``train(rng) -> (TrainState, metrics)``.

    A plain (weak-referenceable, identity-hashed) class so ``jax.jit(trainer)`` works.
    """

    config: TrainConfig
    env: Any
    agent: SAC
    sampler: Sampler
    num_envs: int  # E
    num_tasks: int  # N
    warmup_steps: int  # vector steps of random actions
    window_steps: int  # vector steps per sampler window (window_steps x E = sampler.interval env steps)
    chunk_length: int  # vector steps per run_chunk
    num_chunks: int  # run_chunk calls after warm-up
    init: Callable[[jax.Array], TrainState]
    warmup: Callable[[TrainState], tuple[TrainState, dict]]
    run_chunk: Callable[[TrainState], tuple[TrainState, dict]]
    train: Callable[[jax.Array], tuple[TrainState, dict]]

    def __call__(self, rng: jax.Array):
        return self.train(rng)

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

    def jitted(self, num_seeds: int | None = None):
        """(init, warmup, run_chunk), jitted; warmup/run_chunk donate the state.

        num_seeds=None: one run (rng is one key). Otherwise every function is vmapped
        over a leading seed axis (rng: keys[num_seeds]).
        """
        init, warm, chunk = self.init, self.warmup, self.run_chunk
        if num_seeds is not None:
            init, warm, chunk = jax.vmap(init), jax.vmap(warm), jax.vmap(chunk)
        return jax.jit(init), jax.jit(warm, donate_argnums=0), jax.jit(chunk, donate_argnums=0)


def _where_slots(mask: jax.Array, a, b):
    """Per-slot select over pytrees whose leaves have a leading axis E. mask: bool[E]."""

    def pick(x, y):
        m = mask.reshape(mask.shape + (1,) * (x.ndim - 1))
        return jnp.where(m, x, y)

    return jax.tree.map(pick, a, b)


def make_train(config: TrainConfig, env: Any, sampler: Sampler | None = None) -> Trainer:
    """Validates ``config`` against ``env`` (no tracing) and builds the pure train functions.

    ``config``'s None defaults are resolved (:func:`drats_jax.config.resolve`); the
    Trainer's ``config`` is the resolved one. ``sampler`` replaces the one named in
    ``config.sampler`` (custom samplers, tests).
    """
    config, sizes = resolve(config, env)  # raises ValueError before anything compiles
    n = int(env.num_tasks)
    e, block = sizes.num_envs, sizes.task_block
    warmup_steps, window_steps = sizes.warmup_steps, sizes.window_steps
    obs_size, action_size = int(env.observation_size), int(env.action_size)
    num_goals = int(env.num_goals)
    sac_cfg, s_cfg = config.sac, config.sampler

    learn_steps = config.total_env_steps // e - warmup_steps
    chunk_length = max(1, min(config.chunk_length, learn_steps))
    num_chunks = learn_steps // chunk_length
    if num_chunks < 1:
        raise ValueError(
            f"total_env_steps={config.total_env_steps} leaves no learning step after "
            f"{warmup_steps} warm-up vector steps of {e} slots"
        )

    agent = make_sac(sac_cfg, n, obs_size, action_size)
    if sampler is None:
        sampler = make_sampler(s_cfg, n, total_env_steps=config.total_env_steps)
    v_reset = jax.vmap(env.reset)
    v_step = jax.vmap(env.step)

    def draw_tasks(rng, sampler_state):
        """Task and goal for every slot: task ~ Categorical(log q) per block of `block`
        consecutive slots (1 on the C backend: per slot), goal uniform per slot. i32[E] each."""
        k_task, k_goal = jax.random.split(rng)
        q = sampler.probabilities(sampler_state)
        task = jax.random.categorical(k_task, jnp.log(q), shape=(e // block,)).astype(jnp.int32)
        task = jnp.repeat(task, block)
        goal = jax.random.randint(k_goal, (e,), 0, num_goals, dtype=jnp.int32)
        return task, goal

    def reset_slots(rng, sampler_state):
        k_draw, k_reset = jax.random.split(rng)
        task, goal = draw_tasks(k_draw, sampler_state)
        return v_reset(jax.random.split(k_reset, e), task, goal)

    # ------------------------------------------------------------------ init
    def init(rng: jax.Array) -> TrainState:
        rng, k_agent, k_env = jax.random.split(rng, 3)
        sampler_state = sampler.init()
        return TrainState(
            rng=rng,
            agent=agent.init(k_agent),
            buffer=replay.init(config.buffer_capacity, obs_size, action_size),
            env_state=reset_slots(k_env, sampler_state),
            sampler=sampler_state,
            stats=task_stats.init_stats(n, s_cfg.success_window),
            episode_return=jnp.zeros((e,), jnp.float32),
            episode_success=jnp.zeros((e,), bool),
            learner_episode=jnp.zeros((e,), bool),
            step=jnp.zeros((), jnp.int32),
            grad_steps=jnp.zeros((), jnp.int32),
        )

    # ------------------------------------------------------------------ one vector step
    def gradient_steps(agent_state, buf, rng):
        """K SAC updates on batches from the (just updated) buffer; metrics averaged over K."""
        index = replay.task_index(buf, n) if config.buffer_sampling == "per_task" else None

        def one(agent_state, key):
            k_batch, k_update = jax.random.split(key)
            batch = replay.sample(buf, k_batch, sac_cfg.batch_size, config.buffer_sampling, index=index)
            return agent.update(agent_state, batch, k_update)

        agent_state, metrics = lax.scan(one, agent_state, jax.random.split(rng, config.updates_per_step))
        return agent_state, jax.tree.map(jnp.mean, metrics)

    def vector_step(state: TrainState, learn: bool):
        rng, k_act, k_reset, k_update = jax.random.split(state.rng, 4)
        env_state = state.env_state
        obs, task = env_state.obs, env_state.info["task_id"].astype(jnp.int32)

        # 1-2. act, step, store.
        if learn:
            action = agent.act(state.agent, obs, task, k_act)
        else:
            action = jax.random.uniform(k_act, (e, action_size), jnp.float32, -1.0, 1.0)
        nxt = v_step(env_state, action)
        truncation = nxt.info["truncation"].astype(bool)
        done = nxt.done.astype(bool)
        buf = replay.insert(state.buffer, replay.Transition(
            obs=obs, action=action, reward=nxt.reward, next_obs=nxt.obs,
            terminal=done & ~truncation,  # only a true terminal stops bootstrapping
            truncation=truncation, task_id=task))

        # 3. statistics: every env step counts towards the task's allocation; only the
        # learner's episodes (not the random warm-up's) reach the sampler's statistics.
        ep_return = state.episode_return + nxt.reward
        ep_success = state.episode_success | nxt.info["success"].astype(bool)
        stats = task_stats.record_steps(state.stats, task)
        stats = task_stats.record_episodes(stats, task, done & state.learner_episode, ep_return, ep_success)

        # 4. sampler update at the end of each window, BEFORE the resets below draw: slots
        # whose episode ends with the window start their next episode from the new q.
        step = state.step + 1
        sampler_state = state.sampler
        if learn:
            def update_sampler(args):
                sampler_state, stats = sampler.update(*args)
                return sampler_state, task_stats.end_window(stats)

            window_end = (step - warmup_steps) % window_steps == 0
            sampler_state, stats = lax.cond(window_end, update_sampler, lambda args: args, (sampler_state, stats))

        # 5. autoreset. cond skips the E resets on steps where no slot finished (most steps);
        # under a seed vmap it becomes a select, which is still correct.
        env_state = lax.cond(
            jnp.any(done),
            lambda: _where_slots(done, reset_slots(k_reset, sampler_state), nxt),
            lambda: nxt,
        )

        # 6. learn.
        agent_state, grad_steps = state.agent, state.grad_steps
        learn_metrics = {}
        if learn:
            agent_state, learn_metrics = gradient_steps(agent_state, buf, k_update)
            grad_steps = grad_steps + config.updates_per_step

        new = TrainState(
            rng=rng, agent=agent_state, buffer=buf, env_state=env_state, sampler=sampler_state, stats=stats,
            episode_return=jnp.where(done, 0.0, ep_return), episode_success=jnp.where(done, False, ep_success),
            learner_episode=jnp.where(done, learn, state.learner_episode), step=step, grad_steps=grad_steps)
        seg = lambda x: jax.ops.segment_sum(x, task, num_segments=n)  # noqa: E731
        step_metrics = {
            "episodes": seg(done.astype(jnp.int32)),
            "return_sum": seg(jnp.where(done, ep_return, 0.0)),
            "success_sum": seg((done & ep_success).astype(jnp.int32)),
            **learn_metrics,
        }
        return new, step_metrics

    def run_steps(state: TrainState, length: int, learn: bool):
        state, per_step = lax.scan(lambda s, _: vector_step(s, learn), state, None, length=length)
        return state, {**summarize(state, per_step), "health": health(state, per_step, length)}

    def summarize(state: TrainState, per_step: dict) -> dict:
        """Chunk metrics: per-task episode means over the chunk (NaN where none finished)."""
        eps_count = jnp.sum(per_step["episodes"], axis=0)
        denom = jnp.where(eps_count > 0, eps_count, 1)
        out = {
            "episodes": eps_count,
            "episode_return": jnp.where(eps_count > 0, jnp.sum(per_step["return_sum"], 0) / denom, jnp.nan),
            "success_rate": jnp.where(eps_count > 0, jnp.sum(per_step["success_sum"], 0) / denom, jnp.nan),
            "q": sampler.probabilities(state.sampler),
            "task_env_steps": state.stats.env_steps,
            "env_steps": state.step * e,
            "grad_steps": state.grad_steps,
        }
        for k, v in per_step.items():
            if k not in ("episodes", "return_sum", "success_sum"):
                out[k] = jnp.mean(v)
        return out

    def health(state: TrainState, per_step: dict, length: int) -> dict:
        """Where the run stopped being finite: {name: i32[]} = the first vector step of the
        chunk (0-based) at which that learner metric was NaN/inf, or -1; for the agent's
        parameters (checked at the chunk's end) length - 1, or -1."""
        out = {}
        for k, v in per_step.items():
            if k not in ("episodes", "return_sum", "success_sum"):
                bad = ~jnp.isfinite(v)
                out[k] = jnp.where(jnp.any(bad), jnp.argmax(bad), -1).astype(jnp.int32)
        for name in ("actor_params", "critic_params", "log_alpha"):
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(getattr(state.agent, name))]))
            out[name] = jnp.where(finite, -1, length - 1).astype(jnp.int32)
        return out

    def warmup(state: TrainState):
        if warmup_steps == 0:
            empty = {k: jnp.zeros((1, n), jnp.int32) for k in ("episodes", "return_sum", "success_sum")}
            return state, {**summarize(state, empty), "health": health(state, empty, 1)}
        return run_steps(state, warmup_steps, learn=False)

    def run_chunk(state: TrainState):
        return run_steps(state, chunk_length, learn=True)

    def train(rng: jax.Array):
        """Whole run as one traceable function; metrics have a leading chunk axis."""
        state, _ = warmup(init(rng))
        return lax.scan(lambda s, _: run_chunk(s), state, None, length=num_chunks)

    return Trainer(config=config, env=env, agent=agent, sampler=sampler, num_envs=e, num_tasks=n,
                   warmup_steps=warmup_steps, window_steps=window_steps, chunk_length=chunk_length, num_chunks=num_chunks,
                   init=init, warmup=warmup, run_chunk=run_chunk, train=train)


# ---------------------------------------------------------------------- Python driver


def run(trainer: Trainer, seed: int = 0, num_seeds: int | None = None, num_chunks: int | None = None,
        log: Callable[[str], None] | None = print) -> tuple[TrainState, list[dict], dict]:
    """Trains chunk by chunk from Python and measures throughput.

    Returns (final state, per-chunk metrics as numpy, throughput dict). Throughput counts
    only chunks after the first (which includes compilation): env_steps_per_s and
    grad_steps_per_s summed over seeds, plus compile-inclusive wall times.
    """
    init, warmup, chunk = trainer.jitted(num_seeds)
    rng = jax.random.PRNGKey(seed)
    if num_seeds is not None:
        rng = jax.random.split(rng, num_seeds)
    seeds = 1 if num_seeds is None else num_seeds
    num_chunks = trainer.num_chunks if num_chunks is None else min(num_chunks, trainer.num_chunks)

    t0 = time.perf_counter()
    state = init(rng)
    state, _ = warmup(state)
    jax.block_until_ready(state)
    t_warm = time.perf_counter() - t0
    history, times = [], []
    for i in range(num_chunks):
        t = time.perf_counter()
        state, metrics = chunk(state)
        metrics = jax.device_get(metrics)
        times.append(time.perf_counter() - t)
        history.append(metrics)
        if log is not None:
            ret = np.asarray(metrics["episode_return"])
            q = np.asarray(metrics["q"])
            q0 = np.array2string(q.reshape(-1, q.shape[-1])[0], precision=3, separator=" ")
            log(f"chunk {i + 1}/{num_chunks} env_steps={np.max(metrics['env_steps'])} "
                f"mean_return={np.nanmean(ret) if np.isfinite(ret).any() else float('nan'):.1f} "
                f"q(seed 0)={q0} ({times[-1]:.2f}s)")
    steady = times[1:] if len(times) > 1 else times
    dt = sum(steady)
    throughput = {
        "env_steps_per_s": seeds * trainer.env_steps_per_chunk * len(steady) / dt if dt > 0 else float("nan"),
        "grad_steps_per_s": seeds * trainer.chunk_length * trainer.config.updates_per_step * len(steady) / dt
        if dt > 0 else float("nan"),
        "init_and_warmup_s": t_warm,
        "first_chunk_s": times[0] if times else float("nan"),
        "seeds": seeds,
    }
    if log is not None:
        log(format_throughput(throughput))
    return state, history, throughput


def format_throughput(t: dict) -> str:
    return (f"throughput ({t['seeds']} seed(s), excluding the first, compiling chunk): "
            f"{t['env_steps_per_s']:.0f} env steps/s, {t['grad_steps_per_s']:.0f} gradient steps/s "
            f"(init+warm-up {t['init_and_warmup_s']:.1f}s, first chunk {t['first_chunk_s']:.1f}s)")


@dataclasses.dataclass
class Prepared:
    """A validated run, ready to compile: everything that can fail on user input has run."""

    cfg: Any  # cli.RunConfig
    out: Any  # pathlib.Path
    env: Any
    trainer: Trainer
    checkpointer: Any  # checkpoint.Checkpointer
    resumed: tuple[int, TrainState] | None  # (env steps, restored state)


def prepare(argv: list[str] | None = None, env: Any = None) -> Prepared:
    """Parses and validates the command line, builds the env and trainer, restores the
    checkpoint when resuming. Raises cli.UsageError (one line); compiles nothing.

    ``env``: use this env instead of ``metaworld_jax.make(--tasks, ...)`` (tests, custom envs).
    The saved config.json holds the resolved trainer config (warm-up, sampler window)."""
    import pathlib  # noqa: PLC0415

    from drats_jax import checkpoint, cli  # noqa: PLC0415

    cfg = cli.parse_args(argv)
    resume = cfg.resume is not None
    out = pathlib.Path(cfg.resume if resume else (cfg.out or cli.default_out(cfg)))
    cfg = dataclasses.replace(cfg, out=str(out))
    cli.check_out_folder(out, resume)
    if cfg.wandb:
        try:
            import wandb  # noqa: F401, PLC0415
        except ImportError:
            raise cli.UsageError("--wandb needs the wandb package, which is not installed") from None
    if env is None:
        import metaworld_jax  # noqa: PLC0415

        env = metaworld_jax.make(cfg.tasks, backend=cfg.backend, seed=cfg.env_seed, block_size=cfg.block_size)
    try:
        trainer = make_train(cfg.train, env)
    except ValueError as exc:
        raise cli.UsageError(" ".join(str(exc).split())) from None
    cfg = dataclasses.replace(cfg, train=trainer.config)  # None defaults resolved
    if not resume:
        cli.create_out_folder(out)
    fixed = {k: v for k, v in cli.to_dict(cfg).items() if k not in cli.RESUMABLE_CHANGES}
    ckpt = checkpoint.Checkpointer(out / "checkpoints", cfg.keep_checkpoints, fixed)
    resumed = None
    if resume and ckpt.latest_step() is not None:
        abstract = jax.eval_shape(jax.vmap(trainer.init), seed_keys(cfg))  # traces, compiles nothing
        try:
            resumed = ckpt.restore(abstract)
        except checkpoint.CheckpointError as exc:
            ckpt.close()
            raise cli.UsageError(str(exc)) from None
    elif not resume:
        cli.save_config(cfg, out)
    return Prepared(cfg=cfg, out=out, env=env, trainer=trainer, checkpointer=ckpt, resumed=resumed)


def seed_keys(cfg) -> jax.Array:
    """keys[seeds]: seed s of the run trains from split(PRNGKey(train.seed), seeds)[s]."""
    return jax.random.split(jax.random.PRNGKey(cfg.train.seed), cfg.seeds)


def _due(env_steps: int, per_chunk: int, interval: int) -> bool:
    """True at the first chunk boundary at or after each multiple of ``interval`` env steps."""
    return interval > 0 and env_steps // interval > (env_steps - per_chunk) // interval


def train_and_evaluate(p: Prepared, log: Callable[[str], None] = print) -> dict:
    """The Python driver: warm-up, then chunk by chunk (log, evaluate, checkpoint).

    Returns the final evaluation summary (seed means) and wall time, or, when SIGTERM/SIGINT
    arrived, {"env_steps", "interrupted": signal name, "wall_s"} after checkpointing at the
    next chunk boundary. Raises Diverged (nothing saved) when a loss or parameter becomes
    NaN/inf, so the last good checkpoint stays the newest one.
    """
    from drats_jax.logger import MetricsLogger  # noqa: PLC0415

    cfg = p.cfg
    # Resuming drops log rows written after the checkpoint (all of them if there was none).
    resume_step = p.resumed[0] if p.resumed is not None else (-1 if cfg.resume else None)
    logger = MetricsLogger(p.out, resume_step=resume_step,
                           use_wandb=cfg.wandb, wandb_project=cfg.wandb_project, config=cli_dict(cfg))
    t0 = time.perf_counter()
    try:
        with _StopRequest() as stop:
            env_steps = _chunk_loop(p, logger, stop, log)
    finally:
        logger.close()
        p.checkpointer.close()
    if stop.requested:
        log(f"stopped by {stop.requested} at {env_steps:,} env steps per seed; checkpoint saved; "
            f"continue with: python -m drats_jax.train --resume {p.out}")
        return {"env_steps": env_steps, "interrupted": stop.requested, "wall_s": time.perf_counter() - t0}
    return _write_summary(p.out, time.perf_counter() - t0)


def _chunk_loop(p: Prepared, logger, stop: "_StopRequest", log: Callable[[str], None]) -> int:
    """Warm-up (unless resumed), then chunks until the end or a stop request; returns the
    env steps per seed reached."""
    from drats_jax import evaluate as evaluation  # noqa: PLC0415
    from drats_jax.logger import per_seed_rows  # noqa: PLC0415
    from drats_jax.progress import ProgressBar  # noqa: PLC0415

    cfg, trainer, env, ckpt = p.cfg, p.trainer, p.env, p.checkpointer
    names = tuple(env.task_names)
    e, per_chunk = trainer.num_envs, trainer.env_steps_per_chunk
    init, warmup, chunk = trainer.jitted(cfg.seeds)
    evaluate = jax.jit(jax.vmap(evaluation.make_evaluate(env, trainer.agent, cfg.eval_episodes)))
    scale = evaluation.return_scale(env)
    if p.resumed is not None:
        state = jax.device_put(p.resumed[1])
        log(f"resumed {p.out} at {p.resumed[0]:,} env steps per seed")
    else:
        state, _ = warmup(init(seed_keys(cfg)))
    done = (int(np.asarray(state.step).reshape(-1)[0]) - trainer.warmup_steps) // trainer.chunk_length
    env_steps = (trainer.warmup_steps + done * trainer.chunk_length) * e
    # Tests set this to signal the run at a deterministic point ("SIGKILL:1400", "SIGTERM:1400";
    # a signal from outside races with how fast a tiny run finishes).
    test_signal = os.environ.get("DRATS_JAX_TEST_SIGNAL_AT")
    with ProgressBar(trainer.total_env_steps, env_steps, enabled=cfg.progress) as bar:
        for i in range(done, trainer.num_chunks):
            chunk_start = env_steps
            state, metrics = chunk(state)
            m = jax.device_get(metrics)
            env_steps = int(np.asarray(m["env_steps"]).reshape(-1)[0])
            bad = first_nonfinite(m.pop("health"), chunk_start, e)
            if bad is not None:
                last_good = ckpt.latest_step()
                kept = (f"the last good checkpoint ({last_good:,} env steps) is kept" if last_good is not None
                        else "no checkpoint had been written")
                raise Diverged(f"{bad}; stopped without saving, {kept}")
            logger.log("train", env_steps, per_seed_rows(_train_metrics(m), names))
            if test_signal is not None and env_steps >= int(test_signal.split(":")[1]):
                os.kill(os.getpid(), getattr(signal, test_signal.split(":")[0]))
                test_signal = None
            last = i == trainer.num_chunks - 1
            # A due evaluation runs even when stopping: the resumed run would not redo it.
            if last or _due(env_steps, per_chunk, cfg.eval_interval):
                result = jax.device_get(evaluate(state.agent))
                summary = evaluation.summarize(result, scale)
                logger.log("eval", env_steps, per_seed_rows({**summary, **result}, names))
                bar.set_eval(float(np.mean(summary["mean_success"])), float(np.mean(summary["worst_success"])))
            if last or stop.requested or _due(env_steps, per_chunk, cfg.checkpoint_interval):
                ckpt.save(env_steps, state)
            bar.update(env_steps, np.asarray(m["success_rate"]), np.asarray(m["q"]))
            if stop.requested and not last:
                return env_steps
    stop.requested = None  # the run ended anyway
    return env_steps


def _write_summary(out, wall_s: float) -> dict:
    """summary.json (atomic) from the last evaluation's rows: seed means, and wall time."""
    from drats_jax.logger import read_rows  # noqa: PLC0415

    final = read_rows(out / "eval.jsonl")
    last_step = max((r["env_steps"] for r in final), default=None)
    final = [r for r in final if r["env_steps"] == last_step]
    summary = {"env_steps": last_step, "seeds": len(final), "wall_s": wall_s}
    for key in final[0] if final else ():
        if key not in ("env_steps", "seed") and all(isinstance(r[key], (int, float)) for r in final):
            summary[key] = float(np.mean([r[key] for r in final]))
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(out / "summary.json")
    return summary


# Within one vector step, the order in which a NaN spreads: name the first as the cause.
_CAUSE_ORDER = ("critic_loss", "q_mean", "critic_params", "actor_loss", "entropy", "actor_params", "alpha_loss",
                "alpha_mean", "log_alpha")


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


class _StopRequest:
    """Turns SIGTERM/SIGINT (cluster preemption, Ctrl-C) into a request the driver honours at
    the next chunk boundary: checkpoint, then exit 0. A second signal stops at once."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.requested: str | None = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested is not None:  # second signal: the default behaviour
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        self.requested = signal.Signals(signum).name

    def __enter__(self):
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _train_metrics(m: dict) -> dict:
    """Chunk metrics to log: per-task training success/return/q/env steps, SAC scalars."""
    out = {"grad_steps": m["grad_steps"], "train_success": m["success_rate"], "train_return": m["episode_return"],
           "episodes": m["episodes"], "q": m["q"], "task_env_steps": m["task_env_steps"]}
    out.update({k: v for k, v in m.items() if k not in ("env_steps", "grad_steps", "success_rate",
                                                        "episode_return", "episodes", "q", "task_env_steps")})
    return out


def cli_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def format_summary(summary: dict, task_names: tuple[str, ...]) -> str:
    """Markdown table of the final evaluation (seed means)."""
    lines = ["| metric | value |", "|---|---|"]
    for key in ("env_steps", "seeds", "mean_success", "worst_success", "mean_return", "normalized_return"):
        if key in summary:
            v = summary[key]
            lines.append(f"| {key} | {v:.3f} |" if isinstance(v, float) else f"| {key} | {v} |")
    for t in task_names:
        if f"success/{t}" in summary:
            lines.append(f"| success/{t} | {summary[f'success/{t}']:.2f} (return {summary[f'return/{t}']:.0f}) |")
    lines.append(f"| wall time (s) | {summary['wall_s']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m drats_jax.train --help``: train, evaluate, log and checkpoint one run."""
    from drats_jax import cli  # noqa: PLC0415

    cli.setup_compile_cache()
    try:
        prepared = prepare(argv)
    except cli.UsageError as exc:
        print(f"drats_jax.train: error: {exc}", file=sys.stderr)
        return 2
    cfg, trainer = prepared.cfg, prepared.trainer
    print(json.dumps(cli_dict(cfg), indent=2))
    print(f"{cfg.tasks}: N={trainer.num_tasks} tasks, E={trainer.num_envs} slots, {cfg.seeds} seed(s), "
          f"{trainer.total_env_steps:,} env steps per seed ({trainer.num_chunks} chunks), "
          f"sampler={cfg.train.sampler.name}, out={prepared.out}")
    print(f"warm-up {trainer.warmup_steps * trainer.num_envs:,} env steps; sampler window "
          f"{trainer.window_steps:,} vector steps x {trainer.num_envs} slots = {trainer.window_env_steps:,} env steps")
    try:
        summary = train_and_evaluate(prepared)
    except Diverged as exc:
        print(f"drats_jax.train: error: {exc}", file=sys.stderr)
        return 3
    if "interrupted" not in summary:
        print(format_summary(summary, tuple(prepared.env.task_names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
