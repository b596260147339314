"""Gradient checks: a claimed gradient (or Jacobian, or a whole backward pass)
against autograd in float64 and central finite differences."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._validate import as_float_array
from ..head.gradients import Grads, backward
from ..head.model import Params
from .finite_differences import finite_differences
from .report import AUTOGRAD_TOL, FD_TOL, GradCheckReport, compare_arrays
from .torch_twins import validated_problem, autograd_grads, loss_as_function_of

__all__ = ["check_gradient", "check_jacobian", "check_backward", "LABELS"]

#: Display name of each Grads field in reports, in paper notation.
LABELS = {
    "W_Q": "dL/dW_Q", "W_K": "dL/dW_K", "W_V": "dL/dW_V", "W_O": "dL/dW_O",
    "logits": "dL/dz", "upstream": "u = dL/do", "compat": "b = dL/dalpha", "advantage": "A",
    "scores": "dL/ds", "values": "dL/dv", "queries": "dL/dq", "keys": "dL/dk",
}  # fmt: skip

#: The gradient fields finite differences check, in report order. ``Grads`` and ``Cache`` share
#: the names of the quantities both hold (``queries``, ``scores``, ``logits``...): each field is the
#: gradient at the weight or ``Cache`` field of its own name, except ``upstream``, the paper's
#: :math:`u_i`, the gradient at ``Cache.out``.
FD_FIELDS = ("W_Q", "W_K", "W_V", "W_O", "logits", "upstream", "scores", "values", "queries", "keys")


def _checked_eps(eps) -> float:
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    return eps


def check_gradient(
    name: str,
    claimed,
    f: Callable[[np.ndarray], float],
    x,
    *,
    f_torch: Callable | None = None,
    eps: float = 1e-6,
) -> GradCheckReport:
    """Compare a claimed gradient of ``f`` at ``x`` with finite differences (and autograd).

    Parameters
    ----------
    name : str
        Label for the report, e.g. ``"dL/dz"``.
    claimed : array_like, shape of ``x``
        The gradient to test.
    f : callable
        NumPy scalar function of an array of the shape of ``x``.
    x : array_like
        The point.
    f_torch : callable, optional
        The same function written with torch operations; when given, its
        autograd gradient (float64) is a second reference.
    eps : float
        Finite-difference step.

    Examples
    --------
    >>> check_gradient("d(x.x)/dx", np.array([2.0, -4.0]), lambda x: float(x @ x), np.array([1.0, -2.0])).passed
    True
    """
    x = as_float_array(x, "x")
    eps = _checked_eps(eps)
    claimed = np.asarray(claimed, dtype=float)
    if claimed.shape != x.shape:
        raise ValueError(f"claimed must have the shape of x {x.shape}, got {claimed.shape}")
    checks = []
    tolerances = {"finite differences": FD_TOL}
    if f_torch is not None:
        import torch

        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        f_torch(xt).backward()
        checks.append(compare_arrays(name, "autograd", claimed, xt.grad.numpy(), AUTOGRAD_TOL))
        tolerances["autograd"] = AUTOGRAD_TOL
    checks.append(compare_arrays(name, "finite differences", claimed, finite_differences(f, x, eps=eps), FD_TOL))
    return GradCheckReport(tuple(checks), tolerances)


def check_jacobian(
    name: str,
    claimed,
    f: Callable[[np.ndarray], np.ndarray],
    x,
    *,
    f_torch: Callable | None = None,
    eps: float = 1e-6,
) -> GradCheckReport:
    r"""Compare a claimed Jacobian of a vector function with autograd and finite differences.

    Parameters
    ----------
    name : str
        Label for the report, e.g. ``"dalpha_i/ds_i"``.
    claimed : array_like, shape ``f(x).shape + x.shape``
        The Jacobian to test: ``claimed[j, k] = d f_j / d x_k``.
    f : callable
        NumPy function of an array of the shape of ``x``, returning an array.
    x : array_like
        The point.
    f_torch : callable, optional
        The same function with torch operations; when given,
        ``torch.autograd.functional.jacobian`` (float64) is a second reference.
    eps : float, default 1e-6

    Notes
    -----
    Chapter 2 uses it for the softmax Jacobian, eq. ``softmax-jacobian``.

    Examples
    --------
    >>> import attnlib
    >>> s = np.array([0.3, -1.2, 2.0])
    >>> check_jacobian("dp/dz", attnlib.softmax_jacobian(attnlib.softmax(s)), attnlib.softmax, s).passed
    True
    >>> check_jacobian("dp/dz", np.eye(3), attnlib.softmax, s).passed
    False
    """
    x = as_float_array(x, "x")
    eps = _checked_eps(eps)
    out_shape = np.shape(f(x))
    claimed = np.asarray(claimed, dtype=float)
    if claimed.shape != out_shape + x.shape:
        raise ValueError(f"claimed must have shape f(x).shape + x.shape = {out_shape + x.shape}, got {claimed.shape}")
    checks = []
    tolerances = {"finite differences": FD_TOL}
    if f_torch is not None:
        import torch

        jac = torch.autograd.functional.jacobian(f_torch, torch.tensor(x, dtype=torch.float64))
        checks.append(compare_arrays(name, "autograd", claimed, jac.numpy(), AUTOGRAD_TOL))
        tolerances["autograd"] = AUTOGRAD_TOL
    checks.append(compare_arrays(name, "finite differences", claimed, finite_differences(f, x, eps=eps), FD_TOL))
    return GradCheckReport(tuple(checks), tolerances)


def check_backward(
    params: Params,
    X,
    y,
    *,
    causal: bool = True,
    grads: Grads | None = None,
    finite_diff: bool = True,
    eps: float = 1e-6,
) -> GradCheckReport:
    """Check every field of a :class:`~attnlib.Grads` against autograd and finite differences.

    Parameters
    ----------
    params, X, y, causal
        As for :func:`attnlib.forward` and :func:`attnlib.backward`.
    grads : Grads, optional
        The gradients to test; by default ``attnlib.backward`` of this input.
        Pass your own to test a student's (or a deliberately broken) backward pass.
    finite_diff : bool, default True
        Also compare the ten gradient fields against central differences
        (``compat`` and ``advantage`` are derived quantities: autograd only).
    eps : float
        Finite-difference step.

    Examples
    --------
    >>> from attnlib import init_params
    >>> params = init_params(3, 2, 2, 4, scale=0.7, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((4, 3)); y = np.array([0, 1, 2, 3])
    >>> report = check_backward(params, X, y)
    >>> report.passed, len(report.checks)
    (True, 22)
    """
    X, y, causal, cache = validated_problem(params, X, y, causal)
    eps = _checked_eps(eps)
    if grads is None:
        grads = backward(params, cache, y)
    elif not isinstance(grads, Grads):
        raise TypeError(f"grads must be an attnlib.Grads, got {type(grads).__name__}")
    ref = autograd_grads(params, X, y, causal=causal)
    checks = [
        compare_arrays(LABELS[name], "autograd", getattr(grads, name), getattr(ref, name), AUTOGRAD_TOL)
        for name in LABELS
    ]
    tolerances = {"autograd": AUTOGRAD_TOL}
    if finite_diff:
        tolerances["finite differences"] = FD_TOL
        weights = params.as_dict()
        for field in FD_FIELDS:
            at = "out" if field == "upstream" else field
            f, _ = loss_as_function_of(params, X, y, at, causal=causal)
            point = weights[at] if at in weights else getattr(cache, at)
            fd = finite_differences(f, point, eps=eps)
            checks.append(compare_arrays(LABELS[field], "finite differences", getattr(grads, field), fd, FD_TOL))
    return GradCheckReport(tuple(checks), tolerances)
