"""Checks of the statistics' inputs, shared by the fixed and the anytime-valid bounds."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from highfive.generators import InvalidParameter, show

__all__ = ["as_level", "check_confidence", "check_kn", "check_p_target", "unique_pairs"]


def as_level(x: object) -> float | None:
    """``x`` as a float, or None if it is no number (a bool is none).

    A numpy float narrower than a double (``np.float32(0.95)``, which is
    0.949999988... exactly) stands for the decimal it prints as, the shortest that
    reads back to it (0.95): the value the caller wrote, not its nearest float32.
    """
    if isinstance(x, np.floating) and np.finfo(x.dtype).bits < 64:
        return float(str(x))
    if isinstance(x, float | int | np.floating | np.integer) and not isinstance(x, bool):
        return float(x)
    return None


def check_confidence(c: float) -> float:
    """A one-sided confidence level in [0.5, 1) (a numpy float32 as it prints)."""
    x = as_level(c)
    if x is None or not 0.5 <= x < 1:
        raise InvalidParameter(f"confidence: {show(c)} must be in [0.5, 1), e.g. 0.95")
    return x


def check_p_target(p: float, name: str = "p_target") -> float:
    """A failure rate in (0, 1) (a numpy float32 as it prints)."""
    x = as_level(p)
    if x is None or not 0 < x < 1:
        raise InvalidParameter(f"{name}: {show(p)} must be a failure rate in (0, 1), e.g. 1e-3")
    return x


def check_kn(k: npt.ArrayLike, n: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Failures and cases as float arrays broadcast together: whole, ``0 <= k <= n``, and
    ``n`` finite (no bound exists for infinitely many cases)."""
    k, n = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    bad = ~((k >= 0) & (k <= n) & (k == np.floor(k)) & (n == np.floor(n)) & np.isfinite(n))
    if np.any(bad):
        i = np.flatnonzero(bad.ravel())[0]
        raise InvalidParameter(
            f"k, n: {k.ravel()[i]:g} failures in {n.ravel()[i]:g} cases; need finite whole "
            "numbers with 0 <= k <= n"
        )
    return k, n


def unique_pairs(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (k, n) pairs and the flat inverse index (cells share pairs by thousands)."""
    pairs, inverse = np.unique(
        np.stack([k.ravel(), n.ravel()], axis=1), axis=0, return_inverse=True
    )
    return pairs[:, 0], pairs[:, 1], inverse.ravel()
