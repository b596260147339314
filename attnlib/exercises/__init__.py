"""Exercise checkers: each calls a student's function on fresh cases, edge cases
included, compares it with the book's implementation and says what is wrong.

One module per chapter; every checker returns a
:class:`~attnlib.exercises._core.CheckResult`.
"""

from ._core import Case, CheckResult, Mistake, run_checker
from .ch01 import check_cross_entropy_grad

__all__ = ["Case", "CheckResult", "Mistake", "run_checker", "check_cross_entropy_grad"]
