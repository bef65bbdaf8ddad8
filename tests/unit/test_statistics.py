"""Anytime-valid bounds, repeated looks, and the two ways of counting cases still needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import betainc
from scipy.stats import beta

from highfive.coverage import (
    SPENDING,
    CoverageSettings,
    Spending,
    cases_needed,
    cases_needed_at_rate,
    cp_lower,
    cp_upper,
    cs_lower,
    cs_pvalue,
    cs_upper,
    load_settings,
    spending_levels,
)
from highfive.coverage._anytime import log_mixture, prior
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
    assert one <= alpha  # one look: Clopper-Pearson keeps its level (0.0398 exactly)
    assert one < five < twenty
    # Twenty looks: far past alpha, beyond Monte Carlo noise (99.9 % exact lower bound).
    assert cp_lower(round(twenty * reps), reps, 0.999) > alpha
    for m in (1, 5, 20):
        rate = ever_passing(m, anytime=True)
        # Not significantly above alpha (99.9 % exact lower bound of the share).
        assert cp_lower(round(rate * reps), reps, 0.999) <= alpha


@given(
    kind=st.sampled_from([k for k in SPENDING if k != "anytime"]),
    stage=st.integers(1, 5000),
    budget=st.integers(1, 2_000_000),
    alpha=st.floats(1e-6, 0.5),
)
def test_spending_levels_sum_to_at_most_alpha(
    kind: str, stage: int, budget: int, alpha: float
) -> None:
    budget = max(budget, stage)
    plan = Spending(kind, budget, stage)
    levels = plan.levels(alpha)
    assert len(plan.looks) == -(-budget // stage) == levels.size  # K = ceil(budget / stage)
    assert (levels >= 0).all() and levels.sum() <= alpha
    assert levels.sum() == pytest.approx(alpha, rel=1e-9)  # the whole error is spent


@given(
    kind=st.sampled_from([k for k in SPENDING if k != "anytime"]),
    stage=st.integers(1, 5000),
    budget=st.integers(1, 10**40),
    alpha=st.floats(1e-6, 0.5),
)
def test_the_first_deciding_look_is_the_first_of_level_above_zero(
    kind: str, stage: int, budget: int, alpha: float
) -> None:
    budget = max(budget, stage)
    plan = Spending(kind, budget, stage)
    first = plan.first_deciding(alpha)
    assert first % stage == 0 or first == budget
    if first == plan.first_looks(1)[0]:
        assert plan.levels(alpha, 1)[0] > 0
        return
    # the look before it and it, as levels of the same spending function over the budget
    before, at, _ = spending_levels(kind, [first - stage, first, budget], alpha)
    assert before == 0 and at > 0


def spent_ever_passing(kind: str, looks: int, *, reps: int = 4000) -> float:
    """As :func:`ever_passing`, each look's Clopper-Pearson bound at its spent level."""
    p = 0.01
    rng = np.random.default_rng(20261130)
    k = np.cumsum(rng.binomial(500, p, size=(reps, looks)), axis=1)
    n = np.broadcast_to(500 * np.arange(1, looks + 1), k.shape)
    conf = 1 - spending_levels(kind, list(500 * np.arange(1, looks + 1)), 0.05)
    upper = np.stack([cp_upper(k[:, j], n[:, j], c) for j, c in enumerate(conf) if c < 1], 1)
    return float(np.mean((upper < p).any(axis=1)))


@pytest.mark.parametrize("kind", ["even", "pocock", "obf"])
def test_spent_levels_keep_the_false_passing_rate_over_the_looks(kind: str) -> None:
    alpha, reps = 0.05, 4000
    for looks in (1, 5, 20):
        rate = spent_ever_passing(kind, looks, reps=reps)
        # Not significantly above alpha (99.9 % exact lower bound of the share).
        assert cp_lower(round(rate * reps), reps, 0.999) <= alpha
    # and not blind: the same looks at one level each, alpha, exceed it (see above)
    assert ever_passing(20, anytime=False) > alpha


def test_bad_spending() -> None:
    with pytest.raises(InvalidParameter, match=r"--spending: 'fast' must be one of anytime, "):
        Spending("fast", 100, 10)
    with pytest.raises(InvalidParameter, match=r"looks: \[10, 5\] must be increasing"):
        spending_levels("even", [10, 5], 0.05)


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


@pytest.mark.parametrize("n", [np.inf, np.nan])
@pytest.mark.parametrize("bound", [cp_upper, cp_lower, cs_upper, cs_lower, cases_needed])
def test_infinitely_many_cases_are_refused(bound: object, n: float) -> None:
    # cp_upper(0, inf) was 0.0: inf passed the whole-number check (inf == floor(inf)).
    with pytest.raises(InvalidParameter, match=rf"k, n: 0 failures in {n} cases; need finite"):
        bound(0, n)  # type: ignore[operator]


def test_a_float32_level_is_read_as_the_decimal_it_prints_as() -> None:
    # np.float32(0.95) is 0.949999988...: it was refused as "0.949999988079071 must be
    # in [0.5, 1)" (a float32 is no Python float). It stands for 0.95, as it prints.
    assert cp_upper(3, 100, np.float32(0.95)) == cp_upper(3, 100, 0.95)
    assert cs_upper(3, 100, np.float16(0.95)) == cs_upper(3, 100, 0.95)
    assert cases_needed(0, 0, np.float32(1e-3), np.float32(0.99)) == cases_needed(0, 0, 1e-3, 0.99)
    assert cp_upper(3, 100, np.float64(0.95)) == cp_upper(3, 100, 0.95)
    with pytest.raises(InvalidParameter, match=r"confidence: 1\.0 must be in \[0\.5, 1\)"):
        cp_upper(3, 100, np.float32(1.0))


def test_a_diff_s_float32_levels_are_read_as_they_print() -> None:
    # check_alpha and check_margin refused np.float32(0.05) as "0.05000000074505806
    # must be a significance level": the same level read two ways in one package.
    from highfive.coverage._difftest import check_alpha, check_margin, check_ni_alpha

    assert check_alpha(np.float32(0.05)) == check_ni_alpha(np.float32(0.05)) == 0.05
    assert check_margin(np.float32(0.002)) == 0.002
    for bad in (True, False, "0.05", float("nan")):
        with pytest.raises(InvalidParameter, match="margin: "):
            check_margin(bad)  # type: ignore[arg-type]


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


_TINY_TARGETS = """
from highfive.coverage import cases_needed, cases_needed_at_rate
for p in (1e-12, 1e-13, 1e-14, 1e-15, 3e-16, 1e-16, 1e-17, 1e-18, 6e-19, 1e-19, 1e-20):
    for looks in ("fixed", "anytime"):
        print(p, looks, cases_needed(0, 0, p, looks=looks)[()],
              cases_needed_at_rate(1, 10**9, p, looks=looks)[()],
              cases_needed_at_rate(1, 10**14, p, looks=looks)[()])
"""


def test_cases_needed_returns_for_every_tiny_target() -> None:
    # Totals between 2^53 and 2^62 cases (targets of about 3e-16 to 6.5e-19) kept the
    # bisection for ever: above 2^53 its midpoint rounded onto an end. Run in a process
    # of its own so that a hang fails the test instead of stopping the suite.
    try:
        out = subprocess.run(
            [sys.executable, "-c", _TINY_TARGETS],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split("\n")
    except subprocess.TimeoutExpired:
        pytest.fail("cases_needed did not return within 60 s for a tiny p_target")
    rows = {
        (float(p), looks): (float(a), float(b), float(c))
        for p, looks, a, b, c in (line.split() for line in out if line)
    }
    assert len(rows) == 22
    # Finite while the total fits 2^53 cases (every whole number a float), inf beyond.
    assert rows[1e-15, "fixed"][0] == 2_995_732_273_553_990
    assert all(v[0] == float("inf") for (p, _), v in rows.items() if p <= 3e-16)
    assert all(v[1] == float("inf") for v in rows.values())  # 1e-9 is above every target
    assert rows[1e-12, "fixed"][2] == 0 and rows[1e-14, "fixed"][2] == float("inf")


def shown_by_definition(k: int, total: float, p: float, c: float, looks: str) -> bool:
    """Whether ``k`` failures in ``total`` cases show ``p``: the upper bound below it,
    i.e. (Clopper-Pearson) the Beta(k+1, total-k) distribution function at ``p`` above
    ``c``, or (anytime) ``p`` above ``k / total`` with ``M_total(p) >= 1 / (1 - c)``."""
    if looks == "fixed":
        return bool(total > k and betainc(k + 1, total - k, p) > c)
    level = log_mixture(np.float64(k), np.float64(total), np.float64(p), prior(p))
    return bool(total * p > k and level >= -np.log1p(-c))


@given(
    k=st.integers(0, 20),
    extra=st.integers(0, 10**6),
    log_p=st.floats(-18, -1),
    c=st.sampled_from([0.5, 0.8, 0.95, 0.999]),
    looks=st.sampled_from(["fixed", "anytime"]),
)
def test_cases_needed_is_the_smallest_total_that_shows_the_target(
    k: int, extra: int, log_p: float, c: float, looks: str
) -> None:
    n, p = k + extra, 10.0**log_p
    needed = float(cases_needed(k, n, p, c, looks)[()])
    if np.isinf(needed):  # shown failing, or beyond the 2^53 cases the search counts to
        lower = cp_lower(k, n, c) if looks == "fixed" else cs_lower(k, n, c, p)
        assert lower[()] > p or not shown_by_definition(k, 2.0**53, p, c, looks)
        return
    total = n + needed
    assert total == int(total) and total <= 2.0**53
    assert shown_by_definition(k, total, p, c, looks)
    assert total == n or not shown_by_definition(k, total - 1, p, c, looks)
