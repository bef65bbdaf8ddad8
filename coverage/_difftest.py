"""Differential views: where one model (or run) fails more than another, cell by cell.

Two models on the *same cases* (float32 and int8 in one run, or two runs with the same
case sequence) are compared with a paired test. Per cell, ``b`` counts the cases B
fails and A passes, ``c`` the cases A fails and B passes; under "no difference" each
discordant case is B's failure with probability 1/2, so the exact conditional
(McNemar) test is binomial: ``P(X >= b)`` for ``X ~ Binomial(b + c, 1/2)``, as
``scipy.stats.binomtest(b, b + c, 0.5, alternative="greater")`` computes. Cases both
fail or both pass say nothing about the difference and drop out.

Runs with different case sequences are compared with Fisher's exact test on each
cell's 2x2 table (failures and passes in A and in B).

Thousands of cells are tested at once, so p-values are adjusted: Holm's step-down
(family-wise error, valid under any dependence between cells; the default) or
Benjamini-Hochberg (false discovery rate, ``scipy.stats.false_discovery_control``).
Cells that cannot show any difference (no discordant case; no failure in either run)
have p = 1 whatever happens and are left out of the family. 1-way and 2-way cells
overlap, so their tests are dependent: Holm stays valid; BH is then approximate.

Every cell also carries effect sizes (difference and ratio of the failure rates with
intervals, :func:`effect_columns`) and, with a margin, a non-inferiority test.
docs/statistics.md states what each test and interval guarantees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import binom, false_discovery_control, fisher_exact

from highfive.generators import InvalidParameter, show

from ._bins import Binning, codes
from ._checks import as_level
from ._crosses import Cross, cell_labels, make_crosses
from ._effects import (
    newcombe_interval,
    paired_newcombe_interval,
    paired_ratio_interval,
    ratio_interval,
)
from ._stats import _holm

__all__ = [
    "METHODS",
    "Alternative",
    "Keep",
    "adjust_pvalues",
    "cell_label_columns",
    "check_alpha",
    "check_margin",
    "check_method",
    "check_ni_alpha",
    "count_cells",
    "effect_columns",
    "failed",
    "finish_cells",
    "fisher_p",
    "mcnemar_p",
    "only_cells",
    "paired_cell_diff",
    "paired_cells",
]

Method = Literal["holm", "fdr"]
METHODS = ("holm", "fdr")
Alternative = Literal["two-sided", "greater"]
Keep = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Which rows count for their cell, given the cells (flat over every cross) and the
rows' positions: a mask over them (:func:`count_cells`)."""


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InvalidParameter(f"method: {show(method)} must be 'holm' (default) or 'fdr'")
    return method


def check_alpha(alpha: float) -> float:
    """A diff's level: in (0, 0.5], since its effect-size intervals are at ``1 - alpha``."""
    x = as_level(alpha)  # a numpy float32 as it prints
    if x is None or not 0 < x <= 0.5:
        raise InvalidParameter(
            f"alpha: {show(alpha)} must be a significance level in (0, 0.5] (the intervals "
            "are at 1 - alpha), e.g. 0.05"
        )
    return x


def adjust_pvalues(p: np.ndarray, method: str = "holm") -> np.ndarray:
    """Multiplicity-adjusted p-values; NaN entries stay NaN and are not in the family.

    Parameters
    ----------
    p : np.ndarray
        Raw p-values, NaN for tests left out.
    method : {"holm", "fdr"}
        Holm's step-down (family-wise error) or Benjamini-Hochberg (false discovery
        rate).
    """
    check_method(method)
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q = p[ok]
        out[ok] = _holm(q) if method == "holm" else false_discovery_control(q, method="bh")
    return out


# -- counting per cell ------------------------------------------------------------------
def count_cells(
    binning: Binning,
    crosses: Sequence[Cross],
    code: np.ndarray,
    key: np.ndarray,
    k: int,
    keep: Keep | None = None,
) -> np.ndarray:
    """Rows per cell and key value: shape (cells of every cross, k).

    ``key`` (values 0..k-1) is counted with one ``np.bincount`` per cross over the
    cell's mixed-radix index (as :func:`highfive.coverage.cell_codes` inverts); rows
    with an ignored or illegal bin in the cross's coverpoints are left out, and with
    ``keep`` the rows it does not keep for their cell.
    """
    ok = code >= 0
    parts = []
    offset = 0
    for cross in crosses:
        dims = [binning.index(d) for d in cross.dims]
        shape = cross.shape(binning)
        size = int(np.prod(shape))
        valid = np.all(ok[:, dims], axis=1)
        sub = code[valid][:, dims].astype(np.intp)
        cell = np.ravel_multi_index(tuple(sub.T), shape) if len(dims) > 1 else sub[:, 0]
        kept = key[valid]
        if keep is not None:
            mask = keep(offset + cell, np.flatnonzero(valid))
            cell, kept = cell[mask], kept[mask]
        cnt = np.bincount(cell * k + kept, minlength=size * k)
        parts.append(cnt.reshape(size, k))
        offset += size
    return np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64)


def only_cells(cols: dict[str, Any], compared: np.ndarray | None) -> dict[str, Any]:
    """The cell columns of the ``compared`` cells only (all of them for None)."""
    return cols if compared is None else {name: v[compared] for name, v in cols.items()}


def cell_label_columns(binning: Binning, crosses: Sequence[Cross]) -> dict[str, Any]:
    names, ts, cells, labels = [], [], [], []
    for cross in crosses:
        lab = [" & ".join(x) for x in cell_labels(binning, cross)]
        names += [cross.name] * len(lab)
        ts += [cross.t] * len(lab)
        cells.append(np.arange(len(lab)))
        labels += lab
    return {
        "cross": pd.Categorical(names, categories=[c.name for c in crosses]),
        "t": np.asarray(ts, dtype=np.int8),
        "cell": np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64),
        "label": np.asarray(labels, dtype=object),
    }


def mcnemar_p(b: np.ndarray, c: np.ndarray, alternative: Alternative) -> np.ndarray:
    """Exact conditional McNemar p-values (NaN where b + c = 0)."""
    m = b + c
    worse = np.where(b > 0, binom.sf(b - 1, m, 0.5), 1.0)
    if alternative == "greater":
        p = worse
    else:
        better = np.where(c > 0, binom.sf(c - 1, m, 0.5), 1.0)
        p = np.minimum(1.0, 2 * np.minimum(worse, better))
    return np.where(m > 0, p, np.nan)


def fisher_p(
    ka: np.ndarray, na: np.ndarray, kb: np.ndarray, nb: np.ndarray, alternative: Alternative
) -> np.ndarray:
    """Fisher's exact test per cell, each distinct table computed once (NaN: untestable)."""
    table = np.stack([kb, nb - kb, ka, na - ka], axis=1).astype(np.int64)
    testable = (na > 0) & (nb > 0) & (ka + kb > 0)
    p = np.full(len(table), np.nan)
    if testable.any():
        uniq, inverse = np.unique(table[testable], axis=0, return_inverse=True)
        alt = "greater" if alternative == "greater" else "two-sided"
        vals = np.array(
            [fisher_exact(t.reshape(2, 2), alternative=alt).pvalue for t in uniq], dtype=float
        )
        p[testable] = vals[inverse.ravel()]
    return p


def finish_cells(
    cols: dict[str, Any],
    p: np.ndarray,
    method: str,
    alpha: float,
    attrs: Mapping[str, Any],
    margin: float | None = None,
) -> pd.DataFrame:
    """The cell frame: rates, adjusted p-values, flags, effect sizes, and (with a
    ``margin``) the non-inferiority test of every cell (see :func:`effect_columns`)."""
    na, nb = cols["n_a"], cols["n_b"]
    ra = np.divide(cols["failures_a"], na, out=np.full(len(na), np.nan), where=na > 0)
    rb = np.divide(cols["failures_b"], nb, out=np.full(len(nb), np.nan), where=nb > 0)
    cols["rate_a"], cols["rate_b"] = ra, rb
    adj = adjust_pvalues(p, method)
    direction = np.select([rb > ra, rb < ra], ["worse", "better"], "same")
    sig = adj < alpha  # NaN compares False
    cols.update(
        p_value=p,
        p_adjusted=adj,
        direction=pd.Categorical(direction, categories=["worse", "better", "same"]),
        worse=sig & (direction == "worse"),
        better=sig & (direction == "better"),
    )
    cols.update(effect_columns(cols, alpha, margin))
    frame = pd.DataFrame(cols)
    frame.attrs.update(attrs)
    frame.attrs["margin"] = margin
    return frame


def effect_columns(
    cols: Mapping[str, Any], alpha: float, margin: float | None = None
) -> dict[str, np.ndarray]:
    """Per cell: ``diff = p_B - p_A`` and ``ratio = p_B / p_A`` with two-sided ``1 -
    alpha`` intervals (``diff_low``, ``diff_high``, ``ratio_low``, ``ratio_high``),
    paired when ``cols`` has the discordant counts ``b`` and ``c``
    (:mod:`._effects` names the methods). A cell without cases in A or in B has no
    ``diff`` (NaN) and the interval ``[-1, 1]``.

    With a non-inferiority ``margin`` (absolute, in failure rate): ``ni_upper``, the
    one-sided ``1 - alpha`` upper limit of ``p_B - p_A`` (the upper end of the two-sided
    ``1 - 2 alpha`` interval), and ``noninferior``: ``ni_upper < margin``, which rejects
    ``H0: p_B - p_A >= margin`` at level ``alpha`` in that cell. "B is non-inferior in
    every cell" is the intersection of these alternatives: an intersection-union test,
    which holds its level ``alpha`` with no multiplicity correction, because it claims
    non-inferiority only when every cell's own test does (Berger 1982, Technometrics
    24(4)). A cell without cases in A or in B is never shown non-inferior.
    """
    ka, na = np.asarray(cols["failures_a"]), np.asarray(cols["n_a"])
    kb, nb = np.asarray(cols["failures_b"]), np.asarray(cols["n_b"])
    paired = "b" in cols and "c" in cols
    both = ka - np.asarray(cols["c"]) if paired else ka

    def diff_interval(conf: float) -> tuple[np.ndarray, np.ndarray]:
        if paired:
            return paired_newcombe_interval(both, cols["b"], cols["c"], na, conf)
        return newcombe_interval(ka, na, kb, nb, conf)

    low, high = diff_interval(1 - alpha)
    if paired:
        ratio = paired_ratio_interval(both, cols["b"], cols["c"], na, 1 - alpha)
    else:
        ratio = ratio_interval(ka, na, kb, nb, 1 - alpha)
    ra = np.divide(ka, na, out=np.full(len(na), np.nan), where=na > 0)
    rb = np.divide(kb, nb, out=np.full(len(nb), np.nan), where=nb > 0)
    out = {
        "diff": rb - ra,
        "diff_low": low,
        "diff_high": high,
        "ratio": ratio[0],
        "ratio_low": ratio[1],
        "ratio_high": ratio[2],
    }
    if margin is not None:
        # The one-sided level alpha is that of the two-sided 1 - 2 alpha interval.
        upper = diff_interval(1 - 2 * check_ni_alpha(alpha))[1]
        tested = (na > 0) & (nb > 0)
        out["ni_upper"] = np.where(tested, upper, np.nan)
        out["noninferior"] = tested & (upper < check_margin(margin))
    return out


def check_ni_alpha(alpha: float) -> float:
    """The level of a non-inferiority test: at most 0.25 (a 1 - 2 alpha interval)."""
    x = check_alpha(alpha)
    if not 0 < x <= 0.25:
        raise InvalidParameter(
            f"alpha: {show(alpha)} must be at most 0.25 for a non-inferiority margin, e.g. 0.05"
        )
    return x


def check_margin(margin: float) -> float:
    """A non-inferiority margin: an absolute failure rate difference in [0, 1)."""
    x = as_level(margin)  # a numpy float32 as it prints
    if x is None or not (math.isfinite(x) and 0 <= x < 1):
        raise InvalidParameter(
            f"margin: {show(margin)} must be a failure-rate difference in [0, 1), e.g. "
            "0.002 (0.2 points)"
        )
    return x


# -- one frame, two models ------------------------------------------------------------
def failed(verdict: pd.Series) -> np.ndarray:
    return np.asarray(verdict.astype(str) != "pass")


def paired_cell_diff(
    frame: pd.DataFrame,
    binning: Binning,
    crosses: Sequence[Cross] | None = None,
    *,
    models: tuple[str, str] = ("float", "int8"),
    method: str = "holm",
    alpha: float = 0.05,
    alternative: Alternative = "greater",
) -> pd.DataFrame:
    """Per-cell paired comparison of two models that ran the same cases.

    Parameters
    ----------
    frame : pandas.DataFrame
        Result rows: ``case_id``, ``model``, ``verdict`` and a column per coverpoint;
        one row per case and model. Cases that only one model ran are left out.
    binning : Binning
    crosses : sequence of Cross, optional
        Default: every 1- and 2-way cross.
    models : (str, str)
        ``(a, b)``: the baseline and the model suspected worse (float, int8).
    method : {"holm", "fdr"}
    alpha : float
        Level of the adjusted p-values for the ``worse`` and ``better`` flags.
    alternative : {"greater", "two-sided"}
        ``"greater"``: one-sided, "b fails more than a"; ``"two-sided"``: either way
        (twice the smaller tail).

    Returns
    -------
    pandas.DataFrame
        One row per cell: cross, t, cell, label, n_a, failures_a, n_b, failures_b
        (``n_a == n_b``, the paired cases), b (b fails, a passes), c (a fails, b
        passes), rate_a, rate_b, p_value (NaN where ``b + c = 0``), p_adjusted,
        direction, worse, better. ``attrs`` records the models, method and alpha.
    """
    method, alpha = check_method(method), check_alpha(alpha)
    if alternative not in ("greater", "two-sided"):
        raise InvalidParameter(f"alternative: {show(alternative)} must be 'greater' or 'two-sided'")
    crosses = tuple(crosses) if crosses is not None else make_crosses(binning)
    a, b = models
    have = set(frame["model"].astype(str).unique()) if len(frame) else set()
    for m in (a, b):
        if m not in have:
            raise InvalidParameter(
                f"models: {show(m)} has no rows; models present: "
                f"{', '.join(sorted(have)) or 'none'}"
            )
    model = frame["model"].astype(str)
    fa = frame[model == a].set_index("case_id")
    fb = frame[model == b].set_index("case_id")
    common = fa.index.intersection(fb.index).sort_values()
    fa, fb = fa.loc[common], fb.loc[common]
    return paired_cells(
        binning,
        crosses,
        fa,
        failed(fa["verdict"]),
        failed(fb["verdict"]),
        method,
        alpha,
        alternative,
        {"model_a": a, "model_b": b},
    )


def paired_cells(
    binning: Binning,
    crosses: Sequence[Cross],
    params: pd.DataFrame,
    fail_a: np.ndarray,
    fail_b: np.ndarray,
    method: str,
    alpha: float,
    alternative: Alternative,
    attrs: Mapping[str, Any],
    margin: float | None = None,
    *,
    keep: Keep | None = None,
    compared: np.ndarray | None = None,
) -> pd.DataFrame:
    """The paired cell frame (see :func:`paired_cell_diff`) of the cases in ``params``
    (a row per case, ``fail_a`` and ``fail_b`` aligned with it); ``keep`` as for
    :func:`count_cells`, ``compared`` the cells (flat over every cross) to keep."""
    code, _ = codes(binning, params)
    # key: 0 both pass, 1 only a fails (c), 2 only b fails (b), 3 both fail
    key = fail_a.astype(np.intp) + 2 * fail_b.astype(np.intp)
    cnt = count_cells(binning, crosses, code, key, 4, keep)
    n = cnt.sum(axis=1)
    cols = cell_label_columns(binning, crosses)
    cols.update(
        n_a=n,
        failures_a=cnt[:, 1] + cnt[:, 3],
        n_b=n,
        failures_b=cnt[:, 2] + cnt[:, 3],
        b=cnt[:, 2],
        c=cnt[:, 1],
    )
    cols = only_cells(cols, compared)
    p = mcnemar_p(cols["b"], cols["c"], alternative)
    meta = {**attrs, "paired": True, "method": method, "alpha": alpha, "alternative": alternative}
    return finish_cells(cols, p, method, alpha, meta, margin)
