"""Importance-sampled campaigns: the ``[importance]`` table and the cross-entropy stages.

.. code-block:: toml

    sampler = "importance"
    [importance]
    stages = 4            # cross-entropy stages; stage s+1's proposal is fitted to stage s
    proposal = ""         # JSON file {"defensive": a, "probs": [[...], ...]} to start from
                          #   (relative to the campaign file; default: the base distribution;
                          #   its defensive, if stated, must equal the one below)
    defensive = 0.1       # weight of the base distribution in every proposal: weights <= 1/a
    bins = 16             # histogram bins per dimension
    elite = 0.1           # fraction of a stage's cases the next proposal is fitted to
    smoothing = 0.7       # weight of the new fit against the previous proposal
    final = 0.0           # share of the cases in the last stage (0: equal stages)

Stage ``s`` is a contiguous run of batches (``ceil(batches / stages)`` each, the last
stage what is left; a campaign where that leaves the last stage nothing is refused
when it starts, see :func:`check_stage_layout`; or, with
``final`` > 0, the last stage about that share of the batches and the cross-entropy
stages before it the rest in equal parts: short pilot stages that find the region,
then an estimation stage drawn from the final proposal, the usual design of the
cross-entropy method for rare events, Rubinstein & Kroese 2004, ch. 3); its cases
are drawn from its own proposal and carry their weights (base over proposal density,
the ``weight`` column of the results). Each stage's proposal is fitted only once the
stage before it is complete, and recorded in campaign.json (``proposals``); case ``i``
depends on ``(seed, i)`` and the proposals, so a resume reproduces every case. The
cases of every stage count in coverage: each carries its own stage's weight, which
keeps the weighted sum unbiased given the stages before it.

Because stages are whole batches, ``batch_size`` moves the stage starts: runs of one
configuration with batch sizes that give other stage starts draw other cases from the
first moved start on (README, "Campaigns", Determinism). ``batch_size`` is part of a
campaign's identity, so a resume never mixes them.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds

from highfive.generators import (
    ConfigError,
    ImportanceSampler,
    InvalidParameter,
    Proposal,
    RunDirError,
    fit_cross_entropy,
    show,
)

from ._io import JsonFileError, read_json_object
from ._verdicts import FAIL_VERDICTS

if TYPE_CHECKING:
    from ._batch import BatchJob
    from ._config import CampaignConfig
    from ._rundir import RunDir

__all__ = [
    "check_importance",
    "check_stage_layout",
    "first_proposal",
    "next_proposal",
    "recorded_proposals",
    "stage_batches",
    "stage_job",
    "stage_starts",
    "warn_defensive",
]

MAX_BINS = 1000
"""Most bins per dimension of a proposal, as for coverage bins."""

_DEFAULTS: dict[str, Any] = {
    "stages": 4,
    "proposal": "",
    "defensive": 0.1,
    "bins": 16,
    "elite": 0.1,
    "smoothing": 0.7,
    "final": 0.0,
}


def _number(key: str, value: Any, low: float, high: float, open_low: bool) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if not ok or value > high or value < low or (open_low and value == low):
        bound = f"({low:g}, {high:g}]" if open_low else f"[{low:g}, {high:g}]"
        raise ConfigError(f"importance.{key}: {show(value)} must be a number in {bound}")
    return float(value)


def check_importance(table: Mapping[str, Any], d: int, base: str) -> dict[str, Any]:
    """The ``[importance]`` table, checked and completed; the proposal file read inline.

    Unknown keys and bad values are one-line :class:`ConfigError` s; a defensive weight
    of 0 is refused (regions of base mass would get no cases, weights no bound).
    """
    bad = sorted(set(table) - set(_DEFAULTS))
    if bad:
        raise ConfigError(
            f"unknown key 'importance.{bad[0]}'; allowed: {', '.join(sorted(_DEFAULTS))}"
        )
    out = {**_DEFAULTS, **table}
    for key in ("stages", "bins"):
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"importance.{key}: {show(v)} must be a whole number >= 1")
    if out["bins"] > MAX_BINS:  # a table of bins per dimension: 1e8 ran out of memory
        raise ConfigError(
            f"importance.bins: {out['bins']:,} must be at most {MAX_BINS:,} per dimension "
            "(a proposal holds that many probabilities for each of the space's dimensions)"
        )
    out["defensive"] = _number("defensive", out["defensive"], 0, 1, True)
    out["elite"] = _number("elite", out["elite"], 0, 1, True)
    out["smoothing"] = _number("smoothing", out["smoothing"], 0, 1, True)
    out["final"] = _number("final", out["final"], 0, 1, False)
    if out["final"] == 1.0 and out["stages"] > 1:
        raise ConfigError(
            "importance.final: 1 leaves no cases for the cross-entropy stages before the last; "
            "give a share below 1 (or stages = 1)"
        )
    prop, where = out["proposal"], "the table"
    if isinstance(prop, str) and prop:
        path, where = Path(base or ".") / prop, show(prop)
        try:
            prop = read_json_object(path, "a proposal")
        except JsonFileError as exc:
            raise ConfigError(f"importance.proposal: {os.fspath(path)!r}: {exc}") from None
    if isinstance(prop, Mapping):
        prop = _campaign_proposal(prop, d, where, out["defensive"], "defensive" in table)
        out["bins"] = _proposal_bins(prop, where, out["bins"], "bins" in table)
    elif prop != "":
        raise ConfigError(f"importance.proposal: {show(prop)} must be a JSON file name or a table")
    out["proposal"] = prop
    return out


def _campaign_proposal(
    data: Mapping[str, Any], d: int, where: str, defensive: float, stated: bool
) -> dict[str, Any]:
    """A proposal given to a campaign (``where``: its file name, or the table), checked,
    with the campaign's defensive weight: a proposal stating another one is refused, so
    campaign.json's config says what every stage used."""
    try:
        prop = Proposal.from_dict(data, d)
    except InvalidParameter as exc:
        suffix = "" if where == "the table" else f" (in {where})"
        raise ConfigError(f"importance.{exc}{suffix}") from None
    if "defensive" in data and prop.defensive != defensive:
        default = "" if stated else " (the default)"
        raise ConfigError(
            f"importance.proposal: {where} states defensive = {show(prop.defensive)}, the "
            f"campaign's [importance] defensive is {show(defensive)}{default}; give the same "
            "value in both (or leave defensive out of the proposal)"
        )
    return Proposal(prop.probs, defensive).to_dict()


def _proposal_bins(prop: Mapping[str, Any], where: str, bins: int, stated: bool) -> int:
    """The campaign's bins per dimension, which its given proposal has: the stages' fitted
    proposals have as many, and campaign.json's config says so. A table that states
    another number is refused; without one, the proposal's number is taken (at most
    :data:`MAX_BINS`)."""
    n = len(prop["probs"][0]) if prop["probs"] else bins
    if n > MAX_BINS:
        raise ConfigError(
            f"importance.proposal: {where} has {n:,} bins per dimension; at most {MAX_BINS:,}"
        )
    if stated and n != bins:
        raise ConfigError(
            f"importance.proposal: {where} has {n:,} bins per dimension, the campaign's "
            f"[importance] bins is {bins:,}; give the same number in both (or leave bins "
            "out of the table)"
        )
    return n


def first_proposal(settings: Mapping[str, Any], d: int) -> Proposal:
    """Stage 0's proposal: the given one, or the base distribution in histogram form
    (with the campaign's defensive weight, which changes nothing for the base)."""
    if settings["proposal"]:
        return Proposal.from_dict(settings["proposal"], d)
    return Proposal.base(d, settings["bins"], settings["defensive"])


def stage_starts(settings: Mapping[str, Any], cases: int, batch_size: int) -> tuple[int, ...]:
    """First case of every stage, in whole batches: ``ceil(batches / stages)`` per stage,
    or with ``final`` > 0 the last stage ``round(final * batches)`` of them (leaving at
    least one to every earlier stage) and the earlier stages the rest in near-equal
    parts."""
    batches = -(-cases // batch_size)
    stages = settings["stages"]
    if stages > batches:
        raise ConfigError(
            f"importance.stages: {stages} stages need at least {stages} batches; the "
            f"campaign has {batches} (cases / batch_size)"
        )
    final = float(settings.get("final", 0.0))
    if final <= 0 or stages == 1:
        per = -(-batches // stages)
        return tuple(min(s * per * batch_size, cases) for s in range(stages))
    pilot = batches - min(max(1, round(final * batches)), batches - (stages - 1))
    return tuple(round(s * pilot / (stages - 1)) * batch_size for s in range(stages))


def _check_final(final: float, stages: int, batches: int) -> None:
    """Refuse a ``final`` share whose batches the last stage cannot have."""
    wanted, most = round(final * batches), batches - (stages - 1)
    where = f"importance.final: {final:g} of {batches} batches (cases / batch_size)"
    if wanted < 1:
        share = f"{1 / batches:.3g}"
        raise ConfigError(
            f"{where} rounds to no batch for the last stage, which needs at least one (a "
            f"share of {share}); give final >= {share}, or more batches"
        )
    if wanted > most:
        share = f"{most / batches:.3g}"
        raise ConfigError(
            f"{where} is {wanted} batches for the last stage, but {stages} stages leave it "
            f"at most {most} (one batch to each earlier stage), a share of {share}; give "
            f"final <= {share}, fewer stages or more batches"
        )


def check_stage_layout(settings: Mapping[str, Any], cases: int, batch_size: int) -> None:
    """Refuse (one-line :class:`ConfigError`) a new campaign whose stages would not
    all draw cases: with ``final`` = 0, ``ceil(batches / stages)`` batches per stage
    can use up the batches before the last stage (3 stages of 4 batches: 2, 2, 0),
    whose proposal would still be fitted and recorded, loosening every weight bound.

    With ``final`` > 0, a last stage that cannot get ``round(final * batches)``
    batches is refused too: every earlier stage needs one batch and the last stage at
    least one, and :func:`stage_starts` would quietly give it another share than the
    one asked for (0.25 for ``final = 0.9`` in 4 stages of 4 batches).

    Checked when a campaign starts, not when a recorded one is read: runs recorded
    with such a layout still replay and resume as they ran (their stage starts are
    computed from the recorded config by :func:`stage_starts`).
    """
    batches = -(-cases // batch_size)
    stages = settings["stages"]
    if stages == 1 or stages > batches:
        return  # one stage takes them all; too few: stage_starts says
    final = float(settings.get("final", 0.0))
    if final > 0:
        _check_final(final, stages, batches)
        return  # near-equal pilot parts with at least one batch each
    per = -(-batches // stages)
    used = -(-batches // per)  # stages that get a batch
    if used < stages:
        empty = "the last stage" if stages - used == 1 else f"the last {stages - used} stages"
        raise ConfigError(
            f"importance.stages: {stages} stages over {batches} batches (cases / batch_size) "
            f"take ceil({batches} / {stages}) = {per} batches each, which leaves {empty} "
            f"no case; give stages = {used}, or a multiple of {stages} batches (e.g. "
            f"{stages * per})"
        )


def warn_defensive(settings: Mapping[str, Any], cases: int) -> None:
    """Warn when ``defensive`` is too small for this many cases to bound any rate: a
    weighted upper bound cannot fall below about ``3 / (defensive * cases)``, so at 1 or
    more every bound of the run is [0, 1] (``defensive = 1e-6`` with 512 cases)."""
    floor = 3.0 / (float(settings["defensive"]) * max(cases, 1))
    if floor >= 1.0:
        warnings.warn(
            f"importance.defensive: {settings['defensive']:g} with {cases:,} cases: a "
            f"weighted upper bound cannot fall below about 3 / (defensive x cases) = "
            f"{floor:.3g}, so no rate of this run can be bounded; raise defensive (0.1 is "
            "the default) or cases",
            UserWarning,
            stacklevel=2,
        )


def next_proposal(
    settings: Mapping[str, Any],
    sampler: ImportanceSampler,
    results: ds.Dataset,
    stage: int,
) -> Proposal:
    """The proposal of stage ``stage + 1``, fitted to the cases of stage ``stage``.

    A case's score is ``inf`` when some counter failed it, else the largest
    ``-margin`` over the counters (closer to a wrong decision scores higher; a NaN
    margin gives no signal).
    """
    start = sampler.starts[stage]
    end = sampler.starts[stage + 1] if stage + 1 < len(sampler.starts) else sampler.n
    table = results.to_table(
        columns=["case_id", "verdict", "margin"],
        filter=(pc.field("case_id") >= start) & (pc.field("case_id") < end),
    ).to_pandas()
    failed = table["verdict"].astype(str).isin(FAIL_VERDICTS)
    score = np.where(failed, np.inf, -table["margin"].astype(float).fillna(np.inf).to_numpy())
    per_case = (
        table.assign(score=score).groupby("case_id")["score"].max().reindex(range(start, end))
    )
    scores = per_case.fillna(-np.inf).to_numpy()
    points = sampler.points(start, end - start)
    log_w = sampler.log_weights(start, points)
    return fit_cross_entropy(
        sampler.proposals[stage],
        points,
        scores,
        log_w,
        elite=settings["elite"],
        smoothing=settings["smoothing"],
    )


def recorded_proposals(record: Mapping[str, Any], d: int) -> list[Proposal]:
    """The proposals a run's campaign.json records, one per stage started."""
    raw = record.get("proposals", [])
    if not isinstance(raw, list):
        raise RunDirError(f"campaign.json: proposals {show(raw)} must be a list")
    try:
        return [Proposal.from_dict(p, d) for p in raw]
    except InvalidParameter as exc:
        raise RunDirError(f"campaign.json: {exc}") from None


def stage_job(
    template: BatchJob, config: CampaignConfig, run: RunDir, record: dict[str, Any], stage: int
) -> BatchJob:
    """The batch template of stage ``stage``: its proposal fitted (from the stage before
    it, complete by now) and recorded in campaign.json unless recorded already."""
    settings, d = config.importance, template.space.d
    starts = stage_starts(settings, config.cases, config.batch_size)
    props = recorded_proposals(record, d) or [first_proposal(settings, d)]
    while len(props) <= stage:
        sampler = ImportanceSampler(d, config.cases, config.seed, props, starts)
        props.append(next_proposal(settings, sampler, run.results_dataset(), len(props) - 1))
    record["proposals"] = [p.to_dict() for p in props]
    run.write_campaign(record)
    # Draw from the proposals as campaign.json records them, which is what a resume
    # and replay read back (the same bits: a proposal's round trip is exact).
    return replace(template, proposals=tuple(recorded_proposals(record, d)), starts=starts)


def stage_batches(config: CampaignConfig) -> list[range]:
    """The batches of each stage, in order (one stage for samplers other than importance)."""
    if config.sampler != "importance":
        return [range(config.n_batches)]
    starts = stage_starts(config.importance, config.cases, config.batch_size)
    first = [s // config.batch_size for s in starts] + [config.n_batches]
    return [range(a, b) for a, b in itertools.pairwise(first)]
