"""Drawing helpers for chapter 3 (the routing law). They only draw: arrays in, axes out."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from matplotlib.lines import Line2D

from .basic import get_axes, finish_axes
from .rules import readable_log_ticks

__all__ = ["ADVANTAGE_COLORS", "step_size_errors", "routing_view_panels"]

#: The one colour meaning of the routing figures: the sign of the advantage A_j
#: (red: A > 0, attention rises; blue: A < 0, it falls), as in the diverging maps of chapter 6.
ADVANTAGE_COLORS = {"positive": "#b2182b", "negative": "#2166ac"}


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
    ax = get_axes(ax)
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
    readable_log_ticks(ax, "x")
    readable_log_ticks(ax, "y")
    return finish_axes(ax, xlabel, ylabel, title)


def routing_view_panels(view, V, u, *, axes=None, highlight: int | None = None, title: str = "",
                        legend: bool = True):
    """Draw one query's routing: the values in the plane, and b, A, alpha before/after one step.

    Colour means one thing in both panels: the sign of the advantage
    (:data:`ADVANTAGE_COLORS`, red ``A > 0``, blue ``A < 0``). The other bars are grey
    (``b``), open (attention before) and black (attention after); the legends sit right
    of the panels, outside the data.

    Parameters
    ----------
    view : attnlib.laws.routing.RoutingView
    V : array_like, shape (M, 2)
        The values (two-dimensional, so that they can be drawn).
    u : array_like, shape (2,)
        The query's error signal.
    axes : pair of matplotlib Axes, optional
        Left: the plane; right: the bars. New ones are made when omitted.
    highlight : int, optional
        A key to mark (the one being moved).
    legend : bool
        Draw the two legends (e.g. only on the first row of several).

    Returns
    -------
    the pair of axes

    Examples
    --------
    >>> from attnlib.laws.routing import routing_view
    >>> V = np.array([[-1.0, 0.5], [1.0, 0.0], [0.0, -1.0]]); u = np.array([0.8, 0.2])
    >>> ax_plane, ax_bars = routing_view_panels(routing_view(np.zeros(3), u, V), V, u)
    >>> ax_bars.get_ylabel()
    'value'
    >>> plt.close("all")
    """
    V = np.asarray(V, dtype=float)  # (M, 2)
    u = np.asarray(u, dtype=float)  # (2,)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_plane, ax_bars = axes
    limit = 1.3 * max(float(np.abs(V).max()), float(np.abs(u).max()), 1.0)
    pos, neg = ADVANTAGE_COLORS["positive"], ADVANTAGE_COLORS["negative"]
    sign_colors = np.where(np.asarray(view.advantage) > 0, pos, neg)  # (M,)
    ax_plane.scatter(V[:, 0], V[:, 1], c=list(sign_colors), s=60 + 600 * view.alpha, edgecolor="black", zorder=3)
    for j, (x, y) in enumerate(V):
        ax_plane.annotate(f"v{j}", (x, y), textcoords="offset points", xytext=(7, 7), fontsize=9)
    if highlight is not None:
        ax_plane.scatter(*V[highlight], s=300, facecolor="none", edgecolor="black", linewidth=2, zorder=4)
    ax_plane.annotate("", xy=-u, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "0.35", "lw": 2})
    ax_plane.scatter(*view.out, marker="x", color="black", s=80, zorder=4)
    ax_plane.set_xlim(-limit, limit)
    ax_plane.set_ylim(-limit, limit)
    ax_plane.set_aspect("equal")
    ax_plane.set_xlabel("value coordinate 1")
    ax_plane.set_ylabel("value coordinate 2")
    ax_plane.set_title("values v_j (marker size: α_j)")
    keys = np.arange(len(view.alpha))  # (M,)
    width = 0.2
    ax_bars.bar(keys - 1.5 * width, view.compat, width, color="0.65")
    ax_bars.bar(keys - 0.5 * width, view.advantage, width, color=list(sign_colors))
    ax_bars.bar(keys + 0.5 * width, view.alpha, width, facecolor="white", edgecolor="black", linewidth=1.0)
    ax_bars.bar(keys + 1.5 * width, view.alpha_after, width, color="black")
    ax_bars.axhline(0.0, color="black", linewidth=0.8)
    ax_bars.set_xticks(keys, [f"key {j}" for j in keys])
    ax_bars.set_ylabel("value")
    ax_bars.set_title(title or "the routing law for one query")
    if legend:
        patch = dict(linestyle="none", marker="s", markersize=9)
        ax_plane.legend(handles=[
            Line2D([], [], color=pos, markeredgecolor="black", marker="o", linestyle="none", markersize=9,
                   label="A_j > 0"),
            Line2D([], [], color=neg, markeredgecolor="black", marker="o", linestyle="none", markersize=9,
                   label="A_j < 0"),
            Line2D([], [], color="black", marker="x", linestyle="none", markersize=8, label="o = Σ_j α_j v_j"),
            Line2D([], [], color="0.35", marker=r"$\rightarrow$", linestyle="none", markersize=12,
                   label="−u (helpful direction)"),
        ] + ([Line2D([], [], color="black", marker="o", markerfacecolor="none", markeredgewidth=2,
                     linestyle="none", markersize=14, label="the key being moved")] if highlight is not None else []),
            loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)  # fmt: skip
        ax_bars.legend(handles=[
            Line2D([], [], color="0.65", label="b_j = u · v_j", **patch),
            Line2D([], [], color=pos, label="A_j = E[b] − b_j > 0", **patch),
            Line2D([], [], color=neg, label="A_j < 0", **patch),
            Line2D([], [], markerfacecolor="white", markeredgecolor="black", label="α_j before", **patch),
            Line2D([], [], color="black", label=f"α_j after one step (η = {view.eta:g})", **patch),
        ], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return axes
