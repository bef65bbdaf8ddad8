"""Release gates: gate files, criteria, gate.json, junit.xml and ``highfive gate``."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pytest

from highfive.coverage import (
    CRITERIA,
    KINDS,
    Binning,
    CoverageCounts,
    Criterion,
    CriterionKind,
    GateRun,
    Option,
    analyse_run,
    cp_upper,
    cs_upper,
    evaluate_gate,
    load_gate,
    make_crosses,
    register_criterion,
)
from highfive.generators import ConfigError, Dimension, ParameterSpace, RunDirError
from highfive.harness import SCHEMA_VERSION, RunDir
from highfive.harness.cli import main
from highfive.reports import write_gate
from highfive.reports._junit import junit_xml

GATE_KEYS = {"verdict", "run", "gate_file", "confidence", "looks", "evaluated", "criteria"}
CRITERION_KEYS = {"name", "kind", "model", "threshold", "value", "passed", "detail"}


# -- helpers --------------------------------------------------------------------------
def small_space() -> ParameterSpace:
    return ParameterSpace(
        [
            Dimension("motion", "categorical", choices=("high_five", "clap", "wave")),
            Dimension("peak", "continuous", 4.0, 40.0, distribution="log-uniform"),
            Dimension("reps", "integer", 1, 3),
        ]
    )


def write_run(
    path: Path,
    verdicts: dict[str, np.ndarray],
    *,
    n: int | None = None,
    seed: int = 1,
    counts: dict[str, np.ndarray] | None = None,
    model_bytes: int = 20_000,
    status: str = "complete",
    space: ParameterSpace | None = None,
    latency: dict[str, np.ndarray] | None = None,
    truth: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    recorded: dict[str, Any] | None = None,
) -> Path:
    """A run directory with given verdicts per model (parameters drawn from ``seed``).

    ``latency`` adds a ``latency_s`` column (seconds, NaN: none) for the models it names,
    with ``true_count`` and ``fn`` from ``truth`` (default: one high-five per case,
    counted); ``recorded`` the inference latency campaign.json records for them
    (``"latency"``).
    """
    space = space or small_space()
    n = n or len(next(iter(verdicts.values())))
    rng = np.random.default_rng(seed)
    params = space.from_unit(rng.random((n, space.d)))
    run = RunDir(path)
    run.write_campaign(
        {
            "schema_version": SCHEMA_VERSION,
            "name": path.name,
            "identity": {"seed": seed, "sampler": "random", "space": {}, "cases": n},
            "models": [
                {"id": m, "source": m, "sha256": f"{i:064d}", "bytes": model_bytes}
                | ({"latency": recorded[m]} if recorded and m in recorded else {})
                for i, m in enumerate(verdicts)
            ],
            "status": status,
        }
    )
    table = pa.Table.from_pandas(params, schema=space.to_arrow_schema(), preserve_index=False)
    table = table.add_column(0, "case_id", pa.array(np.arange(n), pa.int64()))
    for m, v in verdicts.items():
        pred = counts[m] if counts else np.ones(n, dtype=np.int64)
        t = table.append_column("verdict", pa.array(np.asarray(v, dtype=object), pa.string()))
        t = t.append_column("predicted_count", pa.array(pred, pa.int32()))
        if latency is not None and m in latency:
            t = t.append_column("latency_s", pa.array(latency[m], pa.float32()))
            true, fn = (truth or {}).get(m, (np.ones(n), np.zeros(n)))
            t = t.append_column("true_count", pa.array(true, pa.int16()))
            t = t.append_column("fn", pa.array(fn, pa.int16()))
        run.write_batch(0, {m: t}, None)
    return path


def gate_file(tmp_path: Path, text: str, name: str = "gate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def clean_run(tmp_path: Path) -> Path:
    """2,000 cases, two models, no failure and full agreement."""
    n = 2000
    v = np.full(n, "pass", dtype=object)
    return write_run(tmp_path / "clean", {"float": v, "int8": v.copy()})


@pytest.fixture
def bad_run(tmp_path: Path) -> Path:
    """2,000 cases; int8 fails 10% of them and disagrees with float there."""
    n = 2000
    rng = np.random.default_rng(5)
    v = np.full(n, "pass", dtype=object)
    bad = rng.random(n) < 0.1
    w = np.where(bad, "miss", "pass").astype(object)
    counts = {"float": np.ones(n, dtype=np.int64), "int8": np.where(bad, 0, 1)}
    return write_run(tmp_path / "bad", {"float": v, "int8": w}, counts=counts)


GOOD = """
[gate]
confidence = 0.95

[[criteria]]
kind = "cell_upper_bound"
p_max = 0.05
ways = [1]
min_cases = 30

[[criteria]]
kind = "coverage"
min = 0.9
ways = [2]

[[criteria]]
kind = "failure_rate"
p_max = 0.01

[[criteria]]
kind = "failure_rate"
name = "double counts"
p_max = 0.01
verdicts = ["double_count"]

[[criteria]]
kind = "agreement"
max = 0.01

[[criteria]]
kind = "model_bytes"
model = "int8"
max = 50000
"""


# -- gate files -----------------------------------------------------------------------
def test_gate_file_defaults_and_thresholds(tmp_path: Path) -> None:
    gate = load_gate(gate_file(tmp_path, GOOD))
    assert gate.confidence == 0.95
    assert [c.kind for c in gate.criteria] == [
        "cell_upper_bound",
        "coverage",
        "failure_rate",
        "failure_rate",
        "agreement",
        "model_bytes",
    ]
    cub = gate.criteria[0]
    assert cub.name == "cell_upper_bound" and cub.models is None
    assert cub.options == {"p_max": 0.05, "ways": [1], "min_cases": 30, "allow_untested": False}
    assert gate.criteria[4].options["models"] == ["float", "int8"]
    assert gate.criteria[5].models == ("int8",)
    assert gate.criteria[0].threshold() == "upper bound < 0.05 in every 1-way cell"
    assert set(KINDS) == {
        "cell_upper_bound",
        "coverage",
        "failure_rate",
        "agreement",
        "model_bytes",
        "latency",
        "detection_latency",
        "fits_target",
    }


def _one(body: str, head: str = "") -> str:
    return f"{head}\n[[criteria]]\n{body}\n"


BAD_GATES = [
    ("unknown-kind", _one('kind = "flakiness"\nmax = 1'), r"kind: 'flakiness' is not a criterion"),
    ("kind-list", _one('kind = ["failure_rate"]'), r"kind: \['failure_rate'\] is not a criterion"),
    ("kind-table", _one("kind = {a = 1}"), r"kind: \{'a': 1\} is not a criterion kind; use one"),
    ("no-kind", _one("p_max = 0.1"), r"criteria\[0\]\.kind: None"),
    (
        "unknown-key",
        _one('kind = "failure_rate"\np_max = 0.1\npmax = 0.2'),
        r"criteria\[0\] \(failure_rate\): unknown key 'pmax'; allowed: .*p_max",
    ),
    (
        "model-on-agreement",
        _one('kind = "agreement"\nmax = 0.1\nmodel = "float"'),
        r"unknown key 'model'",
    ),
    ("missing-threshold", _one('kind = "coverage"'), r"missing key 'min'"),
    (  # passed a run whose two models disagreed on every case
        "agreement-max-1",
        _one('kind = "agreement"\nmax = 1'),
        r"max: 1 must be a fraction of cases in \(0, 1\) \(an upper bound is never 0, and "
        r"every one is at most 1: a criterion no run fails\)",
    ),
    ("p_max-zero", _one('kind = "failure_rate"\np_max = 0'), r"p_max: 0 must be a failure rate"),
    ("p_max-above-1", _one('kind = "failure_rate"\np_max = 1.5'), r"p_max: 1\.5 must be"),
    ("p_max-bool", _one('kind = "failure_rate"\np_max = true'), r"p_max: True must be"),
    ("min-above-1", _one('kind = "coverage"\nmin = 1.2'), r"min: 1\.2 must be a fraction"),
    ("negative-bytes", _one('kind = "model_bytes"\nmax = -1'), r"max: -1 must be a whole number"),
    ("negative-ms", _one('kind = "latency"\nmax_ms = -2.0'), r"max_ms: -2\.0 must be a positive"),
    (
        "agreement-zero",
        _one('kind = "agreement"\nmax = 0'),
        r"max: 0 must be a fraction of cases in \(0, 1\) \(an upper bound is never 0, and ",
    ),
    (
        "agreement-above-1",
        _one('kind = "agreement"\nmax = 2'),
        r"max: 2 must be a fraction of cases",
    ),
    ("bad-ways", _one('kind = "coverage"\nmin = 0.5\nways = [0]'), r"ways: \[0\] must be a list"),
    (
        "bad-min-cases",
        _one('kind = "cell_upper_bound"\np_max = 0.1\nmin_cases = 0'),
        r"min_cases: 0 must be a whole number >= 1",
    ),
    (
        "bad-verdict",
        _one('kind = "failure_rate"\np_max = 0.1\nverdicts = ["pass"]'),
        r"verdicts: \['pass'\] must be a list of distinct failure verdicts",
    ),
    (
        "one-model-agreement",
        _one('kind = "agreement"\nmax = 0.1\nmodels = ["float"]'),
        r"models: \['float'\] must be two different model ids",
    ),
    (
        "confidence-1",
        _one('kind = "failure_rate"\np_max = 0.1', "[gate]\nconfidence = 1.0"),
        r"gate\.confidence: 1\.0 must be in \[0\.5, 1\)",
    ),
    (
        "confidence-0",
        _one('kind = "failure_rate"\np_max = 0.1', "[gate]\nconfidence = 0"),
        r"gate\.confidence: 0 must be",
    ),
    (
        "looks",
        _one('kind = "failure_rate"\np_max = 0.1', '[gate]\nlooks = "often"'),
        r"gate\.looks: 'often' must be 'fixed' \(default\) or 'anytime'",
    ),
    (
        "unknown-gate-key",
        _one('kind = "failure_rate"\np_max = 0.1', "[gate]\nconfdence = 0.9"),
        r"unknown key 'gate\.confdence'",
    ),
    ("unknown-top-key", "[gates]\nconfidence = 0.9\n", r"unknown key 'gates'"),
    ("no-criteria", "[gate]\nconfidence = 0.9\n", r"at least one \[\[criteria\]\]"),
    (
        "duplicate-unnamed",
        _one('kind = "failure_rate"\np_max = 0.1') + _one('kind = "failure_rate"\np_max = 0.2'),
        r"^criteria\[0\] and criteria\[1\] are both named 'failure_rate' \(a criterion "
        r"without a `name` is named after its kind\); give them distinct `name`s$",
    ),
    (
        "duplicate-name",
        _one('kind = "failure_rate"\np_max = 0.1\nname = "x"')
        + _one('kind = "failure_rate"\np_max = 0.2\nname = "x"'),
        r"^criteria\[1\]\.name: 'x' is used by criteria\[0\] too; give each criterion its "
        r"own name$",
    ),
    (
        "duplicate-name-of-a-kind",
        _one('kind = "failure_rate"\np_max = 0.1')
        + _one('kind = "failure_rate"\np_max = 0.2\nname = "failure_rate"'),
        r"^criteria\[1\]\.name: 'failure_rate' is used by criteria\[0\] too \(named after "
        r"its kind\); give each criterion its own name$",
    ),
    ("malformed-toml", "[[criteria]\nkind = ", r"gate\.toml: not valid TOML"),
    (  # junit.xml could not be parsed, and the terminal ran the escape sequence
        "name-control-characters",
        _one('kind = "failure_rate"\np_max = 0.1\nname = "a\\u0001b\\u001b[31m"'),
        r"^criteria\[0\] \(failure_rate\)\.name: 'a\\x01b\\x1b\[31m' must not hold control "
        r"characters or others a terminal does not print \(they would reach junit\.xml and "
        r"the terminal\)$",
    ),
    (  # not a control character, yet a terminal breaks the line there
        "name-line-separator",
        _one('kind = "failure_rate"\np_max = 0.1\nname = "two\\u2028lines"'),
        r"\.name: 'two\\u2028lines' must not hold control characters",
    ),
    (
        "name-line-break",
        _one('kind = "failure_rate"\np_max = 0.1\nname = "two\\nlines"'),
        r"\.name: 'two\\nlines' must not hold control characters",
    ),
    (
        "missing-bins-file",
        _one('kind = "failure_rate"\np_max = 0.1', '[gate]\nbins = "nope.toml"'),
        r"gate\.bins: file .*nope\.toml' does not exist",
    ),
]


@pytest.mark.parametrize(
    ("text", "match"), [b[1:] for b in BAD_GATES], ids=[b[0] for b in BAD_GATES]
)
def test_bad_gate_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_gate(gate_file(tmp_path, text))


def test_missing_gate_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gate file '.*absent\.toml' does not exist"):
        load_gate(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("text", "match"), [b[1:] for b in BAD_GATES], ids=[b[0] for b in BAD_GATES]
)
def test_bad_gate_files_through_the_cli_write_nothing(
    tmp_path: Path,
    clean_run: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    match: str,
) -> None:
    refused_by_the_cli(clean_run, gate_file(tmp_path, text), capsys)


def refused_by_the_cli(run: Path, gate: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """``highfive gate`` exits 2 with one ``error:`` line and writes nothing; the line."""
    before = sorted(p.name for p in run.iterdir())
    code = main(["gate", str(run), "--gate", str(gate)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert sorted(p.name for p in run.iterdir()) == before
    return err


# -- evaluation -----------------------------------------------------------------------
def test_passing_gate_writes_gate_json_and_junit(
    tmp_path: Path, clean_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["gate", str(clean_run), "--gate", str(gate_file(tmp_path, GOOD))])
    out = capsys.readouterr().out
    assert code == 0
    assert "verdict: PASS" in out and "FAIL" not in out
    doc = json.loads((clean_run / "gate.json").read_text())
    assert set(doc) == GATE_KEYS and doc["verdict"] == "pass"
    assert doc["confidence"] == 0.95 and doc["gate_file"].endswith("gate.toml")
    # Criteria without a model run once per model; agreement and a named model once.
    assert len(doc["criteria"]) == 2 + 2 + 2 + 2 + 1 + 1
    for c in doc["criteria"]:
        assert set(c) == CRITERION_KEYS and c["passed"] is True
        assert all(isinstance(c[k], str) for k in ("name", "kind", "threshold", "value", "detail"))
    assert doc["criteria"][-2]["model"] == "float vs int8"
    suite = ET.parse(clean_run / "junit.xml").getroot()
    assert suite.tag == "testsuite" and suite.get("name") == "highfive gate"
    assert suite.get("tests") == "10" and suite.get("failures") == "0"
    assert suite.get("errors") == "0" and suite.get("skipped") == "0"
    cases = suite.findall("testcase")
    assert len(cases) == 10 and not suite.findall(".//failure")
    assert cases[0].get("classname") == "highfive.gate.cell_upper_bound"
    assert cases[0].get("name") == "cell_upper_bound [float]"
    assert not list(clean_run.glob(".*.tmp"))


def test_failing_gate_marks_the_failed_criteria(
    tmp_path: Path, bad_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["gate", str(bad_run), "--gate", str(gate_file(tmp_path, GOOD))])
    out = capsys.readouterr().out
    assert code == 1
    assert "verdict: FAIL" in out
    doc = json.loads((bad_run / "gate.json").read_text())
    assert doc["verdict"] == "fail"
    failed = {(c["name"], c["model"]) for c in doc["criteria"] if not c["passed"]}
    assert failed == {
        ("cell_upper_bound", "int8"),
        ("failure_rate", "int8"),
        ("agreement", "float vs int8"),
    }
    suite = ET.parse(bad_run / "junit.xml").getroot()
    assert suite.get("tests") == "10" and suite.get("failures") == "3"
    failures = {
        (tc.get("classname"), tc.get("name")): tc.find("failure")
        for tc in suite.findall("testcase")
        if tc.find("failure") is not None
    }
    assert set(failures) == {
        ("highfive.gate.cell_upper_bound", "cell_upper_bound [int8]"),
        ("highfive.gate.failure_rate", "failure_rate [int8]"),
        ("highfive.gate.agreement", "agreement [float vs int8]"),
    }
    fr = failures["highfive.gate.failure_rate", "failure_rate [int8]"]
    assert fr is not None and "need upper bound < 0.01" in fr.get("message", "")
    assert fr.text and "in 2,000 cases" in fr.text
    for line in out.splitlines()[1:-3]:
        assert line.lstrip().startswith(("PASS", "FAIL"))


def test_failure_rate_value_is_the_clopper_pearson_bound(bad_run: Path, tmp_path: Path) -> None:
    gate = load_gate(gate_file(tmp_path, '[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n'))
    result = evaluate_gate(bad_run, gate)
    frame = RunDir(bad_run).results()
    k = int((frame[frame["model"] == "int8"]["verdict"] != "pass").sum())
    expected = float(cp_upper(k, 2000, 0.95))
    by_model = {c.model: c for c in result.criteria}
    assert by_model["int8"].value == f"upper bound {expected:.4g}"
    assert by_model["int8"].passed and by_model["float"].passed


def test_agreement_is_judged_by_its_upper_bound(tmp_path: Path) -> None:
    # 2 disagreements in 500 cases: the observed 0.004 is below 0.005, but the
    # one-sided 95 % upper bound, 0.0125, is not; a gate must not pass on the estimate.
    n = 500
    v = np.full(n, "pass", dtype=object)
    counts = {"float": np.ones(n, dtype=np.int64), "int8": np.ones(n, dtype=np.int64)}
    counts["int8"][[7, 300]] = 2
    run = write_run(tmp_path / "r", {"float": v, "int8": v.copy()}, counts=counts)
    body = '[[criteria]]\nkind = "agreement"\nmax = {}\n'
    strict = evaluate_gate(run, load_gate(gate_file(tmp_path, body.format(0.005)))).criteria[0]
    upper = float(cp_upper(2, n, 0.95))
    assert upper == pytest.approx(0.0125, abs=5e-4)
    assert not strict.passed and strict.value == f"disagreement upper bound {upper:.4g}"
    assert evaluate_gate(run, load_gate(gate_file(tmp_path, body.format(0.013)))).passed


def test_a_twin_that_gives_no_count_never_agrees(tmp_path: Path) -> None:
    # A counter that raised or timed out is recorded with a predicted count of 0; the
    # other model counting 0 on those cases is no agreement. Before, a twin that
    # crashed on every case of a run of no high-fives "agreed" on all of them.
    n = 400
    counts = {"float": np.zeros(n, dtype=np.int64), "broken": np.zeros(n, dtype=np.int64)}
    verdicts = {
        "float": np.full(n, "pass", dtype=object),
        "broken": np.full(n, "error", dtype=object),
    }
    verdicts["broken"][::2] = "timeout"
    run = write_run(tmp_path / "r", verdicts, counts=counts)
    body = '[[criteria]]\nkind = "agreement"\nmax = 0.05\nmodels = ["float", "broken"]\n'
    result = evaluate_gate(run, load_gate(gate_file(tmp_path, body)))
    assert not result.passed
    assert "in 400 of 400 cases" in result.criteria[0].detail


def test_anytime_gate_uses_bounds_valid_at_every_look(clean_run: Path, tmp_path: Path) -> None:
    # 2,000 clean cases show a failure rate below 0.002 for one look (upper bound
    # 0.0015), not with bounds valid however often the campaign looked (0.0023).
    body = '[[criteria]]\nkind = "failure_rate"\np_max = 0.002\n'
    fixed = evaluate_gate(clean_run, load_gate(gate_file(tmp_path, body)))
    gate = load_gate(gate_file(tmp_path, '[gate]\nlooks = "anytime"\n' + body))
    assert gate.looks == "anytime" and fixed.looks == "fixed"
    anytime = evaluate_gate(clean_run, gate)
    assert fixed.passed and not anytime.passed and anytime.looks == "anytime"
    expected = float(cs_upper(0, 2000, 0.95, 0.002))
    assert anytime.criteria[0].value == f"upper bound {expected:.4g}"
    assert anytime.to_dict()["looks"] == "anytime"
    assert "anytime-valid" in anytime.lines()[0]


def test_merged_coverage_counts_each_run_as_a_look(clean_run: Path, tmp_path: Path) -> None:
    # A run and its follow-up: the follow-up was planned from the first run's
    # statistics, so the merged cells are looked at a second time.
    n = 2000
    v = np.full(n, "pass", dtype=object)
    other = write_run(tmp_path / "again", {"float": v, "int8": v.copy()}, seed=2)
    one = analyse_run(clean_run, regions=False)
    both = analyse_run([clean_run, other], regions=False)
    assert one.summary["looks"] == "fixed" and both.summary["looks"] == "anytime"
    assert both.stats.looks == "anytime" and both.cells.attrs["looks"] == "anytime"
    assert "2 runs merged, each one look" in both.lines()[1]
    k, n_ = both.stats.k, both.stats.n
    assert np.array_equal(both.stats.upper, cs_upper(k, n_, 0.95, 0.01))


def test_cell_upper_bound_min_cases_and_allow_untested(tmp_path: Path) -> None:
    n = 120  # 1-way cells (3 motions, 4 peak bins, 3 reps) hold about 30-40 cases each
    run = write_run(tmp_path / "r", {"float": np.full(n, "pass", dtype=object)})
    counts = CoverageCounts.from_run(
        run, crosses=make_crosses(Binning.from_space(small_space()), [1])
    )
    low, high = int(counts.n.min()), int(counts.n.max())
    assert low < high

    def check(extra: str) -> tuple[bool, str]:
        text = f'[[criteria]]\nkind = "cell_upper_bound"\np_max = 0.2\n{extra}\n'
        (c,) = evaluate_gate(run, load_gate(gate_file(tmp_path, text))).criteria
        return c.passed, c.detail

    # With no failure, the bound is 1 - 0.05^(1/n) <= 0.2 once n >= 14.
    assert check(f"min_cases = {low}")[0]
    passed, detail = check(f"min_cases = {high}")
    assert not passed and f"cells with < {high} cases not shown" in detail
    passed, detail = check(f"min_cases = {high}\nallow_untested = true")
    assert passed and "skipped (allow_untested)" in detail
    passed, detail = check(f"min_cases = {high + 1}\nallow_untested = true")
    assert not passed and "none of 10 cells" in detail  # nothing tested is no pass


def test_a_cell_criterion_failed_by_too_few_cases_says_so_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The printed line of a cell criterion that fails because cells have fewer than
    min_cases cases gives that reason (it was only in gate.json's detail)."""
    n = 12  # 10 1-way cells (3 motions, 4 peak bins, 3 reps) of 3 or 4 cases: a few reach 5
    run = write_run(tmp_path / "r", {"float": np.full(n, "pass", dtype=object)})
    counts = CoverageCounts.from_run(
        run, crosses=make_crosses(Binning.from_space(small_space()), [1])
    )
    few = int(np.count_nonzero(counts.n[:, 0] < 5))
    assert 0 < few < counts.n.shape[0]
    head = '[gate]\nconfidence = 0.95\n[[criteria]]\nkind = "cell_upper_bound"\nname = "cells"\n'
    gate = gate_file(tmp_path, head + "p_max = 0.5\nways = [1]\nmin_cases = 5\n")
    assert main(["gate", str(run), "--gate", str(gate)]) == 1
    (line,) = [x for x in capsys.readouterr().out.splitlines() if "cells [float]" in x]
    assert re.fullmatch(
        rf"  FAIL  cells \[float\]  worst upper bound 0\.\d+; {few} cells have fewer than "
        r"min_cases = 5 cases  \(need upper bound < 0\.5 in every 1-way cell\)",
        line,
    ), line
    # No cell with 5 cases: the line says so too.
    gate.write_text(head + "p_max = 0.5\nways = [1]\nmin_cases = 500\n")
    assert main(["gate", str(run), "--gate", str(gate)]) == 1
    out = capsys.readouterr().out
    assert (
        "FAIL  cells [float]  no cell tested: 10 cells have fewer than min_cases = 500 cases" in out
    )


def test_coverage_criterion_counts_cells(tmp_path: Path) -> None:
    n = 24  # too few for every 2-way cell
    run = write_run(tmp_path / "r", {"float": np.full(n, "pass", dtype=object)})
    text = '[[criteria]]\nkind = "coverage"\nmin = 0.99\nways = [1, 2]\n'
    (c,) = evaluate_gate(run, load_gate(gate_file(tmp_path, text))).criteria
    assert not c.passed and c.value.startswith("lowest ")
    assert "1-way" in c.detail and "2-way" in c.detail


def test_gate_bins_file_sets_the_cells(tmp_path: Path, clean_run: Path) -> None:
    (tmp_path / "bins.toml").write_text("[bins.peak]\nedges = [4.0, 10.0, 40.0]\n")
    text = '[gate]\nbins = "bins.toml"\n[[criteria]]\nkind = "coverage"\nmin = 1.0\nways = [1]\n'
    (c, _) = evaluate_gate(clean_run, load_gate(gate_file(tmp_path, text))).criteria
    assert "(8/8 cells)" in c.detail  # 3 motions + 2 peak bins + 3 reps
    bad = gate_file(tmp_path, text.replace("bins.toml", "bad.toml"), "g2.toml")
    (tmp_path / "bad.toml").write_text("[bins.speed]\ncount = 3\n")
    with pytest.raises(ConfigError, match=r"bins\.speed: unknown dimension"):
        evaluate_gate(clean_run, load_gate(bad))


def test_cases_in_an_illegal_bin_fail_coverage_and_are_reported(
    tmp_path: Path, clean_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As in hardware functional coverage, a hit of an illegal bin is an error: the
    # coverage criterion fails on it; every cell criterion reports it.
    (tmp_path / "ill.toml").write_text('[bins.motion]\nillegal = ["high_five"]\n')
    text = (
        '[gate]\nbins = "ill.toml"\n[[criteria]]\nkind = "coverage"\nmin = 0.5\nways = [1]\n'
        '[[criteria]]\nkind = "cell_upper_bound"\np_max = 0.5\n'
    )
    rows = RunDir(clean_run).results(columns=["model", "motion"])
    hits = int((rows.loc[rows["model"] == "float", "motion"] == "high_five").sum())
    assert hits > 0
    assert main(["gate", str(clean_run), "--gate", str(gate_file(tmp_path, text))]) == 1
    out = capsys.readouterr().out
    said = f"cases in illegal bins: motion {hits:,}"
    assert re.search(rf"FAIL  coverage \[float\] +100\.00%; {re.escape(said)}", out), out
    assert re.search(rf"PASS  cell_upper_bound \[float\] .*; {re.escape(said)}", out), out
    doc = json.loads((clean_run / "gate.json").read_text())
    for c in doc["criteria"]:
        assert said in c["value"] and "illegal bins" in c["detail"]
    # Without illegal bins nothing is said.
    plain = gate_file(tmp_path, text.replace('bins = "ill.toml"', ""), "plain.toml")
    assert main(["gate", str(clean_run), "--gate", str(plain)]) == 0
    assert "illegal bins" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("bins", "match"),
    [
        ("ways = [0]", r"gate\.bins: b\.toml: ways: 0 must be a whole number from 1 to 3"),
        ("[statistics]\np_target = 5", r"gate\.bins: b\.toml: statistics\.p_target: 5 must be"),
        ("[statistics]\np_targt = 0.1", r"gate\.bins: b\.toml: unknown key 'statistics\.p_targt'"),
        ("[[crosses]]\ndims = ['bogus']", r"gate\.bins: b\.toml: .*'bogus'"),
        ("[[crosses]]\ndims = 'motion'", r"gate\.bins: b\.toml: crosses\[0\]\.dims: 'motion' must"),
        # its edges did not name the file
        ("[bins.reps]\nedges = [1, 1.2, 1.8, 5]", r"^gate\.bins: b\.toml: bins\.reps\.edges"),
    ],
    ids=[
        "ways-0",
        "p_target-5",
        "statistics-typo",
        "cross-unknown-dim",
        "cross-dims-string",
        "edges-of-no-whole-number",
    ],
)
def test_a_gate_bins_file_is_checked_as_coverage_checks_it(
    tmp_path: Path, clean_run: Path, bins: str, match: str
) -> None:
    # Only its [bins.*] tables were checked: these passed the gate, while
    # 'highfive coverage --bins' refused the same file.
    (tmp_path / "b.toml").write_text(bins + "\n")
    text = '[gate]\nbins = "b.toml"\n[[criteria]]\nkind = "coverage"\nmin = 0.5\nways = [1]\n'
    with pytest.raises(ConfigError, match=match) as err:
        evaluate_gate(clean_run, load_gate(gate_file(tmp_path, text)))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        (
            '[[criteria]]\nkind = "model_bytes"\nmodel = "int4"\nmax = 1',
            ConfigError,
            r"model 'int4' is not a model of run .*; its models: float, int8",
        ),
        (
            '[[criteria]]\nkind = "agreement"\nmax = 0.1\nmodels = ["float", "fp16"]',
            ConfigError,
            r"models 'fp16' is not a model of run",
        ),
        (
            '[[criteria]]\nkind = "coverage"\nmin = 0.5\nways = [4]',
            ConfigError,
            r"ways \[4\] - this space has only 3 binned dimensions",
        ),
    ],
    ids=["unknown-model", "unknown-agreement-model", "ways-too-high"],
)
def test_gate_that_does_not_fit_the_run(
    tmp_path: Path, clean_run: Path, text: str, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        evaluate_gate(clean_run, load_gate(gate_file(tmp_path, text)))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[[criteria]]\nkind = "failure_rate"\np_max = 0.1\nmodel = "nope"\n', "'nope' is not"),
    ],
    ids=["gate-does-not-fit-the-run"],
)
def test_a_gate_that_cannot_be_evaluated_leaves_no_earlier_verdict_behind(
    tmp_path: Path, clean_run: Path, capsys: pytest.CaptureFixture[str], text: str, match: str
) -> None:
    # CI publishes RUN/junit.xml whatever the exit status: an earlier, passing report
    # left in place would show green for a gate that was never evaluated.
    ok = gate_file(tmp_path, '[[criteria]]\nkind = "coverage"\nmin = 0.5\n', "ok.toml")
    assert main(["gate", str(clean_run), "--gate", str(ok)]) == 0
    assert (clean_run / "gate.json").exists() and (clean_run / "junit.xml").exists()
    capsys.readouterr()
    assert main(["gate", str(clean_run), "--gate", str(gate_file(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and re.search(match, err)
    assert err.endswith(
        f"; removed {clean_run / 'gate.json'} and {clean_run / 'junit.xml'} of an earlier gate "
        "(they are not this gate's verdict)\n"
    ), err
    assert not (clean_run / "gate.json").exists() and not (clean_run / "junit.xml").exists()


def test_a_junit_xml_that_cannot_be_written_is_refused_before_any_verdict(
    tmp_path: Path, clean_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """junit.xml a folder: the gate printed PASS, then 'error: Is a directory' (exit 2),
    and an earlier gate's gate.json was left as the verdict."""
    (clean_run / "junit.xml").mkdir()
    ok = gate_file(tmp_path, '[[criteria]]\nkind = "coverage"\nmin = 0.5\n', "ok.toml")
    assert main(["gate", str(clean_run), "--gate", str(ok)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (
        f"error: RUN: {str(clean_run / 'junit.xml')!r} is a folder; give a file name\n"
    )


def test_a_verdict_that_cannot_be_written_is_not_printed_and_removes_the_earlier_one(
    tmp_path: Path, clean_run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    import highfive.reports._junit as junit

    ok = gate_file(tmp_path, '[[criteria]]\nkind = "coverage"\nmin = 0.5\n', "ok.toml")
    assert main(["gate", str(clean_run), "--gate", str(ok)]) == 0
    capsys.readouterr()

    def full(run: Any, result: Any) -> list[Path]:
        raise OSError(28, "No space left on device", str(Path(run) / "junit.xml"))

    monkeypatch.setattr(junit, "write_gate", full)
    assert main(["gate", str(clean_run), "--gate", str(ok)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, (out, err)
    assert not (clean_run / "gate.json").exists() and not (clean_run / "junit.xml").exists()


@pytest.mark.parametrize(
    "text",
    [
        '[[criteria]]\nkind = "failure_rate"\np_max = 5\n',
        "[[criteria]\n",
        None,
        # A target that is no profile was found only when the gate was evaluated, and
        # the run's earlier verdict removed as for a gate that does not fit the run.
        '[[criteria]]\nkind = "fits_target"\ntarget = "../../etc/passwd"\nmodel = "toy"\n',
        '[[criteria]]\nkind = "fits_target"\ntarget = "m4"\nmodel = "toy"\n',
        '[[criteria]]\nkind = "fits_target"\ntarget = "missing.toml"\nmodel = "toy"\n',
    ],
    ids=["bad-value", "not-toml", "missing", "target-path", "target-name", "target-file"],
)
def test_a_bad_gate_file_changes_nothing(
    tmp_path: Path, clean_run: Path, capsys: pytest.CaptureFixture[str], text: str | None
) -> None:
    # A typo in the gate file says nothing of the run: its earlier verdict stays.
    ok = gate_file(tmp_path, '[[criteria]]\nkind = "coverage"\nmin = 0.5\n', "ok.toml")
    assert main(["gate", str(clean_run), "--gate", str(ok)]) == 0
    before = {n: (clean_run / n).read_bytes() for n in ("gate.json", "junit.xml")}
    capsys.readouterr()
    bad = tmp_path / "missing.toml" if text is None else gate_file(tmp_path, text, "bad.toml")
    assert main(["gate", str(clean_run), "--gate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "removed" not in err, err
    assert {n: (clean_run / n).read_bytes() for n in before} == before


def test_incomplete_or_missing_runs_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = np.full(50, "pass", dtype=object)
    run = write_run(tmp_path / "r", {"float": v}, status="running")
    path = gate_file(tmp_path, GOOD)
    with pytest.raises(RunDirError, match=r"is incomplete \(status 'running'\)"):
        evaluate_gate(run, load_gate(path))
    assert main(["gate", str(tmp_path / "nowhere"), "--gate", str(path)]) == 2
    assert "nowhere' does not exist; give a folder made by" in capsys.readouterr().err
    assert not (run / "gate.json").exists() and not (run / "junit.xml").exists()


def _with_sampler(run: Path, sampler: str) -> Path:
    record = json.loads((run / "campaign.json").read_text())
    record["config"] = {"sampler": sampler}
    record["identity"]["sampler"] = sampler
    (run / "campaign.json").write_text(json.dumps(record))
    return run


@pytest.mark.parametrize(
    ("sampler", "match"),
    [
        # A sampler from another highfive: its density may not be the base distribution's.
        ("stratified_v2", r"sampler 'stratified_v2' is not one this highfive knows \(random, "),
        ("focus", r"drew its cases from target boxes \(sampler 'focus'\)"),
        ("importance", r"drew its cases from a learnt proposal \(sampler 'importance'\)"),
    ],
)
def test_a_run_of_cases_not_drawn_from_the_base_distribution_is_refused(
    tmp_path: Path,
    clean_run: Path,
    capsys: pytest.CaptureFixture[str],
    sampler: str,
    match: str,
) -> None:
    run = _with_sampler(clean_run, sampler)
    gate = gate_file(tmp_path, '[[criteria]]\nkind = "failure_rate"\np_max = 0.1\n')
    with pytest.raises(RunDirError, match=match):
        evaluate_gate(run, load_gate(gate))
    assert re.search(match, refused_by_the_cli(run, gate, capsys))
    # Coverage counts cases wherever they were drawn: a gate of coverage alone is judged.
    only = gate_file(tmp_path, '[[criteria]]\nkind = "coverage"\nmin = 0.5\n', "c.toml")
    assert evaluate_gate(run, load_gate(only)).passed


@pytest.mark.parametrize("sampler", ["random", "sobol", "halton", "lhs"])
def test_runs_of_the_base_samplers_are_gated(clean_run: Path, tmp_path: Path, sampler: str) -> None:
    gate = gate_file(tmp_path, '[[criteria]]\nkind = "failure_rate"\np_max = 0.1\n')
    assert evaluate_gate(_with_sampler(clean_run, sampler), load_gate(gate)).passed


def test_every_sampler_is_base_or_weighted() -> None:
    # One classification serves the gate, coverage and sequential campaigns: a sampler
    # added without one would start sequential campaigns the gate then refuses.
    from highfive.coverage._gaterun import BASE_SAMPLERS, WEIGHTED_SAMPLERS
    from highfive.generators import SAMPLERS

    assert sorted([*BASE_SAMPLERS, *WEIGHTED_SAMPLERS]) == sorted(SAMPLERS)


def test_junit_xml_escapes_and_counts() -> None:
    doc = {
        "verdict": "fail",
        "run": "runs/a&b",
        "gate_file": "g.toml",
        "confidence": 0.95,
        "evaluated": "2026-01-01T00:00:00+00:00",
        "criteria": [
            {
                "name": 'odd <"name">',
                "kind": "coverage",
                "model": None,
                "threshold": ">= 95%",
                "value": "90%",
                "passed": False,
                "detail": "a < b & c",
            }
        ],
    }
    root = ET.fromstring(junit_xml(doc, times=[0.5]))
    (case,) = root.findall("testcase")
    assert case.get("name") == 'odd <"name">' and case.get("time") == "0.500"
    fail = case.find("failure")
    assert fail is not None and fail.text == "a < b & c"
    with pytest.raises(ValueError, match="times"):
        junit_xml(doc, times=[])


def test_junit_xml_holds_no_character_xml_forbids() -> None:
    # Cell labels come from recordings' metadata and model ids from campaign.json: any
    # character may reach a report. XML 1.0 forbids most control characters, so they
    # are written as their escapes; tabs and line breaks stay.
    odd = "a\x01b\x1b[31m\ufffe\ud800 c\td\ne"
    doc = {
        "verdict": "fail",
        "run": f"runs/{odd}",
        "gate_file": "g.toml",
        "confidence": 0.95,
        "evaluated": "2026-01-01T00:00:00+00:00",
        "criteria": [
            {
                "name": "cells",
                "kind": "cell_upper_bound",
                "model": odd,
                "threshold": "upper bound < 0.1",
                "value": odd,
                "passed": passed,
                "detail": f"worst: motion={odd}",
            }
            for passed in (False, True)
        ],
    }
    root = ET.fromstring(junit_xml(doc).encode("utf-8"))
    shown = "a\\x01b\\x1b[31m\\ufffe\\ud800 c\td\ne"
    fail = root.find("testcase/failure")
    out = root.find("testcase/system-out")
    assert fail is not None and out is not None
    assert fail.text == f"worst: motion={shown}"
    assert fail.get("message", "").startswith(shown)
    assert (out.text or "").startswith(shown)
    assert root.findall("testcase")[0].get("name") == f"cells [{shown}]"
    assert root.find("properties/property[@name='run']").get("value") == f"runs/{shown}"  # type: ignore[union-attr]


def test_the_gate_prints_control_characters_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = np.full(100, "pass", dtype=object)
    run = write_run(tmp_path / "r", {"fl\x1b[31mat": v})
    gate = gate_file(tmp_path, '[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n')
    assert main(["gate", str(run), "--gate", str(gate)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "failure_rate [fl\\x1b[31mat]" in out
    ET.parse(run / "junit.xml")


def test_coverage_and_diff_print_control_characters_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = np.full(100, "pass", dtype=object)
    v[:7] = "miss"
    run = write_run(tmp_path / "r", {"fl\x1b[31mat": v, "base": np.roll(v, 50)})
    capsys.readouterr()
    for argv in (["coverage", str(run)], ["diff", str(run)]):
        assert main(argv) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "fl\\x1b[31mat" in out and "\x1b" not in out, argv


# -- a real campaign ------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory, make_toy_model: Callable[..., bytes]) -> Path:
    """A real 64-case campaign of two toy models (in this process, no dask)."""
    from highfive.harness import CampaignConfig, ExecutionConfig, run_campaign

    root = tmp_path_factory.mktemp("campaign")
    models = []
    for name, w in (("toy", 4.0), ("toy_b", 4.0)):
        path = root / f"{name}.onnx"
        path.write_bytes(make_toy_model(weight=w))
        models.append(str(path))
    cfg = CampaignConfig(
        name="toy",
        seed=3,
        cases=64,
        models=tuple(models),
        out=str(root / "runs"),
        batch_size=32,
        execution=ExecutionConfig(workers=0),
    )
    summary = run_campaign(cfg, stream=None)
    assert summary.complete
    return summary.run_dir


def test_gate_on_a_real_campaign(
    tmp_path: Path, toy_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = """
[[criteria]]
kind = "model_bytes"
max = 100000
[[criteria]]
kind = "agreement"
models = ["toy", "toy_b"]
max = 0.05
[[criteria]]
kind = "coverage"
min = 1.0
ways = [1]
[[criteria]]
kind = "latency"
model = "toy"
max_ms = 1000.0
batch = 256
[[criteria]]
kind = "latency"
name = "latency of one window"
model = "toy"
max_ms = 1000.0
batch = 1
"""
    assert main(["gate", str(toy_run), "--gate", str(gate_file(tmp_path, text))]) == 0
    out = capsys.readouterr().out
    assert "latency [toy]" in out and "ms/window" in out
    # The campaign measured the model when it ran; the gate shows that figure.
    record = json.loads((toy_run / "campaign.json").read_text())
    (toy,) = (m for m in record["models"] if m["id"] == "toy")
    per_window = toy["latency"]["batches"]["256"]["per_window_ms"]
    doc = json.loads((toy_run / "gate.json").read_text())
    (lat,) = (c for c in doc["criteria"] if c["name"] == "latency")
    assert lat["value"] == f"{per_window:.4g} ms/window"
    assert "recorded when the campaign ran" in lat["detail"]
    # The toy model fails almost every case: a failure-rate gate fails.
    strict = gate_file(tmp_path, '[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n', "s.toml")
    assert main(["gate", str(toy_run), "--gate", str(strict)]) == 1
    doc = json.loads((toy_run / "gate.json").read_text())
    assert doc["verdict"] == "fail" and len(doc["criteria"]) == 2
    ET.parse(toy_run / "junit.xml")


def test_write_gate_returns_both_paths(tmp_path: Path, clean_run: Path) -> None:
    result = evaluate_gate(clean_run, load_gate(gate_file(tmp_path, GOOD)))
    paths = write_gate(clean_run, result)
    assert [p.name for p in paths] == ["gate.json", "junit.xml"]
    assert result.to_dict()["verdict"] == json.loads(paths[0].read_text())["verdict"]


def _as_python_counter(run: Path, model: str) -> None:
    """Edit campaign.json as a run of a Python counter would have written it."""
    record = json.loads((run / "campaign.json").read_text())
    for m in record["models"]:
        if m["id"] == model:
            m.update(kind="python", source="mypkg.counters:baseline", identity={"version": "1"})
            del m["bytes"]
    (run / "campaign.json").write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            'kind = "model_bytes"\nname = "int8 size"\nmodel = "int8"\nmax = 50000',
            r"^criterion 'int8 size': model_bytes applies to ONNX counters; 'int8' is a python "
            r"counter$",
        ),
        (
            'kind = "model_bytes"\nmax = 50000',
            r"^criterion 'model_bytes': model_bytes applies to ONNX counters; 'int8' is a "
            r"python counter; name the ONNX ones with model = \['float'\]$",
        ),
        (
            'kind = "latency"\nname = "speed"\nmodel = "int8"\nmax_ms = 1.0',
            r"^criterion 'speed': latency applies to ONNX counters; 'int8' is a python counter$",
        ),
    ],
    ids=["named", "every-model", "latency"],
)
def test_onnx_criteria_refuse_other_counters(
    tmp_path: Path,
    clean_run: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    match: str,
) -> None:
    _as_python_counter(clean_run, "int8")
    path = gate_file(tmp_path, f"[[criteria]]\n{text}\n")
    with pytest.raises(ConfigError, match=match):
        evaluate_gate(clean_run, load_gate(path))
    assert refused_by_the_cli(clean_run, path, capsys).startswith("error: criterion ")


def test_other_counters_pass_the_criteria_that_apply_to_them(
    tmp_path: Path, clean_run: Path
) -> None:
    _as_python_counter(clean_run, "int8")
    text = GOOD.replace('model = "int8"', 'model = "float"')
    result = evaluate_gate(clean_run, load_gate(gate_file(tmp_path, text)))
    assert result.passed and len(result.criteria) == 10


# -- inference latency, as the campaign recorded it ------------------------------------
def recorded_latency(per_window_256: float, per_window_1: float) -> dict[str, Any]:
    """A ``latency`` entry of campaign.json as a campaign writes it."""
    return {
        "batches": {
            "256": {
                "per_call_ms": 256 * per_window_256,
                "per_window_ms": per_window_256,
                "calls": 20,
            },
            "1": {"per_call_ms": per_window_1, "per_window_ms": per_window_1, "calls": 100},
        },
        "threads": 1,
        "machine": {
            "cpu": "Example CPU 9000",
            "cores": 2,
            "python": "3.11.7",
            "onnxruntime": "1.20.1",
        },
    }


def _latency_run(tmp_path: Path, recorded: dict[str, Any] | None = None) -> Path:
    v = np.full(100, "pass", dtype=object)
    if recorded is None:
        recorded = {"float": recorded_latency(0.018, 0.06), "int8": recorded_latency(0.084, 0.03)}
    return write_run(tmp_path / "lat", {"float": v, "int8": v.copy()}, recorded=recorded)


def test_latency_is_the_figure_the_campaign_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import highfive.models

    def no_measuring(*_: Any, **__: Any) -> None:
        raise AssertionError("a gate must not measure a model: it reads campaign.json")

    monkeypatch.setattr(highfive.models, "profile", no_measuring)
    run = _latency_run(tmp_path)
    text = '[[criteria]]\nkind = "latency"\nmax_ms = 0.05\n'
    gate = load_gate(gate_file(tmp_path, text))
    first = evaluate_gate(run, gate)
    by_model = {c.model: c for c in first.criteria}
    assert by_model["float"].passed and not by_model["int8"].passed
    assert by_model["float"].value == "0.018 ms/window"
    assert by_model["int8"].value == "0.084 ms/window"
    assert by_model["float"].threshold == "<= 0.05 ms/window at batch 256"
    detail = by_model["float"].detail
    assert detail.startswith("recorded when the campaign ran: 0.018 ms/window at batch 256")
    assert "over 20 calls, 1 intra-op thread" in detail and "0.06 ms/window at batch 1" in detail
    assert detail.endswith(
        "measured on Example CPU 9000 (2 cores), python 3.11.7, onnxruntime 1.20.1"
    )
    # Nothing is measured now, so the verdict never depends on the machine's load.
    again = evaluate_gate(run, gate)
    assert [(c.value, c.passed, c.detail) for c in again.criteria] == [
        (c.value, c.passed, c.detail) for c in first.criteria
    ]
    assert main(["gate", str(run), "--gate", str(gate_file(tmp_path, text))]) == 1
    assert re.search(r"FAIL  latency \[int8\] +0\.084 ms/window", capsys.readouterr().out)
    one = gate_file(tmp_path, text + "batch = 1\n", "one.toml")
    by_model = {c.model: c for c in evaluate_gate(run, load_gate(one)).criteria}
    assert not by_model["float"].passed and by_model["int8"].passed
    assert by_model["int8"].value == "0.03 ms/window"


def test_latency_batch_must_be_one_the_campaign_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _latency_run(tmp_path)
    path = gate_file(tmp_path, '[[criteria]]\nkind = "latency"\nmax_ms = 0.1\nbatch = 16\n')
    with pytest.raises(
        ConfigError,
        match=r"^criterion 'latency': batch 16 was not measured; the campaign recorded the "
        r"latency of 'float' at batch \[256, 1\], so use batch = 256 or 1$",
    ):
        evaluate_gate(run, load_gate(path))
    refused_by_the_cli(run, path, capsys)


def test_latency_of_a_run_that_recorded_none_fails_and_says_to_rerun(tmp_path: Path) -> None:
    run = _latency_run(tmp_path, recorded={"int8": recorded_latency(0.01, 0.02)})
    text = '[[criteria]]\nkind = "latency"\nmax_ms = 1.0\n'
    result = evaluate_gate(run, load_gate(gate_file(tmp_path, text)))
    by_model = {c.model: c for c in result.criteria}
    assert by_model["int8"].passed
    assert not by_model["float"].passed and by_model["float"].value == "no latency recorded"
    assert "older highfive" in by_model["float"].detail
    assert by_model["float"].detail.endswith("re-run the campaign to record it")
    # Without a record there is no batch to check; with one, the batch must be in it.
    only_float = gate_file(tmp_path, text.replace("max_ms", 'model = "float"\nbatch = 16\nmax_ms'))
    assert not evaluate_gate(run, load_gate(only_float)).passed


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ("fast", r"'fast' has no table of batches"),
        (
            {"batches": {"256": {"per_window_ms": "quick", "per_call_ms": 1.0}}},
            r"batch 256: per_window_ms 'quick' is not a positive number",
        ),
        (
            {"batches": {"big": {"per_window_ms": 0.1, "per_call_ms": 1.0}}},
            r"batch 'big' is not a whole number",
        ),
        ({"batches": {}}, r"no batch was measured"),
    ],
    ids=["not-a-table", "not-a-number", "bad-batch", "empty"],
)
def test_a_malformed_latency_record_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: Any, match: str
) -> None:
    run = _latency_run(tmp_path, recorded={"float": entry})
    path = gate_file(tmp_path, '[[criteria]]\nkind = "latency"\nmodel = "float"\nmax_ms = 1.0\n')
    with pytest.raises(RunDirError, match=r"campaign\.json: model 'float'\.latency: " + match):
        evaluate_gate(run, load_gate(path))
    assert "re-run the campaign" in refused_by_the_cli(run, path, capsys)


def test_latency_has_no_repeats_to_give(tmp_path: Path) -> None:
    text = '[[criteria]]\nkind = "latency"\nmax_ms = 0.1\nrepeats = 20\n'
    with pytest.raises(
        ConfigError, match=r"unknown key 'repeats'; allowed: kind, name, model, max_ms, batch$"
    ):
        load_gate(gate_file(tmp_path, text))


# -- detection latency ----------------------------------------------------------------
def _latency_gate(tmp_path: Path, body: str) -> Path:
    return gate_file(tmp_path, f'[[criteria]]\nkind = "detection_latency"\n{body}\n', "lat.toml")


BAD_LATENCY = [
    ("no-max_s", "", r"\(detection_latency\): missing key 'max_s' \(the threshold\)"),
    ("max_s-zero", "max_s = 0", r"\.max_s: 0 must be a positive number of seconds"),
    ("max_s-negative", "max_s = -0.5", r"\.max_s: -0\.5 must be a positive number of seconds"),
    ("max_s-text", 'max_s = "1s"', r"\.max_s: '1s' must be a positive number of seconds"),
    ("max_s-bool", "max_s = true", r"\.max_s: True must be a positive number"),
    ("max_s-inf", "max_s = inf", r"\.max_s: inf must be a positive number"),
    ("percentile-0", "max_s = 1\npercentile = 0", r"\.percentile: 0 must be a percentile in"),
    ("percentile-100", "max_s = 1\npercentile = 100", r"\.percentile: 100 must be .*\[1, 100\)"),
    # The gate's other options are fractions (p_max, min, max): a fraction here is a slip.
    (
        "percentile-a-fraction",
        "max_s = 1\npercentile = 0.95",
        r"\.percentile: 0\.95 is a fraction; percentile is in percent, in \[1, 100\): did you "
        r"mean 95\?$",
    ),
    (
        "percentile-below-1",
        "max_s = 1\npercentile = 0.5",
        r"\.percentile: 0\.5 is a fraction; .*did you mean 50\?$",
    ),
    (
        "max_s-milliseconds",
        "max_s = 500",
        r"\.max_s: 500 is over a minute; max_s is in seconds, in \(0, 60\]: did you mean 0\.5 "
        r"\(500 ms\)\?$",
    ),
    ("percentile-list", "max_s = 1\npercentile = [95]", r"\.percentile: \[95\] must be"),
    (
        "unknown-key",
        "max_ms = 1",
        r"unknown key 'max_ms'; allowed: kind, name, model, max_s, percentile",
    ),
]


@pytest.mark.parametrize(
    ("body", "match"), [b[1:] for b in BAD_LATENCY], ids=[b[0] for b in BAD_LATENCY]
)
def test_bad_detection_latency_options(tmp_path: Path, body: str, match: str) -> None:
    with pytest.raises(ConfigError, match=r"^criteria\[0\]" + "[^\n]*" + match):
        load_gate(_latency_gate(tmp_path, body))


def test_detection_latency_defaults_and_threshold(tmp_path: Path) -> None:
    (c,) = load_gate(_latency_gate(tmp_path, "max_s = 0.5")).criteria
    assert c.options == {"max_s": 0.5, "percentile": 95.0}
    assert c.threshold() == "p95 latency <= 0.5 s (share above: upper bound <= 0.05)"


def latencies(n: int, slow: int, unmatched: int) -> np.ndarray:
    """``n`` latencies of 0.1-0.3 s, ``slow`` of them 2 s, then ``unmatched`` NaN."""
    lat = np.linspace(0.1, 0.3, n)
    lat[np.random.default_rng(3).choice(n, slow, replace=False)] = 2.0
    return np.concatenate([lat, np.full(unmatched, np.nan)])


def _no_high_five(n: int, without: int) -> tuple[np.ndarray, np.ndarray]:
    """``true_count`` and ``fn`` of ``n`` cases, the last ``without`` with no high-five."""
    true = np.ones(n)
    true[n - without :] = 0
    return true, np.zeros(n)


@pytest.mark.parametrize(
    ("slow", "percentile", "passed"),
    [
        # Upper bounds from scipy.stats.beta.ppf(0.95, k + 1, n - k), n = 300:
        (0, 95, True),  # 0.00994 <= 0.05
        (3, 95, True),  # 0.0256 <= 0.05
        (10, 95, False),  # 0.0559 > 0.05, though 10/300 = 3.3% is below 5%
        (0, 99, True),  # 0.00994 <= 0.01
        (2, 99, False),  # 0.0208 > 0.01, though 2/300 = 0.67% is below 1%
    ],
    ids=["none-slow", "3-slow", "10-slow", "p99-none-slow", "p99-2-slow"],
)
def test_detection_latency_judges_the_bound(
    tmp_path: Path, slow: int, percentile: int, passed: bool
) -> None:
    # 300 cases with a high-five, all counted; 100 without one (no latency to judge).
    lat = latencies(300, slow, unmatched=100)
    v = np.full(lat.size, "pass", dtype=object)
    truth = {"float": _no_high_five(400, 100)}
    run = write_run(tmp_path / "r", {"float": v}, latency={"float": lat}, truth=truth)
    gate = load_gate(_latency_gate(tmp_path, f"max_s = 1.0\npercentile = {percentile}"))
    (c,) = evaluate_gate(run, gate).criteria
    upper = float(cp_upper(slow, 300, 0.95))
    measured = lat[:300].astype(np.float32).astype(np.float64)
    observed = np.percentile(measured, percentile, method="inverted_cdf")
    assert c.passed is passed
    assert c.value == f"p{percentile} {observed:.3g} s, share above: upper bound {upper:.4g}"
    assert c.detail.startswith("300 of 400 cases hold a high-five")
    assert f"{slow} counted later than 1 s, 0 not counted" in c.detail


@pytest.mark.parametrize(
    ("missed", "partly", "passed"),
    [
        # Of 300 cases with high-fives, all counted in time but ``missed`` never counted
        # and ``partly`` with one of their two high-fives not counted: every such case is
        # slower than max_s. Upper bounds from scipy.stats.beta.ppf(0.95, k + 1, n - k).
        (0, 0, True),  # 0/300: 0.00994
        (200, 0, False),  # 200/300: a counter that misses most high-fives fails
        (0, 100, False),  # 100/300: so does one that misses one in every other case
        (3, 0, True),  # 3/300: 0.0256 <= 0.05
    ],
    ids=["all-counted", "most-missed", "half-of-some-missed", "3-missed"],
)
def test_detection_latency_counts_a_missed_high_five_as_slower_than_max_s(
    tmp_path: Path, missed: int, partly: int, passed: bool
) -> None:
    n = 300
    lat = np.full(n, 0.2)
    true, fn = np.ones(n), np.zeros(n)
    lat[:missed] = np.nan  # nothing matched: no latency
    fn[:missed] = 1
    true[missed : missed + partly], fn[missed : missed + partly] = 2, 1  # one of two matched
    v = np.full(n, "pass", dtype=object)
    run = write_run(
        tmp_path / "r", {"float": v}, latency={"float": lat}, truth={"float": (true, fn)}
    )
    (c,) = evaluate_gate(run, load_gate(_latency_gate(tmp_path, "max_s = 1.0"))).criteria
    k = missed + partly
    assert c.passed is passed
    assert c.value.endswith(f"share above: upper bound {float(cp_upper(k, n, 0.95)):.4g}")
    assert f"300 of 300 cases hold a high-five; 0 counted later than 1 s, {k} not counted" in (
        c.detail
    )
    if k > n * 0.05:  # the 95th percentile case has a high-five never counted
        assert c.value.startswith("p95 never (a high-five not counted), share above")


def test_detection_latency_without_latency_data_fails_and_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = {m: np.full(200, "pass", dtype=object) for m in ("batch", "older", "streamed")}
    lat = {"streamed": latencies(200, 0, 0), "batch": np.full(200, np.nan)}
    # "older" has no latency_s column, and its files come before "streamed"'s.
    run = write_run(tmp_path / "r", v, latency=lat)
    old = write_run(tmp_path / "old", {"float": v["older"]})  # before latency_s existed
    path = _latency_gate(tmp_path, "max_s = 1.0")
    by_model = {c.model: c for c in evaluate_gate(run, load_gate(path)).criteria}
    assert by_model["streamed"].passed
    assert by_model["streamed"].detail.startswith("200 of 200 cases hold a high-five")
    no_data = [by_model["batch"], by_model["older"], *evaluate_gate(old, load_gate(path)).criteria]
    for c in no_data:
        assert not c.passed and c.value == "no latency data"
        assert "run the campaign with stream_chunk_s > 0" in c.detail
    assert "latency_s is NaN in every case with a counted high-five" in no_data[0].detail
    assert "no latency_s column" in no_data[1].detail and "no latency_s column" in no_data[2].detail
    assert main(["gate", str(old), "--gate", str(path)]) == 1
    assert "FAIL  detection_latency [float]  no latency data" in capsys.readouterr().out


# -- the registry -----------------------------------------------------------------------
@pytest.fixture
def max_failures() -> Iterator[type[CriterionKind]]:
    """A criterion kind written as a user would, registered for one test."""

    @register_criterion
    class MaxFailures(CriterionKind):
        kind = "max_failures"
        options: ClassVar[Mapping[str, Option]] = {
            "max": Option("must be a whole number >= 0", lambda v: isinstance(v, int) and v >= 0),
            "verbose": Option("must be true or false", lambda v: type(v) is bool, default=False),
        }

        def threshold(self, o: Mapping[str, Any]) -> str:
            return f"<= {o['max']} failing cases"

        def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> tuple[str, bool, str]:
            f = run.frame()
            k = int(((f["model"] == model) & (f["verdict"] != "pass")).sum())
            return f"{k} failing", k <= c.options["max"], f"{k:,} failing cases"

    yield MaxFailures
    del CRITERIA["max_failures"]


def test_a_new_criterion_is_one_registered_class(
    tmp_path: Path, bad_run: Path, max_failures: type[CriterionKind]
) -> None:
    text = '[[criteria]]\nkind = "max_failures"\nmax = 0\n'
    gate = load_gate(gate_file(tmp_path, text))
    (c,) = gate.criteria
    assert c.options == {"max": 0, "verbose": False} and c.threshold() == "<= 0 failing cases"
    by_model = {r.model: r for r in evaluate_gate(bad_run, gate).criteria}
    assert by_model["float"].passed and not by_model["int8"].passed
    assert by_model["int8"].value.endswith(" failing") and by_model["int8"].kind == "max_failures"
    with pytest.raises(ConfigError, match=r"criteria\[0\] \(max_failures\)\.max: -1 must be"):
        load_gate(gate_file(tmp_path, text.replace("0", "-1")))
    with pytest.raises(ValueError, match=r"'max_failures': empty or registered twice"):
        register_criterion(max_failures)


def test_error_and_timeout_are_failures_for_the_gate(tmp_path: Path) -> None:
    v = np.full(400, "pass", dtype=object)
    v[:6], v[6:10] = "error", "timeout"
    run = write_run(tmp_path / "r", {"python": v})
    text = """
[[criteria]]
kind = "failure_rate"
p_max = 0.5
[[criteria]]
kind = "failure_rate"
name = "crashes"
p_max = 0.5
verdicts = ["error", "timeout"]
[[criteria]]
kind = "cell_upper_bound"
p_max = 0.5
"""
    every, crashes, cells = evaluate_gate(run, load_gate(gate_file(tmp_path, text))).criteria
    assert every.detail.startswith("10 failures in 400 cases")
    assert crashes.detail.startswith("10 error+timeout in 400 cases")
    assert crashes.threshold == "upper bound < 0.5 (error+timeout)"
    # The worst cell is the one with the most failures: error and timeout count there too.
    assert re.search(r"\(worst [^:]+: [1-9][0-9]*/[0-9]+ fail", cells.detail), cells.detail


def test_a_criterion_without_ways_may_ask_for_counts(tmp_path: Path, clean_run: Path) -> None:
    @register_criterion
    class RowsCounted(CriterionKind):
        kind = "rows_counted"

        def threshold(self, o: Mapping[str, Any]) -> str:
            return "any"

        def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> tuple[str, bool, str]:
            counts = run.counts()  # no ways: no crosses, but the rows are counted
            rows = int(counts.rows[counts.models.index(str(model))])
            return f"{rows} rows", len(counts.crosses) == 0, f"{rows:,} rows"

    try:
        gate = load_gate(gate_file(tmp_path, '[[criteria]]\nkind = "rows_counted"\n'))
        assert [c.value for c in evaluate_gate(clean_run, gate).criteria] == ["2000 rows"] * 2
    finally:
        del CRITERIA["rows_counted"]
