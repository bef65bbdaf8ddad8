"""Replay and shrink single cases of a finished (or interrupted) run.

Replay regenerates case ``i`` from the run's campaign.json alone: its point comes from
the sampler at index ``i`` and its random streams from ``SeedSequence(seed,
spawn_key=(i,))``, so the trace is bit-identical to the one the campaign judged; every
counter is loaded again from its recorded source (refused if its identity changed) and
the case is judged by the campaign's own function, so every stored column is compared
with the fresh one to prove it: the case's parameters, ``source``, ``recording``, the
labels' metadata and ``weight`` (what coverage bins and weighs the case by), and every
outcome column (errors and timeouts included).

A recorded case (a campaign of ``[recordings]``) is read again from its file alone
(:class:`StoredRecordings`), which must still have the SHA-256 the campaign recorded
(else a one-line refusal), and judged by the campaign's own function against the
labels the run recorded; it has no parameters to override or shrink.

Shrink moves a failing case's parameters towards the nominal point, one dimension at
a time, keeping each move only while the same verdict persists, until no dimension
moves (or until its budget of evaluations is spent: then the point is not minimal,
and :attr:`ShrinkResult.limited` says so): what is left are the few parameters the
failure really needs.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from highfive.generators import (
    ImportanceSampler,
    InvalidParameter,
    ParameterSpace,
    Proposal,
    Sampler,
    Trace,
    make_sampler,
    synthesize,
)

from ._campaign import load_recordings
from ._case import Judged, judge
from ._config import CampaignConfig
from ._importance import recorded_proposals, stage_starts
from ._labels import RecordingCase
from ._oracle import Score
from ._pipeline import CountResult
from ._recording import open_recording
from ._recording_case import judge_recording
from ._records import Outcome, outcome_table
from ._rundir import RunDir, RunDirError
from ._verdicts import is_failure
from .counters import CounterPlugin

__all__ = [
    "Replay",
    "ShrinkResult",
    "StoredRecordings",
    "load_run",
    "replay",
    "replay_command",
    "replay_loaded",
    "shrink",
]


class StoredRecordings:
    """The recorded cases of a run, case ``i`` read from its file only when asked for.

    Each is the recording as the run recorded it in campaign.json: its name, SHA-256,
    truth and metadata. So a case replays whatever happened since to the labels file
    (a label fixed, rows reordered) or to the other recordings (removed, altered); only
    its own file must be as it was. The file is looked for in the recordings folder
    resolved against the campaign file's folder where the run finds it now (moved or
    copied with the run, at the place relative to the run directory the run recorded),
    then where the run recorded it.
    """

    def __init__(self, run: RunDir, record: Mapping[str, Any], config: CampaignConfig) -> None:
        assert config.recordings is not None
        self._run = run
        self._config = config
        self._files: list[Mapping[str, Any]] = list(
            record.get("identity", {}).get("recording_files", [])
        )
        here = run.campaign_folder(record)
        folders = [config.recordings.path(b) for b in (here, config.base) if b]
        self._folders = list(dict.fromkeys(folders)) or [config.recordings.path("")]
        self._read = functools.cache(self._case)

    def __len__(self) -> int:
        return len(self._files)

    def __getitem__(self, case: int) -> RecordingCase:
        return self._read(case)

    def _case(self, case: int) -> RecordingCase:
        stored = self._files[case]
        name = str(stored["file"])
        found = [f / name for f in self._folders if (f / name).is_file()]
        if not found:
            where = " nor in ".join(repr(os.fspath(f)) for f in self._folders)
            where = f"neither in {where}" if len(self._folders) > 1 else f"not in {where}"
            raise InvalidParameter(
                f"case {case} is the recording {name}, which is {where}; put the "
                "file back (a moved run finds the recordings beside the campaign file moved "
                "with it)"
            )
        data = found[0].read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha != stored["sha256"]:
            raise RunDirError(
                f"recording {name} changed since the run {self._run.path} started (SHA-256 "
                f"{str(stored['sha256'])[:12]} -> {sha[:12]}); case {case} cannot be judged "
                "as the run judged it: restore the file"
            )
        rec = self._config.recordings
        assert rec is not None
        opened = open_recording(
            found[0], units=rec.units, time_unit=rec.time_unit, advise="campaign"
        )
        times = stored.get("high_fives")
        metadata = stored.get("metadata") or {}
        return RecordingCase(
            name,
            data,
            sha,
            None if times is None else tuple(float(t) for t in times),
            int(stored["count"]),
            opened.duration_s,
            tuple((c, str(metadata[c])) for c in rec.metadata),
            rec.units,
            rec.time_unit,
            recording=opened,
        )


@dataclass(frozen=True)
class LoadedRun:
    """A run directory opened for replay: its configuration and its counters."""

    run: RunDir
    config: CampaignConfig
    space: ParameterSpace
    counters: dict[str, CounterPlugin]
    recordings: StoredRecordings | tuple[RecordingCase, ...] = ()

    @functools.cached_property
    def sampler(self) -> Sampler:
        """The campaign's sampler, as its batches made it (made once: for an importance
        run it reads the recorded proposals from campaign.json)."""
        cfg = self.config
        props: tuple[Proposal, ...] = ()
        starts: tuple[int, ...] = (0,)
        if cfg.sampler == "importance":
            props = tuple(recorded_proposals(self.run.read_campaign(), self.space.d))
            starts = stage_starts(cfg.importance, cfg.cases, cfg.batch_size)
        return make_sampler(
            cfg.sampler,
            self.space.d,
            cfg.cases,
            cfg.seed,
            cfg.focus_boxes(),
            proposals=props,
            starts=starts,
        )


def load_run(path: str | Path) -> LoadedRun:
    """Open a run directory and load its counters again (identities checked)."""
    run = RunDir(path)
    record = run.read_campaign(config=True)
    config = CampaignConfig.from_dict(record["config"])
    recordings: StoredRecordings | tuple[RecordingCase, ...] = ()
    if config.recordings is not None:
        if "recording_files" in record.get("identity", {}):
            recordings = StoredRecordings(run, record, config)
        else:  # pragma: no cover (every run of recordings records its files)
            recordings = load_recordings(config)
    CampaignConfig.require_generators(
        record,
        f"run directory {run.shown}",
        "its cases cannot be made again as they ran; replay them with the highfive that "
        "made the run, or run the campaign again",
    )
    return LoadedRun(run, config, config.parameter_space(), run.counters(), recordings)


def case_row(loaded: LoadedRun, case: int) -> dict[str, Any]:
    cfg = loaded.config
    if not 0 <= case < cfg.cases:
        raise InvalidParameter(f"case: {case} is outside the run's cases 0..{cfg.cases - 1}")
    if loaded.recordings:
        rec = loaded.recordings[case]
        return {"recording": rec.file, **dict(rec.metadata)}
    point = loaded.sampler.points(case, 1)
    return loaded.space.rows(point)[0]


def case_columns(loaded: LoadedRun, case: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """The columns a result row of ``case`` holds besides ``case_id`` and the outcome,
    as the campaign writes them for ``row`` (from :func:`case_row`): the parameters,
    ``source``, ``recording``, a recorded case's metadata and, for importance-sampled
    cases, ``weight``."""
    if loaded.recordings:
        rec = loaded.recordings[case]
        nulls = dict.fromkeys(loaded.space.names)
        return {**nulls, "source": "recording", "recording": rec.file, **dict(rec.metadata)}
    out = {**row, "source": "synthetic", "recording": None}
    sampler = loaded.sampler
    if isinstance(sampler, ImportanceSampler):
        # Computed over the case's whole batch, as the campaign computed it.
        start, count = loaded.config.batch_range(case // loaded.config.batch_size)
        weights = np.exp(sampler.log_weights(start, sampler.points(start, count)))
        out["weight"] = float(weights[case - start])
    return out


def case_trace(loaded: LoadedRun, case: int, row: Mapping[str, Any]) -> Trace:
    seed = np.random.SeedSequence(loaded.config.seed, spawn_key=(case,))
    return synthesize(row, seed, space=loaded.space)


@dataclass(frozen=True)
class Replay:
    """A regenerated case with every counter's output and verdict."""

    case: int
    row: dict[str, Any]
    trace: Trace
    results: dict[str, CountResult | None]  # None: the counter gave no answer
    scores: dict[str, Score]
    outcomes: dict[str, Outcome]
    stored: dict[str, dict[str, Any]]  # the campaign's rows for this case, by counter
    counters: dict[str, CounterPlugin]
    run_status: str = "complete"  # campaign.json's status
    batches_done: int = 0  # batches the manifest lists
    batches: int = 0  # batches of the whole campaign
    columns: dict[str, Any] = field(default_factory=dict)
    """The case's columns besides the outcome, as the campaign writes them (none: not
    compared, as for a case changed with parameter overrides)."""
    made_by: str = ""
    """The digest of the highfive code the run recorded (``versions["highfive
    source"]`` of campaign.json), "" if none."""

    def other_code(self) -> str | None:
        """Why stored messages may differ without the counter or case having changed:
        the run was made by other highfive code than this (whose messages may be
        worded otherwise); None if the same code, or the run records none."""
        from ._cluster import code_digest

        now = code_digest()
        if not self.made_by or self.made_by == now:
            return None
        return (
            f"the run was made by other highfive code (source {self.made_by}, this is "
            f"{now}): its messages may be worded otherwise"
        )

    def not_compared(self) -> str | None:
        """Why the case could not be compared with stored rows (None: it was, or it
        was changed with parameter overrides and is not meant to be)."""
        if self.stored and len(self.stored) == len(self.outcomes):
            return None
        if self.stored:
            missing = [m for m in self.outcomes if m not in self.stored]
            return (
                f"case {self.case} has no stored row of {', '.join(missing)} in the run's "
                "results; those were not compared"
            )
        why = ""
        if self.run_status != "complete":
            why = (
                f" (the run is incomplete: status {self.run_status!r}, "
                f"{self.batches_done} of {self.batches} batches done)"
            )
        return f"case {self.case} is not in the run's stored results{why}; nothing was compared"

    def differences(self) -> dict[str, list[str]]:
        """Per counter, the stored columns whose fresh value differs: the case's
        columns (parameters, ``source``, ``recording``, metadata, ``weight``), then the
        outcome columns."""
        out = {}
        for cid, row in self.stored.items():
            fresh = {**self.columns, **outcome_table([self.outcomes[cid]]).to_pylist()[0]}
            cols = [c for c, v in fresh.items() if c in row and not _same(row[c], v)]
            if row.get("source") == "recording" and all(
                _nan(row.get(c)) for c in _PROBABILITY_COLUMNS
            ):  # a run made before recorded cases kept their windows' probabilities
                cols = [c for c in cols if c not in _PROBABILITY_COLUMNS]
            if cols:
                out[cid] = cols
        return out

    def differing(self) -> list[str]:
        """Counters with any stored column that differs from the fresh one."""
        return list(self.differences())

    @property
    def matches_stored(self) -> bool:
        """Whether every stored column equals the fresh one."""
        return not self.differing()


_PROBABILITY_COLUMNS = ("max_prob", "margin")


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def _recorded(loaded: LoadedRun, case: int, what: str) -> RecordingCase:
    """The recorded case ``case`` (refused with ``what``, e.g. parameter overrides)."""
    if what:
        raise InvalidParameter(
            f"case {case} is the recording {loaded.recordings[case].file}; it has no "
            f"parameters, so {what}"
        )
    return loaded.recordings[case]


def _evaluate(loaded: LoadedRun, trace: Trace, counters: Sequence[str]) -> Judged:
    chosen = {cid: loaded.counters[cid] for cid in counters}
    with threadpool_limits(limits=1, user_api="blas"):  # as in the campaign: same bits
        return judge(
            chosen, trace, loaded.config.tolerance, chunk_s=float(loaded.config.stream_chunk_s)
        )


def _stored_rows(
    loaded: LoadedRun, case: int, counters: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The run's stored result rows of ``case``, per counter (none if not stored)."""
    stored = {}
    batch = case // loaded.config.batch_size
    if loaded.run.stored_batch(batch):
        # The case's batch is known, so only its files are read (not the whole run).
        for mid in counters:
            path = loaded.run.result_file(mid, batch)
            if path.is_file():
                rows = pq.read_table(path, filters=[("case_id", "==", case)]).to_pylist()
                if rows:
                    stored[mid] = {**rows[0], "model": mid}
    return stored


def _failure(outcome: Any) -> tuple[str, str]:
    """What a shrink step must keep: the verdict and, for an error, what was raised
    (the message up to its first colon), so that one crash is not traded for another."""
    kind = str(outcome.message or "").split(":", 1)[0] if outcome.verdict == "error" else ""
    return str(outcome.verdict), kind


def replay(path: str | Path, case: int, overrides: Mapping[str, Any] | None = None) -> Replay:
    """Regenerate ``case`` of the run at ``path`` (optionally with parameters changed)."""
    return replay_loaded(load_run(path), case, overrides)


def replay_loaded(
    loaded: LoadedRun, case: int, overrides: Mapping[str, Any] | None = None
) -> Replay:
    """:func:`replay` for a run already opened with :func:`load_run` (many cases)."""
    row = case_row(loaded, case)
    if loaded.recordings:
        rec = _recorded(loaded, case, "--param cannot change it" if overrides else "")
        with threadpool_limits(limits=1, user_api="blas"):  # as in the campaign
            judged = judge_recording(loaded.counters, rec, loaded.config.tolerance)
    else:
        if overrides:
            row.update(loaded.space.validate(overrides, partial=True))
        judged = _evaluate(loaded, case_trace(loaded, case, row), list(loaded.counters))
    trace = judged.trace
    stored = {} if overrides else _stored_rows(loaded, case, list(loaded.counters))
    columns = case_columns(loaded, case, row) if stored else {}
    record = loaded.run.read_campaign()
    versions = record.get("versions")
    made_by = versions.get("highfive source", "") if isinstance(versions, dict) else ""
    return Replay(
        case,
        row,
        trace,
        judged.results,
        judged.scores,
        judged.outcomes,
        stored,
        loaded.counters,
        str(record.get("status")),
        len(loaded.run.done_batches()),
        -(-loaded.config.cases // loaded.config.batch_size),
        columns,
        made_by if isinstance(made_by, str) else "",
    )


@dataclass(frozen=True)
class ShrinkResult:
    """A failing case moved as close to nominal as its verdict allows."""

    case: int
    model: str
    verdict: str
    original: dict[str, Any]
    shrunk: dict[str, Any]
    nominal: dict[str, Any]
    evaluations: int
    limited: bool = False
    """Whether it stopped because its budget of evaluations was spent while a parameter
    could still move: then the point is not minimal."""

    def changed(self) -> dict[str, Any]:
        """The parameters that still differ from nominal: what the failure needs."""
        return {k: v for k, v in self.shrunk.items() if v != self.nominal[k]}


def shrink(
    path: str | Path, case: int, model: str | None = None, *, max_steps: int = 400
) -> ShrinkResult:
    """Minimise a failing case towards nominal.

    Each step tries, for one dimension, the nominal value, then points halfway there
    (three halvings for numeric dimensions); the first that keeps ``model``'s verdict
    is kept. Passes over all dimensions repeat until none moves, or until the next
    evaluation would be the ``max_steps + 1``-th (then :attr:`ShrinkResult.limited`).

    Raises
    ------
    InvalidParameter
        An unknown (or empty) ``model``; a case whose fresh verdict of some model in
        question differs from its stored one (it does not reproduce); a case that
        passes with every model in question; a recorded case.
    """
    if max_steps < 1:
        raise InvalidParameter(f"max_steps: {max_steps} must be an integer >= 1")
    loaded = load_run(path)
    row = case_row(loaded, case)
    if loaded.recordings:
        _recorded(loaded, case, "there is nothing to shrink")
    names = [model] if model is not None else list(loaded.counters)
    for m in names:
        if m not in loaded.counters:
            raise InvalidParameter(
                f"model: {m!r} is not in this run ({', '.join(loaded.counters)})"
            )
    verdicts = _evaluate(loaded, case_trace(loaded, case, row), names).outcomes
    # Compared before anything else: a stored failure that passes now is no passing case.
    stored = _stored_rows(loaded, case, names)
    changed = [
        f"{m}: stored verdict {stored[m].get('verdict')}, now {verdicts[m].verdict}"
        for m in names
        if m in stored and stored[m].get("verdict") != verdicts[m].verdict
    ]
    if changed:
        raise InvalidParameter(
            f"case {case} does not reproduce with {'; with '.join(changed)} (is the counter "
            f"deterministic? 'highfive replay RUN {case}' shows the difference); nothing to "
            "shrink"
        )
    failing = [m for m in names if is_failure(verdicts[m].verdict)]
    if not failing:
        raise InvalidParameter(
            f"case {case} passes with {', '.join(names)}; only failing cases can be shrunk"
        )
    target, verdict = failing[0], verdicts[failing[0]].verdict
    keep = _failure(verdicts[target])
    nominal = loaded.space.nominal()
    current, steps = dict(row), 0

    def still_fails(candidate: dict[str, Any]) -> bool:
        nonlocal steps
        steps += 1
        judged = _evaluate(loaded, case_trace(loaded, case, candidate), [target])
        return _failure(judged.outcomes[target]) == keep

    moved, limited = True, False
    while moved and not limited:
        moved = False
        for dim in loaded.space:
            if current[dim.name] == nominal[dim.name]:
                continue
            for value in _towards(current[dim.name], nominal[dim.name], dim.kind):
                if steps >= max_steps:
                    limited = True  # a candidate is left untried: not a fixed point
                    break
                if still_fails({**current, dim.name: value}):
                    current[dim.name] = value
                    moved = True
                    break
            if limited:
                break
    return ShrinkResult(case, target, verdict, row, current, nominal, steps, limited)


def _towards(value: Any, nominal: Any, kind: str) -> list[Any]:
    """Candidates from ``nominal`` back towards ``value``: nominal first, then halfway."""
    if kind == "categorical":
        return [nominal]
    out: list[Any] = [nominal]
    for frac in (0.5, 0.75, 0.875):
        v = nominal + (value - nominal) * frac
        out.append(round(v) if kind == "integer" else float(v))
    seen: list[Any] = []
    for v in out:
        if v != value and v not in seen:
            seen.append(v)
    return seen


def replay_command(
    run: str | os.PathLike[str], case: int | str, params: Mapping[str, Any] | None = None
) -> str:
    """The shell command that replays ``case`` (a case id, or a placeholder such as
    ``CASE_ID``) with ``params`` set, quoted for a POSIX shell; a run folder whose name
    starts with ``-`` is written ``./-r``, so that it is not read as an option; a number
    is written so that it reads back as the same value (rounded to 6 digits, the command
    replayed a point near the one shrink found)."""
    where = os.fspath(run)
    if where.startswith("-"):
        where = os.path.join(os.curdir, where)
    flags = " ".join(f"--param {shlex.quote(f'{k}={_fmt(v)}')}" for k, v in (params or {}).items())
    return f"highfive replay {shlex.quote(where)} {case} {flags}".rstrip()


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return repr(float(v))  # the shortest text that reads back as the same float
    if isinstance(v, np.integer):
        return str(int(v))
    return str(v)
