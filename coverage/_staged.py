"""Sequential campaigns: run in stages until the gate is decided (``--until-decided``).

One run directory holds the stages as sub-runs, each an ordinary run directory::

    RUN/stage-000/     the first stage: the campaign file's sampler, --stage cases
    RUN/stage-001/     base distribution again (a rate over the whole space is
                       undecided) or focus boxes on the undecided cells
    ...
    RUN/stages.json    settings, every stage's size, design and decisions, and why
                       the campaign stopped (rewritten atomically after each stage)

After each stage the gate's criteria on cases are decided with anytime-valid bounds
(:mod:`._sequential`); the campaign stops when the gate's verdict is decided (every
criterion passed, or one failed) or when the budget is spent (the last stage gets
what is left). Stage
``s > 0`` draws with a seed derived from the campaign's seed and ``s``, and its design
is a function of the earlier stages' results, so the same configuration, gate, budget
and stage size give the same stages and results; ``--resume`` completes an
interrupted stage and carries on. ``highfive coverage RUN/stage-*`` merges the stages
(weighted by the pooled design when some sampled boxes).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from highfive.generators import ConfigError, InvalidParameter, RunDirError, show
from highfive.harness import (
    STAGES_JSON,
    CampaignConfig,
    JsonFileError,
    RunDir,
    atomic_path,
    json_text,
    load_counters,
    read_json_object,
    run_campaign,
)

from ._bins import Binning, codes
from ._gate import Gate, bins_error, check_bins_crosses, evaluate_gate
from ._gaterun import BASE_SAMPLERS
from ._sequential import RECORDED_KINDS, CaseTable, Cell, Decisions, decide, staged_criteria
from ._spending import Spending, check_spending
from ._unitbox import bin_interval

__all__ = [
    "SequentialResult",
    "check_sequential",
    "check_stageable",
    "run_until_decided",
    "stage_boxes",
]

MAX_SPENT_BUDGET = 10**300
"""Most cases ``--budget`` may give with error spending: above it an even split's
level ``alpha / K`` and the information fractions ``t_j`` leave double precision (a
level of 0 decides nothing; the budget as a float overflows)."""


@dataclass(frozen=True)
class SequentialResult:
    """What a sequential campaign did: its stages (as stages.json records them), the
    verdict (``pass``, ``fail``, ``undecided``) and why it stopped."""

    path: Path
    stages: tuple[dict[str, Any], ...]
    verdict: str
    reason: str

    @property
    def cases(self) -> int:
        return sum(int(s["cases"]) for s in self.stages)


def check_stageable(config: CampaignConfig) -> None:
    """One-line :class:`InvalidParameter` for a campaign that cannot run in stages
    whatever the gate: one of recordings, or a sampler other than a base one. Checked
    before the gate is looked for, so that the reason comes first."""
    if config.recordings is not None:
        raise InvalidParameter(
            "--until-decided: a campaign of [recordings] runs each recording once; it has "
            "no cases to sample in stages (drop --until-decided)"
        )
    if config.sampler not in BASE_SAMPLERS:
        raise InvalidParameter(
            f"sampler: {show(config.sampler)} cannot start a sequential campaign; its first "
            f"stage samples the base distribution ({', '.join(BASE_SAMPLERS)})"
        )


def check_sequential(
    config: CampaignConfig, gate: Gate, budget: int, stage: int, spending: str = "anytime"
) -> None:
    """One-line :class:`InvalidParameter` or :class:`ConfigError` for settings that
    cannot run, before anything is written.

    :func:`check_stageable` first; then the gate's criteria are checked against the
    campaign's counters (loaded as the first stage loads them): a model a criterion
    names that the campaign lacks, or a criterion on ONNX models applied to another
    kind of counter, is refused here, as the ordinary gate refuses it on a run.
    """
    check_spending(spending)
    check_stageable(config)
    if isinstance(stage, bool) or not isinstance(stage, int) or stage < 1:
        raise InvalidParameter(f"--stage: {show(stage)} must be a whole number of cases >= 1")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < stage:
        raise InvalidParameter(
            f"--budget: {show(budget)} is smaller than one stage ({stage:,} cases); "
            "give a budget of at least --stage cases"
        )
    if spending != "anytime" and budget > MAX_SPENT_BUDGET:
        raise InvalidParameter(
            f"--budget: {show(budget)} cases with --spending {spending} split the error over "
            "so many looks that their levels are 0 in double precision (nothing could be "
            "decided); give at most 1e+300 cases, or --spending anytime"
        )
    staged_criteria(gate)
    counters = load_counters(config)
    try:
        kinds = {cid: counter.kind for cid, counter in counters.items()}
    finally:
        for counter in counters.values():
            counter.close()
    for c in gate.criteria:
        c.spec.check_models(c, kinds, "the campaign")


def _identity(
    config: CampaignConfig, gate: Gate, budget: int, stage: int, spending: str
) -> dict[str, Any]:
    criteria = [
        {"kind": c.kind, "name": c.name, "models": c.models, "options": dict(c.options)}
        for c in gate.criteria
    ]
    return json.loads(
        json.dumps(
            {
                "config": config.identity(),
                "gate": {"confidence": gate.confidence, "bins": gate.bins, "criteria": criteria},
                "budget": budget,
                "stage": stage,
                "spending": spending,
            },
            default=list,
        )
    )


_SETTINGS = {
    "config": "campaign file's ",
    "gate": "gate's ",
    "budget": "--budget",
    "stage": "--stage",
    "spending": "--spending",
}


def _difference(old: Any, new: Mapping[str, Any]) -> str:
    """The first setting in which a recorded identity differs from ``new``, as people
    read it: ``its --budget is 160, not 320``, ``its gate's criteria[0].options.p_max
    is 0.5, not 0.2``."""
    if not isinstance(old, Mapping) or not old:
        return "stages.json records none of its settings"
    for key, label in _SETTINGS.items():
        a, b = old.get(key), new.get(key)
        path = ""
        while a != b:
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                k = next(k for k in [*a, *b] if a.get(k) != b.get(k))
                path += f".{k}" if path else str(k)
                a, b = a.get(k), b.get(k)
            elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
                i = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
                path += f"[{i}]"
                a, b = a[i], b[i]
            elif isinstance(a, list) and isinstance(b, list):  # an entry added or removed
                return f"its {label}{path} has {_entries(a)}, not {_entries(b)}"
            else:
                return f"its {label}{path} is {show(a)}, not {show(b)}"
    return "stages.json records other settings"


def _entries(items: list[Any]) -> str:
    """A list as a count and, for named entries (criteria), their names."""
    names = [str(x["name"]) for x in items if isinstance(x, Mapping) and "name" in x]
    shown = f" ({', '.join(map(show, names))})" if len(names) == len(items) and names else ""
    return f"{len(items)} entr{'y' if len(items) == 1 else 'ies'}{shown}"


def stage_boxes(binning: Binning, cells: Sequence[Cell]) -> list[dict[str, list[float]]]:
    """The focus boxes (unit-cube intervals) of undecided cells, one per cell."""
    space = binning.space
    boxes = []
    for cell in cells:
        box = {}
        for dim, b in cell:
            lo, hi = bin_interval(space[dim], binning[dim], binning[dim].bin_labels[b])
            box[dim] = [max(lo, 0.0), min(hi, 1.0)]
        boxes.append(box)
    return boxes


def _stage_seed(seed: int, s: int) -> int:
    state = np.random.SeedSequence(seed, spawn_key=(2**42, s)).generate_state(1)[0]
    return int(state) % 2**31


def _plan(
    config: CampaignConfig,
    root: Path,
    s: int,
    size: int,
    decisions: Decisions | None,
    binning: Binning,
) -> CampaignConfig:
    name = f"stage-{s:03d}"
    if decisions is None:  # the first stage: the campaign file's own sampler and seed
        return replace(config, name=name, out=os.fspath(root), cases=size)
    seed = _stage_seed(config.seed, s)
    cells = decisions.cells()
    if decisions.needs_base or not cells:
        return replace(config, name=name, out=os.fspath(root), cases=size, seed=seed)
    boxes = stage_boxes(binning, cells[:size])
    return replace(
        config,
        name=name,
        out=os.fspath(root),
        cases=size,
        seed=seed,
        sampler="focus",
        focus=tuple(boxes),
        parent=os.fspath(root / f"stage-{s - 1:03d}"),
    )


def _table(runs: Sequence[tuple[Path, CampaignConfig]], binning: Binning) -> CaseTable:
    """Every stage's cases: bin codes, box, verdicts and counts per model."""
    parts: list[np.ndarray] = []
    boxes: list[np.ndarray] = []
    box_dims: list[frozenset[str]] = []
    verdict: dict[str, list[np.ndarray]] = {}
    predicted: dict[str, list[np.ndarray]] = {}
    looks: list[np.ndarray] = []
    for s, (path, cfg) in enumerate(runs):
        frame = RunDir(path).results(
            columns=["case_id", "model", "verdict", "predicted_count", *binning.names]
        )
        frame["model"] = frame["model"].astype(str)
        frame = frame.sort_values(["model", "case_id"], kind="stable")
        models = sorted(frame["model"].unique())
        first = frame[frame["model"] == models[0]]
        ids = first["case_id"].to_numpy(dtype=np.int64)
        code, _ = codes(binning, first)
        parts.append(code.astype(np.int64))
        looks.append(np.full(ids.size, s, dtype=np.int64))
        if cfg.sampler == "focus":
            offset = len(box_dims)
            box_dims += [frozenset(b) for b in cfg.focus]
            boxes.append(offset + ids % len(cfg.focus))
        else:
            boxes.append(np.full(ids.size, -1, dtype=np.int64))
        for m in models:
            rows = frame[frame["model"] == m]
            if not np.array_equal(rows["case_id"].to_numpy(dtype=np.int64), ids):
                raise RunDirError(f"{path}: model {m!r} lacks some cases the others have")
            verdict.setdefault(m, []).append(rows["verdict"].astype(str).to_numpy())
            predicted.setdefault(m, []).append(rows["predicted_count"].to_numpy())
    return CaseTable(
        codes=np.concatenate(parts),
        box=np.concatenate(boxes),
        box_dims=box_dims,
        verdict={m: np.concatenate(v) for m, v in verdict.items()},
        predicted={m: np.concatenate(v) for m, v in predicted.items()},
        stage=np.concatenate(looks),
    )


def _recorded(run: Path, gate: Gate) -> list[dict[str, Any]]:
    """The recorded-figure criteria (model size, latency), by the ordinary gate."""
    kept = tuple(c for c in gate.criteria if c.kind in RECORDED_KINDS)
    if not kept:
        return []
    result = evaluate_gate(run, replace(gate, criteria=kept))
    return [
        {
            "name": r.name,
            "model": r.model,
            "status": "passed" if r.passed else "failed",
            "detail": r.detail,
            "undecided_cells": 0,
        }
        for r in result.criteria
    ]


def _read_record(path: Path) -> dict[str, Any]:
    """stages.json as written; :class:`RunDirError` (one line) if it is damaged."""

    def damaged(what: str) -> RunDirError:
        return RunDirError(
            f"{os.fspath(path)}: damaged, {what}; it cannot be resumed (remove "
            f"{os.fspath(path.parent)} to run the campaign again)"
        )

    try:
        return read_json_object(path, "the record of a sequential campaign")
    except JsonFileError as exc:
        raise damaged(str(exc)) from None


def _existing(root: Path) -> str:
    """What to do about a sequential campaign's folder that exists: complete it with
    --resume, unless it stopped with every stage it records in place (a resume would
    only print its stages again)."""
    record: dict[str, Any] = {}
    with contextlib.suppress(RunDirError):  # missing or damaged: --resume says how
        record = _read_record(root / STAGES_JSON)
    stop, stages = record.get("stop"), record.get("stages")
    if (
        isinstance(stop, Mapping)
        and isinstance(stop.get("reason"), str)
        and isinstance(stages, list)
        and all((root / f"stage-{s:03d}").is_dir() for s in range(len(stages)))
    ):
        return (
            f"already exists and holds a finished sequential campaign (stopped: "
            f"{stop['reason']}); choose another name (--name) or --out"
        )
    return "already exists; pass --resume to complete it, or use another name or --out"


def _write(root: Path, record: Mapping[str, Any]) -> None:
    with atomic_path(root / STAGES_JSON) as tmp:
        tmp.write_text(json_text(record))


def run_until_decided(
    config: CampaignConfig,
    gate: Gate,
    *,
    budget: int,
    stage: int,
    spending: str = "anytime",
    resume: bool = False,
    client: Any = None,
    stream: TextIO | None = None,
    progress: TextIO | None = None,
) -> SequentialResult:
    """Run ``config`` in stages of ``stage`` cases until ``gate`` is decided.

    Parameters
    ----------
    config : CampaignConfig
        The first stage's campaign (a base sampler); the run directory is
        ``config.out / config.name``.
    gate : Gate
        Criteria to decide; those on cases with anytime-valid bounds.
    budget : int
        Most cases in all (>= ``stage``).
    stage : int
        Cases per stage.
    spending : str
        How the decisions spend the error over the looks: ``"anytime"`` (confidence
        sequences, any number of looks) or a spending function over the at most
        ``ceil(budget / stage)`` looks (``"even"``, ``"pocock"``, ``"obf"``; see
        :mod:`._spending`).
    resume : bool
        Complete an interrupted sequential campaign in the same directory.
    client : distributed.Client, optional
        Passed to every stage's :func:`run_campaign`.
    stream : text stream, optional
        Where each stage's campaign progress goes (None: silent).
    progress : text stream, optional
        Where one line per stage goes (default ``sys.stdout``).
    """
    check_sequential(config, gate, budget, stage, spending)
    out = progress if progress is not None else sys.stdout
    root = Path(config.out) / config.name
    identity = _identity(config, gate, budget, stage, spending)
    plan = Spending(spending, budget, stage)
    if resume:
        record_there = os.path.lexists(root / STAGES_JSON)
        if not record_there and not (root / "stage-000").exists():
            raise RunDirError(
                f"run directory {root} holds no sequential campaign to resume; drop --resume"
            )
        if not record_there and (root / "stage-001").exists():  # written after each stage
            raise RunDirError(
                f"{os.fspath(root / STAGES_JSON)}: missing, though stage-001 exists (it is "
                "written after every stage); the campaign's settings are unknown, so it "
                f"cannot be resumed (remove {os.fspath(root)} to run the campaign again)"
            )
        if record_there:
            old = _read_record(root / STAGES_JSON).get("identity")
            if isinstance(old, dict) and "config" in old:  # restrictions in one spelling
                old = {**old, "config": CampaignConfig.spelled_identity(old["config"])}
            if old != identity:
                raise RunDirError(
                    f"run directory {root} belongs to another sequential campaign: "
                    f"{_difference(old, identity)}; resume refuses to mix them (give the "
                    "same settings, or another name or --out)"
                )
    elif root.exists():
        raise RunDirError(f"run directory {root} {_existing(root)}")
    space = config.parameter_space()
    try:
        binning = Binning.from_space(space, gate.bins)
    except ConfigError as exc:
        raise bins_error(gate, exc) from None
    check_bins_crosses(gate, binning)  # as 'highfive coverage --bins' checks them
    record: dict[str, Any] = {
        "identity": identity,
        "budget": budget,
        "stage": stage,
        "spending": spending,
    }
    stages: list[dict[str, Any]] = []
    runs: list[tuple[Path, CampaignConfig]] = []
    decisions: Decisions | None = None
    recorded: list[dict[str, Any]] = []
    spent, s = 0, 0
    # Read and written through the absolute path (a counter in this process may change
    # the working directory); the stages' configurations keep the folder as given.
    where = root.absolute()
    # One campaign at a time in the folder: a second --until-decided (a resume started
    # while the first runs) walked the finished stages and wrote stages.json back in time.
    # The settings are recorded before the first stage runs, so a resume of a first
    # stage cut short is checked against them too.
    with RunDir(where).lock():
        deciding = stage if spending == "anytime" else plan.first_deciding(1 - gate.confidence)
        if deciding > stage:  # O'Brien-Fleming over many stages: said once the settings
            # are accepted and the folder is this campaign's (a refusal is one line
            # alone), before the stages run in vain
            print(
                f"--spending {spending} over a budget of {budget:,} cases: no look before "
                f"{deciding:,} cases can decide a criterion (their levels are 0 in double "
                "precision)",
                file=out,
            )
        fresh = not os.path.lexists(where / STAGES_JSON)
        if fresh:
            _write(
                where, {**record, "stages": [], "cases": 0, "verdict": "undecided", "stop": None}
            )
        try:
            while True:
                size = min(stage, budget - spent)
                cfg = _plan(config, root, s, size, decisions, binning)
                path = where / cfg.name
                # A stage killed while it started holds only its lock: run_campaign starts it
                # afresh, as a plain run does; a stage that recorded anything is completed.
                started = RunDir(path).exists() or RunDir(path).manifest.exists()
                run_campaign(cfg, resume=resume and started, client=client, stream=stream)
                runs.append((path, cfg))
                spent += size
                if s == 0:
                    recorded = _recorded(path, gate)
                models = [str(m["id"]) for m in RunDir(path).read_campaign()["models"]]
                decisions = decide(gate, binning, models, _table(runs, binning), plan)
                rows = [c.to_dict() for c in decisions.criteria] + recorded
                failed = any(r["status"] == "failed" for r in rows)
                decided = all(r["status"] != "undecided" for r in rows)
                stages.append(
                    {
                        "name": cfg.name,
                        "cases": size,
                        "design": "focus" if cfg.sampler == "focus" else cfg.sampler,
                        "boxes": len(cfg.focus),
                        "seed": cfg.seed,
                        "decided": sum(r["status"] != "undecided" for r in rows),
                        "criteria": rows,
                    }
                )
                verdict = "fail" if failed else "pass" if decided else "undecided"
                undecided_cells = len(decisions.cells())
                print(
                    f"stage {s}: {size:,} cases ({stages[-1]['design']}"
                    + (f", {len(cfg.focus):,} boxes" if cfg.focus else "")
                    + f"), {spent:,} in all; {stages[-1]['decided']} of {len(rows)} criteria "
                    f"decided, {undecided_cells:,} cells undecided",
                    file=out,
                )
                reason = ""
                if failed:  # the verdict can no longer be pass: the gate is decided
                    first = next(r for r in rows if r["status"] == "failed")
                    reason = f"criterion {first['name']!r} failed" + (
                        f" ({first['model']})" if first["model"] else ""
                    )
                elif decided:
                    reason = "every criterion decided"
                elif spent >= budget:
                    reason = f"budget of {budget:,} cases spent"
                record.update(
                    stages=stages,
                    cases=spent,
                    verdict=verdict,
                    stop={"reason": reason} if reason else None,
                )
                _write(where, record)
                if reason:
                    print(f"stopped: {reason}; verdict {verdict}", file=out)
                    return SequentialResult(root, tuple(stages), verdict, reason)
                s += 1
        except BaseException:
            # Nothing ran (a counter refused, an interrupt before the first stage): the
            # folder holds no campaign, as a plain run's refusal leaves none.
            if fresh and not (where / "stage-000").exists():
                with contextlib.suppress(OSError):
                    os.unlink(where / STAGES_JSON)
            raise
