"""The 2-way crosses a report shows, laid out as grids of cells (data only, no drawing).

The crosses chosen are motion by each dimension that matters most, then those holding
the worst cells; each becomes a :class:`PairGrid` (cases, failures and upper bound per
cell and model, the dimension with more bins down the rows), and :class:`RateScale` is
the one colour scale of failure rates shared by every heatmap of a report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._read import CoverageMeta, read_cells

__all__ = ["LABEL_CHARS", "PairGrid", "RateScale", "grids", "select_pairs", "short", "shortened"]

LABEL_CHARS = 24
"""Longest bin label or model id a heatmap shows; longer ones are cut in the middle."""


def short(text: str, width: int = LABEL_CHARS) -> str:
    """``text`` in at most ``width`` characters: a longer one keeps its start and its
    end around an ellipsis ("badmintonxxxxxx…xxxxxxxx"), so that labels that differ at
    either end stay apart."""
    if len(text) <= width:
        return text
    tail = width // 3
    return f"{text[: width - 1 - tail]}…{text[-tail:]}"


def plain(text: str) -> str:
    """``text`` as matplotlib draws it literally: each "$" escaped, so that a label value
    or a file name ("price $5 and $6", "$\\foo{$") never reads as TeX, which garbled it
    or raised."""
    return text.replace("$", r"\$")


def shortened(labels: Sequence[str], width: int = LABEL_CHARS) -> tuple[str, ...]:
    """Every label :func:`short`; numbered ("2. ...") when cutting made two equal."""
    cut = [short(x, width) for x in labels]
    if len(set(cut)) < len(set(labels)):
        cut = [
            x if x == c else f"{k + 1}. {c}"
            for k, (x, c) in enumerate(zip(labels, cut, strict=True))
        ]
    return tuple(cut)


_PREFERRED = ("background", "sample_rate", "sensor_range", "peak_accel", "impact_peak")
_MAX_PAIRS = 8
_WORST_PAIRS = 3


@dataclass(frozen=True)
class PairGrid:
    """One 2-way cross laid out as a grid: rows are bins of ``dims[0]``, columns of ``dims[1]``.

    Parameters
    ----------
    cross : str
        Name of the cross.
    dims : tuple of str
        (row dimension, column dimension).
    axis_labels : tuple of str
        Axis titles (dimension name with its unit).
    row_labels, col_labels : tuple of str
        Bin labels, without the dimension name.
    n : dict of str to np.ndarray, shape (rows, cols)
        Cases per cell for each model.
    failures : dict of str to np.ndarray, shape (rows, cols)
        Failing cases per cell for each model.
    upper : dict of str to np.ndarray, shape (rows, cols)
        One-sided upper confidence bound of the failure rate (1 where untested).
    min_cases : int
        Cells with fewer cases are holes.
    weighted : dict of str to np.ndarray, shape (rows, cols), optional
        The weighted estimate of each cell's failure rate (coverage's ``rate``, NaN
        where untested) of a run whose cases are weighted (a focus follow-up, an
        importance run): failing / cases would count the cases drawn, not the space.
    """

    cross: str
    dims: tuple[str, str]
    axis_labels: tuple[str, str]
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    n: Mapping[str, np.ndarray]
    failures: Mapping[str, np.ndarray]
    upper: Mapping[str, np.ndarray]
    min_cases: int = 1
    weighted: Mapping[str, np.ndarray] | None = None

    def rate(self, model: str) -> np.ndarray:
        """Failure rate per cell (NaN where untested): failing / cases, or the weighted
        estimate capped at 1 (Horvitz-Thompson's is unbiased but can exceed 1)."""
        if self.weighted is not None:
            return np.minimum(self.weighted[model], 1.0)
        n = self.n[model]
        return np.divide(
            self.failures[model], n, out=np.full(n.shape, np.nan, dtype=float), where=n > 0
        )


@dataclass(frozen=True)
class RateScale:
    """The one log scale of failure rates and the one range of differences of a report.

    Parameters
    ----------
    vmin : float
        Lowest rate with a colour (a power of ten, at most 1e-3); 0 has its own colour.
    diff_max : float
        Half-range of the difference colour map.
    """

    vmin: float = 1e-3
    diff_max: float = 0.05

    @classmethod
    def for_grids(cls, grids: Sequence[PairGrid]) -> RateScale:
        """The scale that shows every rate and difference of ``grids``."""
        lowest, diff = 1e-3, 0.05
        for g in grids:
            models = list(g.n)
            rates = [g.rate(m) for m in models]
            for r in rates:
                pos = r[np.isfinite(r) & (r > 0)]
                if pos.size:
                    lowest = min(lowest, float(pos.min()))
            if len(rates) > 1:
                d = rates[1] - rates[0]
                if np.isfinite(d).any():
                    diff = max(diff, float(np.nanmax(np.abs(d))))
        vmin = 10.0 ** np.floor(np.log10(lowest))
        diff = float(np.ceil(diff * 20) / 20)  # a multiple of 0.05
        return cls(float(vmin), diff)


def select_pairs(meta: CoverageMeta, summary: Mapping[str, Any]) -> list[str]:
    """The most informative 2-way crosses: motion by each preferred dimension, then the
    crosses of the worst cells, then the 2-way crosses with the most failures."""
    pairs = {name: set(dims) for name, dims in meta.crosses.items() if len(dims) == 2}
    chosen: list[str] = []

    def add(name: str) -> None:
        if name in pairs and name not in chosen and len(chosen) < _MAX_PAIRS:
            chosen.append(name)

    for other in _PREFERRED:
        for name, dims in pairs.items():
            if dims == {"motion", other}:
                add(name)
    worst = [w["cross"] for w in summary.get("worst", []) if w.get("cross") in pairs]
    for name in [w for w in dict.fromkeys(worst) if w not in chosen][:_WORST_PAIRS]:
        add(name)
    if not chosen:  # no motion dimension: the first crosses
        for name in list(pairs)[:4]:
            add(name)
    return chosen


def _short(label: str, dim: str) -> str:
    return label[len(dim) :].lstrip("=") if label.startswith(dim) else label


def grids(
    cov: Path,
    meta: CoverageMeta,
    names: Sequence[str],
    models: Sequence[str],
    min_cases: int,
    *,
    weighted: bool = False,
) -> list[PairGrid]:
    """The crosses ``names`` as grids of the models that have cells in them;
    ``weighted``: with each cell's weighted rate (coverage of weighted cases)."""
    if not names:
        return []
    cells = read_cells(cov, names, rate=weighted)
    space = meta.binning.space
    out = []
    for name in names:
        dims = meta.crosses[name]
        shape = tuple(meta.binning[d].n_bins for d in dims)
        flip = shape[1] > shape[0]  # the dimension with more bins goes down the rows
        sub = cells[cells["cross"] == name]
        arrays: dict[str, dict[str, np.ndarray]] = {"n": {}, "failures": {}, "upper": {}}
        filled = [("n", 0), ("failures", 0), ("upper", 1.0)]
        if weighted:
            arrays["rate"] = {}
            filled.append(("rate", np.nan))
        present = [m for m in models if (sub["model"] == m).any()]
        for m in present:
            rows = sub[sub["model"] == m]
            for key, fill in filled:
                grid = np.full(shape, fill, dtype=float if key in ("upper", "rate") else np.int64)
                grid[np.unravel_index(rows["cell"].to_numpy(), shape)] = rows[key].to_numpy()
                arrays[key][m] = grid.T if flip else grid
        if not present:
            continue
        d0, d1 = (dims[1], dims[0]) if flip else (dims[0], dims[1])

        def axis(d: str) -> str:
            unit = space[d].unit if d in space.names else ""
            return f"{d} ({unit})" if unit else d

        out.append(
            PairGrid(
                name,
                (d0, d1),
                (axis(d0), axis(d1)),
                tuple(_short(x, d0) for x in meta.binning[d0].bin_labels),
                tuple(_short(x, d1) for x in meta.binning[d1].bin_labels),
                arrays["n"],
                arrays["failures"],
                arrays["upper"],
                min_cases,
                arrays.get("rate"),
            )
        )
    return out
