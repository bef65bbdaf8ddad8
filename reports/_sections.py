"""The report's sections about the run: verdict, campaign, failures by verdict, cases.

Each function returns one section of HTML from data already read (the gate, the
campaign record, the scan of the results, the views of the failing cases).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highfive.coverage import cp_upper
from highfive.harness import FAIL_VERDICTS, SEVERITY

from ._markup import (
    cases_rule,
    chip,
    covered_share,
    esc,
    fmt,
    html_table,
    img,
    num,
    one_line,
    percent,
    short_sha,
)
from ._scan import Scan

if TYPE_CHECKING:  # the case views draw with matplotlib: imported only to write a report
    from ._cases import CaseView

__all__ = [
    "campaign_section",
    "cases_section",
    "gate_coverage",
    "gate_section",
    "kpi_cards",
    "results_section",
]

_KEY_PARAMS = (
    "motion",
    "repetitions",
    "distractor",
    "background",
    "sample_rate",
    "sensor_range",
    "peak_accel",
    "impact_peak",
)


def gate_section(gate: Mapping[str, Any] | None, kpis: str) -> str:
    """The verdict banner, the key numbers, then the gate's criteria (failed first)."""
    if gate is None:
        return (
            '<div class="banner neutral" id="verdict"><span class="big">no gate evaluated</span>'
            '<span class="what">run <code>highfive gate RUN --gate GATE.toml</code> to judge '
            "this run against release criteria</span></div>" + kpis
        )
    verdict = str(gate["verdict"])
    crit = list(gate.get("criteria", []))
    passed = sum(bool(c.get("passed")) for c in crit)
    conf = gate.get("confidence")
    what = f"{passed} of {len(crit)} criteria met"
    if isinstance(conf, int | float):
        what += f" at {100 * conf:g}% confidence"
    banner = (
        f'<div class="banner {esc(verdict)}" id="verdict"><span class="big">'
        f'{esc(verdict.upper())}</span><span class="what">release gate: {esc(what)}'
        f'<br><span style="opacity:.85;font-size:13px">gate file {esc(gate.get("gate_file", "?"))}'
        f", evaluated {esc(gate.get('evaluated', '?'))}</span></span></div>"
    )
    rows = [
        [
            chip("pass" if c.get("passed") else "fail"),
            esc(c.get("name", "")),
            esc(c.get("kind", "")).replace("_", "_<wbr>"),  # may break after "_"
            esc(c.get("model", "") or "all"),
            num(c.get("threshold")),
            num(c.get("value")),
            esc(c.get("detail", "")),
        ]
        for c in sorted(crit, key=lambda c: bool(c.get("passed")))
    ]
    head = ["", "criterion", "kind", "model", "threshold", "value", "detail"]
    table = html_table(head, rows, wrap=(6,))
    return banner + kpis + ("<h3>Gate criteria (failed first)</h3>" + table if rows else "")


_GATE_2WAY = re.compile(r"\b2-way \d+(?:\.\d+)?% \(([\d,]+)/([\d,]+) cells\)")
_GATE_MIN_CASES = re.compile(r"with >= (\d+) cases")


def gate_coverage(gate: Mapping[str, Any] | None, model: str) -> tuple[int, int, int] | None:
    """The gate's 2-way coverage figure of ``model``: (covered, cells, min_cases), or None
    when the gate has no coverage criterion over 2-way cells for it."""
    for c in (gate or {}).get("criteria", []):
        if c.get("kind") != "coverage" or c.get("model") != model:
            continue
        cells = _GATE_2WAY.search(str(c.get("detail", "")))
        rule = _GATE_MIN_CASES.search(str(c.get("threshold", "")))
        if cells and rule:
            covered, total = (int(x.replace(",", "")) for x in cells.groups())
            return covered, total, int(rule.group(1))
    return None


@dataclass(frozen=True)
class RunRates:
    """Which failure rates the headline and the failures table show: the run's own.

    Attributes
    ----------
    weighted : mapping, optional
        The run's weighted whole-space estimate per model (its coverage summary's
        ``weighting.overall``), when its cases were not drawn from the whole space.
    drawn_only : bool
        The run's cases were not drawn from the whole space and no estimate of its own
        is at hand (its coverage is merged with other runs): its shares are of the
        cases drawn.
    pooled : mapping, optional
        A merged coverage's weighted estimate per model, over the cases of all its
        ``runs``: not this run's, and shown as such.
    """

    weighted: Mapping[str, Any] | None = None
    drawn_only: bool = False
    pooled: Mapping[str, Any] | None = None
    runs: int = 1
    confidence: float = 0.95

    @classmethod
    def of(cls, summary: Mapping[str, Any], weighted_run: bool) -> RunRates:
        """The rates of a run (``weighted_run``: sampled otherwise than from the whole
        space) whose coverage summary is ``summary``."""
        runs = len([r for r in summary.get("runs", []) if isinstance(r, str)])
        overall = summary.get("weighting", {}).get("overall")
        confidence = float(summary.get("confidence", 0.95))
        if runs < 2:
            return cls(weighted=overall, confidence=confidence)
        return cls(drawn_only=weighted_run, pooled=overall, runs=runs, confidence=confidence)

    @property
    def of_drawn(self) -> bool:
        """Whether the run's plain shares are of cases not drawn from the whole space."""
        return self.weighted is not None or self.drawn_only


def kpi_cards(
    record: Mapping[str, Any],
    summary: Mapping[str, Any],
    scan: Scan,
    gate: Mapping[str, Any] | None = None,
    rates: RunRates | None = None,
) -> str:
    """The key numbers under the banner: cases, failing shares, agreement, coverage.

    The coverage card says its rule (cells with at least so many cases); when the gate
    judged 2-way coverage of the first model, the card shows the gate's figure and rule,
    so that it never contradicts the criteria table beside it. ``rates`` (default: of
    ``summary``, the run's own coverage) says which failure rates are the run's.
    """
    rates = rates or RunRates.of(summary, "weighting" in summary)
    items = [(f"{int(record['config']['cases']):,}", "cases per model")]
    weighted = rates.weighted
    # Of the cases drawn: for weighted cases, not an estimate of the whole space's.
    drawn = ", of the cases drawn (not weighted)" if rates.of_drawn else ""
    for m in scan.models:
        v = scan.verdicts.get(m, {})
        n = sum(v.values())
        if weighted is None:
            items.append((percent(n - v.get("pass", 0), n), f"failing cases, {m}{drawn}"))
        else:  # the cases drawn are not the whole space's: its weighted estimate
            items.append(_weighted_card(weighted.get(m, {}), m, rates.confidence))
    if scan.confusion is not None:
        items.append(
            (
                percent(scan.agree, scan.compared),
                f"count agreement {scan.models[0]} / {scan.models[1]}{drawn}",
            )
        )
    first = next(iter(summary.get("models", {}).items()), None)
    if first is not None:
        name, m = first
        two = m.get("coverage", {}).get("by_t", {}).get("2")
        judged = gate_coverage(gate, name)
        if judged is not None:
            covered, cells, k = judged
            items.append(
                (covered_share(covered, cells), f"2-way cells with {cases_rule(k)} ({name}, gate)")
            )
        elif two:
            share = covered_share(two["covered"], two["cells"])
            k = int(summary.get("min_cases", 1))
            items.append((share, f"2-way cells with {cases_rule(k)} ({name})"))
        status = m.get("status", {})
        target = f"p_target {num(summary.get('p_target'))}"
        items.append((f"{status.get('failing', 0):,}", f"cells failing {target} ({name})"))
    cards = "".join(
        f'<div class="kpi"><div class="v">{v}</div>'
        f'<div class="l" title="{esc(lbl)}">{esc(lbl)}</div></div>'
        for v, lbl in items
    )
    return f'<div class="kpis">{cards}</div>'


def _weighted(w: Mapping[str, Any]) -> tuple[float, float, float, bool]:
    """A weighted estimate's rate, lower and upper bound, and whether it is decided
    (an upper bound of 1 says nothing: no finite weight bound, too few effective cases,
    or a defensive share too small for the cases drawn)."""
    rate = float(w.get("rate", float("nan")))
    upper, lower = float(w.get("upper", 1.0)), float(w.get("lower", 0.0))
    return rate, lower, upper, not (w.get("status") != "decided" or upper >= 1)


def _weighted_card(w: Mapping[str, Any], model: str, confidence: float) -> tuple[str, str]:
    """The headline of a model's weighted whole-space estimate, never without its bound:
    the estimate and its upper bound, or "undecided" and the bounds when they say
    nothing (an upper bound of 1: no finite weight bound, too few effective cases, or
    a defensive share too small for the cases drawn)."""
    rate, lower, upper, decided = _weighted(w)
    if not decided:
        return "undecided", (
            f"weighted failure rate, {model}: bounds [{100 * lower:.2f}%, {100 * upper:.2f}%]"
        )
    return f"{100 * rate:.2f}%", (
        f"weighted failure rate, {model} ({100 * confidence:g}% upper bound {100 * upper:.2f}%)"
    )


def _estimate(w: Mapping[str, Any]) -> str:
    """A weighted estimate in a sentence, as :func:`_weighted_card` shows it: the rate
    and its upper bound, or "undecided" and the bounds when they say nothing."""
    rate, lower, upper, decided = _weighted(w)
    if not decided:
        return f"undecided (bounds {100 * lower:.2f}% to {100 * upper:.2f}%)"
    return f"{100 * rate:.2f}% (upper bound {100 * upper:.2f}%)"


def campaign_section(path: Path, record: Mapping[str, Any]) -> str:
    """The campaign's facts, its counters (id, kind, source, hash, size) and versions."""
    cfg = record.get("config", {})
    started, finished = record.get("started"), record.get("finished")
    took = ""
    try:
        delta = dt.datetime.fromisoformat(str(finished)) - dt.datetime.fromisoformat(str(started))
        secs = int(delta.total_seconds())
        took = f" ({secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d})"
    except (TypeError, ValueError):
        pass
    space = cfg.get("space") or {}
    recordings = cfg.get("recordings") or {}
    if recordings:  # sampled nothing: its cases are the files its labels list
        files = record.get("identity", {}).get("recording_files")
        folder = Path(str(cfg.get("base") or ".")) / str(recordings.get("folder"))
        design = [
            ("recordings folder", esc(folder)),
            ("labels file", esc(recordings.get("labels"))),
            ("recordings", num(len(files) if isinstance(files, list) else cfg.get("cases"))),
            ("metadata", esc(", ".join(map(str, recordings.get("metadata") or ())) or "none")),
        ]
    else:
        design = [
            ("sampler", esc(cfg.get("sampler"))),
            ("seed", esc(cfg.get("seed"))),
        ]
    facts = [
        ("run", f"{esc(record.get('name', path.name))} <span class=sub>{esc(path)}</span>"),
        ("status", chip(str(record.get("status")), "pass")),
        ("cases", num(cfg.get("cases"))),
        *design,
        ("batch size", num(cfg.get("batch_size"))),
        ("tolerance", f"{esc(cfg.get('tolerance'))} s"),
    ]
    if not recordings:
        facts.append(("space", esc(json.dumps(space)) if space else "the whole default space"))
    facts += [("started", esc(started)), ("finished", esc(finished) + esc(took))]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    models = html_table(
        ["model", "kind", "source", "sha256", "bytes"],
        [
            [
                f"<b>{esc(m.get('id'))}</b>",
                esc(m.get("kind", "onnx")),
                esc(m.get("source")),
                short_sha(str(m.get("sha256", ""))),
                num(m.get("bytes")),
            ]
            for m in record.get("models", [])
        ],
        num=(4,),
        wrap=(2,),  # long counter sources (paths, file.py:attr)
    )
    versions = ", ".join(f"{esc(k)} {esc(v)}" for k, v in record.get("versions", {}).items())
    return (
        f'<h2 id="campaign">Campaign</h2><div class="cols"><div><table class="facts">{rows}'
        f"</table></div><div><h3>Models</h3>{models}<h3>Library versions</h3>"
        f'<p class="sub">{versions}</p></div></div>'
    )


def results_section(
    scan: Scan, run_name: str, agreement_png: str, rates: RunRates | None = None
) -> str:
    """Cases and failures by verdict per model, with bounds, and the models' agreement.

    ``rates.weighted``: the weighted estimate of a run whose cases are weighted (focus
    boxes, a proposal); its rates and bounds replace the plain ones, which would treat
    the cases as draws of the whole space. A merged coverage's pooled estimate is said
    under the table as the estimate of all its runs.
    """
    rates = rates or RunRates()
    weighted = rates.weighted
    rows = []
    for m in scan.models:
        v = scan.verdicts.get(m, {})
        n = sum(v.values())
        k = n - v.get("pass", 0)
        if weighted is None:
            rate, up = percent(k, n), f"{100 * float(cp_upper(k, n)[()]) if n else 100.0:.2f}%"
        else:
            w = weighted.get(m, {})
            rate = f"{100 * float(w.get('rate', float('nan'))):.2f}%"
            up = f"{100 * float(w.get('upper', 1.0)):.2f}%"
            if w.get("status") != "decided":
                up += " (undecided)"
        rows.append(
            [f"<b>{esc(m)}</b>", num(n), num(k), rate, up]
            + [num(v.get(x, 0)) for x in FAIL_VERDICTS]
        )
    head = [
        "model",
        "cases",
        "failing",
        "failure rate" if weighted is None else "weighted failure rate",
        "95% upper bound",
        *(x.replace("_", " ") for x in FAIL_VERDICTS),
    ]
    note = (
        "upper bound: one-sided Clopper-Pearson at 95% over all cases."
        if weighted is None and not rates.drawn_only
        else "This run's cases were not drawn from the whole space: failure rate and upper "
        "bound are of the cases drawn, not estimates of the whole space's."
        if weighted is None
        else "The cases were not drawn from the whole space, so each is weighted by the "
        "ratio of the base to the sampling density: failure rate and upper bound are the "
        "weighted estimate and bound over the whole space (see coverage); the case counts "
        "are of the cases drawn."
    )
    if rates.pooled is not None:
        pooled = ", ".join(
            f"{esc(m)} {_estimate(w)}" for m, w in rates.pooled.items() if isinstance(w, Mapping)
        )
        note += (
            f" The coverage below is merged from {rates.runs} runs; their pooled weighted "
            f"estimate over the whole space, of all their cases rather than this run's: "
            f"{pooled}."
        )
    out = [
        '<h2 id="results">Failures and model agreement</h2>',
        html_table(head, rows, num=tuple(range(1, len(head)))),
        f'<p class="sub">{note}</p>',
    ]
    share = (
        "share of cases per failing verdict"
        if not rates.of_drawn
        else "share of the cases drawn per failing verdict, not weighted"
        + (" (the weighted failure rate is the table's)" if weighted is not None else "")
    )
    if scan.confusion is not None:
        alt = "failure rate by verdict; count agreement"
        caption = (
            f"Left: {share}, by model. Right: cases by the count "
            "each model predicted (diagonal = same count; the last row and column hold every "
            "count from there up, equal or not)."
        )
    else:
        alt, caption = "failure rate by verdict", f"{share.capitalize()}."
    out.append(f"<figure>{img(agreement_png, alt)}<figcaption>{caption}</figcaption></figure>")
    if scan.confusion is not None:
        a, b = scan.models[0], scan.models[1]
        differ = scan.compared - scan.agree
        out.append(
            f"<p>{esc(a)} and {esc(b)} predict the same count in <b>{scan.agree:,}</b> of "
            f"{scan.compared:,} cases ({percent(scan.agree, scan.compared)}); they differ in "
            f"{differ:,}"
            + (
                f", {scan.unanswered:,} of them without a count from one (error or timeout)"
                if scan.unanswered
                else ""
            )
            + ".</p>"
        )
        if scan.disagree:
            ids = ", ".join(f"<code>{c}</code>" for c in scan.disagree)
            more = " (first ones)" if differ > len(scan.disagree) else ""
            out.append(
                f"<p>cases where the counts differ{more}: {ids}; replay one with "
                f"<code>highfive replay {esc(run_name)} CASE_ID --plot case.png</code>.</p>"
            )
    return "".join(out)


def cases_section(views: Sequence[CaseView], run_name: str, *, recorded: bool = False) -> str:
    """The failing cases shown, each with its verdicts, messages, plot and parameters
    (``recorded``: the run's cases are recordings, read again rather than regenerated)."""
    again = (
        "read again from its recording (the file the run hashed) and judged by the labels "
        "the run recorded"
        if recorded
        else "regenerated bit-identically from the campaign's seed"
    )
    out = [
        '<h2 id="cases">Failing cases</h2>',
        "<p>Chosen deterministically: one case per failing verdict, worst kind first "
        f"({', '.join(SEVERITY)}), lowest case id first; {again}, and replayed through "
        "every model.</p>",
    ]
    if not views:
        out.append('<p class="none">no failing case to show</p>')
    for v in views:
        verdicts = " ".join(f"{esc(m)} {chip(x)}" for m, x in v.verdicts.items())
        counts = ", ".join(f"{esc(m)} {c}" for m, c in v.counts.items())
        true = "" if v.true_count is None else f"true count {v.true_count}; "
        key = ", ".join(f"{esc(k)}={esc(fmt(v.params[k]))}" for k in _KEY_PARAMS if k in v.params)
        everything = "".join(
            f"<tr><th>{esc(k)}</th><td>{esc(fmt(x))}</td></tr>" for k, x in v.params.items()
        )
        out.append(f'<h3 id="case-{v.case}">case {v.case} {verdicts}</h3>')
        out.append(f"<p>{true}predicted: {counts or '–'}<br><span class=sub>{key}</span></p>")
        for m, text in v.messages.items():
            out.append(
                f'<p class="message">message of {esc(m)}: <code>{esc(one_line(text))}</code></p>'
            )
        if v.note:
            out.append(f'<p class="note">{esc(v.note)}</p>')
        if v.image:
            what = (
                "trace with truth events (green: high-five), scalogram, and each model's "
                "window probabilities with its detections"
                if v.replayed
                else "stored trace with truth events (green: high-five) and the first "
                "model's detections"
            )
            out.append(
                f"<figure>{img(v.image, f'case {v.case}')}<figcaption>{what}. Reproduce: "
                f"<code>highfive replay {esc(run_name)} {v.case} --plot case.png</code>"
                "</figcaption></figure>"
            )
        if everything:
            out.append(
                f'<details><summary>all parameters</summary><table class="facts">{everything}'
                "</table></details>"
            )
    return "".join(out)
