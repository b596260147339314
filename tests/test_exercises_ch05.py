"""Chapter 5: the exercise checkers, the loss-of-one-quantity helper and the flop counts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlib.teaching.exercises import check_query_key_grads, check_weight_grads  # noqa: E402
from attnlib.teaching.plots import flops_by_line, flops_vs_length  # noqa: E402


# --------------------------------------------------------------------------- the book's answers
def book_query_key_grads(G, Q, K):
    d_k = Q.shape[1]
    return G @ K / np.sqrt(d_k), G.T @ Q / np.sqrt(d_k)


def book_weight_grads(X, dQ, dK, dV, O, dZ):
    return {"W_Q": X.T @ dQ, "W_K": X.T @ dK, "W_V": X.T @ dV, "W_O": O.T @ dZ}


def _r(Q):
    return np.sqrt(Q.shape[1])


# --------------------------------------------------------------------------- check_query_key_grads
def test_query_key_book_answer_passes():
    result = check_query_key_grads(book_query_key_grads)
    assert result.passed and bool(result)
    assert result.message == "query/key gradients: dQ and dK correct on all 6 cases."


def test_query_key_accepts_a_list_pair():
    assert check_query_key_grads(lambda G, Q, K: list(book_query_key_grads(G, Q, K))).passed


QK_MISTAKES = {  # name: (wrong function, words of the expected hint, the output it names)
    "missing scale": (lambda G, Q, K: (G @ K, G.T @ Q), "1/sqrt(d_k) of the scores is missing", "(dQ)"),
    "missing scale in dK only": (
        lambda G, Q, K: (G @ K / _r(Q), G.T @ Q), "1/sqrt(d_k) of the scores is missing", "(dK)"),
    "swapped": (lambda G, Q, K: book_query_key_grads(G, Q, K)[::-1], "dQ and dK are swapped", "(dQ)"),
    "sign": (lambda G, Q, K: tuple(-a for a in book_query_key_grads(G, Q, K)), "sign is flipped", "(dQ)"),
    "G instead of G^T in dK": (
        lambda G, Q, K: (G @ K / _r(Q), G @ Q / _r(Q)), "index of G is transposed", "(dK)"),
    "G^T instead of G in dQ": (
        lambda G, Q, K: (G.T @ K / _r(Q), G.T @ Q / _r(Q)), "index of G is transposed", "(dQ)"),
    "multiplied by sqrt(d_k)": (
        lambda G, Q, K: (G @ K * _r(Q), G.T @ Q * _r(Q)), "multiplies instead of dividing", "(dQ)"),
    "divided by d_k": (
        lambda G, Q, K: (G @ K / Q.shape[1], G.T @ Q / Q.shape[1]), "divided by d_k", "(dQ)"),
}


@pytest.mark.parametrize("name", list(QK_MISTAKES))
def test_query_key_mistakes_are_recognised(name):
    fn, hint, part = QK_MISTAKES[name]
    result = check_query_key_grads(fn)
    assert not result.passed
    assert hint in result.message, result.message
    assert part in result.message and "Hint:" in result.message
    assert "\n" not in result.message


def test_query_key_stub():
    def stub(G, Q, K):
        raise NotImplementedError

    assert check_query_key_grads(stub).message == (
        "query/key gradients: not implemented yet (the stub raises NotImplementedError)."
    )


def test_query_key_exception_is_one_line():
    result = check_query_key_grads(lambda G, Q, K: (G @ Q.T, None))
    assert not result.passed
    assert "raised ValueError" in result.message and "\n" not in result.message
    assert result.message.startswith("query/key gradients: case '")


def test_query_key_wrong_shape_is_reported():
    result = check_query_key_grads(lambda G, Q, K: ((G @ K).T, G.T @ Q))
    assert not result.passed
    assert "expected shape (5, 3), got (3, 5)" in result.message and "transposed" in result.message


def test_query_key_not_a_pair_is_reported():
    result = check_query_key_grads(lambda G, Q, K: G @ K)
    assert "returned an object of type ndarray; return the pair (dQ, dK)" in result.message
    result = check_query_key_grads(lambda G, Q, K: (G @ K, G.T @ Q, 0))
    assert "returned a tuple of length 3" in result.message


def test_query_key_checker_does_not_share_arrays_with_the_student():
    def vandal(G, Q, K):
        out = book_query_key_grads(G, Q, K)
        G[:] = 0.0
        Q[:] = 0.0
        return out

    assert check_query_key_grads(vandal).passed


def test_query_key_rejects_non_callables():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_query_key_grads(42)


# --------------------------------------------------------------------------- check_weight_grads
def test_weight_book_answer_passes():
    result = check_weight_grads(book_weight_grads)
    assert result.passed
    assert result.message == "weight gradients: all four correct on all 6 cases."


def _with(**changes):
    def fn(X, dQ, dK, dV, O, dZ):
        out = book_weight_grads(X, dQ, dK, dV, O, dZ)
        for key, make in changes.items():
            out[key] = make(X, dQ, dK, dV, O, dZ)
        return out

    return fn


W_MISTAKES = {
    "W_Q transposed (dY^T X)": (_with(W_Q=lambda X, dQ, dK, dV, O, dZ: dQ.T @ X), "W_Q is transposed", "(W_Q)"),
    "W_O transposed": (_with(W_O=lambda X, dQ, dK, dV, O, dZ: dZ.T @ O), "W_O is transposed", "(W_O)"),
    "forgot X^T in W_K": (_with(W_K=lambda X, dQ, dK, dV, O, dZ: dK), "the X^T is missing", "(W_K)"),
    "forgot O^T in W_O": (_with(W_O=lambda X, dQ, dK, dV, O, dZ: dZ), "the O^T is missing", "(W_O)"),
    "sign of W_V": (_with(W_V=lambda X, dQ, dK, dV, O, dZ: -X.T @ dV), "sign is flipped", "(W_V)"),
    "X instead of O for W_O": (
        _with(W_O=lambda X, dQ, dK, dV, O, dZ: X.T @ dZ), "multiplies the head output O", "(W_O)"),
    "dK for W_Q": (_with(W_Q=lambda X, dQ, dK, dV, O, dZ: X.T @ dK), "multiplies the wrong gradient", "(W_Q)"),
}


@pytest.mark.parametrize("name", list(W_MISTAKES))
def test_weight_mistakes_are_recognised(name):
    fn, hint, part = W_MISTAKES[name]
    result = check_weight_grads(fn)
    assert not result.passed
    assert hint in result.message, result.message
    assert part in result.message and "Hint:" in result.message


@pytest.mark.parametrize(
    "change, hint",
    [
        ({"W_Q": lambda X, dQ, dK, dV, O, dZ: dQ.T @ X}, "transposed"),
        ({"W_K": lambda X, dQ, dK, dV, O, dZ: dK}, "that is the shape of dK; the X^T"),
        ({"W_O": lambda X, dQ, dK, dV, O, dZ: X.T @ dZ}, "W_O multiplies the head output O"),
        ({"W_V": lambda X, dQ, dK, dV, O, dZ: np.zeros((7, 7))}, ""),
    ],
)
def test_weight_wrong_shapes_are_reported(change, hint):
    # Drop the square case by answering correctly there, so the first failure is a shape mismatch.
    wrong = _with(**change)

    def fn(X, dQ, dK, dV, O, dZ):
        if X.shape == (3, 3) and dQ.shape == (3, 3):
            return book_weight_grads(X, dQ, dK, dV, O, dZ)
        return wrong(X, dQ, dK, dV, O, dZ)

    result = check_weight_grads(fn)
    assert not result.passed
    assert "expected shape" in result.message, result.message
    assert hint in result.message


def test_weight_stub_and_exception():
    def stub(*args):
        raise NotImplementedError

    assert check_weight_grads(stub).message == (
        "weight gradients: not implemented yet (the stub raises NotImplementedError)."
    )
    def broken(X, dQ, dK, dV, O, dZ):
        return {"W_Q": np.linalg.solve(np.zeros((2, 2)), np.ones(2))}  # singular matrix

    result = check_weight_grads(broken)
    assert not result.passed and "raised LinAlgError: Singular matrix" in result.message
    assert "\n" not in result.message
    assert result.message.startswith("weight gradients: case '")


def test_weight_container_problems_are_reported():
    assert "return a dict" in check_weight_grads(lambda *a: list(a)).message
    message = check_weight_grads(lambda X, dQ, dK, dV, O, dZ: {"W_Q": X.T @ dQ}).message
    assert "lacks the key(s) ['W_K', 'W_V', 'W_O']" in message


# --------------------------------------------------------------------------- plots
def test_cost_plots_only_draw_and_return_axes():
    fig, (a, b) = plt.subplots(1, 2)
    n = np.array([10.0, 100.0, 1000.0])
    assert flops_vs_length(n, {"q": n**2, "l": n}, slopes={2: 50.0}, mark=300, ax=a) is a
    assert a.get_xlabel() == "sequence length N" and a.get_ylabel() == "flops per training step"
    assert flops_by_line(["x", "y"], [10.0, 1e4], [False, True], ax=b, title="t") is b
    assert b.get_title() == "t" and b.get_xscale() == "log"
    with pytest.raises(ValueError, match="shape of n"):
        flops_vs_length(n, {"bad": [1.0, 2.0]}, ax=a)
    with pytest.raises(ValueError, match="positive"):
        flops_by_line(["x"], [0.0], [False], ax=b)
    plt.close(fig)
