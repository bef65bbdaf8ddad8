"""Coverpoints and their bins, as in SystemVerilog covergroups.

A :class:`Coverpoint` splits one parameter dimension into bins: intervals given by
``edges`` (``[e0, e1), [e1, e2), ..., [e_{k-1}, e_k]``, the last one closed) or one bin
per value in ``choices``. A bin is *legal* (it counts as coverage), *ignored* (values
there are sampled but never count, e.g. ``motion=rest``) or *illegal* (a value there is
an error in the data: it is counted separately and reported). Values outside every bin,
and missing values, count as illegal too.

Bin labels are for people only; everything inside works on bin indices, so no name,
however odd, can break a lookup.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from highfive.generators import (
    ConfigError,
    Dimension,
    InvalidParameter,
    RunDirError,
    is_number,
    show,
    show_list,
)

__all__ = ["IGNORED", "ILLEGAL", "Coverpoint"]

Scalar = float | int | str
IGNORED = -1
"""Code of a value in an ignored bin."""
ILLEGAL = -2
"""Code of a value in an illegal bin, outside every bin, or missing."""

DEFAULT_COUNT = 4
MAX_VALUE_BINS = 6
MAX_COUNT = 1000
"""The most bins a ``count`` or an ``edges`` list gives one dimension."""


def _fmt_edges(edges: Sequence[float]) -> list[str]:
    """Shortest ``g`` formatting (3 significant digits or more) that keeps edges distinct."""
    for digits in range(3, 18):
        out = [
            np.format_float_positional(e, precision=digits, fractional=False, trim="-")
            if e == 0 or 1e-4 <= abs(e) < 1e9
            else f"{e:.{digits}g}"
            for e in edges
        ]
        if len(set(out)) == len(out):
            return out
    return [repr(float(e)) for e in edges]


def _float(x: Any) -> float:
    """``float(x)``; infinity for a whole number too large for a float."""
    try:
        return float(x)
    except OverflowError:
        return math.inf


@dataclass(frozen=True)
class Coverpoint:
    """The bins of one dimension.

    Parameters
    ----------
    name : str
        The dimension (the results column) this coverpoint samples.
    edges : sequence of float, optional
        Strictly increasing bin edges; bin ``i`` is ``[edges[i], edges[i+1])``, the last
        bin is closed. Exactly one of ``edges`` and ``choices`` is given.
    choices : sequence of scalar, optional
        One bin per value.
    labels : sequence of str, optional
        One readable label per bin (default: ``"gap[0.3,0.6)"``, ``"motion=clap"``).
    ignore, illegal : sequence, optional
        Bins whose values never count as coverage, or are errors in the data. Name a bin
        by its value (a choice, or any number inside an interval bin) or by its label.
    integer : bool
        Interval bins of an integer dimension: labels read ``"bits[8..9]"``.
    """

    name: str
    edges: tuple[float, ...] | None = None
    choices: tuple[Scalar, ...] | None = None
    labels: tuple[str, ...] = ()
    ignore: tuple[Scalar, ...] = ()
    illegal: tuple[Scalar, ...] = ()
    integer: bool = False
    _lut: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.name
        if (self.edges is None) == (self.choices is None):
            raise InvalidParameter(f"coverpoint {n}: give exactly one of edges and choices")
        if self.edges is not None:
            e = tuple(float(x) for x in self.edges)
            if len(e) < 2 or not all(math.isfinite(x) for x in e):
                raise InvalidParameter(
                    f"coverpoint {n}: edges {show_list(e)} must be at least 2 finite numbers"
                )
            if any(b <= a for a, b in itertools.pairwise(e)):
                raise InvalidParameter(
                    f"coverpoint {n}: edges {show_list(e)} must strictly increase"
                )
            object.__setattr__(self, "edges", e)
        else:
            c = tuple(self.choices or ())
            if not c or len(set(c)) != len(c):
                raise InvalidParameter(f"coverpoint {n}: choices {show_list(c)} must be distinct")
            object.__setattr__(self, "choices", c)
        labels = tuple(self.labels) or self._default_labels()
        if len(labels) != self.n_raw or len(set(labels)) != len(labels):
            raise InvalidParameter(
                f"coverpoint {n}: labels {show_list(labels)} must be {self.n_raw} distinct strings"
            )
        object.__setattr__(self, "labels", tuple(str(x) for x in labels))
        object.__setattr__(self, "ignore", tuple(self.ignore))
        object.__setattr__(self, "illegal", tuple(self.illegal))
        ign = {self._resolve(v, "ignore") for v in self.ignore}
        ill = {self._resolve(v, "illegal") for v in self.illegal}
        if ign & ill:
            both = [self.labels[i] for i in sorted(ign & ill)]
            raise InvalidParameter(
                f"coverpoint {n}: bins {show_list(both)} are both ignored and illegal"
            )
        if len(ign | ill) == self.n_raw:
            raise InvalidParameter(f"coverpoint {n}: every bin is ignored or illegal")
        # Lookup table: raw bin index (and n_raw = outside every bin) -> code.
        lut = np.full(self.n_raw + 1, ILLEGAL, dtype=np.int16)
        legal = [i for i in range(self.n_raw) if i not in ign | ill]
        lut[legal] = np.arange(len(legal), dtype=np.int16)
        lut[sorted(ign)] = IGNORED
        object.__setattr__(self, "_lut", lut)

    # -- bins ---------------------------------------------------------------------------
    @property
    def n_raw(self) -> int:
        """Number of bins, ignored and illegal ones included."""
        return len(self.edges) - 1 if self.edges is not None else len(self.choices or ())

    @property
    def n_bins(self) -> int:
        """Number of legal bins: the radix of this coverpoint in a cross."""
        return int(np.count_nonzero(self._lut[:-1] >= 0))

    @property
    def bin_labels(self) -> tuple[str, ...]:
        """Labels of the legal bins, in code order."""
        return tuple(lab for lab, c in zip(self.labels, self._lut, strict=False) if c >= 0)

    @property
    def ignored_labels(self) -> tuple[str, ...]:
        return tuple(lab for lab, c in zip(self.labels, self._lut, strict=False) if c == IGNORED)

    @property
    def illegal_labels(self) -> tuple[str, ...]:
        return tuple(
            lab for lab, c in zip(self.labels, self._lut[:-1], strict=False) if c == ILLEGAL
        )

    def _default_labels(self) -> tuple[str, ...]:
        n = self.name
        if self.choices is not None:
            texts = [str(c) for c in self.choices]
            if len(set(texts)) != len(texts):  # e.g. "1" and 1
                texts = [repr(c) for c in self.choices]
            return tuple(f"{n}={t}" for t in texts)
        assert self.edges is not None
        e = self.edges
        if self.integer:
            out = []
            for i in range(len(e) - 1):
                lo = math.ceil(e[i])
                hi = math.floor(e[i + 1]) if i == len(e) - 2 else math.ceil(e[i + 1]) - 1
                if hi < lo:
                    raise InvalidParameter(
                        f"coverpoint {n}: bin [{e[i]:g}, {e[i + 1]:g}) holds no whole number"
                    )
                out.append(f"{n}={lo}" if lo == hi else f"{n}[{lo}..{hi}]")
            return tuple(out)
        s = _fmt_edges(e)
        last = len(e) - 2
        return tuple(f"{n}[{s[i]},{s[i + 1]}{']' if i == last else ')'}" for i in range(last + 1))

    def _resolve(self, value: Scalar, what: str) -> int:
        """Raw bin index of a bin named by value or label."""
        if self.choices is not None:
            for i, c in enumerate(self.choices):
                if value == c and type(value) is not bool:
                    return i
        elif is_number(value) and math.isfinite(_float(value)):
            idx = self._raw(np.array([float(value)]))[0]
            if idx < self.n_raw:
                return int(idx)
        if isinstance(value, str) and value in self.labels:
            return self.labels.index(value)
        allowed = list(self.choices) if self.choices is not None else list(self.labels)
        raise InvalidParameter(
            f"coverpoint {self.name}.{what}: {show(value)} names no bin; use one of "
            f"{show_list(allowed, 200)}"
        )

    def _raw(self, x: np.ndarray) -> np.ndarray:
        """Raw bin index of numeric values; ``n_raw`` outside every bin or NaN."""
        if self.edges is not None:
            e = np.asarray(self.edges)
            if len(e) <= 18:  # a few comparisons beat a binary search per value
                idx = np.zeros(x.shape, dtype=np.intp)
                for edge in e[1:-1]:
                    idx += x >= edge
            else:
                idx = np.searchsorted(e[1:-1], x, side="right")
            idx[~((x >= e[0]) & (x <= e[-1]))] = self.n_raw
            return idx
        vals = np.array([math.nan if isinstance(c, str) else float(c) for c in self.choices or ()])
        order = np.argsort(vals)
        pos = np.minimum(np.searchsorted(vals[order], x), len(vals) - 1)
        return np.where(vals[order][pos] == x, order[pos], self.n_raw)

    def code(self, column: pa.Array | pa.ChunkedArray | np.ndarray | pd.Series) -> np.ndarray:
        """Codes of values: legal bin index, :data:`IGNORED` or :data:`ILLEGAL`; int16."""
        arr = (
            column
            if isinstance(column, pa.Array | pa.ChunkedArray)
            else pa.array(column, from_pandas=True)
        )
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        numeric = pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)
        if self.choices is not None and not numeric:
            keep = [i for i, c in enumerate(self.choices) if isinstance(c, str)]
            if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) or not keep:
                raise RunDirError(
                    f"column {self.name}: type {arr.type} cannot hold choices "
                    f"{show_list(self.choices)}"
                )
            values = pa.array([self.choices[i] for i in keep], arr.type)
            idx = pc.index_in(arr, value_set=values).fill_null(len(keep))
            lookup = np.array([*keep, self.n_raw], dtype=np.intp)
            raw = lookup[np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.intp)]
        else:
            if not numeric or (
                self.choices is not None and all(isinstance(c, str) for c in self.choices)
            ):
                raise RunDirError(
                    f"column {self.name}: type {arr.type}, expected "
                    + ("numbers for its bins" if self.choices is None else "strings")
                )
            x = pc.cast(arr, pa.float64()).fill_null(math.nan)
            raw = self._raw(np.asarray(x.to_numpy(zero_copy_only=False)))
        return self._lut[raw]

    # -- plain data ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        if self.edges is not None:
            d["edges"] = list(self.edges)
        else:
            d["choices"] = list(self.choices or ())
        d.update(labels=list(self.labels), ignore=list(self.ignore))
        d.update(illegal=list(self.illegal), integer=self.integer)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Coverpoint:
        kw = dict(data)
        for k in ("edges", "choices", "labels", "ignore", "illegal"):
            if kw.get(k) is not None:
                kw[k] = tuple(kw[k])
        return cls(**kw)

    def canonical(self) -> dict[str, Any]:
        """What the fingerprint covers: bins, labels and the role of every bin."""
        d = self.to_dict()
        d["ignore"] = [int(i) for i in np.flatnonzero(self._lut[:-1] == IGNORED)]
        d["illegal"] = [int(i) for i in np.flatnonzero(self._lut[:-1] == ILLEGAL)]
        return d

    @classmethod
    def from_dimension(
        cls,
        dim: Dimension,
        *,
        edges: Sequence[float] | None = None,
        count: int | None = None,
        labels: Sequence[str] = (),
        ignore: Sequence[Scalar] = (),
        illegal: Sequence[Scalar] = (),
    ) -> Coverpoint:
        """Bins of ``dim``: given edges, a count, or the defaults.

        Defaults: continuous -> 4 bins equally likely under the dimension's own sampling
        distribution (edges ``dim.from_unit([0, .25, .5, .75, 1])``: log-spaced for
        log-uniform, quantiles for truncated normal); integer -> one bin per value up to
        6 values, else 4 bins; categorical -> one bin per choice.
        """
        n = dim.name

        for key, values, what in (
            ("labels", labels, "strings, one per bin"),
            ("ignore", ignore, "bin values or labels"),
            ("illegal", illegal, "bin values or labels"),
        ):
            numbers = key != "labels"
            if not isinstance(values, list | tuple) or not all(
                isinstance(x, str) or (numbers and is_number(x)) for x in values
            ):
                raise ConfigError(f"bins.{n}.{key}: {show(values)} must be a list of {what}")

        def make(**bins: Any) -> Coverpoint:
            return cls(
                n, **bins, labels=tuple(labels), ignore=tuple(ignore), illegal=tuple(illegal)
            )

        if dim.kind == "categorical":
            if edges is not None or count is not None:
                raise ConfigError(
                    f"bins.{n}: a categorical dimension has one bin per choice "
                    f"{show_list(dim.choices or (), 200)}; remove edges/count"
                )
            return make(choices=dim.choices)
        lo, hi = float(dim.low or 0.0), float(dim.high or 0.0)
        unit = f" {dim.unit}" if dim.unit else ""
        integer = dim.kind == "integer"
        if edges is not None and count is not None:
            raise ConfigError(f"bins.{n}: give edges or count, not both")
        if edges is None:
            if count is not None and (
                isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT
            ):
                raise ConfigError(
                    f"bins.{n}.count: {show(count)} must be a positive whole number, at most "
                    f"{MAX_COUNT:,}"
                )
            n_values = int(hi - lo) + 1
            if integer and n_values <= (count or MAX_VALUE_BINS):
                return make(choices=tuple(range(int(lo), int(hi) + 1)))
            k = count or DEFAULT_COUNT
            e = np.asarray(dim.from_unit(np.linspace(0.0, 1.0, k + 1)), dtype=np.float64)
            e[0], e[-1] = lo, hi
            return make(edges=tuple(np.unique(e).tolist()), integer=integer)
        if not isinstance(edges, list | tuple) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in edges
        ):
            raise ConfigError(f"bins.{n}.edges: {show(edges)} must be a list of numbers")
        try:
            given = [float(x) for x in edges]
        except OverflowError:  # a whole number beyond 1e308
            given = [math.inf]
        if len(given) < 2 or not all(math.isfinite(x) for x in given):
            raise ConfigError(
                f"bins.{n}.edges: {show_list(edges)} must be at least 2 finite numbers"
            )
        if len(given) > MAX_COUNT + 1:
            raise ConfigError(
                f"bins.{n}.edges: {len(given):,} edges make more than {MAX_COUNT:,} bins"
            )
        if any(b <= a for a, b in itertools.pairwise(given)):
            raise ConfigError(f"bins.{n}.edges: {show_list(given)} must strictly increase")
        if given[0] > lo or given[-1] < hi:
            raise ConfigError(
                f"bins.{n}.edges: {show_list(given)} do not cover the range [{lo:g}, {hi:g}]"
                f"{unit}; make the first edge <= {lo:g} and the last >= {hi:g}"
            )
        if integer:
            # An integer bin [a, b) holds the whole numbers a .. b - 1 (the last bin,
            # closed, a .. b): [4, 5] holds 4, the top of a range [1, 4], though 4 >= 4.
            empty = [
                i
                for i in range(len(given) - 1)
                if math.ceil(max(given[i], lo))
                > min(
                    math.floor(hi),
                    math.floor(given[i + 1])
                    if i == len(given) - 2
                    else math.ceil(given[i + 1]) - 1,
                )
            ]
            if empty:
                i = empty[0]
                close = "]" if i == len(given) - 2 else ")"
                raise ConfigError(
                    f"bins.{n}.edges: {show_list(given)} make a bin [{given[i]:g}, "
                    f"{given[i + 1]:g}{close} that holds no whole number of the range "
                    f"[{lo:g}, {hi:g}]{unit}, where no case can fall"
                )
        elif given[1] <= lo or given[-2] >= hi:
            raise ConfigError(
                f"bins.{n}.edges: {show_list(given)} put a whole bin outside the range "
                f"[{lo:g}, {hi:g}]{unit}, where no case can fall"
            )
        return make(edges=tuple(given), integer=integer)
