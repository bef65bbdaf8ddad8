"""Fist bump: push the fist forward at chest height against a partner's fist."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class FistBump(Motion):
    """A forward reach ending in a contact: a hard negative for the high-five.

    Kinematics: a minimum-jerk reach, whose duration follows from ``peak_accel``, from
    the relaxed arm to a fist held forward at chest height (forearm 10 deg above
    horizontal, thumb up: roll 90 deg), stopped by the partner's knuckles: a contact
    impulse (half the ``impact_peak``) opposite to the horizontal reach direction. Then
    a short hold and the return, which lasts at least until the pulse has died out.
    """

    name = "fist_bump"
    has_contact = True
    hard_negative = True
    description = "push the fist forward at chest height against a partner's fist"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> float:
        yaw = math.radians(rng.uniform(-15.0, 15.0))
        reach = 0.7 * k.arm_length * rng.uniform(0.9, 1.1)
        target = (reach * math.cos(yaw), reach * math.sin(yaw), 0.45 * k.arm_length)
        tau = k.impact_tau

        b.move(
            k.stroke(math.dist(target, REST_POSE.pos)),
            pos=target,
            yaw=yaw,
            elevation=k.elev(10.0),
            roll=k.roll(90.0),
        )
        impact = b.time
        b.impulse(0.5 * k.impact_peak, tau, (-math.cos(yaw), -math.sin(yaw), 0.0))
        b.hold(k.hold_time)
        self._return_to_rest(b, k)
        return impact
