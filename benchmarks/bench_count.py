"""``highfive count`` on a long recording: peak memory and time, before and after.

Run: ``python benchmarks/bench_count.py [--rows 10000000] [--rate 100] [--format csv]
[--model float] [--no-before]``

1. Writes a recording of ``--rows`` rows (default 10 million: 28 hours at 100 Hz) to a
   temporary folder: generated cases of the default space, one after the other at
   ``--rate`` Hz (jitter and dropped samples included), as CSV or Parquet. At 100 Hz the
   model's 50 Hz needs the anti-alias filter, the part of resampling that is hardest to
   do piece by piece.
2. In a fresh child process each (so peak RSS is that process's own, VmHWM):

   - after: ``highfive count REC --json`` as it is now (two chunked reads; the
     pipeline streams);
   - before: what it did before, the whole recording in memory: ``pandas.read_csv``,
     the same inference, one ``CounterPipeline.run`` over the whole trace;
   - probabilities: the streaming pipeline once more, keeping every window's
     probability, to compare them with the whole trace's bit for bit.

Prints peak RSS and seconds side by side (target: under 500 MiB for 10 million rows),
and whether the detections (times and scores, to the bit) and the per-window
probabilities are identical. ``--no-before`` skips the whole-trace run (it takes
about 6 GB for 10 million rows).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_MIB = 500.0


def peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM: reset at exec, unlike ru_maxrss,
    which would carry the parent's peak over into this child)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(path: Path, rows: int, rate: int) -> float:
    """Write the recording; return its duration in s."""
    import pyarrow as pa

    from highfive.generators import default_space, synthesize

    space = default_space()
    points = space.rows(np.random.default_rng(1).random((64, space.d)))
    cases = []
    for i, p in enumerate(points):
        cases.append(synthesize({**dict(p), "sample_rate": rate}, i, validate=False))
    ts, xs, n, offset, i = [], [], 0, 0.0, 0
    while n < rows:
        tr = cases[i % len(cases)]
        t = tr.t - tr.t[0] + offset
        ts.append(t)
        xs.append(tr.samples)
        offset, n, i = float(t[-1]) + 1.0 / rate, n + t.size, i + 1
    t = np.concatenate(ts)[:rows]
    x = np.concatenate(xs)[:rows]
    table = pa.table({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]})
    if path.suffix == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    return float(t[-1])


def _detections(dets: list[object]) -> list[list[str]]:
    # float.hex: equal strings mean equal bits.
    return [[float(d.time).hex(), float(d.score).hex()] for d in dets]  # type: ignore[attr-defined]


def measure_after(path: Path, model: str) -> dict[str, object]:
    """``highfive count REC --json`` in this process."""
    import contextlib
    import io

    from highfive.harness.cli import main

    t0 = time.perf_counter()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["count", str(path), "--model", model, "--json"])
    seconds = time.perf_counter() - t0
    result = json.loads(out.getvalue())

    class _D:
        def __init__(self, d: dict[str, float]) -> None:
            self.time, self.score = d["time_s"], d["score"]

    return {
        "seconds": seconds,
        "rss_mib": peak_rss_mib(),
        "status": status,
        "count": result["count"],
        "segments": len(result["segments"]),
        "detections": _detections([_D(d) for d in result["detections"]]),
    }


def measure_before(path: Path, model: str) -> dict[str, object]:
    """The whole-trace path ``highfive count`` took before: the file in one DataFrame,
    the same inference (medians over whole columns), one ``CounterPipeline.run``."""
    import pandas as pd

    from highfive.generators import G, Trace
    from highfive.harness import CounterPipeline

    t0 = time.perf_counter()
    frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    t = frame["t"].to_numpy(dtype=np.float64)
    x = frame[["x", "y", "z"]].to_numpy(dtype=np.float64)
    del frame
    dt = float(np.median(np.diff(t)))
    t = t - t[0]
    fs = round(1.0 / dt, 1)
    magnitude = float(np.median(np.linalg.norm(x, axis=1)))
    if not 0.5 <= magnitude <= 2.0:
        x = x / G
    result = CounterPipeline(model).run(Trace(t=t, samples=x, fs=fs))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rss_mib": peak_rss_mib(),
        "count": result.count,
        "windows": int(result.probs.size),
        "probs_sha256": hashlib.sha256(result.probs.tobytes()).hexdigest(),
        "detections": _detections(result.detections),
    }


def measure_probs(path: Path, model: str) -> dict[str, object]:
    """The streaming pipeline over the recording, keeping every window's probability."""
    from highfive.harness import CounterPipeline
    from highfive.harness._recording import open_recording

    rec = open_recording(path)
    stream = CounterPipeline(model).stream(rec.fs, record=True)
    found = []
    for t, x, _ in rec.pieces():
        found += stream.feed(t, x)
    found += stream.finish()
    result = stream.result(found)
    return {
        "windows": int(result.probs.size),
        "probs_sha256": hashlib.sha256(result.probs.tobytes()).hexdigest(),
    }


MEASURES = {"after": measure_after, "before": measure_before, "probs": measure_probs}


def child(kind: str, path: Path, model: str) -> dict[str, object]:
    argv = [sys.executable, __file__, "--measure", kind, "--file", str(path), "--model", model]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rate", type=int, default=100, choices=(25, 50, 100, 200))
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--model", default="float")
    parser.add_argument("--no-before", action="store_true", help="skip the whole-trace run")
    parser.add_argument("--measure", choices=tuple(MEASURES), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(MEASURES[args.measure](args.file, args.model)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_count_") as tmp:
        path = Path(tmp) / f"recording.{args.format}"
        t0 = time.perf_counter()
        duration = build(path, args.rows, args.rate)
        print(
            f"recording: {args.rows:,} rows at {args.rate} Hz ({duration / 3600:.1f} h), "
            f"{path.stat().st_size / 2**20:,.0f} MiB {args.format}, written in "
            f"{time.perf_counter() - t0:.1f} s; model {args.model}"
        )
        after = child("after", path, args.model)
        before = None if args.no_before else child("before", path, args.model)
        probs = child("probs", path, args.model)
    print(f"{'':<34} {'peak RSS MiB':>12} {'seconds':>9} {'count':>7}")
    print(
        f"{'after: chunked read, streamed':<34} {after['rss_mib']:>12,.0f} "
        f"{after['seconds']:>9.1f} {after['count']:>7}"
    )
    if before is not None:
        print(
            f"{'before: whole trace in memory':<34} {before['rss_mib']:>12,.0f} "
            f"{before['seconds']:>9.1f} {before['count']:>7}"
        )
        print(
            f"memory after / before: {after['rss_mib'] / before['rss_mib']:.3f}; time "
            f"after / before: {after['seconds'] / before['seconds']:.2f}"
        )
        same = after["detections"] == before["detections"]
        print(f"detections identical (times and scores, bit for bit): {same}")
        same_p = probs["probs_sha256"] == before["probs_sha256"]
        print(
            f"window probabilities identical ({probs['windows']:,} streamed, "
            f"{before['windows']:,} whole, SHA-256 of the float32 bytes): {same_p}"
        )
    print(
        f"peak RSS {after['rss_mib']:,.0f} MiB (target < {TARGET_MIB:.0f} MiB, x target "
        f"{after['rss_mib'] / TARGET_MIB:.2f}); {after['segments']} segment(s)"
    )


if __name__ == "__main__":
    main()
