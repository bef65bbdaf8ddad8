"""Error spending over a known number of looks: the alternative to confidence sequences.

A sequential campaign (``highfive run --until-decided``) looks at its data after every
stage, and the number of stages is bounded and known before it starts: at most
``K = ceil(budget / stage)``. A criterion may then be decided at look ``j`` with the
exact one-look Clopper-Pearson bound at level ``alpha_j`` instead of ``alpha``, where
``sum_j alpha_j <= alpha``: by the union bound over the looks, the probability that the
bound is wrong at *some* look is at most ``alpha``, whatever rule decides when to stop.
The levels come from a spending function ``a(t)``, increasing from ``a(0) = 0`` to
``a(1) = alpha``, at the information fraction ``t_j`` = cases after look ``j`` /
budget: ``alpha_j = a(t_j) - a(t_{j-1})`` (Lan & DeMets 1983, "Discrete sequential
boundaries for clinical trials", Biometrika 70(3), 659-663):

- ``even``: ``a(t) = alpha * j / K`` (the same level at every look);
- ``pocock``: ``a(t) = alpha * ln(1 + (e - 1) t)`` (Lan & DeMets' Pocock-type
  function: more at the early looks);
- ``obf``: ``a(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t))`` (Lan & DeMets'
  O'Brien-Fleming-type function: almost nothing early, most at the late looks).

``anytime`` keeps the mixture confidence sequences of :mod:`._anytime`, which need no
bound on the looks. A decision is kept once made (the bound of a criterion is the
tightest of its looks so far), which the union bound covers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betainccinv, betaincinv
from scipy.stats import norm

from highfive.generators import InvalidParameter, show

__all__ = ["SPENDING", "Spending", "spending_levels", "spent_bounds"]

SPENDING = ("anytime", "even", "pocock", "obf")
"""How a sequential campaign spends its error over its looks (``--spending``)."""

_SHRINK = 1.0 - 1e-12  # keeps the sum of the levels below alpha despite rounding


def check_spending(kind: object) -> str:
    """``kind`` if it is one of :data:`SPENDING`, else a one-line InvalidParameter."""
    if kind not in SPENDING:
        raise InvalidParameter(f"--spending: {show(kind)} must be one of {', '.join(SPENDING)}")
    return str(kind)


def _spent(kind: str, t: np.ndarray, alpha: float) -> np.ndarray:
    """The spending function ``a(t)`` at information fractions ``t`` in [0, 1]."""
    if kind == "pocock":
        return alpha * np.log1p((math.e - 1) * t)
    # obf: 2 - 2 Phi(z / sqrt(t)), 0 at t = 0
    z = norm.isf(alpha / 2)
    with np.errstate(divide="ignore"):
        return np.where(t > 0, 2 * norm.sf(z / np.sqrt(np.where(t > 0, t, 1.0))), 0.0)


def spending_levels(kind: str, looks: Sequence[int], alpha: float) -> np.ndarray:
    """The level ``alpha_j`` of every look, summing to at most ``alpha``.

    Parameters
    ----------
    kind : {"even", "pocock", "obf"}
        The spending function (see the module doc).
    looks : sequence of int
        Cases after each look, increasing; the last is the budget (``t = 1``).
    alpha : float
        The error to spend, in (0, 0.5].

    Returns
    -------
    np.ndarray
        One level per look, each >= 0.
    """
    check_spending(kind)
    if kind == "anytime":
        raise InvalidParameter("--spending: 'anytime' spends no levels (confidence sequences)")
    cases = np.asarray(looks, dtype=np.float64)
    if cases.size == 0 or np.any(np.diff(cases) <= 0) or cases[0] <= 0:
        raise InvalidParameter(f"looks: {show(list(looks))} must be increasing case counts > 0")
    if kind == "even":
        return np.full(cases.size, alpha * _SHRINK / cases.size)
    t = np.r_[0.0, np.minimum(cases / cases[-1], 1.0)]
    spent = np.minimum(np.maximum.accumulate(_spent(kind, t, alpha)), alpha)
    return np.maximum(np.diff(spent), 0.0) * _SHRINK


def spent_bounds(k: npt.ArrayLike, n: npt.ArrayLike, level: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Clopper-Pearson (upper, lower) bounds of ``k`` failures in ``n`` cases
    at the error ``level`` (a look's ``alpha_j``), computed from the level itself.

    ``1 - alpha_j`` is 1.0 in double precision once ``alpha_j`` is below about 1.1e-16
    (an even split over 10^15 looks), so the bounds are the ``alpha_j`` tails of the
    Beta distributions: the upper bound solves ``I_{1-p}(n - k, k + 1) = alpha_j``
    (``betainccinv``), the lower ``I_p(k, n - k + 1) = alpha_j``. Where the inverse
    does not converge (levels near the smallest double) the bound is the trivial one,
    1 or 0: never tighter than the data show.

    Parameters
    ----------
    k, n : array_like
        Failures and cases (broadcast together); ``n = 0`` gives (1, 0).
    level : float
        The error of each one-sided bound, in (0, 0.5].

    Returns
    -------
    (np.ndarray, np.ndarray)
        Upper and lower bounds, of the broadcast shape.
    """
    if not 0 < level <= 0.5:
        raise InvalidParameter(f"level: {show(level)} must be in (0, 0.5]")
    k_, n_ = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    upper, lower = np.ones(k_.shape), np.zeros(k_.shape)
    some = k_ < n_
    upper[some] = betainccinv(k_[some] + 1, n_[some] - k_[some], level)
    some = k_ > 0
    lower[some] = betaincinv(k_[some], n_[some] - k_[some] + 1, level)
    return np.where(np.isfinite(upper), upper, 1.0), np.where(np.isfinite(lower), lower, 0.0)


@dataclass(frozen=True)
class Spending:
    """How the decisions of a sequential campaign of ``budget`` cases in stages of
    ``stage`` spend their error: ``kind`` is one of :data:`SPENDING`."""

    kind: str = "anytime"
    budget: int = 0
    stage: int = 0

    def __post_init__(self) -> None:
        check_spending(self.kind)

    @property
    def count(self) -> int:
        """``K = ceil(budget / stage)``: the most looks the campaign takes."""
        return -(-self.budget // self.stage)

    @property
    def looks(self) -> list[int]:
        """Cases after each look: ``stage``, ``2 stage``, ... up to the budget."""
        return self.first_looks(self.count)

    def first_looks(self, first: int) -> list[int]:
        """Cases after each of the ``first`` looks (a campaign of many looks lists only
        those taken)."""
        k = min(first, self.count)
        return [min(j * self.stage, self.budget) for j in range(1, k + 1)]

    def first_deciding(self, alpha: float) -> int:
        """Cases after the first look whose level is above 0 in double precision: no
        look before it can decide anything. ``stage`` but for O'Brien-Fleming spending
        (``a(t)`` is 0 below ``t`` of about ``(z / 38.5)^2``, 0.0026 at alpha 0.05) over
        a budget of many stages; the budget itself if no look's level is above 0."""
        lo, hi = 1, self.count  # the first look with a level above 0 lies in [lo, hi]
        if self.levels(alpha, 1)[0] > 0:
            return self.first_looks(1)[0]
        if self.kind not in ("pocock", "obf"):  # the same level at every look: none
            return self.budget
        while lo < hi:  # a(t) increases with t: bisect on the look
            mid = (lo + hi) // 2
            look = min(mid * self.stage, self.budget)
            looks = [look, self.budget] if look < self.budget else [look]
            if spending_levels(self.kind, looks, alpha)[0] > 0:  # a(t) as levels spend it
                hi = mid
            else:
                lo = mid + 1
        return min(lo * self.stage, self.budget)

    def levels(self, alpha: float, first: int | None = None) -> np.ndarray:
        """``alpha_j`` per look (:func:`spending_levels`); only the ``first`` looks'
        levels when given, the same as the whole list's first entries."""
        looks = self.first_looks(self.count if first is None else first)
        if not looks:
            return np.zeros(0)
        if len(looks) == self.count:
            return spending_levels(self.kind, looks, alpha)
        if self.kind == "even":  # alpha / K at every look
            return spending_levels(self.kind, looks, alpha) * len(looks) / self.count
        # a(t) at t_j = looks_j / budget depends on the looks so far and the budget only
        return spending_levels(self.kind, [*looks, self.budget], alpha)[: len(looks)]
