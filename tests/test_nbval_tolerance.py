"""The tolerant comparison of ``nbval-rtol-X`` cells lets rounding through and nothing else."""

from __future__ import annotations

import pytest

from tests.nbval_tolerance import cell_rtol, numbers_agree, split_numbers


def test_numbers_are_split_from_the_text():
    skeleton, numbers = split_numbers("SGD    602, 596   1.74x  W_Q x10  -4.1e-10 ± 0.29")
    assert numbers == ["602", "596", "1.74", "-4.1e-10", "0.29"]
    assert skeleton == "SGD #, # #x W_Q x10 # ± #"


@pytest.mark.parametrize(
    "stored, fresh",
    [
        ("SGD 602, 596 steps", "SGD 603, 594 steps"),  # counts within 2 % or one
        ("final loss 1.3995", "final loss 1.3990"),
        ("0.35 ± 0.29", "0.35 ± 0.28"),  # a rounding flip in the last digit
        ("mean   99.5", "mean  100.5"),  # alignment shifts when a number gains a digit
        ("4.123e-10", "4.125e-10"),
    ],
)
def test_rounding_level_differences_pass(stored, fresh):
    assert numbers_agree(stored, fresh, rtol=0.02)


@pytest.mark.parametrize(
    "stored, fresh",
    [
        ("SGD 602, 596 steps", "SGD 640, 596 steps"),  # a real change in a count
        ("final loss 1.3995", "final loss 1.4995"),
        ("reached 3/3", "reached 2/3"),  # small counts are exact
        ("EM-like wins", "SGD wins"),  # the words must be the same
        ("1.0 2.0", "1.0 2.0 3.0"),  # and the count of numbers
        ("loss 2.03", "loss -2.03"),  # and the sign
        ("4.1e-10", "4.1e-08"),
    ],
)
def test_real_differences_fail(stored, fresh):
    assert not numbers_agree(stored, fresh, rtol=0.02)


def test_the_tag_declares_the_tolerance():
    assert cell_rtol({"metadata": {"tags": ["hide-input", "nbval-rtol-0.05"]}}) == 0.05
    assert cell_rtol({"metadata": {"tags": ["hide-input"]}}) is None
    with pytest.raises(ValueError, match="nbval-rtol-abc"):
        cell_rtol({"metadata": {"tags": ["nbval-rtol-abc"]}})
    with pytest.raises(ValueError, match="must be in"):
        cell_rtol({"metadata": {"tags": ["nbval-rtol-2"]}})
