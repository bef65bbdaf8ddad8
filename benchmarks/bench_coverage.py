"""Coverage counting and statistics on 10 million result rows: time and peak memory.

Run: ``python benchmarks/bench_coverage.py [--rows N] [--ways 1,2]``

1. Builds a synthetic results dataset (default 10,000,000 rows: 5,000,000 cases x 2
   models) in a temporary folder laid out as a run's ``results/model=<id>/`` (Parquet,
   500k-row files, parameters from the default space's ``from_unit`` on random points,
   the space in the schema metadata, verdicts random with a 0.1 % failure rate).
2. In a fresh child process (so peak RSS measures coverage only), times
   ``CoverageCounts.from_results`` over the dataset with every 1- and 2-way cross of all
   dimensions, then ``cell_stats``, ``cells_frame``, ``holes`` and ``summary``, and reads
   the child's peak RSS. Targets: <= 60 s for counts + statistics, <= 4 GiB.

The temporary folder is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TARGET_S = 60.0
TARGET_GIB = 4.0
CHUNK = 500_000


def build(root: Path, rows: int, models: tuple[str, ...], seed: int = 0) -> None:
    """Write ``rows`` result rows (cases x models) under ``root/model=<id>/``."""
    from highfive.coverage import VERDICTS
    from highfive.generators import default_space

    space = default_space()
    schema = pa.schema(
        [
            pa.field("case_id", pa.int64()),
            *space.to_arrow_schema(),
            pa.field("verdict", pa.string()),
            pa.field("margin", pa.float32()),
            pa.field("true_count", pa.int16()),
            pa.field("predicted_count", pa.int16()),
        ]
    )
    rng = np.random.default_rng(seed)
    cases = rows // len(models)
    p_fail = 1e-3
    p = [1 - p_fail] + [p_fail / 4] * 4
    for part, start in enumerate(range(0, cases, CHUNK)):
        count = min(CHUNK, cases - start)
        params = space.from_unit(rng.random((count, space.d)))
        params.insert(0, "case_id", np.arange(start, start + count))
        for m in models:
            code = rng.choice(5, count, p=p)
            verdict = np.asarray(VERDICTS, dtype=object)[code]
            true = params["repetitions"].to_numpy(np.int16) * (params["motion"] == "high_five")
            predicted = true + np.where(code == 0, 0, np.where(code == 1, -1, 1)).astype(np.int16)
            frame = params.assign(
                verdict=verdict,
                margin=rng.random(count, dtype=np.float32),
                true_count=true.astype(np.int16),
                predicted_count=predicted.astype(np.int16),
            )
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            folder = root / f"model={m}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / f"part-{part:06d}.parquet")


def make_run(run: Path, rows: int, models: tuple[str, ...]) -> None:
    """Make ``run`` a run directory around results/ (campaign.json, manifest)."""
    from highfive.harness._config import CampaignConfig
    from highfive.harness._model import Model
    from highfive.harness._rundir import SCHEMA_VERSION, RunDir

    cfg = CampaignConfig(
        name=run.name,
        cases=rows // len(models),
        sampler="random",
        models=models,
        out=str(run.parent),
    )
    loaded = [Model.load(m) for m in models]
    RunDir(run).write_campaign(
        {
            "schema_version": SCHEMA_VERSION,
            "name": run.name,
            "identity": {**cfg.identity(), "schema_version": SCHEMA_VERSION},
            "config": cfg.to_dict(),
            "models": [
                {"id": m, "source": m, "sha256": x.sha256, "bytes": len(x.data)}
                for m, x in zip(models, loaded, strict=True)
            ],
            "versions": {},
            "started": "synthetic",
            "finished": "synthetic",
            "status": "complete",
        }
    )


def command(run: Path, argv: list[str]) -> dict[str, float]:
    """Time one ``highfive`` command in this (fresh) process; return seconds and peak RSS."""
    from highfive.harness.cli import main

    t0 = time.perf_counter()
    status = main([*argv, str(run)])
    return {
        "seconds": time.perf_counter() - t0,
        "rss_peak_gib": peak_rss_gib(),
        "status": float(status),
    }


def peak_rss_gib() -> float:
    """Peak resident memory of this process (VmHWM: reset at exec, unlike ru_maxrss,
    which would carry the parent's peak over into this child)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(root: Path, ways: tuple[int, ...]) -> dict[str, float]:
    """Time counts, statistics and frames over the dataset; return the figures."""
    import pyarrow.dataset as ds

    from highfive.coverage import (
        Binning,
        CoverageCounts,
        cell_stats,
        cells_frame,
        holes,
        make_crosses,
        summary,
    )
    from highfive.generators import ParameterSpace

    rss0 = peak_rss_gib()
    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    binning = Binning.from_space(ParameterSpace.from_arrow_schema(dataset.schema))
    crosses = make_crosses(binning, ways)
    t0 = time.perf_counter()
    counts = CoverageCounts.from_results(dataset, binning, crosses)
    t1 = time.perf_counter()
    stats = cell_stats(counts, p_target=1e-3, confidence=0.95)
    t2 = time.perf_counter()
    cells = cells_frame(stats)
    hole = holes(counts)
    info = summary(stats)
    t3 = time.perf_counter()
    return {
        "rows": float(counts.rows.sum()),
        "crosses": float(len(crosses)),
        "cells": float(counts.n.size),
        "frame_rows": float(len(cells) + len(hole)),
        "worst": float(len(info["worst"])),
        "counts_s": t1 - t0,
        "stats_s": t2 - t1,
        "frames_s": t3 - t2,
        "rss_import_gib": rss0,
        "rss_peak_gib": peak_rss_gib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ways", default="1,2", help="t-way crosses, e.g. 1,2 or 1,2,3")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--command", help=argparse.SUPPRESS)
    args = parser.parse_args()
    ways = tuple(int(t) for t in args.ways.split(","))
    if args.measure is not None and args.command:
        print(json.dumps(command(args.measure, args.command.split())))
        return
    if args.measure is not None:
        print(json.dumps(measure(args.measure, ways)))
        return
    commands = {}
    with tempfile.TemporaryDirectory(prefix="bench_coverage_") as tmp:
        run = Path(tmp) / "synthetic"
        root = run / "results"
        t0 = time.perf_counter()
        build(root, args.rows, ("float", "int8"))
        make_run(run, args.rows, ("float", "int8"))
        size = sum(f.stat().st_size for f in root.rglob("*.parquet")) / 2**30
        print(
            f"dataset: {args.rows:,} rows, {size:.2f} GiB Parquet, built in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        child = [sys.executable, __file__, "--measure", str(root), "--ways", args.ways]
        out = subprocess.run(child, check=True, capture_output=True, text=True).stdout
        for argv in ("coverage", "report"):
            child = [sys.executable, __file__, "--measure", str(run), "--command", argv]
            done = subprocess.run(child, check=True, capture_output=True, text=True).stdout
            commands[argv] = json.loads(done.strip().splitlines()[-1])
    r = json.loads(out.strip().splitlines()[-1])
    total = r["counts_s"] + r["stats_s"]
    print(f"ways {args.ways}: {r['crosses']:.0f} crosses, {r['cells']:,.0f} cells x models")
    print(f"{'step':<34} {'seconds':>8}")
    print(f"{'counts (stream, bin, bincount)':<34} {r['counts_s']:>8.2f}")
    print(f"{'cell statistics':<34} {r['stats_s']:>8.2f}")
    print(f"{'frames + holes + summary':<34} {r['frames_s']:>8.2f}")
    print(f"rows/s in counts: {r['rows'] / r['counts_s']:,.0f}")
    print(
        f"counts + stats: {total:.1f} s (target <= {TARGET_S:.0f} s, x target "
        f"{total / TARGET_S:.2f}); peak RSS {r['rss_peak_gib']:.2f} GiB (after imports "
        f"{r['rss_import_gib']:.2f}; target <= {TARGET_GIB:.0f} GiB, x target "
        f"{r['rss_peak_gib'] / TARGET_GIB:.2f})"
    )
    targets = {
        "coverage": (TARGET_S, "counts, statistics, regions, files"),
        "report": (30.0, "report.html"),
    }
    for name, c in commands.items():
        limit, what = targets[name]
        print(
            f"highfive {name} RUN ({what}): {c['seconds']:.1f} s (target <= {limit:.0f} s), "
            f"peak RSS {c['rss_peak_gib']:.2f} GiB, exit {c['status']:.0f}"
        )


if __name__ == "__main__":
    main()
