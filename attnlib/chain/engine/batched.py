"""The table's runs as one batched torch program, on any device: the GPU path of the sticky-chain table.

:class:`~attnlib.chain.engine.Engine` is the CPU engine (closed forms, a
compiled kernel). On a GPU the best plan is different: the step is so small
(about 3.6 GFLOP for the paper's 10 runs) that launches, not arithmetic, set its
time. So :class:`BatchedEngine` does the plain thing, for every run at once:

* all runs (seeds x arms, each with its own data, weights and learning rates)
  are stacked on a batch axis ``R`` and advanced by the same few calls;
* float32 (no mixed precision), the full masked causal scores and
  ``torch.autograd.grad`` of the sum of the runs' mean losses (runs do not
  interact, so each run's weights get the gradient of its own loss), then the
  update ``W <- W - lr_W * dL/dW`` with each run's rate: the rule of
  :func:`attnlib.reference.plain_protocol.plain_autograd_training`, the loss
  recorded before every update;
* on CUDA, the whole step (forward, backward, update) is captured once in a
  CUDA graph and replayed: static buffers, in-place updates, warm-up on a side
  stream as PyTorch's CUDA-graph notes describe (the warm-up steps are undone);
  and attention is PyTorch's fused causal kernel
  (``scaled_dot_product_attention`` with ``is_causal=True``, head widths padded
  with zeros to 16, which changes no score and no value).

On a GPU the runs agree with the CPU engine and with the authors' script within
float32 rounding, not bit for bit: the fused attention's float32 products and its
backward (which splits the keys, an order PyTorch calls non-deterministic) round
differently, as do the batched products and the update ``W - lr * g`` (the
authors' SGD arm adds ``-lr * g`` through ``torch.optim.SGD``). Two GPU runs may
differ in the last bits; ``attention="masked"`` is the deterministic choice.

Nothing here is CUDA-only except the capture: the program runs on the CPU too,
which is how the tests check it against the float64 trainer. It is the GPU
path of :func:`attnlib.dynamics.paper_table.run_sticky_chain` (``device="cuda"``);
with ``device="cpu"`` the table keeps the CPU engine.

Dimension names in shape comments: ``R`` runs, ``N`` positions, ``d_x, d_k,
d_v``, ``C`` classes, ``P`` the padded head width.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Sequence

import numpy as np

from ..._device import resolve_device
from ..._threads import single_torch_thread
from ..._validate import as_positive_int
from ...head.training import History, check_record
from .runner import check_runs, finished_run

__all__ = ["BatchedEngine", "ATTENTION"]

#: How the scores are turned into the attention output: the full masked ``N x N`` softmax, or PyTorch's fused kernel.
ATTENTION = ("auto", "masked", "sdpa")

#: Head widths are padded with zeros to a multiple of this for the fused kernel.
_PAD = 16

_NAMES = ("W_Q", "W_K", "W_V", "W_O")


class BatchedEngine:
    """Advance many runs of the head as one batched torch program (float32, autograd), on a CPU or a GPU.

    Parameters
    ----------
    runs : sequence of (X, y, params, lrs)
        As for :class:`~attnlib.chain.engine.Engine`: every run has the same ``N`` and sizes.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where the program runs (:func:`attnlib._device.resolve_device`).
    attention : {"auto", "masked", "sdpa"}, default "auto"
        ``"masked"``: ``softmax(masked S) V`` on the full ``(R, N, N)`` scores;
        ``"sdpa"``: ``torch.nn.functional.scaled_dot_product_attention`` with
        ``is_causal=True``; ``"auto"``: sdpa on CUDA, masked on the CPU.
    graph : bool, optional
        Capture the step in a CUDA graph; default: on CUDA. Needs CUDA.

    Examples
    --------
    >>> from attnlib import init_params
    >>> from attnlib.head.training import LearningRates, train
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 4)); y = rng.integers(0, 3, 40)
    >>> p = init_params(4, 3, 2, 3, scale=0.5, rng=1)
    >>> fast, = BatchedEngine([(X, y, p, LearningRates.sgd(0.5))]).run(5)
    >>> slow = train(p, X, y, LearningRates.sgd(0.5), steps=5)
    >>> bool(np.allclose(fast.losses, slow.losses, rtol=1e-5))
    True
    """

    def __init__(self, runs: Sequence, *, device: str = "cpu", attention: str = "auto", graph: bool | None = None):
        self._X, self._y, self._inits, self._lrs = check_runs(runs)
        self.device = resolve_device(device)
        cuda = self.device.name == "cuda"
        if attention not in ATTENTION:
            raise ValueError(f"attention must be one of {', '.join(map(repr, ATTENTION))}, got {attention!r}")
        self.attention = ("sdpa" if cuda else "masked") if attention == "auto" else attention
        if graph not in (None, True, False):
            raise TypeError(f"graph must be True, False or None, got {graph!r}")
        if graph and not cuda:
            raise ValueError(f"graph=True captures a CUDA graph and needs device 'cuda', got device {device!r}")
        self.graph = cuda if graph is None else graph
        self.n_runs, self.N = len(self._X), self._X[0].shape[0]
        self.dims = self._inits[0].dims

    # ------------------------------------------------------------------ the program
    def _load(self) -> None:
        """Static buffers on the device: data, weights (leaves), rates, the causal mask."""
        import torch

        dev, f32 = torch.device(self.device.name), torch.float32
        self.X = torch.as_tensor(np.stack(self._X), dtype=f32, device=dev)  # (R, N, d_x)
        self.y = torch.as_tensor(np.stack(self._y), dtype=torch.long, device=dev)  # (R, N)
        self.W = [torch.as_tensor(np.stack([p.as_dict()[k] for p in self._inits]), dtype=f32, device=dev)
                  .requires_grad_(True) for k in _NAMES]  # fmt: skip  (R, d_x, d_k) x 2, (R, d_x, d_v), (R, d_v, C)
        self.lr = [torch.tensor([r.as_dict()[k] for r in self._lrs], dtype=f32, device=dev).view(-1, 1, 1)
                   for k in _NAMES]  # fmt: skip  each (R, 1, 1)
        self.future = torch.ones(self.N, self.N, dtype=torch.bool, device=dev).triu(1)  # (N, N)  j > i: masked
        self.loss_now = torch.zeros(self.n_runs, device=dev)  # (R,)  the loss before the latest update

    def _logits(self):
        """The forward pass of every run: logits (R, N, C)."""
        import torch

        W_Q, W_K, W_V, W_O = self.W
        Q, K, V = torch.bmm(self.X, W_Q), torch.bmm(self.X, W_K), torch.bmm(self.X, W_V)  # (R, N, d_k) x 2, (R, N, d_v)
        scale = 1.0 / math.sqrt(Q.shape[-1])
        if self.attention == "sdpa":
            O = _sdpa_causal(Q, K, V, scale)  # (R, N, d_v)
        else:
            S = torch.bmm(Q, K.transpose(1, 2)).mul(scale).masked_fill(self.future, float("-inf"))  # (R, N, N)
            O = torch.bmm(torch.softmax(S, dim=2), V)  # (R, N, d_v)
        return torch.bmm(O, W_O)  # (R, N, C)

    def _step(self) -> None:
        """One step of every run, in place: the loss into ``loss_now``, then ``W -= lr * dL/dW``."""
        import torch
        import torch.nn.functional as nnf

        losses = nnf.cross_entropy(self._logits().transpose(1, 2), self.y, reduction="none").mean(dim=1)  # (R,)
        grads = torch.autograd.grad(losses.sum(), self.W)  # runs do not interact: run r's own gradient
        with torch.no_grad():
            self.loss_now.copy_(losses)
            for w, g, lr in zip(self.W, grads, self.lr):
                w.sub_(g * lr)

    def _capture(self):
        """The step captured in a CUDA graph (warm-up on a side stream, then undone); CUDA only."""
        import torch

        saved = [w.detach().clone() for w in self.W]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step()  # recorded, not run
        with torch.no_grad():
            for w, s in zip(self.W, saved):
                w.copy_(s)  # the warm-up steps never happened
        return graph

    # ------------------------------------------------------------------ the API
    def run(
        self, steps: int, *, record=("loss",), progress: Callable[[int], None] | None = None
    ) -> tuple[History, ...]:
        """Train every run for ``steps`` updates; one :class:`~attnlib.head.training.History` per run, in order.

        Records the loss only: ``record`` must be ``("loss",)`` (the CPU
        engine records the attention dynamics). ``progress(t)`` is called
        after each step. Each call starts from the initial weights. On the
        CPU, torch runs on one thread, as the CPU engine's groups do (many
        threads stall badly on a shared machine).
        """
        import torch

        steps = as_positive_int(steps, "steps", minimum=0)
        if tuple(check_record(record)) != ("loss",):
            raise ValueError(f"record {tuple(record)!r}: the batched program records the loss only; "
                             "use the CPU engine (device 'cpu') for the attention dynamics")  # fmt: skip
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be callable or None, got {progress!r}")
        with single_torch_thread() if self.device.name == "cpu" else contextlib.nullcontext():
            self._load()
            history = torch.empty(self.n_runs, steps, device=self.loss_now.device)  # (R, steps)
            advance = self._capture().replay if self.graph and steps else self._step
            for t in range(steps):
                advance()
                history[:, t].copy_(self.loss_now)
                if progress is not None:
                    progress(t + 1)
            with torch.no_grad():
                logits = self._logits().cpu().numpy()  # (R, N, C)  the forward pass after the last update
        losses = history.cpu().double().numpy()  # (R, steps)
        weights = {k: w.detach().cpu().double().numpy() for k, w in zip(_NAMES, self.W)}  # each (R, ., .)
        return tuple(
            finished_run(r, losses[r], logits[r], {k: w[r] for k, w in weights.items()}, self._y[r], self._lrs[r])
            for r in range(self.n_runs)
        )


def _sdpa_causal(Q, K, V, scale: float):
    """``softmax(mask(Q K^T scale)) V`` by PyTorch's fused kernel, one head per run; (R, N, d_v).

    Zero columns appended to ``Q``, ``K`` and ``V`` (to a width ``P``, a
    multiple of 16, that the fused kernels accept) add nothing to a score and
    give output columns that are dropped.
    """
    import torch.nn.functional as nnf

    d_v = V.shape[-1]
    P = _PAD * math.ceil(max(Q.shape[-1], d_v) / _PAD)

    def pad(t):
        return nnf.pad(t, (0, P - t.shape[-1]))[:, None]  # (R, 1, N, P)

    O = nnf.scaled_dot_product_attention(pad(Q), pad(K), pad(V), is_causal=True, scale=scale)  # (R, 1, N, P)
    return O[:, 0, :, :d_v]  # (R, N, d_v)
