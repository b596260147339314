"""Where the cost of one training step goes: flops of every line of the forward
and backward pass of the head (chapter 5, "Where the cost goes").

Dimension names: ``N`` positions, ``d_x``, ``d_k``, ``d_v`` widths, ``C`` classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validate import as_bool, as_positive_int


@dataclass(frozen=True)
class FlopLine:
    """The cost of one line of the forward or backward pass.

    Attributes
    ----------
    number : str
        ``"F1"``..``"F8"`` for the forward pass, ``"1"``..``"13"`` for the
        backward pass (the numbering of chapter 5).
    equation : str
        The line, in plain text.
    matmul : int
        Flops of its matrix product, ``2 m n p`` for ``(m, n) @ (n, p)``
        (one multiply and one add per term); 0 when there is none.
    elementwise : int
        Flops of its elementwise work: one per entry per operation.
    quadratic : bool
        True when the line handles an ``N x N`` array.
    """

    number: str
    equation: str
    matmul: int
    elementwise: int
    quadratic: bool

    @property
    def flops(self) -> int:
        """``matmul + elementwise``."""
        return self.matmul + self.elementwise

    @property
    def backward(self) -> bool:
        """True for a line of the backward pass."""
        return not self.number.startswith("F")


def step_flops(N: int, d_x: int, d_k: int, d_v: int, n_classes: int, *, skip_masked: bool = False) -> list[FlopLine]:
    r"""Flop count of every line of one forward and backward pass of the head.

    Parameters
    ----------
    N, d_x, d_k, d_v, n_classes : int
        The sizes (``n_classes`` is ``C``).
    skip_masked : bool, default False
        Count only the ``N (N + 1) / 2`` allowed pairs of a causal mask in the
        ``N x N`` lines, as an implementation that never touches the masked
        upper triangle would. ``attnlib`` computes every pair, i.e. the default.

    Returns
    -------
    list of FlopLine
        Forward lines ``F1``..``F8``, then backward lines ``1``..``13``.

    Notes
    -----
    Chapter 5, section "Where the cost goes". A matrix product
    ``(m, n) @ (n, p)`` costs ``2 m n p``; a softmax over ``m`` entries costs
    ``5 m`` (max, subtract, exp, sum, divide); the loss itself (``O(N)``) is
    not counted.

    Examples
    --------
    >>> lines = step_flops(N=4, d_x=3, d_k=2, d_v=2, n_classes=5)
    >>> [line.number for line in lines][:3], len(lines)
    (['F1', 'F2', 'F3'], 21)
    >>> [line.number for line in lines if line.quadratic and line.matmul]  # the six N x N products
    ['F4', 'F6', '4', '8', '9', '10']
    >>> sum(l.flops for l in step_flops(1999, 20, 10, 15, 8)) > 10 ** 8
    True
    """
    N = as_positive_int(N, "N")
    d_x, d_k, d_v = (as_positive_int(v, n) for v, n in ((d_x, "d_x"), (d_k, "d_k"), (d_v, "d_v")))
    C = as_positive_int(n_classes, "n_classes")
    skip_masked = as_bool(skip_masked, "skip_masked")
    P = N * (N + 1) // 2 if skip_masked else N * N  # pairs (i, j) actually computed
    rows = [
        ("F1", "Q = X W_Q", 2 * N * d_x * d_k, 0, False),
        ("F2", "K = X W_K", 2 * N * d_x * d_k, 0, False),
        ("F3", "V = X W_V", 2 * N * d_x * d_v, 0, False),
        ("F4", "S = Q K^T / sqrt(d_k)", 2 * P * d_k, P, True),
        ("F5", "alpha = masked row softmax(S)", 0, 5 * P, True),
        ("F6", "O = alpha V", 2 * P * d_v, 0, True),
        ("F7", "Z = O W_O", 2 * N * d_v * C, 0, False),
        ("F8", "P = row softmax(Z)", 0, 5 * N * C, False),
        ("1", "dZ = (P - Y) / N", 0, 2 * N * C, False),
        ("2", "dW_O = O^T dZ", 2 * d_v * N * C, 0, False),
        ("3", "U = dZ W_O^T", 2 * N * C * d_v, 0, False),
        ("4", "B = U V^T", 2 * P * d_v, 0, True),
        ("5", "E_alpha_i[b] = u_i . o_i", 0, 2 * N * d_v, False),
        ("6", "A = E[b] 1^T - B (allowed pairs)", 0, P, True),
        ("7", "G = -alpha * A", 0, P, True),
        ("8", "dV = alpha^T U", 2 * P * d_v, 0, True),
        ("9", "dQ = G K / sqrt(d_k)", 2 * P * d_k, N * d_k, True),
        ("10", "dK = G^T Q / sqrt(d_k)", 2 * P * d_k, N * d_k, True),
        ("11", "dW_Q = X^T dQ", 2 * d_x * N * d_k, 0, False),
        ("12", "dW_K = X^T dK", 2 * d_x * N * d_k, 0, False),
        ("13", "dW_V = X^T dV", 2 * d_x * N * d_v, 0, False),
    ]
    return [FlopLine(*row) for row in rows]
