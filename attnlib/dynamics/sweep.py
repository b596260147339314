r"""The grid of chapter 10: variants x arms x seeds on the reduced sticky chain.

One function, :func:`run_sweep`, trains every run (with
:func:`attnlib.dynamics.variants.train_variants`, float64 torch autograd) and
measures it; the notebook calls it on a documented subset and
``python -m attnlib sweep`` on the whole grid, so the chapter's numbers are
a slice of the command's. :func:`summarize_sweep` turns the result into a
JSON-able dict, :func:`format_sweep` into a text table. Nothing here plots.

The protocol (chapter 7's reduced sticky chain): per seed one sequence of
``T = 150`` states (``N = 149`` positions), the authors' initial weights
for the single-head parts (:func:`attnlib.chain.task.authors_initial_params`),
full-batch training for 1000 steps, two arms:

* ``"SGD"``: the base rate on every matrix (the paper's SGD arm; with the
  Adam variant, Adam with that one rate on every matrix);
* ``"EM-like"``: ``value_ratio`` times the base rate on ``W_V`` (the
  M-step of the EM reading), the base rate elsewhere.

The two names are :data:`attnlib.head.training.ARMS`, the book's one vocabulary.

The base rate is 0.01 for SGD and ``3e-5`` for Adam: an Adam step moves every
entry by about its rate, and ``3e-5`` gives a first step of about the length
of SGD's first step at 0.01 (chapter 10 measures this).

Measurements per run (chapter 7's and chapter 8's definitions, reused):
settling step, tail change and growth (:func:`attnlib.dynamics.timescales.timescale_metrics`)
of the attention entropy, ``||dL/dS||``, ``||dL/dV||`` and the loss; per
variant, the paper's speed-up (:func:`attnlib.dynamics.experiments.speedup`) and the
paired one (:func:`attnlib.dynamics.experiments.paired_speedups`); the diversity of
the error signals at initialisation
(:func:`attnlib.dynamics.variants.error_signal_diversity`) and the specialisation of
the values after training (:func:`attnlib.dynamics.diagnostics.effective_dimension`
of the PCA of the value change, and the spread of
:func:`attnlib.laws.responsibility.column_usage`).

Dimension names in shape comments: ``S`` seeds, ``N`` positions, ``d_v``.
"""

from __future__ import annotations

import numbers
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from .._device import resolve_device
from .._threads import single_torch_thread
from .._validate import as_number, as_positive_int
from ..laws.responsibility import column_usage
from .diagnostics import effective_dimension, value_pca
from .timescales import QUANTITIES, timescale_metrics
from ..chain.task import ChainConfig
from .experiments import RunSet, RunSpec, format_speedups, paired_speedups, plus_minus, speedup
from ..head.training import ARMS, EM_LIKE, RECORDABLE, SGD, Diverged, LearningRates, arm_rates
from .variants import (
    OPTIMIZERS,
    VariantHistory,
    VariantSpec,
    error_signal_diversity,
    grouped_chain,
    init_variant_params,
    train_variants,
    variant_state,
)


#: Seeds of the command's default grid: the paper's five.
DEFAULT_SEEDS = (42, 2024, 1337, 7777, 9999)


@dataclass(frozen=True)
class Variant:
    """A named point of the grid: a model/optimiser spec and a task.

    Attributes
    ----------
    name : str
        The name the command line uses.
    spec : VariantSpec
    n_groups : int
        Target groups of :func:`attnlib.dynamics.variants.grouped_chain` (8: the sticky
        chain itself).
    about : str
        One line for ``--help``.
    """

    name: str
    spec: VariantSpec
    n_groups: int = 8
    about: str = ""


#: Every variant the sweep knows, by name.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("baseline", VariantSpec(), 8, "the single head of chapters 7-8"),
        Variant("layernorm", VariantSpec(value_norm=True), 8, "(a) LayerNorm on the values, no gain or bias"),
        Variant("residual", VariantSpec(residual=True), 8, "(b) o_i + x_i W_R, W_R learned"),
        Variant("heads-2", VariantSpec(n_heads=2), 8, "(c) 2 heads splitting the authors' columns"),
        Variant("heads-5", VariantSpec(n_heads=5), 8, "(c) 5 heads (d_k = 2, d_v = 3 each)"),
        Variant("adam", VariantSpec(optimizer="adam"), 8, "(d) Adam with per-matrix rates"),
        Variant("targets-1", VariantSpec(), 1, "(e) all targets merged: identical error signals"),
        Variant("targets-2", VariantSpec(), 2, "(e) targets merged into 2 groups"),
        Variant("targets-4", VariantSpec(), 4, "(e) targets merged into 4 groups"),
        Variant("dropout-0.1", VariantSpec(attn_dropout=0.1), 8, "(f) attention dropout 0.1, masks seeded by the run's seed"),
        Variant("dropout-0.3", VariantSpec(attn_dropout=0.3), 8, "(f) attention dropout 0.3, masks seeded by the run's seed"),
    )
}

#: Shorthands the command line accepts.
GROUPS = {
    "all": tuple(VARIANTS),
    "diversity": ("targets-1", "targets-2", "targets-4", "baseline"),
    "dropout": ("baseline", "dropout-0.1", "dropout-0.3"),
}


def resolve_variants(names: Sequence[str]) -> tuple[str, ...]:
    """Variant names with the shorthands ``all`` and ``diversity`` expanded, duplicates dropped.

    Examples
    --------
    >>> resolve_variants(["residual", "diversity"])
    ('residual', 'targets-1', 'targets-2', 'targets-4', 'baseline')
    >>> resolve_variants(["lauernorm"])
    Traceback (most recent call last):
    ...
    ValueError: unknown variant 'lauernorm'; choose from baseline, layernorm, residual, heads-2, ..., all, diversity, dropout
    """
    if isinstance(names, str) or not isinstance(names, Sequence) or len(names) == 0:
        raise TypeError(f"variants must be a non-empty sequence of names, got {names!r}")
    out = []
    for name in names:
        if name in GROUPS:
            out.extend(GROUPS[name])
        elif name in VARIANTS:
            out.append(name)
        else:
            known = ", ".join([*VARIANTS, *GROUPS])
            raise ValueError(f"unknown variant {name!r}; choose from {known}")
    return tuple(dict.fromkeys(out))


def count_batches(variants: Sequence[str]) -> int:
    """How many batches :func:`run_sweep` trains: one per distinct spec (the progress total is this x steps).

    Examples
    --------
    >>> count_batches(["baseline", "targets-2", "residual"])  # targets-2 shares the baseline's spec
    2
    """
    return len({VARIANTS[name].spec for name in resolve_variants(variants)})


def base_rates(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """The SGD arm's rate for every optimiser: :data:`~attnlib.dynamics.variants.OPTIMIZERS`' own, or ``overrides``.

    Examples
    --------
    >>> base_rates()
    {'sgd': 0.01, 'adam': 3e-05}
    >>> base_rates({"adam": 1e-4})["adam"]
    0.0001
    """
    rates = {name: o.base_lr for name, o in OPTIMIZERS.items()}
    for name, rate in dict(overrides or {}).items():
        if name not in OPTIMIZERS:
            raise ValueError(f"base rates are given per optimiser, one of {tuple(OPTIMIZERS)}; got {name!r}")
        rates[name] = as_number(rate, f"base rate of {name}", minimum=0)
    return rates


def variant_rates(spec: VariantSpec, arm: str, *, base_lrs: Mapping[str, float] | None = None,
                  value_ratio: float = 10.0) -> LearningRates:  # fmt: skip
    """The learning rates of an arm for a variant: its optimiser's base rate, through :func:`~attnlib.head.training.arm_rates`.

    Examples
    --------
    >>> variant_rates(VariantSpec(), "EM-like")
    LearningRates(W_Q=0.01, W_K=0.01, W_V=0.1, W_O=0.01)
    >>> variant_rates(VariantSpec(optimizer="adam"), "SGD").W_V
    3e-05
    """
    return arm_rates(arm, base_rates(base_lrs)[spec.optimizer], value_ratio)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class SweepRun:
    """One trained run and its measurements.

    Attributes
    ----------
    variant, arm : str
    seed : int
    history : VariantHistory
    timescales : dict
        :func:`attnlib.dynamics.timescales.timescale_metrics` of the four :data:`QUANTITIES`.
    diversity : dict
        :func:`attnlib.dynamics.variants.error_signal_diversity` of the error signals
        at the initial weights (the same for both arms of a seed).
    specialisation : dict
        ``"value_change_dim"``: effective dimension (95% of the variance) of
        the change of the values the attention mixes, first to last step;
        ``"value_dim_start"``, ``"value_dim_end"``: the same for the values
        themselves; ``"usage_spread_start"``, ``"usage_spread_end"``:
        :func:`usage_spread` of the attention.
    """

    variant: str
    arm: str
    seed: int
    history: VariantHistory
    timescales: dict
    diversity: dict
    specialisation: dict


@dataclass(frozen=True)
class SweepResult:
    """Everything :func:`run_sweep` produced.

    Attributes
    ----------
    variants : tuple of str
    seeds : tuple of int
    config : dict
        ``steps, T, N, base_lrs`` (per optimiser) ``, value_ratio``.
    runs : tuple of SweepRun
        Ordered by variant, then seed, then arm.
    h_min : dict
        Variant name -> entropy rate of its task (nats).
    """

    variants: tuple
    seeds: tuple
    config: dict
    runs: tuple
    h_min: dict = field(default_factory=dict)

    def get(self, variant: str, arm: str, seed: int) -> SweepRun:
        """The run of one ``(variant, arm, seed)``."""
        for run in self.runs:
            if (run.variant, run.arm, run.seed) == (variant, arm, seed):
                return run
        raise KeyError(f"no run ({variant!r}, {arm!r}, {seed}) in this sweep")

    def select(self, variant: str, arm: str) -> list[SweepRun]:
        """The runs of one variant and arm, in seed order."""
        return [self.get(variant, arm, s) for s in self.seeds]

    def curves(self, variant: str, arm: str, quantity: str = "loss") -> np.ndarray:
        """One recorded curve (a key of :data:`QUANTITIES`) of every seed, shape ``(S, steps)``."""
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {list(QUANTITIES)}, got {quantity!r}")
        return np.stack([getattr(r.history, QUANTITIES[quantity]) for r in self.select(variant, arm)])  # (S, steps)

    def settle(self, variant: str, arm: str) -> dict[str, np.ndarray]:
        """Settling step of each quantity and seed: ``{quantity: (S,)}``."""
        runs = self.select(variant, arm)
        return {q: np.array([r.timescales[q]["settle"] for r in runs]) for q in QUANTITIES}  # each (S,)

    def per_seed(self, variant: str, arm: str, key: str) -> np.ndarray:
        """A number per seed: ``"final_loss"``, ``"frame_lead"``, or a key of ``diversity`` or ``specialisation``."""
        runs = self.select(variant, arm)
        if key == "final_loss":
            return np.array([r.history.final_loss for r in runs])  # (S,)
        if key == "frame_lead":
            return np.array([frame_lead(r.timescales) for r in runs])  # (S,)
        for field_name in ("diversity", "specialisation"):
            if key in getattr(runs[0], field_name):
                return np.array([getattr(r, field_name)[key] for r in runs], dtype=float)  # (S,)
        raise KeyError(f"unknown per-seed quantity {key!r}")


def usage_spread(alpha) -> float:
    r"""How unevenly the keys are used: the coefficient of variation of :func:`~attnlib.laws.responsibility.column_usage`.

    For attention of shape ``(H, N, N)`` (or ``(N, N)``), the column sums
    :math:`c_j = \sum_i \alpha_{ij}` of each head, pooled:
    :math:`\operatorname{std}(c) / \operatorname{mean}(c)`. A few keys that
    take most of the attention give a large spread.

    Examples
    --------
    >>> round(usage_spread(np.eye(3)), 6)  # every key used once
    0.0
    >>> round(usage_spread(np.array([[1.0, 0.0], [1.0, 0.0]])), 6)
    1.0
    """
    alpha = np.asarray(alpha, dtype=float)
    heads = alpha.reshape(-1, *alpha.shape[-2:])  # (H, N, N)
    usage = np.concatenate([column_usage(a) for a in heads])  # (H N,)
    return float(usage.std() / usage.mean())


def frame_lead(timescales: Mapping[str, Mapping[str, float]]) -> float:
    r"""How many steps earlier the frame settles than the precision, from chapter 7's settling steps.

    .. math::

        \text{lead} = \tfrac12\bigl(t_{10}(\lVert\partial L/\partial V\rVert) + t_{10}(L)\bigr)
        - \tfrac12\bigl(t_{10}(\bar H_\alpha) + t_{10}(\lVert\partial L/\partial S\rVert)\bigr) .

    Positive: attention and routing settle first (the paper's
    frame-precision dissociation); negative: the values and the loss settle
    first; near zero: no ordering.

    Examples
    --------
    >>> m = {"attention entropy": {"settle": 100}, "||dL/dS||": {"settle": 200},
    ...      "||dL/dV||": {"settle": 800}, "loss": {"settle": 900}}
    >>> frame_lead(m)
    700.0
    """
    t = {label: float(timescales[label]["settle"]) for label in QUANTITIES}
    return (t["||dL/dV||"] + t["loss"]) / 2 - (t["attention entropy"] + t["||dL/dS||"]) / 2


def first_step_gain(grads: Mapping[str, np.ndarray], *, optimizer: str = "sgd", value_ratio: float = 10.0) -> float:
    r"""How much more the EM-like arm's first step lowers the loss than the SGD arm's, to first order.

    Chapter 8 (eq. ``sticky-first-order``): a step :math:`-\eta_W g_W` lowers the loss
    by :math:`\sum_W \eta_W \lVert g_W\rVert_F^2`, so multiplying the rate of
    :math:`W_V` by :math:`r` multiplies the first decrease by
    :math:`1 + (r - 1)\,\lVert g_V\rVert^2 / \sum_W \lVert g_W\rVert^2`. Adam's
    first step is :math:`-\eta_W\, \operatorname{sign}(g_W)` (eq. ``beyond-adam-first``),
    which lowers the loss by :math:`\sum_W \eta_W \lVert g_W\rVert_1`: the same
    formula with :math:`L^1` norms.

    Parameters
    ----------
    grads : mapping name -> array
        The gradient of every trained matrix at the initial weights (``W_R``
        included for a residual).
    optimizer : str
        A key of :data:`~attnlib.dynamics.variants.OPTIMIZERS` (``"sgd"``, ``"adam"``).
    value_ratio : float

    Examples
    --------
    >>> g = {"W_Q": np.ones(2), "W_K": np.ones(2), "W_V": np.ones(2), "W_O": np.ones(2)}
    >>> first_step_gain(g)  # W_V holds a quarter of the squared norm: 1 + 9/4
    3.25
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}, got {optimizer!r}")
    size = {name: OPTIMIZERS[optimizer].first_decrease(g) for name, g in grads.items()}
    return 1.0 + (value_ratio - 1.0) * size["W_V"] / sum(size.values())


def _specialisation(history: VariantHistory, X, y) -> dict:
    start = variant_state(history.initial, X, y, history.spec)
    end = variant_state(history.final_params, X, y, history.spec)
    dims = {}
    for key, V in (("value_change_dim", end["values"] - start["values"]),
                   ("value_dim_start", start["values"]), ("value_dim_end", end["values"])):  # fmt: skip
        try:
            dims[key] = effective_dimension(value_pca(V).explained_variance_ratio)
        except ValueError:  # no variance at all (e.g. nothing moved)
            dims[key] = 0
    dims["usage_spread_start"] = usage_spread(start["attn"])
    dims["usage_spread_end"] = usage_spread(end["attn"])
    return dims


def run_sweep(
    variants: Sequence[str] = ("baseline",),
    *,
    seeds: Sequence[int] = (42, 2024, 1337),
    steps: int = 1000,
    T: int = 150,
    base_lrs: Mapping[str, float] | None = None,
    value_ratio: float = 10.0,
    progress: Callable[[int], None] | None = None,
    device: str = "cpu",
    workers: int | None = None,
) -> SweepResult:
    """Train and measure every (variant, arm, seed) of the grid.

    Parameters
    ----------
    variants : sequence of str
        Names of :data:`VARIANTS` (or the shorthands ``all``, ``diversity``).
    seeds : sequence of int
        Run seeds: sequence, noise and initial weights as the authors draw them.
    steps : int, default 1000
    T : int, default 150
        Chain length; ``N = T - 1`` positions.
    base_lrs : mapping optimiser name -> float, optional
        The SGD arm's rate per optimiser, overriding the optimisers' own
        (:func:`base_rates`: 0.01 for gradient descent, ``3e-5`` for Adam).
    value_ratio : float, default 10
        The EM-like arm's factor on ``W_V``.
    progress : callable, optional
        ``progress(t)`` with the total number of steps done so far, over all
        batches (runs with the same spec are trained together, one batch per
        spec); the total is ``steps`` times the number of distinct specs.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where each batch is trained (:func:`attnlib.dynamics.variants.train_variants`);
        the measurements after training run on the CPU.
    workers : int, optional
        How many batches train side by side, in threads of this process (torch
        releases the GIL in its kernels). Default: one per core on the CPU, at
        most the number of batches; 1 on a GPU. The results do not depend on it:
        every batch has its own weights, and its own dropout generators.

    Returns
    -------
    SweepResult

    Examples
    --------
    >>> result = run_sweep(["baseline", "targets-2"], seeds=[42], steps=120, T=40)
    >>> [(r.variant, r.arm) for r in result.runs]
    [('baseline', 'SGD'), ('baseline', 'EM-like'), ('targets-2', 'SGD'), ('targets-2', 'EM-like')]
    >>> r = result.get("targets-2", "EM-like", 42)
    >>> r.history.losses.shape, sorted(r.timescales), round(r.diversity["mean_cosine"], 2)
    ((120,), ['attention entropy', 'loss', '||dL/dS||', '||dL/dV||'], 0.56)
    """
    names = resolve_variants(variants)
    resolve_device(device)  # a bad device fails before any training
    if isinstance(seeds, (str, bytes, numbers.Number)) or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty sequence of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    seeds = tuple(int(s) for s in seeds)
    steps = as_positive_int(steps, "steps", minimum=0)
    T = as_positive_int(T, "T", minimum=3)
    rates = {"base_lrs": base_rates(base_lrs), "value_ratio": as_number(value_ratio, "value_ratio", minimum=0)}
    if steps <= 100:
        raise ValueError(f"steps must be > 100 (the tail change looks back 100 steps), got {steps}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {progress!r}")
    if workers is not None:
        workers = as_positive_int(workers, "workers")

    tasks = {(name, s): grouped_chain(s, VARIANTS[name].n_groups, T=T) for name in names for s in seeds}
    by_spec: dict[VariantSpec, list] = {}
    for name in names:
        spec = VARIANTS[name].spec
        for s in seeds:
            params = init_variant_params(spec, s)
            task = tasks[name, s]
            for arm in ARMS:
                problem = (task.X, task.y, params, variant_rates(spec, arm, **rates))
                by_spec.setdefault(spec, []).append((name, arm, s, problem))

    histories = {}
    for jobs, trained in zip(by_spec.values(), _train_batches(by_spec, steps, progress, device, workers)):
        for (name, arm, s, _), history in zip(jobs, trained):
            histories[name, arm, s] = history

    runs = []
    for name in names:
        for s in seeds:
            task = tasks[name, s]
            start = variant_state(histories[name, ARMS[0], s].initial, task.X, task.y, VARIANTS[name].spec)
            diversity = error_signal_diversity(start["upstream"])
            for arm in ARMS:
                h = histories[name, arm, s]
                curves = {label: getattr(h, f) for label, f in QUANTITIES.items()}
                runs.append(SweepRun(name, arm, s, h, timescale_metrics(curves), diversity,
                                     _specialisation(h, task.X, task.y)))  # fmt: skip
    config = {"steps": steps, "T": T, "N": T - 1, **rates}
    h_min = {name: tasks[name, seeds[0]].H_min for name in names}
    return SweepResult(variants=names, seeds=seeds, config=config, runs=tuple(runs), h_min=h_min)


def _train_batches(by_spec: Mapping[VariantSpec, list], steps: int, progress, device: str,
                   workers: int | None) -> list[tuple]:  # fmt: skip
    """Train one batch per spec (``by_spec``: spec -> jobs ``(name, arm, seed, problem)``), several at once.

    Returns the histories of each batch, in the order of ``by_spec``. The
    problems are built before any thread starts (drawing weights moves torch's
    global generator, which threads would interleave). ``progress`` receives
    the total number of steps done over all batches.
    """
    batches = list(by_spec.items())
    if workers is None:
        workers = 1 if resolve_device(device).name != "cpu" else (os.cpu_count() or 1)
    workers = min(workers, len(batches))
    done = [0] * len(batches)  # steps done per batch
    lock = threading.Lock()

    def report(index: int, t: int) -> None:
        with lock:
            done[index] = t
            progress(sum(done))

    def train(index: int) -> tuple:
        spec, jobs = batches[index]
        seeds = [seed for _, _, seed, _ in jobs] if spec.attn_dropout > 0 else None  # each run's own masks
        try:
            return train_variants([job[3] for job in jobs], spec, steps=steps, record=RECORDABLE,
                                  progress=None if progress is None else (lambda t: report(index, t)),
                                  dropout_seeds=seeds, device=device)  # fmt: skip
        except Diverged as err:
            name, arm, seed, _ = jobs[err.run]
            raise err.retold(f"the {arm} run of {name}, seed {seed},") from None

    # the largest batches first, so that the threads finish together
    order = sorted(range(len(batches)), key=lambda i: -len(batches[i][1]))
    with single_torch_thread(), ThreadPoolExecutor(workers) as pool:  # one torch thread per batch
        trained = dict(zip(order, pool.map(train, order)))
    return [trained[i] for i in range(len(batches))]


# --------------------------------------------------------------------------- summaries
def variant_runset(result: SweepResult, variant: str) -> RunSet:
    """The runs of one variant as an :class:`attnlib.dynamics.experiments.RunSet` (arms ``SGD``, ``EM-like``).

    So chapter 8's :func:`~attnlib.dynamics.experiments.speedup`,
    :func:`~attnlib.dynamics.experiments.paired_speedups` and
    :func:`~attnlib.dynamics.experiments.format_speedups` apply unchanged.
    """
    if variant not in result.variants:
        raise KeyError(f"no variant {variant!r} in this sweep; it has {list(result.variants)}")
    specs, histories, tasks = [], [], []
    for arm in ARMS:
        for run in result.select(variant, arm):
            specs.append(RunSpec(arm, run.seed, run.history.lrs, ChainConfig(T=result.config["T"])))
            histories.append(run.history)
            tasks.append(None)
    return RunSet(specs=tuple(specs), histories=tuple(histories), tasks=tuple(tasks),
                  checkpoint_steps=(result.config["steps"],),
                  checkpoint_params=tuple((h.params,) for h in histories))  # fmt: skip


def _stats(values) -> dict:
    values = np.asarray(values, dtype=float)  # (S,)
    ok = values[np.isfinite(values)]
    if ok.size == 0:
        return {"mean": None, "std": None, "per_seed": [None] * values.size}
    return {"mean": float(ok.mean()), "std": float(ok.std()),
            "per_seed": [float(v) if np.isfinite(v) else None for v in values]}  # fmt: skip


def summarize_sweep(result: SweepResult, *, curves: bool = True) -> dict:
    """A JSON-able report: every run (spec, seed, arm, finals, curves, timescales) and a summary per variant.

    Parameters
    ----------
    result : SweepResult
    curves : bool, default True
        Include the per-step curves of every run (``False`` keeps the report small).

    Returns
    -------
    dict
        ``config``, ``seeds``, ``variants``, ``runs`` (a list) and ``summary``
        (variant -> speed-up, paired speed-ups, per-arm final loss and
        settling steps, frame lead, diversity, specialisation; means and
        population standard deviations over seeds).

    Examples
    --------
    >>> result = run_sweep(["baseline"], seeds=[42, 7], steps=150, T=40)
    >>> report = summarize_sweep(result, curves=False)
    >>> len(report["runs"]), sorted(report["summary"]["baseline"])[:4]
    (4, ['arms', 'diversity', 'em_steps_to_sgd', 'h_min'])
    """
    runs_out = []
    for run in result.runs:
        h = run.history
        entry = {
            "variant": run.variant,
            "spec": h.spec.as_dict() | {"n_groups": VARIANTS[run.variant].n_groups},
            "seed": run.seed,
            "arm": run.arm,
            "lrs": h.lrs.as_dict(),
            "final": {"loss": h.final_loss, "entropy": h.final_entropy, "accuracy": h.final_accuracy},
            "timescales": run.timescales,
            "frame_lead": frame_lead(run.timescales),
            "diversity": run.diversity,
            "specialisation": run.specialisation,
        }
        if curves:
            entry["curves"] = {label: getattr(h, f).tolist() for label, f in QUANTITIES.items()}
        runs_out.append(entry)

    summary = {}
    for variant in result.variants:
        runset = variant_runset(result, variant)
        sp = speedup(runset, EM_LIKE, SGD)
        paired = paired_speedups(runset, EM_LIKE, SGD)  # (S,)
        arms = {}
        for arm in ARMS:
            chosen = result.select(variant, arm)
            arms[arm] = {
                "final_loss": _stats([r.history.final_loss for r in chosen]),
                "settle": {label: _stats([r.timescales[label]["settle"] for r in chosen]) for label in QUANTITIES},
                "growth": {label: _stats([r.timescales[label]["growth"] for r in chosen]) for label in QUANTITIES},
                "frame_lead": _stats([frame_lead(r.timescales) for r in chosen]),
                "value_change_dim": _stats([r.specialisation["value_change_dim"] for r in chosen]),
                "usage_spread_end": _stats([r.specialisation["usage_spread_end"] for r in chosen]),
            }
        first = result.select(variant, ARMS[0])
        summary[variant] = {
            "spec": VARIANTS[variant].spec.as_dict() | {"n_groups": VARIANTS[variant].n_groups},
            "label": VARIANTS[variant].about,
            "h_min": result.h_min[variant],
            "threshold": sp.threshold,
            "em_steps_to_sgd": _stats(sp.steps_per_seed) | {"n_reached": sp.n_reached},
            "speedup": None if not np.isfinite(sp.speedup) else float(sp.speedup),
            "paired_speedup": _stats(paired),
            "arms": arms,
            "diversity": {key: _stats([r.diversity[key] for r in first]) for key in ("mean_cosine", "participation")},
        }
    return {
        "config": result.config,
        "seeds": list(result.seeds),
        "variants": list(result.variants),
        "arms": list(ARMS),
        "runs": runs_out,
        "summary": summary,
    }


def _pm(stats: dict, digits: int = 0) -> str:
    return plus_minus(stats["mean"], stats["std"], digits, missing="—")


def format_sweep(result: SweepResult) -> str:
    """The sweep as text: speed-ups (chapter 8's table) and settling steps per variant and arm.

    Examples
    --------
    >>> print(format_sweep(run_sweep(["baseline"], seeds=[42], steps=150, T=40)))  # doctest: +ELLIPSIS
    Sweep: N = 39, 150 steps, seeds 42; SGD: ...
    <BLANKLINE>
    EM-like vs SGD: steps to the SGD arm's mean final loss
    arm ...
    """
    cfg = result.config
    lines = [
        f"Sweep: N = {cfg['N']}, {cfg['steps']} steps, seeds {' '.join(map(str, result.seeds))}; "
        f"{SGD}: one rate on every matrix ("
        + ", ".join(f"{name} {lr:g}" for name, lr in cfg["base_lrs"].items()) + "); "
        f"EM-like: x{cfg['value_ratio']:g} on W_V. Mean ± population std over seeds.",
        "",
        f"{EM_LIKE} vs {SGD}: steps to the {SGD} arm's mean final loss",
    ]
    runsets = {name: variant_runset(result, name) for name in result.variants}
    rows = [(name, speedup(runsets[name], EM_LIKE, SGD)) for name in result.variants]
    paired = [paired_speedups(runsets[name], EM_LIKE, SGD) for name in result.variants]
    lines.append(format_speedups(rows, extra={"paired": [f"{_pm(_stats(p), 2)}x" for p in paired]}))
    lines += ["", "Settling steps t_10 (chapter 7), mean ± std over seeds; lead = (V + loss)/2 - (entropy + S)/2"]
    head = f"{'variant':11s} {'arm':8s}" + "".join(f"{label:>20s}" for label in QUANTITIES) + f"{'lead':>14s}"
    lines.append(head)
    for name in result.variants:
        for arm in ARMS:
            chosen = result.select(name, arm)
            cells = "".join(f"{_pm(_stats([r.timescales[q]['settle'] for r in chosen])):>20s}" for q in QUANTITIES)
            lead = _pm(_stats([frame_lead(r.timescales) for r in chosen]))
            lines.append(f"{name:11s} {arm:8s}{cells}{lead:>14s}")
    return "\n".join(lines)
