"""What one toy step does to the values: the value table, the pulls of the value law, and snapshots for the figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validate import as_float_array, as_number, as_positive_int

from ...head.model import Params
from .task import ToyTask, check_task
from .training import BatchStep, ToyHistory, batch_step

# --------------------------------------------------------------------------- analysis


def value_table(params: Params, n_classes: int) -> np.ndarray:
    """The value of every (symbol, position) pair: ``table[c, j] = [e_c, e_j] W_V = P_c + E_j``.

    Parameters
    ----------
    params : Params
        ``W_V`` must have ``n_classes + N`` rows (the toy's encoding).
    n_classes : int

    Returns
    -------
    numpy.ndarray, shape (C, N, d_v)

    Examples
    --------
    >>> from attnlib.dynamics.toy import toy_init, toy_task
    >>> task = toy_task([[2, 0, 1, 1, 0]])
    >>> params = toy_init(task, rng=0)
    >>> table = value_table(params, 3)
    >>> table.shape, bool(np.allclose(table[task.tokens[0], np.arange(5)], task.X[0] @ params.W_V))
    ((3, 5, 2), True)
    """
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    n_classes = as_positive_int(n_classes, "n_classes", minimum=2)
    W_V = params.W_V  # (C + N, d_v)
    if W_V.shape[0] <= n_classes:
        raise ValueError(f"W_V must have more than n_classes = {n_classes} rows, got shape {W_V.shape}")
    symbol_part, position_part = W_V[:n_classes], W_V[n_classes:]  # (C, d_v), (N, d_v)
    return symbol_part[:, None, :] + position_part[None, :, :]  # (C, N, d_v)


def value_pulls(step: BatchStep, task: ToyTask) -> np.ndarray:
    r"""The value law summed over every token of each kind: ``pull[c, j] = -sum dL/dv``.

    For symbol ``c`` at position ``j``,

    .. math:: \text{pull}_{cj} = -\sum_{m:\, c^{(m)}_j = c} \frac{\partial L}{\partial v^{(m)}_j}
              = -\frac{1}{M}\sum_{m:\, c^{(m)}_j = c}\; \sum_i \alpha^{(m)}_{ij}\, u^{(m)}_i ,

    the pull of every query (in every sequence) that reads a token of that kind,
    with :math:`u^{(m)}_i` the upstream gradient of :math:`L_m`.

    Returns
    -------
    numpy.ndarray, shape (C, N, d_v)
        Zero for a kind that no sequence of the batch contains.

    Notes
    -----
    Chapter 6, eq. ``toy-pull``; chapter 4's value law, eq. ``value-law``.

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_init, toy_task
    >>> task = toy_task(all_sequences()[:9])
    >>> step = batch_step(toy_init(task, rng=0), task)
    >>> pulls = value_pulls(step, task)
    >>> bool(np.allclose(pulls.sum(axis=0), -step.stacked_grads("values").mean(axis=0)))
    True
    """
    check_task(task)
    dV = step.stacked_grads("values") / task.n_sequences  # (M, N, d_v)  dL/dV_m
    pulls = np.zeros((task.n_classes, task.n_positions, dV.shape[2]))  # (C, N, d_v)
    np.add.at(pulls, (task.tokens, np.broadcast_to(np.arange(task.n_positions), task.tokens.shape)), -dV)
    return pulls


def predicted_value_change(step: BatchStep, task: ToyTask, eta: float) -> np.ndarray:
    r"""The change of every value in one descent step on ``W_V`` with rate ``eta``.

    .. math:: \Delta V_m = X_m\,\Delta W_V = -\eta\, X_m \sum_{m'} X_{m'}^\top \frac{\partial L}{\partial V_{m'}},
              \qquad \frac{\partial L}{\partial V_{m'}} = \frac{1}{M}\,\alpha_{m'}^\top U_{m'} :

    chapter 4's value law, sent back through the shared :math:`W_V` and out
    again. It is exact, not first order (the values are linear in :math:`W_V`).

    Returns
    -------
    numpy.ndarray, shape (M, N, d_v)

    Notes
    -----
    Chapter 6, eq. ``toy-value-step``; chapter 4, eq. ``value-wv``.

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_init, toy_task
    >>> task = toy_task(all_sequences()[:9])
    >>> params = toy_init(task, rng=0)
    >>> step = batch_step(params, task)
    >>> after = Params(params.W_Q, params.W_K, params.W_V - 0.5 * step.weight_grads.W_V, params.W_O)
    >>> moved = task.X @ after.W_V - task.X @ params.W_V
    >>> bool(np.allclose(moved, predicted_value_change(step, task, 0.5), rtol=1e-12, atol=1e-15))
    True
    """
    check_task(task)
    eta = as_number(eta, "eta")
    dV = step.stacked_grads("values") / task.n_sequences  # (M, N, d_v)  dL/dV_m = alpha_m^T U_m / M
    dW_V = np.einsum("bnx,bnv->xv", task.X, dV)  # (d_x, d_v)  sum_m X_m^T dL/dV_m
    return -float(eta) * task.X @ dW_V  # (M, N, d_v)


def content_share(table) -> float:
    r"""How much of the spread of the values their symbol explains (between-symbol variance / total).

    Parameters
    ----------
    table : array_like, shape (C, N, d_v)
        From :func:`value_table`.

    Returns
    -------
    float in [0, 1]
        1 when the values of each symbol coincide (one prototype per symbol),
        about ``(C - 1) / (C N - 1)`` for values in random positions.

    Examples
    --------
    >>> round(content_share([[[0.0, 1.0], [0.0, 1.0]], [[2.0, 0.0], [2.0, 0.0]]]), 6)
    1.0
    >>> round(content_share([[[0.0, 0.0], [1.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]]), 6)
    0.0
    """
    table = as_float_array(table, "table", ndim=3)
    flat = table.reshape(-1, table.shape[2])  # (C N, d_v)
    total = ((flat - flat.mean(axis=0)) ** 2).sum()
    if total == 0:
        raise ValueError("the values are all equal: their spread is zero")
    symbol_means = table.mean(axis=1)  # (C, d_v)
    between = table.shape[1] * ((symbol_means - flat.mean(axis=0)) ** 2).sum()
    return float(between / total)


def evidence_advantage(step: BatchStep, task: ToyTask) -> np.ndarray:
    r"""Advantage of each query's evidence key, :math:`N\,A_{i,p(i)}`, averaged over the sequences.

    Uses each sequence's own :math:`A` (for :math:`L_m`) times ``N``, the
    per-position scale of chapter 3's figures. Query 0 has a single key, so its
    entry is always zero.

    Returns
    -------
    numpy.ndarray, shape (N,)

    Notes
    -----
    Chapter 3, eq. ``route-advantage``: a descent step on the scores raises
    :math:`s_{ij}` exactly when :math:`A_{ij} > 0`.

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_init, toy_task
    >>> task = toy_task(all_sequences()[:9])
    >>> adv = evidence_advantage(batch_step(toy_init(task, rng=0), task), task)
    >>> adv.shape, float(adv[0])
    ((5,), 0.0)
    """
    check_task(task)
    A = step.stacked_grads("advantage")  # (M, N, N)
    n = task.n_positions
    return n * A[:, np.arange(n), task.evidence].mean(axis=0)  # (N,)


def value_trajectories(history: ToyHistory, n_classes: int) -> np.ndarray:
    """:func:`value_table` after every update: ``out[t, c, j]`` is the value of symbol ``c`` at position ``j``.

    Returns
    -------
    numpy.ndarray, shape (T + 1, C, N, d_v)

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_init, toy_task, train_toy
    >>> from attnlib.head.training import LearningRates
    >>> task = toy_task(all_sequences()[::40])
    >>> h = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=3)
    >>> paths = value_trajectories(h, 3)
    >>> paths.shape, bool(np.allclose(paths[2], value_table(h.params_at(2), 3)))
    ((4, 3, 5, 2), True)
    """
    if not isinstance(history, ToyHistory):
        raise TypeError(f"history must be an attnlib.dynamics.toy.ToyHistory, got {type(history).__name__}")
    n_classes = as_positive_int(n_classes, "n_classes", minimum=2)
    W_V = history.W_V  # (T + 1, C + N, d_v)
    return W_V[:, :n_classes, None, :] + W_V[:, None, n_classes:, :]  # (T + 1, C, N, d_v)


# --------------------------------------------------------------------------- one step, for the figures
@dataclass(frozen=True)
class ToySnapshot:
    r"""Everything the chapter's figures (and the slider) show for one training step.

    Attributes
    ----------
    step : int
        Updates applied so far.
    loss, accuracy : float
        Batch loss and accuracy at this step.
    attn_mean : (N, N)
        Attention averaged over the sequences of the batch.
    mask : (N, N) bool
    evidence : (N,) int
        :math:`p(i)`.
    values : (C, N, d_v)
        :func:`value_table`: the value of every (symbol, position) pair.
    pulls : (C, N, d_v)
        :func:`value_pulls`: the value law summed over every token of each kind.
    readout : (d_v, C)
        :math:`W_O`.
    sequence : int
        Which sequence of the batch the next four fields describe.
    tokens, targets : (N,) int
        Its symbols and targets.
    attn : (N, N)
        Its attention.
    compat : (N, N)
        :math:`N\,b_{ij}` for its own loss (zero where masked): the per-position scale.
    advantage : (N, N)
        :math:`N\,A_{ij}` for its own loss (zero where masked).
    """

    step: int
    loss: float
    accuracy: float
    attn_mean: np.ndarray
    mask: np.ndarray
    evidence: np.ndarray
    values: np.ndarray
    pulls: np.ndarray
    readout: np.ndarray
    sequence: int
    tokens: np.ndarray
    targets: np.ndarray
    attn: np.ndarray
    compat: np.ndarray
    advantage: np.ndarray


def toy_snapshot(history: ToyHistory, task: ToyTask, t: int, *, sequence: int = 0) -> ToySnapshot:
    """Recompute, with :func:`batch_step`, what the figures show after ``t`` updates.

    Parameters
    ----------
    history : ToyHistory
    task : ToyTask
        The batch the history was trained on.
    t : int
        ``0 <= t <= history.steps``.
    sequence : int, default 0
        The sequence of the batch whose :math:`b` and :math:`A` are kept.

    Returns
    -------
    ToySnapshot

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_init, toy_task, train_toy
    >>> from attnlib.head.training import LearningRates
    >>> task = toy_task(all_sequences()[::40])
    >>> h = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=5)
    >>> snap = toy_snapshot(h, task, 5, sequence=2)
    >>> snap.values.shape, snap.advantage.shape, snap.tokens.tolist()
    ((3, 5, 2), (5, 5), [0, 2, 2, 2, 2])
    >>> bool(np.isclose(snap.loss, h.final_loss))
    True
    """
    check_task(task)
    if not isinstance(history, ToyHistory):
        raise TypeError(f"history must be an attnlib.dynamics.toy.ToyHistory, got {type(history).__name__}")
    sequence = as_positive_int(sequence, "sequence", minimum=0)
    if sequence >= task.n_sequences:
        raise ValueError(f"sequence must be in [0, {task.n_sequences}), got {sequence}")
    params = history.params_at(t)
    step = batch_step(params, task, causal=history.causal)
    cache, grads = step.caches[sequence], step.grads[sequence]
    n = task.n_positions
    return ToySnapshot(
        step=int(t),
        loss=step.loss,
        accuracy=step.accuracy,
        attn_mean=step.stacked_cache("attn").mean(axis=0),  # (N, N)
        mask=cache.mask,
        evidence=task.evidence,
        values=value_table(params, task.n_classes),  # (C, N, d_v)
        pulls=value_pulls(step, task),  # (C, N, d_v)
        readout=params.W_O,
        sequence=sequence,
        tokens=task.tokens[sequence],
        targets=task.y[sequence],
        attn=cache.attn,
        compat=n * np.where(cache.mask, grads.compat, 0.0),  # (N, N)
        advantage=n * grads.advantage,  # (N, N)
    )
