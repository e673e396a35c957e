"""SAC losses for one batch. B = batch size, A = action size, N = tasks.

Means over the batch are :func:`drats_jax.agents.common.mean` (a dot product), so the loss
values do not depend on how many seeds are vmapped.

Per-task temperature: alpha_b = exp(log_alpha[task_id_b]).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from drats_jax.agents.common import mean, pairwise_sum
from drats_jax.agents.sac.networks import tanh_gaussian_sample


def critic_loss(critic_params, *, critic, actor, actor_params, target_params, log_alpha, batch, x, next_x,
                gamma: float, rng):
    """Soft TD loss of both critics; returns (loss, info).

    Target y = r + gamma * (1 - terminal) * (min_k Q'_k(s', a') - alpha * log pi(a'|s')).
    Only ``terminal`` stops bootstrapping: a truncated episode still bootstraps.
    """
    mu, log_std = actor.apply(actor_params, next_x)
    next_a, next_logp = tanh_gaussian_sample(rng, mu, log_std)
    alpha = jnp.exp(log_alpha[batch.task_id])
    q_next = jnp.min(critic.apply(target_params, next_x, next_a), axis=0)
    not_terminal = 1.0 - batch.terminal.astype(jnp.float32)
    y = jax.lax.stop_gradient(batch.reward + gamma * not_terminal * (q_next - alpha * next_logp))
    q = critic.apply(critic_params, x, batch.action)  # [2, B]
    loss = 0.5 * mean(jnp.sum((q - y[None]) ** 2, axis=0))
    return loss, {"critic_loss": loss, "q_mean": mean(q)}


def actor_loss(actor_params, *, actor, critic, critic_params, log_alpha, batch, x, rng):
    """E[alpha * log pi(a|s) - min_k Q_k(s, a)], a ~ pi reparameterised; returns (loss, logp)."""
    mu, log_std = actor.apply(actor_params, x)
    a, logp = tanh_gaussian_sample(rng, mu, log_std)
    alpha = jax.lax.stop_gradient(jnp.exp(log_alpha[batch.task_id]))
    q = jnp.min(critic.apply(critic_params, x, a), axis=0)
    loss = mean(alpha * logp - q)
    return loss, logp


def alpha_loss(log_alpha, *, task_id, logp, target_entropy: float):
    """Per-task temperature loss E[-log_alpha[task] * (log pi + target_entropy)] over the B
    samples, written as -sum_n log_alpha[n] * c_n / B with c_n the sum over task n's samples
    (pairwise sums: a gather's gradient would be a scatter-add, whose order may depend on the
    number of vmapped seeds)."""
    c = jax.lax.stop_gradient(logp + target_entropy)
    per_task = pairwise_sum(jax.nn.one_hot(task_id, log_alpha.shape[-1], dtype=c.dtype) * c[:, None])
    return -pairwise_sum(log_alpha * per_task) / c.shape[0]
