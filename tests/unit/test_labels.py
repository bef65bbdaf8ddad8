"""The labels file of a campaign of recordings (``read_labels``), beyond the catalogue's
one-line refusals: what it accepts, and refusals checked over many inputs."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from highfive.generators import InvalidParameter
from highfive.harness import read_labels

RECORDING = "t,x,y,z\n" + "".join(f"{i * 0.02:.2f},0,0,1\n" for i in range(200))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a.csv").write_text(RECORDING)
    return tmp_path


def test_a_labels_file_with_a_byte_order_mark_is_read(folder: Path) -> None:
    """Spreadsheets save UTF-8 CSV with a BOM; it is not part of the first column's name."""
    (folder / "l.csv").write_bytes("file,count\na.csv,2\n".encode("utf-8-sig"))
    (case,) = read_labels(folder, "l.csv")
    assert (case.file, case.count) == ("a.csv", 2)


@pytest.mark.parametrize("link", ["symbolic", "hard"])  # a hard link was two cases
def test_a_recording_linked_under_two_names_is_refused(folder: Path, link: str) -> None:
    if link == "symbolic":
        (folder / "b.csv").symlink_to(folder / "a.csv")
    else:
        (folder / "b.csv").hardlink_to(folder / "a.csv")
    (folder / "l.csv").write_text("file,count\na.csv,0\nb.csv,0\n")
    with pytest.raises(InvalidParameter, match=r"line 3, column file: 'b.csv' is named again "):
        read_labels(folder, "l.csv")


def test_a_loop_of_links_is_refused_in_one_line(folder: Path) -> None:
    """Path.resolve raised RuntimeError (a traceback) for a link to itself, in run,
    --resume and replay alike."""
    (folder / "loop.csv").symlink_to("loop.csv")
    (folder / "l.csv").write_text("file,count\na.csv,0\nloop.csv,0\n")
    with pytest.raises(
        InvalidParameter,
        match=r"^l.csv line 3, column file: 'loop.csv' cannot be opened \(Too many levels of "
        r"symbolic links\); allowed: ",
    ):
        read_labels(folder, "l.csv")


def test_blank_lines_before_the_header_are_skipped(folder: Path) -> None:
    """As blank lines between rows are: the file was said to be empty."""
    (folder / "l.csv").write_text("\n\nfile,count\na.csv,2\n")
    (case,) = read_labels(folder, "l.csv")
    assert (case.file, case.count, case.line) == ("a.csv", 2, 4)


NOT_ASCII_DIGITS = st.characters(categories=["Nd", "No"], exclude_characters="0123456789").filter(
    str.isdigit
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(digit=NOT_ASCII_DIGITS, before=st.text("0123456789", max_size=3))
def test_only_ascii_digits_make_a_count(folder: Path, digit: str, before: str) -> None:
    """Any digit outside 0-9 (superscripts, other scripts' digits), anywhere in the count,
    is refused in one line naming the line and column; never a traceback or a number."""
    (folder / "l.csv").write_text(f"file,count\na.csv,{before}{digit}\n", encoding="utf-8")
    with pytest.raises(InvalidParameter, match=r"^l.csv line 2, column count: .* is not a count"):
        read_labels(folder, "l.csv")


def test_more_times_than_a_result_row_counts_are_refused(folder: Path) -> None:
    """A result row holds counts up to 32,767 (int16): more high-fives crashed the run
    after its folder was written. (Such a cell is longer than the csv module's default
    field limit, which a program may have raised.)"""
    times = ";".join(f"{i * 1e-4:.4f}" for i in range(32_768))
    (folder / "l.csv").write_text(f"file,high_fives\na.csv,{times}\n")
    limit = csv.field_size_limit(1 << 20)
    try:
        with pytest.raises(
            InvalidParameter,
            match=r"^l.csv line 2, column high_fives: 32,768 times; allowed: at most 32,767 ",
        ):
            read_labels(folder, "l.csv")
    finally:
        csv.field_size_limit(limit)


def test_a_link_to_a_recording_kept_outside_the_folder_is_read(tmp_path: Path) -> None:
    """Data may be stored elsewhere: a symbolic link in the folder is read, and hashed,
    as the file it points to (a path written outside the folder is refused)."""
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "x.csv").write_text(RECORDING)
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "x.csv").symlink_to(tmp_path / "store" / "x.csv")
    (folder / "l.csv").write_text("file,count\nx.csv,1\n")
    (case,) = read_labels(folder, "l.csv")
    assert case.data == RECORDING.encode()


def test_stretches_are_read_only_for_a_window_check(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the labels (as replay, shrink and report do) does not cut the recordings
    into stretches; the campaign's window check does, and workers get no file handle."""
    import pickle

    from highfive.harness import _labels

    (folder / "l.csv").write_text("file,count\na.csv,2\n")
    calls: list[object] = []
    real = _labels.stretches
    monkeypatch.setattr(_labels, "stretches", lambda rec: calls.append(rec) or real(rec))
    cases = read_labels(folder, "l.csv")
    assert calls == []
    _labels.check_windows(cases, "l.csv", {})
    assert calls == []
    _labels.check_windows(cases, "l.csv", {"m": 2.0})  # 3.98 s of samples: it holds one
    assert len(calls) == 1
    with pytest.raises(InvalidParameter, match=r"'a\.csv' is refused: .* by counter m \(9 s"):
        _labels.check_windows(cases, "l.csv", {"m": 9.0})
    sent = pickle.loads(pickle.dumps(cases[0]))
    assert sent == cases[0] and sent.recording is None and cases[0].recording is not None


def test_a_refused_recording_advises_the_campaign_key_that_reads_it(folder: Path) -> None:
    """Times in ns that are not whole numbers: the unit is not inferred, and the advice
    names the [recordings] key; following it reads the recording."""
    t = np.arange(200) * (2e7 + 0.5)
    (folder / "ns.csv").write_text("t,x,y,z\n" + "".join(f"{float(v)!r},0,0,1\n" for v in t))
    (folder / "l.csv").write_text("file,count\nns.csv,0\n")
    with pytest.raises(InvalidParameter) as err:
        read_labels(folder, "l.csv")
    said = re.search(
        r'if the times are in (\w+), set time_unit = "(\w+)" in \[recordings\]', str(err.value)
    )
    assert said is not None and said[1] == said[2], str(err.value)
    (case,) = read_labels(folder, "l.csv", time_unit=said[2])  # type: ignore[arg-type]
    assert case.file == "ns.csv" and case.time_unit == "ns"


@pytest.mark.parametrize("labels", ["file,count\na.csv,1\n", "file,high_fives\na.csv,1.5\n"])
def test_a_recording_changed_after_its_check_is_refused_in_one_line(
    folder: Path, labels: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recording rewritten after it was checked shipped unchecked bytes with its case
    (with times, its second pass ended in a KeyError traceback): now the labels are
    refused in one line, whichever read finds the change."""
    from highfive.harness import _labels

    real = _labels.open_recording

    def open_then_change(path: Path, **kwargs: Any) -> Any:
        rec = real(path, **kwargs)
        Path(path).write_text("t;x;y;z\n0;0;0;1\n")
        return rec

    monkeypatch.setattr(_labels, "open_recording", open_then_change)
    (folder / "l.csv").write_text(labels)
    with pytest.raises(
        InvalidParameter,
        match=r"^recording a\.csv: the file changed while it was read \(written to\); read it "
        "again once nothing writes to it$",
    ):
        read_labels(folder, "l.csv")


def test_a_time_in_a_stretch_too_short_to_count_is_refused(folder: Path) -> None:
    """1 s of samples, a gap, 10 s more: a high-five at 0.5 s was accepted, and its case
    could only be a miss (no window holds it), as one in a gap, which is refused."""
    from highfive.harness import _labels

    t = [i * 0.02 for i in range(50)] + [2.5 + i * 0.02 for i in range(500)]
    (folder / "ss.csv").write_text("t,x,y,z\n" + "".join(f"{v:.2f},0,0,1\n" for v in t))
    (folder / "l.csv").write_text("file,high_fives\nss.csv,0.5;11\n")
    cases = read_labels(folder, "l.csv")
    _labels.check_windows(cases, "l.csv", {"m": 0.98})  # 50 samples hold this window
    with pytest.raises(
        InvalidParameter,
        match=r"^l\.csv line 2, column high_fives: 0\.5 s falls in a stretch of 'ss\.csv' "
        r"between gaps too short to count \(0 to 0\.98 s, 50 samples\) for counter m \(2 s "
        r"window\); allowed: times in stretches that hold a window$",
    ):
        _labels.check_windows(cases, "l.csv", {"m": 2.0, "other": 1.0})
    (folder / "l.csv").write_text("file,high_fives\nss.csv,3;11\n")  # in the long stretch
    _labels.check_windows(read_labels(folder, "l.csv"), "l.csv", {"m": 2.0})
    # Counters without a window (Python, exec) count no stretch of one sample either: a
    # time there was accepted when no counter had a window.
    t = [i * 0.02 for i in range(500)] + [12.0] + [15 + i * 0.02 for i in range(500)]
    (folder / "one.csv").write_text("t,x,y,z\n" + "".join(f"{v:.2f},0,0,1\n" for v in t))
    (folder / "l.csv").write_text("file,high_fives\none.csv,12\n")
    with pytest.raises(
        InvalidParameter,
        match=r"^l\.csv line 2, column high_fives: 12 s falls in a stretch of 'one\.csv' "
        r"between gaps too short to count \(12 to 12 s, 1 sample\) \(a counter needs two "
        r"samples\); allowed: times in stretches that hold a window$",
    ):
        _labels.check_windows(read_labels(folder, "l.csv"), "l.csv", {})


def test_a_row_of_the_most_times_allowed_is_read(tmp_path: Path) -> None:
    """32,767 times to the ms made a field over the csv module's 131,072 characters, and
    the labels file was refused without a line. Now the most times a row may hold are
    read, a field beyond the limit is refused naming its line, and the csv module's own
    limit is left as it was."""
    times = np.arange(32_767) * 0.0125 + 0.5
    n = 40_000  # 500 s at 80 Hz
    (tmp_path / "a.csv").write_text(
        "t,x,y,z\n" + "".join(f"{i * 0.0125:.4f},0,0,1\n" for i in range(n))
    )
    field = ";".join(f"{v:.4f}" for v in times)
    assert len(field) > 131_072
    (tmp_path / "l.csv").write_text(f"file,high_fives\na.csv,{field}\n")
    limit = csv.field_size_limit()
    (case,) = read_labels(tmp_path, "l.csv")
    assert case.high_fives is not None and len(case.high_fives) == 32_767
    assert csv.field_size_limit() == limit
    (tmp_path / "l.csv").write_text(f'file,count\na.csv,1\n"{"x" * (1 << 24)}x",1\n')
    with pytest.raises(
        InvalidParameter,
        match=r"^l\.csv line 3: cannot be read as CSV \(field larger than field limit "
        r"\(16777216\)\); allowed: fields of at most 16,777,216 characters$",
    ):
        read_labels(tmp_path, "l.csv")
    assert csv.field_size_limit() == limit
