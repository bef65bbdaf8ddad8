"""Physics of the body around the motions: gait at the wrist, idle sway, postures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from highfive.generators import SensorSpec, default_space, synthesize
from highfive.generators import strategies as hst
from highfive.generators._body import (
    GAITS,
    POSTURES,
    RAMP,
    BodyMotion,
    _draw_rallies,
    _draw_strokes,
    _sin_cos,
)


def _peak_hz(x: np.ndarray, fs: float) -> float:
    """Frequency of the largest periodogram bin at or above 0.3 Hz (axes' powers added)."""
    f, p = signal.periodogram(x - x.mean(axis=0), fs=fs, nfft=8192, axis=0)
    if p.ndim > 1:
        p = p.sum(axis=1)
    band = f >= 0.3
    return float(f[band][np.argmax(p[band])])


def _still(background: str, **fixed: object) -> dict:
    """A 20 s rest row at 50 Hz with an ideal sensor, the body alone moving."""
    row = dict(motion="rest", background=background, distractor="none", duration=20.0)
    return default_space().complete({**row, "sample_rate": 50, **fixed})


def _gait(background: str, pace: float, swing: float, seed: int) -> tuple[np.ndarray, float]:
    """Gravity-free samples of a gait row and its stride rate in Hz (half the cadence)."""
    row = _still(background, gait_pace=pace, arm_swing=swing)
    x = synthesize(row, seed, gravity=False).samples.astype(np.float64)
    lo, hi = GAITS[background].cadence
    return x, (lo + (hi - lo) * pace) / 120.0


@settings(max_examples=20)
@given(pace=st.floats(0.0, 1.0), swing=st.floats(0.5, 1.0), seed=hst.seeds())
def test_walking_wrist_swings_at_the_stride_rate(pace: float, swing: float, seed: int) -> None:
    # The arm swings once per stride (two steps): the fore-aft axis of the hanging
    # watch (y) peaks at half the cadence; the magnitude, which mixes the swing with
    # the steps' bounce and heel strikes, peaks at a harmonic of the stride rate.
    x, stride_hz = _gait("walking", pace, swing, seed)
    assert _peak_hz(x[:, 1], 50.0) == pytest.approx(stride_hz, abs=0.02)
    harmonic = _peak_hz(np.linalg.norm(x, axis=1), 50.0) / stride_hz
    assert harmonic == pytest.approx(round(harmonic), abs=0.05)
    assert round(harmonic) >= 1


@settings(max_examples=20)
@given(pace=st.floats(0.0, 1.0), swing=st.floats(0.5, 1.0), seed=hst.seeds())
def test_running_wrist_swings_at_the_stride_rate(pace: float, swing: float, seed: int) -> None:
    x, stride_hz = _gait("running", pace, swing, seed)
    # Elbow bent, forearm forward: the swing moves both x and y; the vector spectrum
    # peaks at the stride rate above the trunk's bounce at the step rate.
    assert _peak_hz(x, 50.0) == pytest.approx(stride_hz, abs=0.02)


@pytest.mark.parametrize("background", ["walking", "running"])
def test_all_three_axes_move_while_walking_and_running(background: str) -> None:
    x = synthesize(_still(background), 4, gravity=False).samples.astype(np.float64)
    # Every axis carries more than the 0.03 g that a lone trunk sway would give.
    assert (x.std(axis=0) > 0.05).all()


def test_faster_arm_swing_gives_larger_wrist_acceleration() -> None:
    stds = [
        synthesize(_still("walking", arm_swing=s), 5, gravity=False).samples.std(axis=0).max()
        for s in (0.0, 0.5, 1.0)
    ]
    assert stds[0] < stds[1] < stds[2]


@settings(max_examples=30)
@given(
    idle=st.floats(10.0, 150.0),
    posture=st.sampled_from(sorted(POSTURES)),
    seed=hst.seeds(),
)
def test_a_standing_wrist_moves_tens_of_mg(idle: float, posture: str, seed: int) -> None:
    # The idle jiggle carries the row's RMS unless the arm would have to turn more than
    # 3 deg (short levers); tremor, sway and sensor noise add a few mg.
    row = _still("none", idle_motion=idle, rest_posture=posture)
    x = synthesize(row, seed, gravity=False).samples.astype(np.float64)
    rms = 1e3 * math.sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=1).mean())
    assert 5.0 <= rms <= 1.3 * idle + 15.0


@pytest.mark.parametrize("posture", sorted(POSTURES))
def test_rest_posture_sets_where_gravity_points(posture: str) -> None:
    # With no offsets, the reading at rest is the reaction to gravity in the posture:
    # x along the forearm reads sin(elevation), and the roll splits the rest over y, z.
    elev, roll, _ = POSTURES[posture]
    row = _still("none", rest_posture=posture, idle_motion=10.0, cross_axis=0.0)
    mean = synthesize(row, 6).samples.astype(np.float64).mean(axis=0)
    e, r = math.radians(elev), math.radians(roll)
    expected = [math.sin(e), math.cos(e) * math.sin(r), math.cos(e) * math.cos(r)]
    np.testing.assert_allclose(mean, expected, atol=0.03)


def test_rest_posture_honours_elevation_offset_and_roll() -> None:
    base = _still("none", rest_posture="table", idle_motion=10.0, cross_axis=0.0)
    turned = {**base, "elevation_offset": 20.0, "wrist_roll": -40.0}
    x = synthesize(turned, 6).samples.astype(np.float64).mean(axis=0)
    e, r = math.radians(20.0), math.radians(-40.0)
    np.testing.assert_allclose(
        x, [math.sin(e), math.cos(e) * math.sin(r), math.cos(e) * math.cos(r)], atol=0.03
    )


def test_the_posture_does_not_reach_into_a_gesture() -> None:
    # Inside a gesture (away from the ramps) only the plan moves the watch: the trace
    # is the same whatever the resting posture (tremor is drawn identically).
    space = default_space()
    rows = [
        space.complete(dict(motion="high_five", background="none", rest_posture=p))
        for p in ("hanging", "table")
    ]
    a, b = (synthesize(r, 8) for r in rows)
    (e,) = a.events
    inside = (a.t > e.start + 0.05) & (a.t < e.end - 0.05)
    assert inside.sum() > 10
    np.testing.assert_allclose(a.samples[inside], b.samples[inside], atol=2e-3)
    outside = a.t < e.start - RAMP
    assert np.abs(a.samples[outside] - b.samples[outside]).max() > 0.5


@given(hst.parameter_rows(), hst.seeds())
def test_gravity_term_is_one_g_everywhere_in_the_space(row: dict, seed: int) -> None:
    # The gravity term is 1 g in the watch's orientation, seen through the sensor: its
    # scale, cross-axis and misalignment matrix, and the band limit, which delays the
    # turning vector (shortening it, or lengthening it by the filter's overshoot, by
    # a few percent during the fastest gestures: 0.94-1.03 over 300 rows of the space).
    # A racket stroke turns the arm faster still (up to about 40 rad/s): at 25 Hz the
    # term falls to 0.78-0.79 in the strongest strokes (150 rows, arm_swing 1).
    a = synthesize(row, seed)
    b = synthesize(row, seed, gravity=False)
    diff = a.samples.astype(np.float64) - b.samples
    unturned = diff @ np.linalg.inv(SensorSpec.from_params(row).matrix).T
    norm = np.linalg.norm(unturned, axis=1)
    assert norm.min() > 0.75 and norm.max() < 1.1
    # Where the watch is still (the first samples, before any gesture), exactly 1 g.
    assert norm[0] == pytest.approx(1.0, abs=1e-3) or row["background"] != "none"


@given(
    st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=50),
    st.floats(0.0, 1.0),
)
def test_series_sine_and_cosine_agree_with_numpy_to_the_last_bit(
    xs: list[float], slack: float
) -> None:
    # The body's Taylor sine and cosine (cut for the bound given, which may exceed the
    # largest |x|) differ from libm's by at most half a unit in the last place of 1.
    x = np.array(xs)
    bound = float(np.abs(x).max()) + slack * (1.0 - float(np.abs(x).max()))
    sin, cos = _sin_cos(x, bound)
    assert np.abs(sin - np.sin(x)).max() <= 0.5 * np.spacing(1.0)
    assert np.abs(cos - np.cos(x)).max() <= 0.5 * np.spacing(1.0)


@settings(max_examples=50)
@given(until=st.floats(0.0, 60.0), seed=hst.seeds())
def test_racket_rallies_alternate_with_pauses_over_the_whole_trace(until: float, seed: int) -> None:
    rallies = _draw_rallies(np.random.default_rng(seed), until)
    start, end = rallies.T
    length, pause = end - start, start[1:] - end[:-1]
    assert ((length >= 3.0) & (length <= 12.0)).all()
    assert ((pause >= 2.0 - 1e-9) & (pause <= 10.0 + 1e-9)).all()
    # The first began at most one rally and pause before 0 (and not after it); the last
    # begins before `until`, and the time after it is within its rally or its pause.
    assert -22.0 <= start[0] <= 0.0 and start[-1] < until
    assert end[0] + 10.0 >= 0.0


@settings(max_examples=50)
@given(
    interval=st.floats(1.5, 4.0),
    swing=st.floats(math.radians(60.0), math.radians(140.0)),
    until=st.floats(0.0, 60.0),
    seed=hst.seeds(),
)
def test_racket_strokes_follow_one_another_at_the_drawn_interval(
    interval: float, swing: float, until: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    rallies = _draw_rallies(rng, until)
    strokes = _draw_strokes(rng, interval, swing, rallies)
    start, back, fwd, ret = strokes[:, :4].T
    end = start + back + fwd + ret
    # Each rally opens with a stroke; within it the next starts 0.6-1.4 intervals after
    # the last, or as soon as it has ended; none starts after the rally's end.
    rally = np.searchsorted(rallies[:, 0], start, side="right") - 1
    assert (start < rallies[rally, 1]).all()
    assert set(rally.tolist()) == set(range(len(rallies)))
    opens = np.r_[True, rally[1:] != rally[:-1]]
    np.testing.assert_array_equal(start[opens], rallies[:, 0])
    step = np.diff(start)[~opens[1:]]
    after = end[:-1][~opens[1:]]
    ok = ((step >= 0.6 * interval - 1e-9) & (step <= 1.4 * interval + 1e-9)) | np.isclose(
        start[1:][~opens[1:]], after
    )
    assert ok.all() and (start[1:] >= end[:-1] - 1e-9).all()
    assert (strokes[:, 4] == swing).all()
    assert ((back >= 0.3) & (back <= 0.5) & (fwd >= 0.12) & (fwd <= 0.25)).all()


@settings(max_examples=20)
@given(
    fwd=st.floats(0.2, 0.8),
    up=st.floats(-0.6, 0.0),
    swing=st.floats(math.radians(60.0), math.radians(140.0)),
    seed=hst.seeds(),
)
def test_racket_stroke_acceleration_is_the_wrists_second_derivative(
    fwd: float, up: float, swing: float, seed: int
) -> None:
    # With sway, steps and tremor off, on_grid's acceleration of the stroking arm is
    # the second derivative of the wrist's position on the circle the angles give.
    strokes = _draw_strokes(np.random.default_rng(seed), 2.0, swing, np.array([[-1.0, 7.0]]))
    body = BodyMotion(
        windows=(),
        d_elev=0.0,
        d_roll=0.0,
        radius=(fwd, up),
        sway=np.array([[0.0] * 4, [1.0] * 4, [0.0] * 4]),
        swing=(0.0, 0.0, 0.0),
        step=(0.0, 0.0, 0.0, 0.0),
        heel=(0.0, 0.01, 0.0),
        tremor=(0.0, 1.0, 0.0),
        lean=0.0,
        strokes=strokes,
    )
    # Fine steps: where two moves meet, the jerk jumps, and the central difference
    # there errs by about the jump x dt / 6.
    dt = 1e-5
    t = np.arange(0.0, 6.0, dt)
    acc, ang = body.on_grid(t, dt)
    theta = ang[1]
    pos = np.stack(
        [fwd * np.cos(theta) - up * np.sin(theta), fwd * np.sin(theta) + up * np.cos(theta)]
    )
    second = (pos[:, 2:] - 2.0 * pos[:, 1:-1] + pos[:, :-2]) / dt**2
    peak = np.abs(second).max()
    assert peak > 10.0  # the strokes move the wrist hard
    np.testing.assert_allclose(acc[1:-1, 0], second[0], atol=1e-3 * peak)
    np.testing.assert_allclose(acc[1:-1, 2], second[1], atol=1e-3 * peak)
    # The forearm pronates only during the forward swing and the return.
    assert ang[2].max() > 0.5 and ang[2].min() > -1e-12


def test_racket_strokes_never_reach_into_a_gesture() -> None:
    # The strokes fade out around a gesture like the posture: inside one, rows that
    # differ only in the strokes' size read the same (footwork and tremor go on alike).
    space = default_space()
    rows = [
        space.complete(
            dict(motion="high_five", background="racket_play", arm_swing=s, duration=20.0)
        )
        for s in (0.0, 1.0)
    ]
    a, b = (synthesize(r, 8, gravity=False) for r in rows)
    (e,) = a.events
    # The sensor's band limit carries a stroke's tail a few samples into the gesture.
    inside = (a.t > e.start + 0.1) & (a.t < e.end - 0.05)
    assert inside.sum() > 10
    np.testing.assert_allclose(a.samples[inside], b.samples[inside], atol=2e-3)
    outside = (a.t < e.start - RAMP) | (a.t > e.end + RAMP)
    assert np.abs(a.samples[outside] - b.samples[outside]).max() > 0.5


def test_racket_play_is_more_vigorous_than_running() -> None:
    # A stroke swings the arm faster than any running stride: the wrist's peaks (g,
    # gravity removed) stand well above the fastest run's, between quieter footwork.
    def peak_and_median(background: str) -> tuple[float, float]:
        row = _still(background, gait_pace=1.0, arm_swing=1.0, sensor_range=16)
        x = synthesize(row, 9, gravity=False).samples.astype(np.float64)
        a = np.linalg.norm(x, axis=1)
        return float(np.percentile(a, 99)), float(np.median(a))

    play, run = peak_and_median("racket_play"), peak_and_median("running")
    assert play[0] > 2.0 * run[0]
    assert play[1] < run[1]
