"""The report's sections about coverage: cells covered, the worst cells, failure regions.

Each function returns one section of HTML from ``coverage/summary.json`` (and, for the
coverage section, the heatmaps already drawn).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from highfive.coverage import cp_interval, rate_note, shown_rate

from ._grids import PairGrid, short, shortened
from ._markup import cases_rule, chip, covered_share, esc, html_table, img, num

__all__ = [
    "bins_note",
    "coverage_section",
    "focus_note",
    "merged_note",
    "regions_section",
    "targets_note",
    "weighted_note",
    "worst_section",
]


def targets_note(summary: Mapping[str, Any], gate: Mapping[str, Any] | None) -> str:
    """Which failure rate the cell status uses, with the numbers, and which thresholds
    the gate judged instead: many failing cells beside a passing gate is no contradiction.
    """
    p = summary.get("p_target")
    failing = " and ".join(
        f"<b>{num(s.get('status', {}).get('failing', 0))}</b> of {esc(m)}"
        for m, s in summary.get("models", {}).items()
    )
    text = (
        f"<b>Targets.</b> Cell status uses p_target = {num(p)}, the coverage statistics' "
        f"target: failing cells ({failing or 'none'}) are shown above it. "
    )
    if gate is None:
        text += (
            "A release gate judges cells against its own thresholds (its criteria's "
            "<code>p_max</code>), so failing cells here do not by themselves fail a gate."
        )
        return f'<p class="targets">{text}</p>'
    cells = [c for c in gate.get("criteria", []) if c.get("kind") == "cell_upper_bound"]
    verdict = esc(str(gate.get("verdict", "?")).upper())
    if not cells:
        text += (
            f"The release gate ({verdict}) has no per-cell criterion, so cell status does "
            "not enter its verdict."
        )
    else:
        rules = "; ".join(
            sorted({f"{esc(c.get('name'))}: {esc(c.get('threshold'))}" for c in cells})
        )
        text += (
            f"The release gate ({verdict}) judged cells against its own thresholds instead: "
            f"{rules}."
        )
    return f'<p class="targets">{text}</p>'


def merged_note(summary: Mapping[str, Any]) -> str:
    """Coverage merged from several runs (``highfive coverage A B`` writes it into A):
    said plainly, since the rest of the report is about this run alone."""
    runs = [str(r) for r in summary.get("runs", []) if isinstance(r, str)]
    if len(runs) < 2:
        return ""
    return (
        f'<p class="targets"><b>Merged coverage.</b> The cells below count the cases of '
        f"{len(runs)} runs ({', '.join(f'<code>{esc(r)}</code>' for r in runs)}); the "
        "failures, agreement and cases of this report are this run's alone.</p>"
    )


def weighted_note(summary: Mapping[str, Any]) -> str:
    """Coverage of weighted cases (a focus follow-up, an importance run): which rates
    the heatmaps and tables show, since the cases drawn are not a sample of the space."""
    if "weighting" not in summary:
        return ""
    return (
        '<p class="targets"><b>Weighted cases.</b> These cases were not drawn from the '
        "whole space, so each is weighted by the ratio of the base to the sampling "
        "density: the heatmaps colour each cell by its weighted failure rate (the "
        "Horvitz-Thompson estimate of <code>cells.parquet</code>, capped at 1), the "
        "difference map compares weighted rates, and bounds and status are weighted; "
        "case counts are of the cases drawn.</p>"
    )


def focus_note(summary: Mapping[str, Any], run: str) -> str:
    """The follow-up command when cells are undecided (untested or under-tested); for a
    campaign of recordings, which has none, what to record instead."""
    undecided = {
        m: int(s.get("status", {}).get("untested", 0))
        + int(s.get("status", {}).get("under-tested", 0))
        for m, s in summary.get("models", {}).items()
    }
    if not any(undecided.values()):
        return ""
    counts = " and ".join(f"{v:,} of {esc(m)}" for m, v in undecided.items())
    if summary.get("recordings"):
        return (
            f"<p>Undecided cells (untested or under-tested: {counts}): the cells of a "
            "campaign of recordings are label values, not regions of the parameter space "
            "a follow-up campaign could sample; record more of the under-tested ones "
            "instead.</p>"
        )
    cmd = f"highfive run --focus {shlex.quote(run)}"
    bins = summary.get("bins_file")
    if isinstance(bins, str) and bins:
        cmd += f" --bins {shlex.quote(bins)}"
    return (
        f"<p>Undecided cells (untested or under-tested: {counts}): a follow-up campaign "
        f"that spends its cases on them is <code>{esc(cmd)}</code>; its coverage merges "
        "with this run's.</p>"
    )


def bins_note(summary: Mapping[str, Any]) -> str:
    """Which bins the cells were counted with: the bins file (summary.json's
    ``bins_file``) or the defaults."""
    bins = summary.get("bins_file")
    if isinstance(bins, str) and bins:
        return f"Cells are counted with the bins file <code>{esc(bins)}</code>."
    return (
        "Cells are counted with the default bins (4 per dimension, one per value of a "
        "categorical one); <code>highfive report RUN --bins BINS.toml</code> counts them "
        "with a bins file."
    )


def coverage_section(
    summary: Mapping[str, Any],
    grids: Sequence[PairGrid],
    pngs: Sequence[str],
    models: Sequence[str],
    gate: Mapping[str, Any] | None = None,
    run: str = "RUN",
) -> str:
    """Cells covered per model, which targets the cell status and the gate use, the
    follow-up command, and the heatmaps (``pngs``, base64) of ``grids``."""
    k = int(summary.get("min_cases", 1))
    rows = []
    for m, s in summary.get("models", {}).items():
        by_t = s.get("coverage", {}).get("by_t", {})
        cov = "<br>".join(
            f"{t}-way: {covered_share(v['covered'], v['cells'])} of {v['cells']:,} cells"
            for t, v in by_t.items()
        )
        status = " ".join(chip(f"{k} {v:,}", k) for k, v in s.get("status", {}).items() if v)
        rows.append([f"<b>{esc(m)}</b>", num(s.get("rows")), cov, status, num(s.get("holes"))])
    head = ["model", "cases", f"cells with {cases_rule(k)}", "cell status", "holes"]
    p = summary.get("p_target")
    intro = (
        f"<p>A cell is <i>passing</i> when its failure rate is shown below p_target = "
        f"{num(p)} at {100 * float(summary.get('confidence', 0.95)):g}% confidence, "
        f"<i>failing</i> when shown above it (adjusted: {esc(summary.get('adjust', '?'))}), "
        f"<i>under-tested</i> otherwise; holes are cells with "
        f"{'no case' if k <= 1 else f'fewer than {k:,} cases'}. {bins_note(summary)}</p>"
    )
    out = [
        '<h2 id="coverage">Coverage</h2>',
        intro,
        merged_note(summary),
        html_table(head, rows, num=(1, 4)),
        targets_note(summary, gate),
        weighted_note(summary),
        focus_note(summary, run),
    ]
    diff = (
        f", and the difference of failure rates {esc(models[1])} − {esc(models[0])} (red: "
        f"{esc(models[1])} fails more)"
        if len(models) > 1
        else ""
    )
    first = esc(models[0]) if models else "the model"
    out.append(
        "<h3>2-way crosses</h3><p>"
        + (
            "The crosses of motion with the dimensions that matter most, and those holding "
            "the worst cells."
            if any("motion" in g.dims for g in grids)
            else "The crosses holding the worst cells (or, without failures, the first ones)."
        )
        + " For each: cases per cell (log scale), the "
        f"failure rate of {first} on one log scale for the whole report (text in each cell: "
        f"one-sided 95% upper bound of the rate){diff}. Grey with X: untested; "
        "hatched: hole.</p>"
    )
    if not grids:
        out.append('<p class="none">no 2-way crosses in this coverage</p>')
    for g, png in zip(grids, pngs, strict=True):
        out.append(
            f'<figure id="cross-{esc(g.cross.replace(" ", ""))}">'
            f"{img(png, 'coverage and failure rate of ' + g.cross)}"
            f"<figcaption>{esc(g.cross)}: rows {esc(g.dims[0])}, columns "
            f"{esc(g.dims[1])}{_cut_labels(g)}</figcaption></figure>"
        )
    return "".join(out)


def _cut_labels(grid: PairGrid) -> str:
    """The bin labels and model ids a heatmap shows cut (see ``_grids.short``), in
    full: a list under the figure's caption ("" when none was cut)."""
    pairs = [
        (cut, full)
        for labels in (grid.row_labels, grid.col_labels)
        for cut, full in zip(shortened(labels), labels, strict=True)
        if cut != full
    ]
    pairs += [(short(m), m) for m in grid.n if short(m) != m]
    if not pairs:
        return ""
    items = "".join(f"<li><code>{esc(c)}</code>: {esc(f)}</li>" for c, f in pairs)
    summary = "<summary>labels cut in the figure</summary>"
    return f'<details class="sub">{summary}<ul>{items}</ul></details>'


def worst_section(summary: Mapping[str, Any]) -> str:
    """The twenty worst cells with their exact intervals and status."""
    worst = list(summary.get("worst", []))[:20]
    conf = float(summary.get("confidence", 0.95))
    out = ['<h2 id="worst">Worst cells</h2>']
    if not worst:
        return out[0] + '<p class="none">no cell has a failure</p>'
    rows = []
    for w in worst:
        if "ci_low" in w:  # the cell's own interval: weighted, anytime or one-look
            lo, hi = float(w["ci_low"]), float(w["ci_high"])
        else:  # a summary written before it was recorded: one-look Clopper-Pearson
            lo, hi = (float(x[()]) for x in cp_interval(w["failures"], w["n"], conf))
        rows.append(
            [
                esc(w["model"]),
                esc(w["label"]),
                num(w["n"]),
                num(w["failures"]),
                shown_rate(float(w["rate"])),
                f"{lo:.3f} – {hi:.3f}",
                f"{w['upper']:.3f}",
                chip(w["status"]),
            ]
        )
    head = [
        "model",
        "cell",
        "n",
        "failures",
        "rate",
        f"{100 * conf:g}% CI",
        "upper bound",
        "status",
    ]
    why = str(summary.get("looks_why", "exact Clopper-Pearson bounds"))
    out.append(
        "<p>Cells with failures, the most confidently bad first (highest lower bound); CI "
        f"two-sided, upper bound one-sided; bounds: {esc(why)}.</p>"
    )
    out.append(html_table(head, rows, num=(2, 3, 4, 5, 6)))
    note = rate_note(worst)  # a weighted estimate above 1: unbiased, not bounded by 1
    if note:
        out.append(f'<p class="sub">{esc(note)}</p>')
    return "".join(out)


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _conditions(cond: Any) -> str:
    """Readable conditions of a region: numeric ``[low, high]`` (inclusive, None open)."""
    if not isinstance(cond, Mapping):
        return esc(cond)
    parts = []
    for dim, v in cond.items():
        d = esc(dim)
        if (
            isinstance(v, list | tuple)
            and len(v) == 2
            and any(_is_num(x) for x in v)
            and all(x is None or _is_num(x) for x in v)
        ):
            lo, hi = v
            if lo is None:
                parts.append(f"{d} ≤ {num(hi)}")
            elif hi is None:
                parts.append(f"{d} ≥ {num(lo)}")
            else:
                parts.append(f"{num(lo)} ≤ {d} ≤ {num(hi)}")
        elif isinstance(v, list | tuple):
            parts.append(f"{d} ∈ {{{', '.join(esc(x) for x in v)}}}")
        else:
            parts.append(f"{d} = {esc(v)}")
    return " and ".join(parts) or "all cases"


def regions_section(summary: Mapping[str, Any]) -> str:
    """The failure regions of the summary ("not computed" or "none found" otherwise)."""
    regions = summary.get("regions")
    out = '<h2 id="regions">Failure regions</h2>'
    if regions is None:
        return out + '<p class="none">not computed</p>'
    if not regions and summary.get("worst", None) == []:  # not a cell with a failure
        return out + '<p class="none">none: no failure to describe</p>'
    if not regions:
        return out + '<p class="none">none found: failures do not concentrate in a box</p>'
    # the regions' own level; a summary written before it was recorded has them at 95 %
    conf = float(regions[0].get("confidence", 0.95))
    rows = []
    for r in regions:
        text = str(r.get("description") or "")
        where = esc(text.rsplit(": ", 1)[0]) if ": " in text else _conditions(r.get("conditions"))
        rows.append(
            [
                esc(r.get("model", "")),
                where,
                num(r.get("n")),
                num(r.get("failures")),
                num(r.get("rate"), 3),
                f"{num(r.get('lower'), 3)} – {num(r.get('upper'), 3)}",
            ]
        )
    head = ["model", "region", "n", "failures", "rate", f"{100 * conf:g}% CI (held-out cases)"]
    intro = (
        "<p>Boxes of the parameter space where failures concentrate (patient rule "
        "induction), most important first.</p>"
    )
    return out + intro + html_table(head, rows, num=(2, 3, 4, 5))
