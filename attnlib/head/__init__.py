"""Part I of the book, the head itself (chapters 1-5): one attention head in NumPy, float64.

The forward pass (:mod:`~attnlib.head.model`), its hand-derived gradients
(:mod:`~attnlib.head.gradients`), the softmax and cross-entropy they rest on
(:mod:`~attnlib.head.softmax`), the entropy of attention rows
(:mod:`~attnlib.head.entropy`), the cost of a step in FLOPs
(:mod:`~attnlib.head.costs`) and the readable float64 trainer
(:mod:`~attnlib.head.training`). Imports only :mod:`attnlib._validate`.
"""

from .softmax import (
    logsumexp,
    softmax,
    log_softmax,
    softmax_jacobian,
    softmax_backward,
    cross_entropy,
    cross_entropy_grad,
)
from .model import (
    Params,
    Cache,
    init_params,
    forward,
    loss,
    causal_mask,
    masked_softmax,
    attention_mask,
)
from .gradients import (
    Grads,
    backward,
)
from .entropy import (
    entropy_nats,
    attention_entropy,
)
from .costs import (
    FlopLine,
    step_flops,
)
from .training import (
    SGD,
    EM_LIKE,
    ARMS,
    LearningRates,
    arm_rates,
    Diverged,
    raise_if_diverged,
    History,
    train,
    first_steps_below,
    steps_to_reach,
    RECORDABLE,
    predictive_metrics,
    check_record,
    check_snapshot_every,
    snapshot_steps,
)

__all__ = [
    "logsumexp",
    "softmax",
    "log_softmax",
    "softmax_jacobian",
    "softmax_backward",
    "cross_entropy",
    "cross_entropy_grad",
    "Params",
    "Cache",
    "init_params",
    "forward",
    "loss",
    "causal_mask",
    "masked_softmax",
    "Grads",
    "backward",
    "entropy_nats",
    "attention_entropy",
    "FlopLine",
    "step_flops",
    "SGD",
    "EM_LIKE",
    "ARMS",
    "LearningRates",
    "arm_rates",
    "Diverged",
    "raise_if_diverged",
    "History",
    "train",
    "first_steps_below",
    "steps_to_reach",
    "RECORDABLE",
    "predictive_metrics",
    "attention_mask",
    "check_record",
    "check_snapshot_every",
    "snapshot_steps",
]
