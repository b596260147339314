r"""The advantage-based routing law and its one-step tests (chapter 3).

For one query row, with attention :math:`\alpha_i`, upstream gradient
:math:`u_i = \partial L/\partial o_i` and values :math:`v_j`,

.. math::

    b_{ij} = u_i \cdot v_j,\qquad
    \mathbb{E}_{\alpha_i}[b] = \sum_j \alpha_{ij} b_{ij} = u_i \cdot o_i,\qquad
    A_{ij} = \mathbb{E}_{\alpha_i}[b] - b_{ij},\qquad
    \frac{\partial L}{\partial s_{ij}} = \alpha_{ij}\,(b_{ij} - \mathbb{E}_{\alpha_i}[b]) = -\alpha_{ij} A_{ij}.

The functions here take plain arrays (``alpha``, ``U``, ``V``) so the law can be
studied apart from any particular head, plus two sweeps that take one descent
step of size ``eta`` and compare the change of attention and loss with their
first-order predictions. Dimension names: ``N`` queries, ``M`` keys (``M = N``
in the head), ``d_v`` value width, ``K`` step sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from .._validate import as_bool, as_float_array, as_float_matrix, as_labels, as_number
from ..head.gradients import backward
from ..head.model import Cache, Params, forward, masked_softmax
from ..reference import loss_as_function_of
from ..head.softmax import cross_entropy, softmax, softmax_backward

# --------------------------------------------------------------------------- the law on plain arrays


def _routing_inputs(alpha, U, V) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    alpha = as_float_matrix(alpha, "alpha")
    U = as_float_matrix(U, "U")
    V = as_float_matrix(V, "V")
    n, m = alpha.shape
    if U.shape[0] != n:
        raise ValueError(f"U must have one row per query ({n}, from alpha {alpha.shape}), got shape {U.shape}")
    if V.shape[0] != m:
        raise ValueError(f"V must have one row per key ({m}, from alpha {alpha.shape}), got shape {V.shape}")
    if V.shape[1] != U.shape[1]:
        raise ValueError(f"U and V must have the same width d_v, got shapes {U.shape} and {V.shape}")
    if alpha.min(initial=0.0) < 0 or not np.allclose(alpha.sum(axis=1), 1.0, rtol=0, atol=1e-8):
        raise ValueError("alpha must hold one probability vector per row (non-negative, each row summing to 1)")
    return alpha, U, V


def score_gradient(alpha, U, V) -> np.ndarray:
    r"""The routing law: :math:`\partial L/\partial s_{ij} = \alpha_{ij}(b_{ij} - \mathbb{E}_{\alpha_i}[b])`.

    Parameters
    ----------
    alpha : array_like, shape (N, M)
        Attention weights, one probability vector per row (zero where masked).
    U : array_like, shape (N, d_v)
        Upstream gradients ``u_i = dL/do_i`` (the mean loss's ``1/N`` included).
    V : array_like, shape (M, d_v)
        Values ``v_j``.

    Returns
    -------
    numpy.ndarray, shape (N, M)
        Zero wherever ``alpha`` is zero; every row sums to zero.

    Notes
    -----
    Chapter 3, eq. ``route-law``. Equal to ``attnlib.backward(...).scores`` when
    ``alpha, U, V`` come from the head.

    Examples
    --------
    >>> alpha = np.array([[1.0, 0.0], [0.25, 0.75]])
    >>> U = np.array([[1.0], [2.0]]); V = np.array([[1.0], [-1.0]])
    >>> score_gradient(alpha, U, V)  # b = [[1, -1], [2, -2]], E[b] = [1, -1]
    array([[ 0.  ,  0.  ],
           [ 0.75, -0.75]])
    """
    alpha, U, V = _routing_inputs(alpha, U, V)
    b = U @ V.T  # (N, M)  b_ij = u_i . v_j = dL/dalpha_ij
    return softmax_backward(alpha, b) + 0.0  # (N, M)  chapter 2's softmax backward with g = b; -0.0 -> 0.0


def advantage(alpha, U, V, mask=None) -> np.ndarray:
    r"""The advantage :math:`A_{ij} = \mathbb{E}_{\alpha_i}[b] - b_{ij} = u_i \cdot (o_i - v_j)`.

    Parameters
    ----------
    alpha, U, V
        As for :func:`score_gradient`.
    mask : array_like of bool, shape (N, M), optional
        Where query ``i`` may attend to key ``j``; ``A`` is set to zero elsewhere.
        By default every pair is allowed.

    Returns
    -------
    numpy.ndarray, shape (N, M)
        Its ``alpha``-weighted row means are zero: ``sum_j alpha_ij A_ij = 0``.

    Examples
    --------
    >>> alpha = np.array([[1.0, 0.0], [0.25, 0.75]])
    >>> U = np.array([[1.0], [2.0]]); V = np.array([[1.0], [-1.0]])
    >>> advantage(alpha, U, V, mask=np.tril(np.ones((2, 2), dtype=bool)))
    array([[ 0.,  0.],
           [-3.,  1.]])
    """
    alpha, U, V = _routing_inputs(alpha, U, V)
    b = U @ V.T  # (N, M)
    expected_b = (alpha * b).sum(axis=1, keepdims=True)  # (N, 1)
    A = expected_b - b  # (N, M)
    if mask is None:
        return A
    mask = np.asarray(mask)
    if mask.shape != alpha.shape or mask.dtype != bool:
        raise ValueError(f"mask must be a boolean array of shape {alpha.shape}, got {mask.dtype} {mask.shape}")
    return np.where(mask, A, 0.0)  # (N, M)


def first_order_attention_change(alpha, delta_s) -> np.ndarray:
    r"""Predicted change of attention for a small change of scores, row by row: :math:`\Delta s_i\,J_i`.

    With the softmax Jacobian :math:`J_i = \operatorname{diag}(\alpha_i) - \alpha_i^\top\alpha_i`
    (rows are row vectors, as everywhere in the book),

    .. math:: \Delta\alpha_{ij} \approx \alpha_{ij}\Bigl(\Delta s_{ij} - \sum_k \alpha_{ik}\,\Delta s_{ik}\Bigr):

    a key gains attention exactly when its score rises by more than the
    ``alpha``-weighted average rise of its row.

    Parameters
    ----------
    alpha : array_like, shape (N, M)
        Attention before the change (zero where masked).
    delta_s : array_like, shape (N, M)
        Change of the scores; entries where ``alpha`` is zero have no effect.

    Returns
    -------
    numpy.ndarray, shape (N, M)
        Every row sums to zero (attention is a fixed budget).

    Notes
    -----
    Chapter 3, eq. ``route-dalpha``; the same as ``attnlib.softmax_jacobian(alpha[i]) @ delta_s[i]``
    for every row ``i``.

    Examples
    --------
    >>> from attnlib import softmax_jacobian
    >>> alpha = np.array([[0.5, 0.3, 0.2]]); ds = np.array([[0.01, -0.02, 0.0]])
    >>> first_order_attention_change(alpha, ds)
    array([[ 0.0055, -0.0057,  0.0002]])
    >>> bool(np.allclose(softmax_jacobian(alpha[0]) @ ds[0], first_order_attention_change(alpha, ds)[0]))
    True
    """
    alpha = as_float_matrix(alpha, "alpha")
    delta_s = as_float_matrix(delta_s, "delta_s")
    if delta_s.shape != alpha.shape:
        raise ValueError(f"delta_s must have the shape of alpha {alpha.shape}, got {delta_s.shape}")
    mean_rise = (alpha * delta_s).sum(axis=1, keepdims=True)  # (N, 1)  sum_k alpha_ik ds_ik
    return alpha * (delta_s - mean_rise) + 0.0  # (N, M)  (+ 0.0 turns -0.0 into 0.0 where alpha is 0)


def loss_slope_toward_values(params: Params, cache: Cache, y, *, eps: float = 1e-6) -> np.ndarray:
    r"""Rate of change of the loss when :math:`o_i` moves toward :math:`v_j`, by central differences.

    .. math:: D_{ij} = \frac{d}{d\varepsilon} L\bigl(o_i + \varepsilon (v_j - o_i)\bigr)\Big|_{\varepsilon = 0}
              = u_i \cdot (v_j - o_i) = -A_{ij},

    with every other row of :math:`O` held fixed. Computed from the forward
    pass alone (no gradient formula), so it is an independent measurement of
    the advantage.

    Parameters
    ----------
    params, cache, y
        The weights, their forward pass, and the targets.
    eps : float
        Finite-difference step along ``v_j - o_i``.

    Returns
    -------
    numpy.ndarray, shape (N, N)
        Zero where ``cache.mask`` is False.

    Examples
    --------
    >>> from attnlib import init_params, forward, backward
    >>> params = init_params(3, 2, 2, 4, scale=0.7, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((4, 3)); y = np.array([0, 1, 2, 3])
    >>> cache = forward(params, X)
    >>> D = loss_slope_toward_values(params, cache, y)
    >>> bool(np.allclose(D, -backward(params, cache, y).advantage, atol=1e-9))
    True
    """
    f, _ = loss_as_function_of(params, cache.x, y, "out", causal=cache.causal)
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    n = cache.out.shape[0]
    slopes = np.zeros((n, n))  # (N, N)
    for i, j in zip(*np.nonzero(cache.mask)):
        step = np.zeros_like(cache.out)  # (N, d_v)
        step[i] = eps * (cache.values[j] - cache.out[i])  # (d_v,)  only row i moves
        slopes[i, j] = (f(cache.out + step) - f(cache.out - step)) / (2 * eps)
    return slopes


# --------------------------------------------------------------------------- one descent step
@dataclass(frozen=True)
class StepSweep:
    """One descent step of several sizes, and its first-order predictions.

    Attributes
    ----------
    mode : str
        ``"scores"`` (the scores themselves take the step ``-eta dL/ds``) or
        ``"params"`` (an SGD step on ``W_Q, W_K, W_V, W_O``).
    eta : (K,)
        Step sizes.
    attn : (N, N)
        Attention before the step.
    score_change, score_change_first_order : (K, N, N)
        Actual change of the scores and its first-order prediction (the same
        array in mode ``"scores"``, where the step is exactly linear).
    attn_change, attn_change_first_order : (K, N, N)
        Actual change of attention and the prediction ``Delta s_i J_i``.
    loss_change, loss_change_first_order : (K,)
        Actual change of the mean loss and ``-eta ||g||^2``, with ``g`` the
        gradient with respect to whatever took the step.
    """

    mode: str
    eta: np.ndarray
    attn: np.ndarray
    score_change: np.ndarray
    score_change_first_order: np.ndarray
    attn_change: np.ndarray
    attn_change_first_order: np.ndarray
    loss_change: np.ndarray
    loss_change_first_order: np.ndarray

    @property
    def attn_error(self) -> np.ndarray:
        """(K,) Frobenius norm of actual minus predicted attention change."""
        return np.sqrt(((self.attn_change - self.attn_change_first_order) ** 2).sum(axis=(1, 2)))  # (K,)

    @property
    def loss_error(self) -> np.ndarray:
        """(K,) absolute difference between the actual and first-order loss change."""
        return np.abs(self.loss_change - self.loss_change_first_order)  # (K,)


def step_sweep(params: Params, X, y, etas, *, causal: bool = True, mode: str = "scores") -> StepSweep:
    r"""Take one descent step of each size in ``etas`` and record what changed.

    Parameters
    ----------
    params : Params
    X : array_like, shape (N, d_x)
    y : array_like of int, shape (N,)
    etas : array_like, shape (K,)
        Positive step sizes.
    causal : bool
    mode : {"scores", "params"}
        ``"scores"``: replace the scores by :math:`S - \eta\,\partial L/\partial S`
        and keep :math:`V` and :math:`W_O`; the first-order loss change is
        :math:`-\eta \lVert \partial L/\partial S\rVert^2`.
        ``"params"``: one SGD step :math:`W \leftarrow W - \eta\,\partial L/\partial W` on
        all four matrices and a fresh forward pass; the first-order score change is
        :math:`(X\Delta W_Q K^\top + Q (X \Delta W_K)^\top)/\sqrt{d_k}` and the
        first-order loss change :math:`-\eta \sum_W \lVert \partial L/\partial W\rVert^2`.

    Returns
    -------
    StepSweep

    Notes
    -----
    Chapter 3, "One descent step". The prediction errors shrink like
    :math:`\eta^2` (see :func:`loglog_slope`).

    Examples
    --------
    >>> from attnlib import init_params
    >>> params = init_params(3, 2, 2, 3, scale=0.8, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((4, 3)); y = np.array([0, 1, 2, 0])
    >>> sweep = step_sweep(params, X, y, [1e-2, 1e-1])
    >>> sweep.attn_change.shape, bool(sweep.loss_change[0] < 0)
    ((2, 4, 4), True)
    >>> round(loglog_slope(sweep.eta, sweep.attn_error), 1)
    2.0
    """
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    if mode not in ("scores", "params"):
        raise ValueError(f"mode must be 'scores' or 'params', got {mode!r}")
    causal = as_bool(causal, "causal")
    etas = as_float_array(etas, "etas", ndim=1)
    if etas.size == 0 or etas.min() <= 0:
        raise ValueError(f"etas must hold at least one positive step size, got {etas}")
    cache = forward(params, X, causal=causal)
    y = as_labels(y, "y", length=cache.x.shape[0], n_classes=params.dims["n_classes"])
    grads = backward(params, cache, y)
    loss0 = cross_entropy(cache.logits, y)
    sqrt_dk = np.sqrt(params.dims["d_k"])
    weights = params.as_dict()
    weight_grads = grads.params().as_dict()

    records = {key: [] for key in ("ds", "ds1", "da", "da1", "dl", "dl1")}
    for eta in etas:
        if mode == "scores":
            delta_s = -eta * grads.scores  # (N, N)  exactly the step
            delta_s1 = delta_s  # (N, N)
            attn_new = masked_softmax(cache.scores + delta_s, cache.mask)  # (N, N)
            loss_new = cross_entropy(attn_new @ cache.values @ params.W_O, y)
            loss_change1 = -eta * float((grads.scores**2).sum())
        else:
            stepped = Params(**{name: w - eta * weight_grads[name] for name, w in weights.items()})
            cache_new = forward(stepped, cache.x, causal=causal)
            delta_s = cache_new.scores - cache.scores  # (N, N)
            dQ = cache.x @ (-eta * weight_grads["W_Q"])  # (N, d_k)  X Delta W_Q
            dK = cache.x @ (-eta * weight_grads["W_K"])  # (N, d_k)  X Delta W_K
            delta_s1 = (dQ @ cache.keys.T + cache.queries @ dK.T) / sqrt_dk  # (N, N)
            attn_new = cache_new.attn  # (N, N)
            loss_new = cross_entropy(cache_new.logits, y)
            loss_change1 = -eta * float(sum((g**2).sum() for g in weight_grads.values()))
        records["ds"].append(delta_s)
        records["ds1"].append(delta_s1)
        records["da"].append(attn_new - cache.attn)
        records["da1"].append(first_order_attention_change(cache.attn, delta_s1))
        records["dl"].append(loss_new - loss0)
        records["dl1"].append(loss_change1)
    return StepSweep(
        mode=mode,
        eta=etas.copy(),
        attn=cache.attn,
        score_change=np.stack(records["ds"]),  # (K, N, N)
        score_change_first_order=np.stack(records["ds1"]),  # (K, N, N)
        attn_change=np.stack(records["da"]),  # (K, N, N)
        attn_change_first_order=np.stack(records["da1"]),  # (K, N, N)
        loss_change=np.array(records["dl"]),  # (K,)
        loss_change_first_order=np.array(records["dl1"]),  # (K,)
    )


def loglog_slope(x, y) -> float:
    r"""Least-squares slope of :math:`\log y` against :math:`\log x`.

    An error that behaves like :math:`c\,x^p` has slope :math:`p`.

    Examples
    --------
    >>> round(loglog_slope([0.1, 0.01, 0.001], [3e-2, 3e-4, 3e-6]), 6)
    2.0
    """
    x = as_float_array(x, "x", ndim=1)
    y = as_float_array(y, "y", ndim=1)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must have the same length >= 2, got shapes {x.shape} and {y.shape}")
    if x.min() <= 0 or y.min() <= 0:
        raise ValueError("x and y must be positive to take logarithms")
    slope, _ = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope)


# --------------------------------------------------------------------------- one query, one routing step
@dataclass(frozen=True)
class RoutingView:
    """One query's routing before and after one descent step on its scores.

    Attributes
    ----------
    alpha : (M,)
        Attention over the keys, ``softmax(scores)``.
    out : (d_v,)
        ``o = sum_j alpha_j v_j``.
    compat : (M,)
        ``b_j = u . v_j``.
    advantage : (M,)
        ``A_j = E_alpha[b] - b_j``.
    alpha_after : (M,)
        Attention after the step ``s_j <- s_j + eta alpha_j A_j`` (eq. ``route-step``).
    eta : float
    """

    alpha: np.ndarray
    out: np.ndarray
    compat: np.ndarray
    advantage: np.ndarray
    alpha_after: np.ndarray
    eta: float


def routing_view(scores, u, V, *, eta: float = 1.0) -> RoutingView:
    r"""The routing law for a single query: ``b``, ``A`` and the attention after one step.

    Parameters
    ----------
    scores : array_like, shape (M,)
        The query's scores over its ``M`` keys.
    u : array_like, shape (d_v,)
        The query's error signal :math:`u = \partial L / \partial o`.
    V : array_like, shape (M, d_v)
        The values.
    eta : float, default 1.0
        Step size of the descent step on the scores.

    Examples
    --------
    >>> view = routing_view([0.0, 0.0], [1.0, 0.0], [[-1.0, 0.0], [1.0, 0.0]], eta=1.0)
    >>> view.compat, view.advantage   # value 0 points against the error: it is the better one
    (array([-1.,  1.]), array([ 1., -1.]))
    >>> bool(view.alpha_after[0] > view.alpha[0])
    True
    """
    scores = as_float_array(scores, "scores", ndim=1)
    u = as_float_array(u, "u", ndim=1)
    V = as_float_matrix(V, "V")
    if V.shape != (scores.shape[0], u.shape[0]):
        raise ValueError(f"V must have shape (M, d_v) = {(scores.shape[0], u.shape[0])}, got {V.shape}")
    eta = as_number(eta, "eta", minimum=0)
    alpha = softmax(scores)  # (M,)
    b = V @ u  # (M,)  b_j = u . v_j
    A = alpha @ b - b  # (M,)  E_alpha[b] - b_j
    alpha_after = softmax(scores + eta * alpha * A)  # (M,)  one descent step, eq. route-step
    return RoutingView(alpha=alpha, out=alpha @ V, compat=b, advantage=A, alpha_after=alpha_after, eta=float(eta))
