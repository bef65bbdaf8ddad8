"""Halton and Sobol points computed from the case index equal scipy's bit for bit.

Early cases are checked against scipy's engine reached by ``fast_forward`` (what the
sampler called before), late ones against scipy's own scrambled van der Corput loop
started at the index, which is what ``Halton.random`` runs after a fast-forward (the
engine itself cannot reach them: it builds every earlier point). Sobol's are checked
against its engine.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import qmc
from scipy.stats._qmc import van_der_corput

from highfive.generators import make_sampler
from highfive.generators._samplers import _qmc_rng

seeds = st.integers(0, 2**64)
dims = st.integers(1, 40)


@given(seeds, dims, st.integers(0, 5_000), st.integers(0, 40))
def test_early_points_equal_scipys_engine(seed: int, d: int, start: int, count: int) -> None:
    engine = qmc.Halton(d, scramble=True, rng=_qmc_rng(seed))
    engine.fast_forward(start)
    expected = engine.random(count)
    got = make_sampler("halton", d, start + count + 1, seed).points(start, count)
    assert got.tobytes() == expected.tobytes()


@given(seeds, dims, st.integers(0, 109**7 - 50), st.integers(1, 20))
def test_late_points_equal_scipys_scrambled_radical_inverse(
    seed: int, d: int, start: int, count: int
) -> None:
    engine = qmc.Halton(d, scramble=True, rng=_qmc_rng(seed))  # its permutations
    expected = np.array(
        [
            van_der_corput(count, b, start_index=start, scramble=True, permutations=p)
            for b, p in zip(engine.base, engine._permutations, strict=True)
        ]
    ).T
    got = make_sampler("halton", d, 109**7, seed).points(start, count)
    assert got.tobytes() == expected.tobytes()


@given(seeds, st.integers(0, 10**12), st.integers(1, 30), st.integers(0, 29))
def test_a_case_is_the_same_in_any_batch(seed: int, start: int, count: int, k: int) -> None:
    s = make_sampler("halton", 36, 10**13, seed)
    k = k % count
    assert s.points(start, count)[k].tobytes() == s.points(start + k, 1)[0].tobytes()


@given(seeds, st.integers(1, 40), st.integers(0, 5_000), st.integers(0, 40))
def test_sobol_points_equal_scipys_engine(seed: int, d: int, start: int, count: int) -> None:
    # Sobol's points are computed from the index too (Gray code), against its engine.
    engine = qmc.Sobol(d, scramble=True, rng=_qmc_rng(seed))
    if start:
        engine.fast_forward(start)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        expected = engine.random(count)
    got = make_sampler("sobol", d, 2**30, seed).points(start, count)
    assert got.tobytes() == expected.tobytes()
