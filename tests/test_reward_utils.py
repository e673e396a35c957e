"""reward_utils against the references metaworld itself uses (scipy, its reward_utils)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from metaworld_jax import reward_utils as ru


def test_mat_to_quat_matches_scipy_branch_and_sign():
    rng = np.random.default_rng(0)
    mats = Rotation.random(200, random_state=rng).as_matrix()
    # plus the branch edges: identity and half turns about each axis
    mats = np.concatenate([mats, np.eye(3)[None], Rotation.from_rotvec(np.pi * np.eye(3)).as_matrix()])
    for m in mats:
        ours = np.asarray(ru.mat_to_quat(m.reshape(-1).astype(np.float32)))
        np.testing.assert_allclose(ours, Rotation.from_matrix(m).as_quat(), atol=2e-6)


@pytest.mark.parametrize("sigmoid", ["long_tail", "gaussian", "reciprocal", "linear", "quadratic", "cosine"])
def test_tolerance_matches_metaworld(sigmoid):
    from metaworld.utils import reward_utils as ref

    xs = np.linspace(-1.0, 2.0, 61)
    for margin in (0.0, 0.3):
        ours = np.asarray(ru.tolerance(xs.astype(np.float32), (0.2, 0.5), margin, sigmoid))
        want = np.array([ref.tolerance(float(x), bounds=(0.2, 0.5), margin=margin, sigmoid=sigmoid) for x in xs])
        np.testing.assert_allclose(ours, want, atol=1e-6)


def test_hamacher_product():
    a = np.array([0.0, 0.5, 1.0, 0.3], np.float32)
    b = np.array([0.0, 0.5, 0.2, 1.0], np.float32)
    np.testing.assert_allclose(ru.hamacher_product(a, b), np.where(a + b - a * b > 0, a * b / np.maximum(a + b - a * b, 1e-12), 0))
