"""Cell statistics: failure-rate bounds, cases still needed, status, coverage, holes.

Bounds are exact (Clopper-Pearson) binomial bounds, vectorised over every cell with
``scipy.special.betaincinv``; ``scipy.stats.binomtest(k, n).proportion_ci(method=
"exact")`` computes the same numbers one at a time. With ``k`` failures in ``n`` cases
the one-sided upper bound at confidence ``c`` is the ``c`` quantile of Beta(k+1, n-k);
for ``k = 0`` it is ``1 - (1-c)^(1/n)``, about ``3/n`` at 95 %.

Status of a cell (for one model), against a target failure rate ``p_target``:

- ``untested``: no cases;
- ``failing``: the one-sided lower bound exceeds ``p_target`` (the cell is significantly
  worse than the target; with ``adjust="holm"``, after Holm's correction over all tested
  cells of the model, as flagging bad cells among many needs);
- ``passing``: the one-sided upper bound is below ``p_target``;
- ``under-tested``: neither, more cases are needed.

Cases still needed, two ways (both 0 for "passing", ``inf`` for "failing"):
``needed`` if no further case fails (optimistic, a lower limit), ``needed_at_rate`` if
failures keep coming at the observed rate (``inf`` when that rate is at or above the
target). At 95 %, 9 failures in 1,000 cases at a target of 0.01: 568 against 26,213.

These bounds are exact for one look at the data. A campaign that looks again after
each batch or follow-up stage uses ``looks="anytime"``: confidence sequences valid at
every sample size (see :mod:`._anytime`).

A gate "every cell below p_target" needs no multiplicity correction
(intersection-union test); flagging bad cells among many does. docs/statistics.md
states what each bound and test guarantees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betainc, betaincinv
from scipy.stats import binom

from highfive.generators import InvalidParameter, show
from highfive.harness import FAIL_VERDICTS

from ._anytime import cs_lower, cs_pvalue, cs_upper, log_mixture, prior
from ._checks import check_confidence, check_kn, check_p_target
from ._crosses import cell_codes
from ._db import CoverageCounts

__all__ = [
    "LOOKS",
    "STATUSES",
    "CellStats",
    "cases_needed",
    "cases_needed_at_rate",
    "cell_stats",
    "cells_frame",
    "coverage",
    "cp_interval",
    "cp_lower",
    "cp_upper",
    "holes",
    "rate_note",
    "shown_rate",
    "summary",
]

STATUSES = ("untested", "failing", "under-tested", "passing")
Adjust = Literal["none", "holm"]
Looks = Literal["fixed", "anytime"]
LOOKS = ("fixed", "anytime")
"""Statistics modes: one look at the data (Clopper-Pearson, exact), or any number of
looks (anytime-valid confidence sequences, see :mod:`._anytime`)."""
CellLooks = Literal["fixed", "anytime", "bonferroni"]
"""The bounds a :class:`CellStats` holds: a mode of :data:`LOOKS`, or ``"bonferroni"``
(weighted runs merged: one-look bounds, each at ``1 - alpha / runs``)."""


_confidence, _p_target, _kn = check_confidence, check_p_target, check_kn


def _min_cases(m: int) -> int:
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise InvalidParameter(f"min_cases: {show(m)} must be a whole number >= 1")
    return int(m)


def _looks(looks: str) -> Looks:
    if looks not in LOOKS:
        raise InvalidParameter(f"looks: {show(looks)} must be 'fixed' or 'anytime'")
    return looks  # type: ignore[return-value]


def cp_upper(k: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """One-sided Clopper-Pearson upper bound of the failure rate (1 where ``k = n``).

    Parameters
    ----------
    k, n : array_like
        Failures and cases (broadcast together); ``n = 0`` gives 1.
    confidence : float
        One-sided confidence level.

    Returns
    -------
    np.ndarray
        ``p`` such that ``P(X <= k | n, p) = 1 - confidence``.
    """
    c = _confidence(confidence)
    k, n = _kn(k, n)
    out = np.ones(k.shape)
    ok = k < n
    out[ok] = betaincinv(k[ok] + 1, n[ok] - k[ok], c)
    return out


def cp_lower(k: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """One-sided Clopper-Pearson lower bound of the failure rate (0 where ``k = 0``)."""
    c = _confidence(confidence)
    k, n = _kn(k, n)
    out = np.zeros(k.shape)
    ok = k > 0
    out[ok] = betaincinv(k[ok], n[ok] - k[ok] + 1, 1 - c)
    return out


def cp_interval(
    k: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided exact interval: the one-sided bounds at ``(1 + confidence) / 2``."""
    c = (1 + _confidence(confidence)) / 2
    return cp_lower(k, n, c), cp_upper(k, n, c)


def _shown_below(k: np.ndarray, n: np.ndarray, p: float, c: float, looks: Looks) -> np.ndarray:
    """Whether the upper bound of ``k`` in ``n`` is below ``p`` (``k`` may be fractional).

    Tested directly, without computing the bound: the Clopper-Pearson bound is below
    ``p`` when the Beta(k+1, n-k) distribution function at ``p`` exceeds ``c``; the
    anytime bound when ``p`` is above ``k / n`` and outside the confidence sequence.
    """
    with np.errstate(invalid="ignore"):
        if looks == "anytime":
            return (n * p > k) & (log_mixture(k, n, np.full(k.shape, p), prior(p)) >= -np.log1p(-c))
        return (n > k) & (betainc(k + 1, np.maximum(n - k, 1e-300), p) > c)


def _smallest_total(
    n: np.ndarray, shown: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Per element ``i``, the smallest whole ``N >= n[i]`` with ``shown(N, i)``.

    ``shown(N, index)`` tests the elements ``index`` at totals ``N`` and must stay
    true once it is (the bounds fall as cases grow): ``N`` doubles until it holds, then
    bisection finds the first. ``inf`` beyond :data:`_MAX_CASES`, below which every
    whole number is a float, so each midpoint lies strictly between its ends and the
    search ends with the exact first total.
    """
    out = np.where(shown(n, np.arange(n.size)), n, np.nan)
    todo = np.flatnonzero(np.isnan(out))
    lo = n[todo]
    hi = np.clip(2 * lo, 1.0, _MAX_CASES)
    while (grow := ~(ok := shown(hi, todo)) & (hi < _MAX_CASES)).any():
        lo, hi = np.where(grow, hi, lo), np.where(grow, np.minimum(2 * hi, _MAX_CASES), hi)
    never = ~ok
    out[todo[never]] = np.inf
    todo, lo, hi = todo[~never], lo[~never], hi[~never]
    while np.any(hi - lo > 1):  # invariant: not shown at lo, shown at hi
        mid = lo + np.floor((hi - lo) / 2)  # exact: lo, hi and hi - lo are whole floats
        below = shown(mid, todo)
        hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    out[todo] = hi
    return out


_MAX_CASES = 2.0**53
"""Beyond this many cases a count is reported as infinite (no campaign gets there): the
largest total below which float64 holds every whole number, and so every count the
bounds can tell apart."""


def cases_needed(
    k: npt.ArrayLike,
    n: npt.ArrayLike,
    p_target: float = 1e-3,
    confidence: float = 0.95,
    looks: Looks = "fixed",
) -> np.ndarray:
    """Further cases needed to show ``p < p_target``, if none of them fails (optimistic).

    The smallest ``N >= n`` with ``upper(k, N) < p_target``, minus ``n``: 0 when
    already shown. ``inf`` when the failures seen already show ``p > p_target``
    (the lower bound exceeds ``p_target``): assuming that no further case fails would
    contradict the data at this confidence, so no honest number exists; fix the cell
    instead. Golden values at 95 % (``looks="fixed"``): 2,995 cases in all with 0
    failures, 4,742 with 1, 6,294 with 2 to show ``p < 1e-3``. ``looks="anytime"``
    uses the anytime-valid bounds (:func:`cs_upper`, tuned to ``p_target``).
    See :func:`cases_needed_at_rate` for the count if failures keep coming.

    Returns
    -------
    np.ndarray of float
    """
    return _needed(_optimistic, k, n, p_target, confidence, looks)


def _needed(
    how: Callable[[np.ndarray, np.ndarray, float, float, Looks], np.ndarray],
    k: npt.ArrayLike,
    n: npt.ArrayLike,
    p_target: float,
    confidence: float,
    looks: Looks,
) -> np.ndarray:
    """Checked arguments, ``how``'s count, and ``inf`` where the cell is shown failing."""
    p, c, lk = _p_target(p_target), _confidence(confidence), _looks(looks)
    kk, nn = _kn(k, n)
    return np.where(_lower(kk, nn, c, p, lk) > p, np.inf, how(kk, nn, p, c, lk))


def _optimistic(k: np.ndarray, n: np.ndarray, p: float, c: float, looks: Looks) -> np.ndarray:
    """Further cases if none fails, always finite (the total depends on k alone)."""
    ks, inverse = np.unique(k, return_inverse=True)
    total = _smallest_total(ks, lambda m, i: _shown_below(ks[i], m, p, c, looks))
    return np.maximum(total[inverse.reshape(k.shape)] - n, 0.0)


def cases_needed_at_rate(
    k: npt.ArrayLike,
    n: npt.ArrayLike,
    p_target: float = 1e-3,
    confidence: float = 0.95,
    looks: Looks = "fixed",
) -> np.ndarray:
    """Further cases needed to show ``p < p_target`` if failures keep their observed rate.

    With ``r = k / n``, the smallest ``N >= n`` whose upper bound with ``r N``
    failures (fractional: the bound's Beta parameters are continuous) is below
    ``p_target``, minus ``n``. ``inf`` when ``r >= p_target`` (the observed rate can
    never be shown below the target) or the lower bound already exceeds ``p_target``.
    With no failure it equals :func:`cases_needed`; untested cells (``n = 0``) have no
    rate and get that optimistic count too. At 95 %, 9 failures in 1,000 cases at a
    target of 0.01: 568 further cases if none fails, 26,213 at the observed 0.9 %.

    Returns
    -------
    np.ndarray of float
    """
    return _needed(_at_rate, k, n, p_target, confidence, looks)


def _at_rate(k: np.ndarray, n: np.ndarray, p: float, c: float, looks: Looks) -> np.ndarray:
    shape, k, n = k.shape, k.ravel(), n.ravel()
    out = np.array(_optimistic(k, n, p, c, looks), dtype=np.float64)
    some = (k > 0) & (n > 0)
    hopeless = some & (k >= p * n)
    todo = some & ~hopeless
    if todo.any():
        pairs, inverse = np.unique(
            np.stack([k[todo], n[todo]], axis=1), axis=0, return_inverse=True
        )
        ku, nu = pairs[:, 0], pairs[:, 1]
        total = _smallest_total(nu, lambda m, i: _shown_below(ku[i] / nu[i] * m, m, p, c, looks))
        out[todo] = np.maximum((total - nu)[inverse], out[todo])
    return np.where(hopeless, np.inf, out).reshape(shape)


def _upper(k: np.ndarray, n: np.ndarray, c: float, p: float, looks: Looks) -> np.ndarray:
    return cs_upper(k, n, c, p) if looks == "anytime" else cp_upper(k, n, c)


def _lower(k: np.ndarray, n: np.ndarray, c: float, p: float, looks: Looks) -> np.ndarray:
    return cs_lower(k, n, c, p) if looks == "anytime" else cp_lower(k, n, c)


def _holm(p: np.ndarray) -> np.ndarray:
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


@dataclass(frozen=True, eq=False)
class CellStats:
    """Statistics of every cell and model; arrays have shape (cells, models).

    ``k`` counts all failures, ``by_verdict`` (cells, models, 4) each failure verdict.
    ``rate`` is NaN where ``n = 0``. ``upper``, ``lower`` (one-sided) and ``ci_low``,
    ``ci_high`` (two-sided) are Clopper-Pearson bounds (``looks="fixed"``) or
    anytime-valid ones (``looks="anytime"``). ``p_value`` tests ``p <= p_target``
    (exact binomial; anytime-valid under ``looks="anytime"``), ``p_adjusted`` is it
    after the chosen correction.

    ``confidence`` is the level the statistics hold at (the one asked for);
    ``look_confidence`` the level of each look's bounds, the same except under
    ``looks="bonferroni"`` (merged weighted runs: one-look bounds at
    ``1 - (1 - confidence) / runs`` each, so that all the looks together hold at
    ``confidence``); ``None`` means ``confidence``.

    ``needed`` is the further cases that show the cell below ``p_target`` if none of
    them fails (optimistic); ``needed_at_rate`` the further cases if failures keep
    coming at the observed rate ``k / n`` (:func:`cases_needed_at_rate`). Both agree
    with ``status``: 0 exactly for "passing", ``inf`` for "failing" (and
    ``needed_at_rate`` also where ``k / n >= p_target``: that rate is never shown
    below the target), finite otherwise.
    """

    counts: CoverageCounts
    p_target: float
    confidence: float
    adjust: Adjust
    k: np.ndarray
    rate: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    needed: np.ndarray
    p_value: np.ndarray
    p_adjusted: np.ndarray
    status: np.ndarray
    needed_at_rate: np.ndarray
    looks: CellLooks = "fixed"
    look_confidence: float | None = None

    @property
    def n(self) -> np.ndarray:
        return self.counts.n

    @property
    def each_look(self) -> float:
        """The confidence of each look's bounds (:attr:`look_confidence`, else
        :attr:`confidence`)."""
        return self.confidence if self.look_confidence is None else self.look_confidence

    @property
    def by_verdict(self) -> np.ndarray:
        return self.counts.fails


def cell_stats(
    counts: CoverageCounts,
    *,
    p_target: float = 1e-3,
    confidence: float = 0.95,
    adjust: Adjust = "none",
    looks: Looks = "fixed",
) -> CellStats:
    """Bounds, cases needed and status of every cell and model.

    Parameters
    ----------
    counts : CoverageCounts
    p_target : float
        The failure rate a cell must be shown to stay below.
    confidence : float
        Confidence of the one-sided bounds (the two-sided interval uses the same level).
    adjust : {"none", "holm"}
        Correction of the "failing" flag for testing many cells (per model).
    looks : {"fixed", "anytime"}
        ``"fixed"``: exact Clopper-Pearson bounds, valid for one look at the data.
        ``"anytime"``: confidence sequences (:func:`cs_upper`) valid at every sample
        size at once, for campaigns that look (and decide) after every batch or
        follow-up stage. See docs/statistics.md.
    """
    p, c, lk = _p_target(p_target), _confidence(confidence), _looks(looks)
    if adjust not in ("none", "holm"):
        raise InvalidParameter(f"adjust: {show(adjust)} must be 'none' or 'holm'")
    n = counts.n
    k = counts.fails.sum(axis=-1)
    rate = np.divide(k, n, out=np.full(n.shape, np.nan), where=n > 0)
    kf, nf = k.astype(np.float64), n.astype(np.float64)
    upper, lower = _upper(kf, nf, c, p, lk), _lower(kf, nf, c, p, lk)
    two = (1 + c) / 2
    ci_low, ci_high = _lower(kf, nf, two, p, lk), _upper(kf, nf, two, p, lk)
    if lk == "anytime":
        p_value = cs_pvalue(kf, nf, p, p)
    else:
        p_value = np.where(k > 0, binom.sf(k - 1, n, p), 1.0)
    p_adj = p_value.copy()
    if adjust == "holm":
        for j in range(n.shape[1]):
            tested = n[:, j] > 0
            p_adj[tested, j] = _holm(p_value[tested, j])
        failing = (p_adj < 1 - c) & (n > 0)
    else:
        failing = lower > p
    passing = ~failing & (upper < p)
    status = np.select(
        [n == 0, failing, passing], ["untested", "failing", "passing"], "under-tested"
    )
    # Consistent with the status by construction: 0 for passing, inf for failing.
    optimistic = np.maximum(_optimistic(kf, nf, p, c, lk), 1.0)
    needed = np.select([failing, passing], [np.inf, 0.0], optimistic)
    at_rate = np.maximum(_at_rate(kf, nf, p, c, lk), optimistic)
    needed_at_rate = np.select([failing, passing], [np.inf, 0.0], at_rate)
    return CellStats(
        counts,
        p,
        c,
        adjust,
        k,
        rate,
        upper,
        lower,
        ci_low,
        ci_high,
        needed,
        p_value,
        p_adj,
        status,
        needed_at_rate,
        lk,
    )


# -- frames ---------------------------------------------------------------------------
def _cell_columns(counts: CoverageCounts, rows: np.ndarray) -> dict[str, Any]:
    """Cross, t, cell, label and one categorical ``bin_<dim>`` column for cell ``rows``."""
    b = counts.binning
    cross_id = counts.cross_ids[rows]
    cell = counts.cell_ids[rows]
    bins = {cp.name: np.full(rows.size, -1, dtype=np.int32) for cp in b}
    label = np.empty(rows.size, dtype=object)
    for i, cross in enumerate(counts.crosses):
        sel = np.flatnonzero(cross_id == i)
        if not sel.size:
            continue
        codes = cell_codes(b, cross, cell[sel])
        parts = []
        for j, d in enumerate(cross.dims):
            bins[d][sel] = codes[:, j]
            parts.append(np.asarray(b[d].bin_labels, dtype=object)[codes[:, j]])
        label[sel] = [" & ".join(x) for x in zip(*parts, strict=True)]
    names = [c.name for c in counts.crosses]
    cols: dict[str, Any] = {
        "cross": pd.Categorical.from_codes(cross_id, categories=pd.Index(names, dtype=object)),
        "t": np.array([c.t for c in counts.crosses], dtype=np.int8)[cross_id],
        "cell": cell,
        "label": label,
    }
    for cp in b:
        cats = pd.Index(cp.bin_labels, dtype=object)
        cols[f"bin_{cp.name}"] = pd.Categorical.from_codes(bins[cp.name], categories=cats)
    return cols


def cells_frame(stats: CellStats) -> pd.DataFrame:
    """One row per cell and model, ready for Parquet.

    Columns: cross, t, cell, label, ``bin_<dim>`` (the cell's bin label, null for
    coverpoints outside the cross), model, n, failures, one column per failure verdict,
    rate, upper, lower, ci_low, ci_high, needed, needed_at_rate, p_value, p_adjusted,
    status (see :class:`CellStats`). ``attrs`` records ``looks``, ``confidence`` and
    ``look_confidence`` (each look's bounds' level).
    """
    counts = stats.counts
    m = len(counts.models)
    cells = np.repeat(np.arange(len(counts.n)), m)
    cols = _cell_columns(counts, cells)
    cols["model"] = pd.Categorical.from_codes(
        np.tile(np.arange(m), len(counts.n)), categories=pd.Index(counts.models, dtype=object)
    )
    cols["n"] = counts.n.ravel()
    cols["failures"] = stats.k.ravel()
    for j, v in enumerate(FAIL_VERDICTS):
        cols[v] = counts.fails[:, :, j].ravel()
    names = ("rate", "upper", "lower", "ci_low", "ci_high", "needed", "needed_at_rate")
    for name in (*names, "p_value", "p_adjusted"):
        cols[name] = getattr(stats, name).ravel()
    cols["status"] = pd.Categorical(stats.status.ravel(), categories=list(STATUSES))
    frame = pd.DataFrame(cols)
    frame.attrs["looks"] = stats.looks
    frame.attrs["confidence"] = stats.confidence
    frame.attrs["look_confidence"] = stats.each_look
    return frame


def coverage(counts: CoverageCounts, min_cases: int = 1) -> pd.DataFrame:
    """t-way coverage: fraction of cells with at least ``min_cases`` cases.

    Every cell counts (ignored and illegal bins are not cells), so the fraction is
    ``covered / cells`` of the counts themselves and merges never exceed 100 %.

    Returns
    -------
    pandas.DataFrame
        One row per cross and model: cross, t, model, min_cases, cells, covered,
        coverage.
    """
    mc = _min_cases(min_cases)
    hit = (counts.n >= mc).astype(np.int64)
    covered = np.add.reduceat(hit, counts.offsets[:-1], axis=0) if len(hit) else hit
    sizes = np.diff(counts.offsets)
    m = len(counts.models)
    return pd.DataFrame(
        {
            "cross": np.repeat([c.name for c in counts.crosses], m),
            "t": np.repeat([c.t for c in counts.crosses], m),
            "model": np.tile(np.array(counts.models, dtype=object), len(counts.crosses)),
            "min_cases": mc,
            "cells": np.repeat(sizes, m),
            "covered": covered.ravel(),
            "coverage": (covered / sizes[:, None]).ravel() if m else np.zeros(0),
        }
    )


def holes(counts: CoverageCounts, min_cases: int = 1) -> pd.DataFrame:
    """Cells with fewer than ``min_cases`` cases, per model.

    Columns: cross, t, cell, label, ``bin_<dim>`` per coverpoint, model, n.
    """
    mc = _min_cases(min_cases)
    cell, model = np.nonzero(counts.n < mc)
    cols = _cell_columns(counts, cell)
    cols["model"] = pd.Categorical.from_codes(
        model, categories=pd.Index(counts.models, dtype=object)
    )
    cols["n"] = counts.n[cell, model]
    return pd.DataFrame(cols)


def summary(stats: CellStats, *, min_cases: int = 1, worst: int = 10) -> dict[str, Any]:
    """Plain-data summary (JSON-ready): coverage per t and cross, statuses, worst cells.

    Coverage per t is the fraction of all t-way cells covered (from the counts, never
    an average of percentages). ``worst`` lists the cells with failures, the most
    confidently bad first (highest lower bound, then rate).
    """
    if isinstance(worst, bool) or not isinstance(worst, int) or worst < 0:
        raise InvalidParameter(f"worst: {show(worst)} must be a whole number >= 0")
    counts = stats.counts
    cov = coverage(counts, min_cases)
    b = counts.binning
    out: dict[str, Any] = {
        "p_target": stats.p_target,
        "confidence": stats.confidence,
        "adjust": stats.adjust,
        "looks": stats.looks,
        "look_confidence": stats.each_look,
        "min_cases": min_cases,
        "models": {},
        "worst": [],
    }
    for j, m in enumerate(counts.models):
        c = cov[cov["model"] == m]
        by_t = c.groupby("t")[["cells", "covered"]].sum()
        tested = counts.n[:, j] >= min_cases
        out["models"][m] = {
            "sha256": counts.model_sha256[j],
            "rows": int(counts.rows[j]),
            "coverage": {
                "overall": float(tested.mean()) if tested.size else 0.0,
                "by_t": {
                    str(t): {
                        "cells": int(r.cells),
                        "covered": int(r.covered),
                        "coverage": float(r.covered / r.cells),
                    }
                    for t, r in by_t.iterrows()
                },
                "by_cross": dict(zip(c["cross"], c["coverage"].astype(float), strict=True)),
            },
            "status": {s: int(np.count_nonzero(stats.status[:, j] == s)) for s in STATUSES},
            "holes": int(np.count_nonzero(~tested)),
            "ignored": {
                cp.name: int(x) for cp, x in zip(b, counts.ignored[:, j], strict=True) if x
            },
            "illegal": {
                cp.name: int(x) for cp, x in zip(b, counts.illegal[:, j], strict=True) if x
            },
        }
    cell, model = np.nonzero(stats.k > 0)
    order = np.lexsort((-stats.rate[cell, model], -stats.lower[cell, model]))[:worst]
    cell, model = cell[order], model[order]
    cols = _cell_columns(counts, cell)
    for i, (ci, mi) in enumerate(zip(cell, model, strict=True)):
        need = float(stats.needed[ci, mi])
        at_rate = float(stats.needed_at_rate[ci, mi])
        out["worst"].append(
            {
                "cross": str(cols["cross"][i]),
                "label": str(cols["label"][i]),
                "model": counts.models[mi],
                "n": int(counts.n[ci, mi]),
                "failures": int(stats.k[ci, mi]),
                "rate": float(stats.rate[ci, mi]),
                "lower": float(stats.lower[ci, mi]),
                "upper": float(stats.upper[ci, mi]),
                "ci_low": float(stats.ci_low[ci, mi]),
                "ci_high": float(stats.ci_high[ci, mi]),
                "needed": need if np.isfinite(need) else None,
                "needed_at_rate": at_rate if np.isfinite(at_rate) else None,
                "status": str(stats.status[ci, mi]),
            }
        )
    return out


def covered_share(covered: int, cells: int) -> str:
    """A covered share of cells as ``highfive coverage`` and the report show it: one
    decimal, never rounded up to 100.0% while a cell is a hole (13,427 of 13,432 cells
    read 100.0%, a user taking it for no hole: it is 99.96%); "–" of no cell."""
    if not cells:
        return "–"
    pct = 100 * covered / cells
    text = f"{pct:.1f}%"
    if covered < cells and text == "100.0%":
        text = f"{math.floor(pct * 100) / 100:.2f}%"
    return text


def shown_rate(rate: float) -> str:
    """A cell's failure rate as ``highfive coverage`` and the report show it: three
    decimals, and a weighted (Horvitz-Thompson) estimate above 1 as ``1.000*`` (the
    estimate is unbiased but not bounded by 1; :func:`rate_note` explains the star).
    The stored value (cells.parquet, summary.json) stays the estimate."""
    return f"{min(rate, 1.0):.3f}" + ("*" if rate > 1 else "")


def rate_note(worst: Iterable[Mapping[str, Any]]) -> str:
    """The note explaining the star of :func:`shown_rate` for the cells of ``worst``
    (summary.json's worst cells, as shown) whose estimate is above 1, with each
    estimate; empty when there is none."""
    above = [
        f"{w['label']} ({w['model']}) {float(w['rate']):.3g}" for w in worst if float(w["rate"]) > 1
    ]
    if not above:
        return ""
    return (
        "* shown as 1: the Horvitz-Thompson estimate of these cells is above 1 "
        f"({'; '.join(above)}). It divides the weighted failures by the cell's expected "
        "share of all cases; unbiased, but a few cases of large weight can take it past 1 "
        "(cells.parquet keeps it; see docs/statistics.md, section 8)."
    )
