"""The counter under test: trace -> resample -> scalogram -> CNN -> counting logic.

:class:`CounterPipeline` is the reference counter built from a self-describing ONNX
model. Anything with the :class:`Counter` protocol (a callable from a trace to
detections) can stand in its place, so users can put their own counter under test.
:meth:`CounterPipeline.stream` counts a trace that arrives in pieces (a recording of
days) in bounded memory, with the detections :meth:`CounterPipeline.run` gives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from highfive.generators import Detection, InvalidParameter, Trace, check_rate

from ._counter import CounterConfig, _check_probs, _RunTracker, detect
from ._model import PREDICT_BATCH, Model
from ._preprocess import (
    ChunkedResampler,
    _resample,
    check_samples,
    features_of_windows,
    window_centres,
)
from ._scalogram import filter_bank, frame

__all__ = ["CountResult", "Counter", "CounterPipeline", "PipelineStream", "countable"]

MIN_CHUNK_S = 0.001
"""Shortest chunk a counter may be fed in, s (``stream_chunk_s``): 1 ms, two samples'
spacing at the fastest rate a model may have (2 kHz). Shorter chunks are mostly empty,
and their number, each a frame to an external program, grows without bound: 1e-6 s made
a 10 s case take 4 GB and blame its time limit on the counter."""


@runtime_checkable
class Counter(Protocol):
    """Anything that counts: called with a trace, returns its detections."""

    def __call__(self, trace: Trace) -> Sequence[Detection]: ...


@dataclass(frozen=True, eq=False)
class CountResult:
    """What the pipeline saw and said about one trace.

    Attributes
    ----------
    detections : list of Detection
    centres : np.ndarray, shape (W,)
        Window centre times in s (in the trace's time base).
    probs : np.ndarray, shape (W,)
        Probability of a high-five per window (W = 0 for counters that give none).
    emitted : np.ndarray, shape (len(detections),), optional
        When each detection was emitted (s, trace clock), for a trace fed in chunks;
        None when the trace was given whole.
    """

    detections: list[Detection]
    centres: np.ndarray
    probs: np.ndarray
    emitted: np.ndarray | None = None

    @property
    def count(self) -> int:
        return len(self.detections)


def countable(span_s: float, samples: int, fs: float, window_s: float) -> bool:
    """Whether ``samples`` over ``span_s`` seconds at nominal ``fs`` hold at least one
    window of ``window_s`` seconds (0: any two samples do)."""
    return samples >= 2 and span_s + 1.0 / fs >= window_s


class CounterPipeline:
    """The full counter with one model.

    Parameters
    ----------
    model : Model or str
        A :class:`Model`, a shipped model name (``"float"``, ``"int8"``) or a path.
    counter : CounterConfig, optional
        Override the model's own counting settings (thresholds, refractory period).

    Examples
    --------
    >>> from highfive.generators import default_space, synthesize
    >>> pipe = CounterPipeline("float")
    >>> result = pipe.run(synthesize(default_space().nominal(), 1))
    >>> result.count
    1
    """

    def __init__(self, model: Model | str = "float", counter: CounterConfig | None = None):
        self.model = model if isinstance(model, Model) else Model.load(model)
        self.spec = self.model.spec
        self.config = counter or self.spec.counter_config()
        if (self.config.fs, self.config.window_samples, self.config.hop_samples) != (
            self.spec.sample_rate,
            self.spec.window,
            self.spec.hop,
        ):
            raise InvalidParameter(
                "counter: rate, window and hop must be the model's "
                f"({self.spec.sample_rate:g} Hz, {self.spec.window_s:g} s, "
                f"{self.spec.hop_s:g} s); only thresholds and timing may differ"
            )

    def __repr__(self) -> str:
        return f"CounterPipeline(model={self.model.name!r}, sha256={self.model.sha256[:12]})"

    def __call__(self, trace: Trace) -> list[Detection]:
        return self.run(trace).detections

    def countable(self, span_s: float, samples: int, fs: float) -> bool:
        """Whether a trace of ``samples`` over ``span_s`` seconds at nominal ``fs``
        holds at least one window (else :meth:`run` refuses it)."""
        return countable(span_s, samples, fs, self.spec.window_s)

    def _check_span(self, span_s: float, samples: int, fs: float) -> None:
        if not self.countable(span_s, samples, fs):
            raise InvalidParameter(
                f"trace: {span_s:.3g} s long ({samples} samples), shorter than one window of "
                f"{self.spec.window_s:g} s; nothing can be counted"
            )

    def _windows(self, trace: Trace) -> tuple[np.ndarray, np.ndarray]:
        t, x = check_samples(trace.t, trace.samples)
        self._check_span(float(t[-1] - t[0]) if t.size else 0.0, t.size, trace.fs)
        tu, xu = _resample(t, x, trace.fs, self.spec.sample_rate)
        xu = _pad_to_window(xu, self.spec.window)
        windows, _ = frame(xu, self.spec.window, self.spec.hop)
        return windows, window_centres(float(tu[0]), windows.shape[0], self.spec)

    def stream(self, fs: float, *, record: bool = False) -> PipelineStream:
        """Count one trace (nominal rate ``fs`` Hz) fed in pieces; see :class:`PipelineStream`."""
        return PipelineStream(self, fs, record=record)

    @property
    def preprocessing(self) -> tuple[object, ...]:
        """What the model input depends on: pipelines with equal keys share features."""
        s = self.spec
        return (
            s.sample_rate,
            s.window_s,
            s.hop_s,
            s.wavelet,
            s.freqs_hz,
            s.time_step,
            s.norm_scale,
            s.norm_mean,
            s.norm_std,
        )

    def prepare(self, trace: Trace) -> tuple[np.ndarray, np.ndarray]:
        """Model input of every window of ``trace`` and the window centres (s)."""
        windows, centres = self._windows(trace)
        return features_of_windows(windows, self.spec), centres

    def judge(self, features: np.ndarray, centres: np.ndarray) -> CountResult:
        """Classify prepared windows and count (see :meth:`prepare`)."""
        probs = self.model.predict(features)
        return CountResult(detect(probs, centres, self.config), centres, probs)

    def run(self, trace: Trace) -> CountResult:
        """Count the high-fives in one trace."""
        return self.judge(*self.prepare(trace))

    def run_many(self, traces: Sequence[Trace]) -> list[CountResult]:
        """Count several traces with one batched inference over all their windows.

        Faster than :meth:`run` trace by trace (about 4x for short traces), but not bit
        for bit its result: windows of several traces share filter-bank chunks and model
        calls, which round their probabilities differently (by about 1e-7), so a window
        at the ``on`` or ``off`` threshold may decide otherwise. A campaign counts each
        case with :meth:`run`; use it where results must be reproduced exactly.
        """
        cut = [self._windows(tr) for tr in traces]
        if not cut:
            return []
        windows = np.concatenate([w for w, _ in cut])
        probs = self.model.predict(features_of_windows(windows, self.spec))
        out, i = [], 0
        for w, centres in cut:
            p = probs[i : i + w.shape[0]]
            i += w.shape[0]
            out.append(CountResult(detect(p, centres, self.config), centres, p))
        return out


def _pad_to_window(xu: np.ndarray, window: int) -> np.ndarray:
    # A trace just one window long may resample to a sample short of it (rounding at
    # its very edge): repeat the last sample, as the watch would hold it.
    if xu.shape[0] >= window:
        return xu
    return np.concatenate([xu, np.repeat(xu[-1:], window - xu.shape[0], 0)])


class PipelineStream:
    """One trace through a :class:`CounterPipeline`, fed in pieces, in bounded memory.

    ``feed(t, samples)`` takes the next samples (times in s, strictly increasing across
    pieces; samples (m, 3) in g) and returns the detections whose run closed;
    ``finish()`` returns the rest. Together they are :meth:`CounterPipeline.run`'s
    detections for the whole trace, bit for bit:

    - resampling by :class:`~highfive.harness._preprocess.ChunkedResampler` (equal to
      the whole-trace resampling, see there);
    - windows go through the filter bank in exactly the chunks a whole-trace call uses
      (:attr:`FilterBank.batch` windows from the first, since BLAS may round a window
      differently in a chunk of another size) and through the model in exactly the
      whole-trace batches (:data:`PREDICT_BATCH` windows from the first);
    - the counting state machine is the batch counter's, one window at a time.

    Memory: a resampling block, one filter-bank chunk of windows and one model batch of
    features (about 20 MB for the shipped models), whatever the trace's length.
    """

    def __init__(self, pipe: CounterPipeline, fs: float, *, record: bool = False) -> None:
        spec = pipe.spec
        self._pipe, self._spec, self._fs = pipe, spec, check_rate(fs)
        self._resampler = ChunkedResampler(fs, spec.sample_rate)
        bank = filter_bank(spec.sample_rate, spec.window, spec.scales, spec.wavelet, spec.time_step)
        self._group = bank.batch
        self._buf = np.empty((0, 3), dtype=np.float32)  # uniform samples from window _next
        self._next = 0  # index of the next window to compute features for
        self._pending: list[np.ndarray] = []  # features of windows _scored .. _next - 1
        self._scored = 0  # windows the model has scored
        self._tracker = _RunTracker(pipe.config)
        self._t0 = self._t_last = math.nan
        self._samples = 0
        self._finished = False
        self._record: list[tuple[np.ndarray, np.ndarray]] | None = [] if record else None

    def result(self, detections: list[Detection]) -> CountResult:
        """``detections`` with the recorded window centres and probabilities (a stream
        made with ``record=True``; for tests and short traces: they grow with the trace)."""
        if self._record is None:
            raise InvalidParameter("PipelineStream.result: make the stream with record=True")
        parts = self._record or [(np.empty(0), np.empty(0, dtype=np.float32))]
        return CountResult(
            detections, np.concatenate([c for c, _ in parts]), np.concatenate([p for _, p in parts])
        )

    @property
    def windows(self) -> int:
        """Windows scored so far."""
        return self._scored

    def feed(self, t: npt.ArrayLike, samples: npt.ArrayLike) -> list[Detection]:
        """Append samples; return the detections whose run closed."""
        if self._finished:
            raise InvalidParameter("PipelineStream.feed: called after finish()")
        t_arr = np.asarray(t, dtype=np.float64)
        _, xu = self._resampler.feed(t_arr, samples)
        if t_arr.size:
            if self._samples == 0:
                self._t0 = float(t_arr[0])
            self._t_last, self._samples = float(t_arr[-1]), self._samples + t_arr.size
        return self._push(xu, final=False)

    def finish(self) -> list[Detection]:
        """End of the trace: the remaining detections (a run still open is closed).

        Raises
        ------
        InvalidParameter
            The trace is shorter than one window (as :meth:`CounterPipeline.run`).
        """
        if self._finished:
            raise InvalidParameter("PipelineStream.finish: called twice")
        self._finished = True
        span = self._t_last - self._t0 if self._samples else 0.0
        self._pipe._check_span(span, self._samples, self._fs)
        _, xu = self._resampler.finish()
        events = self._push(xu, final=True)
        last = self._tracker.flush()
        return [*events, last] if last is not None else events

    def _push(self, xu: np.ndarray, *, final: bool) -> list[Detection]:
        spec = self._spec
        n, hop = spec.window, spec.hop
        self._buf = np.concatenate([self._buf, xu])
        if final and self._next == 0:
            self._buf = _pad_to_window(self._buf, n)
        complete = (self._buf.shape[0] - n) // hop + 1 if self._buf.shape[0] >= n else 0
        events: list[Detection] = []
        while complete >= self._group or (final and complete > 0):
            take = min(complete, self._group)
            windows, _ = frame(self._buf, n, hop)
            self._pending.append(features_of_windows(windows[:take], spec))
            self._buf = self._buf[take * hop :]
            self._next += take
            complete -= take
            events += self._score(final=False)
        if final:  # the last model batch, however short
            events += self._score(final=True)
        return events

    def _score(self, *, final: bool) -> list[Detection]:
        waiting = self._next - self._scored
        if waiting < PREDICT_BATCH and not (final and waiting):
            return []
        feats = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        events: list[Detection] = []
        done = 0
        while waiting - done >= PREDICT_BATCH or (final and waiting > done):
            take = min(PREDICT_BATCH, waiting - done)
            probs = self._pipe.model.predict(feats[done : done + take])
            centres = window_centres(self._t0, take, self._spec, first=self._scored + done)
            if self._record is not None:
                self._record.append((centres, probs))
            probs = _check_probs(probs, take, "probs")
            for pj, cj in zip(probs.tolist(), centres.tolist(), strict=True):
                if (d := self._tracker.step(pj, cj)) is not None:
                    events.append(d)
            done += take
        self._pending = [feats[done:]] if done < waiting else []
        self._scored += done
        return events
