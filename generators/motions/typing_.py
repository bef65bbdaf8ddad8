"""Typing: forearm horizontal over a keyboard, small fast wrist taps.

The module is ``typing_`` so as not to shadow the standard library's ``typing``.
"""

from __future__ import annotations

import math

import numpy as np

from .._kinematics import REST_POSE, PlanBuilder
from ._base import Kinematics, Motion

MAX_TAPS = 12


class Typing(Motion):
    """Typing on a keyboard: many small, fast, low-amplitude wrist movements.

    Kinematics: a minimum-jerk move, whose duration follows from ``peak_accel``, to the
    keyboard (forearm horizontal, palm down: roll 0 deg, pointing slightly inwards), then
    six to twelve taps: the wrist dips by 1 % of an arm length (forearm tilting 3 deg
    down) and comes back up, shifting sideways by up to 0.8 % of an arm length from key to
    key. Each half-tap lasts 0.09 s / ``tempo``. Key presses are not modelled as contacts.
    """

    name = "typing"
    description = "type on a keyboard: small fast wrist movements, forearm horizontal"

    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> None:
        taps = int(rng.integers(6, MAX_TAPS + 1))
        shifts = 0.008 * k.arm_length * rng.uniform(-1.0, 1.0, size=MAX_TAPS)
        depth = 0.01 * k.arm_length
        desk = (0.4 * k.arm_length, 0.15 * k.arm_length, 0.3 * k.arm_length)
        half = 0.09 / k.tempo

        b.move(
            k.stroke(math.dist(desk, REST_POSE.pos)),
            pos=desk,
            yaw=math.radians(15.0),
            elevation=k.elev(0.0),
            roll=k.roll(0.0),
        )
        for shift in shifts[:taps]:
            y = desk[1] + float(shift)
            b.move(half, pos=(desk[0], y, desk[2] - depth), elevation=k.elev(-3.0))
            b.move(half, pos=(desk[0], y, desk[2]), elevation=k.elev(0.0))
        self._return_to_rest(b, k)
        return None
