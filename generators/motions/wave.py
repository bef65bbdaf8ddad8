"""Wave: raise the open hand beside the head and sway it side to side."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class Wave(Motion):
    """A greeting wave: the raise resembles a high-five's, so it is a hard negative.

    Kinematics: a minimum-jerk raise, whose duration follows from ``peak_accel``, to a
    forearm raised beside the head (70 deg, palm forward, slightly outwards), then two to
    four side-to-side cycles: the forearm pivots about the elbow, so the wrist sways
    sideways by about a tenth of an arm length while yaw and roll swing with it. Each
    half-swing lasts 0.3 s / ``tempo``; no contact.
    """

    name = "wave"
    hard_negative = True
    description = "raise the open hand beside the head and wave it side to side"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        cycles = int(rng.integers(2, 5))
        amp = 0.12 * k.arm_length * rng.uniform(0.8, 1.2)
        swing = math.radians(rng.uniform(25.0, 40.0))
        up = (0.3 * k.arm_length, -0.1 * k.arm_length, 0.95 * k.arm_length)
        half = 0.3 / k.tempo

        b.move(
            k.stroke(math.dist(up, REST_POSE.pos)),
            pos=up,
            yaw=0.0,
            elevation=k.elev(70.0),
            roll=k.roll(0.0),
        )
        for i in range(2 * cycles):
            side = 1.0 if i % 2 == 0 else -1.0
            b.move(
                0.7 * half if i == 0 else half,
                pos=(up[0], up[1] + side * amp, up[2] - 0.15 * amp),
                yaw=side * swing,
                roll=k.roll(-side * 0.5 * math.degrees(swing)),
            )
        b.move(0.7 * half, pos=up, yaw=0.0, roll=k.roll(0.0))
        self._return_to_rest(b, k)
        return None
