"""Generation speed: one 10 s case at 50 Hz must take at most 0.5 ms on one core.

Run: ``python benchmarks/bench_generators.py``. Prints the median per-case time of
the nominal case and of cases drawn from the whole default space, over several repeats,
with the ratio to the 0.5 ms budget. Single-threaded by construction (numpy calls on
arrays this small do not use threads). Then each sampler's time for a batch of 1,024
points of the default space's 36 dimensions at case 0 and at case 10**9, side by side: a batch
must cost the same wherever it starts (late / early near 1).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from highfive.generators import default_space, make_sampler, synthesize

BUDGET_MS = 0.5


def _per_case_ms(rows: list[dict], repeats: int = 7) -> tuple[float, float]:
    """Median ms per case, and median ms per 10 s of trace (cases may be extended)."""
    seconds = sum(synthesize(row, i, validate=False).duration for i, row in enumerate(rows))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i, row in enumerate(rows):
            synthesize(row, i, validate=False)
        times.append((time.perf_counter() - t0) * 1e3)
    ms = statistics.median(times)
    return ms / len(rows), ms / seconds * 10.0


def main() -> None:
    # no options; --help says what it prints (it ran the benchmark instead)
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    space = default_space()
    nominal = space.restrict(duration=10.0, sample_rate=50).nominal()
    whole = space.rows(np.random.default_rng(0).random((300, space.d)))
    at_50 = space.restrict(duration=10.0, sample_rate=50)
    drawn_50 = at_50.rows(np.random.default_rng(1).random((300, at_50.d)))
    synthesize(nominal, 0)  # warm caches (filter design, imports)

    print(f"{'cases':<48} {'ms/case':>8} {'ms/10 s':>8} {'x budget':>9}")
    for label, rows in [
        ("nominal, 10 s at 50 Hz", [nominal] * 300),
        ("drawn, duration=10 s (extended if needed), 50 Hz", drawn_50),
        ("drawn from the whole space (4-48 s, 25-200 Hz)", whole),
    ]:
        per_case, per_10s = _per_case_ms(rows)
        print(f"{label:<48} {per_case:>8.3f} {per_10s:>8.3f} {per_10s / BUDGET_MS:>9.2f}")
    print(
        f"budget: {BUDGET_MS} ms per 10 s of trace at 50 Hz; 'x budget' <= 1 passes "
        "(rows at 50 Hz; the whole-space row is for information)"
    )

    print()
    _sampler_batches(space.d)


def _batch_ms(name: str, d: int, n: int, starts: tuple[int, ...], repeats: int = 7) -> list[float]:
    """Median ms of a 1,024-case batch at each start, the starts timed in turn within
    every round (so that a busy spell of the machine falls on both alike)."""
    sampler = make_sampler(name, d, n, 1)
    times: list[list[float]] = [[] for _ in starts]
    for _ in range(repeats):
        for k, start in enumerate(starts):
            t0 = time.perf_counter()
            sampler.points(start, 1024)
            times[k].append((time.perf_counter() - t0) * 1e3)
    return [statistics.median(t) for t in times]


def _sampler_batches(d: int) -> None:
    print(f"{'sampler':<8} {'late case':>13} {'ms early':>9} {'ms late':>9} {'late/early':>11}")
    late = 10**9
    for name in ("random", "sobol", "halton", "lhs"):
        n = late + 1024
        early_ms, late_ms = _batch_ms(name, d, n, (0, late))
        print(f"{name:<8} {late:>13,} {early_ms:>9.2f} {late_ms:>9.2f} {late_ms / early_ms:>11.2f}")


if __name__ == "__main__":
    main()
