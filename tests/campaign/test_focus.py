"""Coverage-driven follow-up campaigns: `highfive run --focus RUN`."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from highfive.coverage import analyse_run, codes, load_settings, plan_focus
from highfive.harness._campaign import run_campaign
from highfive.harness._config import CampaignConfig
from highfive.harness._replay import replay
from highfive.harness._rundir import RunDir
from highfive.harness.cli import main

pytestmark = pytest.mark.slow


def _run(campaign_file: Callable[..., Path], name: str, cases: int) -> Path:
    """A finished campaign of the toy models, in this process."""
    config = CampaignConfig.from_toml(campaign_file(name=name, cases=cases))
    return Path(run_campaign(config, stream=None).run_dir)


def test_focus_targets_undecided_cells_and_merges(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = _run(campaign_file, "base", 64)
    cfg = plan_focus(base, cases=48)
    assert cfg.sampler == "focus" and cfg.name == "base-focus" and cfg.cases == 48
    assert 0 < len(cfg.focus) <= 48 and cfg.parent == str(base)
    first = analyse_run(base)
    holes = first.cells[(first.cells["n"] == 0)]
    if not holes.empty:  # holes come first: the first box is a hole's cell
        cross = holes.iloc[0]["cross"]
        assert set(cfg.focus[0]) == set(cross.split(" x "))

    follow = run_campaign(cfg, stream=None).run_dir
    frame = RunDir(follow).results()
    frame = frame[frame["model"].astype(str) == "toy"].sort_values("case_id")
    binning = first.counts.binning
    got, _ = codes(binning, frame)
    space = binning.space
    for i, row in enumerate(got):
        box = cfg.focus[i % len(cfg.focus)]
        for dim, (lo, hi) in box.items():
            # The case's bin on a box dimension is the bin the box's middle maps to.
            want, _ = codes(binning, space.from_unit(_point(space, dim, (lo + hi) / 2)))
            j = binning.names.index(dim)
            assert row[j] == want[0, j], (i, dim)

    merged = analyse_run([base, follow])
    assert merged.counts.n.sum() == first.counts.n.sum() + analyse_run(follow).counts.n.sum()
    assert replay(follow, 5).matches_stored

    assert (
        main(["run", "--focus", str(base), "--cases", "16", "--name", "again", "--workers", "0"])
        == 0
    )
    assert "target cells" in capsys.readouterr().out
    # A diff of the base run and its follow-up: the follow-up's overall rate is of its
    # boxes, and a cell a box cuts holds the box's part only. A note said so, and the
    # diff still tested both; it compares only the cells the boxes contain whole.
    assert main(["diff", str(base), str(follow)]) == 0
    out = capsys.readouterr().out
    assert f"the target boxes of {follow} contain whole" in out and "cells left out" in out
    assert f"overall: not compared ({follow} drew its cases from target boxes" in out
    assert "overall: A " not in out


def _point(space: object, dim: str, u: float) -> np.ndarray:
    p = np.full((1, space.d), 0.5)  # type: ignore[attr-defined]
    p[0, space.names.index(dim)] = u  # type: ignore[attr-defined]
    return p


def test_focus_needs_boxes_and_refuses_config_too(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = campaign_file(name="f")
    text = path.read_text().replace('sampler = "sobol"', 'sampler = "focus"')
    path.write_text(text)
    assert main(["run", str(path)]) == 2
    assert "sampler: 'focus' goes with target boxes" in capsys.readouterr().err
    assert main(["run", str(path), "--focus", str(path.parent)]) == 2
    assert "not both" in capsys.readouterr().err


def test_the_follow_up_command_coverage_suggests_runs(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = _run(campaign_file, "hinted", 64)
    bins = Path(base).parent / "bins.toml"
    bins.write_text("[bins.peak_accel]\ncount = 2\n[statistics]\np_target = 0.2\n")
    head, command = analyse_run(base, load_settings(bins), regions=False).lines()[-2:]
    assert head.startswith("undecided: ") and head.endswith("follow up on them with:")
    argv = shlex.split(command)
    assert argv[:3] == ["highfive", "run", "--focus"] and "--partial" not in argv
    extra = ["--cases", "16", "--name", "hinted-follow-up", "--workers", "0"]
    assert main([*argv[1:], *extra]) == 0
    out = capsys.readouterr().out
    assert "target cells" in out
    assert RunDir(Path(base).parent / "hinted-follow-up").read_campaign()["status"] == "complete"


def test_a_follow_up_of_an_unfinished_run_says_how_to_finish_it(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = _run(campaign_file, "half", 32)
    record = RunDir(base).read_campaign()
    record["status"] = "running"
    RunDir(base).write_campaign(record)
    assert main(["run", "--focus", str(base), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a follow-up (highfive run --focus) needs a complete run" in err
    # What it suggests is what 'highfive run' accepts: --resume, never --partial.
    assert "'highfive run CONFIG --resume'" in err and "--partial" not in err


def test_a_follow_up_of_a_moved_run_is_written_beside_it(
    campaign_file: Callable[..., Path], tmp_path: Path
) -> None:
    # The follow-up went into the campaign's original out folder, not beside the run
    # given: a run fetched from a cluster had its follow-up written elsewhere.
    base = _run(campaign_file, "moved", 32)
    (tmp_path / "elsewhere").mkdir()
    moved = Path(shutil.move(base, tmp_path / "elsewhere" / "moved"))
    cfg = plan_focus(moved, cases=16)
    assert Path(cfg.out) == moved.parent and cfg.name == "moved-focus"
    # Two copies of it beside each other: each follow-up went to 'moved-focus', the
    # campaign's name, and the second was refused as already complete. Now it is named
    # after the folder it follows up (the campaign's name when the folder's is no name).
    copy = Path(shutil.copytree(moved, tmp_path / "elsewhere" / "copy"))
    assert plan_focus(copy, cases=16).name == "copy-focus"
    odd = Path(shutil.copytree(moved, tmp_path / "elsewhere" / "-x y'z"))
    assert plan_focus(odd, cases=16).name == "moved-focus"
    assert plan_focus(copy, cases=16, name="mine").name == "mine"


def test_a_follow_up_refuses_an_empty_name_and_flags_it_cannot_take_first(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--name "" wrote the campaign's default follow-up; --budget was refused only after
    the follow-up was planned and its destination printed."""
    base = _run(campaign_file, "named", 32)
    assert main(["run", "--focus", str(base), "--name", "", "--workers", "0"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: name: '' must be 1-100 ASCII letters") and err.count("\n") == 1
    assert not (base.parent / "named-focus").exists()
    assert main(["run", "--focus", str(base), "--budget", "100"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "error: run: --budget goes with --until-decided\n"


def test_a_follow_up_shows_its_run_directory_as_the_run_was_given(
    campaign_file: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 'highfive run' showed runs/default, 'highfive run --focus runs/default' the whole
    # path of runs/default-focus.
    _run(campaign_file, "rel", 32)
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--focus", "runs/rel", "--cases", "16", "--workers", "0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "cases -> runs/rel-focus\n" in out
    assert "run directory: runs/rel-focus  (complete)" in out
    assert RunDir(tmp_path / "runs" / "rel-focus").read_campaign()["status"] == "complete"
    # Given whole, the path stays whole.
    assert main([*argv[:2], str(tmp_path / "runs" / "rel"), *argv[3:], "--name", "abs"]) == 0
    assert f"run directory: {tmp_path / 'runs' / 'abs'}  (complete)" in capsys.readouterr().out


def _project_of_a_python_counter(tmp_path: Path) -> Path:
    """A project folder: c.toml, a campaign of 32 cases (run "x", in runs/) of the
    Python counter mine.py:none, which never detects."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "mine.py").write_text("def none(trace):\n    return []\n")
    (project / "c.toml").write_text(
        'name = "x"\ncases = 32\nbatch_size = 32\nout = "runs"\nmodels = ["mine.py:none"]\n'
        "[execution]\nworkers = 0\n"
    )
    return project


def test_a_follow_up_of_a_moved_project_loads_its_counters_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Replay and resume found a moved project's counters; --focus looked where the run
    # was made ("file ... does not exist"), and in a copy ran the original's files.
    from highfive.harness import RunDir

    from .._helpers import run_and_move

    project = _project_of_a_python_counter(tmp_path)
    moved = run_and_move(project, monkeypatch)
    capsys.readouterr()
    assert main(["run", "--focus", "runs/x", "--cases", "8"]) == 0, capsys.readouterr().err
    follow_up = RunDir(moved / "runs" / "x-focus").read_campaign()
    assert follow_up["config"]["base"] == str(moved)
    assert main(["replay", "runs/x-focus", "0"]) == 0, capsys.readouterr().err
    # The run alone, copied elsewhere: the counters where the run was made (the folder
    # its recorded relative place names exists there, without them).
    moved.rename(project)
    alone = tmp_path / "alone"
    shutil.copytree(project / "runs" / "x", alone / "runs" / "x")
    monkeypatch.chdir(alone)
    assert main(["run", "--focus", "runs/x", "--cases", "8"]) == 0, capsys.readouterr().err
    assert RunDir(alone / "runs" / "x-focus").read_campaign()["config"]["base"] == str(project)


def test_a_follow_up_with_a_changed_counter_is_refused_before_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # It ran the whole follow-up; only coverage of the pair then refused it ("model
    # 'none' is sha256 ... in one run and ... in the other").
    project = _project_of_a_python_counter(tmp_path)
    monkeypatch.chdir(project)
    assert main(["run", "c.toml"]) == 0
    (project / "mine.py").write_text("def none(trace):\n    return []  # tuned\n")
    capsys.readouterr()
    assert main(["run", "--focus", "runs/x", "--cases", "8"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(
        "error: focus: counter 'none' is not the one 'runs/x' was made with (identity "
    ), err
    assert err.endswith("restore it, or run a new campaign with it\n")
    assert not (project / "runs" / "x-focus").exists()
