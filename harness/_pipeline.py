"""The counter under test: trace -> resample -> scalogram -> CNN -> counting logic.

:class:`CounterPipeline` is the reference counter built from a self-describing ONNX
model. Anything with the :class:`Counter` protocol (a callable from a trace to
detections) can stand in its place, so users can put their own counter under test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from highfive.generators import Detection, InvalidParameter, Trace

from ._counter import CounterConfig, detect
from ._model import Model
from ._preprocess import _resample, check_samples, features_of_windows, window_centres
from ._scalogram import frame

__all__ = ["CountResult", "Counter", "CounterPipeline"]


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

    def _windows(self, trace: Trace) -> tuple[np.ndarray, np.ndarray]:
        t, x = check_samples(trace.t, trace.samples)
        span = float(t[-1] - t[0]) if t.size else 0.0
        if t.size < 2 or span + 1.0 / trace.fs < self.spec.window_s:
            raise InvalidParameter(
                f"trace: {span:.3g} s long ({t.size} samples), shorter than one window of "
                f"{self.spec.window_s:g} s; nothing can be counted"
            )
        tu, xu = _resample(t, x, trace.fs, self.spec.sample_rate)
        if xu.shape[0] < self.spec.window:  # rounding at the very edge of one window
            xu = np.concatenate([xu, np.repeat(xu[-1:], self.spec.window - xu.shape[0], 0)])
        windows, _ = frame(xu, self.spec.window, self.spec.hop)
        return windows, window_centres(float(tu[0]), windows.shape[0], self.spec)

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
        """Count several traces with one batched inference over all their windows."""
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
