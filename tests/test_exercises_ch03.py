"""Chapter 3: the routing-law checkers, and the functions of attnlib.laws.routing they rely on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import attnlib
from attnlib.teaching.exercises import ch03
from attnlib.teaching.exercises.ch03 import (
    FROM_PROBS_MISTAKES,
    SCORE_GRAD_MISTAKES,
    check_score_grad,
    check_score_grad_from_probs,
    upstream_from_probs,
)
from attnlib.laws.routing import (
    advantage,
    first_order_attention_change,
    loglog_slope,
    loss_slope_toward_values,
    score_gradient,
    step_sweep,
)
from tests.chapter_answers import written_answer


def book_from_probs(alpha, V, W_O, P, y):
    return score_gradient(alpha, upstream_from_probs(P, y, W_O), V)


CHECKERS = [(check_score_grad, score_gradient), (check_score_grad_from_probs, book_from_probs)]


# --------------------------------------------------------------------------- the checkers
@pytest.mark.parametrize("checker, book", CHECKERS)
def test_the_chapters_answer_passes_and_the_packages_own_function_gets_no_credit(checker, book):
    result = checker(written_answer(checker.__name__))
    assert result.passed and bool(result)
    assert "correct on all" in result.message
    refused = checker(book)
    assert not refused.passed and "no credit: the answer runs the book's own attnlib." in refused.message


def test_a_student_loop_version_passes():
    def loops(alpha, U, V):
        n, m = alpha.shape
        out = np.zeros((n, m))
        for i in range(n):
            b = [U[i] @ V[j] for j in range(m)]
            e = sum(alpha[i, j] * b[j] for j in range(m))
            for j in range(m):
                out[i, j] = alpha[i, j] * (b[j] - e)
        return out

    assert check_score_grad(loops).passed


@pytest.mark.parametrize("mistake", SCORE_GRAD_MISTAKES, ids=lambda m: m.hint[:40])
def test_each_score_grad_mistake_gets_its_hint(mistake):
    result = check_score_grad(mistake.answer)
    assert not result.passed
    assert f"Hint: {mistake.hint}." in result.message


@pytest.mark.parametrize("mistake", FROM_PROBS_MISTAKES, ids=lambda m: m.hint[:40])
def test_each_from_probs_mistake_gets_its_hint(mistake):
    result = check_score_grad_from_probs(mistake.answer)
    assert not result.passed
    assert f"Hint: {mistake.hint}." in result.message


def test_the_mistakes_are_distinguishable_on_the_first_case():
    """Two mistakes with different hints must give different answers, or a hint would be ambiguous."""
    pairs = [(SCORE_GRAD_MISTAKES, ch03._score_grad_cases("public")), (FROM_PROBS_MISTAKES, ch03._from_probs_cases("public"))]
    for mistakes, cases in pairs:
        args = cases[0].args
        answers = [np.asarray(m.answer(*args), dtype=float) for m in mistakes]
        for a in range(len(mistakes)):
            for b in range(a + 1, len(mistakes)):
                if mistakes[a].hint != mistakes[b].hint:
                    assert not np.allclose(answers[a], answers[b]), (mistakes[a].hint, mistakes[b].hint)


@pytest.mark.parametrize("checker, book", CHECKERS)
def test_a_stub_is_reported_as_not_implemented(checker, book):
    def stub(*args):
        raise NotImplementedError

    result = checker(stub)
    assert not result.passed
    assert "not implemented yet" in result.message


@pytest.mark.parametrize("checker, book", CHECKERS)
def test_an_exception_gives_a_one_line_message(checker, book):
    def broken(*args):
        return args[0] @ np.ones((2, 7))  # shape mismatch inside the student's code

    result = checker(broken)
    assert not result.passed
    assert "raised ValueError" in result.message and "\n" not in result.message


@pytest.mark.parametrize("checker, book", CHECKERS)
def test_wrong_shapes_are_reported(checker, book):
    result = checker(lambda *args: book(*args)[:, :1])
    assert not result.passed
    assert "expected shape" in result.message


def test_a_non_array_answer_is_reported():
    result = check_score_grad(lambda alpha, U, V: "dL/ds")
    assert not result.passed and "not an array of numbers" in result.message


def test_an_in_place_edit_cannot_spoil_the_reference():
    def vandal(alpha, U, V):
        answer = written_answer("check_score_grad")(alpha, U, V)
        alpha[:] = 0.0
        U *= 100.0
        return answer

    assert check_score_grad(vandal).passed


def test_masked_entries_must_be_zero():
    """Forgetting the factor alpha is caught, and first on a masked entry."""
    result = check_score_grad(lambda alpha, U, V: U @ V.T - (alpha * (U @ V.T)).sum(axis=1, keepdims=True))
    assert not result.passed and "expected 0," in result.message


def test_cases_cover_the_edge_cases():
    labels = " | ".join(c.label for c in ch03._score_grad_cases("public"))
    for needle in ["causal", "non-causal", "N=1", "d_v=1", "huge scores"]:
        assert needle in labels
    alphas = [c.args[0] for c in ch03._score_grad_cases("public")]
    assert any(np.sort(a, axis=1)[:, -1].max() > 1 - 1e-12 for a in alphas)  # nearly one-hot rows
    assert check_score_grad(score_gradient).n_cases == len(alphas)


# --------------------------------------------------------------------------- attnlib.laws.routing
@st.composite
def heads(draw):
    n = draw(st.integers(1, 6))
    d_v, n_classes = draw(st.integers(1, 4)), draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    causal = draw(st.booleans())
    rng = np.random.default_rng(seed)
    params = attnlib.init_params(3, 2, d_v, n_classes, scale=draw(st.sampled_from([0.5, 1.0, 2.0])), rng=rng)
    X = rng.standard_normal((n, 3))  # (N, d_x)
    y = rng.integers(0, n_classes, size=n)  # (N,)
    return params, X, y, causal


@given(heads())
def test_routing_functions_match_the_backward_pass(case):
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    g = attnlib.backward(params, cache, y)
    assert np.allclose(score_gradient(cache.attn, g.upstream, cache.values), g.scores, rtol=1e-10, atol=1e-15)
    assert np.allclose(advantage(cache.attn, g.upstream, cache.values, mask=cache.mask), g.advantage, rtol=1e-10, atol=1e-15)
    P_args = (cache.attn, cache.values, params.W_O, cache.probs, y)
    assert np.allclose(book_from_probs(*P_args), g.scores, rtol=1e-10, atol=1e-15)


@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_first_order_attention_change_is_the_softmax_jacobian(n, seed):
    rng = np.random.default_rng(seed)
    alpha = attnlib.masked_softmax(rng.normal(scale=2.0, size=(n, n)), attnlib.causal_mask(n))  # (N, N)
    ds = rng.normal(size=(n, n))  # (N, N)
    predicted = first_order_attention_change(alpha, ds)
    for i in range(n):
        assert np.allclose(predicted[i], attnlib.softmax_jacobian(alpha[i]) @ ds[i], atol=1e-15)
    assert np.allclose(predicted.sum(axis=1), 0.0, atol=1e-14)


def test_the_loss_slope_toward_a_value_is_minus_the_advantage():
    params = attnlib.init_params(3, 2, 3, 4, scale=0.9, rng=3)
    X = np.random.default_rng(4).standard_normal((5, 3))
    y = np.array([3, 1, 2, 0, 1])
    for causal in (True, False):
        cache = attnlib.forward(params, X, causal=causal)
        slopes = loss_slope_toward_values(params, cache, y)
        assert np.allclose(slopes, -attnlib.backward(params, cache, y).advantage, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("mode, etas", [("scores", np.logspace(-3, -1, 5)), ("params", np.logspace(-5, -3, 5))])
def test_step_sweep_errors_are_second_order(mode, etas):
    params = attnlib.init_params(4, 3, 3, 4, scale=0.8, rng=15)
    X = np.random.default_rng(16).standard_normal((6, 4))
    y = np.array([1, 1, 2, 1, 0, 1])
    sweep = step_sweep(params, X, y, etas, mode=mode)
    assert sweep.attn_change.shape == (5, 6, 6) and sweep.loss_change.shape == (5,)
    assert np.all(sweep.loss_change < 0)
    assert abs(loglog_slope(etas, sweep.attn_error) - 2) < 0.1
    assert abs(loglog_slope(etas, sweep.loss_error) - 2) < 0.1
    assert np.allclose(sweep.attn_change.sum(axis=2), 0.0, atol=1e-14)


def test_public_entry_points_validate_their_arguments():
    alpha = np.array([[1.0, 0.0], [0.5, 0.5]])
    U, V = np.ones((2, 3)), np.ones((2, 3))
    with pytest.raises(ValueError, match="one row per query"):
        score_gradient(alpha, np.ones((3, 3)), V)
    with pytest.raises(ValueError, match="one row per key"):
        score_gradient(alpha, U, np.ones((3, 3)))
    with pytest.raises(ValueError, match="same width"):
        score_gradient(alpha, U, np.ones((2, 2)))
    with pytest.raises(ValueError, match="probability vector"):
        score_gradient(np.array([[1.0, 1.0], [0.5, 0.5]]), U, V)
    with pytest.raises(ValueError, match="mask must be a boolean array"):
        advantage(alpha, U, V, mask=np.ones((2, 2)))
    with pytest.raises(ValueError, match="delta_s must have the shape"):
        first_order_attention_change(alpha, np.ones((2, 3)))
    params = attnlib.init_params(2, 2, 2, 2, rng=0)
    with pytest.raises(ValueError, match="positive step size"):
        step_sweep(params, np.ones((2, 2)), [0, 1], [0.1, -0.1])
    with pytest.raises(ValueError, match="mode"):
        step_sweep(params, np.ones((2, 2)), [0, 1], [0.1], mode="values")
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([1.0, 2.0], [0.0, 1.0])
