r"""How fast each quantity of a run settles (chapter 7): the frame-precision dissociation, measured.

Pure functions of recorded curves (a loss curve, an attention-entropy curve, a
gradient-norm curve): :func:`settling_step` says from which step on a curve has
done nine tenths of its moving, :func:`tail_change` how much it still moves at
the end, and :func:`timescale_metrics` both (and the growth) for several
curves of one run. Chapter 7 reads them on the reduced sticky chain, chapter
10 on every variant of the sweep.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .._validate import as_float_array, as_number, as_positive_int

#: The four curves whose timescales chapters 7, 8 and 10 compare (label -> History field): the frame
#: (where the attention looks, and the force that moves it) and the precision (the values' force, the loss).
QUANTITIES = {
    "attention entropy": "attn_entropy",
    "||dL/dS||": "score_grad_norm",
    "||dL/dV||": "value_grad_norm",
    "loss": "losses",
}


def settling_step(curve, frac: float = 0.1) -> int:
    r"""The step from which on a curve stays within ``frac`` of its largest excursion.

    With :math:`q_T` the last value and :math:`D = \max_t |q_t - q_T|`, the
    answer is the smallest :math:`t^*` such that
    :math:`|q_t - q_T| \le \text{frac}\cdot D` for every :math:`t \ge t^*`:
    from :math:`t^*` on, the quantity has done all but ``frac`` of its moving.
    A constant curve settles at 0. The measure is scale-free: read it with the
    size of the moves (:func:`tail_change`).

    Parameters
    ----------
    curve : array_like, shape (T,)
    frac : float in (0, 1), default 0.1

    Returns
    -------
    int

    Notes
    -----
    Chapter 7, eq. ``em-settle``. It can only say "settled within the run":
    a curve still moving at the end settles near ``T``.

    Examples
    --------
    >>> settling_step([5.0, 2.0, 1.2, 1.05, 1.0])  # D = 4: within 0.4 of 1.0 from t = 2
    2
    >>> settling_step([0.0, 1.0, 2.0, 3.0, 4.0])  # a straight line settles at the end
    4
    """
    curve = as_float_array(curve, "curve", ndim=1)
    if curve.size == 0:
        raise ValueError("curve must have at least one value")
    frac = as_number(frac, "frac", minimum=0, exclusive=True, maximum=1)
    if frac == 1:
        raise ValueError("frac must be in (0, 1), got 1.0")
    deviation = np.abs(curve - curve[-1])  # (T,)
    outside = np.flatnonzero(deviation > frac * deviation.max())  # (k,)
    return 0 if outside.size == 0 else int(outside[-1]) + 1


def tail_change(curve, window: int = 100) -> float:
    r"""Relative change over the last ``window`` steps, :math:`|q_T - q_{T-w}| / |q_T|`.

    Parameters
    ----------
    curve : array_like, shape (T,), with ``T > window``
    window : int, default 100

    Returns
    -------
    float

    Notes
    -----
    Chapter 7, eq. ``em-tail``.

    Examples
    --------
    >>> round(tail_change(np.linspace(1.0, 2.0, 201), window=100), 3)  # 0.5 / 2
    0.25
    """
    curve = as_float_array(curve, "curve", ndim=1)
    window = as_positive_int(window, "window")
    if curve.size <= window:
        raise ValueError(
            f"curve must be longer than window={window}, got {curve.size} values"
        )
    if curve[-1] == 0:
        raise ValueError("the last value of curve is 0: no relative change")
    return float(abs(curve[-1] - curve[-1 - window]) / abs(curve[-1]))


def timescale_metrics(
    curves: Mapping[str, np.ndarray], *, frac: float = 0.1, window: int = 100
) -> dict:
    r"""Settling step, tail change and growth of several curves of one run.

    Parameters
    ----------
    curves : mapping of str to array_like of shape (T,)
        E.g. ``{"loss": h.losses, "||dL/dS||": h.score_grad_norm}``.
    frac, window
        Passed to :func:`settling_step` and :func:`tail_change`.

    Returns
    -------
    dict of str to dict
        For each curve: ``"settle"`` (:func:`settling_step`), ``"tail"``
        (:func:`tail_change`) and ``"growth"``, the ratio last / first value.

    Examples
    --------
    >>> m = timescale_metrics({"q": np.linspace(1.0, 2.0, 201)}, window=100)
    >>> m["q"]["settle"], round(m["q"]["tail"], 3), m["q"]["growth"]
    (181, 0.25, 2.0)
    """
    out = {}
    for name, curve in curves.items():
        curve = as_float_array(curve, name, ndim=1)
        out[name] = {
            "settle": settling_step(curve, frac),
            "tail": tail_change(curve, window),
            "growth": float(curve[-1] / curve[0]),
        }
    return out


def curves_of(history) -> dict[str, np.ndarray]:
    """The :data:`QUANTITIES` of one run, label -> curve ``(T,)`` (recorded with all of them)."""
    curves = {label: getattr(history, field, None) for label, field in QUANTITIES.items()}
    missing = [label for label, curve in curves.items() if curve is None]
    if missing:
        raise ValueError(f"the run did not record {missing}; train it with record={tuple(QUANTITIES.values())}")
    return curves


def measure_timescales(histories) -> list[dict]:
    """:func:`timescale_metrics` of the :data:`QUANTITIES` of each run (e.g. the seeds of one arm)."""
    return [timescale_metrics(curves_of(h)) for h in histories]


def format_timescales(metrics: Sequence[Mapping], title: str = "") -> str:
    """Per-seed settling steps, and mean ± std (population) of settling step, tail change and growth.

    ``metrics`` is one :func:`timescale_metrics` result per seed, over :data:`QUANTITIES`.

    Examples
    --------
    >>> m = timescale_metrics({label: np.linspace(1.0, 2.0, 201) for label in QUANTITIES})
    >>> print(format_timescales([m, m], "two identical runs").splitlines()[2])
    attention entropy    181   181    181 ±   0  25.00 ± 0.00    2.00 ± 0.00
    """
    lines = [title] if title else []
    width = max(13, 6 * len(metrics) - 1)  # the per-seed column
    lines.append(f"{'quantity':18s} {'t_10 per seed':>{width}s}   {'t_10':>10s}  {'tail (%)':>11s}  {'growth q_T/q_0':>14s}")
    for label in QUANTITIES:
        t10 = np.array([m[label]["settle"] for m in metrics])  # (S,)
        tail = 100 * np.array([m[label]["tail"] for m in metrics])  # (S,)
        growth = np.array([m[label]["growth"] for m in metrics])  # (S,)
        lines.append(f"{label:18s} {' '.join(f'{t:5d}' for t in t10):>{width}s}   "
                     f"{t10.mean():4.0f} ± {t10.std():3.0f}  {tail.mean():5.2f} ± {tail.std():4.2f}"
                     f"   {growth.mean():5.2f} ± {growth.std():4.2f}")  # fmt: skip
    return "\n".join(lines)
