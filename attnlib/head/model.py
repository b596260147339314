r"""The single attention head of the paper: parameters, forward pass and loss.

Row-vector conventions of the authors' code (book/notation.md). Dimension names
in shape comments: ``N`` positions, ``d_x`` input width, ``d_k`` query/key width,
``d_v`` value width, ``C`` classes.

.. math::

    Q = X W_Q,\quad K = X W_K,\quad V = X W_V,\quad
    S = Q K^\top / \sqrt{d_k},\quad \alpha = \mathrm{softmax}_\text{rows}(S + \text{mask}),

    O = \alpha V,\quad Z = O W_O,\quad P = \mathrm{softmax}_\text{rows}(Z),\quad
    L = -\frac{1}{N}\sum_i \log P_{i, y_i}.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .._validate import as_bool, as_float_matrix, as_generator, as_labels, as_number, as_positive_int
from .softmax import log_softmax, softmax


@dataclass(frozen=True)
class Params:
    """The four weight matrices of one attention head (no biases).

    Attributes
    ----------
    W_Q : numpy.ndarray, shape (d_x, d_k)
    W_K : numpy.ndarray, shape (d_x, d_k)
    W_V : numpy.ndarray, shape (d_x, d_v)
    W_O : numpy.ndarray, shape (d_v, C)

    Examples
    --------
    >>> p = init_params(4, 3, 2, 5, rng=0)
    >>> p.W_Q.shape, p.W_K.shape, p.W_V.shape, p.W_O.shape
    ((4, 3), (4, 3), (4, 2), (2, 5))
    >>> p.dims
    {'d_x': 4, 'd_k': 3, 'd_v': 2, 'n_classes': 5}
    """

    W_Q: np.ndarray
    W_K: np.ndarray
    W_V: np.ndarray
    W_O: np.ndarray

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, as_float_matrix(getattr(self, f.name), f.name))
        d_x, d_k = self.W_Q.shape
        if self.W_K.shape != (d_x, d_k):
            raise ValueError(f"W_K must have the shape of W_Q {(d_x, d_k)}, got {self.W_K.shape}")
        if self.W_V.shape[0] != d_x:
            raise ValueError(f"W_V must have {d_x} rows (d_x, from W_Q), got shape {self.W_V.shape}")
        if self.W_O.shape[0] != self.W_V.shape[1]:
            raise ValueError(
                f"W_O must have {self.W_V.shape[1]} rows (d_v, from W_V), got shape {self.W_O.shape}"
            )
        if min(d_x, d_k, self.W_V.shape[1], self.W_O.shape[1]) < 1:
            raise ValueError(f"every weight dimension must be >= 1, got {self.dims}")

    @property
    def dims(self) -> dict[str, int]:
        """The sizes ``d_x, d_k, d_v, n_classes`` read off the matrices."""
        return {
            "d_x": self.W_Q.shape[0],
            "d_k": self.W_Q.shape[1],
            "d_v": self.W_V.shape[1],
            "n_classes": self.W_O.shape[1],
        }

    def as_dict(self) -> dict[str, np.ndarray]:
        """The matrices by name, in the draw order ``W_Q, W_K, W_V, W_O``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Cache:
    """Every intermediate of one forward pass, kept for the backward pass.

    Attributes
    ----------
    x : (N, d_x)
        The input ``X``.
    mask : (N, N) bool
        ``mask[i, j]`` is True where query ``i`` may attend to key ``j``
        (``j <= i`` when causal, everywhere otherwise).
    queries, keys : (N, d_k)
        Queries ``Q = X W_Q`` and keys ``K = X W_K``.
    values : (N, d_v)
        Values ``V = X W_V``.
    scores : (N, N)
        ``s_ij = q_i . k_j / sqrt(d_k)`` for every pair, before masking.
    attn : (N, N)
        Attention ``alpha``: the row softmax of the masked scores; zero where masked.
    out : (N, d_v)
        Head output ``o_i = sum_j alpha_ij v_j``.
    logits : (N, C)
        ``z_i = o_i W_O``.
    probs : (N, C)
        ``p_i = softmax(z_i)``.
    """

    x: np.ndarray
    mask: np.ndarray
    queries: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    scores: np.ndarray
    attn: np.ndarray
    out: np.ndarray
    logits: np.ndarray
    probs: np.ndarray

    @property
    def causal(self) -> bool:
        """True when the mask is the causal (lower-triangular) one."""
        return not bool(np.triu(self.mask, 1).any())


def init_params(d_x: int, d_k: int, d_v: int, n_classes: int, *, scale: float = 0.1, rng=None) -> Params:
    """Draw every weight from ``N(0, scale^2)``, in the order ``W_Q, W_K, W_V, W_O``.

    Parameters
    ----------
    d_x, d_k, d_v : int
        Input, query/key and value widths (each >= 1).
    n_classes : int
        Number of output classes ``C`` (>= 2).
    scale : float, default 0.1
        Standard deviation of every entry (the authors use 0.1).
    rng : None, int or numpy.random.Generator
        Source of randomness; an int is a seed. ``None`` draws fresh entropy.

    Examples
    --------
    >>> a = init_params(3, 2, 2, 4, rng=7)
    >>> b = init_params(3, 2, 2, 4, rng=np.random.default_rng(7))
    >>> bool(np.array_equal(a.W_O, b.W_O))
    True
    """
    d_x = as_positive_int(d_x, "d_x")
    d_k = as_positive_int(d_k, "d_k")
    d_v = as_positive_int(d_v, "d_v")
    n_classes = as_positive_int(n_classes, "n_classes", minimum=2)
    scale = as_number(scale, "scale", minimum=0, exclusive=True)
    gen = as_generator(rng)
    return Params(
        W_Q=scale * gen.standard_normal((d_x, d_k)),  # (d_x, d_k)
        W_K=scale * gen.standard_normal((d_x, d_k)),  # (d_x, d_k)
        W_V=scale * gen.standard_normal((d_x, d_v)),  # (d_x, d_v)
        W_O=scale * gen.standard_normal((d_v, n_classes)),  # (d_v, C)
    )


def causal_mask(n: int) -> np.ndarray:
    """Boolean ``(n, n)`` mask, True where ``j <= i``.

    Examples
    --------
    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    """
    n = as_positive_int(n, "n")
    return np.tril(np.ones((n, n), dtype=bool))  # (n, n)


def attention_mask(n: int, *, causal: bool = True) -> np.ndarray:
    """Which keys each query may see: :func:`causal_mask` when ``causal``, else all of them.

    Examples
    --------
    >>> attention_mask(2, causal=False).astype(int)
    array([[1, 1],
           [1, 1]])
    """
    if as_bool(causal, "causal"):
        return causal_mask(n)
    n = as_positive_int(n, "n")
    return np.ones((n, n), dtype=bool)  # (n, n)


def masked_softmax(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row softmax over the allowed entries; masked entries get exactly zero.

    Every row must allow at least one entry (the diagonal is always allowed
    here). Subtracting each row's largest allowed score first keeps every
    exponential in ``(0, 1]``, so huge scores cannot overflow.

    Examples
    --------
    >>> masked_softmax(np.array([[0.0, 5.0], [1e6, 1e6]]), causal_mask(2))
    array([[1. , 0. ],
           [0.5, 0.5]])
    """
    shifted = np.where(mask, scores, -np.inf)  # (N, N)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)  # (N, N)  row max is 0
    weights = np.exp(shifted)  # (N, N)  exp(-inf) = 0 where masked
    return weights / weights.sum(axis=-1, keepdims=True)  # (N, N)


def forward(params: Params, X, *, causal: bool = True) -> Cache:
    """Run the head on one sequence and keep every intermediate.

    Parameters
    ----------
    params : Params
    X : array_like, shape (N, d_x)
        One sequence of ``N >= 1`` input rows.
    causal : bool, default True
        Position ``i`` attends only to ``j <= i``; ``False`` attends everywhere.

    Returns
    -------
    Cache

    Examples
    --------
    >>> params = init_params(4, 3, 2, 5, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((6, 4))
    >>> cache = forward(params, X)
    >>> cache.attn.shape, cache.probs.shape
    ((6, 6), (6, 5))
    >>> bool(np.allclose(cache.attn.sum(axis=1), 1.0)), float(cache.attn[0, 1])
    (True, 0.0)
    """
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    X = as_float_matrix(X, "X")
    causal = as_bool(causal, "causal")
    n, d_x = X.shape
    if n == 0:
        raise ValueError(f"X must have at least one position (N >= 1), got shape {X.shape}")
    if d_x != params.dims["d_x"]:
        raise ValueError(f"X must have {params.dims['d_x']} columns (d_x of W_Q), got shape {X.shape}")
    d_k = params.dims["d_k"]
    mask = attention_mask(n, causal=causal)  # (N, N)
    q = X @ params.W_Q  # (N, d_k)
    k = X @ params.W_K  # (N, d_k)
    v = X @ params.W_V  # (N, d_v)
    scores = q @ k.T / np.sqrt(d_k)  # (N, N)  s_ij = q_i . k_j / sqrt(d_k)
    if not np.all(np.isfinite(scores)):
        raise ValueError("X and the weights give non-finite scores (overflow); rescale X or the weights")
    attn = masked_softmax(scores, mask)  # (N, N)  alpha_ij
    out = attn @ v  # (N, d_v)  o_i = sum_j alpha_ij v_j
    logits = out @ params.W_O  # (N, C)  z_i = o_i W_O
    probs = softmax(logits)  # (N, C)  p_i
    return Cache(x=X, mask=mask, queries=q, keys=k, values=v, scores=scores, attn=attn, out=out, logits=logits, probs=probs)


def loss(cache: Cache, y) -> float:
    """Mean cross-entropy over positions, ``-(1/N) sum_i log p_{i, y_i}``.

    Parameters
    ----------
    cache : Cache
        From :func:`forward`.
    y : array_like of int, shape (N,)
        Target class of every position.

    Examples
    --------
    >>> params = init_params(4, 3, 2, 5, rng=0)
    >>> cache = forward(params, np.zeros((3, 4)))  # all logits zero
    >>> round(loss(cache, [0, 1, 2]), 6) == round(float(np.log(5)), 6)
    True
    """
    if not isinstance(cache, Cache):
        raise TypeError(f"cache must be an attnlib.Cache from forward(), got {type(cache).__name__}")
    n, n_classes = cache.logits.shape
    y = as_labels(y, "y", length=n, n_classes=n_classes)
    log_probs = log_softmax(cache.logits)  # (N, C)
    return float(-log_probs[np.arange(n), y].mean())
