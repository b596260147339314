"""The chapters' own written-out answers to the code exercises, by checker name.

Read from the solution cells of ``notebooks/*.ipynb`` (the code a student is
expected to write), so the tests can show that a correct answer passes now
that the package's own function (:data:`PACKAGE_ANSWERS`) gets no credit.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nbformat
import numpy as np

from attnlib.teaching.chapter_exercises import chapter_exercises

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: For each checker, the package's own function that answers it (what a student might import).
PACKAGE_ANSWERS = {
    "check_cross_entropy_grad": "attnlib.head.softmax.cross_entropy_grad",
    "check_softmax_backward": "attnlib.head.softmax.softmax_backward",
    "check_score_grad": "attnlib.laws.routing.score_gradient",
    "check_score_grad_from_probs": "attnlib.teaching.exercises.ch03._from_probs",
    "check_value_grad": "attnlib.laws.responsibility.value_grad",
    "check_weighted_mean": "attnlib.laws.responsibility.responsibility_weighted_mean",
    "check_query_key_grads": "attnlib.teaching.exercises.ch05._query_key_grads",
    "check_weight_grads": "attnlib.teaching.exercises.ch05._weight_grads",
    "check_value_drift": "attnlib.teaching.exercises.ch06.value_drift",
    "check_m_step_grad": "attnlib.teaching.exercises.ch07._reference",
    "check_em_steps_to_sgd": "attnlib.teaching.exercises.ch08._book_em_steps_to_sgd",
    "check_filter_step": "attnlib.teaching.exercises.ch09._reference_filter_step",
    "check_effective_dimension": "attnlib.teaching.exercises.ch09._reference_effective_dimension",
    "check_layer_norm_backward": "attnlib.dynamics.variants.layer_norm_backward",
    "check_curve_steps_to": "attnlib.teaching.exercises.ch11._book_curve_steps_to",
}


@lru_cache(maxsize=None)
def _answers() -> dict:
    found = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for exercise in chapter_exercises(nbformat.read(path, as_version=4)):
            if exercise.kind == "code":
                namespace = {"np": np}
                exec(exercise.answer_code, namespace)  # noqa: S102  the book's own solution code
                found.update({checker: namespace[function] for checker, function in exercise.checks})
    return found


def written_answer(checker: str):
    """The chapter's answer function that ``checker`` grades, e.g. ``written_answer("check_score_grad")``."""
    return _answers()[checker]
