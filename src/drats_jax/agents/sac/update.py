"""Multi-task SAC: state pytree, acting and one gradient step.

The agent appends one_hot(task_id, N) to the env observation (the env obs does not
carry it). One gradient step = critic step, then actor and per-task temperature steps
(using the freshly updated critics), then a Polyak update of the target critics.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from drats_jax.agents.common import adam, gradient_step, mean, task_conditioned
from drats_jax.agents.sac import losses
from drats_jax.agents.sac.networks import Actor, TwinCritic, tanh_gaussian_sample
from drats_jax.buffer import Transition
from drats_jax.config import SACConfig
from drats_jax.mesh import DataAxis


@struct.dataclass
class SACState:
    """All learnable state. log_alpha: f32[N] (per-task log temperature)."""

    actor_params: dict
    critic_params: dict
    target_critic_params: dict
    log_alpha: jax.Array
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    alpha_opt: optax.OptState


class SAC(NamedTuple):
    """Static description of the agent (modules, optimizers, sizes); functions are pure."""

    config: SACConfig
    num_tasks: int
    obs_size: int
    action_size: int
    actor: nn.Module
    critic: nn.Module
    actor_tx: optax.GradientTransformation
    critic_tx: optax.GradientTransformation
    alpha_tx: optax.GradientTransformation
    target_entropy: float
    # Data-parallel: gradients of this device's batch/D rows are averaged over ``data``
    # before the optimiser (the identity on one device).
    data: DataAxis = DataAxis()

    def init(self, rng: jax.Array) -> SACState:
        k_actor, k_critic = jax.random.split(rng)
        x = jnp.zeros((1, self.obs_size + self.num_tasks), jnp.float32)
        a = jnp.zeros((1, self.action_size), jnp.float32)
        actor_params = self.actor.init(k_actor, x)
        critic_params = self.critic.init(k_critic, x, a)
        log_alpha = jnp.full((self.num_tasks,), jnp.log(self.config.initial_temperature), jnp.float32)
        return SACState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=critic_params,
            log_alpha=log_alpha,
            actor_opt=self.actor_tx.init(actor_params),
            critic_opt=self.critic_tx.init(critic_params),
            alpha_opt=self.alpha_tx.init(log_alpha),
        )

    def act(self, state: SACState, obs: jax.Array, task_id: jax.Array, rng: jax.Array,
            deterministic: bool = False) -> jax.Array:
        """obs f32[B, O], task_id i32[B] -> action f32[B, A] in (-1, 1)."""
        mu, log_std = self.actor.apply(state.actor_params, task_conditioned(obs, task_id, self.num_tasks))
        if deterministic:
            return jnp.tanh(mu)
        action, _ = tanh_gaussian_sample(rng, mu, log_std)
        return action

    def update(self, state: SACState, batch: Transition, rng: jax.Array):
        """One gradient step on a batch. Returns (state, metrics dict of f32[])."""
        cfg = self.config
        k_critic, k_actor = jax.random.split(rng)
        x = task_conditioned(batch.obs, batch.task_id, self.num_tasks)
        next_x = task_conditioned(batch.next_obs, batch.task_id, self.num_tasks)

        (_, c_info), critic_params, critic_opt = gradient_step(
            losses.critic_loss, self.critic_tx, state.critic_params, state.critic_opt, self.data,
            critic=self.critic, actor=self.actor, actor_params=state.actor_params,
            target_params=state.target_critic_params, log_alpha=state.log_alpha, batch=batch, x=x,
            next_x=next_x, gamma=cfg.gamma, rng=k_critic)
        (a_loss, logp), actor_params, actor_opt = gradient_step(
            losses.actor_loss, self.actor_tx, state.actor_params, state.actor_opt, self.data,
            actor=self.actor, critic=self.critic, critic_params=critic_params, log_alpha=state.log_alpha,
            batch=batch, x=x, rng=k_actor)
        t_loss, log_alpha, alpha_opt = gradient_step(
            losses.alpha_loss, self.alpha_tx, state.log_alpha, state.alpha_opt, self.data, has_aux=False,
            task_id=batch.task_id, logp=logp, target_entropy=self.target_entropy)

        target = optax.incremental_update(critic_params, state.target_critic_params, cfg.tau)
        new = SACState(actor_params=actor_params, critic_params=critic_params, target_critic_params=target,
                       log_alpha=log_alpha, actor_opt=actor_opt, critic_opt=critic_opt, alpha_opt=alpha_opt)
        metrics = {
            "critic_loss": c_info["critic_loss"],
            "q_mean": c_info["q_mean"],
            "actor_loss": a_loss,
            "alpha_loss": t_loss,
            "entropy": -mean(logp),
            "alpha_mean": mean(jnp.exp(log_alpha)),
        }
        return new, metrics


def make_sac(config: SACConfig, num_tasks: int, obs_size: int, action_size: int, data: DataAxis = DataAxis()) -> SAC:
    actor = Actor(action_size=action_size, width=config.hidden_width, depth=config.hidden_depth,
                  layer_norm=config.layer_norm, log_std_min=config.log_std_min, log_std_max=config.log_std_max,
                  init_scheme=config.init_scheme)
    critic = TwinCritic(width=config.hidden_width, depth=config.hidden_depth, layer_norm=config.layer_norm,
                        init_scheme=config.init_scheme)
    target_entropy = -float(action_size) if config.target_entropy is None else float(config.target_entropy)
    return SAC(
        config=config, num_tasks=num_tasks, obs_size=obs_size, action_size=action_size,
        actor=actor, critic=critic,
        actor_tx=adam(config.actor_lr, config.adam_eps, config.max_grad_norm),
        critic_tx=adam(config.critic_lr, config.adam_eps, config.max_grad_norm),
        # The reference MTSAC leaves the temperature optimiser unclipped.
        alpha_tx=adam(config.alpha_lr, config.adam_eps, None),
        target_entropy=target_entropy, data=data,
    )
