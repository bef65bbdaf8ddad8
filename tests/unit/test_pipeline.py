"""The counter pipeline's mechanics, with a toy model (accuracy is the models' business)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import signal

from highfive.generators import InvalidParameter, Trace, default_space, synthesize
from highfive.harness import Counter, CounterConfig, CounterPipeline, Model
from highfive.harness._preprocess import _antialias, _sosfiltfilt


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
