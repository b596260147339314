r"""Drawing helpers for chapter 6 (the feedback loop in a toy). They only draw: arrays in, axes out.

The toy's symbols have fixed colours (:data:`SYMBOL_COLORS`) and its queries the
``tab10`` colours of chapter 4, so that every figure of the chapter, and the
slider of :mod:`attnlib.teaching.explorers`, can be read with the same key.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from .basic import get_axes, finish_axes, heatmap
from .rules import readable_log_ticks

__all__ = [
    "SYMBOL_COLORS",
    "per_query_lines",
    "grad_norm_curves",
    "value_plane",
    "mark_evidence",
    "attention_panel",
    "compat_advantage_panels",
    "toy_step_panels",
]

#: One colour per symbol (class) of the toy: Dark2's first three.
SYMBOL_COLORS = ("#d95f02", "#1b9e77", "#7570b3")


def per_query_lines(
    steps,
    series,
    *,
    ax=None,
    queries: Sequence[int] | None = None,
    reference=None,
    xlabel: str = "step t (updates applied)",
    ylabel: str = "",
    title: str = "",
    log_y: bool = False,
):
    """One line per query over training steps, in the queries' ``tab10`` colours.

    Parameters
    ----------
    steps : array_like, shape (T,)
    series : array_like, shape (T, N)
        ``series[t, i]``: a quantity of query ``i`` at step ``t``.
    queries : sequence of int, optional
        Which queries to draw (default: all).
    reference : array_like, shape (N,), optional
        A per-query reference level drawn as a dotted line in the query's
        colour (e.g. the value under uniform attention).
    log_y : bool
        Logarithmic y axis.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = per_query_lines(np.arange(3), np.ones((3, 4)), queries=[1, 2], reference=[1, 1, 1, 1])
    >>> [line.get_label() for line in ax.lines[::2]]
    ['query 1', 'query 2']
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    steps = np.asarray(steps, dtype=float)  # (T,)
    series = np.asarray(series, dtype=float)  # (T, N)
    if series.ndim != 2 or series.shape[0] != steps.shape[0]:
        raise ValueError(f"series must have shape ({steps.shape[0]}, N), got {series.shape}")
    queries = range(series.shape[1]) if queries is None else queries
    colors = plt.get_cmap("tab10")
    for i in queries:
        ax.plot(steps, series[:, i], color=colors(i % 10), linewidth=1.8, label=f"query {i}")
        if reference is not None:
            ax.axhline(float(np.asarray(reference)[i]), color=colors(i % 10), linestyle=":", linewidth=1)
    if log_y:
        ax.set_yscale("log")
        readable_log_ticks(ax, "y")
    return finish_axes(ax, xlabel, ylabel, title, legend_fontsize=8)


def grad_norm_curves(steps, score_norm, value_norm, *, ax=None, title: str = ""):
    r"""The two gradient norms of the recorded training on a log scale.

    Parameters
    ----------
    steps : array_like, shape (T,)
    score_norm, value_norm : array_like, shape (T,)
        :math:`\lVert\partial L/\partial S\rVert` and :math:`\lVert\partial L/\partial V\rVert`.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = grad_norm_curves([0, 1], [0.1, 0.2], [0.3, 0.1])
    >>> ax.get_yscale(), len(ax.lines)
    ('log', 2)
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    ax.plot(steps, score_norm, color="black", linewidth=1.8, label="routing: ‖∂L/∂S‖")
    ax.plot(steps, value_norm, color="tab:red", linewidth=1.8, linestyle="--", label="values: ‖∂L/∂V‖")
    ax.set_yscale("log")
    readable_log_ticks(ax, "y")
    ax.set_xlabel("step t (updates applied)")
    ax.set_ylabel("gradient norm (batch loss)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def _light(color, amount: float = 0.25):
    """``color`` mixed with white, ``amount`` of the colour (opaque), for background regions."""
    return tuple(1 - amount * (1 - c) for c in to_rgb(color))


def value_plane(
    values,
    *,
    ax=None,
    trail=None,
    arrows=None,
    readout=None,
    limits=None,
    arrow_length: float = 0.22,
    title: str = "",
    legend: bool = True,
):
    r"""The toy's values as points in the plane, coloured by symbol and numbered by position.

    Parameters
    ----------
    values : array_like, shape (C, N, 2)
        ``values[c, j]``: the value of symbol ``c`` at position ``j``
        (:func:`attnlib.dynamics.toy.value_table`).
    trail : array_like, shape (S, C, N, 2), optional
        Earlier positions of every value, drawn as thin lines ending at ``values``.
    arrows : array_like, shape (C, N, 2), optional
        A vector per value, drawn from it (e.g. :func:`attnlib.dynamics.toy.value_pulls`),
        all scaled by one factor so that the longest is ``arrow_length`` times the
        width of the plot; the factor is written in the lower right corner.
    readout : array_like, shape (2, C), optional
        :math:`W_O`. The plane is shaded by the class whose logit :math:`v W_O`
        is largest at each point, in the light colour of that symbol.
    limits : (xmin, xmax, ymin, ymax), optional
        Fixed axis limits (use the same for every panel of a small-multiples figure).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> V = np.random.default_rng(0).normal(size=(3, 5, 2))
    >>> ax = value_plane(V, arrows=0.1 * V, readout=np.eye(2, 3), trail=np.stack([0.5 * V, V]))
    >>> ax.get_xlabel(), len(ax.get_legend().get_texts())
    ('value coordinate 1', 4)
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    values = np.asarray(values, dtype=float)  # (C, N, 2)
    if values.ndim != 3 or values.shape[2] != 2:
        raise ValueError(f"values must have shape (C, N, 2), got {values.shape}")
    n_classes, n = values.shape[:2]
    if limits is None:
        pts = values.reshape(-1, 2) if trail is None else np.asarray(trail, dtype=float).reshape(-1, 2)  # (M, 2)
        lo, hi = pts.min(axis=0), pts.max(axis=0)  # (2,), (2,)
        pad = 0.15 * max(float((hi - lo).max()), 1e-9)
        limits = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    xmin, xmax, ymin, ymax = limits
    if readout is not None:
        readout = np.asarray(readout, dtype=float)  # (2, C)
        if readout.shape != (2, n_classes):
            raise ValueError(f"readout must have shape (2, {n_classes}), got {readout.shape}")
        gx, gy = np.meshgrid(np.linspace(xmin, xmax, 200), np.linspace(ymin, ymax, 200))  # (200, 200) each
        grid = np.stack([gx, gy], axis=-1)  # (200, 200, 2)
        winner = (grid @ readout).argmax(axis=-1)  # (200, 200)
        cmap = ListedColormap([_light(SYMBOL_COLORS[c % 3]) for c in range(n_classes)])
        ax.imshow(winner, origin="lower", extent=(xmin, xmax, ymin, ymax), cmap=cmap, vmin=-0.5,
                  vmax=n_classes - 0.5, aspect="auto", zorder=0, interpolation="nearest")
    if trail is not None:
        trail = np.asarray(trail, dtype=float)  # (S, C, N, 2)
        if trail.ndim != 4 or trail.shape[1:] != values.shape:
            raise ValueError(f"trail must have shape (S, {n_classes}, {n}, 2), got {trail.shape}")
        for c in range(n_classes):
            for j in range(n):
                ax.plot(trail[:, c, j, 0], trail[:, c, j, 1], color=SYMBOL_COLORS[c % 3], linewidth=0.9,
                        alpha=0.8, zorder=1)
    handles = [Line2D([], [], marker="o", linestyle="", color=SYMBOL_COLORS[c % 3], markersize=8,
                      label=f"symbol {c}") for c in range(n_classes)]
    if arrows is not None:
        arrows = np.asarray(arrows, dtype=float)  # (C, N, 2)
        if arrows.shape != values.shape:
            raise ValueError(f"arrows must have the shape of values {values.shape}, got {arrows.shape}")
        longest = float(np.linalg.norm(arrows, axis=2).max())
        factor = arrow_length * (xmax - xmin) / longest if longest > 0 else 0.0
        flat_v, flat_a = values.reshape(-1, 2), factor * arrows.reshape(-1, 2)  # (C N, 2) each
        ax.quiver(flat_v[:, 0], flat_v[:, 1], flat_a[:, 0], flat_a[:, 1], angles="xy", scale_units="xy",
                  scale=1.0, color="black", width=0.006, zorder=3)
        handles.append(Line2D([], [], color="black", marker=r"$\rightarrow$", linestyle="", markersize=12,
                              label="pull (scaled)"))
        ax.text(0.98, 0.02, f"arrows: pull × {factor:.3g}", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7, zorder=6, bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "linewidth": 0})
    for c in range(n_classes):
        ax.scatter(values[c, :, 0], values[c, :, 1], s=150, color=SYMBOL_COLORS[c % 3], edgecolor="white",
                   linewidth=0.8, zorder=4)
        for j in range(n):
            ax.text(values[c, j, 0], values[c, j, 1], str(j), color="white", fontsize=7, fontweight="bold",
                    ha="center", va="center", zorder=5)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("value coordinate 1")
    ax.set_ylabel("value coordinate 2")
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(handles=handles, fontsize=7, loc="best", framealpha=0.9, frameon=True)
    return ax


def mark_evidence(ax, evidence, *, color: str = "black"):
    """Outline the cells ``(i, evidence[i])`` of a heatmap: where each query should look.

    Examples
    --------
    >>> ax = mark_evidence(plt.gca(), [0, 0, 1])
    >>> len(ax.patches)
    3
    >>> plt.close("all")
    """
    for i, j in enumerate(np.asarray(evidence)):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=color, linewidth=1.6, zorder=5))
    return ax


def attention_panel(snapshot, ax=None, *, annotate: bool = True):
    """The batch-mean attention of a :class:`~attnlib.dynamics.toy.ToySnapshot`, colours fixed to [0, 1], evidence outlined.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> snap = SimpleNamespace(step=0, attn_mean=np.tril(np.ones((3, 3))) / [[1], [2], [3]],
    ...                        mask=np.tril(np.ones((3, 3), bool)), evidence=np.array([0, 0, 1]))
    >>> attention_panel(snap).images[0].get_clim()
    (0.0, 1.0)
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    heatmap(snapshot.attn_mean, ax=ax, mask=snapshot.mask, annotate=annotate,
            title=f"step {snapshot.step}: attention, batch mean", colorbar_label="α_ij")
    ax.images[0].set_clim(0.0, 1.0)
    mark_evidence(ax, snapshot.evidence)
    return ax


def compat_advantage_panels(snapshot, axes, *, annotate: bool = True):
    r""":math:`N b_{ij}` and :math:`N A_{ij}` of the snapshot's sequence on two axes, evidence outlined.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> snap = SimpleNamespace(step=4, compat=np.zeros((2, 2)), advantage=np.zeros((2, 2)),
    ...                        mask=np.tril(np.ones((2, 2), bool)), evidence=np.array([0, 0]),
    ...                        tokens=np.array([1, 2]))
    >>> fig, axes = plt.subplots(1, 2)
    >>> [ax.get_title() for ax in compat_advantage_panels(snap, axes)]
    ['step 4: N·b_ij, sequence 1 2', 'step 4: N·A_ij, sequence 1 2']
    >>> plt.close("all")
    """
    axes = list(np.ravel(axes))
    if len(axes) != 2:
        raise ValueError(f"axes must hold 2 axes, got {len(axes)}")
    s = snapshot
    seq = " ".join(str(int(c)) for c in s.tokens)
    heatmap(s.compat, ax=axes[0], mask=s.mask, center=True, annotate=annotate,
            title=f"step {s.step}: N·b_ij, sequence {seq}", colorbar_label="N·b_ij  (blue: helpful)")
    mark_evidence(axes[0], s.evidence)
    heatmap(s.advantage, ax=axes[1], mask=s.mask, center=True, annotate=annotate,
            title=f"step {s.step}: N·A_ij, sequence {seq}", colorbar_label="N·A_ij  (red: better)")
    mark_evidence(axes[1], s.evidence)
    return axes


def toy_step_panels(snapshot, axes, *, trail=None, limits=None, show_bA: bool = True, annotate: bool = True):
    r"""Draw one training step of the toy on 2 or 4 axes.

    Panels: the attention averaged over the batch (:func:`attention_panel`);
    the values in the plane with their pulls, shaded by the read-out
    (:func:`value_plane`); and, when ``show_bA``, :math:`N b` and :math:`N A` of
    one sequence (:func:`compat_advantage_panels`).

    Parameters
    ----------
    snapshot : attnlib.dynamics.toy.ToySnapshot
    axes : sequence of matplotlib Axes, length 4 (or 2 without ``show_bA``)
    trail : array_like, shape (S, C, N, 2), optional
        Earlier values, for :func:`value_plane`.
    limits : (xmin, xmax, ymin, ymax), optional
        Value-plane limits shared by several panels.

    Returns
    -------
    list of matplotlib Axes

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_task, toy_init, train_toy, toy_snapshot
    >>> from attnlib.head.training import LearningRates
    >>> task = toy_task(all_sequences()[::40])
    >>> h = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=2)
    >>> fig, axes = plt.subplots(1, 4)
    >>> [ax.get_xlabel() for ax in toy_step_panels(toy_snapshot(h, task, 2), axes)]
    ['key j', 'value coordinate 1', 'key j', 'key j']
    >>> plt.close("all")
    """
    axes = list(np.ravel(axes))
    if len(axes) != (4 if show_bA else 2):
        raise ValueError(f"axes must hold {4 if show_bA else 2} axes, got {len(axes)}")
    s = snapshot
    attention_panel(s, axes[0], annotate=annotate)
    value_plane(s.values, ax=axes[1], trail=trail, arrows=s.pulls, readout=s.readout, limits=limits,
                title=f"step {s.step}: values v = P_c + E_j")
    if show_bA:
        compat_advantage_panels(s, axes[2:], annotate=annotate)
    return axes
