"""Sensor model: from the ideal specific force to what a MEMS accelerometer reports.

The sensor dimensions apply in physical order:

1. band limit: the part's digital low-pass (2nd-order Butterworth at ODR/4, as in the
   BMI270's normal filter mode), run causally on an oversampled grid, so it delays the
   signal as a real filter does;
2. scale-factor and cross-axis error, and mounting misalignment (one 3x3 matrix);
3. per-axis bias (zero-g offset);
4. noise of the row's ``noise_density`` (a datasheet's figure: the one-sided density
   in the pass band) shaped by the same low-pass: white noise of that density at the
   output rate through a 2nd-order Butterworth at ODR/4 designed at the output rate.
   Its density is ``noise_density`` in band (within 1 % below ODR/10) and rolls off
   above ODR/4; its standard deviation per sample is ``noise_density *
   sqrt(noise_bandwidth(fs))``, with a noise bandwidth of exactly ODR/4. (Filtering it
   on the oversampled grid instead would draw four times the random numbers, for a
   difference only near the Nyquist frequency, where the grid filter's tail aliases.);
5. clipping to the full-scale range;
6. quantization to the ADC resolution (two's-complement codes, so the largest
   reading is ``range - LSB``);
7. sampling at the real instants: the true rate differs from the nominal one by the
   clock drift, each instant jitters, and some samples are dropped.

Reported timestamps are the true instants of the samples that survive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy import signal

__all__ = ["OVERSAMPLE", "SensorSpec", "apply_sensor", "linear_response", "noise_bandwidth"]

OVERSAMPLE = 4
"""Internal grid rate as a multiple of the output data rate."""

_CUTOFF = 0.25  # low-pass corner as a fraction of the output data rate
# Samples of noise run through the noise filter before the first one, so that the first
# samples carry the steady noise too (its response decays below 1e-12 in them).
_WARM_UP = 32


def noise_bandwidth(fs: float) -> float:
    """Equivalent noise bandwidth in Hz of the sensor's filter at output rate ``fs``.

    That of the noise's filter (:func:`_noise_filter`): ``sum(h**2)`` times half the
    output rate, which is exactly ``fs / 4`` (an analog 2nd-order Butterworth has
    1.11 corner frequencies; the digital one at the output rate, 1).
    """
    return _noise_energy() * 0.5 * fs


@cache
def _lowpass() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # The corner relative to the grid rate is the same for every output rate, so one
    # design serves all: cutoff / (grid Nyquist) = 0.25 fs / (OVERSAMPLE fs / 2).
    # A single biquad is well conditioned in (b, a) form, and lfilter is faster than sosfilt.
    b, a = signal.butter(2, 2.0 * _CUTOFF / OVERSAMPLE)
    return b, a, signal.lfilter_zi(b, a)


@cache
def _noise_filter() -> tuple[np.ndarray, np.ndarray]:
    """The low-pass at ODR/4 designed at the output rate, which shapes the noise."""
    b, a = signal.butter(2, 2.0 * _CUTOFF)
    return b, a


@cache
def _noise_energy() -> float:
    """Sum of the squared impulse response of :func:`_noise_filter` (0.5)."""
    impulse = np.zeros(_WARM_UP)
    impulse[0] = 1.0
    return float(np.sum(signal.lfilter(*_noise_filter(), impulse) ** 2))


@dataclass(frozen=True)
class SensorSpec:
    """The sensor dimensions of a parameter row, in SI-friendly units."""

    fs: float  # nominal output data rate, Hz
    range_g: float
    bits: int
    noise_density_g: float  # one-sided noise density in the pass band, g/sqrt(Hz)
    bias_g: np.ndarray  # (3,)
    matrix: np.ndarray  # (3, 3) scale, cross-axis and misalignment
    drift: float  # relative rate error
    jitter: float  # jitter std as a fraction of the period
    drop_rate: float

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> SensorSpec:
        fs = float(p["sample_rate"])
        scale = np.diag([1.0 + float(p[f"scale_{a}"]) / 100.0 for a in "xyz"])
        cross = float(p["cross_axis"]) / 100.0 * (np.ones((3, 3)) - np.eye(3))
        ax, ay = math.radians(float(p["misalign_x"])), math.radians(float(p["misalign_y"]))
        cx, sx, cy, sy = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay)
        rot_x = np.array([[1.0, 0.0, 0.0], [0.0, cx, sx], [0.0, -sx, cx]])
        rot_y = np.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
        return cls(
            fs=fs,
            range_g=float(p["sensor_range"]),
            bits=int(p["resolution_bits"]),
            noise_density_g=float(p["noise_density"]) * 1e-6,
            bias_g=np.array([float(p[f"bias_{a}"]) for a in "xyz"]) * 1e-3,
            matrix=(scale + cross) @ rot_y @ rot_x,
            drift=float(p["clock_drift"]) / 100.0,
            jitter=float(p["clock_jitter"]) / 100.0,
            drop_rate=float(p["drop_rate"]),
        )

    @property
    def noise_g(self) -> float:
        """Standard deviation of the noise per sample in g: density x sqrt(noise bandwidth)."""
        return self.noise_density_g * math.sqrt(noise_bandwidth(self.fs))

    @property
    def lsb(self) -> float:
        """Size of one ADC step in g."""
        return 2.0 * self.range_g / 2.0**self.bits


def sample_instants(spec: SensorSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """True instants of ``n`` samples: drifted rate plus bounded Gaussian jitter."""
    period = 1.0 / (spec.fs * (1.0 + spec.drift))
    jitter = rng.standard_normal(n) * (spec.jitter * period)
    # Bounded to +-0.45 period so that instants stay strictly increasing.
    np.minimum(np.maximum(jitter, -0.45 * period, out=jitter), 0.45 * period, out=jitter)
    # Sample k is taken in the middle of its period, so instants are positive.
    return (np.arange(n) + 0.5) * period + jitter


def _band_limit(grid: np.ndarray, grid_dt: float, t: np.ndarray) -> np.ndarray:
    """The sensor's low-pass of ``grid`` (spacing ``grid_dt``, from t = 0), at instants ``t``."""
    b, a, zi = _lowpass()
    # Start the filter in steady state at the first value: the watch was already on.
    filtered, _ = signal.lfilter(b, a, grid, axis=0, zi=zi[:, None] * grid[0])
    pos = t / grid_dt
    i0 = np.minimum(pos.astype(np.intp), filtered.shape[0] - 2)
    w = (pos - i0)[:, None]
    return filtered[i0] * (1.0 - w) + filtered[i0 + 1] * w  # linear interpolation


def linear_response(
    grid_force: np.ndarray, grid_dt: float, spec: SensorSpec, t: np.ndarray
) -> np.ndarray:
    """What the sensor's linear path makes of ``grid_force`` at instants ``t``, in g.

    The band limit, then the scale, cross-axis and misalignment matrix, exactly as
    :func:`apply_sensor` applies them; no noise, bias, clipping or quantization. For the
    gravity term of a reading, this is the part of the reading that gravity makes.
    """
    return _band_limit(grid_force, grid_dt, t) @ spec.matrix.T


def apply_sensor(
    grid_force: np.ndarray,
    grid_dt: float,
    spec: SensorSpec,
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn the ideal specific force on a fine grid into sensor samples.

    Parameters
    ----------
    grid_force : np.ndarray, shape (m, 3)
        Ideal specific force in g, sensor frame, on a grid of spacing ``grid_dt``
        starting at t = 0 and covering every sample instant.
    grid_dt : float
        Grid spacing in s (``1 / (OVERSAMPLE * spec.fs)``).
    spec : SensorSpec
    n : int
        Number of samples before drops.
    rng : numpy.random.Generator
        Stream for jitter, noise and drops (drawn in that fixed order).

    Returns
    -------
    t : np.ndarray, shape (k,), float64
        Sample instants in s (k = n less the dropped samples).
    samples : np.ndarray, shape (k, 3), float32
        Readings in g.
    """
    t = sample_instants(spec, n, rng)
    x = linear_response(grid_force, grid_dt, spec, t) + spec.bias_g
    # White noise of one-sided density d at the output rate has standard deviation
    # d sqrt(fs / 2); the low-pass keeps that density in band and rolls it off above.
    white = rng.standard_normal((_WARM_UP + n, 3))
    white *= spec.noise_density_g * math.sqrt(0.5 * spec.fs)
    x += signal.lfilter(*_noise_filter(), white, axis=0)[_WARM_UP:]
    lsb = spec.lsb
    np.minimum(np.maximum(x, -spec.range_g, out=x), spec.range_g - lsb, out=x)  # np.clip
    x = np.round(x / lsb) * lsb

    keep = rng.random(n) >= spec.drop_rate
    return t[keep], x[keep].astype(np.float32)
