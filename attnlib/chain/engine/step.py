"""One full-batch step for a batch of runs of the head: the compiled kernel or torch row blocks.

:class:`RunGroup` holds ``R`` runs (each with its own ``X``, ``y``, weights and
per-matrix learning rates, stacked on a batch axis) and advances them one step
at a time; :func:`run_group` trains a group and returns plain arrays.
:mod:`attnlib.chain.engine` decides how many groups there are and where they run.

The compiled path is one call per step into ``kernel.c`` (its header
explains the sweeps); torch only computes ``X [W_Q / sqrt(d_k), W_K, W_V W_O]``
before and the four weight gradients after. The torch path, for machines
without a C compiler, is described below.

How the torch path is fast
--------------------------
* **Row blocks, forward and backward fused.** Everything a query row needs is
  row-local once its attention row is known: ``o_i``, ``p_i``, the upstream
  gradient ``u_i = (p_i - e_{y_i}) W_O^T / N`` and the routing baseline
  ``E_{alpha_i}[b] = u_i . o_i`` (no ``N x N`` product needed). So the rows
  are cut into blocks, and each block's forward *and* backward are done in
  one visit to its ``(B, c)`` slab of scores; no ``N x N`` matrix is ever held.
* **Causal structure.** Block ``[r0, r1)`` only looks at columns ``j < r1``;
  the only waste is the upper triangle of the block's own ``B x B`` corner.
* **Four GEMMs and two elementwise passes per slab**::

      E = exp([q_i, m_i] . [k_j, -1])          GEMM (k = d_k+1, the shift folded in) + exp
      [E X, l] = E [X, 1]                       GEMM: alpha X (hence o_i and z_i) and row sums
      G = E * ([u~_i, E[b]_i] . [x_j, -1])      GEMM + multiply: G = N l_i dL/ds_ij (routing law)
      G X                                       GEMM: (dL/dS) X

  using ``b_ij = u_i . v_j = u~_i . x_j`` with ``u~_i = u_i W_V^T``. Then no
  more ``N x N`` work: with ``A = W_Q W_K^T / sqrt(d_k)`` the score gradient
  reaches the weights only through ``dL/dA = X^T (dL/dS) X``, so
  ``dW_Q = (dL/dA) W_K / sqrt(d_k)`` and ``dW_K = (dL/dA)^T W_Q / sqrt(d_k)``;
  the value law enters as ``dW_V = X^T alpha^T U = (alpha X)^T U``; and
  ``dW_O = O^T dL/dZ``.
* **A safe shift without a max pass.** ``m_i = |q_i| max_{j<r1} |k_j|`` bounds
  every score in the row (Cauchy-Schwarz), so ``exp`` cannot overflow; if the
  bound were ever so loose that a row sum fell below ``1e-30``, the step is
  redone with exact row maxima.
* **All runs at once.** Runs (seeds x arms, each with its own ``X``, ``y``,
  weights and per-matrix learning rates) are stacked on a batch axis and
  advanced together with ``torch.bmm``; for big jobs they are split over one
  worker process per core.
* **Few small calls.** Every slice the loop needs is made once; per-row
  results go to block-major buffers so each ``bmm`` writes contiguous memory;
  logits are kept as ``(C, B)`` because a softmax over a short last axis is
  slow in torch.

Dimension names in shape comments: ``R`` runs in a group, ``N`` positions,
``B`` rows in a block, ``c`` columns a block sees, ``d_x, d_k, d_v``, ``C``.
"
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from ..._validate import as_bool, as_positive_int

__all__ = ["row_blocks"]

#: A row sum of shifted exponentials below this means the Cauchy-Schwarz shift was too loose.
_TINY_ROW_SUM = 1e-30


def row_blocks(n: int, *, causal: bool = True, budget: int = 160_000, max_block: int = 128, min_block: int = 16):
    """Cut ``n`` query rows into blocks of at most ``budget`` score entries each.

    Block ``[r0, r1)`` sees columns ``[0, r1)`` when causal (``[0, n)``
    otherwise), so early blocks can be taller for the same cache footprint.

    Returns
    -------
    list of (r0, r1, c) tuples
        ``c`` is the number of columns the block reads.

    Examples
    --------
    >>> row_blocks(10, budget=30, max_block=4, min_block=2)
    [(0, 4, 4), (4, 7, 7), (7, 10, 10)]
    >>> row_blocks(6, causal=False, budget=12, max_block=4, min_block=1)
    [(0, 2, 6), (2, 4, 6), (4, 6, 6)]
    """
    n = as_positive_int(n, "n")
    causal = as_bool(causal, "causal")
    blocks = []
    r0 = 0
    while r0 < n:
        width = n if not causal else None
        b = max_block
        while b > min_block and b * (width if width is not None else min(n, r0 + b)) > budget:
            b -= 1
        r1 = min(n, r0 + b)
        blocks.append((r0, r1, r1 if causal else n))
        r0 = r1
    return blocks


class RunGroup:
    """A batch of ``R`` runs advanced together by one thread (float32 torch tensors).

    Layout. Per-run inputs are run-major ``(R, N, .)``. Per-row results of the
    block loop live in flat *block-major* buffers: block ``b`` owns one
    contiguous ``(R, B_b, .)`` (or ``(R, ., B_b)``) slice, so every ``bmm``
    writes contiguous output; one ``index_select`` per step puts each buffer
    back in run order. Logits and ``dz`` are kept transposed, ``(R, C, B)``,
    because a softmax over a short last axis (``C = 8``) is slow in torch.
    """

    def __init__(self, X, y, weights, lrs, *, causal, blocks, n_classes, compiled=False, threads=1):
        import torch

        from .kernel import load_kernel

        self.torch = torch
        R, N, d_x = X.shape
        C = n_classes
        self.R, self.N, self.d_x, self.C = R, N, d_x, C
        self.d_k = weights["W_Q"].shape[2]
        self.d_v = weights["W_V"].shape[2]
        self.causal, self.blocks = causal, blocks
        f32 = torch.float32
        self.X = torch.as_tensor(X, dtype=f32).contiguous()  # (R, N, d_x)
        self.W = {k: torch.as_tensor(w, dtype=f32).contiguous() for k, w in weights.items()}  # each (R, ., .)
        self.lr = {k: torch.as_tensor(v, dtype=f32).view(R, 1, 1) for k, v in lrs.items()}  # each (R, 1, 1)
        self.y = torch.as_tensor(y, dtype=torch.long).contiguous()  # (R, N)
        self.fallbacks = 0
        self.kernel = load_kernel(d_x, self.d_k, C) if compiled else None
        self.threads = threads
        if self.kernel is not None:  # run-major outputs of the compiled step
            self.out = {
                "EX1": torch.empty(R, N, d_x + 1),  # (R, N, d_x+1)  [sum_j e_ij x_j, l_i]
                "Z": torch.empty(R, N, C),  # (R, N, C)  logits
                "m": torch.empty(R, N),  # (R, N)  the score shift m_i
                "gsq": torch.empty(R, N),  # (R, N)  sum_j (N l_i dL/ds_ij)^2
                "nll": torch.empty(R, N),  # (R, N)  -log p_i[y_i]
                "dA": torch.empty(R, d_x, d_x),  # (R, d_x, d_x)  X^T (dL/dS) X
                "AXdz": torch.empty(R, d_x, C),  # (R, d_x, C)  (alpha X)^T dL/dZ
            }
            self.scratch = self.kernel.scratch(R, N, threads)
        else:
            self._init_blocks()

    def _init_blocks(self) -> None:
        """Block-major bookkeeping and buffers of the torch path."""
        torch = self.torch
        R, N, d_x, C, blocks = self.R, self.N, self.d_x, self.C, self.blocks
        f32 = torch.float32
        self.XT = self.X.transpose(1, 2).contiguous()  # (R, d_x, N)
        self.X1Tn = torch.cat([self.XT, -torch.ones(R, 1, N)], dim=1).contiguous()  # (R, d_x+1, N)  [x_j; -1]
        self.X1 = torch.cat([self.X, torch.ones(R, N, 1)], dim=2).contiguous()  # (R, N, d_x+1)  [x_j, 1]
        # Block-major bookkeeping.
        row_pos = torch.empty(R, N, dtype=torch.long)  # (R, N)  where row (r, i) sits, rows of width w
        col_pos = torch.empty(R, C, N, dtype=torch.long)  # (R, C, N)  where entry (r, c, i) of a (R, C, B) slice sits
        last_col = torch.empty(N, dtype=torch.long)  # (N,)  last column the row's block sees
        run = torch.arange(R)[:, None]  # (R, 1)
        for r0, r1, c in blocks:
            B = r1 - r0
            i = torch.arange(B)[None, :]  # (1, B)
            row_pos[:, r0:r1] = R * r0 + run * B + i
            col_pos[:, :, r0:r1] = R * C * r0 + run[:, :, None] * C * B + torch.arange(C)[None, :, None] * B + i[:, None]
            last_col[r0:r1] = c - 1
        self.row_perm = row_pos.reshape(-1)  # (R*N,)
        self.col_perm = col_pos.reshape(-1)  # (R*C*N,)
        self.last_col = last_col
        onehotT = torch.nn.functional.one_hot(self.y, C).to(f32).transpose(1, 2)  # (R, C, N)
        self.onehotT_bm = torch.empty(R * C * N)  # block-major (R, C, B) slices
        self.onehotT_bm[self.col_perm] = onehotT.reshape(-1)
        # Buffers, reused every step.
        self.QKa = torch.empty(R, N, self.d_k + 1)  # (R, N, d_k+1)  [q_i / sqrt(d_k), m_i]
        self.KT1 = torch.empty(R, self.d_k + 1, N)  # (R, d_k+1, N)  [k_j; -1]
        self.KT1[:, self.d_k] = -1.0
        self.rows = {name: torch.empty(R * N * w) for name, w in
                     (("EX1", d_x + 1), ("Uc", d_x + 1), ("GX", d_x), ("ZT", C), ("dzT", C))}  # fmt: skip
        self.W_VOT0 = torch.zeros(R, C, d_x + 1)  # (R, C, d_x+1)  [(W_V W_O)^T, 0]
        slab = max((r1 - r0) * c for r0, r1, c in blocks)
        self.E_buf = torch.empty(R * slab)  # (R, B, c) slabs: E = exp(S - m)
        self.G_buf = torch.empty(R * slab)  # (R, B, c) slabs: N l_i dL/ds_ij
        self.views = [self._make_views(r0, r1, c) for r0, r1, c in blocks]

    def _make_views(self, r0, r1, c) -> SimpleNamespace:
        """Every slice the block loop touches, made once (slicing costs as much as a small op)."""
        R, B, d_x, C = self.R, r1 - r0, self.d_x, self.C
        v = SimpleNamespace(r0=r0, r1=r1, c=c)
        v.QKa, v.KT1 = self.QKa[:, r0:r1], self.KT1[:, :, :c]  # (R, B, d_k+1), (R, d_k+1, c)
        v.X1, v.X1Tn, v.X = self.X1[:, :c], self.X1Tn[:, :, :c], self.X[:, :c]  # (R, c, .)
        v.E = self.E_buf[: R * B * c].view(R, B, c)  # (R, B, c)
        v.G = self.G_buf[: R * B * c].view(R, B, c)  # (R, B, c)
        v.E_corner = v.E[:, :, r0:r1]  # (R, B, B)  the block's own keys
        v.EX1 = self._block("EX1", r0, r1)  # (R, B, d_x+1)
        v.EX_T = v.EX1[:, :, :d_x].transpose(1, 2)  # (R, d_x, B)
        v.l_row = v.EX1[:, None, :, d_x]  # (R, 1, B)
        v.ZT = self._block("ZT", r0, r1, transposed=True)  # (R, C, B)
        v.dzT = self._block("dzT", r0, r1, transposed=True)  # (R, C, B)
        v.dz = v.dzT.transpose(1, 2)  # (R, B, C)
        v.onehotT = self.onehotT_bm[R * C * r0 : R * C * r1].view(R, C, B)  # (R, C, B)
        v.Uc = self._block("Uc", r0, r1)  # (R, B, d_x+1)
        v.c_col = v.Uc[:, :, d_x]  # (R, B)
        v.GX = self._block("GX", r0, r1)  # (R, B, d_x)
        return v

    # ------------------------------------------------------------------ helpers
    def _block(self, name, r0, r1, transposed=False):
        """Block [r0, r1) of a block-major buffer: a contiguous (R, B, w) or (R, w, B) view."""
        buf = self.rows[name]
        w = buf.numel() // (self.R * self.N)
        part = buf[self.R * r0 * w : self.R * r1 * w]
        return part.view(self.R, w, r1 - r0) if transposed else part.view(self.R, r1 - r0, w)

    def _run_major(self, name, transposed=False):
        """A block-major buffer in run order: (R, N, w), or (R, w, N) for the transposed ones."""
        buf = self.rows[name]
        w = buf.numel() // (self.R * self.N)
        if transposed:
            return buf.index_select(0, self.col_perm).view(self.R, w, self.N)
        return buf.view(-1, w).index_select(0, self.row_perm).view(self.R, self.N, w)

    def _prepare(self, exact: bool):
        """Per-step projections, the score shifts, and W_V W_O."""
        torch = self.torch
        W, d_k = self.W, self.d_k
        Q = torch.bmm(self.X, W["W_Q"]).mul_(1.0 / math.sqrt(d_k))  # (R, N, d_k)  q_i / sqrt(d_k)
        K = torch.bmm(self.X, W["W_K"])  # (R, N, d_k)
        self.QKa[:, :, :d_k] = Q
        self.KT1[:, :d_k] = K.transpose(1, 2)
        if exact:
            self.QKa[:, :, d_k] = 0.0  # set block by block
        else:  # Cauchy-Schwarz: s_ij <= |q_i| max_{j < c} |k_j| =: m_i
            k_max = torch.cummax(torch.linalg.vector_norm(K, dim=2), dim=1).values  # (R, N)
            torch.mul(torch.linalg.vector_norm(Q, dim=2), k_max[:, self.last_col], out=self.QKa[:, :, d_k])
        W_VO = torch.bmm(W["W_V"], W["W_O"])  # (R, d_x, C)  z_i = (alpha X)_i W_V W_O
        return Q, W_VO

    def _slab(self, v: SimpleNamespace, W_VOT, exact: bool):
        """Forward of a row block: E = exp(S - m), [E X, l] and the logits, (R, C, B)."""
        torch = self.torch
        torch.bmm(v.QKa, v.KT1, out=v.E)  # (R, B, c)  s_ij - m_i
        if exact:  # the exact row max, for when the bound is too loose
            if self.causal:
                v.E_corner.masked_fill_(torch.ones(v.r1 - v.r0, v.r1 - v.r0, dtype=torch.bool).triu(1), -math.inf)
            m = v.E.amax(dim=2)  # (R, B)
            self.QKa[:, v.r0 : v.r1, self.d_k] = m
            v.E.sub_(m[:, :, None])
        v.E.exp_()  # (R, B, c)  e_ij = exp(s_ij - m_i) <= 1
        if self.causal:
            v.E_corner.tril_()  # keys after the query get weight 0
        torch.bmm(v.E, v.X1, out=v.EX1)  # (R, B, d_x+1)  [sum_j e_ij x_j, l_i]
        torch.bmm(W_VOT, v.EX_T, out=v.ZT)  # (R, C, B)  l_i z_i
        v.ZT.div_(v.l_row)  # (R, C, B)  z_i = (alpha X)_i W_V W_O

    # ------------------------------------------------------------------ one step
    def step(self, want: frozenset, update: bool = True, dense: bool = False) -> dict:
        """Loss (and extras) at the current weights, then the update; redone exactly if needed."""
        out = self._step(want, dense, exact=False)
        if not self._row_sums_ok():
            self.fallbacks += 1
            out = self._step(want, dense, exact=True)
        if update:
            for name, g in out["grads"].items():
                self.W[name].sub_(g * self.lr[name])
        return out

    def _row_sums_ok(self) -> bool:
        EX1 = self.out["EX1"] if self.kernel is not None else self.rows["EX1"]
        l_min = float(EX1.view(self.R * self.N, -1)[:, self.d_x].amin())
        return l_min >= _TINY_ROW_SUM  # False for nan too

    def _step(self, want: frozenset, dense: bool, exact: bool) -> dict:
        if self.kernel is not None:  # never dense: the compiled kernel holds no N x N matrix
            return self._step_compiled(want, exact)
        return self._step_blocks(want, dense, exact)

    def _compiled_pass(self, exact: bool, forward_only: bool, want_dV: bool = False):
        """Projections in torch, then every row's forward (and backward) in the compiled kernel."""
        torch = self.torch
        W, out, d_k = self.W, self.out, self.d_k
        W_VO = torch.bmm(W["W_V"], W["W_O"])  # (R, d_x, C)
        W_P = torch.cat([W["W_Q"] * (1.0 / math.sqrt(d_k)), W["W_K"], W_VO], dim=2)  # (R, d_x, 2 d_k + C)
        P = torch.bmm(self.X, W_P)  # (R, N, 2 d_k + C)  [q_i / sqrt(d_k), k_i, z0_i = x_i W_V W_O]
        dVa = torch.empty(self.R, self.N, self.C) if want_dV else None  # (R, N, C)  alpha^T dZ
        self.kernel.step(X=self.X, P=P, WVO=W_VO, y=self.y, dVa=dVa, scratch=self.scratch, causal=self.causal,
                         exact=exact, forward_only=forward_only, threads=self.threads, **out)  # fmt: skip
        return P[:, :, :d_k], dVa

    def _step_compiled(self, want: frozenset, exact: bool) -> dict:
        torch, N, d_x, out = self.torch, self.N, self.d_x, self.out
        Q, dVa = self._compiled_pass(exact, forward_only=False, want_dV="value_grad_norm" in want)
        result = {"grads": self._grads(out["dA"], out["AXdz"]), "loss": out["nll"].mean(dim=1)}
        l = out["EX1"][:, :, d_x]  # (R, N)
        if "attn_entropy" in want:
            result["attn_entropy"] = self._entropy(Q, out["m"], out["EX1"])
        if "attn_change" in want:
            result["read"] = self.read()
        if "score_grad_norm" in want:  # |dL/dS|_F, with gsq_i = sum_j (N l_i dL/ds_ij)^2
            result["score_grad_norm"] = (out["gsq"] / (N * l).square()).sum(dim=1).sqrt()
        if "value_grad_norm" in want:  # dL/dV = alpha^T U = alpha^T dZ W_O^T / N
            dV = torch.bmm(dVa, self.W["W_O"].transpose(1, 2)).div_(N)  # (R, N, d_v)
            result["value_grad_norm"] = torch.linalg.vector_norm(dV, dim=(1, 2))
        return result

    def _step_blocks(self, want: frozenset, dense: bool, exact: bool) -> dict:
        torch = self.torch
        R, N, d_x = self.R, self.N, self.d_x
        W = self.W
        Q, W_VO = self._prepare(exact)
        self.W_VOT0[:, :, :d_x] = W_VO.transpose(1, 2)
        W_VOT = self.W_VOT0[:, :, :d_x]  # (R, C, d_x)
        want_dV = "value_grad_norm" in want or dense
        if "score_grad_norm" in want:
            gs2 = torch.zeros(R)  # (R,)
        if want_dV:
            W_OT = W["W_O"].transpose(1, 2) / N  # (R, C, d_v)
            dVT = torch.zeros(R, self.d_v, N)  # (R, d_v, N)  (dL/dV)^T
        if dense:
            dS = torch.zeros(R, N, N)  # (R, N, N)  only for tests
        for v in self.views:
            self._slab(v, W_VOT, exact)  # v.E (R, B, c), v.EX1 (R, B, d_x+1), v.ZT (R, C, B)
            torch._softmax(v.ZT, 1, False, out=v.dzT)  # (R, C, B)  p_i
            v.dzT.sub_(v.onehotT)  # (R, C, B)  p_i - e_{y_i} = N dL/dz_i
            torch.bmm(v.dz, self.W_VOT0, out=v.Uc)  # (R, B, d_x+1)  [N u~_i, 0], u~_i = u_i W_V^T
            # N E_{alpha_i}[b] = N u_i . o_i = (p_i - e_{y_i}) . z_i   (no N x N product needed)
            torch.linalg.vecdot(v.dzT, v.ZT, dim=1, out=v.c_col)
            # b_ij = u_i . v_j = u~_i . x_j, so [N u~_i, N E[b]] . [x_j, -1] = N (b_ij - E_{alpha_i}[b])
            torch.bmm(v.Uc, v.X1Tn, out=v.G)  # (R, B, c)
            v.G.mul_(v.E)  # (R, B, c)  e_ij N (b_ij - E[b]) = N l_i dL/ds_ij: the routing law
            torch.bmm(v.G, v.X, out=v.GX)  # (R, B, d_x)  N l_i ((dL/dS) X)_i
            if "score_grad_norm" in want or want_dV:
                l = v.EX1[:, :, d_x : d_x + 1]  # (R, B, 1)
            if "score_grad_norm" in want:
                gs2 += (torch.linalg.vector_norm(v.G, dim=2) / (N * l[:, :, 0])).square().sum(dim=1)
            if want_dV:
                U = torch.bmm(v.dz, W_OT)  # (R, B, d_v)  u_i = dL/do_i
                dVT[:, :, : v.c] += torch.bmm((U / l).transpose(1, 2), v.E)  # (R, d_v, c)  value law, transposed
            if dense:
                dS[:, v.r0 : v.r1, : v.c] = v.G / (N * l)
        # ---- per-step reductions, on whole buffers in run order
        ZT = self._run_major("ZT", transposed=True)  # (R, C, N)
        dzT = self._run_major("dzT", transposed=True)  # (R, C, N)
        EX1 = self._run_major("EX1")  # (R, N, d_x+1)
        l = EX1[:, :, d_x : d_x + 1]  # (R, N, 1)
        GX = self._run_major("GX").div_(l * N)  # (R, N, d_x)  ((dL/dS) X)_i
        dA = torch.bmm(self.XT, GX)  # (R, d_x, d_x)  X^T (dL/dS) X, the gradient of A = W_Q W_K^T / sqrt(d_k)
        AX = EX1[:, :, :d_x] / l  # (R, N, d_x)  (alpha X)_i
        AXdz = torch.bmm(AX.transpose(1, 2), dzT.transpose(1, 2)).mul_(1.0 / N)  # (R, d_x, C)  (alpha X)^T dL/dZ
        logp = torch.log_softmax(ZT, dim=1)  # (R, C, N)
        out = {"grads": self._grads(dA, AXdz), "loss": -logp.gather(1, self.y[:, None, :]).mean(dim=(1, 2))}
        if "attn_entropy" in want:
            out["attn_entropy"] = self._entropy(Q, self.QKa[:, :, self.d_k], EX1)
        if "attn_change" in want:
            out["read"] = AX.clone()
        if "score_grad_norm" in want:
            out["score_grad_norm"] = gs2.sqrt()
        if "value_grad_norm" in want:
            out["value_grad_norm"] = torch.linalg.vector_norm(dVT, dim=(1, 2))
        if dense:
            out["scores"] = dS
            out["values"] = dVT.transpose(1, 2)
        return out

    def _grads(self, dA, AXdz) -> dict:
        """The four weight gradients from ``dA = X^T (dL/dS) X`` (R, d_x, d_x) and ``(alpha X)^T dL/dZ`` (R, d_x, C).

        With ``A = W_Q W_K^T / sqrt(d_k)`` the score gradient reaches ``W_Q`` and
        ``W_K`` only through ``dL/dA``; the value law enters as ``dW_V = X^T alpha^T U``.
        """
        torch, W = self.torch, self.W
        scale = 1.0 / math.sqrt(self.d_k)
        return {
            "W_Q": torch.bmm(dA, W["W_K"]).mul_(scale),  # (R, d_x, d_k)
            "W_K": torch.bmm(dA.transpose(1, 2), W["W_Q"]).mul_(scale),  # (R, d_x, d_k)
            "W_V": torch.bmm(AXdz, W["W_O"].transpose(1, 2)),  # (R, d_x, d_v)  X^T (alpha^T U): value law
            "W_O": torch.bmm(W["W_V"].transpose(1, 2), AXdz),  # (R, d_v, C)  O^T dL/dZ
        }

    def _entropy(self, Q, m, EX1):
        """Mean attention entropy per run, (R,): ``H_i = m_i + log l_i - q_i . (alpha X)_i W_K``.

        ``Q`` (R, N, d_k) holds ``q_i / sqrt(d_k)``, ``m`` (R, N) the score shifts
        and ``EX1`` (R, N, d_x+1) ``[sum_j e_ij x_j, l_i]``.
        """
        torch, d_x = self.torch, self.d_x
        l = EX1[:, :, d_x]  # (R, N)
        AX = EX1[:, :, :d_x] / l[:, :, None]  # (R, N, d_x)  (alpha X)_i
        mean_s = torch.linalg.vecdot(Q, torch.bmm(AX, self.W["W_K"]), dim=2)  # (R, N)  sum_j alpha_ij s_ij
        return (m + torch.log(l) - mean_s).mean(dim=1)

    def logits(self):
        """Forward only, at the current weights: (R, N, C) float32 logits."""
        if self.kernel is not None:
            for exact in (False, True):
                self._compiled_pass(exact, forward_only=True)
                if self._row_sums_ok():
                    break
                self.fallbacks += 1
            return self.out["Z"]
        for exact in (False, True):
            _, W_VO = self._prepare(exact)
            W_VOT = W_VO.transpose(1, 2).contiguous()  # (R, C, d_x)
            for v in self.views:
                self._slab(v, W_VOT, exact)
            if self._row_sums_ok():
                break
            self.fallbacks += 1
        return self._run_major("ZT", transposed=True).transpose(1, 2)  # (R, N, C)

    def read(self):
        """What each query read at the latest forward pass: ``alpha X``, (R, N, d_x) float32 (a new tensor)."""
        EX1 = self.out["EX1"] if self.kernel is not None else self._run_major("EX1")  # (R, N, d_x+1)
        return EX1[:, :, : self.d_x] / EX1[:, :, self.d_x :]  # (R, N, d_x)

    def values(self):
        return self.torch.bmm(self.X, self.W["W_V"])  # (R, N, d_v)


def run_group(group: dict, steps: int, want: frozenset, snap_steps, report) -> dict:
    """Train one group of runs for ``steps`` updates; plain numpy results (picklable)."""
    g = RunGroup(**group)
    names = ("loss", *sorted(want))
    per_step = {name: np.empty((g.R, steps)) for name in names}  # each (R, steps)
    snaps, snap_weights = [], []
    read = None  # (R, N, d_x)  alpha X before the previous update, for attn_change
    for t in range(steps):
        if snap_steps is not None and t in snap_steps:
            snaps.append(g.values().numpy().copy())  # (R, N, d_v)
            snap_weights.append({k: w.numpy().astype(np.float64) for k, w in g.W.items()})  # each (R, ., .)
        out = g.step(want)
        if "attn_change" in want:  # the change update t - 1 made, seen at this step's forward pass
            read, before = out["read"], read
            if t > 0:
                per_step["attn_change"][:, t - 1] = _rms_rows(read - before)
        for name in names:
            if name != "attn_change":
                per_step[name][:, t] = out[name].numpy()
        if report is not None:
            report(t + 1)
    if snap_steps is not None:
        snaps.append(g.values().numpy().copy())  # (R, N, d_v)  after the last update
        snap_weights.append({k: w.numpy().astype(np.float64) for k, w in g.W.items()})  # each (R, ., .)
    logits = g.logits().numpy().copy()  # (R, N, C)  the forward pass after the last update
    if "attn_change" in want and steps > 0:
        per_step["attn_change"][:, steps - 1] = _rms_rows(g.read() - read)
    return {
        "per_step": per_step,
        "snaps": np.stack(snaps, axis=1) if snaps else None,  # (R, n_snap, N, d_v)
        "snap_weights": snap_weights,  # n_snap dicts of (R, ., .)
        "logits": logits,  # (R, N, C)
        "weights": {k: w.numpy().astype(np.float64) for k, w in g.W.items()},  # each (R, ., .)
        "fallbacks": g.fallbacks,
    }


def _rms_rows(delta) -> np.ndarray:
    """Per run, the root mean square over rows of the rows' norms: (R, N, w) -> (R,) float64."""
    delta = delta.double()  # (R, N, w)
    return delta.square().sum(dim=2).mean(dim=1).sqrt().numpy()  # (R,)
