"""Streaming accumulation of result rows into per-cross dense counts.

Per record batch, rows are binned once; each cross is then one ``np.bincount`` over
``(cell * n_models + model) * V + verdict`` (``V`` verdicts, pass first), which yields
the cases and every failure verdict at once. Each coverpoint gets one extra slot for
ignored and illegal values, dropped when the counts are read out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from highfive.generators import RunDirError, show, show_list
from highfive.harness import VERDICTS

from ._bins import IGNORED, ILLEGAL, Binning, codes
from ._crosses import Cross

__all__ = ["Accumulator", "Source"]

_NV = len(VERDICTS)

Source = tuple[str, int, int]
"""Where counts come from: (key of the case sequence, first case id, last case id)."""


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return arr.cast(arr.type.value_type) if pa.types.is_dictionary(arr.type) else arr


class Accumulator:
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
            raise RunDirError(f"results: verdict {show(bad)} is not one of {show_list(VERDICTS)}")
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

    def result(self, sha: Mapping[str, str], sources: list[Source]) -> dict[str, Any]:
        """The counts so far: the keyword arguments of ``CoverageCounts``."""
        order = np.argsort(self.models, kind="stable").astype(np.intp)
        parts = []
        for dims, cnt in zip(self.dims, self.counts, strict=True):
            full = cnt.reshape(*(int(self.radix[i]) + 1 for i in dims), len(self.models), _NV)
            legal = full[tuple(slice(0, int(self.radix[i])) for i in dims)]
            cells = math.prod(int(self.radix[i]) for i in dims)
            parts.append(legal.reshape(cells, len(self.models), _NV)[:, order])
        allc = np.concatenate(parts) if parts else np.zeros((0, len(self.models), _NV))
        models = tuple(self.models[i] for i in order)
        return {
            "binning": self.binning,
            "crosses": self.crosses,
            "models": models,
            "model_sha256": tuple(sha.get(m) for m in models),
            "n": allc.sum(axis=-1),
            "fails": allc[..., 1:],
            "rows": self.rows[order],
            "ignored": self.ignored[:, order],
            "illegal": self.illegal[:, order],
            "sources": tuple(sources),
        }
