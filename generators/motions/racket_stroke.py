"""Racket stroke: an overhead or side-arm stroke of badminton, tennis or squash."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder, arm_raise
from ._base import Kinematics, Motion


class RacketStroke(Motion):
    """A racket stroke that meets a shuttle or ball at full speed; a hard negative.

    Like a high-five it is a fast raised-arm stroke with a contact, but the contact comes
    in the middle of the stroke, not at its end: the racket meets the shuttle or ball at
    the stroke's top speed and the arm swings on through it. Three in five strokes are
    overhead (clear, smash, serve), the others side-arm drives.

    Kinematics: a minimum-jerk backswing at 0.5 x ``peak_accel`` and a pause of
    0.1-0.3 s / ``tempo``. Overhead, the backswing raises the racket above the head: the
    upper arm 140 deg up, the forearm 75 deg up, supinated (roll -45 deg); the racket's
    drop behind the back is in the wrist joint, which the watch does not see.
    Side-arm, it is the wrist out to the side at chest height (0.2 arm lengths back,
    0.5 out, 0.8 up; forearm turned 70 deg outwards). Then a single stroke at
    1.3 x ``peak_accel``, forward and down across the body into the follow-through:
    overhead, to the upper arm 40 deg forward with the forearm 20 deg down, 0.3 arm
    lengths across; side-arm, to 0.45 forward, 0.45 across. The forearm pronates
    through it (roll +60 deg). The planner stops at keyframes, so the contact is a
    point inside that stroke, at its middle, where the wrist is fastest. The shuttle or
    ball reaches the wrist through the racket as a light pulse against the stroke
    (0.1-0.4 ``impact_peak``, ``impact_tau``). A hold in the follow-through, then the
    return.

    The ranges are assumptions (no wrist recording of racket strokes is used); the
    stroke exists because a fast overhead racket stroke is the real movement closest
    to a high-five that a watch meets in sport.
    """

    name = "racket_stroke"
    has_contact = True
    hard_negative = True
    description = "overhead or side-arm racket stroke through a shuttle or ball"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> float:
        overhead = bool(rng.uniform() < 0.6)
        yaw = math.radians(rng.uniform(-15.0, 15.0))
        scale = k.arm_length * rng.uniform(0.9, 1.1)
        pause = rng.uniform(0.1, 0.3) / k.tempo
        share = rng.uniform(0.1, 0.4)
        c, s = math.cos(yaw), math.sin(yaw)

        def turned(x: float, y: float, z: float) -> tuple[float, float, float]:
            return (scale * (x * c - y * s), scale * (x * s + y * c), scale * z)

        if overhead:
            back_fwd, back_up = arm_raise(140.0, 75.0)
            follow_fwd, follow_up = arm_raise(40.0, -20.0)
            back, follow = turned(back_fwd, 0.0, back_up), turned(follow_fwd, -0.3, follow_up)
            back_yaw, back_elev, follow_yaw, follow_elev = 0.0, 75.0, -20.0, -20.0
        else:
            back, follow = turned(-0.2, 0.5, 0.8), turned(0.45, -0.45, 0.8)
            back_yaw, back_elev, follow_yaw, follow_elev = 70.0, 10.0, -50.0, 0.0

        b.move(
            k.stroke(math.dist(back, REST_POSE.pos), 0.5),
            pos=back,
            yaw=yaw + math.radians(back_yaw),
            elevation=k.elev(back_elev),
            roll=k.roll(-45.0),
        )
        b.hold(pause)
        start, duration = b.time, k.stroke(math.dist(follow, back), 1.3)
        b.move(
            duration,
            pos=follow,
            yaw=yaw + math.radians(follow_yaw),
            elevation=k.elev(follow_elev),
            roll=k.roll(60.0),
        )
        impact = start + 0.5 * duration
        against = (back[0] - follow[0], back[1] - follow[1], back[2] - follow[2])
        b.impulse(share * k.impact_peak, k.impact_tau, against, at=impact)
        b.hold(k.hold_time)
        self._return_to_rest(b, k)
        return impact
