"""The realism benchmark's helpers: pace matching and the gyroscope's arm swing."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from highfive.generators._body import GAITS

from .._helpers import load_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_module(ROOT / "benchmarks" / "bench_realism.py", "bench_realism")


def test_the_magnitudes_dominant_frequency_is_read_as_the_step_rate(bench: ModuleType) -> None:
    # Quartiles 1.4 and 1.6 Hz (pandas' linear interpolation): 84 and 96 steps/min, at
    # the place of those cadences in the walking range.
    walking = pd.Series([1.2, 1.4, 1.4, 1.6, 1.6, 1.6])
    q1, q3, lo, hi = bench.corpus_pace("walking", walking)
    assert (q1, q3) == pytest.approx((84.0, 96.0))
    lo_c, hi_c = GAITS["walking"].cadence
    assert (lo, hi) == pytest.approx(((q1 - lo_c) / (hi_c - lo_c), (q3 - lo_c) / (hi_c - lo_c)))


def test_a_pace_partly_outside_the_gait_is_clipped_and_one_wholly_outside_is_empty(
    bench: ModuleType,
) -> None:
    lo_c, hi_c = GAITS["running"].cadence
    # A corpus running from 10 steps/min below the range to 5 above its slowest end.
    partly = pd.Series([(lo_c - 10.0) / 60.0, (lo_c + 5.0) / 60.0])
    _, _, lo, hi = bench.corpus_pace("running", partly)
    assert lo == 0.0
    assert hi == pytest.approx((60.0 * partly.quantile(0.75) - lo_c) / (hi_c - lo_c))
    too_fast = pd.Series([(hi_c + 20.0) / 60.0] * 4)
    _, _, lo, hi = bench.corpus_pace("running", too_fast)
    assert lo == hi == 1.0  # empty: the benchmark says "outside the space"


def test_the_gyroscope_swing_of_a_sinusoid_is_its_amplitude(bench: ModuleType) -> None:
    # A forearm swinging 30 deg either way at 0.9 Hz turns at 30 deg x 2 pi x 0.9 Hz at
    # most; 10 s at 10 Hz as in BasicMotions, with a 1 rad/s bias that must not count.
    t = np.arange(100) / 10.0
    rate = math.radians(30.0) * 2.0 * math.pi * 0.9 * np.cos(2.0 * math.pi * 0.9 * t) + 1.0
    stride, amplitude = bench.gyro_swing(rate, 10.0)
    assert stride == pytest.approx(0.9, abs=0.01)
    assert amplitude == pytest.approx(30.0, rel=0.01)
