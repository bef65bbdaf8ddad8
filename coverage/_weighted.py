"""Cell statistics of runs whose cases were not all drawn from the base distribution.

A follow-up campaign (``highfive run --focus``) draws its cases inside target boxes.
Merged with its base run, its cases would pull every cell that a box cuts across
towards the rate of the part inside the box: plain counts no longer estimate the
cell's rate. Here every case gets the weight of the pooled design instead (the
deterministic mixture, or balance heuristic, of Veach & Guibas 1995 and Owen & Zhou
2000): with ``n_r`` cases of run ``r`` drawn from density ``q_r`` on the unit cube
(1 for the base samplers; ``1/vol`` inside a focus box for its share of cases), a
case at ``u`` weighs ``1 / g(u)`` with ``g = sum_r n_r q_r / N``. The weighted count
of a cell's failures over ``N P(C)`` is then an unbiased estimate of the cell's rate,
and the bounds of :mod:`._wbounds` hold with the a-priori weight bound
``1 / min g`` over the cell (see :func:`weight_bound`). A cell a focus box covers
whole gains from the follow-up; a cell it only cuts keeps about the bounds of its
base run, which is what the follow-up's cases can honestly say about it.

Runs of importance-sampled cases (sampler ``importance``) bring their own weights (the
``weight`` column, base over proposal density); they enter the same sums with those.
Merges whose sampling density cannot be known are refused: a focus run without its
boxes, an unknown sampler, a box edge inside a value of a discrete dimension, runs
whose models differ.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from highfive.generators import (
    Dimension,
    InvalidParameter,
    ParameterSpace,
    Proposal,
    RunDirError,
    show,
)
from highfive.harness import FAIL_VERDICTS, RunDir

from ._bins import Binning, codes
from ._crosses import Cross
from ._db import CoverageCounts
from ._gaterun import sampler_design
from ._stats import CellStats, _holm
from ._unitbox import bin_interval
from ._wbounds import kl_lower, kl_pvalue, kl_upper

__all__ = [
    "BoxGroups",
    "RunDesign",
    "cell_intervals",
    "needs_weights",
    "run_design",
    "weighted_cell_stats",
]

_TOL = 1e-9

Box = tuple[tuple[str, float, float], ...]
"""A focus box: (dimension name, low, high) in unit coordinates, per restricted dimension."""


@dataclass(frozen=True)
class RunDesign:
    """How one run's analysed cases were drawn over the unit cube.

    ``kind`` is ``"base"`` (the base distribution), ``"focus"`` (case ``i`` uniform in
    box ``i mod B``) or ``"importance"`` (proposals, one per stage; weights in the
    results). ``boxes`` are (dimension name, low, high) entries per box,
    ``box_cases`` the analysed cases per box.
    """

    path: str
    kind: str
    cases: int
    models: tuple[str, ...]
    boxes: tuple[Box, ...] = ()
    box_cases: tuple[int, ...] = ()
    proposals: tuple[Proposal, ...] = ()

    @property
    def box_density(self) -> list[float]:
        """Cases per unit volume each box adds to the pooled design."""
        return [
            n / math.prod(hi - lo for _, lo, hi in box)
            for box, n in zip(self.boxes, self.box_cases, strict=True)
        ]


def _case_ranges(path: Path) -> list[tuple[int, int]]:
    """The (first case, count) ranges whose rows a run's results hold: its finished
    batches, or for a results folder without a manifest, its case ids one by one."""
    run = RunDir(path)
    done = run.done_batches()
    if done:
        return [(int(e["start"]), int(e["count"])) for e in done.values()]
    table = run.results_dataset().to_table(columns=["case_id"])
    ids = np.unique(np.asarray(table["case_id"].to_numpy(), dtype=np.int64))
    return [(int(i), 1) for i in ids]


def _per_box(ranges: Sequence[tuple[int, int]], boxes: int) -> tuple[int, ...]:
    """Cases per box when case ``i`` goes to box ``i mod boxes``."""
    b = np.arange(boxes)
    out = np.zeros(boxes, dtype=np.int64)
    for start, count in ranges:  # ids b, b + B, ... below an end: (end - 1 - b) // B + 1
        out += (start + count - 1 - b) // boxes - (start - 1 - b) // boxes
    return tuple(int(x) for x in out)


def run_design(path: str | os.PathLike[str], space: ParameterSpace) -> RunDesign:
    """The sampling design of a run, from its campaign.json; RunDirError if unknown."""
    run = RunDir(path)
    record = run.read_campaign()
    config = record.get("config", {})
    sampler = config.get("sampler")
    models = tuple(sorted(str(m["id"]) for m in record.get("models", [])))
    where = os.fspath(path)
    ranges = _case_ranges(Path(path))
    cases = sum(count for _, count in ranges)
    design = sampler_design(sampler, f"cannot weight {where!r}")
    if design == "base":
        return RunDesign(where, "base", cases, models)
    if design == "focus":
        raw = config.get("focus")
        if not isinstance(raw, list) or not raw:
            raise RunDirError(
                f"cannot weight {where!r}: a focus run without its target boxes in "
                "campaign.json (config.focus); its sampling density is unknown"
            )
        boxes = tuple(_box(where, space, i, b) for i, b in enumerate(raw))
        return RunDesign(where, "focus", cases, models, boxes, _per_box(ranges, len(boxes)))
    # design == "importance"
    try:
        props = tuple(Proposal.from_dict(p, space.d) for p in record.get("proposals") or [])
    except InvalidParameter as exc:
        raise RunDirError(f"cannot weight {where!r}: campaign.json {exc}") from None
    if not props:
        raise RunDirError(
            f"cannot weight {where!r}: an importance run without its proposals in "
            "campaign.json; its sampling density is unknown"
        )
    return RunDesign(where, "importance", cases, models, proposals=props)


def _box(
    where: str, space: ParameterSpace, i: int, box: Any
) -> tuple[tuple[str, float, float], ...]:
    if not isinstance(box, Mapping) or not box:
        raise RunDirError(f"cannot weight {where!r}: focus[{i}] {show(box)} is not a box")
    out = []
    for name, iv in box.items():
        if name not in space or not (isinstance(iv, list | tuple) and len(iv) == 2):
            raise RunDirError(
                f"cannot weight {where!r}: focus[{i}].{name} {show(iv)} names no interval of "
                "the run's space"
            )
        lo, hi = float(iv[0]), float(iv[1])
        dim = space[name]
        for e in (lo, hi):
            if dim.splits_a_value(e, _TOL):
                raise RunDirError(
                    f"cannot weight {where!r}: focus[{i}].{name} edge {e!r} falls inside "
                    "a value of this discrete dimension; its sampling density per value "
                    "is unknown"
                )
        out.append((name, lo, hi))
    return tuple(out)


def _value_edges(dim: Dimension) -> np.ndarray:
    """Unit-interval edges between the values of a discrete dimension."""
    edges = dim.unit_edges()
    assert edges is not None  # asked of discrete dimensions only
    return edges


def _unit(dim: Dimension, column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Unit coordinate of each value: exact for a continuous dimension, the middle of
    the value's interval for a discrete one (box edges lie between values)."""
    values = column.to_numpy(zero_copy_only=False)
    if dim.kind == "continuous":
        return np.asarray(dim.to_unit(np.asarray(values, dtype=np.float64)))
    edges = _value_edges(dim)
    lower = np.asarray(dim.to_unit(values))
    idx = np.clip(np.searchsorted(edges, lower + _TOL, side="right") - 1, 0, len(edges) - 2)
    return (edges[idx] + edges[idx + 1]) / 2


def needs_weights(designs: Sequence[RunDesign]) -> bool:
    """Whether any run was sampled otherwise than from the base distribution."""
    return any(d.kind != "base" for d in designs)


class BoxGroups:
    """Boxes grouped by the dimensions they restrict, as arrays: a follow-up of
    thousands of cells' boxes is then a few array operations per batch of cases and per
    cell, not a Python loop over every box (a merge of the README's default run and its
    focus follow-up took minutes in that loop).

    ``groups`` maps the restricted dimensions' indices (sorted) to the boxes' indices in
    the order given, their lows and their highs (one column per dimension).
    """

    def __init__(self, boxes: Sequence[Box], space: ParameterSpace) -> None:
        grouped: dict[tuple[int, ...], list[tuple[int, list[float], list[float]]]] = {}
        for i, box in enumerate(boxes):
            dims = sorted((space.names.index(n), lo, hi) for n, lo, hi in box)
            key = tuple(j for j, _, _ in dims)
            grouped.setdefault(key, []).append(
                (i, [lo for _, lo, _ in dims], [hi for *_, hi in dims])
            )
        self.size = len(boxes)
        self.groups: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {
            key: (
                np.array([i for i, _, _ in rows], dtype=np.intp),
                np.array([lo for _, lo, _ in rows], dtype=np.float64).reshape(len(rows), len(key)),
                np.array([hi for _, _, hi in rows], dtype=np.float64).reshape(len(rows), len(key)),
            )
            for key, rows in grouped.items()
        }

    def containing(self, cell: Mapping[int, tuple[float, float]]) -> np.ndarray:
        """Which boxes contain the whole cell (dimension index -> unit interval): a mask
        over the boxes. A box contains the cell when the cell restricts every dimension
        the box does, inside the box's interval: only boxes of a subset of the cell's
        dimensions can (a box restricting another dimension leaves part of the cell out)."""
        out = np.zeros(self.size, dtype=bool)
        dims = sorted(cell)
        for r in range(len(dims) + 1):
            for key in itertools.combinations(dims, r):
                if key not in self.groups:
                    continue
                ids, lo, hi = self.groups[key]
                c_lo = np.array([cell[j][0] for j in key])
                c_hi = np.array([cell[j][1] for j in key])
                out[ids] = np.all((c_lo >= lo - _TOL) & (c_hi <= hi + _TOL), axis=1)
        return out


class _Pooled:
    """The pooled density of the runs that draw without weights of their own, over
    their boxes grouped by :class:`BoxGroups`."""

    def __init__(self, designs: Sequence[RunDesign], space: ParameterSpace) -> None:
        plain = [d for d in designs if d.kind != "importance"]
        self.n = sum(d.cases for d in plain)
        self.base = sum(d.cases for d in plain if d.kind == "base")
        self.boxes = BoxGroups([box for d in plain for box in d.boxes], space)
        self.density = np.array([x for d in plain for x in d.box_density], dtype=np.float64)

    def weights(self, u: np.ndarray) -> np.ndarray:
        """``1 / g(u)`` for points of the unit cube, shape (n,)."""
        g = np.full(len(u), float(self.base))
        for key, (ids, lo, hi) in self.boxes.groups.items():
            dens = self.density[ids]
            step = max(1, 2**22 // max(lo.size, 1))  # rows at a time: bounded memory
            for a in range(0, len(u), step):
                x = u[a : a + step, list(key)][:, None, :]
                # rounding of a value's unit coordinate stays inside
                inside = np.all((x >= lo - _TOL) & (x < hi + _TOL), axis=2)
                g[a : a + step] += inside @ dens
        with np.errstate(divide="ignore"):
            return np.where(g > 0, self.n / g, np.inf)

    def bound(self, cell: Mapping[int, tuple[float, float]]) -> tuple[float, float]:
        """Bounds of ``1 / g`` over a cell: over all of it (inf if part of it is never
        sampled), and over the part that is sampled."""
        g = float(self.base) + float(self.density[self.boxes.containing(cell)].sum())
        whole = self.n / g if g > 0 else math.inf
        if self.base:
            # g is base plus the boxes covering the whole cell at every point of it, and
            # exactly that where no box covering part of it reaches: its minimum.
            return whole, whole
        # Without base cases, a sampled point of the cell lies in some box touching it.
        least = math.inf
        for key, (ids, lo, hi) in self.boxes.groups.items():
            touch = np.ones(len(ids), dtype=bool)
            for k, j in enumerate(key):
                if j in cell:
                    touch &= (cell[j][0] < hi[:, k] + _TOL) & (cell[j][1] > lo[:, k] - _TOL)
            if touch.any():
                least = min(least, float(self.density[ids][touch].min()))
        return whole, (self.n / least if math.isfinite(least) else math.inf)


def cell_intervals(
    binning: Binning, crosses: Sequence[Cross]
) -> list[dict[int, tuple[float, float]]]:
    """Each cell's unit-cube intervals (dimension index -> (low, high)), cross by cross,
    each cross's cells in the order of their flat index."""
    space = binning.space
    per_bin = {
        cp.name: [bin_interval(space[cp.name], cp, label) for label in cp.bin_labels]
        for cp in binning
    }
    cells: list[dict[int, tuple[float, float]]] = []
    for cross in crosses:
        for idx in np.ndindex(*cross.shape(binning)):
            box = {}
            for name, b in zip(cross.dims, idx, strict=True):
                lo, hi = per_bin[name][b]
                box[space.names.index(name)] = (max(lo, 0.0), min(hi, 1.0))
            cells.append(box)
    return cells


def _cell_boxes(counts: CoverageCounts) -> tuple[list[dict[int, tuple[float, float]]], np.ndarray]:
    """Each cell's unit-cube intervals (dimension index -> (low, high)) and base mass,
    and last the whole space (no interval, mass 1)."""
    cells = [*cell_intervals(counts.binning, counts.crosses), {}]  # last: the whole space
    mass = np.array([math.prod(hi - lo for lo, hi in c.values()) for c in cells])
    return cells, mass


@dataclass
class _Sums:
    """Per cell and model: weighted failures, weights, squared weights."""

    fail: np.ndarray
    w: np.ndarray
    w2: np.ndarray

    def add(self, flat: np.ndarray, w: np.ndarray, failed: np.ndarray) -> None:
        """Add cases at flat (cell * models + model) positions."""
        size, shape = self.w.size, self.w.shape
        self.fail += np.bincount(flat, w * failed, size).reshape(shape)
        self.w += np.bincount(flat, w, size).reshape(shape)
        self.w2 += np.bincount(flat, w * w, size).reshape(shape)


def _plain_strings(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return np.asarray(col.to_numpy(zero_copy_only=False))


def _accumulate(counts: CoverageCounts, designs: Sequence[RunDesign], pooled: _Pooled) -> _Sums:
    binning, space = counts.binning, counts.binning.space
    shape = (len(counts.n) + 1, len(counts.models))  # and a last row: the whole space
    sums = _Sums(np.zeros(shape), np.zeros(shape), np.zeros(shape))
    whole = (shape[0] - 1) * shape[1]
    fail_set = pa.array(list(FAIL_VERDICTS))
    for design in designs:
        dataset = RunDir(design.path).results_dataset()
        own = design.kind == "importance"  # cases that carry their own weights
        if own and "weight" not in dataset.schema.names:
            raise RunDirError(
                f"cannot weight {design.path!r}: an importance run without a weight column"
            )
        cols = sorted({*binning.names, *space.names, "verdict", "model", *(["weight"] * own)})
        for batch in dataset.to_batches(columns=cols):
            if not batch.num_rows:
                continue
            if own:
                w = np.asarray(batch["weight"].to_numpy(zero_copy_only=False), dtype=np.float64)
                if not np.all(np.isfinite(w) & (w >= 0)):
                    raise RunDirError(
                        f"cannot weight {design.path!r}: a weight is missing, negative or "
                        "not finite"
                    )
            else:
                w = pooled.weights(np.stack([_unit(d, batch[d.name]) for d in space], axis=1))
            m = np.searchsorted(counts.models, _plain_strings(batch["model"]))
            verdict = batch["verdict"]
            if pa.types.is_dictionary(verdict.type):
                verdict = verdict.cast(verdict.type.value_type)
            failed = _plain_strings(pc.is_in(verdict, value_set=fail_set)).astype(bool)
            code, _ = codes(binning, batch)
            rows, picks = [whole + m], [np.arange(len(m))]
            for k, cross in enumerate(counts.crosses):
                c = code[:, [binning.index(d) for d in cross.dims]]
                legal = np.flatnonzero(np.all(c >= 0, axis=1))
                cell = np.ravel_multi_index(tuple(c[legal].T), cross.shape(binning))
                rows.append((int(counts.offsets[k]) + cell) * shape[1] + m[legal])
                picks.append(legal)
            pick = np.concatenate(picks)  # one sum over every cross's cells of the batch
            sums.add(np.concatenate(rows), w[pick], failed[pick])
    return sums


def _bounds(
    counts: CoverageCounts, designs: Sequence[RunDesign], pooled: _Pooled
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: base mass, weight bound over the whole cell (for upper bounds) and
    over its sampled part (for lower bounds)."""
    cells, mass = _cell_boxes(counts)
    whole = np.zeros(len(cells))
    sampled = np.zeros(len(cells))
    for i, cell in enumerate(cells):
        if pooled.n:
            whole[i], sampled[i] = pooled.bound(cell)
        for d in designs:
            for prop in d.proposals:  # every stage's proposal could have drawn here
                b = prop.max_ratio(cell)
                whole[i], sampled[i] = max(whole[i], b), max(sampled[i], b)
    return mass, whole, sampled


def _holm_per_model(p_value: np.ndarray, tested: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values over the tested cells of each model (column)."""
    out = p_value.copy()
    for j, col in enumerate(tested.T):
        out[col, j] = _holm(p_value[col, j])
    return out


def _one_sided(
    fail: np.ndarray, n_all: float, bound: np.ndarray, mass: np.ndarray, conf: float, upper: bool
) -> np.ndarray:
    """One-sided bound of every cell's rate from its weighted failures (see _wbounds)."""
    finite = np.isfinite(bound)
    b = np.where(finite, bound, 1.0)[:, None]
    z = np.minimum(fail / (n_all * b), 1.0)
    mu = kl_upper(z, n_all, conf) if upper else kl_lower(z, n_all, conf)
    out = np.minimum(1.0, mu * b / mass[:, None])
    return np.where(finite[:, None], out, 1.0 if upper else 0.0)


MIN_ESS = 10.0
"""Effective sample size below which a weighted cell is undecided (upper bound 1)."""


def weighted_cell_stats(
    counts: CoverageCounts,
    designs: Sequence[RunDesign],
    *,
    p_target: float,
    confidence: float,
    adjust: str,
    looks: int = 1,
) -> tuple[CellStats, dict[str, np.ndarray], dict[str, Any]]:
    """Cell statistics of runs with weighted cases, extra cell columns, and a summary.

    The bounds hold for one look. ``looks`` runs merged are as many looks: every bound,
    p-value and status is then at ``1 - (1 - confidence) / looks`` (Bonferroni over the
    looks), so that together they hold at ``confidence``; the statistics record
    ``confidence``, ``looks="bonferroni"`` and that per-look level.

    ``rate`` is the Horvitz-Thompson estimate, ``upper`` and ``lower`` the one-sided
    relative-entropy bounds of :mod:`._wbounds` with each cell's a-priori weight bound
    (``upper`` is 1 where part of the cell is never sampled, or where the cell's
    effective sample size is below :data:`MIN_ESS`), ``ci_low`` and ``ci_high`` the
    same at ``(1 + confidence) / 2``, ``p_value`` the matching Chernoff p-value of
    ``rate <= p_target``; ``needed`` and ``needed_at_rate`` are NaN (they assume
    unweighted cases). ``k`` and the counts stay the plain numbers of cases. The extra
    columns (shape (cells, models)) are ``rate_sn`` (self-normalised estimate) and
    ``ess`` (Kish). The summary holds the same for the whole space, per model.
    """
    models = set(counts.models)
    for d in designs:
        if set(d.models) and set(d.models) != models:
            raise RunDirError(
                f"cannot weight {d.path!r}: its models {show(sorted(d.models))} differ from "
                f"the merge's {show(sorted(models))}; weight runs of the same models"
            )
    pooled = _Pooled(designs, counts.binning.space)
    sums = _accumulate(counts, designs, pooled)  # the last row: the whole space
    mass, whole, sampled = _bounds(counts, designs, pooled)
    n_all = float(sum(d.cases for d in designs))
    p, c = p_target, 1.0 - (1.0 - confidence) / looks
    n = np.concatenate([counts.n, counts.rows[None, :]])
    tested = sums.w2 > 0
    ess = np.where(tested, sums.w**2 / np.where(tested, sums.w2, 1.0), 0.0)
    few = ess < MIN_ESS
    upper = np.where(few, 1.0, _one_sided(sums.fail, n_all, whole, mass, c, True))
    lower = _one_sided(sums.fail, n_all, sampled, mass, c, False)
    ci_high = np.where(few, 1.0, _one_sided(sums.fail, n_all, whole, mass, (1 + c) / 2, True))
    ci_low = _one_sided(sums.fail, n_all, sampled, mass, (1 + c) / 2, False)
    finite = np.isfinite(sampled)[:, None]
    b = np.where(finite, sampled[:, None], 1.0)
    z = np.minimum(sums.fail / (n_all * b), 1.0)
    p_value = np.where(finite, kl_pvalue(z, n_all, p * mass[:, None] / b), 1.0)
    rate = np.where(n > 0, sums.fail / (n_all * mass[:, None]), np.nan)
    rate_sn = np.where(sums.w > 0, sums.fail / np.where(sums.w > 0, sums.w, 1.0), np.nan)
    cells = slice(0, len(counts.n))
    # The p-value inverts the same inequality as the lower bound: p_value < 1 - c
    # exactly where lower > p_target, so the flag needs no second rule without Holm.
    p_adj = p_value.copy()
    if adjust == "holm":
        p_adj[cells] = _holm_per_model(p_value[cells], counts.n > 0)
    failing = (p_adj < 1 - c) & (n > 0)
    status = np.select(
        [n == 0, failing, upper < p], ["untested", "failing", "passing"], "under-tested"
    )
    stats = CellStats(
        counts,
        p,
        confidence,
        adjust,  # type: ignore[arg-type]
        counts.fails.sum(axis=-1),
        rate[cells],
        upper[cells],
        lower[cells],
        ci_low[cells],
        ci_high[cells],
        np.full(counts.n.shape, np.nan),
        p_value[cells],
        p_adj[cells],
        status[cells],
        np.full(counts.n.shape, np.nan),
        "bonferroni" if looks > 1 else "fixed",
        c,
    )
    overall = {
        m: {
            "rate": float(rate[-1, j]),
            "rate_sn": float(rate_sn[-1, j]),
            "ess": float(ess[-1, j]),
            "upper": float(upper[-1, j]),
            "lower": float(lower[-1, j]),
            "weight_bound": float(whole[-1]),
            # bounds [0, 1] (no weight bound, or one so large that the upper bound is
            # capped at 1) say nothing of the rate, whatever the estimate
            "status": "undecided"
            if few[-1, j] or not np.isfinite(whole[-1]) or upper[-1, j] >= 1
            else "decided",
        }
        for j, m in enumerate(counts.models)
    }
    info = {
        "method": "pooled-design weights (balance heuristic); importance weights as "
        "recorded; relative-entropy bounds with a-priori weight bounds",
        "runs": [{"path": d.path, "kind": d.kind, "cases": d.cases} for d in designs],
        "cases": int(n_all),
        "min_ess": MIN_ESS,
        "overall": overall,
    }
    return stats, {"rate_sn": rate_sn[cells], "ess": ess[cells]}, info
