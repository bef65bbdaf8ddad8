"""What coverage, gates and diffs are given: bins files, crosses too large to count,
partial runs, and the sentences printed beside cell status.

Bad input is one line naming the field, echoing the value (plainly: ``0.1``, lists,
``1e+400``) and saying what is allowed, through the API and the command line (exit 2,
nothing written).
"""

from __future__ import annotations

import itertools
import math
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from highfive.coverage import (
    Binning,
    CoverageSettings,
    analyse_run,
    covered_share,
    cp_upper,
    evaluate_gate,
    load_crosses,
    load_gate,
    load_settings,
    make_crosses,
)
from highfive.coverage._crosses import MAX_CELLS, crosses_size
from highfive.generators import (
    ConfigError,
    Dimension,
    InvalidParameter,
    ParameterSpace,
    RunDirError,
    default_space,
    show,
    show_number,
)
from highfive.generators.motions import MOTIONS
from highfive.harness import SCHEMA_VERSION, RunDir
from highfive.harness.cli import main
from highfive.reports import write_gate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# -- helpers --------------------------------------------------------------------------
def write_run(
    path: Path,
    cases: int,
    *,
    batch: int = 64,
    status: str = "complete",
    listed: int | None = None,
    manifest: bool = True,
    fail: float = 0.05,
) -> Path:
    """A run of the default space: two models, ``cases`` cases in batches of ``batch``.

    The manifest lists the first ``listed`` batches (default: all); later batches'
    files are written but not listed, as a kill between a batch's files and its
    manifest line leaves them. ``manifest=False`` writes no manifest at all.
    """
    space = default_space()
    rng = np.random.default_rng(7)
    run = RunDir(path)
    run.write_campaign(
        {
            "schema_version": SCHEMA_VERSION,
            "name": path.name,
            "identity": {"seed": 7, "sampler": "random", "space": {}, "cases": cases},
            "config": {"cases": cases, "batch_size": batch},
            "models": [
                {"id": m, "kind": "onnx", "source": m, "sha256": f"{i:064d}", "bytes": 1000}
                for i, m in enumerate(("float", "int8"))
            ],
            "status": status,
        }
    )
    n_batches = -(-cases // batch)
    for b in range(n_batches):
        start, k = b * batch, min(batch, cases - b * batch)
        params = space.from_unit(rng.random((k, space.d)))
        table = pa.Table.from_pandas(params, schema=space.to_arrow_schema(), preserve_index=False)
        table = table.add_column(0, "case_id", pa.array(np.arange(start, start + k), pa.int64()))
        parts = {}
        for m in ("float", "int8"):
            v = np.where(rng.random(k) < fail, "miss", "pass").astype(object)
            t = table.append_column("verdict", pa.array(v, pa.string()))
            parts[m] = t.append_column("predicted_count", pa.array(np.ones(k), pa.int32()))
        files = run.write_batch(b, parts, None)
        if manifest and (listed is None or b < listed):
            run.append_manifest({"batch": b, "start": start, "count": k, "files": files})
    return path


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """512 cases of the default space, complete, 5% failures per model."""
    return write_run(tmp_path_factory.mktemp("cov") / "small", 512)


BINNING = Binning.from_space(default_space())
DIMS = len(BINNING)


def t_way_cells(t: int) -> int:
    """Cells of all t-way crosses of the default binning: the t-th elementary symmetric
    polynomial of the bin counts (a product expanded term by term, not the library's count).
    """
    coef = [1] + [0] * t
    for r in BINNING.radices:
        for k in range(t, 0, -1):
            coef[k] += r * coef[k - 1]
    return coef[t]


def cells_and_crosses(ways: list[int]) -> str:
    """``'<cells> cells per model in <crosses> crosses'`` for ``ways`` as the refusal prints it."""
    cells = sum(t_way_cells(t) for t in ways)
    return f"{cells:,} cells per model in {sum(math.comb(DIMS, t) for t in ways):,} crosses"


def one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str], run: Path) -> str:
    """``main(argv)`` exits 2 with one ``error:`` line and writes nothing into ``run``."""
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    return err


# -- crosses too large to count -------------------------------------------------------
def test_cells_are_counted_exactly_before_crosses_are_built() -> None:
    binning = BINNING
    for ways in ([1], [2], [3], [1, 2, 3]):
        # Brute force: every t-subset's product of bin counts.
        want = sum(math.prod(c) for t in ways for c in itertools.combinations(binning.radices, t))
        crosses = make_crosses(binning, ways)
        assert crosses_size(binning, ways) == (want, len(crosses))
        assert want == sum(c.n_cells(binning) for c in crosses)
    assert [crosses_size(binning, [t])[0] for t in (1, 2, 3)] == [t_way_cells(t) for t in (1, 2, 3)]
    assert t_way_cells(1) == sum(binning.radices)
    text = '[[crosses]]\ndims = ["motion", "gap"]\n[[crosses]]\ndims = ["a", "b"]'
    named = load_crosses(
        text.replace('["a", "b"]', '["motion", "gap", "tempo", "duration"]'), binning
    )
    assert crosses_size(binning, [], named) == (
        sum(c.n_cells(binning) for c in named),
        len(named),
    )


@pytest.mark.parametrize(
    ("ways", "match"),
    [
        (
            [7],
            rf"^ways \[7\]: {cells_and_crosses([7])} of {DIMS} binned "
            r"dimensions, more than the limit of 1,000,000; use smaller ways \(t = 3 gives "
            rf"{t_way_cells(3):,} cells here\) or fewer dimensions: in a bins file, give the "
            r"ones you do not need one bin \(\[bins\.<dimension>\] count = 1\)",
        ),
        ([1, 2, 3, 4], rf"^ways \[1, 2, 3, 4\]: {cells_and_crosses([1, 2, 3, 4])}"),
        (  # beyond 15 digits the count reads as d.dde+N
            [25],
            rf"^ways \[25\]: {re.escape(show_number(t_way_cells(25)))} cells per model in "
            rf"{math.comb(DIMS, 25):,} crosses",
        ),
    ],
    ids=["7-way", "up-to-4-way", "25-way"],
)
def test_too_many_cells_are_refused_with_the_count_and_the_limit(
    ways: list[int], match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as exc:
        make_crosses(Binning.from_space(default_space()), ways)
    assert "\n" not in str(exc.value) and f"{MAX_CELLS:,}" in str(exc.value)


def test_too_many_cells_of_categorical_dimensions_get_advice_that_works() -> None:
    # Label columns of recordings are categorical, one bin per value: the advice to give
    # a dimension one bin (count = 1) was refused by the bins file it was written in.
    ids = tuple(f"s{i:04d}" for i in range(1_001))
    space = ParameterSpace(
        [Dimension(n, "categorical", choices=ids) for n in ("subject", "session")]
    )
    with pytest.raises(ConfigError) as exc:
        make_crosses(Binning.from_space(space), [1, 2])
    assert "count = 1" not in str(exc.value)
    assert re.search(
        r"use smaller ways \(t = 1 gives 2,002 cells here; in a bins file: ways = \[1\]\) or "
        r"fewer dimensions: for coverage, list the crosses you need \(\[\[crosses\]\] dims = "
        r"\[\.\.\.\]\) with fewer dimensions each \(a categorical dimension has one bin per "
        r"value\)$",
        str(exc.value),
    )


DEEP = [
    (
        ["gate", "RUN", "--gate", "FILE"],
        '[[criteria]]\nkind = "coverage"\nname = "deep"\nmin = 0.5\nways = [7]\n',
        rf"error: criterion 'deep': ways \[7\]: {cells_and_crosses([7])} ",
    ),
    (
        ["diff", "RUN", "--ways", "9"],
        "",
        rf"error: --ways \[9\]: {cells_and_crosses([9])} ",
    ),
    (
        ["coverage", "RUN", "--bins", "FILE"],
        "ways = [1, 2, 3, 4]\n",
        rf"error: ways \[1, 2, 3, 4\]: {cells_and_crosses([1, 2, 3, 4])} .* or, for coverage, "
        r"list the "
        r"crosses you need \(\[\[crosses\]\] dims = \[\.\.\.\]\) with fewer dimensions each$",
    ),
]


@pytest.mark.parametrize(("argv", "text", "match"), DEEP, ids=["gate", "diff", "coverage"])
def test_deep_ways_are_refused_before_counting(
    small_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    text: str,
    match: str,
) -> None:
    (tmp_path / "deep.toml").write_text(text)
    where = {"RUN": str(small_run), "FILE": str(tmp_path / "deep.toml")}
    err = one_line_exit_2([where.get(a, a) for a in argv], capsys, small_run)
    assert re.match(match, err.strip()), err
    assert "more than the limit of 1,000,000; use smaller ways" in err


def test_a_large_count_says_what_it_counts_and_how_far_it_got(
    small_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from highfive.coverage import _progress

    monkeypatch.setattr(_progress, "LARGE_CELLS", 100)  # 1- and 2-way cells count as large
    lines: list[str] = []
    analyse_run(small_run, regions=False, log=lines.append)
    assert lines[0] == (f"counting {cells_and_crosses([1, 2])} ({small_run}); this takes a while")
    assert re.fullmatch(r"  counted: 1,024 of 1,024 rows \(100%\), \d+ s", lines[-1])
    gate = tmp_path / "g.toml"
    gate.write_text('[[criteria]]\nkind = "coverage"\nmin = 0.5\nways = [2]\n')
    lines.clear()
    evaluate_gate(small_run, load_gate(gate), log=lines.append)
    assert lines[0].startswith(f"counting {cells_and_crosses([2])} (the gate's")


# -- bins files -------------------------------------------------------------------------
def bins_file(tmp_path: Path, text: str, name: str = "b.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_BINS = [
    (
        "unknown-top-key",
        "[bin.peak_accel]\ncount = 3\n",
        r"^bins file b\.toml: unknown key 'bin'; allowed: bins, crosses, ways, statistics",
    ),
    (
        "dimension-without-bins",
        "[peak_accel]\ncount = 3\n",
        r"^bins file b\.toml: unknown key 'peak_accel'; allowed: bins, crosses, ways",
    ),
    ("bins-not-tables", "bins = 3\n", r"^bins file b\.toml: bins = 3 must be tables"),
    ("statistics-not-a-table", "statistics = 0.1\n", r"^statistics: 0\.1 must be a table"),
    (
        "unknown-statistics-key",
        "[statistics]\ntarget = 0.1\n",
        r"^unknown key 'statistics\.target'; allowed: p_target, confidence, min_cases, adjust, "
        r"looks$",
    ),
    (
        "p_target-above-1",
        "[statistics]\np_target = 2\n",
        r"^statistics\.p_target: 2 must be a failure rate in \(0, 1\), e.g\. 0\.01$",
    ),
    ("p_target-text", '[statistics]\np_target = "1%"\n', r"^statistics\.p_target: '1%' must be"),
    ("p_target-huge", f"[statistics]\np_target = 1{'0' * 400}\n", r"p_target: 1e\+400 must be"),
    ("confidence-1", "[statistics]\nconfidence = 1.0\n", r"^statistics\.confidence: 1\.0 must be"),
    ("min_cases-0", "[statistics]\nmin_cases = 0\n", r"^statistics\.min_cases: 0 must be a whole"),
    (
        "adjust-unknown",
        '[statistics]\nadjust = "bonferroni"\n',
        r"^statistics\.adjust: 'bonferroni' must be 'holm' \(default\) or 'none'$",
    ),
]


@pytest.mark.parametrize(("text", "match"), [b[1:] for b in BAD_BINS], ids=[b[0] for b in BAD_BINS])
def test_bad_bins_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as exc:
        load_settings(bins_file(tmp_path, text))
    assert "\n" not in str(exc.value)


_DEEP = len(MOTIONS) * (len(MOTIONS) - 1) * 4**7  # motion x distractor x 7 ranges

BAD_TABLES = [
    (
        "ignore-str",
        '[bins.motion]\nignore = "rest"\n',
        r"bins\.motion\.ignore: 'rest' must be a list",
    ),
    (
        "ignore-list",
        "[bins.gap]\nignore = [[1, 2]]\n",
        r"bins\.gap\.ignore: \[\[1, 2\]\] must be a list of",
    ),
    (
        "ignore-huge",
        f"[bins.gap]\nignore = [1{'0' * 400}]\n",
        r"coverpoint gap\.ignore: 1e\+400 names no bin; use one of \['gap\[0\.3,",
    ),
    (
        "labels-str",
        '[bins.background]\nlabels = "abc"\n',
        r"labels: 'abc' must be a list of strings",
    ),
    ("labels-int", "[bins.background]\nlabels = 3\n", r"labels: 3 must be a list of strings"),
    ("ways-empty", "ways = []\n", r"^ways: \[\] and no \[\[crosses\]\] leave nothing to count"),
    (
        "cross-no-dims",
        "[[crosses]]\ndims = []\n",
        r"crosses\[0\]\.dims: \[\] must be a list of one or more dimension names",
    ),
    (  # motions x distractors (each motion but rest and the high-five, and none) x 4^7
        "cross-too-deep",
        '[[crosses]]\ndims = ["motion", "distractor", "gap", "duration", "tempo", "bias_x", '
        '"bias_y", "bias_z", "scale_x"]\n',
        rf"^ways \[1, 2\] and \[\[crosses\]\] \({_DEEP:,} cells in 1 named crosses\): "
        rf"{_DEEP + t_way_cells(1) + t_way_cells(2):,} cells per model",
    ),
]


@pytest.mark.parametrize(
    ("text", "match"), [b[1:] for b in BAD_TABLES], ids=[b[0] for b in BAD_TABLES]
)
def test_bad_bins_and_crosses_tables(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_crosses(text, Binning.from_toml(text, default_space()))


@pytest.mark.parametrize("command", ["coverage", "report"])
@pytest.mark.parametrize(
    ("text", "match"),
    [b[1:] for b in BAD_BINS + BAD_TABLES],
    ids=[b[0] for b in BAD_BINS + BAD_TABLES],
)
def test_bad_bins_files_through_coverage_and_report_write_nothing(
    small_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    match: str,
    command: str,
) -> None:
    # A report takes --bins as coverage does, refused by the same checks.
    argv = [command, str(small_run), "--bins", str(bins_file(tmp_path, text))]
    assert re.search(match.lstrip("^"), one_line_exit_2(argv, capsys, small_run))


def test_a_gate_and_a_diff_refuse_unknown_keys_of_their_bins_file(
    small_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bins_file(tmp_path, "[bin.peak_accel]\ncount = 3\n")
    gate = tmp_path / "g.toml"
    gate.write_text('[gate]\nbins = "b.toml"\n[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n')
    with pytest.raises(ConfigError, match=r"^gate\.bins: b\.toml: unknown key 'bin'; allowed"):
        load_gate(gate)
    one_line_exit_2(["gate", str(small_run), "--gate", str(gate)], capsys, small_run)
    argv = ["diff", str(small_run), "--bins", str(tmp_path / "b.toml")]
    assert "unknown key 'bin'" in one_line_exit_2(argv, capsys, small_run)


def test_a_gate_uses_the_bins_of_a_full_bins_file(small_run: Path, tmp_path: Path) -> None:
    """The same bins file serves coverage and a gate: the gate reads its bins tables."""
    bins_file(tmp_path, "ways = [1]\n[bins.gap]\ncount = 2\n[statistics]\np_target = 0.1\n")
    gate = tmp_path / "g.toml"
    gate.write_text(
        '[gate]\nbins = "b.toml"\n[[criteria]]\nkind = "coverage"\nmin = 0\nways = [1]\n'
    )
    (c, _) = evaluate_gate(small_run, load_gate(gate)).criteria
    cells = t_way_cells(1) - 2  # the default 1-way cells, gap's 4 bins now 2
    assert f"({cells}/{cells} cells)" in c.detail


def test_examples_bins_toml_loads_and_counts(small_run: Path) -> None:
    settings = load_settings(EXAMPLES / "bins.toml")
    assert (settings.p_target, settings.confidence, settings.min_cases, settings.adjust) == (
        0.01,
        0.95,
        30,
        "holm",
    )
    binning = Binning.from_space(default_space(), settings.toml["bins"])
    assert binning["peak_accel"].bin_labels == ("gentle", "brisk", "hard", "violent")
    assert binning["motion"].n_bins == len(MOTIONS) - 1  # rest ignored
    crosses = load_crosses(settings.toml, binning)
    assert crosses[0].dims == ("motion", "background", "sample_rate")
    result = analyse_run(small_run, settings, regions=False)
    assert result.summary["min_cases"] == 30 and result.summary["bins_file"].endswith("bins.toml")
    assert set(result.cells["cross"].astype(str)) >= {"motion x background x sample_rate"}


def test_examples_readme_lists_bins_toml() -> None:
    assert "`bins.toml`" in (EXAMPLES / "README.md").read_text()


def test_bins_help_says_what_a_bins_file_holds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["diff", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for word in ("examples/bins.toml", "[bins.<dimension>]", "ways = [1, 2]", "[[crosses]]"):
        assert word in text
    assert "[statistics] with p_target" in text and "any other key is an error" in text


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "[bins.gap]\ncount = 1000000000000\n",
            r"count: 1000000000000 must be a positive whole number, at most 1,000",
        ),
        ('[bins.gap]\nedges = ["0.3", "6"]\n', r"edges: \['0\.3', '6'\] must be a list of numbers"),
        (
            "[bins.motion]\nbins = 3\n",
            r"unknown key 'bins'; allowed: edges, count, labels, ignore, illegal$",
        ),
        (
            '[[crosses]]\ndims = ["gap"]\nt = 2\n',
            r"crosses\[0\]: unknown key 't'; allowed: name, dims$",
        ),
    ],
    ids=["count-huge", "edges-text", "bin-key", "cross-key"],
)
def test_bins_and_crosses_messages_say_what_is_allowed_plainly(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as exc:
        load_crosses(text, Binning.from_toml(text, default_space()))
    assert "(" not in str(exc.value).split("allowed:")[-1]  # lists, never Python tuples


# -- partial runs -----------------------------------------------------------------------
def test_partial_coverage_counts_only_the_batches_the_manifest_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Batch 2's files were written, its manifest line was not: it is not done.
    run = write_run(tmp_path / "r", 192, status="running", listed=2)
    result = analyse_run(run, allow_partial=True, regions=False)
    assert result.summary["models"]["float"]["rows"] == 128
    ones = t_way_cells(1)  # the 1-way cells come first: each dimension counts every row once
    assert result.counts.n[:ones].sum(axis=0).tolist() == [128 * DIMS] * 2
    with pytest.raises(RunDirError, match=r"pass --partial to analyse the batches done so far"):
        analyse_run(run, regions=False)
    assert main(["coverage", str(run), "--partial"]) == 0
    assert "float    128 cases" in capsys.readouterr().out


def test_partial_coverage_of_a_run_without_a_finished_batch_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Killed after the first batch's files, before its manifest line: nothing is done.
    run = write_run(tmp_path / "r", 64, status="running", manifest=False)
    with pytest.raises(RunDirError, match=r"has no finished batch yet .*nothing to analyse"):
        analyse_run(run, allow_partial=True)
    err = one_line_exit_2(["coverage", str(run), "--partial"], capsys, run)
    assert "no line in manifest.jsonl" in err


# -- a run's manifest -------------------------------------------------------------------
@pytest.mark.parametrize("command", ["coverage", "gate", "diff"])
def test_a_complete_run_that_lost_its_manifest_is_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    # campaign.json records a complete run of 256 cases in batches of 64: highfive wrote
    # a manifest, so without one its files cannot be checked (a stray or duplicated part
    # file would be counted).
    run = write_run(tmp_path / "r", 256, manifest=False)
    shutil.copy(
        run / "results" / "model=float" / "part-000001.parquet",
        run / "results" / "model=float" / "part-099999.parquet",
    )
    with pytest.raises(RunDirError, match=r"is damaged: manifest.jsonl is missing"):
        RunDir(run).results()
    gate = tmp_path / "g.toml"
    gate.write_text('[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n')
    argv = {"coverage": [str(run)], "gate": [str(run), "--gate", str(gate)], "diff": [str(run)]}
    err = one_line_exit_2([command, *argv[command]], capsys, run)
    assert re.fullmatch(
        r"error: run directory '.*r' is damaged: manifest.jsonl is missing from a complete run "
        r"of 256 cases \(the index of its result files\); run the campaign again\n",
        err,
    ), err


def test_a_plain_folder_of_results_with_a_case_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Results assembled by another tool, without a manifest: read as they are, but a
    # (model, case_id) row twice is never counted twice.
    run = write_run(tmp_path / "r", 256, manifest=False)
    record = RunDir(run).read_campaign()
    del record["config"]  # no record of its cases: not a run highfive wrote
    RunDir(run).write_campaign(record)
    assert len(RunDir(run).results()) == 512
    shutil.copy(
        run / "results" / "model=float" / "part-000001.parquet",
        run / "results" / "model=float" / "part-099999.parquet",
    )
    with pytest.raises(RunDirError, match=r"holds case 64 of model 'float' 2 times"):
        RunDir(run).results()
    err = one_line_exit_2(["coverage", str(run)], capsys, run)
    assert "(64 rows of model 'float' repeated)" in err


def test_a_plain_folder_of_results_is_scanned_once_per_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A command makes several RunDir objects for one folder; the rows of a folder without
    # a manifest, and its campaign.json, are read once, and again only when they change.
    from highfive.harness import _rundir

    run = write_run(tmp_path / "r", 256, manifest=False)
    record = RunDir(run).read_campaign()
    del record["config"]
    RunDir(run).write_campaign(record)
    scans: list[object] = []
    real = _rundir._scan_unique
    monkeypatch.setattr(_rundir, "_scan_unique", lambda *a: scans.append(a) or real(*a))
    _rundir._MEMO.clear()
    assert main(["coverage", str(run)]) == 0
    capsys.readouterr()
    assert len(scans) == 1
    assert len(RunDir(run).results()) == 512 and len(scans) == 1
    shutil.copy(
        run / "results" / "model=float" / "part-000001.parquet",
        run / "results" / "model=float" / "part-099999.parquet",
    )
    with pytest.raises(RunDirError, match=r"holds case 64 of model 'float' 2 times"):
        RunDir(run).results()
    assert len(scans) == 2


# -- which target, and what to do next ---------------------------------------------------
def test_coverage_lines_say_which_target_the_cell_status_uses(
    small_run: Path, tmp_path: Path
) -> None:
    result = analyse_run(small_run, regions=False)
    status = {m: s["status"]["failing"] for m, s in result.summary["models"].items()}
    lines = result.lines()
    (targets,) = (line for line in lines if line.startswith("targets: "))
    assert targets.startswith(
        "targets: cell status uses p_target 0.01 (the default; set [statistics] p_target in "
        f"a --bins file): failing cells ({status['float']:,} of float and {status['int8']:,} of "
        "int8) are shown above it; a release gate ('highfive gate') judges cells against its "
        "own p_max instead"
    )
    # Beside a gate: its own thresholds, with the numbers.
    copy = write_run(tmp_path / "gated", 512)
    gate = tmp_path / "g.toml"
    gate.write_text(
        '[[criteria]]\nkind = "cell_upper_bound"\nname = "every cell below 90%"\n'
        'p_max = 0.9\n[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n'
    )
    write_gate(copy, evaluate_gate(copy, load_gate(gate)))
    settings = load_settings(bins_file(tmp_path, "[statistics]\np_target = 0.2\n"))
    (targets,) = (
        line for line in analyse_run(copy, settings, regions=False).lines() if "targets" in line
    )
    assert f"uses p_target 0.2 (set in {tmp_path / 'b.toml'})" in targets
    assert targets.endswith(
        "the run's gate (pass, gate.json) judged cells against every cell below 90%: "
        "upper bound < 0.9 in every 1-way cell"
    )


def test_coverage_lines_end_with_the_follow_up_of_undecided_cells(
    small_run: Path, tmp_path: Path
) -> None:
    result = analyse_run(small_run, regions=False)
    undecided = result.cells[result.cells["status"].isin(["untested", "under-tested"])]
    n = len(undecided[["cross", "cell"]].drop_duplicates())
    assert n > 0
    head, cmd = result.lines()[-2:]
    assert head == f"undecided: {n:,} cells are untested or under-tested; follow up on them with:"
    assert shlex.split(cmd) == ["highfive", "run", "--focus", str(small_run)]
    bins = bins_file(tmp_path, "[bins.gap]\ncount = 2\n", "my bins.toml")
    cmd = analyse_run(small_run, load_settings(bins), regions=False).lines()[-1]
    assert shlex.split(cmd) == ["highfive", "run", "--focus", str(small_run), "--bins", str(bins)]
    assert CoverageSettings().source == ""  # the defaults name no file


def test_cases_needed_beyond_any_count_are_not_called_weighted(
    small_run: Path, tmp_path: Path
) -> None:
    # Unweighted cells whose count is beyond 2^53 cases (needed inf) were labelled
    # "cases still needed: n/a (weighted cases)", the label of weighted cells.
    settings = load_settings(
        bins_file(tmp_path, '[statistics]\np_target = 1e-300\nlooks = "anytime"\n')
    )
    result = analyse_run(small_run, settings, regions=False)
    assert not result.summary.get("weighting")
    worst = [line for line in result.lines() if "upper" in line and "rate" in line]
    undecided = [line for line in worst if not line.endswith(("failing", "passing"))]
    assert undecided, worst
    for line in undecided:
        assert "weighted" not in line
        assert line.endswith("needs more than 2^53 more if none fails, never at this rate"), line


def test_an_unfinished_run_is_no_base_for_a_follow_up(tmp_path: Path) -> None:
    from highfive.coverage import plan_focus

    run = write_run(tmp_path / "r", 128, status="running", listed=1)
    with pytest.raises(RunDirError) as exc:
        plan_focus(run)
    message = str(exc.value)
    assert "a follow-up (highfive run --focus) needs a complete run" in message
    assert "--resume" in message and "--partial" not in message  # run has no --partial


# -- messages show values plainly -------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.float64(0.1), "0.1"),
        ((1, 2), "[1, 2]"),
        (10**400, "1e+400"),
        (1e308, "1e+308"),
        (np.int64(3), "3"),
        ([np.float32(0.5)], "[0.5]"),
        ("moonwalk", "'moonwalk'"),
        (
            list(range(1000)),
            "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, ... (1,000 items)]",
        ),
    ],
    ids=["numpy-float", "tuple", "huge-int", "1e308", "numpy-int", "list-of-numpy", "str", "long"],
)
def test_values_are_shown_as_people_write_them(value: Any, text: str) -> None:
    assert show(value) == text


def test_a_huge_string_is_shortened() -> None:
    assert len(show("x" * 100_000)) < 100


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: cp_upper(1, 10, np.float64(2.0)), r"^confidence: 2\.0 must be in \[0\.5, 1\)"),
        (
            lambda: load_gate_text(f"[gate]\nconfidence = 1{'0' * 400}\n"),
            r"^gate\.confidence: 1e\+400 must be in \[0\.5, 1\)",
        ),
        (
            lambda: load_gate_text(f'[[criteria]]\nkind = "failure_rate"\np_max = 1{"0" * 400}\n'),
            r"p_max: 1e\+400 must be a failure rate in \(0, 1\]",
        ),
        (
            lambda: load_gate_text(
                f'[[criteria]]\nkind = "coverage"\nmin = 0.5\nmin_cases = 1{"0" * 30}\n'
            ),
            r"min_cases: 1e\+30 is too large \(at most 9,223,372,036,854,775,807\)$",
        ),
        (
            lambda: load_gate_text('[[criteria]]\nkind = "flaky"\n'),
            r"kind: 'flaky' is not a criterion kind; use one of cell_upper_bound, coverage, ",
        ),
    ],
    ids=["numpy-confidence", "huge-confidence", "huge-p_max", "huge-min_cases", "kinds-listed"],
)
def test_numbers_in_messages_are_for_people(call: Any, match: str) -> None:
    with pytest.raises((ConfigError, InvalidParameter), match=match) as exc:
        call()
    assert "np." not in str(exc.value) and "inf" not in str(exc.value)


def load_gate_text(text: str) -> object:
    """A gate from TOML text (a criterion added when the text has none)."""
    import tempfile

    if "[[criteria]]" not in text:
        text += '\n[[criteria]]\nkind = "failure_rate"\np_max = 0.1\n'
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "g.toml"
        path.write_text(text)
        return load_gate(path)


# -- written together or not at all ----------------------------------------------------
def test_coverage_files_are_written_all_or_none(
    small_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from highfive.coverage import _run, write_coverage

    result = analyse_run(small_run, regions=False)
    out = tmp_path / "out"
    write_coverage(out, result)
    before = {p.name: p.read_bytes() for p in (out / "coverage").iterdir()}
    real, calls = _run.pq.write_table, []

    def disk_full(table: pa.Table, where: Any) -> None:
        calls.append(where)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(table, where)

    monkeypatch.setattr(_run.pq, "write_table", disk_full)
    other = load_settings(bins_file(tmp_path, "[bins.gap]\ncount = 2\n"))  # other counts
    # It named no file ("Error writing bytes to file"): now one line naming the file.
    with pytest.raises(RunDirError, match=r"cannot write .*cells.parquet: No space left on dev"):
        write_coverage(out, analyse_run(small_run, other, regions=False))
    after = {p.name: p.read_bytes() for p in (out / "coverage").iterdir()}
    assert after == before  # the first file was not renamed over its old self either
    # Through the command line: nothing printed as if it had worked, no folder left.
    calls.clear()
    fresh = tmp_path / "fresh"
    shutil.copytree(small_run, fresh)
    assert main(["coverage", str(fresh)]) == 2
    said = capsys.readouterr()
    assert (
        said.out == "" and said.err.startswith("error: cannot write ") and said.err.count("\n") == 1
    )
    assert not (fresh / "coverage").exists()


def test_gate_files_are_written_both_or_neither(small_run: Path, tmp_path: Path) -> None:
    gate = tmp_path / "g.toml"
    gate.write_text('[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n')
    run = write_run(tmp_path / "r", 128)
    result = evaluate_gate(run, load_gate(gate))
    (run / "gate.json").mkdir()  # what fails the second rename, once the first is done
    (run / "junit.xml").write_text("earlier")
    with pytest.raises(OSError, match=r"gate\.json"):
        write_gate(run, result)
    # junit.xml was once renamed before gate.json failed: a new one beside no gate.json.
    assert (run / "junit.xml").read_text() == "earlier"
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


def test_coverage_files_are_not_half_renamed(small_run: Path, tmp_path: Path) -> None:
    from highfive.coverage import write_coverage

    result = analyse_run(small_run, regions=False)
    out = tmp_path / "out"
    write_coverage(out, result)
    before = (out / "coverage" / "summary.json").read_text()
    (out / "coverage" / "counts.parquet").unlink()
    (out / "coverage" / "counts.parquet").mkdir()
    (out / "coverage" / "summary.json").write_text("earlier")
    with pytest.raises(RunDirError, match=r"cannot write .*counts.parquet: Is a directory"):
        write_coverage(out, result)
    assert (out / "coverage" / "summary.json").read_text() == "earlier" != before


def test_a_space_with_every_dimension_fixed_has_nothing_to_cross() -> None:
    # Once "ways: 1 must be a whole number from 1 to 0", a bound that reads as a typo.
    from highfive.coverage import make_crosses
    from highfive.generators import ConfigError, default_space

    space = default_space()
    fixed = space.restrict(**{d.name: d.nominal for d in space})
    with pytest.raises(ConfigError, match="nothing to cross: every dimension of the space is"):
        make_crosses(Binning.from_space(fixed), [1])


def test_runs_that_judge_differently_are_not_merged(
    small_campaign: Any, toy_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run judged at a tolerance of 0.05 s merged with one at 0.5 s without a word
    (diff said the runs judge differently): the pooled rate estimates no one rate."""
    toy = {"toy": str(toy_model_path)}
    a = small_campaign(tmp_path, "a", 1, 8, toy)
    b = small_campaign(tmp_path, "b", 2, 8, toy, tolerance=0.05)
    c = small_campaign(tmp_path, "c", 3, 8, toy)
    capsys.readouterr()
    assert main(["coverage", str(a), str(b), "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot merge {str(a)!r} with {str(b)!r}: they judge their cases differently "
        f"(tolerance 0.5 in {str(a)!r}, 0.05 in {str(b)!r}), and their pooled rate would "
        "estimate no one rate; analyse each run on its own\n"
    )
    assert not (tmp_path / "m").exists()
    assert main(["coverage", str(a), str(c), "--out", str(tmp_path / "m")]) == 0


def test_latin_hypercubes_of_one_seed_are_not_called_the_same_cases(
    small_campaign: Any, toy_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two Latin hypercubes of one seed and other sizes hold other cases, drawn with the
    same random numbers: the refusal said they were the same cases, counted twice."""
    toy = {"toy": str(toy_model_path)}
    a = small_campaign(tmp_path, "a", 1, 8, toy)
    b = small_campaign(tmp_path, "b", 1, 4, toy)
    capsys.readouterr()
    assert main(["coverage", str(a), str(b), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"error: cannot merge coverage: cases 0\.\.3 of case sequence \w+ are in both \(one "
        r"seed, sampler and space draw case i from the same random numbers\): the same cases "
        r"would count twice, and a Latin hypercube's of another size would not be independent; "
        r"give each run a seed of its own\n",
        err,
    ), err


@given(cells=st.integers(1, 10**9), data=st.data())
def test_a_covered_share_is_never_shown_as_100_percent_with_a_hole(
    cells: int, data: st.DataObject
) -> None:
    """13,427 of 13,432 cells printed '2-way 100.0%', read as no hole; the report
    already floored it. The share shown is never above the true one, and reads 100.0%
    only when every cell is covered."""
    covered = data.draw(st.integers(0, cells))
    text = covered_share(covered, cells)
    assert (text == "100.0%") == (covered == cells)
    assert float(text.removesuffix("%")) <= 100 * covered / cells + 0.05


def test_coverage_prints_the_share_without_rounding_a_hole_away(small_run: Path) -> None:
    cov = analyse_run(small_run, regions=False)
    for m in cov.summary["models"].values():
        m["coverage"]["by_t"]["2"] = {"covered": 13_427, "cells": 13_432, "coverage": 0.99963}
    assert "2-way 99.96% of 13,432 cells" in "\n".join(cov.lines())
