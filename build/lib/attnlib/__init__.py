"""attnlib: the support package of the book *Gradient Dynamics of Attention*.

One attention head in NumPy (float64) with its hand-derived gradients, and the
references that check them. Chapters import everything from here.

>>> import numpy as np, attnlib
>>> params = attnlib.init_params(4, 3, 2, 5, rng=0)
>>> X = np.random.default_rng(1).standard_normal((6, 4)); y = np.array([0, 1, 2, 3, 4, 0])
>>> grads = attnlib.backward(params, attnlib.forward(params, X), y)
>>> attnlib.reference.check_backward(params, X, y).passed
True
"""

from . import bayes, costs, diagnostics, em, engine, experiments, explorers, reference, responsibility, routing, sweep, tasks, toy, training, variants
from .engine import Engine, run_sticky_chain, summarize_sticky_chain
from .gradients import Grads, backward
from .model import Cache, Params, causal_mask, forward, init_params, loss, masked_softmax
from .tasks import Task, authors_initial_params, sticky_chain, transition_matrix
from .training import History, LearningRates, steps_to_reach, train
from .softmax import (
    cross_entropy,
    cross_entropy_grad,
    log_softmax,
    logsumexp,
    softmax,
    softmax_backward,
    softmax_jacobian,
)

__version__ = "0.2.0"

__all__ = [
    "Params",
    "Cache",
    "Grads",
    "init_params",
    "forward",
    "loss",
    "backward",
    "causal_mask",
    "masked_softmax",
    "softmax",
    "log_softmax",
    "logsumexp",
    "softmax_jacobian",
    "softmax_backward",
    "cross_entropy",
    "cross_entropy_grad",
    "reference",
    "bayes",
    "diagnostics",
    "variants",
    "sweep",
    "routing",
    "responsibility",
    "costs",
    "tasks",
    "training",
    "toy",
    "explorers",
    "em",
    "experiments",
    "engine",
    "Task",
    "transition_matrix",
    "sticky_chain",
    "authors_initial_params",
    "LearningRates",
    "History",
    "train",
    "steps_to_reach",
    "Engine",
    "run_sticky_chain",
    "summarize_sticky_chain",
]
