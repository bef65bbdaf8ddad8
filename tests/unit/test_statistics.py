"""Anytime-valid bounds, repeated looks, and the two ways of counting cases still needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import beta

from highfive.coverage import (
    CoverageSettings,
    cases_needed,
    cases_needed_at_rate,
    cp_lower,
    cp_upper,
    cs_lower,
    cs_pvalue,
    cs_upper,
    load_settings,
)
from highfive.generators import (
    ConfigError,
    InvalidParameter,
)


# -- repeated looks -------------------------------------------------------------------
def ever_passing(looks: int, anytime: bool, *, reps: int = 4000) -> float:
    """Share of cells labelled "passing" at some look, at a true rate equal to the target.

    Each look adds 500 cases (a batch or a focus stage) and re-tests the cell; a cell
    labelled passing once stays passing (the campaign acts on it).
    """
    p, conf = 0.01, 0.95
    rng = np.random.default_rng(20261130)
    k = np.cumsum(rng.binomial(500, p, size=(reps, looks)), axis=1)
    n = np.broadcast_to(500 * np.arange(1, looks + 1), k.shape)
    upper = cs_upper(k, n, conf, p_tune=p) if anytime else cp_upper(k, n, conf)
    return float(np.mean((upper < p).any(axis=1)))


def test_repeated_looks_inflate_the_fixed_bound_but_not_the_anytime_bound() -> None:
    alpha, reps = 0.05, 4000
    one, five, twenty = (ever_passing(m, anytime=False) for m in (1, 5, 20))
    assert one <= alpha  # one look: Clopper-Pearson keeps its level (0.029 expected)
    assert one < five < twenty
    # Twenty looks: far past alpha, beyond Monte Carlo noise (99.9 % exact lower bound).
    assert cp_lower(round(twenty * reps), reps, 0.999) > alpha
    for m in (1, 5, 20):
        rate = ever_passing(m, anytime=True)
        # Not significantly above alpha (99.9 % exact lower bound of the share).
        assert cp_lower(round(rate * reps), reps, 0.999) <= alpha


def test_anytime_bounds_are_a_confidence_sequence_around_the_rate() -> None:
    k = np.array([0, 0, 1, 5, 9, 30, 100, 1000])
    n = np.array([0, 10, 100, 1000, 1000, 1000, 100_000, 1000])
    up, lo = cs_upper(k, n, 0.95, 0.01), cs_lower(k, n, 0.95, 0.01)
    hat = np.divide(k, n, out=np.zeros(k.shape), where=n > 0)
    assert (lo <= hat).all() and (hat <= up).all()
    assert up[0] == 1 and lo[0] == 0 and up[-1] == 1 and lo[1] == 0
    # Valid at every n costs width: never tighter than the one-look exact bounds.
    assert (up >= cp_upper(k, n, 0.95)).all() and (lo <= cp_lower(k, n, 0.95)).all()
    # The ends solve M_n(p) = 1/alpha: check against the closed form of M_n for k = 0,
    # M_n(p) = b / (b + n) / (1 - p)^n with the Beta(1, b) prior of mean p_tune.
    b = (1 - 0.01) / 0.01
    assert cs_upper(0, 500, 0.95, 0.01) == pytest.approx(1 - (0.05 * b / (b + 500)) ** (1 / 500))
    # The anytime p-value is below 1 - confidence exactly where the lower bound is above p0.
    p = cs_pvalue(k, n, 0.01, 0.01)
    assert ((p < 0.05) == (lo > 0.01)).all()


def test_bad_anytime_arguments() -> None:
    with pytest.raises(InvalidParameter, match=r"p_tune: 0 must be a failure rate in \(0, 1\)"):
        cs_upper(0, 10, 0.95, 0)
    with pytest.raises(InvalidParameter, match=r"confidence: 1\.0 must be in \[0\.5, 1\)"):
        cs_lower(0, 10, 1.0)
    with pytest.raises(InvalidParameter, match=r"k, n: 3 failures in 2 cases"):
        cs_upper(3, 2)


def test_looks_setting_in_the_bins_file(tmp_path: Path) -> None:
    path = tmp_path / "bins.toml"
    path.write_text('[statistics]\nlooks = "anytime"\n')
    assert load_settings(path).looks == "anytime"
    assert CoverageSettings().looks == "fixed"
    path.write_text('[statistics]\nlooks = "sometimes"\n')
    with pytest.raises(ConfigError, match=r"statistics\.looks: 'sometimes' must be 'fixed'"):
        load_settings(path)


# -- cases still needed ---------------------------------------------------------------
def shown_below(k: float, n: int, p: float) -> bool:
    """Clopper-Pearson upper bound below p, from scipy's beta quantile (k may be fractional)."""
    return bool(n > k and beta.ppf(0.95, k + 1, n - k) < p)


def test_needed_at_the_observed_rate() -> None:
    # 9 failures in 1,000 cases at a target of 0.01: if no further case fails, 568
    # more cases would do; if failures keep coming at 0.9 %, about 25,000 are needed.
    opt = float(cases_needed(9, 1000, 0.01)[()])
    at = float(cases_needed_at_rate(9, 1000, 0.01)[()])
    assert opt == 568
    total = 1000 + at
    assert shown_below(0.009 * total, int(total), 0.01)
    assert not shown_below(0.009 * (total - 1), int(total - 1), 0.01)
    assert 20_000 < at < 30_000 and at / opt > 35
    # At or above the target the observed rate never shows p < target.
    assert np.isinf(cases_needed_at_rate([10, 12], [1000, 1000], 0.01)).all()
    # Without failures both ways agree; untested cells get the optimistic count.
    assert cases_needed_at_rate([0, 0], [0, 100], 1e-3).tolist() == [2995, 2895]
