"""The motions' names, in the library's order, for what names them without importing the
motions (their modules import NumPy): a command line's help.

``tuple(MOTIONS) == MOTION_NAMES``, which the tests check.
"""

from __future__ import annotations

__all__ = ["MOTION_NAMES"]

MOTION_NAMES = (
    "high_five",
    "arm_swing",
    "clap",
    "drink",
    "fist_bump",
    "handshake",
    "head_scratch",
    "knock",
    "point",
    "racket_stroke",
    "reach_up",
    "rest",
    "run_pump",
    "throw",
    "typing",
    "wave",
)
"""Every motion's name, the high-five first (:data:`MOTIONS`'s keys)."""
