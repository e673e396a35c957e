"""The training loop on the point-mass test env: config errors, seed-vmap determinism,
DRATS vs Uniform allocation, and SAC learning."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from drats_jax.config import SACConfig, SamplerConfig, TrainConfig
from drats_jax.train import make_train
from tests.pointmass import PointMass

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


def test_vmapped_seeds_equal_single_seed_runs_bit_for_bit():
    env = PointMass(episode_length=20)
    cfg = TrainConfig(total_env_steps=640, warmup_env_steps=160, buffer_capacity=640, chunk_length=40,
                      updates_per_step=2, sac=SACConfig(hidden_width=32, hidden_depth=2, batch_size=32),
                      sampler=SamplerConfig(interval=20, initial_ref_return=200.0))
    trainer = make_train(cfg, env)
    keys = jax.random.split(jax.random.PRNGKey(7), 2)
    single = jax.jit(trainer)
    runs = [jax.device_get(single(k)) for k in keys]
    both = jax.device_get(jax.jit(jax.vmap(trainer))(keys))
    assert runs[0][0].grad_steps == 2 * 3 * 40  # 3 chunks after warm-up, 2 updates per step
    for i, run in enumerate(runs):
        mine = jax.tree_util.tree_leaves_with_path(run)
        theirs = jax.tree.leaves(jax.tree.map(lambda x: x[i], both))
        assert len(mine) == len(theirs)
        for (path, a), b in zip(mine, theirs):
            assert np.array_equal(a, b, equal_nan=True), f"seed {i}: {jax.tree_util.keystr(path)} differs"
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
    trainer, state, _, history = _run(SamplerConfig(name="drats", interval=50, initial_ref_return=500.0), 4800)
    q = np.asarray(history[-1]["q"])
    assert q[3] > 1 / 4 + 0.02 and q.argmax() == 3
    assert q.min() >= 1 / 16 - 1e-6 and abs(q.sum() - 1) < 1e-5
    # Allocation follows q: the hard task consumed more env steps than the easiest.
    steps = np.asarray(state.stats.env_steps)
    assert steps[3] > steps[0] and steps.sum() == int(state.step) * trainer.num_envs


def test_uniform_stays_uniform_and_sac_learns_easy_tasks():
    trainer, state, warm, history = _run(SamplerConfig(name="uniform", interval=50, initial_ref_return=500.0),
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
