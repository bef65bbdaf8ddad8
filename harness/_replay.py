"""Replay and shrink single cases of a finished (or interrupted) run.

Replay regenerates case ``i`` from the run's campaign.json alone: its point comes from
the sampler at index ``i`` and its random streams from ``SeedSequence(seed,
spawn_key=(i,))``, so the trace is bit-identical to the one the campaign judged; the
stored result rows are compared with the fresh ones to prove it.

Shrink moves a failing case's parameters towards the nominal point, one dimension at
a time, keeping each move only while the same verdict persists, until no dimension
moves: what is left are the few parameters the failure really needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from highfive.generators import InvalidParameter, ParameterSpace, RunDirError, Trace, synthesize
from highfive.generators._samplers import make_sampler

from ._config import CampaignConfig
from ._model import Model
from ._oracle import Score, score
from ._pipeline import CounterPipeline, CountResult
from ._rundir import RunDir

__all__ = [
    "Replay",
    "ShrinkResult",
    "load_run",
    "replay",
    "replay_command",
    "replay_loaded",
    "shrink",
]


@dataclass(frozen=True)
class LoadedRun:
    run: RunDir
    config: CampaignConfig
    space: ParameterSpace
    models: dict[str, Model]


def load_run(path: str | Path) -> LoadedRun:
    """Open a run directory and rebuild its configuration and models (hashes checked)."""
    run = RunDir(path)
    record = run.read_campaign()
    config = CampaignConfig.from_dict(record["config"])
    models = {}
    for entry in record["models"]:
        model = Model.load(entry["source"])
        if model.sha256 != entry["sha256"]:
            raise RunDirError(
                f"model {entry['id']!r}: {entry['source']} now has sha256 "
                f"{model.sha256[:12]}, the run used {entry['sha256'][:12]}; replay needs "
                "the same model file"
            )
        models[entry["id"]] = model
    return LoadedRun(run, config, config.parameter_space(), models)


def case_row(loaded: LoadedRun, case: int) -> dict[str, Any]:
    cfg = loaded.config
    if not 0 <= case < cfg.cases:
        raise InvalidParameter(f"case: {case} is outside the run's cases 0..{cfg.cases - 1}")
    sampler = make_sampler(cfg.sampler, loaded.space.d, cfg.cases, cfg.seed, cfg.focus_boxes())
    point = sampler.points(case, 1)
    return loaded.space.rows(point)[0]


def case_trace(loaded: LoadedRun, case: int, row: Mapping[str, Any]) -> Trace:
    seed = np.random.SeedSequence(loaded.config.seed, spawn_key=(case,))
    return synthesize(row, seed, space=loaded.space)


@dataclass(frozen=True)
class Replay:
    """A regenerated case with every model's output and verdict."""

    case: int
    row: dict[str, Any]
    trace: Trace
    results: dict[str, CountResult]
    scores: dict[str, Score]
    stored: dict[str, dict[str, Any]]  # the campaign's rows for this case, by model
    models: dict[str, Model]

    def differing(self) -> list[str]:
        """Models whose fresh verdict, count or detection times differ from the stored row."""
        out = []
        for mid, row in self.stored.items():
            s, res = self.scores[mid], self.results[mid]
            fresh = [np.float32(d.time) for d in res.detections]
            if (row["verdict"], row["predicted_count"]) != (s.verdict, s.predicted_count) or (
                list(np.asarray(row["detection_times"], dtype=np.float32)) != fresh
            ):
                out.append(mid)
        return out

    @property
    def matches_stored(self) -> bool:
        """Whether the fresh verdicts, counts and detection times equal the stored ones."""
        return not self.differing()


def _evaluate(
    loaded: LoadedRun, trace: Trace, models: Sequence[str]
) -> tuple[dict[str, CountResult], dict[str, Score]]:
    results, scores = {}, {}
    with threadpool_limits(limits=1, user_api="blas"):  # as in the campaign: same bits
        for mid in models:
            res = CounterPipeline(loaded.models[mid]).run(trace)
            results[mid] = res
            scores[mid] = score(trace.events, res.detections, loaded.config.tolerance)
    return results, scores


def replay(path: str | Path, case: int, overrides: Mapping[str, Any] | None = None) -> Replay:
    """Regenerate ``case`` of the run at ``path`` (optionally with parameters changed)."""
    return replay_loaded(load_run(path), case, overrides)


def replay_loaded(
    loaded: LoadedRun, case: int, overrides: Mapping[str, Any] | None = None
) -> Replay:
    """:func:`replay` for a run already opened with :func:`load_run` (many cases)."""
    row = case_row(loaded, case)
    if overrides:
        row.update(loaded.space.validate(overrides, partial=True))
    trace = case_trace(loaded, case, row)
    results, scores = _evaluate(loaded, trace, list(loaded.models))
    stored = {}
    if not overrides:
        # The case's batch is known, so only its files are read (not the whole run).
        batch = case // loaded.config.batch_size
        for mid in loaded.models:
            path = loaded.run.result_file(mid, batch)
            if path.is_file():
                rows = pq.read_table(path, filters=[("case_id", "==", case)]).to_pylist()
                if rows:
                    stored[mid] = {**rows[0], "model": mid}
    return Replay(case, row, trace, results, scores, stored, loaded.models)


@dataclass(frozen=True)
class ShrinkResult:
    """A failing case moved as close to nominal as its verdict allows."""

    case: int
    model: str
    verdict: str
    original: dict[str, Any]
    shrunk: dict[str, Any]
    nominal: dict[str, Any]
    evaluations: int

    def changed(self) -> dict[str, Any]:
        """The parameters that still differ from nominal: what the failure needs."""
        return {k: v for k, v in self.shrunk.items() if v != self.nominal[k]}


def shrink(
    path: str | Path, case: int, model: str | None = None, *, max_steps: int = 400
) -> ShrinkResult:
    """Minimise a failing case towards nominal.

    Each step tries, for one dimension, the nominal value, then points halfway there
    (three halvings for numeric dimensions); the first that keeps ``model``'s verdict
    is kept. Passes over all dimensions repeat until none moves or ``max_steps``
    evaluations are spent.
    """
    loaded = load_run(path)
    row = case_row(loaded, case)
    names = [model] if model else list(loaded.models)
    for m in names:
        if m not in loaded.models:
            raise InvalidParameter(f"model: {m!r} is not in this run ({', '.join(loaded.models)})")
    _, scores = _evaluate(loaded, case_trace(loaded, case, row), names)
    failing = [m for m in names if scores[m].verdict != "pass"]
    if not failing:
        raise InvalidParameter(
            f"case {case} passes with {', '.join(names)}; only failing cases can be shrunk"
        )
    target, verdict = failing[0], scores[failing[0]].verdict
    nominal = loaded.space.nominal()
    current, steps = dict(row), 0

    def still_fails(candidate: dict[str, Any]) -> bool:
        nonlocal steps
        steps += 1
        _, s = _evaluate(loaded, case_trace(loaded, case, candidate), [target])
        return s[target].verdict == verdict

    moved = True
    while moved and steps < max_steps:
        moved = False
        for dim in loaded.space:
            if current[dim.name] == nominal[dim.name] or steps >= max_steps:
                continue
            for value in _towards(current[dim.name], nominal[dim.name], dim.kind):
                if still_fails({**current, dim.name: value}):
                    current[dim.name] = value
                    moved = True
                    break
    return ShrinkResult(case, target, verdict, row, current, nominal, steps)


def _towards(value: Any, nominal: Any, kind: str) -> list[Any]:
    """Candidates from ``nominal`` back towards ``value``: nominal first, then halfway."""
    if kind == "categorical":
        return [nominal]
    out: list[Any] = [nominal]
    for frac in (0.5, 0.75, 0.875):
        v = nominal + (value - nominal) * frac
        out.append(round(v) if kind == "integer" else float(v))
    seen: list[Any] = []
    for v in out:
        if v != value and v not in seen:
            seen.append(v)
    return seen


def replay_command(run: str | Path, case: int, params: Mapping[str, Any]) -> str:
    """The shell command that replays ``case`` with ``params`` set."""
    flags = " ".join(f"--param {k}={_fmt(v)}" for k, v in params.items())
    return f"highfive replay {run} {case} {flags}".rstrip()


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)
