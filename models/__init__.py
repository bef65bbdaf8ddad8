"""The shipped window classifiers and the code that trains, quantizes and profiles them.

Shipped files (load them with ``highfive.harness.Model.load("float")`` or
``Model.load("int8")``, which use :mod:`importlib.resources`):

- ``highfive-cnn-float32.onnx``: the float model, trained by :func:`train`;
- ``highfive-cnn-int8.onnx``: its static int8 (QDQ) twin, made by :func:`quantize`;
- one ``*.sha256`` file per model (``sha256sum`` format) and ``MODEL_CARD.md``;
- ``targets/*.toml``: watch-class microcontroller profiles for :func:`estimate_target`
  (does a model fit a target's flash, RAM and CPU time?).

Importing this package is cheap and imports no other ``highfive`` package: the harness
reads the shipped files through it. The public names below are imported on first use
(PEP 562), and only :func:`train` needs PyTorch (the ``train`` extra).

>>> from highfive.models import profile
>>> profile("int8")["parameters"] <= 100_000  # doctest: +SKIP
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._arch import build_arch
    from ._cli import add_model_commands
    from ._compare import CompareResult, compare_runs
    from ._dataset import WindowSet, make_windows, norm_stats, window_metrics, window_set
    from ._export import export_onnx, metadata_of, with_metadata
    from ._failures import (
        FailureCorpus,
        decode_case_ids,
        encode_case_ids,
        failure_windows,
        load_corpora,
        training_cases,
        warn_campaign_seeds,
    )
    from ._gate_estimator import register_gate_estimator
    from ._graph_memory import MemorySchedule, activation_schedule, weight_bytes
    from ._profile import count_macs, count_parameters, profile
    from ._prune import network_from_onnx, prune_channels, prune_model
    from ._quantize import quantize
    from ._streaming import StreamCost, streaming_macs
    from ._target import TargetEstimate, estimate_target
    from ._target_profile import TargetProfile, shipped_targets
    from ._train import build_network, train

__all__ = [
    "CompareResult",
    "FailureCorpus",
    "MemorySchedule",
    "StreamCost",
    "TargetEstimate",
    "TargetProfile",
    "WindowSet",
    "activation_schedule",
    "add_model_commands",
    "build_arch",
    "build_network",
    "compare_runs",
    "count_macs",
    "count_parameters",
    "decode_case_ids",
    "encode_case_ids",
    "estimate_target",
    "export_onnx",
    "failure_windows",
    "load_corpora",
    "make_windows",
    "metadata_of",
    "network_from_onnx",
    "norm_stats",
    "profile",
    "prune_channels",
    "prune_model",
    "quantize",
    "register_gate_estimator",
    "shipped_targets",
    "streaming_macs",
    "train",
    "training_cases",
    "warn_campaign_seeds",
    "weight_bytes",
    "window_metrics",
    "window_set",
    "with_metadata",
]

# The module that defines each public name (the imports above, for the type checker).
_EXPORTS = {
    "_arch": ("build_arch",),
    "_cli": ("add_model_commands",),
    "_compare": ("CompareResult", "compare_runs"),
    "_dataset": ("WindowSet", "make_windows", "norm_stats", "window_metrics", "window_set"),
    "_export": ("export_onnx", "metadata_of", "with_metadata"),
    "_failures": (
        "FailureCorpus",
        "decode_case_ids",
        "encode_case_ids",
        "failure_windows",
        "load_corpora",
        "training_cases",
        "warn_campaign_seeds",
    ),
    "_gate_estimator": ("register_gate_estimator",),
    "_graph_memory": ("MemorySchedule", "activation_schedule", "weight_bytes"),
    "_profile": ("count_macs", "count_parameters", "profile"),
    "_prune": ("network_from_onnx", "prune_channels", "prune_model"),
    "_quantize": ("quantize",),
    "_target": ("TargetEstimate", "estimate_target"),
    "_streaming": ("StreamCost", "streaming_macs"),
    "_target_profile": ("TargetProfile", "shipped_targets"),
    "_train": ("build_network", "train"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}


# Not highfive.generators.lazy_exports: importing this package must import no other
# highfive package (the harness reads the shipped files through it).
def __getattr__(name: str) -> Any:
    try:
        home = _HOME[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
