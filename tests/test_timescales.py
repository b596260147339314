"""Chapter 7's timescales: settling steps and tail changes (attnlib.dynamics.timescales) and their figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlib.dynamics.timescales import settling_step, tail_change, timescale_metrics  # noqa: E402
from attnlib.teaching.plots.timescales import seed_bands  # noqa: E402


# --------------------------------------------------------------------------- measurements
def test_settling_step_cases():
    assert settling_step([3.0, 3.0, 3.0]) == 0
    assert settling_step([0.0, 10.0, 0.5, 0.0]) == 2  # a bump, then back within 1.0
    assert settling_step([0.0, 1.0], frac=0.5) == 1
    curve = 1.0 - np.exp(-np.arange(200) / 20.0)  # (T,) tau = 20: 90% done by ~46
    assert 40 <= settling_step(curve) <= 50
    with pytest.raises(ValueError, match=r"frac must be in \(0, 1\)"):
        settling_step([1.0, 2.0], frac=1.0)
    with pytest.raises(ValueError, match="at least one value"):
        settling_step([])


def test_tail_change_and_metrics():
    assert tail_change([1.0, 2.0, 4.0], window=1) == 0.5
    with pytest.raises(ValueError, match="longer than window=5"):
        tail_change([1.0, 2.0], window=5)
    with pytest.raises(ValueError, match="no relative change"):
        tail_change([1.0, 0.0], window=1)
    m = timescale_metrics({"a": [2.0, 1.0, 1.0, 1.0], "b": [1.0, 2.0, 3.0, 4.0]}, window=1)
    assert m["a"] == {"settle": 1, "tail": 0.0, "growth": 0.5}
    assert m["b"]["settle"] == 3 and m["b"]["growth"] == 4.0


# --------------------------------------------------------------------------- the band plot
def test_seed_bands_draws_median_band_and_references():
    fig, ax = plt.subplots()
    data = {"a": np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]), "b": [[1.0, 1.0]]}
    out = seed_bands({"a": np.arange(3), "b": np.arange(2)}, data, ax=ax, logy=True,
                     hlines={"ref": 2.0}, title="t", ylabel="y")
    assert out is ax and ax.get_yscale() == "log" and ax.get_title() == "t"
    assert np.allclose(ax.lines[0].get_ydata(), [2.0, 3.0, 4.0])  # the median
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "ref"]
    with pytest.raises(ValueError, match="series 'a' has 3 steps but its x has shape"):
        seed_bands(np.arange(4), {"a": data["a"]}, ax=ax)
    plt.close(fig)
