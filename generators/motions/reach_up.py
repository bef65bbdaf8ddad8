"""Reach up: raise the hand up to a shelf, grasp something, lower it."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder, arm_raise
from ._base import Kinematics, Motion


class ReachUp(Motion):
    """Reaching up to a shelf: a high-five without the palm contact; a hard negative.

    Kinematics: the high-five's minimum-jerk reach, whose duration follows from
    ``peak_accel``, but higher and closer to vertical (upper arm 30 deg above
    horizontal, forearm 75 deg up, palm forward: 0.38 arm lengths forward, 1.65 up,
    :func:`arm_raise`), held for the row's ``hold_time`` plus 0.4-1 s / ``tempo`` to
    grasp the object, then lowered more slowly than a plain return (1.3 x
    ``return_time``). No contact.
    """

    name = "reach_up"
    hard_negative = True
    description = "reach up to a shelf, grasp something and lower it"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        yaw = math.radians(rng.uniform(-15.0, 15.0))
        scale = k.arm_length * rng.uniform(0.9, 1.1)
        grasp = rng.uniform(0.4, 1.0)
        forward, up = arm_raise(120.0, 75.0)
        target = (forward * scale * math.cos(yaw), forward * scale * math.sin(yaw), up * scale)

        b.move(
            k.stroke(math.dist(target, REST_POSE.pos)),
            pos=target,
            yaw=yaw,
            elevation=k.elev(75.0),
            roll=k.roll(0.0),
        )
        b.hold(k.hold_time + grasp / k.tempo)
        self._return_to_rest(b, k, scale=1.3)
        return None
