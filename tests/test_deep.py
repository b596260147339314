"""The authors' deep variant written anew (attnlib.dynamics.deep): same stream, same losses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from attnlib.chain.task import ChainConfig
from attnlib.dynamics.deep import DeepConfig, DeepRun, deep_logits, format_deep, init_deep_weights, train_deep

DATA = Path(__file__).parent / "data"
SMALL = DeepConfig(d_model=16, n_layers=1, n_heads=2)


def authors(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def test_the_authors_losses_are_replayed_through_their_mid_run_evaluation():
    """520 steps at a reduced size: the 500-step evaluation draws dropout masks, which the replay must too."""
    ref = authors("authors_deep_seed42_small.json")
    run = train_deep(ref["seed"], steps=ref["steps"], chain=ChainConfig(T=ref["T"]),
                     config=DeepConfig(d_model=ref["d_model"], n_layers=ref["n_layers"], n_heads=ref["n_heads"]))  # fmt: skip
    np.testing.assert_allclose(run.train_losses, ref["train_losses"], rtol=0, atol=1e-3)
    for name, value in ref["held_out_dropout_on"].items():
        assert run.authors_held_out[name] == pytest.approx(value, abs=1e-3), name


def test_full_size_first_steps_match_the_authors_cpu_run():
    """The paper's size (N = 1999, 4 layers, 4 heads, d_model 64), seed 42: the first 3 of the 20 measured losses."""
    ref = authors("authors_deep_seed42_full.json")
    run = train_deep(42, steps=3, horizon=ref["steps"])  # the first 3 steps of the 20-step schedule
    np.testing.assert_allclose(run.train_losses, ref["train_losses"][:3], rtol=0, atol=1e-3)


def test_the_caller_generators_do_not_move_and_runs_repeat():
    torch.manual_seed(5)
    before = torch.get_rng_state().clone()
    a = train_deep(3, steps=4, config=SMALL, chain=ChainConfig(T=30))
    assert torch.equal(torch.get_rng_state(), before)
    b = train_deep(3, steps=4, config=SMALL, chain=ChainConfig(T=30))
    np.testing.assert_array_equal(a.train_losses, b.train_losses)


def test_dropout_is_on_in_training_and_off_in_the_books_measurement():
    W = init_deep_weights(SMALL, 20, 8, torch.Generator().manual_seed(0))
    X = torch.randn(12, 20, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        off1, off2 = deep_logits(W, X, SMALL), deep_logits(W, X, SMALL)
        on = deep_logits(W, X, SMALL, torch.Generator().manual_seed(2))
    assert torch.equal(off1, off2) and not torch.equal(off1, on)
    no_drop = DeepConfig(d_model=16, n_layers=1, n_heads=2, dropout=0.0)
    with torch.no_grad():
        assert torch.equal(deep_logits(W, X, no_drop, torch.Generator()), deep_logits(W, X, no_drop))


def test_the_model_is_causal():
    W = init_deep_weights(SMALL, 20, 8, torch.Generator().manual_seed(0))
    X = torch.randn(10, 20, generator=torch.Generator().manual_seed(1))
    X2 = X.clone()
    X2[7:] += 1.0  # change the future
    with torch.no_grad():
        assert torch.allclose(deep_logits(W, X, SMALL)[:7], deep_logits(W, X2, SMALL)[:7], atol=1e-6)


def test_a_run_reports_what_the_command_writes():
    run = train_deep(11, steps=3, config=SMALL, chain=ChainConfig(T=25), curve_every=2)
    assert isinstance(run, DeepRun) and run.n_positions == 24 and run.n_classes == 8
    out = run.as_dict()
    assert len(out["train_losses"]) == 3 and set(out["held_out"]) == {"loss", "entropy", "accuracy"}
    assert out["held_out_curve"]["steps"] == [1, 2]
    assert run.n_params == sum(w.numel() for w in init_deep_weights(SMALL, 20, 8, torch.Generator()).values())
    text = format_deep([run, train_deep(12, steps=3, config=SMALL, chain=ChainConfig(T=25))])
    assert "held-out sequence: seed + 10000" in text and "mean ± std, dropout on" in text


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: DeepConfig(n_heads=3), ValueError, "multiple of n_heads = 3"),
        (lambda: DeepConfig(dropout=1.0), ValueError, "dropout must be below 1"),
        (lambda: DeepConfig(lr=-1), ValueError, "lr must be a finite number >= 0"),
        (lambda: train_deep(-1, steps=1), ValueError, "seed must be in"),
        (lambda: train_deep(1, steps=1, config={"d_model": 8}), TypeError, "config must be a DeepConfig"),
        (lambda: format_deep([]), TypeError, "non-empty sequence of DeepRun"),
    ],
)
def test_bad_input_is_one_line(call, error, message):
    with pytest.raises(error, match=message):
        call()
