"""The plot of ``highfive count``: a recording with the detections and, for counters
that report them, every window's probability of a high-five with the thresholds.

The legend sits above the panels, outside the axes, so it hides neither a sample nor a
detection wherever they fall.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from highfive.generators import Detection, Trace

from ._plots import _AXIS_COLOURS

__all__ = ["plot_count"]

PROB_POINTS = 100_000
"""At most this many probabilities are drawn (the largest of every k of a longer run)."""


def plot_count(
    trace: Trace,
    detections: Sequence[Detection] = (),
    *,
    windows: tuple[np.ndarray, np.ndarray] | None = None,
    on: float | None = None,
    off: float | None = None,
    gaps: Sequence[tuple[float, float]] = (),
    title: str = "",
) -> Figure:
    """The recording's three axes with the detections (black triangles) and, under
    them, the probability of every window (at its centre) with the on/off thresholds.

    Parameters
    ----------
    trace : Trace
        The samples to draw (NaN rows break the lines, as at gaps).
    detections : sequence of Detection
    windows : (centres, probabilities) or None
        None (a counter without probabilities): the lower panel is left out.
    on, off : float or None
        Thresholds drawn as dashed and dotted lines, when known.
    gaps : sequence of (start, end)
        Gaps in the recording (s): the probability line is broken there.
    title : str
    """
    ratios = [1.6, 1.0] if windows is not None else [1.0]
    fig, axes = plt.subplots(
        len(ratios),
        1,
        figsize=(11, 3.6 * sum(ratios) / 1.6 + 0.4),
        sharex=True,
        layout="constrained",
        height_ratios=ratios,
        squeeze=False,
    )
    ax = axes[0, 0]
    for i, name in enumerate("xyz"):
        ax.plot(trace.t, trace.samples[:, i], lw=0.9, color=_AXIS_COLOURS[i], label=name)
    if detections:
        # Above the data whatever its sign (a watch face down reads at most about 0).
        known = np.isfinite(trace.samples).any()
        top = float(np.nanmax(trace.samples)) if known else 1.0
        span = top - float(np.nanmin(trace.samples)) if known else 0.0
        times = [d.time for d in detections]
        above = top + 0.08 * (span if span > 0 else max(abs(top), 1.0))
        ax.plot(times, [above] * len(times), "kv", ms=7, label="detected")
    ax.set_ylabel("specific force (g)")
    ax.set_xlim(float(trace.t[0]), float(trace.t[-1]))
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10, parse_math=False)  # "$...$" in a file name is text
    if windows is not None:
        ax = axes[1, 0]
        centres, probs = _broken(*_thinned(*windows), gaps)
        ax.plot(centres, probs, lw=1.0, color="tab:purple", label="P(high-five) per window")
        if on is not None:
            ax.axhline(on, color="k", lw=0.8, ls="--", label=f"on {on:g}")
        if off is not None:
            ax.axhline(off, color="k", lw=0.8, ls=":", label=f"off {off:g}")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("P(high-five)")
        ax.grid(alpha=0.3)
    ax.set_xlabel("time (s)" + (", window centres below" if windows is not None else ""))
    handles = [h for a in axes[:, 0] for h in a.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), fontsize=8)
    return fig


def _thinned(centres: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The largest probability of every k windows (a peak is never thinned away).
    k = math.ceil(centres.size / PROB_POINTS)
    if k <= 1:
        return centres, probs
    whole = centres.size // k * k
    top = probs[:whole].reshape(-1, k).max(axis=1)
    if whole < centres.size:
        top = np.append(top, probs[whole:].max())
    return centres[::k], top


def _broken(
    centres: np.ndarray, probs: np.ndarray, gaps: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    # A NaN in the middle of each gap, so that no line is drawn across it.
    if not gaps:
        return centres, probs
    mids = np.array([(a + b) / 2 for a, b in gaps])
    at = np.searchsorted(centres, mids)
    return np.insert(centres, at, mids), np.insert(probs.astype(np.float64), at, np.nan)
