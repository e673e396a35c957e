"""MetaWorld's reward building blocks in JAX, written once and shared by every task.

All inputs are f32 arrays; positions in metres. Mirrors the semantics of metaworld's
`reward_utils` and `SawyerXYZEnv._gripper_caging_reward` (v2 rewards).
"""

from __future__ import annotations

import jax.numpy as jnp

_VALUE_AT_MARGIN = 0.1


def _sigmoid(x, value_at_1: float, kind: str):
    if kind == "long_tail":
        scale = jnp.sqrt(1.0 / value_at_1 - 1.0)
        return 1.0 / ((x * scale) ** 2 + 1.0)
    if kind == "gaussian":
        scale = jnp.sqrt(-2.0 * jnp.log(value_at_1))
        return jnp.exp(-0.5 * (x * scale) ** 2)
    if kind == "hyperbolic":
        scale = jnp.arccosh(1.0 / value_at_1)
        return 1.0 / jnp.cosh(x * scale)
    if kind == "reciprocal":
        scale = 1.0 / value_at_1 - 1.0
        return 1.0 / (jnp.abs(x) * scale + 1.0)
    if kind == "cosine":
        scaled = x * (jnp.arccos(2.0 * value_at_1 - 1.0) / jnp.pi)
        return jnp.where(jnp.abs(scaled) < 1, (1 + jnp.cos(jnp.pi * scaled)) / 2, 0.0)
    if kind == "linear":
        scaled = x * (1.0 - value_at_1)
        return jnp.where(jnp.abs(scaled) < 1, 1 - scaled, 0.0)
    if kind == "quadratic":
        scaled = x * jnp.sqrt(1.0 - value_at_1)
        return jnp.where(jnp.abs(scaled) < 1, 1 - scaled**2, 0.0)
    if kind == "tanh_squared":
        scale = jnp.arctanh(jnp.sqrt(1.0 - value_at_1))
        return 1 - jnp.tanh(x * scale) ** 2
    raise ValueError(f"unknown sigmoid {kind!r}")


def tolerance(x, bounds=(0.0, 0.0), margin=0.0, sigmoid="gaussian", value_at_margin=_VALUE_AT_MARGIN):
    """1 inside [lower, upper]; outside, a sigmoid of the distance to the bound over `margin`.

    `margin` may be traced; margin == 0 gives a hard 0/1 step, as in metaworld.
    """
    lower, upper = bounds
    in_bounds = (lower <= x) & (x <= upper)
    dist = jnp.where(x < lower, lower - x, x - upper)
    safe_margin = jnp.where(margin == 0, 1.0, margin)
    soft = _sigmoid(dist / safe_margin, value_at_margin, sigmoid)
    return jnp.where(in_bounds, 1.0, jnp.where(margin == 0, 0.0, soft))



def hamacher_product(a, b):
    """a*b / (a + b - a*b), 0 when both are 0."""
    denom = a + b - a * b
    return jnp.where(denom > 0, a * b / jnp.where(denom > 0, denom, 1.0), 0.0)


def rect_prism_tolerance(curr, zero, one):
    """1 at `one`, 0 at `zero`, linear in between per axis; 1 inside the prism's far half."""
    in_range = lambda a, b, c: jnp.where(c >= b, (b <= a) & (a <= c), (c <= a) & (a <= b))
    inside = in_range(curr[0], zero[0], one[0]) & in_range(curr[1], zero[1], one[1]) & in_range(
        curr[2], zero[2], one[2]
    )
    diff = one - zero
    scaled = (curr - zero) / diff
    return jnp.where(inside, jnp.prod(scaled), 1.0)


def norm(x):
    return jnp.sqrt(jnp.sum(x * x, axis=-1))


def tcp_center(r):
    """Midpoint of the two finger-pad end-effector sites."""
    return (r["right_ee"] + r["left_ee"]) / 2.0


def gripper_caging_reward(
    r,
    action,
    obj_pos,
    obj_init_pos,
    init_tcp,
    *,
    obj_radius: float,
    pad_success_thresh: float,
    object_reach_radius: float,
    xz_thresh: float,
    desired_gripper_effort: float = 1.0,
    high_density: bool = False,
    medium_density: bool = False,
):
    """metaworld's `_gripper_caging_reward`: pads straddle the object in y, tcp near it in x-z,
    gripper closing once caged. r: readings with leftpad/rightpad/right_ee/left_ee."""
    if high_density and medium_density:
        raise ValueError("Can only be either high_density or medium_density")
    pad_y = jnp.stack([r["leftpad"][1], r["rightpad"][1]])
    pad_to_obj = jnp.abs(pad_y - obj_pos[1])
    pad_to_obj_init = jnp.abs(pad_y - obj_init_pos[1])
    margin_lr = jnp.abs(pad_to_obj_init - pad_success_thresh)
    caging_l = tolerance(pad_to_obj[0], (obj_radius, pad_success_thresh), margin_lr[0], "long_tail")
    caging_r = tolerance(pad_to_obj[1], (obj_radius, pad_success_thresh), margin_lr[1], "long_tail")
    caging_y = hamacher_product(caging_l, caging_r)

    tcp = tcp_center(r)
    xz = jnp.array([0, 2])
    xz_margin = norm(obj_init_pos[xz] - init_tcp[xz]) - xz_thresh
    caging_xz = tolerance(norm(tcp[xz] - obj_pos[xz]), (0.0, xz_thresh), xz_margin, "long_tail")

    gripper_closed = jnp.minimum(jnp.maximum(0.0, action[-1]), desired_gripper_effort) / desired_gripper_effort
    caging = hamacher_product(caging_y, caging_xz)
    gripping = jnp.where(caging > 0.97, gripper_closed, 0.0)
    caging_and_gripping = hamacher_product(caging, gripping)
    if high_density:
        caging_and_gripping = (caging_and_gripping + caging) / 2
    if medium_density:
        tcp_to_obj = norm(obj_pos - tcp)
        tcp_to_obj_init = norm(obj_init_pos - init_tcp)
        reach_margin = jnp.abs(tcp_to_obj_init - object_reach_radius)
        reach = tolerance(tcp_to_obj, (0.0, object_reach_radius), reach_margin, "long_tail")
        caging_and_gripping = (caging_and_gripping + reach) / 2
    return caging_and_gripping


def _signed_pad_bands(r, obj, obj_radius, upper, pad_margin):
    """Each pad on its own side of obj in y, between obj_radius and `upper` from it (a pad on
    the wrong side scores nothing); margins from the pads' *current* positions."""
    left_y, right_y = r["leftpad"][1], r["rightpad"][1]
    band = lambda d, pad_y: tolerance(d, (obj_radius, upper), jnp.abs(jnp.abs(obj[1] - pad_y) - pad_margin), "long_tail")
    return hamacher_product(band(obj[1] - right_y, right_y), band(left_y - obj[1], left_y))


def signed_pad_caging(r, obj, obj_init, init_tcp, *, obj_radius, xz_thresh, pad_margin=0.05):
    """The caging term of the `_gripper_caging_reward` overrides of pick-place, push-back,
    soccer, sweep and sweep-into: signed pad-to-object y offsets, tcp near the object in x-z.

    Those envs' `init_left_pad` / `init_right_pad` are live views of `data.xpos`, so the pad
    margins use the pads' current positions (not their construction positions).
    """
    y_caging = _signed_pad_bands(r, obj, obj_radius, pad_margin, pad_margin)
    xz = jnp.array([0, 2])
    xz_margin = norm(obj_init[xz] - init_tcp[xz]) - xz_thresh
    xz_caging = tolerance(norm(tcp_center(r)[xz] - obj[xz]), (0.0, xz_thresh), xz_margin, "long_tail")
    return hamacher_product(y_caging, xz_caging)


def pad_gripping_reward(r, obj, obj_init, init_tcp, *, obj_radius, grip_extra, xz_thresh):
    """The `_gripper_caging_reward` override of push-back/soccer/sweep/sweep-into:
    (caging + gripping) / 2, gripping being a tighter pad band (obj_radius + grip_extra) once
    caged, instead of the gripper command."""
    caging = signed_pad_caging(r, obj, obj_init, init_tcp, obj_radius=obj_radius, xz_thresh=xz_thresh)
    y_gripping = _signed_pad_bands(r, obj, obj_radius, obj_radius + grip_extra, 0.05)
    gripping = jnp.where(caging > 0.95, y_gripping, 0.0)
    return (caging + gripping) / 2


def funnel_floor(radius, *, throat, slope, height):
    """The funnel-shaped "floor" several rewards keep the hand above: 0 within `throat` of
    the funnel's axis, `slope * log(radius - throat) + height` beyond."""
    outside = radius > throat
    return jnp.where(outside, slope * jnp.log(jnp.where(outside, radius - throat, 1.0)) + height, 0.0)


def above_floor(z, floor, margin):
    """1 at or above `floor`; below it, a long-tail tolerance of the depth (1 cm free) over `margin`."""
    return jnp.where(z >= floor, 1.0, tolerance(floor - z, (0.0, 0.01), margin, "long_tail"))


def mat_to_quat(xmat):
    """Rotation matrix (f32[9], row-major) -> quaternion (x, y, z, w), as scipy's
    `Rotation.from_matrix(m).as_quat()` returns it (same branch choice, same sign)."""
    m = xmat.reshape(3, 3)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    decision = jnp.stack([m[0, 0], m[1, 1], m[2, 2], trace])
    choice = jnp.argmax(decision)

    def from_diag(i):
        j, k = (i + 1) % 3, (i + 2) % 3
        q = jnp.zeros(4)
        q = q.at[i].set(1 - trace + 2 * m[i, i])
        q = q.at[j].set(m[j, i] + m[i, j])
        q = q.at[k].set(m[k, i] + m[i, k])
        return q.at[3].set(m[k, j] - m[j, k])

    from_trace = jnp.stack([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1], 1 + trace])
    q = jnp.select(
        [choice == 0, choice == 1, choice == 2], [from_diag(0), from_diag(1), from_diag(2)], from_trace
    )
    return q / norm(q)
