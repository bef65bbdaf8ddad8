"""From a recorded or synthetic trace to the model's input windows.

One implementation serves training, the pipeline and the command line, so the
network always sees exactly what it was trained on:

1. :func:`to_uniform`: resample the samples onto a uniform grid at the model's rate
   using their timestamps (so clock drift, jitter and dropped samples are undone as far
   as the data allow), with an anti-alias low-pass first when the input is faster;
2. :func:`features`: sliding windows, complex-Morlet scalogram magnitude, log and
   per-axis standardisation, as the model's :class:`ModelSpec` says.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import numpy.typing as npt
from scipy import signal

from highfive.generators import InvalidParameter, check_rate, show

from ._model import ModelSpec
from ._scalogram import filter_bank, frame

__all__ = [
    "MAX_GAP_S",
    "ChunkedResampler",
    "check_samples",
    "features",
    "features_of_windows",
    "to_uniform",
    "window_centres",
]

MAX_GAP_S = 1.0
"""Longest time without a sample (s) that resampling interpolates across.

Longer than any dropout the sensor model makes (single dropped samples at up to 5 %:
1 s without a sample at 25 Hz takes 25 drops in a row, probability 0.05**25), and
shorter than one window of the shipped models (1.5 s), so no window they score is
mostly made up. ``highfive count`` splits a recording at longer gaps and counts each
stretch on its own; the pipeline refuses a trace with one (interpolating a day of
nothing would take gigabytes and invent a day of data).
"""


@cache
def _antialias(ratio: float) -> tuple[np.ndarray, np.ndarray]:
    # 4th-order Butterworth at 0.4 of the output rate, relative to the input's Nyquist,
    # and its steady-state initial conditions (computed once per ratio, not per trace).
    sos = signal.butter(4, 0.8 / ratio, output="sos")
    return sos, signal.sosfilt_zi(sos)


@cache
def _warm_up(ratio: float) -> int:
    """Samples a backward pass runs before its output is used (see ChunkedResampler).

    A start-state error decays like ``r**k`` with ``r`` the largest pole radius; after
    this many samples it is below ``1e-60`` of the state, hundreds of orders under a
    float64 ulp, with a factor 2 of margin (at least 1,024 samples).
    """
    _, poles, _ = signal.sos2zpk(_antialias(ratio)[0])
    r = float(np.abs(poles).max())
    return max(1024, 2 * math.ceil(math.log(1e-60) / math.log(r)))


def _ntaps(sos: np.ndarray) -> int:
    # scipy.signal.sosfiltfilt's count, which sets its padding (3 * ntaps).
    return 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))


def _sosfiltfilt(sos: np.ndarray, zi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, x, axis=-1)`` with the filter's ``zi`` given.

    The same steps as scipy's (odd extension of ``3 * ntaps`` samples, a forward and a
    backward pass started in steady state), so the same result bit for bit (tested),
    without solving for ``zi`` on every call (a third of the function's time). ``x``
    holds one signal per row, so each pass reads contiguous rows and copies nothing.
    """
    edge = 3 * _ntaps(sos)
    if x.shape[-1] <= edge:
        return np.asarray(signal.sosfiltfilt(sos, x, axis=-1))  # scipy's own error
    ext = np.concatenate(
        (2 * x[:, :1] - x[:, edge:0:-1], x, 2 * x[:, -1:] - x[:, -2 : -(edge + 2) : -1]), axis=-1
    )
    z = zi.reshape(sos.shape[0], 1, 2)
    y, _ = signal.sosfilt(sos, ext, axis=-1, zi=z * ext[None, :, :1])
    y, _ = signal.sosfilt(sos, y[:, ::-1], axis=-1, zi=z * y[None, :, -1:])
    return y[:, ::-1][:, edge:-edge]


def check_samples(t: npt.ArrayLike, samples: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate timestamps (s) and samples (n, 3); one-line errors name the problem."""
    t = np.asarray(t, dtype=np.float64)
    x = np.asarray(samples)
    if x.ndim != 2 or x.shape[1] != 3 or t.shape != (x.shape[0],):
        raise InvalidParameter(
            f"samples: expected shape (n, 3) with n timestamps, got {x.shape} and {t.shape}"
        )
    if not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(x), axis=1))[0])
        raise InvalidParameter(
            f"samples: row {bad} holds {x[bad].tolist()}; every sample must be finite "
            "(drop or interpolate NaN/inf rows first)"
        )
    if not np.all(np.isfinite(t)):
        raise InvalidParameter("timestamps: must be finite numbers of seconds")
    if t.size > 1 and not np.all(np.diff(t) > 0):
        bad = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise InvalidParameter(
            f"timestamps: not strictly increasing at row {bad + 1} "
            f"({show(t[bad])} then {show(t[bad + 1])}); sort the recording and drop duplicates"
        )
    return t, x.astype(np.float32, copy=False)


def _check_gaps(t: np.ndarray) -> None:
    if t.size < 2:
        return
    gaps = np.diff(t)
    i = int(np.argmax(gaps))
    if gaps[i] > MAX_GAP_S:
        raise InvalidParameter(
            f"timestamps: {gaps[i]:g} s without a sample between rows {i} and {i + 1} "
            f"(t = {t[i]:g} s and {t[i + 1]:g} s); resampling interpolates across at most "
            f"{MAX_GAP_S:g} s: count the stretches between gaps separately "
            "(highfive count does)"
        )


def to_uniform(
    t: npt.ArrayLike, samples: npt.ArrayLike, fs_in: float, fs_out: float
) -> tuple[np.ndarray, np.ndarray]:
    """Resample onto ``t[0] + k / fs_out`` using the timestamps.

    Parameters
    ----------
    t : array_like, shape (n,)
        Sample instants in s, strictly increasing.
    samples : array_like, shape (n, 3)
    fs_in : float
        Nominal input rate in Hz (chooses the anti-alias filter).
    fs_out : float
        Output rate in Hz.

    Returns
    -------
    t_out : np.ndarray, shape (m,)
    x_out : np.ndarray, shape (m, 3), float32
    """
    fs_in, fs_out = check_rate(fs_in, "fs_in"), check_rate(fs_out, "fs_out")
    return _resample(*check_samples(t, samples), fs_in, fs_out)


def _resample(
    t: np.ndarray, x: np.ndarray, fs_in: float, fs_out: float
) -> tuple[np.ndarray, np.ndarray]:
    # to_uniform for samples check_samples has already passed.
    if t.size < 2:
        raise InvalidParameter(f"samples: a recording needs at least 2 samples, got {t.size}")
    _check_gaps(t)
    x64 = np.ascontiguousarray(x.T, dtype=np.float64)  # one row per axis
    ratio = fs_in / fs_out
    if ratio > 1.0 + 1e-9:
        # Zero-phase, so event times are not shifted by the anti-alias filter.
        x64 = _sosfiltfilt(*_antialias(round(ratio, 6)), x64)
    m = int(np.floor((t[-1] - t[0]) * fs_out + 1e-9)) + 1
    t_out = t[0] + np.arange(m) / fs_out
    out = np.empty((m, 3), dtype=np.float32)
    for i in range(3):
        out[:, i] = np.interp(t_out, t, x64[i])
    return t_out, out


def _out_len(t0: float, t_last: float, fs_out: float) -> int:
    # Output samples on t0 + k / fs_out up to t_last: _resample's count, one formula.
    return int(np.floor((t_last - t0) * fs_out + 1e-9)) + 1


class ChunkedResampler:
    """:func:`to_uniform` for a trace that arrives in pieces, in bounded memory.

    ``feed(t, x)`` takes the next samples (checked as :func:`to_uniform` checks them,
    continuing the previous ones) and returns the uniform samples that are final;
    ``finish()`` returns the rest. Concatenated, they are what ``to_uniform`` gives for
    the whole trace:

    - without anti-alias filter (output rate >= input rate): the same interpolation of
      the same values, bit for bit;
    - with it: the forward pass of the zero-phase filter carries its state from piece to
      piece (bit for bit), and so does the backward pass over the last block. Earlier
      blocks cannot wait for the end of the trace: each one's backward pass starts
      :func:`_warm_up` samples after the block, in the steady state of the value there,
      and its output is used from the block on. That start-state error has decayed
      below ``1e-60`` of the signal by then (the filter's slowest pole), hundreds of
      orders below a float64 ulp, so the filtered values and the float32 output equal
      the whole-trace ones bit for bit (checked by the tests and by
      ``benchmarks/bench_count.py``; were a last bit ever to differ, it is 1e-7 of a
      sample, far inside the sensor's own quantisation).

    Memory: ``block`` samples plus the warm-up (about 2 MB), whatever the length.
    """

    def __init__(self, fs_in: float, fs_out: float, *, block: int = 65_536) -> None:
        self.fs_in, self.fs_out = check_rate(fs_in, "fs_in"), check_rate(fs_out, "fs_out")
        ratio = self.fs_in / self.fs_out
        self._filter = ratio > 1.0 + 1e-9
        self._block = int(block)
        self._edge = self._lead = 0
        if self._filter:
            self._sos, zi = _antialias(round(ratio, 6))
            self._z = zi.reshape(self._sos.shape[0], 1, 2)
            self._edge = 3 * _ntaps(self._sos)
            self._lead = _warm_up(round(ratio, 6))
        self._t = np.empty(0)  # samples not yet final: times (s)
        self._x = np.empty((3, 0))  # and values, one row per axis
        self._y = np.empty((3, 0))  # forward-filtered values of the same samples
        self._zf: np.ndarray | None = None  # forward filter state after the last of them
        self._prev: tuple[float, np.ndarray] | None = None  # last final sample (t, values)
        self._t0 = math.nan  # first sample instant: the output grid's origin
        self._k = 0  # index of the next output sample
        self._emitted = False
        self._finished = False

    def feed(self, t: npt.ArrayLike, samples: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Append samples; return the output samples now final, shapes (m,) and (m, 3)."""
        if self._finished:
            raise InvalidParameter("ChunkedResampler.feed: called after finish()")
        t, x = check_samples(t, samples)
        last = self._prev[0] if self._t.size == 0 and self._prev else None
        last = float(self._t[-1]) if self._t.size else last
        if t.size and last is not None:
            if not t[0] > last:
                raise InvalidParameter(
                    f"timestamps: not strictly increasing from one piece to the next "
                    f"({show(last)} then {show(t[0])}); feed the trace in order"
                )
            _check_gaps(np.array([last, t[0]]))
        _check_gaps(t)
        if t.size and math.isnan(self._t0):
            self._t0 = float(t[0])
        self._t = np.concatenate([self._t, t])
        self._x = np.concatenate([self._x, x.T.astype(np.float64)], axis=1)
        if self._filter:
            if self._zf is None:
                if self._x.shape[1] <= self._edge:
                    return _no_samples()
                # The odd extension before the first sample, as _sosfiltfilt builds it.
                front = 2 * self._x[:, :1] - self._x[:, self._edge : 0 : -1]
                zi = self._z * front[None, :, :1]
                _, self._zf = signal.sosfilt(self._sos, front, axis=-1, zi=zi)
            y, self._zf = signal.sosfilt(
                self._sos, self._x[:, self._y.shape[1] :], axis=-1, zi=self._zf
            )
            self._y = np.concatenate([self._y, y], axis=1)
        outs = []
        while self._x.shape[1] >= self._block + self._lead:
            outs.append(self._emit(self._block, last=False))
        if not outs:
            return _no_samples()
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """The remaining output samples, up to the last input sample's instant."""
        if self._finished:
            raise InvalidParameter("ChunkedResampler.finish: called twice")
        self._finished = True
        if not self._emitted:  # a short trace: the whole-trace function itself
            return _resample(self._t, self._x.T.astype(np.float32), self.fs_in, self.fs_out)
        return self._emit(self._x.shape[1], last=True)

    def _emit(self, count: int, *, last: bool) -> tuple[np.ndarray, np.ndarray]:
        """Final values of the next ``count`` samples, then the outputs they decide."""
        self._emitted = True
        if not self._filter:
            xf = self._x[:, :count]
        else:
            seq = self._y[:, : count + self._lead]
            if last:  # the odd extension after the last sample, as _sosfiltfilt's
                x, edge = self._x, self._edge
                back = 2 * x[:, -1:] - x[:, -2 : -(edge + 2) : -1]
                y_back, _ = signal.sosfilt(self._sos, back, axis=-1, zi=self._zf)
                seq = np.concatenate([seq, y_back], axis=1)
            seq = seq[:, ::-1]
            out, _ = signal.sosfilt(self._sos, seq, axis=-1, zi=self._z * seq[None, :, :1])
            xf = out[:, ::-1][:, :count]
        t = self._t[:count]
        if self._prev is not None:  # the last final sample brackets the first outputs
            t = np.concatenate([[self._prev[0]], t])
            xf = np.concatenate([self._prev[1][:, None], xf], axis=1)
        t0, fs = self._t0, self.fs_out
        t_out = t0 + np.arange(self._k, _out_len(t0, float(t[-1]), fs)) / fs
        if not last:  # outputs at t[-1] or later wait for the next block's bracket
            t_out = t_out[: np.searchsorted(t_out, t[-1], side="left")]
        out32 = np.empty((t_out.size, 3), dtype=np.float32)
        for i in range(3):
            out32[:, i] = np.interp(t_out, t, xf[i])
        self._k += t_out.size
        self._prev = (float(t[-1]), xf[:, -1].copy())
        self._t, self._x, self._y = self._t[count:], self._x[:, count:], self._y[:, count:]
        return t_out, out32


def _no_samples() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0), np.empty((0, 3), dtype=np.float32)


def window_centres(t0: float, n_windows: int, spec: ModelSpec, *, first: int = 0) -> np.ndarray:
    """Centre time in s of windows ``first .. first + n_windows - 1`` of a uniform trace
    starting at ``t0`` (one formula, so the windows of a stream fall where a whole
    trace's do, to the bit)."""
    j = np.arange(first, first + n_windows)
    return t0 + (j * spec.hop + (spec.window - 1) / 2.0) / spec.sample_rate


def features(x: npt.ArrayLike, spec: ModelSpec) -> np.ndarray:
    """Model input for every window of a uniform trace at ``spec.sample_rate``.

    Parameters
    ----------
    x : array_like, shape (n, 3)
        Uniformly sampled specific force in g.
    spec : ModelSpec

    Returns
    -------
    np.ndarray, shape (W, 3, S, m), float32
        One entry per complete window (``W = 1 + (n - window) // hop``); ``m`` samples
        per window after the spec's ``time_step``.
    """
    windows, _ = frame(x, spec.window, spec.hop)
    return features_of_windows(windows, spec)


def features_of_windows(windows: npt.ArrayLike, spec: ModelSpec) -> np.ndarray:
    """Like :func:`features` for windows already cut, shape (B, window, 3)."""
    bank = filter_bank(spec.sample_rate, spec.window, spec.scales, spec.wavelet, spec.time_step)
    mag = bank(windows)
    np.multiply(mag, np.float32(1.0 / spec.norm_scale), out=mag)
    np.log1p(mag, out=mag)
    mean = np.asarray(spec.norm_mean, dtype=np.float32)[None, :, None, None]
    inv_std = (1.0 / np.asarray(spec.norm_std, dtype=np.float32))[None, :, None, None]
    mag -= mean
    mag *= inv_std
    return mag
