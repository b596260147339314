"""Check the engine's sticky-chain table against a plain autograd implementation of the protocol.

Usage (from the repository root; the full table took 468 s on two cores when measured on 2026-11-23)::

    .venv/bin/python tools/check_engine_against_autograd.py [--seeds 42 2024 ...] [--steps 1000] [--json PATH]

The yardstick is the protocol written the plain way (:mod:`attnlib.reference.plain_protocol`:
float32 autograd on the full masked N x N scores, one run at a time), which shares no code
with the engine. The authors' own script (vishalmisra/bayesian-wind-tunnel,
experiments/paper2_gradient/em_vs_sgd_multiseed.py) does the same on a CPU; chapter 8 and
the README give its table beside the engine's, run side by side. For every seed it prints both final losses, the largest loss
difference along the 1000 steps, and the EM-like arm's steps to the mean SGD final loss
as each implementation computes it.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from attnlib.chain.task import PAPER_SEEDS, ChainConfig
from attnlib.dynamics.paper_table import run_sticky_chain
from attnlib.head.training import ARMS, EM_LIKE, SGD, steps_to_reach
from attnlib.reference.plain_protocol import plain_autograd_training


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(PAPER_SEEDS))
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    runs = run_sticky_chain(args.seeds, steps=args.steps)
    engine_s = time.perf_counter() - start
    engine = {(spec.seed, spec.arm): h for spec, h in zip(runs.specs, runs.histories)}
    plain, plain_s = {}, 0.0
    for spec, task in zip(runs.specs, runs.tasks):
        start = time.perf_counter()
        init = ChainConfig().initial_params(spec.seed)
        plain[(spec.seed, spec.arm)] = plain_autograd_training(task.X, task.y, init, spec.lrs, args.steps)
        plain_s += time.perf_counter() - start
        print(f"  plain autograd: seed {spec.seed} {spec.arm} done ({plain_s:.0f} s so far)", flush=True)

    thresholds = {
        "engine": float(np.mean([engine[(s, SGD)].final_loss for s in args.seeds])),
        "plain": float(np.mean([plain[(s, SGD)].final_loss for s in args.seeds])),
    }
    rows = []
    for seed in args.seeds:
        row = {"seed": seed}
        for arm in ARMS:
            e, p = engine[(seed, arm)], plain[(seed, arm)]
            row[arm] = {"engine_final": e.final_loss, "plain_final": p.final_loss,
                        "max_abs_loss_diff": float(np.max(np.abs(e.losses - p.losses)))}  # fmt: skip
        row["em_steps_engine"] = steps_to_reach(engine[(seed, EM_LIKE)].losses, thresholds["engine"])
        row["em_steps_plain"] = steps_to_reach(plain[(seed, EM_LIKE)].losses, thresholds["plain"])
        rows.append(row)

    print(f"\nengine {engine_s:.1f} s, plain autograd {plain_s:.1f} s; thresholds (mean SGD final loss): "
          f"engine {thresholds['engine']:.6f}, plain {thresholds['plain']:.6f}")  # fmt: skip
    print(f"{'seed':>6} {'arm':>7} {'engine final':>13} {'plain final':>12} {'|diff|':>9} {'max |diff| on the way':>22}")
    for row in rows:
        for arm in ARMS:
            r = row[arm]
            diff = abs(r["engine_final"] - r["plain_final"])
            print(f"{row['seed']:>6} {arm:>7} {r['engine_final']:>13.6f} {r['plain_final']:>12.6f} {diff:>9.1e} "
                  f"{r['max_abs_loss_diff']:>22.1e}")  # fmt: skip
    print(f"\n{'seed':>6} {'EM-like steps to threshold: engine':>35} {'plain':>6}")
    for row in rows:
        print(f"{row['seed']:>6} {str(row['em_steps_engine']):>35} {str(row['em_steps_plain']):>6}")
    worst = max(abs(r[a]["engine_final"] - r[a]["plain_final"]) for r in rows for a in ARMS)
    steps_gap = max(abs(r["em_steps_engine"] - r["em_steps_plain"]) for r in rows
                    if r["em_steps_engine"] is not None and r["em_steps_plain"] is not None)  # fmt: skip
    print(f"\nlargest final-loss difference {worst:.1e} nats; largest steps-to-threshold difference {steps_gap}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seeds": args.seeds, "steps": args.steps, "thresholds": thresholds, "rows": rows,
                       "engine_seconds": engine_s, "plain_seconds": plain_s}, f, indent=1)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
