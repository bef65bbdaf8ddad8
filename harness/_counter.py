"""Counting logic: per-window probabilities -> counted gestures, in batch and streaming.

Window convention (shared by :func:`frame`, :func:`window_centres` and
:class:`StreamingCounter`): with ``n = round(window_s * fs)`` and
``hop = round(hop_s * fs)`` samples, window ``j`` holds samples
``[j * hop, j * hop + n)`` and its centre time is ``(j * hop + (n - 1) / 2) / fs``
seconds after the first sample, the midpoint of its first and last sample instants on
the nominal clock (sample jitter is ignored, as on the watch).

The state machine (one instance per stream, shared by both paths so they cannot drift):

- *idle*: a window with ``p >= on`` starts a run, unless it lies inside the refractory
  period (its centre is less than ``refractory_s`` after the end of the last event);
- *in a run*: windows with ``p >= off`` extend it (hysteresis: dipping below ``on`` is
  fine); the first window with ``p < off`` closes it. That closing window's centre is the
  event's *end*, from which the refractory period counts;
- a closed run of fewer than ``min_run`` windows is discarded (no event, no refractory);
- a run still open at the end of the stream is closed there (no refractory needed).

An event's time is the mean of the centres of its run's first and last windows, its
score the highest probability in the run. Two consecutive events are therefore at least
``refractory_s + hop`` seconds apart.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from highfive.generators import Detection, InvalidParameter, show

from ._scalogram import frame

__all__ = [
    "CounterConfig",
    "ScoreFn",
    "StreamingCounter",
    "count_trace",
    "decide",
    "detect",
    "window_centres",
]

ScoreFn = Callable[[np.ndarray], npt.ArrayLike]
"""Maps windows, shape (B, n, 3) float32, to probabilities in [0, 1], shape (B,)."""

# Centres come from one formula in both paths; this only absorbs rounding when
# refractory_s is an exact multiple of the hop (0.5 s after 5 hops of 0.1 s).
_TIME_EPS = 1e-9
# Longest window or hop in samples: beyond it a window is no gesture (and its length
# would not round to an integer, e.g. 1e308 s at 50 Hz).
_MAX_SAMPLES = 2**31


def _real(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise InvalidParameter(f"CounterConfig.{name}: got {show(v)}; must be a number")
    if not math.isfinite(v):
        raise InvalidParameter(f"CounterConfig.{name}: got {show(v)}; must be finite")
    return float(v)


@dataclass(frozen=True)
class CounterConfig:
    """Settings of the counter (see the module docstring for the exact semantics).

    Attributes
    ----------
    window_s : float
        Window length in seconds (rounded to whole samples), > 0.
    hop_s : float
        Step between windows in seconds (rounded to whole samples), at least one sample
        and at most the window, so that every sample is seen.
    fs : float
        Sample rate in Hz, > 0.
    on : float
        Probability that starts a run, in (0, 1].
    off : float
        Probability below which a run ends, in [0, on].
    min_run : int
        Fewest windows a run needs to count, >= 1.
    refractory_s : float
        Seconds after an event's end during which no run may start, >= 0.
    """

    window_s: float = 1.5
    hop_s: float = 0.1
    fs: float = 50.0
    on: float = 0.6
    off: float = 0.4
    min_run: int = 2
    refractory_s: float = 0.5

    def __post_init__(self) -> None:
        fs = _real("fs", self.fs)
        if fs <= 0:
            raise InvalidParameter(f"CounterConfig.fs: got {show(fs)}; must be > 0 Hz")
        for name in ("window_s", "hop_s"):
            v = _real(name, getattr(self, name))
            if not abs(v * fs) <= _MAX_SAMPLES:  # also catches v * fs overflowing to inf
                raise InvalidParameter(
                    f"CounterConfig.{name}: got {show(v)} s, more than {_MAX_SAMPLES:,} "
                    f"samples at fs={show(fs)} Hz; must be at most {_MAX_SAMPLES / fs:g} s"
                )
            if round(v * fs) < 1:
                raise InvalidParameter(
                    f"CounterConfig.{name}: got {show(v)} s, which is {v * fs:g} samples at "
                    f"fs={show(fs)} Hz; must be at least one sample ({1 / fs:g} s)"
                )
            if abs(v * fs - round(v * fs)) > 1e-6 * max(1.0, v * fs):
                warnings.warn(
                    f"CounterConfig.{name}={show(v)} s is {v * fs:g} samples at fs={show(fs)} "
                    f"Hz; using {round(v * fs)} samples ({round(v * fs) / fs:g} s)",
                    UserWarning,
                    stacklevel=3,
                )
        if self.hop_samples > self.window_samples:
            raise InvalidParameter(
                f"CounterConfig.hop_s: got {show(self.hop_s)} s, longer than window_s="
                f"{show(self.window_s)} s; must be <= window_s so that no sample is skipped"
            )
        on, off = _real("on", self.on), _real("off", self.off)
        if not 0 < on <= 1:
            raise InvalidParameter(f"CounterConfig.on: got {show(on)}; must be in (0, 1]")
        if not 0 <= off <= on:
            raise InvalidParameter(
                f"CounterConfig.off: got {show(off)}; must be in [0, on] = [0, {show(on)}] "
                f"(hysteresis: a run ends below off, starts at on)"
            )
        m = self.min_run
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
            raise InvalidParameter(f"CounterConfig.min_run: got {show(m)}; must be an integer >= 1")
        if _real("refractory_s", self.refractory_s) < 0:
            raise InvalidParameter(
                f"CounterConfig.refractory_s: got {show(self.refractory_s)}; must be >= 0 s"
            )

    @property
    def window_samples(self) -> int:
        """Window length ``n`` in samples."""
        return round(self.window_s * self.fs)

    @property
    def hop_samples(self) -> int:
        """Hop in samples."""
        return round(self.hop_s * self.fs)


def _centres(indices: np.ndarray, cfg: CounterConfig) -> np.ndarray:
    # The single formula for window centre times: both paths call it.
    return (indices * cfg.hop_samples + (cfg.window_samples - 1) / 2) / cfg.fs


def window_centres(n_windows: int, cfg: CounterConfig) -> np.ndarray:
    """Centre times of the first ``n_windows`` windows.

    Returns
    -------
    np.ndarray, shape (n_windows,), float64
        ``(j * hop + (n - 1) / 2) / fs`` seconds for ``j = 0 .. n_windows - 1``.
    """
    if isinstance(n_windows, bool) or not isinstance(n_windows, int | np.integer):
        raise InvalidParameter(f"n_windows: got {show(n_windows)}; must be an integer >= 0")
    if n_windows < 0:
        raise InvalidParameter(f"n_windows: got {show(n_windows)}; must be >= 0")
    return _centres(np.arange(n_windows, dtype=np.int64), cfg)


class _RunTracker:
    """The hysteresis/refractory state machine, one window at a time."""

    __slots__ = ("_blocked_until", "_cfg", "_first", "_last", "_len", "_max")

    def __init__(self, cfg: CounterConfig) -> None:
        self._cfg = cfg
        self._len = 0  # windows in the open run; 0 when idle
        self._first = self._last = self._max = 0.0
        self._blocked_until = -math.inf

    def step(self, p: float, centre: float) -> Detection | None:
        cfg = self._cfg
        if self._len:
            if p < cfg.off:
                det = self.flush()
                if det is not None:
                    self._blocked_until = centre + cfg.refractory_s - _TIME_EPS
                return det
            self._last, self._len, self._max = centre, self._len + 1, max(self._max, p)
        elif p >= cfg.on and centre >= self._blocked_until:
            self._first = self._last = centre
            self._len, self._max = 1, p
        return None

    def flush(self) -> Detection | None:
        """Close the open run, if any; return its event if it is long enough."""
        n, self._len = self._len, 0
        if n < self._cfg.min_run:
            return None
        return Detection(time=0.5 * (self._first + self._last), score=self._max)


def _check_probs(probs: npt.ArrayLike, n: int, what: str) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (n,):
        raise InvalidParameter(f"{what}: got shape {p.shape}; must be ({n},), one per window")
    if not np.all((p >= 0) & (p <= 1)):  # also rejects NaN
        bad = float(p[~((p >= 0) & (p <= 1))][0])
        raise InvalidParameter(f"{what}: got {show(bad)}; probabilities must be in [0, 1]")
    return p


def detect(probs: npt.ArrayLike, centres: npt.ArrayLike, cfg: CounterConfig) -> list[Detection]:
    """The batch counter: events from per-window probabilities.

    Parameters
    ----------
    probs : array_like, shape (W,)
        Probability of the gesture class per window, in [0, 1].
    centres : array_like, shape (W,)
        Window centre times in seconds, finite and strictly increasing (see
        :func:`window_centres`).
    cfg : CounterConfig

    Returns
    -------
    list of Detection
        In time order; runs still open after the last window are included.
    """
    return decide(probs, centres, cfg)[0]


def decide(
    probs: npt.ArrayLike, centres: npt.ArrayLike, cfg: CounterConfig
) -> tuple[list[Detection], np.ndarray]:
    """:func:`detect`, and for each event the window whose score decided it.

    Returns
    -------
    detections : list of Detection
    deciding : np.ndarray, shape (len(detections),), int64
        Index of the window that closed each event's run (the first below ``off``);
        ``W`` (one past the last window) for a run closed by the end of the stream.
        A streaming counter emits the event once that window's last sample arrives,
        which is what detection latency is measured from.
    """
    c = np.asarray(centres, dtype=np.float64)
    if c.ndim != 1:
        raise InvalidParameter(f"centres: got shape {c.shape}; must be (W,)")
    if c.size > 1 and not np.all(np.diff(c) > 0):  # NaN fails too
        bad = int(np.flatnonzero(~(np.diff(c) > 0))[0])
        raise InvalidParameter(
            f"centres: {show(c[bad])} s then {show(c[bad + 1])} s at window {bad + 1}; "
            "window centres must be finite and strictly increasing"
        )
    if c.size and not np.isfinite(c[0]):
        raise InvalidParameter(f"centres: {show(c[0])} s at window 0; must be finite")
    p = _check_probs(probs, c.shape[0], "probs")
    tracker = _RunTracker(cfg)
    events: list[Detection] = []
    deciding: list[int] = []
    # An idle tracker ignores windows below ``on``: start at the first that is not.
    rising = np.flatnonzero(p >= cfg.on)
    if rising.size:
        j0 = int(rising[0])
        for j, (pj, cj) in enumerate(zip(p[j0:].tolist(), c[j0:].tolist(), strict=True), j0):
            if (d := tracker.step(pj, cj)) is not None:
                events.append(d)
                deciding.append(j)
        if (d := tracker.flush()) is not None:
            events.append(d)
            deciding.append(c.shape[0])
    return events, np.asarray(deciding, dtype=np.int64)


def count_trace(samples: npt.ArrayLike, cfg: CounterConfig, score_fn: ScoreFn) -> list[Detection]:
    """Count gestures in a whole trace at once: :func:`frame`, ``score_fn``, :func:`detect`.

    Parameters
    ----------
    samples : array_like, shape (N, 3)
        Accelerometer samples in g at ``cfg.fs``, N >= ``cfg.window_samples``.
    cfg : CounterConfig
    score_fn : callable
        ``score_fn(windows (B, n, 3) float32) -> probs (B,)``.

    Returns
    -------
    list of Detection
    """
    windows, starts = frame(
        np.asarray(samples, dtype=np.float32), cfg.window_samples, cfg.hop_samples
    )
    probs = _check_probs(score_fn(windows), starts.shape[0], "score_fn output")
    return detect(probs, window_centres(starts.shape[0], cfg), cfg)


class StreamingCounter:
    """The counter as it runs on the watch: samples in, events out, chunk by chunk.

    It scores exactly the windows :func:`count_trace` scores, with the same state machine,
    so for a ``score_fn`` whose output for a window does not depend on the rest of the
    batch, ``feed`` over any chunking plus ``finish`` returns the same detections.

    Parameters
    ----------
    cfg : CounterConfig
    score_fn : callable
        ``score_fn(windows (B, n, 3) float32) -> probs (B,)``, called once per ``feed``
        that completes at least one window.
    """

    def __init__(self, cfg: CounterConfig, score_fn: ScoreFn) -> None:
        self._cfg = cfg
        self._score_fn = score_fn
        self._n, self._hop = cfg.window_samples, cfg.hop_samples
        self._buf = np.empty((0, 3), dtype=np.float32)
        self._buf_start = 0  # absolute index of self._buf[0]
        self._next = 0  # index of the next window to score
        self._tracker = _RunTracker(cfg)
        self._finished = False

    def feed(self, chunk: npt.ArrayLike) -> list[Detection]:
        """Append samples; score every window they complete.

        Parameters
        ----------
        chunk : array_like, shape (m, 3)
            The next m >= 0 samples in g.

        Returns
        -------
        list of Detection
            Events whose run closed within this chunk.
        """
        if self._finished:
            raise InvalidParameter("StreamingCounter.feed: called after finish(); make a new one")
        x = np.asarray(chunk, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != 3:
            raise InvalidParameter(f"chunk: got shape {x.shape}; must be (m, 3)")
        # A copy, so the caller may reuse its array; the buffer stays under n + m samples.
        self._buf = np.concatenate([self._buf, x])
        end = self._buf_start + self._buf.shape[0]
        last = (end - self._n) // self._hop  # last complete window (may be < self._next)
        events: list[Detection] = []
        if last >= self._next:
            first_offset = self._next * self._hop - self._buf_start
            windows, _ = frame(self._buf[first_offset:], self._n, self._hop)
            probs = _check_probs(self._score_fn(windows), windows.shape[0], "score_fn output")
            centres = _centres(np.arange(self._next, last + 1, dtype=np.int64), self._cfg)
            for pj, cj in zip(probs.tolist(), centres.tolist(), strict=True):
                if (d := self._tracker.step(pj, cj)) is not None:
                    events.append(d)
            self._next = last + 1
        # hop <= n, so the next window starts inside what we have: keep from there on.
        drop = self._next * self._hop - self._buf_start
        self._buf, self._buf_start = self._buf[drop:], self._buf_start + drop
        return events

    def finish(self) -> list[Detection]:
        """End of stream: close an open run; the counter accepts no more samples.

        Returns
        -------
        list of Detection
            The open run's event if it is long enough, else nothing.
        """
        self._finished = True
        last = self._tracker.flush()
        return [last] if last is not None else []
