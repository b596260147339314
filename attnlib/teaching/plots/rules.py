"""Rules every figure of the book keeps, and a checker that finds where a figure breaks them.

Three rules, each checked by :func:`figure_violations` on a drawn matplotlib Figure:

* **censored runs are shown** -- a run that did not cross a threshold within the steps it
  was given is drawn as a censored mark (:func:`mark_censored`), never left out. The
  checker cannot know which runs a figure was given, so this rule is checked where the
  data are known: :func:`censored_count` counts the censored marks, and the tests give
  each steps-to-threshold function data with runs that never cross;
* **reference lines differ** -- no two horizontal or vertical reference lines
  (``axhline``/``axvline``) of one axes share both colour and line style, unless they
  mark the same value (e.g. ``H_min`` drawn across and up);
* **log axes can be read** -- every logarithmic axis shows at least
  :data:`MIN_LOG_LABELS` labelled ticks inside its view limits
  (:func:`readable_log_ticks` sets such ticks).

Examples
--------
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> _ = ax.plot([1, 2], [0.7, 12.0]); ax.set_yscale("log")
>>> _ = ax.axhline(1.05, color="k", linestyle=":"); _ = ax.axhline(1.1, color="k", linestyle=":")
>>> for line in figure_violations(fig):
...     print(line)
axes 0: reference lines y=1.05 and y=1.1 share colour (0, 0, 0) and line style ':'
axes 0: log y axis has 2 labelled ticks in view (0.607 to 13.8), needs at least 3
>>> plt.close("all")
"""

from __future__ import annotations

import math

import matplotlib.ticker as mticker
import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D

__all__ = [
    "CENSORED_GID",
    "MIN_LOG_LABELS",
    "mark_censored",
    "censored_count",
    "reference_lines_of",
    "line_style_key",
    "readable_log_ticks",
    "figure_violations",
]

#: The ``gid`` of every artist that draws runs which did not cross a threshold.
CENSORED_GID = "censored-runs"
#: The fewest labelled ticks a logarithmic axis may show inside its view.
MIN_LOG_LABELS = 3


def mark_censored(ax, x, y, *, color, marker: str = ">", label: str | None = None, size: float = 8.0):
    """Draw runs that did not cross a threshold: open markers at ``(x, y)``, tagged :data:`CENSORED_GID`.

    Parameters
    ----------
    x, y : array_like, shape (k,)
        Where each censored run is drawn (usually at the horizon, the last step run).
    marker : str
        ``">"`` on a horizontal step axis, ``"^"`` on a vertical one: "later than this".

    Returns
    -------
    the Line2D drawn (no line, only markers)

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> _, ax = plt.subplots()
    >>> _ = mark_censored(ax, [1000, 1000], [0, 1], color="C0", label="did not cross")
    >>> censored_count(ax)
    2
    >>> plt.close("all")
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))  # (k,)
    y = np.atleast_1d(np.asarray(y, dtype=float))  # (k,)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have one shape, got {x.shape} and {y.shape}")
    (line,) = ax.plot(x, y, linestyle="none", marker=marker, markersize=size, markerfacecolor="white",
                      markeredgecolor=color, markeredgewidth=1.6, label=label, zorder=4, clip_on=False)
    line.set_gid(CENSORED_GID)
    return line


def censored_count(ax_or_fig) -> int:
    """How many censored runs (points of :func:`mark_censored` artists) an axes or figure shows."""
    axes = ax_or_fig.axes if hasattr(ax_or_fig, "savefig") else [ax_or_fig]
    return sum(len(line.get_xdata()) for ax in axes for line in ax.lines if line.get_gid() == CENSORED_GID)


def line_style_key(line) -> str:
    """A line's style as drawn: its name ("--", ":") or, for a custom dash pattern, the pattern."""
    style = line.get_linestyle()
    offset, dashes = getattr(line, "_unscaled_dash_pattern", (0, None))
    named = Line2D([], [], linestyle=style)
    if dashes is not None and getattr(named, "_unscaled_dash_pattern", (0, None))[1] != dashes:
        return f"dashes {tuple(round(float(d), 2) for d in dashes)}"
    return style


def reference_lines_of(ax) -> list[tuple[str, float, tuple, object]]:
    """The ``axhline``/``axvline`` lines of ``ax``: (orientation "x" or "y", value, rgba, linestyle)."""
    found = []
    for line in ax.lines:
        if not isinstance(line, Line2D) or line.get_linestyle() in ("None", "none", " ", ""):
            continue
        transform = line.get_transform()
        if transform == ax.get_yaxis_transform(which="grid"):  # axhline: x in axes coordinates
            orientation, values = "y", np.asarray(line.get_ydata(), dtype=float)
        elif transform == ax.get_xaxis_transform(which="grid"):  # axvline
            orientation, values = "x", np.asarray(line.get_xdata(), dtype=float)
        else:
            continue
        if values.size == 0 or not np.allclose(values, values[0]):
            continue
        style = line_style_key(line)
        rgba = tuple(round(c, 3) for c in to_rgba(line.get_color(), line.get_alpha()))
        found.append((orientation, float(values[0]), rgba, style))
    return found


def _reference_clashes(ax) -> list[str]:
    lines, out = reference_lines_of(ax), []
    for a in range(len(lines)):
        for b in range(a + 1, len(lines)):
            (oa, va, ca, sa), (ob, vb, cb, sb) = lines[a], lines[b]
            if ca == cb and sa == sb and not math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-12):
                colour = tuple(round(c, 2) for c in ca[:3]) if ca[3] == 1 else ca
                colour = tuple(int(c) if float(c).is_integer() else c for c in colour)
                out.append(f"reference lines {oa}={va:g} and {ob}={vb:g} share colour {colour} "
                           f"and line style {sa!r}")
    return out


def _labelled_ticks(axis, lo: float, hi: float) -> list[str]:
    """The non-empty labels of the major and minor ticks of ``axis`` that lie in [lo, hi]."""
    labels = []
    for locator, formatter in ((axis.get_major_locator(), axis.get_major_formatter()),
                               (axis.get_minor_locator(), axis.get_minor_formatter())):
        locs = [v for v in locator() if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]
        if locs:
            labels += [text for text in formatter.format_ticks(locs) if text.strip()]
    return labels


def _log_axis_problems(ax) -> list[str]:
    out = []
    for name, axis, scale, limits in (("x", ax.xaxis, ax.get_xscale(), ax.get_xlim()),
                                      ("y", ax.yaxis, ax.get_yscale(), ax.get_ylim())):
        if scale != "log":
            continue
        lo, hi = sorted(limits)
        labels = _labelled_ticks(axis, lo, hi)
        if len(labels) < MIN_LOG_LABELS:
            out.append(f"log {name} axis has {len(labels)} labelled ticks in view ({lo:.3g} to {hi:.3g}), "
                       f"needs at least {MIN_LOG_LABELS}")
    return out


def figure_violations(fig) -> list[str]:
    """Every break of the reference-line and log-axis rules in ``fig``, one line each ("axes k: ...").

    The figure is drawn first (on its own canvas), so limits and ticks are final.
    Colour bars and other axes without data lines are checked like any axes.
    """
    fig.canvas.draw()
    out = []
    for k, ax in enumerate(fig.axes):
        out += [f"axes {k}: {problem}" for problem in _reference_clashes(ax) + _log_axis_problems(ax)]
    return out


# ----------------------------------------------------------------------------- readable log ticks


class _ReadableLogLocator(mticker.Locator):
    """Ticks 1-2-5 (or 1..9) per decade when few decades are in view, decades when many."""

    def __call__(self):
        vmin, vmax = self.axis.get_view_interval()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin, vmax):
        lo, hi = sorted((float(vmin), float(vmax)))
        if not (hi > 0 and np.isfinite(hi)):
            return np.array([])
        lo = lo if lo > 0 else hi / 1e3
        decades = math.log10(hi / lo)
        if decades > 6:
            return mticker.LogLocator(base=10.0, numticks=8).tick_values(lo, hi)
        first, last = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
        for subs in ((1.0,), (1.0, 2.0, 5.0), tuple(float(s) for s in range(1, 10))):
            ticks = np.array([s * 10.0**e for e in range(first, last + 1) for s in subs])  # (n,)
            inside = ticks[(ticks >= lo * (1 - 1e-9)) & (ticks <= hi * (1 + 1e-9))]
            if inside.size >= 4 or (subs[-1] == 9.0 and inside.size >= MIN_LOG_LABELS):
                return ticks
        # less than a factor of about 1.5 in view: evenly spaced ticks read best
        return mticker.MaxNLocator(nbins=5).tick_values(lo, hi)


def _plain_number(value: float, _pos=None) -> str:
    if value <= 0 or not np.isfinite(value):
        return ""
    if 1e-3 <= value < 1e5:
        return f"{value:.3g}"
    exponent = math.floor(math.log10(value))
    mantissa = value / 10.0**exponent
    return f"$10^{{{exponent}}}$" if math.isclose(mantissa, 1.0) else f"${mantissa:.2g}\\times10^{{{exponent}}}$"


def readable_log_ticks(ax, axis: str = "y"):
    """Give a logarithmic axis enough labelled ticks to read the changes it shows.

    Few decades in view get ticks at 1, 2 and 5 (or every digit) times each power of ten,
    labelled as plain numbers ("0.8", "2", "50"); many decades get labelled powers of ten.
    The choice is made whenever the figure is drawn, so later changes of the limits are
    followed.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [0.8, 1.25]); ax.set_yscale("log")
    >>> _ = readable_log_ticks(ax, "y")
    >>> figure_violations(fig)
    []
    >>> plt.close("all")
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(_ReadableLogLocator())
    target.set_major_formatter(mticker.FuncFormatter(_plain_number))
    target.set_minor_formatter(mticker.NullFormatter())
    return ax
