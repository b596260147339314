r"""Entropy of probability rows: how spread an attention row (or a prediction) is.

Training records the mean attention entropy (:mod:`attnlib.head.training`);
chapters 6-10 read it as the sharpening of the routing.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_distribution_rows


def entropy_nats(p: np.ndarray) -> np.ndarray:
    """Entropy in nats along the last axis, ``0 log 0 := 0``, without input checks (for inner loops)."""
    log_p = np.log(p, out=np.zeros_like(p), where=p > 0)  # (..., C)  0 log 0 := 0
    return -(p * log_p).sum(axis=-1) + 0.0  # (...)  (+ 0.0 turns -0.0 into 0.0)


def attention_entropy(alpha) -> np.ndarray:
    r"""Entropy in nats of every attention row: :math:`H_i = -\sum_j \alpha_{ij}\log\alpha_{ij}`, with :math:`0\log 0 := 0`.

    Parameters
    ----------
    alpha : array_like, shape (N, M) or (..., M)
        Attention rows (non-negative, each summing to 1 within 1e-6). Leading
        axes are kept, so a stack of heads ``(B, N, M)`` gives ``(B, N)``.

    Returns
    -------
    numpy.ndarray, shape (N,) or (...)
        Between 0 (one key takes everything) and :math:`\log m_i`, with
        :math:`m_i` the number of keys query ``i`` may see; under a causal mask
        uniform attention gives :math:`\log i` (1-based).

    Raises
    ------
    ValueError
        One line, if a row has a negative entry or does not sum to 1.

    Examples
    --------
    >>> attention_entropy([[1.0, 0.0], [0.5, 0.5]]).round(4)
    array([0.    , 0.6931])
    >>> attention_entropy(np.full((2, 3, 4), 0.25)).shape
    (2, 3)
    """
    alpha = as_distribution_rows(alpha, "alpha")
    return entropy_nats(alpha)  # (N,)
