r"""Checker for the code exercise of chapter 7 (the M-step with the attention fixed).

* :func:`check_m_step_grad` checks ``fn(alpha, X, W_V, W_O, y)``, the gradient
  of the mean cross-entropy with respect to ``W_V`` when the attention is
  held fixed: :math:`F^\top \frac{P - Y}{N} W_O^\top` with :math:`F = \alpha X`
  and :math:`P = \operatorname{softmax}(F W_V W_O)` row by row (chapter 7,
  eqs. ``em-features`` and ``em-mstep-grad-wv``).

Dimension names in shape comments: ``N`` positions, ``d_x`` input width,
``d_v`` value width, ``C`` classes.
"""

from __future__ import annotations

import numpy as np

from ...laws.em import m_step_features, m_step_grads
from ...head.model import attention_mask, causal_mask, masked_softmax
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = ["check_m_step_grad"]


def _reference(alpha, X, W_V, W_O, y) -> np.ndarray:
    return m_step_grads(m_step_features(alpha, X), y, W_V, W_O)[0]  # (d_x, d_v)


def _attention(rng, n: int, causal: bool, scale: float = 1.5) -> np.ndarray:
    mask = attention_mask(n, causal=causal)  # (N, N)
    return masked_softmax(rng.normal(scale=scale, size=(n, n)), mask)  # (N, N)


def _cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473 + 7, case_set))
    cases = []
    for label, n, d_x, d_v, C, causal in [
        ("random causal N=6, d_x=4, d_v=3, C=5", 6, 4, 3, 5, True),
        ("random non-causal N=5, d_x=3, d_v=2, C=4", 5, 3, 2, 4, False),
        ("d_x=1, d_v=1, causal N=4, C=3", 4, 1, 1, 3, True),
    ]:
        cases.append(Case(label, (
            _attention(rng, n, causal),
            rng.normal(size=(n, d_x)),  # (N, d_x)
            rng.normal(scale=0.8, size=(d_x, d_v)),  # (d_x, d_v)
            rng.normal(scale=0.8, size=(d_v, C)),  # (d_v, C)
            rng.integers(0, C, size=n),  # (N,)
        )))
    cases.append(Case("N=1 (alpha = [[1]]), d_x=3, d_v=2, C=3", (
        np.ones((1, 1)), rng.normal(size=(1, 3)), rng.normal(size=(3, 2)),
        rng.normal(size=(2, 3)), np.array([2]),
    )))
    scores = 1e3 * rng.normal(size=(5, 5))  # (N, N)  huge scores: rows (nearly) one-hot
    cases.append(Case("huge scores (one-hot attention rows), causal N=5", (
        masked_softmax(scores, causal_mask(5)), rng.normal(size=(5, 3)),
        rng.normal(size=(3, 2)), rng.normal(size=(2, 4)), rng.integers(0, 4, size=5),
    )))
    cases.append(Case("huge logits (W_O of size 1e3), causal N=4", (
        _attention(rng, 4, True), rng.normal(size=(4, 3)), rng.normal(size=(3, 2)),
        1e3 * rng.normal(size=(2, 3)), np.array([0, 1, 2, 0]),
    )))
    return cases


def _stable_softmax(Z, axis):
    shifted = Z - Z.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def _grad_with(features, probs_axis=1, scale=None, sign=1.0):
    """A wrong answer: given features F, the softmax axis, the 1/N and the sign."""

    def answer(alpha, X, W_V, W_O, y):
        F = features(alpha, X)  # (N, d_x)
        n = F.shape[0]
        dz = _stable_softmax(F @ W_V @ W_O, probs_axis)  # (N, C)
        dz[np.arange(n), y] -= 1.0  # (N, C)  P - Y
        dz = dz / n if scale is None else dz * scale(n)
        return sign * (F.T @ dz @ W_O.T)  # (d_x, d_v)

    return answer


_MISTAKES = [
    Mistake(
        "transposed index: the M-step features are f_i = sum_j alpha_ij x_j, i.e. "
        "alpha @ X (query i mixes the inputs it attends to); alpha.T @ X collects "
        "over queries, the way the value gradient does, which is a different matrix",
        _grad_with(lambda a, X: a.T @ X),
    ),
    Mistake(
        "the attention is missing: with alpha fixed the head computes "
        "O = alpha X W_V, so the features are F = alpha X, not X",
        _grad_with(lambda a, X: X),
    ),
    Mistake(
        "the 1/N of the mean loss is missing: dL/dZ = (P - Y) / N",
        _grad_with(lambda a, X: a @ X, scale=lambda n: 1.0),
    ),
    Mistake(
        "divided by N twice: (P - Y) / N already carries the mean loss's 1/N",
        _grad_with(lambda a, X: a @ X, scale=lambda n: 1.0 / n**2),
    ),
    Mistake(
        "the sign is flipped: the gradient is F^T (P - Y) W_O^T / N; (Y - P) gives the "
        "descent direction, which is minus the gradient",
        _grad_with(lambda a, X: a @ X, sign=-1.0),
    ),
    Mistake(
        "the softmax runs over the wrong axis: p_i = softmax(z_i) normalises each row "
        "(over the C classes, axis=1), not each column (over positions)",
        _grad_with(lambda a, X: a @ X, probs_axis=0),
    ),
]


def check_m_step_grad(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(alpha, X, W_V, W_O, y)``: ``dL/dW_V`` with the attention fixed.

    ``alpha`` is an ``(N, N)`` attention matrix (rows sum to one, zero where
    masked), ``X`` the ``(N, d_x)`` inputs, ``W_V`` ``(d_x, d_v)``, ``W_O``
    ``(d_v, C)`` and ``y`` the ``N`` targets. The answer is the ``(d_x, d_v)``
    matrix :math:`F^\top (P - Y) W_O^\top / N` with :math:`F = \alpha X` and
    :math:`P` the row softmax of :math:`F W_V W_O` (chapter 7, eq.
    ``em-mstep-grad-wv``). Cases include ``N = 1``, ``d_x = d_v = 1``, a
    non-causal head, one-hot attention rows and logits in the thousands.

    Examples
    --------
    >>> from attnlib.teaching.exercises.ch07 import check_m_step_grad, _reference
    >>> check_m_step_grad(_reference)  # the book's own function: no credit  # doctest: +ELLIPSIS
    M-step gradient: no credit: the answer runs the book's own ...; write the computation yourself.
    >>> wrong = lambda alpha, X, W_V, W_O, y: _reference(alpha.T, X, W_V, W_O, y)
    >>> print(check_m_step_grad(wrong))  # doctest: +ELLIPSIS
    M-step gradient: case 'random causal ...' ... Hint: transposed index: ...
    """
    return run_checker("M-step gradient", fn, _cases(case_set), _reference, _MISTAKES,
                       answers=(m_step_grads,))
