"""Fault injection: hard kills at chosen points, write failures, concurrent starts,
damaged and missing files, and campaigns too large to list. Each ends either in the
same results as an undisturbed run or in one line, exit 2, with nothing lost."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from highfive.harness import RunDir
from highfive.harness.cli import main

pytestmark = pytest.mark.slow


def _results(run: Path) -> pd.DataFrame:
    frame = RunDir(run).results()
    frame["model"] = frame["model"].astype(str)
    return frame.sort_values(["model", "case_id"]).reset_index(drop=True)


@pytest.fixture
def reference(campaign_file: Callable[..., Path], tmp_path: Path) -> pd.DataFrame:
    """Results of the undisturbed run of the campaign every test here disturbs."""
    assert main(["run", str(campaign_file(name="ref", cases=40, batch_size=8, sampler="lhs"))]) == 0
    return _results(tmp_path / "runs" / "ref")


# -- hard kills at chosen points, then resume ------------------------------------------------
_KILLER = """
import os, sys
from highfive.harness import RunDir, cli
from highfive.harness import _io
point, nth = sys.argv[1], int(sys.argv[2])
calls = {"n": 0}

def die_on_nth():
    calls["n"] += 1
    if calls["n"] == nth:
        os._exit(137)  # no cleanup, no finally: as a kill -9

if point == "before-manifest":  # batch files renamed into place, manifest line not written
    original = RunDir.append_manifest
    def append(self, entry):
        die_on_nth()
        original(self, entry)
    RunDir.append_manifest = append
elif point == "mid-file":  # a temporary file half written, not renamed
    original = _io.os.replace
    def replace(src, dst):
        die_on_nth()
        original(src, dst)
    _io.os.replace = replace
elif point == "torn-manifest":  # half a manifest line on disk
    def append(self, entry):
        import json
        line = json.dumps(entry) + "\\n"
        with open(self.manifest, "a") as fh:
            if calls["n"] + 1 == nth:
                fh.write(line[: len(line) // 2]); fh.flush(); os._exit(137)
            fh.write(line)
        calls["n"] += 1
    RunDir.append_manifest = append
sys.exit(cli.main(["run", sys.argv[3]]))
"""


@pytest.mark.parametrize("point", ["before-manifest", "mid-file", "torn-manifest"])
def test_a_hard_kill_at_any_point_then_resume_gives_the_same_results(
    campaign_file: Callable[..., Path],
    tmp_path: Path,
    reference: pd.DataFrame,
    point: str,
) -> None:
    cfg = campaign_file(name="k", cases=40, batch_size=8, sampler="lhs")
    proc = subprocess.run(
        [sys.executable, "-c", _KILLER, point, "3", str(cfg)], capture_output=True, text=True
    )
    assert proc.returncode == 137, proc.stderr
    run = tmp_path / "runs" / "k"
    assert json.loads((run / "campaign.json").read_text())["status"] == "running"
    if point == "mid-file":
        assert list(run.rglob(".*.tmp")), "the kill should leave a temporary file"
    assert main(["run", str(cfg), "--resume"]) == 0
    assert not list(run.rglob(".*.tmp"))  # resume removed what the killed writer left
    pd.testing.assert_frame_equal(_results(run), reference)
    manifest = [json.loads(x) for x in (run / "manifest.jsonl").read_text().splitlines()]
    assert sorted(e["batch"] for e in manifest) == list(range(5))  # none twice, none lost


# -- write failures ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "match"),
    [
        (errno.ENOSPC, r"No space left on device; free some space, then complete the run"),
        (errno.EROFS, r"Read-only file system; the file system is read-only: choose"),
    ],
    ids=["disk-full", "read-only"],
)
def test_a_failed_write_is_one_line_and_resume_completes_the_run(
    campaign_file: Callable[..., Path],
    tmp_path: Path,
    reference: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: int,
    match: str,
) -> None:
    import re

    from highfive.harness import _io

    cfg = campaign_file(name="w", cases=40, batch_size=8, sampler="lhs")
    original, calls = _io.atomic_path, {"n": 0}

    def failing(dest: Path) -> object:
        # The disk fills up in the third batch (campaign.json, small, still fits).
        calls["n"] += dest.suffix == ".parquet"
        if calls["n"] >= 5 and dest.suffix == ".parquet":
            raise OSError(code, os.strerror(code))
        return original(dest)

    monkeypatch.setattr(_io, "atomic_path", failing)
    from highfive.harness import _rundir

    monkeypatch.setattr(_rundir, "atomic_path", failing)
    capsys.readouterr()
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write ") and re.search(match, err[0])
    run = tmp_path / "runs" / "w"
    assert json.loads((run / "campaign.json").read_text())["status"] == "interrupted"
    monkeypatch.undo()
    assert main(["run", str(cfg), "--resume"]) == 0
    pd.testing.assert_frame_equal(_results(run), reference)


def test_a_disk_full_before_anything_is_kept_says_run_it_again(
    campaign_file: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from highfive.harness import _io

    cfg = campaign_file(name="early", cases=16, batch_size=8, sampler="lhs")
    original = _io.atomic_path

    def full(dest: Path) -> object:
        if Path(dest).name == "campaign.json":  # the first file a campaign writes
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(dest)

    monkeypatch.setattr(_io, "atomic_path", full)
    capsys.readouterr()
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        "No space left on device; free some space, then run it again"
    ), err
    assert not (tmp_path / "runs").exists()  # nothing kept: --resume would have nothing
    monkeypatch.undo()
    assert main(["run", str(cfg)]) == 0  # what the message said works


def test_a_read_only_run_is_refused_before_any_output(
    campaign_file: Callable[..., Path],
    tmp_path: Path,
    reference: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Commands that write into the run they read say so before printing anything,
    naming the option (or RUN) and the file; resume says what it cannot write."""
    run = tmp_path / "runs" / "ref"
    gate = tmp_path / "gate.toml"
    gate.write_text('[[criteria]]\nkind = "failure_rate"\nname = "f"\np_max = 0.9\n')
    access = os.access

    def read_only(path: object, mode: int, **kwargs: object) -> bool:  # as on a ro mount
        if mode & os.W_OK and Path(str(path)).absolute() == run.absolute():
            return False
        return access(path, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", read_only)
    folder = f"folder {str(run)!r} is not writable"
    for argv, said in (
        # RUN, not --out: the option was not given
        (["coverage", str(run)], f"RUN: cannot write {str(run / 'coverage')!r}: {folder}"),
        (["report", str(run)], f"RUN: cannot write {str(run / 'report.html')!r}: {folder}"),
        (["gate", str(run), "--gate", str(gate)], f"RUN: cannot write {str(run / 'gate.json')!r}"),
    ):
        capsys.readouterr()
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith(f"error: {said}"), err
    monkeypatch.undo()

    from highfive.harness import _rundir

    real_open = os.open

    def no_lock(path: object, *args: object, **kwargs: object) -> int:
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_rundir.os, "open", no_lock)
    cfg = campaign_file(name="ref", cases=40, batch_size=8, sampler="lhs")
    capsys.readouterr()
    assert main(["run", str(cfg), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: cannot write {run / '.lock'}: Read-only file system; the file system is "
        "read-only: choose another --out\n"
    ), err


# -- concurrent starts ------------------------------------------------------------------------
def test_two_campaigns_with_one_name_never_mix(
    campaign_file: Callable[..., Path], tmp_path: Path
) -> None:
    first = campaign_file(name="same", cases=400, batch_size=8, sampler="lhs")
    second = tmp_path / "other-seed.toml"
    second.write_text(first.read_text().replace("seed = 11", "seed = 12"))
    a = subprocess.Popen(
        [sys.executable, "-m", "highfive.harness.cli", "run", str(first)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = tmp_path / "runs" / "same" / ".lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().startswith("pid")):
        assert time.monotonic() < deadline and a.poll() is None
        time.sleep(0.05)
    b = subprocess.run(
        [sys.executable, "-m", "highfive.harness.cli", "run", str(second)],
        capture_output=True,
        text=True,
    )
    _, a_err = a.communicate(timeout=300)
    assert a.returncode == 0, a_err
    assert b.returncode == 2
    assert b.stderr.count("\n") == 1 and "is in use by another campaign (pid" in b.stderr
    run = tmp_path / "runs" / "same"
    record = json.loads((run / "campaign.json").read_text())
    assert record["identity"]["seed"] == 11 and record["status"] == "complete"
    assert len(_results(run)) == 2 * 400  # two models, every case once


def test_a_killed_campaign_leaves_no_stale_lock(
    campaign_file: Callable[..., Path], tmp_path: Path, reference: pd.DataFrame
) -> None:
    cfg = campaign_file(name="stale", cases=40, batch_size=8, sampler="lhs")
    proc = subprocess.run(
        [sys.executable, "-c", _KILLER, "before-manifest", "2", str(cfg)], capture_output=True
    )
    assert proc.returncode == 137
    assert (tmp_path / "runs" / "stale" / ".lock").exists()  # the file stays; the lock not
    assert main(["run", str(cfg), "--resume"]) == 0


# -- damaged and missing files ----------------------------------------------------------------
def _damage(run: Path, how: str) -> Path:
    part = sorted((run / "results" / "model=toy").glob("part-*.parquet"))[1]
    data = bytearray(part.read_bytes())
    if how == "truncated":
        part.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        data[len(data) // 3] ^= 0x01  # inside a data page: still a readable file
        part.write_bytes(bytes(data))
    else:
        part.unlink()
    return part


@pytest.mark.parametrize(
    ("how", "match"),
    [
        ("truncated", r"has [\d,]+ bytes, the manifest recorded [\d,]+ \(truncated or replaced\)"),
        ("flipped", r"does not match its SHA-256 in the manifest \(altered\)"),
        ("missing", r"part-000001.parquet is missing"),
    ],
)
def test_damaged_files_are_refused_by_every_reader_and_redone_by_resume(
    campaign_file: Callable[..., Path],
    tmp_path: Path,
    reference: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    how: str,
    match: str,
) -> None:
    import re

    run = tmp_path / "runs" / "ref"
    _damage(run, how)
    gate = tmp_path / "gate.toml"
    gate.write_text('[[criteria]]\nkind = "failure_rate"\nname = "f"\np_max = 0.9\n')
    for argv in (
        ["coverage", str(run)],
        ["gate", str(run), "--gate", str(gate)],
        ["report", str(run)],
        ["diff", str(run), "--model", "toy:toy_b"],
    ):
        capsys.readouterr()
        assert main(argv) == 2, argv  # never 1: for a gate that means "release failed"
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.search(match, err[0]), (argv, err)
        assert "Traceback" not in err[0]
    assert not (run / "gate.json").exists() and not (run / "report.html").exists()
    cfg = campaign_file(name="ref", cases=40, batch_size=8, sampler="lhs")
    assert main(["run", str(cfg), "--resume"]) == 0
    pd.testing.assert_frame_equal(_results(run), reference)


_GARBLED = {  # what line 2 of the manifest becomes, and what the error says of it
    "torn-text": (None, r"manifest\.jsonl line 2 is not valid JSON"),
    "object": ('{"foo":1}', r"manifest\.jsonl line 2 is not a manifest entry: no 'batch'"),
    "list": ("[1,2]", r"manifest\.jsonl line 2 is not a manifest entry: a JSON list"),
    "batch-text": ('{"batch":"x"}', r"manifest\.jsonl line 2 is not a manifest entry: 'batch'"),
    "files-text": (
        '{"batch":1,"start":8,"count":8,"files":"zz"}',
        r"manifest\.jsonl line 2 is not a manifest entry: 'files' is 'zz'",
    ),
    # batch 1's line renumbered as batch 0: the readers said "a line is missing", and a
    # resume redid batch 1 while batch 1's rows stood in for batch 0's
    "renumbered": (
        "RENUMBER",
        r"manifest\.jsonl line 2 lists batch 0 as cases 8 to 15, but batch 0 holds cases 0 to 7",
    ),
}


@pytest.mark.parametrize("how", list(_GARBLED))
def test_a_damaged_manifest_line_is_refused_by_every_reader_and_redone_by_resume(
    campaign_file: Callable[..., Path],
    tmp_path: Path,
    reference: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    import re

    run = tmp_path / "runs" / "ref"
    manifest = run / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    replacement, match = _GARBLED[how]
    if replacement == "RENUMBER":
        replacement = lines[1].replace('"batch":1,', '"batch":0,', 1)
    lines[1] = lines[1][:40] if replacement is None else replacement
    manifest.write_text("\n".join(lines) + "\n")
    gate = tmp_path / "gate.toml"
    gate.write_text('[[criteria]]\nkind = "failure_rate"\nname = "f"\np_max = 0.9\n')
    for argv in (
        ["coverage", str(run)],
        ["gate", str(run), "--gate", str(gate)],
        ["report", str(run)],
        ["replay", str(run), "30"],  # in an intact batch after the damaged line
        ["diff", str(run), "--model", "toy:toy_b"],
    ):
        capsys.readouterr()
        assert main(argv) == 2, argv  # never 1 (a failed gate) nor 0 with cases left out
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, (argv, err)
        assert re.search(f"run directory '{re.escape(str(run))}' is damaged: {match}", err[0])
    assert not (run / "gate.json").exists() and not (run / "report.html").exists()
    cfg = campaign_file(name="ref", cases=40, batch_size=8, sampler="lhs")
    capsys.readouterr()
    assert main(["run", str(cfg), "--resume"]) == 0
    said = capsys.readouterr().err
    assert re.search(re.escape(str(manifest)) + r" line 2 .*dropped", said), said
    pd.testing.assert_frame_equal(_results(run), reference)
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    assert sorted(e["batch"] for e in entries) == list(range(5))  # none twice, none lost


def test_a_manifest_line_removed_from_a_complete_run_is_damage(
    campaign_file: Callable[..., Path],
    tmp_path: Path,
    reference: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "runs" / "ref"
    manifest = run / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:2] + lines[3:]))  # batch 2 (cases 16..23) gone
    for argv in (["coverage", str(run)], ["replay", str(run), "30"]):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert (
            len(err) == 1
            and "is damaged: manifest.jsonl lists 32 of the complete run's 40 " in err[0]
        )
    cfg = campaign_file(name="ref", cases=40, batch_size=8, sampler="lhs")
    assert main(["run", str(cfg), "--resume"]) == 0
    pd.testing.assert_frame_equal(_results(run), reference)


def test_a_torn_last_manifest_line_is_damage_only_in_a_complete_run(
    tmp_path: Path, reference: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "runs" / "ref"
    manifest = run / "manifest.jsonl"
    text = manifest.read_text()
    manifest.write_text(text[: len(text) - 30])  # the last line cut, as a kill leaves it
    capsys.readouterr()
    assert main(["coverage", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest.jsonl line 5 is cut short" in err[0], err
    record = json.loads((run / "campaign.json").read_text())
    (run / "campaign.json").write_text(json.dumps({**record, "status": "interrupted"}))
    assert main(["coverage", str(run), "--partial"]) == 0  # the batch a kill interrupted
    assert "32 cases" in capsys.readouterr().out


def test_a_stray_file_in_results_is_not_read(tmp_path: Path, reference: pd.DataFrame) -> None:
    run = tmp_path / "runs" / "ref"
    part = sorted((run / "results" / "model=toy").glob("part-*.parquet"))[0]
    (part.parent / "part-999999.parquet").write_bytes(part.read_bytes())
    pd.testing.assert_frame_equal(_results(run), reference)


def test_resume_of_a_run_that_does_not_exist_is_refused(
    campaign_file: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = campaign_file(name="never", sampler="lhs")
    assert main(["run", str(cfg), "--resume"]) == 2
    assert "does not exist, so there is nothing to resume" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    # Killed before its first write, a run leaves its folder and lock alone: resume said
    # the folder it had just made did not exist.
    (tmp_path / "runs" / "never").mkdir(parents=True)
    (tmp_path / "runs" / "never" / ".lock").write_text("")
    assert main(["run", str(cfg), "--resume"]) == 2
    assert capsys.readouterr().err.endswith(
        "never holds no record of a run (it was stopped before its first write), so there "
        "is nothing to resume; drop --resume to start it, or check --out and the name\n"
    )
    (tmp_path / "runs" / "other" / "never").mkdir(parents=True)  # the user's own folder
    (tmp_path / "runs" / "other" / "never" / "notes.txt").write_text("hi\n")
    assert main(["run", str(cfg), "--resume", "--out", str(tmp_path / "runs" / "other")]) == 2
    assert "never holds no record of a run (no campaign.json), so" in capsys.readouterr().err
    assert main(["run", str(cfg)]) == 0  # as it says


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _running(
    cfg: Path, run: Path, *, batches: int, wait_s: float, own_group: bool = False
) -> subprocess.Popen[str]:
    """``highfive run CFG`` in a child process, returned once ``batches`` batches of
    ``run`` are done (``own_group``: in a process group of its own, as a terminal's job).

    The child takes SIGINT's default action whatever this process inherited: a shell
    without job control starts background commands (``.ci/run &``) with SIGINT
    ignored, which Python keeps, and the Ctrl-C tests would then wait in vain."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "highfive.harness.cli", "run", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_group,
        preexec_fn=_default_sigint,
    )
    manifest = run / "manifest.jsonl"
    deadline = time.monotonic() + wait_s
    while not (manifest.exists() and manifest.read_text().count("\n") >= batches):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    return proc


# -- a campaign too large to list -------------------------------------------------------------
def test_a_trillion_case_campaign_starts_with_flat_memory_and_can_be_interrupted(
    tmp_path: Path, toy_model_path: Path
) -> None:
    cfg = tmp_path / "huge.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            name = "huge"
            cases = 1_000_000_000_000
            sampler = "lhs"
            batch_size = 16
            models = ["{toy_model_path}"]
            out = "{tmp_path / "runs"}"
            [execution]
            workers = 0
            """
        )
    )
    proc = _running(cfg, tmp_path / "runs" / "huge", batches=3, wait_s=120)
    rss = int(Path(f"/proc/{proc.pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    assert rss < 1 << 30, f"client RSS {rss / 2**20:.0f} MiB"  # a list of batches: > 20 GB
    record = json.loads((tmp_path / "runs" / "huge" / "campaign.json").read_text())
    assert record["status"] == "interrupted"


def test_sigterm_stops_a_campaign_as_ctrl_c_does(
    campaign_file: Callable[..., Path], tmp_path: Path
) -> None:
    cfg = campaign_file(name="term", cases=1_000_000, batch_size=8, sampler="lhs")
    proc = _running(cfg, tmp_path / "runs" / "term", batches=1, wait_s=120)
    proc.send_signal(signal.SIGTERM)  # what kill, timeout, systemd and batch systems send
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.splitlines()[-1] == "terminated", err
    record = json.loads((tmp_path / "runs" / "term" / "campaign.json").read_text())
    assert record["status"] == "interrupted"


@pytest.mark.dask
def test_ctrl_c_at_a_terminal_stops_a_dask_campaign_with_one_line(
    campaign_file: Callable[..., Path], tmp_path: Path
) -> None:
    # A terminal's Ctrl-C reaches the whole process group: the local cluster's workers
    # and nannies printed dozens of lines of tracebacks around "interrupted".
    cfg = campaign_file(name="ctrlc", cases=1_000_000, batch_size=8, sampler="lhs", workers=2)
    proc = _running(cfg, tmp_path / "runs" / "ctrlc", batches=2, wait_s=180, own_group=True)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.splitlines()[-1] == "interrupted", err
    assert "Traceback" not in out + err, err
    assert not [line for line in err.splitlines() if "Error" in line or "Exception" in line]


def test_a_run_left_running_by_a_dead_campaign_is_told_apart(
    tmp_path: Path, reference: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    """A campaign killed with SIGKILL, or whose last update did not fit on the disk,
    leaves status "running"; readers say that nothing runs it any more."""
    run = tmp_path / "runs" / "ref"
    record = json.loads((run / "campaign.json").read_text())
    (run / "campaign.json").write_text(json.dumps({**record, "status": "running"}))
    capsys.readouterr()
    assert main(["coverage", str(run)]) == 2
    err = capsys.readouterr().err
    assert "is incomplete (status 'running') with 5 batches done" in err
    assert "no campaign is running it (it was killed, or could not record its end)" in err
    with RunDir(run).lock():  # a live campaign holds it
        assert main(["coverage", str(run)]) == 2
    assert "no campaign is running it" not in capsys.readouterr().err
