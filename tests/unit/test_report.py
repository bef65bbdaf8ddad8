"""The HTML report (``highfive report RUN``): content, self-containment, errors, browser.

One small campaign (two toy models, 256 cases, in-process) is built per module; tests
that change the run (gate.json, regions, status) work on a copy of it.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from highfive.generators import InvalidParameter, RunDirError
from highfive.harness import SEVERITY, CampaignConfig, ExecutionConfig, RunDir, run_campaign
from highfive.harness.cli import main
from highfive.reports import add_report_commands, write_report
from highfive.reports._coverage_sections import regions_section
from highfive.reports._scan import RANKED, Scan, pick_cases

CASES = 256


def _second_model(path: Path, out: Path, bias: float) -> Path:
    """The toy model with another bias, so that the two models disagree sometimes."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(path.read_bytes())
    for i, init in enumerate(model.graph.initializer):
        if init.name == "b":
            model.graph.initializer[i].CopyFrom(
                numpy_helper.from_array(np.array([bias], dtype=np.float32), "b")
            )
    out.write_bytes(model.SerializeToString())
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, toy_model_path: Path) -> Path:
    """A finished campaign without coverage/ (the first report computes it)."""
    base = tmp_path_factory.mktemp("report")
    second = _second_model(toy_model_path, base / "toy_low.onnx", bias=-5.0)
    cfg = CampaignConfig(
        name="toyrun",
        seed=3,
        cases=CASES,
        batch_size=64,
        models=(str(toy_model_path), str(second)),
        out=str(base / "runs"),
        execution=ExecutionConfig(workers=0),
    )
    summary = run_campaign(cfg, stream=None)
    assert summary.complete
    return Path(summary.run_dir)


@pytest.fixture(scope="module")
def report(run: Path) -> tuple[Path, str, list[str]]:
    """The default report of ``run``: path, text and the log lines."""
    lines: list[str] = []
    path = write_report(run, log=lines.append)
    return path, path.read_text(), lines


def _copy(run: Path, tmp_path: Path) -> Path:
    dest = tmp_path / run.name
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("report.html"))
    return dest


def _images(text: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', text)


# -- content ------------------------------------------------------------------------
def test_report_computes_coverage_and_shows_every_section(
    run: Path, report: tuple[Path, str, list[str]]
) -> None:
    path, text, log = report
    assert path == run / "report.html"
    assert (run / "coverage" / "cells.parquet").is_file()
    assert any("computing" in line for line in log)
    record = json.loads((run / "campaign.json").read_text())
    assert "no gate evaluated" in text and "highfive gate RUN --gate GATE.toml" in text
    for m in record["models"]:
        assert m["sha256"][:12] in text and f"{m['bytes']:,}" in text
    assert str(record["config"]["seed"]) in text and "sobol" in text
    assert record["versions"]["numpy"] in text
    for heading in ("Campaign", "Failures and model agreement", "Coverage", "Worst cells"):
        assert f">{heading}</h2>" in text
    assert "count agreement" in text and "95% upper bound" in text
    assert "motion x background" in text and "motion x sample_rate" in text
    regions = json.loads((run / "coverage" / "summary.json").read_text()).get("regions")
    section = text[text.index('id="regions"') : text.index('id="cases"')]
    if regions:
        assert section.count("<tr>") == 1 + len(regions)
    else:
        assert "not computed" in section or "none found" in section


def test_failing_cases_are_replayed_worst_verdicts_first(
    report: tuple[Path, str, list[str]],
) -> None:
    _, text, log = report
    shown = [int(c) for c in re.findall(r'<h3 id="case-(\d+)">', text)]
    assert len(shown) == 4
    assert any(line.startswith("replaying 4 failing case(s)") for line in log)
    # every replayed case carries its plot and a command to reproduce it
    for case in shown:
        assert f'alt="case {case}"' in text
        assert f"{case} --plot case.png" in text
    assert "differs from the campaign" not in text  # regenerated bit-identically


def test_report_is_self_contained(report: tuple[Path, str, list[str]]) -> None:
    _, text, _ = report
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert re.findall(r"<script[^>]*>", text) == ["<script>"]  # one inline script
    images = _images(text)
    assert len(images) >= 1 + 5 + 4  # agreement, heatmaps, failing cases
    for src in images:
        head, _, data = src.partition(",")
        assert head == "data:image/png;base64"
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(text) < 5_000_000


def test_report_writing_leaves_no_temporary_file(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.html"
    assert write_report(run, out, cases=0) == out
    assert out.is_file() and 'id="case-' not in out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]


# -- gate and regions ---------------------------------------------------------------
def _gate(verdict: str) -> dict[str, object]:
    ok = verdict == "pass"
    return {
        "verdict": verdict,
        "run": "toyrun",
        "gate_file": "examples/release.toml",
        "confidence": 0.95,
        "evaluated": "2026-01-01T00:00:00+00:00",
        "criteria": [
            {
                "name": "overall_failure_rate",
                "kind": "max_failure_rate",
                "model": "toy",
                "threshold": "0.05",
                "value": "0.02",
                "passed": True,
                "detail": "upper bound below threshold",
            },
            {
                "name": "int8_agreement",
                "kind": "agreement",
                "model": None,
                "threshold": 0.99,
                "value": 0.97 if not ok else 0.995,
                "passed": ok,
                "detail": "count agreement <of> the two models",
            },
        ],
    }


@pytest.mark.parametrize("verdict", ["pass", "fail"])
def test_gate_verdict_banner_and_criteria(run: Path, tmp_path: Path, verdict: str) -> None:
    copy = _copy(run, tmp_path)
    (copy / "gate.json").write_text(json.dumps(_gate(verdict)))
    text = write_report(copy, cases=0).read_text()
    assert f'<div class="banner {verdict}" id="verdict"><span class="big">{verdict.upper()}' in text
    assert "no gate evaluated" not in text
    assert "overall_failure_rate" in text and "int8_agreement" in text
    assert "&lt;of&gt;" in text  # escaped
    assert ("1 of 2 criteria met" if verdict == "fail" else "2 of 2 criteria met") in text
    if verdict == "fail":  # failed criteria first
        assert text.index("int8_agreement") < text.index("overall_failure_rate")


def test_bad_gate_json_is_one_line_error(run: Path, tmp_path: Path) -> None:
    copy = _copy(run, tmp_path)
    (copy / "gate.json").write_text('{"verdict": "maybe"}')
    with pytest.raises(RunDirError, match="verdict 'maybe' must be 'pass' or 'fail'") as exc:
        write_report(copy, cases=0)
    assert "\n" not in str(exc.value)
    assert not (copy / "report.html").exists()


_CRITERION = {"name": "c", "kind": "coverage", "passed": True}


@pytest.mark.parametrize(
    ("gate", "match"),
    [
        (  # counted as met: "6 of 14"
            {"verdict": "fail", "evaluated": "now", "criteria": [{**_CRITERION, "passed": "no"}]},
            r"criteria\[0\]\.passed is 'no', not true or false",
        ),
        (  # shown as "evaluated None"
            {"verdict": "pass", "evaluated": None, "criteria": [_CRITERION]},
            r"evaluated is None, not the time the gate was evaluated",
        ),
        (  # a green PASS banner over a failed criterion
            {
                "verdict": "pass",
                "evaluated": "now",
                "criteria": [_CRITERION, {**_CRITERION, "name": "d", "passed": False}],
            },
            r"verdict 'pass' but criterion 'd' failed",
        ),
        (
            {"verdict": "fail", "evaluated": "now", "criteria": [_CRITERION]},
            r"verdict 'fail' but every criterion passed",
        ),
    ],
    ids=["passed-text", "evaluated-null", "pass-over-a-failure", "fail-over-passes"],
)
def test_a_gate_json_that_contradicts_itself_is_refused(
    run: Path, tmp_path: Path, gate: dict[str, object], match: str
) -> None:
    """The report showed these hand-edited verdicts as they were."""
    copy = _copy(run, tmp_path)
    (copy / "gate.json").write_text(json.dumps(gate))
    with pytest.raises(RunDirError, match=rf"gate.json: {match}; re-run 'highfive gate") as exc:
        write_report(copy, cases=0)
    assert "\n" not in str(exc.value)
    assert not (copy / "report.html").exists()


@pytest.mark.parametrize("name", ["cells.parquet", "counts.parquet"])
@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_damaged_coverage_file_is_named_in_one_line(
    run: Path, tmp_path: Path, name: str, damage: str
) -> None:
    """A truncated or overwritten coverage Parquet file ended the report in a pyarrow
    traceback ('Parquet magic bytes not found in footer'), exit 1."""
    from highfive.coverage import analyse_run, write_coverage

    copy = _copy(run, tmp_path)
    write_coverage(copy, analyse_run(copy))
    file = copy / "coverage" / name
    if damage == "truncated":
        file.write_bytes(file.read_bytes()[:1000])
    else:
        file.write_text("hello\n")
    with pytest.raises(RunDirError) as exc:
        write_report(copy, cases=0)
    said = str(exc.value)
    assert "\n" not in said and said.startswith(f"{file}: cannot be read (")
    assert said.endswith(f"; re-run 'highfive coverage {copy}'")
    assert not (copy / "report.html").exists()


def test_failure_regions_are_rendered(run: Path, tmp_path: Path) -> None:
    copy = _copy(run, tmp_path)
    file = copy / "coverage" / "summary.json"
    summary = json.loads(file.read_text())
    summary["regions"] = [
        {
            "model": "toy",
            "conditions": {"motion": ["reach_up", "wave"], "peak_accel": [30.2, None]},
            "n": 21,
            "failures": 13,
            "rate": 13 / 21,
            "lower": 0.38,
            "upper": 0.82,
            "description": "motion in {reach_up, wave} and peak_accel >= 30.2: 13/21 fail",
        },
        {
            "model": "toy_low",
            "conditions": {"gap": [0.3, 0.6]},
            "n": 40,
            "failures": 9,
            "rate": 9 / 40,
            "lower": 0.11,
            "upper": 0.38,
            "description": "",
        },
    ]
    file.write_text(json.dumps(summary))
    text = write_report(copy, cases=0).read_text()
    section = text[text.index('id="regions"') : text.index('id="cases"')]
    assert "motion in {reach_up, wave} and peak_accel &gt;= 30.2" in section
    assert "0.3 ≤ gap ≤ 0.6" in section
    assert "0.38 – 0.82" in section and "not computed" not in section


def test_failure_regions_absent_or_empty() -> None:
    assert "not computed" in regions_section({})
    assert "none found" in regions_section({"regions": []})
    worst = [{"model": "toy", "label": "motion=wave", "failures": 2}]
    assert "do not concentrate in a box" in regions_section({"regions": [], "worst": worst})
    # No failure at all: "failures do not concentrate in a box" spoke of failures.
    empty = regions_section({"regions": [], "worst": []})
    assert "no failure" in empty and "concentrate" not in empty


# -- errors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda run, tmp: tmp / "nope", "does not exist"),
        (lambda run, tmp: tmp, "has no campaign.json"),
        (lambda run, tmp: _incomplete(run, tmp), r"is incomplete \(status 'running'\)"),
    ],
    ids=["missing", "not-a-run", "incomplete"],
)
def test_bad_run_directory_is_one_line_error(
    run: Path, tmp_path: Path, make: Callable[[Path, Path], Path], match: str
) -> None:
    path = make(run, tmp_path)
    with pytest.raises(RunDirError, match=match) as exc:
        write_report(path)
    assert "\n" not in str(exc.value)
    assert not list(Path(path).glob("report.html*")) and not list(Path(path).glob(".report*"))


def _incomplete(run: Path, tmp_path: Path) -> Path:
    copy = _copy(run, tmp_path)
    record = json.loads((copy / "campaign.json").read_text())
    record["status"] = "running"
    (copy / "campaign.json").write_text(json.dumps(record))
    return copy


@pytest.mark.parametrize("cases", [-1, 1.5, True], ids=["negative", "float", "bool"])
def test_bad_cases_argument(run: Path, cases: Any) -> None:
    with pytest.raises(InvalidParameter, match=r"cases: .* must be a whole number >= 0"):
        write_report(run, cases=cases)


def test_an_error_while_writing_leaves_the_old_report(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from highfive.reports import _html

    copy = _copy(run, tmp_path)
    (copy / "report.html").write_text("old")

    def boom(**kw: object) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(_html, "_render", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_report(copy, cases=0)
    assert (copy / "report.html").read_text() == "old"
    assert not [p for p in copy.iterdir() if p.name.endswith(".tmp")]


# -- choice of failing cases ----------------------------------------------------------
def test_failing_cases_are_picked_by_kind_then_case_id() -> None:
    ranked = RANKED  # rank = index
    assert ranked == ("pass", *reversed(SEVERITY))
    short = {"p": "pass", "m": "miss", "x": "mixed", "f": "false_positive", "d": "double_count"}
    a = [ranked.index(short[c]) for c in "pmxfmdxp"]
    b = [ranked.index(short[c]) for c in "mppppppd"]
    scan = Scan(["a", "b"], {}, {"a": np.array(a, np.int8), "b": np.array(b, np.int8)}, {})
    # worst verdict per case: miss, miss, mixed, fp, miss, dc, mixed, dc
    assert pick_cases(scan, 4) == [2, 5, 0, 3]
    assert pick_cases(scan, 7) == [2, 5, 0, 3, 6, 7, 1]
    assert pick_cases(scan, 0) == []
    assert pick_cases(scan, 100) == pick_cases(scan, 100)  # deterministic
    assert pick_cases(scan, 100) == [2, 5, 0, 3, 6, 7, 1, 4]


def test_error_and_timeout_rank_above_every_other_failure() -> None:
    rank = {v: RANKED.index(v) for v in ("false_positive", "miss", "mixed", "timeout", "error")}
    assert rank["error"] > rank["timeout"] > rank["mixed"] > rank["miss"] > 0
    a = [RANKED.index(v) for v in ("mixed", "pass", "timeout", "miss", "error", "mixed")]
    scan = Scan(["a"], {}, {"a": np.array(a, np.int8)}, {})
    assert pick_cases(scan, 3) == [4, 2, 0]  # error, then timeout, then mixed
    assert pick_cases(scan, 5) == [4, 2, 0, 3, 5]


# -- counters of other kinds, errors and their messages ---------------------------------
_MESSAGE = (
    "counter raised ValueError: <bad window> & 'x'\n  Traceback (most recent call last):\n"
    + "    frame " * 40
)


def _relist(run: Path, files: list[Path]) -> None:
    """Record the size and SHA-256 of rewritten ``files`` in the manifest, as the
    campaign would have had it written them (readers check every listed file)."""
    import hashlib

    manifest = run / "manifest.jsonl"
    entries = [json.loads(line) for line in manifest.read_text().splitlines()]
    for f in files:
        rel, data = str(f.relative_to(run)), f.read_bytes()
        for entry in entries:
            for rec in entry["files"]:
                if isinstance(rec, dict) and rec["path"] == rel:
                    rec.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))


def _with_error(run: Path, tmp_path: Path) -> tuple[Path, int]:
    """A copy of ``run`` whose ``toy_low`` is a Python counter that errs on one case.

    One failing case's result row gets the verdict ``error`` and a message (a
    ``message`` column is added to that part file if the run predates it), the failure
    corpus says so too, and campaign.json records ``toy_low`` as a Python counter
    (no bytes) whose source no longer exists, so that replay falls back to the corpus.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    copy = _copy(run, tmp_path)
    corpus = sorted((copy / "failures").glob("part-*.parquet"))[0]
    failures = pq.read_table(corpus)
    case = int(failures.column("case_id")[0].as_py())
    verdicts = [json.loads(v) for v in failures.column("verdicts").to_pylist()]
    verdicts[0]["toy_low"] = "error"
    failures = failures.set_column(
        failures.schema.get_field_index("verdicts"),
        "verdicts",
        pa.array([json.dumps(v) for v in verdicts], pa.string()),
    )
    pq.write_table(failures, corpus)

    batch = case // 64  # the fixture's batch size
    part = copy / "results" / "model=toy_low" / f"part-{batch:06d}.parquet"
    table = pq.read_table(part)
    hit = [c == case for c in table.column("case_id").to_pylist()]
    assert sum(hit) == 1
    old = table.column("verdict").to_pylist()
    verdict = ["error" if h else v for h, v in zip(hit, old, strict=True)]
    message = pa.array([_MESSAGE if h else None for h in hit], pa.string())
    table = table.set_column(
        table.schema.get_field_index("verdict"), "verdict", pa.array(verdict, pa.string())
    )
    if "message" in table.column_names:
        table = table.set_column(table.schema.get_field_index("message"), "message", message)
    else:
        table = table.append_column("message", message)
    pq.write_table(table, part)

    _relist(copy, [corpus, part])

    file = copy / "campaign.json"
    record = json.loads(file.read_text())
    for entry in record["models"]:
        if entry["id"] == "toy_low":
            entry.clear()
            entry.update(
                id="toy_low",
                source="gone_counter.py:count",
                kind="python",
                sha256="ab" * 32,
                identity={"module_sha256": "cd" * 32, "attr": "count", "version": "1.2"},
            )
    file.write_text(json.dumps(record))
    return copy, case


def test_report_shows_error_verdicts_messages_and_counter_kinds(
    run: Path, report: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    import html

    from highfive.harness import FAIL_VERDICTS
    from highfive.reports._markup import MESSAGE_CHARS

    copy, case = _with_error(run, tmp_path)  # ``report`` computed the coverage copied
    text = write_report(copy, cases=3).read_text()

    # the error case is counted, and shown first: error is the most severe verdict
    results = text[text.index('id="results"') : text.index('id="coverage"')]
    head = re.findall(r"<th[^>]*>([^<]*)</th>", results)
    assert head[5:] == [v.replace("_", " ") for v in FAIL_VERDICTS]
    row = re.search(r"<tr><td><b>toy_low</b></td>(.*?)</tr>", results)
    assert row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    assert cells[4 + FAIL_VERDICTS.index("error")] == "1"  # after cases .. upper bound
    shown = re.findall(r'<h3 id="case-(\d+)">(.*?)</h3>', text)
    assert shown[0][0] == str(case)
    assert 'toy_low <span class="chip error">error</span>' in shown[0][1]
    assert ".chip.error" in text  # styled as a failure

    # a case without a count from one model is no agreement, whatever count was recorded
    from highfive.harness import RunDir
    from highfive.reports._scan import scan_results

    before = scan_results(RunDir(run), ["toy", "toy_low"], CASES)
    after = scan_results(RunDir(copy), ["toy", "toy_low"], CASES)
    assert (after.compared, after.unanswered) == (CASES, 1) and before.unanswered == 0
    same = before.pred["toy"][case] == before.pred["toy_low"][case]
    assert after.agree == before.agree - same and case in after.disagree
    assert int(after.confusion.sum()) == CASES - 1
    assert "1 of them without a count from one (error or timeout)" in text

    # its message: escaped, on one line, shortened
    found = re.findall(r'<p class="message">message of toy_low: <code>(.*?)</code></p>', text)
    assert len(found) == 1
    assert "&lt;bad window&gt; &amp; &#x27;x&#x27;" in found[0] and "<bad" not in text
    shown_message = html.unescape(found[0])
    assert "\n" not in shown_message and "  " not in shown_message
    assert len(shown_message) <= MESSAGE_CHARS and shown_message.endswith("…")
    assert shown_message.startswith("counter raised ValueError: <bad window> & 'x' Traceback")

    # the counters: id, kind, source and identity hash; bytes only for ONNX files
    campaign = text[text.index('id="campaign"') : text.index('id="results"')]
    assert "<th>kind</th>" in campaign
    py = re.search(r"<tr><td><b>toy_low</b></td>(.*?)</tr>", campaign)
    assert py is not None
    assert '<td>python</td><td class="wrap">gone_counter.py:count</td>' in py.group(1)
    assert 'title="' + "ab" * 32 + '">' + "ab" * 6 + "</code>" in py.group(1)
    assert py.group(1).endswith('<td class="num">–</td>')
    onnx = re.search(r"<tr><td><b>toy</b></td><td>(\w+)</td>", campaign)
    assert onnx is not None and onnx.group(1) == "onnx"  # no kind recorded: ONNX


_PY_COUNTER = """
def count(trace):
    if trace.params["repetitions"] >= 3:
        raise ValueError("too many <repetitions>")
    return [0.5 * (trace.t[0] + trace.t[-1])]  # one detection mid-trace
"""


def test_report_of_a_python_counter_that_errs(tmp_path: Path, toy_model_path: Path) -> None:
    """End to end: a campaign with a Python counter; its cases replay without probabilities."""
    (tmp_path / "mid.py").write_text(_PY_COUNTER)
    cfg = CampaignConfig(
        name="py",
        seed=3,
        cases=64,
        batch_size=32,
        models=(str(toy_model_path), f"{tmp_path / 'mid.py'}:count"),
        out=str(tmp_path / "runs"),
        execution=ExecutionConfig(workers=0),
    )
    summary = run_campaign(cfg, stream=None)
    text = write_report(summary.run_dir, cases=4).read_text()
    shown = re.findall(r'<h3 id="case-(\d+)">(.*?)</h3>', text)
    assert len(shown) == 4 and 'count <span class="chip error">error</span>' in shown[0][1]
    assert text.count('<p class="message">message of count: <code>') == 1
    assert "too many &lt;repetitions&gt;" in text
    assert '<p class="note">' not in text  # every case replayed, bit for bit
    assert all(f'alt="case {case}"' in text for case, _ in shown)
    assert re.search(r"<tr><td><b>count</b></td><td>python</td>", text)


def test_messages_are_read_only_where_stored(run: Path) -> None:
    from highfive.harness import RunDir
    from highfive.reports._read import read_messages

    # the fixture's rows: passing and failing cases, no error, so no message
    assert read_messages(RunDir(run), 64, {0: ["toy", "toy_low"], 200: ["toy"]}) == {}
    assert read_messages(RunDir(run), 64, {CASES + 64: ["toy"], 1: ["nope"]}) == {}


def test_one_line_collapses_white_space_and_cuts_long_text() -> None:
    from highfive.reports._markup import one_line

    assert one_line("a\n  b\tc ") == "a b c"
    assert one_line("x" * 10, limit=10) == "x" * 10
    assert one_line("word " * 10, limit=12) == "word word w…"  # 12 characters
    assert len(one_line("y" * 500)) == 200


# -- command line -----------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="highfive")
    add_report_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def test_report_command(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.html"
    args = _parser().parse_args(["report", str(run), "--out", str(out), "--cases", "1"])
    assert args.handler(args) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert len(re.findall(r'<h3 id="case-', out.read_text())) == 1


def test_report_command_bins_the_coverage_as_coverage_does(
    run: Path,
    report: tuple[Path, str, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A run that needs a bins file for its coverage (too many cells by default, or bins
    # the user chose) could not be reported with it: report had no --bins.
    assert "Cells are counted with the default bins" in _coverage_section(report[1])
    copy = _copy(run, tmp_path)
    bins = tmp_path / "two.toml"
    bins.write_text("ways = [1]\n[bins.peak_accel]\ncount = 2\n")
    assert main(["report", str(copy), "--bins", str(bins), "--cases", "0"]) == 0
    assert f"with {bins}" in capsys.readouterr().out  # the coverage computed first
    summary = json.loads((copy / "coverage" / "summary.json").read_text())
    assert summary["bins_file"] == str(bins)
    assert list(summary["models"]["toy"]["coverage"]["by_t"]) == ["1"]
    alone = tmp_path / "alone"
    assert main(["coverage", str(copy), "--bins", str(bins), "--out", str(alone)]) == 0
    for name in ("cells.parquet", "counts.parquet", "holes.parquet"):  # coverage's very files
        assert (copy / "coverage" / name).read_bytes() == (alone / "coverage" / name).read_bytes()
    section = _coverage_section((copy / "report.html").read_text())
    assert f"Cells are counted with the bins file <code>{bins}</code>." in section
    assert "no 2-way crosses in this coverage" in section  # ways = [1]


@pytest.mark.parametrize("value", ["-1", "x"])
def test_report_command_refuses_bad_cases(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(["report", "RUN", "--cases", value])
    assert exc.value.code == 2
    assert "--cases" in capsys.readouterr().err


# -- a real browser -------------------------------------------------------------------
def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    assert exe is not None
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="headless browser test needs Debian's 'chromium' on PATH (apt-get install chromium)",
)


@pytest.mark.browser
@needs_chromium
def test_report_renders_in_headless_chromium(
    report: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    import matplotlib.image as mpimg

    path, text, _ = report
    expected = len(_images(text))
    dom = _chromium(path.as_uri(), tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None, dom.stdout[:500]
    assert 'data-rendered="ok"' in body.group(0), body.group(0)
    assert f'data-images="{expected}"' in body.group(0)
    assert len(re.findall(r"<img ", dom.stdout)) == expected
    assert 'id="verdict"' in dom.stdout and "no gate evaluated" in dom.stdout

    shot = tmp_path / "shot.png"
    res = _chromium(
        path.as_uri(), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000"
    )
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    assert shot.stat().st_size > 30_000
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    assert float(np.std(pixels[..., :3])) > 0.05  # not blank
    # the banner (near the top) is drawn: its grey differs from the white page
    assert float(np.std(pixels[:400, :, :3])) > 0.02


@pytest.mark.browser
@needs_chromium
def test_render_check_reports_a_broken_image(
    report: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    _, text, _ = report
    broken = tmp_path / "broken.html"
    first = _images(text)[0]
    broken.write_text(text.replace(first, "data:image/png;base64,AAAA", 1))
    dom = _chromium(broken.as_uri(), tmp_path / "profile", "--dump-dom")
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None and 'data-rendered="error: ' in body.group(0), dom.stdout[:500]


_LAYOUT = """
<script>
window.addEventListener("load", function () {
  var page = document.documentElement, b = document.body, wide = [];
  document.querySelectorAll("#verdict ~ h3 + .tablebox, #campaign + .cols .tablebox")
    .forEach(function (box) {
      if (box.scrollWidth > box.clientWidth) wide.push(box.textContent.slice(0, 40));
    });
  b.dataset.checked = String(document.querySelectorAll(
    "#verdict ~ h3 + .tablebox, #campaign + .cols .tablebox").length);
  b.dataset.pageOverflow = String(page.scrollWidth - window.innerWidth);
  b.dataset.wideTables = wide.join(" | ") || "none";
});
</script>
"""


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("width", [800, 520])
def test_report_fits_a_narrow_window(
    run: Path, tmp_path: Path, report: tuple[Path, str, list[str]], width: int
) -> None:
    """Nothing runs off the right edge: the page never scrolls sideways, and at 800 px the
    gate table (long details) and the Models table fit without their scroll boxes."""
    copy = _copy(run, tmp_path)
    gate = _gate("fail")
    detail = (
        "all 4 tested cells below 0.25 (worst resolution_bits[14..16]: 2/100 fail, upper "
        "0.0616); 160 cells with < 100 cases not shown, e.g. motion=arm_swing (11), "
        "motion=clap (11), motion=drink (10)"
    )
    gate["criteria"].append(  # type: ignore[attr-defined]
        {
            "name": "every 1-way cell below 25%",
            "kind": "cell_upper_bound",
            "model": "toy",
            "threshold": "upper bound < 0.25 in every 1-way cell",
            "value": "worst upper bound 0.06162",
            "passed": False,
            "detail": detail,
        }
    )
    (copy / "gate.json").write_text(json.dumps(gate))
    page = write_report(copy, cases=0)
    page.write_text(page.read_text().replace("</body>", _LAYOUT + "</body>"))
    dom = _chromium(
        page.as_uri(), tmp_path / "profile", "--dump-dom", f"--window-size={width},2000"
    )
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None, dom.stderr[-2000:]
    assert 'data-page-overflow="' in body.group(0), body.group(0)
    overflow = int(re.search(r'data-page-overflow="(-?\d+)"', body.group(0)).group(1))  # type: ignore[union-attr]
    assert overflow <= 0, body.group(0)
    assert 'data-checked="2"' in body.group(0)  # the gate table and the Models table
    if width >= 800:
        assert 'data-wide-tables="none"' in body.group(0), body.group(0)


def test_single_model_run(tmp_path: Path, toy_model_path: Path) -> None:
    cfg = CampaignConfig(
        name="one",
        seed=5,
        cases=64,
        batch_size=64,
        models=(str(toy_model_path),),
        out=str(tmp_path),
        execution=ExecutionConfig(workers=0),
    )
    run_campaign(cfg, stream=None)
    text = write_report(tmp_path / "one", cases=1).read_text()
    assert "count agreement" not in text and "difference of failure rates" not in text
    assert len(re.findall(r'<h3 id="case-', text)) == 1
    assert len(_images(text)) >= 1 + 5 + 1


# -- what the coverage section says beside the gate ----------------------------------
def _coverage_section(text: str) -> str:
    return text[text.index('id="coverage"') : text.index('id="worst"')]


def test_coverage_section_says_which_target_cells_and_gate_use(
    run: Path, report: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    summary = json.loads((run / "coverage" / "summary.json").read_text())
    failing = {m: s["status"]["failing"] for m, s in summary["models"].items()}
    section = _coverage_section(report[1])
    note = re.search(r'<p class="targets">(.*?)</p>', section)
    assert note is not None
    assert "Cell status uses p_target = 0.01, the coverage statistics' target" in note.group(1)
    assert f"<b>{failing['toy']:,}</b> of toy" in note.group(1)
    assert "A release gate judges cells against its own thresholds" in note.group(1)
    # The key number under the banner says which target it counts against.
    assert "cells failing p_target 0.01 (toy)" in report[1]

    copy = _copy(run, tmp_path)
    gate = _gate("pass")
    gate["criteria"].append(  # type: ignore[attr-defined]
        {
            "name": "every cell below 25%",
            "kind": "cell_upper_bound",
            "model": "toy",
            "threshold": "upper bound < 0.25 in every 1-way cell",
            "value": "worst upper bound 0.2",
            "passed": True,
            "detail": "",
        }
    )
    (copy / "gate.json").write_text(json.dumps(gate))
    note = re.search(r'<p class="targets">(.*?)</p>', write_report(copy, cases=0).read_text())
    assert note is not None and note.group(1).endswith(
        "The release gate (PASS) judged cells against its own thresholds instead: every cell "
        "below 25%: upper bound &lt; 0.25 in every 1-way cell."
    )
    (copy / "gate.json").write_text(json.dumps(_gate("fail")))
    note = re.search(r'<p class="targets">(.*?)</p>', write_report(copy, cases=0).read_text())
    assert note is not None and "The release gate (FAIL) has no per-cell criterion" in note.group(1)


def test_coverage_section_gives_the_follow_up_command(
    run: Path, report: tuple[Path, str, list[str]]
) -> None:
    summary = json.loads((run / "coverage" / "summary.json").read_text())
    undecided = {
        m: s["status"]["untested"] + s["status"]["under-tested"]
        for m, s in summary["models"].items()
    }
    assert any(undecided.values())
    section = _coverage_section(report[1])
    assert f"{undecided['toy']:,} of toy" in section
    assert f"<code>highfive run --focus {run}</code>" in section


def test_the_report_reads_only_the_result_files_the_manifest_lists(
    run: Path, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    copy = _copy(run, tmp_path)
    before = re.search(r'id="results".*?</table>', write_report(copy, cases=0).read_text(), re.S)
    # A file no manifest line lists (left by a kill, or dropped in by hand) is no result.
    part = copy / "results" / "model=toy" / "part-000000.parquet"
    table = pq.read_table(part)
    table = table.set_column(
        table.schema.get_field_index("verdict"),
        "verdict",
        pa.array(["error"] * table.num_rows, pa.string()),
    )
    pq.write_table(table, part.with_name("part-000099.parquet"))
    after = re.search(r'id="results".*?</table>', write_report(copy, cases=0).read_text(), re.S)
    assert before is not None and after is not None
    assert after.group(0) == before.group(0)


def _with_summary(run: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of ``run`` (whose coverage ``report`` computed) with summary.json changed."""
    copy = _copy(run, tmp_path)
    file = copy / "coverage" / "summary.json"
    summary = json.loads(file.read_text())
    change(summary)
    file.write_text(json.dumps(summary))
    return copy


def test_coverage_of_an_unfinished_run_is_not_reported_beside_all_results(
    run: Path, report: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    def half(summary: dict[str, Any]) -> None:
        summary["models"]["toy"]["rows"] = CASES // 2  # counted while the run was half done

    copy = _with_summary(run, tmp_path, half)
    with pytest.raises(
        RunDirError, match=r"coverage counted 128 of the run's 256 cases of toy"
    ) as e:
        write_report(copy, cases=0)
    assert "\n" not in str(e.value) and "re-run 'highfive coverage RUN'" in str(e.value)
    assert not (copy / "report.html").exists()


def test_picking_many_cases_takes_no_longer_than_the_cases_there_are() -> None:
    ranked = [RANKED.index("miss"), RANKED.index("pass"), RANKED.index("mixed")]
    scan = Scan(["a"], {}, {"a": np.array(ranked, np.int8)}, {})
    assert pick_cases(scan, 10**18) == [2, 0]


def test_merged_coverage_is_said_to_be_merged(
    run: Path, report: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    def merged(summary: dict[str, Any]) -> None:
        summary["runs"] = [str(tmp_path / run.name), str(tmp_path / run.name) + "-focus"]

    copy = _with_summary(run, tmp_path, merged)
    section = _coverage_section(write_report(copy, cases=0).read_text())
    assert "<b>Merged coverage.</b> The cells below count the cases of 2 runs" in section
    assert f"<code>{copy}-focus</code>" in section


def test_a_merged_coverages_weighted_estimate_is_not_shown_as_the_runs(
    run: Path, report: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    """Coverage of a plain run and its focus follow-up, written into the plain run: its
    report headlined the pair's pooled weighted rate as the run's own ('1.08% weighted
    failure rate' beside '14 failing of 2,048', which is 0.68 %) and said the run's
    cases were not drawn from the whole space. Now the headline and the table are the
    run's own cases; the pooled estimate is said under the table as both runs'."""
    pooled = {"rate": 0.5, "upper": 0.75, "lower": 0.25, "status": "decided"}
    undecided = {"rate": 0.0028, "upper": 1.0, "lower": 0.0, "status": "undecided"}

    def merged(summary: dict[str, Any]) -> None:
        summary["runs"] = [str(tmp_path / run.name), str(tmp_path / run.name) + "-focus"]
        summary["weighting"] = {"overall": {"toy": pooled, "toy_low": undecided}}

    copy = _with_summary(run, tmp_path, merged)
    text = write_report(copy, cases=0).read_text()
    results = RunDir(run).results()
    toy = results[results["model"] == "toy"]
    own = 100 * (toy["verdict"] != "pass").mean()
    assert _kpi(text, "failing cases, toy") == (f"{own:.2f}%", "failing cases, toy")
    before_coverage = text.split('<h2 id="coverage"')[0]  # the coverage is the merge's
    assert "weighted failure rate" not in before_coverage
    assert "not drawn from the whole space" not in before_coverage
    assert (
        "The coverage below is merged from 2 runs; their pooled weighted estimate over the "
        "whole space, of all their cases rather than this run's: toy 50.00% (upper bound "
        "75.00%), toy_low undecided (bounds 0.00% to 100.00%)."
    ) in text  # an estimate whose bound says nothing is not printed as a rate


def test_a_weighted_run_with_merged_coverage_says_its_shares_are_of_the_cases_drawn() -> None:
    from types import SimpleNamespace

    from highfive.reports._sections import RunRates, kpi_cards

    scan = SimpleNamespace(models=["a"], verdicts={"a": {"pass": 3, "miss": 1}}, confusion=None)
    summary = {"runs": ["x", "x-focus"], "weighting": {"overall": {"a": {"rate": 0.01}}}}
    rates = RunRates.of(summary, weighted_run=True)
    assert rates.weighted is None and rates.drawn_only and rates.pooled is not None
    html = kpi_cards({"config": {"cases": 4}}, summary, scan, rates=rates)  # type: ignore[arg-type]
    assert _kpi(html, "failing cases, a") == (
        "25.00%",
        "failing cases, a, of the cases drawn (not weighted)",
    )


# -- the coverage figures say their rule ---------------------------------------------
def _kpi(text: str, label_start: str) -> tuple[str, str]:
    """(value, label) of the key-number card whose label starts with ``label_start``."""
    for v, label in re.findall(r'<div class="v">(.*?)</div><div class="l"[^>]*>(.*?)</div>', text):
        if label.startswith(label_start):
            return v, label
    raise AssertionError(f"no card {label_start!r}")


def test_coverage_card_says_its_rule_or_shows_the_gates_figure(
    run: Path, report: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    summary = json.loads((run / "coverage" / "summary.json").read_text())
    two = summary["models"]["toy"]["coverage"]["by_t"]["2"]
    value, label = _kpi(report[1], "2-way cells")
    assert label == "2-way cells with ≥ 1 case (toy)"
    assert value == f"{100 * two['covered'] / two['cells']:.1f}%"
    assert ">cells with ≥ 1 case</th>" in _coverage_section(report[1])

    # With a gate that judged 2-way coverage, the card shows the gate's figure and rule.
    copy = _copy(run, tmp_path)
    gate = _gate("fail")
    gate["criteria"].append(  # type: ignore[attr-defined]
        {
            "name": "2-way coverage",
            "kind": "coverage",
            "model": "toy",
            "threshold": ">= 95% of 2-way cells with >= 10 cases",
            "value": "70.19%",
            "passed": False,
            "detail": "2-way 70.19% (9,103/12,969 cells)",
        }
    )
    (copy / "gate.json").write_text(json.dumps(gate))
    value, label = _kpi(write_report(copy, cases=0).read_text(), "2-way cells")
    assert (value, label) == ("70.2%", "2-way cells with ≥ 10 cases (toy, gate)")


@pytest.mark.parametrize(
    ("min_cases", "phrase"),
    [(1, "holes are cells with no case."), (10, "holes are cells with fewer than 10 cases.")],
)
def test_holes_are_described_in_plain_words(min_cases: int, phrase: str) -> None:
    from highfive.reports._coverage_sections import coverage_section

    summary = {"p_target": 0.01, "min_cases": min_cases, "models": {}}
    text = coverage_section(summary, [], [], ["toy"])
    assert phrase in text and "case(s)" not in text


def test_the_headline_of_weighted_cases_shows_the_bound_beside_the_estimate() -> None:
    # An importance run whose whole-space bounds are [0, 1] (tiny defensive share) was
    # headlined "0.00% weighted failure rate", its upper bound of 100 % only in a
    # table further down.
    from types import SimpleNamespace

    from highfive.reports._sections import kpi_cards

    scan = SimpleNamespace(models=["kt", "ok"], verdicts={}, confusion=None)
    overall = {
        "kt": {"rate": 1.42e-13, "upper": 1.0, "lower": 0.0, "status": "undecided"},
        "ok": {"rate": 0.0146, "upper": 0.031, "lower": 0.004, "status": "decided"},
    }
    summary = {"confidence": 0.95, "weighting": {"overall": overall}}
    html = kpi_cards({"config": {"cases": 512}}, summary, scan)  # type: ignore[arg-type]
    cards = re.findall(r'<div class="v">(.*?)</div><div class="l"[^>]*>(.*?)</div>', html)
    kt = next((v, label) for v, label in cards if "kt" in label)
    assert "0.00%" not in kt[0] and kt[0] == "undecided", kt
    assert "bounds [0.00%, 100.00%]" in kt[1], kt
    ok = next((v, label) for v, label in cards if "ok" in label)
    assert ok == ("1.46%", "weighted failure rate, ok (95% upper bound 3.10%)"), ok


@pytest.mark.parametrize("weighted", [False, True])
def test_the_agreement_card_of_weighted_cases_says_they_are_the_cases_drawn(
    weighted: bool,
) -> None:
    """An importance run's headline showed 40.82 % count agreement, the share of the
    cases drawn towards failures, beside weighted failure rates; the space's is about
    70 %. The card says whose agreement it is."""
    from types import SimpleNamespace

    from highfive.reports._sections import kpi_cards

    scan = SimpleNamespace(
        models=["a", "b"], verdicts={}, confusion=np.zeros((2, 2)), agree=209, compared=512
    )
    rates = {"rate": 0.3, "upper": 0.5, "lower": 0.1, "status": "decided"}
    summary: dict[str, Any] = {"confidence": 0.95}
    if weighted:
        summary["weighting"] = {"overall": {"a": rates, "b": rates}}
    html = kpi_cards({"config": {"cases": 512}}, summary, scan)  # type: ignore[arg-type]
    cards = dict(
        (label, v)
        for v, label in re.findall(
            r'<div class="v">(.*?)</div><div class="l"[^>]*>(.*?)</div>', html
        )
    )
    label = "count agreement a / b" + (", of the cases drawn (not weighted)" if weighted else "")
    assert cards[label] == "40.82%", cards


def test_a_weighted_rate_above_1_is_shown_inside_its_interval_and_explained() -> None:
    # Horvitz-Thompson: weighted failures over the cell's base mass, unbiased but not
    # bounded by 1. The worst-cells table printed "rate 18.755 | 95% CI 0.000 - 1.000".
    from highfive.reports._coverage_sections import worst_section

    worst = {
        "model": "float",
        "cross": "motion x distractor",
        "label": "motion=point & distractor=run_pump",
        "n": 5,
        "failures": 1,
        "rate": 18.755,
        "ci_low": 3e-10,
        "ci_high": 1.0,
        "upper": 1.0,
        "status": "under-tested",
    }
    summary = {"confidence": 0.95, "worst": [worst], "weighting": {"overall": {}}}
    text = worst_section(summary)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", text)
    rate = cells[4]
    assert "18.755" not in rate and rate.startswith("1.000"), cells
    assert "Horvitz-Thompson" in text and "18.8" in text  # the estimate and why it is capped


_CARDS = """
<script>
window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll(".kpi").forEach(function (card) {
    var box = card.getBoundingClientRect();
    card.querySelectorAll("div").forEach(function (part) {
      var r = part.getBoundingClientRect();
      if (r.right > box.right + 1 || part.scrollWidth > part.clientWidth + 1)
        out.push(part.textContent.slice(0, 30));
    });
  });
  document.body.dataset.cards = String(document.querySelectorAll(".kpi").length);
  document.body.dataset.overflowing = out.join(" | ") || "none";
});
</script>
"""

LONG_ID = "a_very_long_model_identifier_that_keeps_going_" + "and_going_" * 5 + "1234"  # 100


@pytest.mark.browser
@needs_chromium
def test_long_model_ids_stay_inside_their_cards(tmp_path: Path, toy_model_path: Path) -> None:
    # A model id of 100 characters ran out of its headline card, over the next card
    # and off the page.
    second = _second_model(toy_model_path, tmp_path / "toy_low.onnx", bias=-5.0)
    cfg = CampaignConfig(
        name="long",
        seed=3,
        cases=64,
        batch_size=64,
        models=({"counter": str(toy_model_path), "id": LONG_ID}, str(second)),  # type: ignore[arg-type]
        out=str(tmp_path / "runs"),
        execution=ExecutionConfig(workers=0),
    )
    run_campaign(cfg, stream=None)
    page = write_report(tmp_path / "runs" / "long", cases=0)
    text = page.read_text()
    page.write_text(text.replace("</body>", _CARDS + "</body>"))
    dom = _chromium(page.as_uri(), tmp_path / "profile", "--dump-dom", "--window-size=1280,2000")
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None, dom.stderr[-2000:]
    assert 'data-overflowing="none"' in body.group(0), body.group(0)
    assert 'data-cards="' in body.group(0) and 'data-cards="0"' not in body.group(0)
    assert f'title="failing cases, {LONG_ID}"' in text  # the whole id, on hovering
