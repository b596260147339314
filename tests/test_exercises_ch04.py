"""Chapter 4: the responsibility helpers, the quiver plot, and the exercise checkers
check_value_grad and check_weighted_mean with their hints."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import attnlib  # noqa: E402
from attnlib.teaching.exercises.ch04 import (  # noqa: E402
    _MEAN_MISTAKES,
    _VALUE_MISTAKES,
    check_value_grad,
    check_weighted_mean,
)
from attnlib.teaching.plots.values import value_update_quiver  # noqa: E402
from attnlib.reference import autograd_grads  # noqa: E402
from attnlib.laws.responsibility import (  # noqa: E402
    advantage_change,
    column_usage,
    gmm_responsibilities,
    responsibility_weighted_mean,
    update_contributions,
    upstream_change_first_order,
    value_grad,
    value_step_compat_change,
)
from .strategies import heads
from tests.chapter_answers import written_answer


# --------------------------------------------------------------------------- the value law
@given(heads())
def test_value_grad_equals_autograd_and_backward(case):
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    grads = attnlib.backward(params, cache, y)
    mine = value_grad(cache.attn, grads.upstream)  # (N, d_v)
    assert np.allclose(mine, autograd_grads(params, X, y, causal=causal).values, rtol=1e-9, atol=1e-13)
    assert np.allclose(mine, grads.values, rtol=1e-12, atol=0)


@given(heads())
def test_every_error_signal_is_fully_distributed(case):
    """sum_j dL/dv_j = sum_i u_i, because every row of alpha sums to one (exercise 1)."""
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    grads = attnlib.backward(params, cache, y)
    assert np.allclose(grads.values.sum(axis=0), grads.upstream.sum(axis=0), atol=1e-13)
    assert np.isclose(column_usage(cache.attn).sum(), X.shape[0])


def test_column_usage_of_uniform_causal_attention_is_a_harmonic_tail():
    n = 9
    alpha = attnlib.masked_softmax(np.zeros((n, n)), attnlib.causal_mask(n))  # (N, N)  alpha_ij = 1/i (1-based)
    harmonic = np.cumsum(1.0 / np.arange(1, n + 1))  # (N,)  H_1..H_N
    expected = harmonic[-1] - np.concatenate([[0.0], harmonic[:-1]])  # (N,)  H_N - H_{j-1}
    assert np.allclose(column_usage(alpha), expected)


def test_update_contributions_sum_to_the_step_and_vanish_where_masked():
    rng = np.random.default_rng(0)
    alpha = attnlib.masked_softmax(rng.normal(size=(4, 4)), attnlib.causal_mask(4))  # (N, N)
    U = rng.normal(size=(4, 3))  # (N, d_v)
    C = update_contributions(alpha, U, eta=0.3)  # (N, N, d_v)
    assert np.allclose(C.sum(axis=0), -0.3 * alpha.T @ U)
    assert np.all(C[~attnlib.causal_mask(4)] == 0.0)
    with pytest.raises(TypeError, match="eta must be a number"):
        update_contributions(alpha, U, eta="big")


def test_value_grad_validates_shapes():
    with pytest.raises(ValueError, match=r"alpha must be square \(N, N\), got shape \(2, 3\)"):
        value_grad(np.ones((2, 3)), np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"U must have 2 rows .* got shape \(3, 1\)"):
        value_grad(np.eye(2), np.ones((3, 1)))


# --------------------------------------------------------------------------- the M-step
@given(st.integers(1, 8), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**31))
def test_weighted_mean_matches_an_explicit_loop(n, k, d, seed):
    rng = np.random.default_rng(seed)
    R = rng.random((n, k)) * (rng.random((n, k)) < 0.7)  # (N, K)  some zeros, maybe whole columns
    T = rng.normal(size=(n, d))  # (N, d)
    got = responsibility_weighted_mean(R, T)  # (K, d)
    for col in range(k):
        total = R[:, col].sum()
        want = (R[:, col, None] * T).sum(axis=0) / total if total > 0 else np.zeros(d)
        assert np.allclose(got[col], want)


def test_weighted_mean_keeps_the_fallback_for_unused_columns_and_validates():
    R = np.array([[1.0, 0.0], [3.0, 0.0]])
    T = np.array([[0.0], [4.0]])
    assert np.allclose(responsibility_weighted_mean(R, T, empty=[[5.0], [6.0]]), [[3.0], [6.0]])
    with pytest.raises(ValueError, match="R must be non-negative"):
        responsibility_weighted_mean(-R, T)
    with pytest.raises(ValueError, match=r"T must have 2 rows"):
        responsibility_weighted_mean(R, np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"empty must have shape \(2, 1\)"):
        responsibility_weighted_mean(R, T, empty=np.ones((1, 1)))


@given(heads())
def test_value_gradient_is_column_usage_times_the_mean_target(case):
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    grads = attnlib.backward(params, cache, y)
    target = responsibility_weighted_mean(cache.attn, -grads.upstream)  # (N, d_v)
    assert np.allclose(-grads.values, column_usage(cache.attn)[:, None] * target, atol=1e-13)


def test_gmm_responsibilities_are_an_attention_pattern():
    rng = np.random.default_rng(3)
    X, mu = rng.normal(size=(7, 2)), rng.normal(size=(3, 2))  # (N, d), (K, d)
    gamma = gmm_responsibilities(X, mu)  # (N, K)
    assert np.allclose(gamma.sum(axis=1), 1.0)
    scores = X @ mu.T - 0.5 * (mu**2).sum(axis=1)  # (N, K)  query x_i, key mu_k, bias -|mu_k|^2/2
    assert np.allclose(gamma, attnlib.softmax(scores))
    with pytest.raises(ValueError, match="mu must have 2 columns"):
        gmm_responsibilities(X, np.ones((3, 1)))


# --------------------------------------------------------------------------- the feedback loop
@given(heads(), st.floats(0.01, 5.0))
def test_compat_and_advantage_changes_are_exact_with_alpha_and_u_fixed(case, eta):
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    grads = attnlib.backward(params, cache, y)
    alpha, U = cache.attn, grads.upstream
    V_new = cache.values - eta * alpha.T @ U  # (N, d_v)
    b_new = U @ V_new.T  # (N, N)
    delta_b = value_step_compat_change(alpha, U, eta)  # (N, N)
    assert np.allclose(b_new - grads.compat, delta_b, atol=1e-12)
    A_new = np.where(cache.mask, (alpha * b_new).sum(axis=1, keepdims=True) - b_new, 0.0)  # (N, N)
    assert np.allclose(A_new - grads.advantage, advantage_change(alpha, delta_b, cache.mask), atol=1e-12)


@given(heads(max_n=6))
def test_upstream_change_matches_a_small_recomputed_value_step(case):
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    grads = attnlib.backward(params, cache, y)
    eta = 1e-6
    V_new = cache.values - eta * grads.values  # (N, d_v)
    P_new = attnlib.softmax(cache.attn @ V_new @ params.W_O)  # (N, C)
    Y = np.eye(params.dims["n_classes"])[y]  # (N, C)
    U_new = (P_new - Y) @ params.W_O.T / X.shape[0]  # (N, d_v)
    predicted = upstream_change_first_order(cache.attn, grads.upstream, cache.probs, params.W_O, eta)
    scale = max(np.abs(predicted).max(), 1e-300)
    assert np.abs((U_new - grads.upstream) - predicted).max() <= 1e-4 * scale + 1e-10


def test_upstream_change_validates_shapes():
    alpha, U, p, W_O = np.eye(2), np.ones((2, 1)), np.full((2, 3), 1 / 3), np.ones((1, 3))
    with pytest.raises(ValueError, match=r"W_O must have 1 rows"):
        upstream_change_first_order(alpha, U, p, np.ones((2, 3)), 0.1)
    with pytest.raises(ValueError, match=r"probs must have shape \(2, 3\)"):
        upstream_change_first_order(alpha, U, p[:, :2], W_O, 0.1)
    with pytest.raises(TypeError, match="eta must be a number"):
        upstream_change_first_order(alpha, U, p, W_O, None)


def test_advantage_change_defaults_to_the_support_of_alpha():
    alpha = np.array([[1.0, 0.0], [0.5, 0.5]])
    got = advantage_change(alpha, np.array([[-1.0, 9.0], [-2.0, -1.0]]))
    assert np.allclose(got, [[0.0, 0.0], [0.5, -0.5]])


# --------------------------------------------------------------------------- the quiver plot
def test_value_update_quiver_draws_one_arrow_set_per_query_and_validates():
    V = np.array([[0.0, 0.0], [1.0, 0.5], [0.3, 1.0]])  # (N, 2)
    alpha = attnlib.masked_softmax(np.zeros((3, 3)), attnlib.causal_mask(3))  # (N, N)
    C = update_contributions(alpha, np.array([[0.1, 0.0], [0.0, 0.2], [-0.1, 0.1]]), eta=1.0)  # (N, N, 2)
    fig, ax = plt.subplots()
    assert value_update_quiver(V, C, ax=ax, title="t") is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["whole step", "pull of query 0", "pull of query 1", "pull of query 2"]
    assert ax.get_title() == "t" and ax.get_ylabel() == "value coordinate 2"
    with pytest.raises(ValueError, match=r"V must have shape \(N, 2\)"):
        value_update_quiver(np.ones((3, 3)), C, ax=ax)
    with pytest.raises(ValueError, match=r"contributions must have shape \(N_q, 3, 2\)"):
        value_update_quiver(V, C[:, :2], ax=ax)
    plt.close(fig)


# --------------------------------------------------------------------------- check_value_grad
def test_the_books_value_grad_passes():
    result = check_value_grad(written_answer("check_value_grad"))
    assert result.passed and result.message == "value gradient: correct on all 6 cases."
    assert "no credit" in check_value_grad(value_grad).message
    assert check_value_grad(lambda alpha, U: alpha.T @ U).passed


@pytest.mark.parametrize("mistake", _VALUE_MISTAKES, ids=lambda m: m.hint[:40])
def test_each_value_mistake_is_recognised(mistake):
    result = check_value_grad(mistake.answer)
    assert not result.passed
    assert result.message.endswith(f"Hint: {mistake.hint}."), result.message


def test_value_stub_says_not_implemented():
    def stub(alpha, U):
        raise NotImplementedError

    expected = "value gradient: not implemented yet (the stub raises NotImplementedError)."
    assert check_value_grad(stub).message == expected


def test_value_crash_is_one_line():
    message = check_value_grad(lambda alpha, U: alpha.T @ U.T).message
    assert message.startswith("value gradient: case 'random causal N=5, d_v=3' raised ValueError:")
    assert "\n" not in message


def test_value_wrong_shapes_are_reported():
    transposed = check_value_grad(lambda alpha, U: U.T @ alpha).message
    assert transposed == (
        "value gradient: case 'random causal N=5, d_v=3': expected shape (5, 3), got (3, 5). "
        "Hint: is an index transposed?"
    )
    assert "expected shape (5, 3), got (5,)" in check_value_grad(lambda alpha, U: (alpha.T @ U)[:, 0]).message


def test_value_checker_is_not_fooled_by_in_place_edits():
    def sneaky(alpha, U):
        alpha *= 0.0  # edits the caller's array
        return alpha.T @ U

    assert not check_value_grad(sneaky).passed
    assert check_value_grad(lambda alpha, U: alpha.T @ U).passed  # the reference inputs are intact


# --------------------------------------------------------------------------- check_weighted_mean
def test_the_books_weighted_mean_passes():
    result = check_weighted_mean(written_answer("check_weighted_mean"))
    assert result.passed and result.message == "weighted mean: correct on all 6 cases."
    assert "no credit" in check_weighted_mean(responsibility_weighted_mean).message


# The first mistake (N_k + eps) is only a pattern for the tiny case: tested with a real function below.
@pytest.mark.parametrize("mistake", _MEAN_MISTAKES[1:], ids=lambda m: m.hint[:40])
def test_each_mean_mistake_is_recognised(mistake):
    result = check_weighted_mean(mistake.answer)
    assert not result.passed
    assert result.message.endswith(f"Hint: {mistake.hint}."), result.message


def test_a_small_constant_in_the_denominator_is_recognised():
    message = check_weighted_mean(lambda R, T: (R.T @ T) / (R.sum(axis=0)[:, None] + 1e-12)).message
    assert "tiny responsibilities" in message and "small constant added to N_k" in message


def test_zero_over_zero_in_an_unused_column_is_explained():
    message = check_weighted_mean(lambda R, T: (R.T @ T) / R.sum(axis=0)[:, None]).message
    assert message.startswith("weighted mean: case 'unused column: one-hot rows never pick k=1 (N=4, K=3)' "
                              "raised FloatingPointError: the answer is [nan, nan] in row 1")
    assert "return zeros there" in message and "\n" not in message


def test_mean_stub_crash_shape_and_type():
    def stub(R, T):
        raise NotImplementedError

    assert "not implemented yet" in check_weighted_mean(stub).message
    assert "raised KeyError" in check_weighted_mean(lambda R, T: {}["x"]).message
    assert not check_weighted_mean(lambda R, T: R @ T).passed  # (N, d): the shape is right only when N == K
    transposed = check_weighted_mean(lambda R, T: responsibility_weighted_mean(R, T).T).message
    assert transposed.endswith("Hint: is an index transposed?")
    with pytest.raises(TypeError, match="fn must be a function"):
        check_weighted_mean("R.T @ T")
