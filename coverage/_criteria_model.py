"""Criteria on the model file of an ONNX counter: ``model_bytes`` and ``latency``.

Other counters (Python callables, external programs) have no model file: these criteria
refuse them with a :class:`ConfigError` naming the criterion and the counter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from highfive.generators import ConfigError

from ._criteria import (
    Criterion,
    CriterionKind,
    Option,
    Outcome,
    number,
    register_criterion,
    whole,
)
from ._gaterun import GateRun

__all__ = ["Latency", "ModelBytes"]


@register_criterion
class ModelBytes(CriterionKind):
    """The size of the model file, from campaign.json, at most ``max`` bytes."""

    kind = "model_bytes"
    options: ClassVar[Mapping[str, Option]] = {
        "max": whole(0, "must be a whole number of bytes >= 0")
    }
    onnx_only = True

    def threshold(self, o: Mapping[str, Any]) -> str:
        return f"<= {o['max']:,} bytes"

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        entry = run.models[str(model)]
        size = int(entry["bytes"])
        detail = f"{entry.get('source', model)} (sha256 {str(entry.get('sha256'))[:12]}...)"
        return f"{size:,} bytes", size <= c.options["max"], detail


@register_criterion
class Latency(CriterionKind):
    """Per-window latency at batch ``batch``, measured now, at most ``max_ms``.

    The model file must still have the SHA-256 the run recorded. The measurement is the
    profiling function the caller passed to ``evaluate_gate`` (the command line passes
    ``highfive.models.profile``); without one the criterion is refused up front.
    """

    kind = "latency"
    options: ClassVar[Mapping[str, Option]] = {
        "max_ms": number("must be a positive number of milliseconds", low=0, open_low=True),
        "batch": whole(1, default=256),
        "repeats": whole(1, default=20),
    }
    onnx_only = True

    def threshold(self, o: Mapping[str, Any]) -> str:
        return f"<= {o['max_ms']:g} ms/window at batch {o['batch']}"

    def targets(self, c: Criterion, run: GateRun) -> list[str | None]:
        models = super().targets(c, run)
        if run.profiler is None:
            raise ConfigError(
                f"criterion {c.name!r}: latency needs a profiling function to measure the "
                "model, and none was given; pass evaluate_gate(..., profile="
                "highfive.models.profile), as the highfive command line does"
            )
        return models

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        o = c.options
        prof = run.profile(str(model), o["batch"], o["repeats"])
        batch = o["batch"]
        # Absent at batch 1, where the time per call is the time per window.
        per_window = prof.get(f"per_window_b{batch}_us")
        ms = float(per_window) / 1e3 if per_window is not None else float(prof["latency_b1_ms"])
        per_call = float(prof[f"latency_b{batch}_ms"])
        detail = (
            f"measured now: {ms:.4g} ms/window at batch {batch} ({per_call:.3g} ms per call, "
            f"median, 1 intra-op thread); {prof['latency_b1_ms']:.3g} ms at batch 1"
        )
        return f"{ms:.4g} ms/window", ms <= o["max_ms"], detail
