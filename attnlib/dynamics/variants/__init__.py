r"""A generalised head for chapter 10: LayerNorm on values, a residual, several heads, Adam.

The single head of chapters 1-5 has closed-form gradients (:mod:`attnlib.head.gradients`)
and a float64 NumPy trainer (:func:`attnlib.head.training.train`). The variants of
this module are trained instead by **PyTorch autograd in float64**, the
book's reference (:mod:`attnlib.reference`): only the LayerNorm backward is
derived by hand here (:func:`layer_norm_backward`), and chapter 10 checks it.

One :class:`VariantSpec` says which changes are switched on:

* ``value_norm``: :math:`v_j = \mathrm{LN}(x_j W_V)` with
  :math:`\mathrm{LN}(a) = (a - \bar a)/\sqrt{\sigma^2(a) + \epsilon}`, the
  biased variance, and **no gain or bias**. The gain is redundant with
  :math:`W_O` (a diagonal gain :math:`g` gives :math:`o_i\,\mathrm{diag}(g)
  W_O`); a bias :math:`b` would add :math:`b W_O` to every logit, because the
  attention rows sum to one, which is a class bias the plain head does not
  have. Leaving both out changes one thing only: the values' scale.
* ``residual``: :math:`o_i \leftarrow o_i + x_i W_R` with a learned
  :math:`W_R` of shape ``(d_x, d_v)``, because the paper's sizes have
  :math:`d_x = 20 \neq d_v = 15`, so the identity :math:`o_i + x_i` does
  not type-check. :math:`W_R` is drawn :math:`\mathcal N(0, 0.1^2)` from the
  generator passed to :func:`init_variant_params` and trained at the rate of
  :math:`W_O` (the base rate in both of the paper's arms).
* ``n_heads``: :math:`H` heads that **partition the columns** of the authors'
  :math:`W_Q, W_K` (widths :math:`d_k^h`) and :math:`W_V` (widths
  :math:`d_v^h`), as ``numpy.array_split`` does; head :math:`h` has scores
  :math:`Q^h K^{h\top}/\sqrt{d_k^h}` and its own attention; the head outputs
  are concatenated before :math:`W_O`. Same parameters, same initial numbers
  as the single head; only the routing is split.
* ``optimizer``: ``"sgd"`` (``W <- W - eta_W dL/dW``) or ``"adam"``
  (Kingma and Ba's update with the same per-matrix rates), entries of
  :data:`~attnlib.dynamics.variants.optimizers.OPTIMIZERS`.

The default spec is the single head: :func:`train_variant` then reproduces
:func:`attnlib.head.training.train` (the tests compare the losses to ``1e-10``).

Dimension names in shape comments: ``B`` runs trained together, ``N``
positions, ``d_x``, ``d_k``, ``d_v``, ``C`` classes, ``H`` heads.
"""

from .diversity import GroupedTask, error_signal_diversity, grouped_chain
from .head import loss_function_of, variant_grads, variant_loss, variant_state
from .layer_norm import layer_norm, layer_norm_backward, layer_norm_jacobian
from .optimizers import OPTIMIZERS, Optimizer
from .spec import WEIGHTS, VariantParams, VariantSpec, head_slices, init_variant_params
from .training import VariantHistory, train_variant, train_variants

__all__ = [
    "VariantSpec",
    "VariantParams",
    "VariantHistory",
    "OPTIMIZERS",
    "Optimizer",
    "WEIGHTS",
    "head_slices",
    "init_variant_params",
    "layer_norm",
    "layer_norm_jacobian",
    "layer_norm_backward",
    "variant_loss",
    "loss_function_of",
    "variant_state",
    "variant_grads",
    "train_variant",
    "train_variants",
    "GroupedTask",
    "grouped_chain",
    "error_signal_diversity",
]
