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
:func:`highfive.harness._replay.replay` rather than read from the failure corpus.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from highfive.generators import InvalidParameter, RunDirError

__all__ = ["DEFAULT_CASES", "SEVERITY", "write_report"]

DEFAULT_CASES = 4
SEVERITY = ("mixed", "double_count", "miss", "false_positive")
"""Failing verdicts, worst first: the order failing cases are picked in."""
_PREFERRED = ("background", "sample_rate", "sensor_range", "peak_accel", "impact_peak")
_MAX_PAIRS = 8
_WORST_PAIRS = 3
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

Log = Callable[[str], None]


# -- reading the run ----------------------------------------------------------------
def _open_run(path: Path) -> tuple[Any, dict[str, Any]]:
    from highfive.harness._rundir import RunDir

    run = RunDir(path)
    if not path.is_dir():
        raise RunDirError(
            f"run directory {os.fspath(path)!r} does not exist; give a folder made by "
            "'highfive run'"
        )
    record = run.read_campaign()
    if record.get("status") != "complete":
        raise RunDirError(
            f"run directory {os.fspath(path)!r} is incomplete (status "
            f"{record.get('status')!r}); finish it with 'highfive run CONFIG --resume', "
            "then report it"
        )
    if not run.results_dir.is_dir():
        raise RunDirError(f"run directory {os.fspath(path)!r} has no results/; re-run it")
    return run, record


def _coverage_dir(path: Path, log: Log | None) -> Path:
    cov = path / "coverage"
    needed = ("cells.parquet", "counts.parquet", "summary.json")
    if not all((cov / name).is_file() for name in needed):
        from highfive.coverage import analyse_run, write_coverage

        if log:
            log(f"no coverage in {os.fspath(path)}; computing it (highfive coverage RUN)")
        write_coverage(path, analyse_run(path))
    return cov


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{os.fspath(path)}: not valid JSON ({exc}); {what}") from None


def _read_gate(path: Path) -> dict[str, Any] | None:
    file = path / "gate.json"
    if not file.is_file():
        return None
    gate = _read_json(file, "re-run 'highfive gate RUN --gate GATE.toml'")
    if not isinstance(gate, dict) or gate.get("verdict") not in ("pass", "fail"):
        verdict = gate.get("verdict") if isinstance(gate, dict) else gate
        raise RunDirError(
            f"{os.fspath(file)}: verdict {verdict!r} must be 'pass' or 'fail'; "
            "re-run 'highfive gate RUN --gate GATE.toml'"
        )
    crit = gate.get("criteria", [])
    if not isinstance(crit, list) or not all(isinstance(c, dict) for c in crit):
        raise RunDirError(
            f"{os.fspath(file)}: criteria must be a list of tables; "
            "re-run 'highfive gate RUN --gate GATE.toml'"
        )
    return gate


@dataclass
class Scan:
    """What three columns of the results tell: verdicts, agreement, failing cases.

    ``rank`` and ``pred`` hold, per model and case id, the verdict's severity (0 pass,
    ``len(SEVERITY)`` the worst kind, -1 no row) and the predicted count (-1 no row).
    """

    models: list[str]
    verdicts: dict[str, dict[str, int]]
    rank: dict[str, np.ndarray]
    pred: dict[str, np.ndarray]
    confusion: np.ndarray | None = None
    agree: int = 0
    compared: int = 0
    disagree: list[int] = field(default_factory=list)

    def stored(self, case: int) -> dict[str, tuple[str, int]]:
        """The campaign's (verdict, predicted count) of ``case`` per model."""
        out = {}
        for m in self.models:
            r = int(self.rank[m][case]) if case < self.rank[m].size else -1
            if r >= 0:
                out[m] = (_RANKED[r], int(self.pred[m][case]))
        return out


_RANKED = ("pass", *reversed(SEVERITY))  # index = severity rank


def _scan_results(run: Any, models: Sequence[str], n_cases: int) -> Scan:
    """Stream case id, predicted count and verdict of every result row, model by model."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    # Verdicts read as dictionaries (a handful of values): much faster than strings.
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=["verdict"]))
    value_set = pa.array(_RANKED)
    scan = Scan(list(models), {}, {}, {})
    for m in models:
        rank = np.full(n_cases, -1, dtype=np.int8)
        pred = np.full(n_cases, -1, dtype=np.int16)
        tally = np.zeros(len(_RANKED) + 1, dtype=np.int64)  # last: unknown verdicts
        for batch in _batches(run.results_dir / f"model={m}", fmt):
            ids = batch.column(0).to_numpy()
            if ids.size and int(ids.max()) >= rank.size:  # more cases than configured
                grow = int(ids.max()) + 1 - rank.size
                rank = np.concatenate([rank, np.full(grow, -1, np.int8)])
                pred = np.concatenate([pred, np.full(grow, -1, np.int16)])
            verdict = batch.column(2)
            if not pa.types.is_dictionary(verdict.type):
                verdict = pc.dictionary_encode(verdict)
            codes = pc.index_in(verdict.dictionary, value_set=value_set)
            lut = pc.fill_null(codes, len(_RANKED)).to_numpy().astype(np.int8)
            r = lut[verdict.indices.to_numpy(zero_copy_only=False)]
            tally += np.bincount(r, minlength=tally.size)
            rank[ids] = np.where(r == len(_RANKED), 0, r)
            pred[ids] = batch.column(1).to_numpy(zero_copy_only=False)
        scan.verdicts[m] = {v: int(c) for v, c in zip(_RANKED, tally, strict=False) if c}
        if tally[-1]:
            scan.verdicts[m]["other"] = int(tally[-1])
        scan.rank[m], scan.pred[m] = rank, pred
    if len(models) > 1:
        a, b = scan.pred[models[0]], scan.pred[models[1]]
        size = min(a.size, b.size)
        a, b = a[:size], b[:size]
        both = (a >= 0) & (b >= 0)
        k = int(np.clip(max(a.max(initial=0), b.max(initial=0)) + 1, 2, 6))
        a, b = a[both], b[both]  # int16 throughout: 10^7 cases stay small
        cell = np.minimum(a, k - 1).astype(np.int32) * k + np.minimum(b, k - 1)
        scan.confusion = np.bincount(cell, minlength=k * k).reshape(k, k)
        scan.compared = int(a.size)
        scan.agree = int(np.count_nonzero(a == b))
        differ = np.flatnonzero(both)[a != b]
        scan.disagree = differ[:12].tolist()
    return scan


def _batches(folder: Path, fmt: Any, chunk: int = 128) -> Iterator[Any]:
    """Record batches of case id, predicted count and verdict of the files in ``folder``.

    Files are scanned a hundred or so at a time: a dataset keeps every file's Parquet
    footer (tens of kB each, with the space's metadata) until it is dropped, which for
    runs of many small batches would take gigabytes.
    """
    import pyarrow.dataset as ds

    if not folder.is_dir():
        return
    files = sorted(
        os.fspath(p)
        for p in folder.iterdir()
        if p.suffix == ".parquet" and not p.name.startswith((".", "_"))
    )
    for start in range(0, len(files), chunk):
        part = ds.dataset(files[start : start + chunk], format=fmt)
        yield from part.to_batches(columns=["case_id", "predicted_count", "verdict"])


def _pick_cases(scan: Scan, n: int) -> list[int]:
    """``n`` failing cases: one per verdict kind, worst kind first, lowest case id first."""
    if n <= 0 or not scan.models:
        return []
    size = min(scan.rank[m].size for m in scan.models)
    worst = np.max(np.stack([scan.rank[m][:size] for m in scan.models]), axis=0)
    pools = [np.flatnonzero(worst == len(SEVERITY) - i)[:n].tolist() for i in range(len(SEVERITY))]
    picks: list[int] = []
    for depth in range(n):
        for pool in pools:
            if depth < len(pool) and len(picks) < n:
                picks.append(pool[depth])
    return picks


# -- coverage -----------------------------------------------------------------------
@dataclass(frozen=True)
class CoverageMeta:
    binning: Any
    crosses: dict[str, tuple[str, ...]]


def _coverage_meta(cov: Path) -> CoverageMeta:
    import pyarrow.parquet as pq

    from highfive.coverage import Binning

    raw = (pq.read_schema(cov / "counts.parquet").metadata or {}).get(b"highfive.coverage")
    if raw is None:
        raise RunDirError(
            f"{os.fspath(cov / 'counts.parquet')}: no coverage metadata; re-run "
            "'highfive coverage RUN'"
        )
    meta = json.loads(raw)
    crosses = {str(name): tuple(dims) for name, dims in meta["crosses"]}
    return CoverageMeta(Binning.from_dict(meta["binning"]), crosses)


def _select_pairs(meta: CoverageMeta, summary: Mapping[str, Any]) -> list[str]:
    """The most informative 2-way crosses: motion by each preferred dimension, then the
    crosses of the worst cells, then the 2-way crosses with the most failures."""
    pairs = {name: set(dims) for name, dims in meta.crosses.items() if len(dims) == 2}
    chosen: list[str] = []

    def add(name: str) -> None:
        if name in pairs and name not in chosen and len(chosen) < _MAX_PAIRS:
            chosen.append(name)

    for other in _PREFERRED:
        for name, dims in pairs.items():
            if dims == {"motion", other}:
                add(name)
    worst = [w["cross"] for w in summary.get("worst", []) if w.get("cross") in pairs]
    for name in [w for w in dict.fromkeys(worst) if w not in chosen][:_WORST_PAIRS]:
        add(name)
    if not chosen:  # no motion dimension: the first crosses
        for name in list(pairs)[:4]:
            add(name)
    return chosen


def _short(label: str, dim: str) -> str:
    return label[len(dim) :].lstrip("=") if label.startswith(dim) else label


def _read_cells(cov: Path, crosses: Sequence[str]) -> Any:
    import pyarrow.dataset as ds

    cols = ["cross", "cell", "model", "n", "failures", "upper"]
    table = ds.dataset(cov / "cells.parquet").to_table(
        columns=cols, filter=ds.field("cross").isin(list(crosses))
    )
    frame = table.to_pandas()
    for c in ("cross", "model"):
        frame[c] = frame[c].astype(str)
    return frame


def _grids(
    cov: Path, meta: CoverageMeta, names: Sequence[str], models: Sequence[str], min_cases: int
) -> list[Any]:
    from ._figures import PairGrid

    if not names:
        return []
    cells = _read_cells(cov, names)
    space = meta.binning.space
    grids = []
    for name in names:
        dims = meta.crosses[name]
        shape = tuple(meta.binning[d].n_bins for d in dims)
        flip = shape[1] > shape[0]  # the dimension with more bins goes down the rows
        sub = cells[cells["cross"] == name]
        arrays: dict[str, dict[str, np.ndarray]] = {"n": {}, "failures": {}, "upper": {}}
        present = [m for m in models if (sub["model"] == m).any()]
        for m in present:
            rows = sub[sub["model"] == m]
            for key, fill in (("n", 0), ("failures", 0), ("upper", 1.0)):
                grid = np.full(shape, fill, dtype=float if key == "upper" else np.int64)
                grid[np.unravel_index(rows["cell"].to_numpy(), shape)] = rows[key].to_numpy()
                arrays[key][m] = grid.T if flip else grid
        if not present:
            continue
        d0, d1 = (dims[1], dims[0]) if flip else (dims[0], dims[1])

        def axis(d: str) -> str:
            unit = space[d].unit if d in space.names else ""
            return f"{d} ({unit})" if unit else d

        grids.append(
            PairGrid(
                name,
                (d0, d1),
                (axis(d0), axis(d1)),
                tuple(_short(x, d0) for x in meta.binning[d0].bin_labels),
                tuple(_short(x, d1) for x in meta.binning[d1].bin_labels),
                arrays["n"],
                arrays["failures"],
                arrays["upper"],
                min_cases,
            )
        )
    return grids


# -- the report ---------------------------------------------------------------------
def write_report(
    run_path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    cases: int = DEFAULT_CASES,
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
    """
    if isinstance(cases, bool) or not isinstance(cases, int) or cases < 0:
        raise InvalidParameter(f"cases: {cases!r} must be a whole number >= 0, e.g. 4")
    path = Path(run_path)
    dest = Path(out) if out is not None else path / "report.html"
    if dest.is_dir():
        raise InvalidParameter(f"--out: {os.fspath(dest)!r} is a directory; give a file name")
    run, record = _open_run(path)
    cov = _coverage_dir(path, log)
    gate = _read_gate(path)
    summary = _read_json(cov / "summary.json", "re-run 'highfive coverage RUN'")
    meta = _coverage_meta(cov)
    models = [str(m["id"]) for m in record.get("models", [])]
    scan = _scan_results(run, models, int(record["config"]["cases"]))
    min_cases = int(summary.get("min_cases", 1))
    grids = _grids(cov, meta, _select_pairs(meta, summary), models, min_cases)
    picks = _pick_cases(scan, cases)
    stored = {c: scan.stored(c) for c in picks}
    if log and picks:
        log(f"replaying {len(picks)} failing case(s): {', '.join(map(str, picks))}")
    from ._figures import case_views

    views = case_views(path, picks, stored)

    text = _render(
        path=path,
        record=record,
        gate=gate,
        summary=summary,
        scan=scan,
        grids=grids,
        views=views,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    from highfive.harness._io import atomic_write_text

    atomic_write_text(dest, text)
    return dest


def _esc(value: Any) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value), quote=True)


# -- rendering ----------------------------------------------------------------------
_CSS = """
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
.kpi .l { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left;
  vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts th { width: 11em; background: none; color: var(--muted); font-weight: 500; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px;
  background: var(--soft); padding: 1px 5px; border-radius: 4px; }
.chip { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px;
  font-weight: 600; white-space: nowrap; }
.chip.pass, .chip.passing, .chip.yes { background: #dafbe1; color: #116329; }
.chip.fail, .chip.failing, .chip.no, .chip.miss, .chip.double_count, .chip.false_positive,
.chip.mixed { background: #ffebe9; color: #a40e26; }
.chip.under-tested { background: #fff8c5; color: #7d4e00; }
.chip.untested { background: #eaeef2; color: #424a53; }
figure { margin: 12px 0 30px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.note { border-left: 4px solid #d4a72c; background: #fff8c5; padding: 6px 12px; margin: 8px 0; }
.none { color: var(--muted); font-style: italic; }
details summary { cursor: pointer; color: #0969da; font-size: 14px; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 32px; }
.cols h3:first-child { margin-top: 0; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

# Sets body[data-rendered] to "ok" once every image decoded and no script error fired
# (a headless-browser test reads it), or to "error: ..." otherwise.
_CHECK = """
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


def _num(x: Any, digits: int = 4) -> str:
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
    return _esc(x)


def _pct(k: float, n: float) -> str:
    return f"{100 * k / n:.2f}%" if n else "–"


def _share(covered: int, cells: int) -> str:
    """Covered share of cells, never rounded up to 100% while a cell is missing."""
    if not cells:
        return "–"
    pct = 100 * covered / cells
    text = f"{pct:.1f}%"
    if covered < cells and text == "100.0%":
        text = f"{np.floor(pct * 100) / 100:.2f}%"
    return text


def _chip(text: str, kind: str | None = None) -> str:
    return f'<span class="chip {_esc(kind or text)}">{_esc(text)}</span>'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], num: Sequence[int] = ()) -> str:
    """An HTML table; cells are already HTML, columns in ``num`` right-aligned."""
    th = "".join(
        f'<th class="num">{h}</th>' if i in num else f"<th>{h}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in num else f"<td>{c}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _img(b64: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{b64}" alt="{_esc(alt)}">'


def _gate_section(gate: Mapping[str, Any] | None, kpis: str) -> str:
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
        f'<div class="banner {_esc(verdict)}" id="verdict"><span class="big">'
        f'{_esc(verdict.upper())}</span><span class="what">release gate: {_esc(what)}'
        f'<br><span style="opacity:.85;font-size:13px">gate file {_esc(gate.get("gate_file", "?"))}'
        f", evaluated {_esc(gate.get('evaluated', '?'))}</span></span></div>"
    )
    rows = [
        [
            _chip("pass" if c.get("passed") else "fail"),
            _esc(c.get("name", "")),
            _esc(c.get("kind", "")),
            _esc(c.get("model", "") or "all"),
            _num(c.get("threshold")),
            _num(c.get("value")),
            _esc(c.get("detail", "")),
        ]
        for c in sorted(crit, key=lambda c: bool(c.get("passed")))
    ]
    table = _table(["", "criterion", "kind", "model", "threshold", "value", "detail"], rows)
    return banner + kpis + ("<h3>Gate criteria (failed first)</h3>" + table if rows else "")


def _kpis(record: Mapping[str, Any], summary: Mapping[str, Any], scan: Scan) -> str:
    items = [(f"{int(record['config']['cases']):,}", "cases per model")]
    for m in scan.models:
        v = scan.verdicts.get(m, {})
        n = sum(v.values())
        items.append((_pct(n - v.get("pass", 0), n), f"failing cases, {m}"))
    if scan.confusion is not None:
        items.append(
            (
                _pct(scan.agree, scan.compared),
                f"count agreement {scan.models[0]} / {scan.models[1]}",
            )
        )
    first = next(iter(summary.get("models", {}).items()), None)
    if first is not None:
        name, m = first
        two = m.get("coverage", {}).get("by_t", {}).get("2")
        if two:
            share = _share(two["covered"], two["cells"])
            items.append((share, f"2-way cells covered ({name})"))
        status = m.get("status", {})
        items.append((f"{status.get('failing', 0):,}", f"failing cells ({name})"))
    cards = "".join(
        f'<div class="kpi"><div class="v">{v}</div><div class="l">{_esc(lbl)}</div></div>'
        for v, lbl in items
    )
    return f'<div class="kpis">{cards}</div>'


def _sha(sha: str) -> str:
    return f'<code title="{_esc(sha)}">{_esc(sha[:12])}</code>'


def _campaign_section(path: Path, record: Mapping[str, Any]) -> str:
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
    facts = [
        ("run", f"{_esc(record.get('name', path.name))} <span class=sub>{_esc(path)}</span>"),
        ("status", _chip(str(record.get("status")), "pass")),
        ("cases", _num(cfg.get("cases"))),
        ("sampler", _esc(cfg.get("sampler"))),
        ("seed", _esc(cfg.get("seed"))),
        ("batch size", _num(cfg.get("batch_size"))),
        ("tolerance", f"{_esc(cfg.get('tolerance'))} s"),
        ("space", _esc(json.dumps(space)) if space else "the whole default space"),
        ("started", _esc(started)),
        ("finished", _esc(finished) + _esc(took)),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    models = _table(
        ["model", "source", "sha256", "bytes"],
        [
            [
                f"<b>{_esc(m.get('id'))}</b>",
                _esc(m.get("source")),
                _sha(str(m.get("sha256", ""))),
                _num(m.get("bytes")),
            ]
            for m in record.get("models", [])
        ],
        num=(3,),
    )
    versions = ", ".join(f"{_esc(k)} {_esc(v)}" for k, v in record.get("versions", {}).items())
    return (
        f'<h2 id="campaign">Campaign</h2><div class="cols"><div><table class="facts">{rows}'
        f"</table></div><div><h3>Models</h3>{models}<h3>Library versions</h3>"
        f'<p class="sub">{versions}</p></div></div>'
    )


def _results_section(scan: Scan, run_name: str, agreement_png: str) -> str:
    from highfive.coverage import FAIL_VERDICTS, cp_upper

    rows = []
    for m in scan.models:
        v = scan.verdicts.get(m, {})
        n = sum(v.values())
        k = n - v.get("pass", 0)
        up = float(cp_upper(k, n)[()]) if n else 1.0
        rows.append(
            [f"<b>{_esc(m)}</b>", _num(n), _num(k), _pct(k, n), f"{100 * up:.2f}%"]
            + [_num(v.get(x, 0)) for x in FAIL_VERDICTS]
        )
    head = [
        "model",
        "cases",
        "failing",
        "failure rate",
        "95% upper bound",
        *(x.replace("_", " ") for x in FAIL_VERDICTS),
    ]
    out = [
        '<h2 id="results">Failures and model agreement</h2>',
        _table(head, rows, num=tuple(range(1, len(head)))),
        '<p class="sub">upper bound: one-sided Clopper-Pearson at 95% over all cases.</p>',
    ]
    if scan.confusion is not None:
        alt = "failure rate by verdict; count agreement"
        caption = (
            "Left: share of cases per failing verdict and model. Right: cases by the count "
            "each model predicted (diagonal = same count)."
        )
    else:
        alt, caption = "failure rate by verdict", "Share of cases per failing verdict."
    out.append(f"<figure>{_img(agreement_png, alt)}<figcaption>{caption}</figcaption></figure>")
    if scan.confusion is not None:
        a, b = scan.models[0], scan.models[1]
        differ = scan.compared - scan.agree
        out.append(
            f"<p>{_esc(a)} and {_esc(b)} predict the same count in <b>{scan.agree:,}</b> of "
            f"{scan.compared:,} cases ({_pct(scan.agree, scan.compared)}); they differ in "
            f"{differ:,}.</p>"
        )
        if scan.disagree:
            ids = ", ".join(f"<code>{c}</code>" for c in scan.disagree)
            more = " (first ones)" if differ > len(scan.disagree) else ""
            out.append(
                f"<p>cases where the counts differ{more}: {ids}; replay one with "
                f"<code>highfive replay {_esc(run_name)} CASE_ID --plot case.png</code>.</p>"
            )
    return "".join(out)


def _coverage_section(
    summary: Mapping[str, Any], grids: Sequence[Any], pngs: Sequence[str], models: Sequence[str]
) -> str:
    rows = []
    for m, s in summary.get("models", {}).items():
        by_t = s.get("coverage", {}).get("by_t", {})
        cov = "<br>".join(
            f"{t}-way: {_share(v['covered'], v['cells'])} of {v['cells']:,} cells"
            for t, v in by_t.items()
        )
        status = " ".join(_chip(f"{k} {v:,}", k) for k, v in s.get("status", {}).items() if v)
        rows.append([f"<b>{_esc(m)}</b>", _num(s.get("rows")), cov, status, _num(s.get("holes"))])
    head = ["model", "cases", "cells covered", "cell status", "holes"]
    p = summary.get("p_target")
    intro = (
        f"<p>A cell is <i>passing</i> when its failure rate is shown below p_target = "
        f"{_num(p)} at {100 * float(summary.get('confidence', 0.95)):g}% confidence, "
        f"<i>failing</i> when shown above it (adjusted: {_esc(summary.get('adjust', '?'))}), "
        f"<i>under-tested</i> otherwise; holes are cells with fewer than "
        f"{_esc(summary.get('min_cases', 1))} case(s).</p>"
    )
    out = ['<h2 id="coverage">Coverage</h2>', intro, _table(head, rows, num=(1, 4))]
    diff = (
        f", and the difference of failure rates {_esc(models[1])} − {_esc(models[0])} (red: "
        f"{_esc(models[1])} fails more)"
        if len(models) > 1
        else ""
    )
    first = _esc(models[0]) if models else "the model"
    out.append(
        "<h3>2-way crosses</h3><p>The crosses of motion with the dimensions that matter most, "
        "and those holding the worst cells. For each: cases per cell (log scale), the "
        f"failure rate of {first} on one log scale for the whole report (text in each cell: "
        f"one-sided 95% upper bound of the rate){diff}. Grey with X: untested; "
        "hatched: hole.</p>"
    )
    if not grids:
        out.append('<p class="none">no 2-way crosses in this coverage</p>')
    for g, png in zip(grids, pngs, strict=True):
        out.append(
            f'<figure id="cross-{_esc(g.cross.replace(" ", ""))}">'
            f"{_img(png, 'coverage and failure rate of ' + g.cross)}"
            f"<figcaption>{_esc(g.cross)}: rows {_esc(g.dims[0])}, columns "
            f"{_esc(g.dims[1])}</figcaption></figure>"
        )
    return "".join(out)


def _worst_section(summary: Mapping[str, Any]) -> str:
    from highfive.coverage import cp_interval

    worst = list(summary.get("worst", []))[:20]
    conf = float(summary.get("confidence", 0.95))
    out = ['<h2 id="worst">Worst cells</h2>']
    if not worst:
        return out[0] + '<p class="none">no cell has a failure</p>'
    rows = []
    for w in worst:
        lo, hi = cp_interval(w["failures"], w["n"], conf)
        rows.append(
            [
                _esc(w["model"]),
                _esc(w["label"]),
                _num(w["n"]),
                _num(w["failures"]),
                f"{w['rate']:.3f}",
                f"{float(lo[()]):.3f} – {float(hi[()]):.3f}",
                f"{w['upper']:.3f}",
                _chip(w["status"]),
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
    out.append(
        "<p>Cells with failures, the most confidently bad first (highest lower bound); CI "
        "two-sided exact, upper bound one-sided.</p>"
    )
    out.append(_table(head, rows, num=(2, 3, 4, 5, 6)))
    return "".join(out)


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _conditions(cond: Any) -> str:
    """Readable conditions of a region: numeric ``[low, high]`` (inclusive, None open)."""
    if not isinstance(cond, Mapping):
        return _esc(cond)
    parts = []
    for dim, v in cond.items():
        d = _esc(dim)
        if (
            isinstance(v, list | tuple)
            and len(v) == 2
            and any(_is_num(x) for x in v)
            and all(x is None or _is_num(x) for x in v)
        ):
            lo, hi = v
            if lo is None:
                parts.append(f"{d} ≤ {_num(hi)}")
            elif hi is None:
                parts.append(f"{d} ≥ {_num(lo)}")
            else:
                parts.append(f"{_num(lo)} ≤ {d} ≤ {_num(hi)}")
        elif isinstance(v, list | tuple):
            parts.append(f"{d} ∈ {{{', '.join(_esc(x) for x in v)}}}")
        else:
            parts.append(f"{d} = {_esc(v)}")
    return " and ".join(parts) or "all cases"


def _regions_section(summary: Mapping[str, Any]) -> str:
    regions = summary.get("regions")
    out = '<h2 id="regions">Failure regions</h2>'
    if regions is None:
        return out + '<p class="none">not computed</p>'
    if not regions:
        return out + '<p class="none">none found: failures do not concentrate in a box</p>'
    conf = float(summary.get("confidence", 0.95))
    rows = []
    for r in regions:
        text = str(r.get("description") or "")
        where = _esc(text.rsplit(": ", 1)[0]) if ": " in text else _conditions(r.get("conditions"))
        rows.append(
            [
                _esc(r.get("model", "")),
                where,
                _num(r.get("n")),
                _num(r.get("failures")),
                _num(r.get("rate"), 3),
                f"{_num(r.get('lower'), 3)} – {_num(r.get('upper'), 3)}",
            ]
        )
    head = ["model", "region", "n", "failures", "rate", f"{100 * conf:g}% CI"]
    intro = (
        "<p>Boxes of the parameter space where failures concentrate (patient rule "
        "induction), most important first.</p>"
    )
    return out + intro + _table(head, rows, num=(2, 3, 4, 5))


def _cases_section(views: Sequence[Any], run_name: str) -> str:
    out = [
        '<h2 id="cases">Failing cases</h2>',
        "<p>Chosen deterministically: one case per failing verdict, worst kind first "
        f"({', '.join(SEVERITY)}), lowest case id first; regenerated bit-identically from "
        "the campaign's seed and replayed through every model.</p>",
    ]
    if not views:
        out.append('<p class="none">no failing case to show</p>')
    for v in views:
        verdicts = " ".join(f"{_esc(m)} {_chip(x)}" for m, x in v.verdicts.items())
        counts = ", ".join(f"{_esc(m)} {c}" for m, c in v.counts.items())
        true = "" if v.true_count is None else f"true count {v.true_count}; "
        key = ", ".join(
            f"{_esc(k)}={_esc(_fmt(v.params[k]))}" for k in _KEY_PARAMS if k in v.params
        )
        everything = "".join(
            f"<tr><th>{_esc(k)}</th><td>{_esc(_fmt(x))}</td></tr>" for k, x in v.params.items()
        )
        out.append(f'<h3 id="case-{v.case}">case {v.case} {verdicts}</h3>')
        out.append(f"<p>{true}predicted: {counts or '–'}<br><span class=sub>{key}</span></p>")
        if v.note:
            out.append(f'<p class="note">{_esc(v.note)}</p>')
        if v.image:
            what = (
                "trace with truth events (green: high-five), scalogram, and each model's "
                "window probabilities with its detections"
                if v.replayed
                else "stored trace with truth events (green: high-five) and the first "
                "model's detections"
            )
            out.append(
                f"<figure>{_img(v.image, f'case {v.case}')}<figcaption>{what}. Reproduce: "
                f"<code>highfive replay {_esc(run_name)} {v.case} --plot case.png</code>"
                "</figcaption></figure>"
            )
        if everything:
            out.append(
                f'<details><summary>all parameters</summary><table class="facts">{everything}'
                "</table></details>"
            )
    return "".join(out)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _render(
    *,
    path: Path,
    record: Mapping[str, Any],
    gate: Mapping[str, Any] | None,
    summary: Mapping[str, Any],
    scan: Scan,
    grids: Sequence[Any],
    views: Sequence[Any],
    generated: str,
) -> str:
    from highfive.coverage import FAIL_VERDICTS

    from ._figures import RateScale, agreement_figure, figure_png_base64, pair_figure

    scale = RateScale.for_grids(grids)
    pngs = [figure_png_base64(pair_figure(g, scale)) for g in grids]
    pair = (scan.models[0], scan.models[1]) if scan.confusion is not None else None
    agreement = figure_png_base64(
        agreement_figure(scan.verdicts, FAIL_VERDICTS, scan.confusion, pair)
    )
    name = str(record.get("name", path.name))
    run_arg = os.fspath(path)
    body = [
        f"<header><h1>highfive verification report: {_esc(name)}</h1>"
        f'<div class="sub">run directory {_esc(run_arg)} · generated {_esc(generated)}</div>'
        '<nav><a href="#verdict">verdict</a><a href="#campaign">campaign</a>'
        '<a href="#results">failures</a><a href="#coverage">coverage</a>'
        '<a href="#worst">worst cells</a><a href="#regions">regions</a>'
        '<a href="#cases">failing cases</a></nav></header>',
        _gate_section(gate, _kpis(record, summary, scan)),
        _campaign_section(path, record),
        _results_section(scan, run_arg, agreement),
        _coverage_section(summary, grids, pngs, scan.models),
        _worst_section(summary),
        _regions_section(summary),
        _cases_section(views, run_arg),
        f"<footer>highfive {_esc(record.get('versions', {}).get('highfive', ''))} · "
        "self-contained report: no external files.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>highfive report: {_esc(name)}</title><style>{_CSS}</style>"
        f"<script>{_CHECK}</script></head>\n<body><main>"
        + "\n".join(body)
        + "</main></body></html>\n"
    )
