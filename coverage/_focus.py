"""Coverage-driven follow-up campaigns (``highfive run --focus RUN``).

The first run's coverage says which cells are holes (no case) and which are still
undecided (neither shown below the target failure rate nor significantly above it).
The follow-up spends its cases there: each such cell becomes a target box in the unit
hypercube (its bins on the cell's dimensions, everything else free), and case ``i``
of the follow-up falls uniformly into box ``i mod B`` (the ``focus`` sampler). Holes
come first, then undecided cells closest to a decision (fewest further cases needed).

Within a box the parameters keep the base distribution restricted to the box, so the
follow-up's per-cell statistics are comparable with the first run's, and the two
runs' coverage counts merge (``highfive coverage RUN RUN-focus``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from highfive.generators import ConfigError, HighfiveError, InvalidParameter, RunDirError
from highfive.harness import CampaignConfig, RunDir

from ._bins import Binning
from ._run import CoverageSettings, analyse_run
from ._unitbox import bin_interval

__all__ = ["plan_focus"]

_UNDECIDED = ("untested", "under-tested")


def _boxes(cells: pd.DataFrame, binning: Binning, limit: int) -> list[dict[str, list[float]]]:
    space = binning.space
    bin_cols = [c for c in cells.columns if c.startswith("bin_")]
    boxes: list[dict[str, list[float]]] = []
    for _, row in cells.iterrows():
        box = {}
        for col in bin_cols:
            label = row[col]
            if label is None or (isinstance(label, float) and math.isnan(label)):
                continue
            dim = col.removeprefix("bin_")
            lo, hi = bin_interval(space[dim], binning[dim], str(label))
            if hi > lo:
                box[dim] = [lo, min(hi, 1.0)]
        if box:
            boxes.append(box)
        if len(boxes) >= limit:
            break
    return boxes


def _with_its_counters(
    parent: CampaignConfig, record: Mapping[str, Any], run: str | os.PathLike[str]
) -> CampaignConfig:
    """``parent`` with its counters where they are now: in the campaign's folder moved
    or copied with the run if they load there, else (the run copied alone) where the
    run was made, as replay finds them. Refused if a counter is not the one the run
    was made with: the follow-up's cases could not be merged with the run's (coverage
    refuses the pair), so it would run in vain."""
    from highfive.harness import load_counters

    counters = None
    moved_to = RunDir(run).campaign_folder(record)
    if moved_to and moved_to != parent.base:
        try:
            counters = load_counters(replace(parent, base=moved_to))
            parent = replace(parent, base=moved_to)
        except HighfiveError:
            pass
    if counters is None:
        counters = load_counters(parent)  # one that cannot load is refused as in 'run'
    try:
        used = {str(m["id"]): m.get("sha256") for m in record.get("models", [])}
        for cid, counter in counters.items():
            now = counter.identity.sha256
            if cid in used and used[cid] != now:
                raise RunDirError(
                    f"focus: counter {cid!r} is not the one {os.fspath(run)!r} was made "
                    f"with (identity {now[:12]}, the run used {str(used[cid])[:12]}); "
                    "restore it, or run a new campaign with it"
                )
    finally:
        for counter in counters.values():
            counter.close()
    return parent


def plan_focus(
    run: str | os.PathLike[str],
    *,
    settings: CoverageSettings | None = None,
    cases: int | None = None,
    name: str | None = None,
) -> CampaignConfig:
    """The follow-up campaign of ``run``: same space and models, cases on its gaps.

    Parameters
    ----------
    run : path
        A finished run directory (an unfinished one is refused with
        :class:`RunDirError`, saying how to finish it).
    settings : CoverageSettings, optional
        Bins, crosses and statistics that define holes and undecided cells.
    cases : int, optional
        Cases of the follow-up (default: as many as the first run had).
    name : str, optional
        Run name (default: ``<run name>-focus``). The follow-up goes where ``run``
        was written (its ``out``), except for a stage of a sequential campaign
        (``RUN/stage-001``), whose folder holds no other runs: beside that folder, as
        ``<RUN name>-stage-001-focus``.
    """
    # A follow-up plans from a finished run; 'highfive run' has no --partial to offer.
    record = RunDir(run).require_complete("a follow-up (highfive run --focus)", config=True)
    parent = CampaignConfig.from_dict(record["config"])
    if parent.recordings is not None:
        raise InvalidParameter(
            f"focus: {os.fspath(run)!r} is a campaign of recordings; its cells are label "
            "values, not regions of the parameter space a follow-up could sample: record "
            "more of the under-tested ones instead"
        )
    CampaignConfig.require_generators(
        record,
        f"focus: {os.fspath(run)!r}",
        "a follow-up's cases could not be merged with its own; run the campaign again first",
    )
    parent = _with_its_counters(parent, record, run)
    result = analyse_run(run, settings)
    cells = result.cells
    undecided = cells[cells["status"].isin(_UNDECIDED)].copy()
    if undecided.empty:
        raise InvalidParameter(
            f"focus: every cell of {os.fspath(run)!r} is decided (passing or failing); "
            "nothing to follow up (lower p_target or add bins to look closer)"
        )
    # One target per cell (whichever model left it undecided), holes first, then the
    # cells closest to a decision.
    undecided["hole"] = undecided["n"] == 0
    undecided = undecided.sort_values(
        ["hole", "needed", "t", "cross", "cell"], ascending=[False, True, True, True, True]
    ).drop_duplicates(["cross", "cell"])
    n_cases = cases if cases is not None else parent.cases
    boxes = _boxes(undecided, result.counts.binning, limit=n_cases)
    seed = int(np.random.SeedSequence(parent.seed, spawn_key=(2**41,)).generate_state(1)[0])
    # Beside the run given, wherever it is now (a run copied or moved, fetched from a
    # cluster, had its follow-up written where it was first made); a stage of a
    # sequential campaign beside the campaign's folder, which holds its stages only.
    # Relative to the working folder when the run was given so, as 'highfive run'
    # shows its run directory (runs/default-focus, not the whole path).
    # Named after the run's folder (a copy renamed 'fxcopy' follows up into
    # 'fxcopy-focus', not into its campaign's name beside it), if that makes a name.
    folder = Path(run).absolute().parent
    here = os.path.basename(os.path.normpath(os.path.abspath(run)))
    where, default = folder, f"{here}-focus"
    if (folder / "stages.json").is_file():
        where, default = folder.parent, f"{folder.name}-{Path(run).name}-focus"
    out = os.fspath(where) if Path(run).is_absolute() else os.path.relpath(where)
    try:
        replace(parent, name=default)
    except ConfigError:  # a folder name no run may have: the campaign's
        default = f"{parent.name}-focus"
    return replace(
        parent,
        out=out,
        name=default if name is None else name,
        seed=seed % 2**31,
        cases=n_cases,
        sampler="focus",
        focus=tuple(boxes),
        importance={},  # a follow-up of an importance run samples boxes, not proposals
        parent=os.fspath(Path(run)),
    )
