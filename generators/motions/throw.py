"""Throw: overarm throw, a wind-up back and up, then a fast forward stroke."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class Throw(Motion):
    """An overarm throw: a fast raised-arm stroke without contact; a hard negative.

    Kinematics: a slow minimum-jerk wind-up (0.4 x ``peak_accel``) that takes the wrist
    back and up behind the shoulder (forearm 75 deg up, roll -30 deg), then a single
    fast stroke (1.2 x ``peak_accel``) forward and down through the release point to
    the follow-through across the body (forearm 30 deg below horizontal). The planner
    stops at keyframes, so the release is a point inside that stroke, not a keyframe.
    A short hold in the follow-through and the return. No contact.
    """

    name = "throw"
    hard_negative = True
    description = "overarm throw: wind up back and up, then a fast forward stroke"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        yaw = math.radians(rng.uniform(-10.0, 10.0))
        scale = k.arm_length * rng.uniform(0.9, 1.1)
        windup = (-0.35 * scale, -0.1 * scale, 0.85 * scale)
        reach = 0.55 * scale
        follow = (reach * math.cos(yaw), 0.2 * scale + reach * math.sin(yaw), 0.2 * scale)

        b.move(
            k.stroke(math.dist(windup, REST_POSE.pos), 0.4),
            pos=windup,
            yaw=0.0,
            elevation=k.elev(75.0),
            roll=k.roll(-30.0),
        )
        b.move(
            k.stroke(math.dist(follow, windup), 1.2),
            pos=follow,
            yaw=yaw + math.radians(20.0),
            elevation=k.elev(-30.0),
            roll=k.roll(30.0),
        )
        b.hold(k.hold_time)
        self._return_to_rest(b, k)
        return None
