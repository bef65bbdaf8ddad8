"""Knock: two or three knocks on a door with the raised forearm."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class Knock(Motion):
    """Knocking on a door: raised forearm, short strokes ending in hard contacts.

    Kinematics: a minimum-jerk raise at 0.7 x ``peak_accel`` to a fist held forward at
    head height, a few centimetres from the door (forearm 45 deg up, thumb up: roll
    90 deg), then two or three short strikes towards the door, whose durations follow
    from ``peak_accel``, each stopped by the door: a weak, short contact impulse (0.4
    ``impact_peak``, 0.5 ``impact_tau``: a door is hard) against the strike. The fist
    draws back in 0.2 s / ``tempo`` between knocks; the return lasts at least until
    the last pulse has died out. The impact time is that of the first knock.
    """

    name = "knock"
    has_contact = True
    hard_negative = True
    description = "knock two or three times on a door with the raised forearm"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> float:
        knocks = int(rng.integers(2, 4))
        yaw = math.radians(rng.uniform(-10.0, 10.0))
        amp = 0.12 * k.arm_length * rng.uniform(0.8, 1.2)
        d = (math.cos(yaw), math.sin(yaw), 0.0)
        door = (0.5 * k.arm_length * d[0], 0.5 * k.arm_length * d[1], 0.6 * k.arm_length)
        cocked = (door[0] - amp * d[0], door[1] - amp * d[1], door[2])
        peak, tau = 0.4 * k.impact_peak, 0.5 * k.impact_tau
        rebound = (-d[0], -d[1], 0.0)

        b.move(
            k.stroke(math.dist(cocked, REST_POSE.pos), 0.7),
            pos=cocked,
            yaw=yaw,
            elevation=k.elev(45.0),
            roll=k.roll(90.0),
        )
        b.move(k.stroke(amp), pos=door, elevation=k.elev(40.0))
        impact = b.time
        b.impulse(peak, tau, rebound)
        for _ in range(knocks - 1):
            b.move(0.2 / k.tempo, pos=cocked, elevation=k.elev(45.0))
            b.move(k.stroke(amp), pos=door, elevation=k.elev(40.0))
            b.impulse(peak, tau, rebound)
        b.hold(k.hold_time)
        self._return_to_rest(b, k)
        return impact
