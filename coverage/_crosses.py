"""Crosses of coverpoints: every t-way combination, or named ones from TOML.

The cells of a cross are the combinations of its coverpoints' legal bins. A row's cell
index is the mixed-radix number of its bin codes, last dimension fastest (as
``np.ravel_multi_index``), so cells need no names and labels never act as keys.

t-way cells grow like (bins per dimension)^t times (dimensions choose t): the default
space has 167 1-way cells, 13,432 2-way, 693,872 3-way and 25,898,752 4-way. Crosses
are counted before they are built (:func:`crosses_size`), and more than
:data:`MAX_CELLS` cells are refused with the count, so no one waits for hours (or runs
out of memory) on ``ways = [7]``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from highfive.generators import ConfigError, show, show_list, show_number

from ._bins import Binning
from ._fingerprint import fingerprint
from ._tables import read_coverage_toml

__all__ = [
    "DEFAULT_WAYS",
    "LARGE_CELLS",
    "MAX_CELLS",
    "Cross",
    "cell_codes",
    "cell_labels",
    "crosses_fingerprint",
    "crosses_size",
    "default_ways",
    "load_crosses",
    "make_crosses",
]

DEFAULT_WAYS = (1, 2)
_CROSS_KEYS = ("name", "dims")
MAX_CELLS = 1_000_000
"""The most cells per model (over all crosses) that coverage, a gate or a diff counts:
3-way crosses of the default space (693,872 cells) fit, 4-way (25.9 million) do not."""
LARGE_CELLS = 100_000
"""Above this many cells, counting takes long enough to say so (see ``_progress``)."""


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
        raise ConfigError(
            f"{where}.dims: {show_list(cross.dims)} must be distinct coverpoint names"
        )
    for d in cross.dims:
        if d not in binning:
            raise ConfigError(
                f"{where}.dims: {show(d)} is not a binned dimension; binned: "
                f"{', '.join(binning.names)}"
            )


def _t_way_cells(radices: Sequence[int], t: int) -> int:
    """Cells of all t-way crosses: the sum over t-subsets of the product of their bins
    (the elementary symmetric polynomial of degree t), exactly, in O(d t)."""
    e = [1] + [0] * t
    for r in radices:
        for k in range(t, 0, -1):
            e[k] += e[k - 1] * r
    return e[t]


def crosses_size(
    binning: Binning, ways: Iterable[int] = DEFAULT_WAYS, named: Sequence[Cross] = ()
) -> tuple[int, int]:
    """Cells (per model) and crosses that :func:`make_crosses` would make, without
    making them."""
    ways = sorted(set(ways))
    radices = binning.radices
    cells = sum(_t_way_cells(radices, t) for t in ways)
    crosses = sum(math.comb(len(radices), t) for t in ways)
    for dims in {frozenset(c.dims) for c in named}:  # auto crosses these replace
        if len(dims) in ways:
            cells -= math.prod(binning[d].n_bins for d in dims)
            crosses -= 1
    cells += sum(math.prod(binning[d].n_bins for d in c.dims) for c in named)
    return cells, crosses + len(named)


def _too_many(
    binning: Binning,
    ways: Sequence[int],
    named: Sequence[Cross],
    cells: int,
    crosses: int,
    where: str,
    limit: int,
) -> ConfigError:
    what = f"{where} {show_list(ways)}"
    if named:
        mine = sum(c.n_cells(binning) for c in named)
        what += f" and [[crosses]] ({_count(mine)} cells in {len(named):,} named crosses)"
    fits = [t for t in range(1, max(ways, default=1)) if _t_way_cells(binning.radices, t) <= limit]
    # A categorical dimension has one bin per value (no count = 1): only the ways and
    # the crosses can shrink a space of label columns.
    categorical = all(d.kind == "categorical" for d in binning.space)
    smaller = ""
    if fits:
        t = fits[-1]
        smaller = f" (t = {t} gives {_t_way_cells(binning.radices, t):,} cells here"
        smaller += f"; in a bins file: ways = [{t}])" if categorical else ")"
    fewer = (
        ""
        if categorical
        else "give the ones you do not need one bin ([bins.<dimension>] count = 1) or, "
    )
    return ConfigError(
        f"{what}: {_count(cells)} cells per model in {_count(crosses)} crosses of "
        f"{len(binning)} binned dimensions, more than the limit of {limit:,}; use smaller "
        f"ways{smaller} or fewer dimensions: {'in a bins file, ' if fewer else ''}{fewer}"
        "for coverage, list the crosses you need ([[crosses]] dims = [...]) with fewer "
        "dimensions each"
        + (" (a categorical dimension has one bin per value)" if categorical else "")
    )


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**15 else show_number(n)


def default_ways(binning: Binning) -> tuple[int, ...]:
    """The :data:`DEFAULT_WAYS` there are crosses for: ``(1,)`` when one dimension is
    binned (as for a campaign of recordings with one metadata column or none)."""
    return tuple(t for t in DEFAULT_WAYS if t <= max(len(binning), 1))


def make_crosses(
    binning: Binning,
    ways: Iterable[int] | None = None,
    named: Sequence[Cross] = (),
    *,
    where: str = "ways",
    max_cells: int = MAX_CELLS,
) -> tuple[Cross, ...]:
    """Named crosses first, then every t-way cross for ``t`` in ``ways``.

    ``ways`` None (the default) is :func:`default_ways`: 1- and 2-way crosses, or only
    1-way ones when one dimension is binned; ways given explicitly are checked against
    the binned dimensions. A t-way cross over the same set of coverpoints as a named one
    is left out. Auto crosses list their coverpoints in binning order. More than
    ``max_cells`` cells (:func:`crosses_size`, counted before anything is built) is a
    :class:`ConfigError` that gives the count and the limit; ``where`` names the setting
    in it (``"ways"``, ``"--ways"``, a gate criterion).
    """
    ways = list(default_ways(binning) if ways is None else ways)
    if ways and not len(binning):
        raise ConfigError(
            f"{where}: nothing to cross: every dimension of the space is fixed to one value "
            "(or ignored by the bins), so there is no cell to cover"
        )
    for t in ways:
        if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= len(binning):
            raise ConfigError(
                f"{where}: {show(t)} must be a whole number from 1 to {len(binning)} "
                "(the number of binned dimensions)"
            )
    ways = sorted(set(ways))
    for i, cross in enumerate(named):
        _check(binning, cross, f"crosses[{i}]")
    cells, n_crosses = crosses_size(binning, ways, named)
    if cells > max_cells:
        raise _too_many(binning, ways, named, cells, n_crosses, where, max_cells)
    out: list[Cross] = list(named)
    seen = {frozenset(c.dims) for c in out}
    for t in ways:
        for combo in itertools.combinations(binning.names, t):
            if frozenset(combo) not in seen:
                out.append(Cross(" x ".join(combo), combo))
    dup = sorted(n for n, k in Counter(c.name for c in out).items() if k > 1)
    if dup:
        raise ConfigError(f"crosses: name {show(dup[0])} is used twice; give each cross its own")
    return tuple(out)


def load_crosses(source: str | Path | Mapping[str, Any], binning: Binning) -> tuple[Cross, ...]:
    """Crosses from TOML (text, a path, or the parsed mapping).

    ``ways = [1, 2]`` (default; only 1 when a single dimension is binned, as for a
    campaign of recordings with one metadata column) chooses the t-way crosses;
    ``[[crosses]]`` tables with ``name`` and ``dims`` add named ones. More than
    :data:`MAX_CELLS` cells is refused.
    """
    data = source if isinstance(source, Mapping) else read_coverage_toml(source)
    ways = data.get("ways", list(default_ways(binning)))
    if not isinstance(ways, list):
        raise ConfigError(f"ways: {show(ways)} must be a list such as [1, 2]")
    raw = data.get("crosses", [])
    if not isinstance(raw, list):
        raise ConfigError("crosses: expected [[crosses]] tables with name and dims")
    named = []
    for i, spec in enumerate(raw):
        if not isinstance(spec, Mapping):
            raise ConfigError(f"crosses[{i}]: expected a table with name and dims")
        bad = sorted(set(spec) - set(_CROSS_KEYS))
        if bad:
            raise ConfigError(
                f"crosses[{i}]: unknown key {show(bad[0])}; allowed: {', '.join(_CROSS_KEYS)}"
            )
        dims = spec.get("dims")
        if not isinstance(dims, list) or not dims or not all(isinstance(d, str) for d in dims):
            raise ConfigError(
                f"crosses[{i}].dims: {show(dims)} must be a list of one or more dimension names"
            )
        name = spec.get("name", " x ".join(dims))
        if not isinstance(name, str) or not name:
            raise ConfigError(f"crosses[{i}].name: {show(name)} must be a non-empty string")
        named.append(Cross(name, tuple(dims)))
    if not ways and not named:
        raise ConfigError(
            "ways: [] and no [[crosses]] leave nothing to count; give ways, e.g. [1, 2], or "
            "[[crosses]] tables"
        )
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
