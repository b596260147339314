"""Exercise checkers: each calls a student's function on fresh cases, edge cases
included, compares it with the book's implementation and says what is wrong.

One module per chapter; every checker returns a
:class:`~attnlib.teaching.exercises._core.CheckResult`.

Every checker takes ``case_set="public"`` (the cases the chapter shows) or
``"hidden"`` (the same kinds of cases, the random ones drawn from other seeds:
an assignment's hidden test). An answer that runs the package's own
implementation (the function itself, or any wrapper of it) gets no credit and a
one-line message saying so (:mod:`._imported` says how it is seen).
"""

from ._core import Case, CheckResult, Mistake, run_checker
from .ch01 import check_cross_entropy_grad
from .ch02 import check_softmax_backward
from .ch03 import check_score_grad, check_score_grad_from_probs
from .ch04 import check_value_grad, check_weighted_mean
from .ch05 import check_query_key_grads, check_weight_grads
from .ch06 import check_value_drift
from .ch07 import check_m_step_grad
from .ch08 import check_em_steps_to_sgd
from .ch09 import check_effective_dimension, check_filter_step
from .ch10 import check_layer_norm_backward
from .ch11 import check_curve_steps_to

__all__ = [
    "Case",
    "CheckResult",
    "Mistake",
    "run_checker",
    "check_cross_entropy_grad",
    "check_softmax_backward",
    "check_score_grad",
    "check_score_grad_from_probs",
    "check_value_grad",
    "check_weighted_mean",
    "check_query_key_grads",
    "check_weight_grads",
    "check_value_drift",
    "check_m_step_grad",
    "check_em_steps_to_sgd",
    "check_filter_step",
    "check_effective_dimension",
    "check_layer_norm_backward",
    "check_curve_steps_to",
]
