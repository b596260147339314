"""Chapter 8: the checker of the "EM steps to the SGD mean final loss" exercise."""

from __future__ import annotations

import numpy as np
import pytest

from attnlib.teaching.exercises.ch08 import _book_em_steps_to_sgd, check_em_steps_to_sgd
from attnlib.head.training import steps_to_reach

NAME = "EM steps to the SGD mean final loss"


def book(sgd_final, em_losses):
    threshold = np.mean(sgd_final)
    below = np.asarray(em_losses) < threshold
    return np.where(below.any(axis=1), below.argmax(axis=1), -1)


def via_steps_to_reach(sgd_final, em_losses):
    """The same answer through the library's own helper (None -> -1)."""
    threshold = float(np.mean(sgd_final))
    return [-1 if (t := steps_to_reach(row, threshold)) is None else t for row in em_losses]


def _first_true(mask):
    return np.where(mask.any(axis=1), mask.argmax(axis=1), -1)


def test_the_book_answer_passes():
    result = check_em_steps_to_sgd(book)
    assert result.passed and bool(result)
    assert result.message == f"{NAME}: correct on all 7 cases."


@pytest.mark.parametrize("fn", [via_steps_to_reach, _book_em_steps_to_sgd])
def test_the_packages_own_computation_gets_no_credit(fn):
    assert f"{NAME}: no credit: the answer runs the book's own attnlib." in check_em_steps_to_sgd(fn).message


def _loop_one_based(sgd_final, em_losses):
    threshold = np.mean(sgd_final)
    out = []
    for row in em_losses:
        out.append(next((t + 1 for t, v in enumerate(row) if v < threshold), -1))
    return np.array(out)


def _stays_below(sgd_final, em_losses):
    threshold = np.mean(sgd_final)
    out = []
    for row in em_losses:
        ok = [t for t in range(len(row)) if np.all(row[t:] < threshold)]
        out.append(ok[0] if ok else -1)
    return np.array(out)


MISTAKES = {  # name: (wrong function, words of the expected hint, the case it fails on)
    "<= instead of <": (lambda f, e: _first_true(np.asarray(e) <= np.mean(f)), "use <, not <=", "equal to"),
    "per-seed threshold": (
        lambda f, e: _first_true(np.asarray(e) < np.asarray(f)[:, None]), "not each seed's own", "random"),
    "one-based count": (_loop_one_based, "do not add 1", "random"),
    "minus one": (lambda f, e: np.where((b := book(f, e)) >= 0, b - 1, -1), "do not subtract 1", "random"),
    "argmax without a check": (lambda f, e: (np.asarray(e) < np.mean(f)).argmax(axis=1), "argmax of an all-False",
                               "never"),  # fmt: skip
    "never as the number of steps": (
        lambda f, e: np.where((b := book(f, e)) >= 0, b, np.shape(e)[1]), "not the number of steps", "never"),
    "the step after which it stays below": (_stays_below, "not the step after which", "dips below"),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_mistakes_are_recognised(name):
    fn, hint, case = MISTAKES[name]
    result = check_em_steps_to_sgd(fn)
    assert not result.passed
    assert hint in result.message, result.message
    assert case in result.message and "Hint:" in result.message
    assert "\n" not in result.message


def test_an_unknown_mistake_gets_no_hint():
    result = check_em_steps_to_sgd(lambda f, e: _first_true(np.asarray(e) < np.median(f)))
    assert not result.passed
    assert "expected" in result.message and "Hint:" not in result.message


def test_stub_says_not_implemented():
    def stub(sgd_final, em_losses):
        raise NotImplementedError

    assert check_em_steps_to_sgd(stub).message == f"{NAME}: not implemented yet (the stub raises NotImplementedError)."


def test_an_exception_is_one_line():
    def broken(sgd_final, em_losses):
        return np.linalg.solve(np.zeros((2, 2)), np.ones(2))

    result = check_em_steps_to_sgd(broken)
    assert not result.passed
    assert "raised LinAlgError: Singular matrix" in result.message and "\n" not in result.message
    assert result.message.startswith(f"{NAME}: case '")


@pytest.mark.parametrize(
    "fn, text",
    [
        (lambda f, e: 3, "expected shape (5,), got ()"),
        (lambda f, e: np.atleast_2d(book(f, e)), "expected shape (5,), got (1, 5)"),
        (lambda f, e: np.asarray(e) < np.mean(f), "expected shape (5,), got (5, 60)"),
    ],
)
def test_wrong_shapes_are_reported(fn, text):
    result = check_em_steps_to_sgd(fn)
    assert not result.passed and text in result.message, result.message


def test_not_numbers_are_reported():
    result = check_em_steps_to_sgd(lambda f, e: "three")
    assert not result.passed and "not an array of numbers" in result.message


def test_the_checker_does_not_share_arrays_with_the_student():
    def vandal(sgd_final, em_losses):
        out = book(sgd_final, em_losses)
        sgd_final[:] = 0.0
        em_losses[:] = 0.0
        return out

    assert check_em_steps_to_sgd(vandal).passed


def test_rejects_non_callables():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_em_steps_to_sgd(42)
