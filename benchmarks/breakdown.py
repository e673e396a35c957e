"""The ``breakdown`` section of ``benchmarks.run``: each piece of a training vector step (policy,
physics, task layer, replay insert and sample, SAC update, sampler draw and update) jitted alone
at the training shapes inside a lax.scan, timed interleaved with the whole chunk, amortised per
vector step."""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any, Callable

import numpy as np

from benchmarks.timing import block, compile_timed, log


class _Timed:
    """``carry = body(carry, consts)`` run ``length`` times in one jitted lax.scan (as in the
    trainer, so per-call dispatch is excluded). Compiled and called once (excluded) on creation;
    each ``once()`` times one more call and records the per-iteration time."""

    def __init__(self, body: Callable, carry: Any, consts: Any, length: int):
        import jax

        def prog(carry, consts):
            return jax.lax.scan(lambda c, _: (body(c, consts), None), carry, None, length=length)[0]

        # The carry is a private copy and donated, so big carries (the replay buffer) are
        # updated in place rather than copied on every call, as in the trainer.
        carry = jax.tree.map(lambda x: x.copy(), carry)
        self.compiled, comp = compile_timed(jax.jit(prog, donate_argnums=0), carry, consts)
        self.compile_s = sum(comp.values())
        self.consts, self.length, self.times = consts, length, []
        self.carry = block(self.compiled(carry, consts))

    def once(self) -> None:
        t0 = time.perf_counter()
        self.carry = block(self.compiled(self.carry, self.consts))
        self.times.append((time.perf_counter() - t0) / self.length)

    def result(self) -> dict:
        return {"per_call_s": statistics.median(self.times), "per_call_s_best": min(self.times),
                "times_s": list(self.times), "compile_s": self.compile_s}


class _TimedHost:
    """The physics backend's host function called from Python (no JAX), same interface as _Timed."""

    def __init__(self, host, physics, task, goal, num_envs: int, calls: int):
        self.host, self.task, self.goal, self.calls, self.times = host, task, goal, calls, []
        self.rng = np.random.default_rng(0)
        self.e = num_envs
        self.physics, _ = host(physics, task, goal, self._control())

    def _control(self):
        c = self.rng.uniform(-1, 1, size=(self.e, 4)).astype(np.float32)
        c[:, :3] *= 0.01
        return c

    def once(self) -> None:
        controls = [self._control() for _ in range(self.calls)]
        t0 = time.perf_counter()
        for c in controls:
            self.physics, _ = self.host(self.physics, self.task, self.goal, c)
        self.times.append((time.perf_counter() - t0) / self.calls)

    def result(self) -> dict:
        return {"per_call_s": statistics.median(self.times), "per_call_s_best": min(self.times),
                "times_s": list(self.times), "compile_s": 0.0}


class _NoPhysics:
    """Backend stand-in for timing the task layer alone: physics state passes through and the
    readings are the (task, goal)'s reset readings, nudged by the control so nothing is hoisted."""

    def __init__(self, backend, readings):
        self.reading_size = backend.reading_size
        self.readings = readings

    def step(self, physics, task_id, goal_index, control):
        return physics, self.readings[task_id, goal_index] + 1e-6 * control.sum()


def _checksum(tree) -> Any:
    import jax
    import jax.numpy as jnp

    return sum(jnp.sum(x.astype(jnp.float32)) for x in jax.tree.leaves(tree))


def bench_breakdown(env, setups: dict, b: dict) -> dict:
    """Each piece of a vector step jitted alone at the training shapes of the DRATS trainer.

    Rounds are interleaved: each round times one more training chunk (the measured vector
    step) and then every piece once, so machine noise hits the whole and its parts alike."""
    import jax
    import jax.numpy as jnp

    from drats_jax import buffer as replay

    main = setups["drats"]
    trainer = main["trainer"]
    # Private copies: the chunk timed below donates (deletes) main["state"]'s buffers.
    state = jax.tree.map(jnp.copy, main["state"])
    cfg = trainer.config
    e, n, k_updates = trainer.num_envs, trainer.num_tasks, cfg.updates_per_step
    length = b["length"]
    agent = trainer.agent
    env_state = state.env_state
    obs, task = env_state.obs, env_state.info["task_id"].astype(jnp.int32)
    goal = env_state.info["goal_index"].astype(jnp.int32)
    v_step = jax.vmap(env.step)
    key = jax.random.PRNGKey(7)
    zero = jnp.zeros((), jnp.float32)
    pieces: list[tuple[str, Any, float, str]] = []  # (name, timer, calls per vector step, note)

    # Samplers: update (once per window of `window_steps` vector steps) and draw of E tasks (on autoreset), for
    # every trained sampler (their difference is what the DRATS / uniform ratio measures).
    for name, setup in setups.items():
        smp, sst = setup["trainer"].sampler, (state if setup is main else setup["state"])
        calls_update = 1.0 / setup["trainer"].window_steps

        def sampler_update(c, _, smp=smp):
            return smp.update(*c)

        def sampler_draw(c, s, smp=smp):
            key, acc = c
            key, sub = jax.random.split(key)
            t = jax.random.categorical(sub, jnp.log(smp.probabilities(s)), shape=(e,))
            return key, acc + jnp.sum(t)

        main_sampler = setup is main
        pieces.append(("sampler_update" if main_sampler else f"{name}_sampler_update",
                       _Timed(sampler_update, (sst.sampler, sst.stats), None, length),
                       calls_update if main_sampler else 0.0,
                       f"{name}.update; once per sampler window (window_steps vector steps)"))
        pieces.append(("sampler_draw" if main_sampler else f"{name}_sampler_draw",
                       _Timed(sampler_draw, (key, jnp.zeros((), jnp.int32)), sst.sampler, length),
                       1.0 / env.episode_length if main_sampler else 0.0,
                       f"{name}: probabilities + categorical draw for E slots; once per episode (autoreset)"))

    def act(c, consts):
        key, acc = c
        key, sub = jax.random.split(key)
        return key, acc + jnp.sum(agent.act(consts[0], consts[1], consts[2], sub))

    pieces.append(("policy_act", _Timed(act, (key, zero), (state.agent, obs, task), length), 1.0,
                   "SAC actor forward + sample for E slots"))

    def physics(c, consts):
        phys, key, acc = c
        key, sub = jax.random.split(key)
        a = jax.random.uniform(sub, (e, 4), minval=-1.0, maxval=1.0)
        control = jnp.concatenate([a[:, :3] * 0.01, a[:, 3:]], axis=1)
        phys, readings = jax.vmap(env.backend.step)(phys, consts[0], consts[1], control)
        return phys, key, acc + jnp.sum(readings)

    pieces.append(("physics", _Timed(physics, (env_state.physics.backend, key, zero), (task, goal), length), 1.0,
                   f"env.backend.step ({getattr(env.backend, 'name', '?')}) for E slots inside jit, callback "
                   "included"))
    host = getattr(env.backend, "_host_step", None)  # private: the callback's host body
    if host is not None:
        pieces.append(("physics_host_only",
                       _TimedHost(host, np.asarray(env_state.physics.backend), np.asarray(task), np.asarray(goal),
                                  e, b["host_calls"]), 0.0,
                       "backend._host_step called from Python (no JAX): the physics itself"))

    stub = copy.copy(env)  # task layer alone: env.step with a pass-through physics backend
    stub.backend = _NoPhysics(env.backend, env._reset_readings)
    s_step = jax.vmap(stub.step)

    def task_layer(c, _):
        st, key = c
        key, sub = jax.random.split(key)
        return s_step(st, jax.random.uniform(sub, (e, env.action_size), minval=-1.0, maxval=1.0)), key

    pieces.append(("task_layer", _Timed(task_layer, (env_state, key), None, length), 1.0,
                   "env.step with physics excluded: observation, reward, success (lax.switch over tasks)"))

    def env_step(c, _):
        st, key = c
        key, sub = jax.random.split(key)
        return v_step(st, jax.random.uniform(sub, (e, env.action_size), minval=-1.0, maxval=1.0)), key

    pieces.append(("env_step_total", _Timed(env_step, (env_state, key), None, length), 0.0,
                   "vmap(env.step) whole: physics + task layer"))

    rows = replay.Transition(obs=obs, action=jnp.zeros((e, env.action_size)), reward=jnp.zeros((e,)),
                             next_obs=obs, terminal=jnp.zeros((e,), bool), truncation=jnp.zeros((e,), bool),
                             task_id=task)

    def buffer_step(c, rows):
        buf, key, acc = c
        buf = replay.insert(buf, rows)
        for _ in range(k_updates):
            key, sub = jax.random.split(key)
            acc = acc + _checksum(replay.sample(buf, sub, cfg.sac.batch_size))
        return buf, key, acc

    pieces.append(("buffer", _Timed(buffer_step, (state.buffer, key, zero), rows, length), 1.0,
                   f"insert E rows + {k_updates} x sample {cfg.sac.batch_size} ({cfg.buffer_sampling}), capacity "
                   f"{cfg.buffer_capacity}"))

    def update(c, batch):
        ag, key = c
        key, sub = jax.random.split(key)
        return agent.update(ag, batch, sub)[0], key

    batch = replay.sample(state.buffer, key, cfg.sac.batch_size)
    pieces.append(("sac_update", _Timed(update, (state.agent, key), batch, length), float(k_updates),
                   f"one gradient step (critic, actor, alpha, target), batch {cfg.sac.batch_size}, "
                   f"MLP {cfg.sac.hidden_depth}x{cfg.sac.hidden_width}"))

    chunk_times = []
    for _ in range(b["repeats"]):
        t0 = time.perf_counter()
        main["state"], metrics = main["chunk"](main["state"])
        block(metrics)
        chunk_times.append(time.perf_counter() - t0)
        for _, timer, _, _ in pieces:
            timer.once()
    vector_step_s = statistics.median(chunk_times) / trainer.chunk_length
    parts = []
    for name, timer, calls, note in pieces:
        res = timer.result()
        res.update(name=name, calls_per_vector_step=calls, per_vector_step_s=res["per_call_s"] * calls, note=note,
                   share=res["per_call_s"] * calls / vector_step_s)
        parts.append(res)
        log(f"  {name}: {res['per_call_s'] * 1e3:.4f} ms/call x {calls:.4g} per vector step"
             + ("" if calls else " (reference, not summed)"))
    by = {p["name"]: p for p in parts}
    summed = sum(p["per_vector_step_s"] for p in parts)
    out = {"sampler": cfg.sampler.name, "num_envs": e, "vector_step_s": vector_step_s,
           "vector_step_times_s": [t / trainer.chunk_length for t in chunk_times], "parts": parts,
           "summed_s": summed, "other_s": vector_step_s - summed, "other_share": (vector_step_s - summed) / vector_step_s,
           "note": "per_vector_step_s = per_call_s x calls_per_vector_step; vector_step_s = DRATS training chunk "
                   "time / chunk_length, timed interleaved with the parts; 'other' = vector step minus the "
                   "summed parts: statistics, autoreset cond, scan and metric plumbing, plus timing noise "
                   "(can be negative). Parts with 0 calls per vector step are references, not summed."}
    if "physics_host_only" in by:
        out["callback_overhead_s"] = by["physics"]["per_call_s"] - by["physics_host_only"]["per_call_s"]
    # The DRATS / uniform ratio implied by the sampler pieces (far less noisy than the measured one).
    costs = {}
    for name, setup in setups.items():
        pre = "" if setup is main else f"{name}_"
        costs[name] = (by[f"{pre}sampler_update"]["per_call_s"] / setup["trainer"].window_steps
                       + by[f"{pre}sampler_draw"]["per_call_s"] / env.episode_length)
    out["sampler_cost_per_vector_step_s"] = costs
    if "uniform" in costs:
        out["implied_ratio_drats_over_uniform"] = (vector_step_s - costs["drats"] + costs["uniform"]) / vector_step_s
    return out
