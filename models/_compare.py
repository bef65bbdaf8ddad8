"""``highfive model compare RUN...``: model variants side by side.

For every ONNX model of the runs (each loaded from the source campaign.json recorded,
and refused if its SHA-256 changed): parameters, MACs per window, bytes, MACs per
second and fit on a target (:func:`estimate_target`), latency at batch 1 and 256
(:func:`profile`), window accuracy on held-out generated traces (all windows kept,
seed :data:`~highfive.models._defaults.HELD_OUT_SEED` unless told), the campaign
failure rate with its one-sided 95 % Clopper-Pearson upper bound, the cells where it
fails significantly more than the reference (:func:`highfive.coverage.diff_runs`,
one-sided, Holm-adjusted: paired when both models ran the same cases), and the share
of cases where it counts the same as its twin (the int8 model quantized from it, or
the float model it was quantized from, in the same run: same training metadata).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from highfive.generators import ConfigError, InvalidParameter, show

from ._defaults import HELD_OUT_SEED, MAX_TRACES
from ._export import metadata_of

__all__ = ["CompareResult", "check_parquet", "compare_runs", "write_compare"]

CONFIDENCE = 0.95
_COLUMNS = (
    ("model", "model", "{}"),
    ("bytes", "bytes", "{:,}"),
    ("parameters", "params", "{:,}"),
    ("macs_per_window", "MACs/window", "{:,}"),
    ("macs_per_s", "MACs/s", "{:,.0f}"),
    ("fits_target", "fits", "{}"),
    ("latency_b1_ms", "ms b1", "{:.3f}"),
    ("latency_b256_ms", "ms b256", "{:.2f}"),
    ("window_accuracy", "win acc %", "{:.2f}"),
    ("failure_rate", "fail %", "{:.3f}"),
    ("failure_upper", "fail ub95 %", "{:.3f}"),
    ("cells_worse", "worse cells", "{}"),
    ("twin_agreement", "twin agree %", "{}"),
)


def _json_number(value: Any) -> Any:
    """``value``, or None for a float that is NaN or infinite (not JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class CompareResult:
    """One row per model (dicts with the keys of the table), and how it was measured."""

    rows: list[dict[str, Any]]
    reference: str
    target: str
    held_out: dict[str, int]
    ways: list[int]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: a figure that is not a number (a balanced accuracy of held-out
        windows of one class) is None, which JSON writes as null, not NaN."""
        return {
            "reference": self.reference,
            "target": self.target,
            "held_out": self.held_out,
            "ways": self.ways,
            "confidence": CONFIDENCE,
            "models": [{k: _json_number(v) for k, v in row.items()} for row in self.rows],
        }

    def frame(self) -> Any:
        import pandas as pd

        f = pd.DataFrame(self.rows)
        f["worse_cell_labels"] = f["worse_cell_labels"].map(lambda v: "; ".join(v))
        return f

    def lines(self) -> list[str]:
        head = [label for _, label, _ in _COLUMNS]
        body = []
        for r in self.rows:
            cells = []
            for key, _, fmt in _COLUMNS:
                v = r.get(key)
                if v is None or (isinstance(v, float) and not np.isfinite(v)):
                    cells.append("-")
                elif key in ("window_accuracy", "failure_rate", "failure_upper"):
                    cells.append(fmt.format(100 * v))
                elif key == "twin_agreement":
                    cells.append(f"{100 * v:.2f} ({r['twin']})")
                elif key == "fits_target":
                    cells.append("yes" if v else "NO")
                else:
                    cells.append(fmt.format(v))
            body.append(cells)
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        out = [
            f"reference {self.reference}; target {self.target}; window accuracy on "
            f"{self.held_out['traces']} held-out traces (seed {self.held_out['seed']}); "
            f"failure bound one-sided {CONFIDENCE:.0%}; worse cells: {_ways(self.ways)}, "
            "Holm-adjusted at 0.05",
            _row(head, widths),
        ]
        out += [_row(cells, widths) for cells in body]
        for r in self.rows:
            if r["worse_cell_labels"]:
                shown = ", ".join(r["worse_cell_labels"][:5])
                more = len(r["worse_cell_labels"]) - 5
                out.append(
                    f"{r['model']}: worse than {self.reference} in {shown}"
                    + (f" and {more} more" if more > 0 else "")
                )
        return out + self.notes


def _ways(ways: Sequence[int]) -> str:
    """The crosses in words: ``1-way``, ``1- and 2-way``, ``1-, 2- and 3-way``."""
    words = [f"{t}-" for t in ways]
    return (", ".join(words[:-1]) + " and " if len(words) > 1 else "") + f"{words[-1]}way"


def _row(cells: list[str], widths: list[int]) -> str:
    """The first cell left-aligned, the others right-aligned, two spaces apart."""
    pairs = enumerate(zip(cells, widths, strict=True))
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)


@dataclass
class _Entry:
    label: str
    run: Path
    model_id: str
    model: Any
    meta: dict[str, str]
    quantized: bool
    names: tuple[str, ...] = ()  # every way to name it: ID, RUN_NAME/ID, RUN_PATH/ID


def _labels(names: list[tuple[str, ...]]) -> list[str]:
    """Distinct labels: each model's shortest name that no other model shares at that
    length (its id, else its campaign name/id, else its run path/id), else numbered."""
    labels = [n[0] for n in names]
    for level in (1, 2):
        dup = {x for x in labels if labels.count(x) > 1}
        labels = [n[level] if x in dup else x for x, n in zip(labels, names, strict=True)]
    for i, x in enumerate(labels):
        if labels.count(x) > 1:
            labels[i] = f"{x}#{labels[: i + 1].count(x)}"
    return labels


def _runs(runs: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, dict[str, Any], str]]:
    from highfive.coverage import space_fingerprint
    from highfive.generators import ParameterSpace
    from highfive.harness import RunDir

    out: list[tuple[Path, dict[str, Any], str]] = []
    seen: dict[Path, Path] = {}
    for run in runs:
        path = Path(run)
        first = seen.setdefault(path.resolve(), path)
        if first is not path:
            raise ConfigError(
                f"compare: run {os.fspath(first)!r} is given twice"
                + ("" if first == path else f" (also as {os.fspath(path)!r})")
                + "; name each run once (the models of one run are compared with each other)"
            )
        rundir = RunDir(path)
        record = rundir.require_complete("compare", takes="several")
        fp = space_fingerprint(ParameterSpace.from_arrow_schema(rundir.results_dataset().schema))
        if out and fp != out[0][2]:
            raise ConfigError(
                f"compare: run {os.fspath(path)!r} is over another parameter space than "
                f"{os.fspath(out[0][0])!r}; compare runs of one space"
            )
        out.append((path, record, fp))
    return out


def _names(path: Path, record: dict[str, Any], mid: str) -> tuple[str, str, str]:
    """Every way to name model ``mid`` of a run: ID, RUN_NAME/ID, RUN_PATH/ID."""
    return mid, f"{record.get('name', path.name)}/{mid}", f"{os.fspath(path)}/{mid}"


def _entries(runs: list[tuple[Path, dict[str, Any], str]]) -> list[_Entry]:
    from highfive.harness import Model, RunDir

    from ._failures import check_train_metadata

    entries = []
    for path, record, _ in runs:
        files = RunDir(path).model_files(record)  # where they are now, if moved
        for m in record.get("models", []):
            if m.get("kind", "onnx") != "onnx":
                continue
            file = files[str(m["id"])]
            model = Model.load(file)
            if model.sha256 != m.get("sha256"):
                raise ConfigError(
                    f"compare: model {m['id']!r} of run {os.fspath(path)!r} ({file}) "
                    f"has changed since the run (sha256 {model.sha256[:12]}, the run used "
                    f"{str(m.get('sha256'))[:12]}); restore it"
                )
            mid = str(m["id"])
            names = _names(path, record, mid)
            meta = metadata_of(model.data)
            check_train_metadata(meta, f"compare: model {m['id']!r} of run {os.fspath(path)!r}")
            import onnx

            ops = {n.op_type for n in onnx.load_from_string(model.data).graph.node}
            quantized = "DequantizeLinear" in ops
            entries.append(_Entry(mid, path, mid, model, meta, quantized, names))
    if not entries:
        raise ConfigError("compare: the runs hold no ONNX model")
    for e, label in zip(entries, _labels([e.names for e in entries]), strict=True):
        e.label = label
    return entries


def _reference(
    reference: str | None, entries: list[_Entry], runs: list[tuple[Path, dict[str, Any], str]]
) -> _Entry:
    """The model ``reference`` names: its label, or else any of its names if that
    names one model only. A counter of another kind than ONNX is refused as such."""
    from highfive.harness.counters import with_article

    if reference is None:
        return entries[0]
    hits = [e for e in entries if e.label == reference] or [
        e for e in entries if reference in e.names
    ]
    labels = ", ".join(e.label for e in entries)
    if not hits:
        for path, record, _ in runs:
            for m in record.get("models", []):
                kind = m.get("kind", "onnx")
                if kind != "onnx" and reference in _names(path, record, str(m["id"])):
                    raise ConfigError(
                        f"--reference: {show(reference)} is {with_article(kind)} counter; "
                        "compare takes "
                        f"ONNX models only; the runs' ONNX models: {labels}"
                    )
        raise ConfigError(
            f"--reference: {show(reference)} is not a model of the runs; their models: {labels}"
        )
    if len(hits) > 1:
        raise ConfigError(
            f"--reference: {show(reference)} matches {len(hits)} models "
            f"({', '.join(e.label for e in hits)}); name one of: {labels}"
        )
    return hits[0]


def _twin(e: _Entry, entries: list[_Entry]) -> _Entry | None:
    """The model of the same run quantized from ``e`` (or ``e``'s float model): the same
    metadata, up to the failure corpora an int8 file keeps only the SHA-256 of."""
    from ._failures import summarize_corpora

    mine = summarize_corpora(e.meta)
    for o in entries:
        same_run = o is not e and o.run == e.run and o.quantized != e.quantized
        if same_run and summarize_corpora(o.meta) == mine:
            return o
    return None


def compare_runs(
    runs: Sequence[str | os.PathLike[str]],
    *,
    reference: str | None = None,
    target: str = "nrf52832",
    traces: int = 300,
    seed: int = HELD_OUT_SEED,
    ways: Sequence[int] = (1,),
) -> CompareResult:
    """Compare every ONNX model of ``runs`` (see the module docstring).

    Parameters
    ----------
    runs : sequence of path
        Complete runs over one parameter space.
    reference : str, optional
        The model the others are diffed against: its label in the table (its id; when
        ids repeat ``RUN_NAME/ID``, and when campaign names repeat too ``RUN_PATH/ID``),
        or any of these forms that names one model only (else refused as ambiguous);
        default the first model of the first run.
    target : str
        Target profile of the fit column.
    traces, seed : int
        Held-out traces for window accuracy (1 to :data:`MAX_TRACES`); ``seed`` may not
        be one whose traces trained a compared model (:func:`trace_seeds`).
    ways : sequence of int
        Crosses whose cells are compared with the reference.
    """
    from highfive.coverage import cp_upper, diff_runs
    from highfive.harness import RunDir, counts_agree

    from ._dataset import window_metrics, window_set
    from ._failures import trace_seeds
    from ._profile import profile
    from ._target import estimate_target
    from ._target_profile import TargetProfile

    if isinstance(traces, bool) or not isinstance(traces, int) or not 1 <= traces <= MAX_TRACES:
        raise InvalidParameter(
            f"--traces: {show(traces)} must be a whole number from 1 to {MAX_TRACES:,}"
        )
    target_profile = TargetProfile.load(target)  # a bad target before any work
    infos = _runs(runs)
    entries = _entries(infos)
    ref = _reference(reference, entries, infos)
    for e in entries:  # held-out traces are no model's training traces
        for key, trained in trace_seeds(e.meta).items():
            if trained == seed:
                raise InvalidParameter(
                    f"--seed: {seed} trained model {e.label!r} (its metadata {key} = "
                    f"{e.meta[key]!r}): its held-out traces would be training traces; give a "
                    f"seed no compared model was trained on (default {HELD_OUT_SEED})"
                )
    held: dict[Any, Any] = {}
    rows = []
    for e in entries:
        prof = profile(e.model, repeats=20)
        est = estimate_target(e.model, target_profile)
        if e.model.spec not in held:
            held[e.model.spec] = window_set(traces, seed, spec=e.model.spec, negative_fraction=1.0)
        acc = window_metrics(e.model.predict(held[e.model.spec].x), held[e.model.spec])
        f = RunDir(e.run).results(columns=["case_id", "model", "verdict", "predicted_count"])
        f = f[f["model"].astype(str) == e.model_id]
        n, k = len(f), int((f["verdict"].astype(str) != "pass").sum())
        worse: list[str] = []
        if e is not ref:
            d = diff_runs(
                ref.run,
                e.run,
                model=f"{ref.model_id}:{e.model_id}",
                ways=ways,
                alternative="greater",
            )
            worse = [str(x) for x in d.regressions["label"].tolist()]
        twin = _twin(e, entries)
        agree = None
        if twin is not None:
            g = RunDir(e.run).results(columns=["case_id", "model", "verdict", "predicted_count"])
            g["verdict"] = g["verdict"].astype(str)
            a = g[g["model"].astype(str) == e.model_id].set_index("case_id")
            b = g[g["model"].astype(str) == twin.model_id].set_index("case_id")
            both = a.index.intersection(b.index)
            a, b = a.loc[both], b.loc[both]
            same = counts_agree(
                a["predicted_count"], a["verdict"], b["predicted_count"], b["verdict"]
            )
            agree = float(same.mean()) if len(both) else None
        rows.append(
            {
                "model": e.label,
                "run": os.fspath(e.run),
                "sha256": e.model.sha256,
                "arch": e.meta.get("train.arch", "reference"),
                "quantized": e.quantized,
                "bytes": prof["bytes"],
                "parameters": prof["parameters"],
                "macs_per_window": prof["macs"],
                "macs_per_s": est.macs_per_s,
                "fits_target": est.fits,
                "latency_b1_ms": prof["latency_b1_ms"],
                "latency_b256_ms": prof["latency_b256_ms"],
                "window_accuracy": acc["accuracy"],
                "window_balanced_accuracy": acc["balanced_accuracy"],
                "cases": n,
                "failures": k,
                "failure_rate": k / n if n else float("nan"),
                "failure_upper": float(cp_upper(k, n, CONFIDENCE)) if n else float("nan"),
                "cells_worse": None if e is ref else len(worse),
                "worse_cell_labels": worse,
                "twin": None if twin is None else twin.label,
                "twin_agreement": agree,
            }
        )
    return CompareResult(
        rows, ref.label, target_profile.name, {"traces": traces, "seed": seed}, list(ways)
    )


def check_parquet(out: Path | None) -> None:
    """Refuse an ``--out`` that does not name a Parquet file (before any work)."""
    if out is not None and out.suffix != ".parquet":
        raise InvalidParameter(f"--out: {os.fspath(out)!r} does not end in .parquet")


def write_compare(
    result: CompareResult, *, out: Path | None = None, plot: Path | None = None
) -> list[Path]:
    """Write the table as Parquet (``out``) and the plot of failure rate against bytes
    (``plot``, upper bound as error bar), both or neither; return the paths written."""
    from highfive.harness import Writer, write_together
    from highfive.reports import save_figure

    check_parquet(out)
    writers: dict[str, tuple[Path, Writer]] = {}
    if out is not None:
        frame = result.frame()
        writers["--out"] = (out, lambda tmp: frame.to_parquet(tmp, index=False))
    if plot is not None:
        figure = _figure(result)
        writers["--plot"] = (plot, lambda tmp: save_figure(figure, tmp))
    write_together(writers)
    return [path for path, _ in writers.values()]


def _figure(result: CompareResult) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    for r in result.rows:
        rate, up = 100 * r["failure_rate"], 100 * r["failure_upper"]
        ax.errorbar(
            r["bytes"],
            rate,
            yerr=[[0.0], [max(up - rate, 0.0)]],
            fmt="s" if r["quantized"] else "o",
            capsize=3,
        )
        ax.annotate(r["model"], (r["bytes"], rate), textcoords="offset points", xytext=(5, 5))
    ax.set_xscale("log")
    # Rates from 0, so that a point's height and its bar read as they are.
    top = max((100 * r["failure_upper"] for r in result.rows), default=0.0)
    ax.set_ylim(0.0, 1.1 * top if top > 0 else 1.0)
    ax.margins(x=0.15)
    ax.set_xlabel("model file (bytes)")
    ax.set_ylabel("campaign failure rate (%), bar to 95 % upper bound")
    ax.set_title(f"failure rate against size (reference {result.reference})")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig
