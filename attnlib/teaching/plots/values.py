"""Drawing helpers for chapter 4 (value updates). They only draw: arrays in, axes out."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .basic import get_axes

__all__ = ["value_update_quiver", "error_signal_arrows"]


def value_update_quiver(
    V,
    contributions,
    *,
    ax=None,
    title: str = "",
    xlabel: str = "value coordinate 1",
    ylabel: str = "value coordinate 2",
    show_total: bool = True,
):
    r"""Values as points in the plane, and each value's update split into per-query pulls.

    From every value :math:`v_j` the pulls ``contributions[i, j]`` of the queries
    ``i = 0, 1, ...`` are drawn tip to tail, one colour per query, so the chain
    ends where the whole step :math:`\Delta v_j = \sum_i` ``contributions[i, j]``
    ends; the whole step is drawn as a dashed black arrow. Zero pulls
    (masked pairs) are skipped. Arrows are drawn to scale (``aspect = 1``).

    Parameters
    ----------
    V : array_like, shape (N, 2)
        Value vectors (``d_v = 2``).
    contributions : array_like, shape (N_q, N, 2)
        ``contributions[i, j]`` is the pull of query ``i`` on value ``j``, e.g.
        :func:`attnlib.laws.responsibility.update_contributions`.
    ax : matplotlib Axes, optional
    title, xlabel, ylabel : str
    show_total : bool, default True
        Draw the whole step under the chain.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> V = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> C = np.zeros((2, 2, 2)); C[0, 0] = [0.2, 0.0]; C[1, 0] = [0.0, 0.1]; C[1, 1] = [-0.1, 0.0]
    >>> ax = value_update_quiver(V, C)
    >>> ax.get_xlabel(), len(ax.get_legend().get_texts())
    ('value coordinate 1', 3)
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    V = np.asarray(V, dtype=float)  # (N, 2)
    C = np.asarray(contributions, dtype=float)  # (N_q, N, 2)
    if V.ndim != 2 or V.shape[1] != 2:
        raise ValueError(f"V must have shape (N, 2), got {V.shape}")
    if C.ndim != 3 or C.shape[1:] != V.shape:
        raise ValueError(f"contributions must have shape (N_q, {V.shape[0]}, 2), got {C.shape}")
    n_queries = C.shape[0]
    colors = plt.get_cmap("tab10")
    arrow = {"angles": "xy", "scale_units": "xy", "scale": 1.0}
    total = C.sum(axis=0)  # (N, 2)
    if show_total:
        for j in range(V.shape[0]):
            if np.linalg.norm(total[j]) > 0:
                ax.annotate("", xy=V[j] + total[j], xytext=V[j], zorder=2,
                            arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.6,
                                        "linestyle": (0, (3, 2)), "shrinkA": 0, "shrinkB": 0})
        ax.plot([], [], color="black", lw=1.6, linestyle=(0, (3, 2)), label="whole step")
    start = V.copy()  # (N, 2)  tail of the next pull
    for i in range(n_queries):
        used = np.linalg.norm(C[i], axis=1) > 0  # (N,)
        if used.any():
            ax.quiver(start[used, 0], start[used, 1], C[i, used, 0], C[i, used, 1], color=colors(i % 10),
                      width=0.007, zorder=3, label=f"pull of query {i}", **arrow)
        start = start + C[i]  # (N, 2)
    ax.scatter(V[:, 0], V[:, 1], s=45, color="black", zorder=4)
    for j, (x, y) in enumerate(V):
        ax.annotate(f"v_{j}", (x, y), textcoords="offset points", xytext=(-14, 6), fontsize=9, zorder=5)
    corners = np.concatenate([V, (V[None] + np.cumsum(C, axis=0)).reshape(-1, 2)])  # (N + N_q N, 2)
    ax.update_datalim(corners)
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.margins(0.12)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return ax


def error_signal_arrows(
    U,
    *,
    ax=None,
    title: str = "",
    xlabel: str = "coordinate 1",
    ylabel: str = "coordinate 2",
):
    r"""The descent directions :math:`-u_i` of the queries, as arrows from the origin.

    One colour per query, the same colours as :func:`value_update_quiver`, so
    that a pull of query ``i`` on any value can be recognised as parallel to
    :math:`-u_i`.

    Parameters
    ----------
    U : array_like, shape (N, 2)
        Upstream gradients :math:`u_i` (``d_v = 2``); the arrows show ``-U``.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = error_signal_arrows(np.array([[0.1, 0.0], [0.0, -0.2]]))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['-u_0', '-u_1']
    >>> plt.close("all")
    """
    ax = get_axes(ax)
    U = np.asarray(U, dtype=float)  # (N, 2)
    if U.ndim != 2 or U.shape[1] != 2:
        raise ValueError(f"U must have shape (N, 2), got {U.shape}")
    colors = plt.get_cmap("tab10")
    for i, (a, b) in enumerate(-U):
        ax.quiver(0.0, 0.0, a, b, angles="xy", scale_units="xy", scale=1.0, color=colors(i % 10), width=0.012,
                  label=f"-u_{i}")
    ax.update_datalim(np.concatenate([-U, np.zeros((1, 2))]))
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.margins(0.15)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.axvline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return ax
