r"""Checkers for the code exercises of chapter 9 (the Bayesian filter and the value geometry).

* :func:`check_filter_step` checks ``fn(q, x, mu, P, noise)``, one step of the
  forward filter from the predictive of one position to the next:
  :math:`\pi(s) \propto \mathcal N(x; \mu_s, \sigma^2 I)\, q(s)` and
  :math:`q' = \pi P` (chapter 9, eqs. ``bayes-filter`` and ``bayes-predictive``).
* :func:`check_effective_dimension` checks ``fn(V, threshold)``, the number of
  principal components of the centred values needed to explain a ``threshold``
  share of their variance (chapter 9, eq. ``geom-deff``).

Dimension names in shape comments: ``S`` states, ``d_x`` input width, ``N``
positions, ``d_v`` value width.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...chain.bayes import emission_log_likelihoods, filter_step
from ...dynamics.diagnostics import effective_dimension, value_pca
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = ["check_filter_step", "check_effective_dimension"]


# --------------------------------------------------------------------------- the filter step
def _reference_filter_step(q, x, mu, P, noise) -> np.ndarray:
    log_e = emission_log_likelihoods(np.asarray(x, dtype=float)[None, :], mu, noise=noise)[0]  # (S,)
    log_q = np.log(q, out=np.full(len(q), -np.inf), where=np.asarray(q) > 0)  # (S,)
    return np.exp(filter_step(log_q, log_e)) @ P  # (S,)  q' = pi P


def _row_stochastic(rng, S, stick=1.0) -> np.ndarray:
    P = rng.dirichlet(np.full(S, 0.8), size=S) + stick * np.eye(S)  # (S, S)
    P[0, 1] += 1.0  # make sure P is far from symmetric
    return P / P.sum(axis=1, keepdims=True)


def _filter_cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473 + 9, case_set))
    cases = []
    for label, S, d_x, noise in [
        ("random S=4, d_x=3, noise=0.7", 4, 3, 0.7),
        ("random S=8, d_x=20, noise=1.5 (the sticky chain's sizes)", 8, 20, 1.5),
        ("S=2, d_x=1, noise=0.5", 2, 1, 0.5),
    ]:
        mu = rng.standard_normal((S, d_x)) * (0.6 if d_x < 20 else 0.25)  # (S, d_x) overlapping means
        q = rng.dirichlet(np.ones(S))  # (S,) non-uniform prior of y_{t-1}
        x = mu[rng.integers(S)] + noise * rng.standard_normal(d_x)  # (d_x,)
        cases.append(Case(label, (q, x, mu, _row_stochastic(rng, S), noise)))
    mu = rng.standard_normal((3, 2))  # (S, d_x)
    cases.append(Case("a state ruled out by the prior (q = [0.7, 0.3, 0])", (
        np.array([0.7, 0.3, 0.0]), mu[2] + 0.3 * rng.standard_normal(2), mu, _row_stochastic(rng, 3), 1.0)))
    mu = rng.standard_normal((4, 2))  # (S, d_x)
    cases.append(Case("an outlier x = (40, 40), far from every mean", (
        rng.dirichlet(np.ones(4)), np.array([40.0, 40.0]), mu, _row_stochastic(rng, 4), 1.0)))
    return cases


def _step_with(*, log_e=None, order="update-then-predict", prior=True, renormalise=True, P_of=None):
    """A wrong filter step, built from the pieces a student might get wrong."""

    def answer(q, x, mu, P, noise):
        q = np.asarray(q, dtype=float)  # (S,)
        P_used = P if P_of is None else P_of(P)  # (S, S)
        sq = ((np.asarray(x, dtype=float)[None, :] - mu) ** 2).sum(axis=1)  # (S,)  ||x - mu_s||^2
        le = -sq / (2 * noise**2) if log_e is None else log_e(sq, noise)  # (S,)
        e = np.exp(le - le.max())  # (S,)  stable, so that only the intended mistake shows
        if order == "predict-then-update":
            w = e * (q @ P_used)  # (S,)
            return w / w.sum()
        if not renormalise:
            return ((q / q.sum()) * np.exp(le)) @ P_used  # (S,)  q normalised, the product not
        w = e * q if prior else e  # (S,)
        return (w / w.sum()) @ P_used  # (S,)

    return answer


def _posterior_only(q, x, mu, P, noise):
    log_e = emission_log_likelihoods(np.asarray(x, dtype=float)[None, :], mu, noise=noise)[0]  # (S,)
    log_q = np.log(q, out=np.full(len(q), -np.inf), where=np.asarray(q) > 0)  # (S,)
    return np.exp(filter_step(log_q, log_e))  # (S,)  pi, not pi P


_FILTER_MISTAKES = [
    Mistake(
        "P is transposed: P[r, s] = p(y_t = s | y_{t-1} = r), so the next predictive is the row "
        "vector pi @ P (sum over the current state r), not P @ pi",
        _step_with(P_of=lambda P: P.T),
    ),
    Mistake(
        "off by one: this is the posterior pi of y_{t-1}, the state that produced x; the "
        "predictive of the next state y_t needs one more step through the chain, pi @ P",
        _posterior_only,
    ),
    Mistake(
        "off by one: q already is the distribution of y_{t-1}, the state that produced x, so "
        "update it with the emission first and move it through P afterwards (pi = e * q / sum, "
        "then pi @ P); moving q through P first conditions the wrong state",
        _step_with(order="predict-then-update"),
    ),
    Mistake(
        "the prior is missing: Bayes' rule multiplies the emission likelihood by the prior, "
        "pi(s) proportional to N(x; mu_s, noise^2 I) * q(s)",
        _step_with(prior=False),
    ),
    Mistake(
        "normalise after multiplying by the emission: e * q is only proportional to the "
        "posterior, so divide by its sum over s (normalising q before the product does not "
        "make the product sum to 1)",
        _step_with(renormalise=False),
    ),
    Mistake(
        "the variance is noise**2: log N(x; mu_s, noise^2 I) = -||x - mu_s||^2 / (2 noise^2) + const, "
        "you divided by 2 noise",
        _step_with(log_e=lambda sq, noise: -sq / (2 * noise)),
    ),
    Mistake(
        "the factor 1/2 is missing: log N(x; mu_s, noise^2 I) = -||x - mu_s||^2 / (2 noise^2) + const",
        _step_with(log_e=lambda sq, noise: -sq / noise**2),
    ),
    Mistake(
        "the minus sign of the log-likelihood is missing: the nearest mean must get the largest "
        "likelihood, -||x - mu_s||^2 / (2 noise^2)",
        _step_with(log_e=lambda sq, noise: sq / (2 * noise**2)),
    ),
]

_UNDERFLOW_HINT = (
    "Hint: every Gaussian density underflowed to 0.0, giving 0/0; work in log space: "
    "log e(s) + log q(s), subtract the largest before exponentiating (log-sum-exp), then normalise."
)


def check_filter_step(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(q, x, mu, P, noise)``: one step of the forward filter.

    ``q`` is the ``(S,)`` distribution of the state :math:`y_{t-1}` that
    produced ``x`` given the earlier inputs (the previous position's
    predictive), ``x`` the ``(d_x,)`` input, ``mu`` the ``(S, d_x)`` means,
    ``P`` the ``(S, S)`` transition matrix (``P[r, s] = p(s | r)``) and
    ``noise`` the standard deviation. The answer is the ``(S,)`` predictive
    of the next state, :math:`q' = \pi P` with
    :math:`\pi \propto \mathcal N(x; \mu_s, \sigma^2 I)\, q` (chapter 9).
    Cases include a non-symmetric ``P``, a prior with a zero, ``d_x = 1``
    and an input so far from every mean that each density underflows.

    Examples
    --------
    >>> from attnlib.teaching.exercises.ch09 import check_filter_step, _reference_filter_step
    >>> check_filter_step(_reference_filter_step)  # the book's own function: no credit  # doctest: +ELLIPSIS
    forward filter step: no credit: the answer runs the book's own ...; write the computation yourself.
    >>> wrong = lambda q, x, mu, P, noise: _reference_filter_step(q, x, mu, P.T, noise)
    >>> print(check_filter_step(wrong))  # doctest: +ELLIPSIS
    forward filter step: case 'random S=4, d_x=3, noise=0.7' ... Hint: P is transposed: ...
    """
    with np.errstate(under="ignore"):
        result = run_checker("forward filter step", fn, _filter_cases(case_set), _reference_filter_step,
                             _FILTER_MISTAKES, rtol=1e-7, atol=1e-10, answers=(filter_step, emission_log_likelihoods))
    generic = "Hint: an exponential overflowed; subtract the row maximum before exponentiating."
    if not result.passed and "far from every mean" in result.message and generic in result.message:
        return replace(result, message=result.message.replace(generic, _UNDERFLOW_HINT))
    return result


# --------------------------------------------------------------------------- effective dimension
def _reference_effective_dimension(V, threshold) -> int:
    return effective_dimension(value_pca(V).explained_variance_ratio, threshold)


def _dimension_cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473 + 95, case_set))
    cases = []
    for label, n, d, spectrum, offset, threshold in [
        ("40 values in d_v=6, spread (5, 3, 2, 1, 0.5, 0.2), offset 10, threshold 0.95",
         40, 6, [5, 3, 2, 1, 0.5, 0.2], 10.0, 0.95),
        ("60 values in d_v=8, spread (4, 4, 1, 0.3, ...), offset -6, threshold 0.8",
         60, 8, [4, 4, 1, 0.3, 0.3, 0.2, 0.1, 0.1], -6.0, 0.8),
        ("5 values in d_v=10 (fewer values than dimensions), threshold 0.9",
         5, 10, [3, 2, 1.5, 1, 1, 1, 1, 1, 1, 1], 2.0, 0.9),
        ("80 values in d_v=12, one large direction and a long flat tail, threshold 0.9",
         80, 12, [2.5] + [1.0] * 11, 0.5, 0.9),
        ("d_v=1, threshold 0.95", 30, 1, [2.0], 3.0, 0.95),
        ("N=2 values (one direction), threshold 0.95", 2, 4, [1, 1, 1, 1], 1.0, 0.95),
    ]:
        basis = np.linalg.qr(rng.standard_normal((d, d)))[0]  # (d, d) random rotation
        V = (rng.standard_normal((n, d)) * np.asarray(spectrum, dtype=float)) @ basis.T + offset  # (N, d_v)
        cases.append(Case(label, (V, threshold)))
    return cases


def _dimension_with(*, centre=True, power=2, index=False, ascending=False, per_component=False):
    def answer(V, threshold):
        V = np.asarray(V, dtype=float)
        W = V - V.mean(axis=0) if centre else V  # (N, d_v)
        s = np.linalg.svd(W, compute_uv=False)  # (k,) decreasing
        var = s**power  # (k,)
        if ascending:
            var = var[::-1]  # (k,)  the order np.linalg.eigh returns
        ratio = var / var.sum()  # (k,)
        if per_component:
            return int(np.sum(ratio >= 1 - threshold))
        reached = np.cumsum(ratio) >= threshold - 1e-12  # (k,)
        return int(np.argmax(reached)) + (0 if index else 1)

    return answer


_DIMENSION_MISTAKES = [
    Mistake(
        "off by one: argmax gives the 0-based index of the first component that reaches the "
        "threshold; the effective dimension is the number of components, index + 1",
        _dimension_with(index=True),
    ),
    Mistake(
        "the values are not centred: without subtracting the mean value first, the mean itself "
        "becomes the first 'component' and takes most of the variance",
        _dimension_with(centre=False),
    ),
    Mistake(
        "the variance along a component is the squared singular value, s**2 (divided by N), not s",
        _dimension_with(power=1),
    ),
    Mistake(
        "the variances are in ascending order (as np.linalg.eigh returns them): sort them in "
        "decreasing order before the cumulative sum",
        _dimension_with(ascending=True),
    ),
    Mistake(
        "the rule is on the cumulative share: the smallest k whose first k ratios add up to the "
        "threshold, not the number of components that each explain at least 1 - threshold",
        _dimension_with(per_component=True),
    ),
]


def check_effective_dimension(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(V, threshold)``: the effective dimension of the value cloud ``V`` (``(N, d_v)``).

    The answer is the smallest ``k`` such that the first ``k`` principal
    components of the centred rows of ``V`` explain at least ``threshold`` of
    their variance (chapter 9, eq. ``geom-deff``), an ``int``. Cases include
    a cloud far from the origin, fewer values than dimensions, ``d_v = 1``
    and ``N = 2``.

    Examples
    --------
    >>> from attnlib.teaching.exercises.ch09 import check_effective_dimension, _reference_effective_dimension
    >>> check_effective_dimension(_reference_effective_dimension)  # the book's own function: no credit  # doctest: +ELLIPSIS
    effective dimension: no credit: the answer runs the book's own ...; write the computation yourself.
    >>> wrong = lambda V, t: _reference_effective_dimension(V, t) - 1
    >>> print(check_effective_dimension(wrong))  # doctest: +ELLIPSIS
    effective dimension: case '40 values ...': expected 3, got 2. Hint: off by one: ...
    """
    return run_checker("effective dimension", fn, _dimension_cases(case_set), _reference_effective_dimension,
                       _DIMENSION_MISTAKES, rtol=0, atol=0, answers=(effective_dimension, value_pca))
