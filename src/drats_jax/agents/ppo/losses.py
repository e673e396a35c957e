"""PPO advantages and losses. T = rollout length (vector steps), E = env slots, B = batch.

GAE with time-limit bootstrapping, on [T, E] arrays of a rollout:
    delta_t = r_t + gamma (1 - terminal_t) V(next_obs_t) - V(obs_t)
    A_t     = delta_t + gamma lambda (1 - done_t) A_{t+1},   done = terminal | truncation
    returns = A + V(obs)
next_obs_t is the true next observation (before the autoreset), so a truncated episode
bootstraps from its final observation and a true terminal does not bootstrap; done stops
the recursion at every episode end. The rollout's last step bootstraps from V(next_obs)
like any other (A_T = 0).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


from drats_jax.agents.ppo.networks import gaussian_entropy, gaussian_log_prob
from drats_jax.mesh import DataAxis

NORM_EPS = 1e-8


def gae(reward, value, next_value, terminal, truncation, gamma: float, lam: float):
    """All f32/bool[T, E] -> (advantages f32[T, E], returns f32[T, E])."""
    terminal = terminal.astype(jnp.float32)
    not_done = 1.0 - (terminal.astype(bool) | truncation.astype(bool)).astype(jnp.float32)
    delta = reward + gamma * (1.0 - terminal) * next_value - value

    def back(a_next, x):
        delta_t, not_done_t = x
        a = delta_t + gamma * lam * not_done_t * a_next
        return a, a

    _, adv = lax.scan(back, jnp.zeros_like(delta[0]), (delta, not_done), reverse=True)
    return adv, adv + value


def normalize_advantages(adv: jax.Array, task_id: jax.Array, num_tasks: int, mode: str,
                         data: DataAxis = DataAxis()) -> jax.Array:
    """Normalised advantages (any shape; task_id the same shape).

    per_task: (A - mean_task) / (std_task + 1e-8) with each task's mean and (population) std
    over the given advantages (a task with one sample gets 0); batch: the same over all of
    them; none: unchanged. ``data``: the advantages are this device's share of a batch split
    over data; means and stds are those of the global batch (psum'd sums and counts).
    """
    if mode == "none":
        return adv
    if mode == "batch":
        if data.size == 1:
            return (adv - jnp.mean(adv)) / (jnp.std(adv) + NORM_EPS)
        count = data.sum(jnp.asarray(adv.size, jnp.float32))
        centred = adv - data.sum(jnp.sum(adv)) / count
        return centred / (jnp.sqrt(data.sum(jnp.sum(centred**2)) / count) + NORM_EPS)
    if mode != "per_task":
        raise ValueError(f"unknown advantage normalisation {mode!r}")
    flat, task = adv.reshape(-1), task_id.reshape(-1)
    seg = lambda x: data.sum(jax.ops.segment_sum(x, task, num_segments=num_tasks))  # noqa: E731
    count = jnp.maximum(seg(jnp.ones_like(flat)), 1.0)
    mean = seg(flat) / count
    centred = flat - mean[task]
    std = jnp.sqrt(seg(centred**2) / count)  # two passes: no cancellation
    return (centred / (std[task] + NORM_EPS)).reshape(adv.shape)


def clipped_surrogate(log_prob, old_log_prob, advantage, clip_eps: float):
    """PPO's clipped policy loss over B samples -> (loss, info).

    loss = -mean(min(ratio A, clip(ratio, 1 - eps, 1 + eps) A)), ratio = exp(log_prob - old);
    info: approx_kl = mean((ratio - 1) - log ratio) (KL(old || new) estimate, >= 0) and
    clip_frac = share of samples with |ratio - 1| > eps.
    """
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    surrogate = jnp.minimum(ratio * advantage, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantage)
    info = {"approx_kl": jnp.mean((ratio - 1.0) - log_ratio),
            "clip_frac": jnp.mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32))}
    return -jnp.mean(surrogate), info


def actor_loss(actor_params, *, actor, batch, advantage, clip_eps: float, entropy_coef: float):
    """Clipped surrogate - entropy_coef x mean Gaussian entropy; returns (loss, info)."""
    mean, log_std = actor.apply(actor_params, batch.obs, batch.task_id)
    log_prob = gaussian_log_prob(mean, log_std, batch.action)
    policy_loss, info = clipped_surrogate(log_prob, batch.log_prob, advantage, clip_eps)
    entropy = jnp.mean(gaussian_entropy(log_std))
    return policy_loss - entropy_coef * entropy, {**info, "policy_loss": policy_loss, "entropy": entropy}


def critic_loss(critic_params, *, critic, batch, value_coef: float):
    """value_coef x 0.5 mean (V - returns)^2; returns (loss, info with the unweighted value_loss)."""
    value = critic.apply(critic_params, batch.obs, batch.task_id)
    value_loss = 0.5 * jnp.mean((value - batch.returns) ** 2)
    return value_coef * value_loss, {"value_loss": value_loss}
