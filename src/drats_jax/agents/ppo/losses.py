"""PPO advantages and losses. T = rollout length (vector steps), E = env slots, B = batch.

GAE with time-limit bootstrapping, on [T, E] arrays of a rollout:
    delta_t = r_t + gamma (1 - cut_t) V(next_obs_t) - V(obs_t)
    A_t     = delta_t + gamma lambda (1 - done_t) A_{t+1},   done = terminal | truncation
    returns = A + V(obs)
next_obs_t is the true next observation (before the autoreset). ``cut`` says where the
return ends without a bootstrap: ``bootstrap_truncation="always"`` (textbook) cuts only at
true terminals, so every truncated episode bootstraps from its final observation;
``"rollout_end"`` (the DRATS authors' PPO) also cuts at every truncation except at the
rollout's last step, which bootstraps from V(next_obs) unless terminal. done stops the
recursion at every episode end (A_T = 0).

Means and per-task sums over a batch are pairwise sums (:func:`drats_jax.agents.common.pairwise_sum`),
so they do not depend on how many seeds are vmapped.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


from drats_jax.agents.common import mean, pairwise_sum
from drats_jax.agents.ppo.networks import gaussian_entropy, gaussian_log_prob
from drats_jax.mesh import DataAxis

NORM_EPS = 1e-8
# The authors' per-task minibatch normalisation: std + 1e-3, and counts + 1e-3 in the means.
MINIBATCH_NORM_EPS = 1e-3


def gae(reward, value, next_value, terminal, truncation, gamma: float, lam: float,
        bootstrap_truncation: str = "always"):
    """All f32/bool[T, E] -> (advantages f32[T, E], returns f32[T, E]) (module docstring)."""
    terminal, truncation = terminal.astype(bool), truncation.astype(bool)
    if bootstrap_truncation == "rollout_end":
        cut = terminal | truncation.at[-1].set(False)
    elif bootstrap_truncation == "always":
        cut = terminal
    else:
        raise ValueError(f"unknown bootstrap_truncation {bootstrap_truncation!r}")
    not_done = 1.0 - (terminal | truncation).astype(jnp.float32)
    delta = reward + gamma * (1.0 - cut.astype(jnp.float32)) * next_value - value

    def back(a_next, x):
        delta_t, not_done_t = x
        a = delta_t + gamma * lam * not_done_t * a_next
        return a, a

    _, adv = lax.scan(back, jnp.zeros_like(delta[0]), (delta, not_done), reverse=True)
    return adv, adv + value


def normalize_advantages(adv: jax.Array, task_id: jax.Array, num_tasks: int, mode: str,
                         data: DataAxis = DataAxis()) -> jax.Array:
    """Normalised advantages adv f32[...] (task_id i32 of the same shape).

    per_task: (A - mean_task) / (std_task + 1e-8), each task's mean and (population) std over
    the given advantages (a task with one sample gets 0). per_task_minibatch: the DRATS
    authors' rule, meant for one minibatch: with c, s1, s2 a task's count, sum and sum of
    squares, mean = s1 / (c + 1e-3), std = sqrt(max(s2 / (c + 1e-3) - mean^2, 0)) + 1e-3.
    batch: (A - mean) / (std + 1e-8) over all of them. none: unchanged. ``data``: the
    advantages are this device's share of a batch split over data; the statistics are those
    of the global batch.
    """
    if mode == "none":
        return adv
    if mode == "batch":
        count = data.sum(jnp.asarray(adv.size, jnp.float32))
        centred = adv - data.sum(pairwise_sum(adv.reshape(-1))) / count
        return centred / (jnp.sqrt(data.sum(pairwise_sum(centred.reshape(-1) ** 2)) / count) + NORM_EPS)
    if mode not in ("per_task", "per_task_minibatch"):
        raise ValueError(f"unknown advantage normalisation {mode!r}")
    shape, adv, task_id = adv.shape, adv.reshape(-1), task_id.reshape(-1)
    one_hot = jax.nn.one_hot(task_id, num_tasks, dtype=adv.dtype)  # [B, N]: per-task sums without a scatter
    seg = lambda x: data.sum(pairwise_sum(one_hot * x[:, None]))  # noqa: E731
    count = seg(jnp.ones_like(adv))
    if mode == "per_task_minibatch":
        mu = seg(adv) / (count + MINIBATCH_NORM_EPS)
        var = seg(adv**2) / (count + MINIBATCH_NORM_EPS) - mu**2
        std = jnp.sqrt(jnp.maximum(var, 0.0)) + MINIBATCH_NORM_EPS
        return ((adv - mu[task_id]) / std[task_id]).reshape(shape)
    count = jnp.maximum(count, 1.0)
    centred = adv - (seg(adv) / count)[task_id]
    std = jnp.sqrt(seg(centred**2) / count)  # two passes: no cancellation
    return (centred / (std[task_id] + NORM_EPS)).reshape(shape)


def clipped_surrogate(log_prob, old_log_prob, advantage, clip_eps: float):
    """PPO's clipped policy loss over B samples -> (loss, info).

    loss = -mean(min(ratio A, clip(ratio, 1 - eps, 1 + eps) A)), ratio = exp(log_prob - old);
    info: approx_kl = mean((ratio - 1) - log ratio) (KL(old || new) estimate, >= 0) and
    clip_frac = share of samples with |ratio - 1| > eps.
    """
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    surrogate = jnp.minimum(ratio * advantage, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantage)
    info = {"approx_kl": mean((ratio - 1.0) - log_ratio),
            "clip_frac": mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32))}
    return -mean(surrogate), info


def actor_loss(actor_params, *, actor, batch, advantage, clip_eps: float, entropy_coef: float):
    """Clipped surrogate - entropy_coef x mean Gaussian entropy; returns (loss, info)."""
    mu, log_std = actor.apply(actor_params, batch.obs, batch.task_id)
    log_prob = gaussian_log_prob(mu, log_std, batch.action)
    policy_loss, info = clipped_surrogate(log_prob, batch.log_prob, advantage, clip_eps)
    entropy = mean(gaussian_entropy(log_std))
    return policy_loss - entropy_coef * entropy, {**info, "policy_loss": policy_loss, "entropy": entropy}


def critic_loss(critic_params, *, critic, batch, value_coef: float):
    """value_coef x 0.5 mean (V - returns)^2; returns (loss, info with the unweighted value_loss)."""
    value = critic.apply(critic_params, batch.obs, batch.task_id)
    value_loss = 0.5 * mean((value - batch.returns) ** 2)
    return value_coef * value_loss, {"value_loss": value_loss}
