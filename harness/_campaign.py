"""Monte Carlo campaigns: many generated cases through every counter, on dask.

The client loads and checks the counters (a counter that cannot start is refused
before anything is written), records their identities in campaign.json, and
schedules batch descriptors (first case, count), never arrays: workers run
:func:`~highfive.harness._batch.run_batch` and return small Arrow tables. The client
alone writes files (so a remote cluster needs no shared file system), keeps a bounded
number of tasks in flight (memory stays flat for any number of cases), and appends a
manifest line per finished batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, TextIO

from highfive.generators import (
    ConfigError,
    ParameterSpace,
    RunDirError,
    make_sampler,
)

from ._batch import BatchJob
from ._cluster import (
    WorkerLosses,
    check_dashboard,
    check_workers,
    code_digest,
    dashboard_link,
    dashboard_served,
    execute,
    executor,
    security,
)
from ._config import CampaignConfig
from ._importance import (
    check_stage_layout,
    first_proposal,
    stage_batches,
    stage_job,
    warn_defensive,
)
from ._labels import RecordingCase, check_windows, labels_space, read_labels
from ._latency import measure_latency
from ._progress import CampaignSummary, Progress
from ._records import counter_id
from ._rundir import SCHEMA_VERSION, RunDir
from ._verdicts import is_failure
from .counters import CounterOptions, CounterPlugin, load_counter
from .counters.onnx import load_model

__all__ = ["CampaignSummary", "load_counters", "run_campaign"]


def load_counters(
    config: CampaignConfig, recorded: Mapping[tuple[str, str], str] | None = None
) -> dict[str, CounterPlugin]:
    """The campaign's counters by id, loaded and checked against its settings.

    Each is loaded (one-line :class:`ConfigError` naming a counter that does not
    import, is not callable, does not exist or is not executable), checked against
    the campaign's settings (streaming) and probed (an external program must start
    and greet), so a counter that cannot run is refused before anything is written.
    A counter without an id gets the one ``recorded`` gives its (kind, identity), the
    id a run being resumed knows it by, else its default id; two counters with one id
    are refused.
    """
    options = CounterOptions(
        threads=config.execution.threads_per_worker,
        timeout_s=float(config.counter_timeout_s),
        base=config.base,
    )
    recorded = recorded or {}
    counters: dict[str, CounterPlugin] = {}
    sources: dict[str, str] = {}
    try:
        for spec in config.counters:
            counter = load_counter(spec.source, version=spec.version, options=options)
            cid = spec.id or recorded.get((counter.kind, counter.identity.sha256), "")
            cid = cid or counter_id(counter.default_id)
            if cid in counters:
                raise ConfigError(
                    f"models: {sources[cid]!r} and {spec.source!r} both get the id {cid!r}; "
                    f'name one with {{counter = "{spec.source}", id = "..."}}'
                )
            sources[cid] = spec.source
            counter.check(chunk_s=float(config.stream_chunk_s))
            counters[cid] = counter
            counter.probe()
    except BaseException:
        for c in counters.values():
            c.close()
        raise
    return counters


def _counter_records(counters: Mapping[str, CounterPlugin]) -> list[dict[str, Any]]:
    out = []
    for cid, counter in counters.items():
        entry = counter.identity.record(cid)
        if "bytes" in entry["identity"]:
            entry["bytes"] = entry["identity"]["bytes"]  # ONNX: what a size criterion reads
        out.append(entry)
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in (
        "highfive",
        "numpy",
        "scipy",
        "onnxruntime",
        "pyarrow",
        "pandas",
        "dask",
        "distributed",
        "PyWavelets",
    ):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    out["highfive source"] = code_digest()  # the code that computed the cases
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_campaign(
    config: CampaignConfig,
    *,
    resume: bool = False,
    client: Any = None,
    stream: TextIO | Literal["stderr"] | None = "stderr",
) -> CampaignSummary:
    """Run (or resume) a campaign and return its summary.

    Parameters
    ----------
    config : CampaignConfig
    resume : bool
        Complete an interrupted run in the same directory: only missing batches run.
        Refused if the directory holds a run of another configuration.
    client : distributed.Client, optional
        Use this client instead of the one ``config.execution`` describes.
    stream : text stream, "stderr" or None
        Where progress goes: by default ``sys.stderr`` as it is when the campaign
        starts (so a redirected or captured stderr gets it); None: silent.
    """
    if stream == "stderr":
        stream = sys.stderr
    recordings = load_recordings(config)  # every row and file checked before anything runs
    labels = None
    if config.recordings is not None:
        labels = labels_space(recordings, config.recordings.metadata)
        config = replace(config, cases=len(recordings))
    space = config.parameter_space()
    boxes = config.focus_boxes()
    if config.importance and not resume:  # a recorded run resumes as it ran
        check_stage_layout(config.importance, config.cases, config.batch_size)
        warn_defensive(config.importance, config.cases)
    if config.recordings is None:
        proposals = (first_proposal(config.importance, space.d),) if config.importance else ()
        make_sampler(
            config.sampler,
            space.d,
            config.cases,
            config.seed,
            boxes,
            proposals=proposals,
            warn=True,
        )
    security(config)  # TLS settings, local workers and threads and the dashboard
    check_workers(config.execution)  # checked before anything slow starts
    check_dashboard(config.execution)
    # Written through an absolute path: a counter running in this process (workers = 0)
    # may change the working directory, even after its time limit, from a thread
    # Python cannot stop; messages show the folder as given.
    shown = Path(config.out) / config.name
    run = RunDir(shown.absolute(), shown)
    run.check_utf8()  # before anything is written
    if not (run.exists() or run.manifest.exists()) and run.stages() is not None:
        raise RunDirError(
            f"run directory {shown} is a sequential campaign's folder (made by "
            "--until-decided); "
            + (
                "resume it with --until-decided --resume and the same gate, --budget, "
                "--stage and --spending"
                if resume
                else "use another name or --out"
            )
        )
    if resume and not (run.exists() or run.manifest.exists()):
        left = {p.name for p in run.path.iterdir()} if run.path.is_dir() else None
        what = (
            "does not exist"
            if left is None
            else "holds no record of a run (it was stopped before its first write)"
            if left <= {".lock"}
            else "holds no record of a run (no campaign.json)"
        )
        raise RunDirError(
            f"run directory {shown} {what}, so there is nothing to resume; drop --resume "
            "to start it, or check --out and the name"
        )
    # Counters the campaign does not name keep the ids the run (when resumed) or the
    # run it follows up (a focus run, a stage) gave them.
    recorded = RunDir(config.parent).recorded_ids() if config.parent else {}
    counters = load_counters(config, {**recorded, **(run.recorded_ids() if resume else {})})
    try:
        if config.recordings is not None:
            windows = {cid: c.spec.window_s for cid, c in counters.items() if c.spec is not None}
            check_windows(recordings, config.recordings.labels, windows)
        identity = {
            **config.identity(),
            **recordings_identity(config, recordings),
            "schema_version": SCHEMA_VERSION,
            "models": [
                {"id": cid, "kind": c.kind, "sha256": c.identity.sha256}
                for cid, c in counters.items()
            ],
        }
        # The lock comes first: two campaigns started together cannot both pass the
        # existence check, and nothing (no cluster, no file) is started before it.
        with run.lock():
            return _run_locked(
                config,
                run,
                identity,
                space,
                boxes,
                counters,
                resume,
                client,
                stream,
                recordings,
                labels,
            )
    finally:
        for counter in counters.values():
            counter.close()


def load_recordings(config: CampaignConfig) -> tuple[RecordingCase, ...]:
    """The campaign's labelled recordings, checked whole (none for a synthetic one).

    Raises
    ------
    InvalidParameter
        The first problem in the labels file or a recording, in one line.
    """
    rec = config.recordings
    if rec is None:
        return ()
    return read_labels(
        rec.path(config.base),
        rec.labels,
        rec.metadata,
        units=rec.units,
        time_unit=rec.time_unit,
    )


def recordings_identity(
    config: CampaignConfig, recordings: tuple[RecordingCase, ...]
) -> dict[str, Any]:
    """What a campaign's results depend on besides its settings: each recording's
    SHA-256 and truth (empty for a synthetic campaign)."""
    if config.recordings is None:
        return {}
    return {
        "recording_files": [
            {
                "file": r.file,
                "sha256": r.sha256,
                "high_fives": None if r.high_fives is None else list(r.high_fives),
                "count": r.count,
                "metadata": dict(r.metadata),
            }
            for r in recordings
        ]
    }


def check_recordings(identity: Mapping[str, Any], previous: Mapping[str, Any], path: Any) -> None:
    """Refuse recordings that changed since a run started (resume, replay)."""
    was = {r["file"]: r for r in previous.get("recording_files", [])}
    now = {r["file"]: r for r in identity.get("recording_files", [])}
    for name, rec in now.items():
        old = was.get(name)
        if old is not None and old["sha256"] != rec["sha256"]:
            raise RunDirError(
                f"recording {name} changed since the run {path} started (SHA-256 "
                f"{old['sha256'][:12]} -> {rec['sha256'][:12]}); refusing to mix results: "
                "restore it, or start a new run"
            )
    if previous.get("recording_files") != identity.get("recording_files"):
        raise RunDirError(
            f"the labels of the run {path} changed since it started (recordings added, "
            "removed, reordered or relabelled); refusing to mix results: restore them, or start a "
            "new run"
        )


def _check_resumable(run: RunDir, identity: Mapping[str, Any]) -> dict[str, Any]:
    """The previous record of a run that ``--resume`` may complete (else RunDirError)."""
    previous = run.read_campaign()
    if previous.get("schema_version") != SCHEMA_VERSION:
        raise RunDirError(
            f"run directory {run.shown} was made by an older highfive (schema_version "
            f"{previous.get('schema_version')!r}); resume refuses to mix result formats: "
            "run it again under another name"
        )
    CampaignConfig.require_generators(
        previous,
        f"run directory {run.shown}",
        "a case's trace differs; resume refuses to mix them: run it again under another name",
    )
    # restrictions in today's one spelling: a run made before compares equal
    old = CampaignConfig.spelled_identity(previous.get("identity", {}))
    diff = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
    if "recording_files" in diff:
        check_recordings(identity, old, run.shown)
    if diff == ["models"]:
        was = {m["id"]: m for m in old.get("models", [])}
        now = {m["id"]: m for m in identity["models"]}
        changed = [c for c in now if c in was and was[c] != now[c]]
        if changed and set(was) == set(now):
            c = changed[0]
            raise RunDirError(
                f"counter {c!r} changed since the run started (identity "
                f"{was[c]['sha256'][:12]} -> {now[c]['sha256'][:12]}); resume refuses to "
                "mix its results: restore it, or start a new run"
            )
    if diff:
        shown = "; ".join(
            f"{k}: the run has {_shown(k, a)}, this configuration {_shown(k, b)}"
            for k, a, b in _differences(old, identity, diff)
        )
        raise RunDirError(
            f"run directory {run.shown} belongs to another configuration (differs in "
            f"{shown}); resume refuses to mix results: use another name or --out"
        )
    return previous


def _differences(
    old: Mapping[str, Any], new: Mapping[str, Any], keys: Iterable[str], prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """The settings ``keys`` that differ, as (dotted name, old, new): a table
    (``recordings``, ``execution``) by the keys in it that differ, so that a message shows
    them rather than two tables cut off before them."""
    out: list[tuple[str, Any, Any]] = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            inner = sorted(j for j in set(a) | set(b) if a.get(j) != b.get(j))
            out += _differences(a, b, inner, f"{prefix}{k}.")
        elif a != b:
            out.append((f"{prefix}{k}", a, b))
    return out


def _shown(key: str, value: Any) -> str:
    """A setting of a campaign's identity in a message (counters by id; long values cut)."""
    if value is None:
        return "none"
    if key == "models" and isinstance(value, list):
        value = [m.get("id") if isinstance(m, dict) else m for m in value]
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _existing(run: RunDir) -> str:
    """What to do about a run directory that exists: complete it with --resume, unless
    it is complete (a resume would only print its summary again)."""
    try:
        complete = run.read_campaign().get("status") == "complete"
    except RunDirError:  # no record yet, or a damaged one: --resume says which
        complete = False
    if complete:
        return " and is complete; choose another name (--name) or --out"
    return "; pass --resume to complete it, or choose another name or --out"


def _run_locked(
    config: CampaignConfig,
    run: RunDir,
    identity: dict[str, Any],
    space: Any,
    boxes: Any,
    counters: dict[str, CounterPlugin],
    resume: bool,
    client: Any,
    stream: TextIO | None,
    recordings: tuple[RecordingCase, ...] = (),
    labels: ParameterSpace | None = None,
) -> CampaignSummary:
    ids = tuple(counters)
    records = _counter_records(counters)
    if run.exists() or run.manifest.exists():
        if not resume:
            raise RunDirError(f"run directory {run.shown} already exists{_existing(run)}")
        previous = _check_resumable(run, identity)
        losses = _previous_losses(previous)
        started = previous.get("started", _now())
        was_finished = previous.get("finished") if previous.get("status") == "complete" else None
        proposals = previous.get("proposals")  # importance stages fitted so far
        # Keep the latency measured when the run started: a gate reads that figure.
        measured = {m["id"]: m.get("latency") for m in previous.get("models", [])}
        for rec in records:
            if measured.get(rec["id"]) is not None:
                rec["latency"] = measured[rec["id"]]
        run.remove_temporaries()
    else:
        started, proposals, was_finished = _now(), None, None
        losses = WorkerLosses()
    for rec, counter in zip(records, counters.values(), strict=True):
        if counter.kind == "onnx" and "latency" not in rec:
            rec["latency"] = measure_latency(load_model(counter))

    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(executor(config))
        dashboard = getattr(client, "dashboard_link", "") if client is not None else ""
        dashboard = dashboard_link(config.execution.dashboard, dashboard)
        if config.execution.dashboard.strip().lower() in ("", "none"):
            dashboard = ""  # no pages to show
        # A scheduler without the dashboard (or without bokeh) still lists one, and
        # dask's link to it answers 404.
        shown_dashboard = dashboard
        if dashboard and not dashboard_served(dashboard):
            dashboard, shown_dashboard = "", "not served by this scheduler"
        record = {
            "schema_version": SCHEMA_VERSION,
            "name": config.name,
            "identity": identity,
            "config": config.to_dict(),
            "models": records,
            "versions": _versions(),
            "started": started,
            "finished": None,
            "status": "running",
        }
        if config.base:  # found again where the campaign's folder and its runs moved
            record["campaign_folder"] = os.path.relpath(config.base, run.path)
        if proposals is not None:
            record["proposals"] = proposals
        run.write_campaign(record)
        # Only totals and the ids of finished batches are kept, and batches to run are
        # produced lazily, so the client's memory does not grow with the cases.
        totals = _Totals(ids)
        done: set[int] = set()
        damaged = 0
        for batch, entry in run.done_batches(repair=True, said=stream).items():
            if run.damaged(entry) is not None:
                damaged += 1  # its files are missing or altered: run it again
                continue
            totals.add(entry)
            done.add(batch)
        if damaged and stream is not None:
            print(f"redoing {damaged:,} damaged batch(es)", file=stream)
        progress = Progress(config.cases, totals.cases, stream, shown_dashboard, totals.failures())
        losses.say = progress.note
        t0 = time.monotonic()
        status = "interrupted"
        ran = 0  # batches run by this call
        try:
            template = BatchJob(
                -1,
                0,
                0,
                config.seed,
                config.cases,
                config.sampler,
                space,
                counters,
                config.tolerance,
                config.keep_failures,
                boxes,
                float(config.stream_chunk_s),
                recordings=recordings,
                labels=labels,
            )
            # One stage unless importance sampling: its stages run one after another,
            # each with the proposal fitted to the stage before it.
            for stage, batches in enumerate(stage_batches(config)):
                if config.sampler == "importance":
                    template = stage_job(template, config, run, record, stage)
                ranges = ((b, *config.batch_range(b)) for b in batches if b not in done)
                for output in execute(template, ranges, client, config, losses):
                    files = run.write_batch(output.batch, output.results, output.failures)
                    entry = {
                        "batch": output.batch,
                        "start": output.start,
                        "count": output.count,
                        "files": files,
                        "finished": _now(),
                        **output.stats,
                    }
                    run.append_manifest(entry)
                    progress.update(output.count, totals.add(entry))
                    ran += 1
            status = "complete"
        finally:
            progress.close()
            # A resume of a complete run with nothing to redo keeps its finishing time:
            # the report's run time is the campaign's, not until the resume.
            done_before = status == "complete" and not ran and was_finished is not None
            record.update(status=status, finished=was_finished if done_before else _now())
            if losses.workers:
                record["worker_losses"] = {
                    "workers": losses.workers,
                    "batches_run_again": losses.batches,
                }
            # If the disk is what failed, recording the status may fail too: the
            # original error is the one to report.
            with contextlib.suppress(RunDirError):
                run.write_campaign(record)
    return CampaignSummary(
        run.shown,
        totals.cases,
        totals.verdicts,
        totals.agree,
        time.monotonic() - t0,
        status,
        dashboard,
        complete=status == "complete",
        workers_lost=losses.workers,
        batches_run_again=losses.batches,
        weighted=config.sampler in ("focus", "importance"),
    )


def _previous_losses(record: Mapping[str, Any]) -> WorkerLosses:
    """The workers lost and batches run again before a resume, as campaign.json keeps
    them (none if it does not, or holds something else)."""
    kept = record.get("worker_losses")
    if not isinstance(kept, dict):
        return WorkerLosses()
    workers, batches = kept.get("workers"), kept.get("batches_run_again")
    if type(workers) is int and type(batches) is int and min(workers, batches) >= 0:
        return WorkerLosses(workers, batches)
    return WorkerLosses()


class _Totals:
    """Running totals of finished batches (cases, verdicts per model, agreement)."""

    def __init__(self, ids: tuple[str, ...]) -> None:
        self.cases = self.agree = 0
        self.verdicts: dict[str, dict[str, int]] = {mid: {} for mid in ids}

    def failures(self) -> dict[str, int]:
        """Failing cases so far per model."""
        return {
            mid: sum(n for verdict, n in counts.items() if is_failure(verdict))
            for mid, counts in self.verdicts.items()
        }

    def add(self, entry: Mapping[str, Any]) -> dict[str, int]:
        """Add a manifest entry; return its failing cases per model (0 if none)."""
        self.cases += int(entry["count"])
        self.agree += int(entry["agree"])
        failed = dict.fromkeys(self.verdicts, 0)
        for key, n in entry["verdicts"].items():
            mid, verdict = key.rsplit("/", 1)
            counts = self.verdicts.setdefault(mid, {})
            counts[verdict] = counts.get(verdict, 0) + int(n)
            if is_failure(verdict):
                failed[mid] = failed.get(mid, 0) + int(n)
        return failed
