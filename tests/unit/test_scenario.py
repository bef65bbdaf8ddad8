"""Scenario composer: layout, determinism across processes, bad input."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from highfive.generators import (
    MARGIN,
    PHASE,
    InvalidParameter,
    ParameterSpace,
    Trace,
    _scenario,
    case_streams,
    default_space,
    synthesize,
)
from highfive.generators._kinematics import gravity_reaction, specific_force


def _digest(trace: Trace) -> str:
    h = hashlib.sha256(trace.t.tobytes())
    h.update(trace.samples.tobytes())
    h.update(repr(trace.events).encode())
    return h.hexdigest()


CASES = [
    (dict(motion="high_five", repetitions=3, gap=0.4), 11),
    (dict(background="running", sample_rate=25, drop_rate=0.03), 2**40),
]


def test_identical_across_processes() -> None:
    space = default_space()
    local = [_digest(synthesize(space.complete(row), seed)) for row, seed in CASES]
    code = (
        "import hashlib; from highfive.generators import default_space, synthesize\n"
        f"cases = {CASES!r}\n"
        "for row, seed in cases:\n"
        "    tr = synthesize(default_space().complete(row), seed)\n"
        "    h = hashlib.sha256(tr.t.tobytes()); h.update(tr.samples.tobytes())\n"
        "    h.update(repr(tr.events).encode()); print(h.hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == local


def test_campaign_seed_streams_match_spawn() -> None:
    # SeedSequence(root, spawn_key=(i,)) is the i-th child of SeedSequence(root).
    root = np.random.SeedSequence(1234)
    a = case_streams(np.random.SeedSequence(1234, spawn_key=(5,)))
    b = case_streams(root.spawn(6)[5])
    assert [g.random() for g in a] == [g.random() for g in b]


def _spawned_streams(seed: np.random.SeedSequence) -> list[np.random.Generator]:
    """The streams a fresh SeedSequence's ``spawn(3)`` gives: what every case used."""
    fresh = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    return [np.random.Generator(np.random.PCG64(c)) for c in fresh.spawn(3)]


@pytest.mark.parametrize(
    "seed",
    [
        np.random.SeedSequence(20261127, spawn_key=(54,)),
        np.random.SeedSequence(3, spawn_key=(1, 2), pool_size=8),
        np.random.SeedSequence(2**100),
    ],
    ids=["campaign-case", "pool-8", "big-entropy"],
)
def test_a_seed_sequence_seed_is_repeatable_and_left_untouched(
    seed: np.random.SeedSequence,
) -> None:
    before = (seed.entropy, seed.spawn_key, seed.pool_size, seed.n_children_spawned)
    streams = case_streams(seed)
    reference = _spawned_streams(seed)
    assert [g.random(4).tolist() for g in streams] == [g.random(4).tolist() for g in reference]
    row = default_space().nominal()
    first, second = synthesize(row, seed), synthesize(row, seed)
    assert _digest(first) == _digest(second)
    assert (seed.entropy, seed.spawn_key, seed.pool_size, seed.n_children_spawned) == before


def test_an_integer_seed_is_the_seed_sequence_of_it() -> None:
    row = default_space().nominal()
    assert _digest(synthesize(row, 17)) == _digest(synthesize(row, np.random.SeedSequence(17)))
    assert _digest(synthesize(row, np.uint64(17))) == _digest(synthesize(row, 17))


@pytest.mark.parametrize(
    "seed, match",
    [
        (-1, r"seed: -1 must be a whole number >= 0 or a numpy SeedSequence"),
        (1.5, r"seed: 1\.5 must be a whole number >= 0"),
        (2.0, r"seed: 2\.0 must be a whole number >= 0"),
        ("abc", r"seed: 'abc' must be a whole number >= 0"),
        (None, r"seed: None must be a whole number >= 0"),
        (True, r"seed: True must be a whole number >= 0"),
        ([1, 2], r"seed: \[1, 2\] must be a whole number >= 0"),
        (np.int64(-3), r"seed: -3 must be a whole number >= 0"),
    ],
    ids=["negative", "fraction", "float", "string", "none", "bool", "list", "numpy-negative"],
)
def test_bad_seeds_are_refused(seed: object, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        synthesize(default_space().nominal(), seed)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match=match):
        case_streams(seed)  # type: ignore[arg-type]


def test_repetitions_and_gap_layout() -> None:
    row = default_space().complete(dict(motion="high_five", repetitions=3, gap=1.5))
    tr = synthesize(row, 3)
    assert [e.motion for e in tr.events] == ["high_five"] * 3
    for a, b in zip(tr.events, tr.events[1:], strict=False):
        assert b.start - a.end == pytest.approx(1.5)
    assert tr.n_high_fives == 3


def test_trace_is_extended_when_the_motions_need_it() -> None:
    row = default_space().complete(dict(repetitions=4, gap=6.0, duration=4.0))
    tr = synthesize(row, 0)
    assert tr.duration > 4.0 + 3 * 6.0
    assert tr.events[-1].end <= tr.t[-1] - 0.9


def test_the_lead_in_is_random_when_the_trace_is_extended() -> None:
    # Every case of this row needs more than its 4 s: the lead-in is still drawn over
    # PHASE seconds, so the first gesture's start is uniform in [MARGIN, MARGIN + PHASE).
    row = default_space().complete(dict(repetitions=3, gap=6.0, duration=4.0))
    traces = [synthesize(row, seed) for seed in range(200)]
    starts = np.array([tr.events[0].start for tr in traces])
    assert np.all((starts >= MARGIN) & (starts < MARGIN + PHASE))
    assert stats.kstest((starts - MARGIN) / PHASE, "uniform").pvalue > 1e-3
    for tr in traces:
        assert tr.events[-1].end <= tr.t[-1] + 0.5 / tr.fs - MARGIN + 0.05  # rest at the end


# SHA-256 of repr(events), computed before the lead-in was drawn over PHASE seconds in
# extended traces: rows whose slack was already >= PHASE keep their layout bit for bit.
LAYOUT_GOLDEN = [
    (
        dict(motion="high_five", repetitions=2, gap=1.0, duration=12.0),
        3,
        "8ebe1abd1fe47a11c5ab1138e00900820b5c6102d56380a2d6f9dd0d099950e3",
    ),
    (
        dict(motion="clap", repetitions=3, distractor="wave", background="walking", duration=20.0),
        17,
        "b4a208ef8836137481109a83084acb4b6daa4d4fa3512f48a8780c41a7b2bd21",
    ),
    (
        dict(motion="throw", repetitions=1, sample_rate=200, duration=8.0),
        2**33,
        "402d22738f76ec50a2e5a5dbdf187cf26a5659d6b5ace0d0f621d2993a769afa",
    ),
]


@pytest.mark.parametrize("row, seed, digest", LAYOUT_GOLDEN, ids=["high-five", "clap", "throw"])
def test_rows_with_enough_slack_keep_their_layout(row: dict, seed: int, digest: str) -> None:
    tr = synthesize(default_space().complete(row), seed)
    assert hashlib.sha256(repr(tr.events).encode()).hexdigest() == digest


def test_distractor_is_inserted() -> None:
    space = default_space()
    others = [m for m in space["distractor"].choices if m != "none"]
    if not others:
        pytest.skip("no distractor motions registered")
    row = space.complete(dict(repetitions=2, distractor=others[0]))
    tr = synthesize(row, 4)
    assert sorted(e.motion for e in tr.events) == sorted(["high_five"] * 2 + [others[0]])
    assert tr.n_high_fives == 2


def test_sensor_change_leaves_the_motion_untouched() -> None:
    space = default_space()
    a = synthesize(space.complete({"noise_density": 70.0}), 9)
    b = synthesize(space.complete({"noise_density": 900.0}), 9)
    assert a.events == b.events


@pytest.mark.parametrize(
    "row, match",
    [
        ({"gap": -1.0}, "gap: -1.0 is out of range"),
        ({"motion": "salute"}, "motion: 'salute' is not allowed"),
        ({"tempo": math.nan}, "tempo: nan is not a finite number"),
    ],
    ids=["negative-gap", "unknown-motion", "nan"],
)
def test_bad_rows_are_refused(row: dict, match: str) -> None:
    full = {**default_space().nominal(), **row}
    with pytest.raises(InvalidParameter, match=match):
        synthesize(full, 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"space": "default"}, r"^space: 'default' must be a ParameterSpace"),
        ({"space": "motion-only"}, r"^space: lacks the dimension 'repetitions' and 34 more, "),
        ({"gravity": None}, r"^gravity: None must be True or False$"),
        ({"gravity": "False"}, r"^gravity: 'False' must be True or False$"),
        ({"gravity": 0}, r"^gravity: 0 must be True or False$"),
    ],
    ids=["space-text", "space-partial", "gravity-none", "gravity-text", "gravity-int"],
)
def test_bad_synthesize_options_are_refused(kwargs: dict, match: str) -> None:
    # A partial space raised KeyError: 'repetitions', a text AttributeError; gravity=None
    # removed gravity and "False" kept it.
    if kwargs.get("space") == "motion-only":
        kwargs = {"space": ParameterSpace([default_space()["motion"]])}
    for validate in (True, False):
        with pytest.raises(InvalidParameter, match=match):
            synthesize(default_space().nominal(), 0, validate=validate, **kwargs)


def test_trace_rejects_mismatched_shapes() -> None:
    with pytest.raises(InvalidParameter, match="shape"):
        Trace(t=np.arange(4.0), samples=np.zeros((5, 3)), fs=50.0)


def test_trace_arrays_are_read_only() -> None:
    tr = synthesize(default_space().nominal(), 0)
    with pytest.raises(ValueError, match="read-only"):
        tr.samples[0, 0] = 1.0


@pytest.mark.parametrize(
    "row, seed",
    [
        (dict(motion="high_five", repetitions=2, background="walking"), 5),
        (dict(motion="throw", background="running", sample_rate=25, drop_rate=0.03), 6),
        (dict(motion="rest", background="none", clock_jitter=4.0), 7),
    ],
    ids=["high-five-walking", "throw-running-drops", "rest-jitter"],
)
def test_without_gravity_only_the_gravity_term_differs(row: dict, seed: int) -> None:
    full = default_space().complete(row)
    with_g = synthesize(full, seed)
    without = synthesize(full, seed, gravity=False)
    np.testing.assert_array_equal(with_g.t, without.t)
    assert with_g.events == without.events
    # The difference is gravity's part of the readings: 1 g, turned by the watch, delayed
    # by the band limit and scaled by the nominal 0.5 % cross-axis error (at most
    # 1 + 2 x 0.5 %), never more than a few percent from 1 g.
    diff = with_g.samples.astype(np.float64) - without.samples
    np.testing.assert_allclose(np.linalg.norm(diff, axis=1), 1.0, atol=0.03)


def _without_gravity_by_physics(row: dict, seed: int) -> Trace:
    # The same case in a world without gravity: the specific force less its gravity
    # term, on the grid, before the sensor; the sensor's draws are the same.
    def no_gravity(plan, t, **kw):  # type: ignore[no-untyped-def]
        return specific_force(plan, t, **kw) - gravity_reaction(plan, t, kw["extra_angles"])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_scenario, "specific_force", no_gravity)
        return synthesize(row, seed)


@pytest.mark.parametrize(
    "row",
    [
        # Fast strokes at a low rate: the band limit delays gravity's swing by tens of ms.
        dict(motion="high_five", peak_accel=40.0, sample_rate=25),
        dict(motion="throw", background="running", gait_pace=1.0, sample_rate=50),
        # Static scale and cross-axis errors scale gravity as well.
        dict(motion="rest", rest_posture="table", scale_z=3.0, cross_axis=3.0),
        dict(motion="rest", rest_posture="raised", misalign_x=8.0, scale_y=-3.0, bias_x=40.0),
    ],
    ids=["fast-high-five-25hz", "throw-running", "scale-cross-axis", "misaligned-raised"],
)
def test_without_gravity_is_the_reading_of_a_world_without_gravity(row: dict) -> None:
    full = default_space().complete({"sensor_range": 16, "clock_jitter": 2.0, **row})
    without = synthesize(full, 3, gravity=False)
    physics = _without_gravity_by_physics(full, 3)
    np.testing.assert_array_equal(without.t, physics.t)
    # Equal up to the readings' quantization, which applied to the sum with gravity.
    lsb = 2 * 16 / 2**16
    assert np.abs(without.samples - physics.samples).max() <= lsb + 1e-6


def test_without_gravity_a_still_watch_reads_about_zero() -> None:
    # The nominal row has no bias, scale or misalignment error; rest with no
    # background leaves the sensor noise, cross-axis coupling and small sway.
    row = default_space().complete(dict(motion="rest", background="none"))
    with_g = synthesize(row, 1)
    without = synthesize(row, 1, gravity=False)
    assert np.abs(with_g.samples.mean(axis=0)).max() > 0.3  # gravity is there
    assert np.abs(without.samples.mean(axis=0)).max() < 0.02  # and here it is gone
