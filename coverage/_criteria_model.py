"""Criteria on the model of an ONNX counter: ``model_bytes`` and ``latency``, both read
from campaign.json (what the campaign recorded), so they are the same on every machine.

Other counters (Python callables, external programs) have no model file: these criteria
refuse them with a :class:`ConfigError` naming the criterion and the counter.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from highfive.generators import ConfigError, RunDirError, show, show_list, show_number

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
        size = entry.get("bytes")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise RunDirError(
                f"{os.fspath(run.dir.campaign_json)}: model {model!r} has bytes {show(size)}, "
                "not a size; re-run the campaign to record it again"
            )
        detail = f"{entry.get('source', model)} (sha256 {str(entry.get('sha256'))[:12]}...)"
        return f"{size:,} bytes", size <= c.options["max"], detail


@register_criterion
class Latency(CriterionKind):
    """Per-window latency at batch ``batch`` as the campaign recorded it, at most ``max_ms``.

    The campaign measured each ONNX model when it ran (median over many calls, one
    intra-op thread) and recorded the figure, with the machine, in campaign.json; the
    criterion reads that figure, so the same run and gate file always give the same
    verdict whatever else the machine is doing now. ``batch`` must be one the campaign
    measured (256 or 1); a run made before latencies were recorded fails the criterion
    and its detail says to re-run the campaign.
    """

    kind = "latency"
    options: ClassVar[Mapping[str, Option]] = {
        "max_ms": number("must be a positive number of milliseconds", low=0, open_low=True),
        "batch": whole(1, default=256),
    }
    onnx_only = True

    def threshold(self, o: Mapping[str, Any]) -> str:
        return f"<= {show_number(o['max_ms'])} ms/window at batch {o['batch']}"

    def targets(self, c: Criterion, run: GateRun) -> list[str | None]:
        models = super().targets(c, run)
        batch = c.options["batch"]
        for m in models:
            rec = run.latency(str(m))
            if rec is not None and batch not in rec.per_window_ms:
                raise ConfigError(
                    f"criterion {c.name!r}: batch {batch} was not measured; the campaign "
                    f"recorded the latency of {m!r} at batch {show_list(rec.batches)}, so use "
                    f"batch = {rec.batches[0]}"
                    + (f" or {rec.batches[1]}" if len(rec.batches) == 2 else "")
                )
        return models

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        o = c.options
        rec = run.latency(str(model))
        if rec is None:
            return (
                "no latency recorded",
                False,
                f"campaign.json records no latency for {model} (the run was made by an older "
                "highfive, which measured none); re-run the campaign to record it",
            )
        batch = o["batch"]
        ms = rec.per_window_ms[batch]
        others = "; ".join(
            f"{rec.per_window_ms[b]:.4g} ms/window at batch {b}" for b in rec.batches if b != batch
        )
        detail = (
            f"recorded when the campaign ran: {ms:.4g} ms/window at batch {batch} (median "
            f"{rec.per_call_ms[batch]:.4g} ms per call over {rec.calls[batch]:,} calls, "
            f"{rec.threads} intra-op thread{'s' if rec.threads != 1 else ''})"
            + (f"; {others}" if others else "")
            + f"; measured on {rec.machine}"
        )
        return f"{ms:.4g} ms/window", ms <= o["max_ms"], detail
