"""The shared trainer runs any learner: the test-only random learner (tests/random_learner.py)
goes through make_trainer, the jitted chunk programs and the driver's chunk loop unchanged."""

from __future__ import annotations

import jax
import numpy as np

from drats_jax import agents, config, driver
from drats_jax.config import SamplerConfig, TrainConfig
from drats_jax.trainer import make_trainer
from tests import random_learner
from tests.pointmass import PointMass

CFG = TrainConfig(total_env_steps=1_200, warmup_env_steps=200, num_envs=4, chunk_length=50,
                  sampler=SamplerConfig(name="uniform", interval=200))


def test_every_algo_has_a_learner():
    assert tuple(agents.LEARNERS) == config.ALGOS


def test_a_minimal_learner_runs_through_the_trainer():
    trainer = make_trainer(CFG, PointMass(), random_learner.make_learner)
    assert (trainer.warmup_steps, trainer.chunk_length, trainer.num_chunks) == (50, 50, 5)
    state, metrics = jax.jit(trainer)(jax.random.PRNGKey(0))
    assert int(state.step) == 50 + 5 * 50 and int(state.grad_steps) == 0
    np.testing.assert_array_equal(metrics["env_steps"], 4 * (50 + 50 * np.arange(1, 6)))
    np.testing.assert_array_equal(metrics["learning"], np.ones(5, np.float32))
    assert all(np.all(v == -1) for v in metrics["health"].values())  # finite throughout
    assert int(np.sum(metrics["episodes"])) == 4 * 250 // 50  # the learner's 50-step episodes (after warm-up)


def test_the_driver_runs_a_minimal_learner():
    trainer = make_trainer(CFG, PointMass(), random_learner.make_learner)
    state, history, _ = driver.run(trainer, num_seeds=2, log=None)
    assert len(history) == trainer.num_chunks and state.step.shape == (2,)
    # Seeds differ (their own keys), and the random policy's first chunk is reproducible.
    again, repeat, _ = driver.run(trainer, num_seeds=2, log=None)
    np.testing.assert_array_equal(history[0]["episode_return"], repeat[0]["episode_return"])
    assert not np.array_equal(np.asarray(state.alloc.env_state.obs[0]), np.asarray(state.alloc.env_state.obs[1]))
