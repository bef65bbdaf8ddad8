"""Effect sizes of diffs: intervals for the difference and the ratio of failure rates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest
from scipy.stats.contingency import relative_risk

from highfive.coverage import (
    newcombe_interval,
    paired_newcombe_interval,
    paired_ratio_interval,
    ratio_interval,
)
from highfive.coverage._difftest import effect_columns
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
    # The ratio is p_B / p_A as observed: 4 failures against none is infinite (it was
    # shown as 9, the ratio after half a case was added to every cell), none against
    # 40 is 0. The interval's other end is Katz's with half a case added (4.5/101
    # against 0.5/101); the end on the side of the zero is open: with no failure in A,
    # p_A may be as small as any positive rate.
    assert ratio[0] == np.inf and high[0] == np.inf and 0 < low[0] < 1
    assert ratio[1] == 0 and low[1] == 0 and 0 < high[1] < 1
    # No failure in either: no ratio to estimate, every ratio possible.
    assert np.isnan(ratio[2]) and low[2] == 0 and high[2] == np.inf
    # 0 of 256 against 256 of 256: B fails every time, A never (it was shown as 257).
    ratio, low, high = ratio_interval(0, 256, 256, 256)
    assert ratio == np.inf and high == np.inf and low > 10


# Fagerland, Lydersen & Laake (2017), "Statistical Analysis of Contingency Tables",
# chapter 8, the paired table of Cavo et al. (2012): 59 both, 6 only the first, 16 only
# the second, 80 neither. Their 95 % limits, as the book's R package contingencytables
# checks them (tests/testthat/test-ch8.R): the difference of the first minus the
# second, Newcombe's square-and-add -0.0621 (-0.1186, -0.0046); the ratio, Bonett and
# Price's hybrid Wilson score 0.8667 (0.7579, 0.9910).
CAVO = {"both": 59, "b_only": 6, "a_only": 16, "n": 161}


def test_paired_difference_matches_the_published_example() -> None:
    low, high = paired_newcombe_interval(**CAVO, confidence=0.95)
    assert (float(low), float(high)) == pytest.approx((-0.1186, -0.0046), abs=5e-5)


def test_paired_ratio_matches_the_published_example() -> None:
    ratio, low, high = paired_ratio_interval(**CAVO, confidence=0.95)
    assert float(ratio) == pytest.approx(0.8667, abs=5e-5)
    assert (float(low), float(high)) == pytest.approx((0.7579, 0.9910), abs=5e-5)


@pytest.mark.parametrize("n", [2, 10, 100])
def test_paired_intervals_without_discordant_cases_keep_a_width(n: int) -> None:
    """Both models failing the same half of the cases, no case failed by one alone:
    the difference's interval was exactly [0, 0] and the ratio's [1, 1] at any n, so
    non-inferiority was 'shown' from two cases."""
    both = n // 2
    low, high = paired_newcombe_interval(both, 0, 0, n, 0.95)
    ratio, rlow, rhigh = paired_ratio_interval(both, 0, 0, n, 0.95)
    assert low < 0 < high and rlow < 1 == ratio < rhigh
    # Fewer cases, wider: at least the discordance no discordant case rules out.
    assert high > 1 / n


@pytest.mark.parametrize(
    ("probs", "n"),
    [
        ((0.05, 0.03, 0.01, 0.91), 20),
        ((0.05, 0.03, 0.01, 0.91), 50),
        ((0.01, 0.005, 0.0, 0.985), 200),
        ((0.2, 0.1, 0.02, 0.68), 10),
        ((0.02, 0.01, 0.005, 0.965), 2000),
    ],
)
def test_paired_intervals_cover_at_small_cells(probs: tuple[float, ...], n: int) -> None:
    """Cells of a diff hold from a few to a few hundred cases. The delta-method ratio
    interval covered 42-83 % there (95 % nominal) and the difference 73 % at n = 10."""
    rng = np.random.default_rng(11)
    cells = rng.multinomial(n, probs, size=4000)
    both, b_only, a_only = cells[:, 0], cells[:, 1], cells[:, 2]
    true_diff = probs[1] - probs[2]
    true_ratio = (probs[0] + probs[1]) / (probs[0] + probs[2])
    low, high = paired_newcombe_interval(both, b_only, a_only, n, 0.95)
    assert np.mean((low <= true_diff) & (true_diff <= high)) > 0.93
    _, rlow, rhigh = paired_ratio_interval(both, b_only, a_only, n, 0.95)
    defined = both + b_only + a_only > 0  # no failure at all: [0, inf], trivially covers
    covered = (rlow <= true_ratio) & (true_ratio <= rhigh)
    assert np.mean(covered[defined]) > 0.93


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


def test_two_cases_do_not_show_non_inferiority() -> None:
    # Two recordings, both models failing the same one: 'non-inferior within 0.1
    # points' was shown (ni_upper 0), from an interval of zero width.
    cols = {"failures_a": [1], "n_a": [2], "failures_b": [1], "n_b": [2], "b": [0], "c": [0]}
    out = effect_columns(cols, 0.05, 0.001)
    assert out["ni_upper"][0] > 0.3 and not out["noninferior"][0]


@given(st.integers(0, 500), st.integers(0, 500), st.booleans())
def test_an_empty_sample_leaves_every_difference_possible(
    k: int, extra: int, a_empty: bool
) -> None:
    """With no case in one sample its rate is unknown: the interval of ``p_B - p_A`` is
    ``[-1, 1]``. The other sample's Wilson interval was combined with a rate of 0 as if
    known (``[-0.718, 0.603]`` for 3 of 10 against none), and a two-run diff showed it."""
    n = k + extra
    counts = (0, 0, k, n) if a_empty else (k, n, 0, 0)
    low, high = newcombe_interval(*counts, 0.95)
    assert (float(low), float(high)) == (-1.0, 1.0)
    cols = dict(zip(("failures_a", "n_a", "failures_b", "n_b"), ([c] for c in counts), strict=True))
    out = effect_columns(cols, 0.05, 0.01)
    assert (out["diff_low"][0], out["diff_high"][0]) == (-1.0, 1.0) and np.isnan(out["diff"][0])
    assert np.isnan(out["ni_upper"][0]) and not out["noninferior"][0]
