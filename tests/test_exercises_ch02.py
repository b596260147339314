"""Chapter 2: the softmax backward pass (attnlib.softmax_backward) and the
exercise checker check_softmax_backward with its hints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import attnlib
from attnlib import softmax_backward
from attnlib.teaching.exercises import check_softmax_backward
from attnlib.reference import torch_masked_softmax
from tests.chapter_answers import written_answer


# --------------------------------------------------------------------------- softmax_backward
@given(st.integers(1, 6), st.booleans(), st.integers(0, 2**31))
def test_softmax_backward_matches_autograd(n, causal, seed):
    rng = np.random.default_rng(seed)
    S = rng.normal(scale=2.0, size=(n, n))  # (N, N)
    R = rng.normal(size=(n, n))  # (N, N)
    allowed = np.tril(np.ones((n, n), bool)) if causal else np.ones((n, n), bool)
    alpha = attnlib.masked_softmax(S, allowed)  # (N, N)
    g = np.cos(R * alpha) * R  # (N, N)  dL/dalpha of L = sum sin(R * alpha)
    St = torch.tensor(S, requires_grad=True)
    alpha_t = torch.softmax(St.masked_fill(~torch.tensor(allowed), float("-inf")), dim=-1)
    torch.sin(torch.tensor(R) * alpha_t).sum().backward()
    ds = softmax_backward(alpha, g)
    assert np.allclose(ds, St.grad.numpy(), rtol=1e-10, atol=1e-13)
    assert np.allclose(ds.sum(axis=1), 0.0, atol=1e-12)
    assert np.all(ds[~allowed] == 0.0)


def test_softmax_backward_equals_the_jacobian_product_row_by_row():
    rng = np.random.default_rng(3)
    alpha = attnlib.masked_softmax(rng.normal(size=(5, 5)), attnlib.causal_mask(5))
    g = rng.normal(size=(5, 5))
    rows = np.stack([attnlib.softmax_jacobian(alpha[i]).T @ g[i] for i in range(5)])
    assert np.allclose(softmax_backward(alpha, g), rows, rtol=1e-12, atol=1e-15)


def test_softmax_backward_reproduces_the_heads_score_gradient():
    params = attnlib.init_params(4, 3, 2, 3, scale=0.8, rng=0)
    X = np.random.default_rng(1).normal(size=(5, 4))
    y = np.array([0, 2, 1, 1, 0])
    for causal in (True, False):
        cache = attnlib.forward(params, X, causal=causal)
        grads = attnlib.backward(params, cache, y)
        assert np.allclose(softmax_backward(cache.attn, grads.compat), grads.scores, rtol=1e-12, atol=1e-16)


def test_softmax_backward_validates_its_inputs():
    with pytest.raises(ValueError, match=r"g must have the shape of alpha \(2, 2\), got \(2, 3\)"):
        softmax_backward(np.eye(2), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="alpha must be 2-D"):
        softmax_backward(np.ones(3), np.ones(3))


# --------------------------------------------------------------------------- the checker
def test_the_chapters_answer_passes_and_the_packages_own_function_gets_no_credit():
    result = check_softmax_backward(written_answer("check_softmax_backward"))
    assert result.passed and result.n_cases == 6
    assert result.message == "softmax backward: correct on all 6 cases."
    refused = check_softmax_backward(softmax_backward)
    assert not refused.passed and refused.message == (
        "softmax backward: no credit: the answer runs the book's own attnlib.head.softmax.softmax_backward; "
        "write the computation yourself.")


def _expectation(a, g):
    return (a * g).sum(axis=1, keepdims=True)


# What a student might plausibly write, each independent of the checker's own list.
WRONG = {
    "sign is flipped": lambda a, g: a * (_expectation(a, g) - g),
    "is not subtracted": lambda a, g: a * g,
    "summed over the wrong index": lambda a, g: a * (g - (a * g).sum(axis=0)),
    "broadcast along the wrong axis": lambda a, g: a * (g - (a * g).sum(axis=1)),
    "leading factor alpha_ik is missing": lambda a, g: g - _expectation(a, g),
    "alpha_ki (a transposed alpha)": lambda a, g: np.transpose(a) * (g - _expectation(a, g)),
    "weighted by attention": lambda a, g: a * (g - g.mean(axis=1)[:, None]),
    "only the diagonal of the Jacobian": lambda a, g: (a - a**2) * g,
}


@pytest.mark.parametrize("hint", list(WRONG), ids=list(WRONG))
def test_each_mistake_is_recognised_with_its_hint(hint):
    result = check_softmax_backward(WRONG[hint])
    assert not result.passed
    assert "Hint:" in result.message and hint in result.message, result.message
    assert "\n" not in result.message


def test_an_unknown_error_names_the_entry_without_a_hint():
    result = check_softmax_backward(lambda a, g: softmax_backward(a, g) + 0.01)
    assert not result.passed
    assert "case 'random causal N=5' at entry [" in result.message and "Hint" not in result.message


def test_a_function_wrong_only_on_an_edge_case_is_caught():
    def squeezed(a, g):  # right on every N > 1; np.squeeze turns N = 1 into a 0-d array
        expected_g = np.squeeze((a * g).sum(axis=1))
        return a * (g - expected_g[:, None])

    result = check_softmax_backward(squeezed)
    assert not result.passed
    assert "case 'N=1 (alpha = [[1]])' raised IndexError" in result.message


def test_stub_reports_not_implemented():
    def stub(alpha, g):
        raise NotImplementedError

    result = check_softmax_backward(stub)
    assert not result.passed
    assert result.message == "softmax backward: not implemented yet (the stub raises NotImplementedError)."


def test_a_function_that_raises_gives_one_line():
    result = check_softmax_backward(lambda alpha, g: alpha @ g[:, :1].T @ np.ones((3, 3)))
    assert not result.passed
    assert "raised ValueError" in result.message and "\n" not in result.message


@pytest.mark.parametrize(
    "fn, shape",
    [
        (lambda a, g: (a * g).sum(axis=1), "(5,)"),
        (lambda a, g: (a * g).sum(axis=1, keepdims=True), "(5, 1)"),
    ],
    ids=["row-sums", "column"],
)
def test_wrong_shapes_are_reported(fn, shape):
    result = check_softmax_backward(fn)
    assert not result.passed
    assert f"expected shape (5, 5), got {shape}" in result.message


def test_non_numeric_answer_is_reported():
    result = check_softmax_backward(lambda a, g: "dL/ds")
    assert not result.passed and "not an array of numbers" in result.message


def test_student_in_place_edits_do_not_spoil_the_check():
    def in_place(a, g):
        g -= _expectation(a, g)
        a *= g
        return a

    assert check_softmax_backward(in_place).passed


# --------------------------------------------------------------------------- torch reference
@given(st.integers(1, 6), st.booleans(), st.integers(0, 2**31))
def test_torch_masked_softmax_matches_masked_softmax(n, causal, seed):
    S = np.random.default_rng(seed).normal(scale=5.0, size=(n, n))
    allowed = attnlib.causal_mask(n) if causal else np.ones((n, n), bool)
    got = torch_masked_softmax(torch.tensor(S), allowed).numpy()
    assert np.allclose(got, attnlib.masked_softmax(S, allowed), rtol=1e-12, atol=1e-15)
    assert np.all(got[~allowed] == 0.0)
