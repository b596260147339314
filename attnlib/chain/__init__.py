"""The paper's sticky Markov chain (chapters 8-9): the task, its Bayes predictor, the fast engine.

The task, replayed draw for draw from the authors' generator
(:mod:`~attnlib.chain.task`), the exact Bayesian predictor it is measured
against (:mod:`~attnlib.chain.bayes`) and the engine that trains many runs of
the head on it at once (:mod:`attnlib.chain.engine`, whose C kernel is a
detail behind :class:`~attnlib.chain.engine.Engine`). What is run on the
chain, and how it is summarised, is in :mod:`attnlib.dynamics`.
"""

from . import engine
from .task import (
    PAPER_SEEDS,
    DRAWS,
    check_draws,
    ChainConfig,
    Task,
    transition_matrix,
    effective_self_transition,
    row_entropy,
    sticky_chain,
    sample_sequences,
    authors_initial_params,
)
from .bayes import (
    emission_log_likelihoods,
    filter_step,
    filter_posteriors,
    bayes_predictive,
    bayes_predictive_for,
    bayes_cross_entropy,
    oracle_cross_entropy,
    prior_predictive,
    enumerate_predictive,
    mean_kl,
)
from .engine import Engine

__all__ = [
    "engine",
    "PAPER_SEEDS",
    "DRAWS",
    "check_draws",
    "ChainConfig",
    "Task",
    "transition_matrix",
    "effective_self_transition",
    "row_entropy",
    "sticky_chain",
    "sample_sequences",
    "authors_initial_params",
    "emission_log_likelihoods",
    "filter_step",
    "filter_posteriors",
    "bayes_predictive",
    "bayes_predictive_for",
    "bayes_cross_entropy",
    "oracle_cross_entropy",
    "prior_predictive",
    "enumerate_predictive",
    "mean_kl",
    "Engine",
]
