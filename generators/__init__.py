"""Parametric motion generators: the parameter space, motions, sensor model, scenarios.

>>> from highfive.generators import default_space, synthesize
>>> space = default_space().restrict(motion="high_five", distractor="none")
>>> trace = synthesize(space.nominal(), seed=7)
>>> trace.n_high_fives
1
"""

from ._default_space import BACKGROUNDS, default_space
from ._errors import ConfigError, HighfiveError, InvalidParameter, ModelError, RunDirError
from ._kinematics import G
from ._scenario import MARGIN, SeedLike, case_streams, synthesize
from ._sensor import SensorSpec
from ._space import Dimension, ParameterSpace
from ._types import Detection, Event, Trace
from .motions import MOTIONS, Motion, get_motion

__all__ = [
    "BACKGROUNDS",
    "MARGIN",
    "MOTIONS",
    "ConfigError",
    "Detection",
    "Dimension",
    "Event",
    "G",
    "HighfiveError",
    "InvalidParameter",
    "ModelError",
    "Motion",
    "ParameterSpace",
    "RunDirError",
    "SeedLike",
    "SensorSpec",
    "Trace",
    "case_streams",
    "default_space",
    "get_motion",
    "synthesize",
]
