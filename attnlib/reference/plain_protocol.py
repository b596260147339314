"""The sticky-chain protocol written the plain way: torch autograd, one run, full N x N matrices.

This is what the authors' script does (``vishalmisra/bayesian-wind-tunnel``,
``experiments/paper2_gradient/em_vs_sgd_multiseed.py``; the book does not copy it) and what
a reader would write first: float32, the full masked score matrix,
``loss.backward()``, and a manual SGD step with one learning rate per matrix, the loss
recorded before every update. It shares no code with :mod:`attnlib.chain.engine`, so it is
the independent yardstick for the engine's table (``tools/check_engine_against_autograd.py``)
and the baseline of ``benchmarks/bench_sticky_chain.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import as_positive_int
from ..head.model import Params
from ..head.training import LearningRates

__all__ = ["PlainRun", "plain_autograd_training"]


@dataclass(frozen=True)
class PlainRun:
    """What :func:`plain_autograd_training` returns.

    Attributes
    ----------
    losses : (steps,) ndarray
        The loss before each update.
    final_loss : float
        The loss after the last update.
    """

    losses: np.ndarray
    final_loss: float


def plain_autograd_training(X, y, params: Params, lrs: LearningRates, steps: int, *, dtype=None,
                            device: str = "cpu") -> PlainRun:  # fmt: skip
    """Train the causal head by autograd on the full masked ``N x N`` scores; float32 by default.

    Parameters
    ----------
    X : (N, d_x) array_like
    y : (N,) array_like of int
    params : Params
        Initial weights (copied).
    lrs : LearningRates
        One SGD learning rate per matrix.
    steps : int
    dtype : torch.dtype, optional
        Default ``torch.float32``, like the authors.
    device : str, default "cpu"
        The torch device of every tensor (``"cuda"``: the authors' script on a
        GPU, as ``benchmarks/bench_gpu.py`` times it).

    Examples
    --------
    >>> from attnlib import init_params
    >>> from attnlib.head.training import train
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((30, 4)); y = rng.integers(0, 3, 30); p = init_params(4, 2, 3, 3, rng=1)
    >>> plain = plain_autograd_training(X, y, p, LearningRates.sgd(0.5), 4)
    >>> bool(np.allclose(plain.losses, train(p, X, y, LearningRates.sgd(0.5), steps=4).losses, rtol=1e-5))
    True
    """
    import torch

    steps = as_positive_int(steps, "steps", minimum=0)
    dtype = torch.float32 if dtype is None else dtype
    X = torch.tensor(np.asarray(X), dtype=dtype, device=device)  # (N, d_x)  a copy: task arrays are read-only
    y = torch.tensor(np.asarray(y), dtype=torch.long, device=device)  # (N,)
    n = X.shape[0]
    future = torch.ones(n, n, dtype=torch.bool, device=device).triu(1)  # (N, N)  j > i: masked
    names = ("W_Q", "W_K", "W_V", "W_O")
    weights = [torch.tensor(getattr(params, k), dtype=dtype, device=device, requires_grad=True) for k in names]
    rates = [getattr(lrs, k) for k in names]
    scale = 1.0 / math.sqrt(params.dims["d_k"])

    def loss_now():
        W_Q, W_K, W_V, W_O = weights
        S = ((X @ W_Q) @ (X @ W_K).T * scale).masked_fill(future, float("-inf"))  # (N, N)
        return torch.nn.functional.cross_entropy((torch.softmax(S, dim=1) @ (X @ W_V)) @ W_O, y)

    losses = np.empty(steps)
    for t in range(steps):
        loss = loss_now()
        losses[t] = loss.item()
        loss.backward()
        with torch.no_grad():
            for w, lr in zip(weights, rates):
                w -= lr * w.grad
                w.grad = None
    with torch.no_grad():
        final = loss_now().item()
    return PlainRun(losses=losses, final_loss=final)
