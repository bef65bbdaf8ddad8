"""Reading real recordings (CSV or Parquet), and counting them in bounded memory.

A recording has a time column and three acceleration columns. Recognised names (case
does not matter): time ``t``, ``time``, ``timestamp``, ``time_s``, ``seconds``;
axes ``x/y/z``, ``ax/ay/az``, ``acc_x/acc_y/acc_z``, ``accel_x/...``,
``x_g/...``. Units are g or m/s^2, given or inferred from the median magnitude
(a worn watch is mostly near 1 g); time is in s, ms or us, given or inferred from
the median sample spacing. The file is only read, never modified.

A recording may be far larger than memory allows to hold as one array (days at
100 Hz). :func:`open_recording` reads it once in chunks (pandas for CSV, pyarrow row
batches for Parquet) to check it and infer units and rate, keeping only counts: the
medians are exact, from histograms of the values' leading bits, read again within one
bin only in the rare case that the bin straddles a decision (a rate rounding to
another 0.1 Hz). :func:`count_recording` then reads it a second time and feeds it to
the counter piece by piece. Gaps without a sample longer than
:data:`~highfive.harness._preprocess.MAX_GAP_S` split the recording into segments,
each counted on its own (never interpolated across: a day's gap would otherwise be a
day of invented data and gigabytes); the result lists segments and gaps.

Memory: ONNX models are fed through :meth:`CounterPipeline.stream`, so counting takes
the same memory for an hour and for a month (about 400 MiB for 10 million CSV rows,
against 3.2 GiB for the whole trace: ``benchmarks/bench_count.py``). Parquet is read
a row group at a time, so its peak also grows with the file's row-group size (pyarrow
writes 1Mi rows per group by default: 470 MiB for 10 million rows; a file written as one
10-million-row group needs 300 MB more). Counters of other kinds take each segment
whole. :func:`read_recording` returns the whole recording as one trace (memory grows
with it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from highfive.generators import Detection, G, InvalidParameter, Trace

from ._pipeline import PipelineStream
from ._preprocess import MAX_GAP_S
from ._scalogram import show
from .counters import CounterPlugin, OnnxCounter

__all__ = [
    "MAX_GAP_S",
    "Recording",
    "RecordingCount",
    "Segment",
    "count_recording",
    "open_recording",
    "read_recording",
]

Units = Literal["auto", "g", "m/s2"]
TimeUnit = Literal["auto", "s", "ms", "us"]

_TIME_NAMES = ("t", "time", "timestamp", "time_s", "seconds")
_AXIS_SETS = (
    ("x", "y", "z"),
    ("ax", "ay", "az"),
    ("acc_x", "acc_y", "acc_z"),
    ("accel_x", "accel_y", "accel_z"),
    ("x_g", "y_g", "z_g"),
)
_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_SPACINGS = (("s", 1e-3, 0.2), ("ms", 1.0, 200.0), ("us", 1e3, 2e5))

CHUNK_ROWS = 1 << 18
"""Rows read at a time (8 MB of float64 for four columns)."""

WHOLE_ROWS = 1 << 16
"""A segment of at most this many rows is counted whole (the plain path, a few MB);
longer ones stream."""

PLOT_POINTS = 200_000
"""At most this many samples are kept for ``--plot`` (every k-th of a longer recording)."""


# -- reading in chunks ---------------------------------------------------------------
def _check_path(path: Path) -> str:
    suffix = path.suffix.lower()
    if path.is_dir():
        raise InvalidParameter(
            f"recording: {show(os.fspath(path))} is a folder; give a .csv or .parquet file"
        )
    if not path.is_file():
        raise InvalidParameter(f"recording: {show(os.fspath(path))} does not exist")
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InvalidParameter(
            f"recording: {path.name} has suffix {show(suffix)}; allowed: .csv, .parquet"
        )
    return suffix


def _cannot_read(path: Path, exc: BaseException) -> InvalidParameter:
    first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return InvalidParameter(f"recording: cannot read {path.name} ({first})")


_READ_ERRORS = (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError)


def _header(path: Path, suffix: str) -> list[str]:
    try:
        if suffix == ".csv":
            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    except _READ_ERRORS as exc:
        raise _cannot_read(path, exc) from None


def _frames(path: Path, suffix: str, columns: list[str], rows: int) -> Iterator[pd.DataFrame]:
    """The recording's columns, ``rows`` rows at a time (read errors: one line)."""
    try:
        if suffix == ".csv":
            with pd.read_csv(path, usecols=columns, chunksize=rows) as reader:
                yield from reader
        else:
            import pyarrow.parquet as pq

            # Without pre-buffering, pyarrow holds one row group's pages, not its whole
            # byte range plus read-ahead (10M rows: 150 MB less at the peak).
            parquet = pq.ParquetFile(path, pre_buffer=False)
            for batch in parquet.iter_batches(batch_size=rows, columns=columns):
                yield batch.to_pandas()
    except _READ_ERRORS as exc:
        raise _cannot_read(path, exc) from None


def _columns(names: list[str], name: str) -> tuple[str, tuple[str, str, str]]:
    lower = {n.strip().lower(): n for n in names}
    time = next((lower[n] for n in _TIME_NAMES if n in lower), None)
    axes = next((s for s in _AXIS_SETS if all(a in lower for a in s)), None)
    if time is None or axes is None:
        missing = "time column" if time is None else "three axis columns"
        raise InvalidParameter(
            f"recording {name}: no {missing} among {show(names, 200)}; "
            f"expected time one of {list(_TIME_NAMES)} and axes one of "
            f"{[list(s) for s in _AXIS_SETS]}"
        )
    return time, (lower[axes[0]], lower[axes[1]], lower[axes[2]])


# -- exact medians in bounded memory ---------------------------------------------------
_SHIFT = 36  # a first pass keeps sign, exponent and 16 mantissa bits: bins 2**-16 wide
_NARROW = 16  # each further pass, 16 more bits
_MAX_KEYS = 1 << 20  # more distinct bins than this: coarser bins (memory stays bounded)


class _Median:
    """The median of a stream of non-negative float64 values, as ``np.median`` gives it,
    from counts of their leading bits (the bit pattern of a float >= 0 orders as its
    value). :meth:`interval` bounds it; :meth:`narrow` reads the values again and keeps
    only those in the median's bin, 16 bits finer, until the bin is one value."""

    def __init__(self) -> None:
        self.n = 0
        self.shift = _SHIFT
        self._keys = np.empty(0, dtype=np.uint64)
        self._counts = np.empty(0, dtype=np.int64)
        self._targets: list[tuple[int, int, int, int]] | None = None  # (rank, key, shift, below)

    def add(self, values: np.ndarray) -> None:
        bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64) >> np.uint64(
            self.shift
        )
        keys, counts = np.unique(bits, return_counts=True)
        self._merge(keys, counts)
        self.n += values.size
        while self._keys.size > _MAX_KEYS:
            self.shift += 4
            self._merge(self._keys >> np.uint64(4), self._counts, replace=True)

    def _merge(self, keys: np.ndarray, counts: np.ndarray, *, replace: bool = False) -> None:
        if not replace:
            keys = np.concatenate([self._keys, keys])
            counts = np.concatenate([self._counts, counts])
        self._keys, inverse = np.unique(keys, return_inverse=True)
        self._counts = np.bincount(inverse, weights=counts, minlength=self._keys.size).astype(
            np.int64
        )

    def _locate(self) -> None:
        # The bin of each rank the median depends on (one, or two for an even count).
        ranks = [self.n // 2] if self.n % 2 else [self.n // 2 - 1, self.n // 2]
        cum = np.cumsum(self._counts)
        self._targets = []
        for r in ranks:
            i = int(np.searchsorted(cum, r, side="right"))
            below = int(cum[i - 1]) if i else 0
            self._targets.append((r, int(self._keys[i]), self.shift, below))

    def interval(self) -> tuple[float, float]:
        """Smallest and largest value the median can have, given what was counted."""
        if self._targets is None:
            self._locate()
        assert self._targets is not None
        los, his = [], []
        for _, key, shift, _ in self._targets:
            lo = np.uint64(key) << np.uint64(shift)
            hi = (np.uint64(key + 1) << np.uint64(shift)) - np.uint64(1)
            los.append(float(np.array(lo).view(np.float64)))
            his.append(float(np.array(hi).view(np.float64)))
        if len(los) == 1:
            return los[0], his[0]
        return (los[0] + los[1]) / 2, (his[0] + his[1]) / 2

    @property
    def exact(self) -> bool:
        return self._targets is not None and all(t[2] == 0 for t in self._targets)

    def narrow(self, values: Iterator[np.ndarray]) -> None:
        """One more pass over the same values: each median bin 16 bits finer."""
        assert self._targets is not None
        found: list[dict[int, int]] = [{} for _ in self._targets]
        for v in values:
            bits = np.ascontiguousarray(v, dtype=np.float64).view(np.uint64)
            for (_, key, shift, _), hist in zip(self._targets, found, strict=True):
                inside = bits[(bits >> np.uint64(shift)) == np.uint64(key)]
                sub = inside >> np.uint64(max(0, shift - _NARROW))
                for k, c in zip(*np.unique(sub, return_counts=True), strict=True):
                    hist[int(k)] = hist.get(int(k), 0) + int(c)
        targets = []
        for (rank, _, shift, below), hist in zip(self._targets, found, strict=True):
            for k in sorted(hist):
                if below + hist[k] > rank:
                    targets.append((rank, k, max(0, shift - _NARROW), below))
                    break
                below += hist[k]
        self._targets = targets


def _decide(
    median: _Median, decide: Callable[[float], Any], again: Callable[[], Iterator[np.ndarray]]
) -> Any:
    """``decide(median)``, exactly: the bins are narrowed (the values read again with
    ``again``) only while the decision differs across the interval they leave.
    ``decide`` must be monotone (equal at both ends means equal in between)."""
    lo, hi = median.interval()
    while decide(lo) != decide(hi) and not median.exact:
        median.narrow(again())
        lo, hi = median.interval()
    return decide(lo)


def _spacing_unit(dt: float) -> str | None:
    return next((u for u, lo, hi in _SPACINGS if lo <= dt <= hi), None)


def _units_of(magnitude: float) -> str | None:
    if 0.5 <= magnitude <= 2.0:
        return "g"
    if 0.5 * G <= magnitude <= 2.0 * G:
        return "m/s2"
    return None


# -- the recording ---------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """A stretch of a recording without a gap longer than the limit.

    Attributes
    ----------
    start_s, end_s : float
        First and last sample instants (s from the recording's first sample).
    samples : int
    count : int or None
        High-fives counted; None when the stretch was too short to count.
    note : str
        Why it was not counted ("" when it was).
    """

    start_s: float
    end_s: float
    samples: int
    count: int | None
    note: str = ""


@dataclass(frozen=True)
class RecordingCount:
    """What :func:`count_recording` found.

    Attributes
    ----------
    detections : list of Detection
        All segments' detections, in time order (s from the first sample).
    segments : list of Segment
    gaps : list of (float, float)
        Start and end (s) of every gap that split the recording.
    plot : Trace or None
        The recording for a plot (every k-th sample of a long one; NaN across gaps).
    """

    detections: list[Detection]
    segments: list[Segment]
    gaps: list[tuple[float, float]]
    plot: Trace | None = None

    @property
    def count(self) -> int:
        return len(self.detections)


@dataclass(frozen=True)
class Recording:
    """A checked recording on disk: its columns, units, rate and size, not its samples.

    Make it with :func:`open_recording`; :meth:`pieces` reads the samples in chunks.
    """

    path: Path
    time: str
    axes: tuple[str, str, str]
    units: str
    time_unit: str
    fs: float
    rows: int
    duration_s: float
    _suffix: str = field(repr=False)
    _t_first: float = field(repr=False)
    _chunk: int = field(default=CHUNK_ROWS, repr=False)

    @property
    def info(self) -> dict[str, str]:
        """How columns, units and rate were found, for the user to check."""
        return {
            "time column": self.time,
            "axis columns": ", ".join(self.axes),
            "units": self.units,
            "sample rate": f"{self.fs:g} Hz",
            "duration": f"{self.duration_s:.2f} s",
        }

    def pieces(
        self, *, rows: int | None = None, max_gap_s: float = MAX_GAP_S
    ) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        """The samples in order, ``rows`` (default: as opened) at a time, in pieces that
        never span a gap.

        Yields
        ------
        t : np.ndarray, shape (m,), float64
            Seconds since the first sample.
        x : np.ndarray, shape (m, 3), float32
            Specific force in g.
        starts_segment : bool
            Whether the piece starts a new segment (the first piece does; so does
            every piece after a gap longer than ``max_gap_s``).
        """
        scale = _TIME_SCALE[self.time_unit]
        last = math.nan
        columns = [self.time, *self.axes]
        for frame in _frames(self.path, self._suffix, columns, rows or self._chunk):
            t_raw, x = _numbers(frame, self.time, self.axes, self.path.name)
            t = (t_raw - self._t_first) * scale
            if self.units == "m/s2":
                x = x / G
            x32 = x.astype(np.float32)
            d = np.diff(t, prepend=last)
            cuts = [0, *np.flatnonzero(d > max_gap_s).tolist(), t.size]
            for a, b in pairwise(cuts):
                if b > a:
                    yield t[a:b], x32[a:b], math.isnan(last) or a > 0 or d[0] > max_gap_s
            last = float(t[-1]) if t.size else last


def _spacings(t: np.ndarray, last: float) -> np.ndarray:
    # Differences between consecutive timestamps, the first against the previous
    # chunk's last (NaN before the first chunk: then there is none).
    return np.diff(t) if math.isnan(last) else np.diff(t, prepend=last)


def _numbers(
    frame: pd.DataFrame, time: str, axes: tuple[str, str, str], name: str
) -> tuple[np.ndarray, np.ndarray]:
    try:
        t = frame[time].to_numpy(dtype=np.float64)
        x = frame[list(axes)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameter(
            f"recording {name}: columns {show(time)}, {', '.join(axes)} must be numeric"
        ) from None
    return t, x


def open_recording(
    path: str | os.PathLike[str],
    *,
    units: Units = "auto",
    time_unit: TimeUnit = "auto",
    rows: int = CHUNK_ROWS,
) -> Recording:
    """Check a recording and infer its units and rate, reading it in chunks.

    Raises
    ------
    InvalidParameter
        One line naming the problem: a missing file or column, text where numbers
        belong, a non-finite sample, timestamps that do not increase, units or rate
        that cannot be inferred.
    """
    path = Path(path)
    if units not in ("auto", "g", "m/s2"):
        raise InvalidParameter(f"units: {show(units)} is not allowed; choose g or m/s2")
    if time_unit not in ("auto", *_TIME_SCALE):
        raise InvalidParameter(f"time_unit: {show(time_unit)} is not allowed; choose s, ms or us")
    suffix = _check_path(path)
    name = path.name
    time, axes = _columns(_header(path, suffix), name)
    columns = [time, *axes]

    def values(which: str) -> Iterator[np.ndarray]:
        # The values a median is taken of, read again (only to narrow a median's bin).
        last = math.nan
        for frame in _frames(path, suffix, columns, rows):
            t, x = _numbers(frame, time, axes, name)
            yield _spacings(t, last) if which == "spacing" else np.linalg.norm(x, axis=1)
            last = float(t[-1]) if t.size else last

    spacing, magnitude = _Median(), _Median()
    n, first, last = 0, math.nan, math.nan
    for frame in _frames(path, suffix, columns, rows):
        t, x = _numbers(frame, time, axes, name)
        finite = np.isfinite(x).all(axis=1) & np.isfinite(t)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise InvalidParameter(
                f"recording {name}: row {n + bad} is not finite "
                f"({show(t[bad])}, {show(x[bad])}); drop or fill missing samples"
            )
        d = _spacings(t, last)
        if not np.all(d > 0):
            i = int(np.flatnonzero(d <= 0)[0]) + t.size - d.size  # row in this frame
            before = float(t[i - 1]) if i else last
            raise InvalidParameter(
                f"timestamps: not strictly increasing at row {n + i} of {name} (column "
                f"{show(time)}: {show(before)} then {show(t[i])}); sort the recording and "
                "drop duplicate rows"
            )
        spacing.add(d)
        magnitude.add(np.linalg.norm(x, axis=1))
        if t.size:
            first = float(t[0]) if n == 0 else first
            last = float(t[-1])
        n += t.size
    if n < 2:
        raise InvalidParameter(f"recording {name}: {n} rows; need at least 2")

    scale_unit = time_unit

    def rate(dt: float) -> tuple[str | None, float | str]:
        unit = _spacing_unit(dt) if scale_unit == "auto" else scale_unit
        if unit is None:
            return None, f"{dt:.3g}"
        return unit, round(1.0 / (dt * _TIME_SCALE[unit]), 1)

    unit, fs = _decide(spacing, rate, lambda: values("spacing"))
    if unit is None:
        raise InvalidParameter(
            f"recording {name}: cannot infer the sample rate from a median spacing of {fs} "
            "time units; pass --time-unit s|ms|us"
        )
    if units == "auto":
        found = _decide(
            magnitude,
            lambda m: _units_of(m) or f"{m:.3g}",
            lambda: values("magnitude"),
        )
        if found not in ("g", "m/s2"):
            raise InvalidParameter(
                f"recording {name}: cannot infer units from a median magnitude of {found}; "
                "a worn watch reads about 1 g or 9.81 m/s^2; pass --units g or --units m/s2"
            )
        units = found
    return Recording(
        path=path,
        time=time,
        axes=axes,
        units=units,
        time_unit=unit,
        fs=float(fs),
        rows=n,
        duration_s=(last - first) * _TIME_SCALE[unit],
        _suffix=suffix,
        _t_first=float(first),
        _chunk=rows,
    )


def read_recording(
    path: str | os.PathLike[str],
    *,
    units: Units = "auto",
    time_unit: TimeUnit = "auto",
) -> tuple[Trace, dict[str, str]]:
    """Read a whole recording as one :class:`Trace` in g and seconds.

    The trace holds every sample, gaps included (memory grows with the recording;
    :func:`count_recording` counts one of any length).

    Returns
    -------
    trace : Trace
        No truth events; ``fs`` is the nominal rate from the median spacing.
    info : dict
        How columns, units and rate were found, for the user to check.
    """
    rec = open_recording(path, units=units, time_unit=time_unit)
    parts = list(rec.pieces(max_gap_s=math.inf))
    t = np.concatenate([p[0] for p in parts])
    x = np.concatenate([p[1] for p in parts])
    return Trace(t=t, samples=x, fs=rec.fs), rec.info


# -- counting --------------------------------------------------------------------------
class _Stretch:
    """One segment on its way through a counter: buffered while short, then streamed
    (ONNX models), or buffered whole (other kinds)."""

    def __init__(self, counter: CounterPlugin, fs: float) -> None:
        self.counter, self.fs = counter, fs
        self.pipe = counter.pipeline if isinstance(counter, OnnxCounter) else None
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []
        self.stream: PipelineStream | None = None
        self.rows, self.start, self.end = 0, math.nan, math.nan
        self.found = 0  # detections returned so far

    def add(self, t: np.ndarray, x: np.ndarray) -> list[Detection]:
        if self.rows == 0:
            self.start = float(t[0])
        self.rows, self.end = self.rows + t.size, float(t[-1])
        if self.stream is not None:
            found = self.stream.feed(t, x)
        elif self.pipe is None or self.rows <= WHOLE_ROWS:
            self.parts.append((t, x))
            found = []
        else:  # long enough to stream: feed what was kept, then every piece as it comes
            self.stream = self.pipe.stream(self.fs)
            found = [d for part in [*self.parts, (t, x)] for d in self.stream.feed(*part)]
            self.parts = []
        self.found += len(found)
        return found

    def close(self) -> tuple[list[Detection], Segment]:
        span, pipe = self.end - self.start, self.pipe
        if self.rows < 2:
            return [], Segment(self.start, self.end, self.rows, None, "a single sample")
        if pipe is not None and not pipe.countable(span, self.rows, self.fs):
            why = f"{span:.3g} s, shorter than one window ({pipe.spec.window_s:g} s)"
            return [], Segment(self.start, self.end, self.rows, None, why)
        if self.stream is not None:
            found = self.stream.finish()
        else:
            t = np.concatenate([p[0] for p in self.parts])
            x = np.concatenate([p[1] for p in self.parts])
            self.parts = []
            found = self.counter.count(Trace(t=t, samples=x, fs=self.fs)).detections
        return found, Segment(self.start, self.end, self.rows, self.found + len(found))


def count_recording(
    recording: Recording,
    counter: CounterPlugin,
    *,
    max_gap_s: float = MAX_GAP_S,
    plot: bool = False,
) -> RecordingCount:
    """Count the high-fives in a recording, segment by segment, in bounded memory.

    Parameters
    ----------
    recording : Recording
        From :func:`open_recording`.
    counter : CounterPlugin
        ONNX models stream (the detections equal :meth:`CounterPipeline.run`'s on each
        segment, bit for bit); other kinds get each segment as a whole trace.
    max_gap_s : float
        A longer time without a sample ends a segment.
    plot : bool
        Keep a thinned copy of the samples for a plot (:attr:`RecordingCount.plot`).

    Raises
    ------
    CounterFault
        A counter other than an ONNX model failed on a segment.
    InvalidParameter
        No segment holds a single window.
    """
    if not (isinstance(max_gap_s, int | float) and max_gap_s > 0):
        raise InvalidParameter(f"max_gap_s: got {show(max_gap_s)}; must be a number of s > 0")
    every = max(1, math.ceil(recording.rows / PLOT_POINTS))
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    detections: list[Detection] = []
    segments: list[Segment] = []
    stretch: _Stretch | None = None
    row = 0
    for t, x, starts in recording.pieces(max_gap_s=max_gap_s):
        if starts and stretch is not None:
            found, seg = stretch.close()
            detections += found
            segments.append(seg)
            if plot:  # a NaN sample in the gap breaks the plotted line there
                kept.append((np.array([(seg.end_s + float(t[0])) / 2]), np.full((1, 3), np.nan)))
        if starts:
            stretch = _Stretch(counter, recording.fs)
        assert stretch is not None
        detections += stretch.add(t, x)
        if plot:
            pick = np.arange(-row % every, t.size, every)
            kept.append((t[pick], x[pick]))
        row += t.size
    assert stretch is not None
    found, seg = stretch.close()
    detections += found
    segments.append(seg)
    if all(s.count is None for s in segments):
        raise InvalidParameter(_nothing_to_count(recording, segments, counter))
    gaps = [(a.end_s, b.start_s) for a, b in pairwise(segments)]
    shown = None
    if plot:
        shown = Trace(
            t=np.concatenate([k[0] for k in kept]),
            samples=np.concatenate([k[1] for k in kept]),
            fs=recording.fs / every,
        )
    return RecordingCount(detections, segments, gaps, shown)


def _nothing_to_count(recording: Recording, segments: list[Segment], counter: Any) -> str:
    name = recording.path.name
    if len(segments) == 1:
        seg = segments[0]
        window = f" of {counter.spec.window_s:g} s" if counter.spec is not None else ""
        return (
            f"recording {name}: {seg.end_s - seg.start_s:.3g} s long ({seg.samples} samples), "
            f"shorter than one window{window}; nothing can be counted"
        )
    return (
        f"recording {name}: none of its {len(segments)} stretches between gaps of more than "
        f"{MAX_GAP_S:g} s holds one window; nothing can be counted"
    )
