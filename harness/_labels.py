"""A folder of labelled recordings as a campaign's cases: the labels file, checked whole.

The labels file is a CSV file in the recordings folder with a header line and one row
per recording:

=============== ==================================================================
column          meaning
=============== ==================================================================
``file``        the recording (.csv or .parquet), relative to the folder; each file
                once (by its resolved path, and by its bytes: a copy is refused)
``high_fives``  the impact times (s from the recording's first sample), separated
                by ``;``, increasing; empty for none
``count``       the number of high-fives, when their times are not known (at most
                :data:`MAX_COUNT`, as for the times: the most a result row holds)
(metadata)      the columns the campaign's ``recordings.metadata`` names
=============== ==================================================================

Exactly one of ``high_fives`` and ``count`` is a column. Every row is checked, and
every recording opened as ``highfive count`` opens it (columns, units and rate
inferred), before any case runs: the first problem is one :class:`InvalidParameter`
line naming the labels file, the line (of the file: a quoted value may span lines),
the column, the value and what is allowed.
Case ``i`` of the campaign is the recording on the ``i``-th row.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from highfive.generators import (
    Dimension,
    InvalidParameter,
    ParameterSpace,
    number_from_text,
    show,
)

from ._io import FOLDER, MISSING, NOT_REGULAR, file_identity, not_a_file
from ._pipeline import countable
from ._recording import Recording, TimeUnit, Units, open_recording
from ._recording_count import nothing_to_count, segments, spans_of, stretches
from ._records import MAX_COUNT

FIELD_CHARS = 1 << 24
"""Characters a field of a labels file may hold (16 Mi): room for the most times a row
may hold (:data:`MAX_COUNT`) written with hundreds of digits each. The csv module's
default (131,072) refused a row of 32,767 times written to the ms."""

__all__ = ["RecordingCase", "check_windows", "labels_space", "read_labels"]

TRUTH_COLUMNS = ("high_fives", "count")


@dataclass(frozen=True)
class RecordingCase:
    """One labelled recording, with its bytes: plain, picklable data for a worker.

    Attributes
    ----------
    file : str
        Path relative to the recordings folder, as the labels file gives it.
    data : bytes
        The file's content (workers need no access to the folder).
    sha256 : str
    high_fives : tuple of float, or None
        Impact times (s); None when only the count is known.
    count : int
        The number of high-fives.
    duration_s : float
        First to last sample, as opening it found.
    metadata : tuple of (str, str)
        The metadata columns' values, in the campaign's order.
    units, time_unit : str
        As the campaign gives them (``"auto"``: inferred).
    line : int
        Its line in the labels file.
    recording : Recording or None
        The file as :func:`read_labels` opened it (its samples are not held), for
        :func:`check_windows`; not sent to workers.
    segments : tuple of (float, float, int), or None
        Each segment's first and last sample's time and its samples, when read.
    """

    file: str
    data: bytes
    sha256: str
    high_fives: tuple[float, ...] | None
    count: int
    duration_s: float
    metadata: tuple[tuple[str, str], ...] = ()
    units: Units = "auto"
    time_unit: TimeUnit = "auto"
    line: int = 0
    recording: Recording | None = field(default=None, compare=False, repr=False)
    segments: tuple[tuple[float, float, int], ...] | None = field(
        default=None, compare=False, repr=False
    )
    """The recording's segments between gaps, where :func:`read_labels` read them (to
    check its times), so that :func:`check_windows` need not read the file again."""

    def __getstate__(self) -> dict[str, object]:
        # Workers get the bytes; the handle on this machine's file stays here.
        return {**self.__dict__, "recording": None}


def _where(labels: Path, line: int, column: str) -> str:
    return f"{labels.name} line {line}, column {column}"


def _times(text: str, where: str) -> tuple[float, ...]:
    out: list[float] = []
    for part in text.split(";") if text.strip() else []:
        t = number_from_text(part.strip())  # float() also takes "1_0" and other digits
        if t is None or not math.isfinite(t) or t < 0:
            raise InvalidParameter(
                f"{where}: {show(part.strip())} is not a time; allowed: seconds >= 0 from "
                'the first sample, separated by ";" (empty: no high-five)'
            )
        if out and t <= out[-1]:
            raise InvalidParameter(
                f"{where}: {show(text)} is not increasing ({out[-1]:g} then {t:g}); "
                "allowed: increasing times, each high-five once"
            )
        out.append(t)
    if len(out) > MAX_COUNT:
        raise InvalidParameter(
            f"{where}: {len(out):,} times; allowed: at most {MAX_COUNT:,} high-fives a recording"
        )
    return tuple(out)


def _below(end: float, time: float) -> str:
    """``end`` in the fewest digits (from 4) that show it below ``time``: 9.9798 s, not
    a rounded 9.980 that a time of 9.98 seems to fit."""
    for digits in range(4, 18):
        shown = f"{end:.{digits}g}"
        if float(shown) < time:
            return shown
    return repr(end)  # pragma: no cover (17 digits tell any two floats apart)


def _check_gaps(
    times: Sequence[float], spans: Sequence[tuple[float, float, int]], where: str, name: str
) -> None:
    """Refuse a time that falls in a gap between two segments: no sample shows that
    high-five, so its case could only ever be a miss."""
    sorted_times = np.asarray(times, dtype=np.float64)  # sorted: checked before
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        i = int(np.searchsorted(sorted_times, end, side="right"))  # the first after the end
        if i < sorted_times.size and sorted_times[i] < start:
            raise InvalidParameter(
                f"{where}: {sorted_times[i]:g} s falls in a gap of {name} (no sample from {end:g} "
                f"to {start:g} s); allowed: times where the recording holds samples"
            )


def _count(text: str, where: str) -> int:
    s = text.strip()
    # ASCII digits only: str.isdigit() also takes superscripts and other scripts' digits.
    if not (s.isascii() and s.isdigit()) or len(s) > len(str(MAX_COUNT)) or int(s) > MAX_COUNT:
        raise InvalidParameter(
            f"{where}: {show(text)} is not a count; allowed: a whole number from 0 to "
            f"{MAX_COUNT:,} in the digits 0-9"
        )
    return int(s)


def _header(labels: Path, first: list[str], metadata: Sequence[str]) -> list[str]:
    if not any(c.strip() for c in first):
        raise InvalidParameter(
            f"recordings.labels: {labels.name} is empty; allowed: a header line "
            "(file, high_fives or count, metadata columns) and one row per recording"
        )
    header = [c.strip() for c in first]
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise InvalidParameter(f"{labels.name} line 1: column {show(dup[0])} appears twice")
    allowed = ["file", *TRUTH_COLUMNS, *metadata]
    unknown = [c for c in header if c not in allowed]
    if unknown:
        raise InvalidParameter(
            f"{labels.name} line 1: unknown column {show(unknown[0])}; allowed: "
            f"{', '.join(allowed)} (name a metadata column in recordings.metadata to keep it)"
        )
    truth = [c for c in TRUTH_COLUMNS if c in header]
    missing = [c for c in ("file", *metadata) if c not in header]
    if missing or len(truth) != 1:
        what = (
            f"no column {show(missing[0])}"
            if missing
            else ("both high_fives and count" if truth else "neither high_fives nor count")
        )
        raise InvalidParameter(
            f"{labels.name} line 1: {what}; allowed: file, exactly one of high_fives "
            f"(impact times) and count, and the metadata columns {list(metadata)}"
        )
    return header


def read_labels(
    folder: str | os.PathLike[str],
    labels: str,
    metadata: Sequence[str] = (),
    *,
    units: Units = "auto",
    time_unit: TimeUnit = "auto",
) -> tuple[RecordingCase, ...]:
    """Read and check a labels file and every recording it names.

    Parameters
    ----------
    folder : path
        The recordings folder.
    labels : str
        The labels file, relative to ``folder``.
    metadata : sequence of str
        The metadata columns to keep (any other column but file, high_fives and count
        is refused).
    units, time_unit : str
        How to read the recordings (``"auto"``: inferred, as ``highfive count`` does).

    Raises
    ------
    InvalidParameter
        One line for the first problem (see the module doc).
    """
    root = Path(folder)
    if not root.is_dir():
        raise InvalidParameter(f"recordings.folder: {os.fspath(root)!r} is not a folder")
    path = root / labels
    if not path.is_file():
        raise InvalidParameter(
            f"recordings.labels: {show(labels)} does not exist in the folder {os.fspath(root)}; "
            "allowed: a CSV file in the recordings folder"
        )
    rows: list[tuple[int, list[str]]] = []  # each record, with the file line it starts on
    start = 1
    limit = csv.field_size_limit(FIELD_CHARS)  # the module's own limit, restored below
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # a BOM is allowed
            reader = csv.reader(fh)
            for record in reader:  # a quoted field may hold line breaks
                rows.append((start, record))
                start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidParameter(
            f"{path.name} line {start}: cannot be read as CSV ({exc}); allowed: fields of at "
            f"most {FIELD_CHARS:,} characters"
        ) from None
    except UnicodeDecodeError:
        content = path.read_bytes()
        try:
            content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:  # the whole file: its line, not a chunk's offset
            line = content[: exc.start].count(b"\n") + 1
            raise InvalidParameter(
                f"{path.name} line {line}: byte 0x{content[exc.start]:02x} is not UTF-8; allowed: "
                "a CSV file in UTF-8 (a byte order mark allowed)"
            ) from None
        raise  # pragma: no cover (decodes whole but not in pieces: cannot happen)
    except OSError as exc:
        raise InvalidParameter(f"recordings.labels: cannot read {path.name} ({exc})") from None
    finally:
        csv.field_size_limit(limit)
    while rows and not any(c.strip() for c in rows[0][1]):
        rows.pop(0)  # blank lines before the header, as between rows
    header = _header(path, rows[0][1] if rows else [], metadata)
    cases: list[RecordingCase] = []
    seen: dict[object, tuple[int, str]] = {}
    for line, raw in rows[1:]:
        if not any(c.strip() for c in raw):
            continue  # a blank line
        if len(raw) != len(header):
            raise InvalidParameter(
                f"{path.name} line {line}: {len(raw)} fields, the header has {len(header)}"
            )
        cell = dict(zip(header, raw, strict=True))
        case = _case(root, path, line, cell, metadata, seen, (units, time_unit))
        cases.append(case)
    if not cases:
        raise InvalidParameter(f"{path.name}: a header and no recording; add one row per file")
    return tuple(cases)


def _case(
    root: Path,
    labels: Path,
    line: int,
    cell: dict[str, str],
    metadata: Sequence[str],
    seen: dict[object, tuple[int, str]],
    reading: tuple[Units, TimeUnit],
) -> RecordingCase:
    name = cell["file"].strip()
    where = _where(labels, line, "file")
    if not name:
        raise InvalidParameter(f"{where}: empty; allowed: a recording's path in the folder")
    norm = os.path.normpath(name)
    if os.path.isabs(name) or Path(name).drive or norm == ".." or norm.startswith(".." + os.sep):
        raise InvalidParameter(
            f"{where}: {show(name)} is outside the folder {os.fspath(root)}; allowed: a path "
            "relative to the folder, within it"
        )
    if "\0" in name:  # the operating system takes no such name: os.stat raised ValueError
        raise InvalidParameter(
            f"{where}: {show(name)} holds a NUL character, which no file name does; allowed: "
            "a recording's path in the folder"
        )
    file = root / name
    key = file_identity(file)  # the same file however it is written (or linked)
    if key in seen:
        raise InvalidParameter(
            f"{where}: {show(name)} is named again (first on line {seen[key][0]}); "
            "allowed: each recording once"
        )
    seen[key] = (line, name)
    problem = not_a_file(file)
    if problem:
        said = NOT_REGULAR if problem == FOLDER else problem
        if said in (MISSING, NOT_REGULAR):
            said += f" in the folder {os.fspath(root)}"
        raise InvalidParameter(
            f"{where}: {show(name)} {said}; allowed: a .csv or .parquet file, relative to the "
            "folder"
        )
    meta = []
    for column in metadata:
        value = cell[column].strip()
        if not value:
            raise InvalidParameter(
                f"{_where(labels, line, column)}: empty; allowed: a value for every recording"
            )
        meta.append((column, value))
    times: tuple[float, ...] | None = None
    if "high_fives" in cell:
        times = _times(cell["high_fives"], _where(labels, line, "high_fives"))
        count = len(times)
    else:
        count = _count(cell["count"], _where(labels, line, "count"))
    try:
        rec = open_recording(file, units=reading[0], time_unit=reading[1], advise="campaign")
    except InvalidParameter as exc:
        raise InvalidParameter(f"{where}: {show(name)} is refused: {exc}") from None
    if times and times[-1] > rec.duration_s:
        raise InvalidParameter(
            f"{_where(labels, line, 'high_fives')}: {times[-1]:g} s is after the end of "
            f"{name} ({_below(rec.duration_s, times[-1])} s from its first sample to its last); "
            "allowed: times within the recording"
        )
    spans = None
    if times:
        spans = tuple(segments(rec))  # one pass, kept for check_windows
        _check_gaps(times, spans, _where(labels, line, "high_fives"), name)
    data = file.read_bytes()
    rec.check_unchanged()  # the bytes the case ships are those checked
    sha = hashlib.sha256(data).hexdigest()
    if sha in seen:  # a copy: the same case twice, perhaps with contradicting labels
        first, other = seen[sha]
        raise InvalidParameter(
            f"{where}: {show(name)} holds the same bytes as {show(other)} (line {first}, "
            f"SHA-256 {sha[:12]}...); allowed: each recording once"
        )
    seen[sha] = (line, name)
    return RecordingCase(
        name, data, sha, times, count, rec.duration_s, tuple(meta), *reading, line, rec, spans
    )


def check_windows(
    cases: Sequence[RecordingCase], labels: str | os.PathLike[str], windows: Mapping[str, float]
) -> None:
    """Refuse a recording no stretch of which holds a window of a counter (``highfive
    count`` refuses it too): it would be run as an ``error`` case of every counter; and
    a high-five time in a stretch between gaps that holds no window (a certain miss).

    Parameters
    ----------
    cases : sequence of RecordingCase
    labels : path
        The labels file (named in the message).
    windows : mapping of str to float
        Each counter's window (s) by its id; counters without one are left out.
    """
    cid = max(windows, key=lambda c: windows[c]) if windows else None
    for case in cases:
        if case.recording is None:  # not opened by read_labels (sent from elsewhere)
            continue
        if cid is not None:
            spans = (  # one pass, only when a counter has a window (unless read_labels did)
                stretches(case.recording) if case.segments is None else spans_of(case.segments)
            )
            if not any(countable(s, n, case.recording.fs, windows[cid]) for s, n in spans):
                why = nothing_to_count(Path(case.file).name, spans, windows[cid])
                raise InvalidParameter(
                    f"{_where(Path(labels), case.line, 'file')}: {show(case.file)} is "
                    f"refused: {why} by counter {cid} ({windows[cid]:g} s window); drop it "
                    "from the labels file"
                )
        _check_short(case, Path(labels), cid, windows[cid] if cid is not None else 0.0)


def _check_short(case: RecordingCase, labels: Path, cid: str | None, window_s: float) -> None:
    """Refuse a high-five time in a stretch between gaps too short for a window (``cid``'s,
    the longest; without one, a stretch of one sample): no counter counts it there, so its
    case could only be a miss, as one in a gap."""
    times = np.asarray(case.high_fives or (), dtype=np.float64)  # sorted: checked before
    assert case.recording is not None
    if not times.size or not case.segments:
        return
    for start, end, n in case.segments:
        if countable(end - start, n, case.recording.fs, window_s):
            continue
        i = int(np.searchsorted(times, start, side="left"))  # the first from the start on
        if i < times.size and times[i] <= end:
            counter = (
                f"for counter {cid} ({window_s:g} s window)"
                if cid is not None
                else "(a counter needs two samples)"
            )
            raise InvalidParameter(
                f"{_where(labels, case.line, 'high_fives')}: {times[i]:g} s falls in a "
                f"stretch of {show(case.file)} between gaps too short to count ({start:g} to "
                f"{end:g} s, {n} sample{'s' * (n != 1)}) {counter}; allowed: times in "
                "stretches that hold a window"
            )


def labels_space(cases: Sequence[RecordingCase], metadata: Sequence[str]) -> ParameterSpace:
    """The categorical dimensions recorded cases are binned by.

    One per metadata column (its choices: the values the labels hold, sorted); when no
    metadata column holds two values or more (none is binned), also ``recording`` (one
    bin per file).
    """
    values = {m: sorted({dict(c.metadata)[m] for c in cases}) for m in metadata}
    if not any(len(v) > 1 for v in values.values()):
        values["recording"] = sorted(c.file for c in cases)
    return ParameterSpace(
        [
            Dimension(
                column,
                "categorical",
                choices=tuple(choices),
                description=f"the labels file's {column} column",
                source="labels file",
            )
            for column, choices in values.items()
        ]
    )
