"""What the anytime bounds' prior trades: cases to decide, per target and true rate.

Run: ``python benchmarks/bench_priors.py``

The confidence sequences of ``highfive.coverage`` (docs/statistics.md section 5) mix
the binomial likelihood over a Beta prior on the rate. Any prior fixed before the
data keeps the guarantee; the prior decides only *where* the sequence is tight. The
shipped prior is Beta(1, (1 - p) / p) for a target ``p`` (mean ``p``; as many prior
pseudo-cases as ``1 / p``). This script prints, for pairs of (target, true rate), the
cases a campaign needs before its 95 % anytime bound decides the target with
probability 0.9 (the 90th-percentile failure count at that size, exact binomial), for
the shipped prior and for Beta(r p, r (1 - p)) priors of ``r`` pseudo-cases, and the
geometric mean ratio against the shipped prior. No prior wins everywhere: a
concentrated prior decides a rate far from its target sooner and one near its target
later.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np
from scipy.stats import binom

from highfive.coverage import _anytime

PAIRS = (  # (target, true rate): passing sides, then failing sides
    (1e-3, 0.0),
    (1e-3, 5e-4),
    (3e-3, 0.0),
    (0.01, 0.002),
    (0.01, 0.005),
    (0.035, 0.015),
    (0.05, 0.03),
    (0.25, 0.2),
    (0.25, 0.1),
    (1e-3, 2e-3),
    (0.01, 0.02),
    (0.25, 0.3),
)
SIZES = np.unique(np.round(np.geomspace(10, 3e6, 1500)).astype(np.int64))

Prior = Callable[[float], tuple[float, float]]


def cases_needed(target: float, truth: float, prior: Prior, power: float = 0.9) -> float:
    """Fewest cases (on a 1 % grid) whose anytime bound decides ``target`` with
    probability ``power`` at the true rate ``truth``."""
    shipped = _anytime.prior
    _anytime.prior = prior  # the bounds read the module's prior
    try:
        n = SIZES.astype(float)
        if truth < target:
            k = binom.ppf(power, SIZES, truth)
            ok = _anytime.cs_upper(k, n, 0.95, target) < target
        else:
            k = binom.ppf(1 - power, SIZES, truth)
            ok = _anytime.cs_lower(k, n, 0.95, target) > target
    finally:
        _anytime.prior = shipped
    hit = np.flatnonzero(ok)
    return float(SIZES[hit[0]]) if hit.size else float("inf")


def main() -> int:
    # no options; --help says what it prints (it ran the benchmark instead)
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    priors: dict[str, Prior] = {"shipped": _anytime.prior}
    for r in (10, 50, 200):
        priors[f"r={r}"] = lambda p, r=r: (r * p, r * (1 - p))
    print("cases to decide with probability 0.9, 95 % anytime bounds")
    print(f"{'target':>8} {'truth':>8} | " + " ".join(f"{k:>9}" for k in priors))
    logs = {k: [] for k in priors}
    for target, truth in PAIRS:
        row = {k: cases_needed(target, truth, pr) for k, pr in priors.items()}
        for k in priors:
            logs[k].append(np.log(row[k] / row["shipped"]))
        print(f"{target:>8g} {truth:>8g} | " + " ".join(f"{row[k]:>9,.0f}" for k in priors))
    print(
        "geometric mean vs shipped: "
        + ", ".join(f"{k} {float(np.exp(np.mean(v))):.2f}" for k, v in logs.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
