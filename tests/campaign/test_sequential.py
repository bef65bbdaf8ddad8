"""Sequential campaigns (``highfive run --until-decided``): decisions, stops, resume."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import beta

from highfive.coverage import Binning, CaseTable, Gate, Spending, decide, run_until_decided
from highfive.generators import Dimension, ParameterSpace, RunDirError
from highfive.harness import CampaignConfig, ExecutionConfig
from highfive.harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
COUNTER = f"{ROOT / 'examples' / 'counters' / 'known_truth.py'}:KnownTruth"


def _gate(**criteria: object) -> Gate:
    return Gate.from_dict({"criteria": [criteria]})


def _config(tmp_path: Path, name: str = "seq") -> CampaignConfig:
    return CampaignConfig(
        name=name,
        seed=5,
        cases=64,
        sampler="random",
        batch_size=32,
        models=({"id": "truth", "counter": COUNTER},),
        out=str(tmp_path),
        execution=ExecutionConfig(workers=0),
    )


def test_cases_of_a_box_that_cuts_a_cell_do_not_count_for_it() -> None:
    space = ParameterSpace(
        [Dimension("x", "continuous", 0.0, 1.0), Dimension("y", "continuous", 0.0, 1.0)]
    )
    binning = Binning.from_space(space, {"x": {"edges": [0, 0.5, 1]}, "y": {"edges": [0, 0.5, 1]}})
    n = 400
    # 200 base cases spread evenly, none failing; 200 cases of a box x in bin 0, all
    # failing: they count for cell x#0, and not for the y cells the box cuts across.
    codes = np.stack([np.r_[np.arange(200) % 2, np.zeros(200)], np.arange(n) % 2], 1)
    table = CaseTable(
        codes=codes.astype(np.int64),
        box=np.r_[np.full(200, -1), np.zeros(200)].astype(np.int64),
        box_dims=[frozenset({"x"})],
        verdict={"m": np.array(["pass"] * 200 + ["miss"] * 200)},
    )
    gate = _gate(kind="cell_upper_bound", p_max=0.2, ways=[1], min_cases=10)
    (d,) = decide(gate, binning, ["m"], table).criteria
    assert d.status == "failed" and "x" in d.detail  # x#0: 200 of 300 fail
    (r,) = decide(_gate(kind="failure_rate", p_max=0.2), binning, ["m"], table).criteria
    assert r.status == "passed" and "0 in 200 base cases" in r.detail  # box cases left out


def test_a_model_without_a_count_disagrees_in_a_staged_agreement() -> None:
    # Both record a predicted count of 0, but "b" timed out: not an agreement.
    space = ParameterSpace([Dimension("x", "continuous", 0.0, 1.0)])
    binning = Binning.from_space(space, {"x": {"edges": [0, 1]}})
    n = 2000
    table = CaseTable(
        codes=np.zeros((n, 1), dtype=np.int64),
        box=np.full(n, -1, dtype=np.int64),
        box_dims=[],
        verdict={"a": np.full(n, "pass"), "b": np.full(n, "timeout")},
        predicted={"a": np.zeros(n, dtype=np.int64), "b": np.zeros(n, dtype=np.int64)},
    )
    gate = _gate(kind="agreement", max=0.01, models=["a", "b"])
    (d,) = decide(gate, binning, ["a", "b"], table).criteria
    assert d.status == "failed" and "2000 in 2000 base cases" in d.detail.replace(",", "")


def test_stops_when_decided_and_is_deterministic(tmp_path: Path) -> None:
    gate = _gate(kind="failure_rate", p_max=0.5)
    a = run_until_decided(_config(tmp_path, "a"), gate, budget=640, stage=64)
    b = run_until_decided(_config(tmp_path, "b"), gate, budget=640, stage=64)
    assert a.verdict == "pass" and a.reason == "every criterion decided"
    assert [s["criteria"] for s in a.stages] == [s["criteria"] for s in b.stages]
    record = json.loads((tmp_path / "a" / "stages.json").read_text())
    assert record["stop"]["reason"] == "every criterion decided"
    assert record["cases"] == a.cases == 64 * len(a.stages)


def test_spending_is_recorded_and_kept_decisions_use_each_looks_level(tmp_path: Path) -> None:
    gate = _gate(kind="failure_rate", p_max=0.5)
    run = run_until_decided(_config(tmp_path), gate, budget=640, stage=64, spending="pocock")
    record = json.loads((tmp_path / "seq" / "stages.json").read_text())
    assert record["spending"] == record["identity"]["spending"] == "pocock"
    assert run.verdict == "pass"
    with pytest.raises(
        RunDirError, match="another sequential campaign: its --spending is 'pocock'"
    ):
        run_until_decided(_config(tmp_path), gate, budget=640, stage=64, resume=True)
    # No failure in 64 cases: Clopper-Pearson at the first look's level of the even
    # split over 10 looks (0.005) is 1 - 0.005**(1/64) = 0.079; the pass is kept at
    # the next look, whose cases (all failing) alone would not show it.
    space = ParameterSpace([Dimension("x", "continuous", 0.0, 1.0)])
    binning = Binning.from_space(space, {"x": {"edges": [0, 1]}})
    table = CaseTable(
        codes=np.zeros((128, 1), dtype=np.int64),
        box=np.full(128, -1, dtype=np.int64),
        box_dims=[],
        verdict={"m": np.array(["pass"] * 64 + ["miss"] * 64)},
        stage=np.repeat([0, 1], 64),
    )
    low = _gate(kind="failure_rate", p_max=0.08)
    (d,) = decide(low, binning, ["m"], table, Spending("even", 640, 64)).criteria
    assert d.status == "passed" and "bounds [0, 0.079" in d.detail
    (a,) = decide(low, binning, ["m"], table).criteria  # anytime: the pooled half fail
    assert a.status == "failed"


def test_a_decision_kept_from_an_earlier_look_names_that_look_and_its_counts() -> None:
    # The detail showed the latest counts beside the deciding look's bounds ("64 in 128
    # base cases, failure rate bounds [0, 0.079]"), which those counts do not give.
    space = ParameterSpace([Dimension("x", "continuous", 0.0, 1.0)])
    binning = Binning.from_space(space, {"x": {"edges": [0, 1]}})
    table = CaseTable(
        codes=np.zeros((192, 1), dtype=np.int64),
        box=np.full(192, -1, dtype=np.int64),
        box_dims=[],
        verdict={"m": np.array(["pass"] * 64 + ["miss"] * 128)},
        stage=np.repeat([0, 1, 2], 64),
    )
    low = _gate(kind="failure_rate", p_max=0.08)
    (d,) = decide(low, binning, ["m"], table, Spending("even", 640, 64)).criteria
    assert d.status == "passed"
    assert d.detail.startswith(
        "passed at stage 0: 0 in 64 base cases, failure rate bounds [0, 0.079"
    )
    assert d.detail.endswith("; kept since (now 128 in 192 base cases)")
    # decided at the last look: the counts are the latest, said once
    (e,) = decide(
        low,
        binning,
        ["m"],
        replace(table, stage=np.zeros(192, dtype=np.int64)),
        Spending("even", 640, 64),
    ).criteria
    assert e.status == "failed" and e.detail.startswith("128 in 192 base cases, failure rate")


def test_a_huge_budget_keeps_each_looks_level_instead_of_dropping_every_look() -> None:
    # --spending even over ceil(1e18 / 256) looks: alpha_j = 1.28e-17, so 1 - alpha_j
    # rounded to 1.0 and every look was dropped as having no level; the bounds stayed
    # [0, 1] whatever the cases showed, and nothing was ever decided.
    space = ParameterSpace([Dimension("x", "continuous", 0.0, 1.0)])
    binning = Binning.from_space(space, {"x": {"edges": [0, 1]}})
    table = CaseTable(
        codes=np.zeros((256, 1), dtype=np.int64),
        box=np.full(256, -1, dtype=np.int64),
        box_dims=[],
        verdict={"m": np.array(["pass"] * 250 + ["miss"] * 6)},
        stage=np.zeros(256, dtype=np.int64),
    )
    plan = Spending("even", 10**18, 256)
    (alpha,) = plan.levels(0.05, 1)
    assert 1 - alpha == 1.0 and alpha > 0
    (d,) = decide(_gate(kind="failure_rate", p_max=0.3), binning, ["m"], table, plan).criteria
    # scipy.stats.beta: Clopper-Pearson at level alpha_j for 6 failures in 256 cases
    upper, lower = beta.isf(alpha, 7, 250), beta.ppf(alpha, 6, 251)
    assert (lower, upper) == pytest.approx((1.807e-05, 0.2007), rel=1e-3)
    assert d.status == "passed", d.detail
    assert f"bounds [{lower:.4g}, {upper:.4g}]" in d.detail
    cells = _gate(kind="cell_upper_bound", p_max=0.3, ways=[1], min_cases=10)
    (c,) = decide(cells, binning, ["m"], table, plan).criteria
    assert c.status == "passed", c.detail


def test_budget_stops_an_undecidable_gate_and_resume_carries_on(tmp_path: Path) -> None:
    # The hard region (rate 0.2, mass 1/30) cannot be shown below 1 % in 192 cases.
    gate = _gate(kind="cell_upper_bound", p_max=0.01, ways=[1], min_cases=1)
    full = run_until_decided(_config(tmp_path, "full"), gate, budget=160, stage=64)
    assert full.reason == "budget of 160 cases spent" and full.verdict in ("fail", "undecided")
    assert [s["cases"] for s in full.stages] == [64, 64, 32]
    assert full.stages[1]["design"] == "focus"  # undecided cells, no rate over everything
    # Interrupt: lose the last stage, then resume to the same result.
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut" / "stage-002")
    with pytest.raises(RunDirError, match="already exists; pass --resume"):
        run_until_decided(_config(tmp_path, "cut"), gate, budget=160, stage=64)
    again = run_until_decided(_config(tmp_path, "cut"), gate, budget=160, stage=64, resume=True)
    assert [s["criteria"] for s in again.stages] == [s["criteria"] for s in full.stages]
    with pytest.raises(
        RunDirError, match=r"another sequential campaign: its --budget is 160, not 320"
    ):
        run_until_decided(_config(tmp_path, "cut"), gate, budget=320, stage=64, resume=True)
    other = replace(_config(tmp_path, "cut"), seed=6)
    with pytest.raises(RunDirError, match=r"campaign: its campaign file's seed is 5, not 6;"):
        run_until_decided(other, gate, budget=160, stage=64, resume=True)
    # A criterion more: both lists of the same length cut short read the same.
    more = Gate.from_dict(
        {
            "criteria": [
                {"kind": "cell_upper_bound", "p_max": 0.01, "ways": [1], "min_cases": 1},
                {"kind": "failure_rate", "p_max": 0.5},
            ]
        }
    )
    with pytest.raises(RunDirError, match=r"its gate's criteria has 1 entry \('cell_upper_bound"):
        run_until_decided(_config(tmp_path, "cut"), more, budget=160, stage=64, resume=True)
    # Without stages.json, a later stage cannot be resumed: the settings are unknown, and
    # a resume took the new ones (and wrote them) unchecked.
    (tmp_path / "cut" / "stages.json").unlink()
    with pytest.raises(RunDirError, match=r"stages.json: missing, though stage-001 exists"):
        run_until_decided(_config(tmp_path, "cut"), gate, budget=320, stage=64, resume=True)
    assert not (tmp_path / "cut" / "stages.json").exists()


def test_coverage_of_the_stages_prints_and_writes_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Focus stages make the merged cases weighted; their cells have no "cases still
    # needed" (it assumes unweighted cases), which the worst-cells lines once formatted
    # as a number and crashed on before writing anything.
    gate = _gate(kind="cell_upper_bound", p_max=0.01, ways=[1], min_cases=1)
    run = run_until_decided(_config(tmp_path, "st"), gate, budget=160, stage=64)
    assert any(s["design"] == "focus" for s in run.stages)
    stages = sorted(str(p) for p in (tmp_path / "st").glob("stage-*"))
    capsys.readouterr()
    assert main(["coverage", *stages]) == 0
    out = capsys.readouterr().out
    assert "cases still needed: n/a (weighted cases)" in out
    assert "holes = cells with no case" in out  # not "with < 1 cases"
    summary = json.loads((Path(stages[0]) / "coverage" / "summary.json").read_text())
    assert summary["weighting"] and summary["worst"]


def test_a_follow_up_of_a_stage_defaults_to_beside_the_sequential_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its default folder was the sequential campaign's own (the stage's recorded out),
    # refused as "inside the run directory" after "focus on ..." was printed.
    gate = _gate(kind="cell_upper_bound", p_max=0.01, ways=[1], min_cases=1)
    run_until_decided(_config(tmp_path, "sq"), gate, budget=128, stage=64)
    stage = tmp_path / "sq" / "stage-001"
    capsys.readouterr()
    assert main(["run", "--focus", str(stage), "--cases", "16", "--workers", "0"]) == 0, (
        capsys.readouterr().err
    )
    out = capsys.readouterr().out
    follow = tmp_path / "sq-stage-001-focus"
    assert out.startswith(f"focus on {stage}: ") and f"-> {follow}\n" in out.splitlines(True)[0]
    assert (follow / "campaign.json").is_file()
    assert not (tmp_path / "sq" / "stage-001-focus").exists()


def test_cli_exit_status_and_stage_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.toml").write_text(
        f'name = "c"\nseed = 1\ncases = 64\nsampler = "random"\nout = "{tmp_path}"\n'
        f'models = [{{id = "truth", counter = "{COUNTER}"}}]\n[execution]\nworkers = 0\n'
    )
    (tmp_path / "gate.toml").write_text('[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n')
    status = main(["run", str(tmp_path / "c.toml"), "--until-decided", "--budget", "256"])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("stage 0: 64 cases (random), 64 in all; 1 of 1 criteria decided")
    assert "stopped: every criterion decided; verdict pass" in out


def test_the_shipped_gate_runs_in_stages_deciding_fits_target_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # examples/gate.toml's fits_target criterion was refused as "cannot be decided in
    # stages", so the README's own gate could not run --until-decided.
    (tmp_path / "c.toml").write_text(
        f'name = "c"\nseed = 1\ncases = 32\nsampler = "random"\nout = "{tmp_path}"\n'
        'models = ["int8"]\n[execution]\nworkers = 0\n'
    )
    (tmp_path / "gate.toml").write_text(
        '[[criteria]]\nkind = "failure_rate"\np_max = 0.9\n'
        '[[criteria]]\nkind = "fits_target"\ntarget = "nrf52832"\nmodel = "int8"\n'
    )
    status = main(["run", str(tmp_path / "c.toml"), "--until-decided", "--budget", "64"])
    assert status == 0, capsys.readouterr()
    record = json.loads((tmp_path / "c" / "stages.json").read_text())
    rows = {r["name"]: r for r in record["stages"][0]["criteria"]}
    assert rows["fits_target"]["status"] == "passed"


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["stage-000", "stage-001"])
def test_resume_starts_afresh_a_stage_that_holds_only_its_lock(tmp_path: Path, stage: str) -> None:
    # A kill while a stage starts (its folder made and locked, campaign.json not yet
    # written) left a folder that --resume called missing and a fresh run "existing".
    gate = _gate(kind="failure_rate", p_max=0.02)  # the true rate 0.0146: stays undecided
    full = run_until_decided(_config(tmp_path, "full"), gate, budget=192, stage=64)
    assert [s["cases"] for s in full.stages] == [64, 64, 64]
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    keep = int(stage.removeprefix("stage-"))
    if keep == 0:  # stages.json is first written when stage 0 is done
        (cut / "stages.json").unlink()
    for later in sorted(cut.glob("stage-*"))[keep:]:
        shutil.rmtree(later)
    (cut / stage).mkdir()
    (cut / stage / ".lock").write_text("")
    again = run_until_decided(_config(tmp_path, "cut"), gate, budget=192, stage=64, resume=True)
    assert [s["criteria"] for s in again.stages] == [s["criteria"] for s in full.stages]
    assert (again.verdict, again.reason) == (full.verdict, full.reason)


@pytest.mark.slow
def test_stops_at_the_first_stage_where_a_criterion_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A failed criterion decides the verdict (fail) although the cells stay undecided;
    # the campaign ran on to its budget and recorded "budget spent".
    gate = Gate.from_dict(
        {
            "criteria": [
                {"kind": "failure_rate", "name": "overall", "p_max": 0.0001},
                {"kind": "cell_upper_bound", "name": "cells", "p_max": 0.25, "ways": [1]},
            ]
        }
    )
    run = run_until_decided(_config(tmp_path), gate, budget=640, stage=64)
    last = {c["name"]: c["status"] for c in run.stages[-1]["criteria"]}
    assert last == {"overall": "failed", "cells": "undecided"}
    assert all(c["status"] != "failed" for s in run.stages[:-1] for c in s["criteria"])
    assert run.verdict == "fail" and run.reason == "criterion 'overall' failed (truth)"
    record = json.loads((tmp_path / "seq" / "stages.json").read_text())
    assert record["stop"]["reason"] == run.reason
    assert "stopped: criterion 'overall' failed (truth); verdict fail" in capsys.readouterr().out


@pytest.mark.slow
def test_error_spending_over_a_billion_looks_lists_only_the_looks_taken(tmp_path: Path) -> None:
    # --spending even over ceil(budget / stage) = 10**9 looks built a list of every
    # look and died of MemoryError; under a 3 GB address-space limit it must not.
    (tmp_path / "c.toml").write_text(
        f'name = "c"\nseed = 1\ncases = 64\nsampler = "random"\nout = "{tmp_path}"\n'
        f'models = [{{id = "truth", counter = "{COUNTER}"}}]\n[execution]\nworkers = 0\n'
    )
    (tmp_path / "gate.toml").write_text('[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n')
    limit = 3 * 2**30
    argv = ["run", str(tmp_path / "c.toml"), "--until-decided", "--spending", "even"]
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("highfive")), *argv, "--budget", str(64 * 10**9)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 0 and "verdict pass" in proc.stdout, proc.stdout + proc.stderr
    # The levels of the looks taken are those of the whole list's first entries.
    plan, alpha = Spending("pocock", 64 * 30, 64), 0.05
    assert np.array_equal(plan.levels(alpha, 3), plan.levels(alpha)[:3])
    huge = Spending("even", 64 * 10**9, 64).levels(alpha, 2)
    assert np.allclose(huge, alpha / 10**9)


def test_one_sequential_campaign_at_a_time_in_its_folder(tmp_path: Path) -> None:
    # A resume started while the campaign ran walked the finished stages, printing
    # them as run, and wrote stages.json back in time; now it is refused at once.
    import io

    from highfive.harness import RunDir

    gate = _gate(kind="failure_rate", p_max=0.5)
    run_until_decided(_config(tmp_path), gate, budget=640, stage=64)
    root = tmp_path / "seq"
    before = (root / "stages.json").read_bytes()
    said = io.StringIO()
    with (
        RunDir(root).lock(),  # the other campaign, still running
        pytest.raises(RunDirError, match="is in use by another campaign"),
    ):
        run_until_decided(_config(tmp_path), gate, budget=640, stage=64, resume=True, progress=said)
    assert said.getvalue() == "" and (root / "stages.json").read_bytes() == before


def test_settings_are_recorded_before_the_first_stage_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Killed in its first stage, before stages.json was first written, a campaign
    # resumed under any budget, spending or gate, and recorded those.
    from highfive.coverage import _staged

    gate = _gate(kind="failure_rate", p_max=0.5)
    real = _staged.run_campaign

    def killed(cfg: CampaignConfig, **kw: object) -> None:
        (Path(cfg.out).absolute() / cfg.name).mkdir(parents=True)  # the stage begun
        raise KeyboardInterrupt

    monkeypatch.setattr(_staged, "run_campaign", killed)
    with pytest.raises(KeyboardInterrupt):
        run_until_decided(_config(tmp_path), gate, budget=640, stage=64)
    monkeypatch.setattr(_staged, "run_campaign", real)
    with pytest.raises(RunDirError, match="belongs to another sequential campaign"):
        run_until_decided(_config(tmp_path), gate, budget=1280, stage=64, resume=True)
    assert run_until_decided(_config(tmp_path), gate, budget=640, stage=64, resume=True).verdict


def test_a_campaign_refused_before_its_first_stage_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from highfive.coverage import _staged
    from highfive.generators import ConfigError

    def refused(cfg: CampaignConfig, **kw: object) -> None:
        raise ConfigError("counter 'x': cannot import it")

    monkeypatch.setattr(_staged, "run_campaign", refused)
    with pytest.raises(ConfigError):
        run_until_decided(
            _config(tmp_path), _gate(kind="failure_rate", p_max=0.5), budget=640, stage=64
        )
    assert not (tmp_path / "seq").exists()


def test_a_finished_campaign_run_again_is_not_offered_resume(tmp_path: Path) -> None:
    """A stopped sequential campaign has nothing to complete: run again without
    --resume, it says so and names its stop, instead of asking for --resume."""
    gate = _gate(kind="failure_rate", p_max=0.5)
    run_until_decided(_config(tmp_path, "done"), gate, budget=640, stage=64)
    with pytest.raises(RunDirError) as info:
        run_until_decided(_config(tmp_path, "done"), gate, budget=640, stage=64)
    message = str(info.value)
    assert "finished sequential campaign (stopped: every criterion decided)" in message
    assert "--resume" not in message and "another name (--name) or --out" in message


def test_spending_that_cannot_decide_early_says_so_before_the_stages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # O'Brien-Fleming levels are 0 in double precision below about 0.26 % of the budget:
    # a budget of 1e30 cases ran stage after stage, "0 of 3 criteria decided", without a
    # word that no look before 2.7e27 cases could decide anything.
    (tmp_path / "c.toml").write_text(
        f'name = "c"\nseed = 1\ncases = 8\nsampler = "random"\nout = "{tmp_path}"\n'
        'models = ["int8"]\n[execution]\nworkers = 0\n'
    )
    (tmp_path / "gate.toml").write_text(  # failed at its first stage, whatever the levels
        '[[criteria]]\nkind = "failure_rate"\np_max = 0.9\n'
        '[[criteria]]\nkind = "fits_target"\ntarget = "nrf52832"\nmodel = "int8"\n'
        "max_ram_bytes = 1000\n"
    )
    argv = ["run", str(tmp_path / "c.toml"), "--until-decided", "--stage", "8"]
    assert main([*argv, "--spending", "obf", "--budget", "1000000"]) == 1
    first = Spending("obf", 1_000_000, 8).first_deciding(0.05)
    assert 2_000 < first < 3_000  # t of about (1.96 / 38.5)^2 = 0.0026
    assert capsys.readouterr().out.startswith(
        f"--spending obf over a budget of 1,000,000 cases: no look before {first:,} cases "
        "can decide a criterion (their levels are 0 in double precision)\nstage 0: "
    )
    assert main([*argv, "--spending", "pocock", "--budget", "1000000", "--name", "p"]) == 1
    assert capsys.readouterr().out.startswith("stage 0: ")
    # A refusal is its one line alone, not after the note (the run exists).
    assert main([*argv, "--spending", "obf", "--budget", "1000000"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: run directory ") and err.count("\n") == 1
