"""Checkers for the exercises of chapter 1 (cross-entropy through a softmax)."""

from __future__ import annotations

import numpy as np

from ...head.softmax import cross_entropy_grad, softmax
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = ["check_cross_entropy_grad"]


def _cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473, case_set))
    cases = []
    for n, c in [(4, 3), (1, 5), (6, 2), (3, 8)]:
        Z = rng.normal(scale=2.0, size=(n, c))  # (N, C)
        y = rng.integers(0, c, size=n)  # (N,)
        cases.append(Case(f"random N={n}, C={c}", (Z, y)))
    cases.append(Case("huge logits N=2, C=3", (np.array([[1000.0, 999.0, 0.0], [-5.0, 800.0, 801.0]]), np.array([1, 2]))))
    cases.append(Case("equal logits N=3, C=4", (np.zeros((3, 4)), np.array([0, 3, 3]))))
    return cases


def check_cross_entropy_grad(fn, *, case_set: str = "public") -> CheckResult:
    """Check ``fn(Z, y)``: the gradient of the mean cross-entropy with respect to ``Z``.

    ``Z`` has shape ``(N, C)``, ``y`` holds ``N`` integer targets, and the answer
    must have the shape of ``Z``: ``(P - Y) / N`` (chapter 1, eq. ``ce-grad-mean``).

    With ``case_set="hidden"`` the random cases are drawn from other seeds (an
    assignment's hidden test); the edge cases stay.

    Examples
    --------
    >>> from attnlib.teaching.exercises import check_cross_entropy_grad
    >>> check_cross_entropy_grad(lambda Z, y: np.zeros_like(Z)).passed
    False
    >>> def mine(Z, y):
    ...     P = np.exp(Z - Z.max(axis=1, keepdims=True)); P /= P.sum(axis=1, keepdims=True)
    ...     P[np.arange(len(y)), y] -= 1.0
    ...     return P / len(y)
    >>> check_cross_entropy_grad(mine)
    cross-entropy gradient: correct on all 6 cases.
    >>> import attnlib
    >>> check_cross_entropy_grad(attnlib.cross_entropy_grad)
    cross-entropy gradient: no credit: the answer runs the book's own attnlib.head.softmax.cross_entropy_grad; write the computation yourself.
    """

    mistakes = [
        Mistake("the sign is flipped: the gradient is p - e_y, not e_y - p", lambda Z, y: -cross_entropy_grad(Z, y)),
        Mistake("the mean over N positions is missing its 1/N", lambda Z, y: cross_entropy_grad(Z, y) * len(y)),
        Mistake("e_y is missing: subtract 1 at the target class", lambda Z, y: softmax(Z) / len(y)),
        Mistake("e_y is missing and so is the 1/N", lambda Z, y: softmax(Z)),
    ]
    return run_checker("cross-entropy gradient", fn, _cases(case_set), cross_entropy_grad, mistakes)
