"""Multi-task SAC pieces: tanh-Gaussian log-prob, task conditioning, bootstrapping, learning."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from drats_jax.agents.sac import losses, make_sac, task_conditioned
from drats_jax.agents.sac.networks import tanh_gaussian_sample
from drats_jax.buffer import Transition
from drats_jax.config import SACConfig


def test_tanh_gaussian_log_prob_matches_change_of_variables():
    mean = jnp.array([[0.3, -1.0]])
    log_std = jnp.array([[-0.5, 0.2]])
    a, logp = tanh_gaussian_sample(jax.random.PRNGKey(0), mean, log_std)
    a64, m, s = (np.asarray(x, np.float64) for x in (a, mean, np.exp(log_std)))
    u = np.arctanh(a64)
    ref = np.sum(-0.5 * ((u - m) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi) - np.log(1 - a64**2))
    np.testing.assert_allclose(logp[0], ref, rtol=1e-4)
    assert np.all(np.abs(a) < 1)


def _agent_and_batch(terminal, truncation, b=16):
    sac = make_sac(SACConfig(hidden_width=32, hidden_depth=2, batch_size=b), num_tasks=3, obs_size=4,
                   action_size=2)
    ks = jax.random.split(jax.random.PRNGKey(0), 5)
    batch = Transition(obs=jax.random.normal(ks[0], (b, 4)), action=jax.random.uniform(ks[1], (b, 2), minval=-1),
                       reward=jax.random.normal(ks[2], (b,)), next_obs=jax.random.normal(ks[3], (b, 4)),
                       terminal=jnp.full((b,), terminal), truncation=jnp.full((b,), truncation),
                       task_id=jnp.arange(b, dtype=jnp.int32) % 3)
    return sac, sac.init(ks[4]), batch


def test_init_per_task_temperature_and_task_one_hot():
    sac, state, batch = _agent_and_batch(False, False)
    np.testing.assert_array_equal(state.log_alpha, np.zeros(3))  # temperature 1 on every task
    assert sac.target_entropy == -2.0
    x = task_conditioned(batch.obs, batch.task_id, 3)
    assert x.shape == (16, 7)
    np.testing.assert_array_equal(x[:, 4:], np.eye(3)[np.arange(16) % 3])
    # The first Dense layer sees obs + one-hot.
    assert state.actor_params["params"]["MLP_0"]["Dense_0"]["kernel"].shape == (7, 32)


def _critic_loss(sac, state, batch):
    x = task_conditioned(batch.obs, batch.task_id, 3)
    nx = task_conditioned(batch.next_obs, batch.task_id, 3)
    loss, _ = losses.critic_loss(state.critic_params, critic=sac.critic, actor=sac.actor,
                                 actor_params=state.actor_params, target_params=state.target_critic_params,
                                 log_alpha=state.log_alpha, batch=batch, x=x, next_x=nx, gamma=0.99,
                                 rng=jax.random.PRNGKey(3))
    return float(loss)


def test_only_terminal_stops_bootstrapping():
    sac, state, term = _agent_and_batch(True, False)
    _, _, trunc = _agent_and_batch(False, True)
    _, _, plain = _agent_and_batch(False, False)
    # Terminal: y = r exactly.
    q = sac.critic.apply(state.critic_params, task_conditioned(term.obs, term.task_id, 3), term.action)
    expect = 0.5 * float(jnp.mean(jnp.sum((q - term.reward[None]) ** 2, axis=0)))
    np.testing.assert_allclose(_critic_loss(sac, state, term), expect, rtol=1e-5)
    # Truncation bootstraps exactly like a non-final step.
    assert _critic_loss(sac, state, trunc) == _critic_loss(sac, state, plain)
    assert abs(_critic_loss(sac, state, trunc) - expect) > 1e-3


def test_updates_fit_a_fixed_batch_and_move_targets_slowly():
    sac, state, batch = _agent_and_batch(True, False)  # terminal: a pure regression on r
    update = jax.jit(sac.update)
    first = None
    for i in range(200):
        state, m = update(state, batch, jax.random.PRNGKey(i))
        first = float(m["critic_loss"]) if first is None else first
    assert float(m["critic_loss"]) < 0.2 * first
    # Polyak targets lag the online critics (tau = 0.005).
    online = state.critic_params["params"]["q1"]["MLP_0"]["Dense_0"]["kernel"]
    target = state.target_critic_params["params"]["q1"]["MLP_0"]["Dense_0"]["kernel"]
    assert not np.allclose(online, target)
    assert np.all(np.isfinite(state.log_alpha)) and state.log_alpha.shape == (3,)


def test_gradient_clip_is_optional():
    """max_grad_norm None (the peer-aligned setting) builds unclipped Adam; 0 is refused."""
    import optax  # noqa: PLC0415
    import pytest  # noqa: PLC0415

    def clipped(cfg):
        state = make_sac(cfg, 1, 3, 2).critic_tx.init(jnp.zeros(3))
        return isinstance(state, tuple) and isinstance(state[0], optax.EmptyState)

    assert clipped(SACConfig()) and not clipped(SACConfig(max_grad_norm=None))
    with pytest.raises(ValueError, match="max_grad_norm"):
        SACConfig(max_grad_norm=0.0)


def test_network_init_schemes():
    """init_scheme="reference": small uniform output layers (|w| <= 1e-3 actor, 3e-3 critic);
    init_scheme="lecun": flax's Dense default (LeCun-normal kernels: output std ~ 1/sqrt(width), zero bias)."""
    import pytest  # noqa: PLC0415

    def heads(init):
        state = make_sac(SACConfig(hidden_width=64, hidden_depth=2, init_scheme=init), 1, 3, 2).init(jax.random.PRNGKey(0))
        actor = state.actor_params["params"]["MLP_0"]["Dense_2"]
        critic = state.critic_params["params"]["q1"]["MLP_0"]["Dense_2"]
        return actor, critic

    actor, critic = heads("reference")
    assert float(jnp.max(jnp.abs(actor["kernel"]))) <= 1e-3 and float(jnp.max(jnp.abs(critic["kernel"]))) <= 3e-3
    actor, critic = heads("lecun")
    assert 0.5 / 8 < float(jnp.std(actor["kernel"])) < 2 / 8  # 1/sqrt(64) = 1/8
    assert float(jnp.max(jnp.abs(actor["bias"]))) == 0.0
    with pytest.raises(ValueError, match="sac.init_scheme"):
        SACConfig(init_scheme="orthogonal")
