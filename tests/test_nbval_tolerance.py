"""The tolerant comparison of ``nbval-rtol-X`` cells lets rounding through and nothing else."""

from __future__ import annotations

import pytest

from tests.nbval_tolerance import _within_tolerance, cell_rtol, numbers_agree, split_numbers, with_stored_numbers


def test_numbers_are_split_from_the_text():
    skeleton, numbers = split_numbers("SGD    602, 596   1.74x  W_Q x10  -4.1e-10 ± 0.29  3/3")
    assert numbers == ["602", "596", "1.74", "-4.1e-10", "0.29"]
    assert skeleton == "SGD #, # #x W_Q x10 # ± # 3/3"


@pytest.mark.parametrize(
    "stored, fresh",
    [
        ("SGD 602, 596 steps", "SGD 603, 594 steps"),  # counts within 2 % or one
        ("final loss 1.3995", "final loss 1.3990"),
        ("0.35 ± 0.29", "0.35 ± 0.28"),  # a rounding flip in the last digit
        ("mean   99.5", "mean  100.5"),  # alignment shifts when a number gains a digit
        ("4.123e-10", "4.125e-10"),
        ("938 ± 2   -1 ± 12", "939 ± 3   -2 ± 11"),  # small integers move by one too
    ],
)
def test_rounding_level_differences_pass(stored, fresh):
    assert numbers_agree(stored, fresh, rtol=0.02)


@pytest.mark.parametrize(
    "stored, fresh",
    [
        ("SGD 602, 596 steps", "SGD 640, 596 steps"),  # a real change in a count
        ("final loss 1.3995", "final loss 1.4995"),
        ("reached 3/3", "reached 2/3"),  # fractions are exact
        ("init scale 0.5   10/10", "init scale 0.5    9/10"),
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


def _stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def test_only_stdout_and_text_plain_are_tolerated():
    stored = [_stream("loss 1.3995\n")]
    assert _within_tolerance([_stream("loss 1.3990\n")], stored, 0.02)
    result = {"output_type": "execute_result", "data": {"text/plain": "1"}, "metadata": {}, "execution_count": 1}
    assert not _within_tolerance([_stream("loss 1.3990\n")], stored + [result], 0.02)  # a result went missing
    fresh = [_stream("loss 1.3990\n"), _stream("RuntimeWarning: overflow\n", name="stderr")]
    patched = with_stored_numbers(fresh, stored)
    assert _stream("loss 1.3995\n") in patched  # the stored numbers stand ...
    assert _stream("RuntimeWarning: overflow\n", name="stderr") in patched  # ... and a new warning still shows
