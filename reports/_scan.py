"""What the result rows say: verdict tallies, model agreement and the cases to show.

Only three columns of the results are read (case, predicted count, verdict), model by
model, so a run of millions of cases scans in seconds. Verdicts are ranked in the
order of :data:`highfive.harness.SEVERITY` (0 pass, higher worse: error and timeout
above every kind of miscount); the cases a report shows are picked one per failing
verdict, the most severe kind first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from highfive.harness import NO_ANSWER, SEVERITY, RunDir

__all__ = ["RANKED", "Scan", "pick_cases", "scan_results"]

RANKED = ("pass", *reversed(SEVERITY))
"""Verdicts by severity rank: ``RANKED[rank]`` is the verdict of that rank."""

_NO_ANSWER = [RANKED.index(v) for v in NO_ANSWER]


@dataclass
class Scan:
    """What three columns of the results tell: verdicts, agreement, failing cases.

    ``rank`` and ``pred`` hold, per model and case id, the verdict's severity (0 pass,
    ``len(SEVERITY)`` the worst kind, -1 no row) and the predicted count (-1 no row).
    Of the ``compared`` cases both models have, ``agree`` got the same count from both
    and ``unanswered`` no count from one or both (``error``, ``timeout``); ``confusion``
    tables the counts of the answered ones.
    """

    models: list[str]
    verdicts: dict[str, dict[str, int]]
    rank: dict[str, np.ndarray]
    pred: dict[str, np.ndarray]
    confusion: np.ndarray | None = None
    agree: int = 0
    compared: int = 0
    unanswered: int = 0
    disagree: list[int] = field(default_factory=list)

    def stored(self, case: int) -> dict[str, tuple[str, int]]:
        """The campaign's (verdict, predicted count) of ``case`` per model."""
        out: dict[str, tuple[str, int]] = {}
        for m in self.models:
            r = int(self.rank[m][case]) if case < self.rank[m].size else -1
            if r >= 0:
                out[m] = (RANKED[r], int(self.pred[m][case]))
        return out


def scan_results(run: RunDir, models: Sequence[str], n_cases: int) -> Scan:
    """Stream case id, predicted count and verdict of every result row, model by model."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    # Verdicts read as dictionaries (a handful of values): much faster than strings.
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=["verdict"]))
    value_set = pa.array(RANKED)
    scan = Scan(list(models), {}, {}, {})
    listed = run.listed_files("results")  # None: no manifest, read the folders as they are
    for m in models:
        rank = np.full(n_cases, -1, dtype=np.int8)
        pred = np.full(n_cases, -1, dtype=np.int16)
        tally = np.zeros(len(RANKED) + 1, dtype=np.int64)  # last: unknown verdicts
        for batch in _batches(_files(run.results_dir / f"model={m}", listed), fmt):
            ids = batch.column(0).to_numpy()
            if ids.size and int(ids.max()) >= rank.size:  # more cases than configured
                grow = int(ids.max()) + 1 - rank.size
                rank = np.concatenate([rank, np.full(grow, -1, np.int8)])
                pred = np.concatenate([pred, np.full(grow, -1, np.int16)])
            verdict = batch.column(2)
            if not pa.types.is_dictionary(verdict.type):
                verdict = pc.dictionary_encode(verdict)
            codes = pc.index_in(verdict.dictionary, value_set=value_set)
            lut = pc.fill_null(codes, len(RANKED)).to_numpy().astype(np.int8)
            r = lut[verdict.indices.to_numpy(zero_copy_only=False)]
            tally += np.bincount(r, minlength=tally.size)
            rank[ids] = np.where(r == len(RANKED), 0, r)
            pred[ids] = batch.column(1).to_numpy(zero_copy_only=False)
        scan.verdicts[m] = {v: int(c) for v, c in zip(RANKED, tally, strict=False) if c}
        if tally[-1]:
            scan.verdicts[m]["other"] = int(tally[-1])
        scan.rank[m], scan.pred[m] = rank, pred
    if len(models) > 1:
        a, b = scan.pred[models[0]], scan.pred[models[1]]
        size = min(a.size, b.size)
        a, b = a[:size], b[:size]
        ra, rb = scan.rank[models[0]][:size], scan.rank[models[1]][:size]
        both = (a >= 0) & (b >= 0)
        # A counter that gave no count (its recorded 0 is a placeholder) agrees with
        # nothing and stays out of the table of counts: see counts_agree.
        answered = both & ~np.isin(ra, _NO_ANSWER) & ~np.isin(rb, _NO_ANSWER)
        scan.compared = int(np.count_nonzero(both))
        scan.unanswered = scan.compared - int(np.count_nonzero(answered))
        same = answered & (a == b)
        scan.agree = int(np.count_nonzero(same))
        k = int(np.clip(max(a.max(initial=0), b.max(initial=0)) + 1, 2, 6))
        a, b = a[answered], b[answered]  # int16 throughout: 10^7 cases stay small
        cell = np.minimum(a, k - 1).astype(np.int32) * k + np.minimum(b, k - 1)
        scan.confusion = np.bincount(cell, minlength=k * k).reshape(k, k)
        differ = np.flatnonzero(both & ~same)
        scan.disagree = differ[:12].tolist()
    return scan


def _files(folder: Path, listed: Sequence[Path] | None) -> list[str]:
    """The result files of one model: those the manifest lists (a file it does not list,
    left by a kill or dropped in by hand, is not a result), or without a manifest every
    Parquet file in ``folder``."""
    if listed is not None:
        return sorted(os.fspath(p) for p in listed if p.parent == folder)
    if not folder.is_dir():
        return []
    return sorted(
        os.fspath(p)
        for p in folder.iterdir()
        if p.suffix == ".parquet" and not p.name.startswith((".", "_"))
    )


def _batches(files: Sequence[str], fmt: Any, chunk: int = 128) -> Iterator[Any]:
    """Record batches of case id, predicted count and verdict of ``files``.

    Files are scanned a hundred or so at a time: a dataset keeps every file's Parquet
    footer (tens of kB each, with the space's metadata) until it is dropped, which for
    runs of many small batches would take gigabytes.
    """
    import pyarrow.dataset as ds

    for start in range(0, len(files), chunk):
        part = ds.dataset(files[start : start + chunk], format=fmt)
        yield from part.to_batches(columns=["case_id", "predicted_count", "verdict"])


def pick_cases(scan: Scan, n: int) -> list[int]:
    """``n`` failing cases: one per verdict kind, worst kind first, lowest case id first."""
    if n <= 0 or not scan.models:
        return []
    size = min(scan.rank[m].size for m in scan.models)
    worst = np.max(np.stack([scan.rank[m][:size] for m in scan.models]), axis=0)
    pools = [np.flatnonzero(worst == len(SEVERITY) - i)[:n].tolist() for i in range(len(SEVERITY))]
    picks: list[int] = []
    for depth in range(max(map(len, pools), default=0)):  # not range(n): n may be huge
        for pool in pools:
            if depth < len(pool) and len(picks) < n:
                picks.append(pool[depth])
    return picks
