"""Softmax, log-sum-exp, cross-entropy, and the softmax's backward pass (chapters 1 and 2).

Dimension names used in shape comments: ``C`` classes, ``N`` positions (rows).
All functions act on the last axis, so a single logit vector ``(C,)`` and a
batch ``(N, C)`` are both accepted.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_float_matrix, as_labels


def logsumexp(z) -> np.ndarray:
    r"""Stable :math:`\log \sum_k e^{z_k}` over the last axis.

    Parameters
    ----------
    z : array_like, shape (..., C)
        Logits.

    Returns
    -------
    numpy.ndarray, shape (...)

    Notes
    -----
    Uses :math:`\mathrm{LSE}(z) = m + \log\sum_k e^{z_k - m}` with
    :math:`m = \max_k z_k` (chapter 1, eq. ``lse-shift``), so no exponential
    overflows.

    Examples
    --------
    >>> float(logsumexp([0.0, 0.0]))  # log 2
    0.6931471805599453
    >>> float(logsumexp([1000.0, 1000.0]))  # no overflow
    1000.6931471805599
    """
    z = as_float_array(z, "z")
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(f"z must have at least one logit on its last axis, got shape {z.shape}")
    m = z.max(axis=-1, keepdims=True)  # (..., 1)
    return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]  # (...)


def softmax(z) -> np.ndarray:
    r"""Stable softmax over the last axis: :math:`p_k = e^{z_k} / \sum_c e^{z_c}`.

    Examples
    --------
    >>> softmax([2.0, 1.0, 0.5]).round(4)
    array([0.6285, 0.2312, 0.1402])
    """
    z = as_float_array(z, "z")
    return np.exp(z - logsumexp(z)[..., None])  # (..., C)


def log_softmax(z) -> np.ndarray:
    r"""Stable :math:`\log p_k = z_k - \mathrm{LSE}(z)` over the last axis.

    Examples
    --------
    >>> log_softmax([0.0, 0.0]).round(4)
    array([-0.6931, -0.6931])
    """
    z = as_float_array(z, "z")
    return z - logsumexp(z)[..., None]  # (..., C)


def softmax_jacobian(p) -> np.ndarray:
    r"""Jacobian of the softmax, :math:`\partial p_j / \partial z_k = p_j(\delta_{jk} - p_k)`.

    The book calls it :math:`J_i` for an attention row :math:`\alpha_i` (chapter 2) and
    :math:`\Sigma` for class probabilities (chapters 1 and 4).

    Parameters
    ----------
    p : array_like, shape (C,)
        A probability vector (the softmax output, not the logits).

    Returns
    -------
    numpy.ndarray, shape (C, C)
        ``diag(p) - p^T p`` with ``p`` a row vector (the outer product): symmetric, and
        every row and column sums to zero.

    Notes
    -----
    Chapter 2, eq. ``softmax-jacobian``.

    Examples
    --------
    >>> softmax_jacobian([0.5, 0.5])
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """
    p = as_float_array(p, "p", ndim=1)
    return np.diag(p) - np.outer(p, p)  # (C, C)


def softmax_backward(alpha, g) -> np.ndarray:
    r"""The gradient with respect to the scores, given the gradient with respect to attention.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
        Attention: each row a probability vector over keys, zero where masked.
    g : array_like, shape (N, N)
        Upstream gradient :math:`g_{ij} = \partial L / \partial \alpha_{ij}`
        (any values; entries at masked keys are ignored).

    Returns
    -------
    numpy.ndarray, shape (N, N)
        :math:`\partial L/\partial s_{ik} = \alpha_{ik}\bigl(g_{ik} - \sum_j \alpha_{ij} g_{ij}\bigr)`:
        zero where ``alpha`` is zero, and every row sums to zero.

    Notes
    -----
    Chapter 2, eq. ``attn-softmax-backward``: row ``i`` is
    :math:`J_i^\top g_i` with the Jacobian :math:`J_i = \mathrm{diag}(\alpha_i) - \alpha_i\alpha_i^\top`
    (eq. ``softmax-jacobian``), computed in :math:`O(N)` per row instead of
    :math:`O(N^2)`. Chapter 3 applies it with :math:`g = b`.

    Examples
    --------
    >>> alpha = np.array([[1.0, 0.0], [0.25, 0.75]])
    >>> softmax_backward(alpha, np.array([[3.0, 9.0], [1.0, -1.0]]))
    array([[ 0.   ,  0.   ],
           [ 0.375, -0.375]])
    """
    alpha = as_float_matrix(alpha, "alpha")
    g = as_float_matrix(g, "g")
    if g.shape != alpha.shape:
        raise ValueError(f"g must have the shape of alpha {alpha.shape}, got {g.shape}")
    expected_g = (alpha * g).sum(axis=1, keepdims=True)  # (N, 1)  E_{alpha_i}[g] = sum_j alpha_ij g_ij
    return alpha * (g - expected_g)  # (N, N)


def cross_entropy(z, y) -> float:
    r"""Cross-entropy :math:`-\log p_y`, averaged over rows when ``z`` is a batch.

    Parameters
    ----------
    z : array_like, shape (C,) or (N, C)
        Logits.
    y : int or array_like of int, shape () or (N,)
        Target class of each row.

    Returns
    -------
    float
        :math:`L = \frac{1}{N}\sum_i \bigl(\mathrm{LSE}(z_i) - z_{i, y_i}\bigr)`,
        the mean over rows (torch's default ``reduction='mean'``).

    Examples
    --------
    >>> round(cross_entropy([2.0, 1.0, 0.5], 1), 4)
    1.4644
    >>> round(cross_entropy([[0.0, 0.0], [0.0, 0.0]], [0, 1]), 4)  # log 2
    0.6931
    """
    z2, labels = _batch(z, y)
    rows = np.arange(z2.shape[0])  # (N,)
    return float(np.mean(logsumexp(z2) - z2[rows, labels]))


def cross_entropy_grad(z, y) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy` with respect to the logits: :math:`(p - e_y)/N`.

    Returns an array of the shape of ``z``.

    Notes
    -----
    Chapter 1, eq. ``ce-grad`` (one row) and eq. ``ce-grad-mean`` (the mean
    over ``N`` rows carries the factor ``1/N``).

    Examples
    --------
    >>> cross_entropy_grad([2.0, 1.0, 0.5], 1).round(3)
    array([ 0.629, -0.769,  0.14 ])
    """
    z2, labels = _batch(z, y)
    n = z2.shape[0]
    grad = softmax(z2)  # (N, C)  p
    grad[np.arange(n), labels] -= 1.0  # (N, C)  p - e_y
    grad /= n  # (N, C)  the mean's 1/N
    return grad.reshape(np.shape(z))


def _batch(z, y) -> tuple[np.ndarray, np.ndarray]:
    """Shape ``z`` as ``(N, C)`` and ``y`` as ``(N,)``, validating both."""
    z = as_float_array(z, "z")
    if z.ndim not in (1, 2):
        raise ValueError(f"z must have shape (C,) or (N, C), got {z.shape}")
    if z.shape[-1] < 1 or (z.ndim == 2 and z.shape[0] < 1):
        raise ValueError(f"z must hold at least one logit and one row, got shape {z.shape}")
    z2 = z.reshape(-1, z.shape[-1])  # (N, C)
    labels = as_labels(y, "y", length=z2.shape[0], n_classes=z2.shape[1])
    return z2, labels
