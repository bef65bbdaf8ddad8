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
from ._samplers import SAMPLERS, Box, Sampler, make_sampler
from ._scenario import MARGIN, SeedLike, case_streams, synthesize
from ._sensor import SensorSpec
from ._space import Dimension, ParameterSpace
from ._toml import read_toml
from ._types import Detection, Event, Trace
from .motions import MOTIONS, Motion, get_motion

__all__ = [
    "BACKGROUNDS",
    "MARGIN",
    "MOTIONS",
    "SAMPLERS",
    "Box",
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
    "Sampler",
    "SeedLike",
    "SensorSpec",
    "Trace",
    "case_streams",
    "default_space",
    "get_motion",
    "make_sampler",
    "read_toml",
    "synthesize",
]
