"""What a gate reads from a run directory: its record, counts and result rows, each once.

Criteria ask :class:`GateRun` for what they need; nothing is read until one asks, and
nothing twice. Everything comes from the run directory, so the same run and gate file
always give the same verdict: a model's latency is the one campaign.json recorded when
the campaign ran (:meth:`GateRun.latency`), never measured again.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.dataset as ds

from highfive.generators import ConfigError, ParameterSpace, RunDirError, show
from highfive.harness import RunDir

from ._anytime import cs_upper
from ._bins import Binning
from ._crosses import MAX_CELLS, Cross, crosses_size, make_crosses
from ._db import CoverageCounts
from ._progress import Log, progress_for
from ._stats import cp_upper

if TYPE_CHECKING:
    from ._criteria import Criterion

__all__ = [
    "BASE_SAMPLERS",
    "WEIGHTED_SAMPLERS",
    "CaseLatencies",
    "GateRun",
    "RecordedLatency",
    "sampler_design",
]

RECORDED_KINDS = ("model_bytes", "latency", "fits_target")
"""Criterion kinds decided once from campaign.json, not from the cases."""
WEIGHTED_SAMPLERS = {"focus": "target boxes", "importance": "a learnt proposal"}
"""Samplers whose cases are not draws of the base distribution (``_weighted``)."""
BASE_SAMPLERS = ("random", "sobol", "halton", "lhs")
"""Samplers whose cases are draws of the base distribution. An allowlist: a sampler
this highfive does not know (a newer one's) is never taken for one of them."""


def sampler_design(sampler: str | None, where: str) -> str:
    """How a run's cases were drawn, from its recorded ``config.sampler``: ``"base"``, or
    the weighted sampler's name (a key of :data:`WEIGHTED_SAMPLERS`).

    No sampler recorded (a record made by hand or by an older tool) is ``"base"``: every
    sampler of the base distribution came before the others, which always record
    theirs. Any other sampler is a :class:`RunDirError` starting with ``where``: its
    sampling density is unknown. The gate and coverage both decide by this.
    """
    if sampler is None or sampler in BASE_SAMPLERS:
        return "base"
    if sampler in WEIGHTED_SAMPLERS:
        return sampler
    raise RunDirError(
        f"{where}: sampler {show(sampler)} is not one this highfive knows "
        f"({', '.join((*BASE_SAMPLERS, *WEIGHTED_SAMPLERS))}); its sampling density is unknown"
    )


class RecordedLatency:
    """A model's inference latency as campaign.json recorded it when the campaign ran.

    Parameters
    ----------
    per_window_ms : mapping of int to float
        Median milliseconds per window, by batch size.
    per_call_ms : mapping of int to float
        Median milliseconds per call, by batch size.
    calls : mapping of int to int
        Calls timed, by batch size.
    threads : int
        Intra-op threads.
    machine : str
        The machine it was measured on, as people read it.
    """

    def __init__(
        self,
        per_window_ms: Mapping[int, float],
        per_call_ms: Mapping[int, float],
        calls: Mapping[int, int],
        threads: int,
        machine: str,
    ) -> None:
        self.per_window_ms, self.per_call_ms = dict(per_window_ms), dict(per_call_ms)
        self.calls, self.threads, self.machine = dict(calls), threads, machine

    @property
    def batches(self) -> list[int]:
        """The batch sizes measured, largest first."""
        return sorted(self.per_window_ms, reverse=True)

    @classmethod
    def from_record(cls, entry: Any, where: str) -> RecordedLatency:
        """Read ``models[i].latency`` of campaign.json; :class:`RunDirError` if malformed.

        The record: ``{"batches": {"256": {"per_call_ms", "per_window_ms", "calls"},
        "1": {...}}, "threads": 1, "machine": {"cpu", "cores", "python",
        "onnxruntime"}}``.
        """

        def bad(what: str) -> RunDirError:
            return RunDirError(f"{where}.latency: {what}; re-run the campaign to record it again")

        def positive(x: Any) -> bool:
            return (
                isinstance(x, int | float)
                and not isinstance(x, bool)
                and math.isfinite(x)
                and x > 0
            )

        if not isinstance(entry, Mapping) or not isinstance(entry.get("batches"), Mapping):
            raise bad(f"{show(entry)} has no table of batches")
        per_window, per_call, calls = {}, {}, {}
        for key, fig in entry["batches"].items():
            if not (isinstance(key, str) and key.isdigit() and int(key) >= 1):
                raise bad(f"batch {show(key)} is not a whole number >= 1")
            if not isinstance(fig, Mapping):
                raise bad(f"batch {key}: {show(fig)} is not a table")
            for name in ("per_window_ms", "per_call_ms"):
                if not positive(fig.get(name)):
                    raise bad(f"batch {key}: {name} {show(fig.get(name))} is not a positive number")
            b = int(key)
            per_window[b], per_call[b] = float(fig["per_window_ms"]), float(fig["per_call_ms"])
            n = fig.get("calls")
            calls[b] = n if isinstance(n, int) and not isinstance(n, bool) else 0
        if not per_window:
            raise bad("no batch was measured")
        m = entry.get("machine")
        m = m if isinstance(m, Mapping) else {}
        parts = [str(m.get("cpu") or "an unnamed processor")]
        if m.get("cores"):
            parts[0] += f" ({m['cores']} cores)"
        parts += [f"{k} {m[k]}" for k in ("python", "onnxruntime") if m.get(k)]
        threads = entry.get("threads")
        threads = threads if isinstance(threads, int) and not isinstance(threads, bool) else 1
        return cls(per_window, per_call, calls, threads, ", ".join(parts))


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
    log : callable, optional
        Receives progress lines when the crosses hold many cells.
    looks : {"fixed", "anytime"}
        Which bounds :meth:`upper` gives.
    """

    def __init__(
        self,
        path: Path,
        *,
        confidence: float,
        bins: Mapping[str, Any],
        criteria: Sequence[Criterion],
        log: Log | None = None,
        looks: str = "fixed",
    ) -> None:
        self.path, self.confidence, self.bins, self.looks = path, confidence, bins, looks
        self.criteria, self.log = tuple(criteria), log
        self.dir = RunDir(path)
        self.record = self.dir.require_complete("a gate", takes="gate")
        self.models: dict[str, dict[str, Any]] = {m["id"]: m for m in self.record["models"]}
        sampler = self.record.get("config", {}).get("sampler")
        # t-way coverage counts cases wherever they were drawn: weights do not matter
        on_cases = [c.name for c in self.criteria if c.kind not in (*RECORDED_KINDS, "coverage")]
        where = f"cannot gate {os.fspath(path)!r} on criterion {on_cases[0]!r}" if on_cases else ""
        if on_cases and sampler_design(sampler, where) != "base":
            raise RunDirError(
                f"{os.fspath(path)!r} drew its cases from {WEIGHTED_SAMPLERS[sampler]} "
                f"(sampler {sampler!r}), so they are weighted, and criterion "
                f"{on_cases[0]!r} counts cases as draws of the whole space; gate a run of "
                "the base distribution (a sequential campaign gates its own stages), or "
                "read the weighted rates and bounds with 'highfive coverage'"
            )
        self._binning: Binning | None = None
        self._crosses: tuple[Cross, ...] | None = None
        self._counts: CoverageCounts | None = None
        self._frame: pd.DataFrame | None = None

    def upper(self, k: npt.ArrayLike, n: npt.ArrayLike, threshold: float) -> np.ndarray:
        """One-sided upper bounds of rates ``k / n`` at the gate's confidence.

        Clopper-Pearson for one look; with ``looks = "anytime"`` the anytime-valid
        bound tuned to ``threshold`` (the rate the criterion compares with, kept inside
        [1e-9, 0.5] for the tuning only).
        """
        if self.looks == "anytime":
            return cs_upper(k, n, self.confidence, min(max(float(threshold), 1e-9), 0.5))
        return cp_upper(k, n, self.confidence)

    def kind(self, model: str) -> str:
        """The counter's kind (``onnx``, ``python``, ``exec``); runs before kinds were onnx."""
        return str(self.models[model].get("kind", "onnx"))

    def latency(self, model: str) -> RecordedLatency | None:
        """The model's latency as campaign.json recorded it; None if it recorded none
        (a run made before latencies were recorded, or a counter other than ONNX)."""
        entry = self.models[model].get("latency")
        if entry is None:
            return None
        where = f"{os.fspath(self.dir.campaign_json)}: model {model!r}"
        return RecordedLatency.from_record(entry, where)

    def binning(self) -> Binning:
        """The bins of the run's space, with the gate's ``[bins.*]`` tables."""
        if self._binning is None:
            space = ParameterSpace.from_arrow_schema(self.dir.results_dataset().schema)
            self._binning = Binning.from_space(space, self.bins)
        return self._binning

    def crosses(self) -> tuple[Cross, ...]:
        """The crosses every criterion's ``ways`` need, checked (each criterion's ways
        against the binned dimensions and :data:`~highfive.coverage._crosses.MAX_CELLS`)
        before any row is read."""
        if self._crosses is None:
            ways = sorted({t for c in self.criteria for t in c.options.get("ways", [])})
            if not ways:
                self._crosses = ()
                return self._crosses
            binning = self.binning()
            for c in self.criteria:
                if "ways" not in c.options:
                    continue
                where = f"criterion {c.name!r}: ways"
                if max(c.options["ways"]) > len(binning):
                    raise ConfigError(
                        f"{where} {c.options['ways']} - this space has only {len(binning)} "
                        f"binned dimensions, so t <= {len(binning)}"
                    )
                if crosses_size(binning, c.options["ways"])[0] > MAX_CELLS:
                    make_crosses(binning, c.options["ways"], where=where)  # says why
            self._crosses = make_crosses(binning, ways, where="the criteria's ways")
        return self._crosses

    def counts(self) -> CoverageCounts:
        """Counts of every cross the gate's criteria need (all of their ``ways``)."""
        if self._counts is None:
            crosses, binning = self.crosses(), self.binning()
            cells, n = crosses_size(binning, [], crosses)
            progress = progress_for(self.log, cells, n, "the gate's crosses")
            self._counts = CoverageCounts.from_run(self.path, binning, crosses, progress=progress)
        return self._counts

    def frame(self) -> pd.DataFrame:
        """case_id, model, verdict and predicted_count of every result row."""
        if self._frame is None:
            f = self.dir.results(columns=["case_id", "model", "verdict", "predicted_count"])
            f["model"] = f["model"].astype(str)
            f["verdict"] = f["verdict"].astype(str)
            self._frame = f
        return self._frame

    def latencies(self, model: str) -> CaseLatencies | None:
        """``latency_s``, ``true_count`` and ``fn`` of the model's cases; None if no
        latency was recorded.

        Result files written before detection latencies were recorded have no
        ``latency_s`` column: their cases read as NaN, and a model none of whose files
        has it gives None. Each file is asked for its own columns, so no file's schema
        stands in for another's.
        """
        parts: list[list[np.ndarray]] = []
        recorded = False
        for fragment in self.dir.results_dataset().get_fragments(ds.field("model") == model):
            names = fragment.physical_schema.names
            cols = [c for c in ("latency_s", *_TRUTH) if c in names]
            table = fragment.to_table(columns=cols)
            recorded |= "latency_s" in names
            parts.append(
                [
                    np.asarray(table[c].to_numpy(zero_copy_only=False), np.float64)
                    if c in names
                    else np.full(table.num_rows, np.nan)
                    for c in ("latency_s", *_TRUTH)
                ]
            )
        if not recorded:
            return None
        latency, true, fn = (np.concatenate(c) for c in zip(*parts, strict=True))
        return CaseLatencies(latency, true, fn)


_TRUTH = ("true_count", "fn")


class CaseLatencies(NamedTuple):
    """Per case of one model: the worst latency of its counted high-fives (s; NaN: none
    counted, or not streamed), its high-fives and those never counted."""

    latency_s: np.ndarray
    true_count: np.ndarray
    fn: np.ndarray
