"""Rest: the relaxed arm stays still for a few seconds, with a tiny sway."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class Rest(Motion):
    """Standing still: the quietest trace a watch meets.

    Kinematics: two to four seconds (divided by ``tempo``) at the rest pose, split in
    three slow minimum-jerk drifts through two nearby poses (the wrist moves by at most
    1.5 % of an arm length, the forearm tilts by at most 2 deg), back to rest. The
    canonical angles are those of the rest pose, so the row's elevation offset and
    wrist roll do not apply. No contact.
    """

    name = "rest"
    description = "the arm hangs still for a few seconds with a tiny sway"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        duration = rng.uniform(2.0, 4.0) / k.tempo
        sway = 0.015 * k.arm_length * rng.uniform(-1.0, 1.0, size=(2, 3))
        tilt = math.radians(2.0) * rng.uniform(-1.0, 1.0, size=2)

        for (dx, dy, dz), dt in zip(sway, tilt, strict=True):
            b.move(
                duration / 3.0,
                pos=(float(dx), float(dy), float(dz)),
                elevation=REST_POSE.elevation + float(dt),
            )
        b.move(
            duration / 3.0,
            pos=REST_POSE.pos,
            yaw=0.0,
            elevation=REST_POSE.elevation,
            roll=REST_POSE.roll,
        )
        return None
