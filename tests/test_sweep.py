"""attnlib.dynamics.sweep: the grid of chapter 10, its summaries, and that the notebook's subset is a slice of it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from attnlib.dynamics.experiments import speedup
from attnlib.dynamics.sweep import (
    ARMS,
    QUANTITIES,
    VARIANTS,
    variant_rates,
    count_batches,
    format_sweep,
    frame_lead,
    resolve_variants,
    run_sweep,
    summarize_sweep,
    usage_spread,
    variant_runset,
)
from attnlib.head.training import LearningRates
from attnlib.dynamics.variants import VariantSpec, grouped_chain, init_variant_params, train_variants

SMALL = dict(steps=130, T=30)


@pytest.fixture(scope="module")
def small_sweep():
    return run_sweep(["baseline", "residual", "targets-1"], seeds=[42, 7], **SMALL)


def test_registry_and_shorthands():
    assert resolve_variants(["all"]) == tuple(VARIANTS)
    expanded = resolve_variants(["baseline", "diversity", "baseline"])
    assert expanded == ("baseline", "targets-1", "targets-2", "targets-4")
    assert count_batches(["diversity"]) == 1 and count_batches(["all"]) == 8
    assert resolve_variants(["dropout"]) == ("baseline", "dropout-0.1", "dropout-0.3")
    assert VARIANTS["baseline"].spec == VariantSpec() and VARIANTS["targets-2"].n_groups == 2
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        resolve_variants(["nope"])
    with pytest.raises(TypeError, match="non-empty sequence"):
        resolve_variants("baseline")


def test_variant_rates():
    assert variant_rates(VariantSpec(), "SGD") == LearningRates.sgd(0.01)
    adam = variant_rates(VariantSpec(optimizer="adam"), "EM-like", base_lrs={"adam": 1e-4}, value_ratio=3)
    assert adam == LearningRates.em_like(1e-4, 3)
    with pytest.raises(ValueError, match="arm must be .SGD. or .EM-like."):
        variant_rates(VariantSpec(), "sgd")


def test_runs_are_ordered_and_both_arms_start_together(small_sweep):
    r = small_sweep
    assert [(x.variant, x.arm, x.seed) for x in r.runs[:4]] == [
        ("baseline", "SGD", 42), ("baseline", "EM-like", 42), ("baseline", "SGD", 7), ("baseline", "EM-like", 7)
    ]  # fmt: skip
    for variant in r.variants:
        for seed in r.seeds:
            u, e = r.get(variant, "SGD", seed), r.get(variant, "EM-like", seed)
            assert u.history.losses[0] == e.history.losses[0]
            assert u.diversity == e.diversity
            assert u.history.lrs == LearningRates.sgd() and e.history.lrs == LearningRates.em_like()
            assert sorted(u.timescales) == sorted(QUANTITIES)
    assert r.h_min["targets-1"] == 0.0 and r.h_min["baseline"] == pytest.approx(1.8291880594672074)
    with pytest.raises(KeyError, match="no run"):
        r.get("baseline", "SGD", 1)


def test_the_sweep_is_the_trainer_run_by_hand(small_sweep):
    """What the sweep stores is exactly train_variants on grouped_chain with the authors' weights."""
    spec = VARIANTS["residual"].spec
    task = grouped_chain(7, 8, T=30)
    p = init_variant_params(spec, 7)
    (h,) = train_variants([(task.X, task.y, p, LearningRates.em_like())], spec, steps=130)
    np.testing.assert_allclose(small_sweep.get("residual", "EM-like", 7).history.losses, h.losses, rtol=0, atol=1e-12)


def test_a_subset_is_a_slice_of_the_full_grid(small_sweep):
    sub = run_sweep(["targets-1"], seeds=[7], **SMALL)
    for arm in ARMS:
        a = sub.get("targets-1", arm, 7)
        b = small_sweep.get("targets-1", arm, 7)
        np.testing.assert_allclose(a.history.losses, b.history.losses, rtol=0, atol=1e-12)
        assert a.timescales == b.timescales and a.specialisation == pytest.approx(b.specialisation)


def test_identical_error_signals_for_one_group_and_a_one_dimensional_value_change(small_sweep):
    for seed in small_sweep.seeds:
        run = small_sweep.get("targets-1", "EM-like", seed)
        assert run.diversity["mean_cosine"] > 0.99 and run.diversity["participation"] < 1.01
        assert run.specialisation["value_change_dim"] == 1
        assert abs(small_sweep.get("baseline", "SGD", seed).diversity["mean_cosine"]) < 0.1


def test_speedups_come_from_chapter_8s_functions(small_sweep):
    runs = variant_runset(small_sweep, "baseline")
    assert runs.arms == ARMS and runs.seeds("EM-like") == (42, 7)
    sp = speedup(runs, "EM-like", "SGD")
    report = summarize_sweep(small_sweep, curves=False)
    s = report["summary"]["baseline"]
    assert s["threshold"] == pytest.approx(sp.threshold)
    assert s["em_steps_to_sgd"]["n_reached"] == sp.n_reached
    if sp.n_reached:
        assert s["speedup"] == pytest.approx(sp.speedup)
    with pytest.raises(KeyError, match="no variant 'adam'"):
        variant_runset(small_sweep, "adam")


def test_the_report_is_strict_json_with_curves(small_sweep):
    report = summarize_sweep(small_sweep)
    text = json.dumps(report, allow_nan=False)  # no NaN or inf anywhere
    back = json.loads(text)
    assert back["config"] == {"steps": 130, "T": 30, "N": 29, "base_lrs": {"sgd": 0.01, "adam": 3e-05},
                              "value_ratio": 10.0}
    assert len(back["runs"]) == 3 * 2 * 2
    run = back["runs"][0]
    assert set(run) == {"variant", "spec", "seed", "arm", "lrs", "final", "timescales", "frame_lead",
                        "diversity", "specialisation", "curves"}  # fmt: skip
    assert set(run["curves"]) == set(QUANTITIES) and len(run["curves"]["loss"]) == 130
    assert run["spec"]["n_groups"] == 8 and run["timescales"]["loss"]["settle"] >= 0
    summary = back["summary"]["targets-1"]
    assert set(summary["arms"]) == set(ARMS)
    assert set(summary["arms"]["EM-like"]["settle"]) == set(QUANTITIES)
    assert len(summary["diversity"]["mean_cosine"]["per_seed"]) == 2


def test_format_sweep(small_sweep):
    text = format_sweep(small_sweep)
    assert "EM-like vs SGD" in text and "Settling steps t_10" in text
    for variant in small_sweep.variants:
        assert f"\n{variant:11s} SGD" in text


def test_frame_lead_and_usage_spread():
    m = {"attention entropy": {"settle": 900}, "||dL/dS||": {"settle": 800},
         "||dL/dV||": {"settle": 100}, "loss": {"settle": 200}}  # fmt: skip
    assert frame_lead(m) == -700.0
    causal = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]  # (N, N) uniform causal attention
    assert usage_spread(causal) > usage_spread(np.eye(4)) == 0.0
    assert usage_spread(np.stack([causal, causal])) == pytest.approx(usage_spread(causal))


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"steps": 100}, ValueError, "steps must be > 100"),
        ({"seeds": [1, 1]}, ValueError, "seeds must be distinct"),
        ({"seeds": 42}, TypeError, "seeds must be a non-empty sequence"),
        ({"T": 2}, ValueError, "T must be >= 3"),
        ({"base_lrs": {"sgd": float("nan")}}, ValueError, "base rate of sgd must be a finite number >= 0"),
        ({"base_lrs": {"rmsprop": 0.1}}, ValueError, "per optimiser"),
        ({"progress": 3}, TypeError, "progress must be callable"),
        ({"workers": 0}, ValueError, "workers must be"),
    ],
)
def test_bad_arguments(kwargs, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(")):
        run_sweep(["baseline"], **({"seeds": [42], "steps": 120, "T": 20} | kwargs))


def test_progress_counts_every_batch():
    seen = []
    run_sweep(["baseline", "layernorm"], seeds=[42], steps=101, T=12, progress=seen.append)
    assert seen[-1] == 2 * 101 and seen == sorted(seen)


def test_a_dropout_variant_is_the_trainer_with_the_runs_seed_for_its_masks():
    sweep = run_sweep(["dropout-0.3"], seeds=[42, 7], **SMALL)
    spec = VARIANTS["dropout-0.3"].spec
    task = grouped_chain(7, 8, T=30)
    (h,) = train_variants([(task.X, task.y, init_variant_params(spec, 7), LearningRates.sgd())], spec,
                          steps=130, dropout_seeds=[7])  # fmt: skip
    np.testing.assert_allclose(sweep.get("dropout-0.3", "SGD", 7).history.losses, h.losses, rtol=0, atol=1e-12)


def test_threads_do_not_change_a_single_bit():
    """Batches trained side by side (workers=3) give what one after the other (workers=1) gives."""
    names = ["baseline", "layernorm", "residual", "dropout-0.1"]
    one, three = (run_sweep(names, seeds=[42, 7], workers=w, **SMALL) for w in (1, 3))
    for a, b in zip(one.runs, three.runs):
        assert (a.variant, a.arm, a.seed) == (b.variant, b.arm, b.seed)
        np.testing.assert_array_equal(a.history.losses, b.history.losses)
        np.testing.assert_array_equal(a.history.attn_entropy, b.history.attn_entropy)
