"""A counter whose failure probability is a known function of the parameters.

For checking the statistics, not the watch: it reports every true high-five exactly
(so it passes), except that with probability ``p(params)`` it fails. The draw is a
hash of the case's parameter row, so the same case always gets the same verdict and
a simulation that samples rows and applies :func:`fails` gets the same verdicts
without synthesizing traces.

``p`` is built from planted regions, boxes of the unit cube where the base
distribution (uniform there) maps to the parameters. Regions of one group are
disjoint; groups use disjoint dimensions and fail independently::

    p(u) = 1 - prod_groups (1 - sum_{regions r of the group} rate_r * [u in r])

so a cell's true rate (a box too) is exact: ``1 - prod_g (1 - sum_r rate_r P(r | cell))``
with ``P(r | cell)`` a product of interval overlaps (:func:`cell_rate`).

Use it as ``"examples/counters/known_truth.py:KnownTruth"`` (all regions) or
``"examples/counters/known_truth.py:RareOnly"`` (the rare region alone).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from highfive.generators import MOTION_NAMES

__version__ = "1.0"

Box = Mapping[str, tuple[float, float]]

# (name, rate, box in unit coordinates, failure mode); unit intervals of categorical
# values follow their weights (see _motion).


def _motion(name: str) -> tuple[float, float]:
    """The unit interval of one motion: the default space's weights, in its order (the
    high-five weighs as much as all the other motions together, which weigh 1 each)."""
    weights = [len(MOTION_NAMES) - 1.0 if m == "high_five" else 1.0 for m in MOTION_NAMES]
    j, total = MOTION_NAMES.index(name), sum(weights)
    return sum(weights[:j]) / total, sum(weights[: j + 1]) / total


RARE = (
    "rare",
    1e-4,
    {"motion": _motion("high_five"), "impact_peak": (0.0, 0.1), "impact_decay": (0.0, 0.2)},
)
"""Base mass 0.5 * 0.1 * 0.2 = 1e-2, failure rate 1e-4 (double counts)."""
HARD = ("hard", 0.20, {"motion": _motion("reach_up")})  # mass 1/30, near the 25 % limit
ORDINARY = ("ordinary", 0.12, {"drop_rate": (0.75, 1.0), "sample_rate": (0.0, 0.25)})

ALL_GROUPS: tuple[tuple[tuple[str, float, Box], ...], ...] = ((RARE, HARD), (ORDINARY,))
RARE_GROUPS: tuple[tuple[tuple[str, float, Box], ...], ...] = ((RARE,),)


def unit_row(space: Any, params: Mapping[str, Any]) -> dict[str, float]:
    """Unit coordinate of every value of a parameter row (discrete values: the middle
    of their interval, so a box edge between values decides them exactly)."""
    out = {}
    for dim in space:
        if dim.name not in params:
            continue
        v = params[dim.name]
        if dim.kind == "continuous":
            out[dim.name] = float(dim.to_unit(np.asarray([float(v)]))[0])
        elif dim.kind == "categorical":
            w = np.asarray(dim.weights or [1.0] * len(dim.choices))
            edges = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
            j = list(dim.choices).index(v)
            out[dim.name] = float((edges[j] + edges[j + 1]) / 2)
        else:
            n = float(dim.high) - float(dim.low) + 1.0
            out[dim.name] = (float(v) - float(dim.low) + 0.5) / n
    return out


def probability(u: Mapping[str, Any], groups: Sequence[Any] = ALL_GROUPS) -> Any:
    """``p(u)`` for one row (floats) or many (arrays per dimension)."""
    keep = 1.0
    for group in groups:
        s = 0.0
        for _name, rate, box in group:
            inside = 1.0
            for dim, (lo, hi) in box.items():
                inside = inside * ((np.asarray(u[dim]) >= lo) & (np.asarray(u[dim]) < hi))
            s = s + rate * inside
        keep = keep * (1.0 - s)
    return 1.0 - keep


def region_of(u: Mapping[str, Any], groups: Sequence[Any] = ALL_GROUPS) -> str:
    """Name of the first region containing the row ('' if none), for its failure mode."""
    for group in groups:
        for name, _rate, box in group:
            if all(lo <= u[d] < hi for d, (lo, hi) in box.items()):
                return str(name)
    return ""


def cell_rate(cell: Box, groups: Sequence[Any] = ALL_GROUPS) -> float:
    """Exact failure rate of a box of the unit cube under the base distribution."""
    keep = 1.0
    for group in groups:
        s = 0.0
        for _name, rate, box in group:
            share = 1.0
            for dim, (lo, hi) in box.items():
                clo, chi = cell.get(dim, (0.0, 1.0))
                share *= max(0.0, min(hi, chi) - max(lo, clo)) / (chi - clo)
            s += rate * share
        keep *= 1.0 - s
    return 1.0 - keep


def draw(params: Mapping[str, Any]) -> float:
    """The case's uniform draw in [0, 1): a hash of its parameter row."""
    text = repr(sorted((k, v if isinstance(v, str) else float(v)) for k, v in params.items()))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def fails(params: Mapping[str, Any], space: Any, groups: Sequence[Any] = ALL_GROUPS) -> bool:
    """Whether the counter fails this case."""
    return draw(params) < float(probability(unit_row(space, params), groups))


class KnownTruth:
    """The counter: exact detections, failing with probability ``p(params)``."""

    groups: Sequence[Any] = ALL_GROUPS

    def __init__(self) -> None:
        from highfive.generators import default_space

        self.space = default_space()

    def __call__(self, trace: Any) -> list[tuple[float, float]]:
        found = [(float(e.centre), 1.0) for e in trace.events if e.is_high_five]
        if not fails(trace.params, self.space, self.groups):
            return found
        if region_of(unit_row(self.space, trace.params), self.groups) == "rare" and found:
            return [*found, (found[0][0] + 0.05, 1.0)]  # a duplicate: double_count
        if found:
            return []  # every high-five missed
        return [(float(trace.duration) / 2, 1.0)]  # a spurious count


class RareOnly(KnownTruth):
    """The rare region alone (mass 1e-2, rate 1e-4), zero elsewhere."""

    groups = RARE_GROUPS
