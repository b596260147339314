"""The authors' deep variant written anew (attnlib.dynamics.deep): same stream, same losses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from attnlib.chain.bayes import bayes_cross_entropy, bayes_predictive_for, mean_kl
from attnlib.chain.task import ChainConfig, sample_sequences
from attnlib.dynamics.deep import (GLOBAL_STREAM, HELD_OUT_OFFSET, DeepConfig, DeepRun, deep_logits, deep_predictive,
                                   format_deep, init_deep_weights, train_deep)
from attnlib.dynamics.deep_protocols import (CURVE_METRICS, DATA_STREAM, VALIDATION_OFFSET, DeepHistory, DeepProtocol,
                                             early_stopping, format_protocols, curve_steps_below, train_protocol)

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


# --------------------------------------------------------------------------- the authors' GPU draws
def test_masks_from_the_global_stream_are_the_replayed_masks_on_a_cpu():
    """GLOBAL_STREAM draws through torch.nn.functional.dropout, as the authors' nn.Dropout does: on a CPU, from
    the same state, it gives the replay's masks bit for bit (on a GPU the same call draws their CUDA masks)."""
    cfg = DeepConfig(d_model=8, n_layers=2, n_heads=2)
    W = init_deep_weights(cfg, 3, 4, torch.Generator().manual_seed(0))
    X = torch.randn(7, 3, generator=torch.Generator().manual_seed(1))  # (N, d_x)
    replayed = deep_logits(W, X, cfg, torch.Generator().manual_seed(5))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        global_masks = deep_logits(W, X, cfg, GLOBAL_STREAM)
        torch.manual_seed(6)
        other = deep_logits(W, X, cfg, GLOBAL_STREAM)
    assert torch.equal(global_masks, replayed)
    assert not torch.equal(other, replayed)  # the masks do come from the global stream


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour on a machine without a CUDA GPU")
def test_the_authors_gpu_draws_without_a_gpu_are_one_line():
    from attnlib.cli import main

    with pytest.raises(ValueError, match="draws='cuda' replays the authors' GPU draws and needs a CUDA GPU"):
        train_deep(42, steps=1, chain=ChainConfig(T=30, draws="cuda"))
    assert main(["reproduce", "deep-transformer", "--draws", "cuda", "--steps", "1", "--T", "30", "--quiet"]) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: the authors' GPU draws")
def test_the_authors_gpu_draws_run_on_the_gpu_and_repeat():
    small, chain = DeepConfig(d_model=16, n_layers=2, n_heads=2), ChainConfig(T=60, draws="cuda")
    with pytest.raises(ValueError, match="device must be 'cuda'"):
        train_deep(42, steps=1, config=small, chain=chain, device="cpu")
    state = torch.cuda.get_rng_state()
    first = train_deep(42, steps=10, config=small, chain=chain, device="cuda")
    assert torch.equal(torch.cuda.get_rng_state(), state)  # the global CUDA generator is restored
    again = train_deep(42, steps=10, config=small, chain=chain, device="cuda")
    np.testing.assert_array_equal(first.train_losses, again.train_losses)
    on_cpu_stream = train_deep(42, steps=10, config=small, chain=ChainConfig(T=60), device="cuda")
    assert np.all(np.isfinite(first.train_losses)) and first.train_losses[0] != on_cpu_stream.train_losses[0]


# --------------------------------------------------------------------------- several runs at once
def _stacked(*weights):
    return {k: torch.stack([w[k].detach() for w in weights]) for k in weights[0]}


def test_stacked_runs_give_each_runs_own_logits_and_masks():
    """R runs at once: the same logits as one at a time, dropout off and on (each run's masks from its own generator)."""
    W1 = init_deep_weights(SMALL, 20, 8, torch.Generator().manual_seed(1))
    W2 = init_deep_weights(SMALL, 20, 8, torch.Generator().manual_seed(2))
    X = torch.randn(2, 9, 20, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        both = deep_logits(_stacked(W1, W2), X, SMALL)
        np.testing.assert_allclose(both[0], deep_logits(W1, X[0], SMALL), rtol=0, atol=1e-5)
        np.testing.assert_allclose(both[1], deep_logits(W2, X[1], SMALL), rtol=0, atol=1e-5)
        on = deep_logits(_stacked(W1, W2), X, SMALL, [torch.Generator().manual_seed(s) for s in (5, 6)])
        alone = deep_logits(W2, X[1], SMALL, torch.Generator().manual_seed(6))
    np.testing.assert_allclose(on[1], alone, rtol=0, atol=1e-5)
    assert not torch.allclose(on[0], both[0], atol=1e-3)  # the masks did act
    with pytest.raises(ValueError, match="W must be stacked per run"):
        deep_logits(W1, X, SMALL)


def test_deep_predictive_is_the_softmax_of_the_logits_without_dropout():
    W = init_deep_weights(SMALL, 20, 8, torch.Generator().manual_seed(0))
    X = torch.randn(11, 20, generator=torch.Generator().manual_seed(1))
    p = deep_predictive(W, X, SMALL)
    assert p.dtype == np.float64 and p.shape == (11, 8)
    np.testing.assert_allclose(p, torch.softmax(deep_logits(W, X, SMALL).double(), -1).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(p, deep_predictive(W, X, SMALL), atol=0)  # no dropout: repeatable
    with pytest.raises(TypeError, match="config must be a DeepConfig"):
        deep_predictive(W, X, {"d_model": 16})


# --------------------------------------------------------------------------- the book's protocols
TINY = DeepConfig(d_model=8, n_layers=1, n_heads=2)


def test_the_default_protocol_is_the_authors_run_replayed():
    """Stacked seeds, one sequence, one rate: the authors' losses (their own run, tests/data) through step 520."""
    ref = authors("authors_deep_seed42_small.json")
    cfg = DeepConfig(d_model=ref["d_model"], n_layers=ref["n_layers"], n_heads=ref["n_heads"])
    h = train_protocol([7, ref["seed"]], steps=ref["steps"], config=cfg, chain=ChainConfig(T=ref["T"]), curve_every=260)
    np.testing.assert_allclose(h.train_losses[1], ref["train_losses"], rtol=0, atol=1e-3)
    alone = train_deep(7, steps=ref["steps"], config=cfg, chain=ChainConfig(T=ref["T"]))
    np.testing.assert_allclose(h.train_losses[0], alone.train_losses, rtol=0, atol=1e-3)
    # the curve's last point is the book's held-out measurement of the same run (dropout off)
    assert h.final("loss")[0] == pytest.approx(alone.held_out["loss"], abs=1e-3)
    assert h.final("accuracy")[0] == pytest.approx(alone.held_out["accuracy"], abs=1e-6)  # float32 there


def test_a_run_does_not_depend_on_the_runs_it_is_stacked_with():
    for protocol in (DeepProtocol(pool=None), DeepProtocol(pool=3, value_ratio=10)):
        together = train_protocol([5, 6], protocol, steps=6, config=TINY, chain=ChainConfig(T=25), curve_every=3)
        alone = train_protocol([6], protocol, steps=6, config=TINY, chain=ChainConfig(T=25), curve_every=3)
        np.testing.assert_allclose(together.train_losses[1], alone.train_losses[0], rtol=0, atol=1e-5)
        np.testing.assert_allclose(together.curve["kl_bayes"][1], alone.curve["kl_bayes"][0], rtol=0, atol=1e-5)


def test_the_data_each_protocol_trains_on():
    """Step 0 of every protocol that starts with the authors' sequence has the same loss; fresh data does not."""
    chain = ChainConfig(T=25)
    runs = {p: train_protocol([9], DeepProtocol(pool=p), steps=4, config=TINY, chain=chain)
            for p in (1, 2, None)}  # fmt: skip
    one, two, fresh = (runs[p].train_losses[0] for p in (1, 2, None))
    assert one[0] == two[0] and fresh[0] != one[0]
    # a pool of 2 is back on the authors' sequence at step 2, on a drawn one at steps 1 and 3
    task = chain.task(9)
    X_drawn, y_drawn = sample_sequences(task, 1, np.random.default_rng((9, DATA_STREAM)))
    W = {k: torch.from_numpy(v[0]) for k, v in train_protocol([9], DeepProtocol(pool=2), steps=1, config=TINY,
                                                                 chain=chain).weights.items()}  # fmt: skip
    loss_drawn = torch.nn.functional.cross_entropy(deep_logits(W, torch.from_numpy(X_drawn[0]).float(), TINY),
                                                   torch.from_numpy(y_drawn[0]))  # fmt: skip
    loss_authors = torch.nn.functional.cross_entropy(deep_logits(W, torch.from_numpy(task.X.astype(np.float32)), TINY),
                                                     torch.from_numpy(task.y.copy()))  # fmt: skip
    # dropout is on in training, off here: compare which sequence step 1's loss is nearer to
    assert abs(two[1] - float(loss_drawn)) < abs(two[1] - float(loss_authors))


def test_value_ratio_scales_the_first_step_of_the_value_projections_only():
    """AdamW's first step is lr * sign(g) (plus decay): with value_ratio 10 the values move 10x as far, the rest alike."""
    chain = ChainConfig(T=25)
    init = init_deep_weights(TINY, 20, 8, _authors_stream(4, chain))
    runs = [train_protocol([4], DeepProtocol(value_ratio=r), steps=1, config=TINY, chain=chain) for r in (1.0, 10.0)]
    for name, w0 in init.items():
        moves = [np.abs(r.weights[name][0] - w0.detach().numpy()).sum() for r in runs]
        if ".v." in name:
            assert moves[1] == pytest.approx(10 * moves[0], rel=1e-3), name
        else:
            assert moves[1] == pytest.approx(moves[0], rel=1e-5, abs=1e-9), name


def _authors_stream(seed, chain):
    stream = torch.Generator()
    stream.set_state(torch.from_numpy(chain.task(seed + HELD_OUT_OFFSET).generator_state.copy()))
    return stream


def test_the_curve_scores_the_held_out_sequence_against_bayes():
    """At step 0 the curve is the initial model's held-out loss, entropy and KL to the Bayesian predictor."""
    chain = ChainConfig(T=40)
    h = train_protocol([3], steps=2, config=TINY, chain=chain, curve_every=1)
    test = chain.task(3 + HELD_OUT_OFFSET)
    p = deep_predictive(init_deep_weights(TINY, 20, 8, _authors_stream(3, chain)), torch.from_numpy(test.X.astype(np.float32)), TINY)
    q = bayes_predictive_for(test)
    assert h.curve["kl_bayes"][0, 0] == pytest.approx(mean_kl(q, p), abs=1e-9)
    assert h.curve["loss"][0, 0] == pytest.approx(-np.log(p[np.arange(len(test.y)), test.y]).mean(), abs=1e-9)
    assert h.curve["entropy"][0, 0] == pytest.approx(-(p * np.log(p)).sum(axis=1).mean(), abs=1e-9)
    assert h.bayes_loss[0] == pytest.approx(bayes_cross_entropy(q, test.y), abs=1e-12)
    assert h.curve_steps.tolist() == [0, 1, 2] and h.H_min == pytest.approx(test.H_min)
    val = chain.task(3 + VALIDATION_OFFSET)
    assert h.curve["validation_loss"][0, 0] == pytest.approx(
        -np.log(deep_predictive(init_deep_weights(TINY, 20, 8, _authors_stream(3, chain)),
                                torch.from_numpy(val.X.astype(np.float32)), TINY)[np.arange(len(val.y)), val.y]).mean(), abs=1e-9)


def _history(curve: dict, steps=(0, 10, 20, 30)) -> DeepHistory:
    R = len(next(iter(curve.values()), [0]))
    full = {name: np.asarray(curve.get(name, np.zeros((R, len(steps)))), dtype=float) for name in CURVE_METRICS}
    return DeepHistory(seeds=tuple(range(R)), protocol=DeepProtocol(), config=TINY, chain=ChainConfig(T=25),
                       train_losses=np.zeros((R, 30)), curve_steps=np.array(steps), curve=full,
                       bayes_loss=np.zeros(R), H_min=1.8, weights={})  # fmt: skip


def test_early_stopping_reads_the_held_out_curve_where_validation_is_lowest():
    h = _history({"validation_loss": [[2.0, 1.9, 1.9, 2.1], [2.0, 2.1, 2.2, 1.5]],
                  "loss": [[2.1, 2.0, 1.95, 2.3], [2.2, 2.3, 2.4, 1.7]]})  # fmt: skip
    stop = early_stopping(h)
    assert stop["step"].tolist() == [10, 30]  # the first of a tie
    assert stop["loss"].tolist() == [2.0, 1.7]  # not the held-out minimum of run 0 (1.95): no peeking
    assert h.best("loss")[0].tolist() == [1.95, 1.7] and h.best("loss")[1].tolist() == [20, 30]


def test_curve_steps_below_is_the_first_curve_step_strictly_below():
    h = _history({"loss": [[2.0, 1.9, 1.8, 1.7], [2.0, 2.0, 2.0, 2.0]]})
    np.testing.assert_array_equal(curve_steps_below(h, 1.9), [20, np.nan])
    np.testing.assert_array_equal(curve_steps_below(h, 2.01), [0, 0])


def test_format_protocols_has_one_row_per_protocol():
    a = train_protocol([1, 2], steps=2, config=TINY, chain=ChainConfig(T=25))
    b = train_protocol([1, 2], DeepProtocol(pool=None, value_ratio=10), steps=2, config=TINY, chain=ChainConfig(T=25))
    lines = format_protocols([a, b]).splitlines()
    assert lines[-2].startswith("one sequence ") and lines[-1].startswith("fresh sequences, values 10x")
    assert f"{a.final('kl_bayes').mean():.3f} ± {a.final('kl_bayes').std():.3f}" in lines[-2]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: DeepProtocol(pool=0), ValueError, "pool must be >= 1, got 0"),
        (lambda: DeepProtocol(value_ratio=-1), ValueError, "value_ratio must be a finite number >= 0"),
        (lambda: train_protocol(42, steps=1), TypeError, "seeds must be a non-empty sequence"),
        (lambda: train_protocol([1, 1], steps=1), ValueError, "seeds must be distinct"),
        (lambda: train_protocol([1], "fresh", steps=1), TypeError, "protocol must be a DeepProtocol"),
        (lambda: train_protocol([1], steps=0), ValueError, "steps must be >= 1"),
        (lambda: early_stopping({}), TypeError, "history must be a DeepHistory"),
        (lambda: curve_steps_below(_history({}), float("nan")), ValueError, "threshold must be a finite number"),
        (lambda: _history({}).final("gap"), ValueError, "name must be one of"),
        (lambda: format_protocols([]), TypeError, "non-empty sequence of DeepHistory"),
    ],
)
def test_protocol_bad_input_is_one_line(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_deep_attention_and_values_are_the_patterns_and_values_the_forward_pass_uses():
    """Row-stochastic, causal, one per layer and head; stacked runs give each run's own; arrays work as tensors."""
    from attnlib.dynamics.deep import deep_attention, deep_values

    cfg = DeepConfig(d_model=16, n_layers=2, n_heads=4)
    W = init_deep_weights(cfg, 20, 8, torch.Generator().manual_seed(0))
    X = torch.randn(9, 20, generator=torch.Generator().manual_seed(1))
    A = deep_attention(W, X, cfg)  # (L, H, N, N)
    assert A.shape == (2, 4, 9, 9) and A.dtype == np.float64
    np.testing.assert_allclose(A.sum(axis=-1), 1.0, atol=1e-6)
    assert np.all(np.triu(A, k=1) == 0)
    V = deep_values(W, X, cfg)  # (L, H, N, d_head)
    assert V.shape == (2, 4, 9, 4)
    # block 0 by hand: LayerNorm of the input projection, then the query, key and value maps
    with torch.no_grad():
        a = torch.nn.functional.layer_norm(X @ W["in.weight"].T + W["in.bias"], (16,))  # (N, D)
        q, k, v = ((a @ W[f"block0.{n}.weight"].T + W[f"block0.{n}.bias"]).view(9, 4, 4).transpose(0, 1)
                   for n in "qkv")  # each (H, N, d)
        s = (q @ k.transpose(1, 2) / 2.0).masked_fill(torch.triu(torch.ones(9, 9), 1).bool(), float("-inf"))
        np.testing.assert_allclose(A[0], torch.softmax(s, dim=-1).numpy(), atol=1e-6)
        np.testing.assert_allclose(V[0], v.numpy(), atol=1e-6)
    two = {k: torch.stack([w, 2 * w]) for k, w in W.items()}  # (2, ...) two runs
    stacked = deep_attention(two, torch.stack([X, X]), cfg)  # (R, L, H, N, N)
    np.testing.assert_allclose(stacked[0], A, rtol=0, atol=1e-6)  # float32, batched matmuls
    assert not np.allclose(stacked[1], A)
    np.testing.assert_array_equal(deep_attention({k: w.detach().numpy() for k, w in W.items()}, X.numpy(), cfg), A)
    with pytest.raises(TypeError, match="DeepConfig"):
        deep_attention(W, X, {"d_model": 16})


def test_a_protocol_history_keeps_its_initial_weights():
    h = train_protocol([42, 7], steps=2, curve_every=1, config=SMALL, chain=ChainConfig(T=30))
    start = init_deep_weights(SMALL, 20, 8, torch.Generator().set_state(
        torch.from_numpy(ChainConfig(T=30).task(42 + HELD_OUT_OFFSET).generator_state.copy())))
    assert list(h.initial_weights) == list(h.weights)
    for name, w in start.items():
        np.testing.assert_array_equal(h.initial_weights[name][0], w.detach().numpy())
    assert not np.array_equal(h.initial_weights["out.weight"], h.weights["out.weight"])

