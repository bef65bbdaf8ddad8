"""Clap: bring the hands together in front of the chest, one to three times."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class Clap(Motion):
    """A palm contact in front of the body: a hard negative for the high-five.

    Kinematics: the wrist rises (at 0.6 x ``peak_accel``) to chest height in front of
    the body, forearm nearly horizontal (10 deg), palm towards the midline (roll 90 deg),
    hands a clap's width apart. Each clap is a minimum-jerk closing stroke towards the
    midline, whose duration follows from ``peak_accel``, stopped by the other palm: a
    soft contact impulse (0.6 ``impact_peak``, 1.5 ``impact_tau``) pointing away from the
    midline. Between claps the hand opens again in 0.3 s / ``tempo``. The return to
    rest lasts at least until the last contact pulse has died out.
    """

    name = "clap"
    has_contact = True
    hard_negative = True
    description = "clap the hands together in front of the chest, one to three times"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> float:
        claps = int(rng.integers(1, 4))
        yaw = math.radians(rng.uniform(-10.0, 10.0))
        amp = 0.2 * k.arm_length * rng.uniform(0.8, 1.2)
        d = (-math.sin(yaw), math.cos(yaw), 0.0)  # closing direction, towards the midline
        contact = (0.45 * k.arm_length, 0.3 * k.arm_length, 0.65 * k.arm_length)
        apart = (contact[0] - amp * d[0], contact[1] - amp * d[1], contact[2])
        peak, tau = 0.6 * k.impact_peak, 1.5 * k.impact_tau
        rebound = (-d[0], -d[1], 0.0)

        b.move(
            k.stroke(math.dist(apart, REST_POSE.pos), 0.6),
            pos=apart,
            yaw=yaw,
            elevation=k.elev(10.0),
            roll=k.roll(90.0),
        )
        b.move(k.stroke(amp), pos=contact)
        impact = b.time
        b.impulse(peak, tau, rebound)
        for _ in range(claps - 1):
            b.move(0.3 / k.tempo, pos=apart)
            b.move(k.stroke(amp), pos=contact)
            b.impulse(peak, tau, rebound)
        b.hold(k.hold_time)
        self._return_to_rest(b, k)
        return impact
