"""Plots a person looks at: traces with their truth events and the counter's output.

Figures are saved to a file (:func:`save_figure`) or encoded for a ``data:`` URI of the
HTML report (:func:`figure_png_base64`).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from highfive.generators import Detection, Trace
from highfive.harness import FilterBank, atomic_path, to_uniform

__all__ = ["DPI", "figure_png_base64", "plot_replay", "plot_trace", "save_figure"]

DPI = 100

_AXIS_COLOURS = ("tab:red", "tab:green", "tab:blue")
_MODEL_COLOURS = ("tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
"""Counters' colours in the replay plot: none of the axes' (the first was red as x)."""


def plot_trace(
    trace: Trace,
    detections: Sequence[Detection] = (),
    *,
    title: str | None = None,
) -> Figure:
    """Three axes over time; truth events shaded (green: counted, grey: not counted).

    Impacts are dotted lines; detections, if given, are black triangles on top.
    """
    fig, ax = plt.subplots(figsize=(11, 3.6), layout="constrained")
    for e in trace.events:
        colour = "tab:green" if e.is_high_five else "0.6"
        ax.axvspan(e.start, e.end, color=colour, alpha=0.18, lw=0)
        ax.text(
            e.start,
            1.0,
            e.motion,
            transform=ax.get_xaxis_transform(),
            va="bottom",
            ha="left",
            fontsize=8,
            color="tab:green" if e.is_high_five else "0.35",
        )
        if e.impact is not None:
            ax.axvline(e.impact, color=colour, ls=":", lw=1.2)
    for i, name in enumerate("xyz"):
        ax.plot(trace.t, trace.samples[:, i], lw=0.9, color=_AXIS_COLOURS[i], label=name)
    if detections:
        top = float(trace.samples.max()) if trace.samples.size else 1.0
        ax.plot(
            [d.time for d in detections],
            [top * 1.08] * len(detections),
            "kv",
            ms=7,
            label="detected",
        )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("specific force (g)")
    ax.set_xlim(trace.t[0], trace.t[-1])
    ax.grid(alpha=0.3)
    _legend_above(fig)
    p = trace.params
    ax.set_title(
        title
        or f"{p.get('motion', 'recording')} - {trace.fs:g} Hz, "
        f"{trace.n_high_fives} high-five(s) in {trace.duration:.1f} s",
        fontsize=10,
        pad=14,
        parse_math=False,  # a file name's "$...$" is text, not TeX
    )
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Save ``fig`` atomically (format from the suffix) and close it; the same figure
    gives the same bytes in every format."""
    suffix = os.fspath(path).rsplit(".", 1)[-1] if "." in os.fspath(path) else "png"
    # The same figure, the same bytes: no time of writing (PDF, PostScript, SVG), and
    # SVG's element ids from a fixed salt rather than a random one.
    metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(suffix.lower())
    # PostScript takes its date from SOURCE_DATE_EPOCH only, and its title from a file
    # name (the temporary one): it is written to an open file, at the epoch.
    epoch = {"SOURCE_DATE_EPOCH": "0"} if suffix.lower() in ("ps", "eps") else {}
    saved = {k: os.environ.get(k) for k in epoch}
    try:
        os.environ.update(epoch)
        with (
            atomic_path(path) as tmp,
            open(tmp, "wb") as fh,
            plt.rc_context({"svg.hashsalt": "highfive"}),
        ):
            fig.savefig(fh, format=suffix, dpi=110, metadata=metadata)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        plt.close(fig)


def figure_png_base64(fig: Figure, dpi: int = DPI) -> str:
    """Render ``fig`` as PNG, close it, and return the base64 text for a data URI."""
    buf = io.BytesIO()
    try:
        fig.set_dpi(dpi)
        if fig.get_layout_engine() is not None:
            # Lay out once, then freeze: savefig would run the layout engine twice more.
            fig.canvas.draw()
            fig.set_layout_engine("none")
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_replay(
    trace: Trace,
    results: Mapping[str, Any],
    *,
    spec: Any = None,
    title: str = "",
) -> Figure:
    """Trace, scalogram and each model's window probabilities, on one time axis.

    ``results`` maps a counter id to its :class:`~highfive.harness.CountResult`
    (None: the counter gave no answer); ``spec`` is an ONNX model's
    :class:`~highfive.harness.ModelSpec` (rate, scales, thresholds). Without a spec
    the scalogram panel is left out; counters without window probabilities (empty
    ``probs``) are left out of the probability panel, dropped when none has any.
    """
    with_probs = {m: r for m, r in results.items() if r is not None and np.size(r.probs)}
    ratios = [1.2] + [1.0] * (spec is not None) + [0.8] * bool(with_probs)
    fig, axes = plt.subplots(
        len(ratios),
        1,
        figsize=(11, 7.5 * sum(ratios) / 3.0),
        sharex=True,
        layout="constrained",
        height_ratios=ratios,
        squeeze=False,
    )
    panels = list(axes[:, 0])
    ax = panels.pop(0)
    for e in trace.events:
        colour = "tab:green" if e.is_high_five else "0.6"
        ax.axvspan(e.start, e.end, color=colour, alpha=0.18, lw=0)
        ax.text(e.start, 1.0, e.motion, transform=ax.get_xaxis_transform(), va="bottom", fontsize=8)
        if e.impact is not None:
            ax.axvline(e.impact, color=colour, ls=":", lw=1.2)
    for i, name in enumerate("xyz"):
        ax.plot(trace.t, trace.samples[:, i], lw=0.8, color=_AXIS_COLOURS[i], label=name)
    top = float(np.max(trace.samples))
    for k, (model, res) in enumerate(results.items()):
        if res is None:
            continue
        ax.plot(
            [d.time for d in res.detections],
            [top * (1.1 + 0.1 * k)] * res.count,
            "v",
            ms=7,
            color=_MODEL_COLOURS[k % len(_MODEL_COLOURS)],
            label=f"{model} detections",
        )
    ax.set_ylabel("specific force (g)")
    ax.set_title(title, fontsize=10, pad=14, parse_math=False)  # "$...$" in a path is text

    if spec is not None:
        ax = panels.pop(0)
        t_u, x_u = to_uniform(trace.t, trace.samples, trace.fs, spec.sample_rate)
        bank = FilterBank(spec.sample_rate, int(x_u.shape[0]), tuple(spec.scales), spec.wavelet)
        mag = bank(x_u[None])[0].mean(axis=0)  # (S, n): mean over the three axes
        freqs = np.asarray(spec.freqs_hz)
        ax.pcolormesh(t_u, freqs, np.log1p(mag / spec.norm_scale), shading="auto", cmap="magma")
        ax.set_yscale("log")
        ax.set_ylabel("frequency (Hz)")
        ax.set_title("scalogram |W| (mean of the axes, log scale)", fontsize=9)

    if with_probs:
        ax = panels.pop(0)
        for k, model in enumerate(results):
            if model in with_probs:
                res = with_probs[model]
                ax.plot(
                    res.centres,
                    res.probs,
                    lw=1.2,
                    color=_MODEL_COLOURS[k % len(_MODEL_COLOURS)],
                    label=model,
                )
        if spec is not None:
            ax.axhline(spec.on, color="k", lw=0.8, ls="--", label=f"on {spec.on:g}")
            ax.axhline(spec.off, color="k", lw=0.8, ls=":", label=f"off {spec.off:g}")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("P(high-five)")
        ax.set_xlabel("time (s), window centres")
        ax.grid(alpha=0.3)
    else:
        ax.set_xlabel("time (s)")
    # The trace's own span (the panels share it): no margin past its first or last sample.
    if trace.t.size > 1:
        ax.set_xlim(float(trace.t[0]), float(trace.t[-1]))
    _legend_above(fig)
    return fig


def _legend_above(fig: Figure) -> None:
    """One legend for every panel, above them: inside an axes it hid detection markers,
    which sit at the top of the signal panel."""
    handles = [h for a in fig.axes for h in a.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 6), fontsize=8)
