"""Features of an accelerometer trace that a person can explain, for comparing real
recordings with synthetic traces (:mod:`._realism`).

Every trace, real or synthetic, with gravity or without, goes through the same steps:

1. the **dynamic signal** is the reading minus its gravity estimate, a zero-phase
   2nd-order Butterworth low-pass at :data:`GRAVITY_HZ` (0.3 Hz) of each axis; on a
   trace with gravity removed the same filter takes out what is left of sensor bias and
   drift, so both kinds are treated alike;
2. per piece of the dynamic signal (m/s^2): percentiles of its magnitude, the standard
   deviation of each axis, the peak of the Welch spectrum of the magnitude, the share
   of power above :data:`HIGH_HZ` (5 Hz), percentiles of the jerk; and, for traces
   with gravity, the direction of the quietest stretch's mean reading (tilt from the z
   axis and roll), found as ``highfive count`` finds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import signal

from ._recording_quiet import _Quiet

__all__ = [
    "FEATURES",
    "GRAVITY_HZ",
    "HIGH_HZ",
    "LOW_HZ",
    "WELCH_S",
    "Feature",
    "dynamic",
    "magnitude_spectrum",
    "piece_features",
]

GRAVITY_HZ = 0.3
"""Cut-off of the gravity estimate (the low-pass subtracted from every axis), Hz."""

LOW_HZ = 0.3
"""Lowest frequency the dominant frequency is looked for at, Hz."""

HIGH_HZ = 5.0
"""Power above this frequency is the high-frequency share, Hz (needs a rate above 10 Hz)."""

WELCH_S = 5.0
"""Length of a Welch segment, s (or the whole piece if shorter): 0.2 Hz resolution."""

STILL_RMS = 1e-6
"""A dynamic signal of less RMS (m/s^2, 0.1 ug) is round-off, not motion: it is taken
as zero. The finest accelerometers resolve about 60 ug; a constant recording, read
through the gravity filter, leaves about 1e-15 m/s^2, whose spectrum peaked anywhere
(a dominant frequency of 6.2 Hz and nearly all power above 5 Hz)."""


@dataclass(frozen=True)
class Feature:
    """One feature: its column name, a short label, its unit and what it measures."""

    name: str
    label: str
    unit: str
    meaning: str
    gravity_only: bool = False


FEATURES = (
    Feature("mag_p5", "|a| p5", "m/s^2", "5th percentile of the dynamic magnitude"),
    Feature("mag_p50", "|a| p50", "m/s^2", "median of the dynamic magnitude"),
    Feature("mag_p95", "|a| p95", "m/s^2", "95th percentile of the dynamic magnitude"),
    Feature("std_x", "std x", "m/s^2", "standard deviation of the dynamic x axis"),
    Feature("std_y", "std y", "m/s^2", "standard deviation of the dynamic y axis"),
    Feature("std_z", "std z", "m/s^2", "standard deviation of the dynamic z axis"),
    Feature(
        "dom_freq",
        "dominant freq",
        "Hz",
        f"peak of the Welch spectrum of the dynamic magnitude, {LOW_HZ:g} Hz to Nyquist",
    ),
    Feature(
        "hf_share",
        f"power > {HIGH_HZ:g} Hz",
        "fraction",
        f"share of the dynamic power above {HIGH_HZ:g} Hz (rates above {2 * HIGH_HZ:g} Hz)",
    ),
    Feature("jerk_p50", "jerk p50", "m/s^3", "median of |diff(a)| * fs of the dynamic signal"),
    Feature("jerk_p95", "jerk p95", "m/s^3", "95th percentile of |diff(a)| * fs"),
    Feature("tilt", "tilt", "deg", "quietest stretch's mean reading from the z axis", True),
    Feature("roll", "roll", "deg", "quietest stretch's mean reading about the x axis", True),
)


@cache
def _gravity_filter(fs: float) -> np.ndarray:
    return np.asarray(signal.butter(2, GRAVITY_HZ, fs=fs, output="sos"))


def dynamic(x: np.ndarray, fs: float) -> np.ndarray:
    """The dynamic signal: ``x`` minus its :data:`GRAVITY_HZ` low-pass, axis by axis.

    Parameters
    ----------
    x : np.ndarray, shape (n, 3)
        Uniformly sampled readings, any unit (the result has the same).
    fs : float
        Sample rate, Hz.
    """
    x64 = np.asarray(x, dtype=np.float64)
    sos = _gravity_filter(float(fs))
    # Odd extension of one period of the cut-off at each end (the filter's memory).
    pad = min(x64.shape[0] - 1, math.ceil(fs / GRAVITY_HZ))
    return x64 - signal.sosfiltfilt(sos, x64, axis=0, padlen=pad)


def _welch(v: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    # Hann windows of WELCH_S (or the whole piece), half overlapping, mean removed.
    n = v.shape[0]
    nper = min(n, max(8, round(WELCH_S * fs)))
    f, p = signal.welch(v, fs=fs, nperseg=nper, axis=0)
    return f, p


def magnitude_spectrum(dyn: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch spectrum (frequencies in Hz, power per Hz) of the dynamic magnitude."""
    return _welch(np.linalg.norm(dyn, axis=1), fs)


def _rest_angles(raw: np.ndarray, fs: float) -> tuple[float, float]:
    # Tilt and roll of the mean reading over the quietest stretch of about a second,
    # found by the same code as a recording's orientation in ``highfive count``.
    quiet = _Quiet()
    quiet.add(np.arange(raw.shape[0]) / fs, np.asarray(raw, dtype=np.float64))
    found = quiet.quietest(fs)
    if found is None:  # nothing but rows of (0, 0, 0): no reading of gravity
        return math.nan, math.nan
    (x, y, z), _, _, _ = found
    return math.degrees(math.atan2(math.hypot(x, y), z)), math.degrees(math.atan2(y, z))


def piece_features(dyn: np.ndarray, fs: float, raw: np.ndarray | None = None) -> dict[str, float]:
    """The features of one piece (see :data:`FEATURES`).

    Parameters
    ----------
    dyn : np.ndarray, shape (n, 3)
        Dynamic signal, m/s^2, uniformly sampled (:func:`dynamic`).
    fs : float
        Sample rate, Hz.
    raw : np.ndarray, shape (n, 3), optional
        The readings with gravity, for tilt and roll; None (gravity removed): those are
        NaN.

    Returns
    -------
    dict
        Feature name -> value; NaN where not available (the share above 5 Hz at 10 Hz
        or less, a dominant frequency and that share of a signal that does not move,
        angles without gravity). A signal of less RMS than :data:`STILL_RMS` does not
        move: its magnitudes, deviations and jerks are 0.
    """
    dyn = np.asarray(dyn, dtype=np.float64)
    if dyn.size and math.sqrt(float(np.mean(dyn**2))) < STILL_RMS:
        dyn = np.zeros_like(dyn)  # round-off: no motion, so no frequency either
    mag = np.linalg.norm(dyn, axis=1)
    p5, p50, p95 = np.percentile(mag, [5.0, 50.0, 95.0])
    std = dyn.std(axis=0)
    f, p = magnitude_spectrum(dyn, fs)
    band = (f >= LOW_HZ) & (f <= fs / 2.0)
    dom = float(f[band][np.argmax(p[band])]) if band.any() and p[band].max() > 0 else math.nan
    share = math.nan
    if fs / 2.0 > HIGH_HZ:
        fv, pv = _welch(dyn, fs)
        power = pv.sum(axis=1)
        total = float(power[fv > 0].sum())
        share = float(power[fv > HIGH_HZ].sum()) / total if total > 0 else math.nan
    jerk = np.linalg.norm(np.diff(dyn, axis=0), axis=1) * fs
    j50, j95 = np.percentile(jerk, [50.0, 95.0]) if jerk.size else (math.nan, math.nan)
    tilt = roll = math.nan
    if raw is not None:
        tilt, roll = _rest_angles(raw, fs)
    return {
        "mag_p5": float(p5),
        "mag_p50": float(p50),
        "mag_p95": float(p95),
        "std_x": float(std[0]),
        "std_y": float(std[1]),
        "std_z": float(std[2]),
        "dom_freq": dom,
        "hf_share": share,
        "jerk_p50": float(j50),
        "jerk_p95": float(j95),
        "tilt": tilt,
        "roll": roll,
    }
