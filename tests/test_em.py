"""Chapter 7: the M-step with the attention fixed, the alternating update and its cost
accounting (attnlib.laws.em); the timescale measurements are in test_timescales.py."""

from __future__ import annotations

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import attnlib  # noqa: E402
from attnlib.head.costs import step_flops  # noqa: E402
from attnlib.laws.em import (  # noqa: E402
    AlternatingEM,
    EMHistory,
    alternating_cost,
    curvature_bounds,
    gradient_step_cost,
    m_step,
    m_step_features,
    m_step_grads,
    m_step_hessian,
    m_step_loss,
    routing_grads,
    train_alternating,
)
from attnlib.reference import autograd_grads  # noqa: E402
from attnlib.head.training import LearningRates, train  # noqa: E402
from .strategies import heads  # noqa: E402


# --------------------------------------------------------------------------- the M-step
@given(heads())
def test_features_and_loss_reproduce_the_head(case):
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    F = m_step_features(cache.attn, X)  # (N, d_x)
    assert np.allclose(F @ params.W_V, cache.out, rtol=1e-10, atol=1e-12)
    got = m_step_loss(F, y, params.W_V, params.W_O)
    assert np.isclose(got, attnlib.loss(cache, y), rtol=1e-12)


@given(heads())
def test_m_step_grads_equal_the_heads_weight_gradients(case):
    """Holding alpha fixed loses nothing: alpha never depended on W_V or W_O."""
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    dW_V, dW_O = m_step_grads(m_step_features(cache.attn, X), y, params.W_V, params.W_O)
    ref = autograd_grads(params, X, y, causal=causal)
    assert np.allclose(dW_V, ref.W_V, rtol=1e-9, atol=1e-13)
    assert np.allclose(dW_O, ref.W_O, rtol=1e-9, atol=1e-13)


@settings(max_examples=30)
@given(heads(max_n=5))
def test_hessian_matches_autograd_and_respects_the_curvature_bound(case):
    params, X, y, causal = case
    F = m_step_features(attnlib.forward(params, X, causal=causal).attn, X)  # (N, d_x)
    H = m_step_hessian(F, y, params.W_V, params.W_O)  # (d_x, d_v, d_x, d_v)
    F_t, W_O_t, y_t = torch.tensor(F), torch.tensor(params.W_O), torch.tensor(y)
    H_t = torch.autograd.functional.hessian(
        lambda W: torch.nn.functional.cross_entropy(F_t @ W @ W_O_t, y_t),
        torch.tensor(params.W_V),
    ).numpy()
    assert np.allclose(H, H_t, rtol=1e-9, atol=1e-13)
    size = params.W_V.size
    eig = np.linalg.eigvalsh(H.reshape(size, size))
    lam_V, lam_O = curvature_bounds(F, params.W_V, params.W_O)
    assert eig.min() > -1e-12 and eig.max() <= lam_V * (1 + 1e-12) + 1e-15
    H_O = torch.autograd.functional.hessian(
        lambda W: torch.nn.functional.cross_entropy(F_t @ torch.tensor(params.W_V) @ W, y_t),
        W_O_t,
    ).numpy().reshape(params.W_O.size, params.W_O.size)
    assert np.linalg.eigvalsh(H_O).max() <= lam_O * (1 + 1e-12) + 1e-15


@given(heads(), st.integers(1, 6), st.sampled_from([0.1, 1.0, 30.0]))
def test_m_step_with_curvature_steps_never_raises_the_loss(case, steps, readout_scale):
    params, X, y, causal = case
    F = m_step_features(attnlib.forward(params, X, causal=causal).attn, X)  # (N, d_x)
    W_V, W_O, losses = m_step(F, y, params.W_V, readout_scale * params.W_O,
                              inner_steps=steps)
    assert losses.shape == (steps + 1,)
    assert np.all(np.diff(losses) <= 1e-12 * np.abs(losses[:-1]) + 1e-15)
    assert np.isclose(losses[-1], m_step_loss(F, y, W_V, W_O), rtol=1e-12)


def test_m_step_with_fixed_rates_is_one_block_step_then_the_other():
    rng = np.random.default_rng(0)
    F, y = rng.normal(size=(9, 3)), rng.integers(0, 4, 9)
    W_V, W_O = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    got_V, got_O, _ = m_step(F, y, W_V, W_O, inner_steps=1, value_lr=0.3, readout_lr=0.2)
    want_V = W_V - 0.3 * m_step_grads(F, y, W_V, W_O)[0]
    want_O = W_O - 0.2 * m_step_grads(F, y, want_V, W_O)[1]
    assert np.allclose(got_V, want_V, rtol=1e-13) and np.allclose(got_O, want_O, rtol=1e-13)
    same = m_step(F, y, W_V, W_O, inner_steps=0)
    assert same[0] is not None and np.array_equal(same[0], W_V) and same[2].shape == (1,)


def test_the_logistic_regression_is_reached_through_a_full_rank_readout():
    rng = np.random.default_rng(1)
    F, y = rng.normal(size=(8, 4)), rng.integers(0, 3, 8)
    W_O = rng.normal(size=(5, 3))  # (d_v, C), d_v >= C: full column rank
    W = rng.normal(size=(4, 3))  # (d_x, C)
    W_V = W @ np.linalg.pinv(W_O)  # (d_x, d_v)
    assert np.allclose(W_V @ W_O, W)
    assert np.isclose(m_step_loss(F, y, W_V, W_O), attnlib.cross_entropy(F @ W, y))


def test_m_step_validates_its_inputs():
    F, y = np.ones((3, 2)), np.array([0, 1, 0])
    with pytest.raises(ValueError, match=r"W_V must have 2 rows .* got shape \(3, 2\)"):
        m_step_loss(F, y, np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"W_O must have 2 rows .* got shape \(3, 2\)"):
        m_step_grads(F, y, np.ones((2, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"y must lie in \[0, 2\), got 5"):
        m_step_loss(F, np.array([0, 5, 1]), np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="value_lr must be a finite number >= 0"):
        m_step(F, y, np.ones((2, 2)), np.ones((2, 2)), inner_steps=1, value_lr=-1.0)
    with pytest.raises(ValueError, match=r"alpha must be square \(N, N\), got shape \(2, 3\)"):
        m_step_features(np.ones((2, 3)), np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"X must have 2 rows \(N of alpha\), got shape \(3, 1\)"):
        m_step_features(np.eye(2), np.ones((3, 1)))


# --------------------------------------------------------------------------- the routing step
@given(heads())
def test_routing_grads_equal_the_backward_pass(case):
    params, X, y, causal = case
    cache = attnlib.forward(params, X, causal=causal)
    dW_Q, dW_K = routing_grads(cache.attn, X, y, params)
    grads = attnlib.backward(params, cache, y)
    assert np.allclose(dW_Q, grads.W_Q, rtol=1e-10, atol=1e-13)
    assert np.allclose(dW_K, grads.W_K, rtol=1e-10, atol=1e-13)


def test_routing_grads_validate():
    params = attnlib.init_params(3, 2, 2, 3, rng=0)
    with pytest.raises(TypeError, match="params must be an attnlib.Params"):
        routing_grads(np.eye(2), np.ones((2, 3)), [0, 1], "params")
    with pytest.raises(ValueError, match=r"X must have 3 columns \(d_x of W_Q\)"):
        routing_grads(np.eye(2), np.ones((2, 4)), [0, 1], params)


# --------------------------------------------------------------------------- the alternating update
def _small_task(seed=0, n=10, d_x=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d_x)), rng.integers(0, 3, n)  # (N, d_x), (N,)


def test_without_m_steps_the_update_is_gradient_descent_on_the_routing_alone():
    X, y = _small_task()
    start = attnlib.init_params(4, 3, 2, 3, scale=0.8, rng=3)
    alt = train_alternating(start, X, y, AlternatingEM(inner_steps=0, routing_lr=0.2),
                            steps=15)
    gd = train(start, X, y, LearningRates(W_Q=0.2, W_K=0.2, W_V=0.0, W_O=0.0), steps=15)
    assert np.allclose(alt.losses, gd.losses, rtol=1e-12)
    for name in ("W_Q", "W_K", "W_V", "W_O"):
        assert np.allclose(getattr(alt.params, name), getattr(gd.params, name), rtol=1e-11)
    assert np.isclose(alt.final_loss, gd.final_loss, rtol=1e-12)


@pytest.mark.parametrize("causal", [True, False])
def test_alternating_history_is_consistent(causal):
    X, y = _small_task(1)
    start = attnlib.init_params(4, 3, 2, 3, scale=0.8, rng=4)
    cfg = AlternatingEM(inner_steps=3, routing_lr=0.3)
    long = train_alternating(start, X, y, cfg, steps=8, causal=causal)
    short = train_alternating(start, X, y, cfg, steps=5, causal=causal)
    assert isinstance(long, EMHistory) and long.steps == 8 and long.config is cfg
    assert long.m_step_losses.shape == (8, 4) and long.attn_entropy.shape == (8,)
    assert np.array_equal(long.losses, long.m_step_losses[:, 0])
    assert np.allclose(long.losses[:5], short.losses, rtol=1e-13)
    assert np.isclose(long.losses[5], short.final_loss, rtol=1e-12)  # loss after 5 iterations
    cache = attnlib.forward(short.params, X, causal=causal)
    assert np.isclose(short.final_loss, attnlib.loss(cache, y), rtol=1e-12)
    assert np.all(np.diff(long.m_step_losses, axis=1) <= 1e-15)
    uniform = np.mean([np.log(i + 1) for i in range(10)]) if causal else np.log(10)
    assert np.all(long.attn_entropy <= uniform + 1e-12)


def test_train_alternating_does_not_modify_its_inputs_and_validates():
    X, y = _small_task(2)
    start = attnlib.init_params(4, 3, 2, 3, scale=0.8, rng=5)
    W_V = start.W_V.copy()
    train_alternating(start, X, y, AlternatingEM(), steps=3)
    assert np.array_equal(start.W_V, W_V)
    assert train_alternating(start, X, y, AlternatingEM(), steps=0).losses.shape == (0,)
    with pytest.raises(TypeError, match="config must be an attnlib.laws.em.AlternatingEM"):
        train_alternating(start, X, y, {"inner_steps": 5}, steps=3)
    with pytest.raises(TypeError, match="params must be an attnlib.Params"):
        train_alternating(None, X, y, AlternatingEM(), steps=3)
    with pytest.raises(ValueError, match=r"X must have shape \(N >= 1, 4\), got \(10, 3\)"):
        train_alternating(start, X[:, :3], y, AlternatingEM(), steps=3)
    with pytest.raises(ValueError, match="steps must be >= 0, got -1"):
        train_alternating(start, X, y, AlternatingEM(), steps=-1)
    with pytest.raises(TypeError, match="causal must be True or False"):
        train_alternating(start, X, y, AlternatingEM(), steps=1, causal=1)


def test_alternating_config_validates():
    assert AlternatingEM(2, 0.5, 0.1, None).readout_lr is None
    with pytest.raises(ValueError, match="routing_lr must be a finite number >= 0"):
        AlternatingEM(routing_lr=float("nan"))
    with pytest.raises(TypeError, match="readout_lr must be a number"):
        AlternatingEM(readout_lr="fast")
    with pytest.raises(TypeError, match="inner_steps must be an integer"):
        AlternatingEM(inner_steps=2.5)


# --------------------------------------------------------------------------- cost accounting
def test_gradient_step_cost_is_chapter_5s_count():
    lines = step_flops(50, 6, 3, 4, 5)
    cost = gradient_step_cost(50, 6, 3, 4, 5)
    assert cost == {"nn_products": 6, "flops": sum(line.flops for line in lines)}


def test_alternating_cost_is_linear_in_the_inner_steps_and_quadratic_in_N():
    base = alternating_cost(100, 20, 10, 15, 8, inner_steps=0)
    five = alternating_cost(100, 20, 10, 15, 8, inner_steps=5)
    assert five["nn_products"] == 5
    assert five["flops"] == base["flops"] + 5 * base["inner_flops"]
    big = alternating_cost(1000, 20, 10, 15, 8, inner_steps=0)
    assert big["inner_flops"] == 10 * base["inner_flops"]  # inner steps: linear in N
    assert 60 < big["flops"] / base["flops"] < 100  # the N x N products dominate
    step = gradient_step_cost(1000, 20, 10, 15, 8)["flops"]
    assert big["flops"] < step  # five N x N products against six
    with pytest.raises(ValueError, match="inner_steps must be >= 0"):
        alternating_cost(10, 2, 2, 2, 2, inner_steps=-1)
