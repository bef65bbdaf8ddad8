"""Decisions of a staged campaign (``highfive run --until-decided``), from its cases.

A sequential campaign runs in stages and, after each, asks of every gate criterion
whether it is *decided*: shown to pass, or shown to fail, with bounds that stay valid
however many stages are looked at (the anytime-valid confidence sequences of
:mod:`._anytime`, tuned to each criterion's threshold as ``[gate] looks = "anytime"``
tunes them), or, with a bounded number of looks, with exact Clopper-Pearson bounds at
levels that spend the error over the looks (:mod:`._spending`); a criterion or cell
decided at a look stays decided. Cases of the next stage go where something is still
undecided.

Which cases count for what. A stage either samples the base distribution (``box``
-1) or, like a focus follow-up, puts case ``i`` uniformly into box ``i mod B`` of its
target boxes, each box one cell of the gate's crosses (a bin per dimension of the
cross). A case of a box counts for a cell exactly when the box's dimensions are among
the cell's (then the cell lies inside the box and the case is uniform over the cell,
so it is a fresh Bernoulli draw of the cell's failure rate, whatever earlier stages
showed); cases of boxes that cut a cell only partly are left out of that cell, and
rates over the whole space (``failure_rate``, ``agreement``) use base-stage cases
alone. Every count is then a sum of such draws, each one's sampling fixed before its
outcome, so the confidence sequences hold and optional stopping is safe. Coverage
(cases per cell) counts every case: it is a count, not a rate.

Criteria on recorded figures (``model_bytes``, ``latency``, ``fits_target``: the model
files and measurements campaign.json records) are decided by the
ordinary gate on the first stage; ``detection_latency`` is not staged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from highfive.generators import ConfigError
from highfive.harness import FAIL_VERDICTS, counts_agree

from ._anytime import cs_lower, cs_upper
from ._bins import Binning
from ._crosses import Cross, make_crosses
from ._gate import Gate
from ._gaterun import RECORDED_KINDS
from ._spending import Spending, spent_bounds

__all__ = [
    "RECORDED_KINDS",
    "STAGED_KINDS",
    "CaseTable",
    "CriterionDecision",
    "Decisions",
    "decide",
    "staged_criteria",
]

STAGED_KINDS = ("cell_upper_bound", "coverage", "failure_rate", "agreement")
"""Criterion kinds a sequential campaign decides from its cases."""

Cell = tuple[tuple[str, int], ...]
"""A cell (or a stage's target box): (coverpoint name, bin index) per dimension."""


def staged_criteria(gate: Gate) -> tuple[Any, ...]:
    """The gate's criteria a sequential campaign decides from cases.

    Raises :class:`ConfigError` (one line) when the gate has none, or has a kind that
    cannot be staged.
    """
    for c in gate.criteria:
        if c.kind not in STAGED_KINDS + RECORDED_KINDS:
            raise ConfigError(
                f"criterion {c.name!r}: kind {c.kind!r} cannot be decided in stages "
                f"(--until-decided decides {', '.join(STAGED_KINDS)})"
            )
    staged = tuple(c for c in gate.criteria if c.kind in STAGED_KINDS)
    if not staged:
        source = gate.source or "the gate"
        raise ConfigError(
            f"--until-decided: {source} has no criterion on cases to decide "
            f"(kinds {', '.join(STAGED_KINDS)}); a gate of recorded figures needs no stages"
        )
    return staged


@dataclass(frozen=True)
class CaseTable:
    """The cases of every stage so far, as the decisions read them.

    Parameters
    ----------
    codes : np.ndarray, shape (n, d), int
        Bin index of every case on every coverpoint of ``binning`` (-1: ignored).
    box : np.ndarray, shape (n,), int
        The target box of a case's stage it was drawn in, -1 for base stages.
    box_dims : sequence of frozenset
        Per box id (``box`` values index it): the coverpoints the box restricts.
    verdict : mapping of str to np.ndarray
        Per model, the verdict of every case (same order as ``codes``).
    predicted : mapping of str to np.ndarray
        Per model, the predicted count of every case (for ``agreement``).
    stage : np.ndarray, shape (n,), int, optional
        The look (stage index, from 0) each case was drawn in; None: all in look 0.
    """

    codes: np.ndarray
    box: np.ndarray
    box_dims: Sequence[frozenset[str]]
    verdict: Mapping[str, np.ndarray]
    predicted: Mapping[str, np.ndarray] = field(default_factory=dict)
    stage: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.box.size)

    def looks(self, confidence: float, spending: Spending | None) -> list[tuple[np.ndarray, float]]:
        """(cases seen, error level of its bounds) per look whose bounds decide.

        Anytime bounds (``spending`` None or ``"anytime"``) hold at every look at once,
        so the last look alone decides, at ``1 - confidence``; with error spending every
        look so far decides at its own level ``alpha_j`` (a decision once made is kept).
        The levels stay levels: ``1 - alpha_j`` is 1.0 once ``alpha_j`` is below about
        1.1e-16 (a huge budget), which dropped every look. A look of level 0 (an
        O'Brien-Fleming look that spends nothing) decides nothing.
        """
        if spending is None or spending.kind == "anytime":
            return [(np.ones(self.n, dtype=bool), 1 - confidence)]
        stage = self.stage if self.stage is not None else np.zeros(self.n, dtype=np.int64)
        seen = int(stage.max()) + 1 if self.n else 0
        levels = spending.levels(1 - confidence, seen)  # the looks taken only
        return [(stage <= j, float(a)) for j, a in enumerate(levels) if a > 0]

    def counts_for(self, cross: Cross) -> np.ndarray:
        """Which cases count for the cells of ``cross`` (see the module doc)."""
        dims = set(cross.dims)
        fits = np.array([d <= dims for d in self.box_dims] + [True], dtype=bool)
        return fits[self.box]  # box -1 picks the last entry: base cases always count


@dataclass(frozen=True)
class CriterionDecision:
    """Where one criterion (for one model) stands after a stage.

    ``status`` is ``"passed"``, ``"failed"`` or ``"undecided"``; ``cells`` the cells still
    undecided (for cell criteria); ``needs_base`` whether deciding it needs cases of
    the base distribution (a rate over the whole space).
    """

    name: str
    model: str | None
    status: str
    detail: str
    cells: tuple[Cell, ...] = ()
    needs_base: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "status": self.status,
            "detail": self.detail,
            "undecided_cells": len(self.cells),
        }


@dataclass(frozen=True)
class Decisions:
    """Every staged criterion's decision after a stage."""

    criteria: tuple[CriterionDecision, ...]

    @property
    def decided(self) -> bool:
        return all(c.status != "undecided" for c in self.criteria)

    @property
    def verdict(self) -> str:
        """``"pass"`` (all passed), ``"fail"`` (some failed) or ``"undecided"``."""
        if any(c.status == "failed" for c in self.criteria):
            return "fail"
        return "pass" if self.decided else "undecided"

    @property
    def needs_base(self) -> bool:
        return any(c.needs_base for c in self.criteria if c.status == "undecided")

    def cells(self) -> list[Cell]:
        """The undecided cells of all criteria, each once, in a fixed order."""
        seen: dict[Cell, None] = {}
        for c in self.criteria:
            if c.status == "undecided":
                seen.update(dict.fromkeys(c.cells))
        return list(seen)


def _tune(threshold: float) -> float:
    return min(max(float(threshold), 1e-9), 0.5)  # as GateRun.upper tunes it


def _bounds(
    k: np.ndarray, n: np.ndarray, level: float, threshold: float, spending: Spending | None
) -> tuple[Any, Any]:
    """(upper, lower) bounds at the error ``level`` of a look (:meth:`CaseTable.looks`)."""
    if spending is not None and spending.kind != "anytime":
        return spent_bounds(k, n, level)
    p = _tune(threshold)
    conf = 1 - level  # exact: 1 - (1 - c) == c for c in [0.5, 1)
    return cs_upper(k, n, conf, p), cs_lower(k, n, conf, p)


def _cells_of(binning: Binning, cross: Cross, idx: np.ndarray) -> list[Cell]:
    shape = cross.shape(binning)
    return [
        tuple((d, int(b)) for d, b in zip(cross.dims, np.unravel_index(int(i), shape), strict=True))
        for i in idx
    ]


def _label(binning: Binning, cell: Cell) -> str:
    return " & ".join(binning[d].bin_labels[b] for d, b in cell)


def _cell_counts(
    table: CaseTable,
    binning: Binning,
    cross: Cross,
    weight: np.ndarray,
    only: bool,
    seen: np.ndarray | None = None,
) -> np.ndarray:
    """Sum of ``weight`` per cell of ``cross`` over the cases that count for it
    (``only``) or over all cases (of those ``seen``, when given)."""
    code = table.codes[:, [binning.index(d) for d in cross.dims]]
    keep = np.all(code >= 0, axis=1)
    if seen is not None:
        keep &= seen
    if only:
        keep &= table.counts_for(cross)
    shape = cross.shape(binning)
    flat = np.ravel_multi_index(tuple(code[keep].T), shape)
    return np.bincount(flat, weight[keep], int(np.prod(shape)))


def _cell_bound(
    c: Any,
    model: str,
    table: CaseTable,
    binning: Binning,
    crosses: Sequence[Cross],
    conf: float,
    spending: Spending | None,
) -> CriterionDecision:
    o = c.options
    failed = np.isin(table.verdict[model], FAIL_VERDICTS).astype(np.float64)
    ones = np.ones(table.n)
    undecided: list[Cell] = []
    bad: list[str] = []
    for cross in (x for x in crosses if x.t in o["ways"]):
        failing = passing = np.zeros(int(np.prod(cross.shape(binning))), dtype=bool)
        for seen, level in table.looks(conf, spending):
            n = _cell_counts(table, binning, cross, ones, only=True, seen=seen)
            k = _cell_counts(table, binning, cross, failed, only=True, seen=seen)
            upper, lower = _bounds(k, n, level, o["p_max"], spending)
            open_ = ~failing & ~passing  # a cell decided at an earlier look keeps it
            failing = failing | (open_ & (lower > o["p_max"]))
            passing = passing | (open_ & ~failing & (n >= o["min_cases"]) & (upper < o["p_max"]))
        undecided += _cells_of(binning, cross, np.flatnonzero(~failing & ~passing))
        bad += [_label(binning, x) for x in _cells_of(binning, cross, np.flatnonzero(failing))]
    if bad:
        return CriterionDecision(c.name, model, "failed", f"shown above {o['p_max']:g}: {bad[0]}")
    if undecided:
        detail = f"{len(undecided):,} cells undecided"
        return CriterionDecision(c.name, model, "undecided", detail, tuple(undecided))
    return CriterionDecision(c.name, model, "passed", f"every cell below {o['p_max']:g}")


def _coverage(
    c: Any, model: str, table: CaseTable, binning: Binning, crosses: Sequence[Cross]
) -> CriterionDecision:
    o = c.options
    ones = np.ones(table.n)
    short: list[Cell] = []
    worst = 1.0
    for t in o["ways"]:
        cells, covered = 0, 0
        for cross in (x for x in crosses if x.t == t):
            n = _cell_counts(table, binning, cross, ones, only=False)
            cells += n.size
            covered += int(np.count_nonzero(n >= o["min_cases"]))
            short += _cells_of(binning, cross, np.flatnonzero(n < o["min_cases"]))
        worst = min(worst, covered / cells if cells else 0.0)
    detail = f"lowest {100 * worst:.2f}% of cells with >= {o['min_cases']} cases"
    if worst >= o["min"]:
        return CriterionDecision(c.name, model, "passed", detail)
    return CriterionDecision(c.name, model, "undecided", detail, tuple(short))


def _overall(
    c: Any, model: str | None, table: CaseTable, conf: float, spending: Spending | None
) -> CriterionDecision:
    base = table.box < 0
    if c.kind == "agreement":
        a, b = c.options["models"]
        flag = ~counts_agree(
            table.predicted[a], table.verdict[a], table.predicted[b], table.verdict[b]
        )
        limit, what = float(c.options["max"]), "disagreement"
    else:
        flag = np.isin(table.verdict[str(model)], c.options["verdicts"])
        limit, what = float(c.options["p_max"]), "failure rate"
    k, n = np.array([int(np.count_nonzero(flag[base]))]), np.array([int(base.sum())])
    status, upper, lower = "undecided", 1.0, 0.0
    kj, nj, earlier = k, int(n[0]), None
    for seen, level in table.looks(conf, spending):  # the first look that decides it
        kj = np.array([int(np.count_nonzero(flag[base & seen]))])
        nj = int((base & seen).sum())
        u, lo = _bounds(kj, np.array([nj]), level, limit, spending)
        upper, lower = float(u[0]), float(lo[0])
        passed = upper <= limit if c.kind == "agreement" else upper < limit
        status = "failed" if lower > limit else "passed" if nj and passed else "undecided"
        if status != "undecided":
            if not seen.all() and table.stage is not None:  # kept from an earlier look
                earlier = int(table.stage[seen].max())
            break
    bounds = f"{what} bounds [{lower:.4g}, {upper:.4g}]"
    if earlier is None:
        detail = f"{int(k[0]):,} in {int(n[0]):,} base cases, {bounds}"
    else:  # the deciding look's counts beside its bounds, then the latest counts
        detail = (
            f"{status} at stage {earlier}: {int(kj[0]):,} in {nj:,} base cases, {bounds}; "
            f"kept since (now {int(k[0]):,} in {int(n[0]):,} base cases)"
        )
    return CriterionDecision(c.name, model, status, detail, needs_base=True)


def decide(
    gate: Gate,
    binning: Binning,
    models: Sequence[str],
    table: CaseTable,
    spending: Spending | None = None,
) -> Decisions:
    """Every staged criterion's decision from the cases so far.

    Parameters
    ----------
    gate : Gate
        Its staged criteria are decided (:func:`staged_criteria`), at its confidence.
    binning : Binning
        The gate's bins on the run's space.
    models : sequence of str
        The run's model ids (criteria without ``model`` apply to each).
    table : CaseTable
        Every case of every stage so far.
    spending : Spending, optional
        How the error is spent over the looks; None or ``"anytime"``: the anytime
        confidence sequences.
    """
    criteria = staged_criteria(gate)
    ways = sorted({t for c in criteria for t in c.options.get("ways", [])})
    crosses = make_crosses(binning, ways, where="the criteria's ways") if ways else ()
    out = []
    for c in criteria:
        if c.kind == "agreement":
            out.append(_overall(c, None, table, gate.confidence, spending))
            continue
        for m in c.models or tuple(models):
            if m not in models:
                raise ConfigError(f"criterion {c.name!r}: model {m!r} is not one of {list(models)}")
            if c.kind == "cell_upper_bound":
                out.append(_cell_bound(c, m, table, binning, crosses, gate.confidence, spending))
            elif c.kind == "coverage":
                out.append(_coverage(c, m, table, binning, crosses))
            else:
                out.append(_overall(c, m, table, gate.confidence, spending))
    return Decisions(tuple(out))
