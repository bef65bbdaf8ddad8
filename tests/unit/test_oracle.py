"""The oracle's matching and verdicts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from highfive.generators import Detection, Event, InvalidParameter
from highfive.harness import margin, score

HF1 = Event("high_five", 2.0, 3.0, 2.5, True)
HF2 = Event("high_five", 5.0, 6.0, 5.5, True)
CLAP = Event("clap", 8.0, 9.0, 8.4, False)
EVENTS = (HF1, HF2, CLAP)


def d(t: float) -> Detection:
    return Detection(t, 0.9)


VERDICT_CASES = [
    ("exact", [d(2.5), d(5.5)], "pass", (2, 0, 0)),
    ("within-tolerance", [d(2.9), d(5.1)], "pass", (2, 0, 0)),
    ("one-missed", [d(2.5)], "miss", (1, 0, 1)),
    ("none", [], "miss", (0, 0, 2)),
    ("double", [d(2.4), d(2.95), d(5.5)], "double_count", (2, 1, 0)),
    ("clap-counted", [d(2.5), d(5.5), d(8.4)], "false_positive", (2, 1, 0)),
    ("miss-and-fp", [d(2.5), d(8.4)], "mixed", (1, 1, 1)),
    ("late-is-miss-plus-fp", [d(2.5), d(6.8)], "mixed", (1, 1, 1)),
    ("dup-and-spurious", [d(2.5), d(3.2), d(5.5), d(8.4)], "mixed", (2, 2, 0)),
]


@pytest.mark.parametrize(
    "dets, verdict, tp_fp_fn", [c[1:] for c in VERDICT_CASES], ids=[c[0] for c in VERDICT_CASES]
)
def test_verdicts(dets: list[Detection], verdict: str, tp_fp_fn: tuple[int, int, int]) -> None:
    s = score(EVENTS, dets)
    assert s.verdict == verdict
    assert (s.tp, s.fp, s.fn) == tp_fp_fn
    assert s.count_error == len(dets) - 2


def test_no_high_fives_and_no_detections_passes() -> None:
    s = score((CLAP,), [])
    assert s.passed and s.true_count == 0 and s.count_error == 0


@given(st.lists(st.floats(0.0, 10.0), max_size=8))
def test_counts_add_up(times: list[float]) -> None:
    s = score(EVENTS, [d(t) for t in times])
    assert s.tp + s.fn == s.true_count == 2
    assert s.tp + s.fp == s.predicted_count == len(times)
    assert (s.verdict == "pass") == (s.fp == 0 and s.fn == 0)


def test_margin_signs() -> None:
    centres = [1.0, 2.5, 4.0, 5.5, 7.0, 8.4]
    # Both high-fives fire at 0.9 (margin +0.3 over on=0.6); elsewhere at most 0.2.
    assert margin(EVENTS, centres, [0.1, 0.9, 0.2, 0.9, 0.1, 0.2], on=0.6) == pytest.approx(0.3)
    # The clap fires: negative margin.
    assert margin(EVENTS, centres, [0.1, 0.9, 0.2, 0.9, 0.1, 0.7], on=0.6) == pytest.approx(-0.1)
    # A high-five never fires.
    assert margin(EVENTS, centres, [0.1, 0.5, 0.2, 0.9, 0.1, 0.1], on=0.6) == pytest.approx(-0.1)


@given(
    st.floats(max_value=0.0, exclude_max=True)
    | st.sampled_from([float("nan"), float("inf"), "0.5", None, True])
)
def test_a_bad_tolerance_is_refused_in_one_line(tolerance: object) -> None:
    """A negative or NaN tolerance matched nothing: every case 'mixed', no word said."""
    events = [Event("high_five", 1.0, 2.0, 1.5, True)]
    with pytest.raises(InvalidParameter, match=r"^tolerance: .* must be a finite number of"):
        score(events, [Detection(1.5, 0.9)], tolerance)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match=r"^tolerance: "):
        margin(events, [1.5], [0.9], 0.6, tolerance)  # type: ignore[arg-type]
