"""Every exercise's chapter, kind, difficulty and time: the one source the book reads them from.

Three places show these facts, and all read :data:`CATALOGUE`:

* the line under each exercise's title in the book, "Difficulty ★★☆ · about 20 min"
  (the Sphinx extension ``book/_ext/exercise_meta.py``);
* the same line in the Colab copies (``tools/colab_notebooks.py``);
* the instructors' table of exercises (the ``exercise-catalogue`` directive of the
  same extension, on ``book/instructors.md``).

Each entry is keyed by the ``:label:`` of its ``{exercise}`` directive. The titles
are not repeated here: the book shows each exercise's own. A test checks that every
``{exercise}`` of the chapters has exactly one entry and every entry an exercise,
and that the checkers named here exist in :mod:`attnlib.teaching.exercises`.

Times are estimates for a student who has read the chapter: pencil exercises assume
the derivation in the text is fresh, code exercises include running the checker
until it passes. Difficulty is 1 (apply the chapter's result), 2 (combine two of
its steps, or find a guard or an edge case) or 3 (a proof or a computation the
chapter does not walk through).

Examples
--------
>>> meta_line("ex-route-code")
'Difficulty ★★☆ · about 25 min · code'
>>> CATALOGUE["ex-ce-temperature"].kind
'pencil'
>>> meta_line("ex-nowhere")
Traceback (most recent call last):
...
ValueError: label must be an exercise label of CATALOGUE (e.g. 'ex-ce-code'), got 'ex-nowhere'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "ExerciseEntry", "CATALOGUE", "entry", "difficulty_stars", "meta_line", "chapter_minutes"]

#: The kinds of exercise, as the table and the line under a title name them.
KINDS = {
    "pencil": "pencil",
    "pencil-with-run": "pencil, with a run",
    "code": "code",
}


@dataclass(frozen=True)
class ExerciseEntry:
    """One exercise: its chapter (document name), kind, difficulty (1-3), minutes, and checkers."""

    chapter: str
    kind: str
    difficulty: int
    minutes: int
    checkers: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {self.kind!r}")
        if self.difficulty not in (1, 2, 3):
            raise ValueError(f"difficulty must be 1, 2 or 3, got {self.difficulty!r}")
        if not (isinstance(self.minutes, int) and 0 < self.minutes <= 120):
            raise ValueError(f"minutes must be an integer in 1..120, got {self.minutes!r}")
        if (self.kind == "code") != bool(self.checkers):
            raise ValueError(f"checkers must be given exactly for code exercises, got {self.checkers!r} for a {self.kind!r} one")


def _ch(name: str) -> str:
    return f"notebooks/{name}"


_E = ExerciseEntry
#: label -> entry, in book order.
CATALOGUE: dict[str, ExerciseEntry] = {
    "ex-ce-hessian": _E(_ch("01_cross_entropy"), "pencil", 2, 20),
    "ex-ce-temperature": _E(_ch("01_cross_entropy"), "pencil", 1, 10),
    "ex-ce-code": _E(_ch("01_cross_entropy"), "code", 1, 15, ("check_cross_entropy_grad",)),
    "ex-attn-scaling": _E(_ch("02_attention_head"), "pencil", 2, 20),
    "ex-attn-masked": _E(_ch("02_attention_head"), "pencil", 1, 10),
    "ex-attn-code": _E(_ch("02_attention_head"), "code", 2, 20, ("check_softmax_backward",)),
    "ex-route-shift": _E(_ch("03_routing_law"), "pencil", 1, 15),
    "ex-route-two-keys": _E(_ch("03_routing_law"), "pencil", 2, 20),
    "ex-route-stationary": _E(_ch("03_routing_law"), "pencil", 2, 15),
    "ex-route-code": _E(_ch("03_routing_law"), "code", 2, 25, ("check_score_grad", "check_score_grad_from_probs")),
    "ex-value-sum": _E(_ch("04_value_updates"), "pencil", 1, 10),
    "ex-value-identical": _E(_ch("04_value_updates"), "pencil", 2, 15),
    "ex-value-code": _E(_ch("04_value_updates"), "code", 1, 10, ("check_value_grad",)),
    "ex-value-mean": _E(_ch("04_value_updates"), "code", 3, 25, ("check_weighted_mean",)),
    "ex-qk-temperature": _E(_ch("05_full_backward"), "pencil", 1, 15),
    "ex-qk-shared": _E(_ch("05_full_backward"), "pencil", 2, 20),
    "ex-qk-code": _E(_ch("05_full_backward"), "code", 2, 15, ("check_query_key_grads",)),
    "ex-wgrad-code": _E(_ch("05_full_backward"), "code", 2, 20, ("check_weight_grads",)),
    "ex-toy-not-onehot": _E(_ch("06_toy_feedback_loop"), "pencil", 2, 20),
    "ex-toy-em": _E(_ch("06_toy_feedback_loop"), "pencil-with-run", 2, 20),
    "ex-toy-code": _E(_ch("06_toy_feedback_loop"), "code", 2, 20, ("check_value_drift",)),
    "ex-em-half": _E(_ch("07_two_timescales"), "pencil", 3, 20),
    "ex-em-cost": _E(_ch("07_two_timescales"), "pencil", 1, 15),
    "ex-em-code": _E(_ch("07_two_timescales"), "code", 3, 25, ("check_m_step_grad",)),
    "ex-sticky-undo": _E(_ch("08_sticky_chain"), "pencil", 2, 15),
    "ex-sticky-headline": _E(_ch("08_sticky_chain"), "code", 2, 20, ("check_em_steps_to_sgd",)),
    "ex-sticky-horizon": _E(_ch("08_sticky_chain"), "pencil", 1, 15),
    "ex-bayes-oracle": _E(_ch("09_value_manifolds"), "pencil", 2, 20),
    "ex-bayes-noise": _E(_ch("09_value_manifolds"), "pencil-with-run", 2, 25),
    "ex-bayes-filter-code": _E(_ch("09_value_manifolds"), "code", 3, 20, ("check_filter_step",)),
    "ex-geom-deff-code": _E(_ch("09_value_manifolds"), "code", 1, 10, ("check_effective_dimension",)),
    "ex-beyond-scale": _E(_ch("10_beyond_single_head"), "pencil", 2, 20),
    "ex-beyond-identical": _E(_ch("10_beyond_single_head"), "pencil", 2, 20),
    "ex-beyond-code": _E(_ch("10_beyond_single_head"), "code", 3, 25, ("check_layer_norm_backward",)),
    "ex-deep-entropy": _E(_ch("11_deep_transformer"), "pencil", 2, 15),
    "ex-deep-steps": _E(_ch("11_deep_transformer"), "code", 1, 10, ("check_curve_steps_to",)),
    "ex-deep-data": _E(_ch("11_deep_transformer"), "pencil", 1, 15),
}
del _E


def entry(label: str) -> ExerciseEntry:
    """The catalogue entry of the exercise labelled ``label``."""
    if label not in CATALOGUE:
        raise ValueError(f"label must be an exercise label of CATALOGUE (e.g. 'ex-ce-code'), got {label!r}")
    return CATALOGUE[label]


def difficulty_stars(difficulty: int) -> str:
    """``2`` -> ``'★★☆'``."""
    if difficulty not in (1, 2, 3):
        raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty!r}")
    return "★" * difficulty + "☆" * (3 - difficulty)


def meta_line(label: str) -> str:
    """The line shown under the exercise's title, in the book and in the Colab copies."""
    item = entry(label)
    return f"Difficulty {difficulty_stars(item.difficulty)} · about {item.minutes} min · {KINDS[item.kind]}"


def chapter_minutes() -> dict[str, int]:
    """Total minutes of each chapter's exercises (chapter document name -> minutes), in book order."""
    totals: dict[str, int] = {}
    for item in CATALOGUE.values():
        totals[item.chapter] = totals.get(item.chapter, 0) + item.minutes
    return totals
