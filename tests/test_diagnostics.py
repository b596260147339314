"""Diagnostics of a trained head (attnlib.dynamics.diagnostics): invariances and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attnlib
from attnlib.dynamics import diagnostics as dg
from attnlib.laws.routing import advantage
from attnlib.head.entropy import attention_entropy
from attnlib.head.training import LearningRates, train
from tests.strategies import heads

seeds = st.integers(0, 2**32 - 1)


def _distributions(rng, n, c, sharp=1.0):
    z = sharp * rng.standard_normal((n, c))  # (N, C)
    z[rng.random((n, c)) < 0.2] = -np.inf  # some exact zeros
    z[np.arange(n), rng.integers(0, c, n)] = 0.0  # at least one finite entry per row
    return attnlib.softmax(np.where(np.isinf(z), -1e300, z))  # (N, C)


@settings(max_examples=40, deadline=None)
@given(heads())
def test_entropy_and_routing_quantities_agree_with_the_head(head):
    params, X, y, causal = head
    cache = attnlib.forward(params, X, causal=causal)
    grads = attnlib.backward(params, cache, y)
    H = attention_entropy(cache.attn)  # (N,)
    assert H.shape == (X.shape[0],)
    recorded = train(params, X, y, LearningRates.sgd(), steps=1, causal=causal, record=("loss", "attn_entropy"))
    assert np.isclose(H.mean(), recorded.attn_entropy[0])
    n_allowed = cache.mask.sum(axis=1)  # (N,)
    assert np.all(H >= -1e-15) and np.all(H <= np.log(n_allowed) + 1e-12)
    assert np.allclose(dg.compatibility(grads.upstream, cache.values), grads.compat)
    A = advantage(cache.attn, grads.upstream, cache.values, mask=cache.mask)
    assert np.allclose(A, grads.advantage)


def test_attention_entropy_known_values_and_stacks():
    assert np.allclose(attention_entropy(attnlib.causal_mask(4) / np.arange(1, 5)[:, None]), np.log(np.arange(1, 5)))
    assert attention_entropy(np.eye(3)).tolist() == [0.0, 0.0, 0.0]
    assert attention_entropy(np.full((2, 3, 4), 0.25)).shape == (2, 3)


# --------------------------------------------------------------------------- PCA and effective dimension
@settings(max_examples=50, deadline=None)
@given(seeds, st.integers(2, 40), st.integers(1, 12))
def test_pca_ratios_sum_to_one_and_reconstruct(seed, n, d):
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((n, d)) * rng.uniform(0.1, 3.0, size=d) + rng.standard_normal(d)  # (N, d_v)
    pca = dg.value_pca(V)
    k = min(n, d)
    assert pca.components.shape == (k, d) and pca.scores.shape == (n, k) and pca.mean.shape == (d,)
    r = pca.explained_variance_ratio
    assert np.isclose(r.sum(), 1.0) and np.all(np.diff(r) <= 1e-12) and np.all(r >= 0)
    assert np.allclose(pca.components @ pca.components.T, np.eye(k), atol=1e-10)
    assert np.allclose(pca.scores @ pca.components + pca.mean, V, atol=1e-9)  # exact reconstruction
    assert np.allclose(pca.scores, (V - pca.mean) @ pca.components.T, atol=1e-9)
    assert 1 <= dg.effective_dimension(r) <= k
    big = np.abs(pca.components).argmax(axis=1)
    assert np.all(pca.components[np.arange(k), big] > 0)  # the sign convention


@settings(max_examples=50, deadline=None)
@given(seeds, st.integers(1, 6), st.integers(0, 6))
def test_effective_dimension_of_a_rank_r_cloud_is_r(seed, r, extra):
    rng = np.random.default_rng(seed)
    d, n = r + extra + 1, 60
    basis = np.linalg.qr(rng.standard_normal((d, r)))[0].T  # (r, d) orthonormal
    coords = rng.standard_normal((n, r)) * np.linspace(3.0, 1.0, r)  # (N, r)
    V = coords @ basis + rng.standard_normal(d)  # (N, d) a rank-r cloud, shifted
    ratios = dg.value_pca(V).explained_variance_ratio
    assert dg.effective_dimension(ratios, threshold=1.0) == r
    assert np.allclose(ratios[r:], 0.0, atol=1e-12)


def test_effective_dimension_threshold_edges():
    r = [0.6, 0.3, 0.05, 0.05]
    assert dg.effective_dimension(r) == 3  # 0.95 reached exactly at the third: >=, not >
    assert dg.effective_dimension(r, threshold=0.9) == 2
    assert dg.effective_dimension(r, threshold=0.6) == 1
    assert dg.effective_dimension(r, threshold=1.0) == 4
    assert dg.effective_dimension([1.0]) == 1


def test_value_pca_recovers_a_planted_direction():
    rng = np.random.default_rng(0)
    direction = np.array([3.0, 4.0, 0.0]) / 5
    V = rng.standard_normal((500, 1)) * 5 * direction + 0.1 * rng.standard_normal((500, 3))  # (N, 3)
    pca = dg.value_pca(V)
    assert abs(pca.components[0] @ direction) > 0.999
    assert pca.explained_variance_ratio[0] > 0.99


# --------------------------------------------------------------------------- norms and keys
def test_value_norm_growth_definition():
    rng = np.random.default_rng(1)
    V0 = rng.standard_normal((7, 3))  # (N, d_v)
    snaps = np.stack([V0, 2 * V0, -V0, V0 @ np.linalg.qr(rng.standard_normal((3, 3)))[0]])  # (4, N, d_v)
    assert np.allclose(dg.value_norm_growth(snaps), [1.0, 2.0, 1.0, 1.0])  # rotations keep norms


@settings(max_examples=40, deadline=None)
@given(seeds, st.integers(2, 8))
def test_key_orthogonality_of_orthonormal_and_identical_rows(seed, n):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n + 2, n + 2)))[0][:n]  # (n, n+2) orthonormal rows
    scales = rng.uniform(0.1, 10.0, size=(n, 1))  # lengths do not matter
    assert dg.key_orthogonality(Q * scales) < 1e-12
    row = rng.standard_normal(5)
    signs = rng.choice([-1.0, 1.0], size=(n, 1))
    assert np.isclose(dg.key_orthogonality(signs * scales * row), 1.0)
    K = rng.standard_normal((n, 4))  # (n, d_k)
    assert 0.0 <= dg.key_orthogonality(K) <= 1.0


# --------------------------------------------------------------------------- entropies of predictive rows
@settings(max_examples=50, deadline=None)
@given(seeds, st.integers(1, 30), st.integers(1, 9))
def test_entropy_mae_is_zero_on_itself_and_symmetric(seed, n, c):
    rng = np.random.default_rng(seed)
    p, q = _distributions(rng, n, c), _distributions(rng, n, c, sharp=3.0)
    assert dg.entropy_mae_bits(p, p) == 0.0
    assert dg.entropy_mae_bits(p, q) == dg.entropy_mae_bits(q, p) >= 0.0
    H = dg.predictive_entropy_bits(p)  # (N,)
    assert np.all(H >= 0) and np.all(H <= np.log2(c) + 1e-12)
    assert np.isclose(dg.entropy_mae_bits(p, q), np.mean(np.abs(H - dg.predictive_entropy_bits(q))))


def test_entropy_units_and_a_permutation_has_the_same_entropy():
    p = np.array([[0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])
    assert np.allclose(dg.predictive_entropy_bits(p), [1.5, 0.0])
    assert np.allclose(dg.predictive_entropy_bits(p), attention_entropy(p) / np.log(2))
    assert dg.entropy_mae_bits(p, p[:, ::-1]) == 0.0  # entropies equal, distributions not


# --------------------------------------------------------------------------- what a coordinate encodes
@settings(max_examples=40, deadline=None)
@given(seeds, st.integers(2, 6))
def test_correlation_ratio_is_the_squared_correlation_for_two_groups(seed, n_per):
    rng = np.random.default_rng(seed)
    g = np.repeat([0, 1], n_per)  # (N,)
    z = rng.standard_normal(2 * n_per) + g  # (N,)
    assert np.isclose(dg.correlation_ratio(z, g), np.corrcoef(z, g)[0, 1] ** 2)
    assert 0.0 <= dg.correlation_ratio(z, rng.integers(0, 3, 2 * n_per)) <= 1.0


def test_correlation_ratio_invariances():
    rng = np.random.default_rng(5)
    g = rng.integers(0, 8, 300)  # (N,)
    z = rng.standard_normal(300) + 0.5 * g  # (N,)
    eta = dg.correlation_ratio(z, g)
    assert np.isclose(dg.correlation_ratio(-3 * z + 7, g), eta)  # affine invariance
    assert np.isclose(dg.correlation_ratio(z, (g + 3) % 8), eta)  # relabelling the groups
    assert dg.correlation_ratio(np.arange(5.0), np.arange(5)) == 1.0  # one point per group


@settings(max_examples=40, deadline=None)
@given(seeds, st.integers(3, 12))
def test_circular_mode_share_of_rings_and_shuffles(seed, n):
    rng = np.random.default_rng(seed)
    angle = 2 * np.pi * np.arange(n) / n + rng.uniform(0, 2 * np.pi)  # (n,)
    A = rng.standard_normal((2, 5))  # (2, d) any linear image of a circle: an ellipse
    ring = np.c_[np.cos(angle), np.sin(angle)] @ A + rng.standard_normal(5)  # (n, d)
    assert np.isclose(dg.circular_mode_share(ring), 1.0)
    backwards = ring[::-1]  # the same ring visited the other way round
    assert np.isclose(dg.circular_mode_share(backwards), 1.0)
    assert np.isclose(dg.circular_mode_share(np.roll(ring, 2, axis=0)), 1.0)
    noise = rng.standard_normal((n, 4))  # (n, d)
    assert 0.0 <= dg.circular_mode_share(noise) <= 1.0


def test_circular_mode_share_of_random_orders_averages_two_over_n_minus_one():
    rng = np.random.default_rng(11)
    shares = [dg.circular_mode_share(rng.standard_normal((8, 15))) for _ in range(4000)]
    # the mean of 4000 draws of a [0, 1] variable: standard error below 0.005
    assert abs(np.mean(shares) - 2 / 7) < 0.02


# --------------------------------------------------------------------------- bad input: one-line errors
@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: attention_entropy([[0.5, 0.6]]), ValueError, "summing to 1"),
        (lambda: attention_entropy([[1.5, -0.5]]), ValueError, "non-negative"),
        (lambda: attention_entropy(3.0), ValueError, "probability vectors"),
        (lambda: attention_entropy("abc"), TypeError, "numeric"),
        (lambda: dg.predictive_entropy_bits([0.5, 0.5]), ValueError, "2-D"),
        (lambda: dg.entropy_mae_bits([[0.5, 0.5]], [[0.5, 0.4]]), ValueError, "row (0,) sums to 0.9"),
        (lambda: dg.entropy_mae_bits([[0.5, 0.5]], [[1.0, 0.0, 0.0]]), ValueError, "shape of p"),
        (lambda: dg.entropy_mae_bits([[np.nan, 1.0]], [[0.5, 0.5]]), ValueError, "finite"),
        (lambda: dg.compatibility(np.ones((2, 3)), np.ones((2, 4))), ValueError, "same width"),
        (lambda: dg.value_norm_growth(np.ones((3, 4))), ValueError, "3-D"),
        (lambda: dg.value_norm_growth(np.zeros((2, 3, 4))), ValueError, "all zeros"),
        (lambda: dg.value_pca(np.ones((1, 3))), ValueError, "at least 2 rows"),
        (lambda: dg.value_pca(np.ones((5, 3))), ValueError, "no variance"),
        (lambda: dg.value_pca(np.ones(5)), ValueError, "2-D"),
        (lambda: dg.effective_dimension([0.5, 0.6]), ValueError, "sum to at most 1"),
        (lambda: dg.effective_dimension([0.5, -0.1]), ValueError, "non-negative"),
        (lambda: dg.effective_dimension([0.5, 0.3], threshold=0.95), ValueError, "never reach"),
        (lambda: dg.effective_dimension([0.5, 0.5], threshold=0.0), ValueError, "threshold"),
        (lambda: dg.effective_dimension([0.5, 0.5], threshold=True), TypeError, "threshold"),
        (lambda: dg.key_orthogonality([[1.0, 0.0], [0.0, 0.0]]), ValueError, "zero row (row 1)"),
        (lambda: dg.key_orthogonality([[1.0, 0.0]]), ValueError, "at least 2 rows"),
        (lambda: dg.correlation_ratio([1.0, 2.0], [0.0, 1.0]), ValueError, "integer category"),
        (lambda: dg.correlation_ratio([1.0, 2.0], [0, 1, 1]), ValueError, "integer category"),
        (lambda: dg.correlation_ratio([1.0, 1.0], [0, 1]), ValueError, "constant"),
        (lambda: dg.circular_mode_share(np.ones((2, 3))), ValueError, "at least 3 rows"),
        (lambda: dg.circular_mode_share(np.ones((4, 3))), ValueError, "all centroids are equal"),
    ],
)
def test_bad_input_is_a_one_line_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert words in message and "\n" not in message
