"""Binnings: the ordered coverpoints of a parameter space, and bin codes of result rows.

A :class:`Binning` is the ordered coverpoints of a parameter space plus two
fingerprints (of the space and of the bins): coverage counts merge only when both match.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from highfive.generators import ConfigError, InvalidParameter, ParameterSpace, RunDirError, show

from ._coverpoint import IGNORED, ILLEGAL, Coverpoint
from ._fingerprint import fingerprint, space_fingerprint
from ._tables import check_bin_tables, read_coverage_toml

__all__ = ["IGNORED", "ILLEGAL", "Binning", "Coverpoint", "codes", "space_fingerprint"]


@dataclass(frozen=True)
class Binning:
    """Ordered coverpoints over a parameter space.

    Build it with :meth:`from_space` (defaults, optionally overridden) or
    :meth:`from_toml`. ``fingerprint`` identifies the bins, ``space_fingerprint`` the
    space; coverage counts merge only when both match.
    """

    space: ParameterSpace
    coverpoints: tuple[Coverpoint, ...]
    fingerprint: str = field(init=False)
    space_fingerprint: str = field(init=False)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cps = tuple(self.coverpoints)
        names = [c.name for c in cps]
        for c in cps:
            if c.name not in self.space:
                raise ConfigError(
                    f"bins.{c.name}: unknown dimension; known: {', '.join(self.space.names)}"
                )
        if len(set(names)) != len(names):
            raise ConfigError(f"bins: coverpoints {show(names)} repeat a dimension")
        object.__setattr__(self, "coverpoints", cps)
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})
        object.__setattr__(self, "space_fingerprint", space_fingerprint(self.space))
        object.__setattr__(self, "fingerprint", fingerprint([c.canonical() for c in cps]))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.coverpoints)

    @property
    def radices(self) -> tuple[int, ...]:
        """Number of legal bins of each coverpoint."""
        return tuple(c.n_bins for c in self.coverpoints)

    def __len__(self) -> int:
        return len(self.coverpoints)

    def __iter__(self) -> Iterator[Coverpoint]:
        return iter(self.coverpoints)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> Coverpoint:
        return self.coverpoints[self.index(name)]

    def index(self, name: str) -> int:
        """Position of a coverpoint; :class:`ConfigError` for an unknown name."""
        try:
            return self._index[name]
        except KeyError:
            raise ConfigError(
                f"coverpoint {name!r}: not binned; binned dimensions: {', '.join(self.names)}"
            ) from None

    @classmethod
    def from_space(
        cls, space: ParameterSpace, bins: Mapping[str, Mapping[str, Any]] | None = None
    ) -> Binning:
        """Default coverpoints of every non-fixed dimension, with optional overrides.

        Parameters
        ----------
        space : ParameterSpace
        bins : mapping, optional
            ``{dimension: {"edges": [...]} | {"count": k}, "labels": [...],
            "ignore": [...], "illegal": [...]}``, the ``[bins.<dimension>]`` tables of
            the TOML form.
        """
        bins = dict(bins or {})
        check_bin_tables(space, bins)
        cps = []
        for dim in space:
            if dim.is_fixed:
                continue
            spec = bins.get(dim.name, {})
            try:
                cps.append(Coverpoint.from_dimension(dim, **spec))
            except InvalidParameter as exc:
                raise ConfigError(f"bins.{dim.name}: {exc}") from None
        return cls(space, tuple(cps))

    @classmethod
    def from_toml(cls, source: str | Path, space: ParameterSpace) -> Binning:
        """Read ``[bins.<dimension>]`` tables from TOML text or a ``.toml`` file.

        The same file may hold ``[[crosses]]`` and ``ways`` (see ``load_crosses``).
        """
        data = read_coverage_toml(source)
        bins = data.get("bins", {})
        if not isinstance(bins, Mapping):
            raise ConfigError(f"bins: expected tables [bins.<dimension>], got {show(bins)}")
        return cls.from_space(space, bins)

    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space.to_dict(),
            "coverpoints": [c.to_dict() for c in self.coverpoints],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Binning:
        space = ParameterSpace.from_dict(data["space"])
        return cls(space, tuple(Coverpoint.from_dict(c) for c in data["coverpoints"]))


def codes(
    binning: Binning, table: pa.Table | pa.RecordBatch | pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Bin codes of every row and coverpoint.

    Parameters
    ----------
    binning : Binning
    table : pyarrow.Table, pyarrow.RecordBatch or pandas.DataFrame
        Has one column per coverpoint (other columns are not read).

    Returns
    -------
    codes : np.ndarray, shape (n, d), int16
        Legal bin index, :data:`IGNORED` (-1) or :data:`ILLEGAL` (-2).
    illegal : np.ndarray, shape (d,), int64
        Number of illegal values per coverpoint.
    """
    names = table.columns if isinstance(table, pd.DataFrame) else table.schema.names
    missing = [c.name for c in binning if c.name not in names]
    if missing:
        raise RunDirError(
            f"results: no column {missing[0]!r}, which coverpoint {missing[0]} bins; "
            f"columns present: {', '.join(map(str, names))}"
        )
    n = len(table) if isinstance(table, pd.DataFrame) else table.num_rows
    out = np.empty((n, len(binning)), dtype=np.int16)
    for j, cp in enumerate(binning):
        out[:, j] = cp.code(table[cp.name])
    return out, np.count_nonzero(out == ILLEGAL, axis=0).astype(np.int64)
