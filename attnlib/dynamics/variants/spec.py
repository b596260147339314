"""What a variant is: :class:`VariantSpec`, its weights :class:`VariantParams` and their seeded draw."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ..._validate import as_bool, as_float_matrix, as_number, as_positive_int, as_seed
from ...chain.task import authors_initial_params
from ...head.model import Params
from .optimizers import OPTIMIZERS


#: The residual projection W_R of a run is drawn from numpy.random.default_rng([W_R_STREAM, seed]),
#: so the run seed is the one source of a variant's initial weights.
W_R_STREAM = 10_10

#: The weight names of a variant, in draw order; ``W_R`` only with a residual.
WEIGHTS = ("W_Q", "W_K", "W_V", "W_O", "W_R")



# --------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class VariantSpec:
    """Which departures from the single head are switched on.

    Attributes
    ----------
    value_norm : bool, default False
        LayerNorm (no gain, no bias) on each head's values.
    residual : bool, default False
        Add ``x_i W_R`` to the head's output before ``W_O``.
    n_heads : int, default 1
        Number of heads; the columns of ``W_Q, W_K`` and of ``W_V`` are split
        among them.
    optimizer : str, default "sgd"
        A key of :data:`~attnlib.dynamics.variants.optimizers.OPTIMIZERS`
        (``"sgd"``, ``"adam"``).
    ln_eps : float >= 0, default 1e-5
        The ``epsilon`` of LayerNorm (PyTorch's default).
    adam_betas : (float, float), default (0.9, 0.999)
    adam_eps : float > 0, default 1e-8
    attn_dropout : float in [0, 1), default 0.0
        Dropout on the attention weights during training: each
        :math:`\alpha_{ij}` is kept with probability :math:`1 - p` and scaled by
        :math:`1/(1 - p)` (PyTorch's convention); the masks come from the
        seeds given to :func:`~attnlib.dynamics.variants.train_variants`.
        Evaluation (final metrics) runs without dropout.

    Examples
    --------
    >>> VariantSpec().label, VariantSpec(value_norm=True, n_heads=2).label
    ('single head', 'LayerNorm on values + 2 heads')
    >>> VariantSpec(n_heads=0)
    Traceback (most recent call last):
    ...
    ValueError: n_heads must be >= 1, got 0
    >>> VariantSpec(optimizer="rmsprop")
    Traceback (most recent call last):
    ...
    ValueError: optimizer must be one of ('sgd', 'adam'), got 'rmsprop'
    """

    value_norm: bool = False
    residual: bool = False
    n_heads: int = 1
    optimizer: str = "sgd"
    ln_eps: float = 1e-5
    adam_betas: tuple = (0.9, 0.999)
    adam_eps: float = 1e-8
    attn_dropout: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "value_norm", as_bool(self.value_norm, "value_norm"))
        object.__setattr__(self, "residual", as_bool(self.residual, "residual"))
        object.__setattr__(self, "n_heads", as_positive_int(self.n_heads, "n_heads"))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}, got {self.optimizer!r}")
        object.__setattr__(self, "ln_eps", as_number(self.ln_eps, "ln_eps", minimum=0))
        betas = self.adam_betas
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(isinstance(b, numbers.Real) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)
        ):
            raise ValueError(f"adam_betas must be two numbers in [0, 1), got {betas!r}")
        object.__setattr__(self, "adam_betas", (float(betas[0]), float(betas[1])))
        object.__setattr__(self, "adam_eps", as_number(self.adam_eps, "adam_eps", minimum=0, exclusive=True))
        dropout = as_number(self.attn_dropout, "attn_dropout", minimum=0, maximum=1)
        if dropout == 1:
            raise ValueError("attn_dropout must be below 1, got 1.0")
        object.__setattr__(self, "attn_dropout", dropout)

    @property
    def label(self) -> str:
        """A short human-readable name, e.g. ``"residual + Adam"``."""
        parts = []
        if self.value_norm:
            parts.append("LayerNorm on values")
        if self.residual:
            parts.append("residual")
        if self.n_heads > 1:
            parts.append(f"{self.n_heads} heads")
        if OPTIMIZERS[self.optimizer].label:
            parts.append(OPTIMIZERS[self.optimizer].label)
        if self.attn_dropout:
            parts.append(f"attention dropout {self.attn_dropout:g}")
        return " + ".join(parts) if parts else "single head"

    def as_dict(self) -> dict:
        """The fields as plain JSON-able values."""
        return {
            "value_norm": self.value_norm,
            "residual": self.residual,
            "n_heads": self.n_heads,
            "optimizer": self.optimizer,
            "ln_eps": self.ln_eps,
            "adam_betas": list(self.adam_betas),
            "adam_eps": self.adam_eps,
            "attn_dropout": self.attn_dropout,
        }

    def validate_dims(self, d_k: int, d_v: int) -> None:
        """Raise ``ValueError`` if the heads cannot split ``d_k`` and ``d_v`` as asked."""
        if self.n_heads > min(d_k, d_v):
            raise ValueError(f"n_heads must be <= min(d_k, d_v) = {min(d_k, d_v)}, got {self.n_heads}")
        if self.value_norm and d_v // self.n_heads < 2:
            raise ValueError(
                f"value_norm needs every head's value width >= 2 (LayerNorm of one number is 0), "
                f"got d_v = {d_v} split over {self.n_heads} heads"
            )


def head_slices(width: int, n_heads: int) -> tuple[slice, ...]:
    """The column blocks of each head, as ``numpy.array_split`` cuts ``width`` columns.

    Examples
    --------
    >>> head_slices(15, 2)
    (slice(0, 8, None), slice(8, 15, None))
    >>> head_slices(10, 1)
    (slice(0, 10, None),)
    """
    width = as_positive_int(width, "width")
    n_heads = as_positive_int(n_heads, "n_heads")
    if n_heads > width:
        raise ValueError(f"cannot split {width} columns over {n_heads} heads")
    sizes = [len(part) for part in np.array_split(np.arange(width), n_heads)]
    edges = np.concatenate([[0], np.cumsum(sizes)])  # (H + 1,)
    return tuple(slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]))


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class VariantParams:
    """The weights of a variant: the single head's four matrices, and ``W_R`` for a residual.

    Attributes
    ----------
    head : Params
        ``W_Q, W_K (d_x, d_k)``, ``W_V (d_x, d_v)``, ``W_O (d_v, C)``; with
        several heads, head ``h`` owns the column blocks :func:`head_slices`.
    W_R : numpy.ndarray, shape (d_x, d_v), or None
    """

    head: Params
    W_R: np.ndarray | None = None

    def __post_init__(self):
        if not isinstance(self.head, Params):
            raise TypeError(f"head must be an attnlib.Params, got {type(self.head).__name__}")
        if self.W_R is not None:
            W_R = as_float_matrix(self.W_R, "W_R")
            expected = (self.head.dims["d_x"], self.head.dims["d_v"])
            if W_R.shape != expected:
                raise ValueError(f"W_R must have shape (d_x, d_v) = {expected}, got {W_R.shape}")
            object.__setattr__(self, "W_R", W_R)

    def as_dict(self) -> dict[str, np.ndarray]:
        """Every matrix by name (``W_R`` only if present)."""
        out = self.head.as_dict()
        if self.W_R is not None:
            out["W_R"] = self.W_R
        return out

    @property
    def dims(self) -> dict[str, int]:
        return self.head.dims


def init_variant_params(spec: VariantSpec, seed: int, *, d_x: int = 20, d_k: int = 10,
                        d_v: int = 15, n_classes: int = 8, scale: float = 0.1) -> VariantParams:  # fmt: skip
    """Initial weights: the authors' four matrices for ``seed``, and ``W_R`` drawn from the same seed.

    Parameters
    ----------
    spec : VariantSpec
    seed : int
        Run seed of :func:`attnlib.chain.task.authors_initial_params` (the same
        ``W_Q, W_K, W_V, W_O`` as chapters 7 and 8, whatever the spec).
        It is also the one source of ``W_R ~ N(0, scale^2)`` when
        ``spec.residual``: ``numpy.random.default_rng([W_R_STREAM, seed])``.
    d_x, d_k, d_v, n_classes, scale
        The authors' sizes by default.

    Examples
    --------
    >>> p = init_variant_params(VariantSpec(residual=True), 42)
    >>> p.W_R.shape, bool(np.array_equal(p.head.W_V, authors_initial_params(42).W_V))
    ((20, 15), True)
    >>> init_variant_params(VariantSpec(), 42).W_R is None
    True
    """
    if not isinstance(spec, VariantSpec):
        raise TypeError(f"spec must be a VariantSpec, got {type(spec).__name__}")
    spec.validate_dims(d_k, d_v)
    head = authors_initial_params(seed, d_x=d_x, d_k=d_k, d_v=d_v, n_classes=n_classes, scale=scale)
    if not spec.residual:
        return VariantParams(head)
    W_R = np.random.default_rng([W_R_STREAM, as_seed(seed)]).normal(scale=scale, size=(d_x, d_v))  # (d_x, d_v)
    return VariantParams(head, W_R)


