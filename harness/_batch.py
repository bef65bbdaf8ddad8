"""One batch of cases on a worker: sample, synthesize, judge, tabulate.

A task is a batch descriptor (first case, count) plus what every batch shares (a
:class:`BatchJob` scattered once per worker). The worker draws its cases' points
from the sampler, synthesizes each trace from its own random stream, judges it with
every counter (:func:`~highfive.harness._case.judge`) and returns small Arrow tables:
one result table per counter and the failure-corpus rows.

A campaign of recordings ships its labelled recordings in the job (their bytes, so a
worker needs no shared file system); case ``i`` is recording ``i``, judged by
:func:`~highfive.harness._recording_case.judge_recording`.

Each case is judged on its own, so its numbers do not depend on which other cases
share its task: results are identical, row for row, whatever the batch size, the
worker count or a resume in between.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from highfive.generators import (
    Box,
    ImportanceSampler,
    ParameterSpace,
    Proposal,
    make_sampler,
    synthesize,
)

from ._case import Judged, judge
from ._labels import RecordingCase
from ._malloc import reuse_freed_memory
from ._recording_case import judge_recording
from ._records import FailureCase, Outcome, failure_table, outcome_table, result_schema
from .counters import CounterPlugin

__all__ = ["BatchJob", "BatchOutput", "run_batch"]


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
    counters: dict[str, CounterPlugin]
    tolerance: float
    keep_failures: bool
    boxes: tuple[Box, ...] = ()
    chunk_s: float = 0.0
    proposals: tuple[Proposal, ...] = ()
    starts: tuple[int, ...] = (0,)
    recordings: tuple[RecordingCase, ...] = ()
    labels: ParameterSpace | None = None
    """The categorical dimensions of the recordings' labels (None: synthetic cases)."""


@dataclass
class BatchOutput:
    batch: int
    start: int
    count: int
    results: dict[str, pa.Table]
    failures: pa.Table | None
    stats: dict[str, Any]


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
    columns, judged_cases = _cases(job)
    outcomes: dict[str, list[Outcome]] = {cid: [] for cid in job.counters}
    failures: list[FailureCase] = []
    tally: Tally[str] = Tally()
    agree = 0
    for case, judged in judged_cases:
        for cid, outcome in judged.outcomes.items():
            outcomes[cid].append(outcome)
            tally[f"{cid}/{outcome.verdict}"] += 1
        agree += judged.agree
        if job.keep_failures and judged.failed:
            failures.append(judged.failure_case(case))

    weights = columns.pop("weight", None)
    schema = result_schema(job.space, job.labels, weighted=weights is not None)
    case_ids = pa.array(np.arange(job.start, job.start + job.count), pa.int64())
    cases = [case_ids, *(_array(v, schema.field(c).type) for c, v in columns.items())]
    extra = [] if weights is None else [weights]
    results = {
        cid: pa.Table.from_arrays([*cases, *outcome_table(rows).columns, *extra], schema=schema)
        for cid, rows in outcomes.items()
    }
    stats = {"verdicts": dict(tally), "agree": agree, "seconds": time.perf_counter() - t0}
    return BatchOutput(job.batch, job.start, job.count, results, failure_table(failures), stats)


def _cases(job: BatchJob) -> tuple[dict[str, Any], Iterator[tuple[int, Judged]]]:
    """The batch's columns between ``case_id`` and the outcome (parameters, source,
    recording, metadata), with ``weight`` for importance-sampled cases, and its cases
    judged one by one, lazily."""
    n, first = job.count, job.start
    if job.labels is not None:
        recs = job.recordings[first : first + n]
        cols: dict[str, Any] = {d.name: [None] * n for d in job.space}
        cols.update(source=["recording"] * n, recording=[r.file for r in recs])
        for name in job.labels.names:
            if name != "recording":
                cols[name] = [dict(r.metadata)[name] for r in recs]
        judged = (
            (first + k, judge_recording(job.counters, rec, job.tolerance))
            for k, rec in enumerate(recs)
        )
        return cols, judged
    sampler = make_sampler(
        job.sampler,
        job.space.d,
        job.n_cases,
        job.seed,
        job.boxes,
        proposals=job.proposals,
        starts=job.starts,
    )
    points = sampler.points(first, n)
    params = pa.Table.from_pandas(
        job.space.from_unit(points), schema=job.space.to_arrow_schema(), preserve_index=False
    )
    cols = {c: params[c] for c in params.column_names}
    cols.update(source=["synthetic"] * n, recording=[None] * n)
    if isinstance(sampler, ImportanceSampler):
        cols["weight"] = pa.array(np.exp(sampler.log_weights(first, points)), pa.float64())

    def synthetic() -> Iterator[tuple[int, Judged]]:
        for k, row in enumerate(job.space.rows(points)):
            seed = np.random.SeedSequence(job.seed, spawn_key=(first + k,))
            trace = synthesize(row, seed, validate=False)
            yield first + k, judge(job.counters, trace, job.tolerance, chunk_s=job.chunk_s)

    return cols, synthetic()


def _array(values: Any, kind: pa.DataType) -> pa.Array | pa.ChunkedArray:
    return values if isinstance(values, pa.ChunkedArray | pa.Array) else pa.array(values, kind)
