"""Full-batch gradient descent on the head: the float64 reference trainer (chapter 7).

Plain and slow on purpose: every step is :func:`attnlib.forward` followed by
:func:`attnlib.backward` and ``W <- W - eta_W dL/dW`` for each matrix with its
own learning rate. This is the "truth" that the fast engine
(:mod:`attnlib.chain.engine`) is tested against. Training returns a
:class:`History`; it never prints or plots.

Step counting (as the authors count): ``losses[t]`` is the loss measured
after ``t`` updates, just before update ``t + 1``; ``final_*`` are measured
after the last update.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .._validate import as_bool, as_float_array, as_float_matrix, as_labels, as_number, as_positive_int
from .entropy import attention_entropy
from .gradients import backward
from .model import Params, forward, loss
from .softmax import log_softmax


#: The paper's two arms, by the one name the whole book gives each (engine, experiments,
#: sweep, plots, chapters): ``"SGD"`` puts one learning rate on every matrix,
#: ``"EM-like"`` puts ``value_ratio`` times it on ``W_V`` (the M-step of the EM reading).
#: Chapter 10's Adam variant uses the same two allocations of its rates, under the same names.
SGD, EM_LIKE = "SGD", "EM-like"
ARMS = (SGD, EM_LIKE)

#: Per-step quantities :func:`train` (and the engine) can record, besides the loss.
RECORDABLE = ("loss", "attn_entropy", "attn_change", "score_grad_norm", "value_grad_norm")


@dataclass(frozen=True)
class LearningRates:
    """One learning rate per weight matrix (plain gradient descent, no momentum).

    Attributes
    ----------
    W_Q, W_K, W_V, W_O : float
        Each finite and ``>= 0``.

    Examples
    --------
    >>> LearningRates.sgd()
    LearningRates(W_Q=0.01, W_K=0.01, W_V=0.01, W_O=0.01)
    >>> LearningRates.em_like()  # the M-step (values) 10x faster
    LearningRates(W_Q=0.01, W_K=0.01, W_V=0.1, W_O=0.01)
    """

    W_Q: float
    W_K: float
    W_V: float
    W_O: float

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, as_number(getattr(self, f.name), f"learning rate {f.name}", minimum=0))

    @classmethod
    def sgd(cls, base: float = 0.01) -> "LearningRates":
        """The SGD arm: ``base`` on all four matrices."""
        return cls(W_Q=base, W_K=base, W_V=base, W_O=base)

    @classmethod
    def em_like(cls, base: float = 0.01, value_ratio: float = 10.0) -> "LearningRates":
        """The EM-like arm: ``value_ratio * base`` on ``W_V`` (the M-step), ``base`` elsewhere."""
        value_ratio = as_number(value_ratio, "value_ratio", minimum=0)
        base = as_number(base, "base", minimum=0)
        return cls(W_Q=base, W_K=base, W_V=value_ratio * base, W_O=base)

    def as_dict(self) -> dict[str, float]:
        """The rates by matrix name, in the order ``W_Q, W_K, W_V, W_O``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Diverged(ValueError):
    """A run's loss stopped being finite: its learning rates are too large for it.

    Raised by the head's trainers (:func:`train`, the engine, the variants) through
    :func:`raise_if_diverged`, in one line naming the run (``who``), the first step
    whose loss is not finite and the learning rates. ``run`` is the run's index
    among the trainer's runs, ``step`` the first update whose loss is not finite
    (``steps`` when only the final forward pass is), ``lrs`` the run's rates.
    """

    def __init__(self, who: str, step: int, lrs, run: int = 0):
        super().__init__(f"{who} diverged: its loss is not finite from step {step} on, with learning rates {lrs}; "
                         "lower them")  # fmt: skip
        self.who, self.step, self.lrs, self.run = who, step, lrs, run

    def retold(self, who: str, *, first_step: int = 0) -> "Diverged":
        """The same divergence told of the run as a caller knows it: named ``who``, its steps counted from ``first_step``.

        Examples
        --------
        >>> err = Diverged("runs[1]", 12, LearningRates.sgd(), run=1)
        >>> str(err.retold("the SGD run of seed 7", first_step=500))[:58]
        'the SGD run of seed 7 diverged: its loss is not finite fro'
        >>> err.retold("the SGD run of seed 7", first_step=500).step
        512
        """
        return Diverged(who, first_step + self.step, self.lrs, self.run)


def raise_if_diverged(who: str, lrs, losses=(), *, first_step: int = 0, after=(), run: int = 0) -> None:
    """Raise :class:`Diverged` if a run's ``losses`` (from step ``first_step`` on) or what came ``after`` them is not finite.

    ``losses`` is a number or an array ``(T,)``: the run's losses at steps
    ``first_step .. first_step + T - 1``. ``after`` is a sequence of arrays computed
    after the last of them (the updated weights, the final logits): a non-finite
    entry there is a loss that is not finite at step ``first_step + T``.

    Examples
    --------
    >>> raise_if_diverged("runs[0]", LearningRates.sgd(), [2.1, 2.0])
    >>> raise_if_diverged("runs[0]", LearningRates.sgd(), [2.1, float("nan")], first_step=10)
    Traceback (most recent call last):
    ...
    attnlib.head.training.Diverged: runs[0] diverged: its loss is not finite from step 11 on, with learning rates LearningRates(W_Q=0.01, W_K=0.01, W_V=0.01, W_O=0.01); lower them
    """
    losses = np.atleast_1d(losses)  # (T,)
    bad = np.flatnonzero(~np.isfinite(losses))  # (k,)
    if bad.size:
        raise Diverged(who, first_step + int(bad[0]), lrs, run)
    if not all(np.all(np.isfinite(a)) for a in after):
        raise Diverged(who, first_step + losses.size, lrs, run)


def arm_rates(arm: str, base: float = 0.01, value_ratio: float = 10.0) -> LearningRates:
    """The learning rates of one of the paper's :data:`ARMS`.

    Examples
    --------
    >>> arm_rates("EM-like")
    LearningRates(W_Q=0.01, W_K=0.01, W_V=0.1, W_O=0.01)
    >>> arm_rates("sgd")
    Traceback (most recent call last):
    ...
    ValueError: arm must be 'SGD' or 'EM-like', got 'sgd'
    """
    if arm == SGD:
        return LearningRates.sgd(base)
    if arm == EM_LIKE:
        return LearningRates.em_like(base, value_ratio)
    raise ValueError(f"arm must be {SGD!r} or {EM_LIKE!r}, got {arm!r}")


@dataclass(frozen=True)
class History:
    r"""What one training run produced.

    Attributes
    ----------
    losses : numpy.ndarray, shape (steps,)
        ``losses[t]``: mean cross-entropy after ``t`` updates, measured just
        before update ``t + 1`` (the authors' convention).
    final_loss : float
        Loss after the last update.
    final_entropy : float
        Mean over positions of the predictive entropy ``-sum_c p_c log p_c``
        (nats), after the last update.
    final_accuracy : float
        Fraction of positions whose argmax prediction is the target.
    params : Params
        The weights after the last update.
    lrs : LearningRates
    attn_entropy : numpy.ndarray, shape (steps,), or None
        Mean over queries of the attention entropy ``-sum_j alpha_ij log alpha_ij``
        (nats), at each step (before its update). Recorded on request.
    attn_change : numpy.ndarray, shape (steps,), or None
        How far update ``t`` moves the attention pattern, seen through what it
        reads: :math:`\sqrt{\tfrac1N\sum_i \|(\alpha_i^{(t+1)} - \alpha_i^{(t)}) X\|^2}`,
        the root mean square over queries of the change of :math:`\alpha_i X`
        (a first-order measure that needs no ``N x N`` matrix to be kept).
    score_grad_norm : numpy.ndarray, shape (steps,), or None
        Frobenius norm ``||dL/dS||`` at each step (chapter 3's routing law).
    value_grad_norm : numpy.ndarray, shape (steps,), or None
        Frobenius norm ``||dL/dV||`` at each step (chapter 4's value law).
    snapshot_steps : numpy.ndarray, shape (n_snap,), or None
        Steps ``t`` (updates applied so far) at which values were saved.
    value_snapshots : numpy.ndarray, shape (n_snap, N, d_v), or None
        ``V = X W_V`` at each snapshot step.
    param_snapshots : tuple of Params, or None
        The four weight matrices at each snapshot step (so anything, e.g. the
        predictive distribution, can be recomputed there).
    """

    losses: np.ndarray
    final_loss: float
    final_entropy: float
    final_accuracy: float
    params: Params
    lrs: LearningRates
    attn_entropy: np.ndarray | None = None
    attn_change: np.ndarray | None = None
    score_grad_norm: np.ndarray | None = None
    value_grad_norm: np.ndarray | None = None
    snapshot_steps: np.ndarray | None = None
    value_snapshots: np.ndarray | None = None
    param_snapshots: tuple | None = None

    @property
    def steps(self) -> int:
        """Number of updates applied."""
        return int(self.losses.shape[0])


# --------------------------------------------------------------------------- shared validation
def check_record(record) -> tuple[str, ...]:
    if isinstance(record, str) or not isinstance(record, (tuple, list, set, frozenset)):
        raise TypeError(f"record must be a tuple of names from {RECORDABLE}, got {record!r}")
    unknown = [name for name in record if name not in RECORDABLE]
    if unknown:
        raise ValueError(f"record may only name {RECORDABLE}, got {unknown[0]!r}")
    return tuple(name for name in RECORDABLE if name in record)


def check_snapshot_every(snapshot_every) -> int | None:
    if snapshot_every is None:
        return None
    return as_positive_int(snapshot_every, "snapshot_every")


def snapshot_steps(steps: int, every: int | None) -> np.ndarray | None:
    """Steps 0, every, 2 every, ... and always the final one."""
    if every is None:
        return None
    return np.unique(np.append(np.arange(0, steps + 1, every), steps))  # (n_snap,)


def predictive_metrics(logits: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Mean cross-entropy, mean predictive entropy (nats) and argmax accuracy.

    Examples
    --------
    >>> predictive_metrics(np.zeros((2, 4)), np.array([0, 1]))  # uniform predictions
    (1.3862943611198906, 1.3862943611198906, 0.5)
    """
    logp = log_softmax(logits)  # (N, C)
    p = np.exp(logp)  # (N, C)
    ce = float(-logp[np.arange(len(y)), y].mean())
    entropy = float(-(p * logp).sum(axis=1).mean())
    accuracy = float((logits.argmax(axis=1) == y).mean())
    return ce, entropy, accuracy


# --------------------------------------------------------------------------- the trainer
def train(
    params: Params,
    X,
    y,
    lrs: LearningRates,
    *,
    steps: int,
    causal: bool = True,
    record=("loss",),
    snapshot_every: int | None = None,
) -> History:
    """Full-batch gradient descent with one learning rate per matrix, in float64.

    Parameters
    ----------
    params : Params
        Initial weights (not modified).
    X : array_like, shape (N, d_x)
    y : array_like of int, shape (N,)
    lrs : LearningRates
    steps : int >= 0
        Number of updates.
    causal : bool, default True
    record : tuple of str, default ("loss",)
        Extra per-step quantities, any of ``"attn_entropy"``, ``"attn_change"``,
        ``"score_grad_norm"``, ``"value_grad_norm"`` (the loss is always kept).
    snapshot_every : int, optional
        Save ``V = X W_V`` and the weights every this many steps (and after
        the last update).

    Returns
    -------
    History

    Notes
    -----
    One step is ``W <- W - eta_W dL/dW`` with the gradients of chapters 1-5
    (eq. ``routing-law`` and ``value-law``); the score and value gradients
    recorded are ``Grads.scores`` and ``Grads.values``.

    Examples
    --------
    >>> from attnlib import init_params
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((12, 4)); y = rng.integers(0, 3, 12)
    >>> h = train(init_params(4, 3, 2, 3, scale=0.5, rng=1), X, y, LearningRates.sgd(0.5), steps=30,
    ...           record=("loss", "attn_entropy"))
    >>> h.losses.shape, h.attn_entropy.shape
    ((30,), (30,))
    >>> bool(h.final_loss < h.losses[0])
    True
    """
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    if not isinstance(lrs, LearningRates):
        raise TypeError(f"lrs must be an attnlib.head.training.LearningRates, got {type(lrs).__name__}")
    X = as_float_matrix(X, "X")
    if X.shape[0] < 1 or X.shape[1] != params.dims["d_x"]:
        raise ValueError(f"X must have shape (N >= 1, {params.dims['d_x']}), got {X.shape}")
    y = as_labels(y, "y", length=X.shape[0], n_classes=params.dims["n_classes"])
    steps = as_positive_int(steps, "steps", minimum=0)
    causal = as_bool(causal, "causal")
    record = check_record(record)
    snap_steps = snapshot_steps(steps, check_snapshot_every(snapshot_every))

    rates = lrs.as_dict()
    losses = np.empty(steps)  # (steps,)
    extras = {name: np.empty(steps) for name in record if name != "loss"}  # each (steps,)
    snapshots, snapshot_params = [], []
    weights = params.as_dict()
    read = None  # (N, d_x)  alpha X before the previous update, for attn_change
    with np.errstate(over="ignore", invalid="ignore"):  # a run that overflows raises Diverged instead
        for t in range(steps):
            current = Params(**weights)
            if snap_steps is not None and t in snap_steps:
                snapshots.append(X @ current.W_V)  # (N, d_v)
                snapshot_params.append(current)
            cache = _forward_or_diverged(current, X, causal, t, lrs)
            losses[t] = loss(cache, y)
            raise_if_diverged(_WHO, lrs, losses[t], first_step=t)
            if "attn_change" in extras:
                read, before = cache.attn @ X, read  # (N, d_x)
                if t > 0:
                    extras["attn_change"][t - 1] = _rms_rows(read - before)
            grads = backward(current, cache, y)
            if "attn_entropy" in extras:
                extras["attn_entropy"][t] = float(attention_entropy(cache.attn).mean())
            if "score_grad_norm" in extras:
                extras["score_grad_norm"][t] = np.linalg.norm(grads.scores)
            if "value_grad_norm" in extras:
                extras["value_grad_norm"][t] = np.linalg.norm(grads.values)
            weights = {name: w - rates[name] * getattr(grads, name) for name, w in weights.items()}
            raise_if_diverged(_WHO, lrs, first_step=t + 1, after=weights.values())
        final = Params(**weights)
        if snap_steps is not None:
            snapshots.append(X @ final.W_V)  # (N, d_v)  after the last update
            snapshot_params.append(final)
        final_cache = _forward_or_diverged(final, X, causal, steps, lrs)
        raise_if_diverged(_WHO, lrs, first_step=steps, after=(final_cache.logits,))
        if "attn_change" in extras and steps > 0:
            extras["attn_change"][steps - 1] = _rms_rows(final_cache.attn @ X - read)
    final_loss, final_entropy, final_accuracy = predictive_metrics(final_cache.logits, y)
    return History(
        losses=losses,
        final_loss=final_loss,
        final_entropy=final_entropy,
        final_accuracy=final_accuracy,
        params=final,
        lrs=lrs,
        attn_entropy=extras.get("attn_entropy"),
        attn_change=extras.get("attn_change"),
        score_grad_norm=extras.get("score_grad_norm"),
        value_grad_norm=extras.get("value_grad_norm"),
        snapshot_steps=snap_steps,
        value_snapshots=None if snap_steps is None else np.stack(snapshots),  # (n_snap, N, d_v)
        param_snapshots=None if snap_steps is None else tuple(snapshot_params),
    )


def _rms_rows(delta) -> float:
    """Root mean square over rows of the rows' Euclidean norms: ``sqrt(mean_i |delta_i|^2)``."""
    return float(np.sqrt(np.mean(np.sum(np.square(delta), axis=-1))))


def first_steps_below(curves, threshold: float) -> np.ndarray:
    """Per curve, the first step ``t`` with ``curves[s, t] < threshold``; ``nan`` if never.

    The authors' convention: ``curves[s, t]`` is the loss after ``t`` updates,
    so the answer is the number of updates it took, counted from 0, and
    "below" is strict. This is the one computation of "steps to a threshold"
    in the package; :func:`steps_to_reach` is its form for one curve.

    Parameters
    ----------
    curves : array_like, shape (S, steps) or (steps,)
    threshold : float

    Returns
    -------
    numpy.ndarray of float, shape (S,) (or a 0-d array for one curve)

    Examples
    --------
    >>> first_steps_below([[3.0, 2.0, 1.0], [3.0, 2.5, 2.1]], 2.0)
    array([ 2., nan])
    >>> float(first_steps_below([1.0, 0.5], 2.0))
    0.0
    """
    curves = as_float_array(curves, "curves")
    if curves.ndim not in (1, 2) or curves.shape[-1] == 0:
        raise ValueError(f"curves must have shape (S, steps) or (steps,) with steps >= 1, got {curves.shape}")
    threshold = as_number(threshold, "threshold")
    below = curves < threshold  # (S, steps)
    first = np.argmax(below, axis=-1).astype(np.float64)  # (S,)  0 also when never: fixed next
    return np.where(below.any(axis=-1), first, np.nan)


def steps_to_reach(losses, threshold: float) -> int | None:
    """The first step whose recorded loss is strictly below ``threshold``, or ``None``.

    :func:`first_steps_below` for one curve, with ``None`` (not ``nan``) for
    "never", as JSON and ``if`` want it. The paper's headline is
    ``steps_to_reach(em.losses, mean of the SGD final losses)``.

    Examples
    --------
    >>> steps_to_reach([3.0, 2.5, 2.0, 1.5], 2.2)
    2
    >>> steps_to_reach([3.0, 2.5], 1.0) is None
    True
    """
    losses = as_float_array(losses, "losses", ndim=1)
    if losses.size == 0:  # no step recorded: nothing was reached
        as_number(threshold, "threshold")
        return None
    step = float(first_steps_below(losses, threshold))
    return None if np.isnan(step) else int(step)


#: How :func:`train` names its run when it diverges.
_WHO = "the run"


def _forward_or_diverged(params: Params, X: np.ndarray, causal: bool, step: int, lrs: LearningRates):
    """:func:`forward` on finite weights; a forward pass that fails because the weights grew past the float range is a divergence."""
    try:
        return forward(params, X, causal=causal)
    except ValueError:
        if step == 0 or not _overflows(params, X):  # the caller's weights, or numbers that fit: a real
            raise  # error, in forward's words
        raise Diverged(_WHO, step, lrs) from None


def _overflows(params: Params, X: np.ndarray) -> bool:
    """Whether the head's scores or logits can leave the float range, even once shifted by their maximum.

    ``|s_ij| <= |q_i| |k_j| / sqrt(d_k)``, and each logit row ``z_i`` is a weighted mean of the rows
    of ``X W_V W_O``; a shifted softmax input ``z - max z`` spans up to twice the largest of them.
    """
    q_max = np.linalg.norm(X @ params.W_Q, axis=1).max()  # max_i |q_i|
    k_max = np.linalg.norm(X @ params.W_K, axis=1).max()  # max_j |k_j|
    z_max = np.abs(X @ params.W_V @ params.W_O).max()  # max_j |x_j W_V W_O|
    return not np.isfinite(2 * max(q_max * k_max / np.sqrt(params.dims["d_k"]), z_max))
