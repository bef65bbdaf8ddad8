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
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
from scipy.stats import binom, false_discovery_control, fisher_exact

from highfive.generators import ConfigError, InvalidParameter, ParameterSpace, RunDirError

from ._bins import Binning, codes, space_fingerprint
from ._crosses import DEFAULT_WAYS, Cross, cell_labels, make_crosses
from ._stats import _holm

__all__ = [
    "METHODS",
    "RunDiff",
    "adjust_pvalues",
    "diff_runs",
    "paired_cell_diff",
    "quantization_diff",
]

Method = Literal["holm", "fdr"]
METHODS = ("holm", "fdr")
Alternative = Literal["two-sided", "greater"]


def _method(method: str) -> str:
    if method not in METHODS:
        raise InvalidParameter(f"method: {method!r} must be 'holm' (default) or 'fdr'")
    return method


def _alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise InvalidParameter(
            f"alpha: {alpha!r} must be a significance level in (0, 1), e.g. 0.05"
        )
    return float(alpha)


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
    _method(method)
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q = p[ok]
        out[ok] = _holm(q) if method == "holm" else false_discovery_control(q, method="bh")
    return out


# -- counting per cell ------------------------------------------------------------------
def _cells(
    binning: Binning, crosses: Sequence[Cross], code: np.ndarray, key: np.ndarray, k: int
) -> np.ndarray:
    """Rows per cell and key value: shape (cells of every cross, k).

    ``key`` (values 0..k-1) is counted with one ``np.bincount`` per cross over the
    cell's mixed-radix index (as :func:`highfive.coverage.cell_codes` inverts); rows
    with an ignored or illegal bin in the cross's coverpoints are left out.
    """
    ok = code >= 0
    parts = []
    for cross in crosses:
        dims = [binning.index(d) for d in cross.dims]
        shape = cross.shape(binning)
        size = int(np.prod(shape))
        valid = np.all(ok[:, dims], axis=1)
        sub = code[valid][:, dims].astype(np.intp)
        cell = np.ravel_multi_index(tuple(sub.T), shape) if len(dims) > 1 else sub[:, 0]
        cnt = np.bincount(cell * k + key[valid], minlength=size * k)
        parts.append(cnt.reshape(size, k))
    return np.concatenate(parts) if parts else np.zeros((0, k), dtype=np.int64)


def _labels(binning: Binning, crosses: Sequence[Cross]) -> dict[str, Any]:
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


def _paired_p(b: np.ndarray, c: np.ndarray, alternative: Alternative) -> np.ndarray:
    """Exact conditional McNemar p-values (NaN where b + c = 0)."""
    m = b + c
    worse = np.where(b > 0, binom.sf(b - 1, m, 0.5), 1.0)
    if alternative == "greater":
        p = worse
    else:
        better = np.where(c > 0, binom.sf(c - 1, m, 0.5), 1.0)
        p = np.minimum(1.0, 2 * np.minimum(worse, better))
    return np.where(m > 0, p, np.nan)


def _fisher_p(
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


def _finish(
    cols: dict[str, Any], p: np.ndarray, method: str, alpha: float, attrs: Mapping[str, Any]
) -> pd.DataFrame:
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
    frame = pd.DataFrame(cols)
    frame.attrs.update(attrs)
    return frame


# -- one frame, two models ------------------------------------------------------------
def _failed(verdict: pd.Series) -> np.ndarray:
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
    method, alpha = _method(method), _alpha(alpha)
    if alternative not in ("greater", "two-sided"):
        raise InvalidParameter(f"alternative: {alternative!r} must be 'greater' or 'two-sided'")
    crosses = tuple(crosses) if crosses is not None else make_crosses(binning)
    a, b = models
    have = set(frame["model"].astype(str).unique()) if len(frame) else set()
    for m in (a, b):
        if m not in have:
            raise InvalidParameter(
                f"models: {m!r} has no rows; models present: {', '.join(sorted(have)) or 'none'}"
            )
    model = frame["model"].astype(str)
    fa = frame[model == a].set_index("case_id")
    fb = frame[model == b].set_index("case_id")
    common = fa.index.intersection(fb.index).sort_values()
    fa, fb = fa.loc[common], fb.loc[common]
    return _paired(
        binning,
        crosses,
        fa,
        _failed(fa["verdict"]),
        _failed(fb["verdict"]),
        method,
        alpha,
        alternative,
        {"model_a": a, "model_b": b},
    )


def _paired(
    binning: Binning,
    crosses: Sequence[Cross],
    params: pd.DataFrame,
    fail_a: np.ndarray,
    fail_b: np.ndarray,
    method: str,
    alpha: float,
    alternative: Alternative,
    attrs: Mapping[str, Any],
) -> pd.DataFrame:
    code, _ = codes(binning, params)
    # key: 0 both pass, 1 only a fails (c), 2 only b fails (b), 3 both fail
    key = fail_a.astype(np.intp) + 2 * fail_b.astype(np.intp)
    cnt = _cells(binning, crosses, code, key, 4)
    n = cnt.sum(axis=1)
    c_, b_ = cnt[:, 1], cnt[:, 2]
    cols = _labels(binning, crosses)
    cols.update(
        n_a=n,
        failures_a=cnt[:, 1] + cnt[:, 3],
        n_b=n,
        failures_b=cnt[:, 2] + cnt[:, 3],
        b=b_,
        c=c_,
    )
    p = _paired_p(b_, c_, alternative)
    meta = {**attrs, "paired": True, "method": method, "alpha": alpha, "alternative": alternative}
    return _finish(cols, p, method, alpha, meta)


# -- runs -----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class RunDiff:
    """Cell-by-cell comparison of model ``model_b`` in ``run_b`` with ``model_a`` in ``run_a``.

    ``cells`` is the frame :func:`paired_cell_diff` describes (``b`` and ``c`` only
    when paired); ``overall`` holds the same test over all cases.
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

    @property
    def regressions(self) -> pd.DataFrame:
        """Cells where B fails significantly more than A, most significant first."""
        return self.cells[self.cells["worse"]].sort_values(["p_adjusted", "p_value"])

    @property
    def improvements(self) -> pd.DataFrame:
        """Cells where B fails significantly less than A, most significant first."""
        return self.cells[self.cells["better"]].sort_values(["p_adjusted", "p_value"])

    def lines(self, limit: int = 15) -> list[str]:
        """A readable report: what was compared, the overall rates, then the cells."""
        o = self.overall
        a = f"{self.model_a} in {self.run_a}" if self.run_a != self.run_b else self.model_a
        b = f"{self.model_b} in {self.run_b}" if self.run_a != self.run_b else self.model_b
        test = "paired exact McNemar" if self.paired else "Fisher's exact"
        side = "one-sided (B worse)" if self.alternative == "greater" else "two-sided"
        adj = "Holm (family-wise)" if self.method == "holm" else "Benjamini-Hochberg (FDR)"
        tested = int(self.cells["p_value"].notna().sum())
        out = [
            f"A = {a}",
            f"B = {b}",
            f"{self.note}; {test} test per cell, {side}, {adj} over {tested:,} testable "
            f"cells at alpha {self.alpha:g}",
            f"overall: A {o['failures_a']:,}/{o['n_a']:,} fail ({100 * o['rate_a']:.3g}%), "
            f"B {o['failures_b']:,}/{o['n_b']:,} ({100 * o['rate_b']:.3g}%), p = {o['p_value']:.3g}"
            + (f"; only B fails {o['b']:,}, only A fails {o['c']:,}" if self.paired else ""),
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
                    f"{'rate A':>7}  {'rate B':>7}  {'p adj':>8}"
                )
                for r in rows.head(limit).itertuples():
                    label = str(r.label)
                    label = label if len(label) <= width else label[: width - 3] + "..."
                    out.append(
                        f"  {label:<{width}}  {f'{r.failures_a}/{r.n_a}':>13}  "
                        f"{f'{r.failures_b}/{r.n_b}':>13}  {r.rate_a:>7.3f}  {r.rate_b:>7.3f}  "
                        f"{r.p_adjusted:>8.2g}"
                    )
                if len(rows) > limit:
                    out.append(f"  ... and {len(rows) - limit:,} more")
        return out


def _read_run(path: Path) -> tuple[dict[str, Any], ParameterSpace, ds.Dataset]:
    from highfive.harness._rundir import RunDir  # lazy: the harness pulls in ONNX Runtime

    run = RunDir(path)
    record = run.read_campaign()
    if record.get("status") != "complete":
        raise RunDirError(
            f"run directory {os.fspath(path)!r} is incomplete (status "
            f"{record.get('status')!r}); finish it with 'highfive run CONFIG --resume'"
        )
    dataset = run.results_dataset()
    return record, ParameterSpace.from_arrow_schema(dataset.schema), dataset


def _rows(dataset: ds.Dataset, model: str, columns: list[str]) -> pd.DataFrame:
    table = dataset.to_table(columns=columns, filter=ds.field("model") == model)
    return table.to_pandas().sort_values("case_id", kind="stable").reset_index(drop=True)


def _models(record: Mapping[str, Any]) -> list[str]:
    return [str(m["id"]) for m in record.get("models", [])]


def _pick(model: str | None, a: list[str], b: list[str], same: bool) -> tuple[str, str]:
    if model is None:
        if same:
            return ("float", "int8")
        common = [m for m in a if m in b]
        if len(common) == 1:
            return common[0], common[0]
        if len(a) == 1 and len(b) == 1:
            return a[0], b[0]
        raise ConfigError(
            f"--model: the runs hold models {', '.join(a)} and {', '.join(b)}; choose one "
            "with --model M (the same id in both) or --model A_ID:B_ID"
        )
    ma, sep, mb = model.partition(":")
    if not ma or (sep and not mb):
        raise ConfigError(f"--model: {model!r} must be M or A_ID:B_ID")
    return ma, (mb if sep else ma)


def diff_runs(
    run_a: str | os.PathLike[str],
    run_b: str | os.PathLike[str] | None = None,
    *,
    model: str | None = None,
    ways: Sequence[int] = DEFAULT_WAYS,
    bins: Mapping[str, Any] | None = None,
    method: str = "holm",
    alpha: float = 0.05,
    alternative: Alternative | None = None,
) -> RunDiff:
    """Compare the failure rate of every cell between two runs (or two models of one).

    Parameters
    ----------
    run_a, run_b : path
        Complete run directories of the same parameter space; ``run_b`` None (or the
        same path) compares two models of ``run_a``.
    model : str, optional
        ``"M"`` (model M in both runs) or ``"MA:MB"``. Default: the one model the runs
        share, or their only models; for one run ``"float:int8"``.
    ways : sequence of int
        t-way crosses whose cells are compared.
    bins : mapping, optional
        ``[bins.<dimension>]`` tables, applied to both runs.
    method : {"holm", "fdr"}
    alpha : float
    alternative : {"two-sided", "greater"}, optional
        Default: two-sided between runs (regressions and improvements), one-sided
        ("B worse") between two models of one run.

    The cases are paired when both runs have the same case sequence (seed, sampler
    and space in campaign.json ``identity``) and their common cases carry identical
    parameters; otherwise the cells are compared with Fisher's exact test.
    """
    method, alpha = _method(method), _alpha(alpha)
    pa_ = Path(run_a)
    pb = Path(run_b) if run_b is not None else pa_
    same = pa_.resolve() == pb.resolve()
    rec_a, space_a, data_a = _read_run(pa_)
    rec_b, space_b, data_b = (rec_a, space_a, data_a) if same else _read_run(pb)
    if space_fingerprint(space_a) != space_fingerprint(space_b):
        diff = [
            d.name
            for d in space_a
            if d.name not in space_b or space_b[d.name].to_dict() != d.to_dict()
        ] + [d.name for d in space_b if d.name not in space_a]
        raise ConfigError(
            f"cannot diff {os.fspath(pa_)!r} and {os.fspath(pb)!r}: their parameter spaces "
            f"differ (in {', '.join(diff) or 'dimension order'}); compare runs of one space"
        )
    ma, mb = _pick(model, _models(rec_a), _models(rec_b), same)
    for m, rec, where in ((ma, rec_a, pa_), (mb, rec_b, pb)):
        if m not in _models(rec):
            raise ConfigError(
                f"--model: {m!r} is not a model of run {os.fspath(where)!r}; its models: "
                f"{', '.join(_models(rec))}"
            )
    if same and ma == mb:
        raise ConfigError(f"--model: comparing {ma!r} with itself in one run; name two models")
    alt: Alternative = alternative or ("greater" if same else "two-sided")
    binning = Binning.from_space(space_a, bins or {})
    crosses = make_crosses(binning, ways)
    cols = ["case_id", "verdict", *binning.names]
    fa, fb = _rows(data_a, ma, cols), _rows(data_b, mb, cols)
    attrs = {"model_a": ma, "model_b": mb, "run_a": os.fspath(pa_), "run_b": os.fspath(pb)}

    paired, note = _pairing(rec_a, rec_b, fa, fb, binning, same)
    if paired:
        both = fa[["case_id"]].merge(fb[["case_id"]], on="case_id")["case_id"]
        fa = fa[fa["case_id"].isin(both)].reset_index(drop=True)
        fb = fb[fb["case_id"].isin(both)].reset_index(drop=True)
        fail_a, fail_b = _failed(fa["verdict"]), _failed(fb["verdict"])
        cells = _paired(binning, crosses, fa, fail_a, fail_b, method, alpha, alt, attrs)
        bb = int(np.count_nonzero(fail_b & ~fail_a))
        cc = int(np.count_nonzero(fail_a & ~fail_b))
        p_all = float(_paired_p(np.array([bb]), np.array([cc]), alt)[0])
        overall: dict[str, Any] = {"n_a": len(fa), "n_b": len(fb), "b": bb, "c": cc}
    else:
        fail_a, fail_b = _failed(fa["verdict"]), _failed(fb["verdict"])
        ca = _cells(binning, crosses, codes(binning, fa)[0], fail_a.astype(np.intp), 2)
        cb = _cells(binning, crosses, codes(binning, fb)[0], fail_b.astype(np.intp), 2)
        cols_ = _labels(binning, crosses)
        cols_.update(
            n_a=ca.sum(axis=1), failures_a=ca[:, 1], n_b=cb.sum(axis=1), failures_b=cb[:, 1]
        )
        p = _fisher_p(cols_["failures_a"], cols_["n_a"], cols_["failures_b"], cols_["n_b"], alt)
        meta = {**attrs, "paired": False, "method": method, "alpha": alpha, "alternative": alt}
        cells = _finish(cols_, p, method, alpha, meta)
        ka, kb = int(fail_a.sum()), int(fail_b.sum())
        one = [np.array([x]) for x in (ka, len(fa), kb, len(fb))]
        tot = _fisher_p(one[0], one[1], one[2], one[3], alt)[0]
        p_all = float(tot) if np.isfinite(tot) else 1.0
        overall = {"n_a": len(fa), "n_b": len(fb)}
    overall["failures_a"], overall["failures_b"] = int(fail_a.sum()), int(fail_b.sum())
    overall["rate_a"] = overall["failures_a"] / max(overall["n_a"], 1)
    overall["rate_b"] = overall["failures_b"] / max(overall["n_b"], 1)
    overall["p_value"] = p_all if np.isfinite(p_all) else 1.0
    return RunDiff(
        os.fspath(pa_), os.fspath(pb), ma, mb, paired, note, method, alpha, alt, overall, cells
    )


def _pairing(
    rec_a: Mapping[str, Any],
    rec_b: Mapping[str, Any],
    fa: pd.DataFrame,
    fb: pd.DataFrame,
    binning: Binning,
    same: bool,
) -> tuple[bool, str]:
    if same:
        return True, f"paired on {len(fa):,} cases of one run"
    ia, ib = rec_a.get("identity", {}), rec_b.get("identity", {})
    keys = ("seed", "sampler", "space")
    differ = [k for k in keys if ia.get(k) != ib.get(k)]
    if differ:
        return False, f"unpaired: the runs differ in {', '.join(differ)}"
    both = fa.merge(fb, on="case_id", suffixes=("_a", "_b"))
    if both.empty:
        return False, "unpaired: the runs share no case id"
    for name in binning.names:
        if not both[f"{name}_a"].equals(both[f"{name}_b"]):
            return False, (
                f"unpaired: same seed and sampler, but case parameters differ (first in {name})"
            )
    return True, f"paired on the {len(both):,} cases both runs share (same seed, sampler, space)"


def quantization_diff(
    run: str | os.PathLike[str],
    *,
    models: tuple[str, str] = ("float", "int8"),
    ways: Sequence[int] = DEFAULT_WAYS,
    bins: Mapping[str, Any] | None = None,
    method: str = "holm",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Cells of one run where ``models[1]`` (int8) fails significantly more than ``models[0]``.

    The paired one-sided McNemar test of :func:`paired_cell_diff`, per cell of the
    ``ways``-way crosses, adjusted by ``method``.

    Returns
    -------
    pandas.DataFrame
        cross, t, cell, label, n, failures_a, failures_b, b, c, p_value, p_adjusted,
        worse; ``attrs`` names the models.
    """
    d = diff_runs(
        run,
        None,
        model=f"{models[0]}:{models[1]}",
        ways=ways,
        bins=bins,
        method=method,
        alpha=alpha,
        alternative="greater",
    )
    cols = ["cross", "t", "cell", "label", "n_a", "failures_a", "failures_b", "b", "c"]
    out = d.cells[[*cols, "p_value", "p_adjusted", "worse"]].rename(columns={"n_a": "n"})
    out.attrs.update(d.cells.attrs)
    return out
