"""Flop counts of every line of the forward and backward pass (chapter 5)."""

from __future__ import annotations

import pytest

from attnlib.head.costs import step_flops


def test_step_flops_products_match_shapes_and_totals():
    N, d_x, d_k, d_v, C = 9, 5, 3, 4, 6
    lines = {line.number: line for line in step_flops(N, d_x, d_k, d_v, C)}
    assert len(lines) == 21
    quadratic_products = {k for k, line in lines.items() if line.quadratic and line.matmul}
    assert quadratic_products == {"F4", "F6", "4", "8", "9", "10"}
    forward_nn = sum(lines[k].matmul for k in ("F4", "F6"))
    backward_nn = sum(lines[k].matmul for k in ("4", "8", "9", "10"))
    assert forward_nn == 2 * N * N * (d_k + d_v) and backward_nn == 4 * N * N * (d_k + d_v)
    assert lines["5"].flops == 2 * N * d_v  # u_i . o_i, not the O(N^2) sum over keys


def test_step_flops_scaling_and_causal_half():
    def quad(n, **kw):
        return sum(l.flops for l in step_flops(n, 20, 10, 15, 8, **kw) if l.quadratic)

    def lin(n):
        return sum(l.flops for l in step_flops(n, 20, 10, 15, 8) if not l.quadratic)

    assert quad(20000) / quad(10000) == pytest.approx(4.0, rel=1e-3)
    assert lin(20000) / lin(10000) == pytest.approx(2.0, rel=1e-12)
    assert quad(10000, skip_masked=True) / quad(10000) == pytest.approx(0.5, rel=1e-3)
    assert quad(1999) / (quad(1999) + lin(1999)) > 0.98


def test_step_flops_validates():
    with pytest.raises(ValueError, match="N must be >= 1"):
        step_flops(0, 2, 2, 2, 2)
    with pytest.raises(TypeError, match="skip_masked"):
        step_flops(3, 2, 2, 2, 2, skip_masked=1)
