"""Reports of gradient checks: one :class:`Check` per comparison, gathered in a
:class:`GradCheckReport` whose text form is one row per quantity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AUTOGRAD_TOL", "FD_TOL", "Check", "GradCheckReport", "compare_arrays"]

#: (rtol, atol) for closed form vs autograd: both are exact up to float64 rounding.
AUTOGRAD_TOL = (1e-8, 1e-12)
#: (rtol, atol) for closed form vs central differences with ``eps = 1e-6``:
#: truncation error O(eps^2) plus rounding O(1e-16 / eps).
FD_TOL = (1e-5, 1e-8)


# --------------------------------------------------------------------------- reports
@dataclass(frozen=True)
class Check:
    """One comparison of a claimed gradient with one reference.

    Attributes
    ----------
    name : str
        The quantity, e.g. ``"dL/dW_Q"``.
    reference : str
        ``"autograd"`` or ``"finite differences"``.
    shape : tuple
    max_abs_diff : float
        ``max |claimed - reference|`` over all entries.
    worst_index : tuple
        Where that largest difference sits.
    claimed, expected : float
        The two values at ``worst_index``.
    passed : bool
        Every entry satisfies ``|claimed - reference| <= atol + rtol |reference|``.
    """

    name: str
    reference: str
    shape: tuple
    max_abs_diff: float
    worst_index: tuple
    claimed: float
    expected: float
    passed: bool


@dataclass(frozen=True)
class GradCheckReport:
    """The result of comparing claimed gradients with the references.

    Examples
    --------
    >>> from attnlib import cross_entropy
    >>> from attnlib.reference import check_gradient
    >>> report = check_gradient("dL/dz", np.array([0.5, -0.5]),
    ...                         lambda z: cross_entropy(z, 1), np.zeros(2))
    >>> report.passed, report.passed_for("finite differences")
    (True, True)
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
    quantity   shape   finite differences
    dL/dz      (2,)    ok
    all 1 comparisons agree
    tolerances (|claimed - reference| <= atol + rtol |reference| entrywise): finite differences: rtol 1e-05, atol 1e-08
    """

    checks: tuple[Check, ...]
    tolerances: dict

    @property
    def passed(self) -> bool:
        """True when every comparison agrees within its tolerance."""
        return all(c.passed for c in self.checks)

    def passed_for(self, reference: str) -> bool:
        """True when every comparison with this reference (``"autograd"`` or ``"finite differences"``) agrees."""
        return all(c.passed for c in self.checks if c.reference == reference)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The comparisons that disagree."""
        return tuple(c for c in self.checks if not c.passed)

    def max_abs_diff(self, reference: str | None = None) -> float:
        """Largest difference over all comparisons (optionally with one reference only)."""
        diffs = [c.max_abs_diff for c in self.checks if reference in (None, c.reference)]
        return max(diffs) if diffs else 0.0

    def assert_ok(self) -> "GradCheckReport":
        """Raise ``AssertionError`` naming the first disagreeing entry; return self otherwise."""
        for c in self.failures:
            raise AssertionError(
                f"{c.name} disagrees with {c.reference} at index {c.worst_index}: "
                f"claimed {c.claimed:.6g}, {c.reference} gives {c.expected:.6g} "
                f"(|diff| {c.max_abs_diff:.2e})"
            )
        return self

    def __str__(self) -> str:
        references = list(dict.fromkeys(c.reference for c in self.checks))
        names = list(dict.fromkeys(c.name for c in self.checks))
        by_key = {(c.name, c.reference): c for c in self.checks}
        width = max(len("quantity"), *(len(n) for n in names)) + 3
        shapes = {c.name: str(c.shape) for c in self.checks}
        swidth = max(len("shape"), *(len(s) for s in shapes.values())) + 3
        lines = ["quantity".ljust(width) + "shape".ljust(swidth) + "".join(r.ljust(24) for r in references).rstrip()]
        for name in names:
            cells = []
            for ref in references:
                c = by_key.get((name, ref))
                # A passing |Δ| is rounding noise that differs from CPU to CPU, so only
                # the verdict is printed; a failing one is shown, with where it is.
                cells.append(
                    "-".ljust(24)
                    if c is None
                    else ("ok" if c.passed else f"BAD |Δ|max {c.max_abs_diff:.1e} at {c.worst_index}").ljust(24)
                )
            lines.append(name.ljust(width) + shapes[name].ljust(swidth) + "".join(cells).rstrip())
        tol = "; ".join(f"{r}: rtol {self.tolerances[r][0]:.0e}, atol {self.tolerances[r][1]:.0e}" for r in references)
        verdict = "agree" if self.passed else f"DISAGREE in {len(self.failures)} place(s)"
        lines.append(f"all {len(self.checks)} comparisons {verdict}")
        lines.append(f"tolerances (|claimed - reference| <= atol + rtol |reference| entrywise): {tol}")
        return "\n".join(lines)

    __repr__ = __str__


def compare_arrays(name: str, reference: str, claimed, expected, tol: tuple[float, float]) -> Check:
    """Compare ``claimed`` with ``expected`` entry by entry; return a :class:`Check`."""
    claimed = np.asarray(claimed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert claimed.shape == expected.shape, (name, claimed.shape, expected.shape)
    rtol, atol = tol
    diff = np.abs(claimed - expected)  # shape of the quantity
    ok = bool(np.all(diff <= atol + rtol * np.abs(expected))) and bool(np.all(np.isfinite(claimed)))
    if diff.size == 0:
        return Check(name, reference, claimed.shape, 0.0, (), 0.0, 0.0, ok)
    worst = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(diff), diff, np.inf))), diff.shape)
    return Check(
        name=name,
        reference=reference,
        shape=claimed.shape,
        max_abs_diff=float(diff[worst]),
        worst_index=tuple(int(i) for i in worst),
        claimed=float(claimed[worst]),
        expected=float(expected[worst]),
        passed=ok,
    )
