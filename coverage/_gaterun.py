"""What a gate reads from a run directory: its record, counts and result rows, each once.

Criteria ask :class:`GateRun` for what they need; nothing is read until one asks, and
nothing twice. Measuring a model (the ``latency`` criterion) needs a profiling function
from the caller (``highfive.models.profile``): models sit above coverage, so coverage
cannot import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from highfive.generators import ConfigError, ParameterSpace, RunDirError
from highfive.harness import Model, RunDir

from ._bins import Binning
from ._crosses import make_crosses
from ._db import CoverageCounts

if TYPE_CHECKING:
    from ._criteria import Criterion

__all__ = ["GateRun", "Profiler"]


class Profiler(Protocol):
    """Measures a model: ``highfive.models.profile`` (keys ``latency_b1_ms``,
    ``latency_b{batch}_ms`` and, for batch > 1, ``per_window_b{batch}_us``)."""

    def __call__(self, model: Model, *, repeats: int, big_batch: int) -> Mapping[str, Any]: ...


class GateRun:
    """A complete run directory as the criteria of one gate see it.

    Parameters
    ----------
    path : path
        The run directory; :class:`RunDirError` unless it is complete.
    confidence : float
        One-sided confidence of every bound.
    bins : mapping
        ``[bins.<dimension>]`` tables for the counts.
    criteria : sequence of Criterion
        The gate's criteria: their ``ways`` decide which crosses are counted.
    profile : Profiler, optional
        Measures a model's latency (``latency`` criteria need it).
    """

    def __init__(
        self,
        path: Path,
        *,
        confidence: float,
        bins: Mapping[str, Any],
        criteria: Sequence[Criterion],
        profile: Profiler | None = None,
    ) -> None:
        self.path, self.confidence, self.bins = path, confidence, bins
        self.criteria, self.profiler = tuple(criteria), profile
        self.dir = RunDir(path)
        self.record = self.dir.require_complete("a gate")
        self.models: dict[str, dict[str, Any]] = {m["id"]: m for m in self.record["models"]}
        self._counts: CoverageCounts | None = None
        self._frame: pd.DataFrame | None = None
        self._profiles: dict[tuple[str, int, int], Mapping[str, Any]] = {}

    def kind(self, model: str) -> str:
        """The counter's kind (``onnx``, ``python``, ``exec``); runs before kinds were onnx."""
        return str(self.models[model].get("kind", "onnx"))

    def counts(self) -> CoverageCounts:
        """Counts of every cross the gate's criteria need (all of their ``ways``)."""
        if self._counts is None:
            ways = sorted({t for c in self.criteria for t in c.options.get("ways", [])})
            space = ParameterSpace.from_arrow_schema(self.dir.results_dataset().schema)
            binning = Binning.from_space(space, self.bins)
            for c in self.criteria:
                for t in c.options.get("ways", []):
                    if t > len(binning):
                        raise ConfigError(
                            f"criterion {c.name!r}: ways {c.options['ways']} - this space has "
                            f"only {len(binning)} binned dimensions, so t <= {len(binning)}"
                        )
            self._counts = CoverageCounts.from_run(self.path, binning, make_crosses(binning, ways))
        return self._counts

    def frame(self) -> pd.DataFrame:
        """case_id, model, verdict and predicted_count of every result row."""
        if self._frame is None:
            f = self.dir.results(columns=["case_id", "model", "verdict", "predicted_count"])
            f["model"] = f["model"].astype(str)
            f["verdict"] = f["verdict"].astype(str)
            self._frame = f
        return self._frame

    def latencies(self, model: str) -> np.ndarray | None:
        """``latency_s`` of the model's cases (NaN: none measured); None if not recorded.

        Result files written before detection latencies were recorded have no such
        column: their cases read as NaN, and a model none of whose files has it gives
        None. Each file is asked for its own columns, so no file's schema stands in
        for another's.
        """
        parts, recorded = [], False
        for fragment in self.dir.results_dataset().get_fragments(ds.field("model") == model):
            if "latency_s" in fragment.physical_schema.names:
                recorded = True
                column = fragment.to_table(columns=["latency_s"])["latency_s"]
                parts.append(np.asarray(column.to_numpy(zero_copy_only=False), np.float64))
            else:
                parts.append(np.full(fragment.count_rows(), np.nan))
        return np.concatenate(parts) if recorded else None

    def profile(self, model: str, batch: int, repeats: int) -> Mapping[str, Any]:
        """The injected profiler's figures for the run's model file, measured now.

        Raises :class:`RunDirError` when the file is gone or its SHA-256 is no longer
        the one the run recorded (its latency would not be the tested one).
        """
        key = (model, batch, repeats)
        if key not in self._profiles:
            assert self.profiler is not None, "checked by the latency criterion's targets"
            entry = self.models[model]
            source = entry.get("source", model)
            try:
                loaded = Model.load(source)
            except FileNotFoundError:
                raise RunDirError(
                    f"latency: model {model!r} of the run came from {source!r}, which no "
                    "longer exists; restore the file to measure its latency"
                ) from None
            if loaded.sha256 != entry.get("sha256"):
                raise RunDirError(
                    f"latency: model {model!r} at {source!r} now has sha256 "
                    f"{loaded.sha256[:12]}..., the run used {str(entry.get('sha256'))[:12]}...; "
                    "the file changed since the run, so its latency would not be the tested one"
                )
            self._profiles[key] = self.profiler(loaded, repeats=repeats, big_batch=batch)
        return self._profiles[key]
