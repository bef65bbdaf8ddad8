"""The realism benchmark's reading of the gyroscope: the arm swing of a known sinusoid."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from .._helpers import load_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_module(ROOT / "benchmarks" / "bench_realism.py", "bench_realism")


def test_the_gyroscope_swing_of_a_sinusoid_is_its_amplitude(bench: ModuleType) -> None:
    # A forearm swinging 30 deg either way at 0.9 Hz turns at 30 deg x 2 pi x 0.9 Hz at
    # most; 10 s at 10 Hz as in BasicMotions, with a 1 rad/s bias that must not count.
    t = np.arange(100) / 10.0
    rate = math.radians(30.0) * 2.0 * math.pi * 0.9 * np.cos(2.0 * math.pi * 0.9 * t) + 1.0
    stride, amplitude = bench.gyro_swing(rate, 10.0)
    assert stride == pytest.approx(0.9, abs=0.01)
    assert amplitude == pytest.approx(30.0, rel=0.01)
