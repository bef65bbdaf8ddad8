"""The motion library: one motion per module, all registered here.

``MOTIONS`` maps each motion's name to an instance; :func:`get_motion` looks one up
with a helpful error. The high-five is the only motion a counter must count; the others
are motions a watch meets in daily life, some chosen to resemble a high-five on purpose
(``hard_negative``).
"""

from __future__ import annotations

from .._errors import InvalidParameter
from ._base import Kinematics, Motion
from .arm_swing import ArmSwing
from .clap import Clap
from .drink import Drink
from .fist_bump import FistBump
from .handshake import Handshake
from .head_scratch import HeadScratch
from .high_five import HighFive
from .knock import Knock
from .point import Point
from .racket_stroke import RacketStroke
from .reach_up import ReachUp
from .rest import Rest
from .run_pump import RunPump
from .throw import Throw
from .typing_ import Typing
from .wave import Wave

__all__ = ["MOTIONS", "Kinematics", "Motion", "get_motion"]

MOTIONS: dict[str, Motion] = {
    m.name: m
    for m in (
        HighFive(),
        ArmSwing(),
        Clap(),
        Drink(),
        FistBump(),
        Handshake(),
        HeadScratch(),
        Knock(),
        Point(),
        RacketStroke(),
        ReachUp(),
        Rest(),
        RunPump(),
        Throw(),
        Typing(),
        Wave(),
    )
}


def get_motion(name: str) -> Motion:
    """The registered motion called ``name``."""
    try:
        return MOTIONS[name]
    except KeyError:
        raise InvalidParameter(
            f"motion: unknown motion {name!r}; allowed: {', '.join(sorted(MOTIONS))}"
        ) from None
