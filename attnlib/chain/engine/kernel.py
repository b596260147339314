"""Build and load the engine's compiled kernel (``kernel.c``), or say why not.

The engine (:mod:`attnlib.chain.engine`) has two ways to do a step: torch calls on row
blocks, which work everywhere, and one compiled C function that fuses the whole
forward and backward pass (``kernel.c`` explains it), about 2.5 times
faster per core. This module compiles that function with the system's C compiler the first
time a given shape is needed (about a second), caches the shared library, and
hands back a callable; when there is no compiler, or the build fails, it returns
``None`` and :func:`unavailable_reason` says why, so the engine quietly uses torch.

The cache lives in ``$ATTNLIB_CACHE_DIR`` (default ``~/.cache/attnlib``); a build is
keyed by the source, the flags, the dimensions and the CPU's feature flags (it is
compiled with ``-march=native``). The compiler is ``$CC``, else the first of ``cc``,
``gcc``, ``clang`` found. Set ``ATTNLIB_NO_COMPILE=1`` to never compile, and
``ATTNLIB_GENERIC_KERNEL=1`` for a build without fused multiply-add (``-ffp-contract=off``):
another floating-point path at about the same speed, which the book's notebook checks use as
a stand-in for a reader's CPU (``tools/nbval.py``). (A build for the baseline instruction set
was tried first: the notebook checks took minutes longer.)

Examples
--------
>>> kernel = load_kernel(20, 10, 8)
>>> kernel is None or kernel.dims == (20, 10, 8)
True
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from ..._validate import as_positive_int

__all__ = ["Kernel", "load_kernel", "unavailable_reason"]

_SOURCE = Path(__file__).with_name("kernel.c")
_FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-pthread", "-std=gnu11", "-fno-math-errno")
_GENERIC_FLAGS = _FLAGS + ("-ffp-contract=off",)  # every a * b + c rounded twice


def _flags() -> tuple[str, ...]:
    """The compiler flags: with fused multiply-adds, or without when ``ATTNLIB_GENERIC_KERNEL`` is set."""
    return _GENERIC_FLAGS if os.environ.get("ATTNLIB_GENERIC_KERNEL", "") not in ("", "0") else _FLAGS
_reasons: dict[tuple, str] = {}  # (d_x, d_k, n_classes, lanes) -> why there is no kernel


class Kernel:
    """The compiled step for one ``(d_x, d_k, n_classes)``: ``kernel.step(...)`` on torch tensors.

    Attributes
    ----------
    dims : tuple of int
        ``(d_x, d_k, n_classes)`` it was compiled for.
    lanes : int
        Rows per SIMD vector (16 with AVX-512, else 8).
    path : str
        The shared library.
    """

    def __init__(self, path: str, dims: tuple[int, int, int]):
        lib = ctypes.CDLL(path)
        info = [ctypes.c_int() for _ in range(4)]
        lib.attn_kernel_info(*[ctypes.byref(v) for v in info])
        self.lanes = info[0].value
        self.dims = tuple(v.value for v in info[1:])
        if self.dims != dims:
            raise RuntimeError(f"kernel at {path} was built for {self.dims}, not {dims}")
        self.path = path
        self._step = lib.attn_step
        self._step.restype = ctypes.c_int
        self._step.argtypes = [ctypes.c_int] * 7 + [ctypes.c_void_p] * 13
        self._scratch_floats = lib.attn_scratch_floats
        self._scratch_floats.restype = ctypes.c_long
        self._scratch_floats.argtypes = [ctypes.c_int] * 3

    def scratch(self, n_runs: int, n_positions: int, threads: int):
        """The working memory :meth:`step` needs for this many runs, positions and threads (a torch tensor)."""
        import torch

        return torch.empty(self._scratch_floats(n_runs, n_positions, threads), dtype=torch.float32)

    def step(self, *, X, P, WVO, y, m, EX1, Z, gsq, nll, dA, AXdz, scratch, dVa=None,
             causal=True, exact=False, forward_only=False, threads=1):  # fmt: skip
        """One step for every run, on contiguous torch tensors (float32; ``y`` int64).

        Reads ``X`` (R, N, d_x), ``P`` (R, N, 2 d_k + C) ``[q_i / sqrt(d_k), k_i, x_i W_V W_O]``,
        ``WVO`` (R, d_x, C) and ``y`` (R, N). Fills ``m`` (R, N) the score shifts, ``EX1``
        (R, N, d_x+1) ``[sum_j e_ij x_j, l_i]``, ``Z`` (R, N, C) the logits, ``gsq`` (R, N)
        ``sum_j (N l_i dL/ds_ij)^2``, ``nll`` (R, N) ``-log p_i[y_i]``, ``dA`` (R, d_x, d_x)
        ``X^T (dL/dS) X``, ``AXdz`` (R, d_x, C) ``(alpha X)^T dL/dZ`` and, if given, ``dVa``
        (R, N, C) ``alpha^T dZ``. With ``forward_only`` only the first five. ``scratch`` is
        from :meth:`scratch` with the same runs, positions and threads. Releases the GIL.
        """
        R, N = X.shape[0], X.shape[1]
        if scratch.numel() < self._scratch_floats(R, N, threads) or scratch.data_ptr() % 64:
            raise ValueError("scratch must come from Kernel.scratch(R, N, threads) with the same arguments")
        tensors = (X, P, WVO, y, m, EX1, Z, gsq, nll, dA, AXdz, dVa, scratch)
        for t in tensors:
            if t is not None and not t.is_contiguous():
                raise ValueError("kernel tensors must be contiguous")
        pointers = [None if t is None else t.data_ptr() for t in tensors]
        self._step(R, N, int(causal), int(exact), int(forward_only), int(dVa is not None), int(threads), *pointers)


def _cpu_signature() -> str:
    """The CPU's feature flags (what ``-march=native`` depends on), or the machine name."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    import platform

    return platform.machine() + platform.processor()


def _cache_dir() -> Path:
    root = os.environ.get("ATTNLIB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "attnlib"
    )
    return Path(root) / "kernels"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@cache
def _load(dims: tuple[int, int, int], lanes: int | None) -> Kernel | None:
    key_dims = (*dims, lanes)
    if os.environ.get("ATTNLIB_NO_COMPILE", "") not in ("", "0"):
        _reasons[key_dims] = "ATTNLIB_NO_COMPILE is set"
        return None
    cc = _compiler()
    if cc is None:
        _reasons[key_dims] = "no C compiler found (cc, gcc or clang)"
        return None
    defines = tuple(f"-D{name}={value}" for name, value in zip(("DX", "DK", "NC"), dims))
    if lanes is not None:
        defines += (f"-DLANES={lanes}",)
    try:
        source = _SOURCE.read_bytes()
    except OSError:
        _reasons[key_dims] = f"the kernel source {_SOURCE} is missing from this installation"
        return None
    flags = _flags()
    key = hashlib.sha256(b"\0".join([source, " ".join(flags + defines).encode(), _cpu_signature().encode()]))
    target = _cache_dir() / f"attn_{dims[0]}_{dims[1]}_{dims[2]}_{key.hexdigest()[:16]}.so"
    try:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                built = Path(tmp) / target.name
                proc = subprocess.run([cc, *flags, *defines, str(_SOURCE), "-o", str(built), "-lm"],
                                      capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
                if proc.returncode != 0:
                    first = (proc.stderr.strip().splitlines() or ["(no output)"])[0]
                    _reasons[key_dims] = f"the C compiler failed: {first}"
                    return None
                os.replace(built, target)  # atomic: a concurrent build just overwrites it
        return Kernel(str(target), dims)
    except (OSError, subprocess.SubprocessError, RuntimeError) as err:
        _reasons[key_dims] = f"could not build or load the kernel: {err}"
        return None


def load_kernel(d_x: int, d_k: int, n_classes: int, *, lanes: int | None = None) -> Kernel | None:
    """The compiled kernel for these dimensions, building it on first use; ``None`` if it cannot be.

    ``lanes`` forces the SIMD width (8 or 16 rows per vector) instead of the
    CPU's widest; the tests use it to check the narrower build too.

    Examples
    --------
    >>> load_kernel(0, 10, 8)
    Traceback (most recent call last):
    ...
    ValueError: d_x must be >= 1, got 0
    >>> load_kernel(20, 10, 8, lanes=5)
    Traceback (most recent call last):
    ...
    ValueError: lanes must be None, 8 or 16, got 5
    """
    dims = (as_positive_int(d_x, "d_x"), as_positive_int(d_k, "d_k"), as_positive_int(n_classes, "n_classes"))
    if lanes not in (None, 8, 16):
        raise ValueError(f"lanes must be None, 8 or 16, got {lanes!r}")
    return _load(dims, lanes)


def unavailable_reason(d_x: int, d_k: int, n_classes: int, *, lanes: int | None = None) -> str | None:
    """Why :func:`load_kernel` returned ``None`` for these dimensions (``None`` if it did not)."""
    if load_kernel(d_x, d_k, n_classes, lanes=lanes) is not None:
        return None
    return _reasons.get((int(d_x), int(d_k), int(n_classes), lanes), "unknown")
