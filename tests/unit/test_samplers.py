"""Samplers: Sobol's advice on a case count that is not a power of two (once), each
sampler's limit on cases, and Halton's cost independent of where a batch starts.

The rule lives in the sampler (``Sampler._advice``); ``make_sampler(..., warn=True)``
issues it where a campaign is planned, and every other construction (workers, replay)
stays silent.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

from highfive.generators import SAMPLERS, InvalidParameter, Proposal, Sampler, make_sampler

BOX = (((0, 0.0, 0.5),),)  # the focus sampler needs target boxes
PROPOSAL = (Proposal(((1, 3), (1, 1), (2, 1)), 0.2),)  # and the importance sampler a proposal


def _make(name: str, n: int, *, warn: bool) -> Sampler:
    return make_sampler(name, 3, n, seed=11, boxes=BOX, proposals=PROPOSAL, warn=warn)


@pytest.mark.parametrize(
    ("n", "neighbours"),
    [
        pytest.param(1000, "512 or 1024", id="1000"),
        pytest.param(3, "2 or 4", id="3"),
        pytest.param(1025, "1024 or 2048", id="1025"),
    ],
)
def test_sobol_warns_once_when_n_is_not_a_power_of_two(n: int, neighbours: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _make("sobol", n, warn=True)
    assert [str(w.message) for w in caught] == [
        f"sampler sobol: cases={n} is not a power of two; Sobol points keep their balance "
        f"only for powers of two (e.g. {neighbours})"
    ]
    assert caught[0].category is UserWarning
    assert caught[0].filename == __file__  # points at whoever asked for the warning


@pytest.mark.parametrize("n", [1, 2, 1024, 2**20])
def test_sobol_is_silent_for_powers_of_two(n: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _make("sobol", n, warn=True)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("warn", [False, True], ids=["warn=False", "warn=True"])
def test_only_sobol_with_warn_ever_warns(name: str, warn: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if name == "sobol" and warn:
            with pytest.warns(UserWarning, match=r"cases=1000 is not a power of two"):
                _make(name, 1000, warn=warn)
        else:
            _make(name, 1000, warn=warn)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_warn_does_not_change_the_points(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loud = _make(name, 1000, warn=True)
    quiet = _make(name, 1000, warn=False)
    assert np.array_equal(loud.points(7, 20), quiet.points(7, 20))


def test_a_late_halton_batch_costs_what_an_early_one_does() -> None:
    # Halton reached case i by scipy's fast_forward(i), which builds every earlier
    # point: a batch at case 1e6 took 3.85 s and 645 MB, a replay of case 1e8 24 GB.
    s = make_sampler("halton", 2, 4_000_000, 1)
    peaks = []
    for start in (0, 3_000_000):
        tracemalloc.start()
        s.points(start, 16)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 2 * peaks[0] + 100_000, peaks  # it held 48 MB at 3e6


@pytest.mark.parametrize(
    ("name", "d", "most"),
    [
        pytest.param("sobol", 36, 2**30, id="sobol"),
        pytest.param("halton", 36, 109**7, id="halton-36"),  # base 109: 7 digits kept
        pytest.param("halton", 1, 2**53, id="halton-1"),  # base 2: 53 digits kept
        pytest.param("lhs", 36, 2**53, id="lhs"),
        pytest.param("random", 36, 2**63 - 1, id="random"),
    ],
)
def test_each_sampler_draws_up_to_its_limit_and_refuses_beyond(
    name: str, d: int, most: int
) -> None:
    # Sobol took 10**12 cases and crashed from index 2**30 (ValueError, OverflowError).
    last = make_sampler(name, d, most, 3).points(most - 1, 1)
    assert last.shape == (1, d) and np.all((last >= 0) & (last < 1))
    with pytest.raises(
        InvalidParameter, match=rf"^cases: {most + 1:,} is more than sampler '{name}' can draw"
    ) as caught:
        make_sampler(name, d, most + 1, 3)
    assert f"at most {most:,} cases" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_sobol_advice_suggests_only_sizes_sobol_can_make() -> None:
    # cases=10**12 was advised "549755813888 or 1099511627776", beyond 2**30.
    with pytest.raises(InvalidParameter, match=r"use sampler 'random' or 'halton' or 'lhs'"):
        make_sampler("sobol", 3, 10**12, 1, warn=True)
    with pytest.warns(UserWarning, match=r"\(e\.g\. 536870912 or 1073741824\)$"):
        make_sampler("sobol", 3, 2**30 - 1, 1, warn=True)


@pytest.mark.parametrize("name", ["sobol", "halton"])
def test_a_scipy_without_the_internals_used_gets_the_same_points_by_its_walk(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The direct computation reads private attributes of scipy's engines; where a
    # scipy lacks them, the engine's own walk gives the same points (slowly).
    from highfive.generators import _samplers

    direct = make_sampler(name, 5, 4096, 3, ()).points(1000, 16)
    if name == "sobol":
        monkeypatch.setattr(_samplers, "_sobol_internals", lambda engine: False)
        walked = make_sampler(name, 5, 4096, 3, ()).points(1000, 16)
    else:
        sampler = make_sampler(name, 5, 4096, 3, ())
        sampler._perms = None  # as from an engine without _permutations
        walked = sampler.points(1000, 16)
    np.testing.assert_array_equal(direct, walked)


@pytest.mark.parametrize(("start", "count"), [(1.5, 2), (1.0, 2), (0, 2.0), (True, 2), ("1", 2)])
def test_points_take_whole_numbers_of_cases(start: object, count: object) -> None:
    # points(1.5, 2) gave the two rows of cases 1 and 2.
    with pytest.raises(
        InvalidParameter, match=r"^sampler random: (start|count)=.*; must be a whole"
    ):
        make_sampler("random", 2, 10, 0).points(start, count)  # type: ignore[arg-type]
