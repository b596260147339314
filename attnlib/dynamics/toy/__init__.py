r"""The toy of chapter 6: a previous-token task small enough to watch the feedback loop.

The paper trains a toy head with :math:`N = 5` positions, :math:`C = 3` classes and
:math:`d_k = d_v = 2`, but its protocol is not public. This module is **the book's
own design** at that size, built so that different queries need different values:

* A sequence is :math:`N` tokens :math:`c_0, \dots, c_{N-1}`, each one of :math:`C`
  symbols. Token :math:`j` enters the head as :math:`x_j = [e_{c_j}, e_j]`, the
  one-hot symbol followed by the one-hot position, so :math:`d_x = C + N`.
* The target at position :math:`i` is the symbol one position back,
  :math:`y_i = c_{p(i)}` with the *evidence position* :math:`p(i) = i - 1`
  (and :math:`p(0) = 0`: the first position can only read itself). Query
  :math:`i` must route to key :math:`i - 1` and the value there must say which
  symbol it carries.
* The head is trained on a fixed batch of such sequences by full-batch gradient
  descent on the mean of the sequences' mean cross-entropies,
  :math:`L = \frac{1}{M}\sum_m L_m`. Every step is :func:`attnlib.forward` and
  :func:`attnlib.backward` on each sequence, averaged (:func:`batch_step`);
  with one sequence, :func:`train_toy` is :func:`attnlib.head.training.train`.

With one-hot inputs the value of a token is a sum of two learned rows,
:math:`v_j = x_j W_V = P_{c_j} + E_j` (a *symbol part* and a *position part*), so
every token of the same symbol shares :math:`P_c`. :func:`value_table` lists the
:math:`C \times N` distinct values, :func:`value_pulls` the value law summed over
every token of each kind, and :func:`predicted_value_change` the exact change of
every value in one step (the value law sent through :math:`W_V`).

The package is cut by idea: :mod:`~attnlib.dynamics.toy.task` (the sequences and their
encoding), :mod:`~attnlib.dynamics.toy.training` (the full-batch step and the loop),
:mod:`~attnlib.dynamics.toy.analysis` (values, pulls, snapshots) and
:mod:`~attnlib.dynamics.toy.study` (many seeds).

Dimension names in shape comments: ``M`` sequences, ``N`` positions, ``C``
classes (= symbols), ``d_x = C + N``, ``d_k``, ``d_v``, ``T`` steps.
"""

from .analysis import (
    ToySnapshot,
    content_share,
    evidence_advantage,
    predicted_value_change,
    toy_snapshot,
    value_pulls,
    value_table,
    value_trajectories,
)
from .study import seed_study, study_table, summarize_run
from .task import TOY_SIZES, ToyTask, all_sequences, encode, evidence_positions, split_sequences, toy_init, toy_task
from .training import BatchStep, ToyHistory, batch_step, train_toy

__all__ = [
    "TOY_SIZES",
    "ToyTask",
    "all_sequences",
    "split_sequences",
    "evidence_positions",
    "encode",
    "toy_task",
    "toy_init",
    "BatchStep",
    "batch_step",
    "ToyHistory",
    "train_toy",
    "value_table",
    "value_pulls",
    "predicted_value_change",
    "content_share",
    "evidence_advantage",
    "value_trajectories",
    "ToySnapshot",
    "toy_snapshot",
    "summarize_run",
    "seed_study",
    "study_table",
]
