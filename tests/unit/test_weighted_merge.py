"""Coverage of a base run merged with a focus follow-up stays valid.

A follow-up samples boxes; a box that cuts across a cell fills the cell with cases of
one part of it. Counted plainly, the merged cell's rate is the rate of that part, and
its upper bound falls below the cell's true rate in most runs. Weighted by the pooled
design (coverage/_weighted.py), the upper bound misses no more often than its 5 %.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from highfive.coverage import CoverageSettings, analyse_run
from highfive.coverage._weighted import run_design, weighted_cell_stats
from highfive.generators import ConfigError, Dimension, ParameterSpace, Proposal, RunDirError
from highfive.harness.cli import main

SPACE = ParameterSpace(
    [Dimension("x", "continuous", 0.0, 1.0), Dimension("y", "continuous", 0.0, 1.0)]
)
HALVES = {"edges": [0.0, 0.5, 1.0]}
SETTINGS = CoverageSettings(toml={"bins": {"x": HALVES, "y": HALVES}, "ways": [1, 2]})
BOX = {"x": [0.0, 0.5], "y": [0.5, 1.0]}  # a quarter of the space: cuts cell x[0,0.5)
WHOLE = {"x": [0.0, 1.0], "y": [0.0, 1.0]}  # a box as large as the space


def fail_prob(u: np.ndarray) -> np.ndarray:
    """0.3 in the quarter x < 0.5, y < 0.5; 0 elsewhere (so cell x[0,0.5) has 0.15)."""
    return np.where((u[:, 0] < 0.5) & (u[:, 1] < 0.5), 0.3, 0.0)


def write_run(
    path: Path,
    u: np.ndarray,
    rng: np.random.Generator,
    config: dict[str, object],
    space: ParameterSpace = SPACE,
) -> Path:
    """A finished run directory holding cases at unit points ``u`` of ``space``."""
    failed = rng.random(len(u)) < fail_prob(u)
    table = pa.Table.from_pandas(space.from_unit(u), schema=space.to_arrow_schema())
    table = table.add_column(0, "case_id", pa.array(np.arange(len(u)), pa.int64()))
    table = table.append_column("verdict", pa.array(np.where(failed, "miss", "pass")))
    (path / "results" / "model=toy").mkdir(parents=True)
    pq.write_table(table, path / "results" / "model=toy" / "part-000000.parquet")
    record = {
        "schema_version": 2,
        "name": path.name,
        "identity": {"seed": config["seed"], "sampler": config["sampler"], "space": {}},
        "config": config,
        "models": [{"id": "toy", "kind": "python", "sha256": "0" * 64}],
        "status": "complete",
    }
    (path / "campaign.json").write_text(json.dumps(record))
    return path


def base_and_focus(
    tmp: Path, seed: int, n_base: int = 100, n_focus: int = 300, whole_too: bool = False
) -> list[Path]:
    """A base run and a follow-up in BOX; with ``whole_too`` the follow-up's case i lies
    in box i mod 2 of [WHOLE, BOX] (the whole-space box sparser than the base)."""
    rng = np.random.default_rng(seed)
    base = write_run(
        tmp / f"base{seed}",
        rng.random((n_base, 2)),
        rng,
        {"sampler": "random", "seed": seed, "cases": n_base},
    )
    u = rng.random((n_focus, 2))
    inside = slice(1, None, 2) if whole_too else slice(None)
    u[inside] = u[inside] * 0.5 + np.array([0.0, 0.5])  # uniform in BOX
    focus = write_run(
        tmp / f"focus{seed}",
        u,
        rng,
        {
            "sampler": "focus",
            "seed": seed + 1,
            "cases": n_focus,
            "focus": [WHOLE, BOX] if whole_too else [BOX],
        },
    )
    return [base, focus]


def upper_of(paths: list[Path], label: str) -> float:
    cells = analyse_run(paths, SETTINGS, regions=False).cells  # type: ignore[arg-type]
    return float(cells.loc[cells["label"] == label, "upper"].iloc[0])


@pytest.mark.slow
def test_merged_upper_bounds_keep_their_coverage(tmp_path: Path) -> None:
    # 200 seeded repetitions: the upper bound of cell x[0,0.5) (true rate 0.15) must
    # reach the true rate in at least 95 % of them, within binomial noise (a miss rate
    # of 0.05 over 200 runs exceeds 0.09 with probability about 1 %).
    reps, truth, label = 200, 0.15, "x[0,0.5)"
    misses = base_misses = 0
    for seed in range(reps):
        runs = base_and_focus(tmp_path, seed)
        misses += upper_of(runs, label) < truth
        base_misses += upper_of(runs[:1], label) < truth
    assert base_misses / reps <= 0.09
    assert misses / reps <= 0.09, f"merged upper bound missed the truth in {misses}/{reps}"


@pytest.mark.slow
def test_merged_lower_bounds_are_informative_and_keep_their_coverage(tmp_path: Path) -> None:
    # Cell x[0,0.5) & y[0,0.5) fails at 0.3. The lower bound once took its weight bound
    # from the sparsest box anywhere (the whole-space box, density 200) rather than the
    # cell's own density (base 400 + 200), so it was far below the truth (or 0: no
    # merged cell could be shown failing). Over 200 seeds it must stay below the truth in
    # at least 95 % of them, and above half of it on average.
    reps, truth, label = 200, 0.3, "x[0,0.5) & y[0,0.5)"
    misses, lowers = 0, []
    for seed in range(reps):
        cells = analyse_run(
            base_and_focus(tmp_path, seed, 400, 400, whole_too=True), SETTINGS, regions=False
        ).cells
        lower = float(cells.loc[cells["label"] == label, "lower"].iloc[0])
        misses += lower > truth
        lowers.append(lower)
    assert misses / reps <= 0.09, f"merged lower bound above the truth in {misses}/{reps}"
    assert np.mean(lowers) > truth / 2, np.mean(lowers)


def test_a_box_covering_a_cell_whole_tightens_its_bound(tmp_path: Path) -> None:
    runs = base_and_focus(tmp_path, 7)
    label = "x[0,0.5) & y[0.5,1]"  # the box itself: 0 failures in ~325 cases
    cells = analyse_run(runs, SETTINGS, regions=False).cells
    merged = float(cells.loc[cells["label"] == label, "upper"].iloc[0])
    alone = upper_of(runs[:1], label)
    assert merged < alone / 3
    assert float(cells.loc[cells["label"] == label, "rate"].iloc[0]) == 0.0


def test_a_focus_run_alone_bounds_only_the_cells_it_covers(tmp_path: Path) -> None:
    focus = base_and_focus(tmp_path, 3)[1]
    cells = analyse_run(focus, SETTINGS, regions=False).cells
    upper = dict(zip(cells["label"], cells["upper"], strict=True))
    assert upper["x[0,0.5)"] == 1.0  # half of it is never sampled
    assert upper["x[0,0.5) & y[0.5,1]"] < 0.02


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"sampler": "focus", "seed": 5, "cases": 300}, "without its target boxes"),
        ({"sampler": "warp", "seed": 5, "cases": 300}, "sampler 'warp' is not one"),
        (
            {"sampler": "focus", "seed": 5, "cases": 300, "focus": [{"z": [0, 1]}]},
            "names no interval",
        ),
    ],
)
def test_merges_whose_density_is_unknown_are_refused(
    tmp_path: Path, config: dict[str, object], match: str
) -> None:
    base, focus = base_and_focus(tmp_path, 5)
    record = json.loads((focus / "campaign.json").read_text())
    record["config"] = config
    (focus / "campaign.json").write_text(json.dumps(record))
    with pytest.raises(RunDirError, match=match) as err:
        analyse_run([base, focus], SETTINGS, regions=False)
    assert "\n" not in str(err.value)


def importance_run(
    path: Path,
    rng: np.random.Generator,
    n: int,
    seed: int,
    defensive: float = 0.1,
    bins: tuple[float, ...] = (0.45, 0.45, 0.05, 0.05),
) -> Path:
    """A finished importance run: cases drawn 90 % into the failing quarter's bins."""
    prop = Proposal((bins, bins), defensive)
    u = prop.draw(rng, n)
    config = {"sampler": "importance", "seed": seed, "cases": n}
    write_run(path, u, rng, config)
    part = path / "results" / "model=toy" / "part-000000.parquet"
    table = pq.read_table(part).append_column("weight", pa.array(prop.weights(u)))
    pq.write_table(table, part)
    record = json.loads((path / "campaign.json").read_text())
    record["proposals"] = [prop.to_dict()]
    (path / "campaign.json").write_text(json.dumps(record))
    return path


@pytest.mark.slow
def test_a_base_run_merged_with_an_importance_run_keeps_its_coverage(tmp_path: Path) -> None:
    # Cell x[0,0.5) & y[0,0.5) fails at 0.3; the importance run samples it 18 times as
    # densely as the base. 200 seeded merges: the upper bound reaches 0.3 in >= 95 %.
    reps, label = 200, "x[0,0.5) & y[0,0.5)"
    misses, rates = 0, []
    for seed in range(reps):
        rng = np.random.default_rng(seed)
        base = write_run(
            tmp_path / f"b{seed}",
            rng.random((100, 2)),
            rng,
            {"sampler": "random", "seed": seed, "cases": 100},
        )
        ims = importance_run(tmp_path / f"i{seed}", rng, 200, seed + 1)
        cells = analyse_run([base, ims], SETTINGS, regions=False).cells
        row = cells.loc[cells["label"] == label].iloc[0]
        misses += row["upper"] < 0.3
        rates.append(row["rate"])
    assert misses / reps <= 0.09
    se = np.std(rates, ddof=1) / np.sqrt(reps)
    assert abs(np.mean(rates) - 0.3) < 4 * se  # Horvitz-Thompson: unbiased


def test_an_importance_run_without_weights_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ims = importance_run(tmp_path / "i", rng, 50, 2)
    part = ims / "results" / "model=toy" / "part-000000.parquet"
    pq.write_table(pq.read_table(part).drop_columns(["weight"]), part)
    with pytest.raises(RunDirError, match="an importance run without a weight column"):
        analyse_run(ims, SETTINGS, regions=False)


def test_a_box_edge_inside_a_discrete_value_is_refused(tmp_path: Path) -> None:
    space = ParameterSpace(
        [Dimension("x", "integer", 0, 2), Dimension("y", "continuous", 0.0, 1.0)]
    )
    rng = np.random.default_rng(2)
    config = {"sampler": "random", "seed": 1}
    base = write_run(tmp_path / "b", rng.random((20, 2)), rng, config, space)
    box = {"x": [0.0, 0.5], "y": [0.0, 1.0]}  # x's values fill thirds: 0.5 cuts value 1
    config = {"sampler": "focus", "seed": 2, "focus": [box]}
    focus = write_run(tmp_path / "f", rng.random((20, 2)) * [0.5, 1], rng, config, space)
    with pytest.raises(RunDirError, match=r"edge 0\.5 falls inside a value") as err:
        analyse_run([base, focus], CoverageSettings(), regions=False)
    assert "\n" not in str(err.value)


def test_whole_space_without_a_weight_bound_is_undecided(tmp_path: Path) -> None:
    # A focus run alone, and an importance run merged with a focus run but no base run:
    # part of the space is never sampled, so the whole space has no finite weight bound
    # and its bounds are [0, 1]; that is undecided, not decided.
    focus = base_and_focus(tmp_path, 4)[1]
    ims = importance_run(tmp_path / "i", np.random.default_rng(4), 200, 9)
    for runs in ([focus], [ims, focus]):
        overall = analyse_run(runs, SETTINGS, regions=False).summary["weighting"]["overall"]
        toy = overall["toy"]
        assert toy["weight_bound"] == math.inf and toy["upper"] == 1.0, toy
        assert toy["status"] == "undecided", toy
    decided = analyse_run(ims, SETTINGS, regions=False).summary["weighting"]["overall"]["toy"]
    assert decided["weight_bound"] < math.inf and decided["status"] == "decided"


def test_whole_space_whose_upper_bound_is_1_is_undecided(tmp_path: Path) -> None:
    # A finite but huge weight bound (defensive 1e-6: 1e6) leaves the whole space's
    # bounds at [0, 1] just as no bound does; summary.json called that "decided".
    corner = (0.5, 0.5, 1e-300, 1e-300)  # the upper halves all but never drawn
    ims = importance_run(tmp_path / "i", np.random.default_rng(4), 200, 9, 1e-6, corner)
    toy = analyse_run(ims, SETTINGS, regions=False).summary["weighting"]["overall"]["toy"]
    assert toy["weight_bound"] == pytest.approx(1e6) and toy["upper"] == 1.0, toy
    assert toy["status"] == "undecided", toy


def test_anytime_bounds_are_refused_for_weighted_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, focus = base_and_focus(tmp_path, 6)
    ims = importance_run(tmp_path / "i", np.random.default_rng(6), 100, 9)
    anytime = CoverageSettings(toml=SETTINGS.toml, looks="anytime", source="b.toml")
    for runs, sampler in (([ims], "importance"), ([focus], "focus"), ([base, focus], "focus")):
        where = str(runs[-1])
        with pytest.raises(ConfigError, match="anytime") as err:
            analyse_run(runs, anytime, regions=False)
        message = str(err.value)
        assert "\n" not in message and where in message and f"sampler {sampler}" in message
        assert "anytime bounds are not available for weighted cases" in message
    bins = tmp_path / "b.toml"
    bins.write_text('[statistics]\nlooks = "anytime"\n')
    out = tmp_path / "out"
    assert main(["coverage", str(ims), "--bins", str(bins), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not available for weighted cases" in err, err
    assert not out.exists()


def test_unweighted_runs_of_different_models_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(8)
    config = {"sampler": "random", "seed": 1, "cases": 50}
    a = write_run(tmp_path / "a", rng.random((50, 2)), rng, config)
    b = write_run(tmp_path / "b", rng.random((50, 2)), rng, {**config, "seed": 2})
    (b / "results" / "model=toy").rename(b / "results" / "model=other")
    record = json.loads((b / "campaign.json").read_text())
    record["models"] = [{"id": "other", "kind": "python", "sha256": "1" * 64}]
    (b / "campaign.json").write_text(json.dumps(record))
    with pytest.raises(RunDirError, match="models") as err:
        analyse_run([a, b], SETTINGS, regions=False)
    message = str(err.value)
    assert "\n" not in message and str(a) in message and str(b) in message
    assert "['toy']" in message and "['other']" in message
    out = tmp_path / "merged"
    assert main(["coverage", str(a), str(b), "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not out.exists()


def _strict(text: str) -> Any:
    """``text`` parsed as strict JSON (RFC 8259): no Infinity, -Infinity or NaN."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_summary_json_of_a_focus_run_alone_is_strict_json(tmp_path: Path) -> None:
    # The whole space of a focus run alone has no finite weight bound: summary.json held
    # the bare word Infinity, which JavaScript, Go and jq reject as JSON.
    focus = base_and_focus(tmp_path, 4)[1]
    assert main(["coverage", str(focus)]) == 0
    summary = _strict((focus / "coverage" / "summary.json").read_text())
    assert summary["weighting"]["overall"]["toy"]["weight_bound"] is None


def test_the_reports_heatmaps_colour_weighted_cells_by_their_weighted_rate(
    tmp_path: Path,
) -> None:
    # The heatmaps coloured each cell of an importance run by failing / cases drawn,
    # which counts the cases drawn 18 times as densely in the failing quarter as the
    # base: 0.6 where the weighted rate, the one the worst-cells table shows, was 0.3.
    from highfive.reports._grids import RateScale, grids
    from highfive.reports._heatmaps import agreement_figure, pair_figure
    from highfive.reports._read import coverage_meta

    ims = importance_run(tmp_path / "i", np.random.default_rng(5), 400, 6)
    assert main(["coverage", str(ims)]) == 0
    cov = ims / "coverage"
    meta = coverage_meta(cov)
    cross = next(name for name, dims in meta.crosses.items() if len(dims) == 2)
    (grid,) = grids(cov, meta, [cross], ["toy"], 1, weighted=True)
    cells = pq.read_table(cov / "cells.parquet").to_pandas()
    rates = cells.loc[cells["cross"] == cross, ["failures", "n", "rate"]]
    assert not np.allclose(rates["rate"], rates["failures"] / rates["n"])  # they differ here
    shown = np.sort(grid.rate("toy").ravel())
    np.testing.assert_allclose(shown, np.sort(np.minimum(rates["rate"].to_numpy(), 1.0)))
    figure = pair_figure(grid, RateScale.for_grids([grid]))
    labels = [ax.get_ylabel() for ax in figure.axes]
    assert any(label.startswith("weighted failure rate") for label in labels), labels
    bars = agreement_figure(
        {"toy": {"pass": 300, "miss": 100}}, ["miss"], None, None, weighted=True
    )
    title, ylabel = bars.axes[0].get_title(), bars.axes[0].get_ylabel()
    assert "cases drawn" in title and "not weighted" in title and "cases drawn" in ylabel


def test_coverage_prints_a_weighted_rate_above_1_capped_as_the_report_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two of the base's four cases fail in a quarter the follow-up never samples: each
    # weighs 44 / 4 = 11, so the cell's Horvitz-Thompson estimate is 2 * 11 / (44 * 0.25)
    # = 2. The worst cells printed "rate 2.000" beside an upper bound of 1; the report
    # shows 1.000* and a note.
    runs = base_and_focus(tmp_path, 2, n_base=4, n_focus=40)
    bins = tmp_path / "halves.toml"
    bins.write_text("[bins.x]\nedges = [0.0, 0.5, 1.0]\n[bins.y]\nedges = [0.0, 0.5, 1.0]\n")
    out = tmp_path / "merged"
    assert main(["coverage", *map(str, runs), "--bins", str(bins), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    label = "x[0,0.5) & y[0,0.5)"
    (row,) = [line for line in lines if label in line and "rate" in line]
    assert "2/2" in row and "rate 1.000*  upper 1.000" in row, row
    notes = [line for line in lines if "Horvitz-Thompson estimate" in line]
    assert len(notes) == 1 and f"({label} (toy) 2)" in notes[0], notes
    cells = pq.read_table(out / "coverage" / "cells.parquet").to_pandas()
    assert float(cells.loc[cells["label"] == label, "rate"].iloc[0]) == pytest.approx(2.0)


def test_a_weighted_merge_records_its_bonferroni_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A base run merged with its focus follow-up was recorded as looks "fixed" (one-look
    # Clopper-Pearson) at confidence 0.975, the split level, in summary.json, in
    # cells.parquet and in the printed header, though 0.95 was asked for.
    runs = base_and_focus(tmp_path, 11)
    out = tmp_path / "merged"
    assert main(["coverage", *map(str, runs), "--out", str(out)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "at 95% confidence (each look's bounds at 97.5%)" in header, header
    summary = _strict((out / "coverage" / "summary.json").read_text())
    assert summary["looks"] == "bonferroni"
    assert summary["confidence"] == 0.95 and summary["look_confidence"] == 0.975
    assert "1 - 0.05/2 = 0.975 each" in summary["looks_why"]
    cells = pd.read_parquet(out / "coverage" / "cells.parquet")
    assert cells.attrs == {"looks": "bonferroni", "confidence": 0.95, "look_confidence": 0.975}
    # The statistics themselves are those of one look at 0.975, as before.
    counts = analyse_run(runs, SETTINGS, regions=False).counts
    designs = [run_design(r, SPACE) for r in runs]
    split, _, _ = weighted_cell_stats(
        counts, designs, p_target=0.01, confidence=0.95, adjust="holm", looks=2
    )
    one, _, _ = weighted_cell_stats(counts, designs, p_target=0.01, confidence=0.975, adjust="holm")
    assert (split.looks, split.confidence, split.each_look) == ("bonferroni", 0.95, 0.975)
    assert (one.looks, one.confidence, one.each_look) == ("fixed", 0.975, 0.975)
    for name in ("upper", "lower", "ci_low", "ci_high", "p_value", "p_adjusted", "status"):
        assert np.array_equal(getattr(split, name), getattr(one, name)), name
    # A weighted run alone is one look at the level asked for.
    alone_summary = analyse_run(runs[1:], SETTINGS, regions=False).summary
    assert alone_summary["looks"] == "fixed" and alone_summary["look_confidence"] == 0.95
