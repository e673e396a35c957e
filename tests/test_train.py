"""The training loop on the point-mass test env: config errors, seed-vmap determinism,
DRATS vs Uniform allocation, and SAC learning."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from drats_jax.config import SACConfig, SamplerConfig, TrainConfig
from drats_jax.train import make_train
from tests.pointmass import PointMass
from tests.seed_runs import assert_seeds_match, single_and_vmapped

SMALL_SAC = SACConfig(hidden_width=64, hidden_depth=2, batch_size=128)


class SpyEnv(PointMass):
    """PointMass that counts reset/step calls (tracing included)."""

    def __init__(self, num_tasks=4, **kw):
        super().__init__(**kw)
        self.num_tasks = num_tasks
        self.calls = 0

    def reset(self, *a):
        self.calls += 1
        return super().reset(*a)

    def step(self, *a):
        self.calls += 1
        return super().step(*a)


def test_zero_tasks_rejected_before_tracing():
    env = SpyEnv(num_tasks=0)
    with pytest.raises(ValueError, match="at least one task"):
        make_train(TrainConfig(), env)
    assert env.calls == 0


def test_eps_above_one_over_n_rejected_before_tracing():
    env = SpyEnv()
    cfg = TrainConfig(sampler=SamplerConfig(eps=0.3))  # N = 4: 1/N = 0.25
    with pytest.raises(ValueError, match=r"eps=0.3 is larger than 1/N"):
        make_train(cfg, env)
    assert env.calls == 0


def test_capacity_smaller_than_batch_rejected_at_config():
    with pytest.raises(ValueError, match="smaller than one batch"):
        TrainConfig(buffer_capacity=100, sac=SACConfig(batch_size=256))


@pytest.mark.parametrize("bad", [
    dict(total_env_steps=0), dict(updates_per_step=0), dict(buffer_sampling="random"), dict(chunk_length=-5),
])
def test_other_bad_configs(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)
    with pytest.raises(ValueError, match="hidden_width"):
        SACConfig(hidden_width=0)
    with pytest.raises(ValueError, match="sampler.name"):
        SamplerConfig(name="nope")


def test_capacity_not_multiple_of_slots_rejected():
    with pytest.raises(ValueError, match="multiple of num_envs"):
        make_train(TrainConfig(buffer_capacity=1001, sac=SMALL_SAC), SpyEnv())


def test_per_task_capacity_must_hold_one_block_per_task():
    with pytest.raises(ValueError, match="multiple of the 4 tasks"):
        make_train(TrainConfig(buffer_sampling="per_task", buffer_capacity=1002, sac=SMALL_SAC), SpyEnv())
    with pytest.raises(ValueError, match="at least num_envs"):
        make_train(TrainConfig(num_envs=300, buffer_sampling="per_task", buffer_capacity=1000,
                               sac=SMALL_SAC), SpyEnv())


def test_per_task_replay_keeps_one_ring_per_task():
    """per_task replay (the reference MTSAC's layout): task t's transitions live in ring t only."""
    cfg = TrainConfig(num_envs=8, total_env_steps=1600, warmup_env_steps=400, buffer_capacity=800, chunk_length=50,
                      sac=SMALL_SAC, buffer_sampling="per_task", sampler=SamplerConfig(name="drats", interval=400))
    trainer = make_train(cfg, PointMass())
    init, warmup, chunk = trainer.jitted()
    state, _ = warmup(init(jax.random.PRNGKey(0)))
    for _ in range(trainer.num_chunks):
        state, _ = chunk(state)
    buf = jax.device_get(state.buffer)
    steps = np.asarray(state.stats.env_steps)  # per task, warm-up included
    np.testing.assert_array_equal(buf.size, np.minimum(steps, 200))
    task_of_row = np.asarray(buf.data.task_id).reshape(4, 200)
    for t in range(4):
        assert np.all(task_of_row[t, :buf.size[t]] == t)
    assert int(state.grad_steps) > 0


def test_task_block_draws_one_task_per_block():
    """MJX backends step one scene per block of slots: the trainer draws tasks per block."""
    env = PointMass()
    env.block_size = 4
    cfg = TrainConfig(num_envs=8, total_env_steps=400, warmup_env_steps=0, buffer_capacity=400, chunk_length=10,
                      sac=SMALL_SAC)
    trainer = make_train(cfg, env)
    for seed in range(5):
        tasks = np.asarray(trainer.init(jax.random.PRNGKey(seed)).env_state.info["task_id"]).reshape(2, 4)
        assert (tasks == tasks[:, :1]).all(), tasks
    assert cfg.resolved_task_block(8, 4) == 4 and cfg.resolved_task_block(10, 4) == 2
    assert cfg.resolved_task_block(8, 1) == 1  # C backend: every slot draws its own task
    with pytest.raises(ValueError, match="multiple of task_block"):
        make_train(TrainConfig(num_envs=8, task_block=3, buffer_capacity=800, sac=SMALL_SAC), PointMass())
    with pytest.raises(ValueError, match="task_block"):
        TrainConfig(task_block=0)


def test_vmapped_seeds_equal_single_seed_runs():
    """A seed of a vmapped run is that seed's single run: bit for bit where XLA's batched
    and plain matmuls accumulate in the same order (seen on AVX-512 CPUs), to float
    tolerance where they do not (AVX2: ~1e-8 after a few hundred updates). The same
    program run twice is always bit-identical."""
    env = PointMass(episode_length=20)
    cfg = TrainConfig(total_env_steps=640, warmup_env_steps=160, buffer_capacity=640, chunk_length=40,
                      updates_per_step=2, sac=SACConfig(hidden_width=32, hidden_depth=2, batch_size=32),
                      sampler=SamplerConfig(interval=80, initial_ref_return=200.0))
    trainer = make_train(cfg, env)
    keys = jax.random.split(jax.random.PRNGKey(7), 2)
    runs, both = single_and_vmapped(trainer, keys)
    assert runs[0][0].grad_steps == 2 * 3 * 40  # 3 chunks after warm-up, 2 updates per step
    assert_seeds_match(runs, both)
    # and the two seeds really are different runs
    assert not np.array_equal(runs[0][0].buffer.data.action, runs[1][0].buffer.data.action)


def _run(sampler: SamplerConfig, total: int, seed: int = 0):
    cfg = TrainConfig(total_env_steps=total, warmup_env_steps=800, buffer_capacity=total,
                      chunk_length=500, sac=SMALL_SAC, sampler=sampler)
    trainer = make_train(cfg, PointMass())
    init, warmup, chunk = trainer.jitted()
    state = init(jax.random.PRNGKey(seed))
    state, warm = warmup(state)
    history = []
    for _ in range(trainer.num_chunks):
        state, m = chunk(state)
        history.append(jax.device_get(m))
    return trainer, state, jax.device_get(warm), history


def test_drats_raises_hardest_task_probability():
    # One window per 50-step episode; R_ref = 50 steps x reward 10. The far goal (task 3)
    # has the largest gap from the start, so DRATS must shift mass to it.
    trainer, state, _, history = _run(SamplerConfig(name="drats", interval=200, initial_ref_return=500.0), 4800)
    q = np.asarray(history[-1]["q"])
    assert q[3] > 1 / 4 + 0.02 and q.argmax() == 3
    assert q.min() >= 1 / 16 - 1e-6 and abs(q.sum() - 1) < 1e-5
    # Allocation follows q: the hard task consumed more env steps than the easiest.
    steps = np.asarray(state.stats.env_steps)
    assert steps[3] > steps[0] and steps.sum() == int(state.step) * trainer.num_envs


def test_uniform_stays_uniform_and_sac_learns_easy_tasks():
    trainer, state, warm, history = _run(SamplerConfig(name="uniform", interval=200, initial_ref_return=500.0),
                                         20_000)
    for m in history:
        np.testing.assert_array_equal(m["q"], np.full(4, 0.25, np.float32))
    random_return = np.asarray(warm["episode_return"])  # warm-up = uniform random actions
    assert np.all(np.isfinite(random_return[:2]))  # the warm-up finished episodes of both
    final = np.mean([m["episode_return"] for m in history[-2:]], axis=0)  # last 2 chunks
    # Easy tasks (goals at 0.3 and 0.6): well above the random policy's return (about
    # 120 and 30 here; a policy that reaches and holds the goal gets about 400-450).
    assert np.all(final[:2] > 2 * random_return[:2]), (final, random_return)
    assert np.all(final[:2] > 250.0), (final, random_return)
    assert int(state.grad_steps) == trainer.num_chunks * trainer.chunk_length


# ---------------------------------------------------------------------- DRATS timing


def _sampler_that_picks(task: int, num_tasks: int = 4):
    """q starts uniform; every update puts all mass on ``task`` and counts the updates."""
    import jax.numpy as jnp  # noqa: PLC0415
    from flax import struct  # noqa: PLC0415

    from drats_jax.samplers import Sampler  # noqa: PLC0415

    @struct.dataclass
    class CountState:
        q: jax.Array
        updates: jax.Array

    def update(state, stats):
        return CountState(q=jax.nn.one_hot(task, num_tasks), updates=state.updates + 1), stats

    return Sampler(name="pick", num_tasks=num_tasks,
                   init=lambda: CountState(q=jnp.full((num_tasks,), 1.0 / num_tasks), updates=jnp.zeros((), jnp.int32)),
                   update=update, probabilities=lambda s: s.q)


def _timing_trainer(num_envs: int, interval: int, warmup: int, total: int, chunk: int, sampler=None):
    cfg = TrainConfig(num_envs=num_envs, total_env_steps=total, warmup_env_steps=warmup, buffer_capacity=total,
                      chunk_length=chunk, sac=SACConfig(hidden_width=8, hidden_depth=1, batch_size=8),
                      sampler=SamplerConfig(interval=interval, initial_ref_return=500.0))
    return make_train(cfg, PointMass(), sampler=sampler)  # 4 tasks, 50-step episodes


def test_slots_that_reset_when_a_window_ends_draw_from_the_new_q():
    # Every slot's episode ends at the same step as the first window (50 vector steps after
    # a 100-step warm-up): all 16 slots must start their next episode on the task the
    # update chose. Drawn from the stale uniform q, all 16 would match with p = 4^-16.
    trainer = _timing_trainer(16, 16 * 50, 16 * 100, 16 * 150, 50, sampler=_sampler_that_picks(2))
    assert trainer.window_steps == 50 and trainer.warmup_steps == 100
    init, warmup, chunk = trainer.jitted()
    state, _ = warmup(init(jax.random.PRNGKey(0)))
    tasks_before = np.asarray(state.env_state.info["task_id"])
    assert len(set(tasks_before)) > 1  # warm-up episodes drew from the initial uniform q
    state, _ = chunk(state)
    assert int(state.sampler.updates) == 1
    np.testing.assert_array_equal(state.env_state.info["task_id"], np.full(16, 2))


@pytest.mark.parametrize("slots", [10, 20])
def test_sampler_window_is_counted_in_env_steps(slots):
    # interval 2,000 env steps = 200 vector steps of 10 slots = 100 of 20 slots.
    trainer = _timing_trainer(slots, 2000, 1000, 9000, 100, sampler=_sampler_that_picks(0))
    assert trainer.window_env_steps == 2000 and trainer.window_steps == 2000 // slots
    assert trainer.config.sampler.interval == 2000  # the resolved value, saved with the run
    init, warmup, chunk = trainer.jitted()
    state, _ = warmup(init(jax.random.PRNGKey(0)))
    for _ in range(trainer.num_chunks):
        state, _ = chunk(state)
    learned = int(state.step) * slots - 1000
    assert learned == 8000 and int(state.sampler.updates) == learned // 2000


def test_window_rounds_up_to_whole_vector_steps_and_one_episode():
    assert _timing_trainer(100, 2000, 0, 20000, 50).window_env_steps == 100 * 50  # one 50-step episode
    assert _timing_trainer(12, 1000, 0, 12000, 50).window_steps == 84  # ceil(1000 / 12)
    default = make_train(TrainConfig(num_envs=8, buffer_capacity=800, total_env_steps=100_000, sac=SMALL_SAC),
                         PointMass())
    assert default.window_env_steps == 10_000 * 4 and default.warmup_steps * 8 == 4_000 * 4


def test_warmup_episodes_do_not_reach_the_sampler_statistics():
    # Warm-up of 75 vector steps (1.5 episodes): the episodes that end at step 50 are random,
    # and so are the ones that started at step 50 and end at step 100 after learning began.
    trainer = _timing_trainer(4, 4 * 1000, 4 * 75, 4 * 175, 25)
    init, warmup, chunk = trainer.jitted()
    state, warm = warmup(init(jax.random.PRNGKey(0)))
    assert int(np.sum(warm["episodes"])) == 4  # the warm-up did finish episodes ...
    stats = state.stats
    assert int(np.sum(stats.episodes)) == 0 and int(np.sum(stats.window_episodes)) == 0  # ... unseen
    assert int(np.sum(stats.success_filled)) == 0 and np.all(np.isneginf(stats.max_return))
    assert int(np.sum(stats.env_steps)) == 4 * 75  # its env steps still count towards allocation
    state, _ = chunk(state)  # step 100: episodes started in warm-up end
    assert int(np.sum(state.stats.episodes)) == 0
    for _ in range(3):
        state, _ = chunk(state)  # step 175: the episodes of steps 100-150 are the learner's
    assert int(np.sum(state.stats.episodes)) == 4 and int(np.sum(state.stats.window_episodes)) == 4
