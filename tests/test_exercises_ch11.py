"""Chapter 11: the checker of the "first measured step below a threshold" exercise."""

from __future__ import annotations

import numpy as np
import pytest

from attnlib.head.training import first_steps_below
from attnlib.teaching.exercises.ch11 import _book_curve_steps_to, check_curve_steps_to

NAME = "first measured step below a threshold"


def loop_answer(steps, curve, threshold):
    """A correct answer written as a plain loop."""
    out = []
    for row in curve:
        out.append(next((float(s) for s, v in zip(steps, row) if v < threshold), float("nan")))
    return np.array(out)


def via_first_steps_below(steps, curve, threshold):
    """The same answer through the library's own helper."""
    found = [first_steps_below(row, threshold) for row in curve]
    return np.array([np.nan if not np.isfinite(f) else steps[int(f)] for f in found], dtype=float)


def test_a_correct_answer_passes_public_and_hidden_cases():
    for case_set in ("public", "hidden"):
        result = check_curve_steps_to(loop_answer, case_set=case_set)
        assert result.passed and result.message == f"{NAME}: correct on all 7 cases."


def test_the_cases_hold_runs_that_never_get_below():
    """The random cases mix both outcomes, so 'nan where never' is really tested."""
    from attnlib.teaching.exercises.ch11 import _cases

    for case_set in ("public", "hidden"):
        answers = [_book_curve_steps_to(*case.args) for case in _cases(case_set)[:2]]
        assert all(np.isnan(a).any() and np.isfinite(a).any() for a in answers)


@pytest.mark.parametrize("fn", [via_first_steps_below, _book_curve_steps_to])
def test_the_packages_own_computation_gets_no_credit(fn):
    assert f"{NAME}: no credit: the answer runs the book's own attnlib." in check_curve_steps_to(fn).message


def _index(steps, curve, threshold):
    below = np.asarray(curve) < threshold
    return np.where(below.any(axis=1), below.argmax(axis=1), np.nan)


def _minus_one(steps, curve, threshold):
    return np.nan_to_num(loop_answer(steps, curve, threshold), nan=-1.0)


def _no_nan(steps, curve, threshold):
    return np.asarray(steps, dtype=float)[(np.asarray(curve) < threshold).argmax(axis=1)]


def _not_strict(steps, curve, threshold):
    return loop_answer(steps, curve, np.nextafter(threshold, np.inf))


@pytest.mark.parametrize("wrong, hint", [(_index, "not its position in the row"), (_minus_one, "nan, not -1"),
                                         (_no_nan, "must give nan, not steps[0]"), (_not_strict, "use <, not <=")])
def test_each_known_mistake_gets_its_hint(wrong, hint):
    result = check_curve_steps_to(wrong)
    assert not result.passed and hint in result.message and "\n" not in result.message


def test_a_stub_is_reported_as_not_implemented():
    def stub(steps, curve, threshold):
        raise NotImplementedError("write curve_steps_to")

    assert check_curve_steps_to(stub).message == f"{NAME}: not implemented yet (the stub raises NotImplementedError)."
