"""The replay plot of counters of any kind: panels only for what a counter gives.

An ONNX counter gives window probabilities and has a model front end (the scalogram);
a Python or external counter gives detections only (empty ``probs`` and ``centres``),
and a counter that erred gives no result at all (None).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Rectangle

from highfive.generators import Trace, default_space, synthesize
from highfive.harness import FAIL_VERDICTS, CounterPipeline, CountResult, Model
from highfive.reports import plot_replay
from highfive.reports._grids import PairGrid, RateScale
from highfive.reports._heatmaps import agreement_figure, pair_figure
from highfive.reports._plots import figure_png_base64


@pytest.fixture(scope="module")
def trace() -> Trace:
    return synthesize(default_space().nominal(), seed=7)


@pytest.fixture(scope="module")
def onnx_result(trace: Trace, toy_model: Model) -> CountResult:
    return CounterPipeline(toy_model).run(trace)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _plain(result: CountResult) -> CountResult:
    """The same detections as a counter without window probabilities reports them."""
    return CountResult(list(result.detections), np.empty(0), np.empty(0))


def _lines(ax: plt.Axes) -> list[str]:
    return [str(line.get_label()) for line in ax.get_lines()]


def test_every_panel_for_onnx_counters(
    trace: Trace, onnx_result: CountResult, toy_model: Model
) -> None:
    assert onnx_result.probs.size  # the toy model does give probabilities
    fig = plot_replay(trace, {"toy": onnx_result}, spec=toy_model.spec, title="t")
    assert len(fig.axes) == 3
    top, scalogram, probs = fig.axes
    assert top.get_title() == "t" and "scalogram" in scalogram.get_title()
    assert probs.get_ylabel() == "P(high-five)"
    assert _lines(probs)[0] == "toy"


def test_counters_without_probabilities_are_left_out_of_the_probability_panel(
    trace: Trace, onnx_result: CountResult, toy_model: Model
) -> None:
    results = {"toy": onnx_result, "py": _plain(onnx_result), "erred": None}
    fig = plot_replay(trace, results, spec=toy_model.spec)
    panels = fig.axes
    assert len(panels) == 3
    probs = panels[2]
    assert [x for x in _lines(probs) if not x.startswith(("on ", "off "))] == ["toy"]
    # both counters that answered show their detections on the trace; the erred one not
    assert {"toy detections", "py detections"} <= set(_lines(panels[0]))
    assert "erred detections" not in _lines(panels[0])


@pytest.mark.parametrize("with_spec", [True, False], ids=["onnx-spec", "no-spec"])
def test_no_probability_panel_without_probabilities(
    trace: Trace, onnx_result: CountResult, toy_model: Model, with_spec: bool
) -> None:
    spec = toy_model.spec if with_spec else None
    fig = plot_replay(trace, {"py": _plain(onnx_result), "erred": None}, spec=spec)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == (2 if with_spec else 1)
    assert any("scalogram" in t for t in titles) == with_spec
    assert all(ax.get_ylabel() != "P(high-five)" for ax in fig.axes)
    assert fig.axes[-1].get_xlabel().startswith("time (s)")
    assert figure_png_base64(fig)  # draws


@pytest.mark.parametrize("with_spec", [True, False], ids=["onnx-spec", "no-spec"])
def test_time_axis_spans_the_trace_exactly(
    trace: Trace, onnx_result: CountResult, toy_model: Model, with_spec: bool
) -> None:
    spec = toy_model.spec if with_spec else None
    results = {"toy": onnx_result} if with_spec else {"py": _plain(onnx_result)}
    fig = plot_replay(trace, results, spec=spec)
    for ax in fig.axes:
        assert ax.get_xlim() == (float(trace.t[0]), float(trace.t[-1]))


# -- the report's heatmaps and bar chart ----------------------------------------------
_DISTRACTORS = [*default_space()["distractor"].choices, "high_five"]  # 15 labels


def _grid(cols: int, seed: int = 0) -> PairGrid:
    """A motion x distractor-like cross: 15 rows, ``cols`` columns, a third untested."""
    rng = np.random.default_rng(seed)
    shape = (15, cols)
    n = np.where(rng.random(shape) < 0.35, 0, rng.integers(1, 9, shape))
    failures = np.where(rng.random(shape) < 0.1, np.minimum(n, 1), 0)
    upper = np.where(n > 0, 1 - 0.05 ** (1 / np.maximum(n, 1)), 1.0)  # one-sided CP, 0 fails
    labels = tuple((_DISTRACTORS * 4)[:cols])
    return PairGrid(
        "motion x distractor",
        ("motion", "distractor"),
        ("motion", "distractor"),
        tuple(_DISTRACTORS),
        labels,
        {"float": n, "int8": n.copy()},
        {"float": failures, "int8": failures.copy()},
        {"float": upper, "int8": upper.copy()},
    )


def _overlapping(texts: list[Any], renderer: Any) -> list[tuple[str, str]]:
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_text()]
    return [
        (a, b)
        for k, (a, box_a) in enumerate(boxes)
        for b, box_b in boxes[k + 1 :]
        if box_a.overlaps(box_b)
    ]


def test_verdict_bar_labels_do_not_run_together() -> None:
    verdicts = {m: {"pass": 297, "false_positive": 3} for m in ("float", "int8")}
    confusion = np.diag([147, 37, 42, 36, 38])
    fig = agreement_figure(verdicts, FAIL_VERDICTS, confusion, ("float", "int8"))
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    labels = fig.axes[0].get_xticklabels()
    assert {t.get_text().replace("\n", " ") for t in labels} >= {"double count", "false positive"}
    assert _overlapping(labels, renderer) == []


@pytest.mark.parametrize("cols", [4, 15])
def test_heatmap_column_labels_do_not_overlap(cols: int) -> None:
    fig = pair_figure(_grid(cols), RateScale())
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    for ax in fig.axes[:3]:  # the heatmaps (their colour bars come after)
        assert ax.get_xlabel() == "distractor"
        assert _overlapping(ax.get_xticklabels(), renderer) == []


@pytest.mark.parametrize("cols", [4, 15])
def test_rate_panel_prints_the_upper_bounds_it_promises(cols: int) -> None:
    grid = _grid(cols)
    fig = pair_figure(grid, RateScale())
    rate = fig.axes[1]
    assert rate.get_title().startswith("failure rate, float")
    texts = [t for t in rate.texts if t.get_text()]
    assert "(text: 95% upper bound)" in rate.get_title()
    assert len(texts) == int(np.count_nonzero(grid.n["float"]))
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    assert _overlapping(texts, renderer) == []
    to_pixels = rate.transData.transform
    cell_w = abs(to_pixels((1, 0))[0] - to_pixels((0, 0))[0])
    assert max(t.get_window_extent(renderer).width for t in texts) < cell_w


def test_rate_panel_promises_no_text_in_cells_too_narrow_for_any() -> None:
    fig = pair_figure(_grid(60), RateScale())
    rate = fig.axes[1]
    assert not [t for t in rate.texts if t.get_text()]
    assert "text" not in rate.get_title()


def test_untested_cells_keep_their_borders_and_a_thin_cross_inside() -> None:
    grid = _grid(15)
    fig = pair_figure(grid, RateScale())
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    untested = int(np.count_nonzero(grid.n["float"] == 0))
    for ax in fig.axes[:3]:
        grey = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_fill()]
        assert len(grey) == untested
        assert all(p.get_edgecolor()[:3] == (1.0, 1.0, 1.0) and p.get_linewidth() > 0 for p in grey)
        cross = [line for line in ax.get_lines() if line.get_color() == "0.3"]
        assert len(cross) == 2 * untested
        to_pixels = ax.transData.transform
        cell_w = abs(to_pixels((1, 0))[0] - to_pixels((0, 0))[0])
        border = grey[0].get_linewidth() * fig.dpi / 72
        for line in cross:
            thick = line.get_linewidth() * fig.dpi / 72
            assert line.get_window_extent(renderer).width + thick < cell_w - border


@pytest.mark.parametrize(
    ("most", "expected"),
    [
        (80, ["1", "2", "5", "10", "20", "50", "80"]),
        (44, ["1", "2", "5", "10", "20", "44"]),
        (50, ["1", "2", "5", "10", "20", "50"]),
        (3, ["1", "2", "5", "10"]),  # the scale reaches 10 at least
        (2_500_000, ["1", "10", "100", "1,000", "10,000", "100,000", "1,000,000", "2,500,000"]),
    ],
)
def test_count_colour_bar_is_labelled_with_readable_counts(most: int, expected: list[str]) -> None:
    grid = _grid(4)
    n = grid.n["float"].copy()
    n[0, 0] = most
    grid = PairGrid(**{**grid.__dict__, "n": {"float": n, "int8": n}})
    fig = pair_figure(grid, RateScale())
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    bar = fig.axes[3]  # the coverage panel's colour bar
    lo, hi = bar.get_ylim()
    labels = [t for t in bar.get_yticklabels() if lo <= t.get_position()[1] <= hi]
    assert [t.get_text() for t in labels] == expected
    assert _overlapping(labels, renderer) == []
    assert not bar.yaxis.get_minorticklabels() or not any(
        t.get_text() for t in bar.yaxis.get_minorticklabels()
    )


def test_agreement_colour_bar_is_labelled_with_readable_counts() -> None:
    confusion = np.diag([147, 37, 42, 36, 38])
    fig = agreement_figure(
        {"a": {"pass": 300}, "b": {"pass": 300}}, FAIL_VERDICTS, confusion, ("a", "b")
    )
    fig.canvas.draw()
    bar = fig.axes[-1]
    lo, hi = bar.get_ylim()
    labels = [t.get_text() for t in bar.get_yticklabels() if lo <= t.get_position()[1] <= hi]
    assert labels == ["1", "2", "5", "10", "20", "50", "100", "147"]


def test_the_agreement_title_gives_the_cases_with_equal_counts() -> None:
    # Counts of 5 and more share the last cell: 11 cases of unequal counts there (6 and
    # 7, say) made the title say 99.93 % where the run's agreement was 99.91 %.
    confusion = np.diag([100, 50, 20, 10, 5, 11])
    verdicts = {"a": {"pass": 196}, "b": {"pass": 196}}
    title = agreement_figure(verdicts, FAIL_VERDICTS, confusion, ("a", "b"), 190).axes[1]
    assert title.get_title() == f"count agreement a vs b: {100 * 190 / 196:.2f}% of cases"
    # without the exact figure, only the diagonal's exact counts are sure to agree
    title = agreement_figure(verdicts, FAIL_VERDICTS, confusion, ("a", "b")).axes[1]
    assert title.get_title() == f"count agreement a vs b: {100 * 185 / 196:.2f}% of cases"


_LONG_MODEL = "a_very_long_model_identifier_that_keeps_going_" + "and_going_" * 5 + "1234"  # 100


def test_long_labels_and_model_ids_stay_inside_the_figure_and_apart() -> None:
    # Metadata values of 89 characters that differ only at the start, and a model id of
    # 100: the row labels were cut at the figure's left edge (all read "xxxx..."), the
    # panel titles ran into each other, the tick labels and colour bar label off the edge.
    rows = tuple(f"{a}{'x' * 80}" for a in ("badminton", "running", "standing", "walking"))
    cols = ("a long free-text note about the take, the sensor and the weather", "short")
    grid = PairGrid(
        "activity x note",
        ("activity", "note"),
        ("activity", "note"),
        rows,
        cols,
        {_LONG_MODEL: np.array([[3, 2]] * 4), "int8": np.array([[3, 2]] * 4)},
        {_LONG_MODEL: np.array([[1, 0]] * 4), "int8": np.array([[0, 1]] * 4)},
        {_LONG_MODEL: np.full((4, 2), 0.9), "int8": np.full((4, 2), 0.9)},
    )
    fig = pair_figure(grid, RateScale())
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    texts = [t for t in fig.findobj(plt.Text) if t.get_text() and t.get_visible()]
    outside = [
        t.get_text()[:30]
        for t in texts
        if not (
            (box := t.get_window_extent(renderer)).x0 >= page.x0 - 1
            and box.x1 <= page.x1 + 1
            and box.y0 >= page.y0 - 1
            and box.y1 <= page.y1 + 1
        )
    ]
    assert outside == [], outside
    titles = [ax.title for ax in fig.axes[:3]]
    assert _overlapping(titles, renderer) == []
    shown = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(set(shown)) == 4 and all(len(s) <= 30 for s in shown), shown
    assert [s[:4] for s in shown] == ["badm", "runn", "stan", "walk"], shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("$\\foo{$", "$\\foo{$"),  # not TeX matplotlib can parse: a traceback in report
        ("price $5 and $6", "price $5 and $6"),  # parsed as TeX: shown as "price 5and6"
        ("b$y$", "b$y$"),  # shown as "by"
    ],
)
def test_label_values_are_shown_as_written_never_as_tex(value: str, shown: str) -> None:
    """A metadata value or a bins file's label holding "$" reached matplotlib as math
    text; every data-made text of the heatmaps is now shown literally."""
    grid = PairGrid(
        f"who x {value}",
        ("who", value),
        ("who", value),
        (value, "bob"),
        ("left", value),
        {"float": np.array([[3, 2], [1, 1]]), "int8": np.array([[3, 2], [1, 1]])},
        {"float": np.array([[1, 0], [0, 1]]), "int8": np.array([[0, 1], [0, 0]])},
        {"float": np.full((2, 2), 0.9), "int8": np.full((2, 2), 0.9)},
    )
    fig = pair_figure(grid, RateScale())
    fig.canvas.draw()  # raised ParseFatalException for invalid TeX
    texts = [
        t
        for ax in fig.axes[:3]
        for t in [*ax.get_xticklabels(), *ax.get_yticklabels(), ax.xaxis.label]
    ]
    texts.append(fig._suptitle)
    drawn = [t._preprocess_math(t.get_text()) for t in texts]  # (as drawn, is math)
    literal = [text for text, math in drawn if shown in text and not math]
    assert len(literal) >= 5, drawn  # two tick labels, the x label, the title
    assert not any(math for _, math in drawn), drawn
    plt.close(fig)


@pytest.mark.parametrize("suffix", ["pdf", "svg", "eps", "png"])
def test_a_saved_figure_is_the_same_bytes_each_time(suffix: str, tmp_path: Any) -> None:
    """PDF and PostScript held the time of writing (and PostScript the temporary file's
    name), SVG random element ids: 'synth --plot a.pdf' twice gave two files."""
    import os
    import time

    from highfive.reports._plots import plot_trace, save_figure

    trace = synthesize(default_space().nominal(), 3)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    saved = []
    for name in ("a", "b"):
        save_figure(plot_trace(trace), tmp_path / f"{name}.{suffix}")
        saved.append((tmp_path / f"{name}.{suffix}").read_bytes())
        time.sleep(1.1)  # a time of writing to the second would differ
    assert saved[0] == saved[1]
    assert os.environ.get("SOURCE_DATE_EPOCH") == epoch  # set for PostScript while it writes
