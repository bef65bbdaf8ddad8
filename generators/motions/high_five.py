"""High-five: raise the hand forward and up, palm forward, strike a partner's palm."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import PlanBuilder, arm_raise
from ._base import Kinematics, Motion


class HighFive(Motion):
    """The gesture to count.

    Kinematics: a minimum-jerk reach from the relaxed arm to a raised forearm (60 deg
    above horizontal plus the row's offset, palm forward), stopped by the partner's
    palm: a contact impulse opposite to the reach, then a short hold and the return.
    The wrist travels as the arm's segments carry it from hanging to the upper arm
    pointing forward (shoulder flexion 90 deg) with the forearm 60 deg up: 0.56 arm
    lengths forward and 1.32 up (:func:`arm_raise`), so the stroke leans 21 deg from
    vertical; its duration follows from ``peak_accel``. A fast reach loads the sensor
    above 2 g while it accelerates upwards and unloads it to about 0.4 g
    (``sin 21 deg`` x 1 g) while it brakes.
    """

    name = "high_five"
    is_high_five = True
    has_contact = True
    description = "raise the hand forward and up and strike a partner's palm"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> float:
        yaw = math.radians(rng.uniform(-15.0, 15.0))
        elev = k.elev(60.0)
        forward, up = arm_raise(90.0, 60.0)
        reach = k.arm_length * np.array([forward, 0.0, up]) * rng.uniform(0.9, 1.1)
        reach[1] = reach[0] * math.sin(yaw)
        dist = float(np.linalg.norm(reach))
        b.move(k.stroke(dist), dpos=tuple(reach), yaw=yaw, elevation=elev, roll=k.roll(0.0))
        impact = b.time
        b.impulse(k.impact_peak, k.impact_tau, tuple(-reach / dist))
        b.hold(k.hold_time)
        self._return_to_rest(b, k)
        return impact
