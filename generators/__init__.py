"""Parametric motion generators: the parameter space, motions, sensor model, scenarios."""

from ._errors import ConfigError, HighfiveError, InvalidParameter, ModelError, RunDirError
from ._types import Detection, Event, Trace

__all__ = [
    "ConfigError",
    "Detection",
    "Event",
    "HighfiveError",
    "InvalidParameter",
    "ModelError",
    "RunDirError",
    "Trace",
]
