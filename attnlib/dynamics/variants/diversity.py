"""Query diversity (chapter 10, part (e)): the grouped sticky chain and how alike the error signals are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validate import as_float_matrix, as_positive_int

# --------------------------------------------------------------------------- (e) query diversity


@dataclass(frozen=True)
class GroupedTask:
    """The sticky chain with its targets merged into groups (the query-diversity knob).

    Attributes
    ----------
    X : numpy.ndarray, shape (N, d_x)
        The inputs of :func:`attnlib.chain.task.sticky_chain`, unchanged.
    y : numpy.ndarray, shape (N,)
        ``group_of[next symbol]``: a class in ``0 .. n_groups - 1`` (the head
        keeps its ``C = 8`` outputs; the other classes are never targets).
    group_of : numpy.ndarray, shape (n,)
        The group of each symbol: ``(s * n_groups) // n``, contiguous arcs
        of the circle.
    n_groups : int
    H_min : float
        Entropy rate of the grouped target given the current symbol, nats.
    chain : attnlib.chain.task.Task
        The underlying sequence.
    """

    X: np.ndarray
    y: np.ndarray
    group_of: np.ndarray
    n_groups: int
    H_min: float
    chain: object

    @property
    def n_positions(self) -> int:
        return int(self.X.shape[0])


def grouped_chain(seed: int, n_groups: int = 8, *, T: int = 150, **chain_kwargs) -> GroupedTask:
    r"""The sticky chain of ``seed`` with its ``n`` symbols merged into ``n_groups`` target groups.

    The inputs, the state sequence and the head are those of
    :func:`attnlib.chain.task.sticky_chain`; only the targets change, to
    :math:`g(y_t)` with :math:`g(s) = \lfloor s\, n_\text{groups} / n \rfloor`.
    At initialisation every prediction is close to uniform, so the error
    signal :math:`u_i = (p_i - e_{y_i}) W_O^\top / N` takes about
    ``n_groups`` distinct directions: identical for one group, as diverse as
    the sticky chain's for ``n_groups = n``.

    Parameters
    ----------
    seed : int
    n_groups : int, default 8
        Must divide ``n`` (the number of symbols, 8 by default).
    T : int, default 150
    **chain_kwargs
        Passed to :func:`attnlib.chain.task.sticky_chain`.

    Returns
    -------
    GroupedTask

    Notes
    -----
    Chapter 10, section "(e) Query diversity". :math:`H_\min` is
    :math:`\frac1n\sum_i H(\Pi^g_{i\cdot})` with :math:`\Pi^g_{ig} = \sum_{s: \operatorname{grp}(s) = g} \Pi_{is}`
    (the stationary distribution is uniform).

    Examples
    --------
    >>> task = grouped_chain(42, 2, T=50)
    >>> task.group_of.tolist(), sorted(set(task.y.tolist()))
    ([0, 0, 0, 0, 1, 1, 1, 1], [0, 1])
    >>> from attnlib.chain.task import sticky_chain
    >>> full = grouped_chain(42, 8, T=50)
    >>> bool(np.array_equal(full.y, sticky_chain(42, T=50).y)), round(full.H_min, 4)
    (True, 1.8292)
    >>> grouped_chain(42, 1, T=50).H_min
    0.0
    """
    from ...chain.task import row_entropy, sticky_chain

    chain = sticky_chain(seed, T=T, **chain_kwargs)
    n = chain.n_symbols
    n_groups = as_positive_int(n_groups, "n_groups")
    if n % n_groups:
        raise ValueError(f"n_groups must divide the number of symbols {n}, got {n_groups}")
    group_of = (np.arange(n) * n_groups) // n  # (n,)
    P_grouped = np.zeros((n, n_groups))  # (n, n_groups)
    np.add.at(P_grouped.T, group_of, chain.P.T)  # P^g[i, g] = sum over symbols s of group g of P[i, s]
    y = group_of[chain.y]  # (N,)
    y.flags.writeable = False
    return GroupedTask(X=chain.X, y=y, group_of=group_of, n_groups=n_groups,
                       H_min=max(float(row_entropy(P_grouped).mean()), 0.0), chain=chain)  # fmt: skip


def error_signal_diversity(U) -> dict[str, float]:
    r"""How alike the error signals :math:`u_i` of the queries are.

    Returns
    -------
    dict
        ``"mean_cosine"``: the mean over pairs :math:`i \ne j` of
        :math:`\cos(u_i, u_j)`, 1 when every query has the same error
        direction, about 0 for the sticky chain; ``"participation"``: the
        participation ratio :math:`(\sum_k \sigma_k^2)^2 / \sum_k \sigma_k^4`
        of the singular values of :math:`U` (uncentred), between 1 (all
        rows on one line) and ``min(N, d_v)``.

    Notes
    -----
    Chapter 10, eq. ``beyond-diversity``.

    Examples
    --------
    >>> error_signal_diversity(np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]))
    {'mean_cosine': 1.0, 'participation': 1.0}
    >>> error_signal_diversity(np.array([[1.0, 0.0], [0.0, 1.0]]))
    {'mean_cosine': 0.0, 'participation': 2.0}
    """
    U = as_float_matrix(U, "U")
    norms = np.linalg.norm(U, axis=1)  # (N,)
    if U.shape[0] < 2 or np.any(norms == 0):
        zero = int((norms == 0).sum())
        raise ValueError(f"U needs at least 2 non-zero rows, got shape {U.shape} with {zero} zero rows")
    unit = U / norms[:, None]  # (N, d_v)
    n = U.shape[0]
    cos = unit @ unit.T  # (N, N)
    mean_cos = float((cos.sum() - np.trace(cos)) / (n * (n - 1)))
    sq = np.linalg.svd(U, compute_uv=False) ** 2  # (min(N, d_v),)
    return {"mean_cosine": round(mean_cos, 15) + 0.0, "participation": float(sq.sum() ** 2 / (sq**2).sum())}

