"""attnlib: the support package of the book *Gradient Dynamics of Attention*.

The package is laid out by the book's parts, each a folder whose
``__init__`` lists its API; a part imports only from the parts above it in
this list (``tests/test_layout.py`` checks it):

* :mod:`attnlib.head`: one attention head in NumPy (float64), its
  hand-derived gradients and the float64 trainer (chapters 1-5);
* :mod:`attnlib.reference`: the independent checks, autograd and finite
  differences, and the authors' protocol written plainly;
* :mod:`attnlib.laws`: the routing law, the value law and the EM reading
  (chapters 3, 4, 7);
* :mod:`attnlib.chain`: the paper's sticky chain, its Bayes predictor and
  the fast engine (chapters 8-9);
* :mod:`attnlib.dynamics`: the experiments and measurements (chapters 6-11);
* :mod:`attnlib.teaching`: plots, explorers, exercises, assignments.

The names every chapter uses are re-exported here.

>>> import numpy as np, attnlib
>>> params = attnlib.init_params(4, 3, 2, 5, rng=0)
>>> X = np.random.default_rng(1).standard_normal((6, 4)); y = np.array([0, 1, 2, 3, 4, 0])
>>> grads = attnlib.backward(params, attnlib.forward(params, X), y)
>>> attnlib.reference.check_backward(params, X, y).passed
True
"""

from . import chain, dynamics, head, laws, reference, teaching
from .chain import Engine, Task, authors_initial_params, sticky_chain, transition_matrix
from .head import (
    Cache,
    Grads,
    History,
    LearningRates,
    Params,
    backward,
    causal_mask,
    cross_entropy,
    cross_entropy_grad,
    forward,
    init_params,
    log_softmax,
    logsumexp,
    loss,
    masked_softmax,
    softmax,
    softmax_backward,
    softmax_jacobian,
    steps_to_reach,
    train,
)

__version__ = "0.2.0"

__all__ = [
    "head",
    "reference",
    "laws",
    "chain",
    "dynamics",
    "teaching",
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
    "LearningRates",
    "History",
    "train",
    "steps_to_reach",
    "Task",
    "transition_matrix",
    "sticky_chain",
    "authors_initial_params",
    "Engine",
]
