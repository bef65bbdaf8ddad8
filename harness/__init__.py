"""The counter under test and the machinery around it.

Scalogram, model runner, counting logic, pipeline and oracle. The campaign runner and
the command line build on these.
"""

from highfive.generators import ConfigError, HighfiveError, InvalidParameter, ModelError

from ._counter import CounterConfig, StreamingCounter, count_trace, detect, window_centres
from ._model import SHIPPED, Model, ModelSpec
from ._oracle import VERDICTS, Score, Verdict, margin, score
from ._pipeline import Counter, CounterPipeline, CountResult
from ._preprocess import features, features_of_windows, to_uniform
from ._scalogram import FilterBank, filter_bank, frame, log_freqs, morlet_scales

__all__ = [
    "SHIPPED",
    "VERDICTS",
    "ConfigError",
    "CountResult",
    "Counter",
    "CounterConfig",
    "CounterPipeline",
    "FilterBank",
    "HighfiveError",
    "InvalidParameter",
    "Model",
    "ModelError",
    "ModelSpec",
    "Score",
    "StreamingCounter",
    "Verdict",
    "count_trace",
    "detect",
    "features",
    "features_of_windows",
    "filter_bank",
    "frame",
    "log_freqs",
    "margin",
    "morlet_scales",
    "score",
    "to_uniform",
    "window_centres",
]
