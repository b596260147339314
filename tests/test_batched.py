"""The batched, device-agnostic program of the sticky-chain table (attnlib.chain.engine.batched) and --device.

Everything here but the last section runs on any CPU in a few seconds. The
CUDA-only tests at the end are skipped without a GPU (CI has none).
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from attnlib._device import resolve_device
from attnlib._threads import single_torch_thread
from attnlib.chain.engine import BatchedEngine
from attnlib.chain.task import PAPER_SEEDS, ChainConfig
from attnlib.cli import main
from attnlib.dynamics.experiments import RunSpec
from attnlib.dynamics.paper_table import AUTHORS_SCRIPT_RUNS, run_sticky_chain, summarize_sticky_chain
from attnlib.head.training import ARMS, first_steps_below
from attnlib.reference.plain_protocol import plain_autograd_training

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU: the captured GPU path of the table")
no_cuda = pytest.mark.skipif(HAS_CUDA, reason="checks the behaviour on a machine without a CUDA GPU")

CHAIN = ChainConfig(T=50)  # N = 49
SEEDS = (42, 7)
STEPS = 40
ROOT = Path(__file__).resolve().parents[1]


def _runs(chain=CHAIN, seeds=SEEDS):
    """(X, y, params, lrs) of every (seed, arm), seed-major, as the table orders them."""
    out = []
    for seed in seeds:
        task, params = chain.task(seed), chain.initial_params(seed)
        out += [(task.X, task.y, params, RunSpec.paper(seed, arm, chain=chain).lrs) for arm in ARMS]
    return out


@pytest.fixture(scope="module")
def float64_truth():
    """Each run alone, by plain float64 autograd on the full masked scores."""
    with single_torch_thread():  # small tensors: threads only stall on a shared machine
        return [plain_autograd_training(*run, STEPS, dtype=torch.float64) for run in _runs()]


def _steps_to_threshold(losses: np.ndarray, finals: np.ndarray) -> np.ndarray:
    """The table's headline per seed: EM-like's first step below the mean SGD final loss; runs seed-major."""
    sgd, em = finals[0::2], losses[1::2]  # (S,), (S, steps)
    return first_steps_below(em, float(sgd.mean()))  # (S,)


# --------------------------------------------------------------------------- the program, on the CPU
@pytest.mark.parametrize("attention", ["masked", "sdpa"])
def test_batched_matches_the_float64_trainer(float64_truth, attention):
    histories = BatchedEngine(_runs(), device="cpu", attention=attention).run(STEPS)
    for h, truth in zip(histories, float64_truth):
        np.testing.assert_allclose(h.losses, truth.losses, rtol=2e-6, atol=0)  # float32 rounding, 40 steps
        assert abs(h.final_loss - truth.final_loss) < 2e-6
    ours = _steps_to_threshold(np.stack([h.losses for h in histories]), np.array([h.final_loss for h in histories]))
    truth = _steps_to_threshold(np.stack([t.losses for t in float64_truth]),
                                np.array([t.final_loss for t in float64_truth]))
    assert np.all(np.isfinite(truth)) and np.all(np.abs(ours - truth) <= 1)


def test_the_table_on_the_batched_program_matches_the_engine_per_seed():
    engine = summarize_sticky_chain(run_sticky_chain(SEEDS, steps=STEPS, chain=CHAIN))
    batched = summarize_sticky_chain(run_sticky_chain(SEEDS, steps=STEPS, chain=CHAIN, backend="batched"))
    for e, b in zip(engine["per_seed"], batched["per_seed"]):
        for arm in ARMS:
            np.testing.assert_allclose(b[arm]["losses"], e[arm]["losses"], rtol=2e-6)
            assert abs(b[arm]["final_loss"] - e[arm]["final_loss"]) < 2e-6
        assert e["em_steps_to_sgd"] is not None and abs(b["em_steps_to_sgd"] - e["em_steps_to_sgd"]) <= 1


def test_batching_does_not_mix_runs():
    runs = _runs()
    together = BatchedEngine(runs).run(10)
    for run, h in zip(runs, together):  # each run alone
        (alone,) = BatchedEngine([run]).run(10)
        np.testing.assert_allclose(h.losses, alone.losses, rtol=1e-6, atol=0)
    # Changing one run's data changes that run only, to the last bit.
    X, y, params, lrs = runs[3]
    changed = runs[:3] + [(X + 0.5, y, params, lrs)]
    after = BatchedEngine(changed).run(10)
    for r in range(3):
        assert np.array_equal(after[r].losses, together[r].losses)
    assert not np.allclose(after[3].losses, together[3].losses)


def test_batched_rejects_what_it_cannot_do():
    with pytest.raises(ValueError, match="records the loss only"):
        BatchedEngine(_runs()).run(2, record=("loss", "attn_entropy"))
    with pytest.raises(ValueError, match="graph=True captures a CUDA graph"):
        BatchedEngine(_runs(), graph=True)
    with pytest.raises(ValueError, match="attention must be one of"):
        BatchedEngine(_runs(), attention="flash")
    with pytest.raises(ValueError, match="device must be one of 'cpu', 'cuda', 'auto', got 'gpu'"):
        BatchedEngine(_runs(), device="gpu")
    with pytest.raises(ValueError, match="device 'cuda' needs a CUDA GPU" if not HAS_CUDA else "is a CPU engine's"):
        run_sticky_chain([42], steps=2, chain=ChainConfig(T=20), backend="torch", device="cuda")


def test_resolve_device_auto_says_why():
    device = resolve_device("auto")
    assert device.name == ("cuda" if HAS_CUDA else "cpu") and device.reason.startswith("auto: ")
    if not HAS_CUDA:
        assert device.describe() == "cpu (auto: no CUDA device found)"
    assert resolve_device("cpu").describe() == "cpu"


# --------------------------------------------------------------------------- the command line
@no_cuda
@pytest.mark.parametrize("command", [["reproduce", "sticky-chain"], ["reproduce", "deep-transformer"],
                                     ["sweep", "baseline"]])
def test_device_cuda_without_a_gpu_is_one_line(command, capsys):
    assert main([*command, "--device", "cuda", "--steps", "101", "--T", "20", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "--device 'cuda' needs a CUDA GPU" in captured.err
    assert "Traceback" not in captured.err


def test_device_auto_runs_and_says_where(tmp_path, capsys):
    path = tmp_path / "table.json"
    assert main(["reproduce", "sticky-chain", "--steps", "3", "--seeds", "42", "--T", "30", "--device", "auto",
                 "--quiet", "--json", str(path)]) == 0  # fmt: skip
    first = capsys.readouterr().out.splitlines()[0]
    if HAS_CUDA:
        assert first.startswith("device: cuda (auto: CUDA device found")
    else:
        assert first == "device: cpu (auto: no CUDA device found); draws: cpu (the authors' CPU stream)"
    report = json.loads(path.read_text())
    assert report["device"] == ("cuda" if HAS_CUDA else "cpu") and report["draws"] == "cpu"
    assert main(["sweep", "baseline", "--steps", "101", "--seeds", "42", "--T", "20", "--device", "auto",
                 "--quiet"]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("device: ")


def test_bench_gpu_without_a_gpu_says_so_and_exits_0(capsys, monkeypatch):
    if HAS_CUDA:
        pytest.skip("checks the behaviour on a machine without a CUDA GPU")
    monkeypatch.setattr(sys, "argv", ["bench_gpu.py"])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(ROOT / "benchmarks" / "bench_gpu.py"), run_name="__main__")
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("bench_gpu: no CUDA GPU")


# --------------------------------------------------------------------------- CUDA only
@needs_cuda
def test_gpu_table_reproduces_the_cpu_per_seed_numbers():
    """The full table (5 seeds x 2 arms x 1000 steps, N = 1999) on the GPU, drawing on the CPU.

    The book's CPU engine matches the authors' script on a CPU seed for seed
    (:data:`AUTHORS_SCRIPT_RUNS`, printed to 4 decimals); the GPU run must too.
    Its speed is measured by ``benchmarks/bench_gpu.py``, not asserted here.
    """
    summary = summarize_sticky_chain(run_sticky_chain(PAPER_SEEDS, device="cuda"))
    for entry in summary["per_seed"]:
        sgd, em, steps = AUTHORS_SCRIPT_RUNS["cpu"]["per_seed"][entry["seed"]]
        assert abs(entry["SGD"]["final_loss"] - sgd) < 1e-4 and abs(entry["EM-like"]["final_loss"] - em) < 1e-4
        assert abs(entry["em_steps_to_sgd"] - steps) <= 1


@needs_cuda
def test_gpu_program_equals_the_cpu_program_and_the_deep_variant_moves():
    cpu = BatchedEngine(_runs(), device="cpu").run(STEPS)
    for attention in ("masked", "sdpa"):
        gpu = BatchedEngine(_runs(), device="cuda", attention=attention).run(STEPS)
        for c, g in zip(cpu, gpu):
            np.testing.assert_allclose(g.losses, c.losses, rtol=1e-5)
    from attnlib.dynamics.deep import DeepConfig, train_deep

    small, chain = DeepConfig(d_model=16, n_layers=2, n_heads=2), ChainConfig(T=60)
    on_cpu = train_deep(42, steps=10, config=small, chain=chain)
    on_gpu = train_deep(42, steps=10, config=small, chain=chain, device="cuda")
    np.testing.assert_allclose(on_gpu.train_losses, on_cpu.train_losses, atol=1e-4)
