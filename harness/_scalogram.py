"""Per-window scalograms: batched complex-Morlet CWT magnitudes, pinned to ``pywt.cwt``.

The watch computes each sliding window's scalogram from that window's samples only
(zero outside the window), so a window's scalogram does not depend on its neighbours and
streaming is exact. A :class:`FilterBank` holds, for one (fs, window length, scales,
wavelet), the frequency response of the wavelet at every scale and applies it to a batch
of windows at once.

The response is the closed form of what ``pywt.cwt(x, scales, "cmorB-C", method=...)``
computes, in the limit of its ``precision`` argument going to infinity:

- pywt correlates the signal with ``psi(t / s) / sqrt(s)`` (``s`` the scale in samples),
  where ``psi(t) = exp(-t**2 / B) exp(2j pi C t) / sqrt(pi B)`` has the Fourier
  transform ``Psi(nu) = exp(-pi**2 B (nu - C)**2)``; the kernel's response at
  ``f`` cycles per sample is therefore ``sqrt(s) Psi(s f)``;
- it samples the wavelet integrated over each sample period (``-sqrt(s) diff`` of the
  integrated wavelet), a box filter: a factor ``sinc(f)``;
- its resampling and trimming put each scale's kernel centre ``delta(s)`` samples off the
  output sample, with ``delta`` in (-0.5, 0.5] depending on the scale (see
  :func:`_pywt_offset`): a factor ``exp(-2j pi f delta)``;
- the sampled kernel's spectrum is periodic in ``f``, so the terms at ``f + k`` for
  integer ``k`` are summed (at 20 Hz and fs = 50 Hz the band spills past Nyquist by
  about 12 %, which folds onto negative frequencies).

With those four pieces the magnitudes agree with pywt to under 1e-3 of the maximum at
``precision=20`` across the whole window, edges included (both zero-extend the signal).
At pywt's default ``precision=12`` pywt itself is off by up to about ``s / 256`` (its
floor-indexed resampling of a 4,096-point integrated wavelet, a "zipper").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pywt
import scipy.fft as sfft
from numpy.lib.stride_tricks import as_strided

from highfive.generators import InvalidParameter, show

__all__ = ["FilterBank", "fft_length", "filter_bank", "frame", "log_freqs", "morlet_scales"]

_CMOR = re.compile(r"cmor(\d+(\.\d*)?|\.\d+)-(\d+(\.\d*)?|\.\d+)")
# Kernel tails below this fraction of the peak are allowed to wrap around the FFT length.
_WRAP_TOL = 1e-7
# Above this size the (n, 2 S n) real matrix costs more memory than it saves time.
_MATRIX_MAX_BYTES = 64 * 2**20
# Intermediate arrays per chunk stay below this, whatever the batch size.
_CHUNK_BYTES = 16 * 2**20
_MAGNITUDE_BLOCK = 32_768  # values per block of _magnitude's float64 scratch


def _check_wavelet(wavelet: str) -> pywt.ContinuousWavelet:
    if not isinstance(wavelet, str) or _CMOR.fullmatch(wavelet) is None:
        raise InvalidParameter(
            f"wavelet: got {show(wavelet)}; only complex Morlet wavelets named 'cmorB-C' "
            f"(bandwidth B, centre frequency C, both > 0) are supported, e.g. 'cmor1.5-1.0'"
        )
    w = pywt.ContinuousWavelet(wavelet)
    if not (w.bandwidth_frequency > 0 and w.center_frequency > 0):
        raise InvalidParameter(f"wavelet: got {show(wavelet)}; B and C in 'cmorB-C' must be > 0")
    return w


def _check_fs(fs: float) -> float:
    if isinstance(fs, bool) or not isinstance(fs, int | float | np.number):
        raise InvalidParameter(f"fs: got {show(fs)}; must be a positive number of Hz")
    if not (math.isfinite(fs) and fs > 0):
        raise InvalidParameter(f"fs: got {show(fs)}; must be a finite sample rate > 0 Hz")
    return float(fs)


def log_freqs(f_min: float, f_max: float, n: int) -> np.ndarray:
    """Log-spaced analysis frequencies.

    Parameters
    ----------
    f_min, f_max : float
        Lowest and highest frequency in Hz, ``0 < f_min <= f_max``.
    n : int
        Number of frequencies, >= 1.

    Returns
    -------
    np.ndarray, shape (n,), float64
        Frequencies in Hz from ``f_min`` to ``f_max`` inclusive, equal ratios apart.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InvalidParameter(f"n: got {show(n)}; must be an integer >= 1")
    if not (math.isfinite(f_min) and math.isfinite(f_max) and 0 < f_min <= f_max):
        raise InvalidParameter(
            f"f_min, f_max: got {show([f_min, f_max])}; need finite 0 < f_min <= f_max (Hz)"
        )
    return np.geomspace(float(f_min), float(f_max), int(n))


def morlet_scales(freqs_hz: npt.ArrayLike, fs: float, wavelet: str = "cmor1.5-1.0") -> np.ndarray:
    """pywt-compatible scales (in samples) whose centre frequencies are ``freqs_hz``.

    ``scale = pywt.central_frequency(wavelet) * fs / f``, the inverse of
    ``pywt.scale2frequency``. (pywt estimates the centre frequency on a 1/16 grid: it is
    exactly ``C`` for ``C = 1.0``.)

    Parameters
    ----------
    freqs_hz : array_like, shape (S,)
        Frequencies in Hz, each in ``(0, fs / 2]``.
    fs : float
        Sample rate in Hz.
    wavelet : str
        Complex Morlet name ``"cmorB-C"``.

    Returns
    -------
    np.ndarray, shape (S,), float64
        Scales in samples.
    """
    fs = _check_fs(fs)
    _check_wavelet(wavelet)
    f = np.asarray(freqs_hz, dtype=np.float64)
    if f.ndim != 1 or f.size == 0 or not np.all(np.isfinite(f)):
        raise InvalidParameter(
            f"freqs_hz: got shape {f.shape}; must be a non-empty 1-d array of finite Hz"
        )
    if np.any(f <= 0) or np.any(f > fs / 2):
        raise InvalidParameter(
            f"freqs_hz: got range [{f.min():g}, {f.max():g}] Hz; each must be in "
            f"(0, fs/2] = (0, {fs / 2:g}] Hz"
        )
    return pywt.central_frequency(wavelet) * fs / f


def _nfft(n: int, s_max: float, bandwidth: float) -> int:
    # Envelope exp(-(m/s)^2 / B) falls below _WRAP_TOL at m = s sqrt(B ln(1/tol)).
    tail = math.ceil(s_max * math.sqrt(bandwidth * math.log(1 / _WRAP_TOL))) + 1
    return int(sfft.next_fast_len(n + tail))


def fft_length(n: int, scales: npt.ArrayLike, wavelet: str = "cmor1.5-1.0") -> int:
    """The FFT length :class:`FilterBank` uses for windows of ``n`` samples at ``scales``.

    Cheap (no bank is built), so a caller can bound a bank's memory first: its
    responses take ``24 * len(scales) * fft_length`` bytes.
    """
    w = _check_wavelet(wavelet)
    s = np.asarray(scales, dtype=np.float64)
    return _nfft(int(n), float(s.max()), float(w.bandwidth_frequency))


def _pywt_offset(scales: np.ndarray, support: float) -> np.ndarray:
    """Where pywt.cwt puts each scale's kernel centre, in samples after the output sample.

    pywt samples the integrated wavelet at ``M + 1 = floor(support * s) + 1`` points,
    differences them and trims ``floor((M - 1) / 2)`` samples from the front of the full
    convolution. Working that through gives ``(M - support * s) / 2``, plus one half if
    ``M`` is even.
    """
    m = np.floor(support * scales)
    return (m - support * scales) / 2 + 0.5 * (m % 2 == 0)


def _response(
    scales: np.ndarray, nfft: int, bandwidth: float, centre: float, support: float
) -> np.ndarray:
    """Frequency response (S, nfft) of pywt's discretised complex Morlet, see module doc."""
    f = sfft.fftfreq(nfft)  # cycles per sample, in [-0.5, 0.5)
    s = scales[:, None]
    delta = _pywt_offset(scales, support)[:, None]
    # Psi(s nu) is below 1e-16 once |s nu - C| > half_band: only a few aliases matter.
    half_band = math.sqrt(math.log(1e16) / (math.pi**2 * bandwidth))
    s_min = float(scales.min())
    k_lo = math.floor((centre - half_band) / s_min - 0.5)
    k_hi = math.ceil((centre + half_band) / s_min + 0.5)
    out = np.zeros((scales.size, nfft), dtype=np.complex128)
    for k in range(k_lo, k_hi + 1):
        nu = f[None, :] + k
        gauss = np.exp(-(math.pi**2) * bandwidth * (s * nu - centre) ** 2)
        out += gauss * np.sinc(nu) * np.exp(-2j * math.pi * nu * delta)
    return np.sqrt(s) * out


@dataclass(frozen=True, eq=False)
class FilterBank:
    """Complex-Morlet CWT magnitudes of fixed-length windows, many windows at a time.

    Build it with :func:`filter_bank` (cached) rather than directly. Each window is
    zero-extended (as pywt does), so edge columns match ``pywt.cwt`` too; ``nfft`` is long
    enough that the widest kernel's tails above ``1e-7`` of its peak never wrap around.

    Parameters
    ----------
    fs : float
        Sample rate in Hz (only used to report :attr:`freqs`).
    n : int
        Window length in samples.
    scales : tuple of float, length S
        Scales in samples (see :func:`morlet_scales`).
    wavelet : str
        Complex Morlet name ``"cmorB-C"``.
    step : int
        Keep every ``step``-th output sample, from ``step // 2`` (time decimation of the
        magnitude; only the kept columns are computed).

    Attributes
    ----------
    columns : np.ndarray
        Indices of the output samples kept.
    nfft : int
        FFT length (``scipy.fft.next_fast_len``).
    response : np.ndarray, shape (S, nfft), complex128
        Frequency response per scale at ``scipy.fft.fftfreq(nfft)`` cycles per sample.
    method : {"matmul", "fft"}
        How :meth:`__call__` applies it: for short windows the whole linear map is one
        real (n, 2 S n) matrix and a single BLAS call (about 4x faster than FFTs at
        n = 75); when that matrix would exceed 64 MiB, per-scale FFT convolution
        (``workers=1``). The BLAS call uses as many threads as OpenBLAS was started with:
        dask workers start it single-threaded (``OPENBLAS_NUM_THREADS=1``). Results
        are batch-independent up to float32 rounding (~1e-6 relative), not bit for bit.
    """

    fs: float
    n: int
    scales: tuple[float, ...]
    wavelet: str = "cmor1.5-1.0"
    step: int = 1
    nfft: int = field(init=False)
    response: np.ndarray = field(init=False, repr=False)
    method: str = field(init=False)
    _matrix: np.ndarray | None = field(init=False, repr=False)
    _response32: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fs = _check_fs(self.fs)
        n = self.n
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise InvalidParameter(f"n: got {show(n)}; window length must be an integer >= 1")
        w = _check_wavelet(self.wavelet)
        s = np.asarray(self.scales, dtype=np.float64)
        if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise InvalidParameter(
                f"scales: got {show(self.scales)}; must be a non-empty sequence of finite "
                f"scales > 0 (samples); see morlet_scales()"
            )
        step = self.step
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or not 1 <= step <= n:
            raise InvalidParameter(f"step: got {show(step)}; must be an integer in [1, n={n}]")
        cols = np.arange(int(step) // 2, int(n), int(step))
        bandwidth, centre = float(w.bandwidth_frequency), float(w.center_frequency)
        nfft = _nfft(int(n), float(s.max()), bandwidth)
        resp = _response(s, nfft, bandwidth, centre, float(w.upper_bound - w.lower_bound))
        resp.flags.writeable = False
        matrix = None
        if n * 2 * s.size * cols.size * 4 <= _MATRIX_MAX_BYTES:
            # out[i] = sum_k x[k] h[i - k] with h the kernel; h[m] for |m| < n is exact
            # because nfft - (n - 1) >= tail. Only the output columns kept are computed.
            h = sfft.ifft(resp, axis=-1)  # (S, nfft)
            idx = (cols[None, :] - np.arange(n)[:, None]) % nfft  # [k, i]
            hk = h[:, idx].transpose(1, 0, 2)  # (n, S, m): [k, scale, i]
            matrix = np.stack([hk.real, hk.imag], axis=1).astype(np.float32)
            matrix = matrix.reshape(n, 2 * s.size * cols.size)
            matrix.flags.writeable = False
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "n", int(n))
        object.__setattr__(self, "step", int(step))
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "scales", tuple(float(v) for v in s))
        object.__setattr__(self, "nfft", nfft)
        object.__setattr__(self, "response", resp)
        object.__setattr__(self, "_response32", resp.astype(np.complex64))
        object.__setattr__(self, "_matrix", matrix)
        object.__setattr__(self, "method", "fft" if matrix is None else "matmul")
        # Bytes of intermediate per window: real/imag float32 rows, or complex64 spectra.
        per_scale = 2 * cols.size * 4 if matrix is not None else nfft * 8
        object.__setattr__(self, "batch", max(1, _CHUNK_BYTES // (3 * s.size * per_scale)))

    columns: np.ndarray = field(init=False, repr=False)
    batch: int = field(init=False)
    """Windows per internal chunk of :meth:`__call__`. The chunks of one call are
    ``[0, batch)``, ``[batch, 2 batch)``, ...; BLAS may round a window differently in a
    chunk of another size, so whoever needs a call's exact bits in pieces (the
    streaming pipeline) calls it on exactly these chunks."""

    @property
    def freqs(self) -> np.ndarray:
        """Centre frequency of each scale in Hz, shape (S,) (``pywt.scale2frequency * fs``)."""
        return pywt.central_frequency(self.wavelet) * self.fs / np.asarray(self.scales)

    def __call__(self, windows: npt.ArrayLike) -> np.ndarray:
        """Scalogram magnitudes of a batch of windows.

        Parameters
        ----------
        windows : array_like, shape (B, n, 3)
            B windows of n samples on 3 axes (any units; the map is linear). Converted to
            float32; strided views such as :func:`frame`'s are fine.

        Returns
        -------
        np.ndarray, shape (B, 3, S, m), float32
            ``|CWT|`` per window, axis, scale and kept sample (``m = len(columns)``: every
            sample for ``step = 1``, else every ``step``-th from ``step // 2``), in the
            input's units.
        """
        x = np.asarray(windows, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.n, 3):
            raise InvalidParameter(
                f"windows: got shape {x.shape}; must be (B, {self.n}, 3) for this bank"
            )
        out = np.empty((x.shape[0], 3, len(self.scales), self.columns.size), dtype=np.float32)
        apply = self._apply_fft if self._matrix is None else self._apply_matmul
        chunk = self.batch
        for b0 in range(0, x.shape[0], chunk):
            apply(x[b0 : b0 + chunk], out[b0 : b0 + chunk])
        return out

    def _apply_matmul(self, x: np.ndarray, out: np.ndarray) -> None:
        assert self._matrix is not None
        b, n, n_s, m = x.shape[0], self.n, len(self.scales), self.columns.size
        rows = x.transpose(0, 2, 1).reshape(b * 3, n)
        y = (rows @ self._matrix).reshape(b * 3, 2, n_s, m)
        _magnitude(y[:, 0], y[:, 1], out.reshape(b * 3, n_s, m))

    def _apply_fft(self, x: np.ndarray, out: np.ndarray) -> None:
        # Full complex FFT, not rfft: pywt's kernel is not analytic at the smallest
        # scales (its band folds past Nyquist), so negative frequencies matter.
        spec = sfft.fft(x.transpose(0, 2, 1), self.nfft, axis=-1, workers=1)
        y = sfft.ifft(spec[:, :, None, :] * self._response32, axis=-1, workers=1, overwrite_x=True)
        np.abs(y[..., self.columns], out=out)


def _magnitude(re: np.ndarray, im: np.ndarray, out: np.ndarray) -> None:
    """``|re + i im|`` of float32 parts into ``out`` (float32), as ``sqrt`` in float64.

    The square of a float32 is exact in float64 and the sum is rounded once, so this
    gives the value glibc's ``hypotf`` (2.35 and later) returns, from IEEE arithmetic
    alone. It runs in blocks of at most 32,768 values (two float64 scratch arrays of
    256 kB that stay in cache); at 80 windows it took 158 us against 263 us for
    ``np.hypot``'s scalar loop (measured side by side, one core).
    """
    rows = re.shape[0]
    per_row = max(1, math.prod(re.shape[1:]))
    step = max(1, _MAGNITUDE_BLOCK // per_row)
    acc = np.empty((min(step, rows), *re.shape[1:]), dtype=np.float64)
    sq = np.empty_like(acc)
    for r0 in range(0, rows, step):
        r1 = min(r0 + step, rows)
        a, b = acc[: r1 - r0], sq[: r1 - r0]
        a[...] = re[r0:r1]
        b[...] = im[r0:r1]
        a *= a
        b *= b
        a += b
        np.sqrt(a, out=a)
        out[r0:r1] = a


@lru_cache(maxsize=32)
def _cached_bank(
    fs: float, n: int, scales: tuple[float, ...], wavelet: str, step: int
) -> FilterBank:
    return FilterBank(fs, n, scales, wavelet, step)


def filter_bank(
    fs: float, n: int, scales: npt.ArrayLike, wavelet: str = "cmor1.5-1.0", step: int = 1
) -> FilterBank:
    """The :class:`FilterBank` for these settings, built once per process and reused.

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    n : int
        Window length in samples.
    scales : array_like, shape (S,)
        Scales in samples; arrays and tuples with equal values share one bank.
    wavelet : str
        Complex Morlet name ``"cmorB-C"``.
    step : int
        Time decimation of the output: every ``step``-th sample (see :class:`FilterBank`).

    Returns
    -------
    FilterBank
    """
    fs = _check_fs(fs)
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise InvalidParameter(f"n: got {show(n)}; window length must be an integer >= 1")
    key = tuple(float(v) for v in np.asarray(scales, dtype=np.float64).ravel())
    return _cached_bank(fs, int(n), key, wavelet, step)


def frame(samples: npt.ArrayLike, window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows over a 3-axis trace, without copying.

    Window ``j`` holds samples ``[j * hop, j * hop + window)``; only complete windows are
    returned, so the last ``< hop`` samples may be unused.

    Parameters
    ----------
    samples : array_like, shape (N, 3)
        The trace (a numpy array is viewed, not copied).
    window : int
        Window length in samples, >= 1 and <= N.
    hop : int
        Step between window starts in samples, >= 1.

    Returns
    -------
    windows : np.ndarray, shape (W, window, 3)
        Read-only strided view, ``W = (N - window) // hop + 1``.
    starts : np.ndarray, shape (W,), int64
        Sample index of each window's first sample.
    """
    x = np.asarray(samples)
    if x.ndim != 2 or x.shape[1] != 3:
        raise InvalidParameter(f"samples: got shape {x.shape}; must be (N, 3)")
    for name, v in (("window", window), ("hop", hop)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise InvalidParameter(f"{name}: got {show(v)}; must be an integer >= 1 (samples)")
    if x.shape[0] < window:
        raise InvalidParameter(
            f"samples: trace of {x.shape[0]} samples is shorter than one window of "
            f"{window}; pass at least {window} samples"
        )
    window, hop = int(window), int(hop)
    count = (x.shape[0] - window) // hop + 1
    # Window j starts hop rows after window j - 1: a view of the same memory (what
    # sliding_window_view gives, for a tenth of its time per call).
    views = as_strided(
        x,
        shape=(count, window, 3),
        strides=(hop * x.strides[0], x.strides[0], x.strides[1]),
        writeable=False,
    )
    starts = np.arange(count, dtype=np.int64) * hop
    return views, starts
