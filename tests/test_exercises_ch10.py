"""Chapter 10: the checker check_layer_norm_backward and its hints."""

from __future__ import annotations

import numpy as np
import pytest

from attnlib.teaching.exercises.ch10 import _MISTAKES, _reference, check_layer_norm_backward


def books_layer_norm_backward(A, dV, eps):
    d = A.shape[1]
    centred = A - A.mean(axis=1, keepdims=True)  # (N, d)
    s = np.sqrt((centred**2).mean(axis=1, keepdims=True) + eps)  # (N, 1)
    v = centred / s  # (N, d)
    return (dV - dV.mean(axis=1, keepdims=True) - (dV * v).sum(axis=1, keepdims=True) / d * v) / s


def test_the_books_function_passes():
    result = check_layer_norm_backward(books_layer_norm_backward)
    assert result.passed and result.message == "LayerNorm backward: correct on all 8 cases."
    assert "no credit" in check_layer_norm_backward(_reference).message


def test_a_torch_autograd_answer_passes():
    import torch

    def by_autograd(A, dV, eps):
        a = torch.tensor(A, requires_grad=True)
        v = torch.nn.functional.layer_norm(a, (A.shape[1],), eps=eps)
        (v * torch.tensor(dV)).sum().backward()
        return a.grad.numpy()

    assert check_layer_norm_backward(by_autograd).passed


@pytest.mark.parametrize("mistake", _MISTAKES, ids=lambda m: m.hint[:40])
def test_each_mistake_is_recognised(mistake):
    result = check_layer_norm_backward(mistake.answer)
    assert not result.passed
    assert result.message.endswith(f"Hint: {mistake.hint}."), result.message


def test_a_hard_coded_eps_fails_on_the_first_case():
    message = check_layer_norm_backward(lambda A, dV, eps: books_layer_norm_backward(A, dV, 1e-5)).message
    assert message.startswith("LayerNorm backward: case 'random N=4, d=5, eps=0.1'")


def test_an_unbiased_variance_divides_by_zero_for_d_1_and_says_so():
    def unbiased_everywhere(A, dV, eps):
        d = A.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            centred = A - A.mean(axis=1, keepdims=True)  # (N, d)
            s = np.sqrt((centred**2).sum(axis=1, keepdims=True) / (d - 1) + eps)  # (N, 1)
            v = centred / s
            out = (dV - dV.mean(axis=1, keepdims=True) - (dV * v).sum(axis=1, keepdims=True) / d * v) / s
        return out

    message = check_layer_norm_backward(unbiased_everywhere).message
    assert "Hint: unbiased variance" in message


def test_stub_says_not_implemented():
    def stub(A, dV, eps):
        raise NotImplementedError

    expected = "LayerNorm backward: not implemented yet (the stub raises NotImplementedError)."
    assert check_layer_norm_backward(stub).message == expected


def test_a_crash_is_one_line():
    def crashes(A, dV, eps):
        return dV @ A  # (N, d) @ (N, d): shapes do not align

    message = check_layer_norm_backward(crashes).message
    assert message.startswith("LayerNorm backward: case 'random N=4, d=5, eps=0.1' raised ValueError:")
    assert "\n" not in message


def test_wrong_shapes_are_reported():
    transposed = check_layer_norm_backward(lambda A, dV, eps: books_layer_norm_backward(A, dV, eps).T).message
    assert transposed == (
        "LayerNorm backward: case 'random N=4, d=5, eps=0.1': expected shape (4, 5), got (5, 4). "
        "Hint: is an index transposed?"
    )
    summed = check_layer_norm_backward(lambda A, dV, eps: books_layer_norm_backward(A, dV, eps).sum(1)).message
    assert "expected shape (4, 5), got (4,)" in summed


def test_the_checker_is_not_fooled_by_in_place_edits():
    def sneaky(A, dV, eps):
        A -= A.mean(axis=1, keepdims=True)  # edits the caller's array
        return books_layer_norm_backward(A, dV, eps)

    assert check_layer_norm_backward(sneaky).passed  # centring does not change the answer ...
    assert check_layer_norm_backward(books_layer_norm_backward).passed  # ... and the references are intact


def test_a_non_function_is_refused():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_layer_norm_backward("(g - mean(g)) / s")
