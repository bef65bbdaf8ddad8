"""Run pump: the bent arm pumps forward and back while running."""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion


class RunPump(Motion):
    """Running: three or four pumping cycles of the bent arm.

    Kinematics: a minimum-jerk lift, whose duration follows from ``peak_accel``, to the
    running carriage (elbow bent, forearm 20 deg above horizontal, thumb up: roll
    90 deg), then cycles of a forward-and-up pump (forearm 45 deg) and a backward-and-down
    pump (-10 deg) of about a fifth of an arm length each way. A cycle lasts 0.7 s /
    ``tempo`` (one cycle per two strides); the arm then drops back to rest. No contact.
    """

    name = "run_pump"
    description = "pump the bent arm forward and back while running, several cycles"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        cycles = int(rng.integers(3, 5))
        amp = 0.2 * k.arm_length * rng.uniform(0.85, 1.15)
        half = 0.35 * rng.uniform(0.9, 1.1) / k.tempo
        carry = (0.2 * k.arm_length, 0.1 * k.arm_length, 0.35 * k.arm_length)
        fwd = (carry[0] + amp, carry[1] + 0.1 * amp, carry[2] + 0.5 * amp)
        back = (carry[0] - amp, carry[1] - 0.1 * amp, carry[2] - 0.25 * amp)

        b.move(
            k.stroke(math.dist(carry, REST_POSE.pos)),
            pos=carry,
            yaw=0.0,
            elevation=k.elev(20.0),
            roll=k.roll(90.0),
        )
        for i in range(cycles):
            b.move(half if i else 0.7 * half, pos=fwd, elevation=k.elev(45.0))
            b.move(half, pos=back, elevation=k.elev(-10.0))
        b.move(0.7 * half, pos=carry, elevation=k.elev(20.0))
        self._return_to_rest(b, k)
        return None
