"""Physical invariants of synthesized traces, checked with Hypothesis over the space."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from highfive.generators import (
    MARGIN,
    InvalidParameter,
    ParameterSpace,
    Trace,
    default_space,
    synthesize,
)
from highfive.generators import strategies as hst
from highfive.generators._body import RAMP
from highfive.generators._sensor import noise_bandwidth


def _bound_at_rest(p: dict) -> float:
    """How far |a| may stray from 1 g at rest: every sensor error and body motion, added up."""
    bias = np.linalg.norm([p["bias_x"], p["bias_y"], p["bias_z"]]) * 1e-3
    scale = max(abs(p["scale_x"]), abs(p["scale_y"]), abs(p["scale_z"])) / 100
    cross = 2 * p["cross_axis"] / 100
    noise = 6 * p["noise_density"] * 1e-6 * np.sqrt(noise_bandwidth(p["sample_rate"]))
    lsb = 2 * p["sensor_range"] / 2 ** p["resolution_bits"]
    tremor = 0.011  # _body: at most 0.01 g of tremor
    # _body: the idle jiggle's two components peak at most at twice its RMS; the slow
    # sway (1.5 deg at 0.5 Hz on a 0.8 m arm) adds at most 0.013 g, centripetal terms less.
    idle = 2.0 * p["idle_motion"] * 1e-3 + 0.02
    return bias + scale + cross + noise + lsb + tremor + idle


@given(hst.traces(hst.parameter_rows(background="none", sensor_range=[4, 8, 16])))
def test_at_rest_the_watch_reads_one_g(trace: Trace) -> None:
    p = dict(trace.params)
    first = min(e.start for e in trace.events)
    # Skip the first 0.2 s after the start (filter start-up is steady, but be safe),
    # and the ramp from the resting posture into the first motion.
    rest = (trace.t < first - RAMP - 0.05) & (trace.t > 0.2)
    mag = np.linalg.norm(trace.samples[rest].astype(np.float64), axis=1)
    assert mag.size > 0
    assert np.all(np.abs(mag - 1.0) <= _bound_at_rest(p))


@given(hst.traces())
def test_samples_never_exceed_the_range(trace: Trace) -> None:
    assert np.all(np.abs(trace.samples) <= trace.params["sensor_range"])
    assert trace.samples.dtype == np.float32
    assert np.all(np.isfinite(trace.samples))


@given(hst.traces())
def test_timestamps_increase_and_events_lie_inside(trace: Trace) -> None:
    assert np.all(np.diff(trace.t) > 0)
    period = 1.0 / trace.fs
    for e in trace.events:
        assert trace.t[0] - period <= e.start < e.end <= trace.t[-1] + period
        assert e.start >= MARGIN - 1e-9
        if e.impact is not None:
            assert e.start <= e.impact <= e.end
    starts = [e.start for e in trace.events]
    assert starts == sorted(starts)


@given(
    hst.traces(
        hst.parameter_rows(duration=20.0, repetitions=1, distractor="none", motion="high_five")
    )
)
def test_sample_count_is_duration_times_rate_less_drops(trace: Trace) -> None:
    p = trace.params
    n = round(20.0 * p["sample_rate"] * (1 + p["clock_drift"] / 100))
    dropped = n - trace.t.size
    if p["drop_rate"] == 0:
        assert dropped == 0
    else:
        sd = np.sqrt(n * p["drop_rate"] * (1 - p["drop_rate"]))
        assert 0 <= dropped <= n * p["drop_rate"] + 6 * sd + 1


@settings(max_examples=40)
@given(
    hst.parameter_rows(
        motion="high_five",
        distractor="none",
        repetitions=1,
        background="none",
        sample_rate=200,
        sensor_range=16,
        impact_decay=[8.0, 40.0],
        impact_peak=[4.0, 8.0],
        peak_accel=[4.0, 15.0],
    ),
    hst.seeds(),
)
def test_high_five_impact_stands_above_its_approach(row: dict, seed: int) -> None:
    # A palm contact several times stronger than the reach must show above it; this is
    # what makes a high-five recognisable at all.
    trace = synthesize(row, seed)
    (e,) = trace.events
    dev = np.abs(np.linalg.norm(trace.samples, axis=1) - 1.0)
    approach = (trace.t >= e.start) & (trace.t < e.impact - 0.05)
    impact = (trace.t >= e.impact) & (trace.t < e.impact + 0.1)
    assert dev[impact].max() > dev[approach].max()


@given(hst.parameter_rows(), hst.seeds())
def test_same_row_and_seed_give_identical_traces(row: dict, seed: int) -> None:
    a = synthesize(row, seed)
    synthesize(default_space().nominal(), seed + 1)  # unrelated work in between
    b = synthesize(row, seed)
    assert np.array_equal(a.t, b.t) and np.array_equal(a.samples, b.samples)
    assert a.events == b.events


@given(st.data())
def test_from_type_trace_works(data: st.DataObject) -> None:
    trace = data.draw(st.from_type(Trace))
    assert isinstance(trace, Trace)


@pytest.mark.parametrize("motion", ["high_five", "reach_up", "throw"])
def test_fast_arm_raises_unload_below_half_a_g_and_load_above_two_g(motion: str) -> None:
    # Fast real arm raises span |a| from about 0.4 g to above 2 g (assumption, after wrist
    # recordings of fast raises): a fast stroke (peak_accel >= 15 m/s^2, the upper 43 % of its
    # log-uniform range) must reach both in at least 80 % of the rows drawn from the
    # default space (measured with 400 rows: high_five 94 %, reach_up 98 %, throw 94 %).
    # The palm contact is left out: the range is the arm's. At the row's own full-scale
    # range the same trace is clipped at the rails, never beyond them.
    sub = default_space().restrict(motion=motion, distractor="none", repetitions=1)
    rows = sub.rows(np.random.default_rng(11).random((120, sub.d)))
    both = []
    for i, row in enumerate(rows):
        wide = synthesize({**row, "sensor_range": 16}, i, validate=False)
        (e,) = wide.events
        mag = np.linalg.norm(wide.samples.astype(np.float64), axis=1)
        arm = (wide.t >= e.start) & (wide.t <= e.end)
        if e.impact is not None:
            arm &= (wide.t < e.impact) | (wide.t > e.impact + 13 * row["impact_decay"] * 1e-3)
        if row["peak_accel"] >= 15.0:
            both.append(mag[arm].min() < 0.5 and mag[arm].max() > 2.0)
        own = synthesize(row, i, validate=False)
        rail = float(row["sensor_range"])
        lsb = 2 * rail / 2 ** row["resolution_bits"]
        assert np.all(own.samples >= -rail) and np.all(own.samples <= rail - lsb)
        over = np.abs(wide.samples) > rail + 0.1
        assert np.all(np.abs(own.samples[over]) >= rail - 2 * lsb)
    assert len(both) >= 40
    assert np.mean(both) >= 0.8, f"{np.mean(both):.2f} of {len(both)} fast rows"


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (
            hst.parameter_rows().map(lambda r: dict(r, peak_accel=100.0)),
            r"^peak_accel: 100\.0 is out of range \(allowed: 4 to 40",
        ),
        (st.just({"motion": "clap"}), r"^repetitions: missing from the parameter row"),
        (
            st.just(dict(default_space().nominal(), peak_accel=0.0)),
            r"^peak_accel: 0\.0 is out of range",
        ),
    ],
    ids=["out-of-range", "partial", "zero"],
)
def test_traces_validate_the_rows_they_are_given(rows: st.SearchStrategy, match: str) -> None:
    """Rows of the user's own strategy were never validated: peak_accel = 100 made a
    trace outside the 4-40 range, a partial row raised KeyError: 'repetitions'."""
    with pytest.raises(InvalidParameter, match=match):
        find(hst.traces(rows), lambda t: True)


def test_traces_of_a_wider_space_validate_against_it() -> None:
    d = default_space().to_dict()
    for dim in d["dimensions"]:
        if dim["name"] == "duration":
            dim["high"] = 30.0
    wide = ParameterSpace.from_dict(d)
    rows = st.just(dict(wide.nominal(), duration=25.0))
    assert find(hst.traces(rows, space=wide), lambda t: True).duration > 24.9
    with pytest.raises(InvalidParameter, match=r"^duration: 25\.0 is out of range"):
        find(hst.traces(rows), lambda t: True)
