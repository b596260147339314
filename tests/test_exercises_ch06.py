"""Chapter 6: the exercise checker check_value_drift, its reference answer and its hints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import attnlib
from attnlib.teaching.exercises.ch06 import _MISTAKES, check_value_drift, value_drift
from tests.chapter_answers import written_answer


@st.composite
def heads(draw, max_n=6):
    """A random head with a non-trivial initialisation, its input, targets and mask."""
    n = draw(st.integers(1, max_n))
    d_x, d_k, d_v = draw(st.integers(1, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n_classes = draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    params = attnlib.init_params(d_x, d_k, d_v, n_classes, scale=draw(st.sampled_from([0.5, 1.0])), rng=rng)
    X = rng.standard_normal((n, d_x))  # (N, d_x)
    y = rng.integers(0, n_classes, size=n)  # (N,)
    return params, X, y, draw(st.booleans())


# --------------------------------------------------------------------------- the reference answer
@given(heads(), st.floats(0.01, 3.0))
def test_value_drift_is_what_an_sgd_step_on_W_V_does_to_the_values(case, eta):
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    grads = attnlib.backward(params, cache, y)
    moved = X @ (params.W_V - eta * grads.W_V) - cache.values  # (N, d_v)  a real step, recomputed
    assert np.allclose(value_drift(cache.attn, grads.upstream, X, eta), moved, rtol=1e-10, atol=1e-14)


def test_value_drift_with_one_hot_positions_is_the_free_value_step():
    rng = np.random.default_rng(0)
    alpha = attnlib.masked_softmax(rng.normal(size=(4, 4)), attnlib.causal_mask(4))  # (N, N)
    U = rng.normal(size=(4, 2))  # (N, d_v)
    assert np.allclose(value_drift(alpha, U, np.eye(4), 0.3), -0.3 * alpha.T @ U)


# --------------------------------------------------------------------------- the checker
def test_the_books_answer_passes():
    result = check_value_drift(written_answer("check_value_drift"))
    assert result.passed and result.message == "value drift: correct on all 8 cases."
    assert "no credit" in check_value_drift(value_drift).message
    assert check_value_drift(lambda alpha, U, X, eta: -eta * X @ (X.T @ (alpha.T @ U))).passed


# The last two mistakes only make sense for a square X; their answers are nan elsewhere, so
# they are tested below with the functions a student would write.
@pytest.mark.parametrize("mistake", _MISTAKES[:5], ids=lambda m: m.hint[:40])
def test_each_mistake_is_recognised(mistake):
    result = check_value_drift(mistake.answer)
    assert not result.passed
    assert result.message.endswith(f"Hint: {mistake.hint}."), result.message


def test_returning_the_weight_step_is_recognised():
    message = check_value_drift(lambda alpha, U, X, eta: -eta * X.T @ (alpha.T @ U)).message
    assert message.endswith(f"Hint: {_MISTAKES[5].hint}."), message
    assert "case 'random causal N=4, d_x=4, d_v=3'" in message


def test_the_feature_gram_matrix_is_recognised():
    message = check_value_drift(lambda alpha, U, X, eta: -eta * (X.T @ X) @ (alpha.T @ U)).message
    assert message.endswith(f"Hint: {_MISTAKES[6].hint}."), message


def test_the_hint_shown_in_the_chapter_does_not_give_the_answer_away():
    message = check_value_drift(lambda alpha, U, X, eta: -eta * alpha.T @ U).message
    assert "free parameters" in message and "X X^T" not in message and "X^T alpha^T U" not in message


def test_stub_says_not_implemented():
    def stub(alpha, U, X, eta):
        raise NotImplementedError

    expected = "value drift: not implemented yet (the stub raises NotImplementedError)."
    assert check_value_drift(stub).message == expected


def test_a_crash_is_one_line():
    message = check_value_drift(lambda alpha, U, X, eta: alpha @ U.T).message
    assert message.startswith("value drift: case 'random causal N=4, d_x=4, d_v=3' raised ValueError:")
    assert "\n" not in message


def test_wrong_shapes_are_reported():
    transposed = check_value_drift(lambda alpha, U, X, eta: value_drift(alpha, U, X, eta).T).message
    assert transposed == (
        "value drift: case 'random causal N=4, d_x=4, d_v=3': expected shape (4, 3), got (3, 4). "
        "Hint: is an index transposed?"
    )
    weights = check_value_drift(lambda alpha, U, X, eta: -eta * X.T @ (alpha.T @ U) + 0 * X.sum()).message
    assert "Hint:" in weights
    flat = check_value_drift(lambda alpha, U, X, eta: value_drift(alpha, U, X, eta)[:, 0]).message
    assert "expected shape (4, 3), got (4,)" in flat


def test_non_numbers_and_non_functions():
    assert "not an array of numbers" in check_value_drift(lambda alpha, U, X, eta: {"a": 1}).message
    with pytest.raises(TypeError, match="fn must be a function"):
        check_value_drift("-eta X X^T alpha^T U")


def test_in_place_edits_cannot_spoil_the_reference():
    def sneaky(alpha, U, X, eta):
        X *= 0.0
        return value_drift(alpha, U, X, eta)

    assert not check_value_drift(sneaky).passed
    assert check_value_drift(written_answer("check_value_drift")).passed
