"""Two independent references for every hand-derived gradient.

* **Autograd**: the same head written in PyTorch (float64), differentiated by
  ``torch.autograd``; it shares no code with :mod:`attnlib.gradients`.
* **Central finite differences**: ``(f(x + eps) - f(x - eps)) / (2 eps)`` entry
  by entry, which needs nothing but the forward pass.

Each check returns a :class:`GradCheckReport`; its text form prints one row per
quantity with the largest absolute difference, and ``report.passed`` (or
``report.assert_ok()``) is what a notebook asserts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._validate import as_bool, as_float_array, as_float_matrix, as_labels
from .gradients import Grads, backward
from .model import Params, forward, masked_softmax
from .softmax import cross_entropy

__all__ = [
    "Check",
    "GradCheckReport",
    "torch_loss",
    "autograd_grads",
    "finite_differences",
    "check_gradient",
    "check_backward",
    "AUTOGRAD_TOL",
    "FD_TOL",
    "LABELS",
]

#: (rtol, atol) for closed form vs autograd: both are exact up to float64 rounding.
AUTOGRAD_TOL = (1e-8, 1e-12)
#: (rtol, atol) for closed form vs central differences with ``eps = 1e-6``:
#: truncation error O(eps^2) plus rounding O(1e-16 / eps).
FD_TOL = (1e-5, 1e-8)


# --------------------------------------------------------------------------- reports
@dataclass(frozen=True)
class Check:
    """One comparison of a claimed gradient with one reference.

    Attributes
    ----------
    name : str
        The quantity, e.g. ``"dL/dW_Q"``.
    reference : str
        ``"autograd"`` or ``"finite differences"``.
    shape : tuple
    max_abs_diff : float
        ``max |claimed - reference|`` over all entries.
    worst_index : tuple
        Where that largest difference sits.
    claimed, expected : float
        The two values at ``worst_index``.
    passed : bool
        Every entry satisfies ``|claimed - reference| <= atol + rtol |reference|``.
    """

    name: str
    reference: str
    shape: tuple
    max_abs_diff: float
    worst_index: tuple
    claimed: float
    expected: float
    passed: bool


@dataclass(frozen=True)
class GradCheckReport:
    """The result of comparing claimed gradients with the references.

    Examples
    --------
    >>> report = check_gradient("dL/dz", np.array([0.5, -0.5]),
    ...                         lambda z: cross_entropy(z, 1), np.zeros(2))
    >>> report.passed
    True
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
    quantity   shape   finite differences
    dL/dz      (2,)    ok  |Δ|max ...
    all 1 comparisons agree
    tolerances: finite differences: rtol 1e-05, atol 1e-08
    """

    checks: tuple[Check, ...]
    tolerances: dict

    @property
    def passed(self) -> bool:
        """True when every comparison agrees within its tolerance."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The comparisons that disagree."""
        return tuple(c for c in self.checks if not c.passed)

    def max_abs_diff(self, reference: str | None = None) -> float:
        """Largest difference over all comparisons (optionally with one reference only)."""
        diffs = [c.max_abs_diff for c in self.checks if reference in (None, c.reference)]
        return max(diffs) if diffs else 0.0

    def assert_ok(self) -> "GradCheckReport":
        """Raise ``AssertionError`` naming the first disagreeing entry; return self otherwise."""
        for c in self.failures:
            raise AssertionError(
                f"{c.name} disagrees with {c.reference} at index {c.worst_index}: "
                f"claimed {c.claimed:.6g}, {c.reference} gives {c.expected:.6g} "
                f"(|diff| {c.max_abs_diff:.2e})"
            )
        return self

    def __str__(self) -> str:
        references = list(dict.fromkeys(c.reference for c in self.checks))
        names = list(dict.fromkeys(c.name for c in self.checks))
        by_key = {(c.name, c.reference): c for c in self.checks}
        width = max(len("quantity"), *(len(n) for n in names)) + 3
        shapes = {c.name: str(c.shape) for c in self.checks}
        swidth = max(len("shape"), *(len(s) for s in shapes.values())) + 3
        lines = ["quantity".ljust(width) + "shape".ljust(swidth) + "".join(r.ljust(24) for r in references).rstrip()]
        for name in names:
            cells = []
            for ref in references:
                c = by_key.get((name, ref))
                cells.append(
                    "-".ljust(24)
                    if c is None
                    else f"{'ok ' if c.passed else 'BAD'} |Δ|max {c.max_abs_diff:.1e}".ljust(24)
                )
            lines.append(name.ljust(width) + shapes[name].ljust(swidth) + "".join(cells).rstrip())
        tol = "; ".join(f"{r}: rtol {self.tolerances[r][0]:.0e}, atol {self.tolerances[r][1]:.0e}" for r in references)
        verdict = "agree" if self.passed else f"DISAGREE in {len(self.failures)} place(s)"
        lines.append(f"all {len(self.checks)} comparisons {verdict}")
        lines.append(f"tolerances: {tol}")
        return "\n".join(lines)

    __repr__ = __str__


def _compare(name: str, reference: str, claimed, expected, tol: tuple[float, float]) -> Check:
    claimed = np.asarray(claimed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert claimed.shape == expected.shape, (name, claimed.shape, expected.shape)
    rtol, atol = tol
    diff = np.abs(claimed - expected)  # shape of the quantity
    ok = bool(np.all(diff <= atol + rtol * np.abs(expected))) and bool(np.all(np.isfinite(claimed)))
    if diff.size == 0:
        return Check(name, reference, claimed.shape, 0.0, (), 0.0, 0.0, ok)
    worst = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(diff), diff, np.inf))), diff.shape)
    return Check(
        name=name,
        reference=reference,
        shape=claimed.shape,
        max_abs_diff=float(diff[worst]),
        worst_index=tuple(int(i) for i in worst),
        claimed=float(claimed[worst]),
        expected=float(expected[worst]),
        passed=ok,
    )


# --------------------------------------------------------------------------- finite differences
def finite_differences(f: Callable[[np.ndarray], float], x, *, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function, entry by entry.

    Parameters
    ----------
    f : callable
        Maps an array of the shape of ``x`` to a float.
    x : array_like
        Where to differentiate (not modified).
    eps : float, default 1e-6

    Returns
    -------
    numpy.ndarray, shape of ``x``

    Examples
    --------
    >>> finite_differences(lambda w: float((w ** 2).sum()), np.array([1.0, -2.0])).round(6)
    array([ 2., -4.])
    """
    x = as_float_array(x, "x")
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    grad = np.empty_like(x)
    probe = x.copy()
    for index in np.ndindex(x.shape):
        original = probe[index]
        probe[index] = original + eps
        up = f(probe)
        probe[index] = original - eps
        down = f(probe)
        probe[index] = original
        grad[index] = (up - down) / (2 * eps)
    return grad


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
    """
    x = as_float_array(x, "x")
    claimed = as_float_array(claimed, "claimed") if np.all(np.isfinite(claimed)) else np.asarray(claimed, float)
    if claimed.shape != x.shape:
        raise ValueError(f"claimed must have the shape of x {x.shape}, got {claimed.shape}")
    checks = []
    tolerances = {"finite differences": FD_TOL}
    if f_torch is not None:
        import torch

        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        f_torch(xt).backward()
        checks.append(_compare(name, "autograd", claimed, xt.grad.numpy(), AUTOGRAD_TOL))
        tolerances["autograd"] = AUTOGRAD_TOL
    checks.append(_compare(name, "finite differences", claimed, finite_differences(f, x, eps=eps), FD_TOL))
    return GradCheckReport(tuple(checks), tolerances)


# --------------------------------------------------------------------------- torch autograd
def _validated(params, X, y, causal):
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    X = as_float_matrix(X, "X")
    causal = as_bool(causal, "causal")
    cache = forward(params, X, causal=causal)  # validates shapes
    y = as_labels(y, "y", length=X.shape[0], n_classes=params.dims["n_classes"])
    return X, y, causal, cache


def _torch_head(params: Params, X: np.ndarray, y: np.ndarray, causal: bool) -> dict:
    """The head in torch float64, keeping every intermediate with ``retain_grad``."""
    import torch

    t = {name: torch.tensor(w, dtype=torch.float64, requires_grad=True) for name, w in params.as_dict().items()}
    Xt = torch.tensor(X, dtype=torch.float64)  # (N, d_x)
    n, d_k = X.shape[0], params.dims["d_k"]
    t["q"] = Xt @ t["W_Q"]  # (N, d_k)
    t["k"] = Xt @ t["W_K"]  # (N, d_k)
    t["v"] = Xt @ t["W_V"]  # (N, d_v)
    t["s"] = t["q"] @ t["k"].T / d_k**0.5  # (N, N)
    allowed = torch.ones(n, n, dtype=torch.bool)
    if causal:
        allowed = torch.tril(allowed)
    t["alpha"] = torch.softmax(t["s"].masked_fill(~allowed, float("-inf")), dim=-1)  # (N, N)
    t["o"] = t["alpha"] @ t["v"]  # (N, d_v)
    t["z"] = t["o"] @ t["W_O"]  # (N, C)
    for key in ("q", "k", "v", "s", "alpha", "o", "z"):
        t[key].retain_grad()
    t["loss"] = torch.nn.functional.cross_entropy(t["z"], torch.tensor(y, dtype=torch.long))
    t["allowed"] = allowed
    return t


def torch_loss(params: Params, X, y, *, causal: bool = True) -> float:
    """The mean cross-entropy computed by PyTorch in float64.

    Examples
    --------
    >>> from attnlib import init_params, forward, loss
    >>> params = init_params(3, 2, 2, 4, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((5, 3)); y = np.array([0, 1, 2, 3, 0])
    >>> bool(np.isclose(torch_loss(params, X, y), loss(forward(params, X), y), rtol=1e-12))
    True
    """
    X, y, causal, _ = _validated(params, X, y, causal)
    return float(_torch_head(params, X, y, causal)["loss"].item())


def autograd_grads(params: Params, X, y, *, causal: bool = True) -> Grads:
    """Every field of :class:`~attnlib.Grads`, computed by torch autograd in float64.

    ``compat`` is autograd's dL/dalpha, ``advantage`` is derived from it by its
    definition ``E_{alpha_i}[b] - b_ij`` (zero where masked), and every other
    field is a ``.grad``.

    Examples
    --------
    >>> from attnlib import init_params, forward, backward
    >>> params = init_params(3, 2, 2, 4, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((5, 3)); y = np.array([0, 1, 2, 3, 0])
    >>> ref = autograd_grads(params, X, y)
    >>> bool(np.allclose(ref.W_Q, backward(params, forward(params, X), y).W_Q, rtol=1e-10, atol=1e-14))
    True
    """
    X, y, causal, _ = _validated(params, X, y, causal)
    t = _torch_head(params, X, y, causal)
    t["loss"].backward()
    g = {key: t[key].grad.numpy() for key in ("W_Q", "W_K", "W_V", "W_O", "q", "k", "v", "s", "alpha", "o", "z")}
    alpha = t["alpha"].detach().numpy()  # (N, N)
    allowed = t["allowed"].numpy()  # (N, N)
    expected_b = (alpha * g["alpha"]).sum(axis=1, keepdims=True)  # (N, 1)
    return Grads(
        W_Q=g["W_Q"],
        W_K=g["W_K"],
        W_V=g["W_V"],
        W_O=g["W_O"],
        logits=g["z"],
        upstream=g["o"],
        compat=g["alpha"],
        advantage=np.where(allowed, expected_b - g["alpha"], 0.0),
        scores=g["s"],
        values=g["v"],
        queries=g["q"],
        keys=g["k"],
    )


# --------------------------------------------------------------------------- the full check
def _loss_from(params: Params, X: np.ndarray, y: np.ndarray, causal: bool) -> dict[str, Callable]:
    """Loss as a function of each intermediate, everything upstream of it held fixed."""
    cache = forward(params, X, causal=causal)
    d_k = params.dims["d_k"]

    def from_logits(z):
        return cross_entropy(z, y)

    def from_out(o):
        return from_logits(o @ params.W_O)

    def from_scores(s):
        return from_out(masked_softmax(s, cache.mask) @ cache.v)

    def from_values(v):
        return from_logits(cache.attn @ v @ params.W_O)

    def from_queries(q):
        return from_scores(q @ cache.k.T / np.sqrt(d_k))

    def from_keys(k):
        return from_scores(cache.q @ k.T / np.sqrt(d_k))

    def from_weight(name):
        def f(w):
            weights = params.as_dict()
            weights[name] = w
            return cross_entropy(forward(Params(**weights), X, causal=causal).logits, y)

        return f

    return {
        "W_Q": from_weight("W_Q"),
        "W_K": from_weight("W_K"),
        "W_V": from_weight("W_V"),
        "W_O": from_weight("W_O"),
        "logits": from_logits,
        "upstream": from_out,
        "scores": from_scores,
        "values": from_values,
        "queries": from_queries,
        "keys": from_keys,
    }


#: Which cache entry each gradient field differentiates with respect to.
_POINT = {"logits": "logits", "upstream": "out", "scores": "scores", "values": "v", "queries": "q", "keys": "k"}
#: Display name of each Grads field in reports, in paper notation.
LABELS = {
    "W_Q": "dL/dW_Q", "W_K": "dL/dW_K", "W_V": "dL/dW_V", "W_O": "dL/dW_O",
    "logits": "dL/dz", "upstream": "u = dL/do", "compat": "b = dL/dalpha", "advantage": "A",
    "scores": "dL/ds", "values": "dL/dv", "queries": "dL/dq", "keys": "dL/dk",
}  # fmt: skip


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
    X, y, causal, cache = _validated(params, X, y, causal)
    if grads is None:
        grads = backward(params, cache, y)
    elif not isinstance(grads, Grads):
        raise TypeError(f"grads must be an attnlib.Grads, got {type(grads).__name__}")
    ref = autograd_grads(params, X, y, causal=causal)
    checks = [
        _compare(LABELS[name], "autograd", getattr(grads, name), getattr(ref, name), AUTOGRAD_TOL) for name in LABELS
    ]
    tolerances = {"autograd": AUTOGRAD_TOL}
    if finite_diff:
        tolerances["finite differences"] = FD_TOL
        loss_from = _loss_from(params, X, y, causal)
        weights = params.as_dict()
        for name, f in loss_from.items():
            point = weights[name] if name in weights else getattr(cache, _POINT[name])
            fd = finite_differences(f, point, eps=eps)
            checks.append(_compare(LABELS[name], "finite differences", getattr(grads, name), fd, FD_TOL))
    return GradCheckReport(tuple(checks), tolerances)
