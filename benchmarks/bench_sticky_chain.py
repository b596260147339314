"""Benchmark: the paper's sticky-chain table, plain torch autograd vs attnlib's engine.

Run from the repository root::

    .venv/bin/python benchmarks/bench_sticky_chain.py            # full table, both engine paths (2-3 minutes)
    .venv/bin/python benchmarks/bench_sticky_chain.py --backends compiled   # only the compiled kernel
    .venv/bin/python benchmarks/bench_sticky_chain.py --engine-steps 100 --autograd-steps 20  # quick look

(a) **Autograd baseline**, in this process: what a reader would write. One run
    at a time, float32, the full masked ``N x N`` score matrix, ``loss.backward()``
    and a manual per-matrix SGD step. It runs ``--autograd-steps`` steps of each
    arm for one seed (default 50 + 50) and the time per step is *extrapolated*
    to the whole table (seeds x arms x 1000 steps); the output says so.
(b) **Engine**, in a child process: ``attnlib.dynamics.paper_table.run_sticky_chain`` on the
    whole table (5 seeds x 2 arms x ``--engine-steps`` steps), timed end to end
    (task sampling, kernel loading, worker start-up and all), once per path in
    ``--backends``: ``compiled`` (the fused C kernel, threads in one process)
    and ``torch`` (row blocks, one worker process per core).

Memory. Peak RSS (``resource.getrusage(...).ru_maxrss``) is a high-water mark
per process, so the two measurements must not share a process: (a) is this
process's own peak (it includes importing torch, about 170 MB by itself), and
(b) runs in a fresh child that reports its own peak, the largest peak among
*its* children (the engine's worker processes), and, because those run at the
same time, the peak of the whole process tree sampled every 0.2 s from
``/proc/PID/smaps_rollup``: the RSS sum (counts the shared torch libraries once
per process) and the PSS sum (counts shared pages once overall; the honest
total).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import textwrap
import time

PAPER_SEEDS = (42, 2024, 1337, 7777, 9999)

_ENGINE_CHILD = textwrap.dedent(
    """
    import json, os, resource, sys, threading, time

    def tree_memory_kb():
        # (RSS, PSS) summed over this process and its live children, from /proc/PID/smaps_rollup
        pids, total = [os.getpid()], [0, 0]
        for task in os.listdir(f"/proc/{os.getpid()}/task"):
            with open(f"/proc/{os.getpid()}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
        for pid in pids:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Rss:"):
                            total[0] += int(line.split()[1])
                        elif line.startswith("Pss:"):
                            total[1] += int(line.split()[1])
            except OSError:
                pass
        return total

    peak = [0, 0]
    running = True

    def sample():
        while running:
            rss, pss = tree_memory_kb()
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    from attnlib.dynamics.paper_table import run_sticky_chain
    steps = int(sys.argv[1])
    backend = sys.argv[2]
    out = run_sticky_chain(steps=steps, backend=backend)
    wall = time.perf_counter() - t0
    running = False
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    final = {f"{spec.seed}/{spec.arm}": h.final_loss for spec, h in zip(out.specs, out.histories)}
    print(json.dumps({"backend": backend, "wall": wall, "self_mb": self_kb / 1024, "worker_mb": child_kb / 1024,
                      "tree_rss_mb": peak[0] / 1024, "tree_pss_mb": peak[1] / 1024, "final": final,
                      "worker_cpu_s": children.ru_utime + children.ru_stime,
                      "driver_cpu_s": me.ru_utime + me.ru_stime}))
    """
)


def autograd_baseline(steps_per_arm: int, seed: int = 42) -> dict:
    """Time the plain autograd loop; return seconds per (run, step) and this process's peak RSS.

    The loop is :func:`attnlib.reference.plain_protocol.plain_autograd_training`
    (one extra forward pass at the end, for the final loss, is included in the time).
    """
    from attnlib.reference.plain_protocol import plain_autograd_training
    from attnlib.chain.task import authors_initial_params, sticky_chain
    from attnlib.head.training import ARMS, arm_rates

    task = sticky_chain(seed)
    init = authors_initial_params(seed)
    timings = {}
    for arm in ARMS:
        lrs = arm_rates(arm)
        start = time.perf_counter()
        plain_autograd_training(task.X, task.y, init, lrs, steps_per_arm)
        timings[arm] = (time.perf_counter() - start) / steps_per_arm
    per_step = sum(timings.values()) / len(timings)
    return {
        "seconds_per_run_step": per_step,
        "steps_per_arm": steps_per_arm,
        "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def engine_child(steps: int, backend: str) -> dict:
    """Run the engine on the whole table in a fresh Python process; parse its report."""
    done = subprocess.run([sys.executable, "-c", _ENGINE_CHILD, str(steps), backend], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"engine child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine-steps", type=int, default=1000, help="steps of the engine run (default 1000)")
    parser.add_argument("--autograd-steps", type=int, default=50, help="autograd steps per arm (default 50)")
    parser.add_argument("--backends", nargs="+", choices=("compiled", "torch"), default=["compiled", "torch"],
                        help="engine paths to time (default both)")  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    n_runs = len(PAPER_SEEDS) * 2
    table_steps = 1000

    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at start", flush=True)
    engines = {backend: engine_child(args.engine_steps, backend) for backend in args.backends}
    base = autograd_baseline(args.autograd_steps)
    autograd_table = base["seconds_per_run_step"] * n_runs * table_steps
    print(f"(a) torch autograd, float32, full masked N x N, one run at a time: measured {args.autograd_steps} steps "
          f"per arm (seed 42): {base['seconds_per_run_step'] * 1e3:.1f} ms per run-step; "
          f"EXTRAPOLATED to {n_runs} runs x {table_steps} steps: {autograd_table:.0f} s; "
          f"peak RSS {base['self_mb']:.0f} MB (this process, incl. the torch import)")  # fmt: skip
    tables = {}
    for backend, engine in engines.items():
        tables[backend] = engine["wall"] * table_steps / max(args.engine_steps, 1)
        per_run_step = engine["wall"] / (n_runs * max(args.engine_steps, 1))
        print(f"(b) attnlib engine, {backend} path, {n_runs} runs x {args.engine_steps} steps, end to end in a child "
              f"process: {engine['wall']:.1f} s ({per_run_step * 1e3:.2f} ms per run-step); peak RSS "
              f"{engine['self_mb']:.0f} MB driver, {engine['worker_mb']:.0f} MB largest worker process; sampled peak "
              f"of the process tree: RSS {engine['tree_rss_mb']:.0f} MB summed, PSS {engine['tree_pss_mb']:.0f} MB "
              f"summed (PSS counts shared libraries once)")  # fmt: skip
        print(f"    CPU time: this process {engine['driver_cpu_s']:.1f} s, worker processes {engine['worker_cpu_s']:.1f} s")
        if args.engine_steps != table_steps:
            print(f"    (scaled to {table_steps} steps: {tables[backend]:.1f} s)")
        print(f"    ratio (a)/(b) for the whole table: {autograd_table / tables[backend]:.1f}x")
    if {"compiled", "torch"} <= set(engines):
        same = max(abs(engines["compiled"]["final"][k] - engines["torch"]["final"][k]) for k in engines["torch"]["final"])
        print(f"compiled vs torch path: {tables['torch'] / tables['compiled']:.2f}x faster; largest difference in a "
              f"final loss {same:.1e}")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"autograd": base, "engines": engines, "autograd_table_s": autograd_table,
                       "engine_table_s": tables}, f, indent=1)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
