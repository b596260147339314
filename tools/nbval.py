"""Run nbval over chapter notebooks the way ``make notebooks-test`` does.

Usage: python tools/nbval.py [--native] [NOTEBOOK_OR_DIR ...]   (default: notebooks/)

nbval re-executes every cell and compares its output with the stored one. The stored
outputs were made on one CPU; this runs them on another floating-point path, the cheapest
stand-in for a reader's CPU we have: torch's generic (non-SIMD) ATen kernels, MKL's
conditional-numerical-reproducibility mode, OpenBLAS's generic x86 kernel, and a build of
the engine's compiled kernel without fused multiply-add.
``--native`` runs them on this machine's own kernels instead. (The engine's torch path, for
readers without a C compiler, passed these checks too, but for the line naming the path, in
one run with ``ATTNLIB_NO_COMPILE=1``: 10 minutes against about 5, so it is not the default.)

The comparison is exact text, except in two ways, each declared where it applies:
``tests/nbval_sanitize.cfg`` (memory addresses), and cells tagged ``nbval-rtol-X``, whose
printed numbers may differ by a relative X or one unit of their last printed digit
(``tests/nbval_tolerance.py``): float32 or chaotic results, explained in the chapter.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Generic floating-point kernels for torch, MKL and OpenBLAS (the last two on x86 only),
#: and the engine's kernel built without fused multiply-add.
GENERIC_FLOATING_POINT = {"ATEN_CPU_CAPABILITY": "default", "ATTNLIB_GENERIC_KERNEL": "1"}
if platform.machine().lower() in ("x86_64", "amd64"):
    GENERIC_FLOATING_POINT |= {"MKL_CBWR": "COMPATIBLE", "OPENBLAS_CORETYPE": "Prescott"}


def command(paths: list[str]) -> list[str]:
    """The pytest command line that checks these notebooks."""
    return [
        sys.executable, "-m", "pytest", "--nbval", *paths,
        "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
        "-p", "tests.nbval_tolerance", "-p", "no:cacheprovider", "-q",
        "--nbval-current-env",  # this interpreter's kernel, not whatever "python3" kernelspec is installed
    ]  # fmt: skip


def environment(native: bool = False) -> dict[str, str]:
    """The environment to run it in (this one, plus the generic kernels unless ``native``)."""
    env = dict(os.environ)
    if not native:
        env.update(GENERIC_FLOATING_POINT)
    return env


def main(argv: list[str]) -> int:
    native = "--native" in argv
    paths = [a for a in argv if a != "--native"] or [str(ROOT / "notebooks")]
    for path in paths:
        if not Path(path).exists():
            print(f"nbval: no such notebook or folder: {path}", file=sys.stderr)
            return 2
    if not native:
        print("nbval under generic floating-point kernels: " + " ".join(f"{k}={v}" for k, v in GENERIC_FLOATING_POINT.items()))
    return subprocess.run(command(paths), env=environment(native), cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
