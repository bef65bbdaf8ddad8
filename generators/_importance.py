"""Importance sampling of the unit cube: proposals, their weights, cross-entropy fits.

A :class:`Proposal` is a defensive mixture (Hesterberg 1995) of the base distribution
(uniform on the unit cube, which the space maps to its parameters) and a product of
per-dimension histograms::

    q(u) = a + (1 - a) * prod_j h_j(u_j)

with ``a`` the defensive weight in (0, 1] and each ``h_j`` piecewise constant on
``bins`` equal intervals of [0, 1). A case drawn from ``q`` weighs ``w = 1 / q(u)``
(base density over proposal density), so ``w <= 1 / a`` everywhere: no region of base
mass is left without cases and no weight explodes. Densities are computed in log
space; a weight that is not finite is an error.

:func:`fit_cross_entropy` is one step of the cross-entropy method (Rubinstein &
Kroese 2004, ch. 3; the update of VerifAI's cross-entropy sampler): the histograms
are refitted to the elite cases (failures, or the highest-scoring fraction),
weighted by their likelihood ratios, shrunk towards the previous proposal by one
pseudo-case per bin (so a handful of elite cases cannot empty the bins of dimensions
they say nothing about), and smoothed towards the previous proposal.

:class:`ImportanceSampler` (sampler ``importance``) draws case ``i`` of a campaign
from the proposal of its stage, from the case's own stream, so any batch of cases is
computed without the others.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ._errors import InvalidParameter
from ._sampler_base import _POINT_STREAM, Sampler
from ._show import show

__all__ = ["ImportanceSampler", "Proposal", "fit_cross_entropy"]


@dataclass(frozen=True)
class Proposal:
    """A defensive mixture of the base distribution and a product of histograms.

    Parameters
    ----------
    probs : sequence of sequences of float, shape (d, bins)
        Per dimension, the probability of each of ``bins`` equal intervals of [0, 1)
        (normalised here, idempotently: ``Proposal.from_dict(p.to_dict()) == p`` bit
        for bit; each row needs a positive sum).
    defensive : float
        Weight ``a`` of the base distribution in the mixture, in (0, 1]; weights are
        at most ``1 / a``.
    """

    probs: tuple[tuple[float, ...], ...]
    defensive: float = 0.1

    def __post_init__(self) -> None:
        a = self.defensive
        if isinstance(a, bool) or not isinstance(a, int | float) or not (0 < a <= 1):
            raise InvalidParameter(
                f"proposal.defensive: {show(a)} must be in (0, 1]; 0 would leave regions of "
                "base mass without cases and weights unbounded"
            )
        rows = self.probs if isinstance(self.probs, list | tuple | np.ndarray) else None
        if rows is None or not all(isinstance(r, list | tuple | np.ndarray) for r in rows):
            raise InvalidParameter(
                f"proposal.probs: {show(self.probs)} must be a list of rows, one per "
                "dimension, each a list of bin probabilities"
            )
        widths = {len(r) for r in rows}
        if len(widths) > 1:
            first = len(rows[0])
            row = next(i for i, r in enumerate(rows) if len(r) != first)
            raise InvalidParameter(
                f"proposal.probs: row {row} has {len(rows[row])} bins, row 0 has {first}; "
                "every dimension must have the same number of bins"
            )
        for i, r in enumerate(rows):
            for x in r:
                if isinstance(x, bool | np.bool_) or not isinstance(x, numbers.Real):
                    raise InvalidParameter(
                        f"proposal.probs: row {i} holds {show(x)}; every entry must be a "
                        "number >= 0"
                    )
        p = np.asarray(rows, dtype=np.float64)
        if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
            raise InvalidParameter(
                f"proposal.probs: shape {p.shape} must be (dimensions, bins), both >= 1"
            )
        bad = ~np.isfinite(p) | (p < 0)
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise InvalidParameter(
                f"proposal.probs: row {i} (dimension {i}), bin {j} holds {show(float(p[i, j]))}; "
                "every entry must be a finite number >= 0"
            )
        empty = np.flatnonzero(p.max(axis=1) <= 0)
        if empty.size:
            i = int(empty[0])
            raise InvalidParameter(
                f"proposal.probs: row {i} (dimension {i}) sums to 0; every dimension's row "
                "needs a positive sum"
            )
        object.__setattr__(self, "probs", _normalised(p))
        object.__setattr__(self, "defensive", float(a))

    @classmethod
    def base(cls, d: int, bins: int = 16, defensive: float = 1.0) -> Proposal:
        """The base distribution itself, as a proposal of ``bins`` per dimension."""
        return cls(tuple((1.0,) * bins for _ in range(d)), defensive)

    @property
    def d(self) -> int:
        return len(self.probs)

    @property
    def bins(self) -> int:
        return len(self.probs[0])

    def _density(self) -> np.ndarray:
        return np.asarray(self.probs) * self.bins  # (d, bins): h_j on each interval

    def _check(self, u: np.ndarray) -> np.ndarray:
        u = np.atleast_2d(np.asarray(u, dtype=np.float64))
        if u.shape[1] != self.d or not np.all((u >= 0) & (u <= 1)):
            raise InvalidParameter(
                f"points: expected shape (n, {self.d}) in the unit cube, got {u.shape}"
            )
        return u

    def log_pdf(self, u: npt.ArrayLike) -> np.ndarray:
        """``log q(u)`` of points of the unit cube, shape (n,)."""
        u = self._check(np.asarray(u))
        idx = np.minimum((u * self.bins).astype(np.intp), self.bins - 1)
        with np.errstate(divide="ignore"):
            logh = np.log(self._density())
        prod = logh[np.arange(self.d), idx].sum(axis=1)  # log prod_j h_j(u_j)
        a = self.defensive
        if a == 1.0:
            return np.zeros(len(u))
        return np.logaddexp(math.log(a), math.log1p(-a) + prod)

    def log_weights(self, u: npt.ArrayLike) -> np.ndarray:
        """``log w = -log q(u)``: log of base over proposal density, shape (n,)."""
        out = -self.log_pdf(u)
        if not np.all(np.isfinite(out)):
            raise InvalidParameter("proposal: a weight is not finite (log space overflowed)")
        return out

    def weights(self, u: npt.ArrayLike) -> np.ndarray:
        """``w = 1 / q(u)``, at most ``1 / defensive``; shape (n,)."""
        return np.exp(self.log_weights(u))

    def max_ratio(self, region: Mapping[int, tuple[float, float]]) -> float:
        """The largest weight in a box (dimension index -> unit interval; dimensions
        not named span [0, 1)): ``1 / (a + (1 - a) prod_j min h_j)`` over the box."""
        h = self._density()
        low = 1.0
        for j in range(self.d):
            lo, hi = region.get(j, (0.0, 1.0))
            first = min(math.floor(max(lo, 0.0) * self.bins), self.bins - 1)
            last = max(first, min(math.ceil(min(hi, 1.0) * self.bins) - 1, self.bins - 1))
            low *= float(h[j, first : last + 1].min())
        return 1.0 / (self.defensive + (1 - self.defensive) * low)

    def sample(self, streams: Sequence[np.random.SeedSequence]) -> np.ndarray:
        """One point per stream, shape (len(streams), d): each from its own generator
        (a campaign's case streams), as :meth:`draw` would from that generator."""
        picks, uniforms = np.empty(len(streams)), np.empty((len(streams), self.d))
        for k, ss in enumerate(streams):
            rng = np.random.Generator(np.random.PCG64(ss))
            picks[k], uniforms[k] = rng.random(), rng.random(self.d)
        return self._transform(picks, uniforms)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` points from one generator, shape (n, d) (simulations, tests)."""
        return self._transform(rng.random(n), rng.random((n, self.d)))

    def _transform(self, pick: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Points from uniforms: the base distribution (``v`` itself) where ``pick <
        defensive``, else each coordinate through its histogram's inverse CDF."""
        cdf = np.cumsum(np.asarray(self.probs), axis=1)
        cdf[:, -1] = 1.0
        out = v.copy()
        hist = pick >= self.defensive
        for j in range(self.d):
            x = v[hist, j]
            b = np.minimum(np.searchsorted(cdf[j], x, side="right"), self.bins - 1)
            below = np.where(b > 0, cdf[j, b - 1], 0.0)
            frac = (x - below) / np.maximum(cdf[j, b] - below, 1e-300)
            out[hist, j] = (b + np.clip(frac, 0.0, 1.0)) / self.bins
        return np.minimum(out, np.nextafter(1.0, 0.0))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON): ``{"defensive": a, "probs": [[...], ...]}``."""
        return {"defensive": self.defensive, "probs": [list(r) for r in self.probs]}

    @classmethod
    def from_dict(cls, data: Any, d: int | None = None) -> Proposal:
        """Read :meth:`to_dict`'s form; ``d`` checks the number of dimensions."""
        if not isinstance(data, Mapping):
            raise InvalidParameter(
                f"proposal: {show(data)} must be a table with probs (and defensive)"
            )
        unknown = sorted(str(k) for k in set(data) - {"defensive", "probs"})
        if unknown:
            raise InvalidParameter(
                f"proposal: unknown key {unknown[0]!r}; allowed: defensive, probs"
            )
        if "probs" not in data or not isinstance(data["probs"], list | tuple):
            raise InvalidParameter("proposal.probs: missing; give one list of bins per dimension")
        prop = cls(tuple(data["probs"]), data.get("defensive", 0.1))
        if d is not None and prop.d != d:
            raise InvalidParameter(
                f"proposal.probs: {prop.d} dimensions, the parameter space has {d}"
            )
        return prop


def _normalised(p: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """Rows of finite entries >= 0 with a positive maximum, divided by their sums; a row
    that sums to 1 up to rounding already is kept as it is.

    Dividing by the sum again would move some entries by an ulp (the rounded quotients
    do not sum to exactly 1), so a proposal read back from its :meth:`Proposal.to_dict`
    would differ from the one written and draw other points. A quotient row sums to 1
    within ``bins`` ulps (one rounding per entry and the summation's own), inside the
    tolerance, so normalising twice gives the same bits as once. Rows are scaled by
    their largest entry first, so that a sum of huge entries cannot overflow.
    """
    tol = 4 * p.shape[1] * np.finfo(np.float64).eps
    done = np.abs(np.minimum(p, 2.0).sum(axis=1) - 1.0) <= tol  # (no overflow)
    scaled = p / p.max(axis=1, keepdims=True)
    out = np.where(done[:, None], p, scaled / scaled.sum(axis=1, keepdims=True))
    return tuple(tuple(float(x) for x in row) for row in out)


def fit_cross_entropy(
    previous: Proposal,
    points: npt.ArrayLike,
    scores: npt.ArrayLike,
    log_weights: npt.ArrayLike,
    *,
    elite: float = 0.1,
    smoothing: float = 0.7,
) -> Proposal:
    """One cross-entropy update of ``previous`` from the cases it drew.

    Parameters
    ----------
    previous : Proposal
        The proposal the cases were drawn from (its defensive weight is kept).
    points : array_like, shape (n, d)
        The cases' points in the unit cube.
    scores : array_like, shape (n,)
        Higher is closer to failing (``inf`` for a failure; ``-inf``: no signal).
    log_weights : array_like, shape (n,)
        The cases' log likelihood ratios (base over ``previous``).
    elite : float
        Fraction ``rho`` of cases kept as elite, in (0, 1]; every failure is elite.
    smoothing : float
        Weight of the new fit against ``previous``, in (0, 1] (Rubinstein & Kroese's
        smoothed update; 1 keeps none of the old histograms).

    Returns
    -------
    Proposal
        ``previous`` itself when no case carries a signal (every score ``-inf``).
    """
    if not (0 < elite <= 1):
        raise InvalidParameter(f"importance.elite: {show(elite)} must be in (0, 1]")
    if not (0 < smoothing <= 1):
        raise InvalidParameter(f"importance.smoothing: {show(smoothing)} must be in (0, 1]")
    u = previous._check(np.asarray(points))
    s = np.asarray(scores, dtype=np.float64)
    lw = np.asarray(log_weights, dtype=np.float64)
    if s.shape != (len(u),) or lw.shape != (len(u),) or np.any(np.isnan(s)):
        raise InvalidParameter("scores, log_weights: one number per point (no NaN score)")
    signal = s > -np.inf
    if not signal.any():
        return previous
    keep = max(1, math.ceil(elite * len(u)))
    gamma = np.sort(s)[::-1][min(keep, len(s)) - 1]
    chosen = signal & (s >= gamma)
    w = np.exp(lw[chosen] - lw[chosen].max())  # likelihood ratios, scaled: no overflow
    idx = np.minimum((u[chosen] * previous.bins).astype(np.intp), previous.bins - 1)
    counts = np.stack([np.bincount(idx[:, j], w, previous.bins) for j in range(previous.d)])
    fit = counts.astype(np.float64) / counts.sum(axis=1, keepdims=True)
    # A few elite cases say little about most dimensions: the fit counts as many cases
    # as the elite's effective size, against one pseudo-case per bin spread as the
    # previous proposal (a Dirichlet prior), so three failures cannot empty a bin.
    ess = float(w.sum()) ** 2 / float((w * w).sum())
    old = np.asarray(previous.probs)
    fit = (ess * fit + previous.bins * old) / (ess + previous.bins)
    new = smoothing * fit + (1 - smoothing) * old
    return Proposal(tuple(tuple(r) for r in new), previous.defensive)


class ImportanceSampler(Sampler):
    """Case ``i`` drawn from the proposal of its stage: stage ``s`` holds cases
    ``starts[s] .. starts[s + 1] - 1`` (``starts[0] = 0``)."""

    name = "importance"

    def __init__(
        self,
        d: int,
        n: int,
        seed: int,
        proposals: Sequence[Proposal] = (),
        starts: Sequence[int] = (0,),
    ) -> None:
        super().__init__(d, n, seed)
        if not proposals:
            raise InvalidParameter(
                "sampler importance: needs a proposal ([importance] in the campaign file)"
            )
        if len(starts) < len(proposals) or list(starts) != sorted(starts) or starts[0] != 0:
            raise InvalidParameter(
                f"sampler importance: stage starts {list(starts)} must rise from 0, one per "
                f"proposal ({len(proposals)})"
            )
        for p in proposals:
            if p.d != d:
                raise InvalidParameter(
                    f"sampler importance: a proposal of {p.d} dimensions for a space of {d}"
                )
        self.proposals, self.starts = tuple(proposals), tuple(int(s) for s in starts)

    def stage_of(self, cases: npt.ArrayLike) -> np.ndarray:
        """The stage of each case index."""
        return np.searchsorted(self.starts, np.asarray(cases), side="right") - 1

    def _points(self, start: int, count: int) -> np.ndarray:
        out = np.empty((count, self.d))
        stage = self.stage_of(np.arange(start, start + count))
        for s in np.unique(stage):
            if s >= len(self.proposals):
                raise InvalidParameter(
                    f"sampler importance: stage {s} has no proposal yet (cases from "
                    f"{self.starts[s]} on)"
                )
            ks = np.flatnonzero(stage == s)
            streams = [
                np.random.SeedSequence(self.seed, spawn_key=(start + int(k), _POINT_STREAM))
                for k in ks
            ]
            out[ks] = self.proposals[s].sample(streams)
        return out

    def log_weights(self, start: int, points: np.ndarray) -> np.ndarray:
        """Log weights of cases ``start ..`` at ``points`` under their stages' proposals."""
        stage = self.stage_of(np.arange(start, start + len(points)))
        out = np.empty(len(points))
        for s in np.unique(stage):
            ks = stage == s
            out[ks] = self.proposals[s].log_weights(points[ks])
        return out
