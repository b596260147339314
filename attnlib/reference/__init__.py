"""Two independent references for every hand-derived gradient.

* **Autograd**: the same head written in PyTorch (float64), differentiated by
  ``torch.autograd``; it shares no code with :mod:`attnlib.head.gradients`
  (:mod:`~attnlib.reference.torch_twins`).
* **Central finite differences**: ``(f(x + eps) - f(x - eps)) / (2 eps)`` entry
  by entry, which needs nothing but the forward pass
  (:mod:`~attnlib.reference.finite_differences`).

Each check (:mod:`~attnlib.reference.checks`) returns a
:class:`GradCheckReport` (:mod:`~attnlib.reference.report`); its text form
prints one row per quantity with the largest absolute difference, and
``report.passed`` (or ``report.assert_ok()``) is what a notebook asserts on.
"""

from .checks import LABELS, check_backward, check_gradient, check_jacobian
from .finite_differences import finite_differences
from .report import AUTOGRAD_TOL, FD_TOL, Check, GradCheckReport, compare_arrays
from .torch_twins import POINTS, autograd_grads, loss_as_function_of, torch_loss, torch_masked_softmax

__all__ = [
    "AUTOGRAD_TOL",
    "FD_TOL",
    "LABELS",
    "POINTS",
    "Check",
    "GradCheckReport",
    "compare_arrays",
    "finite_differences",
    "check_gradient",
    "check_jacobian",
    "check_backward",
    "autograd_grads",
    "torch_loss",
    "torch_masked_softmax",
    "loss_as_function_of",
]
