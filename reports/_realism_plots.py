"""Figures of ``highfive realism``: real against synthetic, overlaid.

The mean Welch spectra of the dynamic magnitude of both sources on one log axis, and
one histogram panel per feature with both sources' values on shared bins (densities,
so corpora of different sizes compare), the synthetic central range shaded.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from highfive.harness import FEATURES

__all__ = ["histogram_figure", "spectra_figure"]

_COLOURS = {"real": "tab:blue", "synthetic": "tab:orange"}
_BINS = 24


def spectra_figure(spectra: pd.DataFrame) -> Figure:
    """Mean Welch spectra of the dynamic magnitude, real and synthetic, log power."""
    fig, ax = plt.subplots(figsize=(10, 3.8), layout="constrained")
    for source, part in spectra.groupby("source", sort=False):
        psd = part["psd"].to_numpy()
        ax.semilogy(
            part["frequency_hz"].to_numpy(),
            np.where(psd > 0, psd, np.nan),
            lw=1.6,
            color=_COLOURS.get(str(source), "0.3"),
            label=str(source),
        )
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("power ((m/s$^2$)$^2$/Hz)")
    ax.set_title("mean Welch spectrum of the dynamic magnitude", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper right", fontsize=9)
    return fig


def histogram_figure(features: pd.DataFrame, distances: pd.DataFrame) -> Figure:
    """One panel per available feature: real and synthetic histograms (density)."""
    shown = [f for f in FEATURES if bool(_row(distances, f.name).get("available", False))]
    cols = 4
    rows = max(1, math.ceil(len(shown) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(12, 2.6 * rows), layout="constrained", squeeze=False
    )
    for ax in axes.flat[len(shown) :]:
        ax.set_visible(False)
    for ax, feat in zip(axes.flat, shown, strict=False):
        values = {
            str(src): part[feat.name].to_numpy(dtype=np.float64)
            for src, part in features.groupby("source", sort=False)
        }
        finite = {k: v[np.isfinite(v)] for k, v in values.items()}
        every = np.concatenate(list(finite.values()))
        lo, hi = float(every.min()), float(every.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, _BINS + 1)
        d = _row(distances, feat.name)
        ax.axvspan(d["synthetic_low"], d["synthetic_high"], color="tab:orange", alpha=0.08, lw=0)
        for src, v in finite.items():
            ax.hist(
                v,
                bins=bins,
                density=True,
                histtype="stepfilled" if src == "real" else "step",
                alpha=0.45 if src == "real" else 1.0,
                lw=1.5,
                color=_COLOURS.get(src, "0.3"),
                label=f"{src} ({v.size})",
            )
        w = d["w1_iqr"]
        said = f"W1/IQR {w:.2f}" if math.isfinite(w) else "W1/IQR n/a"
        ax.set_title(f"{feat.label} ({feat.unit}): {said}", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.set_yticks([])
    if shown:
        axes.flat[0].legend(loc="upper right", fontsize=7)
    return fig


def _row(distances: pd.DataFrame, name: str) -> dict[str, float]:
    match = distances[distances["feature"] == name]
    return {} if match.empty else dict(match.iloc[0])
