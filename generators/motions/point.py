"""Point: raise the arm forward to point at something, hold, lower it."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class Point(Motion):
    """Pointing: a high-five-like forward raise without contact; a hard negative.

    Kinematics: a minimum-jerk raise, whose duration follows from ``peak_accel``, to
    an almost straight arm held forward at shoulder height (forearm 15 deg up, roll
    60 deg) in a direction up to 30 deg either side, held for the row's ``hold_time``
    plus a dwell of 0.3-1 s / ``tempo``, then the return. No contact.
    """

    name = "point"
    hard_negative = True
    description = "raise the arm forward to point at something, hold, lower it"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        yaw = math.radians(rng.uniform(-30.0, 30.0))
        scale = k.arm_length * rng.uniform(0.9, 1.1)
        dwell = rng.uniform(0.3, 1.0)
        target = (0.7 * scale * math.cos(yaw), 0.7 * scale * math.sin(yaw), 0.55 * scale)

        b.move(
            k.stroke(math.dist(target, REST_POSE.pos)),
            pos=target,
            yaw=yaw,
            elevation=k.elev(15.0),
            roll=k.roll(60.0),
        )
        b.hold(k.hold_time + dwell / k.tempo)
        self._return_to_rest(b, k)
        return None
