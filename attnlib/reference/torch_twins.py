"""The head written again in PyTorch (float64), for autograd references.

Nothing here shares code with :mod:`attnlib.head.gradients`: the forward pass is
rewritten with torch operations and differentiated by ``torch.autograd``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._validate import as_bool, as_float_matrix, as_labels
from ..head.gradients import Grads
from ..head.model import Params, forward, masked_softmax
from ..head.softmax import cross_entropy

__all__ = ["torch_masked_softmax", "torch_loss", "autograd_grads", "loss_as_function_of", "POINTS"]

#: Where :func:`loss_as_function_of` can cut the head: a weight, or a ``Cache`` field.
POINTS = ("W_Q", "W_K", "W_V", "W_O", "queries", "keys", "values", "scores", "attn", "out", "logits")


def torch_masked_softmax(scores, mask):
    r"""Softmax over the last axis of a torch tensor, with ``-inf`` where ``mask`` is False.

    The PyTorch twin of :func:`attnlib.masked_softmax` (chapter 2, eq. ``attn-softmax``).

    Parameters
    ----------
    scores : torch.Tensor, shape (..., N)
    mask : array_like of bool, broadcastable to ``scores``
        True where a key is allowed; every row needs at least one.

    Examples
    --------
    >>> import torch
    >>> torch_masked_softmax(torch.zeros(2, 2, dtype=torch.float64), np.tril(np.ones((2, 2), bool)))
    tensor([[1.0000, 0.0000],
            [0.5000, 0.5000]], dtype=torch.float64)
    """
    import torch

    allowed = torch.as_tensor(np.asarray(mask, dtype=bool))  # (..., N)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # (..., N)


def validated_problem(params, X, y, causal):
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    X = as_float_matrix(X, "X")
    causal = as_bool(causal, "causal")
    cache = forward(params, X, causal=causal)  # validates shapes
    y = as_labels(y, "y", length=X.shape[0], n_classes=params.dims["n_classes"])
    return X, y, causal, cache


def _torch_head(params: Params, X: np.ndarray, y: np.ndarray, mask: np.ndarray) -> dict:
    """The head in torch float64, keeping every intermediate with ``retain_grad``."""
    import torch

    t = {name: torch.tensor(w, dtype=torch.float64, requires_grad=True) for name, w in params.as_dict().items()}
    Xt = torch.tensor(X, dtype=torch.float64)  # (N, d_x)
    d_k = params.dims["d_k"]
    t["q"] = Xt @ t["W_Q"]  # (N, d_k)
    t["k"] = Xt @ t["W_K"]  # (N, d_k)
    t["v"] = Xt @ t["W_V"]  # (N, d_v)
    t["s"] = t["q"] @ t["k"].T / d_k**0.5  # (N, N)
    t["alpha"] = torch_masked_softmax(t["s"], mask)  # (N, N)
    t["o"] = t["alpha"] @ t["v"]  # (N, d_v)
    t["z"] = t["o"] @ t["W_O"]  # (N, C)
    for key in ("q", "k", "v", "s", "alpha", "o", "z"):
        t[key].retain_grad()
    t["loss"] = torch.nn.functional.cross_entropy(t["z"], torch.tensor(y, dtype=torch.long))
    return t


def torch_loss(params: Params, X, y, *, causal: bool = True) -> float:
    """The mean cross-entropy computed by PyTorch in float64.

    Examples
    --------
    >>> from attnlib import init_params, forward, loss
    >>> params = init_params(3, 2, 2, 4, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((5, 3)); y = np.array([0, 1, 2, 3, 0])
    >>> bool(np.isclose(torch_loss(params, X, y), loss(forward(params, X), y), rtol=1e-12))
    True
    """
    X, y, causal, cache = validated_problem(params, X, y, causal)
    return float(_torch_head(params, X, y, cache.mask)["loss"].item())


def autograd_grads(params: Params, X, y, *, causal: bool = True) -> Grads:
    """Every field of :class:`~attnlib.Grads`, computed by torch autograd in float64.

    ``compat`` is autograd's dL/dalpha, ``advantage`` is derived from it by its
    definition ``E_{alpha_i}[b] - b_ij`` (zero where masked), and every other
    field is a ``.grad``.

    Examples
    --------
    >>> from attnlib import init_params, forward, backward
    >>> params = init_params(3, 2, 2, 4, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((5, 3)); y = np.array([0, 1, 2, 3, 0])
    >>> ref = autograd_grads(params, X, y)
    >>> bool(np.allclose(ref.W_Q, backward(params, forward(params, X), y).W_Q, rtol=1e-10, atol=1e-14))
    True
    """
    X, y, causal, cache = validated_problem(params, X, y, causal)
    t = _torch_head(params, X, y, cache.mask)
    t["loss"].backward()
    g = {key: t[key].grad.numpy() for key in ("W_Q", "W_K", "W_V", "W_O", "q", "k", "v", "s", "alpha", "o", "z")}
    alpha = t["alpha"].detach().numpy()  # (N, N)
    expected_b = (alpha * g["alpha"]).sum(axis=1, keepdims=True)  # (N, 1)
    return Grads(
        W_Q=g["W_Q"],
        W_K=g["W_K"],
        W_V=g["W_V"],
        W_O=g["W_O"],
        logits=g["z"],
        upstream=g["o"],
        compat=g["alpha"],
        advantage=np.where(cache.mask, expected_b - g["alpha"], 0.0),
        scores=g["s"],
        values=g["v"],
        queries=g["q"],
        keys=g["k"],
    )


def loss_as_function_of(
    params: Params, X, y, at: str, *, causal: bool = True, reduction: str = "mean"
) -> tuple[Callable, Callable]:
    r"""The head's loss as a function of one weight or one intermediate, in NumPy and in torch.

    Everything upstream of ``at`` keeps its value from ``forward(params, X)``;
    everything downstream is recomputed. The pair is what
    :func:`~attnlib.reference.check_gradient` needs (``f`` and ``f_torch``).

    Parameters
    ----------
    params : Params
    X : array_like, shape (N, d_x)
    y : array_like of int, shape (N,)
    at : str
        One of :data:`POINTS`: a weight (``"W_Q"`` ... ``"W_O"``, the whole
        forward pass re-run), or a :class:`~attnlib.Cache` field: ``"queries"``,
        ``"keys"``, ``"values"``, ``"scores"`` (through the masked softmax), ``"attn"``
        (every entry of alpha free, no renormalisation), ``"out"``, ``"logits"``.
    causal : bool, default True
    reduction : {"mean", "sum"}
        The book's mean over positions, or the sum (the per-position form).

    Returns
    -------
    (f, f_torch) : tuple of callables
        Each maps an array (a float64 tensor for ``f_torch``) of the shape of
        the chosen quantity to the scalar loss.

    Examples
    --------
    >>> import attnlib
    >>> params = attnlib.init_params(3, 2, 2, 4, scale=0.8, rng=0)
    >>> X = np.random.default_rng(1).standard_normal((5, 3)); y = np.array([0, 1, 2, 3, 0])
    >>> cache = attnlib.forward(params, X)
    >>> f, f_torch = loss_as_function_of(params, X, y, "queries")
    >>> bool(np.isclose(f(cache.queries), attnlib.loss(cache, y), rtol=1e-12))
    True
    >>> grads = attnlib.backward(params, cache, y)
    >>> attnlib.reference.check_gradient("dL/dq", grads.queries, f, cache.queries, f_torch=f_torch).passed
    True
    """
    X, y, causal, cache = validated_problem(params, X, y, causal)
    if at not in POINTS:
        raise ValueError(f"at must be one of {POINTS}, got {at!r}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    scale = 1.0 if reduction == "mean" else float(len(y))
    d_k, mask = params.dims["d_k"], cache.mask

    def f(value):
        value = np.asarray(value, dtype=float)
        if at.startswith("W_"):
            return scale * cross_entropy(forward(Params(**(params.as_dict() | {at: value})), X, causal=causal).logits, y)
        fixed = {"queries": cache.queries, "keys": cache.keys, "values": cache.values, at: value}
        if at in ("queries", "keys", "values"):
            fixed["scores"] = fixed["queries"] @ fixed["keys"].T / np.sqrt(d_k)  # (N, N)
        if at in ("queries", "keys", "values", "scores"):
            fixed["attn"] = masked_softmax(fixed.get("scores", cache.scores), mask)  # (N, N)
        if at in ("queries", "keys", "values", "scores", "attn"):
            fixed["out"] = fixed.get("attn", cache.attn) @ fixed["values"]  # (N, d_v)
        if at != "logits":
            fixed["logits"] = fixed["out"] @ params.W_O  # (N, C)
        return scale * cross_entropy(fixed["logits"], y)

    def f_torch(t):
        import torch

        def as_t(a):
            return torch.tensor(a, dtype=torch.float64)

        W = {name: as_t(w) for name, w in params.as_dict().items()}
        if at.startswith("W_"):
            W[at] = t
            Xt = as_t(X)  # (N, d_x)
            q, k, v = Xt @ W["W_Q"], Xt @ W["W_K"], Xt @ W["W_V"]  # (N, d_k), (N, d_k), (N, d_v)
        else:
            q, k, v = (t if at == name else as_t(getattr(cache, name)) for name in ("queries", "keys", "values"))
        if at == "logits":
            z = t  # (N, C)
        else:
            if at == "out":
                o = t  # (N, d_v)
            else:
                if at == "attn":
                    alpha = t  # (N, N)
                else:
                    s = t if at == "scores" else q @ k.T / d_k**0.5  # (N, N)
                    alpha = torch_masked_softmax(s, mask)  # (N, N)
                o = alpha @ v  # (N, d_v)
            z = o @ W["W_O"]  # (N, C)
        return torch.nn.functional.cross_entropy(z, torch.tensor(y, dtype=torch.long), reduction=reduction)

    return f, f_torch
