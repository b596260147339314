"""The fast engine: many runs of the head advanced together, float32, closed-form gradients.

:class:`Engine` (:mod:`~attnlib.chain.engine.runner`) is the API: it validates
the runs, splits them into groups and advances them. How one step is computed
is a detail behind it: :mod:`~attnlib.chain.engine.step` holds the batched step
(a torch row-block path), and :mod:`~attnlib.chain.engine.kernel` builds and
loads ``kernel.c``, the fused C kernel the compiled path calls.
"""

from .runner import Diverged, Engine, StepGrads
from .step import row_blocks

__all__ = ["Diverged", "Engine", "StepGrads", "row_blocks"]
