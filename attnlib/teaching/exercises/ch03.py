r"""Checkers for the exercises of chapter 3 (the advantage-based routing law).

Two functions, in the order a student writes them:

* ``score_grad(alpha, U, V)``: :math:`\partial L/\partial S` from the attention
  weights, the upstream gradients :math:`u_i` and the values :math:`v_j`
  (chapter 3, eq. ``route-law``);
* ``score_grad_from_probs(alpha, V, W_O, P, y)``: the same gradient when the
  starting point is the head's predictions :math:`P` and targets :math:`y`,
  so the upstream gradient :math:`U = (P - Y) W_O^\top / N` (eq.
  ``route-upstream``) must be built first, ``1/N`` included.
"""

from __future__ import annotations

import numpy as np

from ...head.gradients import backward
from ...head.model import attention_mask, forward, init_params, masked_softmax
from ...laws.routing import score_gradient
from ...head.softmax import softmax
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = [
    "check_score_grad",
    "check_score_grad_from_probs",
    "upstream_from_probs",
    "SCORE_GRAD_MISTAKES",
    "FROM_PROBS_MISTAKES",
]


# --------------------------------------------------------------------------- the book's answers
def upstream_from_probs(P, y, W_O) -> np.ndarray:
    r"""The upstream gradient :math:`U = (P - Y) W_O^\top / N` of the mean loss.

    Examples
    --------
    >>> upstream_from_probs(np.array([[0.5, 0.5]]), np.array([0]), np.eye(2))
    array([[-0.5,  0.5]])
    """
    P = np.asarray(P, dtype=float)  # (N, C)
    n = P.shape[0]
    error = P.copy()  # (N, C)
    error[np.arange(n), np.asarray(y)] -= 1.0  # (N, C)  P - Y
    return error @ np.asarray(W_O, dtype=float).T / n  # (N, d_v)


def _from_probs(alpha, V, W_O, P, y) -> np.ndarray:
    return score_gradient(alpha, upstream_from_probs(P, y, W_O), V)  # (N, N)


# --------------------------------------------------------------------------- known mistakes
def _b(U, V):
    return np.asarray(U, float) @ np.asarray(V, float).T  # (N, N)  b_ij = u_i . v_j


def _row_mean(alpha, b):
    return (alpha * b).sum(axis=1, keepdims=True)  # (N, 1)  E_{alpha_i}[b]


def _transposed_b(alpha, U, V):
    bt = _b(U, V).T  # (N, N)  b_ji
    return alpha * (bt - _row_mean(alpha, bt))


def _column_expectation(alpha, U, V):
    b = _b(U, V)  # (N, N)
    return alpha * (b - (alpha * b).sum(axis=0, keepdims=True))  # (1, N) expectation down a column


def _plain_mean(alpha, U, V):
    b = _b(U, V)  # (N, N)
    return alpha * (b - b.mean(axis=1, keepdims=True))


def _mean_over_attended(alpha, U, V):
    b = _b(U, V)  # (N, N)
    attended = alpha > 0  # (N, N)
    mean = np.where(attended, b, 0.0).sum(axis=1, keepdims=True) / attended.sum(axis=1, keepdims=True)  # (N, 1)
    return alpha * (b - mean)


_SIGN = (
    "the sign is flipped: that is alpha_ij A_ij, the advantage-weighted form. The gradient is "
    "dL/ds_ij = alpha_ij (b_ij - E[b]) = -alpha_ij A_ij (a descent step then adds +eta alpha_ij A_ij)"
)

#: Mistakes recognised by :func:`check_score_grad`, each ``Mistake(hint, answer(alpha, U, V))``.
SCORE_GRAD_MISTAKES = [
    Mistake(_SIGN, lambda alpha, U, V: -score_gradient(alpha, U, V)),
    Mistake(
        "E_{alpha_i}[b] is not subtracted: dL/ds_ij = alpha_ij (b_ij - E_{alpha_i}[b]), and without the "
        "baseline the rows no longer sum to zero",
        lambda alpha, U, V: alpha * _b(U, V),
    ),
    Mistake(
        "two things: the sign is flipped and E_{alpha_i}[b] is not subtracted; the gradient is "
        "alpha_ij (b_ij - E_{alpha_i}[b])",
        lambda alpha, U, V: -alpha * _b(U, V),
    ),
    Mistake(
        "the factor alpha_ij in front is missing (the softmax Jacobian alpha_ij (delta_jk - alpha_ik) brings "
        "it); without it masked entries are not zero and rarely attended keys get full-size steps",
        lambda alpha, U, V: _b(U, V) - _row_mean(alpha, _b(U, V)),
    ),
    Mistake(
        "E_{alpha_i}[b] is the attention-weighted average sum_j alpha_ij b_ij over query i's keys, "
        "not a plain mean of b_ij",
        _plain_mean,
    ),
    Mistake(
        "E_{alpha_i}[b] is the attention-weighted average sum_j alpha_ij b_ij over query i's keys, "
        "not a plain mean of b_ij",
        _mean_over_attended,
    ),
    Mistake(
        "the expectation runs over the keys j in query i's row (sum over axis 1, keepdims=True), not over "
        "the queries of a column",
        _column_expectation,
    ),
    Mistake(
        "b_ij = u_i . v_j is U @ V.T (row i: query i's error signal against every value); you used "
        "V @ U.T, i.e. b_ji",
        _transposed_b,
    ),
    Mistake(
        "the answer is transposed: rows are queries i and columns are keys j, like alpha",
        lambda alpha, U, V: score_gradient(alpha, U, V).T,
    ),
    Mistake(
        "U already carries the 1/N of the mean loss; do not divide by N again",
        lambda alpha, U, V: score_gradient(alpha, U, V) / len(U),
    ),
]


def _upstream_wrong(P, y, W_O, *, scale=1.0, sign=1.0, onehot=True, transpose=True):
    P = np.asarray(P, dtype=float)  # (N, C)
    n = P.shape[0]
    error = P.copy()  # (N, C)
    if onehot:
        error[np.arange(n), np.asarray(y)] -= 1.0
    W_O = np.asarray(W_O, dtype=float)  # (d_v, C)
    readout = W_O.T if transpose else W_O
    if error.shape[1] != readout.shape[0]:
        return None
    return sign * scale * error @ readout / n  # (N, d_v)


def _route(alpha, V, U):
    if U is None or U.shape[1] != np.shape(V)[1]:
        return np.full(np.shape(alpha), np.nan)  # this mistake cannot produce an answer here
    return score_gradient(alpha, U, V)


#: Mistakes recognised by :func:`check_score_grad_from_probs`, ``answer(alpha, V, W_O, P, y)``.
FROM_PROBS_MISTAKES = [
    Mistake(
        "the mean loss carries 1/N: u_i = (p_i - e_{y_i}) W_O^T / N (the paper's per-position form drops "
        "it; the book's mean loss keeps it)",
        lambda alpha, V, W_O, P, y: _route(alpha, V, _upstream_wrong(P, y, W_O, scale=len(P))),
    ),
    Mistake(
        "the sign is flipped: the error signal is p_i - e_{y_i} (prediction minus target, chapter 1), and "
        "dL/ds_ij = alpha_ij (b_ij - E[b])",
        lambda alpha, V, W_O, P, y: _route(alpha, V, _upstream_wrong(P, y, W_O, sign=-1.0)),
    ),
    Mistake(
        "two things: the sign is flipped (use p_i - e_{y_i}) and the 1/N of the mean loss is missing",
        lambda alpha, V, W_O, P, y: _route(alpha, V, _upstream_wrong(P, y, W_O, sign=-1.0, scale=len(P))),
    ),
    Mistake(
        "the target is missing: the error signal is p_i - e_{y_i}, so subtract 1 at each position's target",
        lambda alpha, V, W_O, P, y: _route(alpha, V, _upstream_wrong(P, y, W_O, onehot=False)),
    ),
    Mistake(
        "W_O has shape (d_v, C): z_i = o_i W_O sends the class error back through its transpose, "
        "u_i = (p_i - e_{y_i}) W_O^T / N",
        lambda alpha, V, W_O, P, y: _route(alpha, V, _upstream_wrong(P, y, W_O, transpose=False)),
    ),
]


# --------------------------------------------------------------------------- cases
def _random_alpha(rng, n, causal, scale):
    scores = rng.normal(scale=scale, size=(n, n))  # (N, N)
    mask = attention_mask(n, causal=causal)  # (N, N)
    return masked_softmax(scores, mask)  # (N, N)


def _head_case(seed, n, d_v, n_classes, causal):
    rng = np.random.default_rng(seed)
    params = init_params(4, 3, d_v, n_classes, scale=0.8, rng=rng)
    X = rng.standard_normal((n, 4))  # (N, d_x)
    y = rng.integers(0, n_classes, size=n)  # (N,)
    cache = forward(params, X, causal=causal)
    grads = backward(params, cache, y)
    return params, cache, grads, y


def _score_grad_cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473_3, case_set))
    cases = []
    _, cache, grads, _ = _head_case(case_seed(3, case_set), 6, 3, 4, causal=True)
    cases.append(Case("a causal head's own alpha, U, V (N=6, d_v=3)", (cache.attn, grads.upstream, cache.values)))
    for label, n, d_v, causal, scale in [
        ("random causal N=5, d_v=3", 5, 3, True, 1.5),
        ("random non-causal N=4, d_v=2", 4, 2, False, 1.5),
        ("one position N=1", 1, 3, True, 1.0),
        ("d_v=1 non-causal N=3", 3, 1, False, 1.0),
        ("huge scores (near one-hot rows) causal N=5", 5, 2, True, 40.0),
    ]:
        alpha = _random_alpha(rng, n, causal, scale)  # (N, N)
        U = rng.normal(scale=0.3, size=(n, d_v))  # (N, d_v)
        V = rng.normal(size=(n, d_v))  # (N, d_v)
        cases.append(Case(label, (alpha, U, V)))
    return cases


def _from_probs_cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473_4, case_set))
    cases = []
    params, cache, _, y = _head_case(case_seed(5, case_set), 6, 3, 3, causal=True)
    cases.append(Case("a causal head (N=6, d_v=C=3)", (cache.attn, cache.values, params.W_O, cache.probs, y)))
    for label, n, d_v, n_classes, causal, scale in [
        ("random non-causal N=4, d_v=2, C=5", 4, 2, 5, False, 1.5),
        ("one position N=1, C=3", 1, 2, 3, True, 1.0),
        ("d_v=1 causal N=3, C=2", 3, 1, 2, True, 1.0),
        ("huge scores (near one-hot rows) causal N=5, C=4", 5, 3, 4, True, 40.0),
    ]:
        alpha = _random_alpha(rng, n, causal, scale)  # (N, N)
        V = rng.normal(size=(n, d_v))  # (N, d_v)
        W_O = rng.normal(size=(d_v, n_classes))  # (d_v, C)
        P = softmax(rng.normal(scale=2.0, size=(n, n_classes)))  # (N, C)
        y = rng.integers(0, n_classes, size=n)  # (N,)
        cases.append(Case(label, (alpha, V, W_O, P, y)))
    return cases


# --------------------------------------------------------------------------- checkers
def check_score_grad(fn, *, case_set: str = "public") -> CheckResult:
    """Check ``fn(alpha, U, V)``: the gradient of the loss with respect to the scores.

    ``alpha`` is ``(N, N)`` (rows are probability vectors, zero where masked),
    ``U`` holds the upstream gradients ``u_i = dL/do_i`` as rows ``(N, d_v)``,
    1/N included, and ``V`` the values ``(N, d_v)``. The answer has the shape
    of ``alpha`` and is zero wherever ``alpha`` is (chapter 3, eq. ``route-law``).

    With ``case_set="hidden"`` the random cases are drawn from other seeds (an
    assignment's hidden test); the edge cases stay.

    Examples
    --------
    >>> from attnlib.teaching.exercises.ch03 import check_score_grad
    >>> from attnlib.laws.routing import score_gradient
    >>> def mine(alpha, U, V):
    ...     b = U @ V.T
    ...     return alpha * (b - (alpha * b).sum(axis=1, keepdims=True))
    >>> check_score_grad(mine)
    routing law dL/ds: correct on all 6 cases.
    >>> check_score_grad(score_gradient).passed  # the package's own function gets no credit
    False
    >>> check_score_grad(lambda alpha, U, V: -score_gradient(alpha, U, V)).passed
    False
    """
    return run_checker("routing law dL/ds", fn, _score_grad_cases(case_set), score_gradient, SCORE_GRAD_MISTAKES)


def check_score_grad_from_probs(fn, *, case_set: str = "public") -> CheckResult:
    """Check ``fn(alpha, V, W_O, P, y)``: dL/ds starting from the head's predictions.

    ``P`` is ``(N, C)`` (the softmax of the logits), ``y`` the ``N`` integer
    targets and ``W_O`` the ``(d_v, C)`` read-out; the loss is the mean
    cross-entropy over the ``N`` positions. The answer has the shape of
    ``alpha``.

    With ``case_set="hidden"`` the random cases are drawn from other seeds (an
    assignment's hidden test); the edge cases stay.

    Examples
    --------
    >>> from attnlib.teaching.exercises.ch03 import check_score_grad_from_probs, upstream_from_probs
    >>> from attnlib.laws.routing import score_gradient
    >>> check_score_grad_from_probs(lambda alpha, V, W_O, P, y:
    ...     score_gradient(alpha, upstream_from_probs(P, y, W_O), V))  # doctest: +ELLIPSIS
    routing law from P and y: no credit: the answer runs the book's own ...; write the computation yourself.
    """
    return run_checker("routing law from P and y", fn, _from_probs_cases(case_set), _from_probs, FROM_PROBS_MISTAKES,
                       answers=(score_gradient, upstream_from_probs))
