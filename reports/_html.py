"""The HTML report of a run: ``highfive report RUN`` writes ``RUN/report.html``.

One self-contained file a release manager reads top to bottom: the gate verdict, the
campaign's facts, failure rates by verdict and model agreement, coverage and
failure-rate heatmaps of the most informative 2-way crosses, the worst cells, failure
regions and a few failing cases replayed. Images are inline PNG (``data:`` URIs), CSS
is inline, and the only script is a small inline check that every image decoded (a
browser test reads its verdict from ``body[data-rendered]``).

Only aggregated data is read in bulk: ``coverage/cells.parquet`` filtered by cross,
``summary.json``, and three columns of the results (case, predicted count, verdict), so
a run of millions of cases reports in seconds. Failing cases are regenerated with
:func:`highfive.harness.replay_loaded` rather than read from the failure corpus.

This module puts the report together; the work is done by :mod:`._read` (the run's
files), :mod:`._scan` (verdicts and the cases to show), :mod:`._grids` (the crosses
shown), :mod:`._heatmaps` and :mod:`._cases` (figures), and :mod:`._sections`,
:mod:`._coverage_sections` and :mod:`._markup` (HTML).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highfive.generators import InvalidParameter
from highfive.harness import FAIL_VERDICTS, atomic_write_text, is_failure

from ._cli import DEFAULT_CASES
from ._coverage_sections import coverage_section, regions_section, worst_section
from ._grids import PairGrid, RateScale, grids, select_pairs
from ._markup import CHECK, CSS, esc
from ._read import (
    Log,
    check_coverage,
    coverage_dir,
    coverage_meta,
    open_run,
    read_gate,
    read_json,
    read_messages,
)
from ._scan import Scan, pick_cases, scan_results
from ._sections import (
    RunRates,
    campaign_section,
    cases_section,
    gate_section,
    kpi_cards,
    results_section,
)

if TYPE_CHECKING:  # the figures need matplotlib: imported only to write a report
    from ._cases import CaseView

__all__ = ["DEFAULT_CASES", "write_report"]


def write_report(
    run_path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    cases: int = DEFAULT_CASES,
    bins: str | os.PathLike[str] | None = None,
    log: Log | None = None,
) -> Path:
    """Write the HTML report of a finished run; return its path.

    Parameters
    ----------
    run_path : path
        Run directory (``highfive run``). Its coverage is computed first if
        ``RUN/coverage/`` is missing; ``RUN/gate.json`` is shown if present.
    out : path, optional
        Report file (default ``RUN/report.html``); written atomically.
    cases : int
        How many failing cases to replay and plot (worst verdict kinds first).
    bins : path, optional
        A bins file: the coverage is computed with it first, into ``RUN/coverage/``,
        as ``highfive coverage RUN --bins BINS`` computes it (a bad file is refused
        before anything is read or written).
    log : callable, optional
        Receives one line per step worth telling (e.g. ``print``).

    Returns
    -------
    Path
        The report file.

    Raises
    ------
    RunDirError
        The run directory is missing, incomplete, or its files are unreadable.
    ConfigError
        The bins file is unreadable or does not fit the run.
    """
    if isinstance(cases, bool) or not isinstance(cases, int) or cases < 0:
        shown = cases.item() if hasattr(cases, "item") else cases  # a numpy scalar, plainly
        raise InvalidParameter(f"cases: {shown!r} must be a whole number >= 0, e.g. 4")
    path = Path(run_path)
    dest = Path(out) if out is not None else path / "report.html"
    if dest.is_dir():
        raise InvalidParameter(f"--out: {os.fspath(dest)!r} is a directory; give a file name")
    settings = None
    if bins is not None:
        from highfive.coverage import load_settings

        settings = load_settings(bins)  # first: a bad bins file reads and writes nothing
    run, record = open_run(path)
    gate = read_gate(path)  # before coverage is computed: a damaged gate.json writes nothing
    cov = coverage_dir(path, log, settings)
    summary = read_json(cov / "summary.json", "re-run 'highfive coverage RUN'")
    check_coverage(summary, record, cov)
    meta = coverage_meta(cov)
    models = [str(m["id"]) for m in record.get("models", [])]
    scan = scan_results(run, models, int(record["config"]["cases"]))
    min_cases = int(summary.get("min_cases", 1))
    weighted = "weighting" in summary  # the coverage's cases not drawn from the whole space
    pairs = select_pairs(meta, summary)
    shown = grids(cov, meta, pairs, models, min_cases, weighted=weighted)
    picks = pick_cases(scan, cases)
    stored = {c: scan.stored(c) for c in picks}
    failing = {c: [m for m, (v, _) in s.items() if is_failure(v)] for c, s in stored.items()}
    messages = read_messages(run, int(record["config"]["batch_size"]), failing)
    if log and picks:
        log(f"replaying {len(picks)} failing case(s): {', '.join(map(str, picks))}")
    from ._cases import case_views

    views = case_views(path, picks, stored, messages)

    # The failures, agreement and cases are this run's alone, merged coverage or not.
    from highfive.coverage import sampler_design

    drawn = sampler_design(record["config"].get("sampler"), os.fspath(path)) != "base"
    text = _render(
        path=path,
        record=record,
        gate=gate,
        summary=summary,
        rates=RunRates.of(summary, drawn),
        scan=scan,
        grids=shown,
        views=views,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    atomic_write_text(dest, text)
    return dest


def _render(
    *,
    path: Path,
    record: Mapping[str, Any],
    gate: Mapping[str, Any] | None,
    summary: Mapping[str, Any],
    rates: RunRates,
    scan: Scan,
    grids: Sequence[PairGrid],
    views: Sequence[CaseView],
    generated: str,
) -> str:
    """The whole page: header, every section, the figures drawn here."""
    from ._heatmaps import agreement_figure, pair_figure
    from ._plots import figure_png_base64

    scale = RateScale.for_grids(grids)
    pngs = [figure_png_base64(pair_figure(g, scale)) for g in grids]
    pair = (scan.models[0], scan.models[1]) if scan.confusion is not None else None
    agreement = figure_png_base64(
        agreement_figure(
            scan.verdicts,
            FAIL_VERDICTS,
            scan.confusion,
            pair,
            scan.agree,
            scan.unanswered,
            weighted=rates.of_drawn,
        )
    )
    name = str(record.get("name", path.name))
    run_arg = os.fspath(path)
    body = [
        f"<header><h1>highfive verification report: {esc(name)}</h1>"
        f'<div class="sub">run directory {esc(run_arg)} · generated {esc(generated)}</div>'
        '<nav><a href="#verdict">verdict</a><a href="#campaign">campaign</a>'
        '<a href="#results">failures</a><a href="#coverage">coverage</a>'
        '<a href="#worst">worst cells</a><a href="#regions">regions</a>'
        '<a href="#cases">failing cases</a></nav></header>',
        gate_section(gate, kpi_cards(record, summary, scan, gate, rates)),
        campaign_section(path, record),
        results_section(scan, run_arg, agreement, rates),
        coverage_section(summary, grids, pngs, scan.models, gate, run_arg),
        worst_section(summary),
        regions_section(summary),
        cases_section(views, run_arg, recorded=bool(record.get("config", {}).get("recordings"))),
        f"<footer>highfive {esc(record.get('versions', {}).get('highfive', ''))} · "
        "self-contained report: no external files.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>highfive report: {esc(name)}</title><style>{CSS}</style>"
        f"<script>{CHECK}</script></head>\n<body><main>"
        + "\n".join(body)
        + "</main></body></html>\n"
    )
