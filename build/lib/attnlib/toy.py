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
  with one sequence, :func:`train_toy` is :func:`attnlib.training.train`.

With one-hot inputs the value of a token is a sum of two learned rows,
:math:`v_j = x_j W_V = P_{c_j} + E_j` (a *symbol part* and a *position part*), so
every token of the same symbol shares :math:`P_c`. :func:`value_table` lists the
:math:`C \times N` distinct values, :func:`value_pulls` the value law summed over
every token of each kind, and :func:`predicted_value_change` the exact change of
every value in one step (the value law sent through :math:`W_V`).

Dimension names in shape comments: ``M`` sequences, ``N`` positions, ``C``
classes (= symbols), ``d_x = C + N``, ``d_k``, ``d_v``, ``T`` steps.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ._validate import as_bool, as_float_array, as_positive_int
from .diagnostics import attention_entropy, entropy_nats
from .gradients import Grads, backward
from .model import Cache, Params, attention_mask, forward, init_params, loss, masked_softmax
from .training import LearningRates, steps_to_reach

__all__ = [
    "TOY_SIZES",
    "ToyTask",
    "BatchStep",
    "ToyHistory",
    "all_sequences",
    "split_sequences",
    "evidence_positions",
    "encode",
    "toy_task",
    "toy_init",
    "batch_step",
    "train_toy",
    "attention_entropy",
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

#: The paper's toy size: positions, classes, query/key width, value width.
TOY_SIZES = {"n_positions": 5, "n_classes": 3, "d_k": 2, "d_v": 2}


# --------------------------------------------------------------------------- the task
def all_sequences(n_positions: int = 5, n_classes: int = 3) -> np.ndarray:
    """Every sequence of ``n_positions`` tokens over ``n_classes`` symbols, in lexicographic order.

    Returns
    -------
    numpy.ndarray of int, shape (n_classes ** n_positions, n_positions)

    Examples
    --------
    >>> seqs = all_sequences(3, 2)
    >>> seqs.shape, seqs[:3].tolist()
    ((8, 3), [[0, 0, 0], [0, 0, 1], [0, 1, 0]])
    """
    n_positions = as_positive_int(n_positions, "n_positions")
    n_classes = as_positive_int(n_classes, "n_classes", minimum=2)
    if n_classes**n_positions > 1_000_000:
        raise ValueError(f"n_classes ** n_positions must be at most 1e6, got {n_classes}**{n_positions}")
    return np.array(list(itertools.product(range(n_classes), repeat=n_positions)), dtype=np.int64)  # (C^N, N)


def split_sequences(tokens, n_train: int, *, rng) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_train`` rows of ``tokens`` for training; the rest are held out.

    Parameters
    ----------
    tokens : array_like of int, shape (M, N)
    n_train : int
        ``1 <= n_train <= M``.
    rng : int or numpy.random.Generator
        Which rows are drawn (without replacement). Both parts keep the
        original row order.

    Returns
    -------
    train : numpy.ndarray, shape (n_train, N)
    held_out : numpy.ndarray, shape (M - n_train, N)

    Examples
    --------
    >>> train, held_out = split_sequences(all_sequences(3, 2), 3, rng=0)
    >>> train.shape, held_out.shape
    ((3, 3), (5, 3))
    >>> both = np.concatenate([train, held_out])
    >>> sorted(map(tuple, both.tolist())) == sorted(map(tuple, all_sequences(3, 2).tolist()))
    True
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be a 2-D integer array (M, N), got {tokens.dtype} {tokens.shape}")
    n_train = as_positive_int(n_train, "n_train")
    if n_train > tokens.shape[0]:
        raise ValueError(f"n_train must be at most the number of sequences {tokens.shape[0]}, got {n_train}")
    if rng is None or isinstance(rng, bool) or not isinstance(rng, (int, np.integer, np.random.Generator)):
        raise TypeError(f"rng must be an int seed or a numpy Generator, got {rng!r}")
    chosen = np.zeros(tokens.shape[0], dtype=bool)  # (M,)
    chosen[np.random.default_rng(rng).choice(tokens.shape[0], size=n_train, replace=False)] = True
    return tokens[chosen], tokens[~chosen]


def evidence_positions(n_positions: int) -> np.ndarray:
    """The position each query must read: ``p(i) = i - 1``, and ``p(0) = 0``.

    Examples
    --------
    >>> evidence_positions(5)
    array([0, 0, 1, 2, 3])
    """
    n_positions = as_positive_int(n_positions, "n_positions")
    return np.maximum(np.arange(n_positions) - 1, 0)  # (N,)


def encode(tokens, n_classes: int) -> np.ndarray:
    """One-hot symbol followed by one-hot position: ``x_j = [e_{c_j}, e_j]``.

    Parameters
    ----------
    tokens : array_like of int, shape (M, N)
    n_classes : int

    Returns
    -------
    numpy.ndarray, shape (M, N, n_classes + N)

    Examples
    --------
    >>> encode([[2, 0]], 3)[0]
    array([[0., 0., 1., 1., 0.],
           [1., 0., 0., 0., 1.]])
    """
    tokens = np.asarray(tokens)
    n_classes = as_positive_int(n_classes, "n_classes", minimum=2)
    if tokens.ndim != 2 or tokens.shape[1] < 1 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be a 2-D integer array (M, N), got {tokens.dtype} {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= n_classes):
        raise ValueError(f"tokens must lie in [0, {n_classes}), got values from {tokens.min()} to {tokens.max()}")
    n_seq, n = tokens.shape
    X = np.zeros((n_seq, n, n_classes + n))  # (M, N, d_x)
    X[np.arange(n_seq)[:, None], np.arange(n)[None, :], tokens] = 1.0  # symbol part
    X[:, np.arange(n), n_classes + np.arange(n)] = 1.0  # position part
    return X


@dataclass(frozen=True)
class ToyTask:
    """A batch of toy sequences, encoded, with their previous-token targets.

    Attributes
    ----------
    tokens : (M, N) int
        The symbols :math:`c_j` of every sequence.
    X : (M, N, d_x)
        Inputs from :func:`encode`, ``d_x = C + N``.
    y : (M, N) int
        Targets :math:`y_i = c_{p(i)}`.
    evidence : (N,) int
        :math:`p(i)` from :func:`evidence_positions`.
    n_classes : int
    """

    tokens: np.ndarray
    X: np.ndarray
    y: np.ndarray
    evidence: np.ndarray
    n_classes: int

    @property
    def n_sequences(self) -> int:
        """``M``."""
        return int(self.tokens.shape[0])

    @property
    def n_positions(self) -> int:
        """``N``."""
        return int(self.tokens.shape[1])

    @property
    def d_x(self) -> int:
        """``C + N``."""
        return int(self.X.shape[2])


def toy_task(tokens, n_classes: int = 3) -> ToyTask:
    """Encode ``tokens`` and attach the previous-token targets.

    Examples
    --------
    >>> task = toy_task([[2, 0, 1, 1, 0]])
    >>> task.y.tolist(), task.X.shape, task.evidence.tolist()
    ([[2, 2, 0, 1, 1]], (1, 5, 8), [0, 0, 1, 2, 3])
    """
    X = encode(tokens, n_classes)  # (M, N, d_x), validates tokens
    tokens = np.array(tokens, dtype=np.int64)  # (M, N)
    evidence = evidence_positions(tokens.shape[1])  # (N,)
    for array in (tokens, X, evidence):
        array.setflags(write=False)
    y = tokens[:, evidence]  # (M, N)  y_i = c_{p(i)}
    y.setflags(write=False)
    return ToyTask(tokens=tokens, X=X, y=y, evidence=evidence, n_classes=int(n_classes))


def toy_init(task: ToyTask, *, d_k: int = 2, d_v: int = 2, scale: float = 0.5, rng=None) -> Params:
    """Initial weights for ``task``: :func:`attnlib.init_params` with ``d_x = C + N``.

    Examples
    --------
    >>> toy_init(toy_task(all_sequences()[:4]), rng=0).dims
    {'d_x': 8, 'd_k': 2, 'd_v': 2, 'n_classes': 3}
    """
    _check_task(task)
    return init_params(task.d_x, d_k, d_v, task.n_classes, scale=scale, rng=rng)


def _check_task(task) -> None:
    if not isinstance(task, ToyTask):
        raise TypeError(f"task must be an attnlib.toy.ToyTask (see toy_task), got {type(task).__name__}")


def _check_fit(params: Params, task: ToyTask) -> None:
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    dims = params.dims
    if dims["d_x"] != task.d_x or dims["n_classes"] != task.n_classes:
        raise ValueError(
            f"params have d_x = {dims['d_x']}, C = {dims['n_classes']}; the task needs d_x = {task.d_x}, "
            f"C = {task.n_classes}"
        )


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
        """A :class:`~attnlib.Cache` field of every sequence (``"attn"``, ``"v"``...), shape ``(M, ...)``."""
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
    >>> task = toy_task(all_sequences()[:6])
    >>> step = batch_step(toy_init(task, rng=0), task)
    >>> step.weight_grads.W_V.shape, step.stacked_cache("attn").shape, round(step.loss, 4)
    ((8, 2), (6, 5, 5), 1.5107)
    """
    _check_task(task)
    _check_fit(params, task)
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
    """What one toy training run produced (the toy's :class:`attnlib.training.History`).

    Step counting as in :mod:`attnlib.training`: entry ``t`` of a per-step
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


def _stacked_step(params: Params, X: np.ndarray, y: np.ndarray, mask: np.ndarray) -> dict:
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
    """:func:`batch_step` in the form :func:`_stacked_step` returns."""
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
    With a single sequence this is :func:`attnlib.training.train` (the tests
    check it): ``losses``, ``attn_entropy.mean(axis=1)`` and the two gradient
    norms are that trainer's records. Chapter 6, eq. ``toy-batch-grad``.

    Examples
    --------
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
    _check_task(task)
    _check_fit(params, task)
    if not isinstance(lrs, LearningRates):
        raise TypeError(f"lrs must be an attnlib.training.LearningRates, got {type(lrs).__name__}")
    steps = as_positive_int(steps, "steps", minimum=0)
    causal = as_bool(causal, "causal")
    if engine not in ("stacked", "loop"):
        raise ValueError(f"engine must be 'stacked' or 'loop', got {engine!r}")
    n = task.n_positions
    mask = attention_mask(n, causal=causal)  # (N, N)

    def step_of(current: Params) -> dict:
        if engine == "loop":
            return _loop_step(current, task, mask)
        return _stacked_step(current, task.X, task.y, mask)

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
    >>> task = toy_task(all_sequences()[:9])
    >>> step = batch_step(toy_init(task, rng=0), task)
    >>> pulls = value_pulls(step, task)
    >>> bool(np.allclose(pulls.sum(axis=0), -step.stacked_grads("values").mean(axis=0)))
    True
    """
    _check_task(task)
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
    >>> task = toy_task(all_sequences()[:9])
    >>> params = toy_init(task, rng=0)
    >>> step = batch_step(params, task)
    >>> after = Params(params.W_Q, params.W_K, params.W_V - 0.5 * step.weight_grads.W_V, params.W_O)
    >>> moved = task.X @ after.W_V - task.X @ params.W_V
    >>> bool(np.allclose(moved, predicted_value_change(step, task, 0.5), rtol=1e-12, atol=1e-15))
    True
    """
    _check_task(task)
    if isinstance(eta, bool) or not isinstance(eta, (int, float, np.integer, np.floating)) or not np.isfinite(eta):
        raise TypeError(f"eta must be a finite number, got {eta!r}")
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
    >>> task = toy_task(all_sequences()[:9])
    >>> adv = evidence_advantage(batch_step(toy_init(task, rng=0), task), task)
    >>> adv.shape, float(adv[0])
    ((5,), 0.0)
    """
    _check_task(task)
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
    >>> task = toy_task(all_sequences()[::40])
    >>> h = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=3)
    >>> paths = value_trajectories(h, 3)
    >>> paths.shape, bool(np.allclose(paths[2], value_table(h.params_at(2), 3)))
    ((4, 3, 5, 2), True)
    """
    if not isinstance(history, ToyHistory):
        raise TypeError(f"history must be an attnlib.toy.ToyHistory, got {type(history).__name__}")
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
    >>> task = toy_task(all_sequences()[::40])
    >>> h = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=5)
    >>> snap = toy_snapshot(h, task, 5, sequence=2)
    >>> snap.values.shape, snap.advantage.shape, snap.tokens.tolist()
    ((3, 5, 2), (5, 5), [0, 2, 2, 2, 2])
    >>> bool(np.isclose(snap.loss, h.final_loss))
    True
    """
    _check_task(task)
    if not isinstance(history, ToyHistory):
        raise TypeError(f"history must be an attnlib.toy.ToyHistory, got {type(history).__name__}")
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


# --------------------------------------------------------------------------- many runs
def summarize_run(history: ToyHistory, task: ToyTask, held_out: ToyTask, *, threshold: float = 0.1) -> dict:
    """The numbers chapter 6 reports for one run.

    Returns
    -------
    dict
        ``steps_to_threshold`` (first step whose batch loss is below
        ``threshold``, ``nan`` if never), ``final_loss``, ``evidence_attn``
        (final :math:`\alpha_{i,p(i)}` averaged over queries ``1..N-1`` and the
        batch), ``worst_evidence_attn`` (the smallest of those per-query
        averages), ``content_share`` (of the final values, :func:`content_share`),
        ``held_out_accuracy`` (on ``held_out``) and ``initial_attn_entropy``
        (attention entropy at step 0, averaged over queries ``1..N-1``; under
        uniform attention it would be the mean of :math:`\\log(i + 1)`),
        and per query ``1..N-1`` (arrays of shape ``(N - 1,)``) the evidence
        attention at the start and at the end, ``evidence_by_query_start`` and
        ``evidence_by_query``.

    Examples
    --------
    >>> train, held_out = (toy_task(part) for part in split_sequences(all_sequences(), 12, rng=0))
    >>> h = train_toy(toy_init(train, rng=0), train, LearningRates.sgd(1.0), steps=60)
    >>> summary = summarize_run(h, train, held_out)
    >>> sorted(summary)  # doctest: +NORMALIZE_WHITESPACE
    ['content_share', 'evidence_attn', 'evidence_by_query', 'evidence_by_query_start', 'final_loss',
     'held_out_accuracy', 'initial_attn_entropy', 'steps_to_threshold', 'worst_evidence_attn']
    >>> summary["steps_to_threshold"] < 60
    True
    """
    _check_task(task)
    _check_task(held_out)
    final = history.params_at(history.steps)
    mask = attention_mask(task.n_positions, causal=history.causal)
    stacked = _stacked_step(final, task.X, task.y, mask)
    alpha = stacked["attn"]  # (M, N, N)
    per_query = alpha[:, np.arange(task.n_positions), task.evidence].mean(axis=0)[1:]  # (N - 1,)
    reached = steps_to_reach(history.losses, threshold) if history.steps else None
    return {
        "steps_to_threshold": float("nan") if reached is None else float(reached),
        "final_loss": stacked["loss"],
        "evidence_attn": float(per_query.mean()),
        "worst_evidence_attn": float(per_query.min()),
        "content_share": content_share(value_table(final, task.n_classes)),
        "held_out_accuracy": _stacked_step(final, held_out.X, held_out.y, mask)["accuracy"],
        "initial_attn_entropy": float(history.attn_entropy[0, 1:].mean()) if history.steps else float("nan"),
        "evidence_by_query_start": history.evidence_attn[0, 1:] if history.steps else np.full(per_query.shape, np.nan),
        "evidence_by_query": per_query,
    }


def seed_study(
    task: ToyTask,
    held_out: ToyTask,
    lrs: LearningRates,
    *,
    seeds,
    scale: float = 0.5,
    steps: int = 150,
    threshold: float = 0.1,
) -> dict[str, np.ndarray]:
    """Train once per initialisation seed and collect :func:`summarize_run` of each.

    The batch and the held-out set stay fixed; only the initial weights
    (:func:`toy_init` with ``scale`` and the seed) change.

    Returns
    -------
    dict of str to numpy.ndarray
        The keys of :func:`summarize_run`, plus ``seed``; each of shape
        ``(n_seeds,)``, or ``(n_seeds, N - 1)`` for the per-query entries.

    Examples
    --------
    >>> train, held_out = (toy_task(part) for part in split_sequences(all_sequences(), 12, rng=0))
    >>> study = seed_study(train, held_out, LearningRates.sgd(1.0), seeds=[0, 1], steps=30)
    >>> study["seed"].tolist(), study["final_loss"].shape
    ([0, 1], (2,))
    """
    seeds = [as_positive_int(seed, "seed", minimum=0) for seed in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    rows = [
        summarize_run(
            train_toy(toy_init(task, scale=scale, rng=seed), task, lrs, steps=steps),
            task,
            held_out,
            threshold=threshold,
        )
        for seed in seeds
    ]
    study = {key: np.array([row[key] for row in rows]) for key in rows[0]}  # each (n_seeds,)
    study["seed"] = np.array(seeds)
    return study


def study_table(studies: dict) -> str:
    """A text table of several :func:`seed_study` results: mean ± std over seeds.

    Columns: how many seeds reach a batch loss below the threshold, the steps
    it took (over the seeds that reach it), the final loss, the evidence
    attention and the held-out accuracy.

    Parameters
    ----------
    studies : dict of str to dict
        Row name -> the result of :func:`seed_study`.

    Returns
    -------
    str

    Examples
    --------
    >>> row = {"steps_to_threshold": np.array([40.0, np.nan]), "final_loss": np.array([0.01, 0.5]),
    ...        "evidence_attn": np.array([0.8, 0.4]), "held_out_accuracy": np.array([1.0, 0.7])}
    >>> print(study_table({"two seeds": row}))  # doctest: +NORMALIZE_WHITESPACE
                     reached   steps to       final loss      evidence     held-out
                     L < 0.1   L < 0.1                        attention    accuracy
    two seeds          1/2     40.0 ±  0.0    0.255 ± 0.245   0.60 ± 0.20  0.850 ± 0.150
    """
    if not isinstance(studies, dict) or not studies:
        raise TypeError("studies must be a non-empty dict of row name -> seed_study result")
    width = max(len(name) for name in studies) + 2
    lines = [
        f"{'':{width}s} reached   steps to       final loss      evidence     held-out",
        f"{'':{width}s} L < 0.1   L < 0.1                        attention    accuracy",
    ]
    for name, st in studies.items():
        steps = np.asarray(st["steps_to_threshold"], dtype=float)  # (n_seeds,)
        hit = ~np.isnan(steps)  # (n_seeds,)
        when = f"{np.mean(steps[hit]):5.1f} ± {np.std(steps[hit]):4.1f}" if hit.any() else "   never   "
        lines.append(
            f"{name:{width}s} {hit.sum():3d}/{hit.size:<3d}   {when}   "
            f"{np.mean(st['final_loss']):.3f} ± {np.std(st['final_loss']):.3f}   "
            f"{np.mean(st['evidence_attn']):.2f} ± {np.std(st['evidence_attn']):.2f}  "
            f"{np.mean(st['held_out_accuracy']):.3f} ± {np.std(st['held_out_accuracy']):.3f}"
        )
    return "\n".join(lines)
