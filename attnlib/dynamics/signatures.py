r"""Failure signatures of an attention head: one measurement and one verdict each.

The paper's readers are told to watch for four ways the feedback loop between
routing and values can go wrong. Each function below turns one of them into a
number, compares it with a stated threshold and returns a :class:`Verdict`:

==================== ============================================================ ===========
signature            measurement                                                  fires when
==================== ============================================================ ===========
attention collapse   mean over queries of the weight on the query's top key       > 0.9
value-norm explosion mean value norm after training / before                      > 10
underused values     share of keys whose column usage is under 10% of what        > 0.25
                     uniform attention would give them
diffuse routing      mean over queries of the attention entropy / its maximum     > 0.9
==================== ============================================================ ===========

The thresholds are the book's choice, not the paper's (it names the signatures
but gives no numbers); each is a keyword argument. They are set so that a run
which reaches the chain's floor :math:`H_{\min}` at full size fires none, and
each of chapter 8's deliberately broken runs fires its own.

Attention arrays may be one pattern ``(N, N)`` or a stack ``(..., N, N)`` (heads,
layers, sequences); every measurement is then averaged over the stack. Only
queries that may attend to at least two keys count (a query with one key has
nothing to choose). ``N`` queries (rows), ``N`` keys (columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_bool, as_float_array, as_number
from ..head.entropy import entropy_nats
from ..head.training import LearningRates
from .diagnostics import value_norm_growth

#: The signatures, in the order :func:`check_signatures` reports them.
SIGNATURES = ("attention collapse", "value-norm explosion", "underused values", "diffuse routing")

#: One deliberately broken run per signature, as learning rates for plain gradient descent
#: (chapter 8, section (f), and the tests): seed 42, the chain of N = 499 positions
#: (``ChainConfig(T=500)``), 1000 full-batch steps. The paper's rate is 0.01 on every matrix.
#: Each run fires its own signature, and none is so fast that rounding steers it: trained
#: alone or beside the others, on one worker or two, under this machine's arithmetic or
#: generic kernels, every measurement agreed within 2.5%. (Faster runs did not: routing at
#: 300x moved in the second digit, and every matrix at 30x ended at losses from 0.82 to 1.16.)
BROKEN_RATES = {
    "attention collapse": LearningRates(0.7, 0.7, 0.01, 0.01),  # routing 70x: one key per query
    "value-norm explosion": LearningRates(0.01, 0.01, 10.0, 0.01),  # W_V 1000x
    "underused values": LearningRates.sgd(0.15),  # every matrix 15x: the head leans on a few positions
    "diffuse routing": LearningRates(0.0, 0.0, 0.1, 0.1),  # routing frozen at its near-uniform start
}


@dataclass(frozen=True)
class Verdict:
    """One signature measured on one run.

    Attributes
    ----------
    signature : str
        One of :data:`SIGNATURES`.
    value : float
        The measurement.
    threshold : float
        The verdict fires when ``value > threshold``.
    fires : bool
    measure : str
        What ``value`` is, in words.
    """

    signature: str
    value: float
    threshold: float
    fires: bool
    measure: str

    def __str__(self) -> str:
        state = "FIRES" if self.fires else "quiet"
        return f"{self.signature}: {self.measure} = {self.value:.3g} (fires above {self.threshold:g}): {state}"


def _verdict(signature: str, value: float, threshold: float, measure: str) -> Verdict:
    fires = bool(value > threshold) or not np.isfinite(value)  # a non-finite measurement is a failure too
    return Verdict(signature, float(value), threshold, fires, measure)


def _patterns(attn) -> np.ndarray:
    """Attention as a stack ``(P, N, N)`` of row-stochastic patterns."""
    a = as_float_array(attn, "attn")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"attn must have shape (..., N, N), got {a.shape}")
    a = a.reshape(-1, *a.shape[-2:])  # (P, N, N)
    if np.any(a < 0) or not np.allclose(a.sum(axis=-1), 1.0, atol=1e-6):
        raise ValueError("attn must hold attention patterns: non-negative rows that sum to 1")
    return a


def _keys_allowed(n: int, causal: bool) -> np.ndarray:
    """How many keys each query may attend to: ``i + 1`` when causal, ``N`` otherwise; (N,)."""
    return np.arange(1, n + 1) if as_bool(causal, "causal") else np.full(n, n)


def _rows_with_a_choice(n: int, causal: bool) -> np.ndarray:
    """The queries that may attend to two keys or more, (N,) bool; at least one must exist."""
    rows = _keys_allowed(n, bool(causal)) >= 2  # (N,)
    if not rows.any():
        raise ValueError(f"attn must have a query that may attend to two keys or more, got N = {n}")
    return rows


def attention_collapse(attn, *, causal: bool = True, threshold: float = 0.9) -> Verdict:
    """Attention collapse: nearly all of each query's attention on a single key.

    Measures the mean, over queries with two keys or more (and patterns), of
    :math:`\\max_j \\alpha_{ij}`.
    Uniform attention over :math:`n` keys gives :math:`1/n`; a one-hot row gives 1.

    Examples
    --------
    >>> first_only = np.zeros((4, 4)); first_only[:, 0] = 1  # every query reads key 0 alone
    >>> uniform = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    >>> attention_collapse(first_only).fires, attention_collapse(uniform).fires
    (True, False)
    """
    threshold = as_number(threshold, "threshold", minimum=0, maximum=1)
    a = _patterns(attn)
    rows = _rows_with_a_choice(a.shape[-1], causal)  # (N,)
    value = a.max(axis=-1)[:, rows].mean()  # mean of (P, N') top weights
    return _verdict("attention collapse", value, threshold, "mean weight on the top key")


def diffuse_routing(attn, *, causal: bool = True, threshold: float = 0.9) -> Verdict:
    """Diffuse routing: attention still close to uniform (after training).

    Measures the mean, over queries with two keys or more, of
    :math:`H(\\alpha_i)/\\log n_i`, the attention entropy over its maximum
    (:math:`n_i` keys allowed: :math:`i + 1` when causal). 1 is uniform, 0 one-hot.

    Examples
    --------
    >>> uniform = np.tril(np.ones((5, 5))) / np.arange(1, 6)[:, None]
    >>> round(diffuse_routing(uniform).value, 6), diffuse_routing(uniform).fires
    (1.0, True)
    """
    threshold = as_number(threshold, "threshold", minimum=0, maximum=1)
    a = _patterns(attn)
    n_allowed = _keys_allowed(a.shape[-1], bool(causal))  # (N,)
    rows = _rows_with_a_choice(a.shape[-1], causal)  # (N,)
    ratio = entropy_nats(a)[:, rows] / np.log(n_allowed[rows])  # (P, N')
    return _verdict("diffuse routing", ratio.mean(), threshold, "mean attention entropy / its maximum")


def underused_values(attn, *, causal: bool = True, dead_below: float = 0.1, threshold: float = 0.25) -> Verdict:
    """Underused values: positions whose values almost no query reads.

    The column usage :math:`c_j = \\sum_i \\alpha_{ij}` (chapter 4) is compared
    with what uniform attention would give the same key,
    :math:`\\bar c_j = \\sum_{i:\\, j \\text{ allowed}} 1/n_i`; a key is *dead*
    when :math:`c_j < \\text{dead\\_below}\\cdot \\bar c_j`. Measures the share
    of dead keys (mean over patterns).

    Examples
    --------
    >>> uniform = np.tril(np.ones((6, 6))) / np.arange(1, 7)[:, None]
    >>> underused_values(uniform).value
    0.0
    >>> first_only = np.zeros((6, 6)); first_only[:, 0] = 1
    >>> round(underused_values(first_only).value, 3), underused_values(first_only).fires
    (0.833, True)
    """
    threshold = as_number(threshold, "threshold", minimum=0, maximum=1)
    dead_below = as_number(dead_below, "dead_below", minimum=0, maximum=1)
    a = _patterns(attn)
    n = a.shape[-1]
    n_allowed = _keys_allowed(n, bool(causal))  # (N,)
    allowed = np.tril(np.ones((n, n))) if causal else np.ones((n, n))  # (N, N)
    expected = (allowed / n_allowed[:, None]).sum(axis=0)  # (N,)  usage under uniform attention
    usage = a.sum(axis=-2)  # (P, N)  c_j = sum_i alpha_ij
    dead = usage < dead_below * expected  # (P, N)
    return _verdict("underused values", dead.mean(), threshold, f"share of keys used < {dead_below:g} x uniform")


def value_norm_explosion(values_before, values_after, *, threshold: float = 10.0) -> Verdict:
    """Value-norm explosion: the values' norms growing without bound.

    Measures the growth :math:`g` of :func:`attnlib.dynamics.diagnostics.value_norm_growth`
    from ``values_before`` to ``values_after`` (the ratio of their mean row
    norms); non-finite values after training count as infinite growth.

    Parameters
    ----------
    values_before, values_after : array_like, shape (..., N, d_v)
        The values ``V = X W_V`` at the start and at the end (any stack of them).

    Examples
    --------
    >>> V = np.ones((3, 2))
    >>> value_norm_explosion(V, 2 * V).value, value_norm_explosion(V, 20 * V).fires
    (2.0, True)
    """
    threshold = as_number(threshold, "threshold", minimum=0)
    before = as_float_array(values_before, "values_before")
    after = np.asarray(values_after, dtype=np.float64)
    if after.shape != before.shape or before.ndim < 2:
        raise ValueError(f"values_after must have the shape of values_before (..., N, d_v), got {after.shape} and {before.shape}")
    if not np.any(before):
        raise ValueError("values_before is all zeros: the growth relative to it is undefined")
    if not np.all(np.isfinite(after)):
        value = np.inf
    else:
        d_v = before.shape[-1]
        value = value_norm_growth(np.stack([before.reshape(-1, d_v), after.reshape(-1, d_v)]))[1]
    return _verdict("value-norm explosion", value, threshold, "mean |v_j| after / before")


def check_signatures(attn, values_before=None, values_after=None, *, causal: bool = True) -> tuple[Verdict, ...]:
    """All four verdicts at the default thresholds (value-norm explosion only when the values are given).

    Examples
    --------
    >>> uniform = np.tril(np.ones((5, 5))) / np.arange(1, 6)[:, None]
    >>> [v.signature for v in check_signatures(uniform) if v.fires]
    ['diffuse routing']
    """
    verdicts = [attention_collapse(attn, causal=causal)]
    if values_before is not None or values_after is not None:
        verdicts.append(value_norm_explosion(values_before, values_after))
    verdicts += [underused_values(attn, causal=causal), diffuse_routing(attn, causal=causal)]
    return tuple(verdicts)


def format_signatures(checks: dict) -> str:
    """A checklist table: one row per run, one column per signature (value, and ``FIRES`` or ``ok``).

    Parameters
    ----------
    checks : dict
        Run label -> the verdicts of :func:`check_signatures` (a signature not
        measured for a run shows as ``-``).

    Examples
    --------
    >>> uniform = np.tril(np.ones((5, 5))) / np.arange(1, 6)[:, None]
    >>> print(format_signatures({"uniform": check_signatures(uniform)}))  # doctest: +NORMALIZE_WHITESPACE
    run      attention collapse  value-norm explosion  underused values  diffuse routing
    uniform  0.321 ok            -                     0 ok              1 FIRES
    """
    if not isinstance(checks, dict) or not checks:
        raise TypeError(f"checks must be a non-empty dict of run label -> verdicts, got {checks!r:.60}")
    width = max(len("run"), *(len(str(label)) for label in checks))
    cols = [max(len(s), 12) for s in SIGNATURES]
    lines = [f"{'run':{width}s}  " + "  ".join(f"{s:{w}s}" for s, w in zip(SIGNATURES, cols))]
    for label, verdicts in checks.items():
        by_name = {v.signature: v for v in verdicts}
        cells = []
        for name, w in zip(SIGNATURES, cols):
            v = by_name.get(name)
            cells.append(f"{'-' if v is None else f'{v.value:.3g} ' + ('FIRES' if v.fires else 'ok'):{w}s}")
        lines.append(f"{str(label):{width}s}  " + "  ".join(cells).rstrip())
    return "\n".join(lines)
