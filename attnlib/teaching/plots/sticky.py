"""Drawing helpers for chapter 8 (the sticky Markov chain). They only draw: arrays in, axes out.

Every arm of the experiment has a fixed colour (:data:`ARM_COLORS`) so that the
chapter's figures can be read with one key: SGD blue, EM-like orange.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from ...head.training import EM_LIKE, SGD
from .basic import get_axes, finish_axes, reference_lines
from .rules import mark_censored

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
        Step of each seed's first crossing, marked with a dot on that seed's curve;
        ``nan``: the seed did not cross, drawn as censored (an open triangle at the
        curve's last step).
    hlines : mapping label -> float, optional
        More horizontal reference lines (grey, each its own style), e.g. ``{"H_min": 1.83}``.

    Examples
    --------
    >>> c = {"SGD": np.array([[2.0, 1.9, 1.8]]), "EM-like": np.array([[2.0, 1.7, 1.5]])}
    >>> ax = arm_loss_curves(c, threshold=1.8, crossings={"EM-like": np.array([1.0]), "SGD": np.array([np.nan])})
    >>> len(ax.lines), ax.get_ylabel()
    (5, 'training loss (nats)')
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
            if ok.any():
                ax.plot(t, values[ok, t], "o", color=palette[name], markeredgecolor="black", markersize=6,
                        label=f"{name}: first step below")  # fmt: skip
            if (~ok).any():
                last = values.shape[1] - 1
                mark_censored(ax, np.full((~ok).sum(), last), values[~ok, last], color=palette[name],
                              label=f"{name}: not below within {last} steps ({(~ok).sum()} of {ok.size})")
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
    """Per-seed values of several arms as dots on rows; every run is shown.

    A run that never reached the threshold is drawn as censored: an open triangle at
    ``horizon``, labelled "did not cross within ``horizon`` steps". Each row says how
    many of its runs crossed ("EM-like (2/3 crossed)") when ``horizon`` is given. The black bar (mean ± std over the seeds)
    is drawn only for rows where every run crossed: a mean over the runs that happened
    to cross would hide the others.

    Parameters
    ----------
    groups : mapping row label -> array_like, shape (S,)
        ``nan`` means "never reached".
    horizon : float, optional
        The last step run: where "never" is drawn, and a vertical line. Required when
        a row holds ``nan``.
    reference : mapping row label -> (mean, std), optional
        Extra rows drawn as a grey bar (e.g. the paper's ``430 ± 143``).

    Examples
    --------
    >>> ax = steps_strip({"EM-like": np.array([300.0, 500.0, np.nan])}, horizon=1000,
    ...                  reference={"paper": (430.0, 143.0)})
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['paper', 'EM-like (2/3 crossed)']
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    reference = dict(reference or {})
    labels = list(reference) + list(groups)
    palette = _colors(list(groups), colors)
    censored_label = None if horizon is None else f"did not cross within {horizon:g} steps"
    tick_labels = list(labels)
    censored_any = False
    for row, label in enumerate(labels):
        if label in reference:
            mean, std = reference[label]
            ax.errorbar([mean], [row], xerr=[std], fmt="s", color="gray", capsize=5, markersize=7)
            continue
        values = np.asarray(groups[label], dtype=float)  # (S,)
        if values.ndim != 1:
            raise ValueError(f"groups[{label!r}] must be 1-D, got shape {values.shape}")
        ok = np.isfinite(values)
        censored_any = censored_any or not ok.all()
        if (~ok).any() and horizon is None:
            raise ValueError(f"groups[{label!r}] has runs that never reached (nan): pass horizon= "
                             "to draw them as censored")
        jitter = np.linspace(-0.12, 0.12, values.size) if values.size > 1 else np.zeros(1)  # (S,)
        ax.plot(values[ok], row + jitter[ok], "o", color=palette[label], alpha=0.8, markersize=5)
        if (~ok).any():
            mark_censored(ax, np.full((~ok).sum(), horizon), row + jitter[~ok], color=palette[label])
        if ok.all():
            ax.errorbar([values.mean()], [row], xerr=[values.std()], fmt="|", color="black",
                        capsize=5, markersize=14, linewidth=1.5)  # fmt: skip
        if horizon is not None:
            tick_labels[row] = f"{label} ({ok.sum()}/{ok.size} crossed)"
    if horizon is not None:
        ax.axvline(horizon, color="gray", linestyle=":", linewidth=1.0)
        if censored_any:  # say what the open triangle means, in no row's colour
            key = Line2D([], [], linestyle="none", marker=">", markersize=8, markerfacecolor="white",
                         markeredgecolor="0.3", markeredgewidth=1.6, label=censored_label)
            ax.legend(handles=[key], fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_yticks(range(len(labels)), tick_labels)
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
    horizon: float | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
):
    """Each seed (faint) and a summary over seeds of several series over ``x``.

    Without ``nan`` the summary is the mean ± std over the seeds (error bars). A series of
    steps to a threshold holds ``nan`` for the runs that never reached it; those need
    ``horizon`` (the last step run) and are drawn as censored, an open triangle at
    ``horizon`` labelled "did not cross within ``horizon`` steps". The summary is then the
    median over all runs, counting a censored run as later than any other; it is drawn
    only where more than half the runs crossed (elsewhere it is unknown), and every ``x``
    is annotated with how many runs crossed ("1/3").

    Parameters
    ----------
    x : array_like, shape (K,)
    series : mapping name -> array_like, shape (K, S)
        ``nan`` entries: runs that never reached (requires ``horizon``).
    hlines : mapping label -> float, optional
        Horizontal reference lines (grey, each its own style).
    horizon : float, optional
        Where runs that never reached are drawn.

    Examples
    --------
    >>> ax = sweep_lines([1, 3, 10], {"steps": np.array([[900, 800], [600, 500], [400, np.nan]])},
    ...                  logx=True, horizon=1000)
    >>> ax.get_xscale(), [t.get_text() for t in ax.texts]
    ('log', ['2/2', '2/2', '1/2'])
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    x = np.asarray(x, dtype=float)  # (K,)
    palette = _colors(list(series), colors)
    censored_label = None if horizon is None else f"did not cross within {horizon:g} steps"
    for name, values in series.items():
        values = np.asarray(values, dtype=float)  # (K, S)
        if values.ndim != 2 or values.shape[0] != x.shape[0]:
            raise ValueError(f"series {name!r} must have shape ({x.shape[0]}, S), got {values.shape}")
        ok = np.isfinite(values)  # (K, S)
        if horizon is None:
            if not ok.all():
                raise ValueError(f"series {name!r} has runs that never reached (nan): pass horizon= "
                                 "to draw them as censored")
            for column in values.T:
                ax.plot(x, column, color=palette[name], alpha=0.25, linewidth=0.9)
            ax.errorbar(x, values.mean(axis=1), yerr=values.std(axis=1), fmt="o-", color=palette[name],
                        capsize=4, label=name, linewidth=1.6)  # fmt: skip
            continue
        late = np.where(ok, values, np.inf)  # (K, S)  "never": later than any step
        for column in late.T:  # each seed, up to where it stops crossing
            ax.plot(x, np.where(np.isfinite(column), column, np.nan), color=palette[name], alpha=0.3,
                    linewidth=0.9, marker="o", markersize=3)  # fmt: skip
        rows, cols = np.nonzero(~ok)
        if rows.size:
            spread = 0.03 * (cols - (values.shape[1] - 1) / 2)  # (k,)  side by side, in log-x or x units
            at = x[rows] * 10.0**spread if logx else x[rows] + spread * np.ptp(x)  # (k,)
            mark_censored(ax, at, np.full(rows.size, horizon), color=palette[name], marker="^",
                          label=censored_label)
            censored_label = None
        median = np.median(late, axis=1)  # (K,)  inf where half or more never crossed
        ax.plot(x, np.where(np.isfinite(median), median, np.nan), "o-", color=palette[name], linewidth=1.8,
                markersize=7, label=f"{name}: median over runs")  # fmt: skip
        for xk, k, n in zip(x, ok.sum(axis=1), np.full(x.shape, values.shape[1])):
            ax.annotate(f"{k}/{n}", (xk, horizon), xytext=(0, 9), textcoords="offset points", ha="center",
                        fontsize=8)
    if horizon is not None:
        ax.axhline(horizon, color="gray", linestyle="--", linewidth=1.0)
        low = ax.get_ylim()[0]
        ax.set_ylim(low, horizon + 0.12 * (horizon - low))
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
