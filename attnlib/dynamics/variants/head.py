"""The generalised head in float64 torch: its forward pass, loss, gradients (autograd) and inner state."""

from __future__ import annotations

import math

import numpy as np

from ..._threads import single_torch_thread
from ..._validate import as_bool, as_float_matrix, as_labels
from ...head.model import attention_mask
from .spec import WEIGHTS, VariantParams, VariantSpec, head_slices

# --------------------------------------------------------------------------- the forward pass in torch


def _torch_layer_norm(A, eps: float):
    """LayerNorm of the last axis with torch operations (no gain, no bias, biased variance)."""
    centred = A - A.mean(dim=-1, keepdim=True)  # (..., d)
    return centred / ((centred**2).mean(dim=-1, keepdim=True) + eps).sqrt()  # (..., d)


def forward_tensors(W: dict, X, Y, spec: VariantSpec, mask, *, keep: bool = False, A=None, dropout=None) -> dict:
    """Batched forward pass in torch float64; ``W[name]`` has shape ``(B, ...)``.

    Returns the per-run mean losses ``(B,)`` and, with ``keep``, the
    intermediates (scores and attention per head, the values ``V`` that
    attention mixes, the pre-norm values ``A``, the logits). ``A`` may be
    given instead of computed as ``X W_V`` (to differentiate with respect to it).
    ``dropout``, one ``torch.Generator`` per run, draws the attention-dropout
    masks of ``spec.attn_dropout`` (none: no dropout); ``attn`` is then the
    pattern before dropout.
    """
    import torch

    d_k, d_v = W["W_Q"].shape[-1], W["W_V"].shape[-1]
    k_slices, v_slices = head_slices(d_k, spec.n_heads), head_slices(d_v, spec.n_heads)
    Q = X @ W["W_Q"]  # (B, N, d_k)
    K = X @ W["W_K"]  # (B, N, d_k)
    if A is None:
        A = X @ W["W_V"]  # (B, N, d_v)  pre-norm values
    if spec.value_norm:
        V = torch.cat([_torch_layer_norm(A[..., sl], spec.ln_eps) for sl in v_slices], dim=-1)  # (B, N, d_v)
    else:
        V = A  # (B, N, d_v)
    if len(k_slices) == 1:
        S = ((Q / math.sqrt(d_k)) @ K.transpose(-1, -2))[:, None]  # (B, 1, N, N)  (scaling Q is cheaper)
    else:  # head h sees only its columns: Q^h K^h^T / sqrt(d_k^h), all heads in one product
        k_cols = torch.zeros(len(k_slices), d_k, dtype=Q.dtype, device=Q.device)  # (H, d_k)
        for h, sk in enumerate(k_slices):
            k_cols[h, sk] = 1.0 / math.sqrt(sk.stop - sk.start)
        S = (Q[:, None] * k_cols[None, :, None, :]) @ K[:, None].transpose(-1, -2)  # (B, H, N, N)
    blocked = torch.zeros(mask.shape, dtype=S.dtype, device=S.device).masked_fill_(
        ~torch.as_tensor(mask, device=S.device), float("-inf"))  # (N, N)
    masked = S + blocked  # (B, H, N, N)  -inf where i may not attend to j
    alpha = torch.softmax(masked, dim=-1)  # (B, H, N, N)
    mixed = alpha  # (B, H, N, N)  the weights that mix the values
    if dropout is not None and spec.attn_dropout > 0:
        p = spec.attn_dropout
        kept = torch.stack([torch.rand(alpha.shape[1:], generator=g, dtype=alpha.dtype) >= p for g in dropout])
        kept = kept.to(alpha.device)  # (B, H, N, N)  drawn on the CPU, where the generators are
        mixed = alpha * kept / (1.0 - p)  # (B, H, N, N)  kept with probability 1 - p, scaled by 1 / (1 - p)
    if len(v_slices) == 1:
        O = mixed[:, 0] @ V  # (B, N, d_v)
    else:  # o_i = concatenation over heads of sum_j alpha^h_ij v^h_j
        v_cols = torch.zeros(len(v_slices), d_v, dtype=V.dtype, device=V.device)  # (H, d_v)
        for h, sv in enumerate(v_slices):
            v_cols[h, sv] = 1.0
        O = ((mixed @ V[:, None]) * v_cols[None, :, None, :]).sum(dim=1)  # (B, N, d_v)
    if spec.residual:
        O = O + X @ W["W_R"]  # (B, N, d_v)
    Z = O @ W["W_O"]  # (B, N, C)
    logp = torch.log_softmax(Z, dim=-1)  # (B, N, C)
    losses = -logp.gather(-1, Y[..., None])[..., 0].mean(dim=-1)  # (B,)
    out = {"losses": losses}
    if keep:
        out.update(scores=S, masked=masked, attn=alpha, V=V, A=A, logits=Z)
    return out


def _as_tensors(params: VariantParams, spec: VariantSpec) -> dict:
    import torch

    names = [n for n in WEIGHTS if n != "W_R" or spec.residual]
    weights = params.as_dict()
    return {n: torch.tensor(weights[n], dtype=torch.float64)[None] for n in names}  # each (1, ...)


def check_problem(params, X, y, spec, causal):
    if not isinstance(spec, VariantSpec):
        raise TypeError(f"spec must be a VariantSpec, got {type(spec).__name__}")
    if not isinstance(params, VariantParams):
        raise TypeError(f"params must be a VariantParams, got {type(params).__name__}")
    if spec.residual and params.W_R is None:
        raise ValueError("spec.residual is True but params has no W_R (use init_variant_params)")
    dims = params.dims
    spec.validate_dims(dims["d_k"], dims["d_v"])
    X = as_float_matrix(X, "X")
    if X.shape[0] < 1 or X.shape[1] != dims["d_x"]:
        raise ValueError(f"X must have shape (N >= 1, {dims['d_x']}), got {X.shape}")
    y = as_labels(y, "y", length=X.shape[0], n_classes=dims["n_classes"])
    causal = as_bool(causal, "causal")
    return X, y, causal


def variant_loss(params: VariantParams, X, y, spec: VariantSpec, *, causal: bool = True) -> float:
    """The mean cross-entropy of a variant, computed by torch in float64.

    Examples
    --------
    >>> import attnlib
    >>> from attnlib.chain.task import sticky_chain
    >>> from attnlib.dynamics.variants import VariantSpec, init_variant_params
    >>> task = sticky_chain(42, T=30)
    >>> p = init_variant_params(VariantSpec(), 42)
    >>> bool(np.isclose(variant_loss(p, task.X, task.y, VariantSpec()),
    ...                 attnlib.loss(attnlib.forward(p.head, task.X), task.y), rtol=1e-12))
    True
    """
    import torch

    X, y, causal = check_problem(params, X, y, spec, causal)
    mask = attention_mask(X.shape[0], causal=causal)  # (N, N)
    with torch.no_grad(), single_torch_thread():
        out = forward_tensors(_as_tensors(params, spec), torch.tensor(X)[None], torch.tensor(y)[None], spec, mask)
    return float(out["losses"][0])


def loss_function_of(params: VariantParams, X, y, spec: VariantSpec, at: str, *, causal: bool = True):
    """The variant's loss as a function of one weight, or of the pre-norm values ``A``.

    The pair ``(f, f_torch)`` is what :func:`attnlib.reference.check_gradient`
    needs: ``f`` maps a NumPy array to a float (by a torch float64 forward
    pass without gradients, so finite differences see only the forward
    pass), ``f_torch`` maps a float64 tensor to the scalar loss tensor.

    Parameters
    ----------
    at : str
        ``"W_Q"``, ``"W_K"``, ``"W_V"``, ``"W_O"``, ``"W_R"`` (a residual
        variant), ``"X"`` (every path from the input, residual included), or
        ``"A"``, the pre-norm values ``X W_V`` of shape ``(N, d_v)``
        (everything downstream is recomputed, LayerNorm included).

    Examples
    --------
    >>> from attnlib.chain.task import sticky_chain
    >>> from attnlib.dynamics.variants import VariantSpec, init_variant_params
    >>> task = sticky_chain(7, T=12)
    >>> spec = VariantSpec(value_norm=True)
    >>> p = init_variant_params(spec, 7)
    >>> f, f_torch = loss_function_of(p, task.X, task.y, spec, "A")
    >>> round(f(task.X @ p.head.W_V), 10) == round(variant_loss(p, task.X, task.y, spec), 10)
    True
    """
    import torch

    X, y, causal = check_problem(params, X, y, spec, causal)
    names = [n for n in WEIGHTS if n != "W_R" or spec.residual]
    if at not in (*names, "X", "A"):
        raise ValueError(f"at must be one of {(*names, 'X', 'A')}, got {at!r}")
    mask = attention_mask(X.shape[0], causal=causal)  # (N, N)
    Xt, Yt = torch.tensor(X)[None], torch.tensor(y)[None]  # (1, N, d_x), (1, N)
    base = _as_tensors(params, spec)

    def f_torch(t):
        if at == "A":
            return forward_tensors(base, Xt, Yt, spec, mask, A=t[None])["losses"][0]
        if at == "X":
            return forward_tensors(base, t[None], Yt, spec, mask)["losses"][0]
        return forward_tensors(base | {at: t[None]}, Xt, Yt, spec, mask)["losses"][0]

    def f(value):
        with torch.no_grad(), single_torch_thread():
            return float(f_torch(torch.tensor(np.asarray(value, dtype=np.float64))))

    return f, f_torch


def variant_state(params: VariantParams, X, y, spec: VariantSpec, *, causal: bool = True) -> dict:
    """What a variant computes at ``params``, as NumPy arrays, with the upstream gradient.

    Returns
    -------
    dict
        ``"attn"`` ``(H, N, N)``; ``"values"`` ``(N, d_v)``, the vectors the
        attention mixes (after LayerNorm if any); ``"pre_values"`` ``(N, d_v)``,
        ``X W_V``; ``"upstream"`` ``(N, d_v)``, :math:`u_i = \\partial L/\\partial o_i`
        for the output that meets :math:`W_O` (residual included);
        ``"logits"`` ``(N, C)``; ``"loss"`` float.

    Examples
    --------
    >>> import attnlib
    >>> from attnlib.chain.task import sticky_chain
    >>> from attnlib.dynamics.variants import VariantSpec, init_variant_params
    >>> task = sticky_chain(42, T=20)
    >>> p = init_variant_params(VariantSpec(), 42)
    >>> state = variant_state(p, task.X, task.y, VariantSpec())
    >>> g = attnlib.backward(p.head, attnlib.forward(p.head, task.X), task.y)
    >>> state["attn"].shape, bool(np.allclose(state["upstream"], g.upstream, rtol=1e-10, atol=1e-16))
    ((1, 19, 19), True)
    """
    import torch

    X, y, causal = check_problem(params, X, y, spec, causal)
    mask = attention_mask(X.shape[0], causal=causal)  # (N, N)
    W = _as_tensors(params, spec)
    W["W_O"].requires_grad_(True)
    with single_torch_thread():
        out = forward_tensors(W, torch.tensor(X)[None], torch.tensor(y)[None], spec, mask, keep=True)
        Z = out["logits"]  # (1, N, C)
        (dZ,) = torch.autograd.grad(out["losses"].sum(), [Z])  # (1, N, C)
    upstream = dZ[0] @ W["W_O"][0].detach().T  # (N, d_v)  u_i = dL/dz_i W_O^T
    return {
        "attn": out["attn"][0].detach().numpy(),  # (H, N, N)
        "values": out["V"][0].detach().numpy(),  # (N, d_v)
        "pre_values": out["A"][0].detach().numpy(),  # (N, d_v)
        "upstream": upstream.numpy(),  # (N, d_v)
        "logits": Z[0].detach().numpy(),  # (N, C)
        "loss": float(out["losses"][0].detach()),
    }


def variant_grads(params: VariantParams, X, y, spec: VariantSpec, *, causal: bool = True) -> dict[str, np.ndarray]:
    """The gradient of the mean loss with respect to every weight of a variant, by torch autograd (float64).

    Examples
    --------
    >>> import attnlib
    >>> from attnlib.chain.task import sticky_chain
    >>> from attnlib.dynamics.variants import VariantSpec, init_variant_params
    >>> task = sticky_chain(42, T=20)
    >>> p = init_variant_params(VariantSpec(residual=True), 42)
    >>> g = variant_grads(p, task.X, task.y, VariantSpec(residual=True))
    >>> sorted(g), g["W_R"].shape
    (['W_K', 'W_O', 'W_Q', 'W_R', 'W_V'], (20, 15))
    """
    import torch

    X, y, causal = check_problem(params, X, y, spec, causal)
    mask = attention_mask(X.shape[0], causal=causal)  # (N, N)
    W = _as_tensors(params, spec)
    for w in W.values():
        w.requires_grad_(True)
    with single_torch_thread():
        out = forward_tensors(W, torch.tensor(X)[None], torch.tensor(y)[None], spec, mask)
        grads = torch.autograd.grad(out["losses"].sum(), list(W.values()))
    return {name: g[0].numpy() for name, g in zip(W, grads)}


