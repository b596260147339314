"""Checkers for the exercises of chapter 8 (the sticky Markov chain, reproduced)."""

from __future__ import annotations

import numpy as np

from ...head.training import first_steps_below
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = ["check_em_steps_to_sgd"]


def _book_em_steps_to_sgd(sgd_final, em_losses):
    """The paper's headline per seed: first ``t`` with ``em_losses[s, t] < mean(sgd_final)``, else -1."""
    threshold = np.mean(sgd_final)  # one threshold for every seed
    below = np.asarray(em_losses) < threshold  # (S, steps)  strictly below
    return np.where(below.any(axis=1), below.argmax(axis=1), -1)  # (S,)  0-based, -1: never


def _first_true(mask):
    return np.where(mask.any(axis=1), mask.argmax(axis=1), -1)  # (S,)


def _curves(rng, n_seeds: int, steps: int):
    """Decaying loss curves with a little noise, each seed at its own pace."""
    t = np.arange(steps)  # (steps,)
    start = 2.08 + 0.01 * rng.standard_normal((n_seeds, 1))  # (S, 1)
    floor = rng.uniform(1.80, 1.90, size=(n_seeds, 1))  # (S, 1)
    pace = rng.uniform(0.02, 0.06, size=(n_seeds, 1))  # (S, 1)
    noise = 0.001 * rng.standard_normal((n_seeds, steps))  # (S, steps)
    return floor + (start - floor) * np.exp(-pace * t) + noise  # (S, steps)


def _cases(case_set: str) -> list[Case]:
    rng = np.random.default_rng(case_seed(2512_22473, case_set))
    cases = []
    for n_seeds, steps in [(5, 60), (3, 40)]:
        em = _curves(rng, n_seeds, steps)  # (S, steps)
        sgd_final = rng.uniform(1.97, 2.03, size=n_seeds)  # (S,)  every EM curve gets below their mean
        cases.append(Case(f"random, {n_seeds} seeds x {steps} steps", (sgd_final, em)))
    cases.append(Case("one seed", (np.array([2.0]), np.array([[2.3, 2.2, 2.1, 1.99, 1.9]]))))
    # Exactly representable numbers: the mean is exactly 2.0 and one curve touches it.
    cases.append(Case(
        "a loss equal to the threshold",
        (np.array([2.0, 2.5, 1.5]), np.array([[3.0, 2.5, 2.0, 1.75, 1.5], [3.0, 2.25, 1.5, 1.25, 1.0]])),
    ))  # fmt: skip
    cases.append(Case(
        "a seed that never gets below",
        (np.array([2.0, 2.1]), np.array([[2.5, 2.2, 2.0, 1.9], [2.5, 2.2, 2.06, 2.051]])),
    ))  # fmt: skip
    cases.append(Case("already below at step 0", (np.array([2.0, 2.2]), np.array([[2.05, 2.0, 1.9], [2.5, 2.3, 2.0]]))))
    cases.append(Case(
        "a curve that dips below and comes back",
        (np.array([2.0, 2.0]), np.array([[2.4, 1.95, 2.1, 2.05, 1.9, 1.8], [2.4, 2.2, 2.1, 1.98, 1.9, 1.8]])),
    ))  # fmt: skip
    return cases


def check_em_steps_to_sgd(fn, *, case_set: str = "public") -> CheckResult:
    """Check ``fn(sgd_final, em_losses)``: the paper's "EM steps to the SGD mean final loss".

    ``sgd_final`` has shape ``(S,)`` (each seed's final SGD loss) and
    ``em_losses`` shape ``(S, steps)`` (``em_losses[s, t]``: the EM-like loss of
    seed ``s`` after ``t`` updates). The answer has shape ``(S,)``: for each seed
    the first ``t`` with ``em_losses[s, t]`` strictly below the mean of
    ``sgd_final``, or ``-1`` if there is none (chapter 8).

    Examples
    --------
    >>> check_em_steps_to_sgd(lambda sgd_final, em_losses: np.zeros(len(em_losses))).passed
    False
    >>> check_em_steps_to_sgd(_book_em_steps_to_sgd)  # the book's own function: no credit  # doctest: +ELLIPSIS
    EM steps to the SGD mean final loss: no credit: the answer runs the book's own ...; write the computation yourself.
    """

    def per_seed_threshold(sgd_final, em_losses):
        below = np.asarray(em_losses) < np.asarray(sgd_final)[:, None]  # (S, steps)
        return _first_true(below)

    def last_crossing(sgd_final, em_losses):
        above = np.asarray(em_losses) >= np.mean(sgd_final)  # (S, steps)
        steps = above.shape[1]
        last_above = np.where(above.any(axis=1), steps - 1 - above[:, ::-1].argmax(axis=1), -1)  # (S,)
        return np.where(last_above == steps - 1, -1, last_above + 1)

    mistakes = [
        Mistake("'falls below' is strict: use <, not <= (a loss equal to the threshold has not fallen below it)",
                lambda f, e: _first_true(np.asarray(e) <= np.mean(f))),  # fmt: skip
        Mistake("the threshold is one number for every seed, the mean over seeds of the SGD final losses, "
                "not each seed's own final SGD loss", per_seed_threshold),  # fmt: skip
        Mistake("em_losses[s, t] is the loss after t updates, so the answer is the index t itself, counted "
                "from 0: do not add 1", lambda f, e: np.where((b := _book_em_steps_to_sgd(f, e)) >= 0, b + 1, -1)),
        Mistake("em_losses[s, t] is the loss after t updates, so the answer is the index t itself: "
                "do not subtract 1", lambda f, e: np.where((b := _book_em_steps_to_sgd(f, e)) >= 0, b - 1, -1)),
        Mistake("np.argmax of an all-False row is 0: a seed whose loss never falls below must give -1",
                lambda f, e: np.maximum(_book_em_steps_to_sgd(f, e), 0)),  # fmt: skip
        Mistake("a seed whose loss never falls below must give -1, not the number of steps",
                lambda f, e: np.where((b := _book_em_steps_to_sgd(f, e)) >= 0, b, np.shape(e)[1])),  # fmt: skip
        Mistake("the answer is the first step below the threshold, not the step after which the loss stays below",
                last_crossing),  # fmt: skip
    ]
    return run_checker("EM steps to the SGD mean final loss", fn, _cases(case_set), _book_em_steps_to_sgd, mistakes,
                       answers=(first_steps_below,))
