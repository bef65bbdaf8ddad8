"""Parametric motion generators: the parameter space, motions, sensor model, scenarios.

Importing this package is cheap: the public names below are imported on first use
(PEP 562), so a command line that only builds its parser never imports SciPy.

>>> from highfive.generators import default_space, synthesize
>>> space = default_space().restrict(motion="high_five", distractor="none")
>>> trace = synthesize(space.nominal(), seed=7)
>>> trace.n_high_fives
1
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ._default_space import BACKGROUNDS, default_space
    from ._errors import ConfigError, HighfiveError, InvalidParameter, ModelError, RunDirError
    from ._importance import ImportanceSampler, Proposal, fit_cross_entropy
    from ._kinematics import G
    from ._motion_names import MOTION_NAMES
    from ._numbers import is_number, number_from_text, whole_number_from_text
    from ._samplers import SAMPLERS, Box, Sampler, make_sampler
    from ._scenario import (
        GENERATOR_VERSION,
        MARGIN,
        PHASE,
        SeedLike,
        case_streams,
        synthesize,
    )
    from ._sensor import SensorSpec
    from ._show import escape, show, show_list, show_number, show_text
    from ._space import Dimension, ParameterSpace
    from ._toml import parse_toml, read_toml
    from ._types import Detection, Event, Trace, check_rate
    from .motions import MOTIONS, Motion, get_motion

__all__ = [
    "BACKGROUNDS",
    "GENERATOR_VERSION",
    "MARGIN",
    "MOTIONS",
    "MOTION_NAMES",
    "PHASE",
    "SAMPLERS",
    "Box",
    "ConfigError",
    "Detection",
    "Dimension",
    "Event",
    "G",
    "HighfiveError",
    "ImportanceSampler",
    "InvalidParameter",
    "ModelError",
    "Motion",
    "ParameterSpace",
    "Proposal",
    "RunDirError",
    "Sampler",
    "SeedLike",
    "SensorSpec",
    "Trace",
    "case_streams",
    "check_rate",
    "default_space",
    "escape",
    "fit_cross_entropy",
    "get_motion",
    "is_number",
    "lazy_exports",
    "make_sampler",
    "number_from_text",
    "parse_toml",
    "read_toml",
    "show",
    "show_list",
    "show_number",
    "show_text",
    "synthesize",
    "whole_number_from_text",
]

# The module that defines each public name (the imports above, for the type checker).
_EXPORTS = {
    "_default_space": ("BACKGROUNDS", "default_space"),
    "_errors": ("ConfigError", "HighfiveError", "InvalidParameter", "ModelError", "RunDirError"),
    "_importance": ("ImportanceSampler", "Proposal", "fit_cross_entropy"),
    "_kinematics": ("G",),
    "_motion_names": ("MOTION_NAMES",),
    "_numbers": ("is_number", "number_from_text", "whole_number_from_text"),
    "_samplers": ("SAMPLERS", "Box", "Sampler", "make_sampler"),
    "_show": ("escape", "show", "show_list", "show_number", "show_text"),
    "_scenario": (
        "GENERATOR_VERSION",
        "MARGIN",
        "PHASE",
        "SeedLike",
        "case_streams",
        "synthesize",
    ),
    "_sensor": ("SensorSpec",),
    "_space": ("Dimension", "ParameterSpace"),
    "_toml": ("parse_toml", "read_toml"),
    "_types": ("Detection", "Event", "Trace", "check_rate"),
    "motions": ("MOTIONS", "Motion", "get_motion"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
