"""Figures of aggregated data: 2-way coverage and failure-rate heatmaps, model agreement.

Every figure comes from aggregated data (cells of a cross, counts per verdict, a
confusion matrix of predicted counts), never from raw result rows, so a report of a run
of any size draws in the same time. Colour maps are fixed across the report: case
counts in ``viridis`` (log scale), failure rates in ``YlOrRd`` on one log scale shared
by every heatmap, differences between models in ``RdBu_r`` centred on zero. Untested
cells (no case) are grey with an X; holes (fewer than ``min_cases`` cases) are hatched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, LogNorm, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ._grids import PairGrid, RateScale, plain, short, shortened

__all__ = ["agreement_figure", "pair_figure"]

_UNTESTED = "0.82"
_ZERO_RATE = "#f3f7f0"  # rate exactly 0: lighter than the lightest rate colour


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
        linewidth=_CELL_EDGE,
    )


def _frame_axes(ax: Axes, grid: PairGrid, title: str, ylabels: bool) -> None:
    """Ticks, labels and title of one heatmap; bin labels longer than
    :data:`~._grids.LABEL_CHARS` are cut in the middle (the report lists them whole)."""
    row_labels = tuple(map(plain, shortened(grid.row_labels)))
    col_labels = tuple(map(plain, shortened(grid.col_labels)))
    rows, cols = len(row_labels), len(col_labels)
    rotate = max(len(x) for x in col_labels) > 4 or cols > 6
    # Many columns are narrower than a slanted label is wide: upright labels then.
    angle = 90 if cols > 6 else 35 if rotate else 0
    ax.set_xticks(
        np.arange(cols),
        col_labels,
        rotation=angle,
        ha="right" if rotate else "center",
        va="center" if angle == 90 else "top",
        rotation_mode="anchor",
        fontsize=8,
    )
    ax.set_yticks(np.arange(rows), row_labels if ylabels else [], fontsize=8)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xlabel(plain(grid.axis_labels[1]), fontsize=9)
    if ylabels:
        ax.set_ylabel(plain(grid.axis_labels[0]), fontsize=9)
    ax.set_title(plain(title), fontsize=10)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)


_CELL_EDGE = 0.8  # points: the white border between cells
_CROSS_LW = 0.8  # points: the thin crossed lines over an untested cell


def _mark_holes(ax: Axes, n: np.ndarray, min_cases: int) -> None:
    """Grey X over untested cells, hatching over cells with fewer than ``min_cases``.

    The grey keeps the white border between cells and the X is two thin lines inside
    the cell, so that untested neighbours stay separate cells however narrow they are.
    """
    for i, j in zip(*np.nonzero(n < min_cases), strict=True):
        if n[i, j] == 0:
            ax.add_patch(
                Rectangle(
                    (j - 0.5, i - 0.5), 1, 1, fc=_UNTESTED, ec="white", lw=_CELL_EDGE, zorder=2
                )
            )
            ax.plot([j - 0.3, j + 0.3], [i - 0.3, i + 0.3], color="0.3", lw=_CROSS_LW, zorder=3)
            ax.plot([j - 0.3, j + 0.3], [i + 0.3, i - 0.3], color="0.3", lw=_CROSS_LW, zorder=3)
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
    vmax = max(float(n.max()), 10.0)
    norm = LogNorm(vmin=1, vmax=vmax)
    im = _heatmap(ax, np.ma.masked_less(n, 1), cmap, norm)
    texts = np.vectorize(lambda x: f"{x:,}")(n)
    _annotate(ax, n.astype(float), texts, cmap, norm, n, _fontsize(grid, len(f"{n.max():,}")))
    _mark_holes(ax, n, grid.min_cases)
    _frame_axes(ax, grid, "coverage: cases per cell", ylabels=True)
    _count_colorbar(fig, im, ax, vmax, label="cases per cell (log scale)", fraction=0.08, pad=0.03)


def _count_ticks(vmax: float) -> list[int]:
    """Ticks of a log colour bar of case counts from 1 to ``vmax``: 1, 2, 5, 10, 20, 50,
    ... (1, 10, 100, ... beyond three decades, where 2 and 5 would crowd), then
    ``vmax`` itself unless a tick is already close to it."""
    steps = (1, 2, 5) if vmax <= 1000 else (1,)
    ticks = [
        s * 10**e
        for e in range(int(np.floor(np.log10(max(vmax, 1.0)))) + 1)
        for s in steps
        if s * 10**e <= vmax
    ]
    if vmax >= 1.3 * ticks[-1]:
        ticks.append(int(vmax))
    return ticks


def _count_colorbar(fig: Figure, im: Any, ax: Axes, vmax: float, **kwargs: Any) -> None:
    """A colour bar of case counts (log scale) labelled with readable counts."""
    bar = fig.colorbar(im, ax=ax, **kwargs)
    ticks = _count_ticks(vmax)
    bar.set_ticks(ticks, labels=[f"{t:,}" for t in ticks])
    bar.ax.minorticks_off()


def _upper_text(u: float) -> str:
    return f"≤{u:.2f}" if u >= 0.01 else f"≤{u:.0e}".replace("e-0", "e-")


def _upper_short(u: float) -> str:
    """The upper bound in as few characters as are readable: 1, .95, 4e-3."""
    if u >= 0.995:
        return "1"
    return f"{u:.2f}"[1:] if u >= 0.01 else f"{u:.0e}".replace("e-0", "e-")


def _upper_texts(grid: PairGrid, upper: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, float]:
    """The texts of the upper bounds and their size: "≤0.95" where it fits, ".95" in
    narrower cells, none (size 0) where not even that fits."""
    size = 0.0
    for form in (_upper_text, _upper_short):
        texts = np.vectorize(form, otypes=[object])(upper)
        shown = texts[n > 0]
        size = _fontsize(grid, max((len(t) for t in shown), default=1))
        if size:
            break
    return texts, size


def _rate_panel(fig: Figure, ax: Axes, grid: PairGrid, model: str, scale: RateScale) -> None:
    n, rate, upper = grid.n[model], grid.rate(model), grid.upper[model]
    cmap = plt.get_cmap("YlOrRd").with_extremes(bad=_UNTESTED, under=_ZERO_RATE)
    norm = LogNorm(vmin=scale.vmin, vmax=1.0, clip=False)
    shown = np.where(rate > 0, rate, scale.vmin / 10)  # 0 -> the "under" colour
    im = _heatmap(ax, np.ma.masked_invalid(shown), cmap, norm)
    texts, size = _upper_texts(grid, upper, n)
    _annotate(ax, shown, texts, cmap, norm, n, size)
    _mark_holes(ax, n, grid.min_cases)
    what = "\n(text: 95% upper bound)" if size else ""  # promised only when printed
    _frame_axes(ax, grid, f"failure rate, {short(model)}{what}", ylabels=False)
    what = (
        "weighted failure rate\n(estimate capped at 1, log scale)"
        if grid.weighted is not None
        else "failure rate\n(failing / cases, log scale)"
    )
    fig.colorbar(im, ax=ax, extend="min", label=what, fraction=0.08, pad=0.03)


def _diff_panel(fig: Figure, ax: Axes, grid: PairGrid, a: str, b: str, scale: RateScale) -> None:
    n = np.minimum(grid.n[a], grid.n[b])
    diff = grid.rate(b) - grid.rate(a)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad=_UNTESTED)
    norm = TwoSlopeNorm(0.0, -scale.diff_max, scale.diff_max)
    im = _heatmap(ax, np.ma.masked_invalid(diff), cmap, norm)
    texts = np.vectorize(lambda d: f"{d:+.2f}" if np.isfinite(d) and abs(d) >= 0.005 else "")(diff)
    _annotate(ax, diff, texts, cmap, norm, n, _fontsize(grid))
    _mark_holes(ax, n, grid.min_cases)
    title = f"{short(b)} − {short(a)}:\ndifference of failure rates"
    _frame_axes(ax, grid, title, ylabels=False)
    rates = "weighted rates" if grid.weighted is not None else "failure rates"
    label = f"difference of {rates}\nred: {short(b, 16)} worse"
    fig.colorbar(im, ax=ax, label=label, fraction=0.08, pad=0.03)


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
    fig.suptitle(plain(short(grid.cross, 100)), fontsize=12, fontweight="bold")
    return fig


# -- agreement and verdicts -----------------------------------------------------------
def agreement_figure(
    verdicts: Mapping[str, Mapping[str, int]],
    fail_verdicts: Sequence[str],
    confusion: np.ndarray | None,
    pair: tuple[str, str] | None,
    agree: int | None = None,
    unanswered: int = 0,
    weighted: bool = False,
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
    agree : int, optional
        Cases in which the two models predict exactly the same count (the diagonal's
        last cell also holds pairs such as 6 and 7); default: the diagonal without it.
    unanswered : int
        Cases compared but left out of ``confusion`` because a model gave no count
        (``error`` or ``timeout``): they count against the agreement in the title.
    weighted : bool
        The run's cases are weighted (not draws of the whole space): the bars are
        shares of the cases drawn, and say so.
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
        at = x + (k - (len(models) - 1) / 2) * width
        bars = ax.bar(at, pct, width, label=short(m), color=f"C{k}")
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    # One word a line: "double count" and "false positive" do not run together.
    ax.set_xticks(x, [v.replace("_", "\n") for v in fail_verdicts])
    if weighted:  # per-verdict weighted rates are not computed: the shares drawn, said so
        ax.set_ylabel("cases drawn with this verdict (%)")
        ax.set_title("verdicts of the cases drawn (not weighted)", fontsize=10)
    else:
        ax.set_ylabel("cases with this verdict (%)")
        ax.set_title("failure rate by verdict and model", fontsize=10)
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)  # "best" warns (as an error) when slow
    if two:
        assert confusion is not None and pair is not None
        ax = axes[0, 1]
        k = confusion.shape[0]
        cmap = plt.get_cmap("viridis").with_extremes(bad="white")
        vmax = max(float(confusion.max()), 10.0)
        norm = LogNorm(vmin=1, vmax=vmax)
        im = ax.imshow(np.ma.masked_less(confusion, 1), cmap=cmap, norm=norm, origin="lower")
        for (i, j), c in np.ndenumerate(confusion):
            if c:
                colour = _text_colour(cmap, norm, float(c))
                ax.text(j, i, f"{c:,}", ha="center", va="center", fontsize=8, color=colour)
        ticks = [str(i) for i in range(k - 1)] + [f"≥{k - 1}"]
        ax.set_xticks(np.arange(k), ticks)
        ax.set_yticks(np.arange(k), ticks)
        a, b = short(pair[0]), short(pair[1])
        ax.set_xlabel(f"predicted count, {b}")
        ax.set_ylabel(f"predicted count, {a}")
        if agree is None:  # only the exact counts of the diagonal surely agree
            agree = int(np.trace(confusion) - confusion[-1, -1])
        total = max(int(confusion.sum()) + unanswered, 1)
        drawn = " drawn (not weighted)" if weighted else ""
        title = f"count agreement {a} vs {b}: {100 * agree / total:.2f}% of cases{drawn}"
        if unanswered:
            title += f"\n({unanswered:,} without a count from one, not in the table)"
        ax.set_title(title, fontsize=10)
        _count_colorbar(fig, im, ax, vmax, label="cases (log scale)")
    return fig
