"""The result of a run diff and its text (what ``highfive diff`` prints)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["RunDiff"]


@dataclass(frozen=True, eq=False)
class RunDiff:
    """Cell-by-cell comparison of model ``model_b`` in ``run_b`` with ``model_a`` in ``run_a``.

    ``cells`` is the frame :func:`paired_cell_diff` describes (``b`` and ``c`` only
    when paired) with the effect sizes of
    :func:`~highfive.coverage._difftest.effect_columns` (and, with a ``margin``, the
    non-inferiority columns ``ni_upper`` and ``noninferior``); ``overall`` holds the
    same test over all cases. ``identity_a`` and
    ``identity_b`` are the identity digests (``sha256``) campaign.json recorded for the
    two models, None where it recorded none.

    ``focus`` names the runs that drew their cases from target boxes (sampler
    ``focus``): then ``cells`` holds only the cells their boxes contain whole, counting
    the cases of those boxes, ``left_out`` says how many cells were left out, and
    ``overall`` compares nothing (``p_value`` None): a rate of such a run is of its
    boxes, not of the whole space.
    """

    run_a: str
    run_b: str
    model_a: str
    model_b: str
    paired: bool
    note: str
    method: str
    alpha: float
    alternative: str
    overall: dict[str, Any]
    cells: pd.DataFrame
    identity_a: str | None = None
    identity_b: str | None = None
    margin: float | None = None
    focus: tuple[str, ...] = ()
    left_out: int = 0

    @property
    def noninferior(self) -> bool | None:
        """Whether B is shown no more than ``margin`` worse than A in every cell (None:
        no margin was given). An intersection-union test at level ``alpha``."""
        if self.margin is None:
            return None
        return bool(len(self.cells)) and bool(self.cells["noninferior"].all())

    def _noninferiority_lines(self, limit: int) -> list[str]:
        if self.margin is None:
            return []
        c = self.cells
        bad = c[~c["noninferior"]].sort_values("ni_upper", ascending=False, na_position="first")
        verdict = "SHOWN" if self.noninferior else "NOT SHOWN"
        out = [
            f"non-inferiority (margin {self.margin:g}: B at most {100 * self.margin:g} points "
            f"worse than A in every cell; one-sided alpha {self.alpha:g} per cell, "
            "intersection-union over the cells, no correction needed): "
            f"{verdict}, {len(c) - len(bad):,} of {len(c):,} cells shown"
        ]
        top = bad.head(limit)
        for label, upper in zip(top["label"], top["ni_upper"].astype(float), strict=True):
            why = "no cases in A or B" if math.isnan(upper) else f"upper {upper:.4f}"
            out.append(f"  not shown: {label} ({why})")
        if len(bad) > limit:
            out.append(f"  ... and {len(bad) - limit:,} more")
        return out

    @property
    def regressions(self) -> pd.DataFrame:
        """Cells where B fails significantly more than A, most significant first."""
        return self.cells[self.cells["worse"]].sort_values(["p_adjusted", "p_value"])

    @property
    def improvements(self) -> pd.DataFrame:
        """Cells where B fails significantly less than A, most significant first."""
        return self.cells[self.cells["better"]].sort_values(["p_adjusted", "p_value"])

    def _identity_lines(self) -> list[str]:
        """Between two runs: whether the compared models are the same ones (by identity)."""
        if self.run_a == self.run_b:
            return []
        ia, ib = _short(self.identity_a), _short(self.identity_b)
        if self.identity_a is not None and self.identity_a == self.identity_b:
            who = self.model_a if self.model_a == self.model_b else f"{self.model_a}/{self.model_b}"
            return [f"{who}: the same identity in A and B ({ia})"]
        if self.model_a == self.model_b:
            return [
                f"{self.model_a}: {ia} in A, {ib} in B (different identities: the model "
                "changed, so differences need not come from sampling alone)"
            ]
        return [f"identities: {self.model_a} {ia} in A, {self.model_b} {ib} in B"]

    def _overall_lines(self) -> list[str]:
        """The overall comparison, or for runs of target boxes, the cells compared and
        why there is no overall one."""
        o = self.overall
        if not self.focus:
            return [
                f"overall: A {o['failures_a']:,}/{o['n_a']:,} fail ({100 * o['rate_a']:.3g}%), "
                f"B {o['failures_b']:,}/{o['n_b']:,} ({100 * o['rate_b']:.3g}%), "
                f"p = {o['p_value']:.3g}"
                + (f"; only B fails {o['b']:,}, only A fails {o['c']:,}" if self.paired else "")
            ]
        runs = " and ".join(self.focus)
        its, rate = ("their", "rates are") if len(self.focus) > 1 else ("its", "rate is")
        return [
            f"cells: only the {len(self.cells):,} cells the target boxes of {runs} contain "
            f"whole, each with the cases of those boxes; {self.left_out:,} cells left out "
            "(no box contains them whole, and a box that cuts a cell draws only its part)",
            f"overall: not compared ({runs} drew {its} cases from target boxes: {its} failure "
            f"{rate} of {its} boxes, not of the whole space)",
        ]

    def lines(self, limit: int = 15) -> list[str]:
        """A readable report: what was compared, the overall rates, then the cells."""
        a = f"{self.model_a} in {self.run_a}" if self.run_a != self.run_b else self.model_a
        b = f"{self.model_b} in {self.run_b}" if self.run_a != self.run_b else self.model_b
        test = "paired exact McNemar" if self.paired else "Fisher's exact"
        side = "one-sided (B worse)" if self.alternative == "greater" else "two-sided"
        adj = "Holm (family-wise)" if self.method == "holm" else "Benjamini-Hochberg (FDR)"
        tested = int(self.cells["p_value"].notna().sum())
        conf = f"{100 * (1 - self.alpha):g}%"
        out = [
            f"A = {a}",
            f"B = {b}",
            *self._identity_lines(),
            f"{self.note}; {test} test per cell, {side}, {adj} over {tested:,} testable "
            f"cells at alpha {self.alpha:g}",
            *self._overall_lines(),
            f"effects per cell: B-A difference of failure rates and B/A ratio with {conf} "
            "intervals ("
            + (
                "paired Newcombe hybrid score; Bonett-Price)"
                if self.paired
                else "Newcombe hybrid score; Katz log)"
            ),
            *self._noninferiority_lines(limit),
        ]
        sections = [("regressions (B worse)", self.regressions)]
        if self.alternative != "greater":
            sections.append(("improvements (B better)", self.improvements))
        for title, rows in sections:
            out.append(f"{title}: {len(rows):,}")
            if len(rows):
                width = min(60, max(len(str(x)) for x in rows["label"].head(limit)))
                out.append(
                    f"  {'cell':<{width}}  {'A fail/n':>13}  {'B fail/n':>13}  "
                    f"{'rate A':>7}  {'rate B':>7}  {'p adj':>8}  "
                    f"{f'B-A [{conf} CI]':>26}  {'ratio':>6}"
                )
                for r in rows.head(limit).itertuples():
                    label = str(r.label)
                    label = label if len(label) <= width else label[: width - 3] + "..."
                    out.append(
                        f"  {label:<{width}}  {f'{r.failures_a}/{r.n_a}':>13}  "
                        f"{f'{r.failures_b}/{r.n_b}':>13}  {r.rate_a:>7.3f}  {r.rate_b:>7.3f}  "
                        f"{r.p_adjusted:>8.2g}  "
                        f"{f'{r.diff:+.4f} [{r.diff_low:+.4f}, {r.diff_high:+.4f}]':>26}  "
                        f"{r.ratio:>6.3g}"
                    )
                if len(rows) > limit:
                    out.append(f"  ... and {len(rows) - limit:,} more")
        return out


def _short(identity: str | None) -> str:
    return f"{identity[:12]}..." if identity else "unknown"
