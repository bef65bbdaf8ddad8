"""A classic high-five counter without a network: band-passed magnitude peaks.

The reference a learned counter should beat, and the algorithm the C port in
``peak_counter.c`` implements sample for sample (in float32):

1. ``|a|`` in g, through a 2nd-order high-pass at ``F_LO`` Hz then a 2nd-order
   low-pass at ``F_HI`` Hz (RBJ biquads, direct form I): gravity and slow arm motion
   are removed, the impact of a palm hitting a palm stays;
2. a run starts where the rectified signal reaches ``THRESHOLD`` g and ends where it
   drops below half of it (or after ``MAX_RUN_S``); the run's peak is one detection,
   at the peak's time, scored ``min(1, peak / (2 * THRESHOLD))``;
3. no run starts within ``REFRACTORY_S`` of the last detection.

Use it in a campaign as ``"examples/counters/baseline.py:PeakCounter"`` (a path
relative to the campaign file's folder). It streams (``start``, ``feed``,
``finish``), so campaigns with ``stream_chunk_s > 0`` measure its latency.
"""

from __future__ import annotations

import math

import numpy as np

__version__ = "1.0"

F_LO = 8.0  # Hz
F_HI = 20.0  # Hz, capped at 0.45 fs
THRESHOLD = 0.5  # g, band-passed |a|
REFRACTORY_S = 0.6
MAX_RUN_S = 0.25


def biquads(fs: float) -> list[tuple[float, float, float, float, float]]:
    """High-pass at F_LO and low-pass at F_HI: (b0, b1, b2, a1, a2), normalised."""
    out = []
    for kind, f in (("hp", F_LO), ("lp", min(F_HI, 0.45 * fs))):
        w = 2 * math.pi * f / fs
        alpha = math.sin(w) / (2 * math.sqrt(0.5))  # Q = 1/sqrt(2): Butterworth
        cos = math.cos(w)
        a0 = 1 + alpha
        if kind == "hp":
            b = ((1 + cos) / 2, -(1 + cos), (1 + cos) / 2)
        else:
            b = ((1 - cos) / 2, 1 - cos, (1 - cos) / 2)
        out.append((b[0] / a0, b[1] / a0, b[2] / a0, -2 * cos / a0, (1 - alpha) / a0))
    return out


class PeakCounter:
    """The baseline as a streaming counter (a class: the harness makes one per process)."""

    def __init__(self) -> None:
        self.start(50.0)

    # -- streaming ----------------------------------------------------------------------
    def start(self, fs: float) -> None:
        self._coef = biquads(fs)
        self._state = [[0.0, 0.0, 0.0, 0.0] for _ in self._coef]  # x1, x2, y1, y2
        self._primed = False
        self._in_run = False
        self._peak = self._peak_t = self._run_start = 0.0
        self._last = -math.inf

    def feed(self, t: np.ndarray, samples: np.ndarray) -> list[tuple[float, float]]:
        mag = np.sqrt(np.sum(np.asarray(samples, dtype=np.float64) ** 2, axis=1))
        out = []
        for ti, x in zip(np.asarray(t, dtype=np.float64).tolist(), mag.tolist(), strict=True):
            if not self._primed:  # start the filters at rest on the first sample
                self._state[0][:] = [x, x, 0.0, 0.0]
                self._primed = True
            y = x
            for (b0, b1, b2, a1, a2), st in zip(self._coef, self._state, strict=True):
                x1, x2, y1, y2 = st
                out_y = b0 * y + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
                st[:] = [y, x1, out_y, y1]
                y = out_y
            det = self._step(ti, abs(y))
            if det is not None:
                out.append(det)
        return out

    def finish(self) -> list[tuple[float, float]]:
        if self._in_run:
            self._in_run = False
            return [self._emit()]
        return []

    def _step(self, t: float, v: float) -> tuple[float, float] | None:
        if self._in_run:
            if v > self._peak:
                self._peak, self._peak_t = v, t
            if v < 0.5 * THRESHOLD or t - self._run_start >= MAX_RUN_S:
                self._in_run = False
                return self._emit()
            return None
        if v >= THRESHOLD and t - self._last >= REFRACTORY_S:
            self._in_run = True
            self._peak, self._peak_t, self._run_start = v, t, t
        return None

    def _emit(self) -> tuple[float, float]:
        self._last = self._peak_t
        return (self._peak_t, min(1.0, self._peak / (2 * THRESHOLD)))

    # -- whole traces -------------------------------------------------------------------
    def __call__(self, trace: object) -> list[tuple[float, float]]:
        self.start(float(trace.fs))  # type: ignore[attr-defined]
        dets = self.feed(trace.t, trace.samples)  # type: ignore[attr-defined]
        return dets + self.finish()
