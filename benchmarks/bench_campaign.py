"""Campaign throughput and memory, measured side by side in one run.

Run: ``python benchmarks/bench_campaign.py [--cases N] [--repeats R] [--big N]``
(``--models float,int8`` by default)

1. Scaling: the same N cases (default 4,096) with both models
   a. in a plain in-process loop (``run_batch`` over the batches, no dask),
   b. on a local dask cluster with 1 worker process,
   c. on a local dask cluster with 2 worker processes;
   taking turns for ``--repeats`` rounds, then printing the median cases/s of each
   and the ratios b/a (dask overhead, target >= 0.9) and c/b (scaling, target >= 1.8).
2. Memory (with ``--big``): peak RSS of the whole process tree (client, scheduler,
   workers) for a campaign of N/10 and of N cases, sampled every 0.25 s; the two
   peaks should agree within 10 % (memory stays flat), and the N-case wall time
   extrapolates to 1,000,000 cases.

Results go to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil

from highfive.harness import (
    BatchJob,
    CampaignConfig,
    ExecutionConfig,
    load_counters,
    run_batch,
    run_campaign,
)


class PeakRSS:
    """Peak resident memory of this process and all its descendants.

    RSS is read every ``interval`` s from the processes found at the last scan; the
    process tree is scanned again every ``rescan`` s (a scan reads all of /proc, which
    would otherwise cost the campaign a few percent of a core).
    """

    def __init__(self, interval: float = 0.25, rescan: float = 2.0) -> None:
        self.interval, self.rescan = interval, rescan
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        procs, scanned = [me], -float("inf")
        while not self._stop.is_set():
            if time.monotonic() - scanned >= self.rescan:
                with contextlib.suppress(psutil.Error):
                    procs = [me, *me.children(recursive=True)]
                scanned = time.monotonic()
            total = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):  # a process may end meanwhile
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _config(
    out: str, name: str, cases: int, models: tuple[str, ...], workers: int
) -> CampaignConfig:
    return CampaignConfig(
        name=name,
        seed=20261127,
        cases=cases,
        sampler="lhs",
        batch_size=1024,  # as examples/million.toml
        models=models,
        out=out,
        execution=ExecutionConfig(workers=workers),
    )


def plain_loop(cfg: CampaignConfig) -> float:
    """Cases per second of run_batch called directly, no dask, no files."""
    counters = load_counters(cfg)
    space = cfg.parameter_space()
    t0 = time.perf_counter()
    for b in range(cfg.n_batches):
        run_batch(
            BatchJob(
                b,
                *cfg.batch_range(b),
                cfg.seed,
                cfg.cases,
                cfg.sampler,
                space,
                counters,
                cfg.tolerance,
                cfg.keep_failures,
            )
        )
    return cfg.cases / (time.perf_counter() - t0)


def campaign_rate(cfg: CampaignConfig) -> tuple[float, float]:
    """Cases per second of a whole campaign (cluster start excluded) and its peak RSS."""
    with PeakRSS() as mem:
        summary = run_campaign(cfg, stream=None)
    return cfg.cases / summary.seconds, mem.peak / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=4096)
    parser.add_argument("--big", type=int, default=0, help="cases of the memory run")
    parser.add_argument("--models", default="float,int8")
    parser.add_argument("--repeats", type=int, default=1, help="median over repeats")
    args = parser.parse_args()
    models = tuple(args.models.split(","))
    print(f"cpu count {os.cpu_count()}, models {', '.join(models)}, cases {args.cases:,}")

    with tempfile.TemporaryDirectory() as out:
        # The three set-ups take turns, round after round, so a slow spell of this
        # shared machine falls on all of them; each figure is the median over rounds.
        rounds = []
        for r in range(args.repeats):
            rates = (
                plain_loop(_config(out, f"loop-{r}", args.cases, models, 0)),
                campaign_rate(_config(out, f"w1-{r}", args.cases, models, 1))[0],
                campaign_rate(_config(out, f"w2-{r}", args.cases, models, 2))[0],
            )
            rounds.append(rates)
            print(
                f"round {r + 1}: loop {rates[0]:,.0f}, 1 worker {rates[1]:,.0f}, "
                f"2 workers {rates[2]:,.0f} cases/s",
                flush=True,
            )
        loop, one, two = (statistics.median(col) for col in zip(*rounds, strict=True))
        print(f"{'plain in-process loop':<28} {loop:>9,.0f} cases/s")
        print(
            f"{'dask, 1 worker':<28} {one:>9,.0f} cases/s   1 worker / loop  = {one / loop:.2f}"
            "  (target >= 0.90)"
        )
        print(
            f"{'dask, 2 workers':<28} {two:>9,.0f} cases/s   2 workers / 1    = {two / one:.2f}"
            "  (target >= 1.80)"
        )
        print(f"1,000,000 cases at the 2-worker rate: {1e6 / two / 60:,.1f} min (target <= 30)")

        if args.big:
            small, big = max(args.big // 10, 256), args.big
            rate_s, peak_s = campaign_rate(_config(out, "mem-small", small, models, 2))
            rate_b, peak_b = campaign_rate(_config(out, "mem-big", big, models, 2))
            print(f"peak RSS, {small:>9,} cases: {peak_s:6.2f} GiB ({rate_s:,.0f} cases/s)")
            print(f"peak RSS, {big:>9,} cases: {peak_b:6.2f} GiB ({rate_b:,.0f} cases/s)")
            print(f"ratio big/small: {peak_b / peak_s:.3f} (target <= 1.10; peak target <= 2 GiB)")
            size = sum(f.stat().st_size for f in Path(out, "mem-big").rglob("*") if f.is_file())
            print(f"run directory of {big:,} cases: {size / 2**20:,.1f} MiB")


if __name__ == "__main__":
    main()
