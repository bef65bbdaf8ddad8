"""The failing cases a report shows: each regenerated, replayed through every counter and plotted.

A case is replayed bit for bit from the campaign's seed (:func:`highfive.harness.replay_loaded`)
and plotted with its truth events, the scalogram and each model's window probabilities.
When the run's counters cannot be loaded, the raw trace of the failure corpus is plotted
instead, with the reason in the view's note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from highfive.generators import HighfiveError
from highfive.harness import FailureCase, LoadedRun, load_run, replay_loaded

from ._plots import figure_png_base64, plot_replay, plot_trace

__all__ = ["CaseView", "case_views"]


@dataclass
class CaseView:
    """One failing case as the report shows it.

    ``verdicts`` and ``counts`` are per model; ``image`` is base64 PNG (None if no plot
    could be made); ``note`` says what went wrong, if anything; ``replayed`` is False
    when the image shows the stored trace instead of a replay; ``messages`` holds the
    campaign's message of each model whose verdict was ``error`` or ``timeout``.
    """

    case: int
    verdicts: dict[str, str]
    counts: dict[str, int]
    true_count: int | None
    params: dict[str, Any]
    image: str | None
    note: str = ""
    replayed: bool = True
    messages: dict[str, str] = field(default_factory=dict)


def case_views(
    path: Path,
    picks: Sequence[int],
    stored: Mapping[int, Mapping[str, tuple[str, int]]],
    messages: Mapping[int, Mapping[str, str]] | None = None,
) -> list[CaseView]:
    """Regenerate each picked case, run every model, and plot it.

    The plot shows the trace with its truth events, the scalogram and each model's
    window probabilities with its detections (:func:`.plot_replay`; counters without
    window probabilities show their detections only).
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
    messages : mapping of case id to (model -> message), optional
        The campaign's messages of error and timeout verdicts, kept in the views.
    """
    if not picks:
        return []
    try:
        loaded = load_run(path)
    except HighfiveError as exc:
        rows = _corpus_rows(path, picks)
        views = [_from_corpus(c, rows.get(c), stored.get(c, {}), str(exc)) for c in picks]
    else:
        views = []
        for case in picks:
            try:
                views.append(_replayed(loaded, case))
            except HighfiveError as exc:
                row = _corpus_rows(path, [case]).get(case)
                views.append(_from_corpus(case, row, stored.get(case, {}), str(exc)))
    for v in views:
        v.messages = dict((messages or {}).get(v.case, {}))
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


def _replayed(loaded: LoadedRun, case: int) -> CaseView:
    rep = replay_loaded(loaded, case)
    outcomes = rep.outcomes  # every counter's, errors and timeouts included
    verdicts: dict[str, str] = {m: o.verdict for m, o in outcomes.items()}
    # The first counter with a model front end (an ONNX model's spec) draws the scalogram.
    spec = next((c.spec for c in loaded.counters.values() if c.spec is not None), None)
    title = f"case {case}: " + ", ".join(f"{m} {v}" for m, v in verdicts.items())
    image = figure_png_base64(plot_replay(rep.trace, rep.results, spec=spec, title=title))
    counts = {m: o.predicted_count for m, o in outcomes.items()}
    differ = rep.differing()
    note = ""
    if differ:
        note = (
            f"the regenerated result of {', '.join(differ)} differs from the campaign's stored "
            "row (other library versions?)"
        )
    true = next(iter(outcomes.values())).true_count if outcomes else None
    return CaseView(case, verdicts, counts, true, dict(rep.row), image, note)


def _from_corpus(
    case: int, r: Mapping[str, Any] | None, stored: Mapping[str, tuple[str, int]], why: str
) -> CaseView:
    """Fallback when replay is impossible: the raw trace stored in the failure corpus."""
    verdicts = {m: v for m, (v, _) in stored.items()}
    counts = {m: c for m, (_, c) in stored.items()}
    if r is None:
        return CaseView(case, verdicts, counts, None, {}, None, f"replay failed: {why}")
    stored_case = FailureCase.decode(r)
    trace, dets = stored_case.trace, stored_case.detections
    first = next(iter(dets), "")
    title = f"case {case}: stored trace, detections of {first}"
    image = figure_png_base64(plot_trace(trace, dets.get(first, []), title=title))
    counts = counts or {m: len(d) for m, d in dets.items()}
    true = trace.n_high_fives
    note = f"replay failed ({why}); the trace stored in the failure corpus is shown"
    return CaseView(
        case,
        dict(stored_case.verdicts),
        counts,
        true,
        dict(trace.params),
        image,
        note,
        replayed=False,
    )
