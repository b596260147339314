"""Drawing helpers for chapter 10 (variants of the head). They only draw: arrays in, axes out.

The arms keep chapter 8's colours (:data:`attnlib.teaching.plots.sticky.ARM_COLORS`):
SGD blue, EM-like orange.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .basic import get_axes, finish_axes, reference_lines
from .sticky import ARM_COLORS
from .timescales import seed_bands

__all__ = ["settling_dots", "diversity_scatter", "variant_panels"]



def settling_dots(
    settle: Mapping[str, Mapping[str, np.ndarray]],
    *,
    horizon: float | None = None,
    colors: Mapping[str, str] | None = None,
    ax=None,
    title: str = "",
    xlabel: str = "settling step t_10 (chapter 7)",
):
    """Settling steps of several quantities, one row each, a dot per seed and arm.

    The paper's frame-precision dissociation would put the first rows
    (attention entropy, ``||dL/dS||``) well left of the last ones
    (``||dL/dV||``, loss).

    Parameters
    ----------
    settle : mapping arm -> mapping quantity -> array_like, shape (S,)
        Settling step of each seed (:func:`attnlib.dynamics.timescales.settling_step`).
    horizon : float, optional
        The last recorded step, drawn as a dotted vertical line; the x axis
        then spans the whole run.
    colors : mapping arm -> colour, optional
        Default :data:`ARM_COLORS`, then tab10.

    Examples
    --------
    >>> ax = settling_dots({"SGD": {"loss": [900, 950], "attention entropy": [300, 350]},
    ...                     "EM-like": {"loss": [800, 850], "attention entropy": [200, 250]}},
    ...                    horizon=999)
    >>> [t.get_text() for t in ax.get_yticklabels()], ax.get_xlabel()
    (['loss', 'attention entropy'], 'settling step t_10 (chapter 7)')
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    arms = list(settle)
    if not arms:
        raise ValueError("settle must name at least one arm")
    quantities = list(settle[arms[0]])
    palette = {**ARM_COLORS, **dict(colors or {})}
    spare = list(plt.get_cmap("tab10").colors[2:])
    offsets = np.linspace(-0.15, 0.15, len(arms)) if len(arms) > 1 else np.zeros(1)  # (n_arms,)
    for a, arm in enumerate(arms):
        color = palette.get(arm) or spare.pop(0)
        for row, quantity in enumerate(quantities):
            values = np.asarray(settle[arm][quantity], dtype=float)  # (S,)
            if values.ndim != 1:
                raise ValueError(f"settle[{arm!r}][{quantity!r}] must be 1-D, got shape {values.shape}")
            y = np.full(values.shape, row + offsets[a])  # (S,)
            ax.plot(values, y, "o", color=color, alpha=0.75, markersize=5, label=arm if row == 0 else None)
            ax.plot([values.mean()], [row + offsets[a]], "|", color="black", markersize=12, markeredgewidth=2)
    if horizon is not None:  # the whole run on the axis, so "late" looks late
        ax.axvline(horizon, color="gray", linestyle=":", linewidth=1.0)
        ax.set_xlim(-0.02 * horizon, 1.04 * horizon)
    ax.set_yticks(range(len(quantities)), quantities)
    ax.set_ylim(-0.6, len(quantities) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    return ax


def diversity_scatter(
    diversity,
    values: Mapping[str, np.ndarray],
    *,
    labels: Sequence[str] | None = None,
    colors: Mapping[str, str] | None = None,
    ax=None,
    title: str = "",
    xlabel: str = "alignment: mean cos(u_i, u_j) at step 0",
    ylabel: str = "",
    hlines: Mapping[str, float] | None = None,
):
    """A measured quantity against the measured diversity of the error signals, per seed and on average.

    Parameters
    ----------
    diversity : array_like, shape (K, S)
        The diversity measure of each of ``K`` tasks and ``S`` seeds (by
        default labelled as the alignment ``mean cos(u_i, u_j)``, which is 1
        when there is no diversity).
    values : mapping series name -> array_like, shape (K, S)
        What to plot against it (e.g. the dimension of the value change, per arm).
    labels : sequence of str, length K, optional
        Written next to each task's mean point.
    hlines : mapping label -> float, optional
        Horizontal reference lines.

    Examples
    --------
    >>> ax = diversity_scatter([[1.0, 0.99], [0.5, 0.4]], {"EM-like": [[1, 1], [2, 2]]},
    ...                        labels=["1 group", "2 groups"], ylabel="dimension")
    >>> ax.get_ylabel(), len(ax.texts)
    ('dimension', 2)
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    x = np.asarray(diversity, dtype=float)  # (K, S)
    if x.ndim != 2:
        raise ValueError(f"diversity must have shape (K, S), got {x.shape}")
    palette = {**ARM_COLORS, **dict(colors or {})}
    spare = list(plt.get_cmap("tab10").colors[2:])
    for name, series in values.items():
        y = np.asarray(series, dtype=float)  # (K, S)
        if y.shape != x.shape:
            raise ValueError(f"values[{name!r}] must have the shape of diversity {x.shape}, got {y.shape}")
        color = palette.get(name) or spare.pop(0)
        ax.plot(x.ravel(), y.ravel(), "o", color=color, alpha=0.35, markersize=5)
        ax.errorbar(x.mean(axis=1), y.mean(axis=1), xerr=x.std(axis=1), yerr=y.std(axis=1), fmt="o-",
                    color=color, capsize=4, linewidth=1.6, label=name)  # fmt: skip
    if labels is not None:
        if len(labels) != x.shape[0]:
            raise ValueError(f"labels must have {x.shape[0]} entries, got {len(labels)}")
        first = np.asarray(next(iter(values.values())), dtype=float).mean(axis=1)  # (K,)
        for label, xm, ym in zip(labels, x.mean(axis=1), first):
            ax.annotate(label, (xm, ym), textcoords="offset points", xytext=(6, 6), fontsize=8)
    reference_lines(ax, hlines)
    return finish_axes(ax, xlabel, ylabel, title, legend_fontsize=8)


def variant_panels(
    losses: Mapping[str, np.ndarray],
    settle: Mapping[str, Mapping[str, np.ndarray]],
    *,
    axes=None,
    reference: Mapping[str, np.ndarray] | None = None,
    hlines: Mapping[str, float] | None = None,
    horizon: float | None = None,
    title: str = "",
):
    """The two panels every variant of chapter 10 gets: loss curves per arm, and settling steps per arm.

    Parameters
    ----------
    losses : mapping arm -> array_like, shape (S, steps)
        Median over seeds drawn as a line, the seeds' range as a band.
    settle : mapping arm -> mapping quantity -> array_like, shape (S,)
        Passed to :func:`settling_dots`.
    axes : pair of Axes, optional
    reference : mapping label -> array_like, shape (S, steps), optional
        Curves to compare with (e.g. the single head's arms), drawn dashed.
    hlines : mapping label -> float, optional
        Horizontal reference lines on the loss panel (e.g. ``H_min``).
    horizon : float, optional
        The last recorded step.
    title : str
        Prefix of both panel titles.

    Returns
    -------
    tuple of two Axes

    Examples
    --------
    >>> curves = {"SGD": np.ones((2, 5)), "EM-like": np.full((2, 5), 0.5)}
    >>> settle = {"SGD": {"loss": [3, 4]}, "EM-like": {"loss": [2, 3]}}
    >>> ax_l, ax_s = variant_panels(curves, settle, reference={"single head, SGD": np.ones((2, 5))})
    >>> ax_l.get_ylabel(), ax_s.get_yticklabels()[0].get_text()
    ('training loss (nats)', 'loss')
    >>> plt.close("all")
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    ax_loss, ax_settle = axes
    series = {arm: np.asarray(c, dtype=float) for arm, c in losses.items()}
    styles = {arm: {"color": ARM_COLORS.get(arm)} for arm in series if arm in ARM_COLORS}
    for label, c in (reference or {}).items():
        series[label] = np.asarray(c, dtype=float)
        arm = next((a for a in ARM_COLORS if label.endswith(a)), None)
        styles[label] = {"linestyle": "--", **({"color": ARM_COLORS[arm]} if arm else {})}
    steps = np.arange(next(iter(series.values())).shape[-1])  # (steps,)
    seed_bands(steps, series, ax=ax_loss, xlabel="step (updates applied)", ylabel="training loss (nats)",
               title=f"{title}: training loss" if title else "training loss", hlines=hlines, styles=styles,
               legend_loc="upper right")  # fmt: skip
    settling_dots(settle, horizon=horizon, ax=ax_settle,
                  title=f"{title}: when each quantity settles" if title else "when each quantity settles")  # fmt: skip
    return ax_loss, ax_settle
