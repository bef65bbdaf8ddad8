"""Campaigns over counters of every kind: side by side, failures as findings, identity."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from highfive.harness import CampaignConfig, RunDir, replay, run_campaign
from highfive.harness.cli import main

from .._helpers import run_and_move

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _config(tmp_path: Path, models: list[object], **extra: object) -> CampaignConfig:
    data: dict[str, object] = {
        "name": "mix",
        "seed": 5,
        "cases": 24,
        "sampler": "lhs",
        "batch_size": 8,
        "models": models,
        "out": str(tmp_path / "runs"),
        "counter_timeout_s": 2.0,
        **extra,
    }
    return CampaignConfig.from_dict({**data, "execution": {"workers": 0}}, base=tmp_path)


def test_three_kinds_side_by_side_with_failures_as_findings(
    tmp_path: Path,
    toy_model_path: Path,
    python_counters: Path,
    protocol_program: Callable[..., Path],
) -> None:
    prog = protocol_program("crash_on_long")
    cfg = _config(
        tmp_path,
        [
            str(toy_model_path),
            {"counter": f"{python_counters.name}:raises_on_long", "id": "py"},
            {"counter": f"exec:./{prog.name}", "id": "prog"},
        ],
    )
    summary = run_campaign(cfg, stream=None)
    assert summary.complete and set(summary.verdicts) == {"toy", "py", "prog"}
    run = RunDir(summary.run_dir)
    record = run.read_campaign()
    kinds = {m["id"]: m["kind"] for m in record["models"]}
    assert kinds == {"toy": "onnx", "py": "python", "prog": "exec"}
    assert record["models"][0]["bytes"] == toy_model_path.stat().st_size
    rows = run.results()
    rows["model"] = rows["model"].astype(str)
    py = rows[rows.model == "py"]
    long = py.duration_s > 12
    assert long.any() and (~long).any()  # the sampler covers both sides
    assert (py[long].verdict == "error").all() and (py[~long].verdict != "error").all()
    assert (py[long].message == "ZeroDivisionError: division by zero in the peak finder").all()
    assert py[~long].message.isna().all()
    prog_rows = rows[rows.model == "prog"]
    # A trace longer than 12 s crashes it; the next case starts a fresh process, so
    # every long case fails and nothing else does.
    crashed = prog_rows[prog_rows.verdict == "error"]
    assert list(crashed.case_id) == list(prog_rows[prog_rows.duration_s > 12].case_id)
    assert len(crashed) and (prog_rows[prog_rows.duration_s <= 12].verdict != "error").all()
    assert crashed.message.str.contains("exited with status 139").all()
    # Every failing case is in the corpus, with the message.
    corpus = run.failures()
    failing = set(rows[rows.verdict != "pass"].case_id)
    assert set(corpus.case_id) == failing
    case = int(crashed.case_id.iloc[0])
    messages = json.loads(corpus.set_index("case_id").loc[case, "messages"])
    assert "exited with status 139" in messages["prog"]
    # Replay reproduces an error verdict of a Python counter and matches every column.
    err_case = int(py[long].case_id.iloc[0])
    rep = replay(summary.run_dir, err_case)
    assert rep.outcomes["py"].verdict == "error" and rep.matches_stored, rep.differences()


def test_streaming_campaign_records_latency_and_replays_it(
    tmp_path: Path, toy_model_path: Path
) -> None:
    cfg = _config(
        tmp_path,
        [str(toy_model_path), f"{EXAMPLES / 'counters' / 'baseline.py'}:PeakCounter"],
        stream_chunk_s=0.5,
        cases=16,
    )
    summary = run_campaign(cfg, stream=None)
    rows = RunDir(summary.run_dir).results()
    matched = rows[rows.tp > 0]
    assert len(matched) and matched.latency_s.notna().all()
    assert rows[rows.tp == 0].latency_s.isna().all()
    # A detection is emitted at a chunk's end, after the samples it needs.
    assert (matched.latency_s > -1.0).all()
    case = int(matched.case_id.iloc[0])
    assert replay(summary.run_dir, case).matches_stored


def test_a_changed_counter_is_refused_by_resume_and_replay(
    tmp_path: Path, python_counters: Path
) -> None:
    cfg = _config(tmp_path, [f"{python_counters}:biggest"], cases=8)
    summary = run_campaign(cfg, stream=None)
    python_counters.write_text(python_counters.read_text() + "\nX = 1\n")
    with pytest.raises(Exception, match=r"counter 'biggest' changed since the run started"):
        run_campaign(cfg, resume=True, stream=None)
    with pytest.raises(Exception, match=r"counter 'biggest': .* restore the counter"):
        replay(summary.run_dir, 0)


def test_an_edited_script_of_an_exec_counter_is_refused_by_resume_and_replay(
    tmp_path: Path,
    protocol_program: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 'exec:python3 counter.py' hashed the interpreter alone: resume mixed the old
    # script's results with the edited one's, and replay called the case DIFFERENT.
    import shlex
    import sys

    script = protocol_program(name="counter.py")
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "interp"\ncases = 2\nbatch_size = 1\n'
        f"models = [{json.dumps('exec:' + shlex.quote(sys.executable) + ' counter.py')}]\n"
        f'out = "{tmp_path / "runs"}"\n[execution]\nworkers = 0\n'
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the script is found from another folder
    assert main(["run", str(config)]) == 0
    script.write_text(script.read_text() + "\n# tuned\n")
    capsys.readouterr()
    assert main(["run", str(config), "--resume"]) == 2
    assert "changed since the run started" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "runs" / "interp"), "0"]) == 2
    assert "restore the counter the run was made with" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [0, pytest.param(1, marks=pytest.mark.dask)])
def test_a_program_rebuilt_during_a_run_stops_it(
    tmp_path: Path,
    workers: int,
    protocol_program: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A program is read from disk again at each start (after it exits, on each dask
    worker): a rebuild during a run made one 'complete' run of two counters, and
    replay refused every case. Now the run stops in one line, keeping the cases the
    loaded build judged, and resumes once the build is restored."""
    prog = protocol_program("rebuild_after_nth", nth=4, name="fw.py")
    built = prog.read_bytes()
    config = tmp_path / "c.toml"
    config.write_text(
        'name = "fw"\ncases = 8\nbatch_size = 2\nmodels = ["exec:./fw.py"]\n'
        f'out = "{tmp_path / "runs"}"\n[execution]\nworkers = {workers}\n'
    )
    capsys.readouterr()
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: counter 'exec:") and len(err[-1].splitlines()) == 1
    assert "fw.py': its program '/" in err[-1] and "fw.py' changed since the counter" in err[-1]
    assert not any("Traceback" in line for line in err), err
    run = tmp_path / "runs" / "fw"
    kept = len(RunDir(run).results())
    assert 4 <= kept < 8  # the cases before the rebuild, judged by the build loaded
    prog.write_bytes(built)
    assert main(["run", str(config), "--resume"]) == 0
    assert len(RunDir(run).results()) == 8


def _interpreted(
    tmp_path: Path,
    protocol_program: Callable[..., Path],
    scripts: list[str],
    name: str = "interp",
    cases: int = 4,
) -> Path:
    """A campaign file that runs each of ``scripts`` (protocol speakers) by the
    interpreter, as ``exec:python3 SCRIPT``."""
    import shlex
    import sys

    for script in scripts:
        (tmp_path / script).parent.mkdir(parents=True, exist_ok=True)
        protocol_program(name=script)
    models = ", ".join(
        json.dumps(f"exec:{shlex.quote(sys.executable)} {script}") for script in scripts
    )
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'name = "{name}"\nsampler = "lhs"\ncases = {cases}\nbatch_size = 2\nmodels = [{models}]\n'
        f'out = "{tmp_path / "runs"}"\n[execution]\nworkers = 0\n'
    )
    return config


def test_scripts_run_by_one_interpreter_are_told_apart_by_their_names(
    tmp_path: Path, protocol_program: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Both got the interpreter's name as their id, so they could not run side by side.
    config = _interpreted(tmp_path, protocol_program, ["counter.py", "tools/peak.py"])
    assert main(["run", str(config)]) == 0
    record = RunDir(tmp_path / "runs" / "interp").read_campaign()
    assert [m["id"] for m in record["models"]] == ["counter", "peak"]
    # Two scripts of one name still collide: one line names both and asks for an id.
    config = _interpreted(tmp_path, protocol_program, ["a/counter.py", "b/counter.py"], "same")
    capsys.readouterr()
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    import re

    assert re.fullmatch(
        r"error: models: 'exec:\S+ a/counter\.py' and 'exec:\S+ b/counter\.py' both get the "
        r"id 'counter'; name one with \{counter = \"exec:\S+ b/counter\.py\", id = \"\.\.\.\"\}",
        err,
    ), err
    assert not (tmp_path / "runs" / "same").exists()


def test_a_run_made_under_the_interpreter_s_name_keeps_it_on_resume_replay_and_follow_up(
    tmp_path: Path,
    protocol_program: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Runs written when 'exec:python3 counter.py' was called 'python3' keep that id:
    # resume, replay and a focus follow-up do not see another configuration.
    import sys

    from highfive.harness.counters import ExecCounter

    config = _interpreted(tmp_path, protocol_program, ["counter.py"], cases=6)
    old = Path(sys.executable).name
    with monkeypatch.context() as m:
        m.setattr(ExecCounter, "default_id", property(lambda self: Path(self.argv[0]).name))
        assert main(["run", str(config)]) == 0
    run = tmp_path / "runs" / "interp"
    assert [m["id"] for m in RunDir(run).read_campaign()["models"]] == [old]
    manifest = run / "manifest.jsonl"  # the last batch lost: resume runs it again
    manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[:-1]))
    capsys.readouterr()
    assert main(["run", str(config), "--resume"]) == 0, capsys.readouterr().err
    rows = RunDir(run).results()
    assert set(rows["model"].astype(str)) == {old} and len(rows) == 6
    assert main(["replay", str(run), "5"]) == 0
    assert "identical" in capsys.readouterr().out
    assert main(["run", "--focus", str(run), "--cases", "4"]) == 0, capsys.readouterr().err
    follow_up = RunDir(tmp_path / "runs" / "interp-focus").read_campaign()
    assert [m["id"] for m in follow_up["models"]] == [old]


def test_a_project_moved_or_copied_with_its_runs_replays_and_resumes_there(
    tmp_path: Path,
    protocol_program: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Replay loaded exec counters from the folder the run was made in: a moved project
    # failed ('restore the counter'), a copy ran the original's files, not its own.
    import shutil
    import sys

    project = tmp_path / "project"
    project.mkdir()
    protocol_program(name="project/counter.py")
    protocol_program(name="project/prog")
    (project / "c.toml").write_text(
        'name = "x"\nsampler = "lhs"\ncases = 4\nbatch_size = 2\nout = "runs"\n'
        f"models = [{json.dumps('exec:' + sys.executable + ' counter.py')}, "
        '{counter = "exec:./prog", id = "prog"}]\n[execution]\nworkers = 0\n'
    )
    moved = run_and_move(project, monkeypatch)
    capsys.readouterr()
    assert main(["replay", "runs/x", "3"]) == 0, capsys.readouterr().err
    assert "identical" in capsys.readouterr().out
    assert main(["run", "c.toml", "--resume"]) == 0, capsys.readouterr().err
    # A copy beside the original: the copy's files, an edit there refused.
    copy = tmp_path / "copy"
    shutil.copytree(moved, copy)
    (copy / "counter.py").write_text((copy / "counter.py").read_text() + "\n# tuned\n")
    monkeypatch.chdir(copy)
    capsys.readouterr()
    assert main(["replay", "runs/x", "3"]) == 2
    assert "restore the counter the run was made with" in capsys.readouterr().err
    # The run alone, copied elsewhere: the folder the run recorded.
    shutil.copytree(moved / "runs" / "x", tmp_path / "archive" / "x")
    assert main(["replay", str(tmp_path / "archive" / "x"), "3"]) == 0
    assert "identical" in capsys.readouterr().out
    # A file that is really missing is named, in one line.
    (moved / "counter.py").unlink()
    monkeypatch.chdir(moved)
    assert main(["replay", "runs/x", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.endswith(
        f"the run's counter read 'counter.py', not found in {str(moved)!r} (the folder "
        "relative arguments resolve against); restore it there"
    )
    (moved / "prog").unlink()
    protocol_program(name="moved/counter.py")
    assert main(["replay", "runs/x", "3"]) == 2
    assert f"{str(moved / 'prog')!r} does not exist" in capsys.readouterr().err


def test_a_counter_fault_names_the_counter_as_wherever_its_project_is(
    tmp_path: Path,
    protocol_program: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A counter's wrong answer was recorded naming the counter's file by its absolute
    # path: in a moved or copied project the replayed message named the new path, and
    # replay called the case changed.
    project = tmp_path / "project"
    project.mkdir()
    (project / "mine.py").write_text("def half(trace):\n    return 3.5\n")
    protocol_program("bad_score", name="project/prog")
    (project / "bin").mkdir()
    protocol_program("names_itself", name="project/bin/talker")
    (project / "c.toml").write_text(
        'name = "x"\ncases = 2\nbatch_size = 2\nout = "runs"\n'
        'models = ["mine.py:half", {counter = "exec:./prog", id = "prog"}, '
        '{counter = "exec:bin/talker", id = "talker"}]\n'
        "[execution]\nworkers = 0\n"
    )
    run_and_move(project, monkeypatch)
    rows = pd.read_parquet("runs/x/results").set_index("model")
    assert rows.loc["half", "message"].iloc[0].startswith("counter 'mine.py:half' returned 3.5;")
    assert (
        rows.loc["prog", "message"].iloc[0].startswith("counter 'exec:./prog' returned item 0 = ")
    )
    # A program that names its own file on stderr (perror(argv[0]), a shell's errors)
    # is quoted as the campaign names it, not by the absolute path it was started with.
    assert rows.loc["talker", "message"].iloc[0].endswith("; stderr: bin/talker: no such rate")
    capsys.readouterr()
    assert main(["replay", "runs/x", "1"]) == 0, capsys.readouterr().err
    assert "identical" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("models", "match"),
    [
        (['"nosuch.module:f"'], r"counter 'nosuch.module:f': cannot import 'nosuch.module'"),
        (['"exec:./missing-program"'], r"counter 'exec:./missing-program': '.*' does not exist"),
        (['"exec:./prog"'], r"counter 'exec:.*prog': exited with status 3"),
        (['"float"', '{counter = "float"}'], r"models: \['float', 'float'\] lists a counter twice"),
        (['{counter = "float", idd = "x"}'], r"models\[0\]: unknown key 'idd'; allowed: counter"),
        (['"float"', '{counter = "int8", id = "float"}'], r"both get the id 'float'"),
    ],
)
def test_bad_counters_exit_2_in_one_line_and_write_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    protocol_program: Callable[..., Path],
    models: list[str],
    match: str,
) -> None:
    protocol_program("exit_at_start")
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "bad"\ncases = 4\nmodels = [{", ".join(models)}]\n'
        f'out = "{tmp_path / "runs"}"\n[execution]\nworkers = 0\n'
    )
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    import re

    assert re.search(match, err), err
    assert not (tmp_path / "runs").exists()


@pytest.mark.dask
def test_plugins_run_on_dask_workers(
    tmp_path: Path, python_counters: Path, protocol_program: Callable[..., Path]
) -> None:
    """Python counters travel as their text and programs start once per worker; the
    results equal an in-process run's."""
    models = [f"{python_counters}:biggest", f"exec:{protocol_program()}"]
    local = run_campaign(_config(tmp_path, models, name="a"), stream=None)
    cfg = _config(tmp_path, models, name="b")
    cfg = cfg.with_overrides(workers=2)
    on_dask = run_campaign(cfg, stream=None)
    a = RunDir(local.run_dir).results().sort_values(["model", "case_id"]).reset_index(drop=True)
    b = RunDir(on_dask.run_dir).results().sort_values(["model", "case_id"]).reset_index(drop=True)
    assert a.drop(columns="model").equals(b.drop(columns="model"))
    assert not math.isnan(float(len(a)))


def test_a_counter_beside_a_moved_project_is_found_where_it_stayed(
    tmp_path: Path,
    protocol_program: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # '../common/mine.py' was recorded as 'PROJECT/../common/mine.py': the project
    # moved elsewhere, replay looked for it through the project's new place.
    from highfive.harness._model import shipped_file

    common = tmp_path / "common"
    common.mkdir()
    (common / "mine.py").write_text("def half(trace):\n    return 3.5\n")
    (common / "m.onnx").write_bytes(shipped_file("int8").read_bytes())
    protocol_program("bad_score", name="common/prog")
    project = tmp_path / "project"
    project.mkdir()
    (project / "c.toml").write_text(
        'name = "x"\ncases = 2\nbatch_size = 2\nout = "runs"\n'
        'models = ["../common/mine.py:half", {counter = "exec:../common/prog", id = "prog"}, '
        '{counter = "../common/m.onnx", id = "m"}]\n'
        "[execution]\nworkers = 0\n"
    )
    run_and_move(project, monkeypatch, to=tmp_path / "elsewhere" / "project")
    capsys.readouterr()
    assert main(["replay", "runs/x", "1"]) == 0, capsys.readouterr().err
    assert "identical" in capsys.readouterr().out


def test_a_counter_path_through_a_linked_folder_is_the_file_the_system_reaches(
    tmp_path: Path, protocol_program: Callable[..., Path]
) -> None:
    # 'lib/../mine.py' with lib a link to elsewhere/sub names elsewhere/mine.py (the
    # kernel follows the link before '..'); resolving '..' by the name alone loaded
    # and tested PROJECT/mine.py, another counter than the one written.
    from highfive.harness import load_counter
    from highfive.harness.counters import CounterOptions

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (elsewhere / "sub").mkdir(parents=True)
    project.mkdir()
    (project / "lib").symlink_to(elsewhere / "sub")
    (project / "mine.py").write_text("def count(trace):\n    raise RuntimeError('wrong')\n")
    (elsewhere / "mine.py").write_text("def count(trace):\n    return []\n")
    protocol_program(name="elsewhere/prog")
    options = CounterOptions(base=str(project))
    python = load_counter("lib/../mine.py:count", options=options)
    program = load_counter("exec:lib/../prog", options=options)
    try:
        assert python.source == f"{elsewhere / 'mine.py'}:count"
        assert program.argv[0] == str(elsewhere / "prog")
    finally:
        python.close()
        program.close()
