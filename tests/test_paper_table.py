"""The paper's table (attnlib.dynamics.paper_table): the runs, the one summary, the one formatter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnlib.chain.task import ChainConfig
from attnlib.dynamics.experiments import RunSet, speedup
from attnlib.dynamics.paper_table import (
    AUTHORS_SCRIPT_RUNS,
    PAPER_STICKY_CHAIN,
    format_paper_table,
    format_per_seed,
    format_report,
    run_sticky_chain,
    summarize_sticky_chain,
)
from attnlib.head.training import ARMS, EM_LIKE, SGD, train


@pytest.fixture(scope="module")
def short_table():
    runs = run_sticky_chain([42, 7], steps=5, chain=ChainConfig(T=120), workers=1)
    return runs, summarize_sticky_chain(runs)


def test_runs_pair_every_seed_with_both_arms(short_table):
    runs, _ = short_table
    assert isinstance(runs, RunSet) and runs.arms == ARMS
    assert runs.seeds(SGD) == runs.seeds(EM_LIKE) == (42, 7)
    for (spec_s, sgd, task), (spec_e, em, task_e) in zip(runs.runs(SGD), runs.runs(EM_LIKE)):
        assert task is task_e and sgd.losses[0] == em.losses[0]  # same task, same initial weights
        assert em.lrs.W_V == pytest.approx(10 * sgd.lrs.W_V)
        ref = train(ChainConfig(T=120).initial_params(spec_s.seed), task.X, task.y, sgd.lrs, steps=5)
        np.testing.assert_allclose(sgd.losses, ref.losses, rtol=1e-4)


def test_summary_is_the_speedup_of_the_runs(short_table):
    runs, summary = short_table
    assert summary["seeds"] == [42, 7] and summary["steps"] == 5
    assert summary["H_min"] == pytest.approx(runs.tasks[0].H_min)
    assert [e["seed"] for e in summary["per_seed"]] == [42, 7]
    s = summary["summary"]
    assert set(s) == {SGD, EM_LIKE, "sgd_mean_final_loss", "em_steps_to_sgd", "speedup"}
    finals = runs.final(SGD)
    assert s["sgd_mean_final_loss"] == pytest.approx(np.mean(finals))
    assert s[SGD]["final_loss"]["std"] == pytest.approx(np.std(finals))  # population std
    sp = speedup(runs, EM_LIKE, SGD)
    per_seed = [np.nan if v is None else v for v in s["em_steps_to_sgd"]["per_seed"]]
    np.testing.assert_array_equal(sp.steps_per_seed, per_seed)
    assert s["em_steps_to_sgd"]["n_reached"] == sp.n_reached


def test_a_threshold_that_is_reached_gives_the_speedup():
    runs = run_sticky_chain([42, 7], steps=30, base_lr=0.05, chain=ChainConfig(T=60), workers=1)
    s = summarize_sticky_chain(runs)["summary"]
    sp = speedup(runs, EM_LIKE, SGD)
    assert sp.n_reached == 2 and s["speedup"] == pytest.approx(sp.speedup)
    assert s["em_steps_to_sgd"]["mean"] == pytest.approx(sp.mean)
    assert s["em_steps_to_sgd"]["std"] == pytest.approx(sp.std)


def test_tables_as_text(short_table):
    runs, summary = short_table
    text = format_paper_table(summary)
    assert "430 ± 143" in text and "about 2.3x" in text and text.count("—") >= 8
    assert "wall" not in text  # nothing that changes from run to run
    assert "SGD final loss" in text and "EM-like final loss" in text
    per_seed = format_per_seed(summary).splitlines()
    assert len(per_seed) == 1 + 2 + 2 + 1 and per_seed[1].split()[0] == "42"
    chain = ChainConfig(T=120)
    report = {**summary, "wall_seconds": 1.25, "paper": PAPER_STICKY_CHAIN,
              "config": {**chain.as_dict(), "N": chain.N, "effective_self_prob": chain.effective_self_prob,
                         "base_lr": 0.01, "value_ratio": 10.0}}  # fmt: skip
    full = format_report(report)
    assert text in full and format_per_seed(summary) in full  # the command prints the same tables
    assert "wall seconds: 1.2" in full and "the paper ran 1000 steps; this run 5" in full


def test_run_sticky_chain_rejects_bad_arguments():
    with pytest.raises(ValueError, match="distinct"):
        run_sticky_chain([1, 1], steps=1, chain=ChainConfig(T=20))
    with pytest.raises(ValueError, match="self_prob"):
        run_sticky_chain([1], steps=1, chain=ChainConfig(T=20, self_prob=3))
    with pytest.raises(TypeError, match="seeds"):
        run_sticky_chain(42, steps=1)
    with pytest.raises(TypeError, match="RunSet"):
        summarize_sticky_chain({"tasks": {}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_draws_give_the_authors_gpu_table():
    """The authors' script on an H200: final losses within 1e-3, EM-like steps to the SGD mean within 2."""
    expected = AUTHORS_SCRIPT_RUNS["gpu"]["per_seed"]
    s = summarize_sticky_chain(run_sticky_chain(list(expected), chain=ChainConfig(draws="cuda")))
    for entry in s["per_seed"]:
        sgd, em, steps = expected[entry["seed"]]
        assert entry["SGD"]["final_loss"] == pytest.approx(sgd, abs=1e-3)
        assert entry["EM-like"]["final_loss"] == pytest.approx(em, abs=1e-3)
        assert abs(entry["em_steps_to_sgd"] - steps) <= 2
