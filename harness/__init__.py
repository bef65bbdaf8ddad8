"""The counter under test and the machinery around it.

Scalogram, model runner, counting logic, pipeline and oracle; campaigns (config, run
directory, dask runner), replay, shrink and coverage-driven follow-ups; the command
line builds on these.

>>> from highfive.harness import CampaignConfig, run_campaign
>>> summary = run_campaign(CampaignConfig.from_toml("examples/smoke.toml"))  # doctest: +SKIP
>>> print(summary.table())  # doctest: +SKIP
"""

from highfive.generators import ConfigError, HighfiveError, InvalidParameter, ModelError

from ._argtypes import int_at_least
from ._campaign import CampaignSummary, run_campaign
from ._config import CampaignConfig, ExecutionConfig
from ._counter import CounterConfig, StreamingCounter, count_trace, detect, window_centres
from ._io import atomic_path, atomic_write_text
from ._model import SHIPPED, Model, ModelSpec
from ._oracle import Score, margin, score
from ._pipeline import Counter, CounterPipeline, CountResult
from ._preprocess import features, features_of_windows, to_uniform
from ._replay import LoadedRun, Replay, ShrinkResult, load_run, replay, replay_loaded, shrink
from ._rundir import RunDir
from ._scalogram import FilterBank, filter_bank, frame, log_freqs, morlet_scales
from ._verdicts import (
    FAIL_VERDICTS,
    SEVERITY,
    VERDICT_INFO,
    VERDICTS,
    Verdict,
    VerdictInfo,
    is_failure,
)

__all__ = [
    "FAIL_VERDICTS",
    "SEVERITY",
    "SHIPPED",
    "VERDICTS",
    "VERDICT_INFO",
    "CampaignConfig",
    "CampaignSummary",
    "ConfigError",
    "CountResult",
    "Counter",
    "CounterConfig",
    "CounterPipeline",
    "ExecutionConfig",
    "FilterBank",
    "HighfiveError",
    "InvalidParameter",
    "LoadedRun",
    "Model",
    "ModelError",
    "ModelSpec",
    "Replay",
    "RunDir",
    "Score",
    "ShrinkResult",
    "StreamingCounter",
    "Verdict",
    "VerdictInfo",
    "atomic_path",
    "atomic_write_text",
    "count_trace",
    "detect",
    "features",
    "features_of_windows",
    "filter_bank",
    "frame",
    "int_at_least",
    "is_failure",
    "load_run",
    "log_freqs",
    "margin",
    "morlet_scales",
    "replay",
    "replay_loaded",
    "run_campaign",
    "score",
    "shrink",
    "to_uniform",
    "window_centres",
]
