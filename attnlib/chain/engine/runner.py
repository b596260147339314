"""The fast engine for the sticky-chain experiment: many runs, closed-form gradients, float32.

:func:`attnlib.head.training.train` is the readable float64 truth; this module
computes the same thing fast enough to redo the paper's whole table (5 seeds x
2 arms x 1000 full-batch steps on ``N = 1999`` positions) in about 30 seconds
on two CPU cores (``benchmarks/README.md`` has the measured figures).
It uses no autograd: every gradient is one of the book's closed forms, and the
tests check it against :func:`attnlib.backward` and :func:`attnlib.head.training.train`.

Two paths compute a step, with the same closed forms:

* **compiled** (the default when a C compiler is present): one call per step
  into ``kernel.c`` (built by :mod:`attnlib.chain.engine.kernel`), which takes 16 query
  rows at a time as the lanes of a SIMD vector and does their whole forward and
  backward pass in one visit to their keys, never writing an ``N x N`` matrix.
  Torch only does the small products before (``X [W_Q, W_K, W_V W_O]``) and
  after (four ``d x d`` weight gradients). About 2 ns per attention entry per
  core; runs are split into one group per core, each advanced by its own thread
  (the kernel releases the GIL).
* **torch** (everywhere): the row-block scheme below, about 5 ns per entry per
  core, one worker process per core.

The step itself (both paths) is in :mod:`attnlib.chain.engine.step`; this module
schedules it: it validates the runs, splits them into groups, advances the
groups in threads or worker processes, and turns the results into
:class:`~attnlib.head.training.History` objects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..._threads import single_torch_thread
from ..._validate import as_bool, as_float_matrix, as_labels, as_positive_int
from .step import RunGroup, run_group, row_blocks
from ...head.model import Params
from ...head.training import (
    RECORDABLE,
    Diverged,
    History,
    LearningRates,
    check_record,
    check_snapshot_every,
    snapshot_steps,
    predictive_metrics,
    raise_if_diverged,
)

__all__ = ["Engine", "StepGrads", "check_runs", "finished_run"]


@dataclass(frozen=True)
class StepGrads:
    """Closed-form gradients of one step for a batch of runs (from :meth:`Engine.gradients`).

    Attributes
    ----------
    loss : (R,)
    W_Q, W_K : (R, d_x, d_k)
    W_V : (R, d_x, d_v)
    W_O : (R, d_v, C)
    scores : (R, N, N) or None
        ``dL/dS`` (routing law), zero above the diagonal when causal.
        Assembled only when asked for: this is the one place the engine builds
        a full ``N x N`` matrix, for testing.
    values : (R, N, d_v) or None
        ``dL/dV = alpha^T U`` (value law), when asked for.
    """

    loss: np.ndarray
    W_Q: np.ndarray
    W_K: np.ndarray
    W_V: np.ndarray
    W_O: np.ndarray
    scores: np.ndarray | None = None
    values: np.ndarray | None = None


def worker_main() -> None:
    """Entry point of an engine worker process (see :meth:`Engine._run_in_processes`).

    Reads one job from stdin, streams ``("progress", t)`` messages and finally
    ``("done", result)`` (or ``("error", traceback)``) to the original stdout;
    anything printed meanwhile goes to stderr instead.
    """
    import traceback
    from multiprocessing.connection import Connection

    out_fd = os.dup(1)
    os.dup2(2, 1)  # keep stray prints off the message channel
    inbox, outbox = Connection(0, writable=False), Connection(out_fd, readable=False)
    try:
        import torch

        job = inbox.recv()
        torch.set_num_threads(job["threads"])

        def report(t):
            outbox.send(("progress", t))

        outbox.send(("done", run_group(job["group"], job["steps"], job["want"], job["snap_steps"], report)))
    except BaseException:  # report everything, including KeyboardInterrupt, to the parent
        outbox.send(("error", traceback.format_exc()))
    finally:
        outbox.close()


class _Stopped(Exception):
    """Raised in a group's thread when another group has failed."""


#: Below this much work (runs x steps x N^2) the engine stays in one process (about 0.5 s on one core).
_PROCESS_WORK = 2e8

#: How a step is computed: the compiled kernel when it builds ("auto"), always it, or torch row blocks.
_BACKENDS = ("auto", "compiled", "torch")


def check_runs(runs: Sequence) -> tuple[list, list, list, list]:
    """``runs`` of :class:`Engine` (a sequence of ``(X, y, params, lrs)``) checked: lists of X, y, params, lrs.

    Every ``X`` is ``(N, d_x)`` float64 and every run has the same ``N`` and sizes;
    one-line errors name the run and what is wrong.
    """
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence) or len(runs) == 0:
        raise TypeError(f"runs must be a non-empty sequence of (X, y, params, lrs), got {runs!r:.60}")
    Xs, ys, inits, rates = [], [], [], []
    for i, run in enumerate(runs):
        if not isinstance(run, (tuple, list)) or len(run) != 4:
            raise TypeError(f"runs[{i}] must be a tuple (X, y, params, lrs), got {run!r:.60}")
        X, y, params, lrs = run
        if not isinstance(params, Params):
            raise TypeError(f"runs[{i}] params must be an attnlib.Params, got {type(params).__name__}")
        if not isinstance(lrs, LearningRates):
            raise TypeError(f"runs[{i}] lrs must be a LearningRates, got {type(lrs).__name__}")
        X = as_float_matrix(X, f"runs[{i}] X")
        if X.shape[0] < 1 or X.shape[1] != params.dims["d_x"]:
            raise ValueError(f"runs[{i}] X must have shape (N >= 1, {params.dims['d_x']}), got {X.shape}")
        y = as_labels(y, f"runs[{i}] y", length=X.shape[0], n_classes=params.dims["n_classes"])
        if i and (X.shape != Xs[0].shape or params.dims != inits[0].dims):
            raise ValueError(
                f"runs[{i}] must match runs[0]: X {X.shape} vs {Xs[0].shape}, "
                f"dims {params.dims} vs {inits[0].dims}"
            )
        Xs.append(X)
        ys.append(y)
        inits.append(params)
        rates.append(lrs)
    return Xs, ys, inits, rates


class Engine:
    """Advance many independent runs of the head together, float32, closed-form gradients.

    Parameters
    ----------
    runs : sequence of (X, y, params, lrs)
        Each run's inputs ``(N, d_x)``, targets ``(N,)``, initial
        :class:`~attnlib.Params` and :class:`~attnlib.head.training.LearningRates`.
        All runs must share ``N`` and the weight shapes.
    causal : bool, default True
    workers : int, optional
        How many cores to use. ``None`` uses every core for big jobs
        (``runs x steps x N^2 >= 2e8``) and one otherwise. The runs are split
        into that many groups, each advancing on its own: in threads of this
        process with the compiled kernel (which releases the GIL), in worker
        processes with torch (where threads would serialise on the GIL between
        many short torch calls). With fewer runs than cores, the compiled
        kernel splits each step's rows over threads instead. The split changes
        the order of float32 sums, so a run's numbers can differ in their last
        bits with ``workers`` and with the runs beside it; a run whose steps
        amplify rounding (a rate far too large) can then end elsewhere.
    block_budget, max_block : int
        Row-block sizing of the torch path (see :func:`row_blocks`); the
        defaults were measured best on a 2-core machine.
    backend : {"auto", "compiled", "torch"}, default "auto"
        How a step is computed: ``"compiled"`` is the fused C kernel
        (:mod:`attnlib.chain.engine.kernel`; built on first use, needs a C compiler),
        ``"torch"`` the row-block torch path, ``"auto"`` the kernel when it
        builds and torch otherwise. Both compute the same closed forms; the
        chosen one is in :attr:`backend`.

    Examples
    --------
    >>> from attnlib import init_params
    >>> from attnlib.head.training import LearningRates, train
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 4)); y = rng.integers(0, 3, 40)
    >>> p = init_params(4, 3, 2, 3, scale=0.5, rng=1)
    >>> fast, = Engine([(X, y, p, LearningRates.sgd(0.5))]).run(5)
    >>> slow = train(p, X, y, LearningRates.sgd(0.5), steps=5)
    >>> bool(np.allclose(fast.losses, slow.losses, rtol=1e-4))
    True
    """

    def __init__(
        self,
        runs: Sequence,
        *,
        causal: bool = True,
        workers: int | None = None,
        block_budget: int = 60_000,
        max_block: int = 48,
        backend: str = "auto",
    ):
        Xs, ys, inits, rates = check_runs(runs)
        self.causal = as_bool(causal, "causal")
        block_budget = as_positive_int(block_budget, "block_budget")
        max_block = as_positive_int(max_block, "max_block")
        self._X, self._y, self._inits, self._lrs = Xs, ys, inits, rates
        self.n_runs = len(runs)
        self.N = Xs[0].shape[0]
        self.dims = inits[0].dims
        self.workers = None if workers is None else as_positive_int(workers, "workers")
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(map(repr, _BACKENDS))}, got {backend!r}")
        self.backend = self._resolve_backend(backend)
        self.blocks = row_blocks(self.N, causal=self.causal, budget=block_budget, max_block=max_block)
        self.fallbacks = 0

    def _resolve_backend(self, backend: str) -> str:
        """``"compiled"`` when asked for or (``"auto"``) when the kernel builds; else ``"torch"``."""
        from .kernel import load_kernel, unavailable_reason

        if backend == "torch":
            return "torch"
        dims = (self.dims["d_x"], self.dims["d_k"], self.dims["n_classes"])
        if load_kernel(*dims) is not None:
            return "compiled"
        if backend == "compiled":
            raise RuntimeError(f"backend='compiled' is not available: {unavailable_reason(*dims)}")
        return "torch"

    def _resolve_workers(self, steps: int) -> int:
        if self.workers is not None:
            return min(self.workers, self.n_runs)
        cores = os.cpu_count() or 1
        if cores < 2 or self.n_runs < 2 or self.n_runs * steps * self.N**2 < _PROCESS_WORK:
            return 1
        return min(cores, self.n_runs)

    def _jobs(self, n_groups: int) -> tuple[list[list[int]], list[dict]]:
        """Split the runs into ``n_groups`` balanced groups; the arguments of each :class:`RunGroup`."""
        chunks = [c.tolist() for c in np.array_split(np.arange(self.n_runs), n_groups) if len(c)]
        groups = []
        for chunk in chunks:
            inits = [self._inits[i].as_dict() for i in chunk]
            rates = [self._lrs[i].as_dict() for i in chunk]
            groups.append(
                {
                    "X": np.stack([self._X[i] for i in chunk]),  # (R, N, d_x)
                    "y": np.stack([self._y[i] for i in chunk]),  # (R, N)
                    "weights": {k: np.stack([w[k] for w in inits]) for k in ("W_Q", "W_K", "W_V", "W_O")},
                    "lrs": {k: np.array([r[k] for r in rates]) for k in ("W_Q", "W_K", "W_V", "W_O")},
                    "causal": self.causal,
                    "blocks": self.blocks,
                    "n_classes": self.dims["n_classes"],
                    "compiled": self.backend == "compiled",
                }
            )
        return chunks, groups

    def run(
        self,
        steps: int,
        *,
        record=("loss",),
        snapshot_every: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[History, ...]:
        """Train every run for ``steps`` full-batch updates; one :class:`History` per run, in order.

        ``record`` and ``snapshot_every`` are as in :func:`attnlib.head.training.train`;
        ``progress(t)`` is called (in this process) each time every run has
        done ``t`` updates. Each call starts again from the initial weights.
        """
        steps = as_positive_int(steps, "steps", minimum=0)
        record = check_record(record)
        snap_steps = snapshot_steps(steps, check_snapshot_every(snapshot_every))
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be callable or None, got {progress!r}")
        want = frozenset(record) - {"loss"}
        chunks, groups = self._jobs(self._resolve_workers(steps))
        if self.backend == "compiled" and len(groups) == 1:  # fewer runs than cores: the kernel's own threads
            big = self.n_runs * steps * self.N**2 >= _PROCESS_WORK
            groups[0]["threads"] = self.workers or ((os.cpu_count() or 1) if big else 1)
        if len(groups) == 1:
            with single_torch_thread():
                results = [run_group(groups[0], steps, want, snap_steps, progress)]
        elif self.backend == "compiled":
            results = self._run_in_threads(groups, steps, want, snap_steps, progress)
        else:
            results = self._run_in_processes(groups, steps, want, snap_steps, progress)
        self.fallbacks = sum(r["fallbacks"] for r in results)
        histories = [None] * self.n_runs
        for chunk, res in zip(chunks, results):
            for r, i in enumerate(chunk):
                extra = {name: res["per_step"][name][r] if name in res["per_step"] else None for name in RECORDABLE[1:]}
                histories[i] = finished_run(
                    i,
                    res["per_step"]["loss"][r],
                    res["logits"][r],
                    {k: w[r] for k, w in res["weights"].items()},
                    self._y[i],
                    self._lrs[i],
                    snapshot_steps=snap_steps,
                    value_snapshots=None if res["snaps"] is None else res["snaps"][r].astype(np.float64),
                    param_snapshots=None if res["snaps"] is None else tuple(
                        Params(**{k: w[r] for k, w in snap.items()}) for snap in res["snap_weights"]
                    ),
                    **extra,
                )
        return tuple(histories)

    def _run_in_threads(self, groups, steps, want, snap_steps, progress) -> list[dict]:
        """Run each group in its own thread, each group's steps independent of the others'.

        The compiled kernel and torch's operations release the GIL, so the
        threads run in parallel in one process (one copy of torch in memory).
        Groups, not one kernel call with several threads per step: a step-wide
        barrier would make every step wait for the slower core, which costs
        ~25 % on a shared machine (measured).
        """
        import threading

        results: list = [None] * len(groups)
        done_steps = [0] * len(groups)
        errors: list = []
        lock = threading.Lock()
        stop = threading.Event()  # set when any group fails (or Ctrl-C): the others stop at their next step
        reported = [0]

        def report(k: int, t: int) -> None:
            if stop.is_set():
                raise _Stopped
            with lock:
                done_steps[k] = t
                if progress is not None and min(done_steps) > reported[0]:
                    reported[0] = min(done_steps)
                    progress(reported[0])

        def work(k: int) -> None:
            try:
                results[k] = run_group(groups[k], steps, want, snap_steps, lambda t: report(k, t))
            except _Stopped:
                pass
            except BaseException as err:  # re-raised in the calling thread below
                errors.append(err)
                stop.set()

        with single_torch_thread():
            helpers = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(1, len(groups))]
            for thread in helpers:
                thread.start()
            work(0)
            for thread in helpers:
                thread.join()
        if errors:
            raise errors[0]
        return results

    def _run_in_processes(self, groups, steps, want, snap_steps, progress) -> list[dict]:
        """Run ``groups[0]`` here and each other group in a worker process, all at once.

        Workers are plain ``python -c`` subprocesses talking over their
        stdin/stdout (not ``multiprocessing``), so the caller's script needs
        no ``if __name__ == "__main__"`` guard. This process doing a share of
        the work itself saves one copy of the torch runtime in memory.
        """
        import subprocess
        import sys
        from multiprocessing.connection import Connection, wait

        threads = max(1, (os.cpu_count() or 1) // len(groups))
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        command = [sys.executable, "-c", "from attnlib.chain.engine.runner import worker_main; worker_main()"]
        procs, conns = [], []
        results = [None] * len(groups)
        done_steps = [0] * len(groups)
        reported = [0]
        pending = {}

        def pump(block: bool) -> None:
            """Handle every message the workers have sent (waiting for one if ``block``)."""
            for conn in wait(list(pending), timeout=None if block else 0):
                k = pending[conn]
                try:
                    kind, value = conn.recv()
                except EOFError:
                    raise RuntimeError(
                        f"engine worker {k} exited without a result (exit code {procs[k - 1].wait()})"
                    ) from None
                if kind == "progress":
                    done_steps[k] = value
                elif kind == "done":
                    results[k] = value
                    done_steps[k] = steps
                    del pending[conn]
                else:
                    raise RuntimeError(f"engine worker {k} failed:\n{value}")
            if progress is not None and min(done_steps) > reported[0]:
                reported[0] = min(done_steps)
                progress(reported[0])

        def local_report(t: int) -> None:
            done_steps[0] = t
            pump(block=False)

        try:
            for _ in groups[1:]:  # start them all first, so they import torch in parallel
                procs.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env))
            for k, (proc, group) in enumerate(zip(procs, groups[1:]), start=1):
                conn = Connection(os.dup(proc.stdout.fileno()), writable=False)
                proc.stdout.close()
                conns.append(conn)
                pending[conn] = k
                with Connection(os.dup(proc.stdin.fileno()), readable=False) as job_channel:
                    proc.stdin.close()
                    job_channel.send(
                        {"group": group, "steps": steps, "want": want, "snap_steps": snap_steps, "threads": threads}
                    )
            with single_torch_thread():
                results[0] = run_group(groups[0], steps, want, snap_steps, local_report)
            local_report(steps)
            while pending:
                pump(block=True)
            return results
        finally:
            for conn in conns:
                conn.close()
            for proc in procs:  # only the processes started above
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.terminate()
                    proc.wait()

    def gradients(self, *, dense: bool = False) -> StepGrads:
        """Loss and closed-form gradients of every run at its initial weights (no update).

        Runs in this process. With ``dense=True`` also the full ``dL/dS``
        ``(R, N, N)`` and ``dL/dV`` ``(R, N, d_v)``, for comparison with
        :func:`attnlib.backward`.

        Examples
        --------
        >>> from attnlib import init_params, forward, backward
        >>> from attnlib.head.training import LearningRates
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((7, 4)); y = rng.integers(0, 3, 7); p = init_params(4, 3, 2, 3, rng=1)
        >>> g = Engine([(X, y, p, LearningRates.sgd())]).gradients(dense=True)
        >>> ref = backward(p, forward(p, X), y)
        >>> bool(np.allclose(g.scores[0], ref.scores, atol=1e-7)), bool(np.allclose(g.W_V[0], ref.W_V, atol=1e-6))
        (True, True)
        """
        dense = as_bool(dense, "dense")
        _, groups = self._jobs(1)
        groups[0]["compiled"] = self.backend == "compiled" and not dense  # dense: torch row blocks
        with single_torch_thread():
            out = RunGroup(**groups[0]).step(frozenset(), update=False, dense=dense)

        def as64(t):
            return t.numpy().astype(np.float64)

        return StepGrads(
            loss=as64(out["loss"]),
            W_Q=as64(out["grads"]["W_Q"]),
            W_K=as64(out["grads"]["W_K"]),
            W_V=as64(out["grads"]["W_V"]),
            W_O=as64(out["grads"]["W_O"]),
            scores=as64(out["scores"]) if dense else None,
            values=as64(out["values"]) if dense else None,
        )


def finished_run(run: int, losses, logits, weights: dict, y, lrs, **more) -> History:
    """Run ``run``'s :class:`History` from its per-step losses ``(steps,)``, final float32 logits ``(N, C)``
    and final weights; :class:`Diverged` if any of them is not finite. ``more`` goes to :class:`History`."""
    raise_if_diverged(f"runs[{run}]", lrs, losses, after=(logits,), run=run)
    final_loss, final_entropy, final_accuracy = predictive_metrics(logits.astype(np.float64), y)
    return History(losses=losses, final_loss=final_loss, final_entropy=final_entropy, final_accuracy=final_accuracy,
                   params=Params(**weights), lrs=lrs, **more)  # fmt: skip
