"""Counting logic: Hypothesis properties of the batch and streaming counters.

The score function is a synthetic, deterministic stand-in for the CNN. Traces are zero
except for Gaussian "marker" pulses on the x axis, one per gesture; a window's
probability is high while a whole pulse sits near the window's centre, like a detector
trained on centred gestures: ``p = min(1, mass / full_mass) * exp(-d**2 / (2 TAU**2))``
with ``d`` the distance (s) from the window centre to the pulse centroid.
"""

from __future__ import annotations

import math
from itertools import cycle, pairwise

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from highfive.generators._errors import InvalidParameter
from highfive.generators._types import Detection
from highfive.harness._counter import (
    CounterConfig,
    ScoreFn,
    StreamingCounter,
    count_trace,
    detect,
    window_centres,
)

FS = 50.0
SIGMA_S = 0.08  # marker pulse width (s)
TAU_S = 0.2  # how far off-centre (s) the synthetic detector still fires
EPS = 1e-9


def marker_trace(times: list[float], n_samples: int, amps: list[float] | None = None) -> np.ndarray:
    """Zeros except a Gaussian pulse centred at each time (s) on axis x; shape (n, 3)."""
    t = np.arange(n_samples) / FS
    x = np.zeros((n_samples, 3), dtype=np.float32)
    for tg, a in zip(times, amps or [1.0] * len(times), strict=True):
        x[:, 0] += (a * np.exp(-0.5 * ((t - tg) / SIGMA_S) ** 2)).astype(np.float32)
    return x


def marker_score(windows: np.ndarray) -> np.ndarray:
    """Per-window probability, shape (B,), from windows (B, n, 3).

    Window by window with exactly rounded sums (math.fsum): a window's score must not
    depend on which batch it arrived in, or streaming could not equal batch exactly.
    """
    assert windows.ndim == 3 and windows.shape[2] == 3 and windows.dtype == np.float32
    n = windows.shape[1]
    full = SIGMA_S * FS * math.sqrt(2 * math.pi)
    idx = np.arange(n, dtype=np.float64)
    out = np.zeros(windows.shape[0])
    for i in range(windows.shape[0]):
        w = windows[i, :, 0].astype(np.float64)
        mass = math.fsum(w.tolist())
        if mass <= 1e-3 * full:
            continue
        d = (math.fsum((w * idx).tolist()) / mass - (n - 1) / 2) / FS
        out[i] = min(1.0, mass / full) * math.exp(-0.5 * (d / TAU_S) ** 2)
    return np.clip(out, 0.0, 1.0)


def stream(samples: np.ndarray, cfg: CounterConfig, sizes: list[int], score: ScoreFn) -> list:
    counter = StreamingCounter(cfg, score)
    events: list[Detection] = []
    pos, sizes_it = 0, cycle(sizes)
    while pos < samples.shape[0]:
        m = next(sizes_it)
        new = counter.feed(samples[pos : pos + m])
        assert all(d.time <= (pos + m) / FS for d in new)  # only runs already closed
        events += new
        pos += m
    return events + counter.finish()


def cfg_with(**kw: float) -> CounterConfig:
    return CounterConfig(**{"fs": FS, **kw})


@st.composite
def configs(draw: st.DrawFn) -> CounterConfig:
    n = draw(st.integers(10, 90))
    on = draw(st.floats(0.05, 0.95))
    return cfg_with(
        window_s=n / FS,
        hop_s=draw(st.integers(1, min(n, 12))) / FS,
        on=on,
        off=on * draw(st.floats(0.0, 1.0)),
        min_run=draw(st.integers(1, 4)),
        refractory_s=draw(st.floats(0.0, 1.5)),
    )


# (a) ------------------------------------------------------------------------------------
@given(hop=st.integers(4, 7), phase=st.floats(0.0, 1.0, exclude_max=True))
def test_one_gesture_at_any_phase_counts_once_near_its_time(hop: int, phase: float) -> None:
    # hop >= 4 samples: the hysteresis makes runs end later than they start (p falls
    # below off=0.4 later than it rose above on=0.6), biasing the time by ~0.034 s.
    cfg = cfg_with(hop_s=hop / FS)
    tg = 3.0 + phase * cfg.hop_s
    dets = count_trace(marker_trace([tg], 300), cfg, marker_score)
    assert len(dets) == 1
    assert abs(dets[0].time - tg) <= cfg.hop_s
    assert cfg.on <= dets[0].score <= 1


# (b) ------------------------------------------------------------------------------------
@given(
    phase=st.floats(0.0, 1.0),
    extra=st.floats(0.01, 2.0),
    refractory=st.floats(0.0, 2.0),
)
def test_two_gestures_far_apart_count_twice(phase: float, extra: float, refractory: float) -> None:
    cfg = cfg_with(refractory_s=refractory)
    t1 = 2.0 + phase * cfg.hop_s
    t2 = t1 + refractory + cfg.window_s + extra
    dets = count_trace(marker_trace([t1, t2], round((t2 + 2.5) * FS)), cfg, marker_score)
    assert len(dets) == 2
    assert abs(dets[0].time - t1) <= cfg.hop_s
    assert abs(dets[1].time - t2) <= cfg.hop_s


# (c) ------------------------------------------------------------------------------------
@given(
    cfg=configs(),
    extra_samples=st.integers(0, 400),
    gestures=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.5, 2.0)), max_size=6),
    noise_seed=st.none() | st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 250), min_size=1, max_size=8).map(lambda s: s if any(s) else [1]),
)
def test_streaming_equals_batch_for_any_chunking(
    cfg: CounterConfig,
    extra_samples: int,
    gestures: list[tuple[float, float]],
    noise_seed: int | None,
    sizes: list[int],
) -> None:
    n = cfg.window_samples + extra_samples
    x = marker_trace([u * n / FS for u, _ in gestures], n, [a for _, a in gestures])
    if noise_seed is not None:
        x += np.random.default_rng(noise_seed).normal(0, 0.05, x.shape).astype(np.float32)
    batch = count_trace(x, cfg, marker_score)
    event(f"{min(len(batch), 3)}{'+' * (len(batch) >= 3)} detections")
    assert stream(x, cfg, sizes, marker_score) == batch
    assert stream(x, cfg, [1], marker_score) == batch
    assert stream(x, cfg, [n], marker_score) == batch


def test_streaming_with_fewer_samples_than_a_window_counts_nothing() -> None:
    counter = StreamingCounter(CounterConfig(), marker_score)
    assert counter.feed(np.zeros((74, 3))) == []
    assert counter.finish() == []
    with pytest.raises(InvalidParameter, match=r"after finish"):
        counter.feed(np.zeros((1, 3)))


# (d) ------------------------------------------------------------------------------------
@st.composite
def one_run(draw: st.DrawFn) -> tuple[CounterConfig, list[float], int, int]:
    on = draw(st.floats(0.2, 1.0))
    off = draw(st.floats(0.05, on))
    cfg = cfg_with(on=on, off=off, min_run=draw(st.integers(1, 3)))
    lead = draw(st.integers(0, 5))
    body = [draw(st.floats(on, 1.0))]
    body += draw(st.lists(st.floats(off, 1.0), min_size=cfg.min_run - 1, max_size=30))
    tail = draw(st.integers(0, 5))
    return cfg, [0.0] * lead + body + [0.0] * tail, lead, lead + len(body) - 1


@given(case=one_run())
def test_hysteresis_one_event_however_it_fluctuates_above_off(
    case: tuple[CounterConfig, list[float], int, int],
) -> None:
    cfg, probs, first, last = case
    c = window_centres(len(probs), cfg)
    assert detect(probs, c, cfg) == [
        Detection(time=0.5 * (c[first] + c[last]), score=max(probs[first : last + 1]))
    ]


# (e) ------------------------------------------------------------------------------------
@given(cfg=configs(), probs=st.lists(st.floats(0.0, 1.0), max_size=200))
def test_refractory_spacing_and_scores(cfg: CounterConfig, probs: list[float]) -> None:
    dets = detect(probs, window_centres(len(probs), cfg), cfg)
    min_gap = cfg.refractory_s + cfg.hop_samples / cfg.fs
    assert all(b.time - a.time >= min_gap - EPS for a, b in pairwise(dets))
    assert all(cfg.on <= d.score <= 1 for d in dets)


# Examples -------------------------------------------------------------------------------
def test_golden_sequence() -> None:
    """Hand-worked: hop 0.1 s, window 1.5 s at 50 Hz -> centres 0.74, 0.84, ... s."""
    cfg = CounterConfig(on=0.6, off=0.4, min_run=2, refractory_s=0.3)
    probs = [0.0, 0.7, 0.5, 0.9, 0.3, 0.8, 0.8, 0.8, 0.0, 0.65, 0.0, 0.7, 0.7]
    # run 1: windows 1-3 (0.5 >= off keeps it open), closed by window 4 (end 1.14 s);
    # windows 5-7 start inside the refractory period (< 1.44 s); window 9 is a run of one
    # (< min_run); windows 11-12 form a run left open at the end of the stream.
    c = window_centres(len(probs), cfg)
    np.testing.assert_allclose(c[:2], [0.74, 0.84])
    assert detect(probs, c, cfg) == [
        Detection(time=0.5 * (c[1] + c[3]), score=0.9),
        Detection(time=0.5 * (c[11] + c[12]), score=0.7),
    ]


@pytest.mark.parametrize("k", range(2, 13))
def test_refractory_boundary_is_inclusive(k: int) -> None:
    """A run may start exactly refractory_s after the end, even when float centres differ
    from k hops by a rounding error; one hop earlier it may not."""
    cfg = CounterConfig(refractory_s=round(k * 0.1, 10), min_run=1)
    for gap, expected in ((k, 2), (k - 1, 1)):
        probs = [0.9, 0.0] + [0.0] * (gap - 1) + [0.9]  # run ends at window 1
        assert len(detect(probs, window_centres(len(probs), cfg), cfg)) == expected


def test_non_integer_window_warns_and_rounds() -> None:
    with pytest.warns(UserWarning, match=r"window_s=1.51 s is 75.5 samples"):
        cfg = CounterConfig(window_s=1.51)
    assert cfg.window_samples == 76


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        pytest.param({"fs": 0.0}, r"fs: got 0.0; must be > 0", id="fs-0"),
        pytest.param({"fs": math.nan}, r"fs: got nan; must be finite", id="fs-nan"),
        pytest.param({"fs": "50"}, r"fs: got '50'; must be a number", id="fs-str"),
        pytest.param({"window_s": 0.001}, r"window_s: got 0.001 s.*at least one", id="win-tiny"),
        pytest.param({"hop_s": 0.0}, r"hop_s: got 0.0 s.*at least one sample", id="hop-0"),
        pytest.param({"hop_s": 2.0}, r"hop_s: got 2.0 s, longer than window_s", id="hop>win"),
        pytest.param({"on": 0.0}, r"on: got 0.0; must be in \(0, 1\]", id="on-0"),
        pytest.param({"on": 1.5}, r"on: got 1.5; must be in \(0, 1\]", id="on>1"),
        pytest.param({"off": 0.7}, r"off: got 0.7; must be in \[0, on\]", id="off>on"),
        pytest.param({"off": -0.1}, r"off: got -0.1", id="off<0"),
        pytest.param({"min_run": 0}, r"min_run: got 0; must be an integer >= 1", id="run-0"),
        pytest.param({"min_run": 2.0}, r"min_run: got 2.0", id="run-float"),
        pytest.param({"min_run": True}, r"min_run: got True", id="run-bool"),
        pytest.param({"refractory_s": -1.0}, r"refractory_s: got -1.0; must be >= 0", id="refr<0"),
        pytest.param({"refractory_s": math.inf}, r"refractory_s: got inf", id="refr-inf"),
    ],
)
def test_bad_config_raises(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        CounterConfig(**kw)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda: detect([0.5, 0.5], [0.1], CounterConfig()), r"probs: got shape \(2,\)", id="len"
        ),
        pytest.param(
            lambda: detect([1.5], [0.1], CounterConfig()), r"probs: got 1.5.*\[0, 1\]", id="p>1"
        ),
        pytest.param(
            lambda: detect([math.nan], [0.1], CounterConfig()), r"probs: got nan", id="nan"
        ),
        pytest.param(
            lambda: count_trace(np.zeros((100, 3)), CounterConfig(), lambda w: np.zeros(3)),
            r"score_fn output: got shape \(3,\); must be \(6,\)",
            id="score-shape",
        ),
        pytest.param(
            lambda: StreamingCounter(CounterConfig(), marker_score).feed(np.zeros((5, 2))),
            r"chunk: got shape \(5, 2\); must be \(m, 3\)",
            id="chunk-shape",
        ),
        pytest.param(lambda: window_centres(-1, CounterConfig()), r"n_windows: got -1", id="neg"),
    ],
)
def test_bad_input_raises(call: object, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        call()  # type: ignore[operator]


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30).filter(
        lambda c: not all(a < b for a, b in pairwise(c))
    )
)
def test_centres_that_do_not_increase_are_refused(centres: list[float]) -> None:
    """Decreasing centres gave detections at times of the caller's making (a run over
    [4, 3, 2, 1, 0] was reported at 2.0), though the docstring asks for increasing ones."""
    with pytest.raises(InvalidParameter, match=r"^centres: .* must be finite and strictly"):
        detect([0.9] * len(centres), centres, CounterConfig())
    with pytest.raises(InvalidParameter, match=r"^centres: nan s at window 0; must be finite"):
        detect([0.9], [math.nan], CounterConfig())
