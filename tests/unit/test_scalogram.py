"""Scalogram filter bank: pinned to pywt.cwt, plus shape, linearity, golden peak, errors."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
import pywt
from hypothesis import given
from hypothesis import strategies as st

from highfive.generators._errors import InvalidParameter
from highfive.harness import _scalogram as scalogram
from highfive.harness._scalogram import (
    FilterBank,
    fft_length,
    filter_bank,
    frame,
    log_freqs,
    morlet_scales,
)

FS = 50.0
WAVELET = "cmor1.5-1.0"
FREQS = log_freqs(0.5, 20.0, 32)
SCALES = morlet_scales(FREQS, FS, WAVELET)


def _one_axis(bank: FilterBank, x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Scalogram (S, n) of a single-axis signal put on ``axis`` of one window."""
    w = np.zeros((1, x.size, 3), dtype=np.float32)
    w[0, :, axis] = x
    return bank(w)[0, axis]


@pytest.mark.parametrize(
    ("n", "precision", "tol"),
    [
        pytest.param(75, 12, 0.25, id="window-75-pywt-default"),
        pytest.param(300, 12, 0.25, id="signal-300-pywt-default"),
        pytest.param(75, 20, 2e-3, id="window-75-pywt-precision-20"),
        pytest.param(300, 20, 2e-3, id="signal-300-pywt-precision-20"),
    ],
)
def test_matches_pywt_cwt(n: int, precision: int, tol: float) -> None:
    """|CWT| equals pywt.cwt's over the whole window, edges included.

    Both zero-extend the window, so no edge region is excluded. Magnitudes are divided by
    their maximum and compared element-wise on white noise (the worst case: energy up to
    Nyquist, where pywt's kernel aliases).

    Why these tolerances: the bank is the closed form of pywt's discretised wavelet (box
    integration over a sample, pywt's per-scale sub-sample offset, aliasing), i.e. pywt
    in the limit of its ``precision`` argument. At ``precision=20`` pywt is that limit to
    within ~9e-4 of the maximum (measured over 20 seeds), hence 2e-3. At pywt's default
    ``precision=12`` pywt floor-indexes a 4,096-point integrated wavelet, which ripples
    its large-scale kernels by up to ~s/256 (a "zipper", pywt's own docstring warns of
    it); its coefficients then differ from the limit by up to ~0.20 of the maximum at the
    largest scales (s = 100 samples, 0.5 Hz), hence 0.25.
    """
    x = np.random.default_rng(20240611 + n).standard_normal(n).astype(np.float32)
    bank = filter_bank(FS, n, SCALES, WAVELET)
    ours = _one_axis(bank, x, axis=1)
    coefs, freqs = pywt.cwt(
        x.astype(np.float64),
        SCALES,
        WAVELET,
        sampling_period=1 / FS,
        method="fft",
        precision=precision,
    )
    ref = np.abs(coefs)
    np.testing.assert_allclose(freqs, FREQS, rtol=1e-12)
    np.testing.assert_allclose(ours / ours.max(), ref / ref.max(), rtol=0, atol=tol)


def test_shape_dtype_and_freqs() -> None:
    bank = filter_bank(FS, 75, SCALES)
    out = bank(np.ones((5, 75, 3)))
    assert out.shape == (5, 3, 32, 75)
    assert out.dtype == np.float32
    assert bank(np.zeros((0, 75, 3))).shape == (0, 3, 32, 75)
    np.testing.assert_allclose(bank.freqs, FREQS, rtol=1e-12)
    assert bank.response.shape == (32, bank.nfft)
    assert bank.nfft >= 75 + 4 * SCALES.max()  # widest kernel's tails do not wrap around


def test_linear_and_axes_independent() -> None:
    rng = np.random.default_rng(7)
    bank = filter_bank(FS, 75, SCALES)
    w = rng.standard_normal((4, 75, 3)).astype(np.float32)
    np.testing.assert_allclose(bank(2 * w), 2 * bank(w), rtol=1e-5, atol=1e-6)
    only_y = w.copy()
    only_y[:, :, [0, 2]] = 0
    np.testing.assert_allclose(bank(only_y)[:, 1], bank(w)[:, 1], rtol=1e-5, atol=1e-6)
    assert not bank(only_y)[:, [0, 2]].any()


def test_batch_of_strided_views_equals_one_by_one() -> None:
    """Each window is transformed on its own (what makes streaming exact)."""
    trace = np.random.default_rng(3).standard_normal((400, 3)).astype(np.float32)
    bank = filter_bank(FS, 75, SCALES)
    windows, _ = frame(trace, 75, 5)
    batched = bank(windows)
    for j in (0, 17, windows.shape[0] - 1):
        np.testing.assert_allclose(batched[j], bank(windows[j : j + 1])[0], rtol=1e-5, atol=1e-6)


def test_matmul_and_fft_paths_agree() -> None:
    bank = filter_bank(FS, 75, SCALES)
    assert bank.method == "matmul"
    w = np.random.default_rng(11).standard_normal((6, 75, 3)).astype(np.float32)
    via_fft = np.empty((6, 3, 32, 75), dtype=np.float32)
    bank._apply_fft(w, via_fft)
    np.testing.assert_allclose(bank(w), via_fft, rtol=0, atol=1e-5 * via_fft.max())
    assert filter_bank(FS, 1000, SCALES).method == "fft"  # a 256 MB matrix is not worth it


@pytest.mark.parametrize("k", [2, 10, 16, 24, 29])
def test_sinusoid_peaks_at_its_centre_frequency(k: int) -> None:
    """Golden: a pure tone at f peaks at the scale whose Morlet centre frequency is f.

    Source: the complex Morlet ``cmorB-C`` has centre frequency C cycles per unit time,
    so scale s (samples) is centred on ``C * fs / s`` Hz (``pywt.scale2frequency``). The
    1/sqrt(s) normalisation moves the peak by under 2 % (``1 / (4 pi^2 B)``), far less
    than the 12.6 % spacing of 32 log-spaced frequencies over 0.5-20 Hz.
    """
    n = 1000  # 20 s: the interior column is free of edge effects even at 0.5 Hz
    t = np.arange(n) / FS
    x = np.sin(2 * np.pi * FREQS[k] * t).astype(np.float32)
    column = _one_axis(filter_bank(FS, n, SCALES), x)[:, n // 2]
    assert int(np.argmax(column)) == k


def test_banks_are_cached_and_reused() -> None:
    a = filter_bank(FS, 75, SCALES, WAVELET)
    assert filter_bank(FS, 75, tuple(SCALES), WAVELET) is a
    assert filter_bank(FS, 75, list(SCALES)) is a
    assert filter_bank(FS, 76, SCALES) is not a
    assert not a.response.flags.writeable


def test_frame_is_a_view_with_starts() -> None:
    trace = np.arange(30, dtype=np.float32).reshape(10, 3)
    windows, starts = frame(trace, 4, 3)
    assert windows.shape == (3, 4, 3)
    np.testing.assert_array_equal(starts, [0, 3, 6])
    np.testing.assert_array_equal(windows[1], trace[3:7])
    assert np.shares_memory(windows, trace)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: frame(np.zeros((10, 2)), 4, 1), r"samples.*\(N, 3\)", id="2-axes"),
        pytest.param(lambda: frame(np.zeros((3, 3)), 4, 1), r"shorter than one window", id="short"),
        pytest.param(lambda: frame(np.zeros((9, 3)), 0, 1), r"window: got 0", id="window-0"),
        pytest.param(lambda: frame(np.zeros((9, 3)), 4, 0), r"hop: got 0", id="hop-0"),
        pytest.param(lambda: frame(np.zeros((9, 3)), 4, 1.5), r"hop: got 1.5", id="hop-float"),
        pytest.param(lambda: log_freqs(0.0, 20.0, 32), r"f_min, f_max", id="f-min-0"),
        pytest.param(lambda: log_freqs(20.0, 1.0, 32), r"f_min <= f_max", id="f-reversed"),
        pytest.param(lambda: log_freqs(0.5, 20.0, 0), r"n: got 0", id="n-freqs-0"),
        pytest.param(lambda: morlet_scales([30.0], FS), r"fs/2\] = \(0, 25\]", id="above-nyquist"),
        pytest.param(lambda: morlet_scales([-1.0], FS), r"freqs_hz", id="negative-freq"),
        pytest.param(lambda: morlet_scales([5.0], 0.0), r"fs: got 0.0", id="fs-0"),
        pytest.param(lambda: morlet_scales([5.0], FS, "morl"), r"wavelet: got 'morl'", id="real"),
        pytest.param(lambda: filter_bank(FS, 75, SCALES, "cmor"), r"'cmorB-C'", id="bare-cmor"),
        pytest.param(lambda: filter_bank(FS, 0, SCALES), r"n: got 0", id="n-0"),
        pytest.param(lambda: filter_bank(FS, 7.5, SCALES), r"n: got 7.5", id="n-float"),
        pytest.param(lambda: filter_bank(FS, 75, [0.0, 2.0]), r"scales: got", id="scale-0"),
        pytest.param(lambda: filter_bank(FS, 75, []), r"scales: got", id="no-scales"),
        pytest.param(
            lambda: filter_bank(FS, 75, SCALES)(np.zeros((2, 74, 3))),
            r"windows: got shape \(2, 74, 3\); must be \(B, 75, 3\)",
            id="window-length",
        ),
    ],
)
def test_bad_input_raises(call: object, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("step", [2, 3, 5])
@pytest.mark.parametrize("n", [75, 600])  # the matrix path and the FFT path
def test_decimated_bank_keeps_exactly_the_chosen_columns(step: int, n: int) -> None:
    fs = 50.0
    scales = morlet_scales(log_freqs(0.5, 20.0, 8), fs)
    full = FilterBank(fs, n, tuple(scales))
    dec = FilterBank(fs, n, tuple(scales), step=step)
    x = np.random.default_rng(step).standard_normal((4, n, 3)).astype(np.float32)
    assert dec.columns.tolist() == list(range(step // 2, n, step))
    np.testing.assert_allclose(dec(x), full(x)[..., dec.columns], rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("step", [0, -1, 76, 1.5, True])
def test_bad_step(step: object) -> None:
    with pytest.raises(InvalidParameter, match="step: got"):
        FilterBank(50.0, 75, (3.0, 5.0), step=step)  # type: ignore[arg-type]


# -- magnitude -----------------------------------------------------------------------
_FLOAT32 = st.floats(
    min_value=-(2.0**126), max_value=2.0**126, allow_nan=False, allow_subnormal=True, width=32
)


@given(
    parts=st.lists(st.tuples(_FLOAT32, _FLOAT32), min_size=1, max_size=80),
    block=st.sampled_from([1, 3, 64, 32_768]),
)
def test_magnitude_is_the_float64_hypot_rounded_once(
    parts: list[tuple[float, float]], block: int
) -> None:
    """Block by block, each value is float32(sqrt(re^2 + im^2)) in float64 arithmetic
    (math.sqrt is correctly rounded), and within one float32 ulp of np.hypot's."""
    re = np.array([p[0] for p in parts], dtype=np.float32).reshape(-1, 1, 1)
    im = np.array([p[1] for p in parts], dtype=np.float32).reshape(-1, 1, 1)
    out = np.empty_like(re)
    with mock.patch.object(scalogram, "_MAGNITUDE_BLOCK", block):
        scalogram._magnitude(re, im, out)
    want = np.array(
        [
            math.sqrt(float(a) ** 2 + float(b) ** 2)
            for a, b in zip(re.ravel(), im.ravel(), strict=True)
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(out.ravel(), want)
    np.testing.assert_array_max_ulp(out.ravel(), np.hypot(re, im).ravel(), maxulp=1)


def test_magnitude_of_matmul_bank_equals_fft_bank() -> None:
    """Both ways of applying a bank give the same magnitudes (to float32 rounding)."""
    x = np.random.default_rng(3).standard_normal((9, 75, 3)).astype(np.float32)
    bank = FilterBank(FS, 75, tuple(SCALES[:8]), WAVELET, 3)
    assert bank.method == "matmul"
    fft = np.empty_like(bank(x))
    bank._apply_fft(x, fft)
    np.testing.assert_allclose(bank(x), fft, rtol=2e-4, atol=2e-5 * float(fft.max()))


@pytest.mark.parametrize("n", [75, 600])  # the matrix path and the FFT path
def test_a_call_is_its_batch_chunks_bit_for_bit(n: int) -> None:
    """bank(w) applies the bank to chunks of ``batch`` windows from the first: called on
    exactly those chunks (as the streaming pipeline does), the same bits."""
    bank = FilterBank(FS, n, tuple(SCALES[:16]), WAVELET, 3)
    assert bank.nfft == fft_length(n, SCALES[:16], WAVELET)
    x = np.random.default_rng(n).standard_normal((2 * bank.batch + 7, n, 3)).astype(np.float32)
    whole = bank(x)
    parts = [bank(x[b : b + bank.batch]) for b in range(0, x.shape[0], bank.batch)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_errors_show_numbers_not_numpy_reprs() -> None:
    with pytest.raises(InvalidParameter, match=r"fs: got -2\.5; must") as err:
        morlet_scales([5.0], np.float64(-2.5))
    assert "np.float64" not in str(err.value)
    with pytest.raises(InvalidParameter, match=r"scales: got \[0\.0, 2\.0\]; must"):
        FilterBank(FS, 75, (0.0, 2.0))
