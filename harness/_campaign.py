"""Monte Carlo campaigns: many generated cases through every model, on dask.

Tasks are batch descriptors (first case, count), never arrays: a worker draws its
cases' points from the sampler, synthesizes the traces, runs every model's pipeline
and the oracle, and returns small Arrow tables. The client alone writes files (so a
remote cluster needs no shared file system), keeps a bounded number of tasks in
flight (memory stays flat for any number of cases), and appends a manifest line per
finished batch.

Each case is processed on its own (its windows form one inference batch), so its
numbers do not depend on which other cases share its task: results are identical,
row for row, whatever the batch size, the worker count or a resume in between.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import platform
import re
import sys
import time
import warnings
from collections import Counter as Tally
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TextIO

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from highfive.generators import ConfigError, ParameterSpace, RunDirError, synthesize
from highfive.generators._samplers import Box, make_sampler

from ._config import CampaignConfig
from ._malloc import reuse_freed_memory
from ._model import Model
from ._oracle import margin, score
from ._pipeline import CounterPipeline
from ._rundir import SCHEMA_VERSION, RunDir
from ._verdicts import VERDICTS

__all__ = ["BatchJob", "CampaignSummary", "run_batch", "run_campaign"]

OUTCOME_SCHEMA = pa.schema(
    [
        pa.field("duration_s", pa.float64()),
        pa.field("n_samples", pa.int32()),
        pa.field("motions", pa.string()),
        pa.field("true_count", pa.int16()),
        pa.field("predicted_count", pa.int16()),
        pa.field("tp", pa.int16()),
        pa.field("fp", pa.int16()),
        pa.field("fn", pa.int16()),
        pa.field("duplicates", pa.int16()),
        pa.field("count_error", pa.int16()),
        pa.field("verdict", pa.string()),
        pa.field("margin", pa.float32()),
        pa.field("max_prob", pa.float32()),
        pa.field("detection_times", pa.list_(pa.float32())),
    ]
)

FAILURE_SCHEMA = pa.schema(
    [
        pa.field("case_id", pa.int64()),
        pa.field("verdicts", pa.string()),  # JSON {model: verdict}
        pa.field("fs", pa.float64()),
        pa.field("t", pa.list_(pa.float64())),
        pa.field("x", pa.list_(pa.float32())),
        pa.field("y", pa.list_(pa.float32())),
        pa.field("z", pa.list_(pa.float32())),
        pa.field("events", pa.string()),  # JSON list of truth events
        pa.field("detections", pa.string()),  # JSON {model: [[time, score], ...]}
        pa.field("params", pa.string()),  # JSON parameter row
    ]
)


def model_id(name: str) -> str:
    """A short, path-safe identifier for a model (the hive value in results/)."""
    stem = Path(name).name.removesuffix(".onnx")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "model"


@dataclass(frozen=True)
class BatchJob:
    """Everything a worker needs for one batch: plain, picklable data."""

    batch: int
    start: int
    count: int
    seed: int
    n_cases: int
    sampler: str
    space: ParameterSpace
    models: tuple[Model, ...]
    model_ids: tuple[str, ...]
    tolerance: float
    keep_failures: bool
    boxes: tuple[Box, ...] = ()


@dataclass
class BatchOutput:
    batch: int
    start: int
    count: int
    results: dict[str, pa.Table]
    failures: pa.Table | None
    stats: dict[str, Any]


_PIPELINES: dict[str, CounterPipeline] = {}


def _pipeline(model: Model) -> CounterPipeline:
    # One pipeline (and so one ONNX Runtime session) per model and process.
    key = f"{model.sha256}/{model.threads}"
    pipe = _PIPELINES.get(key)
    if pipe is None:
        pipe = _PIPELINES[key] = CounterPipeline(model)
    return pipe


def run_batch(job: BatchJob) -> BatchOutput:
    """Synthesize, count and judge the cases of one batch (runs on a worker).

    BLAS runs single-threaded here: a multi-threaded matrix product may sum in another
    order and change the last bits of a probability, and results must be identical
    whether a case runs in this process, on a dask worker or in a replay. The process
    keeps freed memory for reuse (see :func:`reuse_freed_memory`).
    """
    reuse_freed_memory()
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_batch(job)


def _run_batch(job: BatchJob) -> BatchOutput:
    t0 = time.perf_counter()
    points = make_sampler(job.sampler, job.space.d, job.n_cases, job.seed, job.boxes).points(
        job.start, job.count
    )
    table = job.space.from_unit(points)
    params = pa.Table.from_pandas(table, schema=job.space.to_arrow_schema(), preserve_index=False)
    rows = job.space.rows(points)
    pipes = [_pipeline(m) for m in job.models]

    out: dict[str, dict[str, list[Any]]] = {
        mid: {f.name: [] for f in OUTCOME_SCHEMA} for mid in job.model_ids
    }
    fails: dict[str, list[Any]] = {f.name: [] for f in FAILURE_SCHEMA}
    tally: Tally[str] = Tally()
    agree = 0
    for k, row in enumerate(rows):
        case = job.start + k
        trace = synthesize(row, np.random.SeedSequence(job.seed, spawn_key=(case,)), validate=False)
        motions = ",".join(e.motion for e in trace.events)
        verdicts, dets, counts = {}, {}, []
        prepared: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}
        for mid, pipe in zip(job.model_ids, pipes, strict=True):
            # Models with the same preprocessing (a float model and its int8 twin)
            # share one scalogram per case.
            key = pipe.preprocessing
            if key not in prepared:
                prepared[key] = pipe.prepare(trace)
            res = pipe.judge(*prepared[key])
            s = score(trace.events, res.detections, job.tolerance)
            col = out[mid]
            col["duration_s"].append(trace.duration)
            col["n_samples"].append(trace.t.size)
            col["motions"].append(motions)
            col["true_count"].append(s.true_count)
            col["predicted_count"].append(s.predicted_count)
            col["tp"].append(s.tp)
            col["fp"].append(s.fp)
            col["fn"].append(s.fn)
            col["duplicates"].append(s.duplicates)
            col["count_error"].append(s.count_error)
            col["verdict"].append(s.verdict)
            col["margin"].append(
                margin(trace.events, res.centres, res.probs, pipe.config.on, job.tolerance)
            )
            col["max_prob"].append(float(res.probs.max()))
            col["detection_times"].append([d.time for d in res.detections])
            tally[f"{mid}/{s.verdict}"] += 1
            verdicts[mid] = s.verdict
            dets[mid] = [[d.time, d.score] for d in res.detections]
            counts.append(s.predicted_count)
        agree += len(set(counts)) == 1
        if job.keep_failures and any(v != "pass" for v in verdicts.values()):
            fails["case_id"].append(case)
            fails["verdicts"].append(json.dumps(verdicts))
            fails["fs"].append(trace.fs)
            fails["t"].append(trace.t)
            for i, axis in enumerate("xyz"):
                fails[axis].append(trace.samples[:, i])
            fails["events"].append(json.dumps([e.__dict__ for e in trace.events]))
            fails["detections"].append(json.dumps(dets))
            fails["params"].append(json.dumps(row))

    case_ids = pa.array(np.arange(job.start, job.start + job.count), pa.int64())
    results = {}
    for mid in job.model_ids:
        outcome = pa.table(out[mid], schema=OUTCOME_SCHEMA)
        columns = [case_ids, *params.columns, *outcome.columns]
        schema = pa.schema([pa.field("case_id", pa.int64()), *params.schema, *OUTCOME_SCHEMA])
        results[mid] = pa.Table.from_arrays(columns, schema=schema)
    failures = pa.table(fails, schema=FAILURE_SCHEMA) if fails["case_id"] else None
    stats = {"verdicts": dict(tally), "agree": agree, "seconds": time.perf_counter() - t0}
    return BatchOutput(job.batch, job.start, job.count, results, failures, stats)


# -- the client side ----------------------------------------------------------------------
@dataclass
class CampaignSummary:
    """Totals over every finished batch of a run."""

    run_dir: Path
    cases: int
    verdicts: dict[str, dict[str, int]]  # model -> verdict -> cases
    agree: int
    seconds: float
    status: str
    dashboard: str = ""
    complete: bool = field(default=False)

    def table(self) -> str:
        """A short plain-text summary for the terminal."""
        lines = [
            f"{'model':<10} {'cases':>9} {'fail %':>7}  "
            + " ".join(f"{v:>14}" for v in VERDICTS[1:])
        ]
        for mid, counts in self.verdicts.items():
            n = sum(counts.values())
            failed = n - counts.get("pass", 0)
            lines.append(
                f"{mid:<10} {n:>9,} {100 * failed / max(n, 1):>6.2f}%  "
                + " ".join(f"{counts.get(v, 0):>14,}" for v in VERDICTS[1:])
            )
        if len(self.verdicts) > 1:
            lines.append(
                f"count agreement between models: {self.agree:,}/{self.cases:,} "
                f"({100 * self.agree / max(self.cases, 1):.2f}%)"
            )
        lines.append(f"run directory: {self.run_dir}  ({self.status})")
        return "\n".join(lines)


class Progress:
    """Cases done, rate, ETA and failures on one terminal line (or periodic lines)."""

    def __init__(
        self,
        total: int,
        done: int,
        stream: TextIO | None,
        dashboard: str,
        failures: Mapping[str, int] | None = None,
    ) -> None:
        # ``done`` and ``failures`` count the batches finished before a resume.
        self.total, self.done0, self.done = total, done, done
        self.stream = stream
        self.tty = bool(stream is not None and stream.isatty())
        self.t0 = self.last = time.monotonic()
        self.failures: Tally[str] = Tally(failures or {})
        if stream is not None and dashboard:
            print(f"dask dashboard: {dashboard}", file=stream)

    def update(self, cases: int, failures: Mapping[str, int]) -> None:
        self.done += cases
        self.failures.update(failures)
        now = time.monotonic()
        if self.stream is None or (
            not self.tty and now - self.last < 10 and self.done < self.total
        ):
            return
        self.last = now
        rate = (self.done - self.done0) / max(now - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        fails = ", ".join(f"{m} {n:,}" for m, n in sorted(self.failures.items())) or "0"
        line = (
            f"cases {self.done:,}/{self.total:,} ({100 * self.done / self.total:.0f}%)  "
            f"{rate:,.0f} cases/s  ETA {_hms(eta)}  failures: {fails}"
        )
        print(
            ("\r" + line + "\033[K") if self.tty else line,
            end="" if self.tty else "\n",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self.stream is not None and self.tty:
            print(file=self.stream)


def _hms(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "--:--"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


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
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def _executor(config: CampaignConfig) -> Iterator[Any]:
    """A dask client (existing scheduler or a LocalCluster), or None for in-process."""
    ex = config.execution
    if not ex.scheduler and ex.workers == 0:
        yield None
        return
    import dask
    from distributed import Client, LocalCluster

    if ex.scheduler:
        try:
            client = Client(ex.scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"execution.scheduler: cannot reach {ex.scheduler!r} ({exc}); "
                "check the address and that 'dask scheduler' is running"
            ) from None
        with client:
            yield client
        return
    # (Each worker sets its allocator up in its first batch: see reuse_freed_memory.)
    # The workers' statistical profiler samples every stack 100 times a second and
    # keeps the last 1,000 seconds of profiles: on 2 cores a campaign ran 6 % slower
    # with it (446 against 472 cases/s, side by side) and each worker grew by tens of
    # MB over its first quarter hour. The dashboard's other pages are unaffected.
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(
            n_workers=ex.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
    with cluster, Client(cluster, set_as_default=False) as client:
        yield client


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
    space = config.parameter_space()
    threads = config.execution.threads_per_worker
    models = tuple(Model.load(m, threads=threads) for m in config.models)
    ids = tuple(model_id(m) for m in config.models)
    if len(set(ids)) != len(ids):
        raise ConfigError(f"models: {list(config.models)} give clashing names {list(ids)}")
    if config.sampler == "sobol" and config.cases & (config.cases - 1):
        warnings.warn(
            f"sampler sobol: cases={config.cases} is not a power of two; Sobol points keep "
            "their balance only for powers of two (e.g. "
            f"{1 << max(config.cases.bit_length() - 1, 0)} or {1 << config.cases.bit_length()})",
            UserWarning,
            stacklevel=2,
        )
    identity = {
        **config.identity(),
        "schema_version": SCHEMA_VERSION,
        "models": [{"id": i, "sha256": m.sha256} for i, m in zip(ids, models, strict=True)],
    }
    run = RunDir(Path(config.out) / config.name)
    if run.exists() or run.manifest.exists():
        if not resume:
            raise RunDirError(
                f"run directory {run.path} already exists; pass --resume to complete it, "
                "or choose another name or --out"
            )
        previous = run.read_campaign()
        old = previous.get("identity", {})
        diff = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
        if diff:
            raise RunDirError(
                f"run directory {run.path} belongs to another configuration (differs in "
                f"{', '.join(diff)}); resume refuses to mix results: use another name or --out"
            )
        started = previous.get("started", _now())
    else:
        started = _now()

    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(_executor(config))
        dashboard = getattr(client, "dashboard_link", "") if client is not None else ""
        record = {
            "schema_version": SCHEMA_VERSION,
            "name": config.name,
            "identity": identity,
            "config": config.to_dict(),
            "models": [
                {"id": i, "source": s, "sha256": m.sha256, "bytes": len(m.data)}
                for i, s, m in zip(ids, config.models, models, strict=True)
            ],
            "versions": _versions(),
            "started": started,
            "finished": None,
            "status": "running",
        }
        run.write_campaign(record)
        # Only totals are kept per finished batch, so the client's memory does not
        # grow with the number of batches.
        totals = _Totals(ids)
        done = run.done_batches(repair=True)
        for entry in done.values():
            totals.add(entry)
        pending = [b for b in range(config.n_batches) if b not in done]
        del done
        progress = Progress(config.cases, totals.cases, stream, dashboard, totals.failures())
        boxes = config.focus_boxes()
        t0 = time.monotonic()
        status = "interrupted"
        try:
            template = BatchJob(
                -1,
                0,
                0,
                config.seed,
                config.cases,
                config.sampler,
                space,
                models,
                ids,
                config.tolerance,
                config.keep_failures,
                boxes,
            )
            ranges = ((b, *config.batch_range(b)) for b in pending)
            for output in _execute(template, ranges, client, config):
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
            status = "complete"
        finally:
            progress.close()
            record.update(status=status, finished=_now())
            run.write_campaign(record)
    return CampaignSummary(
        run.path,
        totals.cases,
        totals.verdicts,
        totals.agree,
        time.monotonic() - t0,
        status,
        dashboard,
        complete=status == "complete",
    )


def _execute(
    template: BatchJob,
    ranges: Iterator[tuple[int, int, int]],
    client: Any,
    config: CampaignConfig,
) -> Iterator[BatchOutput]:
    """Yield batch outputs as they finish, with a bounded number in flight.

    ``template`` holds what every batch shares (space, models, seed, ...); it is
    scattered to every worker once, so a task is only ``(batch, start, count)``.
    (Shipping the space with every task cost the scheduler a pickle per task, and
    dask keeps the last 1,000 messages of each worker stream: about 0.1 GiB of
    client memory after some 100,000 cases.)
    """
    if client is None:
        for batch, start, count in ranges:
            yield run_batch(replace(template, batch=batch, start=start, count=count))
        return
    from distributed import as_completed

    n_threads = sum(client.nthreads().values()) or 1
    limit = config.execution.in_flight or 2 * n_threads
    first = next(ranges, None)
    if first is None:
        return
    [shared] = client.scatter([template], broadcast=True)

    def submit(batch: int, start: int, count: int) -> Any:
        return client.submit(
            _run_scattered_batch,
            shared,
            batch,
            start,
            count,
            retries=config.execution.retries,
            pure=False,
            key=f"highfive-batch-{template.seed}-{batch}-{time.time_ns()}",
        )

    futures = as_completed([submit(*first)], loop=client.loop)
    while futures.count() < limit:
        more = next(ranges, None)
        if more is None:
            break
        futures.add(submit(*more))
    for fut in futures:
        output = fut.result()
        fut.release()
        nxt = next(ranges, None)
        if nxt is not None:
            futures.add(submit(*nxt))
        yield output


def _run_scattered_batch(template: BatchJob, batch: int, start: int, count: int) -> BatchOutput:
    return run_batch(replace(template, batch=batch, start=start, count=count))


class _Totals:
    """Running totals of finished batches (cases, verdicts per model, agreement)."""

    def __init__(self, ids: tuple[str, ...]) -> None:
        self.cases = self.agree = 0
        self.verdicts: dict[str, dict[str, int]] = {mid: {} for mid in ids}

    def failures(self) -> dict[str, int]:
        """Failing cases so far per model."""
        return {
            mid: sum(n for verdict, n in counts.items() if verdict != "pass")
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
            if verdict != "pass":
                failed[mid] = failed.get(mid, 0) + int(n)
        return failed
