"""Plots a person looks at: traces with their truth events and the counter's output."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from highfive.generators import Detection, Trace

__all__ = ["plot_replay", "plot_trace", "save_figure"]

_AXIS_COLOURS = ("tab:red", "tab:green", "tab:blue")


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
    ax.legend(loc="upper right", ncols=4, fontsize=8, framealpha=0.8)
    p = trace.params
    ax.set_title(
        title
        or f"{p.get('motion', 'recording')} - {trace.fs:g} Hz, "
        f"{trace.n_high_fives} high-five(s) in {trace.duration:.1f} s",
        fontsize=10,
        pad=14,
    )
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Save ``fig`` atomically (format from the suffix) and close it."""
    from highfive.harness._io import atomic_path

    suffix = os.fspath(path).rsplit(".", 1)[-1] if "." in os.fspath(path) else "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix, dpi=110)
    plt.close(fig)


def plot_replay(
    trace: Trace,
    results: Mapping[str, Any],
    *,
    spec: Any,
    title: str = "",
) -> Figure:
    """Trace, scalogram and each model's window probabilities, on one time axis.

    ``results`` maps a model name to its :class:`~highfive.harness.CountResult`;
    ``spec`` is the model's :class:`~highfive.harness.ModelSpec` (rate, scales,
    thresholds).
    """
    import numpy as np

    from highfive.harness._preprocess import to_uniform
    from highfive.harness._scalogram import FilterBank

    fig, axes = plt.subplots(
        3, 1, figsize=(11, 7.5), sharex=True, layout="constrained", height_ratios=[1.2, 1.0, 0.8]
    )
    ax = axes[0]
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
        ax.plot(
            [d.time for d in res.detections],
            [top * (1.1 + 0.1 * k)] * res.count,
            "v",
            ms=7,
            color=f"C{k + 3}",
            label=f"{model} detections",
        )
    ax.set_ylabel("specific force (g)")
    ax.legend(loc="upper right", ncols=5, fontsize=8)
    ax.set_title(title, fontsize=10, pad=14)

    t_u, x_u = to_uniform(trace.t, trace.samples, trace.fs, spec.sample_rate)
    bank = FilterBank(spec.sample_rate, int(x_u.shape[0]), tuple(spec.scales), spec.wavelet)
    mag = bank(x_u[None])[0].mean(axis=0)  # (S, n): mean over the three axes
    freqs = np.asarray(spec.freqs_hz)
    axes[1].pcolormesh(t_u, freqs, np.log1p(mag / spec.norm_scale), shading="auto", cmap="magma")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("frequency (Hz)")
    axes[1].set_title("scalogram |W| (mean of the axes, log scale)", fontsize=9)

    ax = axes[2]
    for k, (model, res) in enumerate(results.items()):
        ax.plot(res.centres, res.probs, lw=1.2, color=f"C{k + 3}", label=model)
    ax.axhline(spec.on, color="k", lw=0.8, ls="--", label=f"on {spec.on:g}")
    ax.axhline(spec.off, color="k", lw=0.8, ls=":", label=f"off {spec.off:g}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("P(high-five)")
    ax.set_xlabel("time (s), window centres")
    ax.legend(loc="upper right", ncols=4, fontsize=8)
    ax.grid(alpha=0.3)
    return fig
