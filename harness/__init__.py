"""The counter under test and the machinery around it.

Counters as plug-ins (:mod:`highfive.harness.counters`: ONNX models through the
scalogram pipeline, Python callables, external programs); scalogram, model runner,
counting logic, pipeline and oracle; the run directory and what it stores; campaigns
(config, dask runner), replay and shrink; the command line builds on these.
Importing this package is cheap: the public names below are imported on first use
(PEP 562), so building the command line's parser imports no SciPy, pandas or pyarrow.

>>> from highfive.harness import CampaignConfig, run_campaign
>>> summary = run_campaign(CampaignConfig.from_toml("examples/smoke.toml"))  # doctest: +SKIP
>>> print(summary.table())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Re-exported errors: one small module, imported now.
from highfive.generators import (
    ConfigError,
    HighfiveError,
    InvalidParameter,
    ModelError,
    lazy_exports,
)

if TYPE_CHECKING:
    from ._argtypes import int_at_least, int_between, number_arg, path_arg, whole_number
    from ._batch import BatchJob, BatchOutput, run_batch
    from ._campaign import CampaignSummary, load_counters, run_campaign
    from ._case import Judged, judge
    from ._config import CampaignConfig, CounterSpec, ExecutionConfig, RecordingsConfig
    from ._counter import CounterConfig, StreamingCounter, count_trace, detect, window_centres
    from ._io import (
        JsonFileError,
        Writer,
        atomic_path,
        atomic_write_text,
        json_text,
        read_json_object,
        write_together,
    )
    from ._labels import RecordingCase, read_labels
    from ._model import PREDICT_BATCH, SHIPPED, Model
    from ._model_session import session
    from ._model_spec import LIMITS, ModelSpec
    from ._oracle import Score, margin, score, score_count
    from ._pipeline import Counter, CounterPipeline, CountResult, PipelineStream
    from ._preprocess import features, features_of_windows, to_uniform
    from ._realism import (
        BOOTSTRAP,
        CENTRAL,
        INTERVAL,
        MATCH_CENTRAL,
        RealismResult,
        bootstrap_w1_iqr,
        compare_features,
        compare_realism,
        interval_text,
        load_region,
        normalised_wasserstein,
    )
    from ._realism_features import FEATURES, Feature, dynamic, piece_features
    from ._recording import MAX_GAP_S, Recording, Rest, open_recording, read_recording
    from ._recording_case import judge_recording
    from ._recording_count import RecordingCount, Segment, count_recording
    from ._records import (
        FAILURE_SCHEMA,
        OUTCOME_SCHEMA,
        FailureCase,
        Outcome,
        counter_id,
        outcome_table,
        result_schema,
    )
    from ._replay import (
        LoadedRun,
        Replay,
        ShrinkResult,
        StoredRecordings,
        load_run,
        replay,
        replay_command,
        replay_loaded,
        shrink,
    )
    from ._rundir import SCHEMA_VERSION, STAGES_JSON, RunDir
    from ._scalogram import FilterBank, filter_bank, frame, log_freqs, morlet_scales
    from ._verdicts import (
        FAIL_VERDICTS,
        NO_ANSWER,
        SEVERITY,
        VERDICT_INFO,
        VERDICTS,
        Verdict,
        VerdictInfo,
        counts_agree,
        is_failure,
    )
    from .counters import (
        KINDS,
        CounterFault,
        CounterIdentity,
        CounterOptions,
        CounterPlugin,
        load_counter,
    )

__all__ = [
    "BOOTSTRAP",
    "CENTRAL",
    "FAILURE_SCHEMA",
    "FAIL_VERDICTS",
    "FEATURES",
    "INTERVAL",
    "KINDS",
    "LIMITS",
    "MATCH_CENTRAL",
    "MAX_GAP_S",
    "NO_ANSWER",
    "OUTCOME_SCHEMA",
    "PREDICT_BATCH",
    "SCHEMA_VERSION",
    "SEVERITY",
    "SHIPPED",
    "STAGES_JSON",
    "VERDICTS",
    "VERDICT_INFO",
    "BatchJob",
    "BatchOutput",
    "CampaignConfig",
    "CampaignSummary",
    "ConfigError",
    "CountResult",
    "Counter",
    "CounterConfig",
    "CounterFault",
    "CounterIdentity",
    "CounterOptions",
    "CounterPipeline",
    "CounterPlugin",
    "CounterSpec",
    "ExecutionConfig",
    "FailureCase",
    "Feature",
    "FilterBank",
    "HighfiveError",
    "InvalidParameter",
    "JsonFileError",
    "Judged",
    "LoadedRun",
    "Model",
    "ModelError",
    "ModelSpec",
    "Outcome",
    "PipelineStream",
    "RealismResult",
    "Recording",
    "RecordingCase",
    "RecordingCount",
    "RecordingsConfig",
    "Replay",
    "Rest",
    "RunDir",
    "Score",
    "Segment",
    "ShrinkResult",
    "StoredRecordings",
    "StreamingCounter",
    "Verdict",
    "VerdictInfo",
    "Writer",
    "atomic_path",
    "atomic_write_text",
    "bootstrap_w1_iqr",
    "compare_features",
    "compare_realism",
    "count_recording",
    "count_trace",
    "counter_id",
    "counts_agree",
    "detect",
    "dynamic",
    "features",
    "features_of_windows",
    "filter_bank",
    "frame",
    "int_at_least",
    "int_between",
    "interval_text",
    "is_failure",
    "json_text",
    "judge",
    "judge_recording",
    "load_counter",
    "load_counters",
    "load_region",
    "load_run",
    "log_freqs",
    "margin",
    "morlet_scales",
    "normalised_wasserstein",
    "number_arg",
    "open_recording",
    "outcome_table",
    "path_arg",
    "piece_features",
    "read_json_object",
    "read_labels",
    "read_recording",
    "replay",
    "replay_command",
    "replay_loaded",
    "result_schema",
    "run_batch",
    "run_campaign",
    "score",
    "score_count",
    "session",
    "shrink",
    "to_uniform",
    "whole_number",
    "window_centres",
    "write_together",
]

# The module that defines each public name (the imports above, for the type checker).
_EXPORTS = {
    "_argtypes": ("int_at_least", "int_between", "number_arg", "path_arg", "whole_number"),
    "_batch": ("BatchJob", "BatchOutput", "run_batch"),
    "_campaign": ("CampaignSummary", "load_counters", "run_campaign"),
    "_case": ("Judged", "judge"),
    "_config": ("CampaignConfig", "CounterSpec", "ExecutionConfig", "RecordingsConfig"),
    "_counter": ("CounterConfig", "StreamingCounter", "count_trace", "detect", "window_centres"),
    "_io": (
        "JsonFileError",
        "Writer",
        "atomic_path",
        "atomic_write_text",
        "json_text",
        "read_json_object",
        "write_together",
    ),
    "_labels": ("RecordingCase", "read_labels"),
    "_model": ("PREDICT_BATCH", "SHIPPED", "Model"),
    "_model_session": ("session",),
    "_model_spec": ("LIMITS", "ModelSpec"),
    "_oracle": ("Score", "margin", "score", "score_count"),
    "_pipeline": ("Counter", "CounterPipeline", "CountResult", "PipelineStream"),
    "_preprocess": ("features", "features_of_windows", "to_uniform"),
    "_realism": (
        "BOOTSTRAP",
        "CENTRAL",
        "INTERVAL",
        "MATCH_CENTRAL",
        "RealismResult",
        "bootstrap_w1_iqr",
        "compare_features",
        "compare_realism",
        "interval_text",
        "load_region",
        "normalised_wasserstein",
    ),
    "_realism_features": ("FEATURES", "Feature", "dynamic", "piece_features"),
    "_recording": ("MAX_GAP_S", "Recording", "Rest", "open_recording", "read_recording"),
    "_recording_case": ("judge_recording",),
    "_recording_count": ("RecordingCount", "Segment", "count_recording"),
    "_records": (
        "FAILURE_SCHEMA",
        "OUTCOME_SCHEMA",
        "FailureCase",
        "Outcome",
        "counter_id",
        "outcome_table",
        "result_schema",
    ),
    "_replay": (
        "LoadedRun",
        "Replay",
        "ShrinkResult",
        "StoredRecordings",
        "load_run",
        "replay",
        "replay_command",
        "replay_loaded",
        "shrink",
    ),
    "_rundir": ("SCHEMA_VERSION", "STAGES_JSON", "RunDir"),
    "_scalogram": ("FilterBank", "filter_bank", "frame", "log_freqs", "morlet_scales"),
    "_verdicts": (
        "FAIL_VERDICTS",
        "NO_ANSWER",
        "SEVERITY",
        "VERDICT_INFO",
        "VERDICTS",
        "Verdict",
        "VerdictInfo",
        "counts_agree",
        "is_failure",
    ),
    "counters": (
        "KINDS",
        "CounterFault",
        "CounterIdentity",
        "CounterOptions",
        "CounterPlugin",
        "load_counter",
    ),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
