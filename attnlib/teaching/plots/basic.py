"""General-purpose drawing helpers: bars, curves, heatmaps.

Every function only draws: it takes arrays and an optional ``ax``, and returns
the axes it drew on.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D

__all__ = ["grouped_bars", "curves", "heatmap"]


def get_axes(ax):
    return plt.gca() if ax is None else ax


#: Line styles of reference lines, in the order they are handed out.
REFERENCE_STYLES = (":", "-.", "--", (0, (5, 2, 1, 2, 1, 2)), (0, (1, 4)))


def reference_lines(ax, hlines, *, color: str = "gray") -> None:
    """Horizontal reference lines, one per ``label -> y`` entry, each labelled in the legend.

    Every line gets a style no reference line of ``ax`` in ``color`` has yet (dotted, then
    dash-dot, dashed, ...), so two references never look alike (:mod:`.rules`).
    """
    from .rules import line_style_key, reference_lines_of

    rgba = tuple(round(c, 3) for c in to_rgba(color))
    taken = [style for _, _, c, style in reference_lines_of(ax) if c == rgba]
    for label, value in (hlines or {}).items():
        style = next((s for s in REFERENCE_STYLES if line_style_key(Line2D([], [], linestyle=s)) not in taken),
                     None)
        if style is None:
            raise ValueError(f"more than {len(REFERENCE_STYLES)} reference lines in one colour: {list(hlines)}")
        line = ax.axhline(value, color=color, linestyle=style, linewidth=1.2, label=label)
        taken.append(line_style_key(line))


def finish_axes(ax, xlabel: str, ylabel: str, title: str = "", *, legend_fontsize=None):
    """Axis labels, the title when given, and the legend; returns ``ax``.

    ``legend_fontsize=None`` keeps the style's legend size; ``legend_fontsize=False``
    draws no legend.
    """
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend_fontsize is None:
        ax.legend()
    elif legend_fontsize is not False:
        ax.legend(fontsize=legend_fontsize)
    return ax


def grouped_bars(
    groups: Mapping[str, Sequence[float]],
    labels: Sequence[str],
    *,
    ax=None,
    ylabel: str = "",
    title: str = "",
    annotate: bool = True,
    masked: Sequence[bool] | None = None,
    legend_outside: bool = False,
):
    """Bars for several named series over the same categories.

    Parameters
    ----------
    groups : mapping of str to array_like, each of shape (K,)
        Series name -> one value per category.
    labels : sequence of str, length K
        Category names on the x axis.
    masked : sequence of bool, length K, optional
        Categories that take no part (e.g. masked keys): they get no bars, only a hatched
        band marked "masked", whatever their values.
    legend_outside : bool
        Put the legend right of the axes, clear of the bars.

    Examples
    --------
    >>> ax = grouped_bars({"p": [0.6, 0.4], "e_y": [0, 1]}, ["class 0", "class 1"])
    >>> len(ax.patches)
    4
    >>> ax = grouped_bars({"g": [0.6, 0.4, 9.0]}, ["key 0", "key 1", "key 2"], masked=[False, False, True])
    >>> len(ax.containers[0]), ax.texts[-1].get_text()
    (2, 'masked')
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    n_series = len(groups)
    width = 0.8 / max(n_series, 1)
    centers = np.arange(len(labels))  # (K,)
    hidden = np.zeros(len(labels), dtype=bool) if masked is None else np.asarray(masked, dtype=bool)  # (K,)
    if hidden.shape != (len(labels),):
        raise ValueError(f"masked must have {len(labels)} entries, got shape {hidden.shape}")
    shown = ~hidden  # (K,)
    for index, (name, values) in enumerate(groups.items()):
        values = np.asarray(values, dtype=float)  # (K,)
        if values.shape != (len(labels),):
            raise ValueError(f"series {name!r} must have {len(labels)} values, got shape {values.shape}")
        offset = (index - (n_series - 1) / 2) * width
        bars = ax.bar(centers[shown] + offset, values[shown], width, label=name)
        if annotate:
            ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
    ax.axhline(0.0, color="black", linewidth=0.8)
    for k in np.flatnonzero(hidden):
        ax.axvspan(k - 0.45, k + 0.45, facecolor="0.93", edgecolor="0.6", hatch="//", linewidth=0.0, zorder=0)
        ax.text(k, 0.5, "masked", transform=ax.get_xaxis_transform(), ha="center", va="center", fontsize=9,
                color="0.3", bbox={"facecolor": "white", "edgecolor": "0.6", "boxstyle": "round,pad=0.3"})
    ax.set_xticks(centers, labels)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend_outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend()
    return ax


def curves(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    ax=None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    styles: Mapping[str, dict] | None = None,
):
    """Several named curves over a shared x axis.

    Examples
    --------
    >>> ax = curves([0, 1, 2], {"a": [0, 1, 4], "b": [0, 1, 2]}, xlabel="x")
    >>> len(ax.lines)
    2
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    x = np.asarray(x, dtype=float)  # (K,)
    styles = styles or {}
    for name, values in series.items():
        values = np.asarray(values, dtype=float)  # (K,)
        if values.shape != x.shape:
            raise ValueError(f"series {name!r} must have the shape of x {x.shape}, got {values.shape}")
        ax.plot(x, values, label=name, **styles.get(name, {}))
    return finish_axes(ax, xlabel, ylabel, title)


def heatmap(
    matrix,
    *,
    ax=None,
    title: str = "",
    xlabel: str = "key j",
    ylabel: str = "query i",
    cmap: str = "viridis",
    center: bool = False,
    mask=None,
    annotate: bool = False,
    colorbar_label: str = "",
):
    """An (N, M) matrix as an image, queries down and keys across.

    Parameters
    ----------
    matrix : array_like, shape (N, M)
    center : bool
        Use a diverging colour map symmetric about zero (for signed matrices).
    mask : array_like of bool, shape (N, M), optional
        Entries where ``mask`` is False are left blank (e.g. above a causal diagonal).
    annotate : bool
        Write each value in its cell (for small matrices).

    Examples
    --------
    >>> ax = heatmap(np.eye(3), annotate=True)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('key j', 'query i')
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    matrix = np.asarray(matrix, dtype=float)  # (N, M)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
    shown = matrix if mask is None else np.ma.masked_where(~np.asarray(mask, dtype=bool), matrix)  # (N, M)
    kwargs = {"cmap": cmap}
    if center:
        limit = float(np.max(np.abs(matrix))) or 1.0
        kwargs = {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
    image = ax.imshow(shown, aspect="equal" if matrix.shape[0] == matrix.shape[1] else "auto", **kwargs)
    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if colorbar_label:
        colorbar.set_label(colorbar_label)
    ax.grid(False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if annotate:
        for (i, j), value in np.ndenumerate(matrix):
            if mask is None or mask[i][j]:
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="black",
                        bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.6, "linewidth": 0})
    return ax
