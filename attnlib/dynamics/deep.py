r"""The authors' deep variant (their ``--deep`` run), written anew: a pre-norm transformer on the sticky chain.

The authors' second command trains a small transformer on the same sticky-chain
sequence as the single-head table. This module is the book's own implementation
of that protocol, built to consume the random stream in the authors' order, so
that the same seed gives the same losses on a CPU:

* **Data.** The training sequence of the run seed and a held-out sequence drawn
  after reseeding with ``seed + 10000`` (:func:`attnlib.chain.task.sticky_chain`
  for both; same symbol means, same chain, other states and noise).
* **Model.** Input projection ``d_x -> d_model``; ``n_layers`` pre-norm blocks,
  each ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``, the attention with
  ``n_heads`` heads of width ``d_model / n_heads``, a causal mask and dropout on
  the attention weights, the MLP ``d_model -> 4 d_model -> d_model`` with GELU
  and dropout after each of its two layers; a final LayerNorm; an output
  projection ``d_model -> C``. Linear layers start as PyTorch's defaults
  (uniform in :math:`\pm 1/\sqrt{\text{fan-in}}` for weights and biases) and are
  drawn in the authors' construction order, from the generator state that
  follows the held-out sequence's draws; LayerNorms start at gain 1, bias 0.
* **Training.** Full batch, AdamW (``lr = 3e-4``, weight decay 0.01), cosine
  decay of the rate over the run, gradient clipping at norm 1.0, dropout on.
  Every 500 steps the authors evaluate the model on both sequences; those two
  passes run with dropout on and draw masks from the same stream, so they are
  replayed too.

**Two held-out measurements.** The authors' evaluation leaves the model in
training mode, so their held-out loss, entropy and accuracy are measured with
dropout active (:attr:`DeepRun.authors_held_out`). The book adds the usual
measurement with dropout off (:attr:`DeepRun.held_out`), taken after theirs so
it does not move the stream.

The random stream is a ``torch.Generator`` set to the state the authors'
global generator has at that point (:attr:`attnlib.chain.task.Task.generator_state`);
nothing here touches a global generator, with one exception.

**The authors' GPU draws** (``ChainConfig(draws="cuda")``, a model on a CUDA
device). On a GPU the script draws the symbol means and the noise from the CUDA
generator, and its ``nn.Dropout`` draws every mask from that generator, through
PyTorch's fused CUDA dropout, which consumes the stream differently from a
``bernoulli_`` call and takes no generator argument. So :func:`train_deep` then
draws the masks with ``torch.nn.functional.dropout`` from the global CUDA
generator, set to where the authors' script leaves it (:func:`_authors_cuda_stream`)
and restored afterwards; the initial weights still come from the CPU stream, as
the script builds its model on the CPU. This replay has not yet run on a GPU.

Shapes: ``N`` positions, ``D = d_model``, ``H`` heads, ``C`` classes.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from .._device import resolve_device
from .._validate import as_number, as_positive_int, as_seed
from ..chain.task import ChainConfig, Task

#: The held-out sequence of run seed ``s`` is the chain drawn after ``torch.manual_seed(s + HELD_OUT_OFFSET)``.
HELD_OUT_OFFSET = 10_000

#: How often (in steps) the authors evaluate the model during training; their evaluation draws dropout masks.
AUTHORS_EVAL_EVERY = 500


#: The authors' script run as it is with ``--deep --n_layers 4 --n_heads 4`` (its defaults otherwise:
#: 1000 steps, seeds 42, 2024, 1337, 7777, 9999), measured for this book. ``held_out`` is what the
#: script prints (mean, population std over the seeds; dropout on); its "gap" line is the mean
#: entropy minus ``H_min``, printed as bits but computed in nats. ``cpu_20_steps`` times 20 steps
#: of seed 42 at full size on a 2-core CPU: the script and this module.
AUTHORS_DEEP_RUN = {
    "where": "one NVIDIA H200, torch 2.11 (the script's default device when a GPU is present)",
    "wall_seconds": 65.0,
    "held_out": {"loss": (4.8307, 0.0425), "entropy": (0.5635, 0.0161), "accuracy": (0.1847, 0.0032)},
    "printed_gap": (-1.2657, 0.0161),
    "H_min": 1.8292,
    "final_train_loss": 0.10,  # about; the script prints the training loss every 500 steps
    "cpu_20_steps": {"script": 44.7, "attnlib": 42.4, "where": "2-core CPU, shared"},
    # seed 42, a 20-step run at full size on a CPU (its cosine spans the 20 steps): held-out loss,
    # as the script measures it (dropout on) and with dropout off
    "seed42_20_steps_held_out": {"dropout on": 1.9483, "dropout off": 1.9421},
}

#: This module's own full-size run of one seed on a CPU, measured for this book on 2026-12-06:
#: ``python -m attnlib reproduce deep-transformer --seeds 42 --device cpu`` (1000 steps, the CPU
#: stream), a 2-core AMD EPYC, torch 2.13.0, no other heavy job running; its wall time, its peak
#: memory, and what it printed (held-out numbers with dropout on as the script measures, and off).
BOOK_CPU_SEED_RUN = {
    "seed": 42,
    "steps": 1000,
    "wall_seconds": 1874.5,
    "peak_rss_gb": 1.25,
    "final_train_loss": 0.1070,
    "held_out": {"dropout on": {"loss": 4.6402, "entropy": 0.6384, "accuracy": 0.1771},
                 "dropout off": {"loss": 4.9055, "entropy": 0.5656, "accuracy": 0.1836}},  # fmt: skip
    "where": "2-core AMD EPYC, torch 2.13.0 (CPU)",
}


@dataclass(frozen=True)
class DeepConfig:
    """The deep variant's sizes and training protocol; the defaults are the authors'.

    Examples
    --------
    >>> DeepConfig().d_ff, DeepConfig(d_model=32, n_heads=2).d_head
    (256, 16)
    >>> DeepConfig(d_model=10, n_heads=4)
    Traceback (most recent call last):
    ...
    ValueError: d_model must be a multiple of n_heads = 4, got 10
    """

    d_model: int = 64
    n_layers: int = 4
    n_heads: int = 4
    dropout: float = 0.1
    lr: float = 3e-4
    weight_decay: float = 0.01
    clip: float = 1.0

    def __post_init__(self):
        for name in ("d_model", "n_layers", "n_heads"):
            object.__setattr__(self, name, as_positive_int(getattr(self, name), name))
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model must be a multiple of n_heads = {self.n_heads}, got {self.d_model}")
        dropout = as_number(self.dropout, "dropout", minimum=0, maximum=1)
        if dropout == 1:
            raise ValueError("dropout must be below 1, got 1.0")
        object.__setattr__(self, "dropout", dropout)
        for name in ("lr", "weight_decay", "clip"):
            object.__setattr__(self, name, as_number(getattr(self, name), name, minimum=0))

    @property
    def d_head(self) -> int:
        """Width of one head, ``d_model / n_heads``."""
        return self.d_model // self.n_heads

    @property
    def d_ff(self) -> int:
        """Width of the MLP's hidden layer, ``4 d_model``."""
        return 4 * self.d_model


@dataclass(frozen=True)
class DeepRun:
    """One seed of the deep variant (from :func:`train_deep`).

    Attributes
    ----------
    seed : int
    train_losses : numpy.ndarray, shape (steps,)
        The training loss before each update (dropout on), as the authors record it.
    authors_held_out : dict
        ``loss``, ``entropy`` (nats) and ``accuracy`` on the held-out sequence
        after training, measured as the authors do: with dropout active.
    held_out : dict
        The same with dropout off (the book's measurement).
    held_out_curve : dict
        ``steps`` and the held-out ``loss`` (dropout off) at those steps,
        when :func:`train_deep` was asked to record it.
    H_min : float
        The chain's entropy rate (nats), the best any predictor can do on average.
    n_params : int
    config : DeepConfig
    n_positions, n_classes : int
        ``N`` of each sequence and ``C``.
    """

    seed: int
    train_losses: np.ndarray
    authors_held_out: dict
    held_out: dict
    H_min: float
    n_params: int
    config: DeepConfig
    n_positions: int
    n_classes: int
    held_out_curve: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready (what ``python -m attnlib reproduce deep-transformer --json`` writes per seed)."""
        return {
            "seed": self.seed,
            "train_losses": [float(v) for v in self.train_losses],
            "held_out": self.held_out,
            "authors_held_out": self.authors_held_out,
            "held_out_curve": {k: [float(v) for v in vs] for k, vs in self.held_out_curve.items()},
            "H_min": self.H_min,
            "n_params": self.n_params,
            "n_positions": self.n_positions,
            "config": asdict(self.config),
        }


# --------------------------------------------------------------------------- the model
def _linear(generator, fan_in: int, fan_out: int) -> tuple:
    """PyTorch's default Linear start, weight then bias, from ``generator``."""
    import torch

    # kaiming_uniform_(a=sqrt(5)) gives the bound sqrt(3) * sqrt(2 / (1 + 5)) / sqrt(fan_in) = 1 / sqrt(fan_in)
    bound = math.sqrt(3.0) * (math.sqrt(2.0 / (1 + 5)) / math.sqrt(fan_in))
    weight = torch.empty(fan_out, fan_in).uniform_(-bound, bound, generator=generator)  # (out, in)
    bias = torch.empty(fan_out).uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)
    return weight, bias


def init_deep_weights(config: DeepConfig, d_x: int, n_classes: int, generator) -> dict:
    """Every weight of the model, drawn from ``generator`` in the authors' construction order.

    Returns an insertion-ordered dict name -> float32 tensor (``requires_grad``),
    in the order the authors' model lists its parameters (which AdamW and the
    gradient clipping see).

    Examples
    --------
    >>> import torch
    >>> W = init_deep_weights(DeepConfig(d_model=8, n_layers=1, n_heads=2), 3, 4, torch.Generator().manual_seed(0))
    >>> list(W)[:4], W["out.weight"].shape
    (['in.weight', 'in.bias', 'block0.q.weight', 'block0.q.bias'], torch.Size([4, 8]))
    """
    import torch

    D, F = config.d_model, config.d_ff
    W: dict = {}
    W["in.weight"], W["in.bias"] = _linear(generator, d_x, D)
    for b in range(config.n_layers):
        for name in ("q", "k", "v", "o"):
            W[f"block{b}.{name}.weight"], W[f"block{b}.{name}.bias"] = _linear(generator, D, D)
        for ln in ("ln1", "ln2"):
            W[f"block{b}.{ln}.weight"], W[f"block{b}.{ln}.bias"] = torch.ones(D), torch.zeros(D)
        W[f"block{b}.ff1.weight"], W[f"block{b}.ff1.bias"] = _linear(generator, D, F)
        W[f"block{b}.ff2.weight"], W[f"block{b}.ff2.bias"] = _linear(generator, F, D)
    W["ln_final.weight"], W["ln_final.bias"] = torch.ones(D), torch.zeros(D)
    W["out.weight"], W["out.bias"] = _linear(generator, D, n_classes)
    for w in W.values():
        w.requires_grad_(True)
    return W


#: The mask source of :func:`_dropout` that stands for torch's global generator of the tensor's
#: device, drawn through ``torch.nn.functional.dropout`` as the authors' ``nn.Dropout`` draws.
GLOBAL_STREAM = "the global generator"


def _dropout(x, p: float, generator):
    """Inverted dropout with masks drawn as ``torch.nn.functional.dropout`` draws them on a CPU.

    ``generator`` is one ``torch.Generator``, or a list of them, one per run,
    when ``x`` holds several runs along its first axis: each run's mask then
    comes from its own generator, exactly as if the run were trained alone.
    The masks come from the generator's device (the CPU stream that replays
    the authors'), and move to ``x``'s device when that is a GPU.
    :data:`GLOBAL_STREAM` calls ``torch.nn.functional.dropout`` itself, which
    draws from the global generator of ``x``'s device (the authors' GPU draws).
    """
    import torch

    if generator is GLOBAL_STREAM:
        return torch.nn.functional.dropout(x, p, training=True)  # same shape as x
    if generator is None or p == 0:
        return x
    keep = 1.0 - p
    if isinstance(generator, (list, tuple)):
        noise = x.new_empty(x.shape, device=generator[0].device)  # same shape as x, run r's mask from generator r
        for r, g in enumerate(generator):
            noise[r].bernoulli_(keep, generator=g)
    else:  # same shape as x, 1 with probability keep
        noise = x.new_empty(x.shape, device=generator.device).bernoulli_(keep, generator=generator)
    noise.div_(keep)
    return x * noise.to(x.device)


def _linear_map(x, weight, bias):
    """``x W^T + b``; with stacked weights ``(R, out, in)`` each run ``x[r]`` gets its own."""
    import torch
    import torch.nn.functional as nnf

    if weight.dim() == 2:
        return nnf.linear(x, weight, bias)  # (..., out)
    return torch.baddbmm(bias.unsqueeze(-2), x, weight.transpose(-1, -2))  # (R, N, out)


def _layer_norm(x, weight, bias):
    """LayerNorm over the last axis; with stacked gains ``(R, D)`` each run gets its own."""
    import torch.nn.functional as nnf

    if weight.dim() == 1:
        return nnf.layer_norm(x, x.shape[-1:], weight, bias)  # (..., D)
    return nnf.layer_norm(x, x.shape[-1:]) * weight.unsqueeze(-2) + bias.unsqueeze(-2)  # (R, N, D)


def _forward(W: dict, X, config: DeepConfig, generator=None, record: dict | None = None):
    """The forward pass of :func:`deep_logits`; with ``record`` a dict, it also keeps each block's pattern and values.

    ``record["attention"]`` becomes a list of ``n_layers`` tensors ``(..., H, N, N)``
    (the softmax weights before dropout) and ``record["values"]`` one of
    ``(..., H, N, d)`` (the value vectors of every head).
    """
    import torch

    runs = X.dim() == 3
    if runs and W["in.weight"].dim() != 3:
        raise ValueError(f"X of shape {tuple(X.shape)} holds several runs: W must be stacked per run, got "
                         f"in.weight of shape {tuple(W['in.weight'].shape)}")  # fmt: skip
    lead, N = X.shape[:-2], X.shape[-2]  # () or (R,)
    D, H, d = config.d_model, config.n_heads, config.d_head
    p = config.dropout
    future = torch.triu(torch.ones(N, N, device=X.device), diagonal=1).bool()  # (N, N)  True above the diagonal: masked
    x = _linear_map(X, W["in.weight"], W["in.bias"])  # (..., N, D)
    for b in range(config.n_layers):
        w = lambda name: (W[f"block{b}.{name}.weight"], W[f"block{b}.{name}.bias"])  # noqa: E731
        a = _layer_norm(x, *w("ln1"))  # (..., N, D)
        q = _linear_map(a, *w("q")).view(*lead, N, H, d).transpose(-3, -2)  # (..., H, N, d)
        k = _linear_map(a, *w("k")).view(*lead, N, H, d).transpose(-3, -2)  # (..., H, N, d)
        v = _linear_map(a, *w("v")).view(*lead, N, H, d).transpose(-3, -2)  # (..., H, N, d)
        scores = torch.matmul(q, k.transpose(-2, -1)) / (d**0.5)  # (..., H, N, N)
        alpha = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)  # (..., H, N, N)
        if record is not None:
            record.setdefault("attention", []).append(alpha)  # (..., H, N, N)  before dropout
            record.setdefault("values", []).append(v)  # (..., H, N, d)
        alpha = _dropout(alpha, p, generator)  # (..., H, N, N)
        heads = torch.matmul(alpha, v).transpose(-3, -2).contiguous().view(*lead, N, D)  # (..., N, D)
        x = x + _linear_map(heads, *w("o"))  # (..., N, D)
        h = torch.nn.functional.gelu(_linear_map(_layer_norm(x, *w("ln2")), *w("ff1")))  # (..., N, 4D)
        h = _linear_map(_dropout(h, p, generator), *w("ff2"))  # (..., N, D)
        x = x + _dropout(h, p, generator)  # (..., N, D)
    x = _layer_norm(x, W["ln_final.weight"], W["ln_final.bias"])  # (..., N, D)
    return _linear_map(x, W["out.weight"], W["out.bias"])  # (..., N, C)


def deep_logits(W: dict, X, config: DeepConfig, generator=None):
    """Logits of the model; dropout is on when a ``generator`` is given (training mode), off otherwise.

    Parameters
    ----------
    W : dict
        From :func:`init_deep_weights` (one run), or the same names with every
        tensor stacked along a new first axis of length ``R`` (``R`` runs at once).
    X : torch.Tensor, shape (N, d_x), or (R, N, d_x) with stacked ``W``
    config : DeepConfig
    generator : torch.Generator, a list of ``R`` of them, or GLOBAL_STREAM, optional
        Where the dropout masks come from; :data:`GLOBAL_STREAM`: torch's global
        generator of ``X``'s device, through ``torch.nn.functional.dropout``.

    Returns
    -------
    torch.Tensor, shape (N, C), or (R, N, C)

    Examples
    --------
    >>> import torch
    >>> cfg = DeepConfig(d_model=8, n_layers=1, n_heads=2)
    >>> W = init_deep_weights(cfg, 3, 4, torch.Generator().manual_seed(0))
    >>> deep_logits(W, torch.zeros(5, 3), cfg).shape
    torch.Size([5, 4])
    >>> two = {k: torch.stack([w, w]) for k, w in W.items()}  # two runs with the same weights
    >>> deep_logits(two, torch.zeros(2, 5, 3), cfg).shape
    torch.Size([2, 5, 4])
    """
    return _forward(W, X, config, generator)  # (..., N, C)


def deep_attention(W: dict, X, config: DeepConfig) -> np.ndarray:
    """The attention patterns of every layer and head, dropout off, in float64 (for the failure signatures).

    Parameters
    ----------
    W, X, config
        As for :func:`deep_logits` (one run or ``R`` stacked runs); ``W`` and
        ``X`` may also be NumPy arrays (such as :attr:`DeepHistory.weights`).

    Returns
    -------
    numpy.ndarray, shape (L, H, N, N), or (R, L, H, N, N) for stacked runs
        ``[l, h, i, j]`` is the weight query ``i`` of head ``h`` in block ``l``
        puts on key ``j`` (the softmax of the causal scores; zero for ``j > i``);
        every row sums to 1.

    Examples
    --------
    >>> import torch
    >>> cfg = DeepConfig(d_model=8, n_layers=2, n_heads=2)
    >>> W = init_deep_weights(cfg, 3, 4, torch.Generator().manual_seed(0))
    >>> A = deep_attention(W, torch.randn(5, 3, generator=torch.Generator().manual_seed(1)), cfg)
    >>> A.shape, bool(np.allclose(A.sum(axis=-1), 1.0)), float(A[0, 0, 0, 1])
    ((2, 2, 5, 5), True, 0.0)
    """
    return _recorded(W, X, config, "attention")  # (..., L, H, N, N)


def deep_values(W: dict, X, config: DeepConfig) -> np.ndarray:
    """The value vectors of every layer and head, dropout off, in float64 (for the value-norm signature).

    Parameters
    ----------
    W, X, config
        As for :func:`deep_attention`.

    Returns
    -------
    numpy.ndarray, shape (L, H, N, d_head), or (R, L, H, N, d_head) for stacked runs
        Row ``j`` of ``[l, h]`` is the value ``v_j`` head ``h`` of block ``l``
        offers position ``j``: the block's LayerNorm of its input times ``W_V``, plus the bias.

    Examples
    --------
    >>> import torch
    >>> cfg = DeepConfig(d_model=8, n_layers=2, n_heads=2)
    >>> W = init_deep_weights(cfg, 3, 4, torch.Generator().manual_seed(0))
    >>> deep_values(W, torch.zeros(5, 3), cfg).shape
    (2, 2, 5, 4)
    """
    return _recorded(W, X, config, "values")  # (..., L, H, N, d_head)


def _recorded(W: dict, X, config: DeepConfig, name: str) -> np.ndarray:
    """One recorded quantity of the forward pass, stacked over the blocks on the axis before the heads."""
    import torch

    if not isinstance(config, DeepConfig):
        raise TypeError(f"config must be a DeepConfig, got {type(config).__name__}")
    W = {name: torch.as_tensor(w) for name, w in W.items()}  # tensors, or arrays such as DeepHistory.weights
    X = X if isinstance(X, torch.Tensor) else torch.from_numpy(np.asarray(X, dtype=np.float32))  # (..., N, d_x)
    record: dict = {}
    with torch.no_grad():
        _forward(W, X, config, None, record)
        return torch.stack(record[name], dim=-4).double().numpy()  # (..., L, H, N, .)


def deep_predictive(W: dict, X, config: DeepConfig) -> np.ndarray:
    """The model's predictive distributions, dropout off, in float64: what it is scored on.

    Parameters
    ----------
    W, X, config
        As for :func:`deep_logits` (one run or ``R`` stacked runs).

    Returns
    -------
    numpy.ndarray, shape (N, C) or (R, N, C)
        Row ``t - 1`` is the model's distribution of ``y_t`` given ``x_1 .. x_t``;
        every row sums to 1.

    Examples
    --------
    >>> import torch
    >>> cfg = DeepConfig(d_model=8, n_layers=1, n_heads=2)
    >>> W = init_deep_weights(cfg, 3, 4, torch.Generator().manual_seed(0))
    >>> p = deep_predictive(W, torch.zeros(5, 3), cfg)
    >>> p.shape, bool(np.allclose(p.sum(axis=-1), 1.0))
    ((5, 4), True)
    """
    import torch

    if not isinstance(config, DeepConfig):
        raise TypeError(f"config must be a DeepConfig, got {type(config).__name__}")
    with torch.no_grad():
        logits = deep_logits(W, X, config).double()  # (..., N, C)
        return torch.softmax(logits, dim=-1).numpy()  # (..., N, C)


def _metrics(logits, y) -> dict:
    """Mean cross-entropy, mean predictive entropy (nats, with the authors' 1e-10 floor) and accuracy."""
    import torch
    import torch.nn.functional as nnf

    probs = torch.softmax(logits, dim=-1)  # (N, C)
    return {
        "loss": float(nnf.cross_entropy(logits, y)),
        "entropy": float(-(probs * torch.log(probs + 1e-10)).sum(dim=-1).mean()),
        "accuracy": float((logits.argmax(dim=-1) == y).float().mean()),
    }


# --------------------------------------------------------------------------- the protocol
def train_deep(
    seed: int,
    *,
    steps: int = 1000,
    config: DeepConfig | None = None,
    chain: ChainConfig | None = None,
    curve_every: int | None = None,
    horizon: int | None = None,
    progress: Callable[[int], None] | None = None,
    device: str = "cpu",
) -> DeepRun:
    """Train the deep variant for one seed, replaying the authors' random stream.

    Parameters
    ----------
    seed : int
    steps : int, default 1000
    config : DeepConfig, optional
        Default: the authors' (4 layers, 4 heads, ``d_model = 64``).
    chain : ChainConfig, optional
        The sequences (default: the paper's, ``T = 2000``).
    curve_every : int, optional
        Also record the held-out loss (dropout off) every ``curve_every``
        steps (the book's diagnostic; it draws nothing from the stream).
    horizon : int, optional
        The length of the cosine decay (default ``steps``, as the authors
        schedule it); a larger one runs the first ``steps`` of a longer run.
    progress : callable, optional
        Called with the number of steps done.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where the model and the data live (:func:`attnlib._device.resolve_device`).
        With ``chain.draws == "cpu"`` the random stream stays on the CPU, so a
        GPU run draws the same dropout masks as a CPU run (each mask is copied
        to the GPU) and agrees with it within float32 rounding. With
        ``chain.draws == "cuda"`` (the authors' GPU draws) the device must be a
        CUDA GPU, and the masks come from its generator (the module's notes).

    Returns
    -------
    DeepRun

    Examples
    --------
    >>> run = train_deep(42, steps=3, config=DeepConfig(d_model=8, n_layers=1, n_heads=2), chain=ChainConfig(T=40))
    >>> run.train_losses.shape, sorted(run.held_out)
    ((3,), ['accuracy', 'entropy', 'loss'])
    """
    import torch

    seed = as_seed(seed, "seed")
    steps = as_positive_int(steps, "steps", minimum=0)
    config = DeepConfig() if config is None else config
    chain = ChainConfig() if chain is None else chain
    if not isinstance(config, DeepConfig):
        raise TypeError(f"config must be a DeepConfig, got {type(config).__name__}")
    if not isinstance(chain, ChainConfig):
        raise TypeError(f"chain must be a ChainConfig, got {type(chain).__name__}")
    if curve_every is not None:
        curve_every = as_positive_int(curve_every, "curve_every")
    horizon = steps if horizon is None else as_positive_int(horizon, "horizon", minimum=steps)
    where = torch.device(resolve_device(device).name)
    if chain.draws == "cuda" and where.type != "cuda":
        raise ValueError(f"chain.draws='cuda' replays the dropout masks of the authors' script on a GPU, so the model "
                         f"must be on it: device must be 'cuda' (or 'auto' with a GPU), got device {device!r}")  # fmt: skip
    train_task: Task = chain.task(seed)
    test_task: Task = chain.task(seed + HELD_OUT_OFFSET)
    stream = torch.Generator()
    stream.set_state(torch.from_numpy(test_task.generator_state.copy()))  # where the authors' stream stands now

    def tensors(task: Task):  # (N, d_x) float32, (N,)
        return torch.from_numpy(task.X.astype(np.float32)).to(where), torch.from_numpy(task.y.copy()).to(where)

    (X, y), (X_test, y_test) = tensors(train_task), tensors(test_task)
    W = init_deep_weights(config, train_task.d_x, train_task.n_symbols, stream)
    if where.type != "cpu":
        W = {name: w.detach().to(where).requires_grad_(True) for name, w in W.items()}
    if chain.draws == "cuda":  # the masks from the CUDA generator, as the authors' nn.Dropout draws them
        with _authors_cuda_stream(test_task, where):
            return _train_loop(W, (X, y), (X_test, y_test), GLOBAL_STREAM, steps=steps, config=config,
                               horizon=horizon, curve_every=curve_every, progress=progress, task=train_task)  # fmt: skip
    return _train_loop(W, (X, y), (X_test, y_test), stream, steps=steps, config=config, horizon=horizon,
                       curve_every=curve_every, progress=progress, task=train_task)  # fmt: skip


@contextlib.contextmanager
def _authors_cuda_stream(task: Task, device):
    """Torch's global CUDA generator where the authors' script leaves it after drawing ``task`` on a GPU; restored on exit.

    Their data function reseeds every generator with the embedding seed, draws the symbol
    means and then the noise on the GPU and restores only the CPU generator, so the dropout
    masks that follow continue the CUDA stream of the embedding seed. The two draws are
    replayed here (for the held-out sequence, the last one drawn before the model).
    """
    import torch

    index = device.index if device.index is not None else torch.cuda.current_device()
    with torch.random.fork_rng(devices=[index]), torch.cuda.device(index):
        torch.cuda.manual_seed(task.embed_seed)
        torch.randn(task.n_symbols, task.d_x, device=device)  # the symbol means
        torch.randn(task.T - 1, task.d_x, device=device)  # the noise
        yield


def _train_loop(W: dict, train, test, masks, *, steps: int, config: DeepConfig, horizon: int, curve_every, progress,
                task: Task) -> "DeepRun":  # fmt: skip
    """The authors' training and evaluation of :func:`train_deep`, the masks drawn from ``masks`` (a generator or :data:`GLOBAL_STREAM`)."""
    import torch
    import torch.nn.functional as nnf

    (X, y), (X_test, y_test) = train, test
    optimizer = torch.optim.AdamW(list(W.values()), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(horizon, 1))
    losses = np.empty(steps)  # (steps,)
    curve: dict = {"steps": [], "loss": []}
    for t in range(steps):
        optimizer.zero_grad()
        loss = nnf.cross_entropy(deep_logits(W, X, config, masks), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(W.values()), config.clip)
        optimizer.step()
        schedule.step()
        losses[t] = loss.item()
        with torch.no_grad():
            if (t + 1) % AUTHORS_EVAL_EVERY == 0:  # the authors' mid-run evaluation: two passes, dropout on
                deep_logits(W, X, config, masks)
                deep_logits(W, X_test, config, masks)
            if curve_every is not None and ((t + 1) % curve_every == 0 or t == 0):
                curve["steps"].append(t + 1)
                curve["loss"].append(_metrics(deep_logits(W, X_test, config), y_test)["loss"])
        if progress is not None:
            progress(t + 1)
    with torch.no_grad():
        authors = _metrics(deep_logits(W, X_test, config, masks), y_test)  # dropout on, as the authors measure
        book = _metrics(deep_logits(W, X_test, config), y_test)  # dropout off
    return DeepRun(
        seed=task.seed,
        train_losses=losses,
        authors_held_out=authors,
        held_out=book,
        H_min=float(task.H_min),
        n_params=int(sum(w.numel() for w in W.values())),
        config=config,
        n_positions=int(task.n_positions),
        n_classes=int(task.n_symbols),
        held_out_curve=curve if curve_every is not None else {},
    )


def format_deep(runs) -> str:
    """The deep variant's table: per seed and over seeds, the held-out numbers measured both ways.

    Examples
    --------
    >>> run = train_deep(42, steps=2, config=DeepConfig(d_model=8, n_layers=1, n_heads=2), chain=ChainConfig(T=30))
    >>> print(format_deep([run]).splitlines()[0])
    Deep variant: 1 layers, 2 heads, d_model 8, 2 steps, N = 29; held-out sequence: seed + 10000
    """
    from .experiments import plus_minus

    if isinstance(runs, DeepRun) or not runs or not all(isinstance(r, DeepRun) for r in runs):
        raise TypeError("runs must be a non-empty sequence of DeepRun")
    c, first = runs[0].config, runs[0]
    names = ("loss", "entropy", "accuracy")
    lines = [
        f"Deep variant: {c.n_layers} layers, {c.n_heads} heads, d_model {c.d_model}, {len(first.train_losses)} "
        f"steps, N = {first.n_positions}; held-out sequence: seed + {HELD_OUT_OFFSET}",
        f"H_min = {first.H_min:.4f} nats (the best possible mean loss); a uniform guess costs "
        f"{math.log(first.n_classes):.4f}",
        "",
        f"{'':6s}{'train':>8s}  {'held-out, dropout off':^26s}  {'held-out, dropout on (authors)':^30s}",
        f"{'seed':>6s}{'loss':>8s}  " + "".join(f"{n:>9s}" for n in names) + "   " + "".join(f"{n:>10s}" for n in names),
    ]
    for r in runs:
        last = f"{r.train_losses[-1]:8.4f}" if len(r.train_losses) else f"{'—':>8s}"
        lines.append(f"{r.seed:>6d}{last}  " + "".join(f"{r.held_out[n]:9.4f}" for n in names) + "   "
                     + "".join(f"{r.authors_held_out[n]:10.4f}" for n in names))  # fmt: skip
    if len(runs) > 1:
        for label, key in (("dropout off", "held_out"), ("dropout on", "authors_held_out")):
            cells = [plus_minus(*_mean_std([getattr(r, key)[n] for r in runs]), 4) for n in names]
            lines.append(f"mean ± std, {label}: " + ", ".join(f"{n} {v}" for n, v in zip(names, cells)))
    return "\n".join(lines)


def _mean_std(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)  # (S,)
    return float(values.mean()), float(values.std())  # population std, as the authors
