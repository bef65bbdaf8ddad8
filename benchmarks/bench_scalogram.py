"""Scalogram throughput: pywt.cwt per window and axis versus the batched FilterBank.

Run: ``python benchmarks/bench_scalogram.py [--traces 200] [--slow-traces 3] [--repeats 5]``

Same input for every method: traces of 10 s at 50 Hz on 3 axes, framed into 1.5 s windows
(75 samples) at a 0.1 s hop (5 samples), 32 log-spaced frequencies over 0.5-20 Hz,
complex Morlet ``cmor1.5-1.0``. Single-threaded throughout (BLAS limited to one thread
before numpy loads; ``scipy.fft`` with ``workers=1``), as in one dask worker. The slow
pywt loop runs on the first ``--slow-traces`` traces only; all figures are per 3-axis
window, the median of ``--repeats`` runs.
"""

from __future__ import annotations

import os

# Must precede the first numpy import: OpenBLAS reads these once, at load time.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pywt  # noqa: E402

from highfive.harness._scalogram import (  # noqa: E402
    FilterBank,
    filter_bank,
    frame,
    log_freqs,
    morlet_scales,
)

FS, WINDOW, HOP, WAVELET = 50.0, 75, 5, "cmor1.5-1.0"


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def pywt_per_window(windows: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The plain approach: one pywt.cwt call per window and axis; (B, 3, S, n)."""
    out = np.empty((windows.shape[0], 3, scales.size, WINDOW), dtype=np.float32)
    for b in range(windows.shape[0]):
        for a in range(3):
            coefs, _ = pywt.cwt(windows[b, :, a], scales, WAVELET, 1 / FS, method="fft")
            out[b, a] = np.abs(coefs)
    return out


def bank_fft_path(bank: FilterBank, windows: np.ndarray) -> np.ndarray:
    """The same bank forced onto its FFT path (used for windows too long for the matrix)."""
    out = np.empty((windows.shape[0], 3, len(bank.scales), bank.n), dtype=np.float32)
    for b0 in range(0, windows.shape[0], 64):
        bank._apply_fft(windows[b0 : b0 + 64], out[b0 : b0 + 64])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=200)
    parser.add_argument("--slow-traces", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(12345)
    traces = rng.standard_normal((args.traces, int(10 * FS), 3)).astype(np.float32)
    per_trace = [frame(t, WINDOW, HOP)[0] for t in traces]
    all_windows = np.concatenate(per_trace)
    slow_windows = np.concatenate(per_trace[: args.slow_traces])
    scales = morlet_scales(log_freqs(0.5, 20.0, 32), FS, WAVELET)
    t0 = time.perf_counter()
    bank = filter_bank(FS, WINDOW, scales, WAVELET)
    build = time.perf_counter() - t0

    # Same windows, same answer (up to pywt's own discretisation at precision 12).
    ref, ours = pywt_per_window(slow_windows, scales), bank(slow_windows)
    diff = np.abs(ref / ref.max() - ours / ours.max()).max()

    rows: list[tuple[str, int, float]] = []
    n_slow, n_all = slow_windows.shape[0], all_windows.shape[0]
    t = median_time(lambda: pywt_per_window(slow_windows, scales), max(1, args.repeats // 2))
    rows.append(("pywt.cwt per window and axis", n_slow, t / n_slow))
    t = median_time(lambda: bank(all_windows), args.repeats)
    rows.append((f"FilterBank ({bank.method}), all windows", n_all, t / n_all))
    t = median_time(lambda: [bank(w) for w in per_trace], args.repeats)
    rows.append((f"FilterBank ({bank.method}), per trace", n_all, t / n_all))
    fft_windows = np.concatenate(per_trace[: max(1, args.traces // 4)])
    t = median_time(lambda: bank_fft_path(bank, fft_windows), max(1, args.repeats // 2))
    rows.append(
        ("FilterBank (fft path), all windows", fft_windows.shape[0], t / fft_windows.shape[0])
    )

    print(
        f"{args.traces} traces x 10 s at {FS:g} Hz, windows of {WINDOW} samples at hop {HOP}, "
        f"{scales.size} scales, {WAVELET}; single-threaded; median of {args.repeats} runs"
    )
    print(f"filter bank build: {build * 1e3:.1f} ms (nfft={bank.nfft}), cached afterwards")
    print(f"max |normalised magnitude difference| vs pywt (precision 12): {diff:.3f}")
    print(f"{'method':<40} {'windows':>8} {'ms/window':>10} {'speed-up':>9}")
    base = rows[0][2]
    for name, n, per in rows:
        print(f"{name:<40} {n:>8} {per * 1e3:>10.4f} {base / per:>8.1f}x")
    per_trace_loop(traces[: max(args.slow_traces, 10)], args.repeats)


def per_trace_loop(traces: np.ndarray, repeats: int) -> None:
    """A plain loop of ``pywt.cwt`` over whole traces versus the shipped model's scalogram.

    The plain loop transforms each 10 s trace once per axis with pywt; the pipeline
    computes what the counter needs, every window's scalogram at the shipped model's
    settings (16 scales, hop 0.2 s, every 3rd column), with the cached filter bank.
    """
    from highfive.harness._model_spec import ModelSpec
    from highfive.harness._preprocess import features

    spec = ModelSpec()
    features(traces[0], spec)  # build and cache the bank

    def plain() -> None:
        for tr in traces:
            for a in range(3):
                pywt.cwt(tr[:, a], spec.scales, spec.wavelet, method="fft")

    t_plain = median_time(plain, repeats) / len(traces)
    t_ours = median_time(lambda: [features(tr, spec) for tr in traces], repeats) / len(traces)
    print(
        f"per 10 s trace, shipped model's settings ({len(spec.freqs_hz)} scales, hop "
        f"{spec.hop_s:g} s, time_step {spec.time_step}):"
    )
    print(f"  pywt.cwt per trace and axis (plain loop) {t_plain * 1e3:>9.3f} ms")
    print(
        f"  pipeline scalogram of all its windows    {t_ours * 1e3:>9.3f} ms   "
        f"{t_plain / t_ours:.1f}x faster (target >= 10x)"
    )


if __name__ == "__main__":
    main()
