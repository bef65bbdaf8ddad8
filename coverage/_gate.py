"""Release gates: criteria on a run and a pass/fail verdict (``highfive gate``).

A gate file is TOML::

    [gate]
    confidence = 0.95          # of every one-sided Clopper-Pearson bound
    looks = "fixed"            # or "anytime": bounds valid however often the run is
                               # gated (after every batch or follow-up stage)
    bins = "bins.toml"         # optional: a bins file (relative to this file); the gate
                               # uses its [bins.<dimension>] tables (ways come from each
                               # criterion; examples/bins.toml shows the format); its ways,
                               # [[crosses]] and [statistics] are checked as coverage does

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
  t in ``ways``; a case in an illegal bin (or outside every bin) fails it, and the cell
  criteria report such cases;
- ``failure_rate``: ``p_max`` (required), ``verdicts`` (default every failure
  verdict): the one-sided upper bound of the failure rate over all cases;
- ``agreement``: ``max`` (required), ``models`` (default ``["float", "int8"]``): the
  fraction of cases where the two models' predicted counts differ (no ``model`` key);
- ``detection_latency``: ``max_s`` (required), ``percentile`` (default 95): the share
  of the cases holding a high-five with one counted later than ``max_s`` or never
  counted is shown (upper bound) to be at most ``1 - percentile/100``; needs a
  campaign run with ``stream_chunk_s > 0``. ``percentile`` is a percent in [1, 100)
  (a fraction such as 0.95, where every other option is a fraction, is refused: "did
  you mean 95?"), ``max_s`` seconds in (0, 60] (more is refused as milliseconds);
- ``model_bytes``: ``max`` (required): size of the model file, from campaign.json
  (ONNX counters only);
- ``latency``: ``max_ms`` (required), ``batch`` (default 256, or 1): per-window
  latency at that batch size as campaign.json recorded it when the campaign ran (median
  over many calls, one thread, with the machine it ran on), so the same run and gate
  file always give the same verdict (ONNX counters only; a run made before latencies
  were recorded fails it and says to re-run the campaign);
- ``fits_target``: ``target`` (required: a shipped profile name or a profile file,
  relative to this file),
  ``max_flash_bytes``, ``max_ram_bytes``, ``max_duty_cycle`` (optional, tighter than
  the profile): the model fits the target's flash, RAM and duty cycle as
  ``highfive model target`` estimates them (ONNX counters only; the estimate is
  injected by the command line, see ``_criteria_target``).

Each kind is one class in ``_criteria_*`` modules, registered in
:data:`~highfive.coverage.CRITERIA` (see ``_criteria`` for how to add one).

The crosses the criteria's ``ways`` need are counted before any row is read: more than
:data:`~highfive.coverage._crosses.MAX_CELLS` cells per model is refused with the
count, naming the criterion.

Every bound is exact (Clopper-Pearson, one-sided at ``confidence``). A criterion
"every cell below ``p_max``" is an intersection-union test: the gate claims that *all*
cells are below ``p_max`` and passes only if each cell's own test passes, so its error
rate is at most that of one cell's test and no multiplicity correction is needed
(Berger 1982, "Multiparameter hypothesis testing and acceptance sampling",
Technometrics 24(4)).

With ``looks = "anytime"`` every rate bound is an anytime-valid confidence sequence
(:func:`~highfive.coverage.cs_upper`, tuned to the criterion's threshold) instead: a
campaign may check the gate after every batch or stage and stop at the first pass
without raising its error rate above ``1 - confidence``. docs/statistics.md states
what each guarantees.

Writing ``gate.json`` and ``junit.xml`` is a report: ``highfive.reports.write_gate``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from highfive.generators import ConfigError, read_toml, show

from . import (  # noqa: F401  (registration)
    _criteria_cells,
    _criteria_model,
    _criteria_rates,
    _criteria_target,
)
from ._bins import Binning
from ._criteria import CRITERIA, Criterion, is_number, parse_criterion
from ._criteria_target import check_targets
from ._crosses import load_crosses
from ._gaterun import GateRun
from ._progress import Log
from ._run import read_statistics
from ._stats import LOOKS
from ._tables import check_top_keys

__all__ = [
    "KINDS",
    "CriterionResult",
    "Gate",
    "GateResult",
    "check_bins_crosses",
    "evaluate_gate",
    "load_gate",
]

KINDS = tuple(CRITERIA)
"""Every criterion kind a gate file may use."""
_GATE_KEYS = ("confidence", "bins", "looks")


# -- the gate file ----------------------------------------------------------------------
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
    looks : {"fixed", "anytime"}
        Clopper-Pearson bounds (one look at the run) or anytime-valid ones (a gate
        checked after every batch or stage).
    """

    criteria: tuple[Criterion, ...]
    confidence: float = 0.95
    bins: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    looks: str = "fixed"
    bins_crosses: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The bins file's ``ways`` and ``[[crosses]]``: not used (each criterion has its own
    ways), but checked against the run's space as ``highfive coverage --bins`` checks them."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "", base: Path | None = None) -> Gate:
        """A gate from parsed TOML; :class:`ConfigError` names any bad key or value.

        ``base`` is the folder a relative ``[gate] bins`` path is read from.
        """
        bad = sorted(set(data) - {"gate", "criteria"})
        if bad:
            raise ConfigError(f"unknown key {show(bad[0])}; allowed: 'gate', 'criteria'")
        head = data.get("gate", {})
        if not isinstance(head, Mapping):
            raise ConfigError(f"gate: {show(head)} must be a table [gate]")
        bad = sorted(set(head) - set(_GATE_KEYS))
        if bad:
            raise ConfigError(f"unknown key 'gate.{bad[0]}'; allowed: {', '.join(_GATE_KEYS)}")
        conf = head.get("confidence", 0.95)
        if not is_number(conf) or not 0.5 <= conf < 1:
            raise ConfigError(
                f"gate.confidence: {show(conf)} must be in [0.5, 1) (one-sided), e.g. 0.95"
            )
        looks = head.get("looks", "fixed")
        if looks not in LOOKS:
            raise ConfigError(f"gate.looks: {show(looks)} must be 'fixed' (default) or 'anytime'")
        bins, crosses = _read_bins(head["bins"], base) if "bins" in head else ({}, {})
        raw = data.get("criteria")
        if not isinstance(raw, list) or not raw:
            raise ConfigError(
                "criteria: a gate needs at least one [[criteria]] table with a kind, "
                f"one of {', '.join(KINDS)}"
            )
        criteria = tuple(parse_criterion(i, spec, base) for i, spec in enumerate(raw))
        names = [c.name for c in criteria]
        for i, n in enumerate(names):
            j = names.index(n)
            if j == i:
                continue
            given = [isinstance(raw[k], Mapping) and "name" in raw[k] for k in (j, i)]
            if not any(given):
                raise ConfigError(
                    f"criteria[{j}] and criteria[{i}] are both named {show(n)} (a criterion "
                    "without a `name` is named after its kind); give them distinct `name`s"
                )
            k, other = (i, j) if given[1] else (j, i)
            kind = "" if given[0] and given[1] else " (named after its kind)"
            raise ConfigError(
                f"criteria[{k}].name: {show(n)} is used by criteria[{other}] too{kind}; "
                "give each criterion its own name"
            )
        return cls(criteria, float(conf), bins, source, looks, crosses)


def load_gate(path: str | os.PathLike[str]) -> Gate:
    """Read a gate TOML file (see the module docstring for its keys).

    Raises
    ------
    ConfigError
        Missing file, bad TOML, unknown kinds or keys, impossible thresholds.
    """
    path = Path(path)
    data = read_toml(path, "gate file")
    gate = Gate.from_dict(data, source=os.fspath(path), base=path.parent)
    check_targets(gate.criteria)  # a target that is no profile: a bad gate file
    return gate


def _read_bins(value: Any, base: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``[bins.<dimension>]`` tables of a bins file, and its ``ways`` and
    ``[[crosses]]`` (checked later, against the run's space); any unknown key and a bad
    ``[statistics]`` are refused, as ``highfive coverage --bins`` refuses them."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"gate.bins: {show(value)} must be the path of a bins TOML file")
    path = Path(value) if base is None or os.path.isabs(value) else base / value
    data = read_toml(path, "gate.bins: file")
    check_top_keys(data, f"gate.bins: {path.name}")
    try:
        read_statistics(data)
    except ConfigError as exc:
        raise ConfigError(f"gate.bins: {path.name}: {exc}") from None
    crosses: dict[str, Any] = {k: data[k] for k in ("ways", "crosses") if k in data}
    crosses["file"] = path.name  # named in the errors its tables give
    return dict(data.get("bins", {})), crosses


def check_bins_crosses(gate: Gate, binning: Binning) -> None:
    """Refuse the gate's bins file's ``ways`` or ``[[crosses]]`` that ``highfive
    coverage --bins`` would refuse on this binning (they were silently accepted)."""
    given = {k: v for k, v in gate.bins_crosses.items() if k != "file"}
    if not given:
        return
    try:
        load_crosses(given, binning)
    except ConfigError as exc:
        raise bins_error(gate, exc) from None


def bins_error(gate: Gate, exc: ConfigError) -> ConfigError:
    """``exc`` from the gate's bins file's tables, naming the file."""
    file = gate.bins_crosses.get("file")
    return ConfigError(f"gate.bins: {file}: {exc}") if file else exc


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
    looks: str = "fixed"

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
            "looks": self.looks,
            "evaluated": self.evaluated,
            "criteria": [c.to_dict() for c in self.criteria],
        }

    def lines(self) -> list[str]:
        """What ``highfive gate`` prints: one line per criterion, then the verdict."""
        width = max(len(_label(c)) for c in self.criteria)
        which = "anytime-valid " if self.looks == "anytime" else ""
        out = [
            f"gate {self.gate_file or '(in code)'} on {self.run} "
            f"(one-sided {which}bounds at {100 * self.confidence:g}% confidence)"
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
def evaluate_gate(run: str | os.PathLike[str], gate: Gate, *, log: Log | None = None) -> GateResult:
    """Check every criterion of ``gate`` on a complete run directory.

    Nothing is written (``highfive.reports.write_gate`` writes gate.json and
    junit.xml). Every model a criterion names, and the crosses the criteria need, are
    checked against the run before anything is computed. Everything a criterion judges
    is in the run directory (the ``latency`` criterion reads the latency campaign.json
    recorded), so the same run and gate file always give the same verdict.

    A gate with a ``fits_target`` criterion (examples/gate.toml has one) estimates the
    models with :mod:`highfive.models`, which this package may not import: call
    ``highfive.models.register_gate_estimator()`` once before (the ``highfive``
    command does), or the criterion is refused with a ConfigError saying so.

    Parameters
    ----------
    run : path
        A complete run directory.
    gate : Gate
    log : callable, optional
        Receives progress lines when the criteria's crosses hold many cells.

    Returns
    -------
    GateResult

    Raises
    ------
    RunDirError
        Not a (complete) run directory, or a malformed record in it.
    ConfigError
        The gate names a model the run does not have, applies an ONNX-only criterion
        to another kind of counter, asks for a latency batch the run did not record, or
        ways the space cannot cross (or too many cells).
    """
    path = Path(run)
    data = GateRun(
        path,
        confidence=gate.confidence,
        bins=gate.bins,
        criteria=gate.criteria,
        log=log,
        looks=gate.looks,
    )
    targets = [(c, c.spec.targets(c, data)) for c in gate.criteria]
    try:
        data.binning()  # the bins file's tables on the run's space
    except ConfigError as exc:
        raise bins_error(gate, exc) from None
    data.crosses()  # bins and ways checked, cells counted, before any row is read
    check_bins_crosses(gate, data.binning())
    results = []
    for c, models in targets:
        for m in models:
            t0 = time.perf_counter()
            value, passed, detail = c.spec.evaluate(c, m, data)
            results.append(
                CriterionResult(
                    c.name,
                    c.kind,
                    c.spec.label(c, m),
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
        gate.looks,
    )
