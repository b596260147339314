r"""Checker for the code exercise of chapter 6 (the feedback loop in a toy).

* :func:`check_value_drift` checks ``fn(alpha, U, X, eta)``: how far every value
  moves in one gradient-descent step on :math:`W_V`,
  :math:`\Delta V = X\,\Delta W_V = -\eta\, X X^\top \alpha^\top U`
  (chapter 4, eq. ``value-wv``; chapter 6, eq. ``toy-value-step`` for one sequence).

Dimension names in shape comments: ``N`` positions, ``d_x`` input width,
``d_v`` value width.
"""

from __future__ import annotations

import numpy as np

from ...head.model import attention_mask, masked_softmax
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = ["check_value_drift", "value_drift"]


def value_drift(alpha, U, X, eta) -> np.ndarray:
    r"""The book's answer: :math:`\Delta V = -\eta\, X X^\top \alpha^\top U`.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
        Attention weights (rows sum to one, zero where masked).
    U : array_like, shape (N, d_v)
        Upstream gradients :math:`u_i = \partial L/\partial o_i` (with the mean loss's ``1/N``).
    X : array_like, shape (N, d_x)
        The inputs; the values are :math:`V = X W_V`.
    eta : float
        Learning rate of :math:`W_V`.

    Returns
    -------
    numpy.ndarray, shape (N, d_v)

    Examples
    --------
    >>> alpha = np.array([[1.0, 0.0], [0.5, 0.5]]); U = np.array([[1.0], [2.0]])
    >>> value_drift(alpha, U, np.eye(2), 0.1)  # one-hot inputs: X X^T = I, the value law itself
    array([[-0.2],
           [-0.1]])
    >>> value_drift(alpha, U, np.ones((2, 1)), 0.1)  # one shared input row: every value moves alike
    array([[-0.3],
           [-0.3]])
    """
    alpha = np.asarray(alpha, dtype=float)  # (N, N)
    U = np.asarray(U, dtype=float)  # (N, d_v)
    X = np.asarray(X, dtype=float)  # (N, d_x)
    dV = alpha.T @ U  # (N, d_v)  value law: dL/dV = alpha^T U
    dW_V = X.T @ dV  # (d_x, d_v)  dL/dW_V = X^T dL/dV
    return -float(eta) * X @ dW_V  # (N, d_v)  Delta V = X Delta W_V


def _attention(rng, n: int, causal: bool, scale: float = 1.5) -> np.ndarray:
    mask = attention_mask(n, causal=causal)  # (N, N)
    return masked_softmax(rng.normal(scale=scale, size=(n, n)), mask)  # (N, N)


def _toy_inputs(tokens, n_classes: int = 3) -> np.ndarray:
    n = len(tokens)
    X = np.zeros((n, n_classes + n))  # (N, C + N)
    X[np.arange(n), tokens] = 1.0
    X[np.arange(n), n_classes + np.arange(n)] = 1.0
    return X


def _cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473 + 6, case_set))
    cases = []
    for label, n, d_x, d_v, causal in [  # square X first: it tells Delta W_V and X^T X apart
        ("random causal N=4, d_x=4, d_v=3", 4, 4, 3, True),
        ("random causal N=5, d_x=8, d_v=2", 5, 8, 2, True),
        ("random non-causal N=4, d_x=3, d_v=2", 4, 3, 2, False),
        ("d_v=1, causal N=6, d_x=2", 6, 2, 1, True),
        ("d_x=1, causal N=3, d_v=2", 3, 1, 2, True),
    ]:
        U = rng.normal(size=(n, d_v)) / n  # (N, d_v)  carries the mean loss's 1/N
        X = rng.normal(size=(n, d_x))  # (N, d_x)
        cases.append(Case(label, (_attention(rng, n, causal), U, X, float(rng.uniform(0.2, 2.0)))))
    cases.append(Case("N=1 (alpha = [[1]]), d_x=3, d_v=2",
                      (np.ones((1, 1)), rng.normal(size=(1, 2)), rng.normal(size=(1, 3)), 0.7)))
    tokens = [2, 0, 1, 1, 0]
    cases.append(Case("the toy's one-hot inputs [e_c, e_j], causal N=5",
                      (_attention(rng, 5, True), rng.normal(size=(5, 2)) / 5, _toy_inputs(tokens), 1.0)))
    scores = 1e3 * rng.normal(size=(4, 4))  # (N, N)  huge scores: rows (nearly) one-hot
    cases.append(Case("huge scores (one-hot rows), non-causal N=4, d_x=5",
                      (masked_softmax(scores, np.ones((4, 4), bool)), rng.normal(size=(4, 2)),
                       rng.normal(size=(4, 5)), 0.5)))
    return cases


def _n(alpha) -> int:
    return np.shape(alpha)[0]


def _square_only(answer):
    """A mistake that only makes sense when X is square (d_x = N); nan elsewhere (never matches)."""

    def wrapped(a, U, X, eta):
        X = np.asarray(X, dtype=float)
        return answer(a, U, X, eta) if X.shape[0] == X.shape[1] else np.full(np.shape(U), np.nan)

    return wrapped


_MISTAKES = [
    Mistake(
        "the sign is flipped: dL/dW_V = X^T alpha^T U is the gradient; the descent step goes against it, "
        "Delta W_V = -eta X^T alpha^T U",
        lambda a, U, X, eta: -value_drift(a, U, X, eta),
    ),
    Mistake(
        "this is how the values would move if they were free parameters, -eta alpha^T U. The head "
        "learns W_V, not V: take the descent step on W_V (chapter 5 gives dL/dW_V) and work out how "
        "much it moves V = X W_V",
        lambda a, U, X, eta: -eta * (a.T @ U),
    ),
    Mistake(
        "transposed index: value j collects the u_i of the queries i that attend to it, alpha.T @ U; "
        "alpha @ U mixes the u_i the way the forward pass mixes values",
        lambda a, U, X, eta: -eta * X @ (X.T @ (a @ U)),
    ),
    Mistake(
        "the learning rate is missing: Delta V = -eta X X^T alpha^T U",
        lambda a, U, X, eta: -(X @ (X.T @ (a.T @ U))),
    ),
    Mistake(
        "divided by N once too often: u_i already carries the 1/N of the mean loss",
        lambda a, U, X, eta: value_drift(a, U, X, eta) / _n(a),
    ),
    Mistake(
        "this is Delta W_V = -eta X^T alpha^T U, the change of the weights; the values move by X Delta W_V",
        _square_only(lambda a, U, X, eta: -eta * X.T @ (a.T @ U)),
    ),
    Mistake(
        "X^T X is the (d_x, d_x) Gram matrix of the input features; the values need the (N, N) one between "
        "positions, X X^T (Delta V = X Delta W_V = -eta X X^T alpha^T U)",
        _square_only(lambda a, U, X, eta: -eta * (X.T @ X) @ (a.T @ U)),
    ),
]


def check_value_drift(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(alpha, U, X, eta)``: the change of the values :math:`V = X W_V` in one SGD step on :math:`W_V`.

    ``alpha`` is an ``(N, N)`` attention matrix, ``U`` the ``(N, d_v)`` upstream
    gradients (with the mean loss's ``1/N``), ``X`` the ``(N, d_x)`` inputs and
    ``eta`` the learning rate of :math:`W_V`. The answer is the ``(N, d_v)``
    matrix :math:`\Delta V = -\eta\, X X^\top \alpha^\top U`.

    Examples
    --------
    >>> from attnlib.teaching.exercises.ch06 import check_value_drift, value_drift
    >>> check_value_drift(value_drift)  # the book's own function: no credit  # doctest: +ELLIPSIS
    value drift: no credit: the answer runs the book's own ...; write the computation yourself.
    >>> print(check_value_drift(lambda alpha, U, X, eta: -eta * alpha.T @ U))  # doctest: +ELLIPSIS
    value drift: case 'random causal N=4, d_x=4, d_v=3' at entry [...]: ... Hint: this is how the values would move ...
    """
    return run_checker("value drift", fn, _cases(case_set), value_drift, _MISTAKES)
