"""Coverage of a run directory, written into ``RUN/coverage/``.

::

    RUN/coverage/counts.parquet    mergeable counts (cases and failures per cell and model)
    RUN/coverage/cells.parquet     statistics per cell and model (bounds, status, needed)
    RUN/coverage/holes.parquet     cells with fewer than min_cases cases
    RUN/coverage/summary.json      coverage per t and cross, statuses, worst cells

Settings come from a coverage TOML file (``--bins``; ``examples/bins.toml`` shows every
key) with ``[bins.<dimension>]`` tables, ``ways``, ``[[crosses]]`` and a
``[statistics]`` table; any other top-level key is refused::

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
    looks = "fixed"      # or "anytime": bounds valid however often the campaign looks

``looks = "fixed"`` (the default) uses exact Clopper-Pearson bounds, valid for one look
at the data; ``looks = "anytime"`` uses confidence sequences valid at every sample size,
for campaigns that analyse after every batch or stage and act on what they see. A
coverage of several runs merged (a run and its follow-ups, ``highfive coverage RUN
RUN-focus``) counts each run as one look and always uses the anytime bounds: the
follow-up was planned from the first run's statistics, so the merged cells have been
looked at before (docs/statistics.md). Runs with weighted cases (a focus or importance
run) get weighted bounds for one look, split over merged runs; ``looks = "anytime"`` is
refused for them. Merged runs must have the same models.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from highfive.generators import (
    ConfigError,
    ParameterSpace,
    RunDirError,
    read_toml,
    show,
    show_number,
)
from highfive.harness import CampaignConfig, RunDir, Writer, json_text, write_together

from ._bins import Binning
from ._criteria import Option, number, whole
from ._crosses import crosses_size, load_crosses
from ._db import CoverageCounts
from ._fingerprint import judging_differences, label_union
from ._progress import Log, progress_for
from ._regions import failure_regions, regions_dicts, subsample
from ._stats import (
    LOOKS,
    CellStats,
    cell_stats,
    cells_frame,
    covered_share,
    holes,
    rate_note,
    shown_rate,
    summary,
)
from ._tables import check_top_keys
from ._weighted import RunDesign, needs_weights, run_design, weighted_cell_stats

__all__ = [
    "UNDECIDED",
    "CoverageSettings",
    "RunCoverage",
    "analyse_run",
    "effective_looks",
    "focus_command",
    "gate_targets",
    "load_settings",
    "read_statistics",
    "write_coverage",
]

_STATISTICS: dict[str, Option] = {
    "p_target": number(
        "must be a failure rate in (0, 1), e.g. 0.01",
        low=0,
        high=1,
        open_low=True,
        open_high=True,
    ),
    "confidence": number(
        "must be in [0.5, 1) (one-sided), e.g. 0.95", low=0.5, high=1, open_high=True
    ),
    "min_cases": whole(1),
    "adjust": Option("must be 'holm' (default) or 'none'", lambda v: v in ("holm", "none")),
    "looks": Option("must be 'fixed' (default) or 'anytime'", lambda v: v in LOOKS),
}


@dataclass(frozen=True)
class CoverageSettings:
    """Bins, crosses and statistics (the bins file's TOML data), the statistics
    settings (checked), and the file they came from (``source``, empty: defaults)."""

    toml: Mapping[str, Any] = field(default_factory=dict)
    p_target: float = 0.01
    confidence: float = 0.95
    min_cases: int = 1
    adjust: str = "holm"
    source: str = ""
    looks: str = "fixed"


def load_settings(path: str | os.PathLike[str] | None) -> CoverageSettings:
    """Read a bins file (``None``: the defaults); :class:`ConfigError` names any bad key.

    Top-level keys: ``bins``, ``crosses``, ``ways`` and ``statistics``
    (``examples/bins.toml`` shows each). The statistics are checked here; bins and
    crosses are checked against a run's space when one is analysed.
    """
    if path is None:
        return CoverageSettings()
    data = read_toml(path, "bins file")
    check_top_keys(data, f"bins file {Path(path).name}")
    return CoverageSettings(toml=data, source=os.fspath(path), **read_statistics(data))


def read_statistics(data: Mapping[str, Any]) -> dict[str, Any]:
    """The checked ``[statistics]`` settings of a bins file's TOML data (only those given);
    :class:`ConfigError` names a bad key or value."""
    stats = data.get("statistics", {})
    if not isinstance(stats, Mapping):
        raise ConfigError(f"statistics: {show(stats)} must be a table [statistics]")
    bad = sorted(set(stats) - set(_STATISTICS))
    if bad:
        raise ConfigError(f"unknown key 'statistics.{bad[0]}'; allowed: {', '.join(_STATISTICS)}")
    return {
        k: opt.read(f"statistics.{k}", stats[k]) for k, opt in _STATISTICS.items() if k in stats
    }


@dataclass(frozen=True, eq=False)
class RunCoverage:
    """Everything the coverage of one run (or of merged runs) gives, and the settings it
    was computed with."""

    counts: CoverageCounts
    stats: CellStats
    cells: pd.DataFrame
    holes: pd.DataFrame
    summary: dict[str, Any]
    settings: CoverageSettings = field(default_factory=CoverageSettings)

    def lines(self, worst: int = 10) -> list[str]:
        """What ``highfive coverage`` prints: coverage and cell status per model, the
        worst cells (a weighted rate above 1 as ``1.000*``, with the note the report
        gives), which target the status uses (and a gate's, beside it), and the
        follow-up command when cells are undecided."""
        s = self.summary
        runs = [str(r) for r in s.get("runs", [])]
        each = s.get("look_confidence", s["confidence"])
        split = f" (each look's bounds at {100 * each:g}%)" if each != s["confidence"] else ""
        out = [
            f"coverage of {', '.join(runs)}: p_target {show_number(s['p_target'])} at "
            f"{100 * s['confidence']:g}% confidence{split}, holes = cells with "
            + ("no case" if s["min_cases"] == 1 else f"fewer than {s['min_cases']} cases"),
            f"bounds: {s.get('looks_why', 'exact Clopper-Pearson bounds')}",
        ]
        for model, m in s["models"].items():
            by_t = ", ".join(
                f"{t}-way {covered_share(v['covered'], v['cells'])} of {v['cells']:,} cells"
                for t, v in m["coverage"]["by_t"].items()
            )
            status = ", ".join(f"{k} {v:,}" for k, v in m["status"].items())
            out.append(f"  {model:<8} {m['rows']:,} cases; {by_t}")
            out.append(f"  {'':<8} cells: {status}")
        if s["worst"]:
            out.append("worst cells (most confidently bad first):")
            for w in s["worst"][:worst]:
                out.append(
                    f"  {w['model']:<8} {w['label']:<58} {w['failures']:>5}/{w['n']:<6} "
                    f"rate {shown_rate(w['rate'])}  upper {w['upper']:.3f}  "
                    + _needed_text(w, s["p_target"], weighted=bool(s.get("weighting")))
                )
            note = rate_note(s["worst"][:worst])
            if note:
                out.append(f"  {note}")
        out.append(self.target_sentence())
        out.extend(self.focus_hint())
        return out

    def target_sentence(self) -> str:
        """Which failure rate the cell status is judged against, with the numbers, and
        which thresholds a gate of the run judged (from its gate.json) instead."""
        s = self.summary
        failing = " and ".join(
            f"{m['status'].get('failing', 0):,} of {name}" for name, m in s["models"].items()
        )
        stats = self.settings.toml.get("statistics", {})
        where = (
            f"set in {self.settings.source}"
            if "p_target" in stats
            else "the default; set [statistics] p_target in a --bins file"
        )
        runs = s.get("runs", [])
        gate = _read_gate(Path(runs[0])) if len(runs) == 1 else None
        return (
            f"targets: cell status uses p_target {show_number(s['p_target'])} ({where}): "
            f"failing cells ({failing or 'none'}) are shown above it; " + gate_targets(gate)
        )

    def focus_hint(self) -> list[str]:
        """The command that follows up on the undecided cells (none: no line)."""
        undecided = self.cells.loc[self.cells["status"].isin(UNDECIDED), ["cross", "cell"]]
        n = len(undecided.drop_duplicates())
        if not n or self.summary.get("recordings"):
            return []  # recorded cases: cells are label values, not sampled regions
        runs = [str(r) for r in self.summary.get("runs", [])]
        head = f"undecided: {n:,} cells are untested or under-tested; follow up on them with"
        if len(runs) == 1:
            return [f"{head}:", f"  {focus_command(runs[0], self.settings.source)}"]
        return [
            f"{head} a follow-up of one of the runs (planned from its coverage alone):",
            f"  {focus_command('RUN', self.settings.source)}",
        ]


def _needed_text(w: Mapping[str, Any], p_target: float, weighted: bool = False) -> str:
    """Cases still needed both ways, or the status that makes the count moot.

    ``needed`` is missing (None or NaN) for a cell of weighted cases: the count assumes
    unweighted cases (docs/statistics.md section 8), so none is given. For unweighted
    cases it is missing (summary.json's None for ``inf``) only beyond 2^53 cases, the
    most the search counts to (an extreme ``p_target``).
    """
    if w["status"] in ("failing", "passing"):
        return w["status"]
    need, at_rate = w.get("needed"), w.get("needed_at_rate")
    if at_rate is not None:
        rate = f"{at_rate:,.0f} at this rate"
    elif weighted or w["rate"] >= p_target:
        rate = "never at this rate"  # a rate at or above the target is never shown below it
    else:
        rate = "more than 2^53 at this rate"
    if need is None or not math.isfinite(need):
        if weighted:
            return "cases still needed: n/a (weighted cases)"
        return f"needs more than 2^53 more if none fails, {rate}"
    return f"needs {need:,.0f} more if none fails, {rate}"


UNDECIDED = ("untested", "under-tested")
"""Cell statuses a follow-up campaign (``highfive run --focus``) spends its cases on."""


def focus_command(run: str | os.PathLike[str], bins: str | os.PathLike[str] = "") -> str:
    """``highfive run --focus RUN [--bins BINS]``, quoted for a POSIX shell."""
    cmd = f"highfive run --focus {shlex.quote(os.fspath(run))}"
    return cmd + (f" --bins {shlex.quote(os.fspath(bins))}" if bins else "")


def gate_targets(gate: Mapping[str, Any] | None) -> str:
    """What a gate judged cells against, for the sentence beside the cell status."""
    if gate is None:
        return (
            "a release gate ('highfive gate') judges cells against its own p_max instead, "
            "so failing cells here do not by themselves fail a gate"
        )
    crit = [c for c in gate.get("criteria", []) if isinstance(c, Mapping)]
    cells = [c for c in crit if c.get("kind") == "cell_upper_bound"]
    verdict = str(gate.get("verdict", "?"))
    if not cells:
        return (
            f"the run's gate ({verdict}, gate.json) has no per-cell criterion, so cell "
            "status does not enter its verdict"
        )
    rules = sorted({f"{c.get('name')}: {c.get('threshold')}" for c in cells})
    return f"the run's gate ({verdict}, gate.json) judged cells against {'; '.join(rules)}"


def _read_gate(run: Path) -> dict[str, Any] | None:
    """The run's gate.json, or None (absent or unreadable: the sentence then says less)."""
    try:
        gate = json.loads((run / "gate.json").read_text())
    except (OSError, ValueError):
        return None
    return gate if isinstance(gate, dict) else None


def _check_complete(path: Path, allow_partial: bool) -> dict[str, Any]:
    """The campaign record; a partial run must have finished at least one batch."""
    run = RunDir(path)
    if not allow_partial:
        return run.require_complete(
            "coverage",
            otherwise="pass --partial to analyse the batches done so far",
            takes="several",
        )
    record = run.read_campaign(takes="several")
    if record.get("status") != "complete" and not run.done_batches():
        raise RunDirError(
            f"run directory {os.fspath(path)!r} has no finished batch yet (status "
            f"{show(record.get('status'))}, no line in manifest.jsonl): nothing to analyse; "
            "try again once its first batch is done"
        )
    return record


def analyse_run(
    paths: str | os.PathLike[str] | list[str | os.PathLike[str]],
    settings: CoverageSettings | None = None,
    *,
    allow_partial: bool = False,
    worst: int = 20,
    regions: bool = True,
    log: Log | None = None,
) -> RunCoverage:
    """Count, merge (for several runs) and analyse coverage.

    Every run is checked, and every cross counted before any row is read: more than
    :data:`~highfive.coverage._crosses.MAX_CELLS` cells is a :class:`ConfigError`.

    Parameters
    ----------
    paths : path or list of paths
        Run directories; several are merged (same space, bins and models required).
    settings : CoverageSettings, optional
    allow_partial : bool
        Analyse a run that has not finished (otherwise :class:`RunDirError`): the
        batches its manifest lists as done, and nothing else.
    worst : int
        How many worst cells the summary lists.
    regions : bool
        Describe where failures live as boxes (``summary["regions"]``), from about
        :data:`REGION_ROWS` cases per model at most (a deterministic subsample by a hash
        of the case id, :func:`~highfive.coverage._regions.subsample`).
    log : callable, optional
        Receives progress lines when the crosses hold many cells (e.g. 3-way).
    """
    settings = settings or CoverageSettings()
    runs = [Path(p) for p in (paths if isinstance(paths, list) else [paths])]
    plans = []
    records = [_check_complete(p, allow_partial) for p in runs]
    recorded = {bool(r.get("config", {}).get("recordings")) for r in records}
    if len(recorded) > 1:
        raise RunDirError(
            "cannot merge coverage of a campaign of recordings with a synthetic one: their "
            "cells are label values and parameter bins; analyse each run on its own"
        )
    _check_same_models(runs, records)
    _check_same_generators(runs, records)
    _check_same_judging(runs, records)
    designs = []
    spaces = [ParameterSpace.from_arrow_schema(RunDir(p).results_dataset().schema) for p in runs]
    # Runs of recordings hold the label values their labels files hold (a train run and a
    # test run differ in split): merged, they are binned by the values of them all.
    union = None
    if recorded == {True} and len(runs) > 1:
        union = label_union(spaces, [os.fspath(p) for p in runs])
    for path, space in zip(runs, spaces, strict=True):
        binning = Binning.from_space(union or space, settings.toml.get("bins", {}))
        if recorded == {True} and not len(binning):
            raise ConfigError(_nothing_to_bin(runs, union or space))
        plans.append((path, binning, load_crosses(settings.toml, binning)))
        designs.append(run_design(path, space))
    _check_looks(settings, designs)
    counts: CoverageCounts | None = None
    for path, binning, crosses in plans:
        cells, n_crosses = crosses_size(binning, [], crosses)
        progress = progress_for(log, cells, n_crosses, os.fspath(path))
        one = CoverageCounts.from_run(path, binning, crosses, progress=progress)
        counts = one if counts is None else counts.merge(one)
    assert counts is not None
    looks, why = effective_looks(settings.looks, len(runs))
    stats, extra, weighting = _cell_stats(designs, counts, settings, looks)
    summ = summary(stats, min_cases=settings.min_cases, worst=worst)
    if weighting is not None:
        summ["weighting"] = weighting
        why = weighting["looks_why"]
    summ["looks_why"] = why
    summ["runs"] = [os.fspath(p) for p in runs]
    summ["recordings"] = recorded == {True}  # label cells: no follow-up can sample them
    summ["bins_file"] = settings.source or None
    summ["regions"] = _regions(runs, counts.models, settings.confidence, union) if regions else []
    frame = cells_frame(stats)
    for name, column in extra.items():  # weighted runs: rate_sn and ess
        frame[name] = column.ravel()
    return RunCoverage(counts, stats, frame, holes(counts, settings.min_cases), summ, settings)


def _check_same_models(runs: Sequence[Path], records: Sequence[Mapping[str, Any]]) -> None:
    """Merged runs must have the same models: a model of one run alone would be counted
    over part of the merge, and its looks miscounted."""
    models = [sorted(str(m["id"]) for m in r.get("models", [])) for r in records]
    _require_same(
        runs, models, lambda m: f"models {show(m)}", "merged runs must have the same models"
    )


def _check_same_generators(runs: Sequence[Path], records: Sequence[Mapping[str, Any]]) -> None:
    """Merged runs of generated cases must come from one version of the generators: the
    cells of the others would pool draws of two distributions of traces."""
    made = [CampaignConfig.generators_of(r) for r in records]
    _require_same(
        runs,
        made,
        lambda v: f"generators version {v}",
        "their cases are traces made another way",
    )


def _check_same_judging(runs: Sequence[Path], records: Sequence[Mapping[str, Any]]) -> None:
    """Merged runs must judge their cases alike: pooled, the counts of a tolerance of
    0.5 s and of 0.05 s estimate no one failure rate."""
    for path, record in zip(runs[1:], records[1:], strict=True):
        a, b = os.fspath(runs[0]), os.fspath(path)
        differ = judging_differences(records[0], record, repr(a), repr(b))
        if differ:
            raise RunDirError(
                f"cannot merge {a!r} with {b!r}: they judge their cases differently "
                f"({'; '.join(differ)}), and their pooled rate would estimate no one rate; "
                "analyse each run on its own"
            )


def _require_same(runs: Sequence[Path], values: Sequence[Any], shown: Any, why: str) -> None:
    """RunDirError naming the first run whose value differs from the first run's (each
    value as ``shown`` words it) and ``why`` the merge cannot be."""
    for path, value in zip(runs[1:], values[1:], strict=True):
        if value != values[0]:
            raise RunDirError(
                f"cannot merge {os.fspath(runs[0])!r} ({shown(values[0])}) with "
                f"{os.fspath(path)!r} ({shown(value)}): {why}; analyse each run on its own"
            )


def _nothing_to_bin(runs: Sequence[Path], space: ParameterSpace) -> str:
    """Why runs of recordings have no cell: one file name, or bins that ignore every
    label."""
    files = (space["recording"].choices if "recording" in space.names else None) or ()
    one = len(runs) == 1
    whose = f"run {os.fspath(runs[0])!r} is" if one else "the runs' recordings are"
    what = (
        f"{whose} of one {'recording' if one else 'file name'} ({show(files[0])}) and no "
        "metadata column with two values"
        if len(files) == 1
        else f"{whose} of label columns each fixed to one value or ignored by the bins"
    )
    see = (
        f"its verdicts are in its results: highfive replay {shlex.quote(os.fspath(runs[0]))} "
        "lists the failing cases"
        if one
        else "the verdicts are in each run's results: highfive replay RUN lists a run's "
        "failing cases"
    )
    return (
        f"coverage: {what}, so there is no cell to cover (recordings are binned by their "
        f"metadata columns, or by file); {see}"
    )


def _check_looks(settings: CoverageSettings, designs: Sequence[RunDesign]) -> None:
    """Anytime-valid bounds exist for cases of the base distribution only: asking for
    them on weighted cases is refused rather than answered with one-look bounds."""
    weighted = [d for d in designs if d.kind != "base"]
    if settings.looks == "anytime" and weighted:
        d = weighted[0]
        source = f" (bins file {settings.source})" if settings.source else ""
        raise ConfigError(
            f"statistics.looks: 'anytime'{source}, but {d.path!r} has weighted cases "
            f"(sampler {d.kind}); anytime bounds are not available for weighted cases; "
            "use looks = 'fixed' (weighted bounds for one look, split over merged runs)"
        )


def _cell_stats(
    designs: list[RunDesign], counts: CoverageCounts, settings: CoverageSettings, looks: str
) -> tuple[CellStats, dict[str, np.ndarray], dict[str, Any] | None]:
    """Exact binomial statistics, or weighted ones when some run did not sample the base
    distribution (a focus follow-up, importance sampling): see ``_weighted``.

    Weighted bounds are valid for one look; over several merged runs (one look each)
    the error level is split evenly between them (Bonferroni), which keeps the merged
    decision valid however the later runs were planned from the earlier ones.
    """
    if needs_weights(designs):
        split = len(designs) if looks == "anytime" else 1
        stats, extra, weighting = weighted_cell_stats(
            counts,
            designs,
            p_target=settings.p_target,
            confidence=settings.confidence,
            adjust=settings.adjust,
            looks=split,
        )
        weighting["looks_why"] = (
            f"{split} runs merged, each one look: weighted bounds at confidence "
            f"1 - {1.0 - settings.confidence:g}/{split} = {stats.each_look:g} each "
            f"(Bonferroni over the looks), {settings.confidence:g} for all looks together"
            if split > 1
            else "one weighted run, one look: weighted bounds at the stated confidence"
        )
        return stats, extra, weighting
    stats = cell_stats(
        counts,
        p_target=settings.p_target,
        confidence=settings.confidence,
        adjust=settings.adjust,  # type: ignore[arg-type]
        looks=looks,  # type: ignore[arg-type]
    )
    return stats, {}, None


def effective_looks(setting: str, runs: int) -> tuple[str, str]:
    """The statistics mode of a coverage of ``runs`` runs, and why, in words.

    Each run merged counts as one look: more than one always gets the anytime-valid
    bounds, whatever ``setting`` says.
    """
    if runs > 1:
        return "anytime", f"{runs} runs merged, each one look: anytime-valid bounds"
    if setting == "anytime":
        return "anytime", "looks = 'anytime' in the bins file: anytime-valid bounds"
    return "fixed", "one run, one look: exact Clopper-Pearson bounds"


REGION_ROWS = 200_000


def _regions(
    runs: list[Path],
    models: Sequence[str],
    confidence: float,
    labels: ParameterSpace | None = None,
) -> list[dict[str, Any]]:
    """Failure regions of the runs' cases (``labels``: the union of merged runs of
    recordings' label values, else each run's own space, which merged runs share), at
    the coverage's ``confidence`` (the bounds that choose and stop boxes, and each
    region's held-out interval)."""
    frames, space = [], None
    for path in runs:
        dataset = RunDir(path).results_dataset()
        space = ParameterSpace.from_arrow_schema(dataset.schema)
        cases = dataset.count_rows() // max(len(models), 1)
        keep = max(1, -(-cases // REGION_ROWS))  # about one case in keep, by hash
        columns = ["case_id", "model", "verdict", *space.names]
        for batch in dataset.to_batches(columns=columns):
            part = batch.to_pandas()
            frames.append(part[subsample(part["case_id"].to_numpy(), keep)] if keep > 1 else part)
    frame = pd.concat(frames, ignore_index=True)
    frame["model"] = frame["model"].astype(str)
    space = labels or space
    assert space is not None
    out: list[dict[str, Any]] = []
    for model in models:
        out.extend(regions_dicts(failure_regions(frame, space, model=model, confidence=confidence)))
    return out


def write_coverage(path: str | os.PathLike[str], result: RunCoverage) -> list[Path]:
    """Write the coverage files into ``path/coverage/``, all or none; return them.

    Every file is written to a temporary name first; only when all are written are they
    renamed into place, so a failure (disk full) leaves the previous coverage whole,
    never some files of one analysis beside some of another.
    """
    out = Path(path) / "coverage"
    tables = (
        ("counts.parquet", result.counts.to_arrow()),
        ("cells.parquet", pa.Table.from_pandas(result.cells, preserve_index=False)),
        ("holes.parquet", pa.Table.from_pandas(result.holes, preserve_index=False)),
    )
    summary = json_text(result.summary)

    def table_writer(table: pa.Table) -> Writer:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:  # pyarrow cannot open a name that is not UTF-8
                pq.write_table(table, fh)

        return write

    def cannot(flag: str, dest: Path, exc: OSError) -> RunDirError:
        # disk full, read-only: one line naming the file (no folder left behind)
        reason = exc.strerror or str(exc).split("Detail: ")[-1]
        return RunDirError(
            f"cannot write {os.fspath(dest)}: {reason}; free some space (or make the "
            "folder writable), then run 'highfive coverage' again"
        )

    writers: dict[str, tuple[Path, Writer]] = {
        name: (out / name, table_writer(table)) for name, table in tables
    }
    writers["summary.json"] = (out / "summary.json", lambda tmp: tmp.write_text(summary))
    write_together(writers, error=cannot)
    return [out / name for name, _ in tables] + [out / "summary.json"]
