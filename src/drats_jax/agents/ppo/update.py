"""Multi-task PPO: state pytree, acting, and the update on one rollout.

The update runs ``num_epochs`` passes over the rollout's T x E transitions, each a fresh
on-device permutation cut into ``num_minibatches`` minibatches of (T x E) // num_minibatches
transitions (the remainder is dropped); every minibatch is one Adam step of the actor
(clipped surrogate + entropy bonus) and one of the critic (value loss), each network with
its own optimiser and global-norm clip.

Advantages are normalised once over the rollout (``advantage_norm="per_task"``) or inside
every minibatch (``"per_task_minibatch"``, the DRATS authors', and ``"batch"``).

Target-KL early stop: once a minibatch's approx. KL, measured before its step (with the
parameters the step starts from), exceeds ``target_kl x kl_stop_factor``, no later
minibatch or epoch of the rollout steps; that minibatch's own step is discarded, or kept
with ``kl_stop_keeps_step`` (the authors' rule, with factor 1.5). The stop is a select on a
carried flag (no Python control flow), so the update jits and vmaps over seeds.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct
from jax import lax

from drats_jax.agents.ppo import losses
from drats_jax.agents.ppo.networks import Actor, Critic, gaussian_sample
from drats_jax.agents.common import adam, gradient_step, pairwise_sum
from drats_jax.config import PPOConfig
from drats_jax.mesh import DataAxis


@struct.dataclass
class PPOState:
    """All learnable state."""

    actor_params: dict
    critic_params: dict
    actor_opt: optax.OptState
    critic_opt: optax.OptState


@struct.dataclass
class Batch:
    """B rollout transitions prepared for the update. action: the raw (unclipped) Gaussian
    sample; log_prob: its log-prob under the rollout's policy; advantage: GAE advantages
    (not normalised); returns: advantage + V(obs)."""

    obs: jax.Array
    task_id: jax.Array
    action: jax.Array
    log_prob: jax.Array
    advantage: jax.Array
    returns: jax.Array


# Per-rollout metrics of the update, averaged over the minibatches it evaluated.
LOSS_KEYS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac")


class PPO(NamedTuple):
    """Static description of the agent (modules, optimisers, sizes); functions are pure."""

    config: PPOConfig
    num_tasks: int
    obs_size: int
    action_size: int
    actor: nn.Module
    critic: nn.Module
    actor_tx: optax.GradientTransformation
    critic_tx: optax.GradientTransformation
    # Data-parallel: each device holds B/D transitions of the rollout; advantages are
    # normalised over the global batch, gradients and metrics averaged over data.
    data: DataAxis = DataAxis()

    def init(self, rng: jax.Array) -> PPOState:
        k_actor, k_critic = jax.random.split(rng)
        obs = jnp.zeros((1, self.obs_size), jnp.float32)
        task = jnp.zeros((1,), jnp.int32)
        actor_params = self.actor.init(k_actor, obs, task)
        critic_params = self.critic.init(k_critic, obs, task)
        return PPOState(actor_params=actor_params, critic_params=critic_params,
                        actor_opt=self.actor_tx.init(actor_params), critic_opt=self.critic_tx.init(critic_params))

    def sample(self, state: PPOState, obs: jax.Array, task_id: jax.Array, rng: jax.Array):
        """Rollout policy: (raw Gaussian sample u f32[B, A], log p(u) f32[B]); the env gets
        clip(u, -1, 1)."""
        mean, log_std = self.actor.apply(state.actor_params, obs, task_id)
        return gaussian_sample(rng, mean, log_std)

    def act(self, state: PPOState, obs: jax.Array, task_id: jax.Array, rng: jax.Array,
            deterministic: bool = False) -> jax.Array:
        """obs f32[B, O], task_id i32[B] -> env action f32[B, A] in [-1, 1]: clip(sample) or,
        deterministic, clip(mean)."""
        if deterministic:
            mean, _ = self.actor.apply(state.actor_params, obs, task_id)
            return jnp.clip(mean, -1.0, 1.0)
        return jnp.clip(self.sample(state, obs, task_id, rng)[0], -1.0, 1.0)

    def value(self, state: PPOState, obs: jax.Array, task_id: jax.Array) -> jax.Array:
        """V(obs, task) f32[...] for obs f32[..., O]."""
        return self.critic.apply(state.critic_params, obs, task_id)

    def minibatch_step(self, state: PPOState, mb: Batch):
        """One Adam step of each network on a minibatch -> (new state, info of f32[]);
        info["approx_kl"] is measured with the parameters before the step."""
        cfg = self.config
        adv = mb.advantage
        if cfg.advantage_norm in ("batch", "per_task_minibatch"):  # per_task: once over the rollout (update)
            adv = losses.normalize_advantages(adv, mb.task_id, self.num_tasks, cfg.advantage_norm, self.data)
        (_, a_info), actor_params, actor_opt = gradient_step(
            losses.actor_loss, self.actor_tx, state.actor_params, state.actor_opt, self.data,
            actor=self.actor, batch=mb, advantage=adv, clip_eps=cfg.clip_eps, entropy_coef=cfg.entropy_coef)
        (_, c_info), critic_params, critic_opt = gradient_step(
            losses.critic_loss, self.critic_tx, state.critic_params, state.critic_opt, self.data,
            critic=self.critic, batch=mb, value_coef=cfg.value_coef)
        new = PPOState(actor_params=actor_params, critic_params=critic_params, actor_opt=actor_opt,
                       critic_opt=critic_opt)
        info = {**a_info, **c_info}
        # Averaged over data: the target-KL stop below must be the same decision on every device.
        return new, self.data.mean({k: info[k] for k in LOSS_KEYS})

    def update(self, state: PPOState, batch: Batch, rng: jax.Array):
        """The epochs over one rollout's B = T x E transitions (module docstring).

        Returns (state, metrics): the LOSS_KEYS averaged over the minibatches evaluated (every
        one until and including the one that stopped the rollout), updates (i32[], steps kept)
        and kl_stopped (bool[])."""
        cfg = self.config
        if cfg.advantage_norm == "per_task":
            batch = batch.replace(advantage=losses.normalize_advantages(
                batch.advantage, batch.task_id, self.num_tasks, "per_task", self.data))
        b = batch.obs.shape[0]
        m = cfg.num_minibatches
        size = b // m

        def minibatch(carry, idx):
            state, stopped = carry
            new, info = self.minibatch_step(state, jax.tree.map(lambda x: x[idx], batch))
            exceeded = (jnp.zeros((), bool) if cfg.target_kl is None
                        else info["approx_kl"] > cfg.target_kl * cfg.kl_stop_factor)
            discard = stopped | (exceeded & (not cfg.kl_stop_keeps_step))
            state = jax.tree.map(lambda old, upd: jnp.where(discard, old, upd), state, new)
            return (state, stopped | exceeded), (info, ~stopped, ~discard)

        def epoch(carry, key):
            key = self.data.fold(key)  # each device shuffles its own share
            perm = jax.random.permutation(key, b)[: m * size].reshape(m, size)
            return lax.scan(minibatch, carry, perm)

        (state, stopped), (info, evaluated, stepped) = lax.scan(
            epoch, (state, jnp.zeros((), bool)), jax.random.split(rng, cfg.num_epochs))
        count = jnp.sum(evaluated)  # [epochs, minibatches]; the first is always evaluated
        # Times the reciprocal: XLA rewrites a division by a (constant-folded) count in some programs only.
        metrics = {k: pairwise_sum(jnp.where(evaluated, v, 0.0).reshape(-1)) * (1.0 / count) for k, v in info.items()}
        metrics.update(updates=jnp.sum(stepped.astype(jnp.int32)), kl_stopped=stopped)
        return state, metrics


def make_ppo(config: PPOConfig, num_tasks: int, obs_size: int, action_size: int, data: DataAxis = DataAxis()) -> PPO:
    actor = Actor(action_size=action_size, num_tasks=num_tasks, width=config.hidden_width, depth=config.hidden_depth,
                  multi_head=config.multi_head, log_std_min=config.log_std_min, log_std_max=config.log_std_max,
                  init_scheme=config.init_scheme)
    critic = Critic(num_tasks=num_tasks, width=config.hidden_width, depth=config.hidden_depth,
                    multi_head=config.multi_head, init_scheme=config.init_scheme)
    return PPO(config=config, num_tasks=num_tasks, obs_size=obs_size, action_size=action_size, actor=actor,
               critic=critic, actor_tx=adam(config.lr, config.adam_eps, config.max_grad_norm),
               critic_tx=adam(config.lr, config.adam_eps, config.max_grad_norm), data=data)
