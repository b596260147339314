"""Training variants: plain per-matrix gradient descent or Adam, several runs of one spec at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..._device import resolve_device
from ..._threads import single_torch_thread
from ..._validate import as_positive_int, as_seed
from ...head.model import Params, attention_mask
from ...head.training import History, LearningRates, check_record, predictive_metrics, raise_if_diverged
from .head import check_problem, forward_tensors
from .optimizers import OPTIMIZERS
from .spec import WEIGHTS, VariantParams, VariantSpec

# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class VariantHistory(History):
    """A :class:`attnlib.head.training.History` with what a variant adds.

    The per-step arrays mean what they mean for the single head:
    ``attn_entropy`` is the mean over heads and queries of
    :math:`-\\sum_j \\alpha_{ij}\\log\\alpha_{ij}`; ``attn_change`` the root
    mean square over heads and queries of the change of :math:`\\alpha_i X`;
    ``score_grad_norm`` is
    :math:`\\lVert\\partial L/\\partial S\\rVert_F` over all heads' scores;
    ``value_grad_norm`` is :math:`\\lVert\\partial L/\\partial V\\rVert_F`
    for the values the attention mixes (after LayerNorm, if any).

    Attributes
    ----------
    spec : VariantSpec
    W_R : numpy.ndarray or None
        The residual projection after the last update.
    initial : VariantParams
        The weights the run started from.
    """

    spec: VariantSpec | None = None
    W_R: np.ndarray | None = None
    initial: VariantParams | None = None

    @property
    def final_params(self) -> VariantParams:
        """The weights after the last update, as a :class:`VariantParams`."""
        return VariantParams(self.params, self.W_R)


def train_variants(
    problems: Sequence[tuple],
    spec: VariantSpec,
    *,
    steps: int,
    causal: bool = True,
    record=("loss",),
    progress: Callable[[int], None] | None = None,
    dropout_seeds=None,
    device: str = "cpu",
) -> tuple[VariantHistory, ...]:
    """Train several runs of one variant together (full batch, float64 torch autograd).

    Parameters
    ----------
    problems : sequence of (X, y, VariantParams, LearningRates)
        One tuple per run; every ``X`` has the same shape and every run the
        same sizes. The rate of ``W_R`` is the rate of ``W_O``.
    spec : VariantSpec
    steps : int >= 0
    causal : bool, default True
    record : tuple of str, default ("loss",)
        Any of :data:`attnlib.head.training.RECORDABLE`.
    progress : callable, optional
        Called as ``progress(t)`` with the number of steps done, every 10
        steps and at the end.
    dropout_seeds : sequence of int, one per problem
        Needed when ``spec.attn_dropout > 0``: run ``b`` draws its masks from
        a generator seeded with ``dropout_seeds[b]``, so a run's masks do not
        depend on the runs trained beside it.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where the batch is computed (:func:`attnlib._device.resolve_device`);
        still float64, the dropout masks still drawn on the CPU.

    Returns
    -------
    tuple of VariantHistory, one per problem.

    Notes
    -----
    The runs are stacked on a batch axis and the sum of their mean losses is
    differentiated once per step; the runs do not interact, so each gets the
    gradient of its own loss. ``losses[t]`` is the loss after ``t`` updates.

    Examples
    --------
    >>> from attnlib.chain.task import sticky_chain
    >>> from attnlib.dynamics.variants import VariantSpec, init_variant_params
    >>> task, spec = sticky_chain(42, T=40), VariantSpec(n_heads=2)
    >>> p = init_variant_params(spec, 42)
    >>> h_sgd, h_em = train_variants([(task.X, task.y, p, LearningRates.sgd(0.1)),
    ...                               (task.X, task.y, p, LearningRates.em_like(0.1))], spec, steps=20)
    >>> h_sgd.losses.shape, bool(h_em.final_loss < h_sgd.final_loss < h_sgd.losses[0])
    ((20,), True)
    """

    if not isinstance(spec, VariantSpec):
        raise TypeError(f"spec must be a VariantSpec, got {type(spec).__name__}")
    if isinstance(problems, tuple) and len(problems) == 4 and not isinstance(problems[0], tuple):
        raise TypeError("problems must be a sequence of (X, y, params, lrs) tuples; wrap a single one in a list")
    if not isinstance(problems, Sequence) or len(problems) == 0:
        raise TypeError(f"problems must be a non-empty sequence of (X, y, params, lrs), got {problems!r:.60}")
    steps = as_positive_int(steps, "steps", minimum=0)
    record = check_record(record)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {progress!r}")
    checked = []
    for i, problem in enumerate(problems):
        if not isinstance(problem, (tuple, list)) or len(problem) != 4:
            raise TypeError(f"problems[{i}] must be a tuple (X, y, params, lrs)")
        X, y, params, lrs = problem
        if not isinstance(lrs, LearningRates):
            raise TypeError(f"problems[{i}]: lrs must be a LearningRates, got {type(lrs).__name__}")
        X, y, causal = check_problem(params, X, y, spec, causal)
        if checked and (X.shape != checked[0][0].shape or params.dims != checked[0][2].dims):
            raise ValueError(f"problems[{i}] has X {X.shape} and sizes {params.dims}; every run must match run 0")
        checked.append((X, y, params, lrs))

    if spec.attn_dropout > 0:
        if dropout_seeds is None or isinstance(dropout_seeds, (str, bytes)) or len(dropout_seeds) != len(checked):
            raise ValueError(
                f"dropout_seeds must give one seed per problem ({len(checked)}) when spec.attn_dropout > 0, "
                f"got {dropout_seeds!r}"
            )
        dropout_seeds = [as_seed(s, f"dropout_seeds[{b}]") for b, s in enumerate(dropout_seeds)]
    elif dropout_seeds is not None:
        raise ValueError(f"dropout_seeds is only used when spec.attn_dropout > 0, got {dropout_seeds!r}")

    where = resolve_device(device).name
    with single_torch_thread():  # small tensors: one thread is faster, and robust on a shared machine
        return _train_batch(checked, spec, steps, causal, record, progress, dropout_seeds, where)


def _train_batch(checked, spec, steps, causal, record, progress, dropout_seeds=None, device="cpu"):
    """The loop of :func:`train_variants`, on validated problems."""
    import torch

    def host(t) -> np.ndarray:
        return t.detach().cpu().numpy()

    dropout = None if dropout_seeds is None else [torch.Generator().manual_seed(s) for s in dropout_seeds]

    n = checked[0][0].shape[0]
    mask = attention_mask(n, causal=causal)  # (N, N)
    Xt = torch.tensor(np.stack([c[0] for c in checked]), device=device)  # (B, N, d_x)
    Yt = torch.tensor(np.stack([c[1] for c in checked]), device=device)  # (B, N)
    names = [name for name in WEIGHTS if name != "W_R" or spec.residual]
    W = {name: torch.tensor(np.stack([c[2].as_dict()[name] for c in checked]), device=device)
         for name in names}  # fmt: skip  each (B, ...)
    rate_of = {"W_R": "W_O"}
    lr = {name: torch.tensor([c[3].as_dict()[rate_of.get(name, name)] for c in checked], dtype=torch.float64,
                             device=device)[:, None, None] for name in names}  # fmt: skip  each (B, 1, 1)
    optimizer = OPTIMIZERS[spec.optimizer]
    state = {name: optimizer.init_state(w) for name, w in W.items()}

    B = len(checked)
    losses = np.empty((B, steps))  # (B, steps)
    extras = {name: np.empty((B, steps)) for name in record if name != "loss"}  # each (B, steps)
    want_s, want_v = "score_grad_norm" in extras, "value_grad_norm" in extras
    read = None  # (B, H, N, d_x)  alpha X per head, before the previous update
    for t in range(steps):
        for w in W.values():
            w.requires_grad_(True)
        out = forward_tensors(W, Xt, Yt, spec, mask, keep=True, dropout=dropout)
        inputs = list(W.values()) + ([out["scores"]] if want_s else []) + ([out["V"]] if want_v else [])
        grads = torch.autograd.grad(out["losses"].sum(), inputs)
        losses[:, t] = host(out["losses"])
        _raise_if_diverged(checked, t, losses=losses[:, t])
        if "attn_entropy" in extras:
            # H(alpha_i) = LSE(s_i) - sum_j alpha_ij s_ij, and LSE(s_i) = max_j s_ij - log max_j alpha_ij
            with torch.no_grad():
                lse = out["masked"].amax(dim=-1) - out["attn"].amax(dim=-1).log()  # (B, H, N)  no exp needed
                ent = (lse - (out["attn"] * out["scores"]).sum(-1)).mean(dim=(-1, -2))  # (B,)
            extras["attn_entropy"][:, t] = host(ent)
        if "attn_change" in extras:  # alpha X per head; the change update t - 1 made
            with torch.no_grad():
                read, before = out["attn"] @ Xt[:, None], read  # (B, H, N, d_x)
            if t > 0:
                extras["attn_change"][:, t - 1] = _rms_rows(read - before)
        rest = grads[len(W):]
        if want_s:
            extras["score_grad_norm"][:, t] = host(torch.linalg.vector_norm(rest[0], dim=(1, 2, 3)))
            rest = rest[1:]
        if want_v:
            extras["value_grad_norm"][:, t] = host(torch.linalg.vector_norm(rest[0], dim=(-1, -2)))
        with torch.no_grad():
            new = {}
            for (name, w), g in zip(W.items(), grads[: len(W)]):
                new[name] = optimizer.step(w, g, state[name], lr[name], spec)
        W = new
        if progress is not None and ((t + 1) % 10 == 0 or t + 1 == steps):
            progress(t + 1)
    if progress is not None and steps == 0:
        progress(0)

    with torch.no_grad():
        last = forward_tensors(W, Xt, Yt, spec, mask, keep=True)
        logits = host(last["logits"])  # (B, N, C)
        if "attn_change" in extras and steps > 0:
            extras["attn_change"][:, steps - 1] = _rms_rows(last["attn"] @ Xt[:, None] - read)
    _raise_if_diverged(checked, steps, final=logits)
    final = {name: host(w) for name, w in W.items()}  # each (B, ...)
    histories = []
    for b, (X, y, params, lrs) in enumerate(checked):
        final_loss, final_entropy, final_accuracy = predictive_metrics(logits[b], y)
        histories.append(VariantHistory(
            losses=losses[b].copy(),
            final_loss=final_loss,
            final_entropy=final_entropy,
            final_accuracy=final_accuracy,
            params=Params(**{name: final[name][b] for name in ("W_Q", "W_K", "W_V", "W_O")}),
            lrs=lrs,
            attn_entropy=extras["attn_entropy"][b].copy() if "attn_entropy" in extras else None,
            attn_change=extras["attn_change"][b].copy() if "attn_change" in extras else None,
            score_grad_norm=extras["score_grad_norm"][b].copy() if want_s else None,
            value_grad_norm=extras["value_grad_norm"][b].copy() if want_v else None,
            spec=spec,
            W_R=final["W_R"][b].copy() if spec.residual else None,
            initial=params,
        ))  # fmt: skip
    return tuple(histories)


def _raise_if_diverged(checked, step: int, *, losses=None, final=None) -> None:
    """:func:`~attnlib.head.training.raise_if_diverged` for every run: its loss ``losses[b]`` at ``step``, or its ``final[b]`` logits."""
    if (losses is None or np.isfinite(losses).all()) and (final is None or np.isfinite(final).all()):
        return
    for b, (*_, lrs) in enumerate(checked):
        raise_if_diverged(f"problems[{b}]", lrs, () if losses is None else losses[b], first_step=step,
                          after=() if final is None else (final[b],), run=b)  # fmt: skip


def _rms_rows(delta) -> np.ndarray:
    """Per run, the root mean square over heads and queries of the rows' norms: (B, H, N, d) -> (B,)."""
    return delta.square().sum(dim=-1).mean(dim=(-1, -2)).sqrt().cpu().numpy()  # (B,)


def train_variant(
    X,
    y,
    spec: VariantSpec,
    params: VariantParams,
    lrs: LearningRates,
    *,
    steps: int,
    causal: bool = True,
    record=("loss",),
    dropout_seed: int | None = None,
) -> VariantHistory:
    """Train one run of a variant: :func:`train_variants` with a single problem.

    Parameters
    ----------
    X : array_like, shape (N, d_x)
    y : array_like of int, shape (N,)
    spec : VariantSpec
    params : VariantParams
        From :func:`init_variant_params`.
    lrs : LearningRates
        Per-matrix rates (``W_R`` takes the rate of ``W_O``); for Adam, the
        per-matrix Adam step sizes.
    steps, causal, record
        As for :func:`attnlib.head.training.train`.
    dropout_seed : int, optional
        The seed of the attention-dropout masks (needed when ``spec.attn_dropout > 0``).

    Examples
    --------
    >>> from attnlib.chain.task import sticky_chain
    >>> from attnlib.dynamics.variants import VariantSpec, init_variant_params
    >>> from attnlib.head.training import train
    >>> task = sticky_chain(42, T=30)
    >>> p = init_variant_params(VariantSpec(), 42)
    >>> h = train_variant(task.X, task.y, VariantSpec(), p, LearningRates.em_like(), steps=5)
    >>> ref = train(p.head, task.X, task.y, LearningRates.em_like(), steps=5)
    >>> bool(np.allclose(h.losses, ref.losses, rtol=0, atol=1e-12))
    True
    """
    seeds = None if dropout_seed is None else [dropout_seed]
    return train_variants([(X, y, params, lrs)], spec, steps=steps, causal=causal, record=record,
                          dropout_seeds=seeds)[0]  # fmt: skip


