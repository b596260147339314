"""The hand-derived backward pass of the head (chapters 1 to 5).

Each line is one equation of the book, in the order the chapters derive them.
``dX`` means dL/dX and has the shape of ``X``. Dimension names as in
:mod:`attnlib.head.model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_labels
from .model import Cache, Params


@dataclass(frozen=True)
class Grads:
    """Gradients of the mean loss, and the paper's named intermediates.

    Attributes
    ----------
    W_Q, W_K : (d_x, d_k)
    W_V : (d_x, d_v)
    W_O : (d_v, C)
        dL/dW for each weight matrix.
    logits : (N, C)
        dL/dz_i = (p_i - e_{y_i}) / N  (chapter 1).
    upstream : (N, d_v)
        u_i = dL/do_i = (p_i - e_{y_i}) W_O^T / N  (chapter 3).
    compat : (N, N)
        b_ij = u_i . v_j, which is also dL/dalpha_ij  (chapter 3).
    advantage : (N, N)
        A_ij = E_{alpha_i}[b] - b_ij; zero where masked. A descent step raises
        s_ij in proportion to alpha_ij A_ij  (chapter 3).
    scores : (N, N)
        dL/ds_ij = alpha_ij (b_ij - E_{alpha_i}[b]) = -alpha_ij A_ij; zero where
        masked; every row sums to zero  (chapter 3).
    values : (N, d_v)
        dL/dv_j = sum_i alpha_ij u_i  (chapter 4).
    queries : (N, d_k)
        dL/dq_i = sum_j dL/ds_ij k_j / sqrt(d_k)  (chapter 5).
    keys : (N, d_k)
        dL/dk_j = sum_i dL/ds_ij q_i / sqrt(d_k)  (chapter 5).
    """

    W_Q: np.ndarray
    W_K: np.ndarray
    W_V: np.ndarray
    W_O: np.ndarray
    logits: np.ndarray
    upstream: np.ndarray
    compat: np.ndarray
    advantage: np.ndarray
    scores: np.ndarray
    values: np.ndarray
    queries: np.ndarray
    keys: np.ndarray

    def params(self) -> Params:
        """The four weight gradients as a :class:`~attnlib.Params` (handy for an SGD step)."""
        return Params(W_Q=self.W_Q, W_K=self.W_K, W_V=self.W_V, W_O=self.W_O)


def backward(params: Params, cache: Cache, y) -> Grads:
    """Every gradient of the mean cross-entropy, in closed form.

    Parameters
    ----------
    params : Params
        The weights that produced ``cache``.
    cache : Cache
        From :func:`attnlib.forward`.
    y : array_like of int, shape (N,)
        Targets.

    Returns
    -------
    Grads

    Notes
    -----
    The routing law (chapter 3, eq. ``route-law``) and the value law
    (chapter 4, eq. ``value-law``) are the lines marked below.

    Examples
    --------
    >>> from attnlib import init_params, forward
    >>> params = init_params(4, 3, 2, 5, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((6, 4))
    >>> y = np.array([0, 1, 2, 3, 4, 0])
    >>> g = backward(params, forward(params, X), y)
    >>> g.W_Q.shape, g.scores.shape, g.values.shape
    ((4, 3), (6, 6), (6, 2))
    >>> bool(np.allclose(g.scores.sum(axis=1), 0.0))  # zero-sum competition per query
    True
    """
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    if not isinstance(cache, Cache):
        raise TypeError(f"cache must be an attnlib.Cache from forward(), got {type(cache).__name__}")
    n, n_classes = cache.logits.shape
    if cache.x.shape[1] != params.dims["d_x"] or cache.values.shape[1] != params.dims["d_v"]:
        raise ValueError(f"cache was made by weights of other shapes than params {params.dims}")
    y = as_labels(y, "y", length=n, n_classes=n_classes)
    d_k = params.dims["d_k"]
    alpha = cache.attn  # (N, N)

    dz = cache.probs.copy()  # (N, C)
    dz[np.arange(n), y] -= 1.0  # (N, C)  p_i - e_{y_i}
    dz /= n  # (N, C)  the mean loss's 1/N
    dW_O = cache.out.T @ dz  # (d_v, C)
    u = dz @ params.W_O.T  # (N, d_v)  u_i = dL/do_i
    b = u @ cache.values.T  # (N, N)  b_ij = u_i . v_j = dL/dalpha_ij
    expected_b = (alpha * b).sum(axis=1, keepdims=True)  # (N, 1)  E_{alpha_i}[b]
    advantage = np.where(cache.mask, expected_b - b, 0.0)  # (N, N)  A_ij
    ds = alpha * (b - expected_b)  # (N, N)  routing law; alpha = 0 where masked
    dv = alpha.T @ u  # (N, d_v)  value law: dL/dv_j = sum_i alpha_ij u_i
    dq = ds @ cache.keys / np.sqrt(d_k)  # (N, d_k)
    dk = ds.T @ cache.queries / np.sqrt(d_k)  # (N, d_k)
    X = cache.x  # (N, d_x)
    return Grads(
        W_Q=X.T @ dq,  # (d_x, d_k)
        W_K=X.T @ dk,  # (d_x, d_k)
        W_V=X.T @ dv,  # (d_x, d_v)
        W_O=dW_O,
        logits=dz,
        upstream=u,
        compat=b,
        advantage=advantage,
        scores=ds,
        values=dv,
        queries=dq,
        keys=dk,
    )
