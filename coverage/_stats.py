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

A gate "every cell below p_target" needs no multiplicity correction
(intersection-union test); flagging bad cells among many does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betaincinv
from scipy.stats import binom, chi2

from highfive.generators import InvalidParameter, show
from highfive.harness import FAIL_VERDICTS

from ._crosses import cell_codes
from ._db import CoverageCounts

__all__ = [
    "STATUSES",
    "CellStats",
    "cases_needed",
    "cell_stats",
    "cells_frame",
    "coverage",
    "cp_interval",
    "cp_lower",
    "cp_upper",
    "holes",
    "summary",
]

STATUSES = ("untested", "failing", "under-tested", "passing")
Adjust = Literal["none", "holm"]


def _confidence(c: float) -> float:
    if not (isinstance(c, float | int) and 0.5 <= c < 1):
        raise InvalidParameter(f"confidence: {show(c)} must be in [0.5, 1), e.g. 0.95")
    return float(c)


def _p_target(p: float) -> float:
    if not (isinstance(p, float | int) and 0 < p < 1):
        raise InvalidParameter(f"p_target: {show(p)} must be a failure rate in (0, 1), e.g. 1e-3")
    return float(p)


def _min_cases(m: int) -> int:
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise InvalidParameter(f"min_cases: {show(m)} must be a whole number >= 1")
    return int(m)


def _kn(k: npt.ArrayLike, n: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    bad = ~((k >= 0) & (k <= n) & (k == np.floor(k)) & (n == np.floor(n)))
    if np.any(bad):
        i = np.flatnonzero(bad.ravel())[0]
        raise InvalidParameter(
            f"k, n: {k.ravel()[i]:g} failures in {n.ravel()[i]:g} cases; need whole "
            "numbers with 0 <= k <= n"
        )
    return k, n


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


def cases_needed(
    k: npt.ArrayLike, n: npt.ArrayLike, p_target: float = 1e-3, confidence: float = 0.95
) -> np.ndarray:
    """Further cases needed to show ``p < p_target``, if none of them fails.

    The smallest ``N >= n`` with ``cp_upper(k, N) < p_target``, minus ``n``: 0 when
    already shown. ``inf`` when the failures seen already show ``p > p_target``
    (``cp_lower(k, n) > p_target``, the "failing" status): assuming that no further
    case fails would contradict the data at this confidence, so no honest number
    exists; fix the cell instead. Golden values at 95 %: 2,995 cases in all with 0
    failures, 4,742 with 1, 6,294 with 2 to show ``p < 1e-3``.

    Returns
    -------
    np.ndarray of float
    """
    p, c = _p_target(p_target), _confidence(confidence)
    k, n = _kn(k, n)
    # The total N*(k) depends on k alone (the bound falls as N grows), so solve it once
    # per distinct k: bracket the Poisson approximation chi2_c(2k+2) / (2p), then bisect.
    ks, inverse = np.unique(k, return_inverse=True)
    guess = chi2.ppf(c, 2 * ks + 2) / (2 * p)
    lo = np.maximum(ks, np.floor(0.98 * guess) - 10)
    lo = np.where(cp_upper(ks, lo, c) >= p, lo, ks)
    hi = np.maximum(lo + 1, np.ceil(1.02 * guess) + 10)
    while np.any(bad := cp_upper(ks, hi, c) >= p):
        hi = np.where(bad, 2 * hi, hi)
    while np.any(hi - lo > 1):  # invariant: upper(lo) >= p > upper(hi), or lo = k
        mid = np.floor((lo + hi) / 2)
        below = cp_upper(ks, mid, c) < p
        hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    total = hi[inverse.reshape(k.shape)]
    return np.where(cp_lower(k, n, c) > p, np.inf, np.maximum(total - n, 0.0))


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
    ``rate`` is NaN where ``n = 0``; ``needed`` is ``inf`` where it cannot be shown (see
    :func:`cases_needed`); ``p_value`` tests ``p <= p_target`` (exact binomial), and
    ``p_adjusted`` is it after the chosen correction.
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

    @property
    def n(self) -> np.ndarray:
        return self.counts.n

    @property
    def by_verdict(self) -> np.ndarray:
        return self.counts.fails


def cell_stats(
    counts: CoverageCounts,
    *,
    p_target: float = 1e-3,
    confidence: float = 0.95,
    adjust: Adjust = "none",
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
    """
    p, c = _p_target(p_target), _confidence(confidence)
    if adjust not in ("none", "holm"):
        raise InvalidParameter(f"adjust: {show(adjust)} must be 'none' or 'holm'")
    n = counts.n
    k = counts.fails.sum(axis=-1)
    rate = np.divide(k, n, out=np.full(n.shape, np.nan), where=n > 0)
    upper, lower = cp_upper(k, n, c), cp_lower(k, n, c)
    ci_low, ci_high = cp_interval(k, n, c)
    p_value = np.where(k > 0, binom.sf(k - 1, n, p), 1.0)
    p_adj = p_value.copy()
    if adjust == "holm":
        for j in range(n.shape[1]):
            tested = n[:, j] > 0
            p_adj[tested, j] = _holm(p_value[tested, j])
        failing = (p_adj < 1 - c) & (n > 0)
    else:
        failing = lower > p
    status = np.select(
        [n == 0, failing, upper < p], ["untested", "failing", "passing"], "under-tested"
    )
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
        cases_needed(k, n, p, c),
        p_value,
        p_adj,
        status,
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
    rate, upper, lower, ci_low, ci_high, needed, p_value, p_adjusted, status.
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
    for name in ("rate", "upper", "lower", "ci_low", "ci_high", "needed", "p_value"):
        cols[name] = getattr(stats, name).ravel()
    cols["p_adjusted"] = stats.p_adjusted.ravel()
    cols["status"] = pd.Categorical(stats.status.ravel(), categories=list(STATUSES))
    return pd.DataFrame(cols)


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
                "needed": need if np.isfinite(need) else None,
                "status": str(stats.status[ci, mi]),
            }
        )
    return out
