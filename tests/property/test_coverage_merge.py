"""Merging coverage counts: exact, associative, commutative, and blind to how rows split.

The cocotb-coverage pitfall (merge order changing results, 200 % coverage) cannot occur
when merging is integer addition of counts and coverage is recomputed from them.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from highfive.coverage import (
    FAIL_VERDICTS,
    VERDICTS,
    Binning,
    CoverageCounts,
    coverage,
    make_crosses,
    merge_counts,
)
from highfive.generators import ConfigError, Dimension, ParameterSpace

SPACE = ParameterSpace(
    [
        Dimension("motion", "categorical", choices=("high_five", "clap", "rest")),
        Dimension("peak", "continuous", 4.0, 40.0, distribution="log-uniform"),
        Dimension("reps", "integer", 1, 3),
        Dimension("roll", "continuous", -60.0, 60.0, distribution="normal", sd=25.0),
    ]
)
BINNING = Binning.from_space(SPACE, {"motion": {"ignore": ["rest"]}, "peak": {"count": 3}})
CROSSES = make_crosses(BINNING, (1, 2, 3))
CELLS = sum(c.n_cells(BINNING) for c in CROSSES)
SHA = {"float": "f" * 64, "int8": "e" * 64, "other": None}


@st.composite
def counts(draw: st.DrawFn) -> CoverageCounts:
    """Random counts over BINNING and CROSSES for a random subset of models."""
    models = tuple(sorted(draw(st.sets(st.sampled_from(sorted(SHA)), max_size=3))))
    m, d = len(models), len(BINNING)
    small = st.integers(0, 40)
    fails = draw(hnp.arrays(np.int64, (CELLS, m, len(FAIL_VERDICTS)), elements=small))
    extra = draw(hnp.arrays(np.int64, (CELLS, m), elements=small))
    side = draw(hnp.arrays(np.int64, (3, d, m), elements=small))
    return CoverageCounts(
        BINNING,
        CROSSES,
        models,
        tuple(SHA[x] for x in models),
        fails.sum(axis=-1) + extra,
        fails,
        side[0].sum(axis=0),
        side[1],
        side[2],
    )


@given(counts(), counts(), counts())
def test_merge_is_associative_and_commutative(
    a: CoverageCounts, b: CoverageCounts, c: CoverageCounts
) -> None:
    left = a.merge(b).merge(c)
    assert left == a.merge(b.merge(c))
    assert left == c.merge(b.merge(a))
    assert left == merge_counts([b, c, a])
    assert a.merge(b) == b.merge(a)
    assert set(left.models) == set(a.models) | set(b.models) | set(c.models)
    cov = coverage(left)
    assert cov["coverage"].between(0, 1).all()
    for part in (a, b, c):  # coverage only grows, and never past 100 %
        mine = coverage(part).set_index(["cross", "model"])["covered"]
        merged = cov.set_index(["cross", "model"])["covered"]
        assert (merged.loc[mine.index] >= mine).all()


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    params = SPACE.from_unit(rng.random((n, SPACE.d)))
    parts = []
    for m in ("float", "int8"):
        f = params.assign(case_id=np.arange(n), model=m)
        p = [0.6] + [0.4 / (len(VERDICTS) - 1)] * (len(VERDICTS) - 1)
        f["verdict"] = rng.choice(np.array(VERDICTS, dtype=object), n, p=p)
        parts.append(f)
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=rng)


@given(
    st.integers(0, 200),
    st.integers(0, 2**32 - 1),
    st.lists(st.floats(0, 1), max_size=4),
    st.integers(5, 150),
)
def test_counts_of_split_results_merge_to_the_whole(
    n: int, seed: int, cuts: list[float], batch_size: int
) -> None:
    table = frame(n, seed)
    whole = CoverageCounts.from_results(table, BINNING, CROSSES)
    edges = sorted({0, len(table), *(int(c * len(table)) for c in cuts)})
    parts = [
        CoverageCounts.from_results(table.iloc[lo:hi], BINNING, CROSSES, batch_size=batch_size)
        for lo, hi in itertools.pairwise(edges)
    ]
    merged = merge_counts([CoverageCounts.empty(BINNING, CROSSES), *parts])
    assert merged == whole
    if parts:
        assert merge_counts(parts[::-1]) == whole


@given(st.integers(1, 6), st.integers(1, 6))
def test_merging_different_binnings_raises(count_a: int, count_b: int) -> None:
    table = frame(20, 0)
    a = Binning.from_space(SPACE, {"peak": {"count": count_a}})
    b = Binning.from_space(SPACE, {"peak": {"count": count_b}})
    ca = CoverageCounts.from_results(table, a, make_crosses(a))
    cb = CoverageCounts.from_results(table, b, make_crosses(b))
    if count_a == count_b:
        assert ca.merge(cb).n.sum() == 2 * ca.n.sum()
    else:
        with pytest.raises(ConfigError, match=r"cannot merge coverage: the bins differ"):
            ca.merge(cb)
        with pytest.raises(ConfigError, match=r"cannot merge coverage: the bins differ"):
            cb.merge(ca)
