"""Checkers for the exercises of chapter 11 (the authors' deep variant)."""

from __future__ import annotations

import numpy as np

from ...head.training import first_steps_below
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = ["check_curve_steps_to"]


def _first_step(steps, below):
    """Per row of ``below`` (S, K): the entry of ``steps`` at its first True, else nan."""
    first = np.asarray(steps, dtype=float)[below.argmax(axis=1)]  # (S,)
    return np.where(below.any(axis=1), first, np.nan)  # (S,)


def _book_curve_steps_to(steps, curve, threshold):
    """Per row of ``curve``: the first entry of ``steps`` where the row is strictly below ``threshold``, else nan."""
    return _first_step(steps, np.asarray(curve) < threshold)  # (S,)


def _cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22474, case_set))
    cases = []
    for n_seeds, every in [(5, 20), (3, 10)]:
        steps = np.arange(0, 16 * every, every)  # (K,)  a curve read every `every` steps
        floor = rng.uniform(1.80, 1.95, size=(n_seeds, 1))  # (S, 1)
        pace = rng.uniform(0.01, 0.05, size=(n_seeds, 1))  # (S, 1)
        noise = 0.002 * rng.standard_normal((n_seeds, steps.size))  # (S, K)
        curve = floor + (2.1 - floor) * np.exp(-pace * steps) + noise  # (S, K)
        threshold = float(np.median(curve[:, -1]))  # some runs get below it, not all
        cases.append(Case(f"random, {n_seeds} seeds read every {every} steps", (steps, curve, threshold)))
    cases.append(Case("uneven steps", (np.array([0, 1, 5, 20, 100]), np.array([[2.2, 2.1, 1.99, 1.9, 1.85]]), 2.0)))
    cases.append(Case("a point equal to the threshold",
                      (np.array([0, 10, 20, 30]), np.array([[2.5, 2.0, 1.5, 1.0], [2.5, 2.25, 2.0, 1.75]]), 2.0)))
    cases.append(Case("a run that never gets below",
                      (np.array([0, 10, 20]), np.array([[2.5, 2.2, 1.9], [2.5, 2.2, 2.05]]), 2.0)))
    cases.append(Case("below at the first point", (np.array([5, 10, 15]), np.array([[1.9, 2.1, 1.8]]), 2.0)))
    cases.append(Case("a dip below that comes back",
                      (np.array([0, 10, 20, 30, 40]), np.array([[2.4, 1.95, 2.1, 2.05, 1.9]]), 2.0)))
    return cases


def check_curve_steps_to(fn, *, case_set: str = "public") -> CheckResult:
    """Check ``fn(steps, curve, threshold)``: per run, the first measured step strictly below ``threshold``.

    ``steps`` has shape ``(K,)`` (the steps at which a curve was measured) and
    ``curve`` shape ``(S, K)``, one row per run. The answer has shape ``(S,)``,
    floats: the entry of ``steps`` at the first point of the row strictly below
    ``threshold``, ``nan`` where there is none (chapter 11).

    Examples
    --------
    >>> check_curve_steps_to(lambda steps, curve, threshold: np.zeros(len(curve))).passed
    False
    >>> check_curve_steps_to(_book_curve_steps_to)  # the book's own function: no credit  # doctest: +ELLIPSIS
    first measured step below a threshold: no credit: the answer runs the book's own ...; write the computation yourself.
    """

    def as_index(steps, curve, threshold):
        below = np.asarray(curve) < threshold  # (S, K)
        return np.where(below.any(axis=1), below.argmax(axis=1).astype(float), np.nan)

    def last_crossing(steps, curve, threshold):
        above = np.asarray(curve) >= threshold  # (S, K)
        k = above.shape[1]
        last_above = np.where(above.any(axis=1), k - 1 - above[:, ::-1].argmax(axis=1), -1)  # (S,)
        index = np.minimum(last_above + 1, k - 1)  # (S,)
        return np.where(last_above == k - 1, np.nan, np.asarray(steps, dtype=float)[index])

    mistakes = [
        Mistake("'below' is strict: use <, not <= (a point equal to the threshold is not below it)",
                lambda s, c, t: _first_step(s, np.asarray(c) <= t)),
        Mistake("return the step at which the curve was measured (an entry of steps), not its position in the row",
                as_index),
        Mistake("np.argmax of an all-False row is 0: a run that never gets below must give nan, not steps[0]",
                lambda s, c, t: np.asarray(s, dtype=float)[(np.asarray(c) < t).argmax(axis=1)]),
        Mistake("a run that never gets below gives nan, not -1",
                lambda s, c, t: np.nan_to_num(_book_curve_steps_to(s, c, t), nan=-1.0)),
        Mistake("the answer is the first point below the threshold, not the point after which the curve stays below",
                last_crossing),
    ]
    return run_checker("first measured step below a threshold", fn, _cases(case_set), _book_curve_steps_to, mistakes,
                       answers=(first_steps_below,), equal_nan=True)
