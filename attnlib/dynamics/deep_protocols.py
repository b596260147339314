r"""The deep variant under the book's protocols: what it takes for it to learn the chain (chapter 11).

The authors' deep run (:func:`attnlib.dynamics.deep.train_deep`) trains on one
sequence and memorises it. This module trains the same model with the same
optimiser (AdamW, cosine decay, clipping at norm 1, dropout on) and changes one
thing at a time, as a :class:`DeepProtocol` says:

* **the data**: the authors' one training sequence (``pool=1``), a pool of
  ``K`` sequences visited one per step in turn (the authors' sequence first,
  the others drawn by :func:`attnlib.chain.task.sample_sequences`), or a fresh
  sequence at every step (``pool=None``);
* **the rate of the value projections** (``value_ratio``): the EM-like
  allocation of chapters 7 and 8, the value projections ``W_V`` of every block
  (weights and biases) at ``value_ratio`` times the rate of everything else.

Every run records, with dropout off, a curve of its held-out scores: the
cross-entropy, the predictive entropy, the accuracy, the KL divergence from the
exact Bayesian predictor of chapter 9 (:func:`attnlib.chain.bayes.mean_kl`),
and the loss on a third, validation sequence, which :func:`early_stopping` uses.

**Randomness.** Everything follows from the run seed ``s``: the training and
held-out sequences and the initial weights as the authors draw them, then the
dropout masks from the same stream (so ``pool=1, value_ratio=1`` is the
authors' protocol, which a test checks against ``train_deep``); the validation
sequence is the chain drawn for seed ``s + VALIDATION_OFFSET``; the extra
training sequences come from ``numpy.random.default_rng((s, DATA_STREAM))``.
Several seeds train at once (weights stacked along a first axis), each exactly
as if it were alone: its own masks, its own gradient clipping.

Dimension names in shape comments: ``R`` runs (seeds), ``N`` positions, ``C``
classes, ``K`` points of the curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._threads import single_torch_thread
from .._validate import as_number, as_positive_int, as_seed
from ..chain.bayes import bayes_predictive_for, mean_kl
from ..chain.task import ChainConfig, sample_sequences
from ..head.training import first_steps_below
from .deep import AUTHORS_EVAL_EVERY, HELD_OUT_OFFSET, DeepConfig, deep_logits, deep_predictive, init_deep_weights

#: The validation sequence of run seed ``s`` (for early stopping) is the chain drawn for seed ``s + VALIDATION_OFFSET``.
VALIDATION_OFFSET = 20_000

#: Second entry of the numpy seed ``(s, DATA_STREAM)`` of the extra training sequences of run seed ``s``.
DATA_STREAM = 1

# Fresh sequences are drawn this many steps ahead, in one call per run (the draws depend on it).
_FRESH_CHUNK = 50

#: What the held-out curve of :class:`DeepHistory` records, at each of its steps.
CURVE_METRICS = ("loss", "entropy", "accuracy", "kl_bayes", "validation_loss")


@dataclass(frozen=True)
class DeepProtocol:
    """One way of training the deep variant; the defaults are the authors' protocol.

    Attributes
    ----------
    pool : int or None, default 1
        How many distinct training sequences the run sees: 1 is the authors'
        one sequence (full batch, every step); ``K`` visits ``K`` sequences
        one per step in turn; ``None`` draws a fresh sequence at every step.
    value_ratio : float, default 1.0
        Rate of the value projections over the rate of everything else (10
        for the EM-like arm).

    Examples
    --------
    >>> DeepProtocol().name, DeepProtocol(pool=None, value_ratio=10).name
    ('one sequence', 'fresh sequences, values 10x')
    >>> DeepProtocol(pool=0)
    Traceback (most recent call last):
    ...
    ValueError: pool must be >= 1, got 0
    """

    pool: int | None = 1
    value_ratio: float = 1.0

    def __post_init__(self):
        if self.pool is not None:
            object.__setattr__(self, "pool", as_positive_int(self.pool, "pool"))
        object.__setattr__(self, "value_ratio", as_number(self.value_ratio, "value_ratio", minimum=0))

    @property
    def name(self) -> str:
        """A short label: the data, then the value rate when it is not 1."""
        data = {None: "fresh sequences", 1: "one sequence"}.get(self.pool, f"a pool of {self.pool} sequences")
        return data if self.value_ratio == 1 else f"{data}, values {self.value_ratio:g}x"


@dataclass(frozen=True)
class DeepHistory:
    """Several seeds of the deep variant under one protocol (from :func:`train_protocol`).

    Attributes
    ----------
    seeds : tuple of int
    protocol : DeepProtocol
    config : DeepConfig
    chain : ChainConfig
    train_losses : numpy.ndarray, shape (R, steps)
        Each run's training loss before each update (dropout on).
    curve_steps : numpy.ndarray, shape (K,)
        The steps at which the held-out curve was measured (0 is the initial model).
    curve : dict name -> numpy.ndarray, shape (R, K)
        The :data:`CURVE_METRICS`, measured with dropout off: ``loss``,
        ``entropy`` (nats), ``accuracy`` and ``kl_bayes`` on the held-out
        sequence, ``validation_loss`` on the validation sequence.
    bayes_loss : numpy.ndarray, shape (R,)
        The Bayesian predictor's cross-entropy on each held-out sequence.
    H_min : float
        The chain's entropy rate (nats).
    weights : dict name -> numpy.ndarray
        The final weights, stacked per run: shape ``(R, ...)`` with the names
        and shapes of :func:`attnlib.dynamics.deep.init_deep_weights`.
    initial_weights : dict name -> numpy.ndarray
        The weights before the first update, stacked the same way.
    """

    seeds: tuple
    protocol: DeepProtocol
    config: DeepConfig
    chain: ChainConfig
    train_losses: np.ndarray
    curve_steps: np.ndarray
    curve: dict
    bayes_loss: np.ndarray
    H_min: float
    weights: dict
    initial_weights: dict = field(default_factory=dict)

    def final(self, name: str) -> np.ndarray:
        """The last point of curve ``name`` for every run, shape ``(R,)``."""
        if name not in self.curve:
            raise ValueError(f"name must be one of {CURVE_METRICS}, got {name!r}")
        return self.curve[name][:, -1]

    def best(self, name: str = "loss") -> tuple[np.ndarray, np.ndarray]:
        """The lowest point of curve ``name`` for every run and the step where it lies, each ``(R,)``.

        An oracle's choice (it looks at the held-out sequence itself): the
        honest version is :func:`early_stopping`.
        """
        values = self.curve[name] if name in self.curve else self.final(name)  # (R, K); final() names the error
        at = values.argmin(axis=1)  # (R,)
        return values[np.arange(len(at)), at], self.curve_steps[at]


# --------------------------------------------------------------------------- training
def _weights_of(seeds, config: DeepConfig, chain: ChainConfig):
    """Per seed: the authors' sequences, the validation sequence, and the authors' stream after the initial weights."""
    import torch

    tasks, streams, weights = [], [], []
    for seed in seeds:
        train, test = chain.task(seed), chain.task(seed + HELD_OUT_OFFSET)
        stream = torch.Generator()
        stream.set_state(torch.from_numpy(test.generator_state.copy()))  # where the authors' stream stands now
        weights.append(init_deep_weights(config, train.d_x, train.n_symbols, stream))
        tasks.append((train, test, chain.task(seed + VALIDATION_OFFSET)))
        streams.append(stream)
    stacked = {name: torch.stack([w[name].detach() for w in weights]).requires_grad_(True) for name in weights[0]}
    return tasks, streams, stacked  # stacked: name -> (R, ...)


def _clip_per_run(W: dict, clip: float) -> None:
    """``torch.nn.utils.clip_grad_norm_`` applied to each run on its own (the runs are stacked on axis 0)."""
    import torch

    grads = [w.grad for w in W.values()]
    R = grads[0].shape[0]
    norms = torch.sqrt(sum((g.reshape(R, -1) ** 2).sum(dim=1) for g in grads))  # (R,)
    coef = torch.clamp(clip / (norms + 1e-6), max=1.0)  # (R,)  torch's formula, per run
    for g in grads:
        g.mul_(coef.view(R, *[1] * (g.dim() - 1)))


def train_protocol(
    seeds,
    protocol: DeepProtocol | None = None,
    *,
    steps: int = 1000,
    config: DeepConfig | None = None,
    chain: ChainConfig | None = None,
    curve_every: int = 10,
) -> DeepHistory:
    """Train the deep variant for several seeds at once under ``protocol``; record the held-out curve.

    Parameters
    ----------
    seeds : sequence of int
        Distinct run seeds.
    protocol : DeepProtocol, optional
        Default: the authors' (one sequence, one rate).
    steps : int, default 1000
    config : DeepConfig, optional
        Default: the authors' sizes.
    chain : ChainConfig, optional
        The sequences (default: the paper's, ``T = 2000``).
    curve_every : int, default 10
        Measure the held-out curve at step 0, every ``curve_every`` steps and
        at the last step.

    Returns
    -------
    DeepHistory

    Examples
    --------
    >>> h = train_protocol([42, 7], DeepProtocol(pool=None), steps=4, curve_every=2,
    ...                    config=DeepConfig(d_model=8, n_layers=1, n_heads=2), chain=ChainConfig(T=30))
    >>> h.train_losses.shape, h.curve_steps.tolist(), h.curve["kl_bayes"].shape
    ((2, 4), [0, 2, 4], (2, 3))
    """
    if isinstance(seeds, (int, np.integer)) or not len(seeds):
        raise TypeError(f"seeds must be a non-empty sequence of seeds, got {seeds!r}")
    seeds = tuple(as_seed(s, "seeds") for s in seeds)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    protocol = DeepProtocol() if protocol is None else protocol
    config = DeepConfig() if config is None else config
    chain = ChainConfig() if chain is None else chain
    for name, value, kind in (("protocol", protocol, DeepProtocol), ("config", config, DeepConfig),
                              ("chain", chain, ChainConfig)):  # fmt: skip
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    steps = as_positive_int(steps, "steps")
    curve_every = as_positive_int(curve_every, "curve_every")
    with single_torch_thread():  # small tensors: one thread is about as fast, and robust on a shared machine
        return _train(seeds, protocol, steps, config, chain, curve_every)


def _train(seeds, protocol: DeepProtocol, steps: int, config: DeepConfig, chain: ChainConfig, curve_every: int):
    """:func:`train_protocol` once its arguments are checked."""
    import torch
    import torch.nn.functional as nnf

    tasks, streams, W = _weights_of(seeds, config, chain)
    initial = {name: w.detach().numpy().copy() for name, w in W.items()}  # each (R, ...)
    R = len(seeds)
    as_x = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32))  # noqa: E731  (..., N, d_x) float32
    X_auth = as_x(np.stack([t[0].X for t in tasks]))  # (R, N, d_x)  the authors' training sequences
    y_auth = torch.from_numpy(np.stack([t[0].y for t in tasks]))  # (R, N)
    X_test, X_val = as_x(np.stack([t[1].X for t in tasks])), as_x(np.stack([t[2].X for t in tasks]))  # (R, N, d_x)
    y_test = np.stack([t[1].y for t in tasks])  # (R, N)
    y_val = np.stack([t[2].y for t in tasks])  # (R, N)
    bayes = [bayes_predictive_for(t[1]) for t in tasks]  # R x (N, C)
    data_rngs = [np.random.default_rng((s, DATA_STREAM)) for s in seeds]
    pool = None
    if protocol.pool is not None and protocol.pool > 1:  # the authors' sequence, then pool - 1 drawn ones
        drawn = [sample_sequences(t[0], protocol.pool - 1, g) for t, g in zip(tasks, data_rngs)]
        pool = (torch.cat([X_auth[:, None], as_x(np.stack([d[0] for d in drawn]))], dim=1),  # (R, pool, N, d_x)
                torch.cat([y_auth[:, None], torch.from_numpy(np.stack([d[1] for d in drawn]))], dim=1))  # (R, pool, N)

    fresh: list = []

    def batch(t: int):
        if protocol.pool == 1:
            return X_auth, y_auth
        if pool is not None:
            return pool[0][:, t % protocol.pool], pool[1][:, t % protocol.pool]
        if t % _FRESH_CHUNK == 0:  # the next _FRESH_CHUNK steps' sequences of every run, in one draw per run
            drawn = [sample_sequences(task[0], min(_FRESH_CHUNK, steps - t), g) for task, g in zip(tasks, data_rngs)]
            fresh[:] = [as_x(np.stack([d[0] for d in drawn])), torch.from_numpy(np.stack([d[1] for d in drawn]))]
        return fresh[0][:, t % _FRESH_CHUNK], fresh[1][:, t % _FRESH_CHUNK]  # (R, N, d_x), (R, N)

    values = [w for name, w in W.items() if ".v." in name]  # every block's value projection, weight and bias
    others = [w for name, w in W.items() if ".v." not in name]
    optimizer = torch.optim.AdamW(
        [{"params": others}, {"params": values, "lr": config.lr * protocol.value_ratio}],
        lr=config.lr, weight_decay=config.weight_decay,
    )  # fmt: skip
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    losses = np.empty((R, steps))  # (R, steps)
    curve_steps, curve = [], {name: [] for name in CURVE_METRICS}

    def measure(t: int):
        probs = deep_predictive(W, X_test, config)  # (R, N, C)
        val = deep_predictive(W, X_val, config)  # (R, N, C)
        rows = np.arange(probs.shape[1])  # (N,)
        curve_steps.append(t)
        curve["loss"].append([-np.log(p[rows, y]).mean() for p, y in zip(probs, y_test)])
        curve["entropy"].append([-(p * np.log(p, out=np.zeros_like(p), where=p > 0)).sum(axis=1).mean() for p in probs])
        curve["accuracy"].append([(p.argmax(axis=1) == y).mean() for p, y in zip(probs, y_test)])
        curve["kl_bayes"].append([mean_kl(q, p) for q, p in zip(bayes, probs)])
        curve["validation_loss"].append([-np.log(p[rows, y]).mean() for p, y in zip(val, y_val)])

    measure(0)
    for t in range(steps):
        X, y = batch(t)  # (R, N, d_x), (R, N)
        optimizer.zero_grad()
        logits = deep_logits(W, X, config, streams)  # (R, N, C)
        per_run = nnf.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
        per_run = per_run.view(R, -1).mean(dim=1)  # (R,)
        per_run.sum().backward()  # each run's gradient is its own loss's
        _clip_per_run(W, config.clip)
        optimizer.step()
        schedule.step()
        losses[:, t] = per_run.detach().numpy()
        with torch.no_grad():
            if (t + 1) % AUTHORS_EVAL_EVERY == 0:  # the authors' mid-run evaluation draws masks: keep the stream
                deep_logits(W, X_auth, config, streams)
                deep_logits(W, X_test, config, streams)
        if (t + 1) % curve_every == 0 or t + 1 == steps:
            measure(t + 1)
    return DeepHistory(
        seeds=seeds,
        protocol=protocol,
        config=config,
        chain=chain,
        train_losses=losses,
        curve_steps=np.array(curve_steps),
        curve={name: np.array(v, dtype=float).T for name, v in curve.items()},  # each (R, K)
        bayes_loss=np.array([-np.log(q[np.arange(len(y)), y]).mean() for q, y in zip(bayes, y_test)]),
        H_min=float(tasks[0][0].H_min),
        weights={name: w.detach().numpy().copy() for name, w in W.items()},  # each (R, ...)
        initial_weights=initial,
    )


# --------------------------------------------------------------------------- reading the histories
def early_stopping(history: DeepHistory) -> dict:
    """Stop each run where its validation loss is lowest, and read its held-out scores there.

    The validation sequence is not the held-out one, so the choice does not
    peek at what it is scored on. Ties go to the earliest step.

    Returns
    -------
    dict name -> numpy.ndarray, shape (R,)
        ``step`` (the chosen step) and every curve metric at that step.

    Examples
    --------
    >>> h = train_protocol([3], steps=4, curve_every=1, config=DeepConfig(d_model=8, n_layers=1, n_heads=2),
    ...                    chain=ChainConfig(T=30))
    >>> stop = early_stopping(h)
    >>> bool(stop["validation_loss"][0] == h.curve["validation_loss"][0].min())
    True
    """
    if not isinstance(history, DeepHistory):
        raise TypeError(f"history must be a DeepHistory, got {type(history).__name__}")
    at = history.curve["validation_loss"].argmin(axis=1)  # (R,)  first minimum
    runs = np.arange(len(at))  # (R,)
    return {"step": history.curve_steps[at], **{name: v[runs, at] for name, v in history.curve.items()}}


def curve_steps_below(history: DeepHistory, threshold: float, name: str = "loss") -> np.ndarray:
    """For every run, the first curve step at which curve ``name`` is strictly below ``threshold`` (``nan``: never).

    Chapter 8's measure of speed (:func:`attnlib.head.training.first_steps_below`),
    read on the held-out curve, so to within its ``curve_every`` steps.

    Returns
    -------
    numpy.ndarray of float, shape (R,)

    Examples
    --------
    >>> h = train_protocol([3], steps=2, curve_every=1, config=DeepConfig(d_model=8, n_layers=1, n_heads=2),
    ...                    chain=ChainConfig(T=30))
    >>> curve_steps_below(h, 100.0).tolist(), curve_steps_below(h, 0.0).tolist()
    ([0.0], [nan])
    """
    if not isinstance(history, DeepHistory):
        raise TypeError(f"history must be a DeepHistory, got {type(history).__name__}")
    values = history.curve[name] if name in history.curve else history.final(name)  # (R, K); final() names the error
    at = first_steps_below(values, threshold)  # (R,)  index into the curve, nan: never
    reached = np.isfinite(at)  # (R,)
    return np.where(reached, history.curve_steps[np.where(reached, at, 0).astype(int)], np.nan).astype(float)


def format_protocols(histories, *, digits: int = 3) -> str:
    """One line per protocol: the final held-out loss, entropy and KL to Bayes, mean ± std over its seeds.

    Examples
    --------
    >>> h = train_protocol([3, 4], steps=2, config=DeepConfig(d_model=8, n_layers=1, n_heads=2),
    ...                    chain=ChainConfig(T=30))
    >>> print(format_protocols([h]).splitlines()[0])
    Deep variant (1 layers, 2 heads, d_model 8, N = 29), 2 steps, seeds 3, 4; held-out scores, dropout off, nats
    """
    from .experiments import plus_minus

    if isinstance(histories, DeepHistory) or not histories or not all(isinstance(h, DeepHistory) for h in histories):
        raise TypeError("histories must be a non-empty sequence of DeepHistory")
    first, c = histories[0], histories[0].config
    width = max(len(h.protocol.name) for h in histories) + 2
    cell = 2 * digits + 8
    lines = [
        f"Deep variant ({c.n_layers} layers, {c.n_heads} heads, d_model {c.d_model}, N = {first.chain.N}), "
        f"{first.train_losses.shape[1]} steps, seeds {', '.join(map(str, first.seeds))}; "
        "held-out scores, dropout off, nats",
        f"H_min {first.H_min:.{digits}f}, Bayes {first.bayes_loss.mean():.{digits}f} ± "
        f"{first.bayes_loss.std():.{digits}f}, uniform guess {math.log(first.chain.n_symbols):.{digits}f}",
        f"{'protocol':{width}s}" + "".join(f"{h:>{cell}s}" for h in ("train loss", "held-out loss", "entropy",
                                                                      "KL to Bayes")),  # fmt: skip
    ]
    for h in histories:
        cols = [h.train_losses[:, -1], h.final("loss"), h.final("entropy"), h.final("kl_bayes")]
        lines.append(f"{h.protocol.name:{width}s}" + "".join(
            f"{plus_minus(v.mean(), v.std(), digits):>{cell}s}" for v in cols))  # fmt: skip
    return "\n".join(lines)
