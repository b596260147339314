"""Full-batch training on the toy task: one step over every sequence (:func:`batch_step`), and the loop (:func:`train_toy`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validate import as_bool, as_positive_int
from ...head.entropy import entropy_nats
from ...head.gradients import Grads, backward
from ...head.model import Cache, Params, attention_mask, forward, loss, masked_softmax
from ...head.training import LearningRates
from .task import ToyTask, check_fit, check_task

# --------------------------------------------------------------------------- one full-batch step


@dataclass(frozen=True)
class BatchStep:
    """The forward and backward pass of every sequence of a batch, and their mean.

    The batch loss is :math:`L = \\frac{1}{M}\\sum_m L_m`, so its gradient with
    respect to anything that belongs to sequence ``m`` (its scores, its values)
    is ``grads[m].<field> / M``, and with respect to a weight matrix it is the
    mean of the sequences' weight gradients.

    Attributes
    ----------
    loss : float
        :math:`L`, the mean over sequences of each sequence's mean cross-entropy.
    accuracy : float
        Fraction of all ``M * N`` positions whose argmax prediction is the target.
    weight_grads : Params
        :math:`\\partial L/\\partial W` for the four matrices (mean over sequences).
    caches : tuple of Cache, length M
        ``attnlib.forward`` of each sequence.
    grads : tuple of Grads, length M
        ``attnlib.backward`` of each sequence, for its own mean loss :math:`L_m`.
    """

    loss: float
    accuracy: float
    weight_grads: Params
    caches: tuple[Cache, ...]
    grads: tuple[Grads, ...]

    def stacked_cache(self, field: str) -> np.ndarray:
        """A :class:`~attnlib.Cache` field of every sequence (``"attn"``, ``"values"``...), shape ``(M, ...)``."""
        if field not in Cache.__dataclass_fields__:
            raise ValueError(f"Cache has no field {field!r}; it has {tuple(Cache.__dataclass_fields__)}")
        return np.stack([getattr(cache, field) for cache in self.caches])  # (M, ...)

    def stacked_grads(self, field: str) -> np.ndarray:
        """A :class:`~attnlib.Grads` field of every sequence, for its own :math:`L_m`, shape ``(M, ...)``.

        The batch loss's gradient is this divided by ``M`` (for the per-sequence
        fields ``"scores"``, ``"values"``, ``"upstream"``...).
        """
        if field not in Grads.__dataclass_fields__:
            raise ValueError(f"Grads has no field {field!r}; it has {tuple(Grads.__dataclass_fields__)}")
        return np.stack([getattr(grads, field) for grads in self.grads])  # (M, ...)


def batch_step(params: Params, task: ToyTask, *, causal: bool = True) -> BatchStep:
    """Run :func:`attnlib.forward` and :func:`attnlib.backward` on every sequence.

    Parameters
    ----------
    params : Params
    task : ToyTask
    causal : bool, default True

    Returns
    -------
    BatchStep

    Notes
    -----
    :math:`\\partial L/\\partial W = \\frac{1}{M}\\sum_m \\partial L_m/\\partial W`:
    each sequence's gradient comes from the hand-derived backward pass of
    chapters 1 to 5 (chapter 6, eq. ``toy-batch-grad``).

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_init, toy_task
    >>> task = toy_task(all_sequences()[:6])
    >>> step = batch_step(toy_init(task, rng=0), task)
    >>> step.weight_grads.W_V.shape, step.stacked_cache("attn").shape, round(step.loss, 4)
    ((8, 2), (6, 5, 5), 1.5107)
    """
    check_task(task)
    check_fit(params, task)
    causal = as_bool(causal, "causal")
    caches, grads = [], []
    for X_m, y_m in zip(task.X, task.y):
        cache = forward(params, X_m, causal=causal)
        caches.append(cache)
        grads.append(backward(params, cache, y_m))
    n_seq = task.n_sequences
    mean_grads = {
        name: sum(getattr(g, name) for g in grads) / n_seq for name in ("W_Q", "W_K", "W_V", "W_O")
    }  # each the shape of its matrix
    batch_loss = float(np.mean([loss(c, y_m) for c, y_m in zip(caches, task.y)]))
    predictions = np.stack([c.logits.argmax(axis=1) for c in caches])  # (M, N)
    return BatchStep(
        loss=batch_loss,
        accuracy=float((predictions == task.y).mean()),
        weight_grads=Params(**mean_grads),
        caches=tuple(caches),
        grads=tuple(grads),
    )


# --------------------------------------------------------------------------- the trainer
@dataclass(frozen=True)
class ToyHistory:
    """What one toy training run produced (the toy's :class:`attnlib.head.training.History`).

    Step counting as in :mod:`attnlib.head.training`: entry ``t`` of a per-step
    array is measured after ``t`` updates, just before update ``t + 1``.

    Attributes
    ----------
    losses : (T,)
        Batch loss :math:`L`.
    accuracy : (T,)
        Fraction of positions predicted right.
    attn_entropy : (T, N)
        Attention entropy of each query, :math:`-\\sum_j \\alpha_{ij}\\log\\alpha_{ij}`
        (nats), averaged over the sequences.
    evidence_attn : (T, N)
        :math:`\\alpha_{i, p(i)}`, the attention each query pays to its evidence
        position, averaged over the sequences.
    score_grad_norm : (T,)
        :math:`\\lVert \\partial L/\\partial S \\rVert`, over the scores of all sequences.
    value_grad_norm : (T,)
        :math:`\\lVert \\partial L/\\partial V \\rVert`, over the values of all sequences.
    W_Q, W_K : (T + 1, d_x, d_k)
    W_V : (T + 1, d_x, d_v)
    W_O : (T + 1, d_v, C)
        The weights after ``t`` updates, ``t = 0 .. T`` (all of them: the toy is small).
    final_loss, final_accuracy : float
        After the last update.
    lrs : LearningRates
    causal : bool
    """

    losses: np.ndarray
    accuracy: np.ndarray
    attn_entropy: np.ndarray
    evidence_attn: np.ndarray
    score_grad_norm: np.ndarray
    value_grad_norm: np.ndarray
    W_Q: np.ndarray
    W_K: np.ndarray
    W_V: np.ndarray
    W_O: np.ndarray
    final_loss: float
    final_accuracy: float
    lrs: LearningRates
    causal: bool

    @property
    def steps(self) -> int:
        """Number of updates applied, ``T``."""
        return int(self.losses.shape[0])

    def params_at(self, t: int) -> Params:
        """The weights after ``t`` updates (``0 <= t <= T``)."""
        t = as_positive_int(t, "t", minimum=0)
        if t > self.steps:
            raise ValueError(f"t must be in [0, {self.steps}], got {t}")
        return Params(W_Q=self.W_Q[t], W_K=self.W_K[t], W_V=self.W_V[t], W_O=self.W_O[t])


def stacked_step(params: Params, X: np.ndarray, y: np.ndarray, mask: np.ndarray) -> dict:
    """One full-batch forward and backward pass with the sequences on a leading axis.

    The same equations as :func:`attnlib.forward` and :func:`attnlib.backward`,
    line by line, for the batch loss ``L = mean_m L_m`` (so the error signal
    carries ``1 / (N M)``). It exists for speed: the tests and chapter 6 check
    that it equals :func:`batch_step`, the loop over the book's own backward pass.
    """
    n_seq, n, d_x = X.shape
    sqrt_dk = np.sqrt(params.W_Q.shape[1])
    seq, pos = np.arange(n_seq)[:, None], np.arange(n)[None, :]  # (M, 1), (1, N)
    q = X @ params.W_Q  # (M, N, d_k)
    k = X @ params.W_K  # (M, N, d_k)
    v = X @ params.W_V  # (M, N, d_v)
    scores = q @ k.transpose(0, 2, 1) / sqrt_dk  # (M, N, N)
    alpha = masked_softmax(scores, mask)  # (M, N, N)  the (N, N) mask broadcasts
    out = alpha @ v  # (M, N, d_v)
    logits = out @ params.W_O  # (M, N, C)
    shifted = logits - logits.max(axis=2, keepdims=True)  # (M, N, C)  eq. lse-shift
    log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))  # (M, N, C)
    dz = np.exp(log_p)  # (M, N, C)
    dz[seq, pos, y] -= 1.0  # (M, N, C)  p_i - e_{y_i}
    dz /= n * n_seq  # (M, N, C)  mean over positions and sequences
    u = dz @ params.W_O.T  # (M, N, d_v)  u_i = dL/do_i
    b = u @ v.transpose(0, 2, 1)  # (M, N, N)  b_ij = u_i . v_j
    ds = alpha * (b - (alpha * b).sum(axis=2, keepdims=True))  # (M, N, N)  routing law
    dv = alpha.transpose(0, 2, 1) @ u  # (M, N, d_v)  value law
    dq = ds @ k / sqrt_dk  # (M, N, d_k)
    dk = ds.transpose(0, 2, 1) @ q / sqrt_dk  # (M, N, d_k)
    X_rows = X.reshape(n_seq * n, d_x)  # (M N, d_x): sum over sequences and positions at once
    return {
        "loss": float(-log_p[seq, pos, y].mean()),
        "accuracy": float((logits.argmax(axis=2) == y).mean()),
        "grads": {
            "W_Q": X_rows.T @ dq.reshape(n_seq * n, -1),  # (d_x, d_k)  sum_m X_m^T dQ_m
            "W_K": X_rows.T @ dk.reshape(n_seq * n, -1),  # (d_x, d_k)
            "W_V": X_rows.T @ dv.reshape(n_seq * n, -1),  # (d_x, d_v)
            "W_O": out.reshape(n_seq * n, -1).T @ dz.reshape(n_seq * n, -1),  # (d_v, C)
        },
        "attn": alpha,
        "score_grad_norm": float(np.sqrt((ds * ds).sum())),
        "value_grad_norm": float(np.sqrt((dv * dv).sum())),
    }


def _loop_step(params: Params, task: ToyTask, mask: np.ndarray) -> dict:
    """:func:`batch_step` in the form :func:`stacked_step` returns."""
    step = batch_step(params, task, causal=not bool(np.triu(mask, 1).any()))
    n_seq = task.n_sequences
    return {
        "loss": step.loss,
        "accuracy": step.accuracy,
        "grads": step.weight_grads.as_dict(),
        "attn": step.stacked_cache("attn"),
        "score_grad_norm": float(np.linalg.norm(step.stacked_grads("scores"))) / n_seq,  # dL/dS_m = dL_m/dS_m / M
        "value_grad_norm": float(np.linalg.norm(step.stacked_grads("values"))) / n_seq,
    }


def train_toy(
    params: Params,
    task: ToyTask,
    lrs: LearningRates,
    *,
    steps: int,
    causal: bool = True,
    engine: str = "stacked",
) -> ToyHistory:
    """Full-batch gradient descent on the toy, float64, keeping every weight.

    One step is the batch gradient followed by ``W <- W - eta_W dL/dW`` for
    each matrix with its own rate. Training returns a :class:`ToyHistory`; it
    never prints or plots.

    Parameters
    ----------
    params : Params
        Initial weights (not modified).
    task : ToyTask
    lrs : LearningRates
    steps : int >= 0
    causal : bool, default True
    engine : {"stacked", "loop"}
        ``"loop"`` runs :func:`batch_step`, i.e. :func:`attnlib.forward` and
        :func:`attnlib.backward` on one sequence after the other (about 0.4 ms
        per sequence and step). ``"stacked"`` (default) does the same
        arithmetic with the sequences on a leading axis, some 20 times faster;
        the two agree to rounding error (tests/test_toy.py).

    Returns
    -------
    ToyHistory

    Notes
    -----
    With a single sequence this is :func:`attnlib.head.training.train` (the tests
    check it): ``losses``, ``attn_entropy.mean(axis=1)`` and the two gradient
    norms are that trainer's records. Chapter 6, eq. ``toy-batch-grad``.

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_init, toy_task
    >>> task = toy_task(all_sequences()[::40])
    >>> h = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=20)
    >>> h.losses.shape, h.attn_entropy.shape, h.W_V.shape
    ((20,), (20, 5), (21, 8, 2))
    >>> bool(h.final_loss < h.losses[0])
    True
    >>> h_loop = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=20, engine="loop")
    >>> bool(np.allclose(h.W_Q, h_loop.W_Q, rtol=1e-10, atol=1e-13))
    True
    """
    check_task(task)
    check_fit(params, task)
    if not isinstance(lrs, LearningRates):
        raise TypeError(f"lrs must be an attnlib.head.training.LearningRates, got {type(lrs).__name__}")
    steps = as_positive_int(steps, "steps", minimum=0)
    causal = as_bool(causal, "causal")
    if engine not in ("stacked", "loop"):
        raise ValueError(f"engine must be 'stacked' or 'loop', got {engine!r}")
    n = task.n_positions
    mask = attention_mask(n, causal=causal)  # (N, N)

    def step_of(current: Params) -> dict:
        if engine == "loop":
            return _loop_step(current, task, mask)
        return stacked_step(current, task.X, task.y, mask)

    rates = lrs.as_dict()
    records = {
        "losses": np.empty(steps),  # (T,)
        "accuracy": np.empty(steps),  # (T,)
        "attn_entropy": np.empty((steps, n)),  # (T, N)
        "evidence_attn": np.empty((steps, n)),  # (T, N)
        "score_grad_norm": np.empty(steps),  # (T,)
        "value_grad_norm": np.empty(steps),  # (T,)
    }
    trajectory = {name: [w] for name, w in params.as_dict().items()}
    weights = params.as_dict()
    for t in range(steps):
        step = step_of(Params(**weights))
        alpha = step["attn"]  # (M, N, N)
        records["losses"][t] = step["loss"]
        records["accuracy"][t] = step["accuracy"]
        records["attn_entropy"][t] = entropy_nats(alpha).mean(axis=0)  # (N,)
        records["evidence_attn"][t] = alpha[:, np.arange(n), task.evidence].mean(axis=0)  # (N,)
        records["score_grad_norm"][t] = step["score_grad_norm"]
        records["value_grad_norm"][t] = step["value_grad_norm"]
        weights = {name: w - rates[name] * step["grads"][name] for name, w in weights.items()}
        for name, w in weights.items():
            trajectory[name].append(w)
    final = step_of(Params(**weights))
    return ToyHistory(
        **records,
        **{name: np.stack(ws) for name, ws in trajectory.items()},  # each (T + 1, ...)
        final_loss=final["loss"],
        final_accuracy=final["accuracy"],
        lrs=lrs,
        causal=causal,
    )
