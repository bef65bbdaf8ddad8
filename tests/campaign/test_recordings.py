"""Campaigns of labelled recordings: the same verdicts as the synthetic cases they were
written from, determinism, resume and replay with their files' SHA-256, dask workers,
coverage by metadata, and the BasicMotions recordings end to end."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import math
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from highfive.coverage import analyse_run, diff_runs
from highfive.generators import ConfigError, InvalidParameter, RunDirError
from highfive.harness import (
    CampaignConfig,
    RunDir,
    read_labels,
    replay,
    run_campaign,
    score_count,
)
from highfive.harness.cli import main
from highfive.reports import write_report

from .._helpers import load_module
from .conftest import results

ROOT = Path(__file__).resolve().parents[2]
OUTCOME = ["true_count", "predicted_count", "tp", "fp", "fn", "verdict"]


def _synthetic(tmp_path: Path, toy: Path, cases: int = 24, seed: int = 5) -> Path:
    """A small synthetic run of the toy and the shipped float model (its traces become
    recordings; the toy model fails many)."""
    cfg = CampaignConfig.from_dict(
        {
            "name": f"syn{seed}",
            "seed": seed,
            "cases": cases,
            "sampler": "random",
            "batch_size": 8,
            "models": [str(toy), "float"],
            "out": str(tmp_path / "runs"),
            # Short traces, few of them gapped: the recordings stay small.
            "space": {"sample_rate": [25, 50], "drop_rate": 0.0},
            "execution": {"workers": 0},
        }
    )
    run_campaign(cfg, stream=None)
    return tmp_path / "runs" / f"syn{seed}"


def _write_recordings(run: Path, folder: Path, *, times: bool = True) -> list[int]:
    """Each case of ``run`` as a CSV recording (t in s, x/y/z in g) and a labels file with
    its high-five impact times (or only their count); return the case ids."""
    folder.mkdir(exist_ok=True)
    cases = sorted(set(RunDir(run).results(columns=["case_id"])["case_id"].tolist()))
    rows = []
    for case in cases:
        trace = replay(run, case).trace
        name = f"case-{case:03d}.csv"
        frame = pd.DataFrame(
            {"t": trace.t, **{a: trace.samples[:, i] for i, a in enumerate("xyz")}}
        )
        frame.to_csv(folder / name, index=False, float_format="%.9g")
        impacts = [e.impact for e in trace.events if e.is_high_five and e.impact is not None]
        truth = ";".join(f"{t:.9g}" for t in impacts) if times else str(len(impacts))
        rows.append({"file": name, "high_fives" if times else "count": truth, "kind": "synth"})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    return cases


def _recordings_config(
    tmp_path: Path, folder: Path, toy: Path, name: str = "rec", workers: int = 0
) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\nmodels = ["{toy}", "float"]\nbatch_size = 5\n'
        f'out = "{tmp_path / "runs"}"\n'
        # The files are in g, as stated: a synthetic case need not hold a still second,
        # the only stretch g is inferred from.
        f'[recordings]\nfolder = "{folder.name}"\nmetadata = ["kind"]\nunits = "g"\n'
        f"[execution]\nworkers = {workers}\n"
    )
    return path


def _copy(source: Path, folder: Path) -> Path:
    """A copy of the recordings folder (a test may alter its copy)."""
    folder.mkdir()
    for f in source.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    return folder


@pytest.fixture(scope="module")
def synthetic(
    tmp_path_factory: pytest.TempPathFactory, toy_model_path: Path
) -> tuple[Path, Path, list[int]]:
    """The synthetic run, and its cases written as recordings with their impact times."""
    root = tmp_path_factory.mktemp("recordings")
    run = _synthetic(root, toy_model_path)
    cases = _write_recordings(run, root / "rec")
    return root, run, cases


def test_recorded_cases_reproduce_the_synthetic_verdicts(
    synthetic: tuple[Path, Path, list[int]], tmp_path: Path, toy_model_path: Path
) -> None:
    root, run, cases = synthetic
    (tmp_path / "rec").symlink_to(root / "rec")
    summary = run_campaign(
        CampaignConfig.from_toml(_recordings_config(tmp_path, root / "rec", toy_model_path))
    )
    assert summary.complete and summary.cases == len(cases)
    syn, rec = results(run), results(tmp_path / "runs" / "rec")
    # Case i of the recordings campaign is row i of the labels file: case cases[i].
    names = [f"case-{c:03d}.csv" for c in cases]
    assert rec["recording"].tolist() == names * 2  # sorted by model, then case
    assert (rec["source"] == "recording").all() and (syn["source"] == "synthetic").all()
    assert syn["recording"].isna().all() and (rec["kind"] == "synth").all()
    assert rec["peak_accel"].isna().all()  # parameters of a recorded case are null
    assert rec[OUTCOME].to_dict("records") == syn[OUTCOME].to_dict("records")
    # The windows' probabilities as for the synthetic cases: max_prob and margin were
    # NaN for every recorded case, and the report drew no probability panel.
    # (The margins may differ: a recorded high-five is its impact instant, a synthetic
    # one its whole gesture.)
    assert rec["max_prob"].notna().all() and rec["margin"].notna().all()
    np.testing.assert_allclose(rec["max_prob"], syn["max_prob"], atol=1e-4)
    # Not every case passes, or the comparison would prove little.
    assert set(syn["verdict"]) - {"pass"}, syn["verdict"].value_counts()


def test_a_count_alone_is_judged_by_counts(
    synthetic: tuple[Path, Path, list[int]], tmp_path: Path, toy_model_path: Path
) -> None:
    _, run, _ = synthetic
    folder = tmp_path / "counts"
    _write_recordings(run, folder, times=False)
    run_campaign(
        CampaignConfig.from_toml(_recordings_config(tmp_path, folder, toy_model_path)), stream=None
    )
    syn, rec = results(run), results(tmp_path / "runs" / "rec")
    expected = [
        score_count(t, p).verdict
        for t, p in zip(syn["true_count"], syn["predicted_count"], strict=True)
    ]
    assert rec["verdict"].tolist() == expected
    assert rec["predicted_count"].tolist() == syn["predicted_count"].tolist()
    assert (rec["duplicates"] == 0).all() and not rec["verdict"].isin(["mixed"]).any()


@pytest.mark.parametrize(
    ("true", "counted", "verdict", "tp", "fp", "fn"),
    [
        (0, 0, "pass", 0, 0, 0),
        (2, 2, "pass", 2, 0, 0),
        (3, 1, "miss", 1, 0, 2),
        (1, 3, "false_positive", 1, 2, 0),
        (0, 1, "false_positive", 0, 1, 0),
    ],
)
def test_score_count(true: int, counted: int, verdict: str, tp: int, fp: int, fn: int) -> None:
    s = score_count(true, counted)
    assert (s.verdict, s.tp, s.fp, s.fn, s.duplicates) == (verdict, tp, fp, fn, 0)
    assert s.count_error == counted - true


def test_determinism_resume_and_a_changed_recording(
    synthetic: tuple[Path, Path, list[int]], tmp_path: Path, toy_model_path: Path
) -> None:
    folder = _copy(synthetic[0] / "rec", tmp_path / "rec")
    cfg = CampaignConfig.from_toml(_recordings_config(tmp_path, folder, toy_model_path))
    run_campaign(cfg, stream=None)
    run_campaign(cfg.with_overrides(name="again"), stream=None)
    first, again = results(tmp_path / "runs" / "rec"), results(tmp_path / "runs" / "again")
    pd.testing.assert_frame_equal(first, again)
    record = RunDir(tmp_path / "runs" / "rec").read_campaign()
    files = record["identity"]["recording_files"]
    assert [f["file"] for f in files] == first["recording"].drop_duplicates().tolist()
    assert len(files) == first["case_id"].nunique()
    assert all(len(f["sha256"]) == 64 for f in files)

    # Interrupted after its first batch: resume completes it to the same rows.
    run = RunDir(tmp_path / "runs" / "again")
    lines = run.manifest.read_text().splitlines(keepends=True)
    run.manifest.write_text(lines[0])
    run.write_campaign({**run.read_campaign(), "status": "running"})
    assert run_campaign(cfg.with_overrides(name="again"), resume=True, stream=None).complete
    pd.testing.assert_frame_equal(first, results(run.path))

    # A recording altered since: resume refuses, naming it; replay refuses its case.
    target = folder / files[1]["file"]
    original = target.read_text()
    target.write_text(original.replace("0.", "0.0", 1))
    complete = run.manifest.read_text()
    run.manifest.write_text(lines[0])
    with pytest.raises(RunDirError, match=rf"recording {files[1]['file']} changed since"):
        run_campaign(cfg.with_overrides(name="again"), resume=True, stream=None)
    run.manifest.write_text(complete)
    with pytest.raises(RunDirError, match=rf"recording {files[1]['file']} changed since"):
        replay(run.path, 1)
    # Every other case replays: it needs its own file alone. Replay refused them all,
    # and after a label was fixed or another recording removed, every case of the run.
    assert replay(run.path, 0).matches_stored
    target.write_text(original)
    labels = (folder / "labels.csv").read_text().splitlines(keepends=True)
    (folder / "labels.csv").write_text("".join([labels[0], labels[2], labels[1], *labels[3:]]))
    (folder / files[2]["file"]).unlink()
    for case in (0, 1):  # judged by the labels the run recorded
        again = replay(run.path, case)
        assert again.matches_stored and not again.not_compared()
    with pytest.raises(
        InvalidParameter, match=rf"case 2 is the recording {files[2]['file']}, which is not in '"
    ):
        replay(run.path, 2)
    # Resume still needs them all, as the run had them.
    run.manifest.write_text(lines[0])
    with pytest.raises(InvalidParameter, match=rf"'{files[2]['file']}' does not exist in"):
        run_campaign(cfg.with_overrides(name="again"), resume=True, stream=None)


def test_a_run_of_recordings_moved_with_its_campaign_folder_replays(
    synthetic: tuple[Path, Path, list[int]], tmp_path: Path, toy_model_path: Path
) -> None:
    """campaign.json holds the campaign folder's absolute path: a project moved or
    copied elsewhere (a second clone, a CI artefact) had no case it could replay."""
    old = tmp_path / "old"
    old.mkdir()
    folder = _copy(synthetic[0] / "rec", old / "rec")
    cfg = CampaignConfig.from_toml(_recordings_config(old, folder, toy_model_path))
    run_campaign(cfg, stream=None)
    shutil.move(old, tmp_path / "new")
    again = replay(tmp_path / "new" / "runs" / "rec", 3)
    assert again.matches_stored and not again.not_compared()


def test_replay_of_a_recorded_case_matches_its_row(
    synthetic: tuple[Path, Path, list[int]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    toy_model_path: Path,
) -> None:
    root, _, cases = synthetic
    (tmp_path / "rec").symlink_to(root / "rec")
    run_campaign(
        CampaignConfig.from_toml(_recordings_config(tmp_path, root / "rec", toy_model_path)),
        stream=None,
    )
    run = tmp_path / "runs" / "rec"
    assert main(["replay", str(run), "3"]) == 0
    out = capsys.readouterr().out
    assert f"(recording case-{cases[3]:03d}.csv)" in out
    assert "identical to the campaign's stored rows" in out
    # A run made before recorded cases kept their windows' probabilities stored NaN
    # there: that is no difference of the case; any other column still is.
    again = replay(run, 3)
    # ...and its plot has each model's probability panel (it had none for recordings).
    assert all(r is not None and r.probs.size > 0 for r in again.results.values())
    old = {m: {**row, "max_prob": math.nan, "margin": math.nan} for m, row in again.stored.items()}
    assert dataclasses.replace(again, stored=old).matches_stored
    wrong = {m: {**row, "predicted_count": 99} for m, row in old.items()}
    assert set(dataclasses.replace(again, stored=wrong).differing()) == set(old)
    assert main(["shrink", str(run), "3"]) == 2
    assert "it has no parameters" in capsys.readouterr().err
    # Its cells are label values: no follow-up campaign is offered or planned.
    assert not any("--focus" in line for line in analyse_run(run).lines())
    assert main(["run", "--focus", str(run)]) == 2
    assert "is a campaign of recordings" in capsys.readouterr().err
    # Nor does its coverage merge with a synthetic run's (label values against bins).
    with pytest.raises(RunDirError, match=r"cannot merge coverage of a campaign of recordings"):
        analyse_run([synthetic[1], run])


def test_dask_workers_get_the_recordings_bytes(
    synthetic: tuple[Path, Path, list[int]],
    tmp_path: Path,
    toy_model_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An embedded cluster gives the rows that running in this process gives."""
    root, _, _ = synthetic
    (tmp_path / "rec").symlink_to(root / "rec")
    local = _recordings_config(tmp_path, root / "rec", toy_model_path, name="local")
    dask = _recordings_config(tmp_path, root / "rec", toy_model_path, name="dask", workers=1)
    run_campaign(CampaignConfig.from_toml(local), stream=None)
    run_campaign(CampaignConfig.from_toml(dask), stream=None)
    pd.testing.assert_frame_equal(
        results(tmp_path / "runs" / "local"), results(tmp_path / "runs" / "dask")
    )
    # The same recordings are the same cases: a diff pairs them, coverage will not count
    # them twice.
    runs = [tmp_path / "runs" / "local", tmp_path / "runs" / "dask"]
    assert main(["diff", *map(str, runs), "--ways", "1"]) == 0  # one binned column
    assert "paired on the 24 cases both runs share" in capsys.readouterr().out
    with pytest.raises(RunDirError, match=r"recording 'case-\d+.csv' \(sha256 \w+...\) is in both"):
        analyse_run(runs)


@pytest.mark.parametrize("labels", ["reordered", "a subset", "the rest"])
def test_recordings_in_two_runs_are_one_case_whatever_their_labels_files(
    labels: str,
    synthetic: tuple[Path, Path, list[int]],
    tmp_path: Path,
    toy_model_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Only an identical labels file was caught: the same recordings reordered, or a
    # subset of them, merged into coverage counted twice (160 cases of 80 files). And
    # runs of different recordings, binned by their own label values (here the files
    # themselves), could not merge at all, though the README says they do.
    whole = _copy(synthetic[0] / "rec", tmp_path / "rec")
    other = _copy(synthetic[0] / "rec", tmp_path / "other")
    header, *rows = (other / "labels.csv").read_text().splitlines()
    if labels == "the rest":  # two runs of different recordings: half and half
        (whole / "labels.csv").write_text("\n".join([header, *rows[1::2]]) + "\n")
    if labels == "reordered":  # every third recording labelled without its high-fives:
        # the float model then fails some recordings and passes others (in both runs)
        rows = [re.sub(r",[^,]+,", ",,", r) if i % 3 == 0 else r for i, r in enumerate(rows)]
        (whole / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    rows = rows[::-1] if labels == "reordered" else rows[::2]
    (other / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    for folder in (whole, other):
        config = _recordings_config(tmp_path, folder, toy_model_path, name=folder.name)
        run_campaign(CampaignConfig.from_toml(config), stream=None)
    runs = [tmp_path / "runs" / "rec", tmp_path / "runs" / "other"]
    if labels == "the rest":
        merged = analyse_run(runs)
        each = [analyse_run(r) for r in runs]
        assert merged.summary["models"]["toy"]["rows"] == sum(
            e.summary["models"]["toy"]["rows"] for e in each
        )
        one_way = merged.cells[merged.cells["t"] == 1]
        assert int(one_way[one_way["model"] == "toy"]["n"].sum()) == len(rows) + len(
            (whole / "labels.csv").read_text().splitlines()[1:]
        )
        return
    with pytest.raises(RunDirError, match=r"recording 'case-\d+.csv' \(sha256 \w+...\) is in both"):
        analyse_run(runs)
    if labels == "reordered":  # the same files: a diff pairs each with itself
        assert main(["diff", *map(str, runs), "--ways", "1"]) == 0
        assert f"paired on the {len(rows)} cases both runs share" in capsys.readouterr().out
        # Each recording beside itself: B's rows were renumbered but left in B's order,
        # so a failure was compared with another recording's verdict, in A's cells.
        d = diff_runs(*runs, model="float", ways=[1])
        assert d.paired and 0 < d.overall["failures_a"] < len(rows)
        assert (d.overall["b"], d.overall["c"]) == (0, 0)
        assert (d.cells["failures_a"] == d.cells["failures_b"]).all()
        assert (d.cells["b"] == 0).all() and (d.cells["c"] == 0).all()


def test_diff_pairs_runs_of_the_same_files_whatever_their_seed_and_names_relabelled_ones(
    synthetic: tuple[Path, Path, list[int]], tmp_path: Path, toy_model_path: Path
) -> None:
    # A seed does nothing in a campaign of recordings, yet it stopped a diff from pairing
    # two runs of the same files; and a recording relabelled in one run changed its
    # verdicts, "an improvement of the same model", without a word about the labels.
    _copy(synthetic[0] / "rec", tmp_path / "rec")
    other = _copy(synthetic[0] / "rec", tmp_path / "relabelled")
    header, first, *rest = (other / "labels.csv").read_text().splitlines()
    name, _, kind = first.split(",")
    (other / "labels.csv").write_text("\n".join([header, f"{name},0.5,{kind}", *rest]) + "\n")
    seeded = _recordings_config(tmp_path, tmp_path / "rec", toy_model_path, name="seeded")
    seeded.write_text("seed = 7\n" + seeded.read_text())
    # The same files read with another time unit: paired without a word, though a
    # reading in other units moves the detections.
    timed = _recordings_config(tmp_path, tmp_path / "rec", toy_model_path, name="timed")
    timed.write_text(timed.read_text().replace('units = "g"', 'units = "g"\ntime_unit = "s"'))
    for config in (
        _recordings_config(tmp_path, tmp_path / "rec", toy_model_path),
        seeded,
        _recordings_config(tmp_path, other, toy_model_path, name="relabelled"),
        timed,
    ):
        run_campaign(CampaignConfig.from_toml(config), stream=None)
    runs = tmp_path / "runs"
    d = diff_runs(runs / "rec", runs / "seeded", model="toy", ways=[1])
    assert d.paired and "same recordings, by SHA-256" in d.note
    assert "judge differently" not in d.note
    d = diff_runs(runs / "rec", runs / "relabelled", model="toy", ways=[1])
    assert d.paired and re.search(
        rf"judge differently \(the truth of 1 recording\(s\) \('{name}'\) differs in the "
        r"labels files\): a difference may come from the judging, not the counter",
        d.note,
    )
    d = diff_runs(runs / "rec", runs / "timed", model="toy", ways=[1])
    assert d.paired and "judge differently (recordings.time_unit auto in A, s in B)" in d.note
    # Two runs that each hold one recording twice (made before a run refused that):
    # which copy is which cannot be told, so they are not paired by row position.
    for run in ("rec", "seeded"):
        record = json.loads((runs / run / "campaign.json").read_text())
        files = record["identity"]["recording_files"]
        files[1]["sha256"] = files[0]["sha256"]
        (runs / run / "campaign.json").write_text(json.dumps(record))
    d = diff_runs(runs / "rec", runs / "seeded", model="toy", ways=[1])
    assert not d.paired and "a run holds the same recording (SHA-256) twice" in d.note


@pytest.mark.parametrize("second", ["columns reordered", "one value each", "another column"])
def test_coverage_merges_runs_of_recordings_that_bin_the_same_label_columns(
    second: str, synthetic: tuple[Path, Path, list[int]], tmp_path: Path, toy_model_path: Path
) -> None:
    # Refused, blaming values found in one run only (which a merge allows): metadata
    # listed in another order, and a run whose every column holds one value (binned by
    # recording as well) beside one binned by those columns.
    rows = pd.read_csv(synthetic[0] / "rec" / "labels.csv", keep_default_na=False)
    half = len(rows) // 2
    first = rows.iloc[:half].assign(who=["alice", "bob"] * (half // 2), hand=["left"] * half)[
        ["file", "high_fives", "who", "hand"]
    ]
    other = rows.iloc[half:]
    if second == "columns reordered":
        other = other.assign(hand=["right"] * len(other), who=["carol", "bob"] * (len(other) // 2))
        columns = ["hand", "who"]
    elif second == "one value each":
        other = other.assign(who="carol", hand="left")
        columns = ["who", "hand"]
    else:
        other = other.assign(who="carol", arm="long")
        columns = ["who", "arm"]
    runs = []
    for name, frame, meta in (("a", first, ["who", "hand"]), ("b", other, columns)):
        folder = _copy(synthetic[0] / "rec", tmp_path / name)
        frame[["file", "high_fives", *meta]].to_csv(folder / "labels.csv", index=False)
        config = _recordings_config(tmp_path, folder, toy_model_path, name=name)
        config.write_text(config.read_text().replace('["kind"]', json.dumps(meta)))
        runs.append(Path(run_campaign(CampaignConfig.from_toml(config), stream=None).run_dir))
    if second == "another column":
        with pytest.raises(
            ConfigError,
            match=r"^cannot merge coverage: the runs of recordings bin different label columns "
            r"\(who, hand in .*a'; recording, who, arm in .*b'\); runs of recordings compare "
            r"when they bin the same label columns",
        ):
            analyse_run(runs)
        with pytest.raises(
            ConfigError, match=r"^cannot diff: the runs of recordings bin different label columns"
        ):
            diff_runs(*runs, model="toy", ways=[1])
        return
    if second == "columns reordered":  # a run without motion: its report says no motion
        text = write_report(runs[1], tmp_path / "r.html", cases=0).read_text()
        two_way = re.search(r"<h3>2-way crosses</h3><p>(.*?)</p>", text)
        assert two_way is not None and "motion" not in two_way.group(1)
    merged = analyse_run(runs)
    space = merged.counts.binning.space
    assert list(space.names) == ["who", "hand"]  # no recording: who holds several values
    want = ["alice", "bob", "carol"]
    assert list(space["who"].choices) == want
    one_way = merged.cells[(merged.cells["t"] == 1) & (merged.cells["model"] == "toy")]
    who = one_way[one_way["label"].str.startswith("who=")]
    assert int(who["n"].sum()) == len(rows)  # each case once
    # diff bins them as coverage does, by the values of both: it refused them, their
    # "parameter spaces" differing in who.
    d = diff_runs(*runs, model="toy", ways=[1])
    assert not d.paired  # other files: Fisher's exact test, cell by cell
    by_who = d.cells[d.cells["label"].str.startswith("who=")].set_index("label")
    assert int(by_who["n_a"].sum()) == half and int(by_who["n_b"].sum()) == len(rows) - half
    assert by_who.loc["who=alice", "n_b"] == 0 and by_who.loc["who=carol", "n_a"] == 0


def test_a_refused_resume_names_the_setting_that_differs(
    recorded: Path, tmp_path: Path, toy_model_path: Path
) -> None:
    # The whole [recordings] table was shown on both sides, cut off after 57 characters,
    # before the key that differed.
    config = CampaignConfig.from_toml(
        _recordings_config(recorded.parents[1], recorded.parents[1] / "rec", toy_model_path)
    )
    assert config.recordings is not None
    config = replace(config, recordings=replace(config.recordings, time_unit="s"))
    with pytest.raises(
        RunDirError,
        match=r"belongs to another configuration \(differs in recordings.time_unit: the run "
        r'has "auto", this configuration "s"\); resume refuses',
    ):
        run_campaign(config, resume=True, stream=None)


@pytest.fixture(scope="module")
def recorded(
    synthetic: tuple[Path, Path, list[int]],
    tmp_path_factory: pytest.TempPathFactory,
    toy_model_path: Path,
) -> Path:
    """A finished campaign of the synthetic recordings (one metadata column, kind: one
    binned dimension), for the commands that read a run."""
    base = tmp_path_factory.mktemp("recorded")
    (base / "rec").symlink_to(synthetic[0] / "rec")
    cfg = CampaignConfig.from_toml(_recordings_config(base, synthetic[0] / "rec", toy_model_path))
    return Path(run_campaign(cfg, stream=None).run_dir)


def test_diff_of_recordings_compares_the_crosses_there_are(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One binned dimension has no 2-way cross: without --ways a diff compares the
    1-way cells (as coverage does); --ways 2 is still refused."""
    assert main(["diff", str(recorded)]) == 0
    out = capsys.readouterr().out
    assert "paired on 24 cases of one run" in out and "regressions (B worse):" in out
    assert main(["diff", str(recorded), "--ways", "2"]) == 2
    assert capsys.readouterr().err == (
        "error: --ways: 2 must be a whole number from 1 to 1 (the number of binned dimensions)\n"
    )


def test_report_of_recordings_describes_the_recordings(recorded: Path, tmp_path: Path) -> None:
    """The report offers no follow-up campaign (there is none for label cells) and gives
    the recordings, not a sampler, seed and space the run never used."""
    text = write_report(recorded, tmp_path / "r.html", cases=0).read_text()
    assert "--focus" not in text
    note = re.search(r"<p>Undecided cells \(.*?</p>", text)
    assert note is not None and "record more of the under-tested ones" in note.group(0)
    campaign = re.search(r'<h2 id="campaign">.*?</table>', text, re.S)
    assert campaign is not None
    facts = dict(re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", campaign.group(0)))
    assert facts["recordings folder"] == str(recorded.parents[1] / "rec")
    assert facts["labels file"] == "labels.csv"
    assert facts["recordings"] == "24" and facts["metadata"] == "kind"
    assert not {"sampler", "seed", "space"} & set(facts)
    assert "the whole default space" not in text
    # Its failing cases were said to be "regenerated bit-identically from the campaign's
    # seed", and drawn without the windows' probabilities the caption promises.
    text = write_report(recorded, tmp_path / "c.html", cases=2).read_text()
    assert "campaign's seed" not in text and "read again from its recording" in text
    assert "each model's window probabilities" in text


def test_labels_checked_whole_before_any_case_runs(
    synthetic: tuple[Path, Path, list[int]], tmp_path: Path, toy_model_path: Path
) -> None:
    folder = _copy(synthetic[0] / "rec", tmp_path / "rec")
    labels = (folder / "labels.csv").read_text().splitlines()
    labels[-1] = labels[-1].replace("case-", "gone-")  # the last row names no file
    (folder / "labels.csv").write_text("\n".join(labels) + "\n")
    with pytest.raises(InvalidParameter, match=rf"labels.csv line {len(labels)}, column file"):
        run_campaign(
            CampaignConfig.from_toml(_recordings_config(tmp_path, folder, toy_model_path)),
            stream=None,
        )
    assert not (tmp_path / "runs").exists()


def test_coverage_of_one_recording_says_why_there_is_no_cell(
    synthetic: tuple[Path, Path, list[int]], tmp_path: Path, toy_model_path: Path
) -> None:
    """A run of one recording was refused as 'ways: nothing to cross: every dimension of
    the space is fixed', naming a setting the user never gave."""
    folder = _copy(synthetic[0] / "rec", tmp_path / "rec")
    first = (folder / "labels.csv").read_text().splitlines()[:2]
    (folder / "labels.csv").write_text("\n".join(first) + "\n")
    cfg = CampaignConfig.from_toml(_recordings_config(tmp_path, folder, toy_model_path))
    run_campaign(cfg, stream=None)
    run = tmp_path / "runs" / "rec"
    name = first[1].split(",")[0]
    with pytest.raises(
        ConfigError,
        match=rf"^coverage: run '{re.escape(str(run))}' is of one recording \('{name}'\) and "
        r"no metadata column with two values, so there is no cell to cover \(recordings are "
        r"binned by their metadata columns, or by file\); its verdicts are in its results: "
        rf"highfive replay {re.escape(str(run))} lists the failing cases$",
    ):
        analyse_run(run)
    # Another run of another recording under the same name: merged, the message blamed
    # the first run for being of one recording.
    other = tmp_path / "other"
    other.mkdir()
    second = (synthetic[0] / "rec" / "labels.csv").read_text().splitlines()[2].split(",")
    (other / name).write_bytes((synthetic[0] / "rec" / second[0]).read_bytes())
    (other / "labels.csv").write_text(first[0] + "\n" + ",".join([name, *second[1:]]) + "\n")
    config = _recordings_config(tmp_path, other, toy_model_path, name="other")
    run_campaign(CampaignConfig.from_toml(config), stream=None)
    with pytest.raises(
        ConfigError,
        match=rf"^coverage: the runs' recordings are of one file name \('{name}'\) and no "
        r"metadata column with two values, so there is no cell to cover .*; the verdicts are "
        r"in each run's results: highfive replay RUN lists a run's failing cases$",
    ):
        analyse_run([run, tmp_path / "runs" / "other"])


def test_config_refuses_sampling_keys_with_recordings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('cases = 10\n[recordings]\nfolder = "x"\n')
    with pytest.raises(Exception, match=r"cases: a campaign of \[recordings\] runs each"):
        CampaignConfig.from_toml(path)


# -- BasicMotions --------------------------------------------------------------------
HAVE_DATA = any(importlib.util.find_spec(p) is not None for p in ("sktime", "aeon"))


@pytest.mark.skipif(
    not HAVE_DATA, reason="BasicMotions ships in sktime or aeon; neither is installed"
)
def test_basicmotions_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "basicmotions"
    script = ROOT / "examples" / "realdata" / "basicmotions.py"
    subprocess.run(
        [sys.executable, script, folder, "--gravity", "restored", "--posture", "hanging"],
        check=True,
        capture_output=True,
    )
    cfg = CampaignConfig.from_toml(ROOT / "examples" / "recordings.toml")
    rec = cfg.recordings
    assert rec is not None and (ROOT / "examples" / rec.folder).name == folder.name
    cfg = cfg.with_overrides(out=str(tmp_path / "runs"))
    cfg = CampaignConfig.from_dict(
        {**cfg.to_dict(), "recordings": {**cfg.to_dict()["recordings"], "folder": str(folder)}}
    )
    summary = run_campaign(cfg, stream=None)
    assert summary.complete and summary.cases == 80
    rows = results(summary.run_dir)
    assert set(rows["model"]) == {"float", "int8"}
    assert (rows["true_count"] == 0).all()  # none of them holds a high-five
    assert set(rows["verdict"]) <= {"pass", "false_positive"}  # judged by counts
    assert rows.groupby(["model", "activity"]).size().tolist() == [20] * 8
    cov = analyse_run(summary.run_dir)
    one_way = cov.cells[(cov.cells["t"] == 1) & (cov.cells["model"] == "float")]
    activity = one_way[one_way["label"].str.startswith("activity=")]
    assert sorted(activity["n"].tolist()) == [20, 20, 20, 20]
    fails = (
        rows[rows["model"] == "float"]
        .groupby("activity")["verdict"]
        .apply(lambda v: int((v != "pass").sum()))
    )
    assert (
        dict(
            zip(activity["label"].str.removeprefix("activity="), activity["failures"], strict=True)
        )
        == fails.to_dict()
    )


def _basicmotions_script() -> object:
    return load_module(ROOT / "examples" / "realdata" / "basicmotions.py", "basicmotions_example")


GOOD_TS = "@problemName BasicMotions\n@data\n" + ":".join(["1.0,2.0"] * 6) + ":Walking\n"


@pytest.mark.parametrize(
    ("case", "train", "match"),
    [
        ("out is a file", GOOD_TS, r"OUT: .*afile' is a file; give a folder$"),
        ("no @data", "1,2:Walking\n", r"BasicMotions_TRAIN.ts: no @data line; is it a \.ts file"),
        (
            "not a number",
            GOOD_TS.replace("2.0", "x", 1),
            r"BasicMotions_TRAIN.ts line 3: 'x' is not a number$",
        ),
        (
            "ragged",
            GOOD_TS.replace("1.0,2.0", "1.0", 1),
            r"BasicMotions_TRAIN.ts line 3: its 6 dimensions hold 1 to 2 values; allowed: "
            r"the same number in each$",
        ),
    ],
)
def test_the_basicmotions_script_refuses_bad_input_in_one_line(
    case: str, train: str, match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A traceback (FileExistsError, IndexError) rather than a line for the user.
    source = tmp_path / "src"
    source.mkdir()
    (source / "BasicMotions_TRAIN.ts").write_text(train)
    (source / "BasicMotions_TEST.ts").write_text(GOOD_TS)
    out = tmp_path / ("afile" if case == "out is a file" else "out")
    if case == "out is a file":
        out.write_text("")
    script: Any = _basicmotions_script()
    assert script.main([str(out), "--source", str(source)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("basicmotions: error: "), err
    assert re.search(match, err.strip()), err
    assert case == "out is a file" or not out.exists()


def test_read_labels_keeps_metadata_in_row_order(tmp_path: Path) -> None:
    t = np.arange(0, 5, 0.02)
    for tilt, name in enumerate(("b.csv", "a.csv")):  # two recordings: not the same bytes
        pd.DataFrame({"t": t, "x": 1.0, "y": tilt * 0.01, "z": 0.0}).to_csv(
            tmp_path / name, index=False
        )
    (tmp_path / "labels.csv").write_text("file,high_fives,who\nb.csv,1.5;3,ann\na.csv,,bob\n")
    got = read_labels(tmp_path, "labels.csv", ["who"])
    assert [(c.file, c.high_fives, c.count, c.metadata) for c in got] == [
        ("b.csv", (1.5, 3.0), 2, (("who", "ann"),)),
        ("a.csv", (), 0, (("who", "bob"),)),
    ]
    assert math.isclose(got[0].duration_s, t[-1])
    assert got[1].sha256 == hashlib.sha256((tmp_path / "a.csv").read_bytes()).hexdigest()


def _as_schema_2(run: Path) -> None:
    """Rewrite a synthetic run as the previous highfive wrote it: no source or recording
    column, schema_version 2 (manifest sizes and hashes follow the rewritten files)."""
    rundir = RunDir(run)
    entries = list(rundir.done_batches().values())
    for entry in entries:
        for rec in entry["files"]:
            path = run / rec["path"]
            if rec["path"].startswith("results"):
                table = pq.read_table(path)
                pq.write_table(table.drop_columns(["source", "recording"]), path)
            data = path.read_bytes()
            rec.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    rundir.manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    record = rundir.read_campaign()
    record["schema_version"] = record["identity"]["schema_version"] = 2
    rundir.write_campaign(record)


@pytest.fixture(scope="module")
def schema_2_run(tmp_path_factory: pytest.TempPathFactory, toy_model_path: Path) -> Path:
    old = _synthetic(tmp_path_factory.mktemp("old"), toy_model_path, seed=6)
    _as_schema_2(old)
    return old


def test_schema_2_runs_read_beside_schema_3(
    synthetic: tuple[Path, Path, list[int]],
    schema_2_run: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run without the new columns reads as before: coverage (merged with a run that
    has them), diff and replay."""
    _, run, _ = synthetic
    old = schema_2_run
    assert "source" not in RunDir(old).results().columns
    cov = analyse_run([old, run])
    assert (cov.counts.n == analyse_run(old).counts.n + analyse_run(run).counts.n).all()
    assert main(["diff", str(old), str(run)]) == 0
    assert main(["replay", str(old), "2"]) == 0
    assert "identical to the campaign's stored rows" in capsys.readouterr().out


@pytest.mark.slow
def test_schema_2_runs_report(schema_2_run: Path, tmp_path: Path) -> None:
    assert main(["report", str(schema_2_run), "--out", str(tmp_path / "r.html")]) == 0


def test_recordings_are_never_training_data(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run of recordings given to --add-failures is refused as such, not by chance."""
    out = tmp_path / "m.onnx"
    assert main(["model", "train", "--add-failures", str(recorded), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"error: --add-failures: run {str(recorded)!r} is a campaign of real recordings; "
        "recordings are evaluation data, never training data: add failures of campaigns "
        "of generated cases\n"
    )
    assert not out.exists()
