r"""Checkers for the exercises of chapter 4 (responsibility-weighted value updates).

* :func:`check_value_grad` checks ``fn(alpha, U)``, the value law
  :math:`\partial L/\partial V = \alpha^\top U` (eq. ``value-law-matrix``).
* :func:`check_weighted_mean` checks ``fn(R, T)``, the responsibility-weighted
  mean :math:`m_k = \sum_i R_{ik} t_i / \sum_i R_{ik}` that a Gaussian-mixture
  M-step and the value targets share (eqs. ``value-gmm-mstep``, ``value-target``).

Dimension names in shape comments: ``N`` positions, ``d_v`` value width,
``K`` columns (components), ``d`` row width.
"""

from __future__ import annotations

import numpy as np

from ...head.model import attention_mask, masked_softmax
from ...laws.responsibility import column_usage, responsibility_weighted_mean, value_grad
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = ["check_value_grad", "check_weighted_mean"]


# --------------------------------------------------------------------------- value_grad
def _attention(rng, n: int, causal: bool, scale: float = 1.5) -> np.ndarray:
    mask = attention_mask(n, causal=causal)  # (N, N)
    return masked_softmax(rng.normal(scale=scale, size=(n, n)), mask)  # (N, N)


def _value_cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473 + 4, case_set))
    cases = []
    for label, n, d_v, causal in [
        ("random causal N=5, d_v=3", 5, 3, True),
        ("random non-causal N=4, d_v=2", 4, 2, False),
        ("d_v=1, causal N=6", 6, 1, True),
    ]:
        U = rng.normal(size=(n, d_v)) / n  # (N, d_v)  u_i carries the 1/N of the mean loss
        cases.append(Case(label, (_attention(rng, n, causal), U)))
    cases.append(Case("N=1 (alpha = [[1]]), d_v=3", (np.ones((1, 1)), rng.normal(size=(1, 3)))))
    one_hot = np.eye(5)[[0, 0, 1, 0, 2]]  # (N, N)  query i attends only to key picks[i] <= i
    cases.append(Case("one-hot attention rows, causal N=5", (one_hot, rng.normal(size=(5, 2)) / 5)))
    scores = 1e3 * rng.normal(size=(4, 4))  # (N, N)  huge scores: rows (nearly) one-hot
    alpha = masked_softmax(scores, np.ones((4, 4), bool))  # (N, N)
    cases.append(Case("huge scores, non-causal N=4", (alpha, rng.normal(size=(4, 2)))))
    return cases


def _n(alpha) -> int:
    return np.shape(alpha)[0]


_VALUE_MISTAKES = [
    Mistake(
        "transposed index: value j collects from every query i that attends to it, so the sum runs over the "
        "first index of alpha_ij: alpha.T @ U. alpha @ U mixes the u_i the way the forward pass mixes values",
        lambda a, U: a @ U,
    ),
    Mistake(
        "the sign is flipped: dL/dv_j = +sum_i alpha_ij u_i; the minus sign belongs to the descent step "
        "Delta v_j = -eta dL/dv_j",
        lambda a, U: -(a.T @ U),
    ),
    Mistake(
        "the result is divided by the column usage c_j = sum_i alpha_ij: that is the responsibility-weighted "
        "mean of the u_i (an M-step-like target), not the gradient, which is not normalised",
        lambda a, U: (a.T @ U) / column_usage(a)[:, None],
    ),
    Mistake(
        "divided by N once too often: u_i = dL/do_i of the mean loss already carries the 1/N",
        lambda a, U: (a.T @ U) / _n(a),
    ),
    Mistake(
        "multiplied by N: u_i is the upstream gradient of the mean loss, its 1/N must stay",
        lambda a, U: (a.T @ U) * _n(a),
    ),
    Mistake(
        "the attention weights are missing: each query's u_i counts with weight alpha_ij, not 1 "
        "for every query that can see value j",
        lambda a, U: (a > 0).astype(float).T @ U,
    ),
    Mistake("the transposed index and a flipped sign", lambda a, U: -(a @ U)),
]


def check_value_grad(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(alpha, U)``: the gradient of the loss with respect to the values.

    ``alpha`` is an ``(N, N)`` attention matrix (rows sum to one, zero where
    masked) and ``U`` the ``(N, d_v)`` upstream gradients :math:`u_i = \partial L/\partial o_i`,
    which already carry the ``1/N`` of the mean loss. The answer must be the
    ``(N, d_v)`` matrix whose row ``j`` is :math:`\sum_i \alpha_{ij} u_i`
    (chapter 4, eq. ``value-law-matrix``).

    Examples
    --------
    >>> from attnlib.teaching.exercises.ch04 import check_value_grad
    >>> check_value_grad(lambda alpha, U: alpha.T @ U)
    value gradient: correct on all 6 cases.
    >>> print(check_value_grad(lambda alpha, U: alpha @ U))  # doctest: +ELLIPSIS
    value gradient: case 'random causal N=5, d_v=3' at entry [...]: expected ..., got .... Hint: transposed index: ...
    """
    return run_checker("value gradient", fn, _value_cases(case_set), value_grad, _VALUE_MISTAKES)


# --------------------------------------------------------------------------- weighted mean
def _mean_cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473 + 40, case_set))
    cases = []
    alpha = _attention(rng, 5, True)  # (N, N)  square: rows are queries, columns values
    cases.append(Case("attention as R (causal N=5), T = -U", (alpha, -rng.normal(size=(5, 2)) / 5)))
    R = masked_softmax(rng.normal(scale=2.0, size=(8, 3)), np.ones((8, 3), bool))  # (N, K)
    cases.append(Case("mixture responsibilities N=8, K=3, d=2", (R, rng.normal(scale=3.0, size=(8, 2)))))
    R = np.eye(3)[[0, 2, 0, 2]]  # (N, K)  nobody is responsible for component 1
    cases.append(Case("unused column: one-hot rows never pick k=1 (N=4, K=3)", (R, rng.normal(size=(4, 2)))))
    cases.append(Case("N=1, K=2, d=3", (np.array([[0.3, 0.7]]), rng.normal(size=(1, 3)))))
    cases.append(Case("d=1, K=1 (one component takes everything)", (np.ones((6, 1)), rng.normal(size=(6, 1)))))
    R = masked_softmax(rng.normal(size=(5, 4)), np.ones((5, 4), bool)) * 1e-120  # (N, K)
    cases.append(Case("tiny responsibilities (1e-120 scale) N=5, K=4", (R, rng.normal(size=(5, 3)))))
    return cases


def _weighted_mean(R, T) -> np.ndarray:
    return responsibility_weighted_mean(R, T)  # (K, d)


def _finite_or_explain(fn):
    """Turn a nan/inf answer (0/0 in an unused column) into a precise one-line message."""

    def wrapped(R, T):
        with np.errstate(divide="ignore", invalid="ignore"):
            got = fn(R, T)
        try:
            array = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return got
        if array.shape == (np.shape(R)[1], np.shape(T)[1]) and not np.all(np.isfinite(array)):
            k = int(np.argwhere(~np.isfinite(array))[0][0])
            raise FloatingPointError(
                f"the answer is {array[k].tolist()} in row {k}, whose column of R sums to "
                f"{float(np.sum(np.asarray(R)[:, k])):.3g}; a column nobody is responsible for gives 0/0: "
                "return zeros there (e.g. divide by np.where(N_k > 0, N_k, 1))"
            )
        return got

    return wrapped


def _safe_totals(R) -> np.ndarray:
    """Column totals ``N_k`` with zeros replaced by one (so a mistake's answer stays finite)."""
    totals = np.asarray(R, dtype=float).sum(axis=0)  # (K,)
    return np.where(totals > 0, totals, 1.0)  # (K,)


def _zeros_if_tiny(R, T) -> np.ndarray:
    """Zeros in the tiny-responsibility case (what ``N_k + eps`` gives there); never matches elsewhere."""
    shape = (np.shape(R)[1], np.shape(T)[1])
    return np.zeros(shape) if float(np.sum(R)) < 1e-100 else np.full(shape, np.nan)


_MEAN_MISTAKES = [
    Mistake(
        "the answer vanishes where the column totals are tiny but not zero: a small constant added to N_k "
        "swamps them; divide by N_k wherever N_k > 0 and use zeros only where N_k == 0",
        _zeros_if_tiny,
    ),
    Mistake(
        "the sum is not normalised: divide column k's weighted sum by its own total N_k = sum_i R_ik",
        lambda R, T: R.T @ T,
    ),
    Mistake(
        "normalised by N (the grand total of the responsibilities), not by each column's own total "
        "N_k = sum_i R_ik",
        lambda R, T: (R.T @ T) / R.shape[0],
    ),
    Mistake(
        "transposed index: the mean for column k sums over the rows i of R (R.T @ T); "
        "R @ T sums over the columns of each row instead",
        lambda R, T: (R @ T) / _safe_totals(R)[:, None],
    ),
]


def check_weighted_mean(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(R, T)``: the responsibility-weighted mean of the rows of ``T`` under each column of ``R``.

    ``R`` is ``(N, K)`` and non-negative, ``T`` is ``(N, d)``; the answer is
    ``(K, d)`` with row :math:`m_k = \sum_i R_{ik} t_i / \sum_i R_{ik}`, and a
    row of zeros for a column whose total is exactly zero (chapter 4,
    eqs. ``value-gmm-mstep`` and ``value-target``).

    Examples
    --------
    >>> from attnlib.teaching.exercises.ch04 import check_weighted_mean
    >>> from attnlib.laws.responsibility import responsibility_weighted_mean
    >>> check_weighted_mean(responsibility_weighted_mean)  # the book's own function: no credit  # doctest: +ELLIPSIS
    weighted mean: no credit: the answer runs the book's own ...; write the computation yourself.
    >>> print(check_weighted_mean(lambda R, T: (R.T @ T) / R.sum(axis=0)[:, None]))  # doctest: +ELLIPSIS
    weighted mean: case 'unused column: ...' raised FloatingPointError: the answer is [nan, nan] in row 1, ...
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__} {fn!r}")
    return run_checker("weighted mean", _finite_or_explain(fn), _mean_cases(case_set), _weighted_mean, _MEAN_MISTAKES,
                       answers=(responsibility_weighted_mean,))
