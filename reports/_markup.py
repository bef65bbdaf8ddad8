"""HTML building blocks of the report: escaping, numbers, tables, chips, CSS, a render check.

Every helper returns HTML text; anything that came from a file is escaped by
:func:`esc` (directly or through the helpers) before it reaches the page.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from highfive.coverage import covered_share
from highfive.generators import escape
from highfive.harness import FAIL_VERDICTS

__all__ = [
    "CHECK",
    "CSS",
    "MESSAGE_CHARS",
    "cases_rule",
    "chip",
    "covered_share",
    "esc",
    "fmt",
    "html_table",
    "img",
    "num",
    "one_line",
    "percent",
    "short_sha",
]

MESSAGE_CHARS = 200
"""Longest message a report shows; longer ones are cut with an ellipsis."""


def esc(value: Any) -> str:
    """HTML-escaped text of ``value``, each control and format character of it (BEL, a
    right-to-left override that would show a file name reversed, a zero-width joiner)
    as its Python escape (``\\u202e``), as a terminal shows it; a line break and a
    tab stay."""
    return html.escape(escape(str(value), _hidden), quote=True)


def _hidden(c: str) -> bool:
    return c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cf", "Cs")


CSS = """
:root { --pass: #1a7f37; --fail: #cf222e; --neutral: #59636e; --ink: #1f2328;
  --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 18px 28px 60px; }
h1 { font-size: 24px; margin: 4px 0 2px; }
h2 { font-size: 20px; margin: 34px 0 8px; padding-bottom: 4px;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 6px; }
p, li { max-width: 80em; }
.sub { color: var(--muted); font-size: 13px; }
nav { margin: 10px 0 4px; font-size: 14px; }
nav a { color: #0969da; text-decoration: none; margin-right: 16px; }
.banner { border-radius: 12px; padding: 18px 26px; color: #fff; display: flex;
  align-items: center; gap: 28px; margin: 14px 0 6px; }
.banner .big { font-size: 46px; font-weight: 800; letter-spacing: 3px; }
.banner .what { font-size: 16px; }
.banner.pass { background: var(--pass); } .banner.fail { background: var(--fail); }
.banner.neutral { background: #eaeef2; color: var(--ink); }
.banner.neutral .big { font-size: 26px; letter-spacing: 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr));
  gap: 12px; margin: 14px 0; }
.kpi { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  background: var(--soft); }
.kpi .v { font-size: 24px; font-weight: 700; font-variant-numeric: tabular-nums; }
.kpi { min-width: 0; }  /* a grid item no wider than its column, whatever it holds */
.kpi .l { color: var(--muted); font-size: 13px; overflow-wrap: anywhere;
  display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 3;
  overflow: hidden; }  /* long model ids: three lines at most, the rest on hovering */
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
.tablebox { max-width: 100%; overflow-x: auto; }  /* a wide table scrolls, not the page */
.tablebox > table { margin-bottom: 8px; }
td.wrap { overflow-wrap: anywhere; min-width: 10em; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left;
  vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts td { overflow-wrap: anywhere; }
table.facts th { width: 11em; background: none; color: var(--muted); font-weight: 500; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px;
  background: var(--soft); padding: 1px 5px; border-radius: 4px; }
.chip { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px;
  font-weight: 600; white-space: nowrap; }
.chip.pass, .chip.passing, .chip.yes { background: #dafbe1; color: #116329; }
.chip.fail, .chip.failing, .chip.no, @FAIL_CHIPS@ { background: #ffebe9; color: #a40e26; }
.chip.under-tested { background: #fff8c5; color: #7d4e00; }
.chip.untested { background: #eaeef2; color: #424a53; }
figure { margin: 12px 0 30px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.note { border-left: 4px solid #d4a72c; background: #fff8c5; padding: 6px 12px; margin: 8px 0; }
.targets { border-left: 4px solid #0969da; background: var(--soft); padding: 6px 12px; }
.none { color: var(--muted); font-style: italic; }
details summary { cursor: pointer; color: #0969da; font-size: 14px; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 32px; }
.cols h3:first-child { margin-top: 0; }
@media (max-width: 900px) { .cols { grid-template-columns: minmax(0, 1fr); } }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
""".replace("@FAIL_CHIPS@", ", ".join(f".chip.{v}" for v in FAIL_VERDICTS))

# Sets body[data-rendered] to "ok" once every image decoded and no script error fired
# (a headless-browser test reads it), or to "error: ..." otherwise.
CHECK = """
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(e && e.message ? e.message : "resource failed to load");
  }, true);
  window.addEventListener("load", function () {
    var bad = [], imgs = document.images;
    for (var i = 0; i < imgs.length; i++) {
      if (!(imgs[i].complete && imgs[i].naturalWidth > 0)) bad.push(imgs[i].alt || "image " + i);
    }
    var state = "ok";
    if (errors.length) state = "error: " + errors.join("; ");
    else if (bad.length) state = "error: not decoded: " + bad.join(", ");
    document.body.dataset.images = String(imgs.length);
    document.body.dataset.rendered = state;
  });
})();
"""


def num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    if isinstance(x, float | np.floating):
        if not np.isfinite(x):
            return "∞" if x > 0 else "–"
        return f"{float(x):.{digits}g}"
    return esc(x)


def percent(k: float, n: float) -> str:
    return f"{100 * k / n:.2f}%" if n else "–"


def cases_rule(k: int) -> str:
    """``>= k case(s)`` in words that read naturally: "≥ 1 case", "≥ 10 cases"."""
    return f"≥ {k:,} case" + ("" if k == 1 else "s")


def chip(text: str, kind: str | None = None) -> str:
    return f'<span class="chip {esc(kind or text)}">{esc(text)}</span>'


def html_table(
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    num: Sequence[int] = (),
    wrap: Sequence[int] = (),
) -> str:
    """An HTML table in its own horizontal scroll box; cells are already HTML, columns
    in ``num`` right-aligned, long text in columns ``wrap`` broken anywhere it must be
    so that the table fits a narrow window."""

    def cls(i: int) -> str:
        return ' class="num"' if i in num else ' class="wrap"' if i in wrap else ""

    th = "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows
    )
    return (
        f'<div class="tablebox"><table><thead><tr>{th}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def img(b64: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{b64}" alt="{esc(alt)}">'


def short_sha(sha: str) -> str:
    return f'<code title="{esc(sha)}">{esc(sha[:12])}</code>'


def fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def one_line(text: Any, limit: int = MESSAGE_CHARS) -> str:
    """``text`` on one line (runs of white space become one space), cut to ``limit`` chars.

    Not escaped: pass the result through :func:`esc`.
    """
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
