"""Benchmark: the paper's sticky-chain table on a GPU, three programs side by side in one process.

Run from the repository root on a machine with a CUDA GPU::

    .venv/bin/python benchmarks/bench_gpu.py                 # the full table: 5 seeds x 2 arms x 1000 steps
    .venv/bin/python benchmarks/bench_gpu.py --steps 100     # a quick look
    .venv/bin/python benchmarks/bench_gpu.py --on-cpu --steps 5   # no GPU: the batched program beside the engine

(a) **The authors' protocol as plain per-run autograd on the GPU**
    (:func:`attnlib.reference.plain_protocol.plain_autograd_training` with
    ``device="cuda"``): one run after the other, float32, the full masked
    ``N x N`` scores, ``loss.backward()``, a manual SGD step.
(b) **The batched program** (:class:`attnlib.chain.engine.BatchedEngine`,
    ``device="cuda"``): the ten runs as one batch, the step captured in a CUDA
    graph, fused causal attention. Timed twice: the first call (CUDA graph
    capture included) and a second, warm one.
(c) **The CPU engine** (:func:`attnlib.dynamics.paper_table.run_sticky_chain`
    with ``device="cpu"``), the book's default.

Every program draws its data on the CPU (the book's table). Each time is wall
time around the whole call, after ``torch.cuda.synchronize()``. The output
gives the ratios and checks that (b) and (c) agree per seed: final losses and
EM-like steps to the threshold.

Without a CUDA GPU (and without ``--on-cpu``) it prints one line saying so
and exits with status 0. With ``--on-cpu`` it runs (b) on the CPU (uncaptured,
the masked scores or ``--attention sdpa``) beside (c), for ``--steps`` steps.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _runs(chain, seeds):
    from attnlib.dynamics.experiments import RunSpec
    from attnlib.head.training import ARMS

    out = []
    for seed in seeds:
        task, params = chain.task(seed), chain.initial_params(seed)
        out += [(task.X, task.y, params, RunSpec.paper(seed, arm, chain=chain).lrs) for arm in ARMS]
    return out


def _timed(fn, sync):
    sync()
    start = time.perf_counter()
    result = fn()
    sync()
    return result, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps per run (default 1000, the paper's)")
    parser.add_argument("--on-cpu", action="store_true",
                        help="no GPU: the batched program on the CPU beside the engine")  # fmt: skip
    parser.add_argument("--attention", choices=("auto", "masked", "sdpa"), default="auto",
                        help="attention of the batched program (default: sdpa on CUDA, masked on the CPU)")  # fmt: skip
    args = parser.parse_args(argv)

    import torch

    if not args.on_cpu and not torch.cuda.is_available():
        print(f"bench_gpu: no CUDA GPU here (torch {torch.__version__}); nothing measured. "
              "Run it on a GPU machine, or with --on-cpu.")  # fmt: skip
        return 0

    import numpy as np

    from attnlib.chain.engine import BatchedEngine
    from attnlib.chain.task import PAPER_SEEDS, ChainConfig
    from attnlib.dynamics.experiments import RunSet, RunSpec, speedup
    from attnlib.dynamics.paper_table import run_sticky_chain
    from attnlib.head.training import ARMS, EM_LIKE
    from attnlib.reference.plain_protocol import plain_autograd_training

    device = "cpu" if args.on_cpu else "cuda"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    chain, seeds, steps = ChainConfig(), PAPER_SEEDS, args.steps
    runs = _runs(chain, seeds)
    where = (torch.cuda.get_device_name(0) if device == "cuda"
             else f"CPU, {os.cpu_count()} cores: (b) on one thread, (c) on every core")  # fmt: skip
    print(f"sticky-chain table: {len(seeds)} seeds x {len(ARMS)} arms x {steps} steps, N = {chain.N}; "
          f"torch {torch.__version__}; {where}")  # fmt: skip
    times = {}
    if device == "cuda":
        plain_autograd_training(*runs[0], 3, device="cuda")  # CUDA context and kernels warm
        _, times["(a) plain per-run autograd, GPU"] = _timed(
            lambda: [plain_autograd_training(*run, steps, device="cuda") for run in runs], sync)
    batched = BatchedEngine(runs, device=device, attention=args.attention)
    histories, times[f"(b) batched program, {device}, first call"] = _timed(lambda: batched.run(steps), sync)
    if device == "cuda":
        histories, times["(b) batched program, cuda, warm"] = _timed(lambda: batched.run(steps), sync)
    table, times["(c) CPU engine"] = _timed(lambda: run_sticky_chain(seeds, steps=steps, chain=chain), sync)

    width = max(map(len, times)) + 2
    best_b = min(t for name, t in times.items() if name.startswith("(b)"))
    for name, seconds in times.items():
        print(f"{name:{width}s}{seconds:9.2f} s   {seconds / best_b:7.2f} x (b)")
    specs = [RunSpec.paper(s, arm, chain=chain) for s in seeds for arm in ARMS]
    ours = RunSet(specs=tuple(specs), histories=tuple(histories), tasks=table.tasks)
    a, b = speedup(ours, EM_LIKE), speedup(table, EM_LIKE)
    gap = max(abs(h.final_loss - g.final_loss) for h, g in zip(histories, table.histories))
    steps_gap = np.nanmax(np.abs(a.steps_per_seed - b.steps_per_seed)) if steps else 0.0
    print(f"(b) vs (c): largest final-loss gap {gap:.1e}; EM-like steps to the threshold "
          f"{' '.join(f'{v:.0f}' for v in a.steps_per_seed)} vs {' '.join(f'{v:.0f}' for v in b.steps_per_seed)} "
          f"(largest gap {steps_gap:.0f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
