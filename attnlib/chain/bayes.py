r"""The exact Bayesian predictor of the sticky chain: an HMM forward filter (chapter 9).

The sticky-chain task (:func:`attnlib.chain.task.sticky_chain`) is a hidden Markov
model. With ``S`` states, a transition matrix ``P``, symbol means ``mu`` and
noise standard deviation ``sigma``:

.. math::

    y_0 \sim \pi_0,\qquad y_t \mid y_{t-1} \sim \Pi_{y_{t-1},\cdot},\qquad
    x_t = \mu_{y_{t-1}} + \sigma\,\varepsilon_t,\ \ \varepsilon_t \sim \mathcal N(0, I),
    \qquad t = 1, \dots, N .

Position ``t`` of a causal head sees ``x_1 .. x_t`` and predicts ``y_t``. The
best possible prediction is the Bayesian predictive

.. math::

    p(y_t = c \mid x_{1:t}) = \sum_s \pi_t(s)\, \Pi_{sc},\qquad
    \pi_t(s) = p(y_{t-1} = s \mid x_{1:t}) \propto
    \mathcal N(x_t; \mu_s, \sigma^2 I)\, p(y_{t-1} = s \mid x_{1:t-1}),

and :math:`p(y_{t-1} = s \mid x_{1:t-1})` is the previous position's
predictive (the initial distribution at ``t = 1``): the forward recursion of
an HMM (Rabiner 1989; Bishop 2006, section 13.2), chapter 9, eqs.
``bayes-filter`` and ``bayes-predictive``.

Everything is computed in log space: the Gaussian log-likelihoods are
normalised with a log-sum-exp before anything is exponentiated, so nothing
underflows however long the sequence or small the noise.

Dimension names in shape comments: ``N`` positions, ``S`` states (= classes),
``d_x`` input width.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validate import as_distribution_rows, as_float_array, as_float_matrix, as_labels, as_number


_STOCHASTIC_TOL = 1e-9


# --------------------------------------------------------------------------- validation
def _transition(P) -> np.ndarray:
    P = as_float_matrix(P, "P")
    if P.shape[0] != P.shape[1] or P.shape[0] == 0:
        raise ValueError(f"P must be a square (S, S) transition matrix, got shape {P.shape}")
    if P.min() < 0 or not np.allclose(P.sum(axis=1), 1.0, rtol=0, atol=_STOCHASTIC_TOL):
        raise ValueError("P must be row-stochastic: non-negative, every row summing to 1")
    return P


def _distribution(p, name: str, n: int) -> np.ndarray:
    p = as_float_array(p, name, ndim=1)
    if p.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) (one entry per state), got {p.shape}")
    if p.min() < 0 or not np.isclose(p.sum(), 1.0, rtol=0, atol=_STOCHASTIC_TOL):
        raise ValueError(f"{name} must be a probability vector (non-negative, summing to 1), got sum {p.sum():.6g}")
    return p


def _noise(noise) -> float:
    return as_number(noise, "noise", minimum=0, exclusive=True)


def _inputs(X, mu, P, noise, initial):
    X = as_float_matrix(X, "X")
    mu = as_float_matrix(mu, "mu")
    P = _transition(P)
    S = P.shape[0]
    if mu.shape[0] != S:
        raise ValueError(f"mu must have {S} rows (one mean per state of P), got shape {mu.shape}")
    if X.shape[1] != mu.shape[1]:
        raise ValueError(f"X must have {mu.shape[1]} columns (the width of mu), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"X must have at least one position, got shape {X.shape}")
    initial = np.full(S, 1.0 / S) if initial is None else _distribution(initial, "initial", S)
    return X, mu, P, _noise(noise), initial


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(p, out=np.full_like(p, -np.inf), where=p > 0)  # log 0 := -inf


def _logsumexp(z: np.ndarray) -> float:
    """log sum exp of a 1-D array that may hold -inf entries (not all of them)."""
    m = z.max()
    return float(m + np.log(np.exp(z - m).sum()))


# --------------------------------------------------------------------------- the filter
def emission_log_likelihoods(X, mu, *, noise) -> np.ndarray:
    r"""Log-likelihoods :math:`\log \mathcal N(x_t; \mu_s, \sigma^2 I)` up to a constant per row.

    Returns :math:`-\lVert x_t - \mu_s\rVert^2 / (2\sigma^2)`; the dropped term
    :math:`-\tfrac{d_x}{2}\log(2\pi\sigma^2)` is the same for every state, so
    it cancels when a row is normalised.

    Parameters
    ----------
    X : array_like, shape (N, d_x)
    mu : array_like, shape (S, d_x)
    noise : float > 0
        The standard deviation :math:`\sigma`.

    Returns
    -------
    numpy.ndarray, shape (N, S)

    Examples
    --------
    >>> emission_log_likelihoods([[0.0, 0.0]], [[0.0, 0.0], [3.0, 4.0]], noise=1.0)
    array([[  0. , -12.5]])
    """
    X = as_float_matrix(X, "X")
    mu = as_float_matrix(mu, "mu")
    if X.shape[1] != mu.shape[1]:
        raise ValueError(f"X must have {mu.shape[1]} columns (the width of mu), got shape {X.shape}")
    noise = _noise(noise)
    sq_dist = (X**2).sum(axis=1)[:, None] - 2.0 * X @ mu.T + (mu**2).sum(axis=1)[None, :]  # (N, S)
    return -np.maximum(sq_dist, 0.0) / (2.0 * noise**2)  # (N, S)


def filter_step(log_prior, log_emission) -> np.ndarray:
    r"""One Bayes update in log space: :math:`\log\pi(s) = \log e(s) + \log q(s) - \operatorname{LSE}_r(\log e(r) + \log q(r))`.

    Parameters
    ----------
    log_prior : array_like, shape (S,)
        :math:`\log q(s) = \log p(y_{t-1} = s \mid x_{1:t-1})` (``-inf`` allowed).
    log_emission : array_like, shape (S,)
        :math:`\log e(s) = \log p(x_t \mid y_{t-1} = s)`, up to a constant.

    Returns
    -------
    numpy.ndarray, shape (S,)
        The normalised log posterior :math:`\log \pi_t(s)`.

    Examples
    --------
    >>> np.exp(filter_step(np.log([0.5, 0.5]), np.array([0.0, -np.log(3.0)]))).round(4)
    array([0.75, 0.25])
    """
    joint = np.asarray(log_prior, dtype=float) + np.asarray(log_emission, dtype=float)  # (S,)
    if not np.any(np.isfinite(joint)):
        raise ValueError("the prior gives probability 0 to every state that could have produced x_t")
    return joint - _logsumexp(joint)  # (S,)


def filter_posteriors(X, mu, P, *, noise, initial=None) -> np.ndarray:
    r"""The filtering posteriors :math:`\pi_t(s) = p(y_{t-1} = s \mid x_1, \dots, x_t)`.

    The forward recursion (chapter 9, eq. ``bayes-filter``), in log space:

    .. math::

        q_1 = \pi_0,\qquad
        \pi_t(s) \propto \mathcal N(x_t; \mu_s, \sigma^2 I)\, p^{\mathrm{B}}_t(s),\qquad
        p^{\mathrm{B}}_{t+1} = \pi_t \Pi .

    Parameters
    ----------
    X : array_like, shape (N, d_x)
        Inputs :math:`x_1, \dots, x_N` (row ``t - 1`` holds :math:`x_t`).
    mu : array_like, shape (S, d_x)
        State means.
    P : array_like, shape (S, S)
        Transition matrix, ``P[r, s] = p(y_t = s | y_{t-1} = r)`` (rows sum to 1).
    noise : float > 0
        Standard deviation of the Gaussian noise.
    initial : array_like, shape (S,), optional
        Distribution of :math:`y_0`; uniform by default (as in the authors' task).

    Returns
    -------
    numpy.ndarray, shape (N, S)
        Row ``t - 1`` is :math:`\pi_t`; every row sums to 1.

    Examples
    --------
    >>> P = np.array([[0.9, 0.1], [0.2, 0.8]]); mu = np.array([[-1.0], [1.0]])
    >>> filter_posteriors([[0.0], [2.0]], mu, P, noise=1.0).round(4)
    array([[0.5   , 0.5   ],
           [0.0219, 0.9781]])
    """
    X, mu, P, noise, initial = _inputs(X, mu, P, noise, initial)
    log_e = emission_log_likelihoods(X, mu, noise=noise)  # (N, S)
    n, S = log_e.shape
    log_post = np.empty((n, S))  # (N, S)
    prior = initial  # (S,)  q_1 = pi_0
    for t in range(n):
        log_post[t] = filter_step(_log(prior), log_e[t])  # (S,)  log pi_t
        prior = np.exp(log_post[t]) @ P  # (S,)  p^B_{t+1} = pi_t Pi
    return np.exp(log_post)  # (N, S)


def bayes_predictive(X, mu, P, *, noise, initial=None) -> np.ndarray:
    r"""The Bayes-optimal predictive :math:`p(y_t = c \mid x_1, \dots, x_t) = (\pi_t P)_c`.

    Parameters
    ----------
    X, mu, P, noise, initial
        As for :func:`filter_posteriors`.

    Returns
    -------
    numpy.ndarray, shape (N, S)
        Row ``t - 1`` is the distribution of :math:`y_t` given :math:`x_{1:t}`
        (chapter 9, eq. ``bayes-predictive``); every row sums to 1.

    Examples
    --------
    >>> P = np.array([[0.9, 0.1], [0.2, 0.8]]); mu = np.array([[-1.0], [1.0]])
    >>> bayes_predictive([[0.0], [2.0]], mu, P, noise=1.0).round(4)
    array([[0.55  , 0.45  ],
           [0.2153, 0.7847]])
    """
    P = _transition(P)
    return filter_posteriors(X, mu, P, noise=noise, initial=initial) @ P  # (N, S)


def bayes_predictive_for(task) -> np.ndarray:
    """:func:`bayes_predictive` for an :class:`attnlib.Task` (its ``X``, ``mu``, ``P``, ``noise``; uniform ``y_0``).

    Parameters
    ----------
    task : attnlib.Task
        A sampled sticky chain; ``task.noise`` must be positive.

    Returns
    -------
    numpy.ndarray, shape (N, S)

    Examples
    --------
    >>> from attnlib.chain.task import sticky_chain
    >>> task = sticky_chain(42, T=30)
    >>> pred = bayes_predictive_for(task)
    >>> pred.shape, bool(np.allclose(pred.sum(axis=1), 1.0))
    ((29, 8), True)
    """
    for name in ("X", "mu", "P", "noise"):
        if not hasattr(task, name):
            raise TypeError(f"task must be an attnlib.Task (with X, mu, P, noise), got {type(task).__name__}")
    return bayes_predictive(task.X, task.mu, task.P, noise=task.noise)


def prior_predictive(P, n_positions: int, *, initial=None) -> np.ndarray:
    r"""The predictive that ignores every input: :math:`p(y_t) = (\pi_0 P^t)`, for ``t = 1 .. N``.

    The limit of :func:`bayes_predictive` when the noise swamps the means.
    With the authors' doubly stochastic ``P`` and uniform :math:`\pi_0` every
    row is uniform.

    Parameters
    ----------
    P : array_like, shape (S, S)
    n_positions : int >= 1
    initial : array_like, shape (S,), optional
        Uniform by default.

    Returns
    -------
    numpy.ndarray, shape (N, S)

    Examples
    --------
    >>> prior_predictive([[0.5, 0.5], [0.0, 1.0]], 2, initial=[1.0, 0.0])
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    P = _transition(P)
    if isinstance(n_positions, bool) or not isinstance(n_positions, numbers.Integral) or n_positions < 1:
        raise ValueError(f"n_positions must be an integer >= 1, got {n_positions!r}")
    S = P.shape[0]
    dist = np.full(S, 1.0 / S) if initial is None else _distribution(initial, "initial", S)  # (S,)
    out = np.empty((int(n_positions), S))  # (N, S)
    for t in range(int(n_positions)):
        dist = dist @ P  # (S,)  p(y_{t+1})
        out[t] = dist
    return out


def enumerate_predictive(X, mu, P, *, noise, initial=None, max_paths: int = 1_000_000) -> np.ndarray:
    r"""The predictive :math:`p(y_t \mid x_{1:t})` by brute force: sum the joint over every state path.

    For every path :math:`y_0, \dots, y_t` the joint of the path and the
    inputs seen so far is

    .. math:: p(y_{0:t}, x_{1:t}) = \pi_0(y_0) \prod_{k=1}^{t} \Pi_{y_{k-1} y_k}\,
              \mathcal N(x_k; \mu_{y_{k-1}}, \sigma^2 I),

    and :math:`p(y_t = c \mid x_{1:t})` is the sum over the paths ending in
    ``c`` divided by the sum over all paths. No recursion, no shared code with
    :func:`bayes_predictive`: it is the independent reference for short
    chains (cost :math:`S^{N+1}` paths).

    Parameters
    ----------
    X, mu, P, noise, initial
        As for :func:`filter_posteriors`.
    max_paths : int
        Refuse (one-line ``ValueError``) when :math:`S^{N+1}` exceeds it.

    Returns
    -------
    numpy.ndarray, shape (N, S)

    Examples
    --------
    >>> P = np.array([[0.9, 0.1], [0.2, 0.8]]); mu = np.array([[-1.0], [1.0]])
    >>> X = [[0.0], [2.0], [-0.5]]
    >>> bool(np.allclose(enumerate_predictive(X, mu, P, noise=1.0),
    ...                  bayes_predictive(X, mu, P, noise=1.0), rtol=1e-12, atol=0))
    True
    """
    X, mu, P, noise, initial = _inputs(X, mu, P, noise, initial)
    n, S = X.shape[0], P.shape[0]
    if float(S) ** (n + 1) > max_paths:
        raise ValueError(f"{S}^{n + 1} state paths exceed max_paths={max_paths}: use bayes_predictive for long chains")
    log_e = emission_log_likelihoods(X, mu, noise=noise)  # (N, S)
    log_P, log_init = _log(P), _log(initial)  # (S, S), (S,)
    paths = np.array(np.meshgrid(*[np.arange(S)] * (n + 1), indexing="ij")).reshape(n + 1, -1).T  # (S^(N+1), N+1)
    log_joint = log_init[paths[:, 0]]  # (n_paths,)  log pi_0(y_0)
    out = np.empty((n, S))  # (N, S)
    for t in range(1, n + 1):
        log_joint = log_joint + log_P[paths[:, t - 1], paths[:, t]] + log_e[t - 1, paths[:, t - 1]]  # (n_paths,)
        # Paths agree on y_0..y_t and differ only later: each prefix is counted S^(N-t) times, which cancels.
        weights = np.exp(log_joint - log_joint.max())  # (n_paths,)
        by_state = np.bincount(paths[:, t], weights=weights, minlength=S)  # (S,)
        out[t - 1] = by_state / by_state.sum()
    return out


# --------------------------------------------------------------------------- losses
def bayes_cross_entropy(pred, y) -> float:
    r"""Mean cross-entropy (nats) of a predictive on targets: :math:`-\frac1N\sum_t \log p_t(y_t)`.

    Parameters
    ----------
    pred : array_like, shape (N, S)
        One distribution per position (rows summing to 1 within 1e-6).
    y : array_like of int, shape (N,)

    Returns
    -------
    float
        ``inf`` if some target has probability 0.

    Examples
    --------
    >>> round(bayes_cross_entropy([[0.5, 0.5], [0.25, 0.75]], [0, 1]), 4)
    0.4904
    """
    pred = as_distribution_rows(pred, "pred", matrix=True)
    y = as_labels(y, "y", length=pred.shape[0], n_classes=pred.shape[1])
    with np.errstate(divide="ignore"):
        return float(-np.log(pred[np.arange(len(y)), y]).mean())


def oracle_cross_entropy(task) -> float:
    r"""Cross-entropy of the oracle that knows :math:`y_{t-1}`: :math:`-\frac1N \sum_t \log \Pi_{y_{t-1} y_t}`.

    Its expectation under the stationary distribution is :math:`H_{\min}`
    (chapter 8, eq. ``sticky-hmin``); on one sampled sequence it differs from
    :math:`H_{\min}` by sampling noise.

    Parameters
    ----------
    task : attnlib.Task
        Needs ``states`` (the whole chain :math:`y_0 .. y_N`) and ``P``.

    Returns
    -------
    float

    Examples
    --------
    >>> from attnlib.chain.task import sticky_chain
    >>> task = sticky_chain(42, T=2000)
    >>> abs(oracle_cross_entropy(task) - task.H_min) < 0.05
    True
    """
    for name in ("states", "P"):
        if not hasattr(task, name):
            raise TypeError(f"task must be an attnlib.Task (with states and P), got {type(task).__name__}")
    P = _transition(task.P)
    states = as_labels(np.asarray(task.states), "task.states", length=len(task.states), n_classes=P.shape[0])
    if len(states) < 2:
        raise ValueError(f"task.states must hold at least 2 states, got {len(states)}")
    with np.errstate(divide="ignore"):
        return float(-np.log(P[states[:-1], states[1:]]).mean())


def mean_kl(p, q) -> float:
    r"""Mean over rows of :math:`\mathrm{KL}(p \,\|\, q) = \sum_c p(c) \log \frac{p(c)}{q(c)}` (nats).

    With ``p`` the Bayesian predictive (:func:`bayes_predictive`, chapter 9's
    :math:`p^{\mathrm{B}}`) and ``q`` a model's, this is the model's expected excess
    cross-entropy over the Bayes-optimal predictor, given the inputs: the average of
    :math:`-\log q(y) + \log p(y)` over targets drawn from :math:`p`, without the
    sampling noise of one sequence's targets. It is zero only when the two
    predictives agree at every position.

    Parameters
    ----------
    p : array_like, shape (N, C)
        The reference distributions (rows summing to 1 within 1e-6); ``0 log 0 = 0``.
    q : array_like, shape (N, C)
        The compared distributions.

    Returns
    -------
    float
        ``inf`` if some ``q(c)`` is 0 where ``p(c) > 0``.

    Examples
    --------
    >>> round(mean_kl([[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.5, 0.5]]), 4)  # (0 + log 2) / 2
    0.3466
    >>> mean_kl([[0.25, 0.75]], [[0.25, 0.75]])
    0.0
    """
    p = as_distribution_rows(p, "p", matrix=True)
    q = as_distribution_rows(q, "q", matrix=True)
    if q.shape != p.shape:
        raise ValueError(f"q must have the shape of p {p.shape}, got {q.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (_log(p) - _log(q)), 0.0)  # (N, C)  0 log 0 = 0; p > 0 = q gives +inf
    return float(np.maximum(terms.sum(axis=1), 0.0).mean())  # rounding can leave -1e-17 on equal rows
