"""The motion library: the contract every registered motion keeps, and high-five physics.

:class:`TestMotionContract` is parametrised over every motion in ``MOTIONS`` and over
the nominal parameter row plus each dimension at either extreme of its range (one at a
time), so a new motion is checked as soon as it is registered.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pytest

from highfive.generators import MOTION_NAMES, Event, InvalidParameter
from highfive.generators._kinematics import REST_POSE, G, Plan, PlanBuilder, specific_force
from highfive.generators.motions import MOTIONS, Motion, get_motion

NOMINAL: dict[str, float] = dict(
    peak_accel=12.0,
    hold_time=0.1,
    return_time=0.6,
    elevation_offset=0.0,
    wrist_roll=0.0,
    impact_peak=3.0,
    impact_decay=12.0,
    arm_length=0.66,
    tempo=1.0,
)
EXTREMES: dict[str, tuple[float, float]] = dict(
    peak_accel=(4.0, 40.0),
    tempo=(0.7, 1.4),
    elevation_offset=(-25.0, 25.0),
    wrist_roll=(-60.0, 60.0),
    arm_length=(0.55, 0.8),
    hold_time=(0.0, 0.4),
    return_time=(0.3, 1.5),
    impact_peak=(0.5, 8.0),
    impact_decay=(4.0, 40.0),
)
CASES: dict[str, dict[str, float]] = {
    "nominal": NOMINAL,
    **{
        f"{key}={value:g}": {**NOMINAL, key: value}
        for key, ends in EXTREMES.items()
        for value in ends
    },
}
SEEDS = (0, 1, 2)
FS = 200.0  # Hz, evaluation grid

# Corners of the parameter box (every dimension at one end or the other): the space
# samples dimensions jointly, so the contract must hold for combinations too.
_BITS = np.random.default_rng(20240611).integers(0, 2, size=(14, len(EXTREMES)))
CORNERS: list[dict[str, float]] = [
    {
        **NOMINAL,
        **{key: ends[int(bit)] for (key, ends), bit in zip(EXTREMES.items(), row, strict=True)},
    }
    for row in [np.zeros(len(EXTREMES)), np.ones(len(EXTREMES)), *_BITS]
]

REQUIRED = {
    "arm_swing",
    "clap",
    "drink",
    "fist_bump",
    "handshake",
    "head_scratch",
    "high_five",
    "knock",
    "point",
    "racket_stroke",
    "reach_up",
    "rest",
    "run_pump",
    "throw",
    "typing",
    "wave",
}
HARD_NEGATIVES = {
    "clap",
    "fist_bump",
    "knock",
    "point",
    "racket_stroke",
    "reach_up",
    "throw",
    "wave",
}
WITH_CONTACT = {"clap", "fist_bump", "handshake", "high_five", "knock", "racket_stroke"}


def perform(name: str, case: str, seed: int, t0: float = 0.0) -> tuple[Event, Plan]:
    """One fresh instance of motion ``name`` with parameter row ``case``, from ``t0`` s."""
    b = PlanBuilder(time=t0)
    event = MOTIONS[name].perform(b, CASES[case], np.random.default_rng(seed))
    assert b.pose == REST_POSE
    return event, b.build()


@cache
def cached(name: str, case: str, seed: int) -> tuple[Event, Plan]:
    """:func:`perform` from 0 s, shared between tests (callers must not mutate)."""
    return perform(name, case, seed)


def grid(event: Event) -> np.ndarray:
    """The 200 Hz sampling instants from the event's start up to its end."""
    n = int(np.floor((event.end - event.start) * FS))
    return event.start + np.arange(n + 1) / FS


def linear_accel(plan: Plan, t: np.ndarray, *, impulses: bool = True) -> np.ndarray:
    """Magnitude of the wrist's linear acceleration in m/s^2.

    The specific force minus what the watch would read at rest in the same orientation
    (``|f - g_sensor|``), computed by evaluating the plan with its position frozen.
    """
    static = Plan(plan.times, np.zeros_like(plan.pos), plan.angles)
    moving = plan if impulses else Plan(plan.times, plan.pos, plan.angles)
    f = specific_force(moving, t) - specific_force(static, t)
    return np.linalg.norm(f, axis=1) * G


class TestMotionContract:
    """Every registered motion, at the nominal row and at each dimension's extremes."""

    @pytest.fixture(params=sorted(MOTIONS))
    def name(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture(params=list(CASES))
    def case(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    def test_class_attributes(self, name: str) -> None:
        motion = MOTIONS[name]
        assert isinstance(motion, Motion)
        assert motion.name == name
        assert motion.description
        assert not (motion.is_high_five and motion.hard_negative)

    def test_starts_and_ends_at_rest_pose(self, name: str, case: str) -> None:
        rest = (REST_POSE.yaw, REST_POSE.elevation, REST_POSE.roll)
        for seed in SEEDS:
            event, plan = cached(name, case, seed)
            assert plan.times[0] == event.start
            assert plan.times[-1] == event.end
            for i in (0, -1):
                assert tuple(plan.pos[i]) == REST_POSE.pos
                assert tuple(plan.angles[i]) == rest

    def test_event_times(self, name: str, case: str) -> None:
        for seed in SEEDS:
            event, _ = cached(name, case, seed)
            assert event.motion == name
            assert event.is_high_five == MOTIONS[name].is_high_five
            assert event.start == 0.0
            assert event.start < event.end
            if event.impact is not None:
                assert event.start <= event.impact <= event.end

    def test_contact(self, name: str, case: str) -> None:
        motion = MOTIONS[name]
        for seed in SEEDS:
            event, plan = cached(name, case, seed)
            assert (event.impact is not None) == motion.has_contact
            if motion.has_contact:
                # The returned impact is the first (main) contact.
                assert event.impact == min(i.time for i in plan.impulses)
                for imp in plan.impulses:
                    assert event.start <= imp.time <= event.end
                    assert imp.peak > 0.0
                    assert imp.tau > 0.0
            else:
                assert plan.impulses == ()

    def test_deterministic(self, name: str, case: str) -> None:
        for seed in SEEDS:
            (e1, p1), (e2, p2) = perform(name, case, seed), perform(name, case, seed)
            assert e1 == e2
            t = grid(e1)
            np.testing.assert_array_equal(specific_force(p1, t), specific_force(p2, t))

    def test_rng_draws_do_not_depend_on_parameters(self, name: str, case: str) -> None:
        # A fixed number of draws per call: the generator ends in the same state
        # whatever the parameter row, so later draws in a scenario are unaffected.
        for seed in SEEDS:
            states = []
            for row in ("nominal", case):
                rng = np.random.default_rng(seed)
                MOTIONS[name].perform(PlanBuilder(), CASES[row], rng)
                states.append(rng.bit_generator.state)
            assert states[0] == states[1]

    def test_specific_force_finite(self, name: str, case: str) -> None:
        for seed in SEEDS:
            event, plan = cached(name, case, seed)
            f = specific_force(plan, grid(event))
            assert f.shape == (grid(event).size, 3)
            assert np.isfinite(f).all()

    def test_one_g_at_rest(self, name: str, case: str) -> None:
        # At the start, at the end and after it the watch reads gravity alone: no
        # acceleration, and every contact pulse has died out by the end.
        for seed in SEEDS:
            event, plan = cached(name, case, seed)
            t = np.concatenate(([event.start], event.end + np.linspace(0.0, 1.0, 6)))
            np.testing.assert_allclose(linear_accel(plan, t) / G, 0.0, rtol=0.0, atol=1e-9)
            # specific_force renormalises its float32 sine/cosine pairs, so the
            # rotation keeps |f| = 1 g to rounding.
            norm = np.linalg.norm(specific_force(plan, t), axis=1)
            np.testing.assert_allclose(norm, 1.0, rtol=0.0, atol=1e-9)

    def test_not_flat(self, name: str, case: str) -> None:
        for seed in SEEDS:
            event, plan = cached(name, case, seed)
            dev = np.abs(np.linalg.norm(specific_force(plan, grid(event)), axis=1) - 1.0)
            if name == "rest":
                assert dev.max() < 0.02
            else:
                assert dev.max() > 0.05

    def test_realistic_kinematics(self, name: str, case: str) -> None:
        for seed in SEEDS:
            event, plan = cached(name, case, seed)
            elevation = np.degrees(plan.angles[:, 1])
            assert elevation.min() >= -90.0 - 1e-9
            assert elevation.max() <= 100.0 + 1e-9
            # Peak wrist acceleration before contact impulses: at most ~50 m/s^2.
            assert linear_accel(plan, grid(event), impulses=False).max() < 55.0

    def test_duration(self, name: str, case: str) -> None:
        for seed in SEEDS:
            event, _ = cached(name, case, seed)
            assert 0.3 <= event.end - event.start <= 8.0

    def test_chains_from_any_start_time(self, name: str) -> None:
        e0, p0 = cached(name, "nominal", 0)
        e1, p1 = perform(name, "nominal", 0, t0=2.5)
        assert e1.start == 2.5
        assert e1.end == pytest.approx(e0.end + 2.5, abs=1e-12)
        if e0.impact is not None:
            assert e1.impact == pytest.approx(e0.impact + 2.5, abs=1e-12)
        t = grid(e0)
        np.testing.assert_allclose(
            specific_force(p1, t + 2.5), specific_force(p0, t), rtol=0.0, atol=1e-9
        )

    def test_contract_at_corners(self, name: str) -> None:
        motion = MOTIONS[name]
        for params in CORNERS:
            for seed in SEEDS:
                b = PlanBuilder()
                event = motion.perform(b, params, np.random.default_rng(seed))
                plan = b.build()
                assert b.pose == REST_POSE
                assert 0.3 <= event.end - event.start <= 8.0
                elevation = np.degrees(plan.angles[:, 1])
                assert -90.0 - 1e-9 <= elevation.min() <= elevation.max() <= 100.0 + 1e-9
                assert np.isfinite(specific_force(plan, grid(event))).all()
                t = np.concatenate(([event.start], event.end + np.linspace(0.0, 1.0, 6)))
                np.testing.assert_allclose(linear_accel(plan, t) / G, 0.0, atol=1e-9)

    def test_seed_varies_the_motion(self, name: str) -> None:
        plans = [cached(name, "nominal", seed)[1] for seed in SEEDS]
        assert any(not np.array_equal(plans[0].pos, p.pos) for p in plans[1:]) or any(
            not np.array_equal(plans[0].times, p.times) for p in plans[1:]
        )


class TestRegistry:
    def test_names_unique_snake_case(self) -> None:
        names = [m.name for m in MOTIONS.values()]
        assert len(names) == len(set(names))
        assert list(MOTIONS) == names
        for name in names:
            assert re.fullmatch(r"[a-z]+(_[a-z]+)*", name), name
        # The names the command line's help lists without importing the motions.
        assert tuple(MOTIONS) == MOTION_NAMES

    def test_exactly_one_high_five(self) -> None:
        assert [m.name for m in MOTIONS.values() if m.is_high_five] == ["high_five"]

    def test_required_motions_and_flags(self) -> None:
        assert set(MOTIONS) >= REQUIRED
        assert len(MOTIONS) - 1 >= 13  # at least 13 non-high-five motions
        for name in REQUIRED:
            motion = MOTIONS[name]
            assert motion.hard_negative == (name in HARD_NEGATIVES), name
            assert motion.has_contact == (name in WITH_CONTACT), name

    def test_get_motion(self) -> None:
        assert get_motion("clap") is MOTIONS["clap"]
        with pytest.raises(InvalidParameter, match="unknown motion 'slap'"):
            get_motion("slap")


class TestHighFivePhysics:
    @pytest.mark.parametrize("seed", range(5))
    def test_impact_stands_above_approach(self, seed: int) -> None:
        # Linear acceleration (specific force minus the gravity reading of the current
        # orientation): the palm impact (3 g nominal) clearly exceeds the approach
        # stroke (peak_accel = 12 m/s^2). Against the *fixed* rest-pose gravity the
        # margin would be slim, since the forearm's 120 deg rotation dominates.
        event, plan = cached("high_five", "nominal", seed)
        assert event.impact is not None
        t = grid(event)
        accel = linear_accel(plan, t)
        approach = accel[t < event.impact].max()
        near = accel[(t >= event.impact) & (t <= event.impact + 0.1)].max()
        assert approach == pytest.approx(NOMINAL["peak_accel"], rel=0.05)
        assert near > 2.0 * approach


class TestRacketStrokePhysics:
    """What tells a racket stroke from a high-five: where its contact falls."""

    @pytest.mark.parametrize("case", ["nominal", "peak_accel=4", "peak_accel=40", "tempo=1.4"])
    def test_contact_comes_mid_stroke_at_top_speed(self, case: str) -> None:
        # A high-five's contact stops the hand at a keyframe; the racket meets the
        # shuttle halfway through a move between two distinct keyframes, where a
        # minimum-jerk stroke is fastest (1.875 x its mean speed), and swings on.
        for seed in range(8):
            event, plan = cached("racket_stroke", case, seed)
            assert event.impact is not None and not event.is_high_five
            i = int(np.searchsorted(plan.times, event.impact)) - 1
            t0, t1 = plan.times[i], plan.times[i + 1]
            assert event.impact == pytest.approx(0.5 * (t0 + t1), abs=1e-12)
            swing = float(np.linalg.norm(plan.pos[i + 1] - plan.pos[i]))
            assert swing > 0.8 * CASES[case]["arm_length"]
            (pulse,) = plan.impulses
            assert pulse.peak <= 0.4 * CASES[case]["impact_peak"] * G

    def test_both_kinds_of_stroke_occur(self) -> None:
        # Overhead strokes start above the head (over 1.3 arm lengths up), side-arm
        # strokes at chest height: 40 seeds draw both.
        tops = [cached("racket_stroke", "nominal", seed)[1].pos[1][2] for seed in range(3)]
        tops += [perform("racket_stroke", "nominal", seed)[1].pos[1][2] for seed in range(3, 40)]
        high = np.asarray(tops) > 1.3 * NOMINAL["arm_length"]
        assert 0 < high.sum() < len(tops)
