"""The paper's sticky-chain table (chapter 8): run it, summarise it, print it.

:func:`run_sticky_chain` trains every ``(seed, arm)`` run of the paper's
protocol (:func:`attnlib.dynamics.experiments.run_specs` on the engine);
:func:`summarize_sticky_chain` turns the runs into the table as a JSON-ready
dict, and :func:`format_paper_table` and :func:`format_per_seed` print it.
``python -m attnlib reproduce sticky-chain`` (through :func:`format_report`)
and chapter 8 call the same functions, so the command's table and the
chapter's are computed and printed by the same code.

The headline is computed once, by :func:`attnlib.dynamics.experiments.speedup`:
per seed, the first step at which the EM-like loss falls below the *mean over
seeds* of the SGD final losses, and ``speed-up = steps / mean`` over the seeds
that reach it. Means and standard deviations are over seeds, with the
population standard deviation (``ddof=0``), as the authors compute them.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .._validate import as_positive_int
from ..chain.task import PAPER_SEEDS, ChainConfig
from ..head.training import ARMS, EM_LIKE, SGD
from .experiments import RunSet, RunSpec, plus_minus, run_specs, speedup


#: What the paper reports for the sticky chain (its table and text); nothing else is given.
PAPER_STICKY_CHAIN = {"steps": 1000, "em_steps_to_sgd": {"mean": 430.0, "std": 143.0}, "speedup": 2.3}

#: The authors' script run as it is (``vishalmisra/bayesian-wind-tunnel`` at commit 670c6d6,
#: ``experiments/paper2_gradient/em_vs_sgd_multiseed.py``, its defaults: 5 seeds x 1000 steps), per
#: seed: SGD final loss, EM-like final loss, EM-like steps to the mean SGD final loss. Measured, not
#: computed here: "cpu" on this book's 2-core build machine, "gpu" on one NVIDIA H200, where the
#: script draws the symbol means, the noise and the initial weights from the CUDA generator.
AUTHORS_SCRIPT_RUNS = {
    "cpu": {
        "where": "2-core AMD EPYC CPU, torch 2.13.0 (run for this book, 2026-12-04)",
        "per_seed": {42: (2.0647, 1.9802, 746), 2024: (2.0037, 1.9113, 282), 1337: (2.0166, 1.9088, 345),
                     7777: (2.0256, 1.9254, 394), 9999: (2.0443, 1.9339, 522)},  # fmt: skip
    },
    "gpu": {
        "where": "one NVIDIA H200, torch 2.11 (the script's default device when a GPU is present)",
        "per_seed": {42: (2.0622, 1.9802, 420), 2024: (2.0537, 1.9452, 228), 1337: (2.0629, 1.9556, 385),
                     7777: (2.0572, 1.9789, 396), 9999: (2.0659, 2.0104, 536)},  # fmt: skip
    },
}

#: The per-run numbers of the table, in its order.
METRICS = ("final_loss", "final_entropy", "final_accuracy")

#: What ``--record-dynamics`` records per step besides the loss (engine name -> name in the summary).
DYNAMICS = {
    "attn_entropy": "attention_entropy",
    "attn_change": "attention_change",
    "score_grad_norm": "score_grad_norm",
    "value_grad_norm": "value_grad_norm",
}

#: The ``record`` argument of :func:`run_sticky_chain` that records them.
RECORD_DYNAMICS = ("loss", *DYNAMICS)


def run_sticky_chain(
    seeds=PAPER_SEEDS,
    *,
    steps: int = 1000,
    chain: ChainConfig | None = None,
    base_lr: float = 0.01,
    value_ratio: float = 10.0,
    record=("loss",),
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    backend: str = "auto",
    device: str = "cpu",
) -> RunSet:
    """Every run of the paper's table: each seed in both :data:`~attnlib.head.training.ARMS`, trained together.

    Parameters
    ----------
    seeds : sequence of int, default the paper's five
    steps : int, default 1000
    chain : ChainConfig, optional
        The sequence and the weights' sizes; default the paper's.
    base_lr, value_ratio : float
        The SGD arm's rate on every matrix; the EM-like arm's ``W_V`` rate is
        ``value_ratio * base_lr`` (:func:`attnlib.head.training.arm_rates`).
    record, progress, workers, backend, device
        As for :func:`attnlib.dynamics.experiments.run_specs`: ``device="cpu"``
        (the default) is the CPU engine; ``"cuda"`` (or ``"auto"`` on a machine
        with a GPU) advances the ten runs as one batched program on the GPU.

    Returns
    -------
    RunSet
        Per seed (in the order given), its SGD run then its EM-like run.

    Examples
    --------
    >>> runs = run_sticky_chain([42], steps=3, chain=ChainConfig(T=60))
    >>> runs.arms, runs.seeds("EM-like"), runs.losses("SGD").shape
    (('SGD', 'EM-like'), (42,), (1, 3))
    """
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty sequence of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    chain = ChainConfig() if chain is None else chain
    specs = [
        RunSpec.paper(seed, arm, base_lr=base_lr, value_ratio=value_ratio, chain=chain) for seed in seeds for arm in ARMS
    ]
    return run_specs(specs, steps=steps, record=record, progress=progress, workers=workers, backend=backend,
                     device=device)  # fmt: skip


def _stats(values) -> dict:
    values = np.asarray(values, dtype=np.float64)  # (S,)
    return {"mean": float(values.mean()), "std": float(values.std())}  # population std


def _or_none(value: float):
    return None if math.isnan(value) else value


def summarize_sticky_chain(runs: RunSet) -> dict:
    """The paper's table from :func:`run_sticky_chain` runs, as a JSON-ready dict.

    Returns
    -------
    dict
        ``seeds``, ``steps``, ``H_min``; ``per_seed``: per seed, the
        :data:`METRICS` and loss curve of each arm (and, when recorded, its
        ``dynamics``: one value per step of each of :data:`DYNAMICS`) and ``em_steps_to_sgd``
        (``None``: never); ``summary``: mean and std of each metric per arm,
        the threshold ``sgd_mean_final_loss``, ``em_steps_to_sgd`` (``mean``,
        ``std``, ``n_reached``, ``per_seed``) and ``speedup`` (``None`` when
        no seed reaches the threshold).

    Examples
    --------
    >>> s = summarize_sticky_chain(run_sticky_chain([42, 7], steps=4, chain=ChainConfig(T=60)))
    >>> sorted(s), s["seeds"], len(s["per_seed"][0]["EM-like"]["losses"])
    (['H_min', 'per_seed', 'seeds', 'steps', 'summary'], [42, 7], 4)
    """
    if not isinstance(runs, RunSet):
        raise TypeError(f"runs must be the RunSet of run_sticky_chain, got {type(runs).__name__}")
    if not set(ARMS) <= set(runs.arms):
        raise ValueError(f"runs must hold the arms {list(ARMS)}, got {list(runs.arms)}")
    seeds = runs.seeds(SGD)
    if runs.seeds(EM_LIKE) != seeds:
        raise ValueError(f"both arms must have the same seeds, got {list(seeds)} and {list(runs.seeds(EM_LIKE))}")
    headline = speedup(runs, EM_LIKE, SGD)
    per_arm = {arm: runs.runs(arm) for arm in ARMS}
    per_seed = []
    for k, seed in enumerate(seeds):
        entry: dict = {"seed": int(seed)}
        for arm in ARMS:
            history = per_arm[arm][k][1]
            entry[arm] = {name: float(getattr(history, name)) for name in METRICS}
            entry[arm]["losses"] = [float(v) for v in history.losses]
            recorded = {name: getattr(history, field) for field, name in DYNAMICS.items()}
            if any(curve is not None for curve in recorded.values()):
                entry[arm]["dynamics"] = {name: [float(v) for v in c] for name, c in recorded.items() if c is not None}
        entry["em_steps_to_sgd"] = _or_none(headline.steps_per_seed[k])
        if entry["em_steps_to_sgd"] is not None:
            entry["em_steps_to_sgd"] = int(entry["em_steps_to_sgd"])
        per_seed.append(entry)
    summary: dict = {arm: {name: _stats([e[arm][name] for e in per_seed]) for name in METRICS} for arm in ARMS}
    summary["sgd_mean_final_loss"] = headline.threshold
    summary["em_steps_to_sgd"] = {
        "per_seed": [e["em_steps_to_sgd"] for e in per_seed],
        "n_reached": headline.n_reached,
        "mean": _or_none(headline.mean),
        "std": _or_none(headline.std),
    }
    summary["speedup"] = _or_none(headline.speedup)
    return {
        "seeds": [int(s) for s in seeds],
        "steps": headline.horizon,
        "H_min": float(runs.tasks[0].H_min),
        "per_seed": per_seed,
        "summary": summary,
    }


# --------------------------------------------------------------------------- the table, as text
def format_paper_table(summary: dict, paper: dict = PAPER_STICKY_CHAIN, *, digits: int = 4) -> str:
    """The paper's numbers beside a reproduction, as text; "—" where the paper gives none.

    Parameters
    ----------
    summary : dict
        :func:`summarize_sticky_chain` output.
    paper : dict, default :data:`PAPER_STICKY_CHAIN`
    digits : int
        Decimals of losses, entropies and accuracies. Steps get one decimal.

    Examples
    --------
    >>> s = summarize_sticky_chain(run_sticky_chain([42, 7], steps=3, chain=ChainConfig(T=30)))
    >>> print(format_paper_table(s).splitlines()[0])
    quantity                                    paper       this book
    """
    digits = as_positive_int(digits, "digits")
    s = summary["summary"]
    rows = []
    for arm in ARMS:
        for name, what in (("final_loss", "final loss (nats)"), ("final_entropy", "final entropy (nats)"),
                           ("final_accuracy", "final accuracy")):  # fmt: skip
            rows.append((f"{arm} {what}", "—", plus_minus(s[arm][name]["mean"], s[arm][name]["std"], digits)))
    rows.append(("H_min (nats)", "—", f"{summary['H_min']:.{digits}f}"))
    rows.append(("threshold: mean SGD final loss", "—", f"{s['sgd_mean_final_loss']:.{digits}f}"))
    em, pe = s["em_steps_to_sgd"], paper["em_steps_to_sgd"]
    rows.append(("EM-like steps to the threshold", f"{pe['mean']:.0f} ± {pe['std']:.0f}", plus_minus(em["mean"], em["std"], 1)))
    speed = "—" if s["speedup"] is None else f"{s['speedup']:.2f}x"
    rows.append((f"speed-up ({summary['steps']} / mean steps)", f"about {paper['speedup']:.1f}x", speed))
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{'quantity':{width}s}{'paper':>16s}       this book"]
    lines += [f"{name:{width}s}{p:>16s}       {r}" for name, p, r in rows]
    return "\n".join(lines)


def format_per_seed(summary: dict, *, digits: int = 4) -> str:
    """One line per seed: final loss, entropy, accuracy of both arms, and the EM-like steps.

    Examples
    --------
    >>> s = summarize_sticky_chain(run_sticky_chain([42], steps=2, chain=ChainConfig(T=30)))
    >>> print(format_per_seed(s).splitlines()[0].split())
    ['seed', 'SGD', 'loss', 'SGD', 'H', 'SGD', 'acc', 'EM-like', 'loss', 'EM-like', 'H', 'EM-like', 'acc', 'steps']
    """
    digits = as_positive_int(digits, "digits")
    cols = [
        (f"{arm} {short}", arm, metric)
        for arm in ARMS
        for short, metric in (("loss", "final_loss"), ("H", "final_entropy"), ("acc", "final_accuracy"))
    ]
    w = max(digits + 4, max(len(c[0]) for c in cols))
    lines = [f"{'seed':>6s}" + "".join(f"{c[0]:>{w + 2}s}" for c in cols) + f"{'steps':>8s}"]
    for e in summary["per_seed"]:
        steps = "never" if e["em_steps_to_sgd"] is None else str(e["em_steps_to_sgd"])
        values = "".join(f"{e[arm][m]:>{w + 2}.{digits}f}" for _, arm, m in cols)
        lines.append(f"{e['seed']:>6d}{values}{steps:>8s}")
    s = summary["summary"]
    for stat in ("mean", "std"):
        values = "".join(f"{s[arm][m][stat]:>{w + 2}.{digits}f}" for _, arm, m in cols)
        em = s["em_steps_to_sgd"][stat]
        lines.append(f"{stat:>6s}{values}{'' if em is None else f'{em:.1f}':>8s}")
    lines.append("steps: EM-like steps to the threshold (the mean SGD final loss)")
    return "\n".join(lines)


def format_authors_comparison(summary: dict, runs: dict = AUTHORS_SCRIPT_RUNS, paper: dict = PAPER_STICKY_CHAIN) -> str:
    """The paper, the authors' script on a CPU and on a GPU, and this book, side by side.

    Means and standard deviations of the script's runs are computed here from
    their per-seed numbers (:data:`AUTHORS_SCRIPT_RUNS`), as the script does.

    Examples
    --------
    >>> s = summarize_sticky_chain(run_sticky_chain([42, 2024], steps=3, chain=ChainConfig(T=30)))
    >>> print(format_authors_comparison(s).splitlines()[0])  # doctest: +NORMALIZE_WHITESPACE
    quantity  paper  authors' script, CPU  authors' script, GPU  this book
    """
    columns = {"paper": None, "authors' script, CPU": runs["cpu"], "authors' script, GPU": runs["gpu"], "this book": None}
    s = summary["summary"]
    book_steps = [e["em_steps_to_sgd"] for e in summary["per_seed"]]
    rows: dict[str, list[str]] = {"SGD final loss": [], "EM-like final loss": [], "EM-like steps to the threshold": [],
                                  "speed-up": [], "EM-like steps per seed": []}  # fmt: skip
    for name, run in columns.items():
        if name == "paper":
            pe = paper["em_steps_to_sgd"]
            cells = ["—", "—", f"{pe['mean']:.0f} ± {pe['std']:.0f}", f"about {paper['speedup']:.1f}x", "—"]
        elif run is None:
            em = s["em_steps_to_sgd"]
            cells = [plus_minus(s[SGD]["final_loss"]["mean"], s[SGD]["final_loss"]["std"], 4),
                     plus_minus(s[EM_LIKE]["final_loss"]["mean"], s[EM_LIKE]["final_loss"]["std"], 4),
                     plus_minus(em["mean"], em["std"], 1), "—" if s["speedup"] is None else f"{s['speedup']:.2f}x",
                     " ".join("never" if v is None else str(v) for v in book_steps)]  # fmt: skip
        else:
            sgd, em_loss, steps = (np.array(v, dtype=float) for v in zip(*run["per_seed"].values()))  # each (S,)
            cells = [plus_minus(sgd.mean(), sgd.std(), 4), plus_minus(em_loss.mean(), em_loss.std(), 4),
                     plus_minus(steps.mean(), steps.std(), 1), f"{paper['steps'] / steps.mean():.2f}x",
                     " ".join(str(int(v)) for v in steps)]  # fmt: skip
        for row, cell in zip(rows, cells):
            rows[row].append(cell)
    width = max(len(r) for r in rows) + 2
    widths = [max(len(name), *(len(rows[r][k]) for r in rows)) + 2 for k, name in enumerate(columns)]
    lines = [f"{'quantity':{width}s}" + "".join(f"{name:>{w}s}" for name, w in zip(columns, widths))]
    lines += [f"{r:{width}s}" + "".join(f"{c:>{w}s}" for c, w in zip(cells, widths)) for r, cells in rows.items()]
    return "\n".join(lines)


def format_report(report: dict) -> str:
    """The command's output: what was run, :func:`format_paper_table`, the wall time, :func:`format_per_seed`.

    ``report`` is :func:`summarize_sticky_chain` output with ``config``
    (:meth:`ChainConfig.as_dict` plus ``N``, ``effective_self_prob``,
    ``base_lr``, ``value_ratio``), ``wall_seconds`` and ``paper`` added.
    """
    paper, cfg = report["paper"], report["config"]
    construction = "the authors' construction" if cfg["published"] else "exact"
    em = report["summary"]["em_steps_to_sgd"]
    lines = [
        f"Sticky Markov chain: {cfg['n_symbols']} symbols, self-transition {cfg['effective_self_prob']:.4f} "
        f"({construction}), N = {cfg['N']}, {report['steps']} steps, seeds {' '.join(map(str, report['seeds']))}",
        f"{SGD}: lr {cfg['base_lr']:g} on every matrix; {EM_LIKE}: lr {cfg['value_ratio'] * cfg['base_lr']:g} "
        f"on W_V, {cfg['base_lr']:g} elsewhere. Mean ± population std over seeds.",
        "",
        format_paper_table(report, paper),
        f"wall seconds: {report['wall_seconds']:.1f}",
        "",
        format_per_seed(report),
    ]
    if report["steps"] != paper["steps"]:
        lines.append(f"note: the paper ran {paper['steps']} steps; this run {report['steps']}.")
    if em["n_reached"] < len(report["per_seed"]):
        lines.append(f"note: {len(report['per_seed']) - em['n_reached']} seed(s) never reached the threshold; "
                     "the mean is over the others.")  # fmt: skip
    return "\n".join(lines)
