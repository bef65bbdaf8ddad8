"""Criteria on cells: every cell's failure-rate bound (``cell_upper_bound``), and
t-way ``coverage``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ._criteria import (
    P_MAX,
    Criterion,
    CriterionKind,
    Option,
    Outcome,
    flag,
    number,
    register_criterion,
    ways,
    whole,
)
from ._crosses import cell_codes
from ._db import CoverageCounts
from ._gaterun import GateRun

__all__ = ["CellUpperBound", "Coverage"]


def _crosses_rows(counts: CoverageCounts, ways: Sequence[int]) -> np.ndarray:
    parts = [
        np.arange(counts.offsets[i], counts.offsets[i + 1])
        for i, c in enumerate(counts.crosses)
        if c.t in ways
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _cell_label(counts: CoverageCounts, row: int) -> str:
    i = int(counts.cross_ids[row])
    cross = counts.crosses[i]
    code = cell_codes(counts.binning, cross, np.array([row - int(counts.offsets[i])]))[0]
    return " & ".join(
        counts.binning[d].bin_labels[int(b)] for d, b in zip(cross.dims, code, strict=True)
    )


def _model_column(counts: CoverageCounts, model: str) -> int:
    return counts.models.index(model) if model in counts.models else -1


def _illegal(counts: CoverageCounts, j: int) -> str:
    """``'cases in illegal bins: motion 177'`` for model column ``j`` ('' if none):
    values in an illegal bin, or outside every bin, per coverpoint. Such a case is in no
    cell, so no cell criterion would see it otherwise."""
    if j < 0:
        return ""
    hits = [
        f"{cp.name} {int(x):,}"
        for cp, x in zip(counts.binning, counts.illegal[:, j], strict=True)
        if x
    ]
    return f"cases in illegal bins: {', '.join(hits)}" if hits else ""


@register_criterion
class CellUpperBound(CriterionKind):
    """Every cell's one-sided Clopper-Pearson upper bound below ``p_max``.

    No multiplicity correction: the claim "every cell is below p_max" is the
    intersection of the cells' claims, and an intersection-union test that passes only
    when every cell's level-alpha test passes has level alpha itself (Berger 1982). It
    is flagging *some* bad cell among many that needs Holm or FDR (see ``_diff``).

    ``ways`` (default ``[1]``) chooses the t-way crosses whose cells must pass. A cell
    with fewer than ``min_cases`` cases (default 1) is "not shown" and fails the
    criterion, unless ``allow_untested`` (default false) skips such cells.
    """

    kind = "cell_upper_bound"
    options: ClassVar[Mapping[str, Option]] = {
        "p_max": P_MAX,
        "ways": ways([1]),
        "min_cases": whole(1, default=1),
        "allow_untested": flag(False),
    }

    def threshold(self, o: Mapping[str, Any]) -> str:
        ts = "/".join(map(str, o["ways"]))
        return f"upper bound < {o['p_max']:g} in every {ts}-way cell"

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        o = c.options
        counts = run.counts()
        rows = _crosses_rows(counts, o["ways"])
        j = _model_column(counts, str(model))
        n = counts.n[rows, j] if j >= 0 else np.zeros(rows.size, dtype=np.int64)
        k = counts.fails[rows, j].sum(axis=-1) if j >= 0 else np.zeros(rows.size, dtype=np.int64)
        upper = run.upper(k, n, o["p_max"])
        shown = n >= o["min_cases"]
        bad = shown & (upper >= o["p_max"])
        not_shown = int(np.count_nonzero(~shown))
        cells = rows.size
        if not shown.any():
            value = f"no cell tested: {_too_few(cells, o['min_cases'])}"
            return value, False, f"none of {cells:,} cells has >= {o['min_cases']} cases"
        order = np.argsort(-np.where(shown, upper, -1.0), kind="stable")
        worst = int(order[0])

        def cell(i: int) -> str:
            return (
                f"{_cell_label(counts, int(rows[i]))}: {int(k[i]):,}/{int(n[i]):,} fail, "
                f"upper {upper[i]:.3g}"
            )

        value = f"worst upper bound {upper[worst]:.4g}"
        parts = []
        if bad.any():
            listed = [cell(int(i)) for i in order[: min(3, int(bad.sum()))]]
            parts.append(
                f"{int(bad.sum()):,} of {cells:,} cells not shown below {o['p_max']:g} "
                f"(worst: {'; '.join(listed)})"
            )
        else:
            parts.append(
                f"all {int(shown.sum()):,} tested cells below {o['p_max']:g} (worst {cell(worst)})"
            )
        if not_shown:
            few = np.flatnonzero(~shown)[:3]
            names = ", ".join(f"{_cell_label(counts, int(rows[i]))} ({int(n[i])})" for i in few)
            verb = "skipped (allow_untested)" if o["allow_untested"] else "not shown"
            parts.append(f"{not_shown:,} cells with < {o['min_cases']} cases {verb}, e.g. {names}")
        passed = not bad.any() and (o["allow_untested"] or not not_shown)
        if not_shown and not o["allow_untested"]:  # a reason to fail: said on the line too
            value += f"; {_too_few(not_shown, o['min_cases'])}"
        illegal = _illegal(counts, j)
        if illegal:  # judged by coverage; said here too, on the line and in the detail
            value += f"; {illegal}"
            parts.append(f"{illegal} (in no cell; the coverage criterion fails on them)")
        return value, passed, "; ".join(parts)


def _too_few(cells: int, min_cases: int) -> str:
    """``'40 cells have fewer than min_cases = 5 cases'`` (or no case, for 1)."""
    have = "cell has" if cells == 1 else "cells have"
    if min_cases <= 1:
        return f"{cells:,} {have} no case"
    return f"{cells:,} {have} fewer than min_cases = {min_cases:,} cases"


@register_criterion
class Coverage(CriterionKind):
    """The fraction of t-way cells with at least ``min_cases`` cases, for each t in ``ways``.

    A case with a value in an illegal bin (or outside every bin) fails it, whatever the
    fraction: as in hardware functional coverage, reaching an illegal bin is an error.
    """

    kind = "coverage"
    options: ClassVar[Mapping[str, Option]] = {
        "min": number("must be a fraction in [0, 1], e.g. 0.95", low=0, high=1),
        "ways": ways([2]),
        "min_cases": whole(1, default=1),
    }

    def threshold(self, o: Mapping[str, Any]) -> str:
        ts = "/".join(map(str, o["ways"]))
        return f">= {100 * o['min']:g}% of {ts}-way cells with >= {o['min_cases']} cases"

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        o = c.options
        counts = run.counts()
        j = _model_column(counts, str(model))
        fractions, parts = [], []
        for t in o["ways"]:
            rows = _crosses_rows(counts, [t])
            covered = int(np.count_nonzero(counts.n[rows, j] >= o["min_cases"])) if j >= 0 else 0
            frac = covered / rows.size if rows.size else 0.0
            fractions.append(frac)
            parts.append(f"{t}-way {100 * frac:.2f}% ({covered:,}/{rows.size:,} cells)")
        low = min(fractions)
        value = f"{100 * low:.2f}%" if len(fractions) == 1 else f"lowest {100 * low:.2f}%"
        illegal = _illegal(counts, j)
        if illegal:  # hardware functional coverage: a hit of an illegal bin is an error
            value += f"; {illegal}"
            parts.append(f"{illegal}, which fail this criterion")
        return value, low >= o["min"] and not illegal, "; ".join(parts)
