"""No credit for the package's own answer, however it is wrapped; hidden cases differ from public ones."""

from __future__ import annotations

import functools
import importlib
import types

import numpy as np
import pytest

import attnlib.teaching.exercises as exercises
from attnlib.teaching.exercises import ch03, ch05
from tests.chapter_answers import PACKAGE_ANSWERS, written_answer

CHECKERS = sorted(PACKAGE_ANSWERS)


def _package_answer(checker):
    module, _, name = PACKAGE_ANSWERS[checker].rpartition(".")
    return getattr(importlib.import_module(module), name)


def _wrappers(answer):
    """The package's function itself and thin wrappers of it: what a student might hand in."""

    def wrapper(*args):
        return answer(*args)

    copy = types.FunctionType(answer.__code__, answer.__globals__, "mine", answer.__defaults__, answer.__closure__)
    copy.__kwdefaults__ = answer.__kwdefaults__
    return {"itself": answer, "lambda": lambda *a: answer(*a), "partial": functools.partial(answer),
            "def": wrapper, "copied code": copy, "two levels": lambda *a: wrapper(*a)}


@pytest.mark.parametrize("checker", CHECKERS)
def test_the_packages_own_answer_gets_no_credit_however_wrapped(checker):
    check = getattr(exercises, checker)
    for how, fn in _wrappers(_package_answer(checker)).items():
        result = check(fn)
        assert not result.passed, (checker, how)
        assert "no credit: the answer runs the book's own attnlib." in result.message, (checker, how)
        assert "\n" not in result.message


@pytest.mark.parametrize("checker", CHECKERS)
def test_the_chapters_written_answer_passes_public_and_hidden_cases(checker):
    check = getattr(exercises, checker)
    for case_set in ("public", "hidden"):
        assert check(written_answer(checker), case_set=case_set).passed, (checker, case_set)


@pytest.mark.parametrize("cases", [ch03._score_grad_cases, ch05._weight_cases])
def test_hidden_cases_are_other_draws_of_the_same_kinds(cases):
    public, hidden = cases("public"), cases("hidden")
    assert [c.label for c in public] == [c.label for c in hidden]
    assert not np.allclose(public[0].args[0], hidden[0].args[0])


def test_an_unknown_case_set_is_refused_in_one_line():
    with pytest.raises(ValueError, match="case_set must be 'public' or 'hidden', got 'secret'"):
        exercises.check_score_grad(written_answer("check_score_grad"), case_set="secret")
