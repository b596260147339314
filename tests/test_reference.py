"""The references themselves: the loss cut at any point, and the Jacobian check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnlib
from attnlib.reference import POINTS, autograd_grads, check_jacobian, loss_as_function_of, torch_masked_softmax

#: The Grads field that is the gradient of the loss at each point (weights by their own name).
FIELD = {"queries": "queries", "keys": "keys", "values": "values", "scores": "scores", "attn": "compat", "out": "upstream",
         "logits": "logits"}  # fmt: skip


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("at", POINTS)
def test_loss_as_function_of_matches_the_head_and_autograd(at, causal):
    rng = np.random.default_rng(7)
    params = attnlib.init_params(4, 3, 2, 3, scale=0.9, rng=rng)
    X = rng.standard_normal((5, 4))  # (N, d_x)
    y = rng.integers(0, 3, size=5)  # (N,)
    cache = attnlib.forward(params, X, causal=causal)
    point = getattr(params, at) if at.startswith("W_") else getattr(cache, at)
    base = attnlib.loss(cache, y)
    for reduction, factor in [("mean", 1.0), ("sum", 5.0)]:
        f, f_torch = loss_as_function_of(params, X, y, at, causal=causal, reduction=reduction)
        assert np.isclose(f(point), factor * base, rtol=1e-12)
        t = torch.tensor(point, dtype=torch.float64, requires_grad=True)
        value = f_torch(t)
        assert np.isclose(value.item(), factor * base, rtol=1e-12)
    value.backward()  # the sum reduction: N times the mean loss's gradient
    ref = autograd_grads(params, X, y, causal=causal)
    expected = getattr(ref, FIELD.get(at, at)) * 5.0
    assert np.allclose(t.grad.numpy(), expected, rtol=1e-10, atol=1e-14)


def test_loss_as_function_of_validates_its_arguments():
    params = attnlib.init_params(2, 2, 2, 2, rng=0)
    X, y = np.zeros((3, 2)), [0, 1, 0]
    with pytest.raises(ValueError, match="at must be one of"):
        loss_as_function_of(params, X, y, "v")
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum', got 'max'"):
        loss_as_function_of(params, X, y, "out", reduction="max")
    with pytest.raises(ValueError, match="y must lie in"):
        loss_as_function_of(params, X, [0, 1, 5], "out")


def _masked_row(allowed):
    return (lambda s: attnlib.masked_softmax(s, allowed)), (lambda t: torch_masked_softmax(t, allowed))


@pytest.mark.parametrize("allowed", [np.ones(5, bool), np.array([1, 1, 1, 0, 0], bool)], ids=["full", "causal"])
def test_check_jacobian_accepts_the_softmax_jacobian(allowed):
    s = np.random.default_rng(0).normal(scale=1.5, size=5)
    f, f_torch = _masked_row(allowed)
    report = check_jacobian("dalpha/ds", attnlib.softmax_jacobian(f(s)), f, s, f_torch=f_torch)
    assert report.passed, str(report)
    assert {c.reference for c in report.checks} == {"autograd", "finite differences"}


def test_check_jacobian_rejects_a_wrong_jacobian_in_both_references():
    s = np.random.default_rng(1).normal(size=4)
    f, f_torch = _masked_row(np.ones(4, bool))
    wrong = np.diag(f(s))  # only the diagonal's first term
    report = check_jacobian("dalpha/ds", wrong, f, s, f_torch=f_torch)
    assert not report.passed and len(report.failures) == 2
    with pytest.raises(AssertionError, match="dalpha/ds disagrees"):
        report.assert_ok()


def test_check_jacobian_validates_the_claimed_shape():
    s = np.zeros(3)
    with pytest.raises(ValueError, match=r"f\(x\).shape \+ x.shape = \(3, 3\)"):
        check_jacobian("dp/dz", np.zeros(3), attnlib.softmax, s)
