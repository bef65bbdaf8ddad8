"""Judging one case: every counter on one trace, then the oracle.

The one function campaigns, replay and shrink share, so a replayed case is judged
exactly as the campaign judged it, error and timeout verdicts included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from highfive.generators import Detection, Trace

from ._oracle import Score, margin, score
from ._pipeline import CountResult
from ._records import FailureCase, Outcome
from ._verdicts import NO_ANSWER, is_failure
from .counters import CounterFault, CounterPlugin, plain_result

__all__ = ["Judged", "judge"]


@dataclass(frozen=True)
class Judged:
    """One trace judged for every counter, keyed by counter id."""

    trace: Trace
    outcomes: dict[str, Outcome]
    results: dict[str, CountResult | None]  # None: the counter gave no answer
    scores: dict[str, Score]

    @property
    def failed(self) -> bool:
        return any(is_failure(o.verdict) for o in self.outcomes.values())

    @property
    def agree(self) -> bool:
        """Whether every counter gave a count, and the same one (a counter that gave no
        answer, ``error`` or ``timeout``, agrees with none: see :func:`counts_agree`)."""
        if len(self.outcomes) <= 1:
            return True
        answered = all(o.verdict not in NO_ANSWER for o in self.outcomes.values())
        return answered and len({o.predicted_count for o in self.outcomes.values()}) == 1

    def failure_case(self, case_id: int) -> FailureCase:
        """This case as the failure corpus keeps it."""
        dets: dict[str, list[Detection]] = {
            m: (r.detections if r is not None else []) for m, r in self.results.items()
        }
        messages = {m: o.message for m, o in self.outcomes.items() if o.message}
        verdicts = {m: o.verdict for m, o in self.outcomes.items()}
        return FailureCase(case_id, self.trace, verdicts, dets, messages)


def judge(
    counters: Mapping[str, CounterPlugin],
    trace: Trace,
    tolerance: float,
    *,
    chunk_s: float = 0.0,
) -> Judged:
    """Run every counter on ``trace`` and judge its detections against the truth."""
    motions = ",".join(e.motion for e in trace.events)
    cache: dict[Any, Any] = {}
    outcomes: dict[str, Outcome] = {}
    results: dict[str, CountResult | None] = {}
    scores: dict[str, Score] = {}
    for cid, counter in counters.items():
        try:
            res = counter.count(trace, chunk_s=chunk_s, cache=cache)
        except CounterFault as fault:
            # No answer: it counted nothing (every high-five a miss); the verdict says why.
            s = score(trace.events, [], tolerance)
            nothing = _outcome(trace, motions, s, plain_result([]), counter, tolerance)
            outcomes[cid] = replace(nothing, verdict=fault.verdict, message=fault.message)
            results[cid], scores[cid] = None, s
            continue
        s = score(trace.events, res.detections, tolerance)
        outcomes[cid] = _outcome(trace, motions, s, res, counter, tolerance)
        results[cid], scores[cid] = res, s
    return Judged(trace, outcomes, results, scores)


def _outcome(
    trace: Trace,
    motions: str,
    s: Score,
    res: CountResult,
    counter: CounterPlugin,
    tolerance: float,
) -> Outcome:
    on = counter.threshold_on
    has_probs = res.probs.size > 0
    return Outcome(
        duration_s=trace.duration,
        n_samples=trace.t.size,
        motions=motions,
        true_count=s.true_count,
        predicted_count=s.predicted_count,
        tp=s.tp,
        fp=s.fp,
        fn=s.fn,
        duplicates=s.duplicates,
        count_error=s.count_error,
        verdict=s.verdict,
        margin=(
            margin(trace.events, res.centres, res.probs, on, tolerance)
            if has_probs and on is not None
            else math.nan
        ),
        max_prob=float(res.probs.max()) if has_probs else math.nan,
        detection_times=[d.time for d in res.detections],
        latency_s=_latency(s, res.emitted),
    )


def _latency(s: Score, emitted: np.ndarray | None) -> float:
    """Worst emission-minus-impact over the matched detections (NaN if none)."""
    if emitted is None:
        return math.nan
    lat = [
        float(e) - ref
        for e, ref in zip(emitted.tolist(), s.matched, strict=True)
        if ref is not None
    ]
    return max(lat) if lat else math.nan
