"""The compiled kernel (attnlib.chain.engine.kernel) against the float64 reference, and its build and errors.

test_engine.py runs every engine test on both paths; this file adds what only the
kernel has: random shapes that exercise the padded rows of a tile (N not a multiple of
8 or 16, N smaller than one tile), the kernel's own threads, and what happens when it
cannot be built.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlib import backward, forward, init_params
from attnlib.chain.engine import kernel as fused
from attnlib.chain.engine import Engine
from attnlib.head.model import loss
from attnlib.head.training import LearningRates, train

from .test_engine import _runs, require_kernel


@settings(max_examples=20, deadline=None)
@given(N=st.integers(1, 70), causal=st.booleans(), lanes=st.sampled_from([None, 8]), seed=st.integers(0, 10**6))
def test_compiled_gradients_match_attnlib_backward(N, causal, lanes, seed):
    """All four weight gradients and the loss, one step, odd shapes and sizes."""
    d_x, d_k, d_v, C = 5, 3, 4, 6
    require_kernel(d_x, d_k, C)
    rng = np.random.default_rng(seed)
    runs = []
    for r in range(2):
        X = rng.standard_normal((N, d_x))  # (N, d_x)
        y = rng.integers(0, C, N)  # (N,)
        runs.append((X, y, init_params(d_x, d_k, d_v, C, scale=0.7, rng=seed + r), LearningRates.sgd()))
    widest = fused.load_kernel
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fused, "load_kernel", lambda a, b, c: widest(a, b, c, lanes=lanes))
        got = Engine(runs, causal=causal, workers=1, backend="compiled").gradients()
    for r, (X, y, p, _) in enumerate(runs):
        cache = forward(p, X, causal=causal)
        ref = backward(p, cache, y)
        scale = max(np.abs(getattr(ref, name)).max() for name in ("W_Q", "W_K", "W_V", "W_O"))
        for name in ("W_Q", "W_K", "W_V", "W_O"):
            np.testing.assert_allclose(getattr(got, name)[r], getattr(ref, name), rtol=1e-4, atol=2e-5 * scale,
                                       err_msg=name)  # fmt: skip
        assert got.loss[r] == pytest.approx(loss(cache, y), rel=1e-5)


def test_kernel_threads_split_one_run_without_changing_it():
    """One run and two threads: the rows of a step are shared out; sums in another order only."""
    require_kernel()
    runs = _runs(n_runs=1, N=200)
    one = Engine(runs, workers=1, backend="compiled").run(5, record=("loss", "value_grad_norm"))[0]
    two = Engine(runs, workers=2, backend="compiled").run(5, record=("loss", "value_grad_norm"))[0]
    np.testing.assert_allclose(two.losses, one.losses, rtol=1e-6)
    np.testing.assert_allclose(two.value_grad_norm, one.value_grad_norm, rtol=1e-5)
    ref = train(*[runs[0][i] for i in (2, 0, 1, 3)], steps=5)
    np.testing.assert_allclose(two.losses, ref.losses, rtol=1e-4)


def test_backends_agree_on_the_sticky_chain():
    """The two paths on the real task (N = 1999, the authors' weights), 3 steps of both arms."""
    require_kernel()
    from attnlib.dynamics.paper_table import run_sticky_chain

    a = run_sticky_chain([42], steps=3, workers=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fused, "load_kernel", lambda *dims: None)  # as on a machine without a compiler
        b = run_sticky_chain([42], steps=3, workers=1)
    np.testing.assert_allclose(a.losses("SGD"), b.losses("SGD"), rtol=1e-5)
    np.testing.assert_allclose(a.losses("EM-like"), b.losses("EM-like"), rtol=1e-5)


def test_no_compiler_means_torch_or_a_clear_error(monkeypatch):
    monkeypatch.setenv("ATTNLIB_NO_COMPILE", "1")
    fused._load.cache_clear()
    try:
        assert fused.load_kernel(20, 10, 8) is None
        assert fused.unavailable_reason(20, 10, 8) == "ATTNLIB_NO_COMPILE is set"
        runs = _runs(n_runs=1, N=20)
        assert Engine(runs).backend == "torch"
        with pytest.raises(RuntimeError, match="backend='compiled' is not available: ATTNLIB_NO_COMPILE is set"):
            Engine(runs, backend="compiled")
    finally:
        monkeypatch.delenv("ATTNLIB_NO_COMPILE")
        fused._load.cache_clear()


def test_a_failing_compiler_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    monkeypatch.setenv("ATTNLIB_CACHE_DIR", str(tmp_path))
    fused._load.cache_clear()
    try:
        assert fused.load_kernel(7, 3, 2) is None
        assert fused.unavailable_reason(7, 3, 2).startswith("the C compiler failed")
    finally:
        fused._load.cache_clear()


def test_kernel_rejects_wrong_scratch():
    require_kernel()
    import torch

    kernel = fused.load_kernel(20, 10, 8)
    R, N = 1, 20
    args = dict(X=torch.zeros(R, N, 20), P=torch.zeros(R, N, 28), WVO=torch.zeros(R, 20, 8),
                y=torch.zeros(R, N, dtype=torch.long), m=torch.zeros(R, N), EX1=torch.zeros(R, N, 21),
                Z=torch.zeros(R, N, 8), gsq=torch.zeros(R, N), nll=torch.zeros(R, N), dA=torch.zeros(R, 20, 20),
                AXdz=torch.zeros(R, 20, 8))  # fmt: skip
    with pytest.raises(ValueError, match="scratch must come from Kernel.scratch"):
        kernel.step(**args, scratch=torch.zeros(10))
    kernel.step(**args, scratch=kernel.scratch(R, N, 1))
    assert np.allclose(args["nll"].numpy(), np.log(8))  # zero weights: uniform predictions


def test_the_kernel_source_ships_with_the_package():
    """A wheel (Colab's pip install) must carry kernel.c, or the engine silently loses its fast path."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shipped = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["attnlib"]
    package = root / "attnlib"
    others = sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()
                    and p.suffix not in (".py", ".pyc"))  # fmt: skip
    assert others == sorted(shipped) == ["chain/engine/kernel.c"]


def test_a_missing_source_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(fused, "_SOURCE", tmp_path / "kernel.c")
    fused._load.cache_clear()
    try:
        assert fused.load_kernel(7, 3, 2) is None
        assert "missing from this installation" in fused.unavailable_reason(7, 3, 2)
    finally:
        fused._load.cache_clear()


def test_an_error_in_one_thread_stops_the_others_and_is_raised():
    require_kernel()
    runs = _runs(n_runs=2, N=40)
    calls = []

    def progress(t):
        calls.append(t)
        if t == 2:
            raise ValueError("stop here")

    with pytest.raises(ValueError, match="stop here"):
        Engine(runs, workers=2, backend="compiled").run(500, progress=progress)
    assert max(calls) == 2  # nobody reported step 3: both groups stopped


def test_the_generic_build_is_another_floating_point_path(monkeypatch, tmp_path):
    """ATTNLIB_GENERIC_KERNEL=1: a build without fused multiply-add that agrees to float32 rounding."""
    require_kernel()
    from attnlib.dynamics.paper_table import run_sticky_chain

    monkeypatch.delenv("ATTNLIB_GENERIC_KERNEL", raising=False)
    fused._load.cache_clear()
    native = run_sticky_chain([42], steps=3, workers=1)
    monkeypatch.setenv("ATTNLIB_GENERIC_KERNEL", "1")
    monkeypatch.setenv("ATTNLIB_CACHE_DIR", str(tmp_path))
    fused._load.cache_clear()
    try:
        assert "-ffp-contract=off" in fused._flags()
        kernel = fused.load_kernel(20, 10, 8)
        assert kernel is not None and kernel.path.startswith(str(tmp_path))
        generic = run_sticky_chain([42], steps=3, workers=1)
    finally:
        fused._load.cache_clear()
    for arm in ("SGD", "EM-like"):
        np.testing.assert_allclose(native.losses(arm), generic.losses(arm), rtol=1e-5)
