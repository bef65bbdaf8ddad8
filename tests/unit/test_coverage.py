"""Coverpoints, crosses, the counts database and cell statistics (highfive.coverage)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from scipy.stats import binomtest

from highfive.coverage import (
    FAIL_VERDICTS,
    IGNORED,
    ILLEGAL,
    VERDICTS,
    Binning,
    CoverageCounts,
    Coverpoint,
    Cross,
    cases_needed,
    cell_stats,
    cells_frame,
    codes,
    coverage,
    cp_interval,
    cp_lower,
    cp_upper,
    cs_lower,
    cs_upper,
    holes,
    load_crosses,
    make_crosses,
    merge_counts,
    summary,
)
from highfive.generators import (
    ConfigError,
    Dimension,
    InvalidParameter,
    ParameterSpace,
    RunDirError,
    default_space,
)
from highfive.generators.motions import MOTIONS

# -- helpers -------------------------------------------------------------------------


def small_space() -> ParameterSpace:
    return ParameterSpace(
        [
            Dimension("motion", "categorical", choices=("high_five", "clap", "rest")),
            Dimension("peak", "continuous", 4.0, 40.0, distribution="log-uniform"),
            Dimension("reps", "integer", 1, 3),
            Dimension("fixed", "continuous", 1.0, 1.0),
        ]
    )


def results_frame(
    space: ParameterSpace,
    n: int,
    seed: int,
    models: tuple[str, ...] = ("float", "int8"),
    fail_p: float = 0.05,
) -> pd.DataFrame:
    """A synthetic results table: parameters from the space, one row per case and model."""
    rng = np.random.default_rng(seed)
    params = space.from_unit(rng.random((n, space.d)))
    frames = []
    for m in models:
        f = params.copy()
        f.insert(0, "case_id", np.arange(n))
        f["model"] = m
        k = len(FAIL_VERDICTS)
        p = [1 - fail_p] + [fail_p / k] * k
        f["verdict"] = rng.choice(np.array(VERDICTS, dtype=object), size=n, p=p)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def reference_bins(cp: Coverpoint, values: pd.Series) -> np.ndarray:
    """Slow, obvious binning of one column, to check the vectorised one."""
    out = []
    for x in values:
        if cp.choices is not None:
            hits = [i for i, c in enumerate(cp.choices) if c == x]
            raw = hits[0] if hits else None
        else:
            e = cp.edges
            assert e is not None
            raw = next((i for i in range(len(e) - 1) if e[i] <= x < e[i + 1]), None)
            if raw is None and x == e[-1]:
                raw = len(e) - 2
        if raw is None:
            out.append(ILLEGAL)
        elif cp.labels[raw] in cp.ignored_labels:
            out.append(IGNORED)
        elif cp.labels[raw] in cp.illegal_labels:
            out.append(ILLEGAL)
        else:
            out.append(cp.bin_labels.index(cp.labels[raw]))
    return np.array(out)


# -- Clopper-Pearson ------------------------------------------------------------------


def test_zero_failure_upper_bound_is_the_closed_form() -> None:
    # Source: with k = 0, P(X = 0) = (1-p)^n = 1-c gives p = 1 - (1-c)^(1/n), written
    # -expm1(log(1-c)/n) to stay accurate for large n.
    n = np.array([1, 2, 10, 100, 2994, 2995, 10**6, 10**9])
    for c in (0.9, 0.95, 0.99):
        np.testing.assert_allclose(cp_upper(0, n, c), -np.expm1(np.log(1 - c) / n), rtol=1e-12)


def test_golden_cases_to_show_one_in_a_thousand() -> None:
    # Source: the exact binomial tail, checked independently by scipy.stats.binomtest below.
    assert cp_upper(0, 2995) < 1e-3 < cp_upper(0, 2994)
    assert cp_upper(1, 4742) < 1e-3 < cp_upper(1, 4741)
    assert cp_upper(2, 6294) < 1e-3 < cp_upper(2, 6293)
    needed = cases_needed([0, 1, 2, 1, 2], [0, 1, 2, 100, 1000], 1e-3, 0.95)
    assert needed[0] == 2995
    assert needed[3] == 4742 - 100
    assert needed[4] == 6294 - 1000
    assert np.isinf(needed[1]) and np.isinf(needed[2])  # already shown to fail


GRID = [
    (k, n)
    for n in (1, 2, 3, 7, 20, 57, 100, 1000, 4742)
    for k in sorted({0, 1, 2, n // 3, n // 2, n - 1, n})
    if 0 <= k <= n
]


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_bounds_equal_scipy_binomtest(confidence: float) -> None:
    # Source: scipy.stats.binomtest(...).proportion_ci(method="exact"), a root finder.
    k = np.array([g[0] for g in GRID])
    n = np.array([g[1] for g in GRID])
    upper, lower = cp_upper(k, n, confidence), cp_lower(k, n, confidence)
    low2, high2 = cp_interval(k, n, confidence)
    for i, (kk, nn) in enumerate(GRID):
        less = binomtest(kk, nn, alternative="less").proportion_ci(confidence, "exact")
        greater = binomtest(kk, nn, alternative="greater").proportion_ci(confidence, "exact")
        both = binomtest(kk, nn).proportion_ci(confidence, "exact")
        assert upper[i] == pytest.approx(less.high, rel=1e-9, abs=1e-11), (kk, nn)
        assert lower[i] == pytest.approx(greater.low, rel=1e-9, abs=1e-11), (kk, nn)
        assert low2[i] == pytest.approx(both.low, rel=1e-9, abs=1e-11), (kk, nn)
        assert high2[i] == pytest.approx(both.high, rel=1e-9, abs=1e-11), (kk, nn)


def test_cases_needed_is_the_smallest_sufficient_count() -> None:
    rng = np.random.default_rng(3)
    n = rng.integers(0, 20000, 300)
    k = np.minimum(rng.integers(0, 6, 300), n)
    for p in (1e-2, 1e-3):
        need = cases_needed(k, n, p)
        fin = np.isfinite(need)
        total = n[fin] + need[fin]
        assert np.all(cp_upper(k[fin], total) < p)
        short = need[fin] > 0
        assert np.all(cp_upper(k[fin][short], total[short] - 1) >= p)
        assert np.all(cp_lower(k[~fin], n[~fin]) > p)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: cp_upper(0, 10, 1.0), r"confidence: 1\.0 must be in \[0\.5, 1\)"),
        (lambda: cp_upper(0, 10, 0.2), r"confidence: 0\.2"),
        (lambda: cp_upper(3, 2), r"3 failures in 2 cases"),
        (lambda: cp_lower(-1, 2), r"-1 failures in 2 cases"),
        (lambda: cp_upper(0.5, 2), r"whole numbers"),
        (lambda: cases_needed(0, 10, 0.0), r"p_target: 0\.0 must be a failure rate in \(0, 1\)"),
        (lambda: cases_needed(0, 10, 1.5), r"p_target: 1\.5"),
    ],
    ids=["conf-1", "conf-low", "k>n", "k<0", "k-fraction", "p-zero", "p-above-1"],
)
def test_bad_statistics_arguments(call: object, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        call()  # type: ignore[operator]


# -- coverpoints from the default space ------------------------------------------------


def test_default_bins_follow_each_dimension() -> None:
    space = default_space()
    binning = Binning.from_space(space)
    assert binning.names == tuple(d.name for d in space if not d.is_fixed)
    grid = np.linspace(0, 1, 5)
    for dim in space:
        cp = binning[dim.name]
        if dim.kind == "categorical":
            assert cp.choices == dim.choices and cp.n_bins == len(dim.choices or ())
        elif dim.kind == "integer" and dim.high - dim.low + 1 <= 6:  # type: ignore[operator]
            assert cp.choices == tuple(range(int(dim.low), int(dim.high) + 1))  # type: ignore[arg-type]
        else:
            e = np.asarray(cp.edges)
            assert cp.n_bins == 4 and e[0] == dim.low and e[-1] == dim.high
            np.testing.assert_allclose(e[1:-1], dim.from_unit(grid)[1:-1])
    # log-uniform: log-spaced; truncated normal: quantiles, symmetric about the nominal
    e = np.asarray(binning["peak_accel"].edges)
    np.testing.assert_allclose(np.diff(np.log(e)), np.log(10) / 4)
    w = np.asarray(binning["wrist_roll"].edges)
    np.testing.assert_allclose(w + w[::-1], 0, atol=1e-9)
    assert w[2] == pytest.approx(0.0, abs=1e-12)


def test_default_bins_are_equally_likely_under_sampling() -> None:
    space = default_space()
    binning = Binning.from_space(space)
    table = space.from_unit(np.random.default_rng(1).random((40000, space.d)))
    code, illegal = codes(binning, table)
    assert not illegal.any() and (code >= 0).all()
    for j, dim in enumerate(space):
        if dim.kind == "continuous":
            share = np.bincount(code[:, j], minlength=4) / len(table)
            np.testing.assert_allclose(share, 0.25, atol=0.015, err_msg=dim.name)


def test_fixed_dimensions_have_no_coverpoint() -> None:
    space = default_space().restrict(motion="high_five", sample_rate=50, duration=10.0)
    names = Binning.from_space(space).names
    assert {"motion", "sample_rate", "duration"}.isdisjoint(names)
    assert "peak_accel" in names


def test_labels_are_readable() -> None:
    b = Binning.from_space(default_space())
    assert b["peak_accel"].bin_labels == (
        "peak_accel[4,7.11)",
        "peak_accel[7.11,12.6)",
        "peak_accel[12.6,22.5)",
        "peak_accel[22.5,40]",
    )
    assert b["motion"].bin_labels[0] == "motion=high_five"
    assert b["repetitions"].bin_labels == tuple(f"repetitions={i}" for i in range(1, 5))
    assert b["resolution_bits"].bin_labels == (
        "resolution_bits[8..9]",
        "resolution_bits[10..11]",
        "resolution_bits[12..13]",
        "resolution_bits[14..16]",
    )
    assert b["noise_density"].bin_labels[-1] == "noise_density[514,1000]"
    assert b["sensor_range"].bin_labels == tuple(f"sensor_range={g}" for g in (2, 4, 8, 16))


ODD = ("a b", "x=y", "[0,1)", "", "ü ☃", "1", 1, "motion=rest", "'q'")


def test_odd_bin_names_are_safe_end_to_end() -> None:
    space = ParameterSpace(
        [
            Dimension("odd", "categorical", choices=ODD),
            Dimension("x", "continuous", 0.0, 1.0),
        ]
    )
    binning = Binning.from_toml('[bins.odd]\nignore = ["[0,1)"]\nillegal = ["x=y"]', space)
    labels = binning["odd"].labels
    assert len(set(labels)) == len(ODD)  # "1" and 1 stay apart
    assert "odd='1'" in labels and "odd=1" in labels
    rng = np.random.default_rng(0)
    values = [v for v in ODD if not isinstance(v, int)]  # one column type: strings
    frame = pd.DataFrame(
        {
            "odd": rng.choice(np.array(values, dtype=object), 500),
            "x": rng.random(500),
            "model": "m",
            "verdict": "pass",
        }
    )
    counts = CoverageCounts.from_results(frame, binning)
    hole = holes(counts)
    assert set(hole["bin_odd"].dropna()) == {"odd=1"}  # the int choice never appears
    table = cells_frame(cell_stats(counts))
    assert "odd=[0,1)" not in set(table["label"])  # ignored bins are no cells
    ign = binning.index("odd")
    assert counts.ignored[ign, 0] == (frame["odd"] == "[0,1)").sum()
    assert counts.illegal[ign, 0] == (frame["odd"] == "x=y").sum()


# -- ignore and illegal ------------------------------------------------------------------


def test_ignored_and_illegal_values_are_kept_out_of_cells() -> None:
    space = small_space()
    binning = Binning.from_space(space, {"motion": {"ignore": ["rest"]}, "reps": {"illegal": [3]}})
    frame = results_frame(space, 3000, seed=4, models=("m",))
    frame.loc[:9, "peak"] = np.nan  # missing values and values out of range are illegal
    frame.loc[10:14, "peak"] = 99.0
    counts = CoverageCounts.from_results(frame, binning)
    rest = frame["motion"] == "rest"
    three = frame["reps"] == 3
    bad_peak = frame["peak"].isna() | (frame["peak"] > 40)
    np.testing.assert_array_equal(counts.ignored[:, 0], [rest.sum(), 0, 0])
    np.testing.assert_array_equal(counts.illegal[:, 0], [0, bad_peak.sum(), three.sum()])
    n = {c.name: counts.n[counts.cells(c.name), 0].sum() for c in counts.crosses}
    assert n["motion"] == (~rest).sum()
    assert n["peak"] == (~bad_peak).sum()
    assert n["motion x reps"] == (~rest & ~three).sum()
    assert binning["motion"].bin_labels == ("motion=high_five", "motion=clap")
    assert binning["motion"].ignored_labels == ("motion=rest",)
    assert binning["reps"].illegal_labels == ("reps=3",)


def test_codes_match_a_slow_reference() -> None:
    space = small_space()
    binning = Binning.from_space(
        space, {"peak": {"edges": [4, 5, 10, 40], "ignore": [7.0]}, "motion": {"illegal": ["clap"]}}
    )
    frame = results_frame(space, 400, seed=5, models=("m",))
    frame.loc[:3, "peak"] = [4.0, 40.0, 3.9, 40.1]
    code, illegal = codes(binning, frame)
    assert code.dtype == np.int16 and code.shape == (400, 3)
    for j, cp in enumerate(binning):
        np.testing.assert_array_equal(code[:, j], reference_bins(cp, frame[cp.name]))
    np.testing.assert_array_equal(illegal, (code == ILLEGAL).sum(axis=0))
    assert list(code[:4, 1]) == [0, 1, ILLEGAL, ILLEGAL]  # both ends closed, outside illegal
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    np.testing.assert_array_equal(codes(binning, arrow)[0], code)


# -- TOML ----------------------------------------------------------------------------------


def test_toml_bins_and_crosses() -> None:
    space = default_space()
    text = """
ways = [1]
[bins.peak_accel]
edges = [4, 7.1, 12, 20, 40]
[bins.gap]
count = 6
[bins.motion]
ignore = ["rest"]
[[crosses]]
name = "motion x background"
dims = ["motion", "background"]
"""
    binning = Binning.from_toml(text, space)
    assert binning["peak_accel"].bin_labels[0] == "peak_accel[4,7.1)"
    assert binning["gap"].n_bins == 6
    assert binning["motion"].n_bins == len(MOTIONS) - 1  # rest ignored
    crosses = load_crosses(text, binning)
    assert crosses[0] == Cross("motion x background", ("motion", "background"))
    assert len(crosses) == 1 + len(binning)
    assert binning.fingerprint != Binning.from_space(space).fingerprint
    assert binning.fingerprint == Binning.from_toml(text, space).fingerprint
    assert binning.space_fingerprint == Binning.from_space(space).space_fingerprint


BAD_TOML = [
    ("[bins.nope]\ncount = 3", r"bins\.nope: unknown dimension; known: motion"),
    (
        "[bins.peak_accel]\nedges = [5, 10, 40]",
        r"bins\.peak_accel\.edges: \[5\.0, 10\.0, 40\.0\] do not cover the range \[4, 40\] "
        r"m/s\^2; make the first edge <= 4",
    ),
    ("[bins.peak_accel]\nedges = [4, 10, 30]", r"range \[4, 40\] m/s\^2.*last >= 40"),
    ("[bins.peak_accel]\nedges = [4, 10, 10, 40]", r"\[4\.0, 10\.0, 10\.0, 40\.0\] must strictly"),
    ("[bins.peak_accel]\nedges = [0, 4, 10, 40]", r"put a whole bin outside the range \[4, 40\]"),
    ("[bins.peak_accel]\nedges = [4, nan, 40]", r"peak_accel\.edges: .* finite"),
    ("[bins.peak_accel]\nedges = [4, 40]\ncount = 3", r"bins\.peak_accel: give edges or count"),
    ("[bins.peak_accel]\ncount = 0", r"bins\.peak_accel\.count: 0 must be a positive"),
    ("[bins.motion]\nedges = [0, 1]", r"bins\.motion: a categorical dimension has one bin"),
    ('[bins.motion]\nignore = ["moonwalk"]', r"motion\.ignore: 'moonwalk' names no bin"),
    ("[bins.motion]\nbins = 3", r"bins\.motion: unknown key 'bins'"),
    ('[bins.gap]\nlabels = ["a", "b"]', r"labels \['a', 'b'\] must be 4 distinct"),
    (
        '[bins.background]\nignore = ["none", "walking", "running", "racket_play"]',
        r"every bin is ignored",
    ),
    ('[bins.motion]\nignore = ["rest"]\nillegal = ["rest"]', r"both ignored and illegal"),
    ("[bins]\npeak_accel = 3", r"bins\.peak_accel: expected a table, got 3"),
    ("bins = [", r"coverage TOML:"),
    ("[coverage]\nt = 2", r"coverage TOML: unknown key 'coverage'"),
]


@pytest.mark.parametrize(
    ("text", "match"),
    BAD_TOML,
    ids=[
        "unknown-dim",
        "edges-low",
        "edges-high",
        "not-increasing",
        "bin-outside",
        "nan-edge",
        "edges-and-count",
        "count-zero",
        "categorical-edges",
        "ignore-unknown",
        "unknown-key",
        "labels-count",
        "all-ignored",
        "ignored-and-illegal",
        "not-a-table",
        "toml-syntax",
        "top-level-key",
    ],
)
def test_bad_toml_bins(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Binning.from_toml(text, default_space())


@pytest.mark.parametrize(
    ("edges", "labels"),
    [
        ([1, 2, 3, 4, 5], ["repetitions=1", "repetitions=2", "repetitions=3", "repetitions[4..5]"]),
        ([0.5, 1.5, 2.5, 4.5], ["repetitions=1", "repetitions=2", "repetitions[3..4]"]),
        ([1, 2, 4], ["repetitions=1", "repetitions[2..4]"]),
    ],
    ids=["per-value", "half-edges", "closed-top"],
)
def test_an_integer_bin_holds_the_whole_numbers_from_its_low_edge(
    edges: list[float], labels: list[str]
) -> None:
    # repetitions is 1-4: [1, 2, 3, 4, 5] was refused as "a whole bin outside the
    # range", though its last bin [4, 5] holds 4 (a continuous [hi, b] holds one point).
    binning = Binning.from_space(default_space(), {"repetitions": {"edges": edges}})
    assert list(binning["repetitions"].labels) == labels
    codes_ = binning["repetitions"].code(np.array([1, 2, 3, 4]))
    assert sorted(set(codes_.tolist())) == list(range(len(labels)))  # every bin holds a value


@pytest.mark.parametrize(
    ("edges", "match"),
    [
        ([0, 1, 2, 3, 4], r"make a bin \[0, 1\) that holds no whole number of the range \[1, 4\]"),
        ([1, 2, 4, 5, 6], r"make a bin \[5, 6\] that holds no whole number"),
        ([1, 1.5, 1.7, 4], r"make a bin \[1\.5, 1\.7\) that holds no whole number"),
    ],
    ids=["below", "above", "between-values"],
)
def test_an_integer_bin_without_a_whole_number_of_the_range_is_refused(
    edges: list[float], match: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^bins\.repetitions\.edges: .*{match}"):
        Binning.from_space(
            default_space(),
            {"repetitions": {"edges": edges, "labels": list("abcd")[: len(edges) - 1]}},
        )


def test_a_continuous_bin_at_the_range_end_is_still_refused() -> None:
    with pytest.raises(ConfigError, match=r"put a whole bin outside the range \[4, 40\]"):
        Binning.from_toml("[bins.peak_accel]\nedges = [4, 10, 40, 50]", default_space())


def test_bins_on_a_fixed_dimension_are_refused() -> None:
    space = default_space().restrict(motion="high_five")
    with pytest.raises(ConfigError, match=r"bins\.motion: the dimension is fixed"):
        Binning.from_toml('[bins.motion]\nignore = ["rest"]', space)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[[crosses]]\ndims = ["motion", "nope"]', r"crosses\[0\]\.dims: 'nope' is not a binned"),
        ('[[crosses]]\ndims = ["motion", "motion"]', r"must be distinct"),
        ('[[crosses]]\ndims = "motion"', r"crosses\[0\]\.dims: 'motion' must be a list"),
        ('[[crosses]]\ndims = ["gap"]\nt = 2', r"crosses\[0\]: unknown key 't'"),
        (
            "ways = [0]",
            rf"ways: 0 must be a whole number from 1 to {len(default_space().names)} \(the number "
            r"of binned dimensions\)",
        ),
        ("ways = 2", r"ways: 2 must be a list"),
        ('[[crosses]]\nname = "gap"\ndims = ["tempo"]', r"name 'gap' is used twice"),
    ],
    ids=["unknown-dim", "repeat-dim", "dims-string", "unknown-key", "ways-0", "ways-int", "dup"],
)
def test_bad_toml_crosses(text: str, match: str) -> None:
    binning = Binning.from_space(default_space())
    with pytest.raises(ConfigError, match=match):
        load_crosses(text, binning)


# -- crosses -------------------------------------------------------------------------------


def test_t_way_crosses_and_cell_index() -> None:
    binning = Binning.from_space(default_space())
    d = len(binning)
    for ways in ([1], [1, 2], [2, 3]):
        crosses = make_crosses(binning, ways)
        assert len(crosses) == sum(math.comb(d, t) for t in ways)
    space = small_space()
    binning = Binning.from_space(space)
    named = [Cross("reps by motion", ("reps", "motion"))]
    crosses = make_crosses(binning, (1, 2), named)
    assert [c.name for c in crosses][:2] == ["reps by motion", "motion"]
    assert "motion x reps" not in [c.name for c in crosses]  # covered by the named one
    frame = results_frame(space, 500, seed=2, models=("m",))
    counts = CoverageCounts.from_results(frame, binning, crosses)
    code, _ = codes(binning, frame)
    cell = np.ravel_multi_index((code[:, 2], code[:, 0]), (3, 3))
    np.testing.assert_array_equal(counts.n[counts.cells(0), 0], np.bincount(cell, minlength=9))


# -- counts ----------------------------------------------------------------------------------


def test_counts_equal_a_pandas_crosstab() -> None:
    space = default_space()
    binning = Binning.from_space(space)
    frame = results_frame(space, 3000, seed=8)
    counts = CoverageCounts.from_results(frame, binning, batch_size=700)
    assert counts.models == ("float", "int8")
    np.testing.assert_array_equal(counts.rows, [3000, 3000])
    code, _ = codes(binning, frame)
    bins = pd.DataFrame(code, columns=binning.names)
    bins["model"], bins["verdict"] = frame["model"], frame["verdict"]
    rng = np.random.default_rng(0)
    for cross in rng.choice(np.array(counts.crosses, dtype=object), 25):
        shape = cross.shape(binning)
        cell = np.ravel_multi_index(tuple(bins[d] for d in cross.dims), shape)
        expect = pd.crosstab(
            pd.Categorical(cell, categories=range(math.prod(shape))),
            [bins["model"], bins["verdict"]],
            dropna=False,
        )
        got_n = counts.n[counts.cells(cross.name)]
        for j, m in enumerate(counts.models):
            np.testing.assert_array_equal(got_n[:, j], expect[m].sum(axis=1))
            for v, verdict in enumerate(FAIL_VERDICTS):
                got = counts.fails[counts.cells(cross.name), j, v]
                np.testing.assert_array_equal(got, expect[m].get(verdict, 0))


def test_counts_are_the_same_from_frame_table_and_dataset(tmp_path: Path) -> None:
    space = small_space()
    binning = Binning.from_space(space)
    frame = results_frame(space, 2000, seed=9)
    a = CoverageCounts.from_results(frame, binning, batch_size=333)
    schema = pa.schema(
        [
            pa.field("case_id", pa.int64()),
            *space.to_arrow_schema(),
            pa.field("verdict", pa.string()),
        ]
    )
    for m, part in frame.groupby("model"):
        table = pa.Table.from_pandas(
            part.drop(columns="model"), schema=schema, preserve_index=False
        )
        (tmp_path / f"model={m}").mkdir()
        pq.write_table(table, tmp_path / f"model={m}" / "part-0.parquet", row_group_size=300)
    dataset = ds.dataset(tmp_path, format="parquet", partitioning="hive")
    b = CoverageCounts.from_results(dataset)  # bins from the space in the schema
    c = CoverageCounts.from_results(pa.Table.from_pandas(frame, preserve_index=False), binning)
    d = CoverageCounts.from_results(frame, binning, batch_size=10**6)
    assert a == b == c == d
    other = ParameterSpace([*small_space().dimensions[:3], Dimension("fixed", "continuous", 2, 2)])
    with pytest.raises(RunDirError, match=r"another parameter space .*\(differs in fixed\)"):
        CoverageCounts.from_results(dataset, Binning.from_space(other))


def test_single_model_frames_and_bad_results() -> None:
    space = small_space()
    binning = Binning.from_space(space)
    frame = results_frame(space, 100, seed=1, models=("m",))
    one = CoverageCounts.from_results(frame.drop(columns="model"), binning, model="solo")
    assert one.models == ("solo",)
    with pytest.raises(RunDirError, match=r"no 'model' column; pass model="):
        CoverageCounts.from_results(frame.drop(columns="model"), binning)
    with pytest.raises(RunDirError, match=r"no column 'peak'"):
        CoverageCounts.from_results(frame.drop(columns="peak"), binning)
    bad = frame.assign(verdict=frame["verdict"].where(frame.index != 5, "oops"))
    with pytest.raises(RunDirError, match=r"verdict 'oops' is not one of \['pass', 'miss'"):
        CoverageCounts.from_results(bad, binning)
    with pytest.raises(ConfigError, match=r"no parameter-space metadata; pass binning="):
        CoverageCounts.from_results(frame)
    with pytest.raises(RunDirError, match=r"column motion: type int64, expected strings"):
        CoverageCounts.from_results(frame.assign(motion=1), binning)
    with pytest.raises(RunDirError, match=r"column peak: type (large_)?string, expected numbers"):
        CoverageCounts.from_results(frame.assign(peak="x"), binning)
    empty = CoverageCounts.from_results(frame.iloc[:0], binning)
    assert empty.models == () and empty == CoverageCounts.empty(binning)


def test_fail_verdicts_match_the_oracle() -> None:
    from highfive.harness import VERDICTS as ORACLE

    assert tuple(ORACLE) == VERDICTS and VERDICTS[1:] == FAIL_VERDICTS


def test_error_and_timeout_are_failures_in_counts_and_cells() -> None:
    space = small_space()
    binning = Binning.from_space(space)
    frame = results_frame(space, 300, seed=3, models=("m",), fail_p=0.0)
    frame.loc[:9, "verdict"] = "error"
    frame.loc[10:14, "verdict"] = "timeout"
    counts = CoverageCounts.from_results(frame, binning, make_crosses(binning, [1]))
    motion = counts.cells("motion")
    per_verdict = dict(zip(FAIL_VERDICTS, counts.fails[motion, 0].sum(axis=0), strict=True))
    assert per_verdict["error"] == 10 and per_verdict["timeout"] == 5
    assert sum(per_verdict.values()) == 15
    cells = cells_frame(cell_stats(counts))
    rows = cells[cells["cross"] == "motion"]
    assert rows["failures"].sum() == 15 == rows["error"].sum() + rows["timeout"].sum()


def test_counts_files_from_before_error_and_timeout_read_them_as_zero(tmp_path: Path) -> None:
    space = small_space()
    frame = results_frame(space, 400, seed=4)
    frame["verdict"] = frame["verdict"].replace({"error": "miss", "timeout": "mixed"})
    counts = CoverageCounts.from_results(frame, Binning.from_space(space), source="s")
    old = counts.to_arrow().drop_columns(["error", "timeout"])
    assert old.schema.metadata == counts.to_arrow().schema.metadata
    pq.write_table(old, tmp_path / "counts.parquet")
    assert CoverageCounts.from_arrow(pq.read_table(tmp_path / "counts.parquet")) == counts


def test_merge_refuses_what_cannot_add() -> None:
    space = small_space()
    frame = results_frame(space, 200, seed=3)
    binning = Binning.from_space(space)
    a = CoverageCounts.from_results(frame, binning, model_sha256={"float": "aa" * 32})
    other_bins = Binning.from_space(space, {"peak": {"count": 3}})
    with pytest.raises(ConfigError, match=r"cannot merge coverage: the bins differ"):
        a.merge(CoverageCounts.from_results(frame, other_bins))
    with pytest.raises(ConfigError, match=r"the crosses differ"):
        a.merge(CoverageCounts.from_results(frame, binning, make_crosses(binning, [1])))
    b = CoverageCounts.from_results(frame, binning, model_sha256={"float": "bb" * 32})
    with pytest.raises(RunDirError, match=r"model 'float' is sha256 aaaaaaaaaaaa\.\.\. in one"):
        a.merge(b)
    first = CoverageCounts.from_results(frame.iloc[:300], binning, source="seed=1")
    again = CoverageCounts.from_results(frame.iloc[:300], binning, source="seed=1")
    with pytest.raises(RunDirError, match=r"cases 0\.\.199 of case sequence seed=1 are in"):
        first.merge(again)
    rest = CoverageCounts.from_results(frame[frame["case_id"] >= 150], binning, source="seed=1")
    with pytest.raises(RunDirError, match=r"cases 150\.\.199"):
        first.merge(rest)
    whole = CoverageCounts.from_results(frame, binning)
    cov = coverage(merge_counts([whole, whole, whole]))
    assert cov["coverage"].max() <= 1.0  # the same cases twice never give 200 %
    pd.testing.assert_frame_equal(cov, coverage(whole))
    with pytest.raises(ConfigError, match=r"nothing to merge"):
        merge_counts([])


def test_from_run_reads_model_hashes_and_refuses_double_counting(tmp_path: Path) -> None:
    from highfive.harness import SCHEMA_VERSION, RunDir

    space = small_space()
    frame = results_frame(space, 300, seed=6)
    run = RunDir(tmp_path / "r")
    run.write_campaign(
        {
            "schema_version": SCHEMA_VERSION,
            "identity": {"seed": 1, "sampler": "sobol", "space": {}},
            "models": [{"id": "float", "sha256": "f" * 64}, {"id": "int8", "sha256": "e" * 64}],
        }
    )
    schema = pa.schema(
        [
            pa.field("case_id", pa.int64()),
            *space.to_arrow_schema(),
            pa.field("verdict", pa.string()),
        ]
    )
    for batch, part in enumerate(np.array_split(np.arange(300), 3)):
        rows = frame[frame["case_id"].isin(part)]
        tables = {
            m: pa.Table.from_pandas(g.drop(columns="model"), schema=schema, preserve_index=False)
            for m, g in rows.groupby("model")
        }
        run.write_batch(batch, tables, None)
    counts = CoverageCounts.from_run(run.path)
    assert counts.model_sha256 == ("f" * 64, "e" * 64)
    assert counts == CoverageCounts.from_results(
        frame,
        Binning.from_space(space),
        model_sha256=dict(float="f" * 64, int8="e" * 64),
        source=counts.sources[0][0],
    )
    with pytest.raises(RunDirError, match=r"would count twice"):
        counts.merge(CoverageCounts.from_run(run.path))


# -- statistics and frames -------------------------------------------------------------------


def counts_of(n: list[int], k: list[int]) -> CoverageCounts:
    """One-model counts of a one-coverpoint space with len(n) bins."""
    space = ParameterSpace([Dimension("c", "categorical", choices=tuple(range(len(n))))])
    binning = Binning.from_space(space)
    fails = np.zeros((len(n), 1, len(FAIL_VERDICTS)), dtype=np.int64)
    fails[:, 0, 0] = k
    d = np.zeros((1, 1))
    return CoverageCounts(
        binning,
        make_crosses(binning, [1]),
        ("m",),
        (None,),
        np.array(n)[:, None],
        fails,
        np.array([sum(n)]),
        d,
        d,
    )


def test_status_of_cells() -> None:
    counts = counts_of([0, 2995, 2994, 100, 10, 5000], [0, 0, 0, 0, 5, 3])
    stats = cell_stats(counts, p_target=1e-3, confidence=0.95)
    assert list(stats.status[:, 0]) == [
        "untested",
        "passing",
        "under-tested",
        "under-tested",
        "failing",
        "under-tested",
    ]
    assert list(stats.needed[:, 0]) == [2995, 0, 1, 2895, np.inf, 7752 - 5000]
    assert np.isnan(stats.rate[0, 0]) and stats.upper[0, 0] == 1 and stats.lower[0, 0] == 0
    holm = cell_stats(counts, adjust="holm")
    assert list(holm.status[:, 0]) == list(stats.status[:, 0])
    many = counts_of([10] * 200 + [20], [0] * 200 + [1])
    assert cell_stats(many).status[-1, 0] == "failing"
    assert cell_stats(many, adjust="holm").status[-1, 0] == "under-tested"
    assert (cell_stats(many, adjust="holm").p_adjusted >= cell_stats(many).p_value).all()
    with pytest.raises(InvalidParameter, match=r"adjust: 'bonferroni' must be 'none' or 'holm'"):
        cell_stats(counts, adjust="bonferroni")  # type: ignore[arg-type]


def test_anytime_statistics_mode() -> None:
    counts = counts_of([0, 2995, 6000, 1000, 20], [0, 0, 0, 9, 5])
    fixed = cell_stats(counts, p_target=1e-3)
    anytime = cell_stats(counts, p_target=1e-3, looks="anytime")
    assert fixed.looks == "fixed" and anytime.looks == "anytime"
    assert list(fixed.status[:, 0])[:3] == ["untested", "passing", "passing"]
    # 2,995 clean cases show p < 1e-3 for one look, not for looks at every n.
    assert list(anytime.status[:, 0]) == [
        "untested",
        "under-tested",
        "passing",
        "failing",
        "failing",
    ]
    assert np.array_equal(anytime.upper, cs_upper(anytime.k, counts.n, 0.95, 1e-3))
    assert np.array_equal(anytime.lower, cs_lower(anytime.k, counts.n, 0.95, 1e-3))
    assert fixed.needed[1, 0] == 0 < anytime.needed[1, 0]
    assert anytime.needed[0, 0] > fixed.needed[0, 0] == 2995
    with pytest.raises(InvalidParameter, match=r"looks: 'often' must be 'fixed' or 'anytime'"):
        cell_stats(counts, looks="often")  # type: ignore[arg-type]


def test_status_and_needed_agree_under_holm() -> None:
    # 1 failure in 20 cases among 200 clean cells: its lower bound is above 1e-3, but
    # after Holm's correction it is not "failing": it is under-tested, so a finite
    # number of cases can still decide it.
    many = counts_of([10] * 200 + [20, 1000, 3000], [0] * 200 + [1, 30, 0])
    for adjust in ("none", "holm"):
        s = cell_stats(many, p_target=1e-3, adjust=adjust)
        failing, passing = s.status == "failing", s.status == "passing"
        assert (np.isinf(s.needed) == failing).all()
        assert ((s.needed == 0) == passing).all()
        assert (np.isinf(s.needed_at_rate) == failing | (s.k >= 1e-3 * s.n)).all()
        assert (s.needed_at_rate >= s.needed).all()
    holm = cell_stats(many, p_target=1e-3, adjust="holm")
    assert holm.status[200, 0] == "under-tested" and np.isfinite(holm.needed[200, 0])
    frame = cells_frame(holm)
    assert list(frame.columns[frame.columns.get_loc("needed") :][:2]) == [
        "needed",
        "needed_at_rate",
    ]
    worst = summary(holm)["worst"]
    assert all("needed_at_rate" in w for w in worst)


def test_coverage_holes_and_frames(tmp_path: Path) -> None:
    space = small_space()
    binning = Binning.from_space(space, {"motion": {"ignore": ["rest"]}})
    frame = results_frame(space, 40, seed=11)
    frame = frame[~((frame["motion"] == "clap") & (frame["reps"] == 2))]
    counts = CoverageCounts.from_results(frame, binning)
    cov = coverage(counts)
    row = cov[(cov["cross"] == "motion x reps") & (cov["model"] == "float")].iloc[0]
    assert (row["cells"], row["covered"]) == (6, 5)  # rest is ignored: 2 x 3 cells
    assert coverage(counts, 1000)["covered"].sum() == 0
    hole = holes(counts)
    mine = hole[(hole["cross"] == "motion x reps") & (hole["model"] == "float")]
    assert mine[["bin_motion", "bin_reps"]].values.tolist() == [["motion=clap", "reps=2"]]
    assert mine["label"].tolist() == ["motion=clap & reps=2"]
    stats = cell_stats(counts)
    cells = cells_frame(stats)
    assert len(cells) == counts.n.size
    assert {
        "cross",
        "t",
        "label",
        "bin_motion",
        "bin_peak",
        "model",
        "n",
        "failures",
        "miss",
        "rate",
        "upper",
        "lower",
        "ci_low",
        "ci_high",
        "needed",
        "status",
    } <= set(cells)
    pq.write_table(pa.Table.from_pandas(cells, preserve_index=False), tmp_path / "cells.parquet")
    back = pd.read_parquet(tmp_path / "cells.parquet")
    assert back["status"].astype(str).tolist() == cells["status"].astype(str).tolist()
    info = summary(stats, min_cases=1, worst=3)
    json.dumps(info, allow_nan=False)
    by_t = info["models"]["float"]["coverage"]["by_t"]
    assert by_t["2"]["cells"] == sum(c.n_cells(binning) for c in counts.crosses if c.t == 2)
    assert info["models"]["float"]["ignored"] == {
        "motion": int(((frame["motion"] == "rest") & (frame["model"] == "float")).sum())
    }
    assert len(info["worst"]) <= 3
    lowers = [w["lower"] for w in info["worst"]]
    assert lowers == sorted(lowers, reverse=True)


def test_counts_round_trip_through_arrow(tmp_path: Path) -> None:
    space = small_space()
    binning = Binning.from_space(space, {"motion": {"ignore": ["rest"]}})
    frame = results_frame(space, 500, seed=12)
    counts = CoverageCounts.from_results(
        frame, binning, model_sha256={"int8": "0" * 64}, source="s"
    )
    pq.write_table(counts.to_arrow(), tmp_path / "counts.parquet")
    back = CoverageCounts.from_arrow(pq.read_table(tmp_path / "counts.parquet"))
    assert back == counts
    assert set(counts.to_frame().columns) == {"cross", "cell", "model", "n", *FAIL_VERDICTS}
    with pytest.raises(RunDirError, match=r"no 'highfive.coverage' metadata"):
        CoverageCounts.from_arrow(pa.table({"n": [1]}))


def test_combinations_of_default_crosses_fit_in_memory() -> None:
    binning = Binning.from_space(default_space())
    cells = [c.n_cells(binning) for c in make_crosses(binning, (1, 2))]
    assert sum(cells) < 20_000
    assert all(len(c.dims) == len(set(c.dims)) for c in make_crosses(binning, (3,)))
    assert make_crosses(binning, (2,))[0].name == "motion x repetitions"
