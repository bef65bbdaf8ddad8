"""The replay plot of counters of any kind: panels only for what a counter gives.

An ONNX counter gives window probabilities and has a model front end (the scalogram);
a Python or external counter gives detections only (empty ``probs`` and ``centres``),
and a counter that erred gives no result at all (None).
"""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pytest

from highfive.generators import Trace, default_space, synthesize
from highfive.harness import CounterPipeline, CountResult, Model
from highfive.reports import plot_replay
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
