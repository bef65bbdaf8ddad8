"""Sensor model: each error source does what its datasheet quantity says."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from highfive.generators import SensorSpec, default_space
from highfive.generators._sensor import OVERSAMPLE, apply_sensor, noise_bandwidth


def _spec(**overrides: object) -> SensorSpec:
    return SensorSpec.from_params(default_space().complete(overrides))


def _run(spec: SensorSpec, force: np.ndarray, n: int, seed: int = 0):
    dt = 1.0 / (OVERSAMPLE * spec.fs)
    grid = np.repeat(np.atleast_2d(force), n * OVERSAMPLE + 2 * OVERSAMPLE, axis=0)
    return apply_sensor(grid, dt, spec, n, np.random.default_rng(seed))


def test_clean_sensor_reads_its_input() -> None:
    spec = _spec(cross_axis=0.0, noise_density=70.0, clock_jitter=0.0)
    t, x = _run(spec, np.array([0.3, -0.2, 0.9]), 400)
    assert x.dtype == np.float32 and x.shape == (400, 3)
    assert np.abs(x.mean(axis=0) - [0.3, -0.2, 0.9]).max() < 1e-3
    assert np.allclose(np.diff(t), 1.0 / 50.0)


def test_noise_matches_density_over_the_noise_bandwidth() -> None:
    spec = _spec(noise_density=1000.0, resolution_bits=16, sensor_range=2)
    _, x = _run(spec, np.array([0.0, 0.0, 1.0]), 20000)
    expected = 1000e-6 * np.sqrt(noise_bandwidth(50.0))  # datasheet: density * sqrt(ENBW)
    assert x.std(axis=0) == pytest.approx([expected] * 3, rel=0.03)


@pytest.mark.parametrize("fs, density", [(50, 1000.0), (200, 160.0)])
def test_noise_density_in_band_is_the_parameter(fs: int, density: float) -> None:
    # A datasheet's noise density is the one-sided PSD in the pass band; above the
    # ODR/4 low-pass the noise rolls off like the signal (Welch's estimate, scipy).
    spec = _spec(sample_rate=fs, noise_density=density, sensor_range=2, cross_axis=0.0)
    _, x = _run(spec, np.array([0.0, 0.0, 1.0]), 200_000)
    f, psd = signal.welch(x.astype(np.float64), fs=fs, nperseg=2048, axis=0)
    in_band = (f >= 0.02 * fs) & (f <= 0.1 * fs)
    measured = np.sqrt(psd[in_band].mean(axis=0)) * 1e6  # ug/sqrt(Hz), per axis
    assert measured == pytest.approx([density] * 3, rel=0.03)
    near_nyquist = f >= 0.4 * fs
    assert np.sqrt(psd[near_nyquist].mean(axis=0)).max() * 1e6 < 0.25 * density


def test_clipping_and_quantization() -> None:
    spec = _spec(sensor_range=2, resolution_bits=8, noise_density=70.0)
    _, x = _run(spec, np.array([5.0, -5.0, 0.3]), 100)
    lsb = 4.0 / 256
    assert spec.lsb == lsb
    assert np.all(x[:, 0] == np.float32(2.0 - lsb))  # largest two's-complement code
    assert np.all(x[:, 1] == -2.0)
    assert np.allclose(x / lsb, np.round(x / lsb), atol=1e-4)


def test_bias_scale_and_misalignment() -> None:
    spec = _spec(bias_x=50.0, scale_z=2.0, cross_axis=0.0, noise_density=70.0)
    _, x = _run(spec, np.array([0.0, 0.0, 1.0]), 2000)
    assert x.mean(axis=0) == pytest.approx([0.05, 0.0, 1.02], abs=2e-3)
    spec = _spec(misalign_x=10.0, cross_axis=0.0, noise_density=70.0)
    _, x = _run(spec, np.array([0.0, 0.0, 1.0]), 2000)
    # A rotation keeps the magnitude and moves gravity onto y by sin(10 deg).
    assert np.abs(x.mean(axis=0)[1]) == pytest.approx(np.sin(np.radians(10.0)), abs=2e-3)
    assert np.linalg.norm(x.mean(axis=0)) == pytest.approx(1.0, abs=2e-3)


def test_drift_jitter_and_drops() -> None:
    spec = _spec(clock_drift=2.0, clock_jitter=5.0, drop_rate=0.05)
    t, _x = _run(spec, np.array([0.0, 0.0, 1.0]), 20000)
    assert np.all(np.diff(t) > 0)
    assert 1 - t.size / 20000 == pytest.approx(0.05, abs=0.006)
    kept = np.diff(t)[np.diff(t) < 1.5 / (50 * 1.02)]
    assert np.median(kept) == pytest.approx(1 / (50 * 1.02), rel=1e-3)
    assert kept.std() == pytest.approx(0.05 / (50 * 1.02) * np.sqrt(2), rel=0.1)
