"""Drink: raise a cup to the mouth, tilt it, sip and put it down again."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class Drink(Motion):
    """Raising a cup: a slow, careful lift towards the midline of the face.

    Kinematics: a minimum-jerk lift at 0.6 x ``peak_accel`` (the cup is full) to the
    mouth: the wrist rises by most of an arm length, forward and towards the midline,
    forearm 50 deg up and pointing inwards (yaw 40 deg), thumb up (roll 90 deg). The
    cup is tilted (forearm up to 70 deg, wrist rolled by 30 deg) in 0.4 s / ``tempo``,
    held for a sip, untilted and lowered more slowly than a plain return. No contact.
    """

    name = "drink"
    description = "raise a cup to the mouth, tilt it, sip and put it down"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        scale = k.arm_length * rng.uniform(0.95, 1.05)
        sip = rng.uniform(0.4, 1.2)
        mouth = (0.25 * scale, 0.25 * scale, 0.85 * scale)
        tilt = 0.4 / k.tempo
        lift = 0.03 * k.arm_length

        b.move(
            k.stroke(math.dist(mouth, REST_POSE.pos), 0.6),
            pos=mouth,
            yaw=math.radians(40.0),
            elevation=k.elev(50.0),
            roll=k.roll(90.0),
        )
        b.move(tilt, dpos=(0.0, 0.0, lift), elevation=k.elev(70.0), roll=k.roll(120.0))
        b.hold(k.hold_time + sip / k.tempo)
        b.move(tilt, dpos=(0.0, 0.0, -lift), elevation=k.elev(50.0), roll=k.roll(90.0))
        self._return_to_rest(b, k, scale=1.3)
        return None
