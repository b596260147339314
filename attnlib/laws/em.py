r"""The head read as EM (chapter 7): the M-step with the routing held fixed, and an
explicit alternating E-step / M-step / routing-step update.

The measurements of the two timescales (settling steps of the curves) are in
:mod:`attnlib.dynamics.timescales`.

With the routing weights :math:`W_Q, W_K` fixed, the attention :math:`\alpha`
is fixed, and the head's output is :math:`O = \alpha X W_V = F W_V` with the
**M-step features** :math:`F = \alpha X`. As a function of :math:`W_V` and
:math:`W_O` the loss is then a multinomial logistic regression of the targets
on the rows of :math:`F`:

.. math::

    L = -\frac{1}{N}\sum_i \log \operatorname{softmax}(f_i W_V W_O)_{y_i},
    \quad
    \frac{\partial L}{\partial W_V} = F^\top \frac{P - Y}{N} W_O^\top,
    \quad
    \frac{\partial L}{\partial W_O} = (F W_V)^\top \frac{P - Y}{N}.

It is convex in :math:`W_V` for fixed :math:`W_O` and in :math:`W_O` for fixed
:math:`W_V`, its curvature in each block is bounded
(:func:`curvature_bounds`), and it has no closed-form minimiser.

Every function is pure (arrays in, arrays out) except :func:`train_alternating`,
which loops and returns an :class:`EMHistory`. Dimension names in shape
comments: ``N`` positions, ``d_x`` input width, ``d_k`` query/key width,
``d_v`` value width, ``C`` classes, ``T`` steps, ``K`` inner steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_bool, as_float_matrix, as_labels, as_number, as_positive_int
from ..head.costs import step_flops
from ..head.model import Params, attention_mask, masked_softmax

# ------------------------------------------------------------------------- validation


def _check_attention(alpha, X) -> tuple[np.ndarray, np.ndarray]:
    alpha = as_float_matrix(alpha, "alpha")
    X = as_float_matrix(X, "X")
    if alpha.shape[0] != alpha.shape[1]:
        raise ValueError(f"alpha must be square (N, N), got shape {alpha.shape}")
    if X.shape[0] != alpha.shape[0]:
        raise ValueError(
            f"X must have {alpha.shape[0]} rows (N of alpha), got shape {X.shape}"
        )
    return alpha, X


def _check_readout(F, y, W_V, W_O):
    F = as_float_matrix(F, "F")
    W_V = as_float_matrix(W_V, "W_V")
    W_O = as_float_matrix(W_O, "W_O")
    if W_V.shape[0] != F.shape[1]:
        raise ValueError(
            f"W_V must have {F.shape[1]} rows (d_x, the width of F), "
            f"got shape {W_V.shape}"
        )
    if W_O.shape[0] != W_V.shape[1]:
        raise ValueError(
            f"W_O must have {W_V.shape[1]} rows (d_v, from W_V), got shape {W_O.shape}"
        )
    y = as_labels(y, "y", length=F.shape[0], n_classes=W_O.shape[1])
    return F, y, W_V, W_O


# ----------------------------------------------------------------------- lean kernels
def _log_probs(logits: np.ndarray) -> np.ndarray:
    """Row log-softmax without input checks (the loops below call it often)."""
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C)  eq. lse-shift
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, C)


def _loss_and_error(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and ``dL/dZ = (P - Y) / N`` (eq. ``ce-grad-mean``)."""
    n = logits.shape[0]
    log_p = _log_probs(logits)  # (N, C)
    rows = np.arange(n)  # (N,)
    dz = np.exp(log_p)  # (N, C)  P
    dz[rows, y] -= 1.0  # (N, C)  P - Y
    return float(-log_p[rows, y].mean()), dz / n


def _spectral_norm(W: np.ndarray) -> float:
    """Largest singular value, from the eigenvalues of the smaller Gram matrix."""
    gram = W.T @ W if W.shape[0] >= W.shape[1] else W @ W.T  # (m, m), m = min(shape)
    return float(np.sqrt(max(np.linalg.eigvalsh(gram)[-1], 0.0)))


# ------------------------------------------------------------------------- the M-step
def m_step_features(alpha, X) -> np.ndarray:
    r"""The features of the M-step: :math:`F = \alpha X`, so that :math:`O = F W_V`.

    Row ``i`` is the attention-weighted mean of the inputs that query ``i``
    looks at, :math:`f_i = \sum_j \alpha_{ij} x_j`. With :math:`\alpha` fixed
    the head is a linear model of :math:`F`: :math:`Z = F W_V W_O`.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
        Attention weights, queries down and keys across.
    X : array_like, shape (N, d_x)

    Returns
    -------
    numpy.ndarray, shape (N, d_x)

    Notes
    -----
    Chapter 7, eq. ``em-features``. One product of an ``N x N`` matrix.

    Examples
    --------
    >>> alpha = np.array([[1.0, 0.0], [0.25, 0.75]])
    >>> X = np.array([[4.0, 0.0], [0.0, 4.0]])
    >>> m_step_features(alpha, X)
    array([[4., 0.],
           [1., 3.]])
    """
    alpha, X = _check_attention(alpha, X)
    return alpha @ X  # (N, d_x)  f_i = sum_j alpha_ij x_j


def m_step_loss(F, y, W_V, W_O) -> float:
    r"""The loss with the attention fixed: the mean cross-entropy of ``F W_V W_O``.

    :math:`L = -\frac1N\sum_i \log p_{i, y_i}` with
    :math:`p_i = \operatorname{softmax}(f_i W_V W_O)`.

    Parameters
    ----------
    F : array_like, shape (N, d_x)
        M-step features :math:`\alpha X` (:func:`m_step_features`).
    y : array_like of int, shape (N,)
    W_V : array_like, shape (d_x, d_v)
    W_O : array_like, shape (d_v, C)

    Returns
    -------
    float
        The head's loss whenever ``F`` was made from the head's own attention
        (chapter 7, eq. ``em-mstep-loss``).

    Examples
    --------
    >>> F = np.zeros((3, 2))  # every logit 0: the loss is log 3
    >>> round(m_step_loss(F, [0, 1, 2], np.ones((2, 2)), np.ones((2, 3))), 6)
    1.098612
    """
    F, y, W_V, W_O = _check_readout(F, y, W_V, W_O)
    return _loss_and_error(F @ W_V @ W_O, y)[0]


def m_step_grads(F, y, W_V, W_O) -> tuple[np.ndarray, np.ndarray]:
    r"""Gradients of :func:`m_step_loss` with respect to ``W_V`` and ``W_O``.

    .. math::

        \frac{\partial L}{\partial W_V} = F^\top\, \frac{P - Y}{N}\, W_O^\top ,
        \qquad
        \frac{\partial L}{\partial W_O} = (F W_V)^\top\, \frac{P - Y}{N} .

    Parameters
    ----------
    F : array_like, shape (N, d_x)
    y : array_like of int, shape (N,)
    W_V : array_like, shape (d_x, d_v)
    W_O : array_like, shape (d_v, C)

    Returns
    -------
    dW_V : numpy.ndarray, shape (d_x, d_v)
    dW_O : numpy.ndarray, shape (d_v, C)

    Notes
    -----
    Chapter 7, eqs. ``em-mstep-grad-wv`` and ``em-mstep-grad-wo``. With
    :math:`F^\top = X^\top \alpha^\top` the first is the head's
    :math:`X^\top \alpha^\top U` (chapter 4, eq. ``value-wv``).

    Examples
    --------
    >>> F = np.array([[1.0, 0.0], [0.0, 1.0]]); y = np.array([0, 1])
    >>> dW_V, dW_O = m_step_grads(F, y, np.eye(2), np.zeros((2, 2)))  # p = (1/2, 1/2)
    >>> dW_V
    array([[0., 0.],
           [0., 0.]])
    >>> dW_O
    array([[-0.25,  0.25],
           [ 0.25, -0.25]])
    """
    F, y, W_V, W_O = _check_readout(F, y, W_V, W_O)
    O = F @ W_V  # (N, d_v)  O = alpha V
    dz = _loss_and_error(O @ W_O, y)[1]  # (N, C)  (P - Y) / N
    return F.T @ dz @ W_O.T, O.T @ dz  # (d_x, d_v), (d_v, C)


def curvature_bounds(F, W_V, W_O) -> tuple[float, float]:
    r"""Upper bounds on the curvature of the M-step loss in each block.

    .. math::

        \lambda_V = \frac{\lVert F\rVert_2^2\,\lVert W_O\rVert_2^2}{2N},
        \qquad
        \lambda_O = \frac{\lVert F\rVert_2^2\,\lVert W_V\rVert_2^2}{2N},

    with :math:`\lVert\cdot\rVert_2` the largest singular value. The second
    derivative of :math:`L(W_V)` (``W_O`` fixed) along a direction :math:`D` is
    at most :math:`\lambda_V \lVert D\rVert_F^2`, and likewise for
    :math:`L(W_O)`; the ``1/2`` is the largest eigenvalue a softmax Hessian
    :math:`\operatorname{diag}(p) - p p^\top` can have.

    Parameters
    ----------
    F : array_like, shape (N, d_x)
    W_V : array_like, shape (d_x, d_v)
    W_O : array_like, shape (d_v, C)

    Returns
    -------
    (float, float)
        ``(lambda_V, lambda_O)``. A gradient step of size ``1 / lambda`` on
        that block cannot increase the loss (chapter 7, eq. ``em-step-size``).

    Examples
    --------
    >>> curvature_bounds(np.eye(2), np.eye(2), 2 * np.eye(2))
    (1.0, 0.25)
    """
    F = as_float_matrix(F, "F")
    W_V = as_float_matrix(W_V, "W_V")
    W_O = as_float_matrix(W_O, "W_O")
    n = F.shape[0]
    spec_F, spec_V, spec_O = (_spectral_norm(W) for W in (F, W_V, W_O))
    return spec_F**2 * spec_O**2 / (2 * n), spec_F**2 * spec_V**2 / (2 * n)


def m_step_hessian(F, y, W_V, W_O) -> np.ndarray:
    r"""Hessian of the M-step loss in ``W_V`` (``W_O`` and the attention fixed).

    .. math::

        \frac{\partial^2 L}{\partial (W_V)_{ab}\, \partial (W_V)_{a'b'}}
        = \frac{1}{N} \sum_i f_{ia} f_{ia'} \bigl[W_O \Sigma_i W_O^\top\bigr]_{bb'},
        \qquad \Sigma_i = \operatorname{diag}(p_i) - p_i^\top p_i .

    Parameters
    ----------
    F : array_like, shape (N, d_x)
    y : array_like of int, shape (N,)
        Targets (the Hessian does not depend on them; they are validated only).
    W_V : array_like, shape (d_x, d_v)
    W_O : array_like, shape (d_v, C)

    Returns
    -------
    numpy.ndarray, shape (d_x, d_v, d_x, d_v)
        Positive semi-definite when reshaped to ``(d_x d_v, d_x d_v)``.

    Notes
    -----
    Chapter 7, eq. ``em-hessian``; ``Sigma_i`` is the class-softmax Jacobian of chapter 4.

    Examples
    --------
    >>> W_O = np.array([[1.0, -1.0]])
    >>> H = m_step_hessian(np.ones((2, 1)), [0, 1], np.zeros((1, 1)), W_O)
    >>> H.reshape(1, 1)  # p = (1/2, 1/2), Sigma = [[1, -1], [-1, 1]] / 4, W_O Sigma W_O^T = 1
    array([[1.]])
    """
    F, y, W_V, W_O = _check_readout(F, y, W_V, W_O)
    P = np.exp(_log_probs(F @ W_V @ W_O))  # (N, C)
    J = np.einsum("ic,cd->icd", P, np.eye(P.shape[1])) - P[:, :, None] * P[:, None, :]
    M = np.einsum("bc,icd,ed->ibe", W_O, J, W_O)  # (N, d_v, d_v)  W_O Sigma_i W_O^T
    return np.einsum("ia,ibe,if->abfe", F, M, F) / F.shape[0]  # (d_x, d_v, d_x, d_v)


def m_step(F, y, W_V, W_O, *, inner_steps: int, value_lr=None, readout_lr=None):
    r"""Approximate M-step: block gradient steps on ``W_V``, then ``W_O``, alpha fixed.

    Each inner step takes one gradient step on ``W_V`` (``W_O`` fixed), then
    one on ``W_O`` (the new ``W_V`` fixed). A learning rate of ``None`` means
    one over the curvature bound of :func:`curvature_bounds`, recomputed
    before each block step, which guarantees that no step increases the loss.

    Parameters
    ----------
    F : array_like, shape (N, d_x)
        M-step features ``alpha X``.
    y : array_like of int, shape (N,)
    W_V : array_like, shape (d_x, d_v)
    W_O : array_like, shape (d_v, C)
    inner_steps : int >= 0
    value_lr, readout_lr : float >= 0 or None
        Fixed learning rates, or ``None`` for ``1 / lambda_V`` and ``1 / lambda_O``.

    Returns
    -------
    W_V : numpy.ndarray, shape (d_x, d_v)
    W_O : numpy.ndarray, shape (d_v, C)
    losses : numpy.ndarray, shape (inner_steps + 1,)
        The loss before each inner step and after the last.

    Notes
    -----
    Chapter 7, eqs. ``em-mstep-grad-wv``, ``em-mstep-grad-wo`` and
    ``em-step-size``. No inner step touches an ``N x N`` array.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> F = rng.normal(size=(20, 3)); y = rng.integers(0, 4, 20)
    >>> W_V, W_O = 0.1 * rng.normal(size=(3, 5)), 0.1 * rng.normal(size=(5, 4))
    >>> W_V, W_O, losses = m_step(F, y, W_V, W_O, inner_steps=10)
    >>> losses.shape, bool(np.all(np.diff(losses) <= 0))
    ((11,), True)
    """
    F, y, W_V, W_O = _check_readout(F, y, W_V, W_O)
    inner_steps = as_positive_int(inner_steps, "inner_steps", minimum=0)
    value_lr = None if value_lr is None else as_number(value_lr, "value_lr", minimum=0)
    readout_lr = None if readout_lr is None else as_number(readout_lr, "readout_lr", minimum=0)
    return _m_step(F, y, W_V, W_O, inner_steps, value_lr, readout_lr)


def _m_step(F, y, W_V, W_O, inner_steps, value_lr, readout_lr):
    n = F.shape[0]
    spec_F2 = _spectral_norm(F) ** 2  # F is fixed for the whole M-step
    losses = np.empty(inner_steps + 1)  # (K + 1,)
    for k in range(inner_steps):
        losses[k], dz = _loss_and_error(F @ W_V @ W_O, y)  # dz: (N, C)
        rate = value_lr
        if rate is None:
            rate = 2 * n / (spec_F2 * _spectral_norm(W_O) ** 2)  # 1 / lambda_V
        W_V = W_V - rate * (F.T @ (dz @ W_O.T))  # (d_x, d_v)  eq. em-mstep-grad-wv
        O = F @ W_V  # (N, d_v)
        dz = _loss_and_error(O @ W_O, y)[1]  # (N, C)
        rate = readout_lr
        if rate is None:
            rate = 2 * n / (spec_F2 * _spectral_norm(W_V) ** 2)  # 1 / lambda_O
        W_O = W_O - rate * (O.T @ dz)  # (d_v, C)  eq. em-mstep-grad-wo
    losses[inner_steps] = _loss_and_error(F @ W_V @ W_O, y)[0]
    return W_V, W_O, losses


# ------------------------------------------------------------------- the routing step
def routing_grads(alpha, X, y, params: Params) -> tuple[np.ndarray, np.ndarray]:
    r"""``dL/dW_Q`` and ``dL/dW_K`` at ``params``, given the attention it produces.

    Reuses :math:`O = F W_V` (no need for :math:`\alpha V`), so it costs
    three products of an ``N x N`` matrix: :math:`B = U V^\top`, :math:`G K`
    and :math:`G^\top Q`, with :math:`G = \partial L/\partial S =
    \alpha \odot (B - \mathbb{E}_{\alpha_i}[b])`, the routing law of chapter 3.

    Parameters
    ----------
    alpha : array_like, shape (N, N)
        The attention of ``params`` on ``X`` (zero where masked).
    X : array_like, shape (N, d_x)
    y : array_like of int, shape (N,)
    params : Params

    Returns
    -------
    dW_Q, dW_K : numpy.ndarray, each shape (d_x, d_k)

    Notes
    -----
    Chapter 7, eq. ``em-routing-step``; equal to ``attnlib.backward(...).W_Q``
    and ``.W_K`` (chapter 5).

    Examples
    --------
    >>> import attnlib
    >>> params = attnlib.init_params(3, 2, 2, 4, scale=0.8, rng=0)
    >>> X = np.random.default_rng(1).normal(size=(5, 3)); y = np.array([0, 1, 2, 3, 0])
    >>> cache = attnlib.forward(params, X)
    >>> dW_Q, dW_K = routing_grads(cache.attn, X, y, params)
    >>> g = attnlib.backward(params, cache, y)
    >>> bool(np.allclose(dW_Q, g.W_Q) and np.allclose(dW_K, g.W_K))
    True
    """
    if not isinstance(params, Params):
        raise TypeError(
            f"params must be an attnlib.Params, got {type(params).__name__}"
        )
    alpha, X = _check_attention(alpha, X)
    if X.shape[1] != params.dims["d_x"]:
        raise ValueError(
            f"X must have {params.dims['d_x']} columns (d_x of W_Q), "
            f"got shape {X.shape}"
        )
    y = as_labels(y, "y", length=X.shape[0], n_classes=params.dims["n_classes"])
    return _routing_grads(alpha, X, alpha @ X, y, params)


def _routing_grads(alpha, X, F, y, params: Params):
    d_k = params.dims["d_k"]
    Q = X @ params.W_Q  # (N, d_k)
    K = X @ params.W_K  # (N, d_k)
    V = X @ params.W_V  # (N, d_v)
    O = F @ params.W_V  # (N, d_v)  = alpha V without an N x N product
    U = _loss_and_error(O @ params.W_O, y)[1] @ params.W_O.T  # (N, d_v)  u_i
    B = U @ V.T  # (N, N)  b_ij = u_i . v_j                 [N x N product 1]
    expected_b = (U * O).sum(axis=1, keepdims=True)  # (N, 1)  E_alpha_i[b] = u_i . o_i
    G = alpha * (B - expected_b)  # (N, N)  routing law; zero where alpha is
    dQ = G @ K / np.sqrt(d_k)  # (N, d_k)                     [N x N product 2]
    dK = G.T @ Q / np.sqrt(d_k)  # (N, d_k)                   [N x N product 3]
    return X.T @ dQ, X.T @ dK  # (d_x, d_k), (d_x, d_k)


# ----------------------------------------------------------------- alternating update
@dataclass(frozen=True)
class AlternatingEM:
    """Configuration of the alternating E-step / M-step / routing-step update.

    Attributes
    ----------
    inner_steps : int, default 5
        Block gradient steps of the M-step per outer iteration (``>= 0``).
    routing_lr : float, default 0.01
        Learning rate of the one gradient step on ``W_Q`` and ``W_K`` per
        outer iteration (the authors' base rate).
    value_lr, readout_lr : float or None, default None
        Learning rates of the M-step's steps on ``W_V`` and ``W_O``; ``None``
        means one over the curvature bound (:func:`curvature_bounds`).

    Examples
    --------
    >>> AlternatingEM()
    AlternatingEM(inner_steps=5, routing_lr=0.01, value_lr=None, readout_lr=None)
    >>> AlternatingEM(inner_steps=-1)
    Traceback (most recent call last):
    ...
    ValueError: inner_steps must be >= 0, got -1
    """

    inner_steps: int = 5
    routing_lr: float = 0.01
    value_lr: float | None = None
    readout_lr: float | None = None

    def __post_init__(self):
        steps = as_positive_int(self.inner_steps, "inner_steps", minimum=0)
        object.__setattr__(self, "inner_steps", steps)
        object.__setattr__(self, "routing_lr", as_number(self.routing_lr, "routing_lr", minimum=0))
        for name in ("value_lr", "readout_lr"):
            rate = getattr(self, name)
            rate = None if rate is None else as_number(rate, name, minimum=0)
            object.__setattr__(self, name, rate)


@dataclass(frozen=True)
class EMHistory:
    """What one run of :func:`train_alternating` produced.

    Attributes
    ----------
    losses : numpy.ndarray, shape (T,)
        ``losses[t]``: the loss after ``t`` outer iterations, measured at the
        start of iteration ``t + 1`` (the convention of
        :class:`attnlib.head.training.History`).
    m_step_losses : numpy.ndarray, shape (T, K + 1)
        The loss along each M-step (attention fixed); column 0 is ``losses``.
    attn_entropy : numpy.ndarray, shape (T,)
        Mean over queries of the attention entropy (nats) at each E-step.
    final_loss : float
        Loss after the last outer iteration.
    params : Params
        Weights after the last outer iteration.
    config : AlternatingEM
    """

    losses: np.ndarray
    m_step_losses: np.ndarray
    attn_entropy: np.ndarray
    final_loss: float
    params: Params
    config: AlternatingEM

    @property
    def steps(self) -> int:
        """Number of outer iterations."""
        return int(self.losses.shape[0])


def _entropy_rows(alpha: np.ndarray) -> float:
    log_alpha = np.log(alpha, out=np.zeros_like(alpha), where=alpha > 0)  # (N, N)
    return float(-(alpha * log_alpha).sum(axis=1).mean())  # 0 log 0 := 0


def _e_step(params: Params, X: np.ndarray, mask: np.ndarray):
    """Responsibilities ``alpha`` of the current routing, and the features ``F``."""
    Q = X @ params.W_Q  # (N, d_k)
    K = X @ params.W_K  # (N, d_k)
    S = Q @ K.T / np.sqrt(params.dims["d_k"])  # (N, N)         [N x N product 1]
    alpha = masked_softmax(S, mask)  # (N, N)
    return alpha, alpha @ X  # (N, N), (N, d_x)                  [N x N product 2]


def train_alternating(
    params: Params, X, y, config: AlternatingEM, *, steps: int, causal: bool = True
) -> EMHistory:
    r"""Alternate an E-step, an M-step and a routing step, ``steps`` times.

    One outer iteration:

    1. **E-step.** With ``W_Q, W_K`` fixed, compute the responsibilities
       :math:`\alpha` and the features :math:`F = \alpha X`.
    2. **M-step.** With :math:`\alpha` fixed, ``config.inner_steps`` block
       gradient steps on ``W_V`` and ``W_O`` (:func:`m_step`): a multinomial
       logistic regression on ``F`` that never touches an ``N x N`` array.
    3. **Routing step.** One gradient step on ``W_Q`` and ``W_K`` at the new
       ``W_V, W_O`` with rate ``config.routing_lr`` (:func:`routing_grads`);
       the attention is still the E-step's, since ``W_Q, W_K`` have not moved.

    Parameters
    ----------
    params : Params
        Initial weights (not modified).
    X : array_like, shape (N, d_x)
    y : array_like of int, shape (N,)
    config : AlternatingEM
    steps : int >= 0
        Number of outer iterations.
    causal : bool, default True

    Returns
    -------
    EMHistory

    Notes
    -----
    Chapter 7, section "An explicit alternating update". Five products of an
    ``N x N`` matrix per outer iteration (:func:`alternating_cost`), against
    six for a plain gradient step (:func:`gradient_step_cost`).

    Examples
    --------
    >>> import attnlib
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(12, 4)); y = rng.integers(0, 3, 12)
    >>> start = attnlib.init_params(4, 3, 2, 3, scale=0.5, rng=1)
    >>> h = train_alternating(start, X, y, AlternatingEM(3, routing_lr=0.5), steps=20)
    >>> h.losses.shape, h.m_step_losses.shape
    ((20,), (20, 4))
    >>> bool(h.final_loss < h.losses[0])
    True
    """
    if not isinstance(params, Params):
        raise TypeError(
            f"params must be an attnlib.Params, got {type(params).__name__}"
        )
    if not isinstance(config, AlternatingEM):
        raise TypeError(
            f"config must be an attnlib.laws.em.AlternatingEM, got {type(config).__name__}"
        )
    X = as_float_matrix(X, "X")
    if X.shape[0] < 1 or X.shape[1] != params.dims["d_x"]:
        raise ValueError(
            f"X must have shape (N >= 1, {params.dims['d_x']}), got {X.shape}"
        )
    y = as_labels(y, "y", length=X.shape[0], n_classes=params.dims["n_classes"])
    steps = as_positive_int(steps, "steps", minimum=0)
    causal = as_bool(causal, "causal")
    n = X.shape[0]
    mask = attention_mask(n, causal=causal)  # (N, N)

    losses = np.empty(steps)  # (T,)
    m_losses = np.empty((steps, config.inner_steps + 1))  # (T, K + 1)
    entropy = np.empty(steps)  # (T,)
    W_Q, W_K, W_V, W_O = params.W_Q, params.W_K, params.W_V, params.W_O
    for t in range(steps):
        alpha, F = _e_step(Params(W_Q, W_K, W_V, W_O), X, mask)  # E-step
        entropy[t] = _entropy_rows(alpha)
        W_V, W_O, m_losses[t] = _m_step(
            F, y, W_V, W_O, config.inner_steps, config.value_lr, config.readout_lr
        )  # M-step, alpha fixed
        losses[t] = m_losses[t, 0]
        dW_Q, dW_K = _routing_grads(alpha, X, F, y, Params(W_Q, W_K, W_V, W_O))
        W_Q = W_Q - config.routing_lr * dW_Q  # (d_x, d_k)  routing step
        W_K = W_K - config.routing_lr * dW_K  # (d_x, d_k)
    final = Params(W_Q, W_K, W_V, W_O)
    _, F = _e_step(final, X, mask)
    return EMHistory(
        losses=losses,
        m_step_losses=m_losses,
        attn_entropy=entropy,
        final_loss=_loss_and_error(F @ W_V @ W_O, y)[0],
        params=final,
        config=config,
    )


# -------------------------------------------------------------------- cost accounting
def gradient_step_cost(N: int, d_x: int, d_k: int, d_v: int, n_classes: int) -> dict:
    r"""Cost of one plain gradient step: products of ``N x N`` matrices, and flops.

    The flops are those of :func:`attnlib.head.costs.step_flops` (chapter 5).

    Returns
    -------
    dict
        ``"nn_products"`` (6) and ``"flops"``.

    Examples
    --------
    >>> gradient_step_cost(149, 20, 10, 15, 8)["nn_products"]
    6
    """
    lines = step_flops(N, d_x, d_k, d_v, n_classes)
    return {
        "nn_products": sum(1 for line in lines if line.quadratic and line.matmul),
        "flops": sum(line.flops for line in lines),
    }


def alternating_cost(
    N: int, d_x: int, d_k: int, d_v: int, n_classes: int, inner_steps: int
) -> dict:
    r"""Cost of one outer iteration of :func:`train_alternating`, counted as in chapter 5.

    A product ``(m, n) @ (n, p)`` costs ``2 m n p`` flops, a softmax over
    ``m`` entries ``5 m``, other elementwise work one flop per entry and
    operation. The small eigenvalue problems of the curvature bound
    (matrices of size at most ``d_x``) are not counted.

    Returns
    -------
    dict
        ``"nn_products"`` (5), ``"flops"`` of the whole iteration, and
        ``"inner_flops"``, the flops of one inner M-step iteration.

    Examples
    --------
    >>> c = alternating_cost(149, 20, 10, 15, 8, inner_steps=5)
    >>> step = gradient_step_cost(149, 20, 10, 15, 8)
    >>> c["nn_products"], c["inner_flops"] < step["flops"]
    (5, True)
    """
    sizes = {"N": N, "d_x": d_x, "d_k": d_k, "d_v": d_v, "n_classes": n_classes}
    N, d_x, d_k, d_v, C = (as_positive_int(v, name) for name, v in sizes.items())
    K = as_positive_int(inner_steps, "inner_steps", minimum=0)
    NN = N * N
    e_step = (
        2 * 2 * N * d_x * d_k  # Q, K
        + 2 * NN * d_k + NN  # S = Q K^T / sqrt(d_k)            [N x N product]
        + 5 * NN  # masked softmax
        + 2 * NN * d_x  # F = alpha X                             [N x N product]
    )
    readout = 2 * N * d_x * d_v + 2 * N * d_v * C + 5 * N * C + 2 * N * C  # O, Z, P, dZ
    inner = (
        readout + 2 * N * C * d_v + 2 * d_x * N * d_v  # W_V step: dZ W_O^T, F^T (.)
        + readout + 2 * d_v * N * C  # W_O step: O, Z, P, dZ again, O^T dZ
    )
    routing = (
        2 * 2 * N * d_x * d_k + 2 * N * d_x * d_v  # Q, K, V
        + readout + 2 * N * C * d_v  # U
        + 2 * NN * d_v  # B = U V^T                                [N x N product]
        + 2 * N * d_v + 2 * NN  # E[b] = u_i . o_i, G = alpha * (B - E[b])
        + 2 * 2 * NN * d_k + 2 * N * d_k  # G K, G^T Q, / sqrt(d_k)  [2 N x N products]
        + 2 * 2 * d_x * N * d_k  # X^T dQ, X^T dK
    )
    flops = e_step + K * inner + routing
    return {"nn_products": 5, "flops": flops, "inner_flops": inner}
