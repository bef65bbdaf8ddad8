"""Judging one recorded case: every counter on a labelled recording, then the oracle.

The recording is read as ``highfive count`` reads it (:func:`open_recording`: columns,
units and rate inferred; :func:`count_recording`: gaps split it into segments counted
apart), from the bytes the campaign shipped with the case, so a worker needs no access
to the recordings folder: they are written to a private temporary file, which is
removed again. Its truth is the labels file's: impact times, matched by :func:`score`
with the campaign's tolerance exactly as a synthetic case's, or only a count, judged
by :func:`score_count`. A recording with no stretch between gaps as long as a
counter's window never gets here (the campaign refuses it before it starts:
:func:`check_windows`); a counter that fails is an ``error`` with the reason.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from highfive.generators import Detection, Event, InvalidParameter, Trace

from ._case import Judged, _outcome
from ._labels import RecordingCase
from ._oracle import Score, score, score_count
from ._pipeline import CountResult
from ._recording import open_recording, read_recording
from ._recording_count import count_recording
from ._records import Outcome
from .counters import CounterFault, CounterPlugin, plain_result

__all__ = ["judge_recording", "recording_trace"]


def _truth(case: RecordingCase) -> tuple[Event, ...]:
    # A high-five known by its impact alone: its extent is the instant of impact.
    return tuple(Event("high_five", t, t, t, True) for t in case.high_fives or ())


def recording_trace(case: RecordingCase, path: Path) -> Trace:
    """The whole recording at ``path`` as a trace with the case's truth and labels."""
    trace, _ = read_recording(path, units=case.units, time_unit=case.time_unit, advise="campaign")
    params = {"recording": case.file, **dict(case.metadata)}
    return Trace(trace.t, trace.samples, trace.fs, _truth(case), params)


def judge_recording(
    counters: Mapping[str, CounterPlugin], case: RecordingCase, tolerance: float
) -> Judged:
    """Run every counter on a recorded case and judge its detections against the labels.

    Raises
    ------
    InvalidParameter
        The bytes do not match the case's SHA-256 (they were altered on the way).
    """
    if hashlib.sha256(case.data).hexdigest() != case.sha256:
        raise InvalidParameter(f"recording {case.file}: its bytes do not match its SHA-256")
    with tempfile.TemporaryDirectory(prefix="highfive-rec-") as tmp:
        path = Path(tmp) / Path(case.file).name
        path.write_bytes(case.data)
        recording = open_recording(
            path, units=case.units, time_unit=case.time_unit, advise="campaign"
        )
        trace = recording_trace(case, path)
        motions = ",".join(e.motion for e in trace.events)
        outcomes: dict[str, Outcome] = {}
        results: dict[str, CountResult | None] = {}
        scores: dict[str, Score] = {}
        for cid, counter in counters.items():
            try:
                counted = count_recording(recording, counter, windows=True)
            except (CounterFault, InvalidParameter) as exc:
                # No answer: it counted nothing; the verdict says why.
                verdict = exc.verdict if isinstance(exc, CounterFault) else "error"
                message = exc.message if isinstance(exc, CounterFault) else str(exc)
                s = _judge(case, [], tolerance)
                nothing = _outcome(trace, motions, s, plain_result([]), counter, tolerance)
                outcomes[cid] = replace(nothing, verdict=verdict, message=message)
                results[cid], scores[cid] = None, s
                continue
            found = counted.detections
            # The windows' probabilities, as for a synthetic case: max_prob and margin
            # (they were NaN for every recorded case) and the report's probability panel.
            res = CountResult(found, *counted.windows) if counted.windows else plain_result(found)
            s = _judge(case, found, tolerance)
            outcomes[cid] = _outcome(trace, motions, s, res, counter, tolerance)
            results[cid], scores[cid] = res, s
    return Judged(trace, outcomes, results, scores)


def _judge(case: RecordingCase, detections: list[Detection], tolerance: float) -> Score:
    if case.high_fives is None:
        return score_count(case.count, len(detections))
    return score(_truth(case), detections, tolerance)
