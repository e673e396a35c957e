"""Flax (linen) networks of multi-task SAC.

Inputs are already task-conditioned: x = concat(obs, one_hot(task_id, N)), f32[B, D].
Initialisers (``init_scheme``): see :mod:`drats_jax.agents.common` (default: the reference MTSAC's).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from drats_jax.agents.common import ACTOR_HEAD_SCALE, CRITIC_HEAD_SCALE, HALF_LOG_2PI, MLP, clip_log_std, sum_last


class Actor(nn.Module):
    """Gaussian policy head before the tanh squash.

    Returns (mean f32[B, A], log_std f32[B, A]); log_std is clipped to
    [log_std_min, log_std_max] (the reference MTSAC's [-20, 2]).
    """

    action_size: int
    width: int
    depth: int
    layer_norm: bool = False
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    init_scheme: str = "reference"

    @nn.compact
    def __call__(self, x: jax.Array):
        # One Dense(2A) for mean and log-std: the same distribution at init as two Dense(A).
        h = MLP(self.width, self.depth, 2 * self.action_size, self.layer_norm, ACTOR_HEAD_SCALE, self.init_scheme)(x)
        mean, log_std = jnp.split(h, 2, axis=-1)
        return mean, clip_log_std(log_std, self.log_std_min, self.log_std_max)


class Critic(nn.Module):
    """Q(x, a) -> f32[B]."""

    width: int
    depth: int
    layer_norm: bool = False
    init_scheme: str = "reference"

    @nn.compact
    def __call__(self, x: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([x, action], -1)
        return MLP(self.width, self.depth, 1, self.layer_norm, CRITIC_HEAD_SCALE, self.init_scheme)(x)[..., 0]


class TwinCritic(nn.Module):
    """Two independent critics -> f32[2, B].

    Two plain submodules rather than an ``nn.vmap`` ensemble: with an ensemble axis the
    bias-gradient reductions get a different XLA layout once the trainer is vmapped over
    seeds, which breaks bit-exact equality between vmapped and single-seed runs on CPU.
    """

    width: int
    depth: int
    layer_norm: bool = False
    init_scheme: str = "reference"

    @nn.compact
    def __call__(self, x: jax.Array, action: jax.Array) -> jax.Array:
        q1 = Critic(self.width, self.depth, self.layer_norm, self.init_scheme, name="q1")(x, action)
        q2 = Critic(self.width, self.depth, self.layer_norm, self.init_scheme, name="q2")(x, action)
        return jnp.stack([q1, q2])


_LOG_2 = 0.6931471805599453


def tanh_gaussian_sample(rng: jax.Array, mean: jax.Array, log_std: jax.Array):
    """Reparameterised sample of a = tanh(u), u ~ N(mean, exp(log_std)^2).

    Returns (action f32[B, A] in (-1, 1), log_prob f32[B] of the action in nats).
    log p(a) = sum_j [log N(u_j) - log(1 - tanh(u_j)^2)], with the stable identity
    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)).
    """
    noise = jax.random.normal(rng, mean.shape, mean.dtype)
    u = mean + jnp.exp(log_std) * noise
    log_normal = -0.5 * noise**2 - log_std - HALF_LOG_2PI
    log_det = 2.0 * (_LOG_2 - u - jax.nn.softplus(-2.0 * u))
    return jnp.tanh(u), sum_last(log_normal - log_det)
