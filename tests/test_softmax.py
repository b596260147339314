"""Chapter 1's functions: softmax, log-sum-exp, cross-entropy and its gradient."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import attnlib
from attnlib.reference import check_gradient

logits = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 6)),
                elements=st.floats(-50, 50, allow_nan=False))


@given(logits, st.integers(0, 2**31))
def test_cross_entropy_grad_matches_autograd_and_fd(Z, seed):
    y = np.random.default_rng(seed).integers(0, Z.shape[1], size=Z.shape[0])
    report = check_gradient(
        "dL/dZ", attnlib.cross_entropy_grad(Z, y), lambda W: attnlib.cross_entropy(W, y), Z,
        f_torch=lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(y)),
    )
    assert report.passed, str(report)


@given(logits)
def test_softmax_rows_are_distributions_and_match_torch(Z):
    P = attnlib.softmax(Z)
    assert np.allclose(P.sum(axis=-1), 1.0) and np.all(P >= 0)
    assert np.allclose(P, torch.softmax(torch.tensor(Z), dim=-1).numpy(), rtol=1e-12, atol=1e-15)
    assert np.allclose(attnlib.logsumexp(Z), torch.logsumexp(torch.tensor(Z), dim=-1).numpy(), rtol=1e-13)


def test_worked_example():
    assert np.allclose(attnlib.cross_entropy_grad([2.0, 1.0, 0.5], 1), [0.6285, -0.7688, 0.1402], atol=1e-4)
    assert np.allclose(attnlib.cross_entropy_grad([2.0, 1.0, 0.1], 1), [0.659, -0.758, 0.099], atol=5e-4)


def test_softmax_jacobian_matches_torch():
    z = np.random.default_rng(0).normal(size=5)
    jac = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, dim=0), torch.tensor(z)).numpy()
    assert np.allclose(attnlib.softmax_jacobian(attnlib.softmax(z)), jac, rtol=1e-12, atol=1e-15)


def test_huge_logits_do_not_overflow():
    Z = np.array([[1e4, -1e4, 0.0], [800.0, 801.0, 799.0]])
    y = np.array([1, 2])
    assert np.all(np.isfinite(attnlib.cross_entropy_grad(Z, y)))
    assert np.isfinite(attnlib.cross_entropy(Z, y))
