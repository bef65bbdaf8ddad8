"""Diffs of runs: read two runs (or one), pick the models to compare, pair their cases.

The statistics per cell are in ``_difftest``; the result and its text in ``_difftext``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from highfive.generators import ConfigError, ParameterSpace, show
from highfive.harness import CampaignConfig, RunDir

from ._bins import Binning, codes, space_fingerprint
from ._crosses import Cross, crosses_size, make_crosses
from ._difftest import (
    Alternative,
    Keep,
    cell_label_columns,
    check_alpha,
    check_margin,
    check_method,
    check_ni_alpha,
    count_cells,
    failed,
    finish_cells,
    fisher_p,
    mcnemar_p,
    only_cells,
    paired_cells,
)
from ._difftext import RunDiff
from ._fingerprint import differing_dimensions, judging_differences, label_union
from ._gaterun import sampler_design
from ._progress import Log, progress_for
from ._weighted import BoxGroups, cell_intervals, run_design

__all__ = ["diff_pairs", "diff_runs", "quantization_diff"]


@dataclass(frozen=True, eq=False)
class _Focus:
    """A run that drew its cases from target boxes (sampler ``focus``: case ``i``
    uniform in box ``i mod boxes``), over the diff's cells. Only a box that contains a
    cell whole draws the whole cell (one that cuts it draws its part in the box), so a
    case counts for its cell only when its box contains the cell whole, and only cells
    some box contains whole compare: the rule coverage and the gate follow
    (:class:`~highfive.coverage._weighted.BoxGroups`)."""

    run: str
    boxes: int
    whole: np.ndarray
    """Per cell (flat over every cross): whether some box contains it whole."""
    pairs: np.ndarray
    """Sorted ``cell * boxes + box`` of every box and cell the box contains whole."""

    @classmethod
    def of(
        cls, path: Path, space: ParameterSpace, binning: Binning, crosses: Sequence[Cross]
    ) -> _Focus:
        """The focus run at ``path`` over the cells of ``crosses``."""
        design = run_design(path, space)
        groups = BoxGroups(design.boxes, space)
        cells = cell_intervals(binning, crosses)
        n = len(design.boxes)
        inside = [np.flatnonzero(groups.containing(cell)) for cell in cells]
        whole = np.array([ids.size > 0 for ids in inside], dtype=bool)
        pairs = [i * n + ids for i, ids in enumerate(inside)]
        return cls(
            os.fspath(path), n, whole, np.sort(np.concatenate([np.zeros(0, np.int64), *pairs]))
        )

    def keep(self, cell: np.ndarray, case_id: np.ndarray) -> np.ndarray:
        """Which cases (ids) count for their cell (flat over every cross)."""
        code = cell.astype(np.int64) * self.boxes + case_id.astype(np.int64) % self.boxes
        return np.isin(code, self.pairs)


def _keep(focus: Sequence[_Focus | None], case_id: np.ndarray) -> Keep | None:
    """The rows (of cases ``case_id``) that count for their cell: for each run of
    ``focus`` (None: a run of the base distribution), those its box contains whole;
    None (every row) when no run drew from boxes."""
    runs = [f for f in focus if f is not None]
    if not runs:
        return None

    def keep(cell: np.ndarray, rows: np.ndarray) -> np.ndarray:
        ids = case_id[rows]
        return np.logical_and.reduce([f.keep(cell, ids) for f in runs])

    return keep


def _read_run(path: Path) -> tuple[dict[str, Any], ParameterSpace, ds.Dataset]:
    run = RunDir(path)
    record = run.require_complete("diff", takes="two")
    dataset = run.results_dataset()
    return record, ParameterSpace.from_arrow_schema(dataset.schema), dataset


def _rows(dataset: ds.Dataset, model: str, columns: list[str]) -> pd.DataFrame:
    table = dataset.to_table(columns=columns, filter=ds.field("model") == model)
    return table.to_pandas().sort_values("case_id", kind="stable").reset_index(drop=True)


def _models(record: Mapping[str, Any]) -> list[str]:
    return [str(m["id"]) for m in record.get("models", [])]


def _identity(record: Mapping[str, Any], model: str) -> str | None:
    """The identity digest (``sha256``) campaign.json recorded for a model, if any."""
    for m in record.get("models", []):
        if str(m["id"]) == model and m.get("sha256"):
            return str(m["sha256"])
    return None


def _same_run(run_a: str | os.PathLike[str], run_b: str | os.PathLike[str] | None) -> bool:
    return run_b is None or Path(run_a).resolve() == Path(run_b).resolve()


def _too_few(run: str | os.PathLike[str], models: list[str]) -> ConfigError:
    return ConfigError(
        f"--model: run {os.fspath(run)!r} holds one model ({', '.join(models) or 'none'}); "
        "a diff needs two models in one run, or two runs"
    )


def diff_pairs(
    run_a: str | os.PathLike[str], run_b: str | os.PathLike[str] | None = None
) -> list[str | None]:
    """The comparisons ``highfive diff`` makes without ``--model``, as ``model`` values.

    One run: every other model with the first one listed in campaign.json
    (``"first:other"``). Two runs: every model id both hold, each with itself; ``[None]``
    (let :func:`diff_runs` choose) when they share fewer than two.
    """
    a = _models(RunDir(run_a).read_campaign(takes="two"))
    if _same_run(run_a, run_b):
        if len(a) < 2:
            raise _too_few(run_a, a)
        return [f"{a[0]}:{m}" for m in a[1:]]
    assert run_b is not None
    b = _models(RunDir(run_b).read_campaign(takes="two"))
    common = [m for m in a if m in b]
    return list(common) if len(common) > 1 else [None]


def _pick(model: str | None, a: list[str], b: list[str], run: Path | None) -> tuple[str, str]:
    """The two model ids to compare; ``run`` is the run when both models come from it."""
    if model is None:
        if run is not None:
            if len(a) < 2:
                raise _too_few(run, a)
            if len(a) > 2:
                raise ConfigError(
                    f"--model: run {os.fspath(run)!r} holds models {', '.join(a)}; choose two "
                    f"with --model A_ID:B_ID ('highfive diff RUN' compares each with {a[0]})"
                )
            return a[0], a[1]
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
        raise ConfigError(f"--model: {show(model)} must be M or A_ID:B_ID")
    return ma, (mb if sep else ma)


def diff_runs(
    run_a: str | os.PathLike[str],
    run_b: str | os.PathLike[str] | None = None,
    *,
    model: str | None = None,
    ways: Sequence[int] | None = None,
    bins: Mapping[str, Any] | None = None,
    method: str = "holm",
    alpha: float = 0.05,
    alternative: Alternative | None = None,
    log: Log | None = None,
    margin: float | None = None,
) -> RunDiff:
    """Compare the failure rate of every cell between two runs (or two models of one).

    Parameters
    ----------
    run_a, run_b : path
        Complete run directories of the same parameter space; ``run_b`` None (or the
        same path) compares two models of ``run_a``.
    model : str, optional
        ``"M"`` (model M in both runs) or ``"MA:MB"``. Default: the one model the runs
        share, or their only models; for one run of two models, the first listed in
        campaign.json against the second (:func:`diff_pairs` gives every comparison).
    ways : sequence of int, optional
        t-way crosses whose cells are compared. Default: 1- and 2-way, or only 1-way
        when one dimension is binned (a campaign of recordings with one metadata column
        or none); ways given explicitly are refused when the run has no such cross.
    bins : mapping, optional
        ``[bins.<dimension>]`` tables, applied to both runs.
    method : {"holm", "fdr"}
    alpha : float
    alternative : {"two-sided", "greater"}, optional
        Default: two-sided between runs (regressions and improvements), one-sided
        ("B worse") between two models of one run.
    log : callable, optional
        Receives a line when the crosses hold many cells (the count takes a while).
    margin : float, optional
        Non-inferiority margin, in absolute failure rate (0.002: 0.2 points): test in
        every cell ``H0: p_B - p_A >= margin`` at one-sided level ``alpha`` (at most
        0.25), and conclude "B is no more than ``margin`` worse than A in every cell"
        only if every cell rejects (an intersection-union test; see
        :func:`~highfive.coverage._difftest.effect_columns`).

    Every cell also carries its effect sizes: ``diff`` and ``ratio`` of the failure
    rates with two-sided ``1 - alpha`` intervals (Newcombe hybrid score; Katz log, or
    Bonett-Price hybrid Wilson score when the cases are paired).

    The crosses are counted before any row is read: more than
    :data:`~highfive.coverage._crosses.MAX_CELLS` cells is a :class:`ConfigError`
    naming ``--ways``.

    The cases are paired when both runs have the same case sequence (seed, sampler
    and space in campaign.json ``identity``) and their common cases carry identical
    parameters, or, for runs of recordings, when both ran the same files (by SHA-256,
    in any order, whatever their seed) with the same metadata; otherwise the cells
    are compared with Fisher's exact test. The note says when the runs judge their
    cases differently (tolerance, time limits, or a recording's labelled truth).
    """
    method, alpha = check_method(method), check_alpha(alpha)
    if margin is not None:
        margin, alpha = check_margin(margin), check_ni_alpha(alpha)
    pa_ = Path(run_a)
    pb = Path(run_b) if run_b is not None else pa_
    same = _same_run(pa_, pb)
    rec_a, space_a, data_a = _read_run(pa_)
    rec_b, space_b, data_b = (rec_a, space_a, data_a) if same else _read_run(pb)
    designs = [
        sampler_design(rec.get("config", {}).get("sampler"), f"cannot diff {os.fspath(where)!r}")
        for rec, where in ((rec_a, pa_), (rec_b, pb))
    ]
    for design, where in zip(designs, (pa_, pb), strict=True):
        if design == "importance":
            # Within a cell a proposal draws some regions more than others: plain counts
            # gave a worse counter 122 "improvements" over an importance-sampled run.
            raise ConfigError(
                f"cannot diff {os.fspath(where)!r}: it drew its cases from a learnt proposal "
                "(sampler 'importance'), which weights them within every cell, and a diff "
                "compares plain counts; diff runs of the base distribution (its weighted "
                "rates are in 'highfive coverage RUN')"
            )
    recorded = [bool(r.get("config", {}).get("recordings")) for r in (rec_a, rec_b)]
    if not same and all(recorded):
        # Label values, not sampled spaces: a train run and a test run differ in split.
        # Binned by the values of both, as coverage merges them.
        space_a = space_b = label_union(
            [space_a, space_b], [os.fspath(pa_), os.fspath(pb)], what="diff"
        )
    if space_fingerprint(space_a) != space_fingerprint(space_b):
        diff = differing_dimensions(space_a, space_b)
        raise ConfigError(
            f"cannot diff {os.fspath(pa_)!r} and {os.fspath(pb)!r}: their parameter spaces "
            f"differ (in {', '.join(diff) or 'dimension order'}); compare runs of one space"
        )
    ma, mb = _pick(model, _models(rec_a), _models(rec_b), pa_ if same else None)
    for m, rec, where in ((ma, rec_a, pa_), (mb, rec_b, pb)):
        if m not in _models(rec):
            raise ConfigError(
                f"--model: {show(m)} is not a model of run {os.fspath(where)!r}; its models: "
                f"{', '.join(_models(rec))}"
            )
    if same and ma == mb:
        raise ConfigError(f"--model: comparing {ma!r} with itself in one run; name two models")
    alt: Alternative = alternative or ("greater" if same else "two-sided")
    binning = Binning.from_space(space_a, bins or {})
    crosses = make_crosses(binning, ways, where="--ways")
    progress_for(log, *crosses_size(binning, [], crosses), f"{ma} against {mb}")
    cols = ["case_id", "verdict", *binning.names]
    fa, fb = _rows(data_a, ma, cols), _rows(data_b, mb, cols)
    if not same:
        fb = _numbered_as(rec_a, rec_b, fb)
    attrs = {"model_a": ma, "model_b": mb, "run_a": os.fspath(pa_), "run_b": os.fspath(pb)}

    paired, note = _pairing(rec_a, rec_b, fa, fb, binning, same)
    note += _judging_note(rec_a, rec_b)
    # A run of target boxes compares in the cells its boxes contain whole, and has no
    # rate of the whole space to compare.
    focus_a = _Focus.of(pa_, space_a, binning, crosses) if designs[0] == "focus" else None
    focus_b = focus_a
    if not same:
        focus_b = _Focus.of(pb, space_b, binning, crosses) if designs[1] == "focus" else None
    focus = [f for f in (focus_a, None if same else focus_b) if f is not None]
    compared = np.logical_and.reduce([f.whole for f in focus]) if focus else None
    p_all: float | None = None
    if paired:
        both = fa[["case_id"]].merge(fb[["case_id"]], on="case_id")["case_id"]
        fa = fa[fa["case_id"].isin(both)].reset_index(drop=True)
        fb = fb[fb["case_id"].isin(both)].reset_index(drop=True)
        fail_a, fail_b = failed(fa["verdict"]), failed(fb["verdict"])
        cells = paired_cells(
            binning,
            crosses,
            fa,
            fail_a,
            fail_b,
            method,
            alpha,
            alt,
            attrs,
            margin,
            keep=_keep(focus, fa["case_id"].to_numpy()),
            compared=compared,
        )
        bb = int(np.count_nonzero(fail_b & ~fail_a))
        cc = int(np.count_nonzero(fail_a & ~fail_b))
        if not focus:
            p_all = float(mcnemar_p(np.array([bb]), np.array([cc]), alt)[0])
        overall: dict[str, Any] = {"n_a": len(fa), "n_b": len(fb), "b": bb, "c": cc}
    else:
        fail_a, fail_b = failed(fa["verdict"]), failed(fb["verdict"])
        keep_a = _keep([focus_a], fa["case_id"].to_numpy())
        keep_b = _keep([focus_b], fb["case_id"].to_numpy())
        ca = count_cells(binning, crosses, codes(binning, fa)[0], fail_a.astype(np.intp), 2, keep_a)
        cb = count_cells(binning, crosses, codes(binning, fb)[0], fail_b.astype(np.intp), 2, keep_b)
        cols_ = cell_label_columns(binning, crosses)
        cols_.update(
            n_a=ca.sum(axis=1), failures_a=ca[:, 1], n_b=cb.sum(axis=1), failures_b=cb[:, 1]
        )
        cols_ = only_cells(cols_, compared)
        p = fisher_p(cols_["failures_a"], cols_["n_a"], cols_["failures_b"], cols_["n_b"], alt)
        meta = {**attrs, "paired": False, "method": method, "alpha": alpha, "alternative": alt}
        cells = finish_cells(cols_, p, method, alpha, meta, margin)
        if not focus:
            ka, kb = int(fail_a.sum()), int(fail_b.sum())
            one = [np.array([x]) for x in (ka, len(fa), kb, len(fb))]
            p_all = float(fisher_p(one[0], one[1], one[2], one[3], alt)[0])
        overall = {"n_a": len(fa), "n_b": len(fb)}
    overall["failures_a"], overall["failures_b"] = int(fail_a.sum()), int(fail_b.sum())
    overall["rate_a"] = overall["failures_a"] / max(overall["n_a"], 1)
    overall["rate_b"] = overall["failures_b"] / max(overall["n_b"], 1)
    # None: not compared (a run of target boxes has no rate of the whole space)
    overall["p_value"] = None if p_all is None else p_all if np.isfinite(p_all) else 1.0
    return RunDiff(
        os.fspath(pa_),
        os.fspath(pb),
        ma,
        mb,
        paired,
        note,
        method,
        alpha,
        alt,
        overall,
        cells,
        _identity(rec_a, ma),
        _identity(rec_b, mb),
        margin,
        tuple(f.run for f in focus),
        0 if compared is None else int(np.count_nonzero(~compared)),
    )


def _judging_note(rec_a: Mapping[str, Any], rec_b: Mapping[str, Any]) -> str:
    """Say when two runs judge their cases differently: then a verdict may change with
    the judging, the counter unchanged (a tolerance of 0.5 s against 0.01 s gave 280
    "regressions" of one model on the same cases, without a word)."""
    ia, ib = rec_a.get("identity", {}), rec_b.get("identity", {})
    differ = judging_differences(rec_a, rec_b)
    truth_a = {r["sha256"]: _truth(r) for r in ia.get("recording_files") or []}
    relabelled = [
        str(r["file"])
        for r in ib.get("recording_files") or []
        if r["sha256"] in truth_a and truth_a[r["sha256"]] != _truth(r)
    ]
    if relabelled:
        more = f" and {len(relabelled) - 3:,} more" if len(relabelled) > 3 else ""
        differ.append(
            f"the truth of {len(relabelled):,} recording(s) "
            f"({', '.join(map(show, relabelled[:3]))}{more}) differs in the labels files"
        )
    if not differ:
        return ""
    return (
        f"; the runs judge differently ({'; '.join(differ)}): a difference may come from "
        "the judging, not the counter"
    )


def _truth(recording: Mapping[str, Any]) -> tuple[Any, Any]:
    """A recording's labelled truth in campaign.json: its impact times and count."""
    return recording.get("high_fives"), recording.get("count")


def _recordings(rec: Mapping[str, Any]) -> list[str]:
    """The SHA-256 of a run of recordings' case ``i`` at ``i`` (empty: synthetic cases)."""
    return [str(r["sha256"]) for r in rec.get("identity", {}).get("recording_files") or []]


def _numbered_as(
    rec_a: Mapping[str, Any], rec_b: Mapping[str, Any], fb: pd.DataFrame
) -> pd.DataFrame:
    """Run B's rows with the case ids of run A, in A's order, when both ran the same
    recordings in another order (labels files listing them differently): a recording
    is one case, so a diff pairs it with itself. Otherwise B's rows unchanged."""
    a, b = _recordings(rec_a), _recordings(rec_b)
    if not a or a == b or sorted(a) != sorted(b) or len(set(a)) != len(a):
        return fb
    in_a = {sha: i for i, sha in enumerate(a)}
    order = np.array([in_a[sha] for sha in b], dtype=np.int64)
    fb = fb.assign(case_id=order[fb["case_id"].to_numpy()])
    return fb.sort_values("case_id", kind="stable").reset_index(drop=True)


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
    files_a, files_b = _recordings(rec_a), _recordings(rec_b)
    if files_a or files_b:  # recorded cases: a case is its file (no seed, sampler or space)
        if sorted(files_a) != sorted(files_b):
            return False, "unpaired: the runs differ in recording_files"
        if len(set(files_a)) != len(files_a):  # a run made before such runs were refused
            return False, "unpaired: a run holds the same recording (SHA-256) twice"
        how, what = "same recordings, by SHA-256", "labels"
    else:
        ia, ib = (CampaignConfig.spelled_identity(r.get("identity", {})) for r in (rec_a, rec_b))
        keys = ("seed", "sampler", "space", "generators")
        differ = [k for k in keys if ia.get(k) != ib.get(k)]
        if differ:
            return False, f"unpaired: the runs differ in {', '.join(differ)}"
        how, what = "same seed, sampler, space", "parameters"
    both = fa.merge(fb, on="case_id", suffixes=("_a", "_b"))
    if both.empty:
        return False, "unpaired: the runs share no case id"
    for name in binning.names:
        if not both[f"{name}_a"].equals(both[f"{name}_b"]):
            return False, f"unpaired: {how}, but case {what} differ (first in {name})"
    return True, f"paired on the {len(both):,} cases both runs share ({how})"


def quantization_diff(
    run: str | os.PathLike[str],
    *,
    models: tuple[str, str] = ("float", "int8"),
    ways: Sequence[int] | None = None,
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
