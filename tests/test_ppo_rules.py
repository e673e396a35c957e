"""PPO's options for the DRATS authors' rules (whuang369/metaworld-algorithms: ppo.py, utils.py,
base.py), each on a tiny hand-checked case: GAE with a truncation inside the rollout, per-task
advantage normalisation inside a minibatch, the target-KL stop at 1.5 x keeping the step that
crossed it; and the first episodes of a run without warm-up reaching the sampler."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from drats_jax.agents.ppo import Batch, make_ppo
from drats_jax.agents.ppo.losses import gae, normalize_advantages
from drats_jax.config import PPOConfig, SamplerConfig, TrainConfig
from drats_jax.train import make_train
from tests.pointmass import PointMass


def test_gae_rollout_end_cuts_truncations_inside_the_rollout():
    """One slot, T = 4, gamma 0.5, lambda 1, so A_t = the discounted rewards left in the episode
    (+ the bootstrap) - V(obs_t): rewards 1, 2, 3, 4; V(obs) 10, 20, 30, 40; the episode is
    truncated at t = 1 (inside the rollout; V of its final observation 8) and at t = 3 (the
    rollout's last step; V of its final observation 6)."""
    reward = jnp.array([[1.0], [2.0], [3.0], [4.0]])
    value = jnp.array([[10.0], [20.0], [30.0], [40.0]])
    next_value = jnp.array([[20.0], [8.0], [40.0], [6.0]])  # inside an episode: the next row's V
    terminal = jnp.zeros((4, 1), bool)
    truncation = jnp.array([[False], [True], [False], [True]])
    args = (reward, value, next_value, terminal, truncation, 0.5, 1.0)
    textbook, _ = gae(*args, "always")
    authors, returns = gae(*args, "rollout_end")
    # always: the truncation at t = 1 bootstraps from 8.
    np.testing.assert_allclose(textbook[:, 0], [1 + 0.5 * 2 + 0.25 * 8 - 10, 2 + 0.5 * 8 - 20,
                                                3 + 0.5 * 4 + 0.25 * 6 - 30, 4 + 0.5 * 6 - 40])
    # rollout_end: the return ends at t = 1 with no bootstrap; the last step still bootstraps (6).
    np.testing.assert_allclose(authors[:, 0], [1 + 0.5 * 2 - 10, 2 - 20, 3 + 0.5 * 4 + 0.25 * 6 - 30, 4 + 0.5 * 6 - 40])
    np.testing.assert_allclose(returns, authors + value)
    # A true terminal at the last step does not bootstrap under either rule.
    last_terminal = terminal.at[3, 0].set(True)
    for rule in ("always", "rollout_end"):
        adv, _ = gae(reward, value, next_value, last_terminal, truncation, 0.5, 1.0, rule)
        np.testing.assert_allclose(adv[3, 0], 4 - 40)


def _fork_normalisation(adv, task, n):
    """The fork's per-task minibatch normalisation, transcribed: segment means with counts + 1e-3,
    std = sqrt(max(E[x^2] - E[x]^2, 0)) + 1e-3."""
    adv, task = np.asarray(adv, np.float64), np.asarray(task)
    count = np.bincount(task, minlength=n) + 1e-3
    mean = np.bincount(task, weights=adv, minlength=n) / count
    std = np.sqrt(np.maximum(np.bincount(task, weights=adv**2, minlength=n) / count - mean**2, 0.0)) + 1e-3
    return (adv - mean[task]) / std[task]


def test_per_task_minibatch_normalisation_is_the_authors_formula():
    adv = jnp.array([1.0, 3.0, -2.0, 10.0, 10.0, 4.0], jnp.float32)
    task = jnp.array([0, 0, 1, 2, 2, 1], jnp.int32)  # task 2: equal values (std 0 -> + 1e-3); task 3 absent
    out = normalize_advantages(adv, task, 4, "per_task_minibatch")
    np.testing.assert_allclose(out, _fork_normalisation(adv, task, 4), rtol=1e-4, atol=1e-4)
    # task 0: mean 4 / 2.001, std ~1: [1, 3] -> ~[-1, 1]
    np.testing.assert_allclose(out[:2], [-1.0, 1.0], atol=5e-3)


def _agent_and_batch(**kw):
    cfg = PPOConfig(hidden_width=16, hidden_depth=1, lr=1e-2, num_epochs=2, num_minibatches=4, **kw)
    agent = make_ppo(cfg, num_tasks=3, obs_size=4, action_size=2)
    ks = jax.random.split(jax.random.PRNGKey(0), 5)
    obs = jax.random.normal(ks[0], (64, 4))
    task = jnp.arange(64, dtype=jnp.int32) % 3
    state = agent.init(ks[1])
    u, logp = agent.sample(state, obs, task, ks[2])
    batch = Batch(obs=obs, task_id=task, action=u, log_prob=logp, advantage=3.0 + 2.0 * jax.random.normal(ks[3], (64,)),
                  returns=jax.random.normal(ks[4], (64,)))
    return agent, state, batch


def test_minibatch_step_normalises_inside_the_minibatch():
    """per_task_minibatch: the step on a minibatch equals the unnormalised step on the advantages
    normalised by the fork's formula over that minibatch alone."""
    agent, state, batch = _agent_and_batch(advantage_norm="per_task_minibatch", target_kl=None)
    plain, _, _ = _agent_and_batch(advantage_norm="none", target_kl=None)
    mb = jax.tree.map(lambda x: x[:16], batch)
    normed = mb.replace(advantage=jnp.asarray(_fork_normalisation(mb.advantage, mb.task_id, 3), jnp.float32))
    a, _ = agent.minibatch_step(state, mb)
    b, _ = plain.minibatch_step(state, normed)
    for x, y in zip(jax.tree.leaves(a.actor_params), jax.tree.leaves(b.actor_params)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)


def _second_kl(**kw):
    """The approx. KL the second minibatch of the update measures (after the first one's step)."""
    agent, state, batch = _agent_and_batch(target_kl=None, **kw)
    perm = jax.random.permutation(jax.random.split(jax.random.PRNGKey(1), 2)[0], 64)[:64].reshape(4, 16)
    first, info0 = agent.minibatch_step(state, jax.tree.map(lambda x: x[perm[0]], batch))
    _, info1 = agent.minibatch_step(first, jax.tree.map(lambda x: x[perm[1]], batch))
    assert float(info0["approx_kl"]) < 1e-6  # the rollout's own policy
    return float(info1["approx_kl"])


def test_kl_stop_at_factor_times_target_keeping_the_step_that_crossed_it():
    kl = _second_kl()
    assert kl > 0
    run = lambda **kw: jax.jit(_agent_and_batch(**kw)[0].update)(*_agent_and_batch(**kw)[1:], jax.random.PRNGKey(1))  # noqa: E731
    # Target between kl / 1.5 and kl: the textbook stop (1 x) fires at minibatch 2 and discards
    # its step (1 update); the authors' 1.5 x does not fire there.
    target = kl / 1.25
    _, m = run(target_kl=target)
    assert bool(m["kl_stopped"]) and int(m["updates"]) == 1
    _, m = run(target_kl=target, kl_stop_factor=1.5, kl_stop_keeps_step=True)
    assert int(m["updates"]) >= 2
    # Past 1.5 x target at minibatch 2: the authors stop there but keep its step (2 updates).
    _, m = run(target_kl=kl / 2, kl_stop_factor=1.5, kl_stop_keeps_step=True)
    assert bool(m["kl_stopped"]) and int(m["updates"]) == 2
    new, m2 = run(target_kl=kl / 2, kl_stop_factor=1.5, kl_stop_keeps_step=False)
    assert bool(m2["kl_stopped"]) and int(m2["updates"]) == 1
    assert int(new.actor_opt[1][0].count) == 1  # the discarded step left Adam untouched


def test_ppo_first_episodes_reach_the_sampler_without_warm_up():
    """No warm-up (PPO's default): the first episode of every slot is the learner's, so the
    first window already holds E episodes (it used to hold none: the slots' first episodes were
    taken for warm-up ones and never reached the window, success ring or max return)."""
    e = 8
    cfg = TrainConfig(algo="ppo", num_envs=e, total_env_steps=e * 50 * 2,
                      sampler=SamplerConfig(interval=e * 50, initial_ref_return=500.0),
                      ppo=PPOConfig(hidden_width=16, hidden_depth=1, num_epochs=1, num_minibatches=2))
    trainer = make_train(cfg, PointMass())
    assert trainer.warmup_steps == 0
    init, warmup, chunk = trainer.jitted()
    state, _ = warmup(init(jax.random.PRNGKey(0)))
    state, m = chunk(state)
    stats = jax.device_get(state.alloc.stats)
    assert int(stats.episodes.sum()) == e and int(m["episodes"].sum()) == e
    assert int(stats.success_filled.sum()) == e and np.isfinite(stats.max_return[stats.episodes > 0]).all()
    assert not np.allclose(m["q"], 0.25)  # the first window moved q
