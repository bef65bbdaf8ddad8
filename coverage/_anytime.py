"""Anytime-valid bounds of a failure rate: confidence sequences that hold at every n.

A Clopper-Pearson bound is exact for *one* look at the data. A campaign that looks
again after every batch or focus stage, and stops or labels a cell the first time its
bound crosses the target, gets more false decisions the more it looks (at a true rate
equal to the target of 0.01, 500 cases per look and 95 % confidence, a cell is wrongly
labelled "passing" with probability 0.0398 after one look, exactly: the bound at 500
cases is below 0.01 for at most one failure, and ``P(K <= 1) = 0.0398`` for
``K ~ Binomial(500, 0.01)``; about 0.11 after five looks and 0.19 after twenty, by
simulation).

The bounds here hold uniformly over all sample sizes: with probability at least
``confidence`` the true rate lies inside the bounds at *every* n at once, so any
number of looks, and stopping at any of them, keeps the guarantee. They invert
Robbins' beta-binomial mixture martingale (Robbins 1970, "Statistical methods related
to the law of the iterated logarithm", Ann. Math. Statist. 41(5); Howard, Ramdas,
McAuliffe & Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Ann. Statist. 49(2), section 3): for a prior Beta(a, b) on the rate,

    M_n(p) = B(a + k, b + n - k) / (B(a, b) p^k (1 - p)^(n - k))

is a nonnegative martingale with mean 1 under rate ``p``, so by Ville's inequality
``P(M_n(p) >= 1/alpha for some n) <= alpha``. The confidence sequence is
``{p : M_n(p) < 1/alpha}``, an interval around ``k / n``; its upper end is the upper
bound, its lower end the lower bound (each one-sided at ``1 - alpha``), solved exactly
per (k, n) by bisection. ``1 / M_n(p0)`` is an anytime-valid p-value.

The prior decides where the sequence is tightest, never its validity: it is
Beta(1, (1 - p_tune) / p_tune), whose mean is ``p_tune`` (the target rate the
decisions are about, fixed before any data). At a target of 1e-3 and 95 %, showing
``p < 1e-3`` with no failure takes 4,742 cases against Clopper-Pearson's 2,995 for one
look: the price of looking as often as one likes. See docs/statistics.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, xlog1py, xlogy

from ._checks import check_confidence, check_kn, check_p_target, unique_pairs

__all__ = ["cs_lower", "cs_pvalue", "cs_upper", "log_mixture", "prior"]

_STEPS = 64  # bisection halvings: the bound to 2**-64 of its bracket


def prior(p_tune: float) -> tuple[float, float]:
    """The mixture's Beta(a, b) prior: mean ``p_tune``, ``a = 1``."""
    p = check_p_target(p_tune, "p_tune")
    return 1.0, (1 - p) / p


def log_mixture(k: np.ndarray, n: np.ndarray, p: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """log M_n(p); ``k`` may be fractional (``needed_at_rate`` scales it with n)."""
    a, b = ab
    with np.errstate(divide="ignore"):
        return betaln(a + k, b + n - k) - betaln(a, b) - xlogy(k, p) - xlog1py(n - k, -p)


def _solve(
    k: np.ndarray, n: np.ndarray, confidence: float, p_tune: float, upper: bool
) -> np.ndarray:
    """The end of ``{p : log M_n(p) < log(1/alpha)}`` above (or below) ``k / n``."""
    ab, level = prior(p_tune), -np.log1p(-confidence)
    ku, nu, inverse = unique_pairs(k, n)
    hat = np.divide(ku, nu, out=np.zeros(ku.shape), where=nu > 0)
    # log M is convex in p with its minimum at k/n: the crossing on either side is unique.
    lo, hi = (hat.copy(), np.ones(ku.shape)) if upper else (np.zeros(ku.shape), hat.copy())
    for _ in range(_STEPS):
        mid = (lo + hi) / 2
        out = log_mixture(ku, nu, mid, ab) >= level  # mid is outside the sequence
        if upper:
            hi, lo = np.where(out, mid, hi), np.where(out, lo, mid)
        else:
            lo, hi = np.where(out, mid, lo), np.where(out, hi, mid)
    bound = hi if upper else lo
    edge = (ku >= nu) if upper else (ku <= 0)  # all failed / none failed: nothing to exclude
    bound = np.where(edge | (nu == 0), 1.0 if upper else 0.0, bound)
    return bound[inverse].reshape(k.shape)


def cs_upper(
    k: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95, p_tune: float = 1e-3
) -> np.ndarray:
    """Anytime-valid one-sided upper bound of the failure rate (1 where ``k = n``).

    With probability at least ``confidence`` the true rate is below this bound at every
    ``n`` simultaneously (Robbins' beta-binomial mixture confidence sequence; Howard et
    al. 2021), so a campaign may look after every batch and stop at any look.

    Parameters
    ----------
    k, n : array_like
        Failures and cases (broadcast together); ``n = 0`` gives 1.
    confidence : float
        One-sided confidence level, in [0.5, 1).
    p_tune : float
        The rate the sequence is tightest near (the prior's mean): the target.

    Returns
    -------
    np.ndarray
    """
    c = check_confidence(confidence)
    kk, nn = check_kn(k, n)
    return _solve(kk, nn, c, p_tune, upper=True)


def cs_lower(
    k: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95, p_tune: float = 1e-3
) -> np.ndarray:
    """Anytime-valid one-sided lower bound of the failure rate (0 where ``k = 0``).

    The lower end of the sequence :func:`cs_upper` bounds from above.
    """
    c = check_confidence(confidence)
    kk, nn = check_kn(k, n)
    return _solve(kk, nn, c, p_tune, upper=False)


def cs_pvalue(k: npt.ArrayLike, n: npt.ArrayLike, p0: float, p_tune: float = 1e-3) -> np.ndarray:
    """Anytime-valid p-value of ``H0: p <= p0``: ``min(1, 1 / M_n(p0))`` when ``k/n > p0``.

    The smallest ``1 - confidence`` at which :func:`cs_lower` exceeds ``p0``; under H0
    ``P(p-value <= alpha at some n) <= alpha`` (Ville's inequality).
    """
    p = check_p_target(p0, "p0")
    kk, nn = check_kn(k, n)
    above = kk > p * nn
    log_m = log_mixture(kk, nn, np.full(kk.shape, p), prior(p_tune))
    return np.where(above, np.minimum(1.0, np.exp(-np.maximum(log_m, 0.0))), 1.0)
