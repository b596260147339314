"""Drawing helpers for chapter 8 (the sticky Markov chain). They only draw: arrays in, axes out.

Every arm of the experiment has a fixed colour (:data:`ARM_COLORS`) so that the
chapter's figures can be read with one key: SGD blue, EM-like orange.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ...head.training import EM_LIKE, SGD
from .basic import get_axes, finish_axes, reference_lines

__all__ = ["ARM_COLORS", "arm_loss_curves", "steps_strip", "sweep_lines", "train_vs_heldout"]

#: Colours of the two arms of the paper; other arms take the following tab10 colours.
ARM_COLORS = {SGD: "#1f77b4", EM_LIKE: "#ff7f0e"}


def _colors(names: Sequence[str], colors: Mapping[str, str] | None) -> dict:
    """``colors`` where given, then :data:`ARM_COLORS`, then tab10 from its third colour on."""
    chosen = {**ARM_COLORS, **dict(colors or {})}
    spare = list(plt.get_cmap("tab10").colors[2:])  # blue and orange belong to the two arms
    out = {}
    for name in names:
        out[name] = chosen[name] if name in chosen else (spare.pop(0) if spare else "gray")
    return out


def arm_loss_curves(
    curves: Mapping[str, np.ndarray],
    *,
    threshold: float | None = None,
    crossings: Mapping[str, np.ndarray] | None = None,
    hlines: Mapping[str, float] | None = None,
    colors: Mapping[str, str] | None = None,
    ax=None,
    xlim=None,
    ylim=None,
    title: str = "",
    xlabel: str = "step t (updates applied)",
    ylabel: str = "training loss (nats)",
):
    """One thin line per seed for each arm, a threshold line and the first crossings.

    Parameters
    ----------
    curves : mapping arm name -> array_like, shape (S, steps)
        ``curves[arm][s, t]``: loss of seed ``s`` after ``t`` updates.
    threshold : float, optional
        Drawn as a dashed horizontal line.
    crossings : mapping arm name -> array_like, shape (S,), optional
        Step of each seed's first crossing (``nan``: none); marked with a dot
        on that seed's curve.
    hlines : mapping label -> float, optional
        More horizontal reference lines (dotted, grey), e.g. ``{"H_min": 1.83}``.

    Examples
    --------
    >>> c = {"SGD": np.array([[2.0, 1.9, 1.8]]), "EM-like": np.array([[2.0, 1.7, 1.5]])}
    >>> ax = arm_loss_curves(c, threshold=1.8, crossings={"EM-like": np.array([1.0])})
    >>> len(ax.lines), ax.get_ylabel()
    (4, 'training loss (nats)')
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    palette = _colors(list(curves), colors)
    for name, values in curves.items():
        values = np.atleast_2d(np.asarray(values, dtype=float))  # (S, steps)
        steps = np.arange(values.shape[1])  # (steps,)
        for s, row in enumerate(values):
            ax.plot(steps, row, color=palette[name], linewidth=1.0, alpha=0.85, label=name if s == 0 else None)
        if crossings is not None and name in crossings:
            at = np.asarray(crossings[name], dtype=float)  # (S,)
            if at.shape != (values.shape[0],):
                raise ValueError(f"crossings[{name!r}] must have shape ({values.shape[0]},), got {at.shape}")
            ok = np.isfinite(at)
            t = at[ok].astype(int)  # (k,)
            ax.plot(t, values[ok, t], "o", color=palette[name], markeredgecolor="black", markersize=6,
                    label=f"{name}: first step below")  # fmt: skip
    if threshold is not None:
        ax.axhline(threshold, color="black", linestyle="--", linewidth=1.0, label=f"threshold {threshold:.4f}")
    reference_lines(ax, hlines)
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    return finish_axes(ax, xlabel, ylabel, title, legend_fontsize=8)


def steps_strip(
    groups: Mapping[str, np.ndarray],
    *,
    horizon: float | None = None,
    reference: Mapping[str, tuple[float, float]] | None = None,
    colors: Mapping[str, str] | None = None,
    ax=None,
    title: str = "",
    xlabel: str = "steps to reach the threshold",
):
    """Per-seed values of several arms as dots on rows, with mean ± std bars.

    Parameters
    ----------
    groups : mapping row label -> array_like, shape (S,)
        ``nan`` means "never reached": drawn as an open triangle at ``horizon``.
    horizon : float, optional
        Where "never" is drawn, and a vertical line.
    reference : mapping row label -> (mean, std), optional
        Extra rows drawn as a grey bar (e.g. the paper's ``430 ± 143``).

    Examples
    --------
    >>> ax = steps_strip({"EM-like": np.array([300.0, 500.0, np.nan])}, horizon=1000,
    ...                  reference={"paper": (430.0, 143.0)})
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['paper', 'EM-like']
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    reference = dict(reference or {})
    labels = list(reference) + list(groups)
    palette = _colors(list(groups), colors)
    for row, label in enumerate(labels):
        if label in reference:
            mean, std = reference[label]
            ax.errorbar([mean], [row], xerr=[std], fmt="s", color="gray", capsize=5, markersize=7)
            continue
        values = np.asarray(groups[label], dtype=float)  # (S,)
        if values.ndim != 1:
            raise ValueError(f"groups[{label!r}] must be 1-D, got shape {values.shape}")
        ok = np.isfinite(values)
        jitter = np.linspace(-0.12, 0.12, values.size) if values.size > 1 else np.zeros(1)  # (S,)
        ax.plot(values[ok], row + jitter[ok], "o", color=palette[label], alpha=0.8, markersize=5)
        if horizon is not None and (~ok).any():
            ax.plot(np.full((~ok).sum(), horizon), row + jitter[~ok], ">", color=palette[label],
                    markerfacecolor="white", markersize=7)  # fmt: skip
        if ok.any():
            ax.errorbar([values[ok].mean()], [row], xerr=[values[ok].std()], fmt="|", color="black",
                        capsize=5, markersize=14, linewidth=1.5)  # fmt: skip
    if horizon is not None:
        ax.axvline(horizon, color="gray", linestyle=":", linewidth=1.0)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return ax


def sweep_lines(
    x,
    series: Mapping[str, np.ndarray],
    *,
    colors: Mapping[str, str] | None = None,
    ax=None,
    logx: bool = False,
    hlines: Mapping[str, float] | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
):
    """Mean ± std over seeds (error bars) and each seed (faint) of several series over ``x``.

    Parameters
    ----------
    x : array_like, shape (K,)
    series : mapping name -> array_like, shape (K, S)
        ``nan`` entries (e.g. "never reached") are left out of the mean.
    hlines : mapping label -> float, optional
        Horizontal reference lines.

    Examples
    --------
    >>> ax = sweep_lines([1, 3, 10], {"steps": np.array([[900, 800], [600, 500], [400, np.nan]])}, logx=True)
    >>> ax.get_xscale()
    'log'
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    x = np.asarray(x, dtype=float)  # (K,)
    palette = _colors(list(series), colors)
    for name, values in series.items():
        values = np.asarray(values, dtype=float)  # (K, S)
        if values.ndim != 2 or values.shape[0] != x.shape[0]:
            raise ValueError(f"series {name!r} must have shape ({x.shape[0]}, S), got {values.shape}")
        for column in values.T:
            ax.plot(x, column, color=palette[name], alpha=0.25, linewidth=0.9)
        with np.errstate(all="ignore"):
            counts = np.isfinite(values).sum(axis=1)  # (K,)
            mean = np.where(counts > 0, np.nanmean(np.where(counts[:, None] > 0, values, 0.0), axis=1), np.nan)
            std = np.where(counts > 0, np.nanstd(np.where(counts[:, None] > 0, values, 0.0), axis=1), np.nan)
        ax.errorbar(x, mean, yerr=std, fmt="o-", color=palette[name], capsize=4, label=name, linewidth=1.6)
    reference_lines(ax, hlines)
    if logx:
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
    return finish_axes(ax, xlabel, ylabel, title, legend_fontsize=8)


def train_vs_heldout(
    points: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    h_min: float | None = None,
    colors: Mapping[str, str] | None = None,
    ax=None,
    title: str = "",
    xlabel: str = "training loss (nats)",
    ylabel: str = "held-out loss (nats)",
):
    """Each run as a point (training loss, held-out loss), with the diagonal and ``H_min``.

    Points above the diagonal generalise worse than they fit; a training loss
    left of ``H_min`` is only possible by memorising the training sequence.

    Parameters
    ----------
    points : mapping arm name -> (train, heldout), each array_like of shape (S,)

    Examples
    --------
    >>> ax = train_vs_heldout({"SGD": ([2.0, 2.1], [2.05, 2.12])}, h_min=1.83)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('training loss (nats)', 'held-out loss (nats)')
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    palette = _colors(list(points), colors)
    everything = []
    for name, (train, heldout) in points.items():
        train = np.asarray(train, dtype=float)  # (S,)
        heldout = np.asarray(heldout, dtype=float)  # (S,)
        if train.shape != heldout.shape or train.ndim != 1:
            raise ValueError(
                f"points[{name!r}] must be two arrays of one shape (S,), got {train.shape} and {heldout.shape}"
            )
        ax.plot(train, heldout, "o", color=palette[name], label=name, markeredgecolor="black", markersize=6)
        everything += [train, heldout]
    values = np.concatenate(everything)
    low, high = float(values.min()), float(values.max())
    pad = 0.05 * (high - low or 1.0)
    ax.plot([low - pad, high + pad], [low - pad, high + pad], color="black", linewidth=0.8, label="held-out = training")
    if h_min is not None:
        ax.axvline(h_min, color="gray", linestyle=":", linewidth=1.2, label=f"H_min {h_min:.4f}")
        ax.axhline(h_min, color="gray", linestyle=":", linewidth=1.2)
    return finish_axes(ax, xlabel, ylabel, title, legend_fontsize=8)
