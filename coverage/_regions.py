"""Failure regions: a few readable boxes over the parameters where failures concentrate.

Patient rule induction (PRIM; Friedman & Fisher, "Bump hunting in high-dimensional
data", Statistics and Computing 9, 1999), with exact statistics:

The cases are split three ways by a fixed hash of ``case_id`` (:func:`roles`): half
shapes boxes, a quarter chooses among them, and a quarter is held out.

1. **Peel** (on the first half): starting from the whole space, repeatedly remove a
   small fraction ``alpha`` of the box's cases from the low or high end of one numeric
   dimension, or drop one value of a categorical dimension, choosing the peel that
   leaves the highest failure rate; stop when no peel raises the rate or the box would
   fall below ``min_cases``. Peeling only ever removes a little, hence "patient".
2. **Choose** along that trajectory of nested boxes, on the second quarter,
   the box with the highest one-sided Clopper-Pearson lower bound of its failure rate:
   large enough to be sure, small enough to be bad. Late peels that only chased noise
   in the first half do not help on the second quarter.
3. **Clean up** (on the second quarter): drop any restriction whose removal does not lower
   that bound, one at a time, the least useful first. A restriction survives only if
   the cases it excludes noticeably dilute the box, so irrelevant dimensions stay free.
4. **Cover**: report the box with its counts over all its cases and its exact interval
   over its *held-out* cases only, remove its cases, and look for the next box, until
   ``max_boxes`` are found or the best box's lower bound (second quarter) is no longer
   above the remaining failure rate.

The roles come from splitmix64 of ``case_id`` (of the row number without it):
deterministic, and unrelated to how a sampler orders its points. The interval uses
only cases that took no part in finding the box: a box found and estimated on the same
cases is chosen for its high rate there, and an interval over those cases misses the
box's true rate more often than its level says. The held-out interval is an exact
Clopper-Pearson interval for the rate of the box as found (the box being fixed by the
other three quarters). See docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from highfive.generators import InvalidParameter, ParameterSpace, show

from ._stats import cp_interval, cp_lower, cp_upper

__all__ = [
    "HELD_OUT",
    "INTERVAL_CASES",
    "TRAIN",
    "VALID",
    "Region",
    "failure_regions",
    "mix64",
    "regions_dicts",
    "roles",
    "subsample",
]

Scalar = float | int | str
Condition = tuple[float | None, float | None] | tuple[Scalar, ...]


INTERVAL_CASES = "held-out quarter (case-id hash): cases not used to find the region"
"""What a region's ``lower`` and ``upper`` are computed on, as summary.json says it."""


def _num(x: float, integer: bool) -> str:
    if integer:
        return str(round(x))
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.4g}"


@dataclass(frozen=True)
class Region:
    """An axis-aligned box of the parameter space and the failures of one model in it.

    Parameters
    ----------
    model : str
    conditions : mapping
        Restricted dimensions only. Numeric: ``(low, high)``, both inclusive, None on
        an unrestricted side. Categorical: the tuple of values allowed.
    n, failures : int
        Cases in the box (of those not in an earlier region) and how many failed.
    rate : float
        ``failures / n``: descriptive (it includes the cases that found the box).
    lower, upper : float
        Two-sided exact (Clopper-Pearson) interval of the failure rate at
        ``confidence``, over the held-out cases only (``held_out_n``,
        ``held_out_failures``): the cases that took no part in finding the box.
    confidence : float
    excluded : mapping
        Categorical dimensions only: the values the box leaves out (for ``describe``).
    integer : tuple of str
        Integer dimensions, printed without decimals.
    held_out_n, held_out_failures : int
        The held-out cases in the box and how many failed (the interval's counts).
    """

    model: str
    conditions: Mapping[str, Condition]
    n: int
    failures: int
    rate: float
    lower: float
    upper: float
    confidence: float = 0.95
    excluded: Mapping[str, tuple[Scalar, ...]] = field(default_factory=dict)
    integer: tuple[str, ...] = ()
    held_out_n: int = 0
    held_out_failures: int = 0

    def _clause(self, dim: str, cond: Condition) -> str:
        if dim in self.excluded:
            inc, exc = list(cond), list(self.excluded[dim])
            if len(exc) < len(inc):
                return f"{dim} not in {{{', '.join(map(str, exc))}}}"
            return f"{dim} in {{{', '.join(map(str, inc))}}}"
        lo, hi = cond
        isint = dim in self.integer
        if lo is not None and hi is not None:
            if isint and round(float(lo)) == round(float(hi)):
                return f"{dim} = {_num(float(lo), True)}"
            return f"{_num(float(lo), isint)} <= {dim} <= {_num(float(hi), isint)}"
        if lo is not None:
            return f"{dim} >= {_num(float(lo), isint)}"
        return f"{dim} <= {_num(float(hi), isint)}"  # type: ignore[arg-type]

    def describe(self) -> str:
        """E.g. ``"motion in {reach_up} and peak_accel >= 30.2: 13/21 fail (62%); on
        10 held-out cases, 95% CI 30-90%"``."""
        where = " and ".join(self._clause(d, c) for d, c in self.conditions.items())

        def pct(x: float) -> str:
            return f"{100 * x:.2g}" if 100 * x < 10 else f"{100 * x:.0f}"

        return (
            f"{where or 'all cases'}: {self.failures:,}/{self.n:,} fail ({pct(self.rate)}%); "
            f"on {self.held_out_n:,} held-out cases, {100 * self.confidence:g}% CI "
            f"{pct(self.lower)}-{pct(self.upper)}%"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: model, conditions, n, failures, rate, lower, upper, confidence (the
        interval's two-sided level), interval_cases (which cases the interval counts),
        held_out_n, held_out_failures, description."""

        def plain(v: Any) -> Any:
            if v is None or isinstance(v, str):
                return v
            if isinstance(v, np.generic):
                v = v.item()
            return v

        return {
            "model": self.model,
            "conditions": {d: [plain(v) for v in c] for d, c in self.conditions.items()},
            "n": int(self.n),
            "failures": int(self.failures),
            "rate": float(self.rate),
            "lower": float(self.lower),
            "upper": float(self.upper),
            "confidence": float(self.confidence),
            "interval_cases": INTERVAL_CASES,
            "held_out_n": int(self.held_out_n),
            "held_out_failures": int(self.held_out_failures),
            "description": self.describe(),
        }


def regions_dicts(regions: Sequence[Region]) -> list[dict[str, Any]]:
    """Plain dicts of regions (see :meth:`Region.to_dict`), e.g. for summary.json."""
    return [r.to_dict() for r in regions]


# -- the search -----------------------------------------------------------------------
@dataclass
class _Box:
    lo: np.ndarray  # (p,) numeric lower bounds, -inf when free
    hi: np.ndarray  # (p,) numeric upper bounds, +inf when free
    allowed: list[np.ndarray]  # per categorical dimension, bool per code

    def copy(self) -> _Box:
        return _Box(self.lo.copy(), self.hi.copy(), [a.copy() for a in self.allowed])


@dataclass
class _Data:
    num_names: list[str]
    num_int: list[bool]
    x: list[np.ndarray]  # per numeric dimension, (n,) float64
    cat_names: list[str]
    cat_values: list[list[Any]]  # per categorical dimension, value of each code
    c: list[np.ndarray]  # per categorical dimension, (n,) intp codes
    y: np.ndarray  # (n,) bool failed

    def restrictions(self, box: _Box) -> list[tuple[str, int]]:
        out = [("num", j) for j in range(len(self.x)) if box.lo[j] > -np.inf or box.hi[j] < np.inf]
        out += [("cat", j) for j in range(len(self.c)) if not box.allowed[j].all()]
        return out

    def holds(self, what: tuple[str, int], box: _Box, rows: np.ndarray) -> np.ndarray:
        kind, j = what
        if kind == "num":
            v = self.x[j][rows]
            return (v >= box.lo[j]) & (v <= box.hi[j])
        return box.allowed[j][self.c[j][rows]]

    def inside(self, box: _Box, rows: np.ndarray) -> np.ndarray:
        m = np.ones(rows.size, dtype=bool)
        for r in self.restrictions(box):
            m &= self.holds(r, box, rows)
        return m


def _prepare(rows: pd.DataFrame, space: ParameterSpace) -> _Data:
    d = _Data([], [], [], [], [], [], np.asarray(rows["verdict"].astype(str) != "pass"))
    for dim in space:
        if dim.is_fixed or dim.name not in rows.columns:
            continue
        col = rows[dim.name]
        if dim.kind == "categorical":
            choices = list(dim.choices or ())
            codes = pd.Categorical(col, categories=choices).codes.astype(np.intp)
            if (codes < 0).any():  # values outside the space keep a code of their own
                choices.append("(other)")
                codes[codes < 0] = len(choices) - 1
            d.cat_names.append(dim.name)
            d.cat_values.append(choices)
            d.c.append(codes)
        else:
            d.num_names.append(dim.name)
            d.num_int.append(dim.kind == "integer")
            d.x.append(np.asarray(col, dtype=np.float64))
    if not d.x and not d.c:
        raise InvalidParameter(
            f"frame: none of the space's dimensions ({', '.join(space.names)}) is a column"
        )
    return d


@dataclass
class _Step:
    box: _Box
    n_train: int
    n_valid: int
    k_valid: int


def _peel(
    d: _Data, train: np.ndarray, valid: np.ndarray, alpha: float, min_train: int
) -> list[_Step]:
    """The peeling trajectory on ``train`` rows, tracking ``valid`` rows alongside."""
    box = _Box(
        np.full(len(d.x), -np.inf),
        np.full(len(d.x), np.inf),
        [np.ones(len(v), bool) for v in d.cat_values],
    )
    idx, vidx = train, valid
    steps = [_Step(box.copy(), idx.size, vidx.size, int(np.count_nonzero(d.y[vidx])))]
    while True:
        nb = idx.size
        yb = d.y[idx]
        kb = int(np.count_nonzero(yb))
        rate0 = kb / nb
        # Gain per case removed (Friedman & Fisher's criterion for peels of unequal
        # size): a categorical value or a run of tied values is not favoured just
        # because it removes more cases at once.
        best_gain = 0.0
        best: tuple[str, int, Any, np.ndarray] | None = None
        if kb == 0 or kb == nb:
            break
        q = max(1, int(alpha * nb))
        for j, xs in enumerate(d.x):
            x = xs[idx]
            if q >= nb - q:
                continue
            part = np.partition(x, (q, nb - 1 - q))
            for side, v in (("lo", part[q]), ("hi", part[nb - 1 - q])):
                m = x < v if side == "lo" else x > v
                cnt = int(np.count_nonzero(m))
                if cnt == 0:  # ties at the edge: peel the whole edge value
                    m = x <= v if side == "lo" else x >= v
                    cnt = int(np.count_nonzero(m))
                if cnt == 0 or nb - cnt < min_train:
                    continue
                gain = ((kb - np.count_nonzero(m & yb)) / (nb - cnt) - rate0) / cnt
                if gain > best_gain:
                    best_gain, best = gain, ("num", j, side, m)
        for j, cs in enumerate(d.c):
            c = cs[idx]
            k = len(d.cat_values[j])
            tot = np.bincount(c, minlength=k)
            if np.count_nonzero(tot) < 2:
                continue
            f = np.bincount(c[yb], minlength=k)
            left = nb - tot
            ok = (tot > 0) & (left >= min_train)
            if not ok.any():
                continue
            gains = np.where(ok, ((kb - f) / np.maximum(left, 1) - rate0) / np.maximum(tot, 1), 0)
            v = int(np.argmax(gains))
            if gains[v] > best_gain:
                best_gain, best = float(gains[v]), ("cat", j, v, c == v)
        if best is None:
            break
        kind, j, what, m = best
        if kind == "num":
            x = d.x[j][idx]
            cut, keep = x[m], x[~m]
            edge = cut.max() if what == "lo" else cut.min()
            inner = keep.min() if what == "lo" else keep.max()
            # Integer dimensions keep whole-number bounds; continuous ones split midway.
            bound = inner if d.num_int[j] else (edge + inner) / 2
            if what == "lo":
                box.lo[j] = bound
            else:
                box.hi[j] = bound
            vx = d.x[j][vidx]
            vidx = vidx[(vx >= box.lo[j]) & (vx <= box.hi[j])]
        else:
            box.allowed[j][what] = False
            vidx = vidx[box.allowed[j][d.c[j][vidx]]]
        idx = idx[~m]
        steps.append(_Step(box.copy(), idx.size, vidx.size, int(np.count_nonzero(d.y[vidx]))))
    return steps


def mix64(ids: npt.ArrayLike) -> np.ndarray:
    """splitmix64's output function on uint64 case ids: a fixed, well-mixed hash.

    ``z = id + 0x9E3779B97F4A7C15``, then ``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
    z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31`` (Steele, Lea & Flood 2014,
    "Fast splittable pseudorandom number generators", OOPSLA), vectorised, modulo
    2**64. Deterministic and unrelated to how a sampler orders its points: not parity,
    since consecutive Sobol points fall in opposite halves of the first dimension, so
    even and odd cases (or every k-th case) would split the space, not the sample.
    """
    z = np.asarray(ids).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)))


TRAIN, VALID, HELD_OUT = 0, 1, 2
"""Roles of a case: shapes the boxes (peeling), chooses and stops, or only estimates."""


def roles(ids: npt.ArrayLike) -> np.ndarray:
    """Each case's role from the top two bits of :func:`mix64` of its id.

    Top bit 0: peels (half the cases). Otherwise the next bit: 0 chooses, cleans up
    and stops (a quarter), 1 is held out (a quarter), used for nothing but the
    reported interval. (Holding out half instead leaves too few cases to clean up:
    boxes then keep restrictions that do not matter.)
    """
    z = mix64(ids)
    search = (z >> np.uint64(63)) == 0
    second = ((z >> np.uint64(62)) & np.uint64(1)) == 1
    return np.where(search, TRAIN, np.where(second, HELD_OUT, VALID)).astype(np.int8)


def subsample(ids: npt.ArrayLike, keep: int) -> np.ndarray:
    """About one case in ``keep``, chosen by a hash of the id (a boolean mask).

    A case is kept when ``mix64(mix64(id)) % keep == 0``: a second round of the hash,
    so that the cases kept fall into the :func:`roles` in their usual shares. Taking
    every ``keep``-th id instead would, on a Sobol sequence, keep only part of a
    dimension (``case_id % 4 == 0`` keeps the first half of the first one).
    """
    if isinstance(keep, bool) or not isinstance(keep, int | np.integer) or keep < 1:
        raise InvalidParameter(f"keep: {show(keep)} must be a whole number >= 1")
    return np.asarray(mix64(mix64(ids)) % np.uint64(keep) == 0)


def _cleanup(d: _Data, box: _Box, rows: np.ndarray, confidence: float) -> _Box:
    """Drop every restriction that does not noticeably matter on ``rows``.

    A restriction stays only if the cases it alone excludes fail clearly less often
    than the box: the upper bound of their rate is below the box's lower bound (the
    box was chosen for a high rate on these cases, so its own rate leans high). The
    least useful restriction (highest such bound) goes first, then the rest are
    judged again against the larger box.
    """
    box = box.copy()
    y = d.y[rows]
    while True:
        rs = d.restrictions(box)
        if not rs:
            return box
        # Bonferroni over the restrictions judged: with a dozen noise restrictions
        # left by peeling, one would otherwise survive by chance now and then.
        conf = 1 - (1 - confidence) / len(rs)
        holds = np.stack([d.holds(r, box, rows) for r in rs], axis=1)
        misses = len(rs) - holds.sum(axis=1)
        inside = misses == 0
        lower = float(cp_lower(np.count_nonzero(y & inside), np.count_nonzero(inside), conf))
        only = (misses == 1)[:, None] & ~holds  # excluded by restriction i alone
        upper = cp_upper((only & y[:, None]).sum(axis=0), only.sum(axis=0), conf)
        worst = int(np.argmax(upper))
        if upper[worst] < lower:
            return box
        kind, j = rs[worst]
        if kind == "num":
            box.lo[j], box.hi[j] = -np.inf, np.inf
        else:
            box.allowed[j][:] = True


def _region(
    d: _Data, box: _Box, rows: np.ndarray, held: np.ndarray, model: str, confidence: float
) -> Region:
    """The region of ``box``: counts over ``rows``, interval over the ``held`` out ones."""
    inside = rows[d.inside(box, rows)]
    n, k = inside.size, int(np.count_nonzero(d.y[inside]))
    held_in = held[d.inside(box, held)]
    n_h, k_h = held_in.size, int(np.count_nonzero(d.y[held_in]))
    lo, hi = cp_interval(k_h, n_h, confidence)
    conds: dict[str, Condition] = {}
    excluded: dict[str, tuple[Scalar, ...]] = {}
    for kind, j in d.restrictions(box):
        if kind == "num":
            lo_j, hi_j = box.lo[j], box.hi[j]
            conds[d.num_names[j]] = (
                float(lo_j) if lo_j > -np.inf else None,
                float(hi_j) if hi_j < np.inf else None,
            )
        else:
            vals = d.cat_values[j]
            name = d.cat_names[j]
            conds[name] = tuple(v for v, a in zip(vals, box.allowed[j], strict=True) if a)
            excluded[name] = tuple(v for v, a in zip(vals, box.allowed[j], strict=True) if not a)
    ints = tuple(n_ for n_, i in zip(d.num_names, d.num_int, strict=True) if i)
    return Region(
        model,
        conds,
        int(n),
        k,
        k / n if n else math.nan,
        float(lo),
        float(hi),
        confidence,
        excluded,
        ints,
        int(n_h),
        k_h,
    )


def failure_regions(
    frame: pd.DataFrame,
    space: ParameterSpace,
    *,
    model: str,
    max_boxes: int = 5,
    min_cases: int = 50,
    confidence: float = 0.95,
    alpha: float = 0.05,
    min_lift: float = 1.5,
) -> list[Region]:
    """Boxes of the parameter space where ``model`` fails most, best first.

    Parameters
    ----------
    frame : pandas.DataFrame
        Result rows: ``verdict``, a column per dimension of ``space`` (dimensions
        without a column, and fixed ones, are not used), ``model`` (rows of other
        models are ignored; without the column every row counts) and optionally
        ``case_id`` (for the deterministic half split).
    space : ParameterSpace
        Kinds of the dimensions: categorical ones are split by value, the others
        by intervals.
    model : str
    max_boxes : int
    min_cases : int
        Fewest cases a box may hold.
    confidence : float
        Of the lower bound that chooses and stops, and of the reported interval.
    alpha : float
        Fraction of the box's cases one peel removes (0.05-0.1 is usual).
    min_lift : float
        A box is reported only if its failure rate (on the half that did not shape
        it) is at least this many times the rate of the cases still uncovered, and
        its lower bound, Bonferroni-corrected over the boxes it was chosen from, is
        above that rate: statistically *and* practically worse.

    Returns
    -------
    list of Region
        Empty when failures show no concentration (or there are none). Each region
        counts the cases not in an earlier one. Deterministic.
    """
    if isinstance(max_boxes, bool) or not isinstance(max_boxes, int) or max_boxes < 1:
        raise InvalidParameter(f"max_boxes: {show(max_boxes)} must be a whole number >= 1")
    if isinstance(min_cases, bool) or not isinstance(min_cases, int) or min_cases < 2:
        raise InvalidParameter(f"min_cases: {show(min_cases)} must be a whole number >= 2")
    if not isinstance(alpha, float | int) or not 0 < alpha < 0.5:
        raise InvalidParameter(
            f"alpha: {show(alpha)} must be a peeling fraction in (0, 0.5), e.g. 0.05"
        )
    if isinstance(min_lift, bool) or not isinstance(min_lift, float | int) or min_lift < 1:
        raise InvalidParameter(f"min_lift: {show(min_lift)} must be a ratio >= 1, e.g. 1.5")
    cp_lower(0, 1, confidence)  # validates confidence
    if "verdict" not in frame.columns:
        raise InvalidParameter("frame: no 'verdict' column; pass result rows")
    if "model" in frame.columns:
        names = frame["model"].astype(str)
        if not (names == model).any():
            have = ", ".join(sorted(names.unique())) or "none"
            raise InvalidParameter(f"model: {show(model)} has no rows; models present: {have}")
        frame = frame[names == model]
    d = _prepare(frame, space)
    n = len(frame)
    ids = np.asarray(frame["case_id"]) if "case_id" in frame.columns else np.arange(n)
    role = roles(ids)
    active = np.ones(n, dtype=bool)
    min_search = max(2, math.ceil(min_cases * 3 / 4))  # the search sees 3/4 of the cases
    min_train = max(1, math.ceil(min_cases / 2))
    regions: list[Region] = []
    for _ in range(max_boxes):
        rows = np.flatnonzero(active)
        search = rows[role[rows] != HELD_OUT]
        if rows.size < min_cases or not d.y[search].any():
            break
        base = np.count_nonzero(d.y[search]) / search.size
        train, valid = rows[role[rows] == TRAIN], rows[role[rows] == VALID]
        if train.size < min_train or valid.size == 0:
            break
        steps = _peel(d, train, valid, alpha, min_train)
        ok = [s for s in steps if s.n_train + s.n_valid >= min_search and s.n_valid > 0]
        if not ok:
            break
        lbs = cp_lower([s.k_valid for s in ok], [s.n_valid for s in ok], confidence)
        box = _cleanup(d, ok[int(np.argmax(lbs))].box, valid, confidence)
        vin = valid[d.inside(box, valid)]
        # The box was the best of len(ok) candidates on these very cases: Bonferroni
        # over them keeps a box found in noise from passing the stopping test.
        strict = 1 - (1 - confidence) / len(ok)
        lb = float(cp_lower(np.count_nonzero(d.y[vin]), vin.size, strict)) if vin.size else 0.0
        rate_v = np.count_nonzero(d.y[vin]) / vin.size if vin.size else 0.0
        if not d.restrictions(box) or lb <= base or rate_v < min_lift * base:
            break
        region = _region(d, box, rows, rows[role[rows] == HELD_OUT], model, confidence)
        if region.n < min_cases:
            break
        regions.append(region)
        active[rows[d.inside(box, rows)]] = False
    return regions
