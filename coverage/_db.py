"""The coverage counts database: cases and failures per cross, cell and model.

Counts are integers in flat arrays, one row per cell of every cross (crosses laid end to
end, ``offsets`` marks where each starts) and one column per model, so merging two runs
is exact integer addition: associative, commutative, and blind to merge order. Coverage
and statistics are always recomputed from merged counts, never summed as percentages.

Counting result rows streams them in batches (``_results``) through an accumulator
(``_accumulate``); this module holds the counts themselves, their merge and their
Arrow form.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from highfive.generators import ConfigError, ParameterSpace, RunDirError, show, show_list
from highfive.harness import FAIL_VERDICTS

from ._accumulate import Accumulator, Source
from ._bins import Binning
from ._crosses import Cross, crosses_fingerprint, make_crosses
from ._fingerprint import differing_dimensions
from ._results import DEFAULT_BATCH, batches, binning_for, count_columns, run_results

__all__ = ["CoverageCounts", "merge_counts"]

_ALL_CASES = (0, 2**63 - 1)


def _space_difference(a: ParameterSpace, b: ParameterSpace) -> tuple[str, str]:
    """Where two spaces differ ("in kind: values walk only in one run; ..."), and what
    to do about it, for the message of a refused merge."""
    out = []
    for name in differing_dimensions(a, b):
        if name not in a or name not in b:
            out.append(f"{name}: a dimension of one run only")
            continue
        da, db = a[name].to_dict(), b[name].to_dict()
        if "choices" in da and "choices" in db:
            only = sorted(set(map(str, da["choices"])) ^ set(map(str, db["choices"])))
            shown = ", ".join(only[:3]) + (f" and {len(only) - 3} more" if len(only) > 3 else "")
            out.append(f"{name}: {shown or 'weights'} in one run only")
        else:
            out.append(f"{name}: other settings")
    where = f"; in {'; '.join(out[:3])}" if out else ""
    if "recording" in a.names or "recording" in b.names:  # label values, not a sampled space
        return where, (
            "runs of recordings merge when they bin the same label columns (highfive "
            "coverage bins them by every value of them all); count them apart"
        )
    return where, "recount both runs with the same space, bins and crosses"


_RECORDING = "recording:"  # a source key of one recording: "recording:SHA256 FILE"


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.int64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class CoverageCounts:
    """Cases and failures per cross, cell and model.

    Parameters
    ----------
    binning : Binning
    crosses : tuple of Cross
    models : tuple of str
        Model ids, sorted.
    model_sha256 : tuple of (str or None)
        SHA-256 of each model's file where known; ids with different hashes never merge.
    n : np.ndarray, shape (cells, models), int64
        Cases per cell (rows with an ignored or illegal value in the cross's coverpoints
        are not counted).
    fails : np.ndarray, shape (cells, models, len(FAIL_VERDICTS)), int64
        Failures per cell by verdict, in :data:`highfive.harness.FAIL_VERDICTS` order.
    rows : np.ndarray, shape (models,), int64
        Result rows read per model.
    ignored, illegal : np.ndarray, shape (coverpoints, models), int64
        Values that fell in ignored bins, or in illegal bins / outside every bin.
    sources : tuple of (str, int, int)
        Case sequences counted, (key, first case, last case): merging refuses to count
        a case twice. A run of recordings has one per recording, ``("recording:SHA256
        FILE", 0, 0)``: a file's content is one case, in whichever run.
    """

    binning: Binning
    crosses: tuple[Cross, ...]
    models: tuple[str, ...]
    model_sha256: tuple[str | None, ...]
    n: np.ndarray
    fails: np.ndarray
    rows: np.ndarray
    ignored: np.ndarray
    illegal: np.ndarray
    sources: tuple[Source, ...] = ()
    offsets: np.ndarray = field(init=False, repr=False)
    crosses_fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        cells = [c.n_cells(self.binning) for c in self.crosses]
        offsets = np.concatenate([[0], np.cumsum(cells, dtype=np.int64)])
        m, d = len(self.models), len(self.binning)
        if list(self.models) != sorted(set(self.models)) or len(self.model_sha256) != m:
            raise ValueError(f"models {self.models} must be sorted, distinct, one sha256 each")
        for name, arr, shape in [
            ("n", self.n, (offsets[-1], m)),
            ("fails", self.fails, (offsets[-1], m, len(FAIL_VERDICTS))),
            ("rows", self.rows, (m,)),
            ("ignored", self.ignored, (d, m)),
            ("illegal", self.illegal, (d, m)),
        ]:
            a = _frozen(arr)
            if a.shape != tuple(shape) or (a.size and a.min() < 0):
                raise ValueError(f"{name}: shape {a.shape}, expected {tuple(shape)} counts >= 0")
            object.__setattr__(self, name, a)
        if np.any(self.fails.sum(axis=-1) > self.n):
            raise ValueError("fails: more failures than cases in a cell")
        object.__setattr__(self, "crosses", tuple(self.crosses))
        object.__setattr__(self, "sources", tuple(sorted(set(self.sources))))
        object.__setattr__(self, "offsets", _frozen(offsets))
        object.__setattr__(self, "crosses_fingerprint", crosses_fingerprint(self.crosses))

    # -- access -------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CoverageCounts):
            return NotImplemented
        same = (
            self.binning.fingerprint == other.binning.fingerprint
            and self.binning.space_fingerprint == other.binning.space_fingerprint
            and self.crosses_fingerprint == other.crosses_fingerprint
            and (self.models, self.model_sha256, self.sources)
            == (other.models, other.model_sha256, other.sources)
        )
        return same and all(
            np.array_equal(getattr(self, k), getattr(other, k))
            for k in ("n", "fails", "rows", "ignored", "illegal")
        )

    __hash__ = None  # type: ignore[assignment]

    def cells(self, cross: int | str) -> slice:
        """The rows of ``n`` and ``fails`` that hold one cross (by index or name)."""
        i = self.cross_index(cross)
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def cross_index(self, cross: int | str) -> int:
        if isinstance(cross, int):
            if not 0 <= cross < len(self.crosses):
                raise ConfigError(f"cross: index {cross} outside 0..{len(self.crosses) - 1}")
            return cross
        for i, c in enumerate(self.crosses):
            if c.name == cross:
                return i
        names = show_list([c.name for c in self.crosses])
        raise ConfigError(f"cross: {show(cross)} is not one of {names}")

    @property
    def cross_ids(self) -> np.ndarray:
        """Cross index of every cell row, shape (cells,)."""
        return np.repeat(np.arange(len(self.crosses)), np.diff(self.offsets))

    @property
    def cell_ids(self) -> np.ndarray:
        """Cell index within its cross of every cell row, shape (cells,)."""
        return np.arange(int(self.offsets[-1])) - np.repeat(
            self.offsets[:-1], np.diff(self.offsets)
        )

    # -- building -----------------------------------------------------------------------
    @classmethod
    def empty(cls, binning: Binning, crosses: Sequence[Cross] | None = None) -> CoverageCounts:
        """Counts with no models and no cases."""
        crosses = tuple(crosses) if crosses is not None else make_crosses(binning)
        total = sum(c.n_cells(binning) for c in crosses)
        d = len(binning)
        z = np.zeros
        return cls(
            binning,
            crosses,
            (),
            (),
            z((total, 0)),
            z((total, 0, len(FAIL_VERDICTS))),
            z(0),
            z((d, 0)),
            z((d, 0)),
        )

    @classmethod
    def from_results(
        cls,
        results: ds.Dataset | pa.Table | pd.DataFrame,
        binning: Binning | None = None,
        crosses: Sequence[Cross] | None = None,
        *,
        model: str | None = None,
        model_sha256: Mapping[str, str] | None = None,
        source: str | None = None,
        batch_size: int = DEFAULT_BATCH,
        progress: Callable[[int, int], None] | None = None,
    ) -> CoverageCounts:
        """Count results rows.

        Parameters
        ----------
        results : pyarrow.dataset.Dataset, pyarrow.Table or pandas.DataFrame
            One row per case and model, with a column per coverpoint, ``verdict`` and
            ``model`` (e.g. ``RunDir(path).results_dataset()``). Only those columns
            (and ``case_id`` when ``source`` is given) are read, batch by batch.
        binning : Binning, optional
            Default: the default bins of the space stored in the results' schema.
        crosses : sequence of Cross, optional
            Default: every 1- and 2-way cross.
        model : str, optional
            Model id of every row, for results without a ``model`` column.
        model_sha256 : mapping, optional
            SHA-256 of each model file, checked when counts are merged.
        source : str, optional
            Key of the case sequence (e.g. a hash of seed and sampler); with the
            ``case_id`` range it stops merges from counting a case twice.
        batch_size : int
            Rows per batch: bounds the working memory (about 16 bytes per row and
            coverpoint, besides the Parquet reader's buffers).
        progress : callable, optional
            Called after each batch with (rows counted, rows in all).
        """
        schema = results.schema if not isinstance(results, pd.DataFrame) else None
        binning = binning_for(schema, binning)
        crosses = tuple(crosses) if crosses is not None else make_crosses(binning)
        cols, track = count_columns(results, binning, model, source)
        acc = Accumulator(binning, crosses, model)
        total = 0
        if progress is not None:
            total = results.count_rows() if isinstance(results, ds.Dataset) else len(results)
        for batch in batches(results, cols, batch_size):
            acc.add(batch)
            if progress is not None:
                progress(acc.n_rows, total)
        lo, hi = acc.case_range if track else _ALL_CASES
        sources = [(source, lo, hi)] if source is not None and acc.n_rows else []
        return cls(**acc.result(dict(model_sha256 or {}), sources))

    @classmethod
    def from_run(
        cls,
        path: str | os.PathLike[str],
        binning: Binning | None = None,
        crosses: Sequence[Cross] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH,
        progress: Callable[[int, int], None] | None = None,
    ) -> CoverageCounts:
        """Count the results of a run directory (model hashes from its campaign.json):
        the rows of the batches its manifest lists as done."""
        dataset, sha, key, recorded = run_results(path)
        counts = cls.from_results(
            dataset,
            binning,
            crosses,
            model_sha256=sha,
            source=key,
            batch_size=batch_size,
            progress=progress,
        )
        if recorded and counts.sources:
            # A recording is one case whichever run or labels file holds it: a source
            # per recording (by content), so that a merge never counts it twice.
            [(_, lo, hi)] = counts.sources
            mine = {
                (f"{_RECORDING}{digest} {file}", 0, 0) for file, digest in recorded[lo : hi + 1]
            }
            counts = replace(counts, sources=tuple(mine))
        return counts

    # -- merging ------------------------------------------------------------------------
    def merge(self, other: CoverageCounts) -> CoverageCounts:
        """Counts of both: cases and failures add, per cell and model.

        Raises :class:`ConfigError` when the spaces, bins or crosses differ and
        :class:`RunDirError` when a model id names different files or a case would be
        counted twice.
        """
        a, b = self, other
        for what, x, y in [
            ("parameter spaces", a.binning.space_fingerprint, b.binning.space_fingerprint),
            ("bins", a.binning.fingerprint, b.binning.fingerprint),
            ("crosses", a.crosses_fingerprint, b.crosses_fingerprint),
        ]:
            if x != y:
                where, then = _space_difference(a.binning.space, b.binning.space)
                raise ConfigError(
                    f"cannot merge coverage: the {what} differ (fingerprint {x[:12]} vs "
                    f"{y[:12]}{where if what[0] == 'p' else ''}); {then}"
                )
        sha_a = dict(zip(a.models, a.model_sha256, strict=True))
        sha_b = dict(zip(b.models, b.model_sha256, strict=True))
        for m in sorted(sha_a.keys() & sha_b.keys()):
            sa, sb = sha_a[m], sha_b[m]
            if sa and sb and sa != sb:
                raise RunDirError(
                    f"cannot merge coverage: model {m!r} is sha256 {sa[:12]}... in one run "
                    f"and {sb[:12]}... in the other; give different models different ids"
                )
        for s in a.sources:
            for t in b.sources:
                if s[0].startswith(_RECORDING) and s[0].split()[0] == t[0].split()[0]:
                    raise RunDirError(
                        f"cannot merge coverage: recording {s[0].split(' ', 1)[1]!r} (sha256 "
                        f"{s[0].split()[0].removeprefix(_RECORDING)[:12]}...) is in both runs"
                        f"{'' if s == t else ' as ' + repr(t[0].split(' ', 1)[1])}; it would "
                        "count twice: leave it out of one labels file"
                    )
                if s[0] == t[0] and s[1] <= t[2] and t[1] <= s[2]:
                    raise RunDirError(
                        f"cannot merge coverage: cases {max(s[1], t[1])}..{min(s[2], t[2])} "
                        f"of case sequence {s[0][:12]} are in both (one seed, sampler and "
                        "space draw case i from the same random numbers): the same cases would "
                        "count twice, and a Latin hypercube's of another size would not be "
                        "independent; give each run a seed of its own"
                    )
        models = tuple(sorted(sha_a.keys() | sha_b.keys()))
        sha = tuple(sha_a.get(m) or sha_b.get(m) for m in models)
        out = {}
        for k, axis in [("n", 1), ("fails", 1), ("rows", 0), ("ignored", 1), ("illegal", 1)]:
            x, y = getattr(a, k), getattr(b, k)
            shape = list(x.shape)
            shape[axis] = len(models)
            total = np.zeros(shape, dtype=np.int64)
            for part, ms in ((x, a.models), (y, b.models)):
                idx = [slice(None)] * total.ndim
                idx[axis] = np.searchsorted(models, ms).astype(np.intp)  # type: ignore[call-overload]
                total[tuple(idx)] += part
            out[k] = total
        return CoverageCounts(
            a.binning, a.crosses, models, sha, sources=a.sources + b.sources, **out
        )

    # -- plain data ---------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """One row per cell and model; everything else rides in the schema metadata.

        Columns: ``cross`` (index), ``cell``, ``model``, ``n`` and one per failure
        verdict. :meth:`from_arrow` reads it back to equal counts.
        """
        m = len(self.models)
        cols: dict[str, Any] = {
            "cross": np.repeat(self.cross_ids.astype(np.int32), m),
            "cell": np.repeat(self.cell_ids, m),
            "model": pa.array(
                np.tile(np.array(self.models, dtype=object), len(self.n)), pa.string()
            ),
            "n": self.n.ravel(),
        }
        for j, v in enumerate(FAIL_VERDICTS):
            cols[v] = self.fails[:, :, j].ravel()
        meta = {
            "binning": self.binning.to_dict(),
            "crosses": [[c.name, list(c.dims)] for c in self.crosses],
            "models": list(self.models),
            "model_sha256": list(self.model_sha256),
            "rows": self.rows.tolist(),
            "ignored": self.ignored.tolist(),
            "illegal": self.illegal.tolist(),
            "sources": [list(s) for s in self.sources],
        }
        return pa.table(cols).replace_schema_metadata({"highfive.coverage": json.dumps(meta)})

    @classmethod
    def from_arrow(cls, table: pa.Table) -> CoverageCounts:
        """Counts written by :meth:`to_arrow`.

        Files written before a verdict existed (``error`` and ``timeout`` came later)
        lack its column: it reads as zero failures, which is what those runs had.
        """
        raw = (table.schema.metadata or {}).get(b"highfive.coverage")
        if raw is None:
            raise RunDirError("coverage table: no 'highfive.coverage' metadata; not counts")
        meta = json.loads(raw)
        binning = Binning.from_dict(meta["binning"])
        crosses = tuple(Cross(name, tuple(dims)) for name, dims in meta["crosses"])
        m, d = len(meta["models"]), len(binning)
        n = table["n"].to_numpy().reshape(-1, m) if m else np.zeros((0, 0))
        total = sum(c.n_cells(binning) for c in crosses)
        zero = np.zeros(table.num_rows, dtype=np.int64)
        fails = np.stack(
            [table[v].to_numpy() if v in table.column_names else zero for v in FAIL_VERDICTS],
            axis=-1,
        )
        return cls(
            binning,
            crosses,
            tuple(meta["models"]),
            tuple(meta["model_sha256"]),
            n.reshape(total, m),
            fails.reshape(total, m, len(FAIL_VERDICTS)),
            np.asarray(meta["rows"]).reshape(m),
            np.asarray(meta["ignored"]).reshape(d, m),
            np.asarray(meta["illegal"]).reshape(d, m),
            tuple((str(k), int(lo), int(hi)) for k, lo, hi in meta["sources"]),
        )

    def to_frame(self) -> pd.DataFrame:
        """:meth:`to_arrow` as a DataFrame (cross, cell, model, n, failure verdicts)."""
        return self.to_arrow().to_pandas()


def merge_counts(counts: Iterable[CoverageCounts]) -> CoverageCounts:
    """Merge any number of counts (order never changes the result)."""
    it = iter(counts)
    try:
        out = next(it)
    except StopIteration:
        raise ConfigError("merge_counts: nothing to merge; give at least one") from None
    for c in it:
        out = out.merge(c)
    return out
