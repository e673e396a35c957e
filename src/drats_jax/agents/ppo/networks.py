"""Flax (linen) networks of multi-task PPO.

Both networks see x = concat(obs, one_hot(task_id, N)). With ``multi_head`` the output
layer has N x out units and each input reads its task's slice (one head per task);
otherwise one head is shared. Initialisers (``init_scheme``) as SAC's
(:mod:`drats_jax.agents.common`); the default "reference": He-uniform hidden kernels, zero
biases, small uniform output layer (actor +-1e-3, critic +-3e-3), so the first policy is
N(~0, ~1) and the first values are ~0.

The policy is a plain diagonal Gaussian (no tanh squash): the raw sample u is what the
log-probs and ratios are computed on; the env gets clip(u, -1, 1).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from drats_jax.agents.common import (ACTOR_HEAD_SCALE, CRITIC_HEAD_SCALE, HALF_LOG_2PI, MLP, clip_log_std, sum_last,
                                     task_conditioned)


def select_head(h: jax.Array, task_id: jax.Array, num_heads: int) -> jax.Array:
    """h f32[..., num_heads * k], task_id i32[...] -> f32[..., k]: the task's slice (all
    of h when there is one head)."""
    if num_heads == 1:
        return h
    h = h.reshape(*h.shape[:-1], num_heads, h.shape[-1] // num_heads)
    return jnp.take_along_axis(h, task_id[..., None, None], axis=-2)[..., 0, :]


class Actor(nn.Module):
    """(obs f32[..., O], task_id i32[...]) -> (mean f32[..., A], log_std f32[..., A]);
    log_std clipped to [log_std_min, log_std_max]."""

    action_size: int
    num_tasks: int
    width: int
    depth: int
    multi_head: bool = True
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    init_scheme: str = "reference"

    @nn.compact
    def __call__(self, obs: jax.Array, task_id: jax.Array):
        heads = self.num_tasks if self.multi_head else 1
        x = task_conditioned(obs, task_id, self.num_tasks)
        h = MLP(self.width, self.depth, heads * 2 * self.action_size, head_scale=ACTOR_HEAD_SCALE,
                init_scheme=self.init_scheme)(x)
        mean, log_std = jnp.split(select_head(h, task_id, heads), 2, axis=-1)
        return mean, clip_log_std(log_std, self.log_std_min, self.log_std_max)


class Critic(nn.Module):
    """(obs f32[..., O], task_id i32[...]) -> V f32[...]."""

    num_tasks: int
    width: int
    depth: int
    multi_head: bool = True
    init_scheme: str = "reference"

    @nn.compact
    def __call__(self, obs: jax.Array, task_id: jax.Array) -> jax.Array:
        heads = self.num_tasks if self.multi_head else 1
        x = task_conditioned(obs, task_id, self.num_tasks)
        h = MLP(self.width, self.depth, heads, head_scale=CRITIC_HEAD_SCALE, init_scheme=self.init_scheme)(x)
        return select_head(h, task_id, heads)[..., 0]


def gaussian_sample(rng: jax.Array, mean: jax.Array, log_std: jax.Array):
    """u ~ N(mean, exp(log_std)^2) -> (u f32[..., A], log p(u) f32[...])."""
    u = mean + jnp.exp(log_std) * jax.random.normal(rng, mean.shape, mean.dtype)
    return u, gaussian_log_prob(mean, log_std, u)  # the same formula the update recomputes


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, u: jax.Array) -> jax.Array:
    """log N(u; mean, exp(log_std)^2), summed over the action axis."""
    z = (u - mean) * jnp.exp(-log_std)
    return sum_last(-0.5 * z**2 - log_std - HALF_LOG_2PI)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    """Analytic entropy of the diagonal Gaussian: sum_j (log_std_j + 0.5 log(2 pi e))."""
    return sum_last(log_std + HALF_LOG_2PI + 0.5)
