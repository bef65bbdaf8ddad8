"""Handshake: reach forward at waist height, grip a partner's hand and shake it."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class Handshake(Motion):
    """A grip contact followed by a vertical oscillation.

    Kinematics: a minimum-jerk reach, whose duration follows from ``peak_accel``, to a
    hand held forward at waist height (forearm 5 deg above horizontal, thumb up: roll
    90 deg). Gripping the partner's hand is a soft contact impulse (0.3 ``impact_peak``,
    2 ``impact_tau``) against the reach; then two to four up-and-down shakes of a few
    centimetres, with the forearm pivoting about the elbow, each half-shake lasting
    0.22 s / ``tempo``; release and return.
    """

    name = "handshake"
    has_contact = True
    description = "grip a partner's hand at waist height and shake it"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> float:
        shakes = int(rng.integers(2, 5))
        yaw = math.radians(rng.uniform(-10.0, 10.0))
        amp = 0.06 * k.arm_length * rng.uniform(0.8, 1.2)
        reach = 0.6 * k.arm_length
        grip = (reach * math.cos(yaw), reach * math.sin(yaw), 0.35 * k.arm_length)
        half = 0.22 / k.tempo
        tau = 2.0 * k.impact_tau

        b.move(
            k.stroke(math.dist(grip, REST_POSE.pos)),
            pos=grip,
            yaw=yaw,
            elevation=k.elev(5.0),
            roll=k.roll(90.0),
        )
        impact = b.time
        b.impulse(0.3 * k.impact_peak, tau, (-math.cos(yaw), -math.sin(yaw), 0.0))
        for i in range(2 * shakes):
            side = 1.0 if i % 2 == 0 else -1.0
            b.move(
                0.7 * half if i == 0 else half,
                pos=(grip[0], grip[1], grip[2] + side * amp),
                elevation=k.elev(5.0 + side * 8.0),
            )
        b.move(0.7 * half, pos=grip, elevation=k.elev(5.0))
        b.hold(k.hold_time)
        self._return_to_rest(b, k)
        return impact
