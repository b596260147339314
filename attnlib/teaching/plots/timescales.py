"""Drawing the two timescales of training (chapter 7).

Every function only draws: it takes arrays and an optional ``ax`` and returns
the axes it drew on. The quantities come from :mod:`attnlib.head.training` and
:mod:`attnlib.laws.em`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .basic import get_axes, reference_lines
from .rules import readable_log_ticks

__all__ = ["seed_bands"]


def seed_bands(
    x,
    series: Mapping[str, np.ndarray],
    *,
    ax=None,
    xlabel: str = "step",
    ylabel: str = "",
    title: str = "",
    logy: bool = False,
    hlines: Mapping[str, float] | None = None,
    styles: Mapping[str, dict] | None = None,
    legend_loc: str = "best",
):
    """Median over seeds of several named curves, with the min-max band of the seeds.

    Parameters
    ----------
    x : array_like of shape (T,), or mapping of str to array_like
        The shared x values, or one array per series (e.g. a cost per arm).
    series : mapping of str to array_like, each of shape (n_seeds, T_name)
        One row per seed. Series may differ in length when ``x`` is a mapping.
    logy : bool
        Logarithmic y axis, with enough labelled ticks to read changes of a few percent.
    hlines : mapping of str to float, optional
        Label -> y value of a horizontal reference line; each gets its own line style.
    styles : mapping of str to dict, optional
        Extra keyword arguments of ``ax.plot`` for a series.

    Examples
    --------
    >>> ax = seed_bands(np.arange(3), {"a": [[1.0, 2.0, 3.0], [1.0, 3.0, 5.0]]},
    ...                 hlines={"target": 2.5}, title="t")
    >>> len(ax.lines), len(ax.collections)
    (2, 1)
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    styles = styles or {}
    for name, values in series.items():
        values = np.atleast_2d(np.asarray(values, dtype=float))  # (n_seeds, T)
        xs = np.asarray(x[name] if isinstance(x, Mapping) else x, dtype=float)  # (T,)
        if xs.shape != values.shape[1:]:
            raise ValueError(
                f"series {name!r} has {values.shape[1]} steps "
                f"but its x has shape {xs.shape}"
            )
        line, = ax.plot(xs, np.median(values, axis=0), label=name, linewidth=2,
                        **styles.get(name, {}))
        ax.fill_between(xs, values.min(axis=0), values.max(axis=0),
                        color=line.get_color(), alpha=0.18, linewidth=0)
    reference_lines(ax, hlines, color="black")
    if logy:
        ax.set_yscale("log")
        readable_log_ticks(ax, "y")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc=legend_loc)
    return ax
