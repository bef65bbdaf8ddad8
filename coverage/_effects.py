"""Effect sizes of a diff: intervals for the difference and the ratio of two failure rates.

Per cell, vectorised over every cell at once; ``A`` is the baseline, ``B`` the
candidate, and the effects are ``p_B - p_A`` and ``p_B / p_A``. Every interval is
two-sided at ``confidence`` (``z`` the ``(1 + confidence) / 2`` normal quantile).

- Difference, independent samples (two runs with different cases): Newcombe's hybrid
  score interval, method 10 of Newcombe (1998), "Interval estimation for the difference
  between independent proportions: comparison of eleven methods", Statistics in
  Medicine 17, 873-890. With Wilson score intervals ``(l_A, u_A)`` and ``(l_B, u_B)``:
  ``L = d - sqrt((p_B - l_B)^2 + (u_A - p_A)^2)``,
  ``U = d + sqrt((u_B - p_B)^2 + (p_A - l_A)^2)``.
- Difference, paired samples (two models on the same cases): Newcombe's method 10 for
  paired data, Newcombe (1998), "Improved confidence intervals for the difference
  between binomial proportions based on paired data", Statistics in Medicine 17,
  2635-2650: the same combination with the correlation ``phi`` of the paired 2x2 table,
  ``L = d - sqrt(dl_B^2 - 2 phi dl_B du_A + du_A^2)`` and symmetrically for ``U``.
  ``phi`` is Newcombe's corrected one: with ``A = a d - b c``, ``(A - n/2) / sqrt(...)``
  when ``A > n/2``, 0 when ``0 <= A <= n/2`` and ``A / sqrt(...)`` below (0 when a margin
  is empty). Uncorrected, a table without discordant cases has ``phi = 1`` and an
  interval of zero width at any ``n``.
- Ratio, independent samples: the Katz log interval, Katz, Baptista, Azen & Pike (1978),
  "Obtaining confidence intervals for the risk ratio in cohort studies", Biometrics 34,
  469-474: ``log(p_B / p_A) +- z sqrt(1/k_B - 1/n_B + 1/k_A - 1/n_A)``, as
  ``scipy.stats.contingency.relative_risk`` computes it.
- Ratio, paired samples: Bonett and Price's hybrid Wilson score interval, Bonett &
  Price (2006), "Confidence intervals for a ratio of binomial proportions based on
  paired data", Statistics in Medicine 25, 3039-3047, the method Fagerland, Lydersen &
  Laake (2014), "Recommended tests and confidence intervals for paired binomial
  proportions", Statistics in Medicine 33, 2850-2875, recommend: Wilson intervals of
  ``(a + b) / n*`` and ``(a + c) / n*`` (``n* = a + b + c``, the cases either model
  fails; ``a`` both fail, ``b`` only B, ``c`` only A) at an adjusted ``z``, combined as
  ``[l_B / u_A, u_B / l_A]``.

Zero counts: the ratio is the observed ``p_B / p_A``, infinite when only A has no
failure and 0 when only B has none; the interval's end on that side is open (``inf``,
or 0), since a rate observed as zero may be any small positive rate. The unpaired
interval's other end adds half a case to every cell of the 2x2 table (Haldane's
correction). Where neither sample has a failure the ratio is NaN and its interval
``[0, inf]``. These are approximate (score) intervals, not exact ones: their coverage is
close to the nominal level down to cells of ten cases, and the tests check it by
simulation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from ._checks import check_confidence, check_kn

__all__ = [
    "newcombe_interval",
    "paired_newcombe_interval",
    "paired_ratio_interval",
    "ratio_interval",
    "wilson_interval",
]


def _z(confidence: float) -> float:
    return float(ndtri((1 + check_confidence(confidence)) / 2))


def _rate(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.divide(k, n, out=np.zeros(np.broadcast(k, n).shape), where=n > 0)


def wilson_interval(
    k: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion (Wilson 1927, JASA 22); ``[0, 1]`` for n = 0."""
    z = _z(confidence)
    kk, nn = check_kn(k, n)
    return _wilson(kk, nn, z)


def _wilson(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    z2 = z * z
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (k + z2 / 2) / (n + z2)
        half = z * np.sqrt(np.maximum(k * (n - k) / np.where(n > 0, n, 1), 0) + z2 / 4) / (n + z2)
    low = np.where(n > 0, np.maximum(centre - half, 0.0), 0.0)
    high = np.where(n > 0, np.minimum(centre + half, 1.0), 1.0)
    return np.where(k == 0, 0.0, low), np.where(k == n, 1.0, high)


def _combine(
    d: np.ndarray,
    below_b: np.ndarray,
    above_b: np.ndarray,
    below_a: np.ndarray,
    above_a: np.ndarray,
    phi: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's square-and-add: limits of ``p_B - p_A`` from each rate's distances."""
    low = d - np.sqrt(np.maximum(below_b**2 - 2 * phi * below_b * above_a + above_a**2, 0))
    high = d + np.sqrt(np.maximum(above_b**2 - 2 * phi * above_b * below_a + below_a**2, 0))
    return np.clip(low, -1.0, 1.0), np.clip(high, -1.0, 1.0)


def newcombe_interval(
    k_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    k_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Interval of ``p_B - p_A`` from independent samples (Newcombe 1998, method 10).

    Returns
    -------
    (low, high) : np.ndarray
        ``[-1, 1]`` where a sample is empty.
    """
    z = _z(confidence)
    ka, na = check_kn(k_a, n_a)
    kb, nb = check_kn(k_b, n_b)
    pa, pb = _rate(ka, na), _rate(kb, nb)
    la, ua = _wilson(ka, na, z)
    lb, ub = _wilson(kb, nb, z)
    low, high = _combine(pb - pa, pb - lb, ub - pb, pa - la, ua - pa)
    # An empty sample's rate is unknown, not 0: every difference stays possible.
    empty = (na == 0) | (nb == 0)
    return np.where(empty, -1.0, low), np.where(empty, 1.0, high)


def _paired(
    both: npt.ArrayLike, b_only: npt.ArrayLike, a_only: npt.ArrayLike, n: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arrays = (np.asarray(x, dtype=np.float64) for x in (both, b_only, a_only, n))
    a, b, c, m = np.broadcast_arrays(*arrays)
    check_kn(np.stack([a, b, c, a + b + c]), np.broadcast_to(m, (4, *m.shape)))
    return a, b, c, m


def paired_newcombe_interval(
    both: npt.ArrayLike,
    b_only: npt.ArrayLike,
    a_only: npt.ArrayLike,
    n: npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Interval of ``p_B - p_A`` from paired cases (Newcombe 1998b, method 10).

    Parameters
    ----------
    both, b_only, a_only : array_like
        Cases both fail, only B fails, only A fails.
    n : array_like
        Paired cases.
    confidence : float
        Two-sided coverage of the interval, in (0, 1).

    Returns
    -------
    (lower, upper) : tuple of np.ndarray
        The interval's ends, in [-1, 1].
    """
    z = _z(confidence)
    a, b, c, m = _paired(both, b_only, a_only, n)
    d = m - a - b - c
    pa, pb = _rate(a + c, m), _rate(a + b, m)
    la, ua = _wilson(a + c, m, z)
    lb, ub = _wilson(a + b, m, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    cross = np.where(cross > m / 2, cross - m / 2, np.minimum(cross, 0.0))  # Newcombe's
    phi = np.divide(cross, np.sqrt(margins), out=np.zeros(m.shape), where=margins > 0)
    return _combine(pb - pa, pb - lb, ub - pb, pa - la, ua - pa, phi)


def _observed_ratio(
    k_b: np.ndarray, k_a: np.ndarray, low: np.ndarray, high: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The observed ratio ``(k_B / k_A) * scale`` with its interval, opened on the side
    of a zero count (``inf`` above when ``k_A = 0``, 0 below when ``k_B = 0``); NaN and
    ``[0, inf]`` when both are 0."""
    none = k_a + k_b == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(k_a > 0, k_b / np.where(k_a > 0, k_a, 1) * scale, np.inf)
    return (
        np.where(none, np.nan, np.where(k_b == 0, 0.0, ratio)),
        np.where(none | (k_b == 0), 0.0, low),
        np.where(none | (k_a == 0), np.inf, high),
    )


def ratio_interval(
    k_a: npt.ArrayLike,
    n_a: npt.ArrayLike,
    k_b: npt.ArrayLike,
    n_b: npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``p_B / p_A`` and its Katz log interval, from independent samples.

    Returns
    -------
    (ratio, low, high) : np.ndarray
        The observed ratio; the interval's end on the side of a zero ``k_A`` (``k_B``)
        is ``inf`` (0), its other end Katz's with half a case added to each cell of the
        2x2 table; NaN and ``[0, inf]`` where both are 0 or a sample is empty.
    """
    z = _z(confidence)
    ka, na = check_kn(k_a, n_a)
    kb, nb = check_kn(k_b, n_b)
    empty = (na == 0) | (nb == 0)
    fix = ((ka == 0) | (kb == 0)) * 0.5
    ha, hb, hna, hnb = ka + fix, kb + fix, na + 2 * fix, nb + 2 * fix
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (hb / hnb) / (ha / hna)
        spread = z * np.sqrt(1 / hb - 1 / hnb + 1 / ha - 1 / hna)
        low, high = centre * np.exp(-spread), centre * np.exp(spread)
        scale = na / np.where(nb > 0, nb, 1)
    ka, kb = np.where(empty, 0, ka), np.where(empty, 0, kb)  # an empty sample: no ratio
    return _observed_ratio(kb, ka, low, high, scale)


def paired_ratio_interval(
    both: npt.ArrayLike,
    b_only: npt.ArrayLike,
    a_only: npt.ArrayLike,
    n: npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``p_B / p_A`` from paired cases and Bonett and Price's (2006) hybrid Wilson score
    interval (see the module docstring); zero counts as :func:`ratio_interval` treats
    them."""
    z = _z(confidence)
    a, b, c, _ = _paired(both, b_only, a_only, n)
    fails_b, fails_a, either = a + b, a + c, a + b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        spread_b = np.sqrt((1 - (fails_b + 1) / (either + 2)) / (fails_b + 1))
        spread_a = np.sqrt((1 - (fails_a + 1) / (either + 2)) / (fails_a + 1))
        joint = np.sqrt((b + c + 2) / ((fails_b + 1) * (fails_a + 1)))
        z_adj = z * joint / (spread_b + spread_a)
        lb, ub = _wilson(fails_b, either, z_adj)
        la, ua = _wilson(fails_a, either, z_adj)
        low, high = lb / ua, ub / la
    return _observed_ratio(fails_b, fails_a, low, high, np.ones(a.shape))
