"""Bad input raises a one-line ValueError/TypeError naming the argument and the value."""

from __future__ import annotations

import numpy as np
import pytest

import attnlib

PARAMS = attnlib.init_params(3, 2, 2, 4, rng=0)
X = np.random.default_rng(0).standard_normal((5, 3))
Y = np.array([0, 1, 2, 3, 0])


def _one_line(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


@pytest.mark.parametrize(
    "X_bad, error, fragment",
    [
        (np.zeros((5, 4)), ValueError, "X must have 3 columns"),
        (np.zeros((0, 3)), ValueError, "N >= 1"),
        (np.zeros(3), ValueError, "X must be 2-D"),
        (np.array([[0.0, np.nan, 1.0]]), ValueError, "X must be finite, got nan"),
        (np.array([[0.0, np.inf, 1.0]]), ValueError, "X must be finite, got inf"),
        ("abc", TypeError, "X must be a numeric array"),
        ([[1, 2], [3]], TypeError, "X must be a numeric array"),
    ],
)
def test_bad_X(X_bad, error, fragment):
    with pytest.raises(error) as excinfo:
        attnlib.forward(PARAMS, X_bad)
    assert fragment in _one_line(excinfo)


@pytest.mark.parametrize(
    "y_bad, error, fragment",
    [
        (np.array([0, 1, 2, 4, 0]), ValueError, "y must lie in [0, 4), got 4"),
        (np.array([0, 1, -1, 3, 0]), ValueError, "got -1"),
        (np.array([0.0, 1.0, 2.0, 3.0, 0.0]), TypeError, "y must hold integer class indices, got dtype float64"),
        (np.array([0, 1, 2]), ValueError, "y must have 5 labels"),
        (np.array([[0, 1, 2, 3, 0]]), ValueError, "y must be 1-D"),
        (np.array([True, False, True, True, False]), TypeError, "dtype bool"),
        ("01230", TypeError, "y must be an array of integer class indices"),
    ],
)
def test_bad_y(y_bad, error, fragment):
    cache = attnlib.forward(PARAMS, X)
    for call in (lambda: attnlib.loss(cache, y_bad), lambda: attnlib.backward(PARAMS, cache, y_bad)):
        with pytest.raises(error) as excinfo:
            call()
        assert fragment in _one_line(excinfo)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"W_K": np.zeros((3, 3))}, "W_K must have the shape of W_Q (3, 2), got (3, 3)"),
        ({"W_V": np.zeros((4, 2))}, "W_V must have 3 rows"),
        ({"W_O": np.zeros((3, 4))}, "W_O must have 2 rows"),
        ({"W_Q": np.full((3, 2), np.nan)}, "W_Q must be finite, got nan"),
        ({"W_O": np.zeros(4)}, "W_O must be 2-D"),
    ],
)
def test_bad_params(change, fragment):
    weights = PARAMS.as_dict() | change
    with pytest.raises(ValueError) as excinfo:
        attnlib.Params(**weights)
    assert fragment in _one_line(excinfo)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"d_x": 0}, ValueError, "d_x must be >= 1, got 0"),
        ({"d_k": 2.5}, TypeError, "d_k must be an integer"),
        ({"n_classes": 1}, ValueError, "n_classes must be >= 2, got 1"),
        ({"scale": -1.0}, ValueError, "scale must be a finite number > 0, got -1.0"),
        ({"scale": float("nan")}, ValueError, "scale must be a finite number > 0"),
        ({"rng": "seed"}, TypeError, "rng must be None, an int seed or a numpy Generator"),
    ],
)
def test_bad_init(kwargs, error, fragment):
    args = {"d_x": 3, "d_k": 2, "d_v": 2, "n_classes": 4} | kwargs
    rng = args.pop("rng", None)
    scale = args.pop("scale", 0.1)
    with pytest.raises(error) as excinfo:
        attnlib.init_params(**args, scale=scale, rng=rng)
    assert fragment in _one_line(excinfo)


def test_wrong_kinds_of_object():
    with pytest.raises(TypeError, match="params must be an attnlib.Params"):
        attnlib.forward({"W_Q": 1}, X)
    with pytest.raises(TypeError, match="causal must be True or False, got 'yes'"):
        attnlib.forward(PARAMS, X, causal="yes")
    with pytest.raises(TypeError, match="cache must be an attnlib.Cache"):
        attnlib.loss(X, Y)
    with pytest.raises(TypeError, match="cache must be an attnlib.Cache"):
        attnlib.backward(PARAMS, X, Y)


def test_mismatched_cache_and_params():
    other = attnlib.init_params(3, 2, 3, 4, rng=1)
    with pytest.raises(ValueError, match="cache was made by weights of other shapes"):
        attnlib.backward(other, attnlib.forward(PARAMS, X), Y)


def test_degenerate_but_legal_inputs_work():
    for d_k, n_classes in [(1, 2), (3, 2), (1, 7)]:
        params = attnlib.init_params(2, d_k, 1, n_classes, scale=1.0, rng=d_k)
        Xs = np.random.default_rng(2).standard_normal((3, 2))
        ys = np.array([0, 1, 1])
        for causal in (True, False):
            assert attnlib.reference.check_backward(params, Xs, ys, causal=causal).passed


def test_softmax_functions_validate():
    with pytest.raises(ValueError, match="y must lie in \\[0, 3\\), got 3"):
        attnlib.cross_entropy([1.0, 2.0, 3.0], 3)
    with pytest.raises(ValueError, match="z must be finite"):
        attnlib.softmax([1.0, np.inf])
    with pytest.raises(ValueError, match="at least one logit"):
        attnlib.logsumexp(np.zeros((2, 0)))
