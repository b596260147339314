"""The float64 reference trainer."""

import numpy as np
import pytest

from attnlib import Params, backward, forward, init_params, loss
from attnlib.chain.task import sticky_chain
from attnlib.head.training import Diverged, History, LearningRates, predictive_metrics, steps_to_reach, train


@pytest.fixture(scope="module")
def problem():
    task = sticky_chain(11, T=61, d_x=6)
    params = init_params(6, 4, 5, 8, scale=0.4, rng=2)
    return task.X, task.y, params


def test_learning_rates():
    assert LearningRates.sgd().as_dict() == {"W_Q": 0.01, "W_K": 0.01, "W_V": 0.01, "W_O": 0.01}
    em = LearningRates.em_like(0.02, value_ratio=5)
    assert (em.W_V, em.W_Q, em.W_K, em.W_O) == (pytest.approx(0.1), 0.02, 0.02, 0.02)
    with pytest.raises(ValueError, match="W_V must be a finite number >= 0, got -1"):
        LearningRates(0.1, 0.1, -1, 0.1)
    with pytest.raises(TypeError, match="W_Q"):
        LearningRates("0.1", 0.1, 0.1, 0.1)
    with pytest.raises(TypeError, match="W_O"):
        LearningRates(0.1, 0.1, 0.1, True)
    with pytest.raises(ValueError, match="value_ratio"):
        LearningRates.em_like(value_ratio=float("inf"))


def test_history_fields_and_shapes(problem):
    X, y, params = problem
    h = train(params, X, y, LearningRates.em_like(0.3), steps=7,
              record=("loss", "attn_entropy", "score_grad_norm", "value_grad_norm"), snapshot_every=3)  # fmt: skip
    assert isinstance(h, History) and h.steps == 7
    for name in ("losses", "attn_entropy", "score_grad_norm", "value_grad_norm"):
        assert getattr(h, name).shape == (7,)
    assert h.snapshot_steps.tolist() == [0, 3, 6, 7]
    assert h.value_snapshots.shape == (4, X.shape[0], 5)
    np.testing.assert_allclose(h.value_snapshots[0], X @ params.W_V)
    np.testing.assert_allclose(h.value_snapshots[-1], X @ h.params.W_V)
    assert len(h.param_snapshots) == 4
    np.testing.assert_array_equal(h.param_snapshots[0].W_Q, params.W_Q)
    np.testing.assert_array_equal(h.param_snapshots[-1].W_O, h.params.W_O)
    one_step = train(params, X, y, LearningRates.em_like(0.3), steps=3)
    np.testing.assert_allclose(h.param_snapshots[1].W_V, one_step.params.W_V)
    assert 0 <= h.final_accuracy <= 1 and 0 < h.final_entropy <= np.log(8)
    plain = train(params, X, y, LearningRates.sgd(), steps=2)
    assert plain.attn_entropy is None and plain.value_snapshots is None and plain.param_snapshots is None


def test_one_step_is_gradient_descent_with_per_matrix_rates(problem):
    X, y, params = problem
    lrs = LearningRates(0.1, 0.2, 0.3, 0.4)
    h = train(params, X, y, lrs, steps=1,
              record=("loss", "attn_entropy", "attn_change", "score_grad_norm", "value_grad_norm"))
    cache = forward(params, X)
    grads = backward(params, cache, y)
    assert h.losses[0] == pytest.approx(loss(cache, y), rel=1e-14)
    for name, rate in lrs.as_dict().items():
        np.testing.assert_allclose(getattr(h.params, name), getattr(params, name) - rate * getattr(grads, name))
    alpha = cache.attn
    entropy = -np.sum(np.where(alpha > 0, alpha * np.log(np.where(alpha > 0, alpha, 1)), 0), axis=1).mean()
    assert h.attn_entropy[0] == pytest.approx(entropy, rel=1e-12)
    assert h.score_grad_norm[0] == pytest.approx(np.linalg.norm(grads.scores), rel=1e-12)
    assert h.value_grad_norm[0] == pytest.approx(np.linalg.norm(grads.values), rel=1e-12)
    moved = (forward(h.params, X).attn - alpha) @ X  # (N, d_x)  what each query reads, after minus before
    assert h.attn_change[0] == pytest.approx(np.sqrt(np.mean(np.sum(moved**2, axis=1))), rel=1e-12)
    assert h.attn_change[0] > 0
    final = predictive_metrics(forward(h.params, X).logits, y)
    assert (h.final_loss, h.final_entropy, h.final_accuracy) == pytest.approx(final)


def test_loss_decreases(problem):
    X, y, params = problem
    h = train(params, X, y, LearningRates.sgd(0.2), steps=40)
    assert h.final_loss < h.losses[0] - 0.5
    assert np.all(np.diff(h.losses) < 0)  # small enough steps on a smooth loss: monotone here


def test_zero_steps(problem):
    X, y, params = problem
    h = train(params, X, y, LearningRates.sgd(), steps=0, snapshot_every=5)
    assert h.losses.shape == (0,) and h.snapshot_steps.tolist() == [0]
    assert h.final_loss == pytest.approx(loss(forward(params, X), y))
    np.testing.assert_array_equal(h.params.W_Q, params.W_Q)


def test_non_causal(problem):
    X, y, params = problem
    h = train(params, X, y, LearningRates.sgd(), steps=1, causal=False)
    assert h.losses[0] == pytest.approx(loss(forward(params, X, causal=False), y))


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"steps": -1}, ValueError, "steps must be >= 0, got -1"),
        ({"steps": 1.5}, TypeError, "steps"),
        ({"steps": 1, "record": ("loss", "bogus")}, ValueError, "bogus"),
        ({"steps": 1, "record": "loss"}, TypeError, "record"),
        ({"steps": 1, "snapshot_every": 0}, ValueError, "snapshot_every"),
        ({"steps": 1, "causal": "yes"}, TypeError, "causal"),
    ],
)
def test_train_rejects_bad_arguments(problem, kwargs, error, text):
    X, y, params = problem
    with pytest.raises(error, match=text):
        train(params, X, y, LearningRates.sgd(), **kwargs)


def test_train_rejects_bad_inputs(problem):
    X, y, params = problem
    with pytest.raises(TypeError, match="lrs"):
        train(params, X, y, {"W_Q": 0.1}, steps=1)
    with pytest.raises(ValueError, match="X must have shape"):
        train(params, X[:, :3], y, LearningRates.sgd(), steps=1)
    with pytest.raises(ValueError, match="y must lie in"):
        train(params, X, np.full(len(y), 9), LearningRates.sgd(), steps=1)
    with pytest.raises(TypeError, match="params"):
        train(params.as_dict(), X, y, LearningRates.sgd(), steps=1)


@pytest.mark.parametrize("rate", [3.0, 1e4, 1e100])
def test_a_diverging_run_stops_with_one_line_naming_the_step_and_the_rates(rate):
    """Whether the weights or only the scores overflow first, never a NaN history nor a deep traceback."""
    task = sticky_chain(42, T=40)
    from attnlib.chain.task import authors_initial_params

    with pytest.raises(Diverged, match=r"^the run diverged: its loss is not finite from step \d+ on, "
                                       r"with learning rates LearningRates\(W_Q=.*; lower them$") as err:
        train(authors_initial_params(42), task.X, task.y, LearningRates.sgd(rate), steps=300)
    assert "\n" not in str(err.value) and 0 < err.value.step <= 300


@pytest.mark.parametrize("rate, step", [(1e8, 20), (1e155, 1)])
def test_a_forward_pass_that_overflows_on_finite_weights_is_a_divergence(rate, step):
    """At 1e8 the logits leave the float range at step 20, at 1e155 the scores at step 1: both are Diverged."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    params = init_params(4, 3, 2, 3, scale=0.5, rng=1)
    with np.errstate(over="ignore"):
        with pytest.raises(Diverged, match=r"^the run diverged: its loss is not finite from step \d+ on") as err:
            train(params, X, y, LearningRates.sgd(rate), steps=60)
    assert err.value.step == step


def test_initial_weights_whose_scores_overflow_get_the_forward_pass_message():
    w = init_params(4, 3, 2, 3, scale=0.5, rng=1).as_dict()
    huge = Params(**{**w, "W_Q": w["W_Q"] * 1e160, "W_K": w["W_K"] * 1e160})
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="non-finite scores") as err:
        train(huge, np.random.default_rng(0).standard_normal((12, 4)), np.zeros(12, dtype=int), LearningRates.sgd(),
              steps=3)  # fmt: skip
    assert not isinstance(err.value, Diverged)


def test_a_real_error_in_the_forward_pass_is_not_called_a_divergence():
    params = init_params(4, 3, 2, 3, scale=0.5, rng=1)
    with pytest.raises(ValueError, match="X must have shape") as err:
        train(params, np.ones((5, 3)), np.zeros(5, dtype=int), LearningRates.sgd(), steps=1)
    assert not isinstance(err.value, Diverged)


def test_steps_to_reach():
    assert steps_to_reach([3.0, 2.5, 2.0, 1.5], 2.2) == 2
    assert steps_to_reach([3.0, 2.5, 2.0, 1.5], 3.5) == 0
    assert steps_to_reach([3.0, 2.0], 2.0) is None  # strictly below
    assert steps_to_reach([], 1.0) is None
    with pytest.raises(ValueError, match="threshold"):
        steps_to_reach([1.0], float("nan"))
    with pytest.raises(ValueError, match="losses must be 1-D"):
        steps_to_reach([[1.0]], 0.5)


def test_params_are_not_modified(problem):
    X, y, params = problem
    before = {k: v.copy() for k, v in params.as_dict().items()}
    train(params, X, y, LearningRates.sgd(1.0), steps=3)
    for k, v in params.as_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert isinstance(params, Params)
