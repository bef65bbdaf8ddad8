"""Reading what a report needs from a run directory, with one-line errors.

The run's record (``campaign.json``, which must say the run is complete), its coverage
(computed first when ``RUN/coverage/`` is missing), ``gate.json`` if the run was gated,
the coverage metadata and the cells of a few crosses, and the stored messages of a few
failing cases. Every unreadable file raises :class:`~highfive.generators.RunDirError`
with one line that names the file and says how to fix it.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highfive.generators import RunDirError
from highfive.harness import JsonFileError, RunDir, read_json_object

if TYPE_CHECKING:  # the coverage package is imported when coverage is computed
    from highfive.coverage import CoverageSettings

__all__ = [
    "CoverageMeta",
    "Log",
    "check_coverage",
    "coverage_dir",
    "coverage_meta",
    "open_run",
    "read_cells",
    "read_gate",
    "read_json",
    "read_messages",
]

Log = Callable[[str], None]


def open_run(path: Path) -> tuple[RunDir, dict[str, Any]]:
    """The run directory at ``path`` and its campaign record; the run must be complete."""
    run = RunDir(path)
    if not path.is_dir():
        raise RunDirError(
            f"run directory {os.fspath(path)!r} does not exist; give a folder made by "
            "'highfive run'"
        )
    record = run.require_complete("a report", config=True, takes="report")
    if not run.results_dir.is_dir():
        raise RunDirError(f"run directory {os.fspath(path)!r} has no results/; re-run it")
    return run, record


def coverage_dir(path: Path, log: Log | None, settings: CoverageSettings | None = None) -> Path:
    """``RUN/coverage``, computed first (``highfive coverage RUN``) if it is incomplete,
    or always with ``settings`` (``highfive coverage RUN --bins BINS``: its bins file,
    read by :func:`~highfive.coverage.load_settings`)."""
    from highfive.coverage import analyse_run, write_coverage

    cov = path / "coverage"
    needed = ("cells.parquet", "counts.parquet", "summary.json")
    if settings is not None:
        if log:
            log(
                f"computing the coverage of {os.fspath(path)} with {settings.source} "
                "(highfive coverage RUN --bins BINS)"
            )
        write_coverage(path, analyse_run(path, settings))
    elif not all((cov / name).is_file() for name in needed):
        if log:
            log(f"no coverage in {os.fspath(path)}; computing it (highfive coverage RUN)")
        write_coverage(path, analyse_run(path))
    return cov


def check_coverage(summary: Any, record: Mapping[str, Any], cov: Path) -> None:
    """:class:`RunDirError` when ``summary.json`` counted fewer cases of a model than the
    complete run holds (it was computed while the run was unfinished): a report never
    shows the coverage of some cases beside the results of all of them."""
    if not isinstance(summary, dict) or not isinstance(summary.get("models"), dict):
        raise RunDirError(
            f"{os.fspath(cov / 'summary.json')}: no models; re-run 'highfive coverage RUN'"
        )
    cases = record.get("config", {}).get("cases")
    if not isinstance(cases, int):
        return
    for model, m in summary["models"].items():
        rows = m.get("rows") if isinstance(m, dict) else None
        if isinstance(rows, int) and rows < cases:
            raise RunDirError(
                f"{os.fspath(cov)}: coverage counted {rows:,} of the run's {cases:,} cases of "
                f"{model} (it was computed before the run finished); re-run 'highfive "
                "coverage RUN' (with the same --bins, if any) before the report"
            )


def read_json(path: Path, what: str) -> dict[str, Any]:
    """The JSON object at ``path``; ``what`` tells how to remake it if it is broken."""
    try:
        return read_json_object(path, "a record of highfive")
    except JsonFileError as exc:
        raise RunDirError(f"{os.fspath(path)}: {exc}; {what}") from None


def read_gate(path: Path) -> dict[str, Any] | None:
    """``RUN/gate.json`` checked for a verdict and a list of criteria (None if absent)."""
    file = path / "gate.json"
    if not file.is_file():
        return None
    gate = read_json(file, "re-run 'highfive gate RUN --gate GATE.toml'")
    if gate.get("verdict") not in ("pass", "fail"):
        raise RunDirError(
            f"{os.fspath(file)}: verdict {gate.get('verdict')!r} must be 'pass' or 'fail'; "
            "re-run 'highfive gate RUN --gate GATE.toml'"
        )
    crit = gate.get("criteria", [])
    if not isinstance(crit, list) or not all(isinstance(c, dict) for c in crit):
        raise RunDirError(
            f"{os.fspath(file)}: criteria must be a list of tables; "
            "re-run 'highfive gate RUN --gate GATE.toml'"
        )
    problem = _gate_problem(gate, crit)
    if problem:  # a hand-edited verdict the banner would show as it is
        raise RunDirError(
            f"{os.fspath(file)}: {problem}; re-run 'highfive gate RUN --gate GATE.toml'"
        )
    return gate


def _gate_problem(gate: dict[str, Any], crit: list[dict[str, Any]]) -> str:
    """What contradicts itself in a gate.json ('' if nothing), as ``highfive gate``
    never writes it: a criterion's ``passed`` that is not true or false, no time of
    evaluation, a verdict other than all criteria passing."""
    for i, c in enumerate(crit):
        if not isinstance(c.get("passed"), bool):
            return f"criteria[{i}].passed is {c.get('passed')!r}, not true or false"
    if not isinstance(gate.get("evaluated"), str):
        return f"evaluated is {gate.get('evaluated')!r}, not the time the gate was evaluated"
    failed = [str(c.get("name", i)) for i, c in enumerate(crit) if not c["passed"]]
    if gate["verdict"] == "pass" and failed:
        return f"verdict 'pass' but criterion {failed[0]!r} failed"
    if gate["verdict"] == "fail" and crit and not failed:
        return "verdict 'fail' but every criterion passed"
    return ""


@dataclass(frozen=True)
class CoverageMeta:
    """The binning and the crosses (name -> dimensions) the coverage was counted with."""

    binning: Any
    crosses: dict[str, tuple[str, ...]]


@contextmanager
def _coverage_file(path: Path) -> Iterator[None]:
    """A coverage file that cannot be read (truncated, overwritten, from another
    version): one line naming it, and how to make it again."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError) as exc:
        said = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise RunDirError(
            f"{os.fspath(path)}: cannot be read ({said}); re-run 'highfive coverage "
            f"{shlex.quote(os.fspath(path.parent.parent))}'"
        ) from None


def coverage_meta(cov: Path) -> CoverageMeta:
    """The metadata stored in ``coverage/counts.parquet``."""
    import pyarrow.parquet as pq

    from highfive.coverage import Binning

    path = cov / "counts.parquet"
    with _coverage_file(path):
        raw = (pq.read_schema(path).metadata or {}).get(b"highfive.coverage")
        if raw is None:
            raise RunDirError(
                f"{os.fspath(path)}: no coverage metadata; re-run 'highfive coverage "
                f"{shlex.quote(os.fspath(cov.parent))}'"
            )
        meta = json.loads(raw)
        crosses = {str(name): tuple(dims) for name, dims in meta["crosses"]}
        return CoverageMeta(Binning.from_dict(meta["binning"]), crosses)


def read_cells(cov: Path, crosses: Sequence[str], *, rate: bool = False) -> Any:
    """Cells of ``crosses`` (cross, cell, model, n, failures, upper, and ``rate`` if
    asked) as a DataFrame."""
    import pyarrow.dataset as ds

    cols = ["cross", "cell", "model", "n", "failures", "upper", *(["rate"] if rate else [])]
    path = cov / "cells.parquet"
    with _coverage_file(path):
        table = ds.dataset(path).to_table(
            columns=cols, filter=ds.field("cross").isin(list(crosses))
        )
    frame = table.to_pandas()
    for c in ("cross", "model"):
        frame[c] = frame[c].astype(str)
    return frame


def read_messages(
    run: RunDir, batch_size: int, cases: Mapping[int, Sequence[str]]
) -> dict[int, dict[str, str]]:
    """The stored ``message`` of each case for the given models: case -> model -> text.

    Only the result file of each case's batch is read; runs made before results had a
    ``message`` column, and rows whose message is null or empty, give nothing.
    """
    import pyarrow.parquet as pq

    wanted: dict[tuple[str, int], list[int]] = {}
    for case, models in cases.items():
        for m in models:
            wanted.setdefault((m, case // batch_size), []).append(case)
    out: dict[int, dict[str, str]] = {}
    for (m, batch), ids in sorted(wanted.items()):
        file = run.result_file(m, batch)
        if not file.is_file() or "message" not in pq.read_schema(file).names:
            continue
        rows = pq.read_table(
            file, columns=["case_id", "message"], filters=[("case_id", "in", ids)]
        ).to_pylist()
        for r in rows:
            if r["message"]:
                out.setdefault(int(r["case_id"]), {})[m] = str(r["message"])
    return out
