"""Many toy runs: one run summarised, a seed study, and its table."""

from __future__ import annotations

import numpy as np

from ..._validate import as_positive_int
from ...head.model import attention_mask
from ...head.training import LearningRates, steps_to_reach
from .analysis import content_share, value_table
from .task import ToyTask, check_task, toy_init
from .training import ToyHistory, stacked_step, train_toy

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
    >>> from attnlib.dynamics.toy import all_sequences, split_sequences, toy_task
    >>> train, held_out = (toy_task(part) for part in split_sequences(all_sequences(), 12, rng=0))
    >>> h = train_toy(toy_init(train, rng=0), train, LearningRates.sgd(1.0), steps=60)
    >>> summary = summarize_run(h, train, held_out)
    >>> sorted(summary)  # doctest: +NORMALIZE_WHITESPACE
    ['content_share', 'evidence_attn', 'evidence_by_query', 'evidence_by_query_start', 'final_loss',
     'held_out_accuracy', 'initial_attn_entropy', 'steps_to_threshold', 'worst_evidence_attn']
    >>> summary["steps_to_threshold"] < 60
    True
    """
    check_task(task)
    check_task(held_out)
    final = history.params_at(history.steps)
    mask = attention_mask(task.n_positions, causal=history.causal)
    stacked = stacked_step(final, task.X, task.y, mask)
    alpha = stacked["attn"]  # (M, N, N)
    per_query = alpha[:, np.arange(task.n_positions), task.evidence].mean(axis=0)[1:]  # (N - 1,)
    reached = steps_to_reach(history.losses, threshold) if history.steps else None
    return {
        "steps_to_threshold": float("nan") if reached is None else float(reached),
        "final_loss": stacked["loss"],
        "evidence_attn": float(per_query.mean()),
        "worst_evidence_attn": float(per_query.min()),
        "content_share": content_share(value_table(final, task.n_classes)),
        "held_out_accuracy": stacked_step(final, held_out.X, held_out.y, mask)["accuracy"],
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
    >>> from attnlib.dynamics.toy import all_sequences, split_sequences, toy_task
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
