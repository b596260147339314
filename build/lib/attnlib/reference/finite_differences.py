"""Central finite differences: the reference that needs nothing but the forward pass."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._validate import as_float_array

__all__ = ["finite_differences"]


def finite_differences(f: Callable[[np.ndarray], float | np.ndarray], x, *, eps: float = 1e-6) -> np.ndarray:
    """Central-difference derivative of ``f`` at ``x``, entry by entry.

    Parameters
    ----------
    f : callable
        Maps an array of the shape of ``x`` to a float (a gradient results) or
        to an array (a Jacobian results).
    x : array_like
        Where to differentiate (not modified).
    eps : float, default 1e-6

    Returns
    -------
    numpy.ndarray, shape ``f(x).shape + x.shape``
        ``out[..., k] = (f(x + eps e_k) - f(x - eps e_k)) / (2 eps)``.

    Examples
    --------
    >>> finite_differences(lambda w: float((w ** 2).sum()), np.array([1.0, -2.0])).round(6)
    array([ 2., -4.])
    >>> finite_differences(lambda w: 3 * w, np.array([1.0, 2.0])).round(6)  # a Jacobian
    array([[3., 0.],
           [0., 3.]])
    """
    x = as_float_array(x, "x")
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    out_shape = np.shape(f(x))
    result = np.empty(out_shape + x.shape)  # (out..., x...)
    probe = x.copy()
    for index in np.ndindex(x.shape):
        original = probe[index]
        probe[index] = original + eps
        up = np.asarray(f(probe), dtype=float)  # (out...)
        probe[index] = original - eps
        down = np.asarray(f(probe), dtype=float)  # (out...)
        probe[index] = original
        result[(Ellipsis,) + index] = (up - down) / (2 * eps)
    return result
