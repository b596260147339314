"""nbval plugin: numbers compared within a tolerance in cells that declare one.

nbval compares a cell's output with the stored one as text. That is right for almost every
cell, and wrong for the few whose numbers come out of long float32 runs or chaotic dynamics:
their last digits depend on the CPU's floating-point path. Such a cell carries the tag
``nbval-rtol-X`` (for example ``nbval-rtol-0.02``) and its chapter says why. In it:

- the text around the numbers must be the same (runs of spaces count as one: column
  alignment may shift when a number gains a digit);
- the same count of numbers must appear, and each pair must agree within a relative ``X``
  or one unit of the last digit printed (so 602 vs 603 steps, 7 vs 8 in a standard
  deviation, or 0.29 vs 0.28 after a rounding flip, pass; 602 vs 640 does not at X = 0.02);
- counts written as fractions ("3/3 reached", "10/10") must be equal.

Only the stdout and text/plain outputs are compared this way; anything else a tagged cell
shows (stderr, HTML) is still compared exactly by nbval.

When that holds, the fresh output is replaced by the stored one and nbval's own comparison
passes; when it does not, nbval's comparison runs on the fresh output and fails with its
usual diff. Every other cell is compared exactly. Enabled with ``-p tests.nbval_tolerance``
(``tools/nbval.py`` does that).
"""

from __future__ import annotations

import math
import re

TAG_PREFIX = "nbval-rtol-"
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _last_digit_unit(token: str) -> float:
    """One unit of the last digit printed: 1 for '602', 0.01 for '0.29', 1e-11 for '4.1e-10'."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def split_numbers(text: str) -> tuple[str, list[str]]:
    """The text with every number replaced by ``#`` and runs of spaces collapsed, and the numbers.

    The numerator and denominator of a fraction such as ``3/3`` stay in the text: they are
    compared exactly.
    """
    numbers = []

    def take(match):
        before, after = text[match.start() - 1 : match.start()], text[match.end() : match.end() + 1]
        if "/" in (before, after):
            return match.group()
        numbers.append(match.group())
        return "#"

    skeleton = re.sub(r"[ \t]+", " ", NUMBER.sub(take, text))
    return skeleton, numbers


def numbers_agree(stored: str, fresh: str, rtol: float) -> bool:
    """True when the two texts differ at most in their numbers, each within ``rtol`` or one last digit."""
    skeleton_a, numbers_a = split_numbers(stored)
    skeleton_b, numbers_b = split_numbers(fresh)
    if skeleton_a != skeleton_b or len(numbers_a) != len(numbers_b):
        return False
    for a, b in zip(numbers_a, numbers_b):
        x, y = float(a), float(b)
        slack = rtol * max(abs(x), abs(y)) + max(_last_digit_unit(a), _last_digit_unit(b))
        if not (math.isfinite(x) and math.isfinite(y)) or abs(x - y) > slack * (1 + 1e-9):
            return False
    return True


def cell_rtol(cell) -> float | None:
    """The tolerance a cell declares with its ``nbval-rtol-X`` tag, or None."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag.startswith(TAG_PREFIX):
            try:
                value = float(tag[len(TAG_PREFIX):])
            except ValueError:
                raise ValueError(f"tag {tag!r}: expected {TAG_PREFIX}<number>, e.g. {TAG_PREFIX}0.02") from None
            if not 0 <= value < 1:
                raise ValueError(f"tag {tag!r}: the tolerance must be in [0, 1), got {value}")
            return value
    return None


def _is_stdout(out) -> bool:
    return out.get("output_type") == "stream" and out.get("name") == "stdout"


def _texts(outputs) -> list[str]:
    """The stdout text (merged, as nbval merges it) and each text/plain result, in order."""
    stdout = "".join(out.get("text", "") for out in outputs if _is_stdout(out))
    plain = [out["data"]["text/plain"] for out in outputs if "text/plain" in out.get("data", {})]
    return ([stdout] if stdout else []) + plain


def _within_tolerance(fresh_outputs, stored_outputs, rtol: float) -> bool:
    fresh, stored = _texts(fresh_outputs), _texts(stored_outputs)
    has_stdout = [any(map(_is_stdout, fresh_outputs)), any(map(_is_stdout, stored_outputs))]
    return (
        len(fresh) == len(stored)
        and has_stdout[0] == has_stdout[1]
        and all(numbers_agree(a, b, rtol) for a, b in zip(stored, fresh))
    )


def with_stored_numbers(fresh_outputs, stored_outputs) -> list:
    """The fresh outputs with their stdout and text/plain replaced by the stored ones; the rest as they are."""
    import copy

    patched = [copy.deepcopy(out) for out in fresh_outputs if not _is_stdout(out)]
    stored_plain = iter(out["data"]["text/plain"] for out in stored_outputs if "text/plain" in out.get("data", {}))
    for out in patched:
        if "text/plain" in out.get("data", {}):
            out["data"]["text/plain"] = next(stored_plain)
    return patched + [copy.deepcopy(out) for out in stored_outputs if _is_stdout(out)]


def pytest_configure(config):
    from nbval.plugin import IPyNbCell

    if getattr(IPyNbCell, "_attnlib_tolerant", False):
        return
    exact_compare = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        rtol = cell_rtol(self.cell)
        if rtol is not None and _within_tolerance(test, ref, rtol):
            test = with_stored_numbers(test, ref)  # within tolerance: the stored numbers stand
        return exact_compare(self, test, ref, skip_compare)

    IPyNbCell.compare_outputs = compare_outputs
    IPyNbCell._attnlib_tolerant = True
