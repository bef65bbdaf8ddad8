"""The counter pipeline's mechanics, with a toy model (accuracy is the models' business)."""

from __future__ import annotations

import math
import pickle
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import signal

from highfive.generators import InvalidParameter, Trace, default_space, synthesize
from highfive.harness import Counter, CounterConfig, CounterPipeline, Model, to_uniform
from highfive.harness import _pipeline as pipeline_module
from highfive.harness._preprocess import ChunkedResampler, _antialias, _sosfiltfilt
from highfive.harness._scalogram import filter_bank


@pytest.fixture(scope="module")
def traces() -> list[Trace]:
    space = default_space()
    rows = space.rows(np.random.default_rng(3).random((6, space.d)))
    return [synthesize(r, i, validate=False) for i, r in enumerate(rows)]


def test_run_shapes_and_time_base(toy_model: Model, traces: list[Trace]) -> None:
    pipe = CounterPipeline(toy_model)
    for tr in traces:
        res = pipe.run(tr)
        assert res.probs.shape == res.centres.shape and res.probs.dtype == np.float32
        assert np.all((res.probs >= 0) & (res.probs <= 1))
        assert res.centres[0] == pytest.approx(tr.t[0] + 0.74, abs=1e-9)  # (75 - 1) / 2 / 50
        assert np.allclose(np.diff(res.centres), toy_model.spec.hop_s)
        assert res.centres[-1] <= tr.t[-1]
        assert res.count == len(res.detections)
        assert all(tr.t[0] <= d.time <= tr.t[-1] for d in res.detections)


def test_run_many_equals_run(toy_model: Model, traces: list[Trace]) -> None:
    pipe = CounterPipeline(toy_model)
    batch = pipe.run_many(traces)
    for tr, b in zip(traces, batch, strict=True):
        one = pipe.run(tr)
        # Batched inference may differ from one-by-one in the last bits only.
        np.testing.assert_allclose(b.probs, one.probs, rtol=0, atol=1e-6)
        assert [round(x.time, 6) for x in b.detections] == [
            round(x.time, 6) for x in one.detections
        ]


def test_pipeline_is_a_counter(toy_model: Model, traces: list[Trace]) -> None:
    pipe = CounterPipeline(toy_model)
    assert isinstance(pipe, Counter)
    assert pipe(traces[0]) == pipe.run(traces[0]).detections


def test_model_pickles_without_its_session(toy_model: Model) -> None:
    again = pickle.loads(pickle.dumps(toy_model))
    x = np.random.default_rng(0).standard_normal((4, *toy_model.spec.input_shape))
    x = x.astype(np.float32)
    assert again.sha256 == toy_model.sha256
    np.testing.assert_array_equal(again.predict(x), toy_model.predict(x))


def test_resampling_from_other_rates(toy_model: Model) -> None:
    pipe = CounterPipeline(toy_model)
    space = default_space()
    n = []
    for rate in (25, 50, 100, 200):
        tr = synthesize(space.complete({"sample_rate": rate, "duration": 10.0}), 5)
        n.append(pipe.run(tr).centres.size)
    assert max(n) - min(n) <= 1


def test_counter_override_must_keep_the_model_geometry(toy_model: Model) -> None:
    # Thresholds may change.
    CounterPipeline(toy_model, CounterConfig(hop_s=toy_model.spec.hop_s, on=0.8, off=0.3))
    with pytest.raises(InvalidParameter, match="rate, window and hop must be the model's"):
        CounterPipeline(toy_model, CounterConfig(hop_s=0.3))


def _trace(t: np.ndarray, x: np.ndarray) -> Trace:
    return Trace(t=t, samples=x, fs=50.0)


T = np.arange(500) / 50.0
X = np.tile([0.0, 0.0, 1.0], (500, 1))
BAD_TRACES = [
    (
        "nan",
        _trace(T, np.where(np.arange(500)[:, None] == 7, math.nan, X)),
        "samples: row 7 holds .*must be finite",
    ),
    ("inf", _trace(T, np.where(np.arange(500)[:, None] == 9, math.inf, X)), "row 9"),
    (
        "non-increasing",
        _trace(np.where(np.arange(500) == 100, T[99], T), X),
        "timestamps: not strictly increasing at row 100",
    ),
    ("too-short", _trace(T[:60], X[:60]), "shorter than one window of 1.5 s"),
    ("empty", _trace(T[:0], X[:0]), "shorter than one window"),
    (
        "gap",  # 2.5 s without a sample: not interpolated (a day's gap took gigabytes)
        _trace(np.where(np.arange(500) >= 200, T + 2.5, T), X),
        r"timestamps: 2.52 s without a sample between rows 199 and 200 "
        r"\(t = 3.98 s and 6.5 s\); resampling interpolates across at most 1 s",
    ),
    (
        "month-gap",
        _trace(np.where(np.arange(500) >= 250, T + 30 * 86400.0, T), X),
        r"2.592e\+06 s without a sample between rows 249 and 250",
    ),
]


@pytest.mark.parametrize(
    "trace, match", [b[1:] for b in BAD_TRACES], ids=[b[0] for b in BAD_TRACES]
)
def test_bad_traces_raise_clearly(toy_model: Model, trace: Trace, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        CounterPipeline(toy_model).run(trace)


def test_exactly_one_window_is_enough(toy_model: Model) -> None:
    res = CounterPipeline(toy_model).run(_trace(T[:75], X[:75]))
    assert res.centres.size == 1


@given(
    n=st.integers(min_value=1, max_value=400),
    ratio=st.sampled_from([2.0, 4.0, 1.5, 3.0]),
    scale=st.floats(min_value=1e-3, max_value=1e3),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_antialias_filtfilt_equals_scipy_bit_for_bit(
    n: int, ratio: float, scale: float, seed: int
) -> None:
    """to_uniform's zero-phase filter with its cached zi is scipy's sosfiltfilt exactly,
    and too-short inputs get scipy's own error."""
    sos, zi = _antialias(ratio)
    x = np.random.default_rng(seed).standard_normal((3, n)) * scale  # one row per axis
    try:
        want = signal.sosfiltfilt(sos, x, axis=-1)
    except ValueError as exc:
        with pytest.raises(ValueError, match=str(exc).split(",")[0]):
            _sosfiltfilt(sos, zi, x)
        return
    np.testing.assert_array_equal(_sosfiltfilt(sos, zi, x), want)


# -- streaming: a trace of any length in pieces, equal to the whole-trace path ----------
def _long_trace(fs: int, cases: int, seed: int = 0) -> Trace:
    """Generated cases back to back at ``fs`` Hz (jitter and drops included)."""
    space = default_space()
    rows = space.rows(np.random.default_rng(seed).random((cases, space.d)))
    ts, xs, offset = [], [], 0.0
    for i, row in enumerate(rows):
        tr = synthesize({**dict(row), "sample_rate": fs}, seed * 1000 + i, validate=False)
        ts.append(tr.t - tr.t[0] + offset)
        xs.append(tr.samples)
        offset = float(ts[-1][-1]) + 1.0 / fs
    return Trace(t=np.concatenate(ts), samples=np.concatenate(xs), fs=float(fs))


def _pieces(n: int, seed: int, most: int) -> list[slice]:
    rng = np.random.default_rng(seed)
    cuts = np.unique(rng.integers(1, n, size=max(1, n // max(1, most // 2))))
    edges = [0, *cuts.tolist(), n]
    return [slice(a, b) for a, b in pairwise(edges)]


@pytest.mark.parametrize(
    ("fs_in", "fs_out"),
    [(100, 50), (200, 50), (1000, 50), (60, 50), (50, 50), (25, 50)],
    ids=["2x", "4x", "20x", "1.2x", "same-rate", "upsample"],
)
@pytest.mark.parametrize("block", [1_000, 65_536])
def test_chunked_resampling_equals_whole_trace_bit_for_bit(
    fs_in: int, fs_out: int, block: int
) -> None:
    """Pieces of any size, blocks of any size: the same float32 samples and instants as
    to_uniform over the whole trace (its anti-alias filter runs forwards and backwards
    over the whole trace; the chunked one warms each block's backward pass up)."""
    rng = np.random.default_rng(fs_in + block)
    n = 40_000
    t = np.cumsum(rng.uniform(0.8, 1.2, n) / fs_in)
    x = (np.cumsum(rng.standard_normal((n, 3)), axis=0) * 0.02).astype(np.float32)
    x += rng.standard_normal((n, 3)).astype(np.float32) * 0.3
    want_t, want_x = to_uniform(t, x, fs_in, fs_out)
    res = ChunkedResampler(fs_in, fs_out, block=block)
    got = [res.feed(t[s], x[s]) for s in _pieces(n, fs_in, 5_000)] + [res.finish()]
    np.testing.assert_array_equal(np.concatenate([g[0] for g in got]), want_t)
    np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), want_x)


def test_chunked_resampling_of_a_short_trace_is_the_whole_trace_function() -> None:
    t, x = T[:30], X[:30].astype(np.float32)
    res = ChunkedResampler(100.0, 50.0)
    assert res.feed(t, x)[0].size == 0
    np.testing.assert_array_equal(res.finish()[1], to_uniform(t, x, 100.0, 50.0)[1])
    with pytest.raises(InvalidParameter, match="called twice"):
        res.finish()


@pytest.mark.parametrize(
    ("model", "fs"),
    [("toy", 100), ("toy", 50), ("float", 100), ("int8", 25)],
)
def test_stream_equals_run_bit_for_bit(
    model: str,
    fs: int,
    toy_model: Model,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long trace fed in pieces: the same windows, probabilities (to the bit) and
    detections as one run over the whole trace, with features never computed for more
    than one filter-bank chunk of windows at a time (memory does not grow with it)."""
    pipe = CounterPipeline(toy_model if model == "toy" else model)
    trace = _long_trace(fs, 45)  # about 4,000 windows: several bank chunks and batches
    whole = pipe.run(trace)
    spec = pipe.spec
    bank = filter_bank(spec.sample_rate, spec.window, spec.scales, spec.wavelet, spec.time_step)
    sizes: list[int] = []
    real = pipeline_module.features_of_windows

    def counted(windows: np.ndarray, spec_: object) -> np.ndarray:
        sizes.append(windows.shape[0])
        return real(windows, spec_)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_module, "features_of_windows", counted)
    stream = pipe.stream(trace.fs, record=True)
    found = []
    for s in _pieces(trace.t.size, fs, 20_000):
        found += stream.feed(trace.t[s], trace.samples[s])
    found += stream.finish()
    got = stream.result(found)
    assert whole.probs.size > 2 * bank.batch
    assert max(sizes) == bank.batch and sum(sizes) == whole.probs.size
    np.testing.assert_array_equal(got.centres, whole.centres)
    np.testing.assert_array_equal(got.probs, whole.probs)
    assert got.detections == whole.detections and stream.windows == whole.probs.size


def test_stream_of_a_short_trace_refuses_like_run(toy_model: Model) -> None:
    stream = CounterPipeline(toy_model).stream(50.0)
    assert stream.feed(T[:60], X[:60]) == []
    with pytest.raises(InvalidParameter, match=r"shorter than one window of 1\.5 s"):
        stream.finish()
    one = CounterPipeline(toy_model).stream(50.0, record=True)
    found = one.feed(T[:75], X[:75]) + one.finish()
    assert one.result(found).centres.size == 1


_BAD_RATES = (
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not 0 < f < math.inf)
    | st.integers(max_value=0)
    | st.sampled_from(["50", None, True])
)


@given(fs=_BAD_RATES)
def test_a_bad_sample_rate_is_refused_in_one_line(toy_model: Model, fs: object) -> None:
    """fs = 0 raised ZeroDivisionError in run() and stream(), NaN called the trace shorter
    than a window, a negative rate was counted, inf failed inside SciPy's filter design."""
    t = np.arange(100) / 50.0
    x = np.zeros((100, 3), dtype=np.float32)
    match = r"^fs: .* must be a finite number > 0 \(a rate in Hz\)$"
    with pytest.raises(InvalidParameter, match=match):
        Trace(t, x, fs)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match=match):
        CounterPipeline(toy_model).stream(fs)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match=r"^fs_in: .* must be a finite number > 0"):
        to_uniform(t, x, fs, 50.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("t", "samples", "match"),
    [
        (["a"], [[1, 2, 3]], r"^Trace: t must be numbers \(seconds\); got \['a'\]$"),
        ([0.0], [["x", 2, 3]], r"^Trace: samples must be numbers \(g\); got \[\['x', 2, 3\]\]$"),
    ],
)
def test_a_trace_of_text_is_refused_in_one_line(t: object, samples: object, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        Trace(t, samples, 50.0)  # type: ignore[arg-type]
