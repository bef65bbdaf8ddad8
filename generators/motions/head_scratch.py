"""Head scratch: raise the hand to the side of the head and scratch."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class HeadScratch(Motion):
    """Scratching the head: a raise towards the head, then small rubbing strokes.

    Kinematics: a minimum-jerk raise at 0.7 x ``peak_accel`` to the side of the head
    (forearm 55 deg up and pointing inwards, yaw 60 deg, palm towards the head: roll
    150 deg), then four to eight back-and-forth scratching strokes of a couple of
    centimetres, each half-stroke lasting 0.12 s / ``tempo``; a short hold and the
    return. The fingertips touch the head, but too softly to model a contact.
    """

    name = "head_scratch"
    description = "raise the hand to the side of the head and scratch it"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        strokes = int(rng.integers(4, 9))
        amp = 0.03 * k.arm_length * rng.uniform(0.8, 1.2)
        head = (0.15 * k.arm_length, 0.2 * k.arm_length, 1.0 * k.arm_length)
        half = 0.12 / k.tempo

        b.move(
            k.stroke(math.dist(head, REST_POSE.pos), 0.7),
            pos=head,
            yaw=math.radians(60.0),
            elevation=k.elev(55.0),
            roll=k.roll(150.0),
        )
        for _ in range(strokes):
            b.move(half, pos=(head[0] + amp, head[1], head[2] + 0.3 * amp))
            b.move(half, pos=head)
        b.hold(k.hold_time)
        self._return_to_rest(b, k)
        return None
