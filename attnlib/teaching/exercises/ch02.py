r"""Checker for the code exercise of chapter 2 (the attention head and the softmax Jacobian):
a student's ``softmax_backward(alpha, g)`` against :func:`attnlib.softmax_backward`.

Dimension names in shape comments: ``N`` positions (queries and keys).
"""

from __future__ import annotations

import numpy as np

from ...head.model import attention_mask, causal_mask, masked_softmax
from ...head.softmax import softmax_backward
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = ["check_softmax_backward"]


# --------------------------------------------------------------------------- the checker
def _case(label: str, scores: np.ndarray, mask: np.ndarray, g: np.ndarray) -> Case:
    return Case(label, (masked_softmax(scores, mask), g))


def _cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473 + 2, case_set))
    cases = [
        _case("random causal N=5", rng.normal(scale=1.5, size=(5, 5)), causal_mask(5), rng.normal(size=(5, 5))),
        _case("random non-causal N=4", rng.normal(scale=1.5, size=(4, 4)), attention_mask(4, causal=False), rng.normal(size=(4, 4))),
        Case("N=1 (alpha = [[1]])", (np.ones((1, 1)), np.array([[0.7]]))),
    ]
    # Row 3 has one dominant key (alpha nearly one-hot); row 2 is exactly one-hot by underflow.
    scores = rng.normal(size=(4, 4))  # (N, N)
    scores[3, 1] += 40.0
    scores[2, 0] += 1000.0
    g = rng.normal(scale=3.0, size=(4, 4))  # (N, N)
    cases.append(_case("one dominant key, causal N=4", scores, causal_mask(4), g))
    # Large upstream values at masked keys (above the diagonal) must not leak into the answer.
    g = rng.normal(size=(6, 6))  # (N, N)
    g[~causal_mask(6)] = 1e3
    cases.append(_case("g = 1e3 at masked keys (alpha = 0), causal N=6", rng.normal(size=(6, 6)), causal_mask(6), g))
    cases.append(_case("uniform attention, non-causal N=3", np.zeros((3, 3)), attention_mask(3, causal=False), rng.normal(size=(3, 3))))
    return cases


def _expected(alpha, g):
    return (alpha * g).sum(axis=1, keepdims=True)  # (N, 1)


_MISTAKES = [
    Mistake(
        "the sign is flipped: dL/ds_ik = alpha_ik (g_ik - E_i), with E_i = sum_j alpha_ij g_ij, "
        "not alpha_ik (E_i - g_ik)",
        lambda a, g: -softmax_backward(a, g),
    ),
    Mistake(
        "the row expectation E_i = sum_j alpha_ij g_ij is not subtracted; it comes from the off-diagonal "
        "part -alpha_ij alpha_ik of the Jacobian, and without it the rows do not sum to zero",
        lambda a, g: a * g,
    ),
    Mistake(
        "the expectation is summed over the wrong index: E_i sums over the keys j of row i (axis=1), "
        "not over the queries of a column (axis=0)",
        lambda a, g: a * (g - (a * g).sum(axis=0, keepdims=True)),
    ),
    Mistake(
        "the row expectation E_i is broadcast along the wrong axis: an (N,) array subtracted from g "
        "takes E_k from column k; keep it as a column, E[:, None] or keepdims=True",
        lambda a, g: a * (g - (a * g).sum(axis=1)[None, :]),
    ),
    Mistake(
        "the leading factor alpha_ik is missing: the result must vanish wherever alpha_ik = 0 "
        "(masked keys included)",
        lambda a, g: g - _expected(a, g),
    ),
    Mistake(
        "the leading factor must be alpha_ik, from the same row i and column k as the entry; "
        "alpha_ki (a transposed alpha) was used",
        lambda a, g: a.T * (g - _expected(a, g)),
    ),
    Mistake(
        "the expectation must be weighted by attention, sum_j alpha_ij g_ij, not a plain mean of g over the row",
        lambda a, g: a * (g - g.mean(axis=1, keepdims=True)),
    ),
    Mistake(
        "only the diagonal of the Jacobian was used, alpha_ik (1 - alpha_ik) g_ik; the off-diagonal "
        "entries -alpha_ij alpha_ik bring in every other key j of the row",
        lambda a, g: a * (1 - a) * g,
    ),
]


def check_softmax_backward(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(alpha, g)``: the gradient with respect to the scores of a whole attention matrix.

    ``alpha`` is an ``(N, N)`` attention matrix (rows sum to one, zero where
    masked) and ``g`` the ``(N, N)`` upstream gradient ``dL/dalpha``; the
    answer must have shape ``(N, N)`` and equal
    :math:`\alpha_{ik}(g_{ik} - \sum_j \alpha_{ij} g_{ij})` (chapter 2, eq.
    ``attn-softmax-backward``). The cases include causal and non-causal
    matrices, ``N = 1``, a row with one dominant key, and large ``g`` at
    masked keys.

    With ``case_set="hidden"`` the random cases are drawn from other seeds (an
    assignment's hidden test); the edge cases stay.

    Examples
    --------
    >>> from attnlib import softmax_backward
    >>> check_softmax_backward(lambda alpha, g: alpha * (g - (alpha * g).sum(axis=1, keepdims=True)))
    softmax backward: correct on all 6 cases.
    >>> check_softmax_backward(softmax_backward)
    softmax backward: no credit: the answer runs the book's own attnlib.head.softmax.softmax_backward; write the computation yourself.
    >>> print(check_softmax_backward(lambda alpha, g: alpha * g))  # doctest: +ELLIPSIS
    softmax backward: case 'random causal N=5' at entry [...]: expected ..., got .... Hint: the row expectation ...
    """
    return run_checker("softmax backward", fn, _cases(case_set), softmax_backward, _MISTAKES)
