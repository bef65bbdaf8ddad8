"""Figures of the HTML report: 2-way coverage and failure-rate heatmaps, model agreement.

Every figure comes from aggregated data (cells of a cross, counts per verdict, a
confusion matrix of predicted counts), never from raw result rows, so a report of a run
of any size draws in the same time. Colour maps are fixed across the report: case
counts in ``viridis`` (log scale), failure rates in ``YlOrRd`` on one log scale shared
by every heatmap, differences between models in ``RdBu_r`` centred on zero. Untested
cells (no case) are grey with an X; holes (fewer than ``min_cases`` cases) are hatched.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, LogNorm, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from highfive.generators import HighfiveError

__all__ = [
    "DPI",
    "CaseView",
    "PairGrid",
    "RateScale",
    "agreement_figure",
    "case_views",
    "figure_png_base64",
    "pair_figure",
]

DPI = 100
_UNTESTED = "0.82"
_ZERO_RATE = "#f3f7f0"  # rate exactly 0: lighter than the lightest rate colour


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

    def rate(self, model: str) -> np.ndarray:
        """Observed failure rate per cell (NaN where untested)."""
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


def figure_png_base64(fig: Figure, dpi: int = DPI) -> str:
    """Render ``fig`` as PNG, close it, and return the base64 text for a data URI."""
    buf = io.BytesIO()
    try:
        fig.set_dpi(dpi)
        if fig.get_layout_engine() is not None:
            # Lay out once, then freeze: savefig would run the layout engine twice more.
            fig.canvas.draw()
            fig.set_layout_engine("none")
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# -- heatmaps -------------------------------------------------------------------------
def _text_colour(cmap: Colormap, norm: Normalize, value: float) -> str:
    r, g, b, _ = cmap(norm(value))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


_FIG_W = 13.0  # inches, three panels side by side
_ROW_H = 0.3  # inches per heatmap row


def _fontsize(grid: PairGrid, chars: int = 5) -> float:
    """Annotation size that fits a cell (0: too small to annotate)."""
    col_w = 72 * (_FIG_W / 3 - 1.4) / len(grid.col_labels)  # points
    size = min(9.0, 0.5 * 72 * _ROW_H, col_w / (0.62 * chars))
    return size if size >= 5 else 0.0


def _heatmap(ax: Axes, data: np.ndarray, cmap: Colormap, norm: Normalize) -> Any:
    rows, cols = data.shape
    return ax.pcolormesh(
        np.arange(cols + 1) - 0.5,
        np.arange(rows + 1) - 0.5,
        data,
        cmap=cmap,
        norm=norm,
        edgecolors="white",
        linewidth=0.8,
    )


def _frame_axes(ax: Axes, grid: PairGrid, title: str, ylabels: bool) -> None:
    rows, cols = len(grid.row_labels), len(grid.col_labels)
    rotate = max(len(x) for x in grid.col_labels) > 4 or cols > 6
    ax.set_xticks(
        np.arange(cols),
        grid.col_labels,
        rotation=35 if rotate else 0,
        ha="right" if rotate else "center",
        rotation_mode="anchor",
        fontsize=8,
    )
    ax.set_yticks(np.arange(rows), grid.row_labels if ylabels else [], fontsize=8)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xlabel(grid.axis_labels[1], fontsize=9)
    if ylabels:
        ax.set_ylabel(grid.axis_labels[0], fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)


def _mark_holes(ax: Axes, n: np.ndarray, min_cases: int) -> None:
    """Grey X over untested cells, hatching over cells with fewer than ``min_cases``."""
    for i, j in zip(*np.nonzero(n < min_cases), strict=True):
        if n[i, j] == 0:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color=_UNTESTED, lw=0, zorder=2))
            ax.plot([j - 0.3, j + 0.3], [i - 0.3, i + 0.3], color="0.3", lw=1.3, zorder=3)
            ax.plot([j - 0.3, j + 0.3], [i + 0.3, i - 0.3], color="0.3", lw=1.3, zorder=3)
        else:
            ax.add_patch(
                Rectangle(
                    (j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", ec="0.25", lw=0, zorder=3
                )
            )


def _annotate(
    ax: Axes,
    values: np.ndarray,
    texts: np.ndarray,
    cmap: Colormap,
    norm: Normalize,
    n: np.ndarray,
    size: float,
) -> None:
    if not size:
        return
    for (i, j), text in np.ndenumerate(texts):
        if not text or n[i, j] == 0:
            continue
        v = values[i, j]
        colour = "black" if not np.isfinite(v) else _text_colour(cmap, norm, float(v))
        # Out of the layout: inside the axes anyway, and measuring each is slow.
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            fontsize=size,
            color=colour,
            zorder=4,
            in_layout=False,
        )


def _coverage_panel(fig: Figure, ax: Axes, grid: PairGrid, model: str) -> None:
    n = grid.n[model]
    cmap = plt.get_cmap("viridis").with_extremes(bad=_UNTESTED)
    norm = LogNorm(vmin=1, vmax=max(float(n.max()), 10.0))
    im = _heatmap(ax, np.ma.masked_less(n, 1), cmap, norm)
    texts = np.vectorize(lambda x: f"{x:,}")(n)
    _annotate(ax, n.astype(float), texts, cmap, norm, n, _fontsize(grid, len(f"{n.max():,}")))
    _mark_holes(ax, n, grid.min_cases)
    _frame_axes(ax, grid, "coverage: cases per cell", ylabels=True)
    fig.colorbar(im, ax=ax, label="cases per cell (log scale)", fraction=0.08, pad=0.03)


def _upper_text(u: float) -> str:
    return f"≤{u:.2f}" if u >= 0.01 else f"≤{u:.0e}".replace("e-0", "e-")


def _rate_panel(fig: Figure, ax: Axes, grid: PairGrid, model: str, scale: RateScale) -> None:
    n, rate, upper = grid.n[model], grid.rate(model), grid.upper[model]
    cmap = plt.get_cmap("YlOrRd").with_extremes(bad=_UNTESTED, under=_ZERO_RATE)
    norm = LogNorm(vmin=scale.vmin, vmax=1.0, clip=False)
    shown = np.where(rate > 0, rate, scale.vmin / 10)  # 0 -> the "under" colour
    im = _heatmap(ax, np.ma.masked_invalid(shown), cmap, norm)
    texts = np.vectorize(_upper_text)(upper)
    _annotate(ax, shown, texts, cmap, norm, n, _fontsize(grid))
    _mark_holes(ax, n, grid.min_cases)
    _frame_axes(ax, grid, f"failure rate, {model} (text: 95% upper bound)", ylabels=False)
    fig.colorbar(
        im,
        ax=ax,
        extend="min",
        label="failure rate (failing / cases, log scale)",
        fraction=0.08,
        pad=0.03,
    )


def _diff_panel(fig: Figure, ax: Axes, grid: PairGrid, a: str, b: str, scale: RateScale) -> None:
    n = np.minimum(grid.n[a], grid.n[b])
    diff = grid.rate(b) - grid.rate(a)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad=_UNTESTED)
    norm = TwoSlopeNorm(0.0, -scale.diff_max, scale.diff_max)
    im = _heatmap(ax, np.ma.masked_invalid(diff), cmap, norm)
    texts = np.vectorize(lambda d: f"{d:+.2f}" if np.isfinite(d) and abs(d) >= 0.005 else "")(diff)
    _annotate(ax, diff, texts, cmap, norm, n, _fontsize(grid))
    _mark_holes(ax, n, grid.min_cases)
    _frame_axes(ax, grid, f"{b} − {a}: difference of failure rates", ylabels=False)
    fig.colorbar(im, ax=ax, label=f"rate({b}) − rate({a}); red: {b} worse", fraction=0.08, pad=0.03)


def pair_figure(grid: PairGrid, scale: RateScale) -> Figure:
    """Coverage, failure rate and the difference between models for one 2-way cross.

    Three panels side by side: cases per cell (of the first model), failure rate of
    the first model with each cell's upper bound written in it, and the difference of
    the second model's rate minus the first's (with one model: two panels).
    """
    models = list(grid.n)
    two = len(models) > 1
    height = max(3.4, _ROW_H * len(grid.row_labels) + 2.2)
    fig, axes = plt.subplots(
        1,
        3 if two else 2,
        figsize=(_FIG_W if two else _FIG_W * 2 / 3, height),
        layout="constrained",
    )
    _coverage_panel(fig, axes[0], grid, models[0])
    _rate_panel(fig, axes[1], grid, models[0], scale)
    if two:
        _diff_panel(fig, axes[2], grid, models[0], models[1], scale)
    handles = [Patch(fc=_UNTESTED, ec="0.3", label="untested: 0 cases (X)")]
    if grid.min_cases > 1:
        handles.append(
            Patch(fc="white", ec="0.25", hatch="///", label=f"hole: < {grid.min_cases} cases")
        )
    handles.append(Patch(fc=_ZERO_RATE, ec="0.6", label="no failure (below the scale)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    fig.suptitle(grid.cross, fontsize=12, fontweight="bold")
    return fig


# -- agreement and verdicts -----------------------------------------------------------
def agreement_figure(
    verdicts: Mapping[str, Mapping[str, int]],
    fail_verdicts: Sequence[str],
    confusion: np.ndarray | None,
    pair: tuple[str, str] | None,
) -> Figure:
    """Failure rate by verdict and model (bars) and, for two models, their count agreement.

    Parameters
    ----------
    verdicts : mapping of model to (verdict -> cases)
    fail_verdicts : sequence of str
        The failing verdicts, in display order.
    confusion : np.ndarray of int, shape (k, k), optional
        Cases by predicted count of ``pair[0]`` (rows) and ``pair[1]`` (columns); the
        last row and column hold ``k - 1`` or more.
    pair : (str, str), optional
    """
    two = confusion is not None and pair is not None
    fig, axes = plt.subplots(
        1, 2 if two else 1, figsize=(12.5 if two else 7, 4.3), layout="constrained", squeeze=False
    )
    ax = axes[0, 0]
    models = list(verdicts)
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(fail_verdicts))
    for k, m in enumerate(models):
        total = max(sum(verdicts[m].values()), 1)
        pct = [100 * verdicts[m].get(v, 0) / total for v in fail_verdicts]
        bars = ax.bar(x + (k - (len(models) - 1) / 2) * width, pct, width, label=m, color=f"C{k}")
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(x, [v.replace("_", " ") for v in fail_verdicts])
    ax.set_ylabel("cases with this verdict (%)")
    ax.set_title("failure rate by verdict and model", fontsize=10)
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    if two:
        assert confusion is not None and pair is not None
        ax = axes[0, 1]
        k = confusion.shape[0]
        cmap = plt.get_cmap("viridis").with_extremes(bad="white")
        norm = LogNorm(vmin=1, vmax=max(float(confusion.max()), 10.0))
        im = ax.imshow(np.ma.masked_less(confusion, 1), cmap=cmap, norm=norm, origin="lower")
        for (i, j), c in np.ndenumerate(confusion):
            if c:
                colour = _text_colour(cmap, norm, float(c))
                ax.text(j, i, f"{c:,}", ha="center", va="center", fontsize=8, color=colour)
        ticks = [str(i) for i in range(k - 1)] + [f"≥{k - 1}"]
        ax.set_xticks(np.arange(k), ticks)
        ax.set_yticks(np.arange(k), ticks)
        ax.set_xlabel(f"predicted count, {pair[1]}")
        ax.set_ylabel(f"predicted count, {pair[0]}")
        agree = int(np.trace(confusion))
        total = max(int(confusion.sum()), 1)
        ax.set_title(
            f"count agreement {pair[0]} vs {pair[1]}: {100 * agree / total:.2f}% on the diagonal",
            fontsize=10,
        )
        fig.colorbar(im, ax=ax, label="cases (log scale)")
    return fig


# -- failing cases --------------------------------------------------------------------
@dataclass
class CaseView:
    """One failing case as the report shows it.

    ``verdicts`` and ``counts`` are per model; ``image`` is base64 PNG (None if no plot
    could be made); ``note`` says what went wrong, if anything; ``replayed`` is False
    when the image shows the stored trace instead of a replay.
    """

    case: int
    verdicts: dict[str, str]
    counts: dict[str, int]
    true_count: int | None
    params: dict[str, Any]
    image: str | None
    note: str = ""
    replayed: bool = True


def case_views(
    path: Path, picks: Sequence[int], stored: Mapping[int, Mapping[str, tuple[str, int]]]
) -> list[CaseView]:
    """Regenerate each picked case, run every model, and plot it.

    The plot shows the trace with its truth events, the scalogram and each model's
    window probabilities with its detections (:func:`~highfive.reports._plots.plot_replay`).
    When the run's models cannot be loaded (a model file moved or changed), the raw
    trace of the failure corpus is plotted instead, with the reason in the view's note.

    Parameters
    ----------
    path : Path
        Run directory.
    picks : sequence of int
        Case ids.
    stored : mapping of case id to (model -> (verdict, predicted count))
        The campaign's results, compared with the regenerated ones.
    """
    from highfive.harness._replay import load_run

    if not picks:
        return []
    try:
        loaded = load_run(path)
    except HighfiveError as exc:
        rows = _corpus_rows(path, picks)
        return [_from_corpus(c, rows.get(c), stored.get(c, {}), str(exc)) for c in picks]
    views = []
    for case in picks:
        try:
            views.append(_replayed(loaded, case))
        except HighfiveError as exc:
            row = _corpus_rows(path, [case]).get(case)
            views.append(_from_corpus(case, row, stored.get(case, {}), str(exc)))
    return views


def _corpus_rows(path: Path, cases: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The failure corpus rows of ``cases`` (one scan for all of them)."""
    import pyarrow.dataset as ds

    if not (path / "failures").is_dir():
        return {}
    table = ds.dataset(path / "failures", format="parquet").to_table(
        filter=ds.field("case_id").isin(list(cases))
    )
    return {int(r["case_id"]): r for r in table.to_pylist()}


def _replayed(loaded: Any, case: int) -> CaseView:
    from highfive.harness._replay import replay_loaded

    from ._plots import plot_replay

    rep = replay_loaded(loaded, case)
    scores = rep.scores
    verdicts: dict[str, str] = {m: s.verdict for m, s in scores.items()}
    spec = next(iter(loaded.models.values())).spec
    title = f"case {case}: " + ", ".join(f"{m} {v}" for m, v in verdicts.items())
    image = figure_png_base64(plot_replay(rep.trace, rep.results, spec=spec, title=title))
    counts = {m: s.predicted_count for m, s in scores.items()}
    differ = rep.differing()
    note = ""
    if differ:
        note = (
            f"the regenerated result of {', '.join(differ)} differs from the campaign's stored "
            "row (other library versions?)"
        )
    true = next(iter(scores.values())).true_count if scores else None
    return CaseView(case, verdicts, counts, true, dict(rep.row), image, note)


def _from_corpus(
    case: int, r: Mapping[str, Any] | None, stored: Mapping[str, tuple[str, int]], why: str
) -> CaseView:
    """Fallback when replay is impossible: the raw trace stored in the failure corpus."""
    from highfive.generators import Detection, Event, Trace

    from ._plots import plot_trace

    verdicts = {m: v for m, (v, _) in stored.items()}
    counts = {m: c for m, (_, c) in stored.items()}
    if r is None:
        return CaseView(case, verdicts, counts, None, {}, None, f"replay failed: {why}")
    events = tuple(Event(**e) for e in json.loads(r["events"]))
    samples = np.stack([r["x"], r["y"], r["z"]], axis=1).astype(np.float32)
    params = json.loads(r["params"])
    trace = Trace(np.asarray(r["t"], dtype=float), samples, float(r["fs"]), events, params)
    dets: dict[str, list[list[float]]] = json.loads(r["detections"])
    first = next(iter(dets), "")
    shown = [Detection(t, s) for t, s in dets.get(first, [])]
    title = f"case {case}: stored trace, detections of {first}"
    image = figure_png_base64(plot_trace(trace, shown, title=title))
    counts = counts or {m: len(d) for m, d in dets.items()}
    true = sum(e.is_high_five for e in events)
    note = f"replay failed ({why}); the trace stored in the failure corpus is shown"
    return CaseView(
        case, json.loads(r["verdicts"]), counts, true, params, image, note, replayed=False
    )
