"""Coverage of a run directory, written into ``RUN/coverage/``.

::

    RUN/coverage/counts.parquet    mergeable counts (cases and failures per cell and model)
    RUN/coverage/cells.parquet     statistics per cell and model (bounds, status, needed)
    RUN/coverage/holes.parquet     cells with fewer than min_cases cases
    RUN/coverage/summary.json      coverage per t and cross, statuses, worst cells

Settings come from a coverage TOML file (``--bins``) with ``[bins.<dimension>]``
tables, ``ways``, ``[[crosses]]`` and a ``[statistics]`` table::

    ways = [1, 2]
    [bins.peak_accel]
    edges = [4.0, 8.0, 16.0, 40.0]
    [bins.motion]
    ignore = ["rest"]
    [statistics]
    p_target = 0.01      # the failure rate a cell must be shown to stay below
    confidence = 0.95
    min_cases = 30       # a cell with fewer cases is a hole (default 1: untested)
    adjust = "holm"      # multiplicity correction of the "failing" flag
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from highfive.generators import ConfigError, ParameterSpace, read_toml
from highfive.harness import RunDir, atomic_path, atomic_write_text

from ._bins import Binning
from ._crosses import load_crosses
from ._db import CoverageCounts
from ._regions import failure_regions, regions_dicts
from ._stats import CellStats, cell_stats, cells_frame, holes, summary

__all__ = ["CoverageSettings", "RunCoverage", "analyse_run", "load_settings", "write_coverage"]

_STAT_KEYS = {"p_target": float, "confidence": float, "min_cases": int, "adjust": str}


@dataclass(frozen=True)
class CoverageSettings:
    """Bins and crosses (as TOML data) and the statistics settings."""

    toml: Mapping[str, Any] = field(default_factory=dict)
    p_target: float = 0.01
    confidence: float = 0.95
    min_cases: int = 1
    adjust: str = "holm"


def load_settings(path: str | os.PathLike[str] | None) -> CoverageSettings:
    """Read a coverage TOML file (``None``: the defaults)."""
    if path is None:
        return CoverageSettings()
    data = read_toml(path, "bins file")
    stats = data.pop("statistics", {})
    if not isinstance(stats, Mapping):
        raise ConfigError(f"statistics: {stats!r} must be a table")
    bad = sorted(set(stats) - set(_STAT_KEYS))
    if bad:
        raise ConfigError(
            f"unknown key 'statistics.{bad[0]}'; allowed: {', '.join(sorted(_STAT_KEYS))}"
        )
    kw: dict[str, Any] = {}
    for key, typ in _STAT_KEYS.items():
        if key in stats:
            value = stats[key]
            allowed = (int, float) if typ is float else (typ,)
            if isinstance(value, bool) or not isinstance(value, allowed):
                raise ConfigError(f"statistics.{key}: {value!r} must be a {typ.__name__}")
            kw[key] = typ(value)
    return CoverageSettings(toml=data, **kw)


@dataclass(frozen=True, eq=False)
class RunCoverage:
    """Everything the coverage of one run (or of merged runs) gives."""

    counts: CoverageCounts
    stats: CellStats
    cells: pd.DataFrame
    holes: pd.DataFrame
    summary: dict[str, Any]


def _check_complete(path: Path, allow_partial: bool) -> dict[str, Any]:
    run = RunDir(path)
    if allow_partial:
        return run.read_campaign()
    return run.require_complete("coverage", otherwise="pass --partial to analyse what is there")


def analyse_run(
    paths: str | os.PathLike[str] | list[str | os.PathLike[str]],
    settings: CoverageSettings | None = None,
    *,
    allow_partial: bool = False,
    worst: int = 20,
    regions: bool = True,
) -> RunCoverage:
    """Count, merge (for several runs) and analyse coverage.

    Parameters
    ----------
    paths : path or list of paths
        Run directories; several are merged (same space, bins and models required).
    settings : CoverageSettings, optional
    allow_partial : bool
        Analyse a run that has not finished (otherwise :class:`RunDirError`).
    worst : int
        How many worst cells the summary lists.
    regions : bool
        Describe where failures live as boxes (``summary["regions"]``), from at most
        :data:`REGION_ROWS` cases per model (a deterministic subsample by case id).
    """
    settings = settings or CoverageSettings()
    runs = [Path(p) for p in (paths if isinstance(paths, list) else [paths])]
    counts: CoverageCounts | None = None
    for path in runs:
        _check_complete(path, allow_partial)
        space = ParameterSpace.from_arrow_schema(RunDir(path).results_dataset().schema)
        binning = Binning.from_space(space, settings.toml.get("bins", {}))
        crosses = load_crosses(settings.toml, binning)
        one = CoverageCounts.from_run(path, binning, crosses)
        counts = one if counts is None else counts.merge(one)
    assert counts is not None
    stats = cell_stats(
        counts,
        p_target=settings.p_target,
        confidence=settings.confidence,
        adjust=settings.adjust,  # type: ignore[arg-type]
    )
    summ = summary(stats, min_cases=settings.min_cases, worst=worst)
    summ["runs"] = [os.fspath(p) for p in runs]
    summ["regions"] = _regions(runs, counts.models) if regions else []
    return RunCoverage(counts, stats, cells_frame(stats), holes(counts, settings.min_cases), summ)


REGION_ROWS = 200_000


def _regions(runs: list[Path], models: Sequence[str]) -> list[dict[str, Any]]:
    frames, space = [], None
    for path in runs:
        dataset = RunDir(path).results_dataset()
        space = ParameterSpace.from_arrow_schema(dataset.schema)
        cases = dataset.count_rows() // max(len(models), 1)
        keep = max(1, -(-cases // REGION_ROWS))  # every keep-th case id
        columns = ["case_id", "model", "verdict", *space.names]
        for batch in dataset.to_batches(columns=columns):
            part = batch.to_pandas()
            frames.append(part[part["case_id"] % keep == 0] if keep > 1 else part)
    frame = pd.concat(frames, ignore_index=True)
    frame["model"] = frame["model"].astype(str)
    assert space is not None
    out: list[dict[str, Any]] = []
    for model in models:
        out.extend(regions_dicts(failure_regions(frame, space, model=model)))
    return out


def write_coverage(path: str | os.PathLike[str], result: RunCoverage) -> list[Path]:
    """Write the coverage files into ``path/coverage/`` atomically; return them."""
    out = Path(path) / "coverage"
    written = []
    for name, table in (
        ("counts.parquet", result.counts.to_arrow()),
        ("cells.parquet", pa.Table.from_pandas(result.cells, preserve_index=False)),
        ("holes.parquet", pa.Table.from_pandas(result.holes, preserve_index=False)),
    ):
        with atomic_path(out / name) as tmp:
            pq.write_table(table, tmp)
        written.append(out / name)
    atomic_write_text(out / "summary.json", json.dumps(result.summary, indent=2, default=str))
    written.append(out / "summary.json")
    return written
