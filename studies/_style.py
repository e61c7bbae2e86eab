"""The studies' one figure style: fonts, grids, legends, and the rules every figure follows.

Imported by each ``studies/_*_plots.py`` module (importing applies ``RC``). The rules:

* every marker drawn has its legend entry, and no legend entry or title names a marker that is
  not drawn (``marker_legend`` adds the entries of the marker kinds actually present);
* an axis that spans decades carries at least three measured points, or its theory curves are
  drawn only over the measured range (``curve_span``);
* intervals are drawn as bars or bands and their level is said on the axis label.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "legend.framealpha": 0.85,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
}
plt.rcParams.update(RC)


def marker_legend(ax, kinds: dict, **legend_kw):
    """Add the legend entries of the marker kinds present: ``kinds`` maps a label to matplotlib
    marker keywords (e.g. ``{"Student-t": dict(marker="s", mfc="white")}``); kinds with ``None``
    are skipped. Returns the legend."""
    handles, labels = ax.get_legend_handles_labels()
    for label, kw in kinds.items():
        if kw is None:
            continue
        kw = {"color": "k", **kw}  # the caller's dict is left as it is
        handles.append(Line2D([], [], ls="none", **kw))
        labels.append(label)
    return ax.legend(handles, labels, **legend_kw)


def curve_span(xs, lo: float, hi: float, n: int = 60, min_points: int = 3, pad: float = 1.5):
    """Log-spaced abscissae for a theory curve: ``[lo, hi]`` when the measured ``xs`` have at
    least ``min_points`` distinct values, else only around them (``pad`` either side) so that a
    single measured point is not set against decades of theory."""
    xs = np.unique(np.asarray(xs, float))
    if xs.size >= min_points:
        return np.logspace(np.log10(lo), np.log10(hi), n)
    return np.logspace(np.log10(xs.min() / pad), np.log10(xs.max() * pad), n)


def grid_log_axis(ax, values, base: float = 10):
    """A log x axis with ticks at the grid's ``values`` only, labelled plainly (no 2×10⁰), and no
    minor ticks (a log axis over a short range crowds or drops its labels otherwise)."""
    values = list(values)
    ax.set_xscale("log", base=base)
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.minorticks_off()


def columns(rows, *keys):
    """The values of each key over ``rows`` (a list of dicts), one NumPy array per key."""
    return tuple(np.array([r[k] for r in rows]) for k in keys)


def loglog_panel(ax, xlabel, ylabel, title, title_size: float = 10):
    """Finish a log–log panel: both axes logarithmic, the labels, the title, the legend and the
    major and minor grid."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=title_size)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
