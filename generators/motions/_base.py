"""The motion contract: one public method, one private hook.

A motion appends its keyframes to a :class:`~highfive.generators._kinematics.PlanBuilder`
that stands at :data:`REST_POSE`, and must leave it at :data:`REST_POSE` again, so
that motions chain into scenarios. Subclasses override :meth:`Motion._perform` only.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._kinematics import REST_POSE, G, PlanBuilder, stroke_time
from .._types import Event

__all__ = ["Kinematics", "Motion"]


@dataclass(frozen=True)
class Kinematics:
    """The kinematic and person dimensions of a parameter row, in SI units.

    Motions read the shared dimensions through this object so that every motion
    interprets them the same way: ``peak_accel`` is the peak wrist acceleration of the
    motion's main stroke (its duration follows from the distance), ``elevation_offset``
    and ``wrist_roll`` shift the motion's own canonical angles, and ``tempo`` divides the
    fixed durations: ``hold_time``, ``return_time`` and each motion's own segments, not
    the strokes ``peak_accel`` sets (a fast person has tempo > 1). A motion's other
    segments keep their tempo-scaled durations whatever ``peak_accel`` is, so at low
    ``peak_accel`` they, not the main stroke, can set the motion's peak (README, "The
    parameter space").
    """

    peak_accel: float  # m/s^2
    hold_time: float  # s, already divided by tempo
    return_time: float  # s, already divided by tempo
    elevation_offset: float  # rad
    wrist_roll: float  # rad
    impact_peak: float  # m/s^2
    impact_tau: float  # s
    arm_length: float  # m
    tempo: float  # dimensionless speed factor

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> Kinematics:
        tempo = float(p["tempo"])
        return cls(
            peak_accel=float(p["peak_accel"]),
            hold_time=float(p["hold_time"]) / tempo,
            return_time=float(p["return_time"]) / tempo,
            elevation_offset=math.radians(float(p["elevation_offset"])),
            wrist_roll=math.radians(float(p["wrist_roll"])),
            impact_peak=float(p["impact_peak"]) * G,
            impact_tau=float(p["impact_decay"]) * 1e-3,
            arm_length=float(p["arm_length"]),
            tempo=tempo,
        )

    def stroke(self, distance: float, scale: float = 1.0) -> float:
        """Duration of a minimum-jerk stroke over ``distance`` m at ``scale`` x peak accel."""
        return stroke_time(distance, self.peak_accel * scale)

    def elev(self, degrees: float) -> float:
        """A canonical elevation in degrees, shifted by the row's offset, in radians."""
        return math.radians(degrees) + self.elevation_offset

    def roll(self, degrees: float) -> float:
        """A canonical wrist roll in degrees, shifted by the row's roll, in radians."""
        return math.radians(degrees) + self.wrist_roll


class Motion(ABC):
    """A parametric arm motion that a watch may meet.

    Class attributes
    ----------------
    name : str
        Registry key, snake_case.
    is_high_five : bool
        Whether a counter must count it.
    has_contact : bool
        Whether it includes a contact impulse (its truth event then has an impact time).
    hard_negative : bool
        Not a high-five, but its trace resembles one on purpose.
    description : str
        One line for ``--help`` and reports.
    """

    name: ClassVar[str]
    is_high_five: ClassVar[bool] = False
    has_contact: ClassVar[bool] = False
    hard_negative: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def perform(self, b: PlanBuilder, params: Mapping[str, Any], rng: np.random.Generator) -> Event:
        """Append one instance of the motion to ``b`` and return its truth event.

        ``b`` must stand at the rest pose; it is left at the rest pose. ``rng`` supplies
        the small natural variability that the parameters do not fix (direction of
        reach, amplitude jitter); draw from it a fixed number of times so that cases
        stay reproducible.
        """
        assert b.pose == REST_POSE, "a motion must start at the rest pose"
        start = b.time
        impact = self._perform(b, Kinematics.from_params(params), rng)
        assert b.pose == REST_POSE, f"{self.name} must end at the rest pose"
        assert (impact is not None) == self.has_contact, f"{self.name}: contact mismatch"
        return Event(self.name, start, b.time, impact, self.is_high_five)

    @staticmethod
    def _return_to_rest(b: PlanBuilder, k: Kinematics, scale: float = 1.0) -> None:
        """Move back to the rest pose: the end of every motion.

        The return lasts ``scale * k.return_time``, but never less than the row's
        ``peak_accel`` allows for the distance (a relaxed return is not more violent
        than the main stroke), and it does not end before the last contact has died
        out, so an impulse never spills beyond its event into the next motion.
        """
        distance = math.dist(b.pose.pos, REST_POSE.pos)
        duration = max(scale * k.return_time, k.stroke(distance), b.quiet_at - b.time)
        b.move(
            duration,
            pos=REST_POSE.pos,
            yaw=REST_POSE.yaw,
            elevation=REST_POSE.elevation,
            roll=REST_POSE.roll,
        )

    @abstractmethod
    def _perform(self, b: PlanBuilder, k: Kinematics, rng: np.random.Generator) -> float | None:
        """Append keyframes and impulses; return the impact time or ``None``."""

    def __repr__(self) -> str:
        return f"<motion {self.name}>"
