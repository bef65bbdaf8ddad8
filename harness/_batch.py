"""One batch of cases on a worker: sample, synthesize, judge, tabulate.

A task is a batch descriptor (first case, count) plus what every batch shares (a
:class:`BatchJob` scattered once per worker). The worker draws its cases' points
from the sampler, synthesizes each trace from its own random stream, judges it with
every counter (:func:`~highfive.harness._case.judge`) and returns small Arrow tables:
one result table per counter and the failure-corpus rows.

Each case is judged on its own, so its numbers do not depend on which other cases
share its task: results are identical, row for row, whatever the batch size, the
worker count or a resume in between.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
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

from ._case import judge
from ._malloc import reuse_freed_memory
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
    sampler = make_sampler(
        job.sampler,
        job.space.d,
        job.n_cases,
        job.seed,
        job.boxes,
        proposals=job.proposals,
        starts=job.starts,
    )
    points = sampler.points(job.start, job.count)
    weights = None
    if isinstance(sampler, ImportanceSampler):
        weights = pa.array(np.exp(sampler.log_weights(job.start, points)), pa.float64())
    params = pa.Table.from_pandas(
        job.space.from_unit(points), schema=job.space.to_arrow_schema(), preserve_index=False
    )
    outcomes: dict[str, list[Outcome]] = {cid: [] for cid in job.counters}
    failures: list[FailureCase] = []
    tally: Tally[str] = Tally()
    agree = 0
    for k, row in enumerate(job.space.rows(points)):
        case = job.start + k
        trace = synthesize(row, np.random.SeedSequence(job.seed, spawn_key=(case,)), validate=False)
        judged = judge(job.counters, trace, job.tolerance, chunk_s=job.chunk_s)
        for cid, outcome in judged.outcomes.items():
            outcomes[cid].append(outcome)
            tally[f"{cid}/{outcome.verdict}"] += 1
        agree += judged.agree
        if job.keep_failures and judged.failed:
            failures.append(judged.failure_case(case))

    case_ids = pa.array(np.arange(job.start, job.start + job.count), pa.int64())
    schema = result_schema(job.space, weighted=weights is not None)
    extra = [] if weights is None else [weights]
    results = {
        cid: pa.Table.from_arrays(
            [case_ids, *params.columns, *outcome_table(rows).columns, *extra], schema=schema
        )
        for cid, rows in outcomes.items()
    }
    stats = {"verdicts": dict(tally), "agree": agree, "seconds": time.perf_counter() - t0}
    return BatchOutput(job.batch, job.start, job.count, results, failure_table(failures), stats)
