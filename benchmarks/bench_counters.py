"""What the counter plug-in layer costs, measured side by side in one run.

Run: ``python benchmarks/bench_counters.py [--cases N] [--repeats R]``

1. Plug-in layer on the shipped float + int8 campaign: the same N cases (default
   2,048) judged
   a. by the direct loop the campaign ran before counters were plug-ins (synthesize,
      one CounterPipeline per model sharing the scalogram, oracle, margin, appends),
   b. by ``run_batch`` through the plug-ins (judge, Outcome rows, Arrow tables);
   taking turns for ``--repeats`` rounds; prints the median cases/s of each and b/a
   (target >= 0.98: the layer costs at most 2 %).
2. ``exec:`` harness overhead per 10 s case: a C program that reads every frame and
   answers with no detection (built here with the system compiler) is fed 10 s traces
   at 50, 100 and 200 Hz, whole and in 0.25 s chunks; the program does no work, so
   the median time per case is the harness's overhead (target <= 1 ms whole).
   Beside it, the cost on the harness side of the text-line framing we did not choose
   (``t x y z`` lines written with ``%.9g``), for the same samples.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from highfive.generators import default_space, make_sampler, synthesize
from highfive.harness import (
    BatchJob,
    CampaignConfig,
    CounterPipeline,
    ExecutionConfig,
    load_counter,
    load_counters,
    margin,
    run_batch,
    score,
)

ECHO_NOTHING = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    static unsigned char buf[1 << 16];
    char tag[4]; uint32_t len, zero = 0;
    printf("highfive-counter 1\n"); fflush(stdout);
    while (fread(tag, 1, 4, stdin) == 4 && fread(&len, 4, 1, stdin) == 1) {
        for (uint32_t left = len; left;) {
            size_t n = left < sizeof buf ? left : sizeof buf;
            if (fread(buf, 1, n, stdin) != n) return 2;
            left -= (uint32_t)n;
        }
        if (memcmp(tag, "BEGN", 4)) {
            fwrite("DETS", 1, 4, stdout); fwrite(&zero, 4, 1, stdout); fflush(stdout);
        }
    }
    return 0;
}
"""


def _config(cases: int) -> CampaignConfig:
    return CampaignConfig(
        name="bench",
        seed=20261127,
        cases=cases,
        sampler="lhs",
        batch_size=256,
        models=("float", "int8"),
        execution=ExecutionConfig(workers=0),
    )


def direct_loop(cfg: CampaignConfig) -> float:
    """Cases/s of the pre-plug-in hot path (kept here as the reference)."""
    space = cfg.parameter_space()
    pipes = [CounterPipeline(m) for m in cfg.models]
    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        for b in range(cfg.n_batches):
            start, count = cfg.batch_range(b)
            sampler = make_sampler(cfg.sampler, space.d, cfg.cases, cfg.seed)
            points = sampler.points(start, count)
            pa.Table.from_pandas(
                space.from_unit(points), schema=space.to_arrow_schema(), preserve_index=False
            )
            cols: list[list[object]] = [[] for _ in range(14 * len(pipes))]
            for k, row in enumerate(space.rows(points)):
                seed = np.random.SeedSequence(cfg.seed, spawn_key=(start + k,))
                trace = synthesize(row, seed, validate=False)
                prepared: dict[object, object] = {}
                for j, pipe in enumerate(pipes):
                    key = pipe.preprocessing
                    if key not in prepared:
                        prepared[key] = pipe.prepare(trace)
                    res = pipe.judge(*prepared[key])  # type: ignore[misc]
                    s = score(trace.events, res.detections, cfg.tolerance)
                    m = margin(trace.events, res.centres, res.probs, pipe.config.on, cfg.tolerance)
                    for c, v in enumerate(
                        (trace.duration, trace.t.size, s.true_count, s.predicted_count, s.tp,
                         s.fp, s.fn, s.duplicates, s.count_error, s.verdict, m,
                         float(res.probs.max()), [d.time for d in res.detections], None)
                    ):  # fmt: skip
                        cols[14 * j + c].append(v)
            for j in range(len(pipes)):  # one Arrow table per model, as the campaign did
                pa.table({f"c{c}": cols[14 * j + c] for c in range(13)})
    return cfg.cases / (time.perf_counter() - t0)


def plugin_loop(cfg: CampaignConfig) -> float:
    """Cases/s of run_batch through the counter plug-ins."""
    counters = load_counters(cfg)
    space = cfg.parameter_space()
    t0 = time.perf_counter()
    for b in range(cfg.n_batches):
        job = BatchJob(
            b, *cfg.batch_range(b), cfg.seed, cfg.cases, cfg.sampler, space, counters,
            cfg.tolerance, cfg.keep_failures,
        )  # fmt: skip
        run_batch(job)
    return cfg.cases / (time.perf_counter() - t0)


def exec_overhead(folder: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        print("exec overhead: no C compiler on PATH; skipped")
        return
    src, prog = folder / "echo_nothing.c", folder / "echo_nothing"
    src.write_text(ECHO_NOTHING)
    subprocess.run([cc, "-O2", "-o", str(prog), str(src)], check=True)
    counter = load_counter(f"exec:{prog}")
    space = default_space()
    try:
        counter.probe()
        print("exec: harness overhead per 10 s case (program does no work), median of 300")
        for rate in (50, 100, 200):
            row = space.complete(
                space.validate({"duration": 10.0, "sample_rate": rate}, partial=True)
            )
            trace = synthesize(row, 1, space=space)
            for chunk_s in (0.0, 0.25):
                times = []
                for _ in range(300):
                    t0 = time.perf_counter()
                    counter.count(trace, chunk_s=chunk_s)
                    times.append(time.perf_counter() - t0)
                how = "whole" if chunk_s == 0 else f"{chunk_s:g} s chunks"
                print(
                    f"  {rate:>3} Hz ({trace.t.size:>5} samples), {how:<14} "
                    f"{1e3 * statistics.median(times):6.3f} ms per case"
                )
            # The framing we did not choose: text lines, written by the harness.
            lines = []
            for _ in range(30):
                t0 = time.perf_counter()
                buf = io.StringIO()
                np.savetxt(buf, np.column_stack([trace.t, trace.samples]), fmt="%.9g")
                buf.getvalue().encode()
                lines.append(time.perf_counter() - t0)
            print(
                f"  {rate:>3} Hz text-line framing, harness side only: "
                f"{1e3 * statistics.median(lines):6.3f} ms per case"
            )
    finally:
        counter.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = _config(args.cases)
    direct, plugin = [], []
    for r in range(args.repeats):
        direct.append(direct_loop(cfg))
        plugin.append(plugin_loop(cfg))
        print(f"round {r + 1}: direct {direct[-1]:.0f} cases/s, plug-ins {plugin[-1]:.0f} cases/s")
    d, p = statistics.median(direct), statistics.median(plugin)
    print(f"plug-in layer, float + int8, {args.cases:,} cases: direct {d:.0f}, plug-ins {p:.0f}")
    print(f"  plug-ins / direct = {p / d:.3f} (target >= 0.98)")
    with tempfile.TemporaryDirectory() as tmp:
        exec_overhead(Path(tmp))


if __name__ == "__main__":
    main()
