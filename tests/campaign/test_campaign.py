"""Campaigns end to end: determinism, run directory, resume, replay, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pytest

from highfive.generators import GENERATOR_VERSION, InvalidParameter
from highfive.harness._campaign import run_campaign
from highfive.harness._config import CampaignConfig
from highfive.harness._replay import replay, shrink
from highfive.harness._rundir import RunDir
from highfive.harness.cli import main

pytestmark = pytest.mark.slow


def _frame(run: Path) -> pd.DataFrame:
    frame = RunDir(run).results()
    frame["model"] = frame["model"].astype(str)
    return frame.sort_values(["model", "case_id"]).reset_index(drop=True)


def _run(path: Path, **overrides: object) -> Path:
    cfg = CampaignConfig.from_toml(path).with_overrides(**overrides)
    summary = run_campaign(cfg, stream=None)
    assert summary.complete
    return summary.run_dir


@pytest.mark.parametrize("sampler", ["random", "sobol", "halton", "lhs"])
def test_results_do_not_depend_on_batch_size(
    campaign_file: Callable[..., Path], sampler: str
) -> None:
    path = campaign_file(sampler=sampler, cases=32)
    a = _run(path, name="a", batch_size=32)
    b = _run(path, name="b", batch_size=7)
    fa, fb = _frame(a), _frame(b)
    assert len(fa) == 64 and fa["case_id"].nunique() == 32
    pd.testing.assert_frame_equal(fa, fb)


@pytest.mark.dask
def test_results_do_not_depend_on_workers(campaign_file: Callable[..., Path]) -> None:
    path = campaign_file(cases=32)
    local = _run(path, name="inproc", workers=0)
    dask2 = _run(path, name="dask2", workers=2, batch_size=5)
    pd.testing.assert_frame_equal(_frame(local), _frame(dask2))


def test_run_directory_layout_and_readers(campaign_file: Callable[..., Path]) -> None:
    run = _run(campaign_file(cases=32, batch_size=12))
    record = json.loads((run / "campaign.json").read_text())
    assert record["status"] == "complete" and record["finished"]
    assert {m["id"] for m in record["models"]} == {"toy", "toy_b"}
    assert all(len(m["sha256"]) == 64 for m in record["models"])
    assert "numpy" in record["versions"] and "onnxruntime" in record["versions"]
    # The code that computed the cases, beyond its version (an edit does not change that).
    from highfive.harness._cluster import code_digest

    assert record["versions"]["highfive source"] == code_digest()
    lines = (run / "manifest.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["batch"] for x in lines) == [0, 1, 2]  # 12 + 12 + 8
    assert not list(run.rglob("*.tmp"))
    glob = f"{run}/results/**/*.parquet"
    # Every reader, no options.
    assert len(pd.read_parquet(run / "results")) == 64
    assert ds.dataset(run / "results").count_rows() == 64
    assert duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchall() == [(64,)]
    assert duckdb.sql(f"select count(distinct model) from read_parquet('{glob}')").fetchall() == [
        (2,)
    ]
    assert pl.read_parquet(run / "results").height == 64
    frame = _frame(run)
    for column in (
        "case_id",
        "motion",
        "peak_accel",
        "true_count",
        "predicted_count",
        "tp",
        "fp",
        "fn",
        "count_error",
        "verdict",
        "margin",
        "detection_times",
    ):
        assert column in frame.columns
    assert set(frame["verdict"]) <= {"pass", "miss", "double_count", "false_positive", "mixed"}
    assert (frame["tp"] + frame["fn"] == frame["true_count"]).all()
    failures = RunDir(run).failures()
    failing = frame.loc[frame["verdict"] != "pass", "case_id"].unique()
    assert sorted(failures["case_id"]) == sorted(failing)
    row = failures.iloc[0]
    assert len(row["t"]) == len(row["x"]) > 0 and json.loads(row["events"]) is not None


def test_resume_after_kill_minus_9(
    campaign_file: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = campaign_file(name="k", cases=128, batch_size=8)
    exe = Path(sys.executable).with_name("highfive")
    proc = subprocess.Popen(
        [str(exe), "run", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    manifest = tmp_path / "runs" / "k" / "manifest.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(manifest.read_text().splitlines())
    assert 3 <= done < 16, "the kill should land mid-run"
    # Torn last line, as a kill during the write would leave it.
    with open(manifest, "a") as fh:
        fh.write('{"batch": 99, "sta')
    capsys.readouterr()
    assert main(["run", str(path), "--resume"]) == 0
    resumed = _frame(tmp_path / "runs" / "k")
    clean = _frame(_run(path, name="clean"))
    pd.testing.assert_frame_equal(resumed, clean)
    # The progress line counts the batches finished before the kill too.
    last = [x for x in capsys.readouterr().err.splitlines() if "failures:" in x][-1]
    assert last.startswith("cases 128/128 ")
    failed = resumed[resumed["verdict"] != "pass"].groupby("model").size()
    shown = dict(p.rsplit(" ", 1) for p in last.split("failures: ")[1].split(", "))
    assert {m: int(n.replace(",", "")) for m, n in shown.items()} == {
        m: int(failed.get(m, 0)) for m in resumed["model"].unique()
    }
    assert resumed.groupby("model")["case_id"].apply(lambda s: s.is_unique).all()
    lines = manifest.read_text().splitlines()
    assert sorted(json.loads(x)["batch"] for x in lines) == list(range(16))


def test_resume_refuses_another_configuration(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = campaign_file(name="r", cases=16)
    _run(path)
    before = sorted(p.name for p in (path.parent / "runs" / "r").rglob("*"))
    text = path.read_text().replace("seed = 11", "seed = 12")
    path.write_text(text)
    assert main(["run", str(path), "--resume"]) == 2
    err = capsys.readouterr().err
    assert (
        "belongs to another configuration (differs in seed: the run has 11, this "
        "configuration 12); resume refuses" in err
    )
    assert sorted(p.name for p in (path.parent / "runs" / "r").rglob("*")) == before
    assert main(["run", str(path)]) == 2  # complete: nothing to resume
    assert "already exists and is complete; choose another name" in capsys.readouterr().err
    path.write_text(text.replace("cases = 16", "cases = 32"))
    assert main(["run", str(path), "--resume"]) == 2
    err = capsys.readouterr().err
    assert (
        "(differs in cases: the run has 16, this configuration 32; seed: the run has 11, "
        "this configuration 12)" in err
    )


def test_runs_of_other_generators_are_not_resumed_replayed_or_paired(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A run made before the generators' version was recorded (version 1: other
    lead-ins, sensor noise) was resumed, replayed and paired with today's traces as if
    they were its own: resume mixed two kinds of trace in one run, replay reported its
    cases as different, diff paired different traces."""
    path = campaign_file(name="g", cases=16)
    run = _run(path)
    _run(path, name="g2")
    record = json.loads((run / "campaign.json").read_text())
    assert record["identity"]["generators"] == GENERATOR_VERSION == 2
    del record["identity"]["generators"]  # as a run made before it was recorded
    (run / "campaign.json").write_text(json.dumps(record))
    assert main(["run", str(path), "--resume"]) == 2
    assert capsys.readouterr().err == (
        f"error: run directory {run} was made by generators version 1 and this highfive "
        "makes version 2: a case's trace differs; resume refuses to mix them: run it "
        "again under another name\n"
    )
    assert main(["replay", str(run), "3"]) == 2
    err = capsys.readouterr().err
    assert "was made by generators version 1 and this highfive makes version 2" in err
    assert main(["diff", str(run), str(run.parent / "g2")]) == 0
    assert "unpaired: the runs differ in generators" in capsys.readouterr().out
    assert main(["coverage", str(run), str(run.parent / "g2"), "--out", str(run.parent / "m")]) == 2
    assert "(generators version 1) with" in capsys.readouterr().err
    assert not (run.parent / "m").exists()
    assert main(["run", "--focus", str(run), "--cases", "16"]) == 2
    assert "was made by generators version 1" in capsys.readouterr().err


def test_replay_is_bit_identical_and_shrink_keeps_the_verdict(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(campaign_file(cases=32))
    frame = _frame(run)
    for case in (0, 5, 31):
        rep = replay(run, case)
        assert rep.stored and rep.matches_stored
    assert main(["replay", str(run), "5"]) == 0
    assert "identical to the campaign's stored rows" in capsys.readouterr().out
    failing = frame.loc[frame["verdict"] != "pass"]
    if failing.empty:
        pytest.skip("no failing case to shrink")
    case, model = int(failing.iloc[0]["case_id"]), str(failing.iloc[0]["model"])
    res = shrink(run, case, model)
    assert res.verdict == failing.iloc[0]["verdict"] and not res.limited
    again = replay(run, case, {k: v for k, v in res.shrunk.items() if v != res.original[k]})
    assert again.scores[model].verdict == res.verdict
    assert main(["shrink", str(run), str(case), "--model", model]) == 0
    assert "highfive replay" in capsys.readouterr().out


SHRINK_COUNTERS = """
def two_bugs(trace):
    if trace.params["peak_accel"] > 20:
        raise ValueError("bug A: overflow in the peak buffer")
    raise ZeroDivisionError("bug B: empty window")

def moody(trace):
    # misses every high-five, counts each once or twice, as mood.txt says
    from pathlib import Path
    mood = (Path(__file__).parent / "mood.txt").read_text().strip()
    events = [e.centre for e in trace.events if e.is_high_five]
    return {"miss": [], "exact": events}.get(mood, events + events)
"""


def test_shrink_keeps_the_error_it_started_from(
    tmp_path: Path, small_campaign: Callable[..., Path]
) -> None:
    # Shrink kept any step whose verdict stayed "error", so a ValueError case shrank to
    # the nominal point, where another bug raises ZeroDivisionError.
    (tmp_path / "bugs.py").write_text(SHRINK_COUNTERS)
    run = small_campaign(tmp_path, "bugs", 1, 16, {"tb": f"{tmp_path / 'bugs.py'}:two_bugs"})
    frame = _frame(run)
    case = int(frame.loc[frame["message"].str.startswith("ValueError"), "case_id"].iloc[0])
    res = shrink(run, case, "tb")
    assert res.verdict == "error" and res.changed()["peak_accel"] > 20
    again = replay(run, case, res.changed())
    assert str(again.outcomes["tb"].message).startswith("ValueError")


def _moody_run(tmp_path: Path, small_campaign: Callable[..., Path], name: str) -> tuple[Path, int]:
    """A run ``name`` of the counter ``md`` (``moody``, in a module of its own), which
    answers by tmp_path/mood.txt ("miss" during the run), and a case it stored as a miss."""
    (tmp_path / "moody.py").write_text(SHRINK_COUNTERS + f"\n# {name}\n")
    (tmp_path / "mood.txt").write_text("miss")
    counter = {"md": f"{tmp_path / 'moody.py'}:moody"}
    run = small_campaign(tmp_path, name, 1, 16, counter, space={"motion": "high_five"})
    frame = _frame(run)
    return run, int(frame.loc[frame["verdict"] == "miss", "case_id"].iloc[0])


def test_shrink_refuses_a_case_that_does_not_reproduce(
    tmp_path: Path, small_campaign: Callable[..., Path]
) -> None:
    # A counter that now answers otherwise than in the campaign: shrink minimised
    # whatever it said now, without a word (replay reports the difference).
    run, case = _moody_run(tmp_path, small_campaign, "moody")
    (tmp_path / "mood.txt").write_text("double")
    with pytest.raises(InvalidParameter, match=rf"case {case} does not reproduce with md: "):
        shrink(run, case, "md")


def test_shrink_says_a_stored_failure_that_passes_now_does_not_reproduce(
    tmp_path: Path, small_campaign: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # A case stored as failing that passes when made again was "a passing case; only
    # failing cases can be shrunk", which hid that it does not reproduce.
    run, case = _moody_run(tmp_path, small_campaign, "exact")
    (tmp_path / "mood.txt").write_text("exact")
    capsys.readouterr()
    for argv in ([], ["--model", "md"]):
        assert main(["shrink", str(run), str(case), *argv]) == 2
        assert capsys.readouterr().err == (
            f"error: case {case} does not reproduce with md: stored verdict miss, now pass (is "
            f"the counter deterministic? 'highfive replay RUN {case}' shows the difference); "
            "nothing to shrink\n"
        )


def test_sobol_warns_unless_a_power_of_two(campaign_file: Callable[..., Path]) -> None:
    with pytest.warns(UserWarning, match="cases=24 is not a power of two.*16 or 32"):
        _run(campaign_file(name="w", cases=24))


BAD_CONFIGS = [
    ("toml", 'name = "x"\ncases = [', "not valid TOML"),
    ("sampler", 'name = "x"\nsampler = "grid"', "sampler: 'grid' is not known"),
    ("key", 'name = "x"\nspeed = 3', "unknown key 'speed'"),
    ("exec-key", 'name = "x"\n[execution]\ncores = 3', "unknown key 'execution.cores'"),
    ("cases", 'name = "x"\ncases = -5', "cases: -5 must be an integer >= 1"),
    (
        "space",
        'name = "x"\n[space]\npeak_accel = [1.0, 5.0]',
        "space.peak_accel: 1.0 is out of range",
    ),
    ("space-key", 'name = "x"\n[space]\nwarp = 9', "space: unknown parameter 'warp'"),
    ("model", 'name = "x"\nmodels = ["missing.onnx"]', "is neither a file nor a shipped model"),
    (
        "scheduler",
        'name = "x"\n[execution]\nscheduler = "tcp://127.0.0.1:1"',
        "execution.scheduler: cannot reach",
    ),
]


@pytest.mark.parametrize(
    "text, match", [b[1:] for b in BAD_CONFIGS], ids=[b[0] for b in BAD_CONFIGS]
)
def test_bad_configs_exit_2_and_write_nothing(
    text: str,
    match: str,
    tmp_path: Path,
    toy_model_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if "models" not in text:
        text = text.replace('name = "x"', f'name = "x"\nmodels = ["{toy_model_path}"]')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["run", str(path), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and match in err, err
    assert not (tmp_path / "runs").exists()


def test_a_resume_with_nothing_to_do_keeps_the_finishing_time(
    tmp_path: Path, toy_model_path: Path
) -> None:
    # Resuming a complete run stamped it finished anew: the report showed 0:08:26 for a
    # campaign of two seconds.
    from highfive.harness import ExecutionConfig

    cfg = CampaignConfig(
        name="done",
        cases=8,
        batch_size=4,
        models=(str(toy_model_path),),
        out=str(tmp_path),
        execution=ExecutionConfig(workers=0),
    )
    run_campaign(cfg, stream=None)
    record = RunDir(tmp_path / "done").read_campaign()
    time.sleep(1.1)  # the times are kept to the second
    again = run_campaign(cfg, resume=True, stream=None)
    after = RunDir(tmp_path / "done").read_campaign()
    assert again.complete and after["finished"] == record["finished"]
    assert after["started"] == record["started"]
