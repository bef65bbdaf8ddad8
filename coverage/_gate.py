"""Release gates: criteria on a run, a pass/fail verdict, ``gate.json`` and ``junit.xml``.

A gate file is TOML::

    [gate]
    confidence = 0.95          # of every one-sided Clopper-Pearson bound
    bins = "bins.toml"         # optional: [bins.<dimension>] tables (relative to this file)

    [[criteria]]
    kind = "cell_upper_bound"  # every cell's failure rate shown below p_max
    name = "every motion"      # optional (default: the kind); names must be unique
    model = "float"            # optional: a model id or a list (default: every model)
    p_max = 0.05
    ways = [1]                 # t-way crosses whose cells must pass (default [1])
    min_cases = 30             # cells with fewer cases fail as "not shown" ...
    allow_untested = false     # ... unless this is true (they are then skipped)

Kinds and their keys (besides ``kind``, ``name`` and ``model``):

- ``cell_upper_bound``: ``p_max`` (required), ``ways``, ``min_cases``, ``allow_untested``;
- ``coverage``: ``min`` (required, a fraction), ``ways`` (default [2]), ``min_cases``
  (default 1): the fraction of t-way cells with at least ``min_cases`` cases, for each
  t in ``ways``;
- ``failure_rate``: ``p_max`` (required), ``verdicts`` (default every failure
  verdict): the one-sided upper bound of the failure rate over all cases;
- ``agreement``: ``max`` (required), ``models`` (default ``["float", "int8"]``): the
  fraction of cases where the two models' predicted counts differ (no ``model`` key);
- ``model_bytes``: ``max`` (required): size of the model file, from campaign.json;
- ``latency``: ``max_ms`` (required), ``batch`` (default 256), ``repeats`` (default
  20): per-window latency at that batch size, measured now with
  :func:`highfive.models.profile` on the run's model file (its SHA-256 must still be
  the one the run used).

Every bound is exact (Clopper-Pearson, one-sided at ``confidence``). A criterion
"every cell below ``p_max``" is an intersection-union test: the gate claims that *all*
cells are below ``p_max`` and passes only if each cell's own test passes, so its error
rate is at most that of one cell's test and no multiplicity correction is needed
(Berger 1982; DESIGN.md, "Statistics").
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from highfive.generators import ConfigError, ParameterSpace, RunDirError
from highfive.generators._toml import read_toml
from highfive.harness import FAIL_VERDICTS

from ._bins import Binning
from ._crosses import cell_codes, make_crosses
from ._db import CoverageCounts
from ._stats import cp_upper

__all__ = [
    "KINDS",
    "Criterion",
    "CriterionResult",
    "Gate",
    "GateResult",
    "evaluate_gate",
    "load_gate",
    "write_gate",
]

_REQUIRED = object()
_OPTIONS: dict[str, dict[str, Any]] = {
    "cell_upper_bound": {
        "p_max": _REQUIRED,
        "ways": [1],
        "min_cases": 1,
        "allow_untested": False,
    },
    "coverage": {"min": _REQUIRED, "ways": [2], "min_cases": 1},
    "failure_rate": {"p_max": _REQUIRED, "verdicts": list(FAIL_VERDICTS)},
    "agreement": {"max": _REQUIRED, "models": ["float", "int8"]},
    "model_bytes": {"max": _REQUIRED},
    "latency": {"max_ms": _REQUIRED, "batch": 256, "repeats": 20},
}
KINDS = tuple(_OPTIONS)
"""Every criterion kind a gate file may use."""
_COMMON = ("kind", "name", "model")
_GATE_KEYS = ("confidence", "bins")


# -- the gate file ----------------------------------------------------------------------
@dataclass(frozen=True)
class Criterion:
    """One checked criterion of a gate.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    name : str
        Unique within the gate.
    models : tuple of str or None
        Model ids it applies to (one result each); None: every model of the run.
        Unused by ``agreement``, which compares ``options["models"]``.
    options : mapping
        The kind's thresholds and options, validated, defaults filled in.
    """

    kind: str
    name: str
    models: tuple[str, ...] | None
    options: Mapping[str, Any]

    def threshold(self) -> str:
        """The threshold as people read it, e.g. ``"upper bound < 0.001"``."""
        o = self.options
        if self.kind == "cell_upper_bound":
            ways = "/".join(map(str, o["ways"]))
            return f"upper bound < {o['p_max']:g} in every {ways}-way cell"
        if self.kind == "coverage":
            ways = "/".join(map(str, o["ways"]))
            return f">= {100 * o['min']:g}% of {ways}-way cells with >= {o['min_cases']} cases"
        if self.kind == "failure_rate":
            which = "" if tuple(o["verdicts"]) == FAIL_VERDICTS else f" ({'+'.join(o['verdicts'])})"
            return f"upper bound < {o['p_max']:g}{which}"
        if self.kind == "agreement":
            return f"disagreement <= {o['max']:g}"
        if self.kind == "model_bytes":
            return f"<= {o['max']:,} bytes"
        return f"<= {o['max_ms']:g} ms/window at batch {o['batch']}"


@dataclass(frozen=True)
class Gate:
    """Criteria and the confidence of their bounds; read one with :func:`load_gate`.

    Parameters
    ----------
    criteria : tuple of Criterion
    confidence : float
        One-sided confidence of every Clopper-Pearson bound, in [0.5, 1).
    bins : mapping
        ``[bins.<dimension>]`` tables (as :meth:`Binning.from_space` takes them).
    source : str
        The gate file, for the record (empty for gates built in code).
    """

    criteria: tuple[Criterion, ...]
    confidence: float = 0.95
    bins: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "", base: Path | None = None) -> Gate:
        """A gate from parsed TOML; :class:`ConfigError` names any bad key or value.

        ``base`` is the folder a relative ``[gate] bins`` path is read from.
        """
        bad = sorted(set(data) - {"gate", "criteria"})
        if bad:
            raise ConfigError(f"unknown key {bad[0]!r}; allowed: 'gate', 'criteria'")
        head = data.get("gate", {})
        if not isinstance(head, Mapping):
            raise ConfigError(f"gate: {head!r} must be a table [gate]")
        bad = sorted(set(head) - set(_GATE_KEYS))
        if bad:
            raise ConfigError(f"unknown key 'gate.{bad[0]}'; allowed: {', '.join(_GATE_KEYS)}")
        conf = head.get("confidence", 0.95)
        if not _is_number(conf) or not 0.5 <= conf < 1:
            raise ConfigError(
                f"gate.confidence: {conf!r} must be in [0.5, 1) (one-sided), e.g. 0.95"
            )
        bins = _read_bins(head["bins"], base) if "bins" in head else {}
        raw = data.get("criteria")
        if not isinstance(raw, list) or not raw:
            raise ConfigError(
                "criteria: a gate needs at least one [[criteria]] table with a kind, "
                f"one of {', '.join(KINDS)}"
            )
        criteria = tuple(_criterion(i, spec) for i, spec in enumerate(raw))
        names = [c.name for c in criteria]
        for i, n in enumerate(names):
            if names.index(n) != i:
                raise ConfigError(
                    f"criteria[{i}].name: {n!r} is used twice; give each criterion its own name"
                )
        return cls(criteria, float(conf), bins, source)


def load_gate(path: str | os.PathLike[str]) -> Gate:
    """Read a gate TOML file (see the module docstring for its keys).

    Raises
    ------
    ConfigError
        Missing file, bad TOML, unknown kinds or keys, impossible thresholds.
    """
    path = Path(path)
    data = read_toml(path, "gate file")
    return Gate.from_dict(data, source=os.fspath(path), base=path.parent)


def _read_bins(value: Any, base: Path | None) -> dict[str, Any]:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"gate.bins: {value!r} must be the path of a bins TOML file")
    path = Path(value) if base is None or os.path.isabs(value) else base / value
    data = read_toml(path, "gate.bins: file")
    bins = data.get("bins", {})
    if not isinstance(bins, Mapping):
        raise ConfigError(f"gate.bins: {path.name} must hold [bins.<dimension>] tables")
    return dict(bins)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _is_int(x: Any, low: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= low


def _criterion(i: int, spec: Any) -> Criterion:
    where = f"criteria[{i}]"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: {spec!r} must be a table [[criteria]]")
    kind = spec.get("kind")
    if kind not in _OPTIONS:
        raise ConfigError(f"{where}.kind: {kind!r} is not a criterion kind; use one of {KINDS}")
    where = f"{where} ({kind})"
    defaults = _OPTIONS[kind]
    allowed = [k for k in _COMMON if not (kind == "agreement" and k == "model")]
    allowed += list(defaults)
    bad = sorted(set(spec) - set(allowed))
    if bad:
        raise ConfigError(f"{where}: unknown key {bad[0]!r}; allowed: {', '.join(allowed)}")
    name = spec.get("name", kind)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name: {name!r} must be a non-empty string")
    models = spec.get("model")
    if isinstance(models, str):
        models = [models]
    if models is not None and (
        not isinstance(models, list)
        or not models
        or not all(isinstance(m, str) and m for m in models)
        or len(set(models)) != len(models)
    ):
        raise ConfigError(f"{where}.model: {spec['model']!r} must be a model id or a list of ids")
    opts: dict[str, Any] = {}
    for key, default in defaults.items():
        if key not in spec:
            if default is _REQUIRED:
                raise ConfigError(f"{where}: missing key {key!r} (the threshold)")
            opts[key] = list(default) if isinstance(default, list) else default
        else:
            opts[key] = _check_option(f"{where}.{key}", key, spec[key], kind)
    return Criterion(kind, name, None if models is None else tuple(models), opts)


def _check_option(where: str, key: str, v: Any, kind: str) -> Any:
    if key == "p_max":
        if not _is_number(v) or not 0 < v <= 1:
            raise ConfigError(f"{where}: {v!r} must be a failure rate in (0, 1], e.g. 0.001")
        return float(v)
    if key == "min":
        if not _is_number(v) or not 0 <= v <= 1:
            raise ConfigError(f"{where}: {v!r} must be a fraction in [0, 1], e.g. 0.95")
        return float(v)
    if key == "max" and kind == "agreement":
        if not _is_number(v) or not 0 <= v <= 1:
            raise ConfigError(f"{where}: {v!r} must be a fraction of cases in [0, 1], e.g. 0.01")
        return float(v)
    if key == "max":
        if not _is_int(v, 0):
            raise ConfigError(f"{where}: {v!r} must be a whole number of bytes >= 0")
        return int(v)
    if key == "max_ms":
        if not _is_number(v) or v <= 0:
            raise ConfigError(f"{where}: {v!r} must be a positive number of milliseconds")
        return float(v)
    if key == "ways":
        if not isinstance(v, list) or not v or not all(_is_int(t, 1) for t in v):
            raise ConfigError(f"{where}: {v!r} must be a list of whole numbers >= 1, e.g. [1, 2]")
        return sorted(set(v))
    if key in ("min_cases", "batch", "repeats"):
        if not _is_int(v, 1):
            raise ConfigError(f"{where}: {v!r} must be a whole number >= 1")
        return int(v)
    if key == "allow_untested":
        if not isinstance(v, bool):
            raise ConfigError(f"{where}: {v!r} must be true or false")
        return v
    if key == "verdicts":
        if (
            not isinstance(v, list)
            or not v
            or not all(x in FAIL_VERDICTS for x in v)
            or len(set(v)) != len(v)
        ):
            raise ConfigError(
                f"{where}: {v!r} must be a list of distinct failure verdicts from "
                f"{list(FAIL_VERDICTS)}"
            )
        return list(v)
    assert key == "models", key
    if (
        not isinstance(v, list)
        or len(v) != 2
        or not all(isinstance(m, str) and m for m in v)
        or v[0] == v[1]
    ):
        raise ConfigError(f"{where}: {v!r} must be two different model ids, e.g. ['float', 'int8']")
    return list(v)


# -- results --------------------------------------------------------------------------
@dataclass(frozen=True)
class CriterionResult:
    """The outcome of one criterion for one model (``model`` None: not per model)."""

    name: str
    kind: str
    model: str | None
    threshold: str
    value: str
    passed: bool
    detail: str
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The ``gate.json`` entry (``seconds`` goes to junit.xml only)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "model": self.model,
            "threshold": self.threshold,
            "value": self.value,
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class GateResult:
    """A gate's verdict on a run: ``pass`` only if every criterion passed."""

    run: str
    gate_file: str
    confidence: float
    evaluated: str
    criteria: tuple[CriterionResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.criteria)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        """The ``gate.json`` document."""
        return {
            "verdict": self.verdict,
            "run": self.run,
            "gate_file": self.gate_file,
            "confidence": self.confidence,
            "evaluated": self.evaluated,
            "criteria": [c.to_dict() for c in self.criteria],
        }

    def lines(self) -> list[str]:
        """What ``highfive gate`` prints: one line per criterion, then the verdict."""
        width = max(len(_label(c)) for c in self.criteria)
        out = [
            f"gate {self.gate_file or '(in code)'} on {self.run} "
            f"(one-sided bounds at {100 * self.confidence:g}% confidence)"
        ]
        for c in self.criteria:
            out.append(
                f"  {'PASS' if c.passed else 'FAIL'}  {_label(c):<{width}}  "
                f"{c.value}  (need {c.threshold})"
            )
        failed = sum(not c.passed for c in self.criteria)
        total = len(self.criteria)
        out.append(
            f"verdict: {self.verdict.upper()} "
            + (f"({total} criteria passed)" if not failed else f"({failed} of {total} failed)")
        )
        return out


def _label(c: CriterionResult) -> str:
    return f"{c.name} [{c.model}]" if c.model else c.name


# -- evaluation -----------------------------------------------------------------------
class _Run:
    """A run directory's record, counts and result rows, each read once when needed."""

    def __init__(self, path: Path, gate: Gate) -> None:
        from highfive.harness._rundir import RunDir  # lazy: the harness pulls in ONNX Runtime

        self.path, self.gate = path, gate
        self.dir = RunDir(path)
        self.record = self.dir.read_campaign()
        if self.record.get("status") != "complete":
            raise RunDirError(
                f"run directory {os.fspath(path)!r} is incomplete (status "
                f"{self.record.get('status')!r}); a gate judges complete runs only: finish "
                "it with 'highfive run CONFIG --resume'"
            )
        self.models: dict[str, dict[str, Any]] = {m["id"]: m for m in self.record["models"]}
        self._counts: CoverageCounts | None = None
        self._frame: pd.DataFrame | None = None
        self._profiles: dict[tuple[str, int, int], dict[str, Any]] = {}

    def counts(self) -> CoverageCounts:
        """Counts of every cross the gate's criteria need (all of their ``ways``)."""
        if self._counts is None:
            ways = sorted({t for c in self.gate.criteria for t in c.options.get("ways", [])})
            space = ParameterSpace.from_arrow_schema(self.dir.results_dataset().schema)
            binning = Binning.from_space(space, self.gate.bins)
            for c in self.gate.criteria:
                for t in c.options.get("ways", []):
                    if t > len(binning):
                        raise ConfigError(
                            f"criterion {c.name!r}: ways {c.options['ways']} - this space has "
                            f"only {len(binning)} binned dimensions, so t <= {len(binning)}"
                        )
            self._counts = CoverageCounts.from_run(self.path, binning, make_crosses(binning, ways))
        return self._counts

    def frame(self) -> pd.DataFrame:
        """case_id, model, verdict and predicted_count of every result row."""
        if self._frame is None:
            f = self.dir.results(columns=["case_id", "model", "verdict", "predicted_count"])
            f["model"] = f["model"].astype(str)
            f["verdict"] = f["verdict"].astype(str)
            self._frame = f
        return self._frame

    def profile(self, model: str, batch: int, repeats: int) -> dict[str, Any]:
        key = (model, batch, repeats)
        if key not in self._profiles:
            from highfive.harness._model import Model
            from highfive.models import profile

            entry = self.models[model]
            source = entry.get("source", model)
            try:
                loaded = Model.load(source)
            except FileNotFoundError:
                raise RunDirError(
                    f"latency: model {model!r} of the run came from {source!r}, which no "
                    "longer exists; restore the file to measure its latency"
                ) from None
            if loaded.sha256 != entry.get("sha256"):
                raise RunDirError(
                    f"latency: model {model!r} at {source!r} now has sha256 "
                    f"{loaded.sha256[:12]}..., the run used {str(entry.get('sha256'))[:12]}...; "
                    "the file changed since the run, so its latency would not be the tested one"
                )
            self._profiles[key] = profile(loaded, repeats=repeats, big_batch=batch)
        return self._profiles[key]


Outcome = tuple[str, bool, str]
"""What an evaluator returns: value, passed, detail."""


def _crosses_rows(counts: CoverageCounts, ways: Sequence[int]) -> np.ndarray:
    parts = [
        np.arange(counts.offsets[i], counts.offsets[i + 1])
        for i, c in enumerate(counts.crosses)
        if c.t in ways
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _cell_label(counts: CoverageCounts, row: int) -> str:
    i = int(counts.cross_ids[row])
    cross = counts.crosses[i]
    code = cell_codes(counts.binning, cross, np.array([row - int(counts.offsets[i])]))[0]
    return " & ".join(
        counts.binning[d].bin_labels[int(b)] for d, b in zip(cross.dims, code, strict=True)
    )


def _model_column(counts: CoverageCounts, model: str) -> int:
    return counts.models.index(model) if model in counts.models else -1


def _cell_upper_bound(c: Criterion, model: str | None, run: _Run) -> Outcome:
    """Every cell's one-sided Clopper-Pearson upper bound below ``p_max``.

    No multiplicity correction: the claim "every cell is below p_max" is the
    intersection of the cells' claims, and an intersection-union test that passes only
    when every cell's level-alpha test passes has level alpha itself (Berger 1982). It
    is flagging *some* bad cell among many that needs Holm or FDR (see ``_diff``).
    """
    o, conf = c.options, run.gate.confidence
    counts = run.counts()
    rows = _crosses_rows(counts, o["ways"])
    j = _model_column(counts, str(model))
    n = counts.n[rows, j] if j >= 0 else np.zeros(rows.size, dtype=np.int64)
    k = counts.fails[rows, j].sum(axis=-1) if j >= 0 else np.zeros(rows.size, dtype=np.int64)
    upper = cp_upper(k, n, conf)
    shown = n >= o["min_cases"]
    bad = shown & (upper >= o["p_max"])
    not_shown = int(np.count_nonzero(~shown))
    cells = rows.size
    if not shown.any():
        return "no cell tested", False, f"none of {cells:,} cells has >= {o['min_cases']} cases"
    order = np.argsort(-np.where(shown, upper, -1.0), kind="stable")
    worst = int(order[0])

    def cell(i: int) -> str:
        return (
            f"{_cell_label(counts, int(rows[i]))}: {int(k[i]):,}/{int(n[i]):,} fail, "
            f"upper {upper[i]:.3g}"
        )

    value = f"worst upper bound {upper[worst]:.4g}"
    parts = []
    if bad.any():
        listed = [cell(int(i)) for i in order[: min(3, int(bad.sum()))]]
        parts.append(
            f"{int(bad.sum()):,} of {cells:,} cells not shown below {o['p_max']:g} "
            f"(worst: {'; '.join(listed)})"
        )
    else:
        parts.append(
            f"all {int(shown.sum()):,} tested cells below {o['p_max']:g} (worst {cell(worst)})"
        )
    if not_shown:
        few = np.flatnonzero(~shown)[:3]
        names = ", ".join(f"{_cell_label(counts, int(rows[i]))} ({int(n[i])})" for i in few)
        verb = "skipped (allow_untested)" if o["allow_untested"] else "not shown"
        parts.append(f"{not_shown:,} cells with < {o['min_cases']} cases {verb}, e.g. {names}")
    passed = not bad.any() and (o["allow_untested"] or not not_shown)
    return value, passed, "; ".join(parts)


def _coverage(c: Criterion, model: str | None, run: _Run) -> Outcome:
    o = c.options
    counts = run.counts()
    j = _model_column(counts, str(model))
    fractions, parts = [], []
    for t in o["ways"]:
        rows = _crosses_rows(counts, [t])
        covered = int(np.count_nonzero(counts.n[rows, j] >= o["min_cases"])) if j >= 0 else 0
        frac = covered / rows.size if rows.size else 0.0
        fractions.append(frac)
        parts.append(f"{t}-way {100 * frac:.2f}% ({covered:,}/{rows.size:,} cells)")
    low = min(fractions)
    value = f"{100 * low:.2f}%" if len(fractions) == 1 else f"lowest {100 * low:.2f}%"
    return value, low >= o["min"], "; ".join(parts)


def _failure_rate(c: Criterion, model: str | None, run: _Run) -> Outcome:
    o, conf = c.options, run.gate.confidence
    f = run.frame()
    v = f.loc[f["model"] == model, "verdict"]
    n, k = len(v), int(v.isin(o["verdicts"]).sum())
    upper = float(cp_upper(k, n, conf))
    which = "failures" if tuple(o["verdicts"]) == FAIL_VERDICTS else "+".join(o["verdicts"])
    rate = k / n if n else float("nan")
    detail = f"{k:,} {which} in {n:,} cases (rate {rate:.4g}); upper bound {upper:.4g}"
    return f"upper bound {upper:.4g}", n > 0 and upper < o["p_max"], detail


def _agreement(c: Criterion, model: str | None, run: _Run) -> Outcome:
    a, b = c.options["models"]
    f = run.frame()
    pa_ = f.loc[f["model"] == a].set_index("case_id")["predicted_count"]
    pb = f.loc[f["model"] == b].set_index("case_id")["predicted_count"]
    both = pa_.to_frame("a").join(pb.to_frame("b"), how="inner")
    n = len(both)
    k = int((both["a"] != both["b"]).sum())
    frac = k / n if n else 1.0
    upper = float(cp_upper(k, n, run.gate.confidence))
    detail = (
        f"{a} and {b} count differently in {k:,} of {n:,} cases ({100 * frac:.3g}%; "
        f"one-sided upper bound {upper:.4g})"
    )
    return f"disagreement {frac:.4g}", n > 0 and frac <= c.options["max"], detail


def _model_bytes(c: Criterion, model: str | None, run: _Run) -> Outcome:
    entry = run.models[str(model)]
    size = int(entry["bytes"])
    detail = f"{entry.get('source', model)} (sha256 {str(entry.get('sha256'))[:12]}...)"
    return f"{size:,} bytes", size <= c.options["max"], detail


def _latency(c: Criterion, model: str | None, run: _Run) -> Outcome:
    o = c.options
    prof = run.profile(str(model), o["batch"], o["repeats"])
    batch = o["batch"]
    per_window = prof.get(f"per_window_b{batch}_us")  # absent at batch 1: per call is per window
    ms = float(per_window) / 1e3 if per_window is not None else float(prof["latency_b1_ms"])
    per_call = float(prof[f"latency_b{batch}_ms"])
    detail = (
        f"measured now: {ms:.4g} ms/window at batch {batch} ({per_call:.3g} ms per call, "
        f"median, 1 intra-op thread); {prof['latency_b1_ms']:.3g} ms at batch 1"
    )
    return f"{ms:.4g} ms/window", ms <= o["max_ms"], detail


_EVALUATORS: dict[str, Callable[[Criterion, str | None, _Run], Outcome]] = {
    "cell_upper_bound": _cell_upper_bound,
    "coverage": _coverage,
    "failure_rate": _failure_rate,
    "agreement": _agreement,
    "model_bytes": _model_bytes,
    "latency": _latency,
}


def _targets(c: Criterion, run: _Run) -> list[str | None]:
    known = list(run.models)
    wanted = c.options["models"] if c.kind == "agreement" else c.models
    for m in wanted or ():
        if m not in run.models:
            key = "models" if c.kind == "agreement" else "model"
            raise ConfigError(
                f"criterion {c.name!r}: {key} {m!r} is not a model of run "
                f"{os.fspath(run.path)!r}; its models: {', '.join(known)}"
            )
    if c.kind == "agreement":
        return [None]
    return list(c.models or known)


def evaluate_gate(run: str | os.PathLike[str], gate: Gate) -> GateResult:
    """Check every criterion of ``gate`` on a complete run directory.

    Nothing is written (see :func:`write_gate`). Every model a criterion names is
    checked against the run before anything is computed.

    Parameters
    ----------
    run : path
        A complete run directory.
    gate : Gate

    Returns
    -------
    GateResult

    Raises
    ------
    RunDirError
        Not a (complete) run directory; a model file changed since the run.
    ConfigError
        The gate names a model the run does not have, or ways the space cannot cross.
    """
    path = Path(run)
    data = _Run(path, gate)
    targets = [(c, _targets(c, data)) for c in gate.criteria]
    results = []
    for c, models in targets:
        for m in models:
            t0 = time.perf_counter()
            value, passed, detail = _EVALUATORS[c.kind](c, m, data)
            model = f"{c.options['models'][0]} vs {c.options['models'][1]}" if m is None else m
            results.append(
                CriterionResult(
                    c.name,
                    c.kind,
                    model,
                    c.threshold(),
                    value,
                    bool(passed),
                    detail,
                    time.perf_counter() - t0,
                )
            )
    return GateResult(
        os.fspath(path),
        gate.source,
        gate.confidence,
        datetime.now(UTC).isoformat(timespec="seconds"),
        tuple(results),
    )


def write_gate(run: str | os.PathLike[str], result: GateResult) -> list[Path]:
    """Write ``RUN/gate.json`` and ``RUN/junit.xml``, each atomically; return their paths."""
    from highfive.harness._io import atomic_write_text
    from highfive.reports._junit import junit_xml

    out = Path(run)
    doc = result.to_dict()
    written = [out / "gate.json", out / "junit.xml"]
    xml = junit_xml(doc, times=[c.seconds for c in result.criteria])
    atomic_write_text(written[0], json.dumps(doc, indent=2) + "\n")
    atomic_write_text(written[1], xml)
    return written
