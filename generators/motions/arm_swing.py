"""Arm swing: the arm swings forward and back like a pendulum while walking."""

from __future__ import annotations

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class ArmSwing(Motion):
    """Walking: two to four swing cycles of the relaxed arm.

    Kinematics: the wrist swings forward (and a little up, forearm at -35 deg) and back
    (forearm at -65 deg) around the rest position, palm towards the thigh (roll 70 deg),
    with the amplitude scaled by ``arm_length``. The swing period is about one second
    divided by ``tempo`` (one cycle per two steps); every half-swing is a minimum-jerk
    move between the turning points, where the velocity is zero. No contact.
    """

    name = "arm_swing"
    description = "swing the arm forward and back while walking, several cycles"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        cycles = int(rng.integers(2, 5))
        amp = k.arm_length * rng.uniform(0.8, 1.2)
        half = 0.5 * rng.uniform(0.9, 1.1) / k.tempo
        fwd = (0.3 * amp, 0.0, 0.08 * amp)
        back = (-0.2 * amp, 0.0, 0.04 * amp)

        for _ in range(cycles):
            b.move(half, pos=fwd, yaw=0.0, elevation=k.elev(-35.0), roll=k.roll(70.0))
            b.move(half, pos=back, elevation=k.elev(-65.0))
        b.move(
            half,
            pos=REST_POSE.pos,
            yaw=0.0,
            elevation=REST_POSE.elevation,
            roll=REST_POSE.roll,
        )
        return None
