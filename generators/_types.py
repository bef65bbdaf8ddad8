"""Core value types: ground-truth events and accelerometer traces."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ._errors import InvalidParameter
from ._numbers import is_number
from ._show import show

__all__ = ["Detection", "Event", "Trace", "check_rate"]


def check_rate(fs: Any, name: str = "fs") -> float:
    """A sample rate in Hz: a finite number > 0 (one line naming ``name`` otherwise)."""
    if not (is_number(fs) and math.isfinite(fs) and fs > 0):
        raise InvalidParameter(f"{name}: {show(fs)} must be a finite number > 0 (a rate in Hz)")
    return float(fs)


@dataclass(frozen=True)
class Event:
    """One gesture in a trace, as the generator made it (ground truth).

    Attributes
    ----------
    motion : str
        Name of the motion, e.g. ``"high_five"``.
    start, end : float
        Start and end of the gesture's own keyframes, in seconds on the trace's clock
        (the clock of :attr:`Trace.t`, whose first sample lies at half a period plus
        jitter, or later after dropped samples; not seconds from the first sample).
        The posture's fade into and out of the gesture's rest pose (``RAMP``, 0.4 s)
        lies outside ``[start, end]``: a watch resting in another posture turns by up
        to about 100 deg there, a motion no event covers.
    impact : float or None
        Time of the contact impulse in seconds on the same clock (palm impact, clap,
        knock), or ``None`` for motions without contact.
    is_high_five : bool
        Whether the counter must count this event.
    """

    motion: str
    start: float
    end: float
    impact: float | None
    is_high_five: bool

    @property
    def centre(self) -> float:
        """The time a counter should report: the impact if any, else the midpoint."""
        return self.impact if self.impact is not None else 0.5 * (self.start + self.end)


@dataclass(frozen=True)
class Detection:
    """One gesture a counter reported: its time in seconds and its peak score in [0, 1]."""

    time: float
    score: float


@dataclass(frozen=True, eq=False)
class Trace:
    """A 3-axis accelerometer recording with its ground truth.

    Attributes
    ----------
    t : np.ndarray, shape (n,), float64
        Sample instants in seconds, strictly increasing (jitter and dropped samples
        included, so spacing is not exactly ``1 / fs``).
    samples : np.ndarray, shape (n, 3), float32
        Specific force in g along the sensor's x, y, z axes (a watch at rest reads
        about 1 g in magnitude).
    fs : float
        Nominal sample rate in Hz, a finite number > 0.
    events : tuple of Event
        Ground-truth gestures, in time order.
    params : Mapping
        The parameter row the trace was made from (empty for recordings).
    """

    t: np.ndarray
    samples: np.ndarray
    fs: float
    events: tuple[Event, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Freeze the arrays so a Trace can be shared between pipeline stages safely.
        t, x = _numbers("t", self.t, np.float64), _numbers("samples", self.samples, np.float32)
        if t.ndim != 1 or x.shape != (t.shape[0], 3):
            raise InvalidParameter(
                f"Trace: samples must have shape (n, 3) matching t of shape (n,); "
                f"got t {t.shape} and samples {x.shape}"
            )
        t.flags.writeable = False
        x.flags.writeable = False
        check_rate(self.fs)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "samples", x)
        object.__setattr__(self, "events", tuple(self.events))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def n_high_fives(self) -> int:
        """Number of truth events the counter must count."""
        return sum(e.is_high_five for e in self.events)

    @property
    def duration(self) -> float:
        """Time from the first to the last sample, plus one nominal sample period."""
        if self.t.size == 0:
            return 0.0
        return float(self.t[-1] - self.t[0]) + 1.0 / self.fs

    def __repr__(self) -> str:
        return (
            f"Trace(n={self.t.size}, fs={self.fs:g} Hz, duration={self.duration:.2f} s, "
            f"events={[e.motion for e in self.events]})"
        )


def _numbers(name: str, values: Any, dtype: type[np.floating[Any]]) -> np.ndarray:
    """``values`` as an array of ``dtype``; one line naming ``name`` if they are not numbers."""
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError):
        raise InvalidParameter(
            f"Trace: {name} must be numbers ({'seconds' if name == 't' else 'g'}); got "
            f"{show(values)}"
        ) from None
