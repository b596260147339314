r"""Checker for the code exercise of chapter 10 (the LayerNorm backward pass).

* :func:`check_layer_norm_backward` checks ``fn(A, dV, eps)``, the gradient
  ``dL/dA`` through ``V = LN(A)`` row by row, where
  :math:`\mathrm{LN}(a) = (a - \bar a)/\sqrt{\sigma^2 + \epsilon}` with the
  biased variance and no gain or bias (chapter 10, eq. ``beyond-ln-backward``):

  .. math::

      \frac{\partial L}{\partial a} = \frac1s\Bigl(g - \bar g\,\mathbf 1 - \frac{g\cdot v}{d}\,v\Bigr),
      \qquad s = \sqrt{\sigma^2 + \epsilon},\quad g = \frac{\partial L}{\partial v} .

Dimension names in shape comments: ``N`` rows, ``d`` width.
"""

from __future__ import annotations

import numpy as np

from ...dynamics.variants import layer_norm_backward
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = ["check_layer_norm_backward"]


def _reference(A, dV, eps) -> np.ndarray:
    return layer_norm_backward(A, dV, eps)  # (N, d)


def _cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473 + 10, case_set))
    cases = []
    for label, n, d, scale, eps in [
        ("random N=4, d=5, eps=0.1", 4, 5, 1.0, 0.1),
        ("random N=6, d=3, eps=1e-5", 6, 3, 1.0, 1e-5),
        ("N=1, d=4, eps=1e-5", 1, 4, 1.0, 1e-5),
        ("tiny rows (variance below eps), N=3, d=5, eps=1e-5", 3, 5, 1e-3, 1e-5),
        ("huge rows (scale 1e3), N=3, d=4, eps=1e-5", 3, 4, 1e3, 1e-5),
        ("eps=0, N=3, d=6", 3, 6, 1.0, 0.0),
        ("d=2, N=3, eps=1e-5", 3, 2, 1.0, 1e-5),
        ("d=1 (LayerNorm of one number is 0), N=2, eps=1e-5", 2, 1, 1.0, 1e-5),
    ]:
        A = scale * rng.normal(size=(n, d)) + rng.normal(size=(n, 1))  # (N, d)  rows with a non-zero mean
        dV = rng.normal(size=(n, d))  # (N, d)
        cases.append(Case(label, (A, dV, eps)))
    return cases


def _wrong(mean_term=True, projection_term=True, ddof=0, use_eps=True, divide=True, sign=1.0):
    """A wrong backward pass: which terms it keeps, which variance, whether eps and 1/s are used."""

    def answer(A, dV, eps):
        d = A.shape[-1]
        centred = A - A.mean(axis=-1, keepdims=True)  # (N, d)
        var = (centred**2).sum(axis=-1, keepdims=True) / (d - ddof)  # (N, 1)
        s = np.sqrt(var + (eps if use_eps else 0.0))  # (N, 1)
        V = centred / s  # (N, d)
        out = dV.copy()  # (N, d)
        if mean_term:
            out = out - dV.mean(axis=-1, keepdims=True)
        if projection_term:
            out = out - sign * (dV * V).sum(axis=-1, keepdims=True) / d * V
        return out / s if divide else out

    return answer


_MISTAKES = [
    Mistake(
        "the mean term is missing: every v_k depends on every a_l through the mean a-bar, which "
        "contributes -mean(g) to each entry (dL/da sums to zero over the row)",
        _wrong(mean_term=False),
    ),
    Mistake(
        "the projection term is missing: the standard deviation s depends on a too, which removes "
        "the component of g along v, -(g . v / d) v, before dividing by s",
        _wrong(projection_term=False),
    ),
    Mistake(
        "both the mean and the projection terms are missing: LayerNorm is not an elementwise "
        "division by s; its Jacobian is (I - 11^T/d - v v^T/d) / s",
        _wrong(mean_term=False, projection_term=False),
    ),
    Mistake(
        "unbiased variance: LayerNorm (like torch.nn.functional.layer_norm) divides by "
        "sqrt(sigma^2 + eps) with the biased variance sigma^2 = mean((a - a-bar)^2), i.e. ddof=0, "
        "not ddof=1",
        _wrong(ddof=1),
    ),
    Mistake(
        "eps is missing: s = sqrt(sigma^2 + eps), and v = (a - a-bar) / s; without eps the answer "
        "is wrong for rows whose variance is not much larger than eps",
        _wrong(use_eps=False),
    ),
    Mistake(
        "the factor 1/s is missing: v = (a - a-bar) / s, so every term of dL/da carries 1/s",
        _wrong(divide=False),
    ),
    Mistake(
        "the projection term has the wrong sign: it removes the component along v, "
        "-(g . v / d) v, it does not add it",
        _wrong(sign=-1.0),
    ),
]


def check_layer_norm_backward(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(A, dV, eps)``: ``dL/dA`` through row-wise LayerNorm without gain or bias.

    ``A`` and ``dV`` are ``(N, d)`` arrays (pre-norm rows and the gradient
    with respect to the normalised rows), ``eps`` a float ``>= 0``. The answer
    is the ``(N, d)`` array of chapter 10, eq. ``beyond-ln-backward``. Cases
    include ``N = 1``, ``d = 1`` and ``d = 2``, rows whose variance is below
    ``eps``, rows of size ``1e3``, ``eps = 0`` and an ``eps`` other than the
    default.

    Examples
    --------
    >>> from attnlib.teaching.exercises.ch10 import check_layer_norm_backward, _reference
    >>> check_layer_norm_backward(_reference)  # the book's own function: no credit  # doctest: +ELLIPSIS
    LayerNorm backward: no credit: the answer runs the book's own ...; write the computation yourself.
    >>> def no_mean(A, dV, eps):  # forgets that the mean depends on every entry
    ...     v = (A - A.mean(1, keepdims=True)) / np.sqrt(A.var(1, keepdims=True) + eps)
    ...     return (dV - (dV * v).mean(1, keepdims=True) * v) / np.sqrt(A.var(1, keepdims=True) + eps)
    >>> print(check_layer_norm_backward(no_mean))  # doctest: +ELLIPSIS
    LayerNorm backward: case 'random N=4, d=5, eps=0.1' ... Hint: the mean term is missing: ...
    """
    return run_checker("LayerNorm backward", fn, _cases(case_set), _reference, _MISTAKES,
                       answers=(layer_norm_backward,))
