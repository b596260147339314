r"""Responsibility-weighted value updates (chapter 4): the value law, column usage,
the M-step-like mean it shares with a Gaussian mixture, and the first-order
predictions of the positive feedback loop.

Every function is pure: arrays in, arrays out. Dimension names in shape
comments: ``N`` positions (queries, and keys/values), ``d_v`` value width,
``K`` mixture components, ``d`` any row width.

.. math::

    \frac{\partial L}{\partial v_j} = \sum_i \alpha_{ij} u_i ,\qquad
    \frac{\partial L}{\partial V} = \alpha^\top U ,\qquad
    c_j = \sum_i \alpha_{ij} .
"""

from __future__ import annotations

import numpy as np

from .._validate import as_float_matrix, as_number
from ..head.softmax import softmax


def _same_shape(alpha, other, name: str) -> tuple[np.ndarray, np.ndarray]:
    alpha = as_float_matrix(alpha, "alpha")
    other = as_float_matrix(other, name)
    if other.shape != alpha.shape:
        raise ValueError(f"{name} must have the shape of alpha {alpha.shape}, got {other.shape}")
    return alpha, other


def _attention_and_rows(alpha, U, u_name: str = "U") -> tuple[np.ndarray, np.ndarray]:
    alpha = as_float_matrix(alpha, "alpha")
    U = as_float_matrix(U, u_name)
    if alpha.shape[0] != alpha.shape[1]:
        raise ValueError(f"alpha must be square (N, N), got shape {alpha.shape}")
    if U.shape[0] != alpha.shape[0]:
        raise ValueError(f"{u_name} must have {alpha.shape[0]} rows (one per query, N of alpha), got shape {U.shape}")
    return alpha, U


def column_usage(alpha) -> np.ndarray:
    r"""Total attention each key/value receives: :math:`c_j = \sum_i \alpha_{ij}`.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
        Attention weights, queries down and keys across (rows sum to one).

    Returns
    -------
    numpy.ndarray, shape (N,)
        The column sums. They add up to ``N`` when every row of ``alpha`` sums to one.

    Notes
    -----
    Chapter 4, eq. ``value-usage``. Under uniform causal attention
    :math:`\alpha_{ij} = 1/i` (1-based), :math:`c_j = H_N - H_{j-1}` with the
    harmonic numbers :math:`H_n` (eq. ``value-usage-uniform``).

    Examples
    --------
    >>> column_usage([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    array([1.7, 0.8, 0.5])
    """
    alpha = as_float_matrix(alpha, "alpha")
    return alpha.sum(axis=0)  # (N,)  c_j = sum_i alpha_ij


def value_grad(alpha, U) -> np.ndarray:
    r"""The value law: :math:`\partial L/\partial v_j = \sum_i \alpha_{ij} u_i`, i.e. :math:`\alpha^\top U`.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
        Attention weights :math:`\alpha_{ij}` (query ``i``, key ``j``).
    U : array_like, shape (N, d_v)
        Upstream gradients :math:`u_i = \partial L/\partial o_i`, one row per
        query; for the mean loss they already carry its ``1/N``.

    Returns
    -------
    numpy.ndarray, shape (N, d_v)
        Row ``j`` is :math:`\partial L/\partial v_j`.

    Notes
    -----
    Chapter 4, eqs. ``value-law`` and ``value-law-matrix``; the same line as
    ``attnlib.backward(...).values``.

    Examples
    --------
    >>> alpha = np.array([[1.0, 0.0], [0.25, 0.75]])
    >>> U = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> value_grad(alpha, U)  # v_0 hears from both queries, v_1 only from query 1
    array([[1. , 0.5],
           [0. , 1.5]])
    """
    alpha, U = _attention_and_rows(alpha, U)
    return alpha.T @ U  # (N, d_v)  row j: sum_i alpha_ij u_i


def update_contributions(alpha, U, eta: float = 1.0) -> np.ndarray:
    r"""Each query's share of each value's descent step: ``C[i, j] = -eta alpha_ij u_i``.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
    U : array_like, shape (N, d_v)
    eta : float, default 1.0
        Learning rate of the step :math:`\Delta v_j = -\eta\,\partial L/\partial v_j`.

    Returns
    -------
    numpy.ndarray, shape (N, N, d_v)
        ``C[i, j]`` is the pull of query ``i`` on value ``j``; summing over
        ``i`` gives :math:`\Delta v_j` (chapter 4, eq. ``value-step``). Zero
        wherever :math:`\alpha_{ij} = 0` (e.g. above a causal diagonal).

    Examples
    --------
    >>> alpha = np.array([[1.0, 0.0], [0.25, 0.75]])
    >>> U = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> C = update_contributions(alpha, U, eta=0.1)
    >>> C.shape
    (2, 2, 2)
    >>> bool(np.allclose(C.sum(axis=0), -0.1 * value_grad(alpha, U)))
    True
    """
    alpha, U = _attention_and_rows(alpha, U)
    return -as_number(eta, "eta") * alpha[:, :, None] * U[:, None, :]  # (N, N, d_v)  -eta alpha_ij u_i


def responsibility_weighted_mean(R, T, *, empty=None) -> np.ndarray:
    r"""Mean of the rows of ``T`` under each column of ``R``: :math:`m_k = \sum_i R_{ik} t_i / \sum_i R_{ik}`.

    This is the M-step of a Gaussian mixture (``R`` the responsibilities
    :math:`\gamma_{ik}`, ``T`` the data points), and, with ``R = alpha`` and
    ``T = -U``, the target each value is pulled toward.

    Parameters
    ----------
    R : array_like, shape (N, K)
        Non-negative weights: row ``i`` says how much row ``t_i`` counts for each column ``k``.
    T : array_like, shape (N, d)
        The rows to average.
    empty : array_like, shape (K, d), optional
        Rows returned for columns whose total weight is exactly zero (no row is
        responsible for them). Default: zeros.

    Returns
    -------
    numpy.ndarray, shape (K, d)

    Notes
    -----
    Chapter 4, eqs. ``value-gmm-mstep`` and ``value-target``:
    :math:`-\partial L/\partial v_j = c_j m_j` with ``R = alpha``, ``T = -U``.

    Examples
    --------
    >>> R = np.array([[1.0, 0.0], [0.5, 0.0], [0.5, 0.0]])  # column 1 is unused
    >>> T = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    >>> responsibility_weighted_mean(R, T)
    array([[0.5, 1. ],
           [0. , 0. ]])
    >>> responsibility_weighted_mean(R, T, empty=[[9.0, 9.0], [7.0, 7.0]])[1]
    array([7., 7.])
    """
    R = as_float_matrix(R, "R")
    T = as_float_matrix(T, "T")
    if T.shape[0] != R.shape[0]:
        raise ValueError(f"T must have {R.shape[0]} rows (one per row of R), got shape {T.shape}")
    if np.any(R < 0):
        raise ValueError(f"R must be non-negative, got {R.min()}")
    totals = R.sum(axis=0)  # (K,)  N_k = sum_i R_ik
    fallback = np.zeros((R.shape[1], T.shape[1])) if empty is None else as_float_matrix(empty, "empty")  # (K, d)
    if fallback.shape != (R.shape[1], T.shape[1]):
        raise ValueError(f"empty must have shape {(R.shape[1], T.shape[1])}, got {fallback.shape}")
    used = totals > 0  # (K,)
    safe = np.where(used, totals, 1.0)  # (K,)  avoid 0/0 in unused columns
    means = (R.T @ T) / safe[:, None]  # (K, d)
    return np.where(used[:, None], means, fallback)  # (K, d)


def gmm_responsibilities(X, mu) -> np.ndarray:
    r"""E-step of an isotropic, unit-variance, equal-weight Gaussian mixture.

    :math:`\gamma_{ik} = \exp(-\lVert x_i - \mu_k \rVert^2/2) / \sum_l \exp(-\lVert x_i - \mu_l \rVert^2/2)`,
    a row softmax of the scores :math:`-\lVert x_i - \mu_k\rVert^2/2`.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Data points.
    mu : array_like, shape (K, d)
        Component means.

    Returns
    -------
    numpy.ndarray, shape (N, K)
        Each row sums to one.

    Examples
    --------
    >>> gmm_responsibilities([[0.0], [1.0]], [[0.0], [2.0]]).round(3)
    array([[0.881, 0.119],
           [0.5  , 0.5  ]])
    """
    X = as_float_matrix(X, "X")
    mu = as_float_matrix(mu, "mu")
    if mu.shape[1] != X.shape[1]:
        raise ValueError(f"mu must have {X.shape[1]} columns (the width of X), got shape {mu.shape}")
    sq_dist = ((X[:, None, :] - mu[None, :, :]) ** 2).sum(axis=-1)  # (N, K)
    return softmax(-0.5 * sq_dist)  # (N, K)


def value_step_compat_change(alpha, U, eta: float) -> np.ndarray:
    r"""Change of :math:`b_{ij} = u_i \cdot v_j` after the value step :math:`\Delta V = -\eta\,\alpha^\top U`.

    With :math:`\alpha` and :math:`U` held fixed,
    :math:`\Delta b_{ij} = u_i\cdot\Delta v_j = -\eta \sum_k \alpha_{kj}\, u_i\cdot u_k`,
    i.e. :math:`\Delta b = -\eta\, U U^\top \alpha`.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
    U : array_like, shape (N, d_v)
    eta : float
        Learning rate of the value step.

    Returns
    -------
    numpy.ndarray, shape (N, N)

    Notes
    -----
    Chapter 4, eq. ``value-feedback-db``.

    Examples
    --------
    >>> alpha = np.array([[1.0, 0.0], [0.5, 0.5]])
    >>> U = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> value_step_compat_change(alpha, U, 1.0)
    array([[-1.5, -0.5],
           [-2. , -1. ]])
    """
    alpha, U = _attention_and_rows(alpha, U)
    gram = U @ U.T  # (N, N)  u_i . u_k
    return -as_number(eta, "eta") * gram @ alpha  # (N, N)  -eta sum_k (u_i . u_k) alpha_kj


def advantage_change(alpha, delta_b, mask=None) -> np.ndarray:
    r"""Change of the advantage :math:`A_{ij} = \mathbb{E}_{\alpha_i}[b] - b_{ij}` when ``b`` changes by ``delta_b``.

    With :math:`\alpha` fixed, :math:`\Delta A_{ij} = \sum_l \alpha_{il}\,\Delta b_{il} - \Delta b_{ij}`.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
    delta_b : array_like, shape (N, N)
    mask : array_like of bool, shape (N, N), optional
        Allowed pairs; the result is zero elsewhere (as ``Grads.advantage`` is).
        Default: where ``alpha > 0``.

    Returns
    -------
    numpy.ndarray, shape (N, N)

    Notes
    -----
    Chapter 4, eq. ``value-feedback-da``.

    Examples
    --------
    >>> advantage_change([[1.0, 0.0], [0.5, 0.5]], [[-1.5, -0.5], [-2.0, -1.0]])
    array([[ 0. ,  0. ],
           [ 0.5, -0.5]])
    """
    alpha, delta_b = _same_shape(alpha, delta_b, "delta_b")
    allowed = alpha > 0 if mask is None else np.asarray(mask, dtype=bool)  # (N, N)
    if allowed.shape != alpha.shape:
        raise ValueError(f"mask must have the shape of alpha {alpha.shape}, got {allowed.shape}")
    expected = (alpha * delta_b).sum(axis=1, keepdims=True)  # (N, 1)  E_{alpha_i}[delta b]
    return np.where(allowed, expected - delta_b, 0.0)  # (N, N)


def upstream_change_first_order(alpha, U, probs, W_O, eta: float) -> np.ndarray:
    r"""First-order change of the error signals :math:`u_i` caused by a value step.

    The value step is :math:`\Delta V = -\eta\,\alpha^\top U`.

    The step moves every output by :math:`\Delta o_i = \sum_j \alpha_{ij}\Delta v_j`, hence the
    logits by :math:`\Delta z_i = \Delta o_i W_O`, the probabilities by
    :math:`\Delta p_i \approx \Delta z_i(\mathrm{diag}(p_i) - p_i^\top p_i)`, and
    :math:`u_i = (p_i - e_{y_i}) W_O^\top / N` by :math:`\Delta u_i \approx \Delta p_i W_O^\top / N`.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
    U : array_like, shape (N, d_v)
        Upstream gradients of the mean loss (with its ``1/N``).
    probs : array_like, shape (N, C)
        Predicted probabilities :math:`p_i` (``cache.probs``).
    W_O : array_like, shape (d_v, C)
    eta : float
        Learning rate of the value step.

    Returns
    -------
    numpy.ndarray, shape (N, d_v)

    Notes
    -----
    Chapter 4, eq. ``value-feedback-indirect``: the channel the feedback-loop
    argument leaves out when it holds ``U`` fixed.

    Examples
    --------
    >>> alpha = np.array([[1.0]]); W_O = np.array([[1.0, -1.0]]); p = np.array([[0.5, 0.5]])
    >>> U = (p - [[1.0, 0.0]]) @ W_O.T  # N = 1, target class 0: u = -1
    >>> upstream_change_first_order(alpha, U, p, W_O, 0.1)  # o moves by +0.1, p_0 rises, u rises
    array([[0.1]])
    """
    alpha, U = _attention_and_rows(alpha, U)
    probs = as_float_matrix(probs, "probs")
    W_O = as_float_matrix(W_O, "W_O")
    if W_O.shape[0] != U.shape[1]:
        raise ValueError(f"W_O must have {U.shape[1]} rows (d_v of U), got shape {W_O.shape}")
    if probs.shape != (U.shape[0], W_O.shape[1]):
        raise ValueError(f"probs must have shape {(U.shape[0], W_O.shape[1])}, got {probs.shape}")
    n = U.shape[0]
    delta_o = -as_number(eta, "eta") * alpha @ (alpha.T @ U)  # (N, d_v)  sum_j alpha_ij Delta v_j
    delta_z = delta_o @ W_O  # (N, C)
    delta_p = probs * (delta_z - (probs * delta_z).sum(axis=1, keepdims=True))  # (N, C)  Delta z_i J_i
    return delta_p @ W_O.T / n  # (N, d_v)
