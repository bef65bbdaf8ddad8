"""Importance sampling: proposals, weights, cross-entropy fits, weighted estimates and
their bounds, on directly simulated weighted Bernoulli data (seeded)."""

from __future__ import annotations

import json
import math
from decimal import Decimal, getcontext

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from highfive.coverage import cp_upper, kish_ess, weighted_rate
from highfive.coverage._wbounds import kl_lower, kl_upper
from highfive.generators import (
    ImportanceSampler,
    InvalidParameter,
    Proposal,
    fit_cross_entropy,
    make_sampler,
)

BINS = 10


def planted(u: np.ndarray, inside: float) -> np.ndarray:
    """Failure probability: ``inside`` in the box u0 < 0.1, u1 < 0.1 (base mass 1e-2)."""
    return np.where((u[:, 0] < 0.1) & (u[:, 1] < 0.1), inside, 0.0)


def towards_box(weight: float, defensive: float = 0.1, d: int = 2) -> Proposal:
    """Histograms putting ``weight`` on the first bin of the first two dimensions."""
    row = [weight] + [(1 - weight) / (BINS - 1)] * (BINS - 1)
    return Proposal(tuple(tuple(row if j < 2 else [1.0] * BINS) for j in range(d)), defensive)


def test_kish_ess_on_a_hand_example() -> None:
    # (1 + 1 + 2 + 4)^2 / (1 + 1 + 4 + 16) = 64 / 22
    assert kish_ess([1, 1, 2, 4]) == pytest.approx(64 / 22)
    assert kish_ess([3, 3, 3]) == pytest.approx(3)
    assert kish_ess([]) == 0.0


@pytest.mark.parametrize("n", [1, 10, 300, 10_000])
def test_the_bound_with_no_failure_is_clopper_pearson(n: int) -> None:
    # Hoeffding's bound at z = 0 solves n log(1 / (1 - mu)) = log(1 / 0.05): 1 - 0.05^(1/n).
    assert float(kl_upper(0.0, n)) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-9)
    assert float(kl_upper(0.0, n)) == pytest.approx(float(cp_upper(0, n)), rel=1e-9)


def kl_root(z: float, n: float, confidence: float, upper: bool) -> Decimal:
    """The relative-entropy bound to 60 digits: the ``mu`` beyond ``z`` (above it, or
    below) with ``n kl(z, mu) = log(1 / (1 - confidence))``, by bisection in decimal."""
    getcontext().prec = 60
    one, zd, nd = Decimal(1), Decimal(z), Decimal(n)
    level = -(one - Decimal(confidence)).ln()

    def kl(mu: Decimal) -> Decimal:
        a = zd * (zd / mu).ln() if zd > 0 else Decimal(0)
        return a + (one - zd) * ((one - zd) / (one - mu)).ln()

    lo, hi = (zd, one) if upper else (Decimal(0), zd)
    for _ in range(260):
        mid = (lo + hi) / 2
        if (nd * kl(mid) > level) == upper:
            hi = mid
        else:
            lo = mid
    return hi if upper else lo


@pytest.mark.parametrize(
    ("z", "n"), [(0.0, 1e9), (0.0, 1e14), (1e-12, 1e15), (0.0, 1e16), (1e-14, 1e16)]
)
def test_the_bounds_of_tiny_rates_are_never_optimistic(z: float, n: float) -> None:
    # (1 - z) / (1 - mu) rounded for tiny rates: the upper bound came out 0.5 % below the
    # exact root at n = 1e14 and 7 % below at 1e16. Now each bound is on its safe side
    # of the exact root (to rounding) and within the bisection's step (2^-64 of its
    # bracket) and rounding of the other.
    step, rounding = 2.0**-64, Decimal("1e-12")
    exact = kl_root(z, n, 0.95, upper=True)
    got = Decimal(float(kl_upper(z, n)))
    assert exact * (1 - rounding) <= got <= exact * (1 + rounding) + Decimal(step), (got, exact)
    if z > 0:
        exact = kl_root(z, n, 0.95, upper=False)
        got = Decimal(float(kl_lower(z, n)))
        low = exact * (1 - rounding) - Decimal(z * step)
        assert low <= got <= exact * (1 + rounding), (got, exact)


@pytest.mark.parametrize(("k", "n"), [(1, 10), (3, 100), (20, 1000), (500, 1000)])
def test_the_bounds_are_no_tighter_than_the_exact_binomial_ones(k: int, n: int) -> None:
    # For 0/1 cases the exact bound is Clopper-Pearson; Chernoff's is looser, never tighter.
    assert float(kl_upper(k / n, n)) >= float(cp_upper(k, n))
    assert float(kl_lower(k / n, n)) <= k / n <= float(kl_upper(k / n, n))


def test_weights_are_bounded_and_average_one() -> None:
    prop = towards_box(0.9, defensive=0.1)
    u = prop.draw(np.random.default_rng(1), 200_000)
    w = prop.weights(u)
    assert w.max() <= 1 / 0.1 + 1e-12
    assert abs(w.mean() - 1) < 4 * w.std() / math.sqrt(len(w))  # E_q[base / q] = 1
    # In the box q = 0.1 + 0.9 * (10 * 0.9)^2 = 73.0, so a case there weighs 1 / 73.
    inside = (u[:, 0] < 0.1) & (u[:, 1] < 0.1)
    assert np.allclose(w[inside], 1 / 73.0)
    assert prop.max_ratio({0: (0.0, 0.1), 1: (0.0, 0.1)}) == pytest.approx(1 / 73.0)


def test_weights_stay_finite_in_many_dimensions() -> None:
    # 200 dimensions with all mass in one of 64 bins: a density of 64^200 overflows a
    # float; its logarithm does not, and the weights keep their bound 1 / defensive.
    row = [1.0] + [0.0] * 63
    prop = Proposal(tuple(tuple(row) for _ in range(200)), 0.2)
    u = prop.draw(np.random.default_rng(2), 1000)
    lw = prop.log_weights(u)
    assert np.all(np.isfinite(lw)) and np.exp(lw).max() <= 5.0 + 1e-12
    assert lw.min() == pytest.approx(-(math.log1p(-0.2) + 200 * math.log(64)), rel=1e-12)


def test_the_sampler_draws_each_case_from_its_own_stream() -> None:
    props = (Proposal.base(3, BINS), towards_box(0.8, d=3))
    sampler = make_sampler("importance", 3, 40, 5, proposals=props, starts=(0, 20))
    assert isinstance(sampler, ImportanceSampler)
    whole = sampler.points(0, 40)
    assert np.array_equal(sampler.points(13, 11), whole[13:24])
    assert list(sampler.stage_of([0, 19, 20, 39])) == [0, 0, 1, 1]
    assert np.array_equal(sampler.log_weights(0, whole[:20]), np.zeros(20))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Proposal(((1.0, 1.0),), 0.0), r"proposal.defensive: 0.0 must be in \(0, 1\]"),
        (lambda: Proposal(((1.0, 1.0),), 1.5), "proposal.defensive: 1.5"),
        (lambda: Proposal(((1.0, -1.0),), 0.1), "finite number >= 0"),
        (lambda: Proposal(((0.0, 0.0),), 0.1), "positive sum"),
        (lambda: Proposal(((1.0, math.inf),), 0.1), "finite number >= 0"),
        (
            lambda: Proposal.from_dict({"probs": [[1.0, 1.0], [1.0]], "defensive": 0.1}),
            "row 1 has 1 bins, row 0 has 2",
        ),
        (
            lambda: Proposal.from_dict({"probs": [["x", 1.0]], "defensive": 0.1}),
            "row 0 holds 'x'; every entry must be a number",
        ),
        (
            lambda: Proposal.from_dict({"probs": [1.0, 1.0], "defensive": 0.1}),
            "must be a list of rows",
        ),
        (lambda: Proposal.from_dict({"probs": [[1, 1]]}, 3), "1 dimensions, the parameter"),
        (
            lambda: Proposal.from_dict({"probs": [[1]], "defensiv": 0.2}),
            r"proposal: unknown key 'defensiv'; allowed: defensive, probs$",
        ),
        (lambda: Proposal.from_dict([[1.0]]), "must be a table with probs"),
        (
            lambda: Proposal(((1.0, 1.0), (math.nan, 1.0)), 0.1),
            r"proposal.probs: row 1 \(dimension 1\), bin 0 holds nan; every entry must be a "
            "finite number >= 0",
        ),
        (
            lambda: Proposal(((1.0, 1.0), (1.0, -2.0)), 0.1),
            r"row 1 \(dimension 1\), bin 1 holds -2.0; every entry must be a finite number",
        ),
        (
            lambda: Proposal(((1.0, 1.0), (0.0, 0.0)), 0.1),
            r"proposal.probs: row 1 \(dimension 1\) sums to 0; every dimension's row needs a "
            "positive sum",
        ),
        (lambda: Proposal.base(2).log_pdf([[0.5, 1.5]]), "in the unit cube"),
        (lambda: make_sampler("importance", 2, 10, 0), "needs a proposal"),
        (
            lambda: make_sampler("importance", 3, 10, 0, proposals=(Proposal.base(2),)),
            "a proposal of 2 dimensions for a space of 3",
        ),
        (
            lambda: fit_cross_entropy(Proposal.base(1), [[0.5]], [1.0], [0.0], elite=0),
            r"importance.elite: 0 must be in \(0, 1\]",
        ),
        (
            lambda: weighted_rate([1.0, 20.0], [False, True], weight_bound=10.0),
            "exceeds weight_bound",
        ),
        (
            lambda: weighted_rate([1.0, math.inf], [False, True], weight_bound=10.0),
            "finite number >= 0",
        ),
        (lambda: weighted_rate([1.0], [True], weight_bound=0.0), "weight_bound: 0"),
    ],
)
def test_bad_input_is_one_line(build: object, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match) as err:
        build()  # type: ignore[operator]
    assert "\n" not in str(err.value)


ENTRIES = st.one_of(
    st.floats(0.0, 1e308),
    st.floats(0.0, 1.0),
    st.floats(1e-320, 1e-300),
    st.integers(0, 10**6),
)


@given(
    st.integers(1, 12).flatmap(
        lambda bins: st.lists(
            st.lists(ENTRIES, min_size=bins, max_size=bins).filter(lambda r: max(r) > 0),
            min_size=1,
            max_size=4,
        )
    ),
    st.floats(1e-6, 1.0),
)
def test_a_proposal_reads_back_bit_for_bit(rows: list[list[float]], defensive: float) -> None:
    prop = Proposal(tuple(tuple(r) for r in rows), defensive)
    back = Proposal.from_dict(json.loads(json.dumps(prop.to_dict())))  # as campaign.json
    assert back == prop and back.to_dict() == prop.to_dict()
    assert np.allclose(np.sum(prop.probs, axis=1), 1.0, rtol=0, atol=1e-12)


def test_a_fitted_proposal_reads_back_bit_for_bit() -> None:
    rng = np.random.default_rng(4)
    prop = towards_box(0.6, d=5)
    for _ in range(5):  # a few cross-entropy steps, as a campaign's stages
        u = prop.draw(rng, 200)
        scores = np.where(planted(u, 0.5) > 0, np.inf, rng.random(200))
        prop = fit_cross_entropy(prop, u, scores, prop.log_weights(u))
        back = Proposal.from_dict(json.loads(json.dumps(prop.to_dict())))
        assert back == prop
        streams = [np.random.SeedSequence(7, spawn_key=(k,)) for k in range(50)]
        assert np.array_equal(back.sample(streams), prop.sample(streams))


def test_too_few_effective_cases_leave_the_rate_undecided() -> None:
    w = np.r_[np.full(99, 1e-3), 1.0]  # one case carries nearly all the weight
    res = weighted_rate(w, np.zeros(100, dtype=bool), weight_bound=1.0, min_ess=30)
    assert res.ess < 2 and res.status == "undecided"
    assert (res.upper, res.lower) == (1.0, 0.0)


def test_cross_entropy_moves_the_proposal_towards_failures() -> None:
    rng = np.random.default_rng(3)
    base = Proposal.base(2, BINS, defensive=0.1)
    u = base.draw(rng, 2000)
    failed = rng.random(2000) < planted(u, 0.5)
    scores = np.where(failed, np.inf, -np.inf)
    new = fit_cross_entropy(base, u, scores, base.log_weights(u), elite=0.1, smoothing=0.7)
    # Every failure lies in bin 0 of dimensions 0 and 1 and weighs 1: the fit there is
    # (e * 1 + 10 * 0.1) / (e + 10) with e failures, smoothed 0.7 against 0.1.
    e = int(failed.sum())
    want = 0.7 * (e + 1) / (e + 10) + 0.3 * 0.1
    assert e >= 5 and new.probs[0][0] == pytest.approx(want) == new.probs[1][0]
    assert new.defensive == 0.1
    # No case with a signal: nothing to learn, the proposal stays.
    none = np.full(2000, -np.inf)
    assert fit_cross_entropy(base, u, none, base.log_weights(u)) is base


def _estimates(prop: Proposal, reps: int, n: int, inside: float, seed: int) -> np.ndarray:
    """(reps, 4): HT and self-normalised estimates, upper bound, ESS of seeded runs."""
    rng = np.random.default_rng(seed)
    out = np.empty((reps, 4))
    bound = prop.max_ratio({})
    for r in range(reps):
        u = prop.draw(rng, n)
        failed = rng.random(n) < planted(u, inside)
        res = weighted_rate(prop.weights(u), failed, weight_bound=bound, min_ess=30)
        out[r] = res.rate, res.rate_sn, res.upper, res.ess
    return out


def test_importance_sampling_estimates_a_rate_of_1e_6_without_bias() -> None:
    # Planted region of base mass 1e-2 failing at 1e-4: overall rate 1e-6. With 2,000
    # cases per run, plain Monte Carlo sees a failure in 1 run of 500; the proposal
    # puts 73 % of its cases in the region.
    truth, reps = 1e-6, 2000
    est = _estimates(towards_box(0.9), reps, 2000, 1e-4, seed=4)
    for col in (0, 1):  # Horvitz-Thompson, self-normalised
        se = est[:, col].std(ddof=1) / math.sqrt(reps)
        assert abs(est[:, col].mean() - truth) < 4 * se, (col, est[:, col].mean(), se)
    # Plain Monte Carlo's sd is sqrt(p / n); here the variance per case is E_q[w^2 f] =
    # p / 73, so the sd is sqrt(73) = 8.5 times smaller.
    assert est[:, 0].std() < 0.2 * math.sqrt(truth / 2000)
    assert np.all(est[:, 2] >= truth)  # every upper bound holds here


@pytest.mark.parametrize(
    ("weight", "defensive"),
    [(0.9, 0.1), (0.02, 0.3), (0.5, 1.0)],  # on target, away from it, the base itself
)
def test_upper_bounds_cover_the_truth_in_95_percent_of_runs(
    weight: float, defensive: float
) -> None:
    # A rate high enough for the bound to be tight: 0.5 in the region, 5e-3 overall.
    truth, reps = 5e-3, 600
    est = _estimates(towards_box(weight, defensive), reps, 1000, 0.5, seed=5)
    misses = float(np.mean(est[:, 2] < truth))
    assert misses <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / reps)


def test_staged_cross_entropy_cases_all_count_without_bias() -> None:
    # Three stages: the base, then two proposals fitted to the stage before. Every
    # case weighs base / its own stage's proposal; their plain mean is unbiased
    # whatever the fits chose (each stage is unbiased given the stages before it).
    truth, reps, n = 5e-5, 400, 600
    rng = np.random.default_rng(6)
    est, found = np.empty(reps), np.zeros(3)
    for r in range(reps):
        prop = Proposal.base(2, BINS, defensive=0.1)
        w_all, f_all = [], []
        for stage in range(3):
            u = prop.draw(rng, n)
            failed = rng.random(n) < planted(u, 5e-3)
            lw = prop.log_weights(u)
            w_all.append(np.exp(lw))
            f_all.append(failed)
            found[stage] += failed.sum()
            score = np.where(failed, np.inf, -np.abs(u - 0.05).sum(axis=1))  # distance
            prop = fit_cross_entropy(prop, u, score, lw, elite=0.1, smoothing=0.7)
        res = weighted_rate(np.concatenate(w_all), np.concatenate(f_all), weight_bound=10.0)
        est[r] = res.rate
    se = est.std(ddof=1) / math.sqrt(reps)
    assert abs(est.mean() - truth) < 4 * se
    assert found[2] > 10 * max(found[0], 1)  # the later stages find the failures


def test_huge_entries_normalise_without_overflow() -> None:
    prop = Proposal(((1e308, 1e308, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0)), 0.1)
    assert prop.probs[0][:2] == (0.5, 0.5) and prop.probs[0][2] < 1e-307
    assert prop.probs[1] == (0.25,) * 4


def test_a_given_proposal_sets_the_bins_a_table_leaves_out() -> None:
    # campaign.json recorded the default 16 bins while every stage drew from the
    # proposal's 4.
    from highfive.harness._importance import check_importance

    prop = {"probs": [[1.0] * 4 for _ in range(3)]}
    assert check_importance({"proposal": prop}, 3, "")["bins"] == 4
    assert check_importance({}, 3, "")["bins"] == 16
