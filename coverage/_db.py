"""The coverage counts database: cases and failures per cross, cell and model.

Counts are integers in flat arrays, one row per cell of every cross (crosses laid end to
end, ``offsets`` marks where each starts) and one column per model, so merging two runs
is exact integer addition: associative, commutative, and blind to merge order. Coverage
and statistics are always recomputed from merged counts, never summed as percentages.

Results stream through in record batches (only the needed columns are read), so memory
stays bounded whatever the number of rows. Per batch, rows are binned once; each cross
is then one ``np.bincount`` over ``(cell * n_models + model) * V + verdict`` (``V``
verdicts), which yields the cases and every failure verdict at once.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from highfive.generators import ConfigError, ParameterSpace, RunDirError
from highfive.harness import FAIL_VERDICTS, VERDICTS

from ._bins import IGNORED, ILLEGAL, Binning, _sha256, codes, space_fingerprint
from ._crosses import Cross, crosses_fingerprint, make_crosses

__all__ = ["CoverageCounts", "merge_counts"]

_NV = len(VERDICTS)
DEFAULT_BATCH = 1 << 17
_ALL_CASES = (0, 2**63 - 1)

Source = tuple[str, int, int]
"""Where counts come from: (key of the case sequence, first case id, last case id)."""


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
        Case sequences counted: merging refuses to count a case twice.
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
        raise ConfigError(f"cross: {cross!r} is not one of {[c.name for c in self.crosses]}")

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
        """
        schema = results.schema if not isinstance(results, pd.DataFrame) else None
        binning = _binning_for(schema, binning)
        crosses = tuple(crosses) if crosses is not None else make_crosses(binning)
        names = list(results.columns) if schema is None else schema.names
        cols = [*binning.names, "verdict"]
        if "model" in names:
            cols.append("model")
        elif model is None:
            raise RunDirError("results: no 'model' column; pass model='<id>' for one model")
        track = source is not None and "case_id" in names
        if track:
            cols.append("case_id")
        missing = [c for c in cols if c not in names]
        if missing:
            raise RunDirError(
                f"results: no column {missing[0]!r}; columns present: {', '.join(names)}"
            )
        acc = _Accumulator(binning, crosses, model)
        for batch in _batches(results, cols, batch_size):
            acc.add(batch)
        lo, hi = acc.case_range if track else _ALL_CASES
        sources = [(source, lo, hi)] if source is not None and acc.n_rows else []
        return acc.result(dict(model_sha256 or {}), sources)

    @classmethod
    def from_run(
        cls,
        path: str | os.PathLike[str],
        binning: Binning | None = None,
        crosses: Sequence[Cross] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH,
    ) -> CoverageCounts:
        """Count the results of a run directory (model hashes from its campaign.json)."""
        from highfive.harness._rundir import RunDir  # lazy: the harness pulls in ONNX Runtime

        run = RunDir(path)
        record = run.read_campaign()
        sha = {m["id"]: m["sha256"] for m in record.get("models", [])}
        dataset = run.results_dataset()
        identity = record.get("identity", {})
        space = ParameterSpace.from_arrow_schema(dataset.schema)
        # Case i depends only on (seed, sampler, space, i): that is the case sequence.
        seq = [identity.get(k) for k in ("seed", "sampler", "space")]
        key = _sha256([*seq, space_fingerprint(space)]) if seq[0] is not None else None
        return cls.from_results(
            dataset, binning, crosses, model_sha256=sha, source=key, batch_size=batch_size
        )

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
                raise ConfigError(
                    f"cannot merge coverage: the {what} differ (fingerprint {x[:12]} vs "
                    f"{y[:12]}); recount both runs with the same space, bins and crosses"
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
                if s[0] == t[0] and s[1] <= t[2] and t[1] <= s[2]:
                    raise RunDirError(
                        f"cannot merge coverage: cases {max(s[1], t[1])}..{min(s[2], t[2])} "
                        f"of case sequence {s[0][:12]} are in both; they would count twice"
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


def _binning_for(schema: pa.Schema | None, binning: Binning | None) -> Binning:
    """The binning to use, checked against the space the results carry."""
    has_space = schema is not None and any(
        b"highfive.dimension" in (f.metadata or {}) for f in schema
    )
    if not has_space:
        if binning is None:
            raise ConfigError(
                "binning: the results carry no parameter-space metadata; pass "
                "binning=Binning.from_space(space)"
            )
        return binning
    assert schema is not None
    space = ParameterSpace.from_arrow_schema(schema)
    if binning is None:
        return Binning.from_space(space)
    if space_fingerprint(space) != binning.space_fingerprint:
        diff = [
            d.name
            for d in space
            if d.name not in binning.space or binning.space[d.name].to_dict() != d.to_dict()
        ]
        raise RunDirError(
            f"results were made in another parameter space than the binning's (differs in "
            f"{', '.join(diff) or 'dimension order'}); bin them with their own space"
        )
    return binning


def _batches(
    results: ds.Dataset | pa.Table | pd.DataFrame, cols: list[str], batch_size: int
) -> Iterator[pa.RecordBatch]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size: {batch_size!r} must be a positive whole number")
    if isinstance(results, pd.DataFrame):
        for start in range(0, len(results), batch_size):
            chunk = results.iloc[start : start + batch_size][cols]
            yield from pa.Table.from_pandas(chunk, preserve_index=False).to_batches()
    elif isinstance(results, pa.Table):
        yield from results.select(cols).to_batches(max_chunksize=batch_size)
    elif isinstance(results, ds.Dataset):
        # Small read-ahead: memory stays bounded however many files the run holds.
        yield from results.to_batches(
            columns=cols, batch_size=batch_size, batch_readahead=2, fragment_readahead=1
        )
    else:
        raise ConfigError(
            f"results: {type(results).__name__} is not a pyarrow dataset, table or DataFrame"
        )


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return arr.cast(arr.type.value_type) if pa.types.is_dictionary(arr.type) else arr


class _Accumulator:
    """Per-cross dense counts while batches stream through.

    Each coverpoint gets one extra slot (index ``n_bins``) for ignored and illegal
    values; a row with such a value lands in a slot cell that :meth:`result` drops.
    """

    def __init__(self, binning: Binning, crosses: Sequence[Cross], model: str | None) -> None:
        self.binning, self.crosses, self.model = binning, tuple(crosses), model
        self.radix = np.array(binning.radices, dtype=np.intp)
        self.dims = [tuple(binning.index(d) for d in c.dims) for c in self.crosses]
        self.slots = [math.prod(int(self.radix[i]) + 1 for i in dims) for dims in self.dims]
        self.models: list[str] = []
        d = len(binning)
        self.counts = [np.zeros((s, 0, _NV), dtype=np.int64) for s in self.slots]
        self.rows = np.zeros(0, dtype=np.int64)
        self.ignored = np.zeros((d, 0), dtype=np.int64)
        self.illegal = np.zeros((d, 0), dtype=np.int64)
        self.case_range = (2**63 - 1, -1)
        self.n_rows = 0

    def _global(self, names: list[str]) -> np.ndarray:
        new = [m for m in names if m not in self.models]
        if new:
            k = len(new)
            self.models += new
            self.counts = [np.pad(c, ((0, 0), (0, k), (0, 0))) for c in self.counts]
            self.rows = np.pad(self.rows, (0, k))
            self.ignored = np.pad(self.ignored, ((0, 0), (0, k)))
            self.illegal = np.pad(self.illegal, ((0, 0), (0, k)))
        return np.array([self.models.index(m) for m in names], dtype=np.intp)

    def add(self, batch: pa.RecordBatch) -> None:
        rows = batch.num_rows
        if rows == 0:
            return
        self.n_rows += rows
        code, _ = codes(self.binning, batch)
        if "model" in batch.schema.names:
            enc = pc.dictionary_encode(_plain(batch["model"]))
            if enc.null_count:
                raise RunDirError("results: 'model' is missing in some rows")
            names = [str(x) for x in enc.dictionary.to_pylist()]
            m = np.asarray(enc.indices.to_numpy(), dtype=np.intp)
        else:
            names, m = [str(self.model)], np.zeros(rows, dtype=np.intp)
        gidx = self._global(names)
        mb = len(names)
        v = pc.index_in(_plain(batch["verdict"]), value_set=pa.array(VERDICTS))
        if v.null_count:
            bad = pc.filter(batch["verdict"], pc.is_null(v))[0].as_py()
            raise RunDirError(f"results: verdict {bad!r} is not one of {list(VERDICTS)}")
        if "case_id" in batch.schema.names:
            mm = pc.min_max(batch["case_id"]).as_py()
            lo, hi = self.case_range
            self.case_range = (min(lo, mm["min"]), max(hi, mm["max"]))
        base = m * _NV + np.asarray(v.to_numpy(), dtype=np.intp)
        self.rows[gidx] += np.bincount(m, minlength=mb)
        if np.any(code < 0):
            for j in np.flatnonzero(np.any(code < 0, axis=0)):
                for arr, flag in ((self.ignored, IGNORED), (self.illegal, ILLEGAL)):
                    arr[j, gidx] += np.bincount(m[code[:, j] == flag], minlength=mb)
        # Slot-coded bins, one contiguous row per coverpoint. Keys are int16 where the
        # cross is small enough: bincount and arithmetic then move a quarter of the bytes.
        c = np.where(code < 0, self.radix.astype(np.int16), code).T.copy()
        stride = mb * _NV
        scaled: dict[tuple[int, type], np.ndarray] = {}  # c * stride + base, by first use
        bufs: dict[type, np.ndarray] = {}
        r = self.radix + 1
        for k, dims in enumerate(self.dims):
            size = self.slots[k] * stride
            dt: type = np.int16 if size <= np.iinfo(np.int16).max else np.intp
            last = dims[-1]
            if (last, dt) not in scaled:
                scaled[last, dt] = np.multiply(c[last], stride, dtype=dt) + base.astype(dt)
            if len(dims) == 1:
                key = scaled[last, dt]
            else:
                key = bufs.setdefault(dt, np.empty(rows, dtype=dt))
                # key = ((c0 * r1 + c1) * r2 + ...) * (r_last * stride) + scaled_last
                mults = [int(r[i]) for i in dims[1:-1]] + [int(r[last]) * stride]
                np.multiply(c[dims[0]], mults[0], out=key, dtype=dt)
                for i, mult in zip(dims[1:-1], mults[1:], strict=True):
                    np.add(key, c[i], out=key, dtype=dt)
                    np.multiply(key, mult, out=key, dtype=dt)
                np.add(key, scaled[last, dt], out=key)
            cnt = np.bincount(key, minlength=size)
            self.counts[k][:, gidx, :] += cnt.reshape(self.slots[k], mb, _NV)

    def result(self, sha: Mapping[str, str], sources: list[Source]) -> CoverageCounts:
        order = np.argsort(self.models, kind="stable").astype(np.intp)
        parts = []
        for dims, cnt in zip(self.dims, self.counts, strict=True):
            full = cnt.reshape(*(int(self.radix[i]) + 1 for i in dims), len(self.models), _NV)
            legal = full[tuple(slice(0, int(self.radix[i])) for i in dims)]
            cells = math.prod(int(self.radix[i]) for i in dims)
            parts.append(legal.reshape(cells, len(self.models), _NV)[:, order])
        allc = np.concatenate(parts) if parts else np.zeros((0, len(self.models), _NV))
        models = tuple(self.models[i] for i in order)
        return CoverageCounts(
            self.binning,
            self.crosses,
            models,
            tuple(sha.get(m) for m in models),
            allc.sum(axis=-1),
            allc[..., 1:],
            self.rows[order],
            self.ignored[:, order],
            self.illegal[:, order],
            tuple(sources),
        )
