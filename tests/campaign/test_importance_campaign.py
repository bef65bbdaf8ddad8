"""Importance-sampled campaigns: cross-entropy stages, weights in the results, weighted
coverage, replay and resume; with a synthetic counter whose failures are known."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from highfive.coverage import analyse_run, plan_focus
from highfive.generators import Proposal
from highfive.harness import RunDir, replay
from highfive.harness._importance import stage_starts
from highfive.harness.cli import main

pytestmark = pytest.mark.slow

PLANTED = '''
"""Perfect, except that it misses every high-five where peak_accel >= 4 * 10**0.8 and
duration >= 16.8 s: the top fifth of both dimensions' unit intervals (base mass 0.04)."""

__version__ = "1.0"


def planted(trace):
    p = trace.params
    if p["peak_accel"] >= 4 * 10**0.8 and p["duration"] >= 16.8:
        return []
    return [(e.centre, 0.95) for e in trace.events if e.is_high_five]
'''
TRUTH = 0.04  # every case in the region has a high-five (motion fixed below)


def _campaign(tmp_path: Path, name: str = "is", importance: str = "stages = 4") -> Path:
    (tmp_path / "planted.py").write_text(PLANTED)
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\nseed = 3\ncases = 512\nsampler = "importance"\nbatch_size = 64\n'
        f'models = ["planted.py:planted"]\nout = "{tmp_path / "runs"}"\n'
        "keep_failures = false\n"
        '[space]\nmotion = "high_five"\ndistractor = "none"\nbackground = "none"\n'
        f"[importance]\n{importance}\n[execution]\nworkers = 0\n"
    )
    return path


def _rows(run: Path) -> pd.DataFrame:
    frame = RunDir(run).results(["case_id", "weight", "verdict"])
    return frame.sort_values("case_id").reset_index(drop=True)


def test_stages_find_failures_and_every_case_counts(tmp_path: Path) -> None:
    assert main(["run", str(_campaign(tmp_path))]) == 0
    run = tmp_path / "runs" / "is"
    record = RunDir(run).read_campaign()
    assert len(record["proposals"]) == 4
    rows = _rows(run)
    stage = rows["case_id"] // 128
    assert np.all(rows.loc[stage == 0, "weight"] == 1.0)  # stage 0: the base itself
    assert rows["weight"].max() <= 1 / 0.1 + 1e-9  # the defensive mixture's bound
    failing = (rows["verdict"] != "pass").groupby(stage).mean()
    assert failing.iloc[1:].min() > 2 * failing.iloc[0]  # later stages find more

    cov = analyse_run(run, regions=False)
    overall = cov.summary["weighting"]["overall"]["planted"]
    assert overall["status"] == "decided"
    assert overall["lower"] <= TRUTH <= overall["upper"]
    assert {"rate_sn", "ess"} <= set(cov.cells.columns)
    assert main(["coverage", str(run)]) == 0  # the printed report of weighted cells
    assert replay(run, 300).matches_stored  # a stage-2 case, from its recorded proposal
    follow = plan_focus(run, cases=16)  # a follow-up samples boxes, with no proposals
    assert follow.sampler == "focus" and not follow.importance and follow.focus


def test_a_resumed_campaign_refits_nothing_and_matches(tmp_path: Path) -> None:
    path = _campaign(tmp_path)
    assert main(["run", str(path)]) == 0
    run = tmp_path / "runs" / "is"
    whole = _rows(run)
    manifest = run / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:3]))  # stage 0 and half of stage 1 done
    record = json.loads((run / "campaign.json").read_text())
    record["status"] = "interrupted"
    (run / "campaign.json").write_text(json.dumps(record))
    assert main(["run", str(path), "--resume"]) == 0
    pd.testing.assert_frame_equal(_rows(run), whole)


def test_a_run_recorded_with_an_empty_last_stage_still_replays_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3 stages over 4 batches of 128 left stage 2 empty (ceil(4 / 3) = 2 batches each);
    # new campaigns are refused, but runs recorded so by earlier versions keep their
    # stage starts.
    import highfive.harness._campaign as campaign

    path = _campaign(tmp_path, importance="stages = 3")
    path.write_text(path.read_text().replace("batch_size = 64", "batch_size = 128"))
    assert main(["run", str(path)]) == 2  # refused now, nothing written
    assert not (tmp_path / "runs").exists()
    monkeypatch.setattr(campaign, "check_stage_layout", lambda *a: None)  # as it once ran
    assert main(["run", str(path)]) == 0
    monkeypatch.undo()
    run = tmp_path / "runs" / "is"
    assert stage_starts(RunDir(run).read_campaign()["config"]["importance"], 512, 128) == (
        0,
        256,
        512,
    )
    whole = _rows(run)
    assert len(RunDir(run).read_campaign()["proposals"]) == 3
    assert replay(run, 511).matches_stored  # drawn from proposal 1, as recorded
    manifest = run / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:3]))  # the last batch of stage 1 lost
    record = json.loads((run / "campaign.json").read_text())
    record["status"] = "interrupted"
    (run / "campaign.json").write_text(json.dumps(record))
    assert main(["run", str(path), "--resume"]) == 0
    pd.testing.assert_frame_equal(_rows(run), whole)


@pytest.mark.parametrize(
    ("importance", "match"),
    [
        ("defensive = 0", "importance.defensive: 0 must be a number in (0, 1]"),
        ("stages = 9", "importance.stages: 9 stages need at least 9 batches"),
        # a MemoryError traceback, or the process killed, and campaign.json left "running"
        ("bins = 100000000", "importance.bins: 100,000,000 must be at most 1,000 per dimension"),
        ("warp = 2", "unknown key 'importance.warp'"),
        ("final = 1", "importance.final: 1 leaves no cases for the cross-entropy stages"),
        ("final = -0.5", "importance.final: -0.5 must be a number in [0, 1]"),
        ('proposal = "nope.json"', "nope.json': it cannot be read (No such file or directory)"),
        ("proposal = { probs = [[1, 1]] }", "proposal.probs: 1 dimensions, the parameter space"),
    ],
)
def test_bad_importance_settings_exit_2_and_write_nothing(
    tmp_path: Path, importance: str, match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(_campaign(tmp_path, importance=importance))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err, err
    assert not (tmp_path / "runs").exists()


def test_an_importance_table_needs_the_importance_sampler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _campaign(tmp_path)
    path.write_text(path.read_text().replace('sampler = "importance"', 'sampler = "random"'))
    assert main(["run", str(path)]) == 2
    assert "the table [importance] goes with sampler" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("settings", "cases", "batch", "starts"),
    [
        ({"stages": 4, "final": 0.0}, 512, 64, (0, 128, 256, 384)),  # equal stages
        ({"stages": 4, "final": 0.5}, 512, 64, (0, 64, 192, 256)),  # 4 of 8 batches last
        ({"stages": 4, "final": 0.85}, 200_000, 1, (0, 10_000, 20_000, 30_000)),
        ({"stages": 4, "final": 0.99}, 512, 64, (0, 64, 128, 192)),  # one batch per pilot
        ({"stages": 1, "final": 0.85}, 512, 64, (0,)),
    ],
)
def test_final_share_gives_short_pilot_stages_and_a_long_last_stage(
    settings: dict[str, float], cases: int, batch: int, starts: tuple[int, ...]
) -> None:
    assert stage_starts(settings, cases, batch) == starts


def test_a_final_share_runs_its_stages_where_it_says(tmp_path: Path) -> None:
    assert main(["run", str(_campaign(tmp_path, importance="stages = 3\nfinal = 0.75"))]) == 0
    run = tmp_path / "runs" / "is"
    assert len(RunDir(run).read_campaign()["proposals"]) == 3
    rows = _rows(run)
    assert np.all(rows.loc[rows["case_id"] < 64, "weight"] == 1.0)  # stage 0: the base
    # the last stage (cases 128 on) is drawn from a fitted proposal: weights differ from 1
    assert np.any(rows.loc[rows["case_id"] >= 128, "weight"] != 1.0)


def test_the_gate_refuses_weighted_cases_that_it_would_count_as_plain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The gate counted an importance run's cases as draws of the whole space: a
    # failure_rate criterion passed with upper bound 0.0045 on a counter failing 1.46 %.
    assert main(["run", str(_campaign(tmp_path, importance="stages = 2"))]) == 0
    run = tmp_path / "runs" / "is"
    gate = tmp_path / "gate.toml"
    gate.write_text('[[criteria]]\nkind = "failure_rate"\nname = "overall"\np_max = 0.01\n')
    capsys.readouterr()
    assert main(["gate", str(run), "--gate", str(gate)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "drew its cases from a learnt proposal (sampler 'importance')" in err
    assert "criterion 'overall' counts cases" in err
    assert not (run / "gate.json").exists() and not (run / "junit.xml").exists()
    # a count of cases per cell, wherever they were drawn, is still judged
    gate.write_text('[[criteria]]\nkind = "coverage"\nname = "1-way"\nmin = 0.5\nways = [1]\n')
    assert main(["gate", str(run), "--gate", str(gate)]) == 0
    # Nor does a diff count them as plain: a worse counter got 122 "improvements" over
    # an importance run (the proposal draws some parts of a cell more than others).
    shutil.copytree(run, tmp_path / "copy")
    capsys.readouterr()
    assert main(["diff", str(tmp_path / "copy"), str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "it drew its cases from a learnt proposal" in err, err


def test_the_report_of_weighted_cases_shows_the_weighted_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The report showed the cases' plain share and Clopper-Pearson bound as if they
    # were draws of the whole space, and never said the cases were weighted.
    assert main(["run", str(_campaign(tmp_path, importance="stages = 2"))]) == 0
    # The run's table of verdicts showed the plain share as "fail %" without a word.
    assert "shares of the cases drawn, not weighted" in capsys.readouterr().out
    run = tmp_path / "runs" / "is"
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    overall = json.loads((run / "coverage" / "summary.json").read_text())["weighting"]["overall"]
    rate = overall["planted"]["rate"]
    plain = RunDir(run).results(["verdict"])["verdict"].ne("pass").mean()
    assert abs(rate - plain) > 0.005  # the weighted estimate differs from the plain share
    assert "weighted failure rate" in page and f"{100 * rate:.2f}%" in page
    assert "Clopper-Pearson at 95% over all cases" not in page
    # The worst cells' intervals are the cells' own weighted ones: the table showed the
    # plain counts' Clopper-Pearson interval, which missed the row's own weighted rate.
    worst = re.search(r'<h2 id="worst">.*?</table>', page, re.S)
    assert worst is not None
    shown = re.findall(r"<td[^>]*>([\d.]+) – ([\d.]+)</td>", worst.group(0))
    cells = pd.read_parquet(run / "coverage" / "cells.parquet")
    stored = {
        (f"{a:.3f}", f"{b:.3f}") for a, b in zip(cells["ci_low"], cells["ci_high"], strict=True)
    }
    assert shown and set(shown) <= stored, (shown, sorted(stored)[:5])


KNOWN_TRUTH = Path(__file__).parents[2] / "examples" / "counters" / "known_truth.py"
UNEVEN = [0.9700254403409843, 0.6570492166747051, 0.9603285946911169, 0.6650346592477725]
UNEVEN += [0.4532143328580174, 0.10985737186416711, 0.20825575277630692, 0.22186022755154733]
"""Bin weights whose division by their sum, repeated, changes the last bit of some
entries (found by search): a proposal that re-normalised what it read back drew
other points than the one recorded."""


def _known_truth_campaign(tmp_path: Path, importance: str, cases: int = 96) -> Path:
    path = tmp_path / "kt.toml"
    path.write_text(
        f'name = "kt"\nseed = 9\ncases = {cases}\nsampler = "importance"\nbatch_size = 16\n'
        f'models = [{{counter = "{KNOWN_TRUTH}:KnownTruth", id = "kt"}}]\n'
        f'out = "{tmp_path / "runs"}"\n[importance]\n{importance}\n[execution]\nworkers = 0\n'
    )
    return path


def test_every_case_of_every_stage_replays_and_resumes_identically(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"probs": [UNEVEN] * 36, "defensive": 0.1}))
    path = _known_truth_campaign(tmp_path, 'stages = 3\nbins = 8\nproposal = "p.json"')
    assert main(["run", str(path)]) == 0
    run = tmp_path / "runs" / "kt"
    record = RunDir(run).read_campaign()
    assert len(record["proposals"]) == 3
    # what campaign.json records reads back bit for bit
    for raw in record["proposals"]:
        assert Proposal.from_dict(raw).to_dict() == raw
    different = [case for case in range(96) if not replay(run, case).matches_stored]
    assert different == []
    whole = RunDir(run).results(["case_id", "duration", "verdict"]).sort_values("case_id")
    manifest = run / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:3]))  # killed in stage 1, its proposal recorded
    record["status"] = "interrupted"
    (run / "campaign.json").write_text(json.dumps(record))
    assert main(["run", str(path), "--resume"]) == 0
    again = RunDir(run).results(["case_id", "duration", "verdict"]).sort_values("case_id")
    pd.testing.assert_frame_equal(again.reset_index(drop=True), whole.reset_index(drop=True))


def test_the_campaigns_defensive_weight_applies_to_a_proposal_file(tmp_path: Path) -> None:
    rows = [[1.0] * 4 for _ in range(36)]
    rows[0] = [1.0, 1.0, 0.0, 0.0]  # half the bins of the first dimension
    (tmp_path / "p.json").write_text(json.dumps({"probs": rows}))  # no defensive of its own
    importance = 'stages = 2\nbins = 4\nproposal = "p.json"\ndefensive = 0.5'
    assert main(["run", str(_known_truth_campaign(tmp_path, importance, cases=64))]) == 0
    run = tmp_path / "runs" / "kt"
    record = RunDir(run).read_campaign()
    assert record["config"]["importance"]["defensive"] == 0.5
    assert record["config"]["importance"]["proposal"]["defensive"] == 0.5
    assert [p["defensive"] for p in record["proposals"]] == [0.5, 0.5]
    weights = RunDir(run).results(["weight"])["weight"]
    assert weights.max() <= 1 / 0.5 + 1e-12  # the campaign's bound, not 1 / 0.1


@pytest.mark.filterwarnings("default")  # the command line, not pytest, shows this warning
def test_a_defensive_share_too_small_to_bound_anything_is_warned_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # defensive = 1e-6 over 512 cases ran without a word, and every bound was [0, 1].
    assert main(["run", str(_campaign(tmp_path, importance="stages = 1\ndefensive = 1e-6"))]) == 0
    err = capsys.readouterr().err
    assert (
        "warning: importance.defensive: 1e-06 with 512 cases: a weighted upper bound cannot "
        "fall below about 3 / (defensive x cases) = 5.86e+03, so no rate of this run can be "
        "bounded; raise defensive (0.1 is the default) or cases"
    ) in err, err


def test_batch_size_changes_rows_only_through_the_stage_starts(tmp_path: Path) -> None:
    # Stages are whole batches, so the batch size moves stage 1 (README, Determinism):
    # rows are identical across batch sizes with the same stage starts, differ from the
    # first moved start on otherwise, and a resume with another batch size is refused.
    runs = {}
    for size in (64, 32, 48):  # starts 0, 128, 256, 384 for 64 and 32; 0, 144, ... for 48
        path = _campaign(tmp_path, name=f"b{size}")
        path.write_text(path.read_text().replace("batch_size = 64", f"batch_size = {size}"))
        assert main(["run", str(path)]) == 0
        frame = RunDir(tmp_path / "runs" / f"b{size}").results(["case_id", "weight", "duration"])
        runs[size] = frame.sort_values("case_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(runs[64], runs[32])
    same = runs[64]["duration"] == runs[48]["duration"]
    assert same[:128].all() and not same[128:].all()
    path = tmp_path / "b32.toml"
    path.write_text(path.read_text().replace('name = "b32"', 'name = "b64"'))
    assert main(["run", str(path), "--resume"]) == 2  # another batch size: refused
