"""Chapter 8: controls and sweeps on top of the engine (attnlib.dynamics.experiments) and their plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import attnlib  # noqa: E402
from attnlib.dynamics.experiments import (  # noqa: E402
    RunSpec,
    RunSet,
    SpeedUp,
    evaluate,
    format_speedups,
    heldout_curves,
    heldout_metrics,
    loss_along,
    gradient_shares,
    matched_sgd_rate,
    paired_speedups,
    run_specs,
    speedup,
)
from attnlib.teaching.plots.sticky import arm_loss_curves, steps_strip, sweep_lines, train_vs_heldout  # noqa: E402
from attnlib.reference import check_gradient  # noqa: E402
from attnlib.chain.task import ChainConfig, authors_initial_params, sticky_chain  # noqa: E402
from attnlib.head.training import LearningRates, train  # noqa: E402

T = 60  # short chains: N = 59


@pytest.fixture(scope="module")
def small_runs():
    """Two seeds, three arms, 12 steps, checkpoints at 4 and 8."""
    arms = {"SGD": LearningRates.sgd(0.05), "EM-like": LearningRates.em_like(0.05), "big": LearningRates.sgd(0.5)}
    specs = [RunSpec(a, s, lr, ChainConfig(T=T)) for s in (42, 7) for a, lr in arms.items()]
    return run_specs(specs, steps=12, checkpoints=[4, 8], workers=1)


# --------------------------------------------------------------------------- running
def test_run_specs_matches_the_reference_trainer(small_runs):
    for spec, history, task in small_runs.runs("EM-like"):
        ref = train(authors_initial_params(spec.seed), task.X, task.y, spec.lrs, steps=12)
        np.testing.assert_allclose(history.losses, ref.losses, rtol=1e-5)
        assert history.final_loss == pytest.approx(ref.final_loss, rel=1e-5)


def test_run_specs_groups_by_arm_and_shares_starts(small_runs):
    assert small_runs.arms == ("SGD", "EM-like", "big")
    assert small_runs.seeds("EM-like") == (42, 7)
    assert small_runs.losses("SGD").shape == (2, 12)
    assert small_runs.final("EM-like", "final_accuracy").shape == (2,)
    np.testing.assert_array_equal(small_runs.losses("SGD")[:, 0], small_runs.losses("big")[:, 0])
    assert small_runs.tasks[0] is small_runs.tasks[1]  # one task per (seed, chain), shared
    with pytest.raises(KeyError, match="no runs of arm 'adam'"):
        small_runs.losses("adam")
    with pytest.raises(ValueError, match="metric"):
        small_runs.final("EM-like", "loss")


def test_checkpoints_change_nothing_and_keep_the_weights(small_runs):
    specs = [s for s in small_runs.specs]
    whole = run_specs(specs, steps=12, workers=1)
    for a, b in zip(whole.histories, small_runs.histories):
        np.testing.assert_array_equal(a.losses, b.losses)  # bit for bit: no state but the weights
        assert a.final_loss == b.final_loss
    assert small_runs.checkpoint_steps == (0, 4, 8, 12)
    first = small_runs.params_at("SGD", 0)[0]
    np.testing.assert_array_equal(first.W_V, authors_initial_params(42).W_V.astype(np.float32))
    last = small_runs.params_at("SGD")[0]
    np.testing.assert_array_equal(last.W_O, small_runs.runs("SGD")[0][1].params.W_O)


def test_run_specs_zero_steps():
    runs = run_specs([RunSpec("SGD", 3, LearningRates.sgd(), ChainConfig(T=20))], steps=0)
    assert runs.losses("SGD").shape == (1, 0) and runs.checkpoint_steps == (0,)
    task = runs.tasks[0]
    assert runs.final("SGD")[0] == pytest.approx(heldout_metrics(authors_initial_params(3), task)[0], rel=1e-5)


def test_run_specs_rejects_bad_arguments():
    spec = RunSpec("SGD", 1, LearningRates.sgd(), ChainConfig(T=20))
    with pytest.raises(TypeError, match="non-empty sequence of RunSpec"):
        run_specs(spec, steps=1)
    with pytest.raises(TypeError, match="specs\\[1\\] must be a RunSpec"):
        run_specs([spec, ("SGD", 2)], steps=1)
    with pytest.raises(ValueError, match="repeat"):
        run_specs([spec, spec], steps=1)
    with pytest.raises(ValueError, match="checkpoints"):
        run_specs([spec], steps=5, checkpoints=[5])
    with pytest.raises(TypeError, match="checkpoints"):
        run_specs([spec], steps=5, checkpoints=3)
    with pytest.raises(TypeError, match="arm"):
        RunSpec("", 1, LearningRates.sgd())
    with pytest.raises(TypeError, match="lrs"):
        RunSpec("SGD", 1, 0.01)
    with pytest.raises(TypeError, match="seed"):
        RunSpec("SGD", 1.5, LearningRates.sgd())
    with pytest.raises(TypeError, match="chain must be a ChainConfig"):
        RunSpec("SGD", 1, LearningRates.sgd(), {"T": 20})


def test_speedup_and_paired(small_runs):
    sp = speedup(small_runs, "big", "SGD")
    assert isinstance(sp, SpeedUp) and sp.horizon == 12 and sp.n_reached == 2
    assert sp.speedup == pytest.approx(12 / np.nanmean(sp.steps_per_seed))
    paired = paired_speedups(small_runs, "big", "SGD")
    assert paired.shape == (2,) and np.all(paired > 1)
    assert np.all(np.isnan(paired_speedups(small_runs, "SGD", "SGD")))  # a run never beats its own end
    none = speedup(small_runs, "SGD", "big")  # the slow arm never reaches the fast arm's loss
    assert none.n_reached == 0 and np.isnan(none.mean) and np.isnan(none.speedup)


def test_format_speedups():
    rows = [("a", SpeedUp("a", "b", 2.0, np.array([10.0, np.nan]), 10.0, 0.0, 1, 100.0, 1000)),
            ("long name", SpeedUp("c", "b", 2.0, np.array([np.nan, np.nan]), np.nan, np.nan, 0, np.nan, 1000))]
    text = format_speedups(rows, extra={"x": ["1", "2"]})
    lines = text.splitlines()
    assert lines[0].startswith("arm") and lines[0].endswith("x")
    assert "10, never" in lines[1] and "100.00x" in lines[1] and "1/2" in lines[1]
    assert "never, never" in lines[2] and "—" in lines[2] and "0/2" in lines[2]
    with pytest.raises(ValueError, match="extra column"):
        format_speedups(rows, extra={"x": ["1"]})


# --------------------------------------------------------------------------- controls
def test_matched_rates():
    task = sticky_chain(5, T=40)
    p = authors_initial_params(5)
    em = LearningRates.em_like()
    g = attnlib.backward(p, attnlib.forward(p, task.X), task.y)
    sq = {k: np.sum(getattr(g, k) ** 2) for k in em.as_dict()}
    rates = em.as_dict()
    decrease = matched_sgd_rate(p, task.X, task.y, em, match="decrease")
    length = matched_sgd_rate(p, task.X, task.y, em, match="length")
    # Same first-order decrease, and the same step length, as the EM-like step:
    assert decrease * sum(sq.values()) == pytest.approx(sum(rates[k] * sq[k] for k in sq), rel=1e-9)
    assert length**2 * sum(sq.values()) == pytest.approx(sum(rates[k] ** 2 * sq[k] for k in sq), rel=1e-9)
    assert 0.01 < decrease < length < 0.1
    assert matched_sgd_rate(p, task.X, task.y, LearningRates.sgd(0.03)) == 0.03
    with pytest.raises(ValueError, match="match"):
        matched_sgd_rate(p, task.X, task.y, em, match="norm")
    with pytest.raises(TypeError, match="lrs"):
        matched_sgd_rate(p, task.X, task.y, 0.01)
    shares = gradient_shares(p, task.X, task.y)
    assert list(shares) == list(rates) and sum(shares.values()) == pytest.approx(1, abs=1e-12)
    for k in sq:
        assert shares[k] == pytest.approx(sq[k] / sum(sq.values()), rel=1e-12)
    # the matched first-order decrease is the shares' mean of the rates
    assert decrease == pytest.approx(sum(rates[k] * shares[k] for k in rates), rel=1e-9)
    with pytest.raises(TypeError, match="params"):
        gradient_shares(p.as_dict(), task.X, task.y)


@pytest.mark.parametrize("direction", [("W_V",), ("W_Q", "W_K", "W_V", "W_O")])
def test_loss_along_gives_the_first_order_decrease(direction):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((9, 5)), rng.integers(0, 4, 9)
    p = attnlib.init_params(5, 3, 4, 4, scale=0.8, rng=4)
    g = attnlib.backward(p, attnlib.forward(p, X), y)
    rates = {"W_Q": 0.3, "W_K": 0.1, "W_V": 1.0, "W_O": 0.5}
    step = {k: rates[k] * getattr(g, k) for k in direction}
    claimed = -sum(rates[k] * np.sum(getattr(g, k) ** 2) for k in direction)
    f, f_torch = loss_along(p, X, y, step)
    assert f(np.zeros(1)) == pytest.approx(attnlib.loss(attnlib.forward(p, X), y), rel=1e-12)
    assert float(f_torch(torch.zeros(1, dtype=torch.float64))) == pytest.approx(f(np.zeros(1)), rel=1e-12)
    assert check_gradient("dL/deps", [claimed], f, np.zeros(1), f_torch=f_torch).passed
    # The check can fail: a claim with the sign flipped is rejected by both references.
    assert not check_gradient("dL/deps", [-claimed], f, np.zeros(1), f_torch=f_torch).passed


def test_loss_along_rejects_bad_directions():
    p = attnlib.init_params(5, 3, 4, 4, rng=4)
    X, y = np.zeros((3, 5)), np.array([0, 1, 2])
    with pytest.raises(ValueError, match="direction"):
        loss_along(p, X, y, {"W_X": np.zeros((5, 3))})
    with pytest.raises(ValueError, match="shape"):
        loss_along(p, X, y, {"W_V": np.zeros((3, 5))})


# --------------------------------------------------------------------------- held-out data
def test_evaluate_matches_the_float64_forward_pass(small_runs):
    fresh = sticky_chain(99, T=T)
    params = small_runs.params_at("big")
    got = evaluate(params, fresh)
    assert got.shape == (2, 3)
    for row, p in zip(got, params):
        np.testing.assert_allclose(row[:2], heldout_metrics(p, fresh)[:2], rtol=1e-5)
        assert abs(row[2] - heldout_metrics(p, fresh)[2]) <= 1 / (T - 1)  # an argmax tie may flip
    on_train = evaluate(params, [small_runs.runs("big")[i][2] for i in range(2)])
    np.testing.assert_allclose(on_train[:, 0], small_runs.final("big"), rtol=1e-6)
    with pytest.raises(ValueError, match="tasks"):
        evaluate(params, [fresh])
    with pytest.raises(TypeError, match="params"):
        evaluate(params[0], fresh)


def test_evaluate_in_chunks(monkeypatch):
    import attnlib.dynamics.experiments as ex

    monkeypatch.setattr(ex, "_EVAL_CHUNK", 2)
    task = sticky_chain(4, T=25)
    params = [authors_initial_params(s) for s in (1, 2, 3, 4, 5)]
    np.testing.assert_allclose(evaluate(params, task), np.array([heldout_metrics(p, task) for p in params]),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_heldout_curves(small_runs):
    fresh = [sticky_chain(s, T=T) for s in (101, 102)]
    curves = heldout_curves(small_runs, "SGD", lambda spec: fresh)
    assert curves.shape == (2, 4)
    p = small_runs.params_at("SGD", 2)[1]
    expected = np.mean([heldout_metrics(p, t)[0] for t in fresh])
    assert curves[1, 2] == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="no task"):
        heldout_curves(small_runs, "SGD", lambda spec: [])


# --------------------------------------------------------------------------- plots
def test_plots_only_draw_and_return_axes():
    fig, axes = plt.subplots(2, 2)
    c = {"SGD": np.array([[2.0, 1.9, 1.8], [2.0, 1.95, 1.9]]), "EM-like": np.array([[2.0, 1.7, 1.5], [2.0, 1.8, 1.7]])}
    ax = arm_loss_curves(c, threshold=1.85, crossings={"EM-like": np.array([1.0, np.nan])},
                         hlines={"H_min": 1.4}, ax=axes[0, 0], title="t", xlim=(0, 2))  # fmt: skip
    assert ax is axes[0, 0] and ax.get_title() == "t" and ax.get_xlim() == (0, 2)
    assert steps_strip({"a": np.array([1.0, np.nan]), "b": np.array([2.0])}, horizon=5, ax=axes[0, 1]) is axes[0, 1]
    assert sweep_lines([1, 10], {"s": np.array([[1.0, 2.0], [3.0, np.nan]])}, ax=axes[1, 0], logx=True,
                       horizon=5) is axes[1, 0]
    assert train_vs_heldout({"SGD": ([2.0], [2.1])}, h_min=1.8, ax=axes[1, 1]) is axes[1, 1]
    with pytest.raises(ValueError, match="crossings"):
        arm_loss_curves(c, crossings={"SGD": np.array([1.0])}, ax=axes[0, 0])
    with pytest.raises(ValueError, match="1-D"):
        steps_strip({"a": np.zeros((2, 2))}, ax=axes[0, 1])
    with pytest.raises(ValueError, match="shape"):
        sweep_lines([1, 2, 3], {"s": np.zeros((2, 2))}, ax=axes[1, 0])
    with pytest.raises(ValueError, match="one shape"):
        train_vs_heldout({"SGD": ([2.0, 1.0], [2.1])}, ax=axes[1, 1])
    plt.close(fig)


def test_runset_is_a_frozen_record(small_runs):
    assert isinstance(small_runs, RunSet)
    with pytest.raises(AttributeError):
        small_runs.specs = ()


def test_run_specs_names_the_run_that_diverged():
    from attnlib.chain.engine import Diverged

    specs = [RunSpec.paper(42, "SGD", chain=ChainConfig(T=60)), RunSpec.paper(7, "EM-like", base_lr=100.0,
                                                                              chain=ChainConfig(T=60))]
    with pytest.raises(Diverged, match=r"^the EM-like run of seed 7 diverged: its loss is not finite from step \d+"):
        run_specs(specs, steps=60, checkpoints=(30,))
