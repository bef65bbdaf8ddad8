"""Effect sizes of diffs: intervals for the difference and the ratio of failure rates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from scipy.stats.contingency import relative_risk

from highfive.coverage import (
    newcombe_interval,
    paired_newcombe_interval,
    paired_ratio_interval,
    ratio_interval,
)
from highfive.generators import InvalidParameter

# Newcombe (1998), "Interval estimation for the difference between independent
# proportions: comparison of eleven methods", Statistics in Medicine 17, 873-890,
# Table II, method 10 (hybrid score): 95 % limits for p1 - p2.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
]


@pytest.mark.parametrize(("counts", "limits"), NEWCOMBE_TABLE_II)
def test_difference_interval_matches_newcombe_table_ii(
    counts: tuple[int, int, int, int], limits: tuple[float, float]
) -> None:
    k1, n1, k2, n2 = counts
    # B is the first sample, A the second: the interval is for p_B - p_A.
    low, high = newcombe_interval(k2, n2, k1, n1, 0.95)
    assert (float(low), float(high)) == pytest.approx(limits, abs=5e-5)


def test_difference_interval_is_newcombes_combination_of_scipy_wilson_intervals() -> None:
    rng = np.random.default_rng(4)
    na, nb = rng.integers(1, 400, 50), rng.integers(1, 400, 50)
    ka, kb = rng.integers(0, na + 1), rng.integers(0, nb + 1)
    low, high = newcombe_interval(ka, na, kb, nb, 0.9)
    for i in range(50):
        a = binomtest(int(ka[i]), int(na[i])).proportion_ci(0.9, method="wilson")
        b = binomtest(int(kb[i]), int(nb[i])).proportion_ci(0.9, method="wilson")
        pa, pb = ka[i] / na[i], kb[i] / nb[i]
        d = pb - pa
        ref_low = d - np.hypot(pb - b.low, a.high - pa)
        ref_high = d + np.hypot(b.high - pb, pa - a.low)
        assert (low[i], high[i]) == pytest.approx((ref_low, ref_high), abs=1e-12)


def test_ratio_interval_is_katz_as_scipy_computes_it() -> None:
    rng = np.random.default_rng(5)
    na, nb = rng.integers(5, 400, 40), rng.integers(5, 400, 40)
    ka, kb = rng.integers(1, na + 1), rng.integers(1, nb + 1)
    ratio, low, high = ratio_interval(ka, na, kb, nb, 0.95)
    for i in range(40):
        rr = relative_risk(int(kb[i]), int(nb[i]), int(ka[i]), int(na[i]))
        ci = rr.confidence_interval(0.95)
        assert (ratio[i], low[i], high[i]) == pytest.approx(
            (rr.relative_risk, ci.low, ci.high), rel=1e-10
        )


def test_ratio_interval_with_zero_counts() -> None:
    ratio, low, high = ratio_interval([0, 40, 0], [100, 100, 100], [4, 0, 0], [100, 100, 100])
    # One zero: half a case added to every cell of the 2x2 table (finite limits):
    # 4.5/101 against 0.5/101 is a ratio of 9 (not shown above 1), and 0 failures
    # against 40 show B better.
    assert np.isfinite([ratio[:2], low[:2], high[:2]]).all()
    assert ratio[0] == pytest.approx(9.0) and 0 < low[0] < 1 < high[0] and high[1] < 1
    # No failure in either: no ratio to estimate, every ratio possible.
    assert np.isnan(ratio[2]) and low[2] == 0 and high[2] == np.inf


def test_paired_intervals_cover_at_their_level() -> None:
    # Two models on the same cases, strongly correlated: both fail 2 %, B alone 1 %,
    # A alone 0.5 %. The true difference is 0.005, the ratio 0.03 / 0.025 = 1.2.
    rng = np.random.default_rng(6)
    n, reps = 2000, 2000
    cells = rng.multinomial(n, [0.02, 0.01, 0.005, 0.965], size=reps)
    both, b_only, a_only = cells[:, 0], cells[:, 1], cells[:, 2]
    low, high = paired_newcombe_interval(both, b_only, a_only, n, 0.95)
    miss = np.mean((low > 0.005) | (high < 0.005))
    assert miss < 0.065  # 95 % interval; Monte Carlo noise about 0.005
    _, rlow, rhigh = paired_ratio_interval(both, b_only, a_only, n, 0.95)
    assert np.mean((rlow > 1.2) | (rhigh < 1.2)) < 0.065
    # Pairing pays: narrower than treating the samples as independent.
    ulow, uhigh = newcombe_interval(both + a_only, n, both + b_only, n, 0.95)
    assert np.mean(high - low) < 0.8 * np.mean(uhigh - ulow)


def test_bad_effect_arguments() -> None:
    with pytest.raises(InvalidParameter, match=r"confidence: 1\.5 must be in \[0\.5, 1\)"):
        newcombe_interval(1, 10, 2, 10, 1.5)
    with pytest.raises(InvalidParameter, match=r"k, n: 11 failures in 10 cases"):
        ratio_interval(11, 10, 2, 10)
