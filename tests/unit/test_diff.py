"""Differential views: paired McNemar per cell, Fisher between runs, Holm and FDR."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.stats import binomtest, false_discovery_control, fisher_exact

from highfive.coverage import (
    Binning,
    adjust_pvalues,
    codes,
    diff_pairs,
    diff_runs,
    make_crosses,
    newcombe_interval,
    paired_cell_diff,
    paired_newcombe_interval,
    paired_ratio_interval,
    quantization_diff,
    ratio_interval,
)
from highfive.generators import (
    ConfigError,
    Dimension,
    InvalidParameter,
    ParameterSpace,
    RunDirError,
)
from highfive.harness import SCHEMA_VERSION, RunDir
from highfive.harness.cli import main


def small_space(peak_high: float = 40.0) -> ParameterSpace:
    return ParameterSpace(
        [
            Dimension("motion", "categorical", choices=("high_five", "clap", "wave")),
            Dimension("peak", "continuous", 4.0, peak_high, distribution="log-uniform"),
            Dimension("reps", "integer", 1, 3),
        ]
    )


def params(n: int, seed: int, space: ParameterSpace | None = None) -> pd.DataFrame:
    space = space or small_space()
    return space.from_unit(np.random.default_rng(seed).random((n, space.d)))


def planted_verdicts(p: pd.DataFrame, seed: int, extra: float = 0.4) -> tuple[np.ndarray, ...]:
    """float fails 3% everywhere; int8 fails where float does, plus ``extra`` in clap."""
    rng = np.random.default_rng(seed)
    n = len(p)
    f_fail = rng.random(n) < 0.03
    i_fail = f_fail.copy()
    clap = np.asarray(p["motion"] == "clap")
    i_fail |= clap & (rng.random(n) < extra)
    i_fail[np.flatnonzero(f_fail & ~clap)[:3]] = False  # a few cases only float fails
    return f_fail, i_fail


def frame(p: pd.DataFrame, fails: dict[str, np.ndarray]) -> pd.DataFrame:
    parts = []
    for m, fail in fails.items():
        f = p.copy()
        f.insert(0, "case_id", np.arange(len(p)))
        f["model"] = m
        f["verdict"] = np.where(fail, "miss", "pass")
        parts.append(f)
    return pd.concat(parts, ignore_index=True)


def write_run(
    path: Path,
    fails: dict[str, np.ndarray],
    *,
    seed: int,
    space: ParameterSpace | None = None,
    p: pd.DataFrame | None = None,
) -> Path:
    space = space or small_space()
    n = len(next(iter(fails.values())))
    p = params(n, seed, space) if p is None else p
    run = RunDir(path)
    run.write_campaign(
        {
            "schema_version": SCHEMA_VERSION,
            "name": path.name,
            "identity": {"seed": seed, "sampler": "random", "space": {}},
            "models": [
                {"id": m, "source": m, "sha256": f"{i:064d}", "bytes": 1}
                for i, m in enumerate(fails)
            ],
            "status": "complete",
        }
    )
    table = pa.Table.from_pandas(p, schema=space.to_arrow_schema(), preserve_index=False)
    table = table.add_column(0, "case_id", pa.array(np.arange(n), pa.int64()))
    for m, fail in fails.items():
        v = pa.array(np.where(fail, "miss", "pass").astype(object), pa.string())
        run.write_batch(0, {m: table.append_column("verdict", v)}, None)
    return path


# -- paired McNemar per cell ----------------------------------------------------------
def test_mcnemar_per_cell_matches_binomtest_and_a_slow_count() -> None:
    p = params(900, 1)
    f_fail, i_fail = planted_verdicts(p, 2)
    binning = Binning.from_space(small_space())
    crosses = make_crosses(binning, [1, 2])
    out = paired_cell_diff(frame(p, {"float": f_fail, "int8": i_fail}), binning, crosses)
    assert list(out.columns[:4]) == ["cross", "t", "cell", "label"]
    assert out.attrs["model_a"] == "float" and out.attrs["model_b"] == "int8"
    assert len(out) == sum(c.n_cells(binning) for c in crosses)
    # Slow reference: loop over cells, count discordant pairs by hand.
    code, _ = codes(binning, p)
    row = 0
    for cross in crosses:
        dims = [binning.index(d) for d in cross.dims]
        for cell in np.ndindex(*cross.shape(binning)):
            inside = np.all(code[:, dims] == np.array(cell), axis=1)
            r = out.iloc[row]
            assert r["n_a"] == r["n_b"] == inside.sum()
            assert r["failures_a"] == (inside & f_fail).sum()
            assert r["failures_b"] == (inside & i_fail).sum()
            assert r["b"] == (inside & i_fail & ~f_fail).sum()
            assert r["c"] == (inside & f_fail & ~i_fail).sum()
            row += 1
    # Golden p-value of the planted cell: scipy's exact binomial test.
    clap = out[out["label"] == "motion=clap"].iloc[0]
    b, c = int(clap["b"]), int(clap["c"])
    assert b > 20
    expected = binomtest(b, b + c, 0.5, alternative="greater").pvalue
    assert clap["p_value"] == pytest.approx(expected, rel=1e-12)
    assert clap["worse"] and clap["direction"] == "worse"
    assert not out[out["label"] == "motion=wave"]["worse"].iloc[0]
    # No discordant case, no test: NaN, and left out of the family.
    none = out[(out["b"] + out["c"]) == 0]
    assert none["p_value"].isna().all() and none["p_adjusted"].isna().all()


def test_two_sided_paired_test_doubles_the_smaller_tail() -> None:
    p = params(600, 3)
    f_fail, i_fail = planted_verdicts(p, 4)
    binning = Binning.from_space(small_space())
    # Swap the roles: now B (float) is *better* than A (int8) in clap.
    out = paired_cell_diff(
        frame(p, {"float": f_fail, "int8": i_fail}),
        binning,
        make_crosses(binning, [1]),
        models=("int8", "float"),
        alternative="two-sided",
    )
    clap = out[out["label"] == "motion=clap"].iloc[0]
    b, c = int(clap["b"]), int(clap["c"])
    expected = binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert clap["p_value"] == pytest.approx(expected, rel=1e-9)
    assert clap["better"] and not clap["worse"]


# -- multiplicity ---------------------------------------------------------------------
def test_holm_and_fdr_adjustments() -> None:
    p = np.array([0.02, 0.025, np.nan, 0.03, 0.04])
    holm = adjust_pvalues(p, "holm")
    fdr = adjust_pvalues(p, "fdr")
    assert np.isnan(holm[2]) and np.isnan(fdr[2])
    ok = ~np.isnan(p)
    # Holm by hand: sorted p times (m - i), running maximum.
    np.testing.assert_allclose(holm[ok], [0.08, 0.08, 0.08, 0.08])
    np.testing.assert_allclose(fdr[ok], false_discovery_control(p[ok], method="bh"))
    np.testing.assert_allclose(fdr[ok], [0.04, 0.04, 0.04, 0.04])
    with pytest.raises(InvalidParameter, match=r"method: 'bonferroni' must be 'holm'"):
        adjust_pvalues(p, "bonferroni")


def test_fdr_flags_at_least_what_holm_flags() -> None:
    p = params(3000, 5)
    f_fail, i_fail = planted_verdicts(p, 6, extra=0.06)
    binning = Binning.from_space(small_space())
    data = frame(p, {"float": f_fail, "int8": i_fail})
    holm = paired_cell_diff(data, binning, method="holm")
    fdr = paired_cell_diff(data, binning, method="fdr")
    np.testing.assert_array_equal(holm["p_value"], fdr["p_value"])
    tested = holm["p_value"].notna()
    expected = false_discovery_control(holm.loc[tested, "p_value"], method="bh")
    np.testing.assert_allclose(fdr.loc[tested, "p_adjusted"], expected)
    assert (holm["worse"] <= fdr["worse"]).all()
    assert fdr["worse"].sum() > holm["worse"].sum() > 0
    assert fdr.attrs["method"] == "fdr"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "bh"}, r"method: 'bh' must be 'holm'"),
        ({"alpha": 0.0}, r"alpha: 0\.0 must be a significance level"),
        ({"alpha": 1.5}, r"alpha: 1\.5 must be"),
        # its intervals are at 1 - alpha, refused above 0.5 as "confidence: 0.4"
        ({"alpha": 0.6}, r"alpha: 0\.6 must be a significance level in \(0, 0\.5\]"),
        ({"models": ("float", "int4")}, r"models: 'int4' has no rows; models present: float, int8"),
        ({"alternative": "less"}, r"alternative: 'less' must be"),
    ],
    ids=["method", "alpha-0", "alpha-big", "alpha-above-half", "model", "alternative"],
)
def test_bad_diff_arguments(kwargs: dict[str, object], match: str) -> None:
    p = params(50, 1)
    f_fail, i_fail = planted_verdicts(p, 2)
    binning = Binning.from_space(small_space())
    with pytest.raises(InvalidParameter, match=match):
        paired_cell_diff(frame(p, {"float": f_fail, "int8": i_fail}), binning, **kwargs)  # type: ignore[arg-type]


# -- runs -----------------------------------------------------------------------------
def test_same_case_sequence_is_paired(tmp_path: Path) -> None:
    p = params(800, 7)
    f_fail, i_fail = planted_verdicts(p, 8)
    a = write_run(tmp_path / "a", {"m": f_fail}, seed=7)
    b = write_run(tmp_path / "b", {"m": i_fail}, seed=7)
    d = diff_runs(a, b)
    assert d.paired and d.model_a == d.model_b == "m"
    assert d.alternative == "two-sided"
    assert "motion=clap" in set(d.regressions["label"])
    assert d.improvements.empty
    assert d.overall["b"] == int((i_fail & ~f_fail).sum())
    text = "\n".join(d.lines())
    assert "paired exact McNemar" in text and "regressions (B worse): " in text


def test_other_case_sequence_uses_fisher(tmp_path: Path) -> None:
    p1, p2 = params(800, 7), params(800, 9)
    a = write_run(tmp_path / "a", {"m": planted_verdicts(p1, 8, extra=0.0)[0]}, seed=7)
    b = write_run(tmp_path / "b", {"m": planted_verdicts(p2, 10)[1]}, seed=9)
    d = diff_runs(a, b)
    assert not d.paired and "seed" in d.note
    assert "b" not in d.cells.columns
    r = d.cells[d.cells["label"] == "motion=clap"].iloc[0]
    table = [
        [r["failures_b"], r["n_b"] - r["failures_b"]],
        [r["failures_a"], r["n_a"] - r["failures_a"]],
    ]
    assert r["p_value"] == pytest.approx(fisher_exact(table).pvalue, rel=1e-12)
    assert "motion=clap" in set(d.regressions["label"])


def test_a_focus_run_compares_only_the_cells_its_boxes_contain_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A follow-up drew its cases in a box (peak's lower half, in unit coordinates).
    With peak in three bins, the box contains the first bin whole, cuts the second and
    misses the third. B fails often in the box's part of the second bin: that part is
    not the cell, so the cell is not tested (it was, and showed as a regression), and
    neither is the overall rate, which is of the box."""
    space = small_space()
    a = write_run(tmp_path / "base", {"m": np.zeros(900, dtype=bool)}, seed=1)
    u = np.random.default_rng(2).random((900, space.d))
    u[:, 1] *= 0.5  # peak: the box [0, 0.5]
    fail = (u[:, 1] > 0.4) & (np.random.default_rng(3).random(900) < 0.5)
    b = write_run(tmp_path / "focus", {"m": fail}, seed=2, p=space.from_unit(u))
    record = RunDir(b).read_campaign()
    record["identity"]["sampler"] = "focus"
    record["config"] = {"sampler": "focus", "focus": [{"peak": [0.0, 0.5]}]}
    RunDir(b).write_campaign(record)

    d = diff_runs(a, b, bins={"peak": {"count": 3}})
    labels = set(d.cells["label"])
    assert "peak[4,8.62)" in labels  # inside the box
    assert "peak[8.62,18.6)" not in labels  # cut by the box: left out
    assert "motion=clap" not in labels  # the box cuts every motion's cell
    assert "motion=clap & peak[4,8.62)" in labels
    # peak's first bin, alone and with each motion and reps; of 9 + 27 cells
    assert len(d.cells) == 1 + 3 + 3 and d.left_out == 36 - 7
    first = d.cells[d.cells["label"] == "peak[4,8.62)"].iloc[0]
    assert first["n_b"] == int(np.count_nonzero(u[:, 1] < 1 / 3))
    assert d.regressions.empty and d.overall["p_value"] is None
    text = "\n".join(d.lines())
    assert f"cells: only the 7 cells the target boxes of {b} contain whole" in text
    assert "29 cells left out" in text
    assert f"overall: not compared ({b} drew its cases from target boxes" in text
    assert "overall: A " not in text
    # The command line says the same, on stdout.
    assert main(["diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "overall: not compared" in out and "cells left out" in out


def test_a_run_of_an_unknown_sampler_is_refused(tmp_path: Path) -> None:
    # Its cases may not be draws of the whole space (as coverage and the gate say).
    fail = np.zeros(100, dtype=bool)
    a = write_run(tmp_path / "a", {"m": fail}, seed=1)
    b = write_run(tmp_path / "b", {"m": fail}, seed=2)
    record = RunDir(b).read_campaign()
    RunDir(b).write_campaign({**record, "config": {"sampler": "magic"}})
    with pytest.raises(RunDirError, match=r"^cannot diff '.*b': sampler 'magic' is not one"):
        diff_runs(a, b)


def test_runs_of_different_spaces_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fail = np.zeros(100, dtype=bool)
    a = write_run(tmp_path / "a", {"m": fail}, seed=1)
    b = write_run(tmp_path / "b", {"m": fail}, seed=1, space=small_space(peak_high=50.0))
    with pytest.raises(ConfigError, match=r"parameter spaces differ \(in peak\)"):
        diff_runs(a, b)
    assert main(["diff", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot diff") and err.count("\n") == 1


def test_diff_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = params(800, 7)
    f_fail, i_fail = planted_verdicts(p, 8)
    a = write_run(tmp_path / "a", {"float": f_fail, "int8": f_fail}, seed=7)
    b = write_run(tmp_path / "b", {"float": i_fail, "int8": f_fail}, seed=7)
    assert main(["diff", str(a), str(b), "--method", "fdr", "--alpha", "0.01"]) == 0
    out = capsys.readouterr().out
    assert out.count("A = ") == 2  # every shared model, one section each
    assert "Benjamini-Hochberg" in out and "motion=clap" in out
    assert main(["diff", str(b)]) == 0  # one run: float vs int8, one-sided
    out = capsys.readouterr().out
    assert "one-sided (B worse)" in out and "improvements" not in out
    assert main(["diff", str(a), str(b), "--alpha", "2"]) == 2
    assert "--alpha: 2.0 must be in (0, 0.5]" in capsys.readouterr().err
    assert main(["diff", str(a), str(b), "--model", "int4"]) == 2
    assert "'int4' is not a model of run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["diff", str(a), "--method", "bonferroni"])
    assert exc.value.code == 2


def test_quantization_diff_of_one_run(tmp_path: Path) -> None:
    p = params(800, 7)
    f_fail, i_fail = planted_verdicts(p, 8)
    run = write_run(tmp_path / "r", {"float": f_fail, "int8": i_fail}, seed=7)
    out = quantization_diff(run, ways=[1])
    assert list(out.columns) == [
        "cross",
        "t",
        "cell",
        "label",
        "n",
        "failures_a",
        "failures_b",
        "b",
        "c",
        "p_value",
        "p_adjusted",
        "worse",
    ]
    worse = set(out.loc[out["worse"], "label"])
    # clap's extra failures also show in the marginal cells of the other dimensions.
    assert "motion=clap" in worse and not worse & {"motion=wave", "motion=high_five"}
    with pytest.raises(ConfigError, match=r"comparing 'float' with itself"):
        diff_runs(run, model="float")


def test_one_run_compares_every_model_with_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = params(800, 7)
    f_fail, i_fail = planted_verdicts(p, 8)
    fails = {"float": f_fail, "baseline": i_fail, "c": f_fail}
    run = write_run(tmp_path / "r", fails, seed=7)
    assert diff_pairs(run) == ["float:baseline", "float:c"]
    assert main(["diff", str(run), "--ways", "1"]) == 0
    out = capsys.readouterr().out
    sections = [line for line in out.splitlines() if line.startswith(("A = ", "B = "))]
    assert sections == ["A = float", "B = baseline", "A = float", "B = c"]
    assert out.count("one-sided (B worse)") == 2
    assert "regressions (B worse): 0" in out  # c fails exactly where float fails
    # The library call needs the two models named when there are more than two.
    with pytest.raises(ConfigError, match=r"holds models float, baseline, c; choose two"):
        diff_runs(run)
    assert diff_runs(run, model="float:c").model_b == "c"


def test_one_binned_dimension_diffs_its_one_way_cells_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --ways, a diff compares the default crosses that exist: only 1-way cells
    when one dimension is binned (as for recordings with one metadata column), as
    coverage does; asking for --ways 2 is still refused."""
    space = ParameterSpace([Dimension("motion", "categorical", choices=("clap", "wave"))])
    fail = np.zeros(60, dtype=bool)
    a = write_run(tmp_path / "a", {"float": fail}, seed=1, space=space)
    b = write_run(tmp_path / "b", {"float": fail}, seed=1, space=space)
    assert set(diff_runs(a, b).cells["t"]) == {1}
    assert main(["diff", str(a), str(b)]) == 0
    assert "regressions (B worse): 0" in capsys.readouterr().out
    assert main(["diff", str(a), str(b), "--ways", "2"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: --ways: 2 must be a whole number from 1 to 1 (the number of binned dimensions)\n"
    )


def test_one_run_of_one_model_cannot_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path / "r", {"float": np.zeros(50, dtype=bool)}, seed=1)
    with pytest.raises(ConfigError, match=r"holds one model \(float\); a diff needs two"):
        diff_runs(run)
    assert main(["diff", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --model: run") and err.count("\n") == 1


def _set_identity(run: Path, model: str, sha: str) -> None:
    record = json.loads((run / "campaign.json").read_text())
    for m in record["models"]:
        if m["id"] == model:
            m["sha256"] = sha
    (run / "campaign.json").write_text(json.dumps(record))


def test_two_runs_show_the_identities_of_the_compared_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = params(400, 7)
    f_fail, i_fail = planted_verdicts(p, 8)
    a = write_run(tmp_path / "a", {"float": f_fail, "int8": f_fail}, seed=7)
    b = write_run(tmp_path / "b", {"float": i_fail, "int8": f_fail}, seed=7)
    same = diff_runs(a, b, model="int8")
    assert same.identity_a == same.identity_b == f"{1:064d}"
    assert same.lines()[2] == f"int8: the same identity in A and B ({'0' * 12}...)"
    _set_identity(b, "float", "3fa2c1" + "0" * 58)
    _set_identity(a, "float", "9b01de" + "0" * 58)
    changed = diff_runs(a, b, model="float")
    header = changed.lines()[2]
    assert header.startswith("float: 9b01de000000... in A, 3fa2c1000000... in B")
    assert "the model changed" in header
    assert main(["diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "float: 9b01de000000... in A, 3fa2c1000000... in B" in out
    assert "int8: the same identity in A and B" in out
    # Different ids in the two runs: both identities, named.
    other = diff_runs(a, b, model="float:int8").lines()[2]
    assert other == f"identities: float 9b01de000000... in A, int8 {'0' * 12}... in B"
    # One run: no identity line (the models are not versions of one another).
    assert not any("identit" in line for line in diff_runs(a).lines())


# -- effect sizes and non-inferiority --------------------------------------------------
def test_cells_carry_difference_and_ratio_intervals(tmp_path: Path) -> None:
    p = params(800, 7)
    f_fail, i_fail = planted_verdicts(p, 8)
    run = write_run(tmp_path / "r", {"float": f_fail, "int8": i_fail}, seed=7)
    paired = diff_runs(run, None, model="float:int8", ways=[1]).cells
    both = paired["failures_a"] - paired["c"]
    low, high = paired_newcombe_interval(both, paired["b"], paired["c"], paired["n_a"], 0.95)
    assert np.array_equal(paired["diff_low"], low) and np.array_equal(paired["diff_high"], high)
    assert np.allclose(paired["diff"], paired["rate_b"] - paired["rate_a"])
    _, rlow, _ = paired_ratio_interval(both, paired["b"], paired["c"], paired["n_a"])
    assert np.array_equal(paired["ratio_low"], rlow, equal_nan=True)
    clap = paired[paired["label"] == "motion=clap"].iloc[0]
    assert clap["diff_low"] > 0 and clap["ratio_low"] > 1  # int8 clearly worse in clap
    a = write_run(tmp_path / "a", {"m": planted_verdicts(params(800, 7), 8, extra=0.0)[0]}, seed=7)
    b = write_run(tmp_path / "b", {"m": planted_verdicts(params(800, 9), 10)[1]}, seed=9)
    unpaired = diff_runs(a, b, ways=[1]).cells
    low, high = newcombe_interval(
        unpaired["failures_a"], unpaired["n_a"], unpaired["failures_b"], unpaired["n_b"], 0.95
    )
    assert np.array_equal(unpaired["diff_low"], low)
    _, rlow, _ = ratio_interval(
        unpaired["failures_a"], unpaired["n_a"], unpaired["failures_b"], unpaired["n_b"]
    )
    assert np.array_equal(unpaired["ratio_low"], rlow, equal_nan=True)
    text = "\n".join(diff_runs(a, b, ways=[1]).lines())
    assert "B-A [95% CI]" in text and "ratio" in text


def test_non_inferiority_in_every_cell(tmp_path: Path) -> None:
    # The same model again on the same 20,000 cases (2 % failures): no cell is worse.
    rng = np.random.default_rng(3)
    fail = rng.random(20_000) < 0.02
    a = write_run(tmp_path / "a", {"m": fail}, seed=7)
    b = write_run(tmp_path / "b", {"m": fail.copy()}, seed=7)
    d = diff_runs(a, b, ways=[1], margin=0.01)
    cells = d.cells
    # Per cell: one-sided test of H0 p_B - p_A >= margin at alpha, by the upper limit
    # of the two-sided 1 - 2 alpha interval.
    both = cells["failures_a"] - cells["c"]
    _, upper = paired_newcombe_interval(both, cells["b"], cells["c"], cells["n_a"], 0.90)
    assert np.array_equal(cells["ni_upper"], upper)
    assert (cells["noninferior"] == (upper < 0.01)).all() and cells["noninferior"].all()
    assert d.noninferior and d.margin == 0.01
    assert "non-inferiority (margin 0.01" in "\n".join(d.lines())
    # A margin too small for the cases at hand is not shown (no cell is worse, but the
    # cases cannot show it), and a worse candidate is not shown either.
    assert not diff_runs(a, b, ways=[1], margin=0.0005).noninferior
    worse = fail | (rng.random(20_000) < 0.05)
    c = write_run(tmp_path / "c", {"m": worse}, seed=7)
    d = diff_runs(a, c, ways=[1], margin=0.01)
    assert not d.noninferior and not d.cells["noninferior"].any()
    # Without a margin there is no verdict and no column.
    plain = diff_runs(a, b, ways=[1])
    assert plain.noninferior is None and "noninferior" not in plain.cells


def test_non_inferiority_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(3)
    fail = rng.random(20_000) < 0.02
    a = write_run(tmp_path / "a", {"m": fail}, seed=7)
    b = write_run(tmp_path / "b", {"m": fail.copy()}, seed=7)
    out = tmp_path / "diff.parquet"
    argv = ["diff", str(a), str(b), "--ways", "1", "--margin", "0.01", "--check"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "non-inferiority (margin 0.01" in capsys.readouterr().out
    cells = pd.read_parquet(out)
    assert {"diff", "diff_low", "diff_high", "ratio", "ratio_low", "ratio_high"} <= set(cells)
    assert cells["noninferior"].all() and set(cells["model_b"]) == {"m"}
    assert list(cells.columns[:4]) == ["run_a", "model_a", "run_b", "model_b"]  # A, then B
    assert main([*argv[:-3], "--margin", "0.0005", "--check"]) == 1  # not shown: exit 1
    assert main([*argv[:-3], "--margin", "0.0005"]) == 0  # no --check: report only


def test_diff_file_of_several_comparisons_keeps_its_level(tmp_path: Path) -> None:
    # Two runs of two models each: the file's intervals and p-values are at --alpha, but
    # it said so only for one comparison (attrs differing by model were all dropped).
    rng = np.random.default_rng(5)
    fail = rng.random(4_000) < 0.02
    a = write_run(tmp_path / "a", {"f": fail, "q": fail.copy()}, seed=7)
    b = write_run(tmp_path / "b", {"f": fail.copy(), "q": fail.copy()}, seed=7)
    out = tmp_path / "diff.parquet"
    argv = ["diff", str(a), str(b), "--ways", "1", "--alpha", "0.1", "--method", "fdr"]
    assert main([*argv, "--out", str(out)]) == 0
    cells = pd.read_parquet(out)
    assert set(cells["model_a"]) == {"f", "q"}
    level = {"alpha": 0.1, "method": "fdr", "alternative": "two-sided", "paired": True}
    assert level.items() <= cells.attrs.items()
    assert "model_a" not in cells.attrs  # a column: it differs by row


def test_runs_judged_with_other_tolerances_say_so(tmp_path: Path) -> None:
    # One model on the same cases, judged with a tolerance of 0.5 s in A and 0.01 s in
    # B, showed 280 "regressions" of the counter without a word about the judging.
    p = params(800, 7)
    f_fail, i_fail = planted_verdicts(p, 8)
    a = write_run(tmp_path / "a", {"m": f_fail}, seed=7)
    b = write_run(tmp_path / "b", {"m": i_fail}, seed=7)
    for run, tolerance in ((a, 0.5), (b, 0.01)):
        record = RunDir(run).read_campaign()
        record["identity"]["tolerance"] = tolerance
        RunDir(run).write_campaign(record)
    d = diff_runs(a, b)
    assert d.paired
    assert d.note.endswith(
        "; the runs judge differently (tolerance 0.5 in A, 0.01 in B): a difference may come "
        "from the judging, not the counter"
    )
    assert d.note in "\n".join(d.lines())
