"""Drawing the cost of the head's forward and backward pass (chapter 5).

Every function only draws: it takes arrays and an optional ``ax`` and returns
the axes it drew on. The counts themselves come from
:func:`attnlib.head.costs.step_flops`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .basic import get_axes, finish_axes
from .rules import readable_log_ticks

__all__ = ["flops_vs_length", "flops_by_line"]


def flops_vs_length(
    n,
    series: Mapping[str, Sequence[float]],
    *,
    slopes: Mapping[float, float] | None = None,
    mark: float | None = None,
    mark_label: str = "",
    ax=None,
    xlabel: str = "sequence length N",
    ylabel: str = "flops per training step",
    title: str = "",
):
    """Named cost curves against ``N`` on log-log axes, with power-law reference lines.

    Parameters
    ----------
    n : array_like, shape (K,)
        Sequence lengths (positive).
    series : mapping of str to array_like, each of shape (K,)
        Curve name -> cost at each length (positive).
    slopes : mapping of float to float, optional
        Slope -> value at ``n[0]``: draws the dashed reference line
        ``value * (n / n[0]) ** slope`` for each, labelled "slope s".
    mark : float, optional
        Draw a vertical dotted line at this ``N`` (labelled ``mark_label``).

    Examples
    --------
    >>> n = np.array([10.0, 100.0, 1000.0])
    >>> ax = flops_vs_length(n, {"N^2 part": 3 * n**2}, slopes={2: 300.0, 1: 30.0}, mark=500)
    >>> len(ax.lines), ax.get_xscale(), ax.get_yscale()
    (4, 'log', 'log')
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    n = np.asarray(n, dtype=float)  # (K,)
    if n.ndim != 1 or n.size < 2 or np.any(n <= 0):
        raise ValueError(f"n must be a 1-D array of at least two positive lengths, got shape {n.shape}")
    for name, values in series.items():
        values = np.asarray(values, dtype=float)  # (K,)
        if values.shape != n.shape:
            raise ValueError(f"series {name!r} must have the shape of n {n.shape}, got {values.shape}")
        ax.plot(n, values, linewidth=2, label=name)
    for slope, start in (slopes or {}).items():
        ax.plot(n, start * (n / n[0]) ** slope, linestyle="--", color="grey", linewidth=1,
                label=f"slope {slope:g} reference")
    if mark is not None:
        ax.axvline(mark, linestyle=":", color="black", linewidth=1, label=mark_label or None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    readable_log_ticks(ax, "x")
    readable_log_ticks(ax, "y")
    return finish_axes(ax, xlabel, ylabel, title, legend_fontsize=8)


def flops_by_line(
    labels: Sequence[str],
    flops: Sequence[float],
    quadratic: Sequence[bool],
    *,
    ax=None,
    xlabel: str = "flops (log scale)",
    title: str = "",
):
    """Horizontal bars, one per line of the pass, coloured by whether it handles ``N x N`` arrays.

    Parameters
    ----------
    labels : sequence of str, length K
        One label per line, drawn top to bottom.
    flops : array_like, shape (K,)
        Positive cost of each line.
    quadratic : array_like of bool, shape (K,)
        True for the lines whose cost grows like ``N^2``.

    Examples
    --------
    >>> ax = flops_by_line(["S = Q K^T", "Q = X W_Q"], [4e8, 8e5], [True, False])
    >>> len(ax.patches), ax.get_xscale()
    (2, 'log')
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    flops = np.asarray(flops, dtype=float)  # (K,)
    quadratic = np.asarray(quadratic, dtype=bool)  # (K,)
    if flops.shape != (len(labels),) or quadratic.shape != (len(labels),):
        raise ValueError(
            f"flops and quadratic must have one entry per label ({len(labels)}), "
            f"got {flops.shape} and {quadratic.shape}"
        )
    if np.any(flops <= 0):
        raise ValueError("flops must be positive (the axis is logarithmic)")
    rows = np.arange(len(labels))  # (K,)
    colours = np.where(quadratic, "tab:red", "tab:blue")  # (K,)
    ax.barh(rows, flops, color=colours)
    ax.set_yticks(rows, labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    readable_log_ticks(ax, "x")
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:red", "tab:blue")]
    ax.legend(handles, ["handles N x N arrays", "linear in N"], fontsize=8, loc="lower right")
    return ax
