"""Counting a recording: each segment between gaps through the counter, in bounded memory.

Memory: ONNX models are fed through :meth:`CounterPipeline.stream`, so counting takes
the same memory for an hour and for a month (about 400 MiB for 10 million CSV rows,
against 3.2 GiB for the whole trace: ``benchmarks/bench_count.py``). Parquet is read
a row group at a time, so its peak also grows with the file's row-group size (pyarrow
writes 1Mi rows per group by default: 470 MiB for 10 million rows; a file written as one
10-million-row group needs 300 MB more). Counters of other kinds take each segment
whole. Keeping every window's probability (``windows=True``, for ``count --json`` and
``--plot``) adds 12 bytes a window: the shipped models score 5 windows a second, 5 MB
a day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from highfive.generators import Detection, InvalidParameter, Trace, show

from ._pipeline import PipelineStream
from ._preprocess import MAX_GAP_S
from ._recording import Recording
from .counters import CounterPlugin, OnnxCounter

__all__ = ["RecordingCount", "Segment", "count_recording", "stretches"]

WHOLE_ROWS = 1 << 16
"""A segment of at most this many rows is counted whole (the plain path, a few MB);
longer ones stream."""

PLOT_POINTS = 200_000
"""About this many samples at most are kept for ``--plot``: of a longer recording, the
rows holding each axis's least and largest value in every bucket of k rows (so an
impact spike is never thinned away), a few more where a bucket is cut by a gap."""


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
        The recording for a plot (of a long one, each axis's least and largest
        sample of every k; NaN across gaps).
    windows : (np.ndarray, np.ndarray) or None
        Every window's centre (s, float64) and probability of a high-five (float32), in
        time order, when asked for; None when not asked for or the counter reports no
        probabilities (counters other than ONNX models may not).
    """

    detections: list[Detection]
    segments: list[Segment]
    gaps: list[tuple[float, float]]
    plot: Trace | None = None
    windows: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def count(self) -> int:
        return len(self.detections)


class _Stretch:
    """One segment on its way through a counter: buffered while short, then streamed
    (ONNX models), or buffered whole (other kinds)."""

    def __init__(self, counter: CounterPlugin, fs: float, *, record: bool) -> None:
        self.counter, self.fs, self.record = counter, fs, record
        self.pipe = counter.pipeline if isinstance(counter, OnnxCounter) else None
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []
        self.stream: PipelineStream | None = None
        self.rows, self.start, self.end = 0, math.nan, math.nan
        self.found = 0  # detections returned so far
        self.windows = (np.empty(0), np.empty(0, dtype=np.float32))  # kept when recording

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
            self.stream = self.pipe.stream(self.fs, record=self.record)
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
            result = self.stream.result(found) if self.record else None
        else:
            t = np.concatenate([p[0] for p in self.parts])
            x = np.concatenate([p[1] for p in self.parts])
            self.parts = []
            result = self.counter.count(Trace(t=t, samples=x, fs=self.fs))
            found = result.detections
        if self.record and result is not None:
            self.windows = (result.centres, result.probs)
        return found, Segment(self.start, self.end, self.rows, self.found + len(found))


def count_recording(
    recording: Recording,
    counter: CounterPlugin,
    *,
    max_gap_s: float = MAX_GAP_S,
    plot: bool = False,
    windows: bool = False,
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
    windows : bool
        Keep every window's probability (:attr:`RecordingCount.windows`).

    Raises
    ------
    CounterFault
        A counter other than an ONNX model failed on a segment.
    InvalidParameter
        No segment holds a single window.
    """
    if not (isinstance(max_gap_s, int | float) and max_gap_s > 0):
        raise InvalidParameter(f"max_gap_s: got {show(max_gap_s)}; must be a number of s > 0")
    # Buckets of ``every`` rows, each giving up to 6 (each axis's least and largest).
    every = 1 if recording.rows <= PLOT_POINTS else math.ceil(6 * recording.rows / PLOT_POINTS)
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    detections: list[Detection] = []
    segments: list[Segment] = []
    scored: list[tuple[np.ndarray, np.ndarray]] = []  # window centres and probabilities

    def end(stretch: _Stretch) -> None:
        found, seg = stretch.close()
        detections.extend(found)
        segments.append(seg)
        if stretch.windows[0].size:
            scored.append(stretch.windows)

    stretch: _Stretch | None = None
    row = 0
    for t, x, starts in recording.pieces(max_gap_s=max_gap_s):
        if starts and stretch is not None:
            end(stretch)
            if plot:  # a NaN sample in the gap breaks the plotted line there
                mid = np.array([(segments[-1].end_s + float(t[0])) / 2])
                kept.append((mid, np.full((1, 3), np.nan)))
        if starts:
            stretch = _Stretch(counter, recording.fs, record=windows)
        assert stretch is not None
        detections += stretch.add(t, x)
        if plot:
            pick = _extremes(x, row, every)
            kept.append((t[pick], x[pick]))
        row += t.size
    assert stretch is not None
    end(stretch)
    if all(s.count is None for s in segments):
        raise InvalidParameter(_nothing_to_count(recording, max_gap_s, counter))
    gaps = [(a.end_s, b.start_s) for a, b in pairwise(segments)]
    shown = None
    if plot:
        shown = Trace(
            t=np.concatenate([k[0] for k in kept]),
            samples=np.concatenate([k[1] for k in kept]),
            fs=recording.fs / every,
        )
    probs = None
    if scored:
        probs = (np.concatenate([c for c, _ in scored]), np.concatenate([p for _, p in scored]))
    return RecordingCount(detections, segments, gaps, shown, probs)


def _extremes(x: np.ndarray, first: int, every: int) -> np.ndarray:
    """The rows of ``x`` (its first being row ``first`` of the recording), in order, that
    hold each axis's least and largest value in every bucket of ``every`` rows counted
    from the recording's first row (all rows when ``every`` is 1)."""
    n = x.shape[0]
    if every == 1:
        return np.arange(n)
    lead = first % every
    buckets = -(-(lead + n) // every)
    pad = ((lead, buckets * every - lead - n), (0, 0))
    low = np.pad(x, pad, constant_values=np.inf).reshape(buckets, every, 3).argmin(axis=1)
    high = np.pad(x, pad, constant_values=-np.inf).reshape(buckets, every, 3).argmax(axis=1)
    rows = np.hstack([low, high]) + (np.arange(buckets) * every - lead)[:, None]
    return np.unique(rows)


def stretches(
    recording: Recording,
    *,
    max_gap_s: float = MAX_GAP_S,
    pieces: Iterable[tuple[np.ndarray, Any, bool]] | None = None,
) -> list[tuple[float, int]]:
    """Each segment's first-to-last-sample span (s) and samples, as
    :func:`count_recording` splits the recording (one pass over its samples).

    ``pieces``: the recording's pieces, as :meth:`Recording.pieces` gave them to a caller
    that already read them (default: read them here)."""
    return spans_of(segments(recording, max_gap_s, pieces))


def spans_of(segs: Iterable[tuple[float, float, int]]) -> list[tuple[float, int]]:
    """Each of :func:`segments` as :func:`stretches` gives it: (span in s, samples)."""
    return [(end - start, n) for start, end, n in segs]


def segments(
    recording: Recording,
    max_gap_s: float = MAX_GAP_S,
    pieces: Iterable[tuple[np.ndarray, Any, bool]] | None = None,
) -> list[tuple[float, float, int]]:
    """Each segment's first and last sample's time (s from the recording's first
    sample) and its samples, between gaps longer than ``max_gap_s`` (one pass)."""
    out: list[tuple[float, float, int]] = []  # start, end, samples
    if pieces is None:
        pieces = recording.pieces(max_gap_s=max_gap_s)
    for t, _, starts in pieces:
        if starts or not out:
            out.append((float(t[0]), float(t[-1]), t.size))
        else:
            start, _end, n = out[-1]
            out[-1] = (start, float(t[-1]), n + t.size)
    return out


def _nothing_to_count(recording: Recording, max_gap_s: float, counter: Any) -> str:
    window = counter.spec.window_s if counter.spec is not None else None
    spans = stretches(recording, max_gap_s=max_gap_s)  # read again, on a refusal only
    return nothing_to_count(recording.path.name, spans, window)


def nothing_to_count(name: str, spans: list[tuple[float, int]], window_s: float | None) -> str:
    """Why a recording of these stretches between gaps cannot be counted, in one line.

    Parameters
    ----------
    name : str
        The recording's file name.
    spans : list of (float, int)
        Each stretch's first-to-last-sample span (s) and samples.
    window_s : float or None
        The counter's window (None: not known).
    """
    if len(spans) == 1:
        span, samples = spans[0]
        window = f" of {window_s:g} s" if window_s is not None else ""
        return (
            f"recording {name}: {span:.3g} s long ({samples} samples), "
            f"shorter than one window{window}; nothing can be counted"
        )
    return (
        f"recording {name}: none of its {len(spans)} stretches between gaps of more than "
        f"{MAX_GAP_S:g} s holds one window; nothing can be counted"
    )
