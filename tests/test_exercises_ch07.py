"""Chapter 7: the checker check_m_step_grad and its hints."""

from __future__ import annotations

import numpy as np
import pytest

from attnlib.laws.em import m_step_features, m_step_grads
from attnlib.teaching.exercises.ch07 import _MISTAKES, _reference, check_m_step_grad
from tests.chapter_answers import written_answer


def books_m_step_grad(alpha, X, W_V, W_O, y):
    return m_step_grads(m_step_features(alpha, X), y, W_V, W_O)[0]  # (d_x, d_v)


def test_the_chapters_answer_passes_and_the_packages_own_function_gets_no_credit():
    result = check_m_step_grad(written_answer("check_m_step_grad"))
    assert result.passed and result.message == "M-step gradient: correct on all 6 cases."
    for packaged in (books_m_step_grad, _reference):
        assert "no credit: the answer runs the book's own attnlib." in check_m_step_grad(packaged).message


@pytest.mark.parametrize("mistake", _MISTAKES, ids=lambda m: m.hint[:40])
def test_each_mistake_is_recognised(mistake):
    result = check_m_step_grad(mistake.answer)
    assert not result.passed
    assert result.message.endswith(f"Hint: {mistake.hint}."), result.message


def test_a_naive_softmax_overflows_on_huge_logits_and_says_so():
    def naive(alpha, X, W_V, W_O, y):
        F = alpha @ X  # (N, d_x)
        with np.errstate(over="ignore", invalid="ignore"):
            P = np.exp(F @ W_V @ W_O)  # (N, C)  no max subtracted
            P /= P.sum(axis=1, keepdims=True)
        P[np.arange(len(y)), y] -= 1.0
        return F.T @ P @ W_O.T / len(y)  # (d_x, d_v)

    message = check_m_step_grad(naive).message
    assert message.startswith("M-step gradient: case 'huge logits (W_O of size 1e3), causal N=4'")
    assert "Hint: an exponential overflowed" in message


def test_stub_says_not_implemented():
    def stub(alpha, X, W_V, W_O, y):
        raise NotImplementedError

    expected = "M-step gradient: not implemented yet (the stub raises NotImplementedError)."
    assert check_m_step_grad(stub).message == expected


def test_a_crash_is_one_line():
    def forgets_the_transpose(alpha, X, W_V, W_O, y):
        F = alpha @ X  # (N, d_x)
        dz = np.eye(W_O.shape[1])[y] / len(y)  # (N, C)
        return F.T @ dz @ W_O  # (N, C) @ (d_v, C): shapes do not align

    message = check_m_step_grad(forgets_the_transpose).message
    assert message.startswith(
        "M-step gradient: case 'random causal N=6, d_x=4, d_v=3, C=5' raised ValueError:"
    )
    assert "\n" not in message


def test_wrong_shapes_are_reported():
    transposed = check_m_step_grad(lambda *a: books_m_step_grad(*a).T).message
    assert transposed == (
        "M-step gradient: case 'random causal N=6, d_x=4, d_v=3, C=5': "
        "expected shape (4, 3), got (3, 4). Hint: is an index transposed?"
    )
    no_readout = check_m_step_grad(
        lambda alpha, X, W_V, W_O, y: (alpha @ X).T @ np.eye(W_O.shape[1])[y]
    ).message
    assert "expected shape (4, 3), got (4, 5)" in no_readout


def test_the_checker_is_not_fooled_by_in_place_edits():
    def sneaky(alpha, X, W_V, W_O, y):
        X *= 0.0  # edits the caller's array
        return written_answer("check_m_step_grad")(alpha, X, W_V, W_O, y)

    assert not check_m_step_grad(sneaky).passed
    assert check_m_step_grad(written_answer("check_m_step_grad")).passed  # the reference inputs are intact


def test_a_non_function_is_refused():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_m_step_grad("alpha.T @ X")
