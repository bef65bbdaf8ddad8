"""Crosses of coverpoints: every t-way combination, or named ones from TOML.

The cells of a cross are the combinations of its coverpoints' legal bins. A row's cell
index is the mixed-radix number of its bin codes, last dimension fastest (as
``np.ravel_multi_index``), so cells need no names and labels never act as keys.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from highfive.generators import ConfigError

from ._bins import Binning
from ._fingerprint import fingerprint
from ._tables import read_coverage_toml

__all__ = [
    "DEFAULT_WAYS",
    "Cross",
    "cell_codes",
    "cell_labels",
    "crosses_fingerprint",
    "load_crosses",
    "make_crosses",
]

DEFAULT_WAYS = (1, 2)
_CROSS_KEYS = ("name", "dims")


@dataclass(frozen=True)
class Cross:
    """A named combination of coverpoints.

    Parameters
    ----------
    name : str
        Readable name; auto crosses are named ``"motion x background"``.
    dims : tuple of str
        Coverpoint names, in the order of the cell's mixed-radix digits.
    """

    name: str
    dims: tuple[str, ...]

    @property
    def t(self) -> int:
        """Number of coverpoints crossed."""
        return len(self.dims)

    def shape(self, binning: Binning) -> tuple[int, ...]:
        """Legal bins per coverpoint of the cross."""
        return tuple(binning[d].n_bins for d in self.dims)

    def n_cells(self, binning: Binning) -> int:
        return math.prod(self.shape(binning))


def _check(binning: Binning, cross: Cross, where: str) -> None:
    if not cross.dims or len(set(cross.dims)) != len(cross.dims):
        raise ConfigError(f"{where}.dims: {list(cross.dims)} must be distinct coverpoint names")
    for d in cross.dims:
        if d not in binning:
            raise ConfigError(
                f"{where}.dims: {d!r} is not a binned dimension; binned: {', '.join(binning.names)}"
            )


def make_crosses(
    binning: Binning, ways: Iterable[int] = DEFAULT_WAYS, named: Sequence[Cross] = ()
) -> tuple[Cross, ...]:
    """Named crosses first, then every t-way cross for ``t`` in ``ways``.

    A t-way cross over the same set of coverpoints as a named one is left out. Auto
    crosses list their coverpoints in binning order.
    """
    ways = sorted(set(ways))
    for t in ways:
        if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= len(binning):
            raise ConfigError(f"ways: {t!r} must be a whole number from 1 to {len(binning)}")
    out: list[Cross] = []
    for i, cross in enumerate(named):
        _check(binning, cross, f"crosses[{i}]")
        out.append(cross)
    seen = {frozenset(c.dims) for c in out}
    for t in ways:
        for combo in itertools.combinations(binning.names, t):
            if frozenset(combo) not in seen:
                out.append(Cross(" x ".join(combo), combo))
    names = [c.name for c in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"crosses: name {dup[0]!r} is used twice; give each cross its own")
    return tuple(out)


def load_crosses(source: str | Path | Mapping[str, Any], binning: Binning) -> tuple[Cross, ...]:
    """Crosses from TOML (text, a path, or the parsed mapping).

    ``ways = [1, 2]`` (default) chooses the t-way crosses; ``[[crosses]]`` tables with
    ``name`` and ``dims`` add named ones.
    """
    data = source if isinstance(source, Mapping) else read_coverage_toml(source)
    ways = data.get("ways", list(DEFAULT_WAYS))
    if not isinstance(ways, list):
        raise ConfigError(f"ways: {ways!r} must be a list such as [1, 2]")
    raw = data.get("crosses", [])
    if not isinstance(raw, list):
        raise ConfigError("crosses: expected [[crosses]] tables with name and dims")
    named = []
    for i, spec in enumerate(raw):
        if not isinstance(spec, Mapping):
            raise ConfigError(f"crosses[{i}]: expected a table with name and dims")
        bad = sorted(set(spec) - set(_CROSS_KEYS))
        if bad:
            raise ConfigError(f"crosses[{i}]: unknown key {bad[0]!r}; allowed: {_CROSS_KEYS}")
        dims = spec.get("dims")
        if not isinstance(dims, list) or not all(isinstance(d, str) for d in dims):
            raise ConfigError(f"crosses[{i}].dims: {dims!r} must be a list of dimension names")
        name = spec.get("name", " x ".join(dims))
        if not isinstance(name, str) or not name:
            raise ConfigError(f"crosses[{i}].name: {name!r} must be a non-empty string")
        named.append(Cross(name, tuple(dims)))
    return make_crosses(binning, ways, named)


def crosses_fingerprint(crosses: Sequence[Cross]) -> str:
    """SHA-256 of the crosses' names and dimensions, in order."""
    return fingerprint([[c.name, list(c.dims)] for c in crosses])


def cell_codes(binning: Binning, cross: Cross, cells: np.ndarray | None = None) -> np.ndarray:
    """Bin codes of cells.

    Returns
    -------
    np.ndarray, shape (n_cells, t)
        Legal bin index per coverpoint of the cross (all cells if ``cells`` is None).
    """
    shape = cross.shape(binning)
    idx = np.arange(math.prod(shape)) if cells is None else np.asarray(cells)
    return np.stack(np.unravel_index(idx, shape), axis=1) if idx.size else np.empty((0, cross.t))


def cell_labels(binning: Binning, cross: Cross) -> list[tuple[str, ...]]:
    """Bin labels of every cell of a cross, in cell order."""
    return list(itertools.product(*(binning[d].bin_labels for d in cross.dims)))
