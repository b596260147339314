"""The two gradient laws and the EM reading (chapters 3, 4 and 7).

The routing law for the scores (:mod:`~attnlib.laws.routing`), the
responsibility-weighted law for the values (:mod:`~attnlib.laws.responsibility`)
and the head read as EM (:mod:`~attnlib.laws.em`). Pure functions of arrays;
they build on :mod:`attnlib.head` and are checked with :mod:`attnlib.reference`.
"""

from .routing import (
    score_gradient,
    advantage,
    first_order_attention_change,
    loss_slope_toward_values,
    StepSweep,
    step_sweep,
    loglog_slope,
    RoutingView,
    routing_view,
)
from .responsibility import (
    column_usage,
    value_grad,
    update_contributions,
    responsibility_weighted_mean,
    gmm_responsibilities,
    value_step_compat_change,
    advantage_change,
    upstream_change_first_order,
)
from .em import (
    m_step_features,
    m_step_loss,
    m_step_grads,
    curvature_bounds,
    m_step_hessian,
    m_step,
    routing_grads,
    AlternatingEM,
    EMHistory,
    train_alternating,
    gradient_step_cost,
    alternating_cost,
)

__all__ = [
    "score_gradient",
    "advantage",
    "first_order_attention_change",
    "loss_slope_toward_values",
    "StepSweep",
    "step_sweep",
    "loglog_slope",
    "RoutingView",
    "routing_view",
    "column_usage",
    "value_grad",
    "update_contributions",
    "responsibility_weighted_mean",
    "gmm_responsibilities",
    "value_step_compat_change",
    "advantage_change",
    "upstream_change_first_order",
    "m_step_features",
    "m_step_loss",
    "m_step_grads",
    "curvature_bounds",
    "m_step_hessian",
    "m_step",
    "routing_grads",
    "AlternatingEM",
    "EMHistory",
    "train_alternating",
    "gradient_step_cost",
    "alternating_cost",
]
