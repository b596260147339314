"""Figures of chapter 9: value geometry and the distance to the Bayesian predictor.

Every function only draws: arrays (or Histories) in, an optional ``ax``, the
axes out. The measurements themselves live in :mod:`attnlib.dynamics.diagnostics`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ...dynamics.diagnostics import effective_dimension, value_norm_growth
from .basic import get_axes
from .sticky import ARM_COLORS
from .timescales import seed_bands

__all__ = ["GROUP_COLORS", "explained_variance_bars", "component_scatter", "value_norm_curves", "entropy_mae_curves"]

#: Categorical colours for groups without an order (the eight symbols of the chain):
#: matplotlib's Dark2, eight distinct hues (chapter 6 takes its symbol colours from it).
GROUP_COLORS = tuple(plt.get_cmap("Dark2").colors)


def explained_variance_bars(
    ratios: Mapping[str, Sequence[float]],
    *,
    threshold: float = 0.95,
    n_show: int | None = None,
    ax=None,
    title: str = "",
):
    """Explained-variance ratio per component (bars) and its cumulative sum (lines), with the threshold.

    Parameters
    ----------
    ratios : mapping of str to array_like, each of shape (k,)
        Label -> explained-variance ratios in decreasing order
        (``value_pca(V).explained_variance_ratio``).
    threshold : float, default 0.95
        Drawn as a dotted line; the legend gives each label's effective dimension.
    n_show : int, optional
        Show only the first ``n_show`` components.

    Examples
    --------
    >>> ax = explained_variance_bars({"a": [0.7, 0.2, 0.1], "b": [0.4, 0.35, 0.25]})
    >>> len(ax.patches), ax.get_xlabel()
    (6, 'principal component')
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    n_series = len(ratios)
    width = 0.8 / max(n_series, 1)
    for index, (label, values) in enumerate(ratios.items()):
        values = np.asarray(values, dtype=float)  # (k,)
        shown = values if n_show is None else values[:n_show]  # (k_show,)
        x = np.arange(1, shown.size + 1)  # (k_show,)
        d_eff = effective_dimension(values, threshold)
        bars = ax.bar(x + (index - (n_series - 1) / 2) * width, shown, width, alpha=0.55,
                      label=f"{label} (d_eff = {d_eff})")
        ax.plot(x, np.cumsum(values)[: shown.size], marker="o", markersize=3,
                color=bars.patches[0].get_facecolor()[:3], linewidth=1.5)
    ax.axhline(threshold, color="black", linestyle=":", linewidth=1.2, label=f"{threshold:.0%} of the variance")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("principal component")
    ax.set_ylabel("variance ratio (bars), cumulative (lines)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="center right")
    return ax


def component_scatter(
    x,
    y,
    *,
    groups=None,
    ax=None,
    xlabel: str = "PC1",
    ylabel: str = "PC2",
    title: str = "",
    group_label: str = "symbol",
    max_points: int | None = None,
    equal_aspect: bool = True,
):
    """Scatter of two coordinates (e.g. PC1 against PC2, or PC1 against a task variable).

    Parameters
    ----------
    x, y : array_like, shape (N,)
    groups : array_like of int, shape (N,), optional
        A category per point (e.g. the previous symbol): points are coloured by
        it in a categorical palette (:data:`GROUP_COLORS`, one distinct colour per
        group, no order implied) and each group's centroid is drawn as a labelled marker.
    max_points : int, optional
        Draw only every ``ceil(N / max_points)``-th point (centroids use all).
    equal_aspect : bool
        One unit is as long on both axes (for two coordinates in the same units, such as
        principal-component scores). Panels that are compared should also share their
        limits (``plt.subplots(..., sharex=True, sharey=True)``).

    Examples
    --------
    >>> ax = component_scatter([0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 1.0, 0.0], groups=[0, 0, 1, 1])
    >>> ax.get_xlabel(), len(ax.texts)
    ('PC1', 2)
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    x = np.asarray(x, dtype=float)  # (N,)
    y = np.asarray(y, dtype=float)  # (N,)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of the same length, got shapes {x.shape} and {y.shape}")
    stride = 1 if max_points is None else max(1, int(np.ceil(x.size / max_points)))
    if groups is None:
        ax.scatter(x[::stride], y[::stride], s=6, alpha=0.5)
    else:
        groups = np.asarray(groups)  # (N,)
        if groups.shape != x.shape:
            raise ValueError(f"groups must have the shape of x {x.shape}, got {groups.shape}")
        names = np.unique(groups)  # (G,)
        if len(names) > len(GROUP_COLORS):
            raise ValueError(f"groups has {len(names)} categories, the palette only {len(GROUP_COLORS)}")
        colours = {g: GROUP_COLORS[i] for i, g in enumerate(names)}
        ax.scatter(x[::stride], y[::stride], s=6, alpha=0.35,
                   c=[colours[g] for g in groups[::stride]], linewidths=0)
        for g in names:
            cx, cy = x[groups == g].mean(), y[groups == g].mean()
            ax.scatter([cx], [cy], s=150, color=colours[g], edgecolors="black", linewidths=1.0, zorder=3)
            ax.text(cx, cy, str(g), ha="center", va="center", fontsize=8, fontweight="bold", zorder=4)
        ax.plot([], [], "o", color="grey", markeredgecolor="black", label=f"mean per {group_label}")
        ax.legend(fontsize=8, loc="best")
    if equal_aspect:
        ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def value_norm_curves(
    histories: Mapping[str, Sequence],
    *,
    ax=None,
    title: str = "Mean value norm, relative to step 0",
):
    """Value-norm growth (``diagnostics.value_norm_growth``) over training, per arm, with seed bands.

    Parameters
    ----------
    histories : mapping of str to sequence of History
        Arm -> one History per seed, each run with ``snapshot_every`` (so
        ``snapshot_steps`` and ``value_snapshots`` are set, the same steps for all).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> h = SimpleNamespace(snapshot_steps=np.array([0, 5]), value_snapshots=np.ones((2, 3, 2)))
    >>> ax = value_norm_curves({"SGD": [h, h]})
    >>> ax.get_ylabel()
    'mean ||v_j|| / value at step 0'
    >>> plt.close("all")
    """
    steps = None
    series = {}
    for arm, runs in histories.items():
        for h in runs:
            if h.value_snapshots is None:
                raise ValueError(f"a History of arm {arm!r} has no value snapshots: run with snapshot_every")
        steps = np.asarray(runs[0].snapshot_steps)  # (n_snap,)
        series[arm] = np.stack([value_norm_growth(h.value_snapshots) for h in runs])  # (n_seeds, n_snap)
    styles = {arm: {"color": ARM_COLORS[arm]} for arm in series if arm in ARM_COLORS}
    return seed_bands(steps, series, ax=ax, xlabel="step t (updates applied)",
                      ylabel="mean ||v_j|| / value at step 0", title=title,
                      hlines={"no growth": 1.0}, styles=styles, legend_loc="upper left")


def entropy_mae_curves(
    steps,
    maes: Mapping[str, np.ndarray],
    *,
    ax=None,
    ylabel: str = "entropy MAE to Bayes (bits)",
    title: str = "Entropy MAE between the head and the Bayesian predictor",
    hlines: Mapping[str, float] | None = None,
):
    """A per-snapshot measurement (entropy MAE, CE gap...) per arm: median and min-max band over seeds.

    Parameters
    ----------
    steps : array_like, shape (n_snap,)
    maes : mapping of str to array_like, shape (n_seeds, n_snap)
        Arm -> one row per seed.

    Examples
    --------
    >>> ax = entropy_mae_curves([0, 100], {"SGD": [[0.3, 0.2], [0.35, 0.25]]})
    >>> len(ax.lines), ax.get_ylabel()
    (1, 'entropy MAE to Bayes (bits)')
    >>> plt.close("all")
    """
    styles = {arm: {"color": ARM_COLORS[arm]} for arm in maes if arm in ARM_COLORS}
    return seed_bands(np.asarray(steps, dtype=float), maes, ax=ax, xlabel="step t (updates applied)",
                      ylabel=ylabel, title=title, hlines=hlines, styles=styles, legend_loc="lower left")
