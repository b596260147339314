r"""LayerNorm on the values, by hand: the map, its Jacobian and its backward (chapter 10)."""

from __future__ import annotations

import numpy as np

from ..._validate import as_float_array, as_number

# --------------------------------------------------------------------------- LayerNorm, by hand


def layer_norm(A, eps: float = 1e-5) -> np.ndarray:
    r"""Row-wise LayerNorm without gain or bias: :math:`(a - \bar a) / \sqrt{\sigma^2 + \epsilon}`.

    :math:`\sigma^2 = \frac1d \sum_k (a_k - \bar a)^2` is the biased variance,
    as in ``torch.nn.functional.layer_norm``.

    Parameters
    ----------
    A : array_like, shape (..., d)
    eps : float >= 0

    Returns
    -------
    numpy.ndarray, shape (..., d)

    Notes
    -----
    Chapter 10, eq. ``beyond-ln``.

    Examples
    --------
    >>> v = layer_norm(np.array([1.0, 2.0, 3.0]), eps=0.0)
    >>> v.round(4), float(v.mean()), round(float((v ** 2).mean()), 12)
    (array([-1.2247,  0.    ,  1.2247]), 0.0, 1.0)
    """
    A = as_float_array(A, "A")
    eps = as_number(eps, "eps", minimum=0)
    centred = A - A.mean(axis=-1, keepdims=True)  # (..., d)
    return centred / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + eps)  # (..., d)


def layer_norm_jacobian(a, eps: float = 1e-5) -> np.ndarray:
    r"""The Jacobian :math:`\partial v / \partial a` of :func:`layer_norm` for one row.

    .. math::

        \frac{\partial v_k}{\partial a_l} = \frac{1}{s}\Bigl(\delta_{kl} - \frac1d
        - \frac{v_k v_l}{d}\Bigr), \qquad s = \sqrt{\sigma^2 + \epsilon} .

    Symmetric; for ``eps = 0`` it is :math:`\frac1s` times the orthogonal
    projection that removes the mean direction and the direction of ``v``.

    Parameters
    ----------
    a : array_like, shape (d,)
    eps : float >= 0

    Returns
    -------
    numpy.ndarray, shape (d, d)

    Notes
    -----
    Chapter 10, eq. ``beyond-ln-jac``.

    Examples
    --------
    >>> J = layer_norm_jacobian(np.array([1.0, 2.0, 4.0]), eps=0.0)
    >>> bool(np.allclose(J, J.T)), bool(np.allclose(J @ np.ones(3), 0))
    (True, True)
    """
    a = as_float_array(a, "a", ndim=1)
    eps = as_number(eps, "eps", minimum=0)
    d = a.shape[0]
    centred = a - a.mean()  # (d,)
    s = np.sqrt((centred**2).mean() + eps)
    v = centred / s  # (d,)
    return (np.eye(d) - 1.0 / d - np.outer(v, v) / d) / s  # (d, d)


def layer_norm_backward(A, dV, eps: float = 1e-5) -> np.ndarray:
    r"""``dL/dA`` from ``dL/dV`` through ``V = layer_norm(A)``, row by row.

    .. math::

        \frac{\partial L}{\partial a} = \frac{1}{s}\Bigl(g - \bar g\,\mathbf 1
        - \frac{g \cdot v}{d}\, v\Bigr), \qquad g = \frac{\partial L}{\partial v},

    the row vector :math:`g` times the symmetric Jacobian
    :func:`layer_norm_jacobian`: remove the mean of :math:`g`, remove its
    component along :math:`v` (exactly, when ``eps = 0``), divide by the
    standard deviation :math:`s`.

    Parameters
    ----------
    A : array_like, shape (N, d)
        Pre-norm rows.
    dV : array_like, shape (N, d)
        Gradient with respect to the normalised rows.
    eps : float >= 0

    Returns
    -------
    numpy.ndarray, shape (N, d)

    Notes
    -----
    Chapter 10, eq. ``beyond-ln-backward``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A, G = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    >>> dA = layer_norm_backward(A, G)
    >>> bool(np.allclose(dA[1], G[1] @ layer_norm_jacobian(A[1])))
    True
    """
    A = as_float_array(A, "A")
    dV = as_float_array(dV, "dV")
    if A.shape != dV.shape:
        raise ValueError(f"dV must have the shape of A {A.shape}, got {dV.shape}")
    eps = as_number(eps, "eps", minimum=0)
    d = A.shape[-1]
    centred = A - A.mean(axis=-1, keepdims=True)  # (N, d)
    s = np.sqrt((centred**2).mean(axis=-1, keepdims=True) + eps)  # (N, 1)
    V = centred / s  # (N, d)
    mean_g = dV.mean(axis=-1, keepdims=True)  # (N, 1)
    along_v = (dV * V).sum(axis=-1, keepdims=True) / d  # (N, 1)
    return (dV - mean_g - along_v * V) / s  # (N, d)


