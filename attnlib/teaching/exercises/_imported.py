"""Did a student's answer run the package's own implementation?

Every code exercise asks for something the package already computes (the
routing law is :func:`attnlib.laws.routing.score_gradient`, the softmax
backward is :func:`attnlib.softmax_backward`...). A checker must not give
credit for handing it that function, nor for a thin wrapper of it: a lambda, a
``functools.partial``, a ``def`` that calls it, a copy of its code object under
another name.

Names and identities are easy to dodge, so the test is by behaviour: while the
student's function runs, a profile hook (:func:`sys.setprofile`, available on
every supported Python) records whether the code object of any of the
package's answer functions was entered. Any wrapper, however deep, has to
enter that code to get the answer from it. What the hook does not see (and
does not need to): a student who writes the computation out, even with the
same lines as the book, and code run in another thread.

Examples
--------
>>> import numpy as np
>>> from attnlib.head.softmax import softmax_backward
>>> with watch_calls([softmax_backward]) as seen:
...     _ = (lambda a, g: softmax_backward(a, g))(np.eye(2), np.ones((2, 2)))
>>> seen.names
['attnlib.head.softmax.softmax_backward']
>>> with watch_calls([softmax_backward]) as seen:
...     _ = np.eye(2) * np.ones((2, 2))
>>> seen.names
[]
"""

from __future__ import annotations

import functools
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import CodeType
from typing import Callable, Iterable, Iterator

__all__ = ["CallsSeen", "watch_calls", "code_of"]


@dataclass
class CallsSeen:
    """The watched functions that ran inside a :func:`watch_calls` block (first call order)."""

    names: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.names)


def code_of(function: Callable) -> CodeType:
    """The code object that runs when ``function`` is called (through partials and decorators).

    Examples
    --------
    >>> import functools
    >>> def f(x, y): return x + y
    >>> code_of(functools.partial(f, 1)) is f.__code__
    True
    """
    while isinstance(function, functools.partial):
        function = function.func
    function = getattr(function, "__wrapped__", function)
    code = getattr(function, "__code__", None)
    if code is None:
        raise TypeError(f"function must be a Python function, got {type(function).__name__} {function!r}")
    return code


def _qualified_name(function: Callable) -> str:
    while isinstance(function, functools.partial):
        function = function.func
    return f"{function.__module__}.{function.__qualname__}"


@contextmanager
def watch_calls(functions: Iterable[Callable]) -> Iterator[CallsSeen]:
    """Record which of ``functions`` are entered, at any depth, inside the ``with`` block.

    The previous profile function (a profiler's) is suspended inside the block and put back
    on exit.
    """
    names = {code_of(f): _qualified_name(f) for f in functions}
    seen = CallsSeen()
    previous = sys.getprofile()

    def hook(frame, event, arg):
        if event == "call" and frame.f_code in names:
            name = names[frame.f_code]
            if name not in seen.names:
                seen.names.append(name)

    sys.setprofile(hook)
    try:
        yield seen
    finally:
        sys.setprofile(previous)
