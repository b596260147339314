"""The machinery every exercise checker shares.

A checker runs the student's function on a list of :class:`Case` objects,
compares each answer with the book's own implementation, and, when they
differ, tries a list of known mistakes (a flipped sign, a missing ``1/N``...)
to turn "wrong" into a hint. It returns a :class:`CheckResult`: one line when
everything passes, and otherwise the case, the entry, the expected and the
obtained value, and the hint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ._imported import watch_calls

__all__ = ["Case", "Mistake", "CheckResult", "run_checker", "CASE_SETS", "case_seed"]

#: The two sets of cases a checker can draw: ``"public"`` (what the chapter's checker call
#: and an assignment's visible test use) and ``"hidden"`` (an assignment's hidden test: the
#: same kinds of cases, the random ones drawn from other seeds).
CASE_SETS = ("public", "hidden")
_HIDDEN_SEED_OFFSET = 7919  # any fixed number: the hidden cases must differ from the public ones


def case_seed(seed: int, case_set: str) -> int:
    """The seed of a checker's random cases for ``case_set``.

    Examples
    --------
    >>> case_seed(50, "public"), case_seed(50, "hidden") != 50
    (50, True)
    >>> case_seed(50, "secret")
    Traceback (most recent call last):
    ...
    ValueError: case_set must be 'public' or 'hidden', got 'secret'
    """
    if case_set not in CASE_SETS:
        raise ValueError(f"case_set must be 'public' or 'hidden', got {case_set!r}")
    return seed if case_set == "public" else seed + _HIDDEN_SEED_OFFSET


@dataclass(frozen=True)
class Case:
    """One input for the student's function.

    Attributes
    ----------
    label : str
        How the case is named in messages, e.g. ``"random N=4, C=3"``.
    args : tuple
        Positional arguments passed to the student's function.
    kwargs : dict
        Keyword arguments.
    """

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer and the hint that explains it.

    ``answer`` maps the case's arguments to the value that this mistake produces.
    """

    hint: str
    answer: Callable[..., Any]


@dataclass(frozen=True)
class CheckResult:
    """The verdict on a student's function.

    Attributes
    ----------
    exercise : str
    passed : bool
    message : str
        One line of success, or what is wrong and a hint.
    n_cases : int
        How many cases were tried.
    """

    exercise: str
    passed: bool
    message: str
    n_cases: int

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.passed


def _close(a, b, rtol: float, atol: float, equal_nan: bool = False) -> bool:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    if equal_nan:  # nan where the reference has nan (an answer's "never"), numbers elsewhere
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return False
        a, b = a[~np.isnan(b)], b[~np.isnan(b)]
    return bool(np.all(np.isfinite(a))) and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def run_checker(
    exercise: str,
    fn: Callable,
    cases: list[Case],
    reference: Callable,
    mistakes: list[Mistake] = (),
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    answers: Sequence[Callable] = (),
    equal_nan: bool = False,
) -> CheckResult:
    """Run ``fn`` on every case and compare it with ``reference``.

    Parameters
    ----------
    exercise : str
        Name shown in every message.
    fn : callable
        The student's function.
    cases : list of Case
    reference : callable
        The book's implementation, called with the same arguments.
    mistakes : list of Mistake
        Known wrong answers, tried in order when ``fn`` disagrees.
    rtol, atol : float
        Tolerance of the comparison.
    answers : sequence of callables
        The package's own functions that answer the exercise, besides ``reference``.
        An ``fn`` that runs any of them (or ``reference``) at any depth gets no
        credit, however right its numbers (:mod:`._imported` says how it is seen).
    equal_nan : bool, default False
        The answer may hold ``nan`` (meaning "none"): it must then be ``nan``
        exactly where the reference's is.

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> cases = [Case("x = 2", (2.0,)), Case("x = -3", (-3.0,))]
    >>> square_grad = lambda x: 2 * x
    >>> run_checker("d(x^2)/dx", lambda x: 2 * x, cases, square_grad)
    d(x^2)/dx: correct on all 2 cases.
    >>> run_checker("d(x^2)/dx", lambda x: -2 * x, cases, square_grad,
    ...             [Mistake("the sign is flipped", lambda x: -2 * x)])
    d(x^2)/dx: case 'x = 2': expected 4, got -4. Hint: the sign is flipped.
    >>> run_checker("d(x^2)/dx", lambda x: square_grad(x), cases, square_grad)  # doctest: +ELLIPSIS
    d(x^2)/dx: no credit: the answer runs the book's own ...<lambda>; write the computation yourself.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__} {fn!r}")
    watched = [reference, *answers]
    borrowed: list[str] = []
    for case in cases:
        expected = np.asarray(reference(*case.args, **case.kwargs), dtype=float)
        try:
            with watch_calls(watched) as seen:
                got = fn(*_copies(case.args), **_copies(case.kwargs))
            borrowed += [name for name in seen.names if name not in borrowed]
        except NotImplementedError:
            return CheckResult(exercise, False, f"{exercise}: not implemented yet (the stub raises NotImplementedError).", len(cases))
        except Exception as error:  # the student's code failed: say how, without a traceback
            return CheckResult(
                exercise, False, f"{exercise}: case '{case.label}' raised {type(error).__name__}: {error}", len(cases)
            )
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return CheckResult(
                exercise, False, f"{exercise}: case '{case.label}' returned {type(got).__name__}, not an array of numbers.", len(cases)
            )
        if got.shape != expected.shape:
            hint = " Hint: is an index transposed?" if got.shape == expected.shape[::-1] else ""
            return CheckResult(
                exercise, False, f"{exercise}: case '{case.label}': expected shape {expected.shape}, got {got.shape}.{hint}", len(cases)
            )
        if _close(got, expected, rtol, atol, equal_nan):
            continue
        failure = _describe_failure(exercise, case, got, expected, mistakes, rtol, atol, equal_nan)
        return CheckResult(exercise, False, failure, len(cases))
    if borrowed:
        return CheckResult(
            exercise, False,
            f"{exercise}: no credit: the answer runs the book's own {borrowed[0]}; write the computation yourself.",
            len(cases),
        )
    return CheckResult(exercise, True, f"{exercise}: correct on all {len(cases)} cases.", len(cases))


def _describe_failure(exercise, case, got, expected, mistakes, rtol, atol, equal_nan=False) -> str:
    if equal_nan:  # a nan in the wrong place, or a number where nan was due
        for mistake in mistakes:
            if _close(got, np.asarray(mistake.answer(*case.args, **case.kwargs), dtype=float), 1e-6, 1e-12, True):
                hint = f" Hint: {mistake.hint}."
                break
        else:
            hint = ""
        return f"{exercise}: case '{case.label}': expected {expected.tolist()}, got {got.tolist()}.{hint}"
    finite = np.isfinite(got)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        where = f" at entry {list(index)}" if got.ndim else ""
        return (
            f"{exercise}: case '{case.label}': got {got[index]}{where}. "
            "Hint: an exponential overflowed; subtract the row maximum before exponentiating."
        )
    diff = np.abs(got - expected)  # shape of the answer
    index = np.unravel_index(int(np.argmax(diff - (atol + rtol * np.abs(expected)))), diff.shape)
    where = f" at entry {[int(i) for i in index]}" if got.ndim else ""
    text = f"{exercise}: case '{case.label}'{where}: expected {expected[index]:.6g}, got {got[index]:.6g}."
    for mistake in mistakes:
        wrong = np.asarray(mistake.answer(*case.args, **case.kwargs), dtype=float)
        if _close(got, wrong, 1e-6, 1e-12):
            return f"{text} Hint: {mistake.hint}."
    return text


def _copies(value):
    """Copy arrays so that a student's in-place edit cannot spoil the reference."""
    if isinstance(value, dict):
        return {k: _copies(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_copies(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.copy()
    return value
