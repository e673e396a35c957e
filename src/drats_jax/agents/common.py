"""Pieces every learner's networks and optimisers share: initialisers, the MLP, pairwise
(seed-count independent) sums, the diagonal Gaussian's constants and log-std clip, Adam with a
global-norm clip, and :func:`gradient_step`, the one optimiser step of every network.

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
from jax import lax

ACTOR_HEAD_SCALE = 1e-3
CRITIC_HEAD_SCALE = 3e-3
HALF_LOG_2PI = 0.9189385332046727  # 0.5 log(2 pi): the log-density of N(0, 1) at 0 is -HALF_LOG_2PI


def uniform_init(scale: float):
    """U(-scale, scale) initialiser."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


def pairwise_sum(x: jax.Array) -> jax.Array:
    """Sum of x[M, ...] over its leading axis in a fixed pairwise order: zero-pad M to a
    power of two, then halve (x[:h] + x[h:]) until one row is left. f32[...].

    Why not ``jnp.sum``: XLA on CPU compiles a reduce over the batch axis of a seed-vmapped
    [S, M, F] array with a summation order that depends on S (measured: the bias gradient
    of a 256-wide hidden layer after one SAC step differs in the last bits between 4 and 2
    vmapped seeds; a dot with a ones vector is rewritten into the same kind of reduce).
    Elementwise adds have one order whatever S is, so seed s of a run with k seeds per
    device is bit for bit seed s of the one-device run (tests/test_mesh.py). The cost is
    about one extra pass over x.
    """
    m = x.shape[0]
    size = 1 << max(m - 1, 0).bit_length()
    if size != m:
        x = jnp.concatenate([x, jnp.zeros((size - m,) + x.shape[1:], x.dtype)])
    while x.shape[0] > 1:
        half = x.shape[0] // 2
        x = x[:half] + x[half:]
    return x[0]


def sum_last(x: jax.Array) -> jax.Array:
    """Sum over the last axis by :func:`pairwise_sum` (e.g. a log-prob over action dims). f32[...]."""
    return pairwise_sum(jnp.moveaxis(x, -1, 0))


def mean(x: jax.Array) -> jax.Array:
    """Mean of all elements of ``x`` (f32[]): :func:`pairwise_sum` times 1 / x.size. A
    multiplication, not a division: XLA rewrites a division by a constant into one in some
    programs only (see :func:`scale_by_adam`)."""
    return pairwise_sum(x.reshape(-1)) * (1.0 / x.size)


@jax.custom_vjp
def add_bias(y: jax.Array, bias: jax.Array) -> jax.Array:
    """y f32[..., F] + bias f32[F], whose bias gradient sums over the rows by
    :func:`pairwise_sum` (autodiff would emit a reduce; see there why not)."""
    return y + bias


def _add_bias_fwd(y, bias):
    return y + bias, None


def _add_bias_bwd(_, g):
    return g, pairwise_sum(g.reshape(-1, g.shape[-1]))


add_bias.defvjp(_add_bias_fwd, _add_bias_bwd)


class Dense(nn.Module):
    """flax's ``nn.Dense`` (same parameters, initialisers and forward values), with the bias
    added by :func:`add_bias` so its gradient does not depend on how many seeds are vmapped."""

    features: int
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    bias_init: nn.initializers.Initializer = nn.initializers.zeros

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features))
        bias = self.param("bias", self.bias_init, (self.features,))
        y = lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())))
        return add_bias(y, bias)


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
            x = Dense(self.width, kernel_init=hidden, bias_init=nn.initializers.zeros)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = nn.relu(x)
        if not reference:
            return Dense(self.out)(x)
        head = uniform_init(self.head_scale)
        return Dense(self.out, kernel_init=head, bias_init=head)(x)


def clip_log_std(log_std: jax.Array, low: float, high: float) -> jax.Array:
    """A Gaussian policy head's log-std clipped to [low, high] (elementwise)."""
    return jnp.minimum(jnp.maximum(log_std, low), high)


def task_conditioned(obs: jax.Array, task_id: jax.Array, num_tasks: int) -> jax.Array:
    """concat(obs f32[B, O], one_hot(task_id i32[B], N)) -> f32[B, O + N]."""
    return jnp.concatenate([obs, jax.nn.one_hot(task_id, num_tasks, dtype=obs.dtype)], axis=-1)


def clip_by_global_norm(max_norm: float) -> optax.GradientTransformation:
    """Scales the gradients by min(1, max_norm / ||g||_2) (norm over all leaves).

    Same math as optax.clip_by_global_norm, written as one scalar factor times every
    leaf: optax's ``(t / norm) * max_norm`` is simplified by XLA differently when the
    norm is a vmapped [S] vector than when it is a scalar, which breaks bit-exact
    equality between a seed-vmapped run and single-seed runs on CPU (tested). The squares
    are summed by :func:`pairwise_sum` for the same reason.
    """

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        del params
        norm = jnp.sqrt(sum(pairwise_sum(jnp.square(t).reshape(-1)) for t in jax.tree.leaves(updates)))
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


def gradient_step(loss_fn, tx: optax.GradientTransformation, params, opt_state, data, *, has_aux: bool = True,
                  **loss_kwargs):
    """One optimiser step of one network (as Brax's ``gradient_update_fn``):
    loss -> gradient -> mean over ``data`` -> materialise -> ``tx.update`` -> apply.

    ``loss_fn(params, **loss_kwargs)`` returns the loss, or (loss, aux) with ``has_aux``;
    ``data``: the :class:`drats_jax.mesh.DataAxis` whose devices hold the batch (its mean is the
    identity on one device). Returns (loss_fn's output, new params, new optimiser state).

    The gradients go through ``lax.optimization_barrier`` before the optimiser reads them:
    without it XLA fuses gradient reductions (e.g. the matrix-vector product of a 1-unit output
    layer, rewritten as a reduce) into Adam's elementwise ops; those fusions are shaped
    differently once the trainer is vmapped over seeds and then sum in a different order. With
    the barrier a seed-vmapped run is bit-identical to single-seed runs on CPU (tested).
    """
    out, grads = jax.value_and_grad(loss_fn, has_aux=has_aux)(params, **loss_kwargs)
    grads = lax.optimization_barrier(data.mean(grads))
    updates, opt_state = tx.update(grads, opt_state, params)
    return out, optax.apply_updates(params, updates), opt_state
