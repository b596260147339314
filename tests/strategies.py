"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import attnlib


@st.composite
def heads(draw, max_n=7, scales=(0.3, 0.5, 1.0, 2.0)):
    """A random head with a non-trivial initialisation: ``(params, X, y, causal)``."""
    n = draw(st.integers(1, max_n))
    d_x, d_k, d_v = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    n_classes = draw(st.integers(2, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    causal = draw(st.booleans())
    scale = draw(st.sampled_from(scales))
    params = attnlib.init_params(d_x, d_k, d_v, n_classes, scale=scale, rng=rng)
    X = rng.standard_normal((n, d_x))  # (N, d_x)
    y = rng.integers(0, n_classes, size=n)  # (N,)
    return params, X, y, causal
