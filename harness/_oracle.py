"""The oracle: compare a counter's detections with the truth and give a verdict.

Matching: each detection, in time order, takes the nearest unmatched high-five whose
reference time (its impact, else its midpoint) lies within ``tolerance`` seconds. An
unmatched detection is a false positive of one of two kinds: a *duplicate* when it
falls within a high-five already matched (its extent widened by ``tolerance``), which
is the double-counting failure; otherwise *spurious*.

Verdicts:

=============== ==============================================================
pass            every high-five matched, no false positive
miss            some high-five missed, no false positive
double_count    every high-five matched, every false positive a duplicate
false_positive  every high-five matched, every false positive spurious
mixed           anything else (misses with false positives, or both kinds)
=============== ==============================================================

A recording whose labels give only the number of high-fives, not their times, is
judged by counts (:func:`score_count`): ``pass`` when the counts agree, ``miss`` when
fewer were counted, ``false_positive`` when more (an extra count cannot be told to
be a duplicate or spurious without times, so it is never ``double_count``, and
never ``mixed``: a miss and a false count cancel out in a count).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from highfive.generators import Detection, Event, InvalidParameter, is_number, show

from ._verdicts import Verdict

__all__ = ["Score", "margin", "score", "score_count"]

DEFAULT_TOLERANCE = 0.5
"""Seconds between a detection and a high-five's impact for them to match."""


@dataclass(frozen=True)
class Score:
    """Outcome of one trace: counts, matches and the verdict."""

    true_count: int
    predicted_count: int
    tp: int
    fp: int
    fn: int
    duplicates: int
    verdict: Verdict
    matched: tuple[float | None, ...] = ()
    """Per detection, in the order given: the reference time (s) of the high-five it
    matched, or None (a false positive). Detection latency is measured from it."""

    @property
    def count_error(self) -> int:
        """Predicted minus true count (what the user of the watch sees)."""
        return self.predicted_count - self.true_count

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"


def check_tolerance(tolerance: Any) -> float:
    """A matching tolerance: a finite number of seconds >= 0 (one line otherwise)."""
    if not (is_number(tolerance) and math.isfinite(tolerance) and tolerance >= 0):
        raise InvalidParameter(
            f"tolerance: {show(tolerance)} must be a finite number of seconds >= 0, e.g. "
            f"{DEFAULT_TOLERANCE:g}"
        )
    return float(tolerance)


def score(
    events: Sequence[Event],
    detections: Sequence[Detection],
    tolerance: float = DEFAULT_TOLERANCE,
) -> Score:
    """Match ``detections`` to the high-fives among ``events`` and give the verdict
    (``tolerance``: a finite number of seconds >= 0)."""
    tolerance = check_tolerance(tolerance)
    truths = [e for e in events if e.is_high_five]
    ref = np.array([e.centre for e in truths])
    matched = np.zeros(len(truths), dtype=bool)
    tp = duplicates = spurious = 0
    refs: list[float | None] = [None] * len(detections)
    for i in sorted(range(len(detections)), key=lambda i: detections[i].time):
        d = detections[i]
        if ref.size:
            dist = np.where(matched, np.inf, np.abs(ref - d.time))
            j = int(np.argmin(dist))
            if dist[j] <= tolerance:
                matched[j] = True
                refs[i] = float(ref[j])
                tp += 1
                continue
        if any(
            m and e.start - tolerance <= d.time <= e.end + tolerance
            for e, m in zip(truths, matched, strict=True)
        ):
            duplicates += 1
        else:
            spurious += 1
    fn = len(truths) - tp
    fp = duplicates + spurious
    verdict: Verdict
    if fp == 0:
        verdict = "pass" if fn == 0 else "miss"
    elif fn == 0 and spurious == 0:
        verdict = "double_count"
    elif fn == 0 and duplicates == 0:
        verdict = "false_positive"
    else:
        verdict = "mixed"
    return Score(len(truths), len(detections), tp, fp, fn, duplicates, verdict, tuple(refs))


def score_count(true_count: int, predicted_count: int) -> Score:
    """Judge a count against the true number of high-fives (no times to match).

    ``tp`` is the smaller count, ``fn`` the high-fives short, ``fp`` the counts over
    (no duplicates: telling one needs the times); the verdict is ``pass``, ``miss`` or
    ``false_positive``.
    """
    tp = min(true_count, predicted_count)
    fn, fp = true_count - tp, predicted_count - tp
    verdict: Verdict = "pass" if fn == fp == 0 else ("miss" if fn else "false_positive")
    return Score(true_count, predicted_count, tp, fp, fn, 0, verdict)


def margin(
    events: Sequence[Event],
    centres: npt.ArrayLike,
    probs: npt.ArrayLike,
    on: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> float:
    """How far the window probabilities stayed from deciding otherwise.

    For each high-five: its peak probability within ``tolerance`` of its reference time,
    minus ``on`` (negative: it never fired). Away from every high-five: ``on`` minus the
    highest probability (negative: something fired there). The margin is the smallest
    of these; a small positive margin marks a case that passed narrowly, which is where
    guided search and shrinking look first.
    """
    tolerance = check_tolerance(tolerance)
    c = np.asarray(centres, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    if c.size == 0:
        return float("nan")
    near = np.zeros(c.size, dtype=bool)
    values = []
    for e in events:
        if not e.is_high_five:
            continue
        here = np.abs(c - e.centre) <= tolerance
        values.append((p[here].max() if here.any() else 0.0) - on)
        near |= (c >= e.start - tolerance) & (c <= e.end + tolerance)
    if (~near).any():
        values.append(on - p[~near].max())
    return float(min(values)) if values else float("nan")
