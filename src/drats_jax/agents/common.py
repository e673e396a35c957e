"""Pieces every learner's networks and optimisers share.

Initialisers (``init_scheme``):
- ``"reference"`` (default) follows the reference MTSAC (rainx0r/metaworld-algorithms):
  He-uniform hidden kernels, zero biases, and a small uniform init of the output layer
  (actor +-1e-3, critic +-3e-3), so a first policy is a near-zero-mean Gaussian and first
  values are ~0.
- ``"lecun"`` is flax's ``nn.Dense`` default everywhere (LeCun-normal kernels, zero biases),
  as Stable-Baselines3-JAX (sbx) builds its SAC: for comparing implementations at one setting.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

ACTOR_HEAD_SCALE = 1e-3
CRITIC_HEAD_SCALE = 3e-3


def uniform_init(scale: float):
    """U(-scale, scale) initialiser."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


class MLP(nn.Module):
    """depth x (Dense(width) [-> LayerNorm] -> ReLU) -> Dense(out)."""

    width: int
    depth: int
    out: int
    layer_norm: bool = False
    head_scale: float = CRITIC_HEAD_SCALE
    init_scheme: str = "reference"  # "reference" or "lecun" (see the module docstring)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        reference = self.init_scheme == "reference"
        hidden = nn.initializers.he_uniform() if reference else nn.initializers.lecun_normal()
        for _ in range(self.depth):
            x = nn.Dense(self.width, kernel_init=hidden, bias_init=nn.initializers.zeros)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = nn.relu(x)
        if not reference:
            return nn.Dense(self.out)(x)
        head = uniform_init(self.head_scale)
        return nn.Dense(self.out, kernel_init=head, bias_init=head)(x)


def task_conditioned(obs: jax.Array, task_id: jax.Array, num_tasks: int) -> jax.Array:
    """concat(obs f32[B, O], one_hot(task_id i32[B], N)) -> f32[B, O + N]."""
    return jnp.concatenate([obs, jax.nn.one_hot(task_id, num_tasks, dtype=obs.dtype)], axis=-1)


def clip_by_global_norm(max_norm: float) -> optax.GradientTransformation:
    """Scales the gradients by min(1, max_norm / ||g||_2) (norm over all leaves).

    Same math as optax.clip_by_global_norm, written as one scalar factor times every
    leaf: optax's ``(t / norm) * max_norm`` is simplified by XLA differently when the
    norm is a vmapped [S] vector than when it is a scalar, which breaks bit-exact
    equality between a seed-vmapped run and single-seed runs on CPU (tested).
    """

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        del params
        norm = optax.tree.norm(updates)
        scale = jnp.where(norm > max_norm, max_norm / jnp.maximum(norm, 1e-30), 1.0)
        return jax.tree.map(lambda t: t * scale.astype(t.dtype), updates), state

    return optax.GradientTransformation(init, update)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """optax.scale_by_adam's math and state (``ScaleByAdamState``), bias correction as a product.

    optax divides each moment by its bias correction ``1 - b**t``, a per-run scalar. XLA on
    CPU rewrites that division into a multiplication by the reciprocal in some programs and
    not in others, depending on the shapes around it: seeds vmapped in one program, the same
    seeds split over devices by ``shard_map`` and single-seed runs then differ in the last
    bit of ~1 in 10 parameters after one step (measured). Multiplying by the reciprocal
    ourselves gives one rounding in every program, so those runs are bit-identical (tested).
    """

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return optax.ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=zeros, nu=zeros)

    def update(updates, state, params=None):
        del params
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = optax.safe_increment(state.count)
        inv_c1 = 1.0 / (1.0 - b1 ** count)
        inv_c2 = 1.0 / (1.0 - b2 ** count)
        out = jax.tree.map(lambda m, v: (m * inv_c1.astype(m.dtype)) / (jnp.sqrt(v * inv_c2.astype(v.dtype)) + eps),
                           mu, nu)
        return out, optax.ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init, update)


def adam(lr: float, eps: float, max_grad_norm: float | None) -> optax.GradientTransformation:
    """Adam (``optax.adam``'s state layout), after a global-norm clip unless ``max_grad_norm`` is None."""
    adam = optax.chain(scale_by_adam(eps=eps), optax.scale_by_learning_rate(lr))
    return adam if max_grad_norm is None else optax.chain(clip_by_global_norm(max_grad_norm), adam)
