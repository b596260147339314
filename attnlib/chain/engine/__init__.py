"""The fast engine: many runs of the head advanced together, float32, closed-form gradients.

:class:`Engine` (:mod:`~attnlib.chain.engine.runner`) is the API: it validates
the runs, splits them into groups and advances them. How one step is computed
is a detail behind it: :mod:`~attnlib.chain.engine.step` holds the batched step
(a torch row-block path), and :mod:`~attnlib.chain.engine.kernel` builds and
loads ``kernel.c``, the fused C kernel the compiled path calls.
:class:`BatchedEngine` (:mod:`~attnlib.chain.engine.batched`) is the other
program, for GPUs: every run in one batched float32 autograd step, captured as
a CUDA graph on CUDA, device-agnostic torch otherwise.
"""

from .batched import BatchedEngine
from .runner import Diverged, Engine, StepGrads
from .step import row_blocks

__all__ = ["BatchedEngine", "Diverged", "Engine", "StepGrads", "row_blocks"]
