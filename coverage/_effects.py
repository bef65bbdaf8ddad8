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
  ``L = d - sqrt(dl_B^2 - 2 phi dl_B du_A + du_A^2)`` and symmetrically for ``U``
  (``phi = 0`` when a margin of the table is empty).
- Ratio, independent samples: the Katz log interval, Katz, Baptista, Azen & Pike (1978),
  "Obtaining confidence intervals for the risk ratio in cohort studies", Biometrics 34,
  469-474: ``log(p_B / p_A) +- z sqrt(1/k_B - 1/n_B + 1/k_A - 1/n_A)``, as
  ``scipy.stats.contingency.relative_risk`` computes it.
- Ratio, paired samples: the same log interval with the delta-method variance of the
  paired log ratio, ``(b + c) / ((a + b)(a + c))`` (``a`` both fail, ``b`` only B,
  ``c`` only A; derivation in docs/statistics.md).

Zero counts: where a ratio has a zero numerator or denominator, half a case is added to
every cell of its 2x2 table (Haldane's correction), which keeps its limits finite; where
neither sample has a failure the ratio is NaN and its interval ``[0, inf]``. These are
approximate (score and delta-method) intervals, not exact ones: their coverage is close
to the nominal level, and the tests check it by simulation.
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
    return _combine(pb - pa, pb - lb, ub - pb, pa - la, ua - pa)


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
    phi = np.divide(a * d - b * c, np.sqrt(margins), out=np.zeros(m.shape), where=margins > 0)
    return _combine(pb - pa, pb - lb, ub - pb, pa - la, ua - pa, phi)


def _log_interval(
    num: np.ndarray, den: np.ndarray, var: np.ndarray, z: float, none: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio ``num / den`` and ``exp(log ratio +- z sqrt(var))``; NaN, 0, inf where ``none``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
        spread = z * np.sqrt(var)
        low, high = ratio * np.exp(-spread), ratio * np.exp(spread)
    return (
        np.where(none, np.nan, ratio),
        np.where(none, 0.0, low),
        np.where(none, np.inf, high),
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
        With half a case added to each cell of the 2x2 table where ``k_A`` or ``k_B``
        is 0; NaN and ``[0, inf]`` where both are 0 or a sample is empty.
    """
    z = _z(confidence)
    ka, na = check_kn(k_a, n_a)
    kb, nb = check_kn(k_b, n_b)
    none = (ka + kb == 0) | (na == 0) | (nb == 0)
    fix = ((ka == 0) | (kb == 0)) * 0.5
    ka, kb, na, nb = ka + fix, kb + fix, na + 2 * fix, nb + 2 * fix
    with np.errstate(divide="ignore", invalid="ignore"):
        var = 1 / kb - 1 / nb + 1 / ka - 1 / na
        return _log_interval(kb / nb, ka / na, var, z, none)


def paired_ratio_interval(
    both: npt.ArrayLike,
    b_only: npt.ArrayLike,
    a_only: npt.ArrayLike,
    n: npt.ArrayLike,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``p_B / p_A`` from paired cases, with a log interval of delta-method variance
    ``(b + c) / ((a + b)(a + c))``; zero margins as :func:`ratio_interval` treats them."""
    z = _z(confidence)
    a, b, c, m = _paired(both, b_only, a_only, n)
    none = (a + b + c == 0) | (m == 0)
    fix = ((a + b == 0) | (a + c == 0)) * 0.5
    a, b, c = a + fix, b + fix, c + fix
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (b + c) / ((a + b) * (a + c))
    return _log_interval(a + b, a + c, var, z, none)
