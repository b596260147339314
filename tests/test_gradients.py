"""The hand-derived backward pass equals torch autograd (float64) everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import attnlib
from attnlib.reference import LABELS, autograd_grads, check_backward

from .strategies import heads

FIELDS = ["W_Q", "W_K", "W_V", "W_O", "logits", "upstream", "compat", "advantage", "scores", "values", "queries", "keys"]


def _close(a, b):
    return np.allclose(a, b, rtol=1e-9, atol=1e-13)


@given(heads())
def test_every_field_equals_autograd(case):
    params, X, y, causal = case
    mine = attnlib.backward(params, attnlib.forward(params, X, causal=causal), y)
    ref = autograd_grads(params, X, y, causal=causal)
    for name in FIELDS:
        got, want = getattr(mine, name), getattr(ref, name)
        assert got.shape == want.shape, name
        assert _close(got, want), f"{name}: max |diff| {np.abs(got - want).max():.3e}"


@given(heads())
def test_loss_equals_torch(case):
    params, X, y, causal = case
    mine = attnlib.loss(attnlib.forward(params, X, causal=causal), y)
    assert np.isclose(mine, attnlib.reference.torch_loss(params, X, y, causal=causal), rtol=1e-12, atol=1e-14)


@given(heads(max_n=5))
def test_finite_differences_agree(case):
    params, X, y, causal = case
    report = check_backward(params, X, y, causal=causal)
    assert report.passed, str(report)


@given(heads())
def test_routing_law_is_an_identity(case):
    """dL/ds_ij = alpha_ij (b_ij - E_alpha_i[b]), with E_alpha_i[b] = u_i . o_i, and = -alpha A."""
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    g = attnlib.backward(params, cache, y)
    b = g.upstream @ cache.values.T  # (N, N)
    expected_b = np.sum(g.upstream * cache.out, axis=1, keepdims=True)  # (N, 1)  u_i . o_i
    assert _close(g.compat, b)
    assert _close(g.scores, cache.attn * (b - expected_b))
    assert _close(g.scores, -cache.attn * g.advantage)
    assert np.allclose(g.scores.sum(axis=1), 0.0, atol=1e-14)  # zero-sum competition
    assert np.all(g.scores[~cache.mask] == 0.0) and np.all(g.advantage[~cache.mask] == 0.0)


@given(heads())
def test_value_law_is_an_identity(case):
    """dL/dv_j = sum_i alpha_ij u_i, and u_i = (p_i - e_y) W_O^T / N."""
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    g = attnlib.backward(params, cache, y)
    n = len(y)
    onehot = np.eye(params.dims["n_classes"])[y]  # (N, C)
    assert _close(g.upstream, (cache.probs - onehot) @ params.W_O.T / n)
    for j in range(n):
        assert _close(g.values[j], sum(cache.attn[i, j] * g.upstream[i] for i in range(n)))


def test_single_position_attends_to_itself():
    params = attnlib.init_params(3, 2, 2, 2, rng=0)
    X = np.array([[0.5, -1.0, 2.0]])  # (1, d_x)
    cache = attnlib.forward(params, X)
    assert cache.attn.tolist() == [[1.0]]
    g = attnlib.backward(params, cache, [1])
    assert g.scores.tolist() == [[0.0]]  # one key: nothing to compete with
    assert check_backward(params, X, [1]).passed


@pytest.mark.parametrize("causal", [True, False])
def test_huge_scores_stay_finite(causal):
    rng = np.random.default_rng(3)
    params = attnlib.init_params(4, 1, 3, 2, scale=30.0, rng=rng)
    X = 10 * rng.standard_normal((6, 4))  # (N, d_x): scores in the thousands
    cache = attnlib.forward(params, X, causal=causal)
    assert np.abs(cache.scores).max() > 1e3
    g = attnlib.backward(params, cache, rng.integers(0, 2, size=6))
    for name in FIELDS:
        assert np.all(np.isfinite(getattr(g, name))), name
    assert np.isfinite(attnlib.loss(cache, np.zeros(6, dtype=int)))


def test_non_causal_mask_is_full_and_causal_is_lower_triangular():
    params = attnlib.init_params(2, 2, 2, 3, rng=1)
    X = np.random.default_rng(0).standard_normal((4, 2))
    assert attnlib.forward(params, X, causal=False).attn.min() > 0
    attn = attnlib.forward(params, X).attn
    assert np.all(np.triu(attn, 1) == 0) and np.allclose(attn.sum(axis=1), 1.0)


def test_a_broken_sign_is_caught_by_the_check():
    """The check cells of the book can fail: flip one sign and the report says so."""
    import dataclasses

    params = attnlib.init_params(3, 2, 2, 3, scale=0.8, rng=4)
    X = np.random.default_rng(5).standard_normal((5, 3))
    y = np.array([0, 1, 2, 0, 1])
    good = attnlib.backward(params, attnlib.forward(params, X), y)
    for name in ["W_Q", "W_V", "scores", "values", "upstream"]:
        broken = dataclasses.replace(good, **{name: -getattr(good, name)})
        report = check_backward(params, X, y, grads=broken)
        assert not report.passed
        assert LABELS[name] in {c.name for c in report.failures}
        with pytest.raises(AssertionError, match="disagrees"):
            report.assert_ok()
