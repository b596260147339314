"""The fast float32 engine against the float64 reference (attnlib.backward and training.train).

Tolerances: the engine computes in float32 (machine epsilon 1.2e-7) with sums over
up to a few hundred terms, so relative agreement of ~1e-5 per step is expected;
after 20 full-batch steps 1e-4 on the losses leaves room for the drift.
"""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlib import backward, forward, init_params
from attnlib.chain.engine import kernel as fused, step as batched_step
from attnlib.chain.engine import Diverged, Engine, row_blocks
from attnlib.chain.task import ChainConfig, sticky_chain
from attnlib.head.training import ARMS, LearningRates, arm_rates, train

RECORD = ("loss", "attn_entropy", "attn_change", "score_grad_norm", "value_grad_norm")


def require_kernel(*dims):
    """Skip (or fail, when ATTNLIB_REQUIRE_COMPILER=1, as in CI) if the compiled kernel cannot be built."""
    reason = fused.unavailable_reason(*(dims or (20, 10, 8)))
    if reason is not None:
        if os.environ.get("ATTNLIB_REQUIRE_COMPILER") == "1":
            pytest.fail(f"the compiled kernel is required here: {reason}")
        pytest.skip(f"no compiled kernel: {reason}")


BACKENDS = ["torch", "compiled", "compiled-8-lanes"]


def use_backend(name, monkeypatch):
    """The Engine's ``backend`` argument for a test variant (the 8-lane build is the compiled kernel, narrower)."""
    if name == "torch":
        return "torch"
    require_kernel()
    if name == "compiled-8-lanes":
        widest = fused.load_kernel
        monkeypatch.setattr(fused, "load_kernel", lambda d_x, d_k, C: widest(d_x, d_k, C, lanes=8))
    return "compiled"


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Each engine test runs on the torch path, the compiled kernel, and its narrower (8-lane) build."""
    return use_backend(request.param, monkeypatch)


def _runs(n_runs=3, N=300, d=(20, 10, 15, 8), scale=0.3, seed=0):
    rng = np.random.default_rng(seed)
    d_x, d_k, d_v, C = d
    rates = [LearningRates.sgd(0.3), LearningRates.em_like(0.05, 10.0), LearningRates(0.2, 0.1, 0.3, 0.2)]
    runs = []
    for r in range(n_runs):
        X = rng.standard_normal((N, d_x)) + rng.standard_normal(d_x)  # (N, d_x)
        y = rng.integers(0, C, N)  # (N,)
        runs.append((X, y, init_params(d_x, d_k, d_v, C, scale=scale, rng=r), rates[r % 3]))
    return runs


@pytest.fixture(scope="module")
def reference():
    """3 runs, N = 300, 20 causal steps: the float64 trainer's histories."""
    runs = _runs()
    return runs, [train(p, X, y, lrs, steps=20, record=RECORD, snapshot_every=8) for X, y, p, lrs in runs]


@pytest.mark.parametrize(
    "variant, budget, max_block",
    [("torch", 60_000, 48), ("torch", 2_000, 16), ("torch", 10**9, 512)]  # block sizes: torch path only
    + [(name, 60_000, 48) for name in BACKENDS[1:]],
)
def test_engine_matches_reference_trainer(reference, variant, budget, max_block, monkeypatch):
    runs, expected = reference
    backend = use_backend(variant, monkeypatch)
    got = Engine(runs, workers=1, block_budget=budget, max_block=max_block, backend=backend).run(
        20, record=RECORD, snapshot_every=8
    )
    for h, ref in zip(got, expected):
        np.testing.assert_allclose(h.losses, ref.losses, rtol=1e-4)
        for name in RECORD[1:]:
            np.testing.assert_allclose(getattr(h, name), getattr(ref, name), rtol=1e-4)
        assert h.final_loss == pytest.approx(ref.final_loss, rel=1e-4)
        assert h.final_entropy == pytest.approx(ref.final_entropy, rel=1e-4)
        assert h.final_accuracy == pytest.approx(ref.final_accuracy, abs=2 / 300)  # an argmax tie may flip
        for name, w in ref.params.as_dict().items():
            np.testing.assert_allclose(getattr(h.params, name), w, rtol=1e-3, atol=1e-4)
        np.testing.assert_array_equal(h.snapshot_steps, ref.snapshot_steps)
        np.testing.assert_allclose(h.value_snapshots, ref.value_snapshots, rtol=1e-3, atol=1e-4)
        for got_p, ref_p in zip(h.param_snapshots, ref.param_snapshots, strict=True):
            for name, w in ref_p.as_dict().items():
                np.testing.assert_allclose(getattr(got_p, name), w, rtol=1e-3, atol=1e-4)
        assert h.lrs == ref.lrs


def test_engine_non_causal_matches_reference(backend):
    runs = _runs(n_runs=2, N=120)
    got = Engine(runs, causal=False, workers=1, block_budget=3000, max_block=32, backend=backend).run(10, record=RECORD)
    for h, (X, y, p, lrs) in zip(got, runs):
        ref = train(p, X, y, lrs, steps=10, causal=False, record=RECORD)
        np.testing.assert_allclose(h.losses, ref.losses, rtol=1e-4)
        np.testing.assert_allclose(h.attn_entropy, ref.attn_entropy, rtol=1e-4)
        np.testing.assert_allclose(h.value_grad_norm, ref.value_grad_norm, rtol=1e-4)
        assert h.final_loss == pytest.approx(ref.final_loss, rel=1e-4)


@settings(max_examples=15, deadline=None)
@given(
    N=st.integers(1, 70),
    causal=st.booleans(),
    budget=st.integers(1, 3000),
    max_block=st.integers(1, 40),
    seed=st.integers(0, 10**6),
)
def test_step_gradients_match_attnlib_backward(N, causal, budget, max_block, seed):
    """Routing law, value law and all four weight gradients, one step, random input and blocks."""
    rng = np.random.default_rng(seed)
    d_x, d_k, d_v, C = 5, 3, 4, 6
    runs = []
    for r in range(2):
        X = rng.standard_normal((N, d_x))  # (N, d_x)
        y = rng.integers(0, C, N)  # (N,)
        runs.append((X, y, init_params(d_x, d_k, d_v, C, scale=0.7, rng=seed + r), LearningRates.sgd()))
    got = Engine(runs, causal=causal, workers=1, block_budget=budget, max_block=max_block).gradients(dense=True)
    for r, (X, y, p, _) in enumerate(runs):
        cache = forward(p, X, causal=causal)
        ref = backward(p, cache, y)
        names = ("W_Q", "W_K", "W_V", "W_O", "scores", "values")
        # float32 cancellation errors scale with the size of the terms, not of the (possibly zero) result
        scale = max(np.abs(getattr(ref, name)).max() for name in names)
        for name in names:
            a, b = getattr(got, name)[r], getattr(ref, name)
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5 * scale, err_msg=name)
        np.testing.assert_allclose(got.scores[r].sum(axis=1), 0.0, atol=2e-5 * scale)  # zero-sum competition


def test_fallback_to_exact_row_max_gives_the_same_answer(reference, monkeypatch, backend):
    runs, expected = reference
    monkeypatch.setattr(batched_step, "_TINY_ROW_SUM", np.inf)  # every row "fails" the bound check
    engine = Engine(runs[:1], workers=1, backend=backend)
    (h,) = engine.run(5, record=RECORD)
    assert engine.fallbacks == 5 + 2  # every step, and both tries of the final forward pass
    np.testing.assert_allclose(h.losses, expected[0].losses[:5], rtol=1e-4)
    np.testing.assert_allclose(h.attn_entropy, expected[0].attn_entropy[:5], rtol=1e-4)


def test_large_scores_do_not_overflow(backend):
    """Scores in the hundreds: exp(s - m) with the Cauchy-Schwarz shift stays finite."""
    X, y, p, lrs = _runs(n_runs=1, N=80, scale=3.0)[0]
    (h,) = Engine([(X * 3, y, p, lrs)], workers=1, backend=backend).run(1)
    ref = train(p, X * 3, y, lrs, steps=1)
    assert np.isfinite(h.losses).all()
    np.testing.assert_allclose(h.losses, ref.losses, rtol=1e-4)


def test_workers_give_the_same_histories(backend):
    """Worker processes (torch) or threads (compiled) change nothing but the speed."""
    runs = _runs(n_runs=3, N=90)
    one = Engine(runs, workers=1, backend=backend).run(4, record=RECORD)
    seen = []
    two = Engine(runs, workers=2, backend=backend).run(4, record=RECORD, progress=seen.append)
    assert seen == [1, 2, 3, 4]
    for a, b in zip(one, two):
        np.testing.assert_allclose(a.losses, b.losses, rtol=1e-6)
        np.testing.assert_allclose(a.value_grad_norm, b.value_grad_norm, rtol=1e-6)
        assert a.final_loss == pytest.approx(b.final_loss, rel=1e-6)


def test_progress_and_zero_steps(backend):
    runs = _runs(n_runs=1, N=30)
    seen = []
    (h,) = Engine(runs, workers=1, backend=backend).run(3, progress=seen.append)
    assert seen == [1, 2, 3]
    (h0,) = Engine(runs, workers=1, backend=backend).run(0)
    assert h0.losses.shape == (0,)
    assert h0.final_loss == pytest.approx(h.losses[0], rel=1e-5)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 500), budget=st.integers(1, 5000), max_block=st.integers(1, 64), causal=st.booleans())
def test_row_blocks_tile_the_rows(n, budget, max_block, causal):
    blocks = row_blocks(n, causal=causal, budget=budget, max_block=max_block, min_block=1)
    assert blocks[0][0] == 0 and blocks[-1][1] == n
    for (a0, a1, c), (b0, _, _) in zip(blocks, blocks[1:] + [(n, None, None)]):
        assert a1 == b0 and 1 <= a1 - a0 <= max_block
        assert c == (a1 if causal else n)
        assert (a1 - a0) * c <= budget or a1 - a0 == 1


@pytest.mark.parametrize(
    "runs, kwargs, error, text",
    [
        ([], {}, TypeError, "runs must be a non-empty sequence"),
        ("abc", {}, TypeError, "runs"),
        ([(1, 2, 3)], {}, TypeError, r"runs\[0\] must be a tuple"),
        (None, {"workers": 0}, ValueError, "workers must be >= 1"),
        (None, {"causal": 1}, TypeError, "causal"),
        (None, {"backend": "gpu"}, ValueError, "backend must be one of 'auto', 'compiled', 'torch', got 'gpu'"),
    ],
)
def test_engine_rejects_bad_arguments(runs, kwargs, error, text):
    runs = _runs(n_runs=1, N=10) if runs is None else runs
    with pytest.raises(error, match=text):
        Engine(runs, **kwargs)


def test_engine_rejects_mismatched_runs():
    a, b = _runs(n_runs=2, N=10)
    with pytest.raises(ValueError, match=r"runs\[1\] must match runs\[0\]"):
        Engine([a, (b[0][:5], b[1][:5], b[2], b[3])])
    with pytest.raises(TypeError, match="lrs"):
        Engine([(a[0], a[1], a[2], 0.1)])
    with pytest.raises(ValueError, match="steps must be >= 0"):
        Engine([a]).run(-1)
    with pytest.raises(ValueError, match="record"):
        Engine([a]).run(1, record=("loss", "nope"))


def _initial(seed):
    return ChainConfig().initial_params(seed)


def test_sticky_chain_task_is_learnable_by_the_engine():
    task = sticky_chain(3, T=300)
    runs = [(task.X, task.y, _initial(3), LearningRates.em_like(0.05))]
    (h,) = Engine(runs, workers=1).run(40)
    assert h.final_loss < h.losses[0] - 0.01




def test_engine_matches_the_plain_autograd_protocol(backend):
    """The authors' way (float32 autograd, full masked N x N, as in their script) on a short chain: same losses."""
    from attnlib.reference.plain_protocol import plain_autograd_training

    task = ChainConfig(T=300).task(42)
    for arm in ARMS:
        lrs = arm_rates(arm)
        (h,) = Engine([(task.X, task.y, _initial(42), lrs)], workers=1, backend=backend).run(10)
        plain = plain_autograd_training(task.X, task.y, _initial(42), lrs, 10)
        np.testing.assert_allclose(h.losses, plain.losses, rtol=1e-5)
        assert h.final_loss == pytest.approx(plain.final_loss, rel=1e-5)


def test_a_diverging_run_stops_with_one_line_naming_it():
    """Too large a rate: a one-line error naming the run and its rates, never NaN losses."""
    task = sticky_chain(42, T=60)
    params = ChainConfig(T=60).initial_params(42)
    engine = Engine([(task.X, task.y, params, LearningRates.sgd(0.01)),
                     (task.X, task.y, params, LearningRates.sgd(100.0))], workers=1)
    with pytest.raises(Diverged, match=r"^runs\[1\] diverged: its loss is not finite from step \d+ on, "
                                       r"with learning rates LearningRates\(W_Q=100.0.*lower them$") as err:
        engine.run(50)
    assert err.value.run == 1 and 0 < err.value.step < 50 and "\n" not in str(err.value)
