"""Estimates and valid bounds of a failure rate from weighted cases.

Case ``i`` carries a weight ``w_i`` (base density over sampling density at its point)
and a failure flag ``f_i``. With ``N`` cases and a region of base mass ``P`` (1 for the
whole space):

- Horvitz-Thompson: ``sum(w f) / (N P)``, unbiased whenever every case's expected
  ``w f`` over its own sampling distribution is the region's share ``P p`` (it is, for
  each case of an importance-sampled stage, given the stages before it);
- self-normalised (Hajek): ``sum(w f) / sum(w)``, consistent, biased by ``O(1/N)``;
- effective sample size (Kish 1965): ``sum(w)^2 / sum(w^2)``.

Bounds use only an *a priori* bound ``B`` on the weights in the region (never the
largest weight seen). Then ``Z_i = w_i f_i / B`` lies in ``[0, 1]`` with conditional
mean ``p P / B``, and Hoeffding's (1963, Theorem 1) relative-entropy bound
``P(Zbar <= mu - t) <= exp(-N kl(mu - t, mu))`` holds for independent cases and, by
the same supermartingale argument, for cases whose sampler depends on earlier cases.
Inverting it gives the one-sided bounds: with no failure the upper bound is
``B (1 - delta^(1/N)) / P``, Clopper-Pearson's zero-failure bound for ``B = P = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import xlog1py

from highfive.generators import InvalidParameter, show

__all__ = [
    "WeightedRate",
    "kish_ess",
    "kl_lower",
    "kl_pvalue",
    "kl_upper",
    "weighted_rate",
]

_STEPS = 64  # bisection steps: the interval shrinks below 1e-19


def _kl(z: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Bernoulli relative entropy kl(z || mu), with 0 log 0 = 0.

    The second term is ``(1 - z) (log1p(-z) - log1p(-mu))``: a quotient
    ``(1 - z) / (1 - mu)`` would round for tiny rates and make the bounds optimistic.
    """
    mu = np.clip(mu, 1e-300, 1 - 1e-16)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(z > 0, z * np.log(z / mu), 0.0)
    return a + xlog1py(1 - z, -z) - xlog1py(1 - z, -mu)


def _zn(z: npt.ArrayLike, n: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    z, n = np.broadcast_arrays(np.asarray(z, dtype=np.float64), np.asarray(n, dtype=np.float64))
    if not np.all((z >= 0) & (z <= 1 + 1e-12)):
        raise InvalidParameter(f"weighted mean: {show(float(np.max(z)))} is outside [0, 1]")
    return np.minimum(z, 1.0), n


def kl_upper(z: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """Largest ``mu >= z`` with ``n kl(z, mu) <= log(1 / (1 - confidence))``; 1 if n = 0.

    ``z`` is the mean of ``n`` values in [0, 1]; the result is a one-sided upper
    confidence bound of their (conditional) mean (Hoeffding 1963, Theorem 1).
    """
    z, n = _zn(z, n)
    level = -np.log1p(-confidence)
    lo, hi = z.copy(), np.ones_like(z)
    for _ in range(_STEPS):
        mid = (lo + hi) / 2
        out = n * _kl(z, mid) > level
        hi, lo = np.where(out, mid, hi), np.where(out, lo, mid)
    return np.where(n > 0, hi, 1.0)


def kl_lower(z: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """Smallest ``mu <= z`` with ``n kl(z, mu) <= log(1 / (1 - confidence))``; 0 if n = 0."""
    z, n = _zn(z, n)
    level = -np.log1p(-confidence)
    lo, hi = np.zeros_like(z), z.copy()
    for _ in range(_STEPS):
        mid = (lo + hi) / 2
        out = n * _kl(z, mid) > level
        lo, hi = np.where(out, mid, lo), np.where(out, hi, mid)
    return np.where((n > 0) & (z > 0), lo, 0.0)


def kl_pvalue(z: npt.ArrayLike, n: npt.ArrayLike, mu0: npt.ArrayLike) -> np.ndarray:
    """Chernoff p-value of ``mean <= mu0`` against ``mean > mu0``: ``exp(-n kl(z, mu0))``
    where ``z > mu0``, else 1."""
    z, n = _zn(z, n)
    m = np.broadcast_to(np.asarray(mu0, dtype=np.float64), z.shape)
    return np.where(z > m, np.exp(-n * _kl(z, m)), 1.0)


def kish_ess(weights: npt.ArrayLike) -> float:
    """Kish's effective sample size ``sum(w)^2 / sum(w^2)`` (0 for no weight)."""
    w = np.asarray(weights, dtype=np.float64)
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


@dataclass(frozen=True)
class WeightedRate:
    """A failure rate from weighted cases: estimates, bounds and whether they decide.

    ``upper`` and ``lower`` are one-sided bounds at ``confidence``; an ``undecided``
    result (effective sample size below the minimum asked for) carries the trivial
    bounds 0 and 1 instead of whatever the few effective cases would suggest.
    """

    cases: int
    failures: int
    rate: float
    """Horvitz-Thompson estimate (unbiased)."""
    rate_sn: float
    """Self-normalised estimate (consistent; NaN without cases)."""
    ess: float
    upper: float
    lower: float
    confidence: float
    weight_bound: float
    status: str
    """``"decided"`` or ``"undecided"``."""


def weighted_rate(
    weights: npt.ArrayLike,
    failed: npt.ArrayLike,
    *,
    weight_bound: float,
    inside: npt.ArrayLike | None = None,
    mass: float = 1.0,
    confidence: float = 0.95,
    min_ess: float = 30.0,
) -> WeightedRate:
    """Failure rate of a region of base mass ``mass`` from weighted cases.

    Parameters
    ----------
    weights : array_like, shape (n,)
        Every case's weight (base over sampling density at its point), inside the region
        or not.
    failed : array_like of bool, shape (n,)
        Whether the case failed.
    weight_bound : float
        A bound on the weight of any case the samplers could have drawn in the region,
        known before sampling (e.g. ``1 / defensive`` for a defensive mixture).
    inside : array_like of bool, shape (n,), optional
        Which cases lie in the region (default: all).
    mass : float
        Base probability of the region, in (0, 1].
    confidence : float
        One-sided confidence of the bounds, in [0.5, 1).
    min_ess : float
        Effective sample size below which the result is ``undecided``.
    """
    w = np.asarray(weights, dtype=np.float64)
    f = np.asarray(failed, dtype=bool)
    into = np.ones(f.shape, dtype=bool) if inside is None else np.asarray(inside, dtype=bool)
    if w.shape != f.shape or w.shape != into.shape or w.ndim != 1:
        raise InvalidParameter(
            f"weights, failed, inside: shapes {w.shape}, {f.shape} and {into.shape} must be "
            "one (n,)"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InvalidParameter("weights: every weight must be a finite number >= 0")
    if not (np.isfinite(weight_bound) and weight_bound > 0):
        raise InvalidParameter(f"weight_bound: {show(weight_bound)} must be a finite number > 0")
    if w.size and float(w.max()) > weight_bound * (1 + 1e-9):
        raise InvalidParameter(
            f"weights: {show(float(w.max()))} exceeds weight_bound {show(weight_bound)}; the "
            "bound must hold for every case"
        )
    if not (0 < mass <= 1):
        raise InvalidParameter(f"mass: {show(mass)} must be in (0, 1]")
    if not (0.5 <= confidence < 1):
        raise InvalidParameter(f"confidence: {show(confidence)} must be in [0.5, 1)")
    n = w.size
    f = f & into
    s1 = float(np.sum(w[f]))
    ess = kish_ess(w[into])
    scale = weight_bound / mass
    z = s1 / (n * weight_bound) if n else 0.0
    decided = n > 0 and ess >= min_ess
    upper = min(1.0, float(kl_upper(z, n, confidence)) * scale) if decided else 1.0
    lower = min(1.0, float(kl_lower(z, n, confidence)) * scale) if decided else 0.0
    return WeightedRate(
        cases=n,
        failures=int(f.sum()),
        rate=s1 / (n * mass) if n else float("nan"),
        rate_sn=s1 / float(w[into].sum()) if w[into].sum() > 0 else float("nan"),
        ess=ess,
        upper=upper,
        lower=lower,
        confidence=confidence,
        weight_bound=weight_bound,
        status="decided" if decided else "undecided",
    )
