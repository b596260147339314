"""The exact Bayesian predictor of the sticky chain (attnlib.chain.bayes).

Two independent references for the forward filter, and proof that each can fail:

1. brute-force enumeration of every state path on a short chain (to 1e-12);
2. a Monte Carlo calibration test on long chains (N = 2000) drawn from the model,
   with a tolerance derived from the Monte Carlo standard error.

Both use a NON-symmetric transition matrix (the authors' P is circulant and
symmetric, so a transposed P would go unnoticed on it) and, for (1), a
non-uniform initial distribution, so a wrong initial term is caught too.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from attnlib.chain.bayes import (
    bayes_cross_entropy,
    bayes_predictive,
    bayes_predictive_for,
    emission_log_likelihoods,
    enumerate_predictive,
    filter_posteriors,
    filter_step,
    oracle_cross_entropy,
    prior_predictive,
)
from attnlib.dynamics.diagnostics import predictive_entropy_bits
from attnlib.chain.task import sticky_chain


# --------------------------------------------------------------------------- helpers
def random_hmm(rng, S, d_x, *, scale=1.0):
    """A random non-symmetric transition matrix (sticky, Dirichlet rows) and means."""
    P = rng.dirichlet(np.full(S, 0.7), size=S) + 1.5 * np.eye(S)  # (S, S)
    P /= P.sum(axis=1, keepdims=True)
    mu = scale * rng.standard_normal((S, d_x))  # (S, d_x)
    return P, mu


def sample_hmm(rng, P, mu, noise, n, initial):
    """y_0 ~ initial, y_t ~ P[y_{t-1}], x_t = mu[y_{t-1}] + noise * eps_t, t = 1..n."""
    S = P.shape[0]
    states = np.empty(n + 1, dtype=np.int64)  # (n+1,)
    states[0] = rng.choice(S, p=initial)
    cum = np.cumsum(P, axis=1)  # (S, S)
    u = rng.random(n)  # (n,)
    for t in range(1, n + 1):
        states[t] = min(int(np.searchsorted(cum[states[t - 1]], u[t - 1], side="right")), S - 1)
    X = mu[states[:-1]] + noise * rng.standard_normal((n, mu.shape[1]))  # (n, d_x)
    return X, states


def brute_force_plain(X, mu, P, noise, initial):
    """p(y_t | x_1..x_t) from the joint over all paths, in plain probabilities (no log space).

    Shares nothing with attnlib.chain.bayes: itertools paths, explicit Gaussian densities.
    """
    n, d_x = X.shape
    S = P.shape[0]
    out = np.zeros((n, S))  # (N, S)
    norm = (2 * np.pi * noise**2) ** (-d_x / 2)
    for t in range(1, n + 1):
        for path in itertools.product(range(S), repeat=t + 1):  # y_0 .. y_t
            w = initial[path[0]]
            for k in range(1, t + 1):
                diff = X[k - 1] - mu[path[k - 1]]
                w *= P[path[k - 1], path[k]] * norm * np.exp(-(diff @ diff) / (2 * noise**2))
            out[t - 1, path[t]] += w
        out[t - 1] /= out[t - 1].sum()
    return out


@pytest.fixture(scope="module")
def short_chain():
    rng = np.random.default_rng(20251222)
    S, n, d_x, noise = 3, 5, 2, 0.8
    P = np.array([[0.6, 0.3, 0.1], [0.05, 0.7, 0.25], [0.4, 0.1, 0.5]])  # (S, S) non-symmetric
    mu = 0.9 * rng.standard_normal((S, d_x))  # (S, d_x)
    initial = np.array([0.6, 0.3, 0.1])
    X, states = sample_hmm(rng, P, mu, noise, n, initial)
    assert not np.allclose(P, P.T, atol=0.05)  # non-symmetric, clearly
    return dict(X=X, mu=mu, P=P, noise=noise, initial=initial)


# --------------------------------------------------------------------------- 1. brute force
def test_filter_matches_brute_force_enumeration(short_chain):
    c = short_chain
    exact = brute_force_plain(c["X"], c["mu"], c["P"], c["noise"], c["initial"])  # (N, S)
    filt = bayes_predictive(c["X"], c["mu"], c["P"], noise=c["noise"], initial=c["initial"])  # (N, S)
    enum = enumerate_predictive(c["X"], c["mu"], c["P"], noise=c["noise"], initial=c["initial"])  # (N, S)
    assert np.max(np.abs(filt - exact)) < 1e-12
    assert np.max(np.abs(enum - exact)) < 1e-12
    # The posterior of y_{t-1} too: p(y_{t-1} = s | x_1..t) = sum_c over paths ending (s, c).
    post = filter_posteriors(c["X"], c["mu"], c["P"], noise=c["noise"], initial=c["initial"])  # (N, S)
    assert np.allclose(post @ c["P"], filt, rtol=0, atol=1e-15)


def test_brute_force_comparison_catches_the_typical_bugs(short_chain):
    """The same comparison fails, by far more than its 1e-12 tolerance, for each typical bug."""
    c = short_chain
    exact = brute_force_plain(c["X"], c["mu"], c["P"], c["noise"], c["initial"])  # (N, S)
    kw = dict(noise=c["noise"], initial=c["initial"])
    wrong = {
        "transposed P": bayes_predictive(c["X"], c["mu"], c["P"].T / c["P"].T.sum(1, keepdims=True), **kw),
        "predicts y_{t-1} (posterior, no last step through P)": filter_posteriors(c["X"], c["mu"], c["P"], **kw),
        "conditions on x_{t+1} (off by one position)": bayes_predictive(c["X"], c["mu"], c["P"], **kw)[1:],
        "uniform instead of the true initial distribution": bayes_predictive(c["X"], c["mu"], c["P"], noise=c["noise"]),
        "noise instead of noise^2": bayes_predictive(c["X"], c["mu"], c["P"], noise=np.sqrt(c["noise"]),
                                                      initial=c["initial"]),
    }
    for name, pred in wrong.items():
        gap = np.max(np.abs(pred - exact[: len(pred)]))
        assert gap > 1e-3, f"{name} was not caught (max gap {gap:.2e})"


# --------------------------------------------------------------------------- 2. Monte Carlo, long chains
# Calibration identity. If q_t = p(y_t | x_1..x_t) exactly, then conditionally on x_1..x_t the target
# y_t is distributed as q_t, so
#     E[-log q_t(y_t) - H(q_t)] = 0      and      E[q_t(y_t) - ||q_t||^2] = 0 ,
# for every t. Per sequence m we average d_t over its N = 2000 positions (D_m); the M sequences are
# independent draws from the model, so the D_m are i.i.d. with mean 0 and the Monte Carlo standard
# error of their mean is SE = std(D_m, ddof=1) / sqrt(M). We accept |mean(D)| < 4 SE (a false alarm
# has probability about 6e-5 under a normal approximation, M = 24 being large enough for it given
# that each D_m is itself an average of 2000 bounded-ish terms). A wrong predictor breaks the identity:
# the same statistic then sits many standard errors from 0.
M_SEQ, N_LONG, S_LONG, NOISE_LONG = 24, 2000, 6, 1.0


@pytest.fixture(scope="module")
def long_chains():
    rng = np.random.default_rng(7777)
    P, mu = random_hmm(rng, S_LONG, 3, scale=1.2)  # overlapping means: the posterior is uncertain
    initial = np.full(S_LONG, 1.0 / S_LONG)
    seqs = [sample_hmm(rng, P, mu, NOISE_LONG, N_LONG, initial) for _ in range(M_SEQ)]
    return P, mu, seqs


def _calibration_z(preds_and_targets):
    """z-scores (mean / SE over sequences) of the two calibration statistics."""
    log_stat, brier_stat = [], []
    for q, y in preds_and_targets:
        q_y = q[np.arange(len(y)), y]  # (N,)
        H = predictive_entropy_bits(q) * np.log(2.0)  # (N,) nats
        log_stat.append(np.mean(-np.log(q_y) - H))
        brier_stat.append(np.mean(q_y - (q**2).sum(axis=1)))
    z = []
    for stat in (np.array(log_stat), np.array(brier_stat)):
        se = stat.std(ddof=1) / np.sqrt(len(stat))  # Monte Carlo standard error of the mean
        z.append(abs(stat.mean()) / se)
    return z


def test_filter_is_calibrated_on_long_chains(long_chains):
    P, mu, seqs = long_chains
    preds = [(bayes_predictive(X, mu, P, noise=NOISE_LONG), states[1:]) for X, states in seqs]
    assert all(np.all(np.isfinite(q)) for q, _ in preds)
    z_log, z_brier = _calibration_z(preds)
    assert z_log < 4 and z_brier < 4, (z_log, z_brier)
    # The filter must also beat the input-blind predictor by a clear margin (it uses the inputs).
    ce_bayes = np.mean([bayes_cross_entropy(q, y) for q, y in preds])
    ce_prior = np.mean([bayes_cross_entropy(prior_predictive(P, N_LONG), y) for _, y in preds])
    assert ce_bayes < ce_prior - 0.05


def test_calibration_test_catches_the_typical_bugs(long_chains):
    P, mu, seqs = long_chains
    P_T = P.T / P.T.sum(axis=1, keepdims=True)  # a row-stochastic "transposed P"
    wrong = {
        "predicts y_{t-1}": [(filter_posteriors(X, mu, P, noise=NOISE_LONG), s[1:]) for X, s in seqs],
        "conditions on x_{t+1}": [(bayes_predictive(X, mu, P, noise=NOISE_LONG)[1:], s[1:-1]) for X, s in seqs],
        "transposed P": [(bayes_predictive(X, mu, P_T, noise=NOISE_LONG), s[1:]) for X, s in seqs],
    }
    for name, preds in wrong.items():
        z = max(_calibration_z(preds))
        assert z > 8, f"{name} was not caught (z = {z:.1f})"


# --------------------------------------------------------------------------- limits and invariants
def test_rows_sum_to_one_and_no_underflow_at_full_length():
    task = sticky_chain(42, noise=0.01)  # N = 1999, tiny noise
    pred = bayes_predictive_for(task)  # (N, S)
    assert pred.shape == (1999, 8)
    assert np.all(np.isfinite(pred)) and np.allclose(pred.sum(axis=1), 1.0, atol=1e-12)
    # The unnormalised forward variable of the textbook recursion underflows long before N = 1999:
    log_e = emission_log_likelihoods(task.X, task.mu, noise=0.01)  # (N, S)
    alpha = np.full(8, 1 / 8)  # (S,)
    with np.errstate(under="ignore"):
        for t in range(task.n_positions):
            alpha = (alpha * np.exp(log_e[t])) @ task.P  # (S,)  never renormalised
    assert np.all(alpha == 0.0)


def test_an_outlier_input_does_not_underflow():
    """||x - mu_s||^2 / 2 > 745 for every state: each density is 0.0 in float64, the log-space step is fine."""
    P = np.array([[0.9, 0.1], [0.2, 0.8]])
    mu = np.array([[-1.0, 0.0], [1.0, 0.0]])
    X = np.array([[0.5, 0.0], [60.0, 0.0], [-0.5, 0.0]])  # (N, d_x)  row 1 is an outlier
    with np.errstate(under="ignore"):
        assert np.all(np.exp(emission_log_likelihoods(X, mu, noise=1.0))[1] == 0.0)
    pred = bayes_predictive(X, mu, P, noise=1.0)  # (N, S)
    assert np.all(np.isfinite(pred)) and np.allclose(pred.sum(axis=1), 1.0)
    assert np.allclose(filter_posteriors(X, mu, P, noise=1.0)[1], [0.0, 1.0])  # 60 is nearer to mu_1


def test_small_noise_gives_the_oracle_and_huge_noise_the_prior():
    small = sticky_chain(42, T=400, noise=0.05)
    assert abs(bayes_cross_entropy(bayes_predictive_for(small), small.y) - oracle_cross_entropy(small)) < 1e-9
    medium = sticky_chain(42, T=400, noise=1.0)
    gap_medium = bayes_cross_entropy(bayes_predictive_for(medium), medium.y) - oracle_cross_entropy(medium)
    assert gap_medium > 1e-4  # at the authors' noise the filter is close to, but not at, the oracle
    huge = sticky_chain(42, T=400, noise=1e4)
    prior = prior_predictive(huge.P, huge.n_positions)  # (N, S), uniform for this P
    assert np.allclose(prior, 1 / 8)
    assert abs(bayes_cross_entropy(bayes_predictive_for(huge), huge.y) - bayes_cross_entropy(prior, huge.y)) < 1e-4


def test_huge_noise_follows_the_prior_for_a_non_uniform_start():
    rng = np.random.default_rng(3)
    P, mu = random_hmm(rng, 4, 2)
    initial = np.array([0.7, 0.1, 0.1, 0.1])
    X = rng.standard_normal((30, 2))  # (N, d_x)
    pred = bayes_predictive(X, mu, P, noise=1e5, initial=initial)  # (N, S)
    assert np.allclose(pred, prior_predictive(P, 30, initial=initial), atol=1e-8)
    assert np.allclose(prior_predictive(P, 1, initial=initial)[0], initial @ P)


def test_oracle_and_h_min():
    task = sticky_chain(2024)
    assert abs(oracle_cross_entropy(task) - task.H_min) < 0.05  # one sequence of 1999 transitions
    P = task.P
    assert np.isclose(oracle_cross_entropy(task), -np.mean(np.log(P[task.states[:-1], task.states[1:]])))


def test_filter_step_is_bayes_rule():
    log_prior = np.log([0.2, 0.3, 0.5])
    log_e = np.array([-1.0, 0.0, -np.inf])  # the third state cannot have produced x
    post = np.exp(filter_step(log_prior, log_e))  # (S,)
    expected = np.array([0.2 * np.exp(-1), 0.3, 0.0])
    assert np.allclose(post, expected / expected.sum())
    with pytest.raises(ValueError, match="probability 0 to every state"):
        filter_step(np.array([0.0, -np.inf]), np.array([-np.inf, 0.0]))


def test_zeros_in_P_and_initial_are_handled():
    P = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # a deterministic cycle
    mu = np.array([[0.0], [5.0], [10.0]])
    X = np.array([[0.1], [4.0], [11.0]])  # (N, d_x)
    initial = np.array([1.0, 0.0, 0.0])
    pred = bayes_predictive(X, mu, P, noise=1.0, initial=initial)  # (N, S)
    assert np.allclose(pred, [[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    assert np.allclose(enumerate_predictive(X, mu, P, noise=1.0, initial=initial), pred)


# --------------------------------------------------------------------------- bad input: one-line errors
P2 = np.array([[0.9, 0.1], [0.2, 0.8]])
MU2 = np.array([[-1.0], [1.0]])
X2 = np.array([[0.0], [1.0]])


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: bayes_predictive(X2, MU2, np.ones((2, 3)) / 3, noise=1.0), ValueError, "square"),
        (lambda: bayes_predictive(X2, MU2, [[0.5, 0.6], [0.5, 0.5]], noise=1.0), ValueError, "row-stochastic"),
        (lambda: bayes_predictive(X2, MU2[:1], P2, noise=1.0), ValueError, "one mean per state"),
        (lambda: bayes_predictive(np.zeros((2, 3)), MU2, P2, noise=1.0), ValueError, "columns"),
        (lambda: bayes_predictive(X2, MU2, P2, noise=0.0), ValueError, "noise"),
        (lambda: bayes_predictive(X2, MU2, P2, noise=-1.0), ValueError, "noise"),
        (lambda: bayes_predictive(X2, MU2, P2, noise=True), TypeError, "noise"),
        (lambda: bayes_predictive(X2, MU2, P2, noise="1"), TypeError, "noise"),
        (lambda: bayes_predictive(X2, MU2, P2, noise=1.0, initial=[1.0]), ValueError, "initial"),
        (lambda: bayes_predictive(X2, MU2, P2, noise=1.0, initial=[0.7, 0.7]), ValueError, "initial"),
        (lambda: bayes_predictive(np.zeros((0, 1)), MU2, P2, noise=1.0), ValueError, "at least one"),
        (lambda: bayes_predictive([[np.nan], [0.0]], MU2, P2, noise=1.0), ValueError, "finite"),
        (lambda: bayes_cross_entropy([[0.5, 0.6]], [0]), ValueError, "probability vector"),
        (lambda: bayes_cross_entropy([[0.5, 0.5]], [2]), ValueError, "must lie in"),
        (lambda: bayes_predictive_for("task"), TypeError, "attnlib.Task"),
        (lambda: oracle_cross_entropy(object()), TypeError, "attnlib.Task"),
        (lambda: prior_predictive(P2, 0), ValueError, "n_positions"),
        (lambda: enumerate_predictive(np.zeros((30, 1)), MU2, P2, noise=1.0), ValueError, "max_paths"),
    ],
)
def test_bad_input_is_a_one_line_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert words in message and "\n" not in message
