"""Controls and sweeps on top of the sticky-chain engine (chapter 8).

:mod:`attnlib.chain.engine` replays the paper's table; this module sets up and
summarises what the paper does not run: runs with other learning rates, other
chains and fresh sequences. Everything here is either a thin driver of
:class:`attnlib.chain.engine.Engine` (:func:`run_specs`) or a pure function of its
histories. Nothing plots, nothing prints.

Conventions, as in :mod:`attnlib.head.training`: ``losses[t]`` is the loss after
``t`` updates; "steps to reach a threshold" is the first ``t`` with
``losses[t] < threshold`` (strictly), and a run that never gets there counts
as ``nan``. Means and standard deviations over seeds use the population
standard deviation (``ddof=0``), as the authors do.

Dimension names in shape comments: ``S`` seeds of an arm, ``steps`` updates,
``n`` symbols.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from .._validate import as_positive_int, as_seed
from .._device import resolve_device
from ..chain.engine import BatchedEngine, Diverged, Engine
from ..chain.task import ChainConfig, Task
from ..head.gradients import backward
from ..head.model import Params, forward
from ..head.softmax import cross_entropy
from ..head.training import SGD, History, LearningRates, arm_rates, first_steps_below, predictive_metrics
from ..reference import torch_masked_softmax

# --------------------------------------------------------------------------- running many configurations


@dataclass(frozen=True)
class RunSpec:
    """One run of the sticky-chain experiment: an arm, a seed, its rates and its chain.

    Attributes
    ----------
    arm : str
        The group the run belongs to (summaries are per arm, over its seeds):
        one of :data:`attnlib.head.training.ARMS` for the paper's arms, any
        other name for the book's controls.
    seed : int
        Run seed: chain, noise and initial weights, as the authors draw them.
    lrs : LearningRates
    chain : ChainConfig
        The sequence and the initial weights' sizes. Default: the paper's.

    Examples
    --------
    >>> RunSpec("EM-like", 42, LearningRates.em_like(), ChainConfig(T=1000)).chain.N
    999
    """

    arm: str
    seed: int
    lrs: LearningRates
    chain: ChainConfig = field(default_factory=ChainConfig)

    def __post_init__(self):
        if not isinstance(self.arm, str) or not self.arm:
            raise TypeError(f"arm must be a non-empty string, got {self.arm!r}")
        object.__setattr__(self, "seed", as_seed(self.seed, "seed"))
        if not isinstance(self.lrs, LearningRates):
            raise TypeError(f"lrs must be a LearningRates, got {type(self.lrs).__name__}")
        if not isinstance(self.chain, ChainConfig):
            raise TypeError(f"chain must be a ChainConfig, got {type(self.chain).__name__} {self.chain!r:.60}")

    @classmethod
    def paper(cls, seed: int, arm: str, *, base_lr: float = 0.01, value_ratio: float = 10.0,
              chain: ChainConfig | None = None) -> "RunSpec":  # fmt: skip
        """A run of one of the paper's two arms (:func:`attnlib.head.training.arm_rates`)."""
        return cls(arm, seed, arm_rates(arm, base_lr, value_ratio), chain or ChainConfig())


@dataclass(frozen=True)
class RunSet:
    """Runs and their results, grouped by arm (from :func:`run_specs`).

    Attributes
    ----------
    specs : tuple of RunSpec
    histories : tuple of History
        One per spec, in the same order, over all ``steps`` updates.
    tasks : tuple of Task
        The sequence each run trained on, one per spec.
    checkpoint_steps : tuple of int
        Steps ``t`` (updates applied) at which the weights were kept:
        0, the requested checkpoints and the last step for :func:`run_specs`;
        only the last step for :func:`runset_from_sticky_chain`.
    checkpoint_params : tuple of tuple of Params
        ``checkpoint_params[r][k]``: the weights of run ``r`` after
        ``checkpoint_steps[k]`` updates.
    """

    specs: tuple
    histories: tuple
    tasks: tuple
    checkpoint_steps: tuple = ()
    checkpoint_params: tuple = ()

    @property
    def arms(self) -> tuple[str, ...]:
        """Arm names in the order they first appear."""
        return tuple(dict.fromkeys(s.arm for s in self.specs))

    def _index(self, arm: str) -> list[int]:
        index = [i for i, s in enumerate(self.specs) if s.arm == arm]
        if not index:
            raise KeyError(f"no runs of arm {arm!r}; arms are {list(self.arms)}")
        return index

    def seeds(self, arm: str) -> tuple[int, ...]:
        """The seeds of ``arm``, in run order."""
        return tuple(self.specs[i].seed for i in self._index(arm))

    def runs(self, arm: str) -> list[tuple[RunSpec, History, Task]]:
        """``(spec, history, task)`` of every run of ``arm``."""
        return [(self.specs[i], self.histories[i], self.tasks[i]) for i in self._index(arm)]

    def losses(self, arm: str) -> np.ndarray:
        """Loss curves of ``arm``, shape ``(S, steps)``."""
        return np.stack([self.histories[i].losses for i in self._index(arm)])  # (S, steps)

    def params_at(self, arm: str, k: int = -1) -> list[Params]:
        """The weights of every run of ``arm`` at checkpoint ``k`` (default: the last)."""
        return [self.checkpoint_params[i][k] for i in self._index(arm)]

    def final(self, arm: str, metric: str = "final_loss") -> np.ndarray:
        """``final_loss``, ``final_entropy`` or ``final_accuracy`` of each run of ``arm``, ``(S,)``."""
        if metric not in ("final_loss", "final_entropy", "final_accuracy"):
            raise ValueError(f"metric must be final_loss, final_entropy or final_accuracy, got {metric!r}")
        return np.array([getattr(self.histories[i], metric) for i in self._index(arm)])  # (S,)


def run_specs(
    specs: Sequence[RunSpec],
    *,
    steps: int,
    checkpoints: Sequence[int] = (),
    record=("loss",),
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    backend: str = "auto",
    device: str = "cpu",
) -> RunSet:
    """Train every run of ``specs`` with the engine, all at once.

    Each spec's sequence is ``spec.chain.task(spec.seed)`` (sampled once and
    shared by the specs that name the same one); its initial weights are
    ``spec.chain.initial_params(spec.seed)``, so every arm of a seed starts
    from the same point, as in the paper.

    Parameters
    ----------
    specs : sequence of RunSpec
        All must give chains of the same length (the engine batches them).
    steps : int
    checkpoints : sequence of int, optional
        Steps in ``(0, steps)`` after which to keep every run's weights
        (step 0 and the last step are always kept). The engine is run in
        segments between them; plain gradient descent has no state besides
        the weights, so the losses are the same as in one run.
    record, progress, workers, backend
        As for :meth:`attnlib.chain.engine.Engine.run` and
        :class:`attnlib.chain.engine.Engine`; ``progress`` is called with the
        number of steps done so far, over all segments.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where the arithmetic runs (:func:`attnlib._device.resolve_device`):
        ``"cpu"`` is the CPU engine; on CUDA every run advances in one
        :class:`attnlib.chain.engine.BatchedEngine` (the loss is then the only
        record). ``backend="batched"`` asks for that program on the CPU too.

    Returns
    -------
    RunSet

    Examples
    --------
    >>> specs = [RunSpec.paper(s, arm, chain=ChainConfig(T=40)) for s in (1, 2) for arm in ("SGD", "EM-like")]
    >>> runs = run_specs(specs, steps=3, checkpoints=[1])
    >>> runs.arms, runs.seeds("EM-like"), runs.losses("SGD").shape, runs.checkpoint_steps
    (('SGD', 'EM-like'), (1, 2), (2, 3), (0, 1, 3))
    >>> bool(np.array_equal(runs.losses("SGD")[:, 0], runs.losses("EM-like")[:, 0]))  # same start
    True
    """
    if isinstance(specs, RunSpec) or not isinstance(specs, Sequence) or len(specs) == 0:
        raise TypeError(f"specs must be a non-empty sequence of RunSpec, got {specs!r:.60}")
    for i, spec in enumerate(specs):
        if not isinstance(spec, RunSpec):
            raise TypeError(f"specs[{i}] must be a RunSpec, got {type(spec).__name__}")
    keys = [(s.arm, s.seed) for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError("specs must not repeat an (arm, seed) pair")
    steps = as_positive_int(steps, "steps", minimum=0)
    if isinstance(checkpoints, (str, bytes)) or not isinstance(checkpoints, Sequence):
        raise TypeError(f"checkpoints must be a sequence of steps, got {checkpoints!r}")
    for c in checkpoints:
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or not 0 < c < steps:
            raise ValueError(f"checkpoints must be integers in (0, {steps}), got {c!r}")
    make_engine = _engine_maker(device, backend, workers)
    bounds = sorted({0, steps, *(int(c) for c in checkpoints)})  # segment ends (just [0] if steps == 0)
    tasks: dict = {}
    inits: dict = {}
    for spec in specs:
        key = (spec.seed, spec.chain)
        if key not in tasks:
            tasks[key] = spec.chain.task(spec.seed)
            inits[key] = spec.chain.initial_params(spec.seed)
    run_tasks = [tasks[(s.seed, s.chain)] for s in specs]
    current = [inits[(s.seed, s.chain)] for s in specs]
    kept = [[p] for p in current]  # per run, the weights at each bound
    segments = []  # per segment, one History per run
    for start, stop in zip(bounds[:-1], bounds[1:]):
        runs = [(t.X, t.y, p, s.lrs) for s, t, p in zip(specs, run_tasks, current)]
        report = None if progress is None else (lambda t, start=start: progress(start + t))
        engine = make_engine(runs)
        try:
            histories = engine.run(stop - start, record=record, progress=report)
        except Diverged as err:
            spec = specs[err.run]
            raise err.retold(f"the {spec.arm} run of seed {spec.seed}", first_step=start) from None
        segments.append(histories)
        current = [h.params for h in histories]
        for r, p in enumerate(current):
            kept[r].append(p)
    if steps == 0:  # no segment ran: the initial weights are the whole story
        joined = Engine([(t.X, t.y, p, s.lrs) for s, t, p in zip(specs, run_tasks, current)], workers=1).run(0)
        kept = [k[:1] for k in kept]
    elif len(segments) == 1:
        joined = segments[0]
    else:
        joined = tuple(_join([seg[r] for seg in segments]) for r in range(len(specs)))
    return RunSet(
        specs=tuple(specs),
        histories=tuple(joined),
        tasks=tuple(run_tasks),
        checkpoint_steps=tuple(bounds),
        checkpoint_params=tuple(tuple(k) for k in kept),
    )


def _engine_maker(device: str, backend: str, workers: int | None) -> Callable:
    """``runs -> engine``: the CPU :class:`Engine`, or :class:`BatchedEngine` on CUDA or with ``backend="batched"``."""
    where = resolve_device(device)
    if backend == "batched" or where.name == "cuda":
        if backend not in ("auto", "batched"):
            raise ValueError(f"backend {backend!r} is a CPU engine's; on device {where.name!r} use 'auto' or 'batched'")
        return lambda runs: BatchedEngine(runs, device=where.name)
    return lambda runs: Engine(runs, workers=workers, backend=backend)


def _join(parts: list[History]) -> History:
    """One History from consecutive segments (per-step arrays concatenated, finals from the last)."""
    last = parts[-1]

    def cat(name):
        arrays = [getattr(h, name) for h in parts]
        return None if arrays[0] is None else np.concatenate(arrays)

    return History(
        losses=cat("losses"),
        final_loss=last.final_loss,
        final_entropy=last.final_entropy,
        final_accuracy=last.final_accuracy,
        params=last.params,
        lrs=last.lrs,
        attn_entropy=cat("attn_entropy"),
        attn_change=cat("attn_change"),
        score_grad_norm=cat("score_grad_norm"),
        value_grad_norm=cat("value_grad_norm"),
    )


# --------------------------------------------------------------------------- the headline metric
@dataclass(frozen=True)
class SpeedUp:
    """How fast ``arm`` reaches the mean final loss of ``baseline`` (from :func:`speedup`).

    Attributes
    ----------
    arm, baseline : str
    threshold : float
        Mean over the baseline's seeds of its final loss.
    steps_per_seed : numpy.ndarray, shape (S,)
        First step below the threshold for each seed of ``arm`` (``nan``: never).
    mean, std : float
        Over the seeds that reach it (population std); ``nan`` if none does.
    n_reached : int
    speedup : float
        ``horizon / mean`` (``nan`` if no seed reaches it).
    horizon : int
        Steps of the baseline's runs.
    """

    arm: str
    baseline: str
    threshold: float
    steps_per_seed: np.ndarray
    mean: float
    std: float
    n_reached: int
    speedup: float
    horizon: int


def speedup(runs: RunSet, arm: str, baseline: str = SGD) -> SpeedUp:
    """The paper's headline for any pair of arms of a :class:`RunSet`.

    ``threshold`` = mean over seeds of the baseline's final loss; for each
    seed of ``arm``, the first step its loss falls below it; ``speedup`` =
    the baseline's number of steps divided by the mean of those steps.

    Examples
    --------
    >>> specs = [RunSpec.paper(s, arm, base_lr=0.05, chain=ChainConfig(T=60))
    ...          for s in (42, 7) for arm in ("SGD", "EM-like")]
    >>> s = speedup(run_specs(specs, steps=40), "EM-like")
    >>> s.steps_per_seed.shape, s.n_reached, s.horizon
    ((2,), 2, 40)
    >>> bool(s.speedup > 1)
    True
    """
    threshold = float(runs.final(baseline).mean())
    steps = first_steps_below(runs.losses(arm), threshold)  # (S,)
    reached = steps[np.isfinite(steps)]  # (k,)
    horizon = int(runs.losses(baseline).shape[1])
    mean = float(reached.mean()) if reached.size else float("nan")
    std = float(reached.std()) if reached.size else float("nan")  # population std
    ratio = horizon / mean if reached.size and mean > 0 else float("nan")
    return SpeedUp(arm, baseline, threshold, steps, mean, std, int(reached.size), ratio, horizon)


def paired_speedups(runs: RunSet, arm: str, baseline: str = SGD) -> np.ndarray:
    """Per seed: baseline steps / steps ``arm`` needs to reach *that seed's* final baseline loss.

    The paper's threshold is one number for all seeds (the mean final SGD
    loss). Pairing each seed with its own baseline run removes the spread
    between seeds from the comparison. ``nan`` where ``arm`` never gets there.

    Returns
    -------
    numpy.ndarray, shape (S,)

    Examples
    --------
    >>> specs = [RunSpec.paper(s, arm, base_lr=0.05, chain=ChainConfig(T=60))
    ...          for s in (42, 7) for arm in ("SGD", "EM-like")]
    >>> runs = run_specs(specs, steps=30)
    >>> paired_speedups(runs, "EM-like").shape, paired_speedups(runs, "SGD").tolist()  # nothing beats itself
    ((2,), [nan, nan])
    """
    if runs.seeds(arm) != runs.seeds(baseline):
        raise ValueError(f"arms {arm!r} and {baseline!r} must have the same seeds in the same order")
    targets = runs.final(baseline)  # (S,)
    curves = runs.losses(arm)  # (S, steps)
    steps = np.array([float(first_steps_below(c, t)) for c, t in zip(curves, targets)])  # (S,)
    horizon = runs.losses(baseline).shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(steps), horizon / steps, np.nan)  # inf if already below at step 0


def plus_minus(mean, std, digits: int, *, missing: str = "never reached") -> str:
    """``"mean ± std"`` at ``digits`` decimals, or ``missing`` where there is no mean (``None`` or ``nan``).

    The one formatter of a spread in the package's tables.

    Examples
    --------
    >>> plus_minus(430.0, 143.0, 0), plus_minus(float("nan"), None, 1)
    ('430 ± 143', 'never reached')
    """
    if mean is None or not np.isfinite(mean):
        return missing
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_speedups(rows: Sequence[tuple[str, SpeedUp]], *, extra: Mapping[str, Sequence[str]] | None = None) -> str:
    """A text table of :class:`SpeedUp` results, one row per labelled arm.

    Parameters
    ----------
    rows : sequence of (label, SpeedUp)
    extra : dict column name -> one string per row, optional
        More columns, printed after the steps.

    Examples
    --------
    >>> row = SpeedUp("EM-like", "SGD", 2.0, np.array([400.0, np.nan]), 400.0, 0.0, 1, 2.5, 1000)
    >>> print(format_speedups([("EM-like", row)]))
    arm        steps per seed       mean ± std     reached  speed-up
    EM-like    400, never           400.0 ± 0.0    1/2      2.50x
    """
    extra = dict(extra or {})
    for name, column in extra.items():
        if len(column) != len(rows):
            raise ValueError(f"extra column {name!r} must have {len(rows)} entries, got {len(column)}")
    per_seed = [", ".join("never" if not np.isfinite(v) else f"{v:.0f}" for v in sp.steps_per_seed) for _, sp in rows]
    label_w = max(len("arm"), *(len(label) for label, _ in rows)) + 2
    seeds_w = max(len("steps per seed"), *(len(p) for p in per_seed)) + 2
    head = f"{'arm':{label_w}s}{'steps per seed':{seeds_w}s}{'mean ± std':15s}{'reached':9s}{'speed-up':>8s}"
    head += "".join(f"  {name}" for name in extra)
    lines = [head]
    for r, ((label, sp), seeds) in enumerate(zip(rows, per_seed)):
        stats = plus_minus(sp.mean, sp.std, 1, missing="never")
        ratio = "—" if not np.isfinite(sp.speedup) else f"{sp.speedup:.2f}x"
        reached = f"{sp.n_reached}/{len(sp.steps_per_seed)}"
        line = f"{label:{label_w}s}{seeds:{seeds_w}s}{stats:15s}{reached:9s}{ratio:>8s}"
        line += "".join(f"  {column[r]:>{len(name)}s}" for name, column in extra.items())
        lines.append(line.rstrip())
    return "\n".join(lines)


# --------------------------------------------------------------------------- controls and held-out data
def matched_sgd_rate(params: Params, X, y, lrs: LearningRates, *, match: str = "length") -> float:
    r"""One learning rate for all four matrices that matches the first step of ``lrs``.

    With per-matrix rates :math:`\eta_W` and gradients :math:`g_W = \partial L/\partial W`
    at ``params`` (float64, :func:`attnlib.backward`), a single rate :math:`\eta` gives

    * ``match="length"``: an update of the same Frobenius length,
      :math:`\eta = \sqrt{\sum_W \eta_W^2 \lVert g_W\rVert^2 / \sum_W \lVert g_W\rVert^2}`;
    * ``match="decrease"``: the same first-order decrease of the loss,
      :math:`\eta = \sum_W \eta_W \lVert g_W\rVert^2 / \sum_W \lVert g_W\rVert^2`.

    Both are averages of the rates weighted by the squared gradient norms (a
    root-mean-square and a mean); the first is never smaller than the second.

    Notes
    -----
    Chapter 8, eqs. ``sticky-first-order`` and ``sticky-matched``.

    Examples
    --------
    >>> from attnlib import init_params
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((9, 4)); y = rng.integers(0, 3, 9); p = init_params(4, 3, 2, 3, scale=0.5, rng=1)
    >>> matched_sgd_rate(p, X, y, LearningRates.sgd(0.02))
    0.02
    >>> em = LearningRates.em_like(0.01, 10.0)
    >>> length, decrease = (matched_sgd_rate(p, X, y, em, match=m) for m in ("length", "decrease"))
    >>> bool(0.01 < decrease < length < 0.1)
    True
    """

    if not isinstance(lrs, LearningRates):
        raise TypeError(f"lrs must be a LearningRates, got {type(lrs).__name__}")
    if match not in ("length", "decrease"):
        raise ValueError(f"match must be 'length' or 'decrease', got {match!r}")
    rates = lrs.as_dict()
    sq = _squared_gradient_norms(params, X, y)
    total = sum(sq.values())
    if match == "length":
        eta = float(np.sqrt(sum(rates[n] ** 2 * sq[n] for n in rates) / total))
    else:
        eta = float(sum(rates[n] * sq[n] for n in rates) / total)
    return round(eta, 12)  # an exact rate when all rates are equal (0.02, not 0.020000000000000004)


def gradient_shares(params: Params, X, y) -> dict[str, float]:
    r"""Each matrix's share :math:`\lVert g_W\rVert^2 / \sum_{W'} \lVert g_{W'}\rVert^2` of the squared gradient norm at ``params``.

    By eq. ``sticky-first-order`` (chapter 8), multiplying the rates of some matrices by
    :math:`r` multiplies the first-order decrease of a step by :math:`1 + (r - 1) \times`
    their summed share. Keys ``W_Q, W_K, W_V, W_O``, in that order; float64 gradients
    (:func:`attnlib.backward`).

    Examples
    --------
    >>> from attnlib import init_params
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((9, 4)); y = rng.integers(0, 3, 9); p = init_params(4, 3, 2, 3, scale=0.5, rng=1)
    >>> shares = gradient_shares(p, X, y)
    >>> list(shares), round(sum(shares.values()), 12)
    (['W_Q', 'W_K', 'W_V', 'W_O'], 1.0)
    """
    sq = _squared_gradient_norms(params, X, y)
    total = sum(sq.values())
    return {name: v / total for name, v in sq.items()}


def _squared_gradient_norms(params: Params, X, y) -> dict[str, float]:
    """``||dL/dW||^2`` of every matrix at ``params`` (float64); an error if every gradient is zero."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    grads = backward(params, forward(params, X), y)
    sq = {name: float(np.sum(getattr(grads, name) ** 2)) for name in ("W_Q", "W_K", "W_V", "W_O")}
    if sum(sq.values()) == 0.0:
        raise ValueError("every gradient is zero at params: no share and no step to match")
    return sq


def loss_along(params: Params, X, y, direction: Mapping[str, np.ndarray], *, causal: bool = True):
    r"""The loss along a straight line in weight space, in NumPy and in torch.

    ``f(eps) = L(W - eps * direction_W for every W)``, with ``eps`` an array of
    shape ``(1,)``. The torch twin rewrites the head with torch operations (it
    shares no code with :mod:`attnlib.head.gradients`), so autograd's ``df/deps``
    and finite differences are two independent references for a claimed
    directional derivative.

    Returns
    -------
    (f, f_torch) : callables of an array (a float64 tensor for ``f_torch``) of shape (1,)

    Notes
    -----
    Chapter 8, eq. ``sticky-first-order``: with ``direction_W = eta_W dL/dW``,
    ``df/deps`` at 0 is ``-sum_W eta_W ||dL/dW||^2``.

    Examples
    --------
    >>> from attnlib import init_params, forward, backward, loss
    >>> from attnlib.reference import check_gradient
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((6, 4)); y = rng.integers(0, 3, 6); p = init_params(4, 3, 2, 3, scale=0.8, rng=1)
    >>> g = backward(p, forward(p, X), y)
    >>> f, f_torch = loss_along(p, X, y, {"W_V": g.W_V})
    >>> bool(np.isclose(f(np.zeros(1)), loss(forward(p, X), y)))
    True
    >>> check_gradient("dL/deps", [-np.sum(g.W_V**2)], f, np.zeros(1), f_torch=f_torch).passed
    True
    """

    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    weights = params.as_dict()
    if not isinstance(direction, Mapping) or not set(direction) <= set(weights):
        raise ValueError(f"direction must map some of {list(weights)} to arrays, got {direction!r:.60}")
    steps = {name: np.asarray(direction.get(name, np.zeros_like(w)), dtype=float) for name, w in weights.items()}
    for name, d in steps.items():
        if d.shape != weights[name].shape:
            raise ValueError(f"direction[{name!r}] must have shape {weights[name].shape}, got {d.shape}")
    cache = forward(params, X, causal=causal)  # validates X
    mask, d_k = cache.mask, params.dims["d_k"]

    def f(eps):
        e = float(np.asarray(eps, dtype=float).reshape(-1)[0])
        moved = Params(**{n: weights[n] - e * steps[n] for n in weights})
        return cross_entropy(forward(moved, X, causal=causal).logits, y)

    def f_torch(eps):
        import torch

        e = eps.reshape(-1)[0]
        W = {n: torch.tensor(weights[n]) - e * torch.tensor(steps[n]) for n in weights}
        Xt = torch.tensor(np.asarray(X, dtype=float))  # (N, d_x)
        q, k, v = Xt @ W["W_Q"], Xt @ W["W_K"], Xt @ W["W_V"]  # (N, d_k), (N, d_k), (N, d_v)
        alpha = torch_masked_softmax(q @ k.T / d_k**0.5, mask)  # (N, N)
        z = alpha @ v @ W["W_O"]  # (N, C)
        return torch.nn.functional.cross_entropy(z, torch.tensor(np.asarray(y), dtype=torch.long))

    return f, f_torch


def heldout_metrics(params: Params, task: Task) -> tuple[float, float, float]:
    """Mean cross-entropy, mean predictive entropy (nats) and accuracy of ``params`` on ``task``.

    A float64 forward pass (causal). Use a ``task`` the params were not
    trained on to measure out-of-sample performance; with the training task
    it reproduces ``History.final_*`` (up to the engine's float32 rounding).

    Examples
    --------
    >>> task = ChainConfig(T=30).task(5)
    >>> loss, entropy, acc = heldout_metrics(ChainConfig(T=30).initial_params(5), task)
    >>> round(loss, 1), round(entropy, 1)  # near log 8 = 2.08 at the small initial weights
    (2.1, 2.1)
    """
    if not isinstance(params, Params):
        raise TypeError(f"params must be an attnlib.Params, got {type(params).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be an attnlib.Task, got {type(task).__name__}")
    return predictive_metrics(forward(params, task.X).logits, task.y)


#: Weight sets evaluated per engine call in :func:`evaluate`.
_EVAL_CHUNK = 32


def evaluate(params: Sequence[Params], tasks) -> np.ndarray:
    """Loss, predictive entropy and accuracy of many weight sets, with the engine's forward pass.

    Parameters
    ----------
    params : sequence of Params
    tasks : Task or sequence of Task
        One task for all, or one per weight set; all of one length.

    Returns
    -------
    numpy.ndarray, shape (R, 3)
        Columns: mean cross-entropy, mean predictive entropy (nats), accuracy.
        Float32 forward passes (:meth:`attnlib.chain.engine.Engine.run` with 0
        steps); :func:`heldout_metrics` is the float64 reference.

    Examples
    --------
    >>> task = ChainConfig(T=30).task(5)
    >>> p = ChainConfig(T=30).initial_params(5)
    >>> m = evaluate([p, p], task)
    >>> m.shape, bool(np.allclose(m[0], heldout_metrics(p, task), rtol=1e-5))
    ((2, 3), True)
    """

    if isinstance(params, Params) or not isinstance(params, Sequence) or len(params) == 0:
        raise TypeError("params must be a non-empty sequence of Params")
    tasks = [tasks] * len(params) if isinstance(tasks, Task) else list(tasks)
    if len(tasks) != len(params) or not all(isinstance(t, Task) for t in tasks):
        raise ValueError(f"tasks must be one Task or {len(params)} of them")
    runs = [(t.X, t.y, p, LearningRates.sgd()) for p, t in zip(params, tasks)]
    histories = []
    for start in range(0, len(runs), _EVAL_CHUNK):  # bounded memory: the engine's buffers grow with runs
        histories += Engine(runs[start : start + _EVAL_CHUNK], workers=1).run(0)
    return np.array([[h.final_loss, h.final_entropy, h.final_accuracy] for h in histories])  # (R, 3)


def heldout_curves(runs: RunSet, arm: str, tasks_for) -> np.ndarray:
    """Mean held-out loss of every run of ``arm`` at every checkpoint.

    Parameters
    ----------
    runs : RunSet
    arm : str
    tasks_for : callable
        ``tasks_for(spec)`` -> sequence of :class:`Task`, the fresh sequences
        of that run (same chain as it trained on, other seeds).

    Returns
    -------
    numpy.ndarray, shape (S, K)
        The loss averaged over the run's held-out tasks, at
        ``runs.checkpoint_steps``.

    Examples
    --------
    >>> specs = [RunSpec("SGD", s, LearningRates.sgd(0.5), ChainConfig(T=30)) for s in (1, 2)]
    >>> runs = run_specs(specs, steps=4, checkpoints=[2])
    >>> fresh = [ChainConfig(T=30).task(s) for s in (7, 8)]
    >>> heldout_curves(runs, "SGD", lambda spec: fresh).shape
    (2, 3)
    """
    pairs = []
    for spec, _, _ in runs.runs(arm):
        held = list(tasks_for(spec))
        if not held:
            raise ValueError(f"tasks_for gave no task for seed {spec.seed}")
        pairs.append(held)
    flat_p, flat_t, owner = [], [], []  # one engine call for everything
    for r, i in enumerate(runs._index(arm)):
        for k, p in enumerate(runs.checkpoint_params[i]):
            for t in pairs[r]:
                flat_p.append(p)
                flat_t.append(t)
                owner.append((r, k))
    losses = evaluate(flat_p, flat_t)[:, 0]  # (R * K * n_tasks,)
    S, K = len(pairs), len(runs.checkpoint_steps)
    total, count = np.zeros((S, K)), np.zeros((S, K))
    for (r, k), value in zip(owner, losses):
        total[r, k] += value
        count[r, k] += 1
    return total / count  # (S, K)
