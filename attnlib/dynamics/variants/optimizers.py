r"""The optimisers a variant can be trained with (chapter 10), one entry each.

Everything the book needs to know about an optimiser sits in its
:class:`Optimizer` entry of :data:`OPTIMIZERS`: its update, the state the update
keeps, the base rate the sweep gives its SGD arm, and what its first step
lowers the loss by (for :func:`attnlib.dynamics.sweep.first_step_gain`). Adding
an optimiser is one more entry here (and its hyperparameters in
:class:`~attnlib.dynamics.variants.VariantSpec` if it has any); the trainer,
the sweep and the command line pick it up from here.

Shapes: a weight ``W`` and its gradient ``g`` are ``(B, ...)`` torch tensors
(``B`` runs trained together); ``lr`` is ``(B, 1, 1)``, one rate per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Optimizer", "OPTIMIZERS"]


@dataclass(frozen=True)
class Optimizer:
    """One optimiser: its update and what the sweep needs to know about it.

    Attributes
    ----------
    name : str
        The name :attr:`VariantSpec.optimizer` uses.
    label : str
        Its part of :attr:`VariantSpec.label` (empty for plain gradient descent).
    base_lr : float
        The SGD arm's rate on every matrix in the sweep (the EM-like arm puts
        ``value_ratio`` times it on ``W_V``).
    init_state : callable
        ``init_state(W) -> dict``: the state one weight's update keeps.
    step : callable
        ``step(W, g, state, lr, spec) -> W_new``; may update ``state`` in place.
    first_decrease : callable
        ``first_decrease(g) -> float``: what the first step lowers the loss by,
        to first order, per unit of rate (``||g||^2`` for gradient descent).
    """

    name: str
    label: str
    base_lr: float
    init_state: Callable
    step: Callable
    first_decrease: Callable


def _no_state(W) -> dict:
    return {}


def _sgd_step(W, g, state: dict, lr, spec):
    return W - lr * g  # W <- W - eta_W dL/dW


def _adam_state(W) -> dict:
    import torch

    return {"t": 0, "m": torch.zeros_like(W), "v": torch.zeros_like(W)}


def _adam_step(W, g, state: dict, lr, spec):
    """One Adam update (Kingma and Ba 2015) with the spec's ``adam_betas`` and ``adam_eps``."""
    b1, b2 = spec.adam_betas
    state["t"] += 1
    state["m"] = b1 * state["m"] + (1 - b1) * g
    state["v"] = b2 * state["v"] + (1 - b2) * g * g
    m_hat = state["m"] / (1 - b1 ** state["t"])  # bias corrections
    v_hat = state["v"] / (1 - b2 ** state["t"])
    return W - lr * m_hat / (v_hat.sqrt() + spec.adam_eps)


#: Every optimiser a :class:`~attnlib.dynamics.variants.VariantSpec` can name, by name.
OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in (
        # A step -eta g lowers the loss by eta ||g||^2 (chapter 8, eq. sticky-first-order).
        Optimizer("sgd", "", 0.01, _no_state, _sgd_step, lambda g: float((np.asarray(g) ** 2).sum())),
        # Adam's first step is -eta sign(g), which lowers the loss by eta ||g||_1 (eq. beyond-adam-first);
        # 3e-5 makes that first step about as long as SGD's at 0.01 (chapter 10 measures it).
        Optimizer("adam", "Adam", 3e-5, _adam_state, _adam_step, lambda g: float(np.abs(g).sum())),
    )
}
