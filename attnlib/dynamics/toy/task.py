"""The toy task of chapter 6: every sequence of N tokens over C symbols, encoded, with its targets."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
import numpy as np

from ..._validate import as_generator, as_positive_int
from ...head.model import Params, init_params


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
    if rng is None:
        raise TypeError("rng must be an int seed or a numpy Generator, got None (the split must be reproducible)")
    chosen = np.zeros(tokens.shape[0], dtype=bool)  # (M,)
    chosen[as_generator(rng).choice(tokens.shape[0], size=n_train, replace=False)] = True
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
    check_task(task)
    return init_params(task.d_x, d_k, d_v, task.n_classes, scale=scale, rng=rng)


def check_task(task) -> None:
    if not isinstance(task, ToyTask):
        raise TypeError(f"task must be an attnlib.dynamics.toy.ToyTask (see toy_task), got {type(task).__name__}")


def check_fit(params: Params, task: ToyTask) -> None:
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    dims = params.dims
    if dims["d_x"] != task.d_x or dims["n_classes"] != task.n_classes:
        raise ValueError(
            f"params have d_x = {dims['d_x']}, C = {dims['n_classes']}; the task needs d_x = {task.d_x}, "
            f"C = {task.n_classes}"
        )
