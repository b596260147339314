"""Benchmark: what recording the attention dynamics costs the paper's table.

Run from the repository root::

    .venv/bin/python benchmarks/bench_record_dynamics.py               # 300 steps, 3 rounds (about a minute)
    .venv/bin/python benchmarks/bench_record_dynamics.py --steps 1000 --rounds 1

Chapter 8 trains the paper's table (5 seeds x 2 arms, N = 1999) once with
``record=RECORD_DYNAMICS``: besides the loss, at every step, the attention
entropy, the attention change, ``||dL/dS||`` and ``||dL/dV||``. This script
times, in one process and alternating so that a busy moment of a shared machine
hits both, the plain table (``record=("loss",)``) and the table with each
quantity recorded alone and all together, and prints each time as a ratio of
the plain one. The first call builds or loads the compiled kernel and is not
timed. Nothing is asserted: this is where the cost is measured.
"""

from __future__ import annotations

import argparse
import statistics
import time

from attnlib.dynamics.paper_table import DYNAMICS, RECORD_DYNAMICS, PAPER_SEEDS, run_sticky_chain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="steps per run (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of every setting (default 3)")
    args = parser.parse_args()
    if args.steps < 1 or args.rounds < 1:
        parser.error(f"--steps and --rounds must be >= 1, got {args.steps} and {args.rounds}")

    settings = {"loss only": ("loss",), **{f"+ {name}": ("loss", name) for name in DYNAMICS},
                "all (chapter 8)": RECORD_DYNAMICS}  # fmt: skip
    run_sticky_chain(PAPER_SEEDS, steps=5, record=RECORD_DYNAMICS)  # build or load the kernel
    times = {name: [] for name in settings}
    for _ in range(args.rounds):
        for name, record in settings.items():
            started = time.perf_counter()
            run_sticky_chain(PAPER_SEEDS, steps=args.steps, record=record)
            times[name].append(time.perf_counter() - started)

    plain = statistics.median(times["loss only"])
    print(f"the paper's table, 10 runs x {args.steps} steps, N = 1999; median of {args.rounds} rounds")
    print(f"{'recorded':24s} {'seconds':>8s} {'/ loss only':>12s}")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:24s} {median:8.2f} {median / plain:11.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
