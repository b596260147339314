"""Chapter 9: the checkers check_filter_step and check_effective_dimension, and their hints."""

from __future__ import annotations

import numpy as np
import pytest

from attnlib.chain.bayes import bayes_predictive
from attnlib.dynamics.diagnostics import effective_dimension, value_pca
from attnlib.teaching.exercises.ch09 import (
    _DIMENSION_MISTAKES,
    _FILTER_MISTAKES,
    _reference_effective_dimension,
    _reference_filter_step,
    check_effective_dimension,
    check_filter_step,
)

FILTER = "forward filter step"
DIMENSION = "effective dimension"


# --------------------------------------------------------------------------- the filter step
def books_filter_step(q, x, mu, P, noise):
    log_e = -((x - mu) ** 2).sum(axis=1) / (2 * noise**2)  # (S,)
    with np.errstate(divide="ignore"):
        log_w = log_e + np.log(q)  # (S,)  log q = -inf for a ruled-out state
    log_w -= log_w.max()  # log-sum-exp shift
    pi = np.exp(log_w) / np.exp(log_w).sum()  # (S,)
    return pi @ P  # (S,)


def via_the_library(q, x, mu, P, noise):
    """One step of attnlib.chain.bayes.bayes_predictive with q as the initial distribution."""
    return bayes_predictive(x[None, :], mu, P, noise=noise, initial=q)[0]  # (S,)


def test_the_books_filter_step_passes():
    result = check_filter_step(books_filter_step)
    assert result.passed and bool(result)
    assert result.message == f"{FILTER}: correct on all 5 cases."


@pytest.mark.parametrize("fn", [via_the_library, _reference_filter_step])
def test_the_packages_own_filter_gets_no_credit(fn):
    assert f"{FILTER}: no credit: the answer runs the book's own attnlib." in check_filter_step(fn).message


@pytest.mark.parametrize("mistake", _FILTER_MISTAKES, ids=lambda m: m.hint[:40])
def test_each_filter_mistake_is_recognised(mistake):
    result = check_filter_step(mistake.answer)
    assert not result.passed
    assert result.message.endswith(f"Hint: {mistake.hint}."), result.message


def test_forgetting_log_space_underflows_and_says_so():
    def linear_space(q, x, mu, P, noise):
        e = np.exp(-((x - mu) ** 2).sum(axis=1) / (2 * noise**2))  # (S,)  underflows for an outlier
        with np.errstate(invalid="ignore"):
            pi = e * q / (e * q).sum()  # (S,)  0 / 0
        return pi @ P

    message = check_filter_step(linear_space).message
    assert message.startswith(f"{FILTER}: case 'an outlier x = (40, 40), far from every mean': got nan")
    assert "underflowed" in message and "log space" in message and "overflowed" not in message


def test_filter_stub_says_not_implemented():
    def stub(q, x, mu, P, noise):
        raise NotImplementedError

    assert check_filter_step(stub).message == f"{FILTER}: not implemented yet (the stub raises NotImplementedError)."


def test_a_filter_crash_is_one_line():
    def column_vector(q, x, mu, P, noise):
        return P @ q[:, None] @ x[None, :] @ mu  # (S, 1) @ (1, d_x) @ (S, d_x): does not align

    message = check_filter_step(column_vector).message
    assert message.startswith(f"{FILTER}: case 'random S=4, d_x=3, noise=0.7' raised ValueError:")
    assert "\n" not in message


def test_wrong_filter_shapes_are_reported():
    message = check_filter_step(lambda q, x, mu, P, noise: np.outer(books_filter_step(q, x, mu, P, noise), q)).message
    assert message == f"{FILTER}: case 'random S=4, d_x=3, noise=0.7': expected shape (4,), got (4, 4)."
    message = check_filter_step(lambda q, x, mu, P, noise: books_filter_step(q, x, mu, P, noise)[None, :]).message
    assert "expected shape (4,), got (1, 4)" in message


def test_the_filter_checker_is_not_fooled_by_in_place_edits():
    def sneaky(q, x, mu, P, noise):
        P[:] = 1.0 / P.shape[0]  # edits the caller's array
        return books_filter_step(q, x, mu, P, noise)

    assert not check_filter_step(sneaky).passed
    assert check_filter_step(books_filter_step).passed


def test_a_non_function_is_refused():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_filter_step("pi @ P")
    with pytest.raises(TypeError, match="fn must be a function"):
        check_effective_dimension(3)


# --------------------------------------------------------------------------- effective dimension
def books_effective_dimension(V, threshold):
    centred = V - V.mean(axis=0)  # (N, d_v)
    s = np.linalg.svd(centred, compute_uv=False)  # (k,)
    ratio = s**2 / (s**2).sum()  # (k,)
    return int(np.argmax(np.cumsum(ratio) >= threshold - 1e-12)) + 1


def test_the_books_effective_dimension_passes():
    result = check_effective_dimension(books_effective_dimension)
    assert result.passed and result.message == f"{DIMENSION}: correct on all 6 cases."


@pytest.mark.parametrize(
    "fn", [_reference_effective_dimension, lambda V, t: effective_dimension(value_pca(V).explained_variance_ratio, t)]
)
def test_the_packages_own_effective_dimension_gets_no_credit(fn):
    assert f"{DIMENSION}: no credit" in check_effective_dimension(fn).message


@pytest.mark.parametrize("mistake", _DIMENSION_MISTAKES, ids=lambda m: m.hint[:40])
def test_each_dimension_mistake_is_recognised(mistake):
    result = check_effective_dimension(mistake.answer)
    assert not result.passed
    assert result.message.endswith(f"Hint: {mistake.hint}."), result.message


def test_dimension_stub_crash_and_shape():
    def stub(V, threshold):
        raise NotImplementedError

    assert check_effective_dimension(stub).message == (
        f"{DIMENSION}: not implemented yet (the stub raises NotImplementedError).")

    def crash(V, threshold):
        return np.linalg.eigvalsh(V)  # V is not square

    message = check_effective_dimension(crash).message
    assert message.startswith(f"{DIMENSION}: case '40 values in d_v=6") and " raised LinAlgError:" in message
    assert "\n" not in message

    def all_ratios(V, threshold):
        s = np.linalg.svd(V - V.mean(axis=0), compute_uv=False)
        return np.cumsum(s**2) / (s**2).sum()  # the curve, not the count

    message = check_effective_dimension(all_ratios).message
    assert message.startswith(f"{DIMENSION}: case '40 values in d_v=6") and "expected shape (), got (6,)" in message
