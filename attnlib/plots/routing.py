"""Drawing helpers for chapter 3 (the routing law). They only draw: arrays in, axes out."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["step_size_errors"]


def step_size_errors(
    eta: Sequence[float],
    errors: Mapping[str, Sequence[float]],
    *,
    ax=None,
    slope: float = 2.0,
    xlabel: str = "step size η",
    ylabel: str = "error of the first-order prediction",
    title: str = "",
    styles: Mapping[str, dict] | None = None,
):
    """Prediction errors against the step size on log-log axes, with a reference slope.

    Parameters
    ----------
    eta : array_like, shape (K,)
        Positive step sizes.
    errors : mapping of str to array_like, each of shape (K,)
        Curve name -> positive error for every step size.
    slope : float, default 2.0
        Slope of the dashed reference line ``c * eta**slope``, drawn a factor 4 below
        the geometric middle of the first curve (an error of order ``eta**2``
        runs parallel to it).

    Examples
    --------
    >>> eta = np.logspace(-3, 0, 4)
    >>> ax = step_size_errors(eta, {"attention": 3 * eta**2})
    >>> ax.get_xscale(), ax.get_yscale(), len(ax.lines)
    ('log', 'log', 2)
    >>> plt.close("all")
    """
    ax = plt.gca() if ax is None else ax
    eta = np.asarray(eta, dtype=float)  # (K,)
    if eta.ndim != 1 or eta.size < 2 or eta.min() <= 0:
        raise ValueError(f"eta must hold at least two positive step sizes, got {eta}")
    styles = styles or {}
    anchor = None
    for name, values in errors.items():
        values = np.asarray(values, dtype=float)  # (K,)
        if values.shape != eta.shape or values.min() <= 0:
            raise ValueError(f"curve {name!r} must hold {eta.size} positive errors, got {values}")
        ax.loglog(eta, values, marker="o", markersize=4, label=name, **styles.get(name, {}))
        if anchor is None:
            anchor = (np.exp(np.log(eta).mean()), np.exp(np.log(values).mean()) / 4)  # below the curve
    if anchor is not None:
        x0, y0 = anchor
        ax.loglog(eta, y0 * (eta / x0) ** slope, color="black", linestyle="--", linewidth=1,
                  label=f"slope {slope:g} reference")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
