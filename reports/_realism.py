"""The HTML page of ``highfive realism --html FILE``: real recordings against synthetic
traces, in the style of the run report (same CSS, inline images, the render check).

One section: the facts of the comparison, the table of distances per feature, the
holes of the generator, the recordings skipped, the overlaid mean spectra and the
overlaid histograms per feature.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from highfive.harness import CENTRAL, FEATURES, INTERVAL, RealismResult, interval_text

from ._markup import CHECK, CSS, esc, html_table, img, num

__all__ = ["realism_page", "realism_section"]

_EXPLAIN = (
    "Every trace is reduced to its dynamic signal (the reading minus its 0.3 Hz low-pass, "
    "the gravity estimate) and cut into pieces of the recordings' median length, "
    "synthetic traces resampled to the recordings' rate first. <b>W1/IQR</b>: the "
    "Wasserstein-1 distance between the real and synthetic values (the mean gap "
    "between matched quantiles) in units of the real values' interquartile range; "
    "below about 0.5 the distributions overlap well, above 1 they sit a spread apart. "
    "<b>KS p</b>: p-value of the two-sample Kolmogorov-Smirnov test (small: the "
    "difference is not chance). <b>bootstrap range</b>: how far the distance moves "
    "with other recordings and traces of the same kinds (both resampled); not a "
    "confidence interval: two samples of one distribution are never 0 apart, so near 0 "
    "it lies above the true distance. <b>outside</b>: real pieces outside the synthetic "
    f"central {100 * CENTRAL:g}% on that feature."
)


def realism_section(result: RealismResult, spectra_png: str, hist_png: str) -> str:
    """The realism section: facts, distances, holes, skipped recordings, figures."""
    f = result.facts
    rates = ", ".join(f"{r:g}" for r in f["rates_hz"])
    facts = [
        ("region", esc(f["region_name"])),
        ("restrictions", esc(json.dumps(f["region"])) if f["region"] else "none"),
        ("gravity", f"{esc(f['gravity'])} (asked: {esc(f['gravity_given'])})"),
        ("synthetic gravity", esc(f["synthetic_gravity"])),
        ("pieces", f"{num(f['piece_s'])} s at {esc(rates)} Hz"),
        ("real", f"{f['real_recordings']:,} recordings, {f['real_pieces']:,} pieces"),
        ("synthetic", f"{f['synthetic']:,} traces, {f['synthetic_pieces']:,} pieces"),
        ("seed", esc(f["seed"])),
    ]
    by_name = {feat.name: feat for feat in FEATURES}
    m = f.get("match")
    if m:
        matched = by_name[m["feature"]]
        facts.insert(
            -1,
            (
                "matched on",
                f"{esc(matched.label)}: the synthetic pieces within the real central "
                f"{m['central']:.0%} ({num(m['low'], 4)} – {num(m['high'], 4)} "
                f"{esc(matched.unit)}), "
                f"{f['synthetic_pieces']:,} of {m['synthetic_pieces']:,} compared",
            ),
        )
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    table_rows = []
    for d in result.distances.to_dict("records"):
        meaning = by_name[d["feature"]].meaning
        label = f'<span title="{esc(meaning)}">{esc(d["label"])}</span>'
        if not d["available"]:
            table_rows.append([label, esc(d["unit"]), *(["–"] * 7), "not available"])
            continue
        w = float(d["w1_iqr"])
        spread = interval_text(d["w1_iqr_low"], d["w1_iqr_high"], " – ", "∞")
        table_rows.append(
            [
                label,
                esc(d["unit"]),
                num(d["real_median"], 3),
                num(d["real_iqr"], 3),
                num(d["synthetic_median"], 3),
                f"{num(d['synthetic_low'], 3)} – {num(d['synthetic_high'], 3)}",
                f"{w:.2f}" if math.isfinite(w) else "n/a",
                spread,
                num(d["ks_pvalue"], 2),
                "matched" if d.get("matched") else f"{d['outside']} / {d['n_real']}",
            ]
        )
    head = [
        "feature",
        "unit",
        "real median",
        "real IQR",
        "synthetic median",
        f"synthetic central {100 * CENTRAL:g}%",
        "W1/IQR",
        f"{100 * INTERVAL:g}% bootstrap range",
        "KS p",
        "outside",
    ]
    holes = result.hole_recordings()
    hole_rows = [[esc(name), esc(", ".join(feats))] for name, feats in holes.items()]
    out = [
        '<h2 id="realism">Realism: real recordings against synthetic traces</h2>',
        f'<table class="facts">{rows}</table>',
        f'<p class="sub">{_EXPLAIN}</p>',
        html_table(head, table_rows, num=(2, 3, 4, 6, 7, 8, 9)),
        f"<h3>Holes of the generator ({len(holes)} of {f['real_pieces']:,} real pieces)</h3>",
        "<p>Real pieces with at least one feature outside what the generator produced "
        f"(its central {100 * CENTRAL:g}%), and on which side. A real value lands outside "
        "by chance now and then (more often with few synthetic traces); a hole that "
        "recurs across recordings is behaviour the region does not cover.</p>",
        html_table(["recording", "features outside"], hole_rows)
        if hole_rows
        else '<p class="none">no real piece outside the synthetic range</p>',
    ]
    if result.skipped:
        skipped = [[esc(name), esc(why)] for name, why in result.skipped]
        out += ["<h3>Recordings skipped</h3>", html_table(["recording", "reason"], skipped)]
    out += [
        f"<figure>{img(spectra_png, 'mean spectra')}<figcaption>Mean Welch spectrum of "
        "the dynamic magnitude of all real and all synthetic pieces.</figcaption></figure>",
        f"<figure>{img(hist_png, 'feature histograms')}<figcaption>Each feature's values, "
        "real (filled) and synthetic (line), as densities on shared bins; the shaded band "
        "is the synthetic central range.</figcaption></figure>",
    ]
    return "".join(out)


def realism_page(result: RealismResult, *, generated: str | None = None) -> str:
    """A self-contained HTML page of a comparison (inline images and CSS)."""
    from ._plots import figure_png_base64
    from ._realism_plots import histogram_figure, spectra_figure

    spectra_png = figure_png_base64(spectra_figure(result.spectra))
    hist_png = figure_png_base64(histogram_figure(result.compared(), result.distances))
    when = generated or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    title = f"highfive realism: {result.facts['region_name']}"
    return _page(title, when, realism_section(result, spectra_png, hist_png))


def _page(title: str, generated: str, body: Any) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style>"
        f"<script>{CHECK}</script></head>\n<body><main>"
        f"<header><h1>{esc(title)}</h1>"
        f'<div class="sub">generated {esc(generated)}</div></header>'
        f"{body}<footer>self-contained page: no external files.</footer>"
        "</main></body></html>\n"
    )
