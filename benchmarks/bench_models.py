"""The shipped float32 and int8 models side by side, and the int8 / float ratios.

Run: ``python benchmarks/bench_models.py [--repeats N]``. Prints, for each model, the
figures of :func:`highfive.models.profile` (bytes, parameters, MACs per window, ONNX
Runtime latency at batch 1 and 256 with one intra-op thread, medians), then the
int8 / float ratio of bytes and latencies. Both models are timed in the same run,
alternately, so machine load affects them alike.
"""

from __future__ import annotations

import argparse
from typing import Any

from highfive.models import profile

ROWS = [
    ("bytes", "bytes", "{:,.0f}"),
    ("parameters", "parameters", "{:,.0f}"),
    ("macs", "MACs / window", "{:,.0f}"),
    ("latency_b1_ms", "latency b1 (ms)", "{:.4f}"),
    ("latency_b256_ms", "latency b256 (ms)", "{:.3f}"),
    ("per_window_b256_us", "b256 per window (us)", "{:.2f}"),
]
RATIOS = ("bytes", "latency_b1_ms", "latency_b256_ms", "per_window_b256_us")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed runs at batch 1")
    args = parser.parse_args(argv)

    profile("float", repeats=5)  # warm up: imports, sessions, allocator
    profile("int8", repeats=5)
    runs: dict[str, list[dict[str, Any]]] = {"float": [], "int8": []}
    for _ in range(3):  # alternate, then take the median of the three medians
        for name in runs:
            runs[name].append(profile(name, repeats=args.repeats))

    def fig(name: str, key: str) -> float:
        values = sorted(float(r[key]) for r in runs[name])
        return values[len(values) // 2]

    print(f"{'':<22} {'float32':>12} {'int8':>12} {'int8/float':>11}")
    for key, label, fmt in ROWS:
        f, q = fig("float", key), fig("int8", key)
        ratio = f"{q / f:>11.3f}" if key in RATIOS else ""
        print(f"{label:<22} {fmt.format(f):>12} {fmt.format(q):>12} {ratio}".rstrip())
    print(
        f"sha256: float {runs['float'][0]['sha256'][:16]}..., "
        f"int8 {runs['int8'][0]['sha256'][:16]}...; 1 intra-op thread, median of "
        f"{args.repeats} runs at batch 1 and {max(5, args.repeats // 5)} at batch 256"
    )


if __name__ == "__main__":
    main()
