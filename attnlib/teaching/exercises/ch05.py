r"""Checkers for the two code exercises of chapter 5 (queries, keys and the weight
matrices): :func:`check_query_key_grads` and :func:`check_weight_grads`.

Dimension names in shape comments: ``N`` positions, ``d_x`` input width,
``d_k`` query/key width, ``d_v`` value width, ``C`` classes.
"""

from __future__ import annotations

import numpy as np

from ...head.gradients import backward
from ...head.model import forward, init_params
from ._core import Case, CheckResult, Mistake, case_seed, run_checker

__all__ = [
    "check_query_key_grads",
    "check_weight_grads",
]

_WEIGHTS = ("W_Q", "W_K", "W_V", "W_O")
_ACTIVATIONS = ("Q", "K", "V")


# --------------------------------------------------------------------------- exercise 3: dQ and dK
def _query_key_grads(G, Q, K):
    d_k = Q.shape[1]
    return G @ K / np.sqrt(d_k), G.T @ Q / np.sqrt(d_k)  # (N, d_k), (N, d_k)


def _head_case(n, d_x, d_k, d_v, n_classes, *, causal, seed, scale=0.9):
    """A real head with a non-trivial initialisation: its forward cache and its gradients."""
    rng = np.random.default_rng(seed)
    params = init_params(d_x, d_k, d_v, n_classes, scale=scale, rng=rng)
    X = rng.standard_normal((n, d_x))  # (N, d_x)
    y = rng.integers(0, n_classes, size=n)  # (N,)
    cache = forward(params, X, causal=causal)
    return cache, backward(params, cache, y)


def _query_key_cases(case_set: str) -> list[Case]:
    cases = []
    for label, n, d_k, causal, seed in [
        ("random causal N=5, d_k=3", 5, 3, True, 50),
        ("random non-causal N=4, d_k=2", 4, 2, False, 51),
        ("random causal N=7, d_k=4", 7, 4, True, 52),
        ("N=1 (a single position)", 1, 3, True, 53),
        ("d_k=1, non-causal N=4", 4, 1, False, 54),
    ]:
        cache, g = _head_case(n, 3, d_k, 2, 4, causal=causal, seed=case_seed(seed, case_set))
        cases.append(Case(label, (g.scores, cache.queries, cache.keys)))
    # Huge scores: queries and keys of size ~100, so |s_ij| ~ 1e4; the map G -> dQ is linear and must not care.
    cache, g = _head_case(4, 3, 3, 2, 4, causal=False, seed=case_seed(55, case_set))
    cases.append(Case("huge scores (|q|, |k| ~ 100), non-causal N=4", (g.scores, 100 * cache.queries, 100 * cache.keys)))
    return cases


def _r(Q):
    """sqrt(d_k), read off the queries."""
    return np.sqrt(Q.shape[1])


#: (hint, wrong answer) for the typical slips in (dQ, dK).
_QK_MISTAKES = [
    ("the 1/sqrt(d_k) of the scores is missing",
     lambda G, Q, K: (G @ K, G.T @ Q)),
    ("dQ and dK are swapped: dQ sums keys along a row of G, dK sums queries down a column",
     lambda G, Q, K: (G.T @ Q / _r(Q), G @ K / _r(Q))),
    ("the sign is flipped",
     lambda G, Q, K: (-G @ K / _r(Q), -G.T @ Q / _r(Q))),
    ("the index of G is transposed: dQ = G K / sqrt(d_k) (sum over keys j), "
     "dK = G^T Q / sqrt(d_k) (sum over queries i)",
     lambda G, Q, K: (G.T @ K / _r(Q), G @ Q / _r(Q))),
    ("the sqrt(d_k) multiplies instead of dividing",
     lambda G, Q, K: (G @ K * _r(Q), G.T @ Q * _r(Q))),
    ("divided by d_k instead of sqrt(d_k)",
     lambda G, Q, K: (G @ K / Q.shape[1], G.T @ Q / Q.shape[1])),
]


def check_query_key_grads(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(G, Q, K) -> (dQ, dK)``, the query and key gradients.

    ``G`` is :math:`\partial L/\partial S`, shape ``(N, N)`` (zero where masked);
    ``Q`` and ``K`` have shape ``(N, d_k)``. The answer is the pair
    ``(dQ, dK)``, each of shape ``(N, d_k)`` (chapter 5, eq. ``qk-matrix``).

    Examples
    --------
    >>> check_query_key_grads(lambda G, Q, K: (G @ K, G.T @ Q)).passed
    False
    >>> check_query_key_grads(lambda G, Q, K: (G @ K / np.sqrt(Q.shape[1]), G.T @ Q / np.sqrt(Q.shape[1])))
    query/key gradients: dQ and dK correct on all 6 cases.
    """
    name = "query/key gradients"
    cases = _query_key_cases(case_set)
    problem = _pair_problem(name, fn, cases)
    if problem is not None:
        return problem
    for index, part in enumerate(("dQ", "dK")):
        mistakes = [Mistake(hint, lambda *a, m=answer, i=index: m(*a)[i]) for hint, answer in _QK_MISTAKES]
        result = run_checker(
            f"{name} ({part})",
            lambda *a, i=index: fn(*a)[i],
            cases,
            lambda *a, i=index: _query_key_grads(*a)[i],
            mistakes,
            answers=(_query_key_grads,),
        )
        if not result.passed:
            return CheckResult(name, False, _one_name(result.message, name, part), len(cases))
    return CheckResult(name, True, f"{name}: dQ and dK correct on all {len(cases)} cases.", len(cases))


def _one_name(message: str, name: str, part: str) -> str:
    """Drop the ``(part)`` from messages about the function as a whole (a stub, an exception)."""
    if "not implemented yet" in message or "' raised " in message:
        return message.replace(f"{name} ({part})", name, 1)
    return message


def _pair_problem(name, fn, cases) -> CheckResult | None:
    """A CheckResult when ``fn`` does not return a pair; None to go on checking values."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__} {fn!r}")
    for case in cases:
        try:
            out = fn(*(np.copy(a) for a in case.args))
        except Exception:  # run_checker reports it, NotImplementedError included
            return None
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            what = f"a {type(out).__name__} of length {len(out)}" if isinstance(out, (tuple, list)) else (
                f"an object of type {type(out).__name__}"
            )
            return CheckResult(
                name, False, f"{name}: case '{case.label}' returned {what}; return the pair (dQ, dK).", len(cases)
            )
    return None


# --------------------------------------------------------------------------- exercise 4: weight gradients
def _weight_grads(X, dQ, dK, dV, O, dZ):
    return {"W_Q": X.T @ dQ, "W_K": X.T @ dK, "W_V": X.T @ dV, "W_O": O.T @ dZ}


def _weight_cases(case_set: str) -> list[Case]:
    cases = []
    for label, n, d_x, d_k, d_v, c, causal, seed in [
        # Square sizes first: there a transposed answer or a missing X^T has the right shape,
        # so the value comparison (and its hint) sees it.
        ("causal, square sizes N = d_x = d_k = d_v = C = 3", 3, 3, 3, 3, 3, True, 62),
        ("random causal N=6, d_x=4, d_k=3, d_v=2, C=5", 6, 4, 3, 2, 5, True, 60),
        ("random non-causal N=5, d_x=3, d_k=2, d_v=4, C=3", 5, 3, 2, 4, 3, False, 61),
        ("N=1 (a single position)", 1, 4, 2, 3, 4, True, 63),
        ("d_k=1, non-causal N=4", 4, 3, 1, 2, 4, False, 64),
    ]:
        cache, g = _head_case(n, d_x, d_k, d_v, c, causal=causal, seed=case_seed(seed, case_set))
        cases.append(Case(label, (cache.x, g.queries, g.keys, g.values, cache.out, g.logits)))
    cache, g = _head_case(4, 3, 2, 2, 3, causal=False, seed=case_seed(65, case_set), scale=3.0)
    args = (1e3 * cache.x, g.queries, g.keys, g.values, cache.out, g.logits)
    cases.append(Case("large inputs (X ~ 1e3), non-causal N=4", args))
    return cases


_SOURCE = {"W_Q": "dQ", "W_K": "dK", "W_V": "dV", "W_O": "dZ"}
#: Position of each weight's activation gradient among the arguments (X, dQ, dK, dV, O, dZ).
_SOURCE_ARG = {"W_Q": 1, "W_K": 2, "W_V": 3, "W_O": 5}


def check_weight_grads(fn, *, case_set: str = "public") -> CheckResult:
    r"""Check ``fn(X, dQ, dK, dV, O, dZ) -> dict``, the four weight gradients.

    The answer maps ``"W_Q"``, ``"W_K"``, ``"W_V"``, ``"W_O"`` to
    :math:`\partial L/\partial W`, each of the shape of its ``W``
    (chapter 5, eqs. ``wgrad-general`` and ``wgrad-head``).

    Examples
    --------
    >>> check_weight_grads(lambda X, dQ, dK, dV, O, dZ: {"W_Q": dQ}).passed
    False
    >>> check_weight_grads(lambda X, dQ, dK, dV, O, dZ: {"W_Q": X.T @ dQ, "W_K": X.T @ dK, "W_V": X.T @ dV,
    ...                                                  "W_O": O.T @ dZ})
    weight gradients: all four correct on all 6 cases.
    """
    name = "weight gradients"
    cases = _weight_cases(case_set)
    problem = _dict_problem(name, fn, cases)
    if problem is not None:
        return problem
    for key in _WEIGHTS:
        src = _SOURCE[key]
        left = "O" if key == "W_O" else "X"
        mistakes = [
            Mistake(f"{key} is transposed: dW = {left}^T {src} has the shape of W; {src}^T {left} is its transpose",
                    lambda *a, k=key: _weight_grads(*a)[k].T),
            Mistake(f"the {left}^T is missing: dW = {left}^T {src}, not {src} itself",
                    lambda *a, k=key: a[_SOURCE_ARG[k]]),
            Mistake(f"the sign is flipped: d{key} = +{left}^T {src}", lambda *a, k=key: -_weight_grads(*a)[k]),
        ]
        if key == "W_O":
            mistakes.append(Mistake("W_O multiplies the head output O, not X: dW_O = O^T dZ",
                                    lambda X, dQ, dK, dV, O, dZ: X.T @ dZ))
        else:
            mistakes.append(Mistake(f"X^T multiplies the wrong gradient: d{key} = X^T {src}",
                                    lambda X, dQ, dK, dV, O, dZ, k=key: _wrong_source(k, X, dQ, dK, dV)))
        result = _run_one_weight(name, key, fn, cases, mistakes)
        if not result.passed:
            return CheckResult(name, False, _one_name(result.message, name, key), len(cases))
    return CheckResult(name, True, f"{name}: all four correct on all {len(cases)} cases.", len(cases))


def _wrong_source(key, X, dQ, dK, dV):
    """X^T times one of the other two activation gradients (dQ for W_K, dK for W_Q, dQ for W_V)."""
    other = {"W_Q": dK, "W_K": dQ, "W_V": dQ}[key]
    return X.T @ other


def _run_one_weight(name, key, fn, cases, mistakes) -> CheckResult:
    def expected(*a):
        return _weight_grads(*a)[key]

    def got(*a):
        return fn(*a)[key]

    result = run_checker(f"{name} ({key})", got, cases, expected, mistakes, answers=(_weight_grads,))
    if result.passed or "expected shape" not in result.message:
        return result
    # Name the likely cause of a wrong shape more precisely than run_checker can.
    for case in cases:
        want = np.shape(expected(*case.args))
        have = np.shape(np.asarray(got(*(np.copy(a) for a in case.args)), dtype=float))
        if have == want:
            continue
        src = _SOURCE[key]
        left = "O" if key == "W_O" else "X"
        if have == want[::-1]:
            hint = f" Hint: transposed; dW = {left}^T {src} has the shape of W, {src}^T {left} does not."
        elif have == np.shape(case.args[_SOURCE_ARG[key]]):
            hint = f" Hint: that is the shape of {src}; the {left}^T in dW = {left}^T {src} is missing."
        elif key == "W_O" and have == (case.args[0].shape[1], want[1]):
            hint = " Hint: that is the shape of X^T dZ; W_O multiplies the head output O, so dW_O = O^T dZ."
        else:
            hint = ""
        return CheckResult(
            f"{name} ({key})", False,
            f"{name} ({key}): case '{case.label}': expected shape {want}, got {have}.{hint}", len(cases),
        )
    return result


def _dict_problem(name, fn, cases) -> CheckResult | None:
    """A CheckResult when ``fn`` does not return a dict with the four keys; None otherwise."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__} {fn!r}")
    for case in cases:
        try:
            out = fn(*(np.copy(a) for a in case.args))
        except Exception:  # run_checker reports it, NotImplementedError included
            return None
        if not isinstance(out, dict):
            return CheckResult(
                name, False,
                f"{name}: case '{case.label}' returned an object of type {type(out).__name__}; return a dict with keys "
                "'W_Q', 'W_K', 'W_V', 'W_O'.", len(cases),
            )
        missing = [k for k in _WEIGHTS if k not in out]
        if missing:
            return CheckResult(
                name, False,
                f"{name}: case '{case.label}': the dict lacks the key(s) {missing}; it has {sorted(map(str, out))}.",
                len(cases),
            )
    return None
