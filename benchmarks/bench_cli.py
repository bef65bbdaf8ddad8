"""First contact: how long ``highfive --help`` and ``import highfive.harness`` take.

Run: ``python benchmarks/bench_cli.py [--repeats N]``. Each command runs in a fresh
interpreter (a subprocess, in an empty folder, as a user would start it), the runs of
the commands taking turns; prints the median and the range of the wall times, and the
heavy libraries each command imported (none is the aim: they belong in the command
handlers). Target: ``highfive --help`` under 0.5 s.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("numpy", "pyarrow", "pandas", "scipy", "onnxruntime", "matplotlib", "dask")
_REPORT = f"import sys; print([m for m in {HEAVY!r} if m in sys.modules])"


def commands() -> dict[str, list[str]]:
    """Label -> argv, every one a fresh interpreter."""
    exe = Path(sys.executable).with_name("highfive")
    return {
        "highfive --help": [str(exe), "--help"],
        "python -c 'import highfive.harness'": [sys.executable, "-c", "import highfive.harness"],
        "python -c 'import highfive.generators'": [
            sys.executable,
            "-c",
            "import highfive.generators",
        ],
    }


def heavy_imports(argv: list[str], cwd: str) -> list[str]:
    """The heavy libraries the command imports (run once more under ``python -c``)."""
    if argv[0] == sys.executable:
        code = f"{argv[2]}\n{_REPORT}"
    else:  # the console script: build the parser, as --help does
        code = f"from highfive.harness.cli import _build_parser\n_build_parser()\n{_REPORT}"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    return list(ast.literal_eval(out.stdout.strip()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="runs of each command")
    args = parser.parse_args(argv)

    cmds = commands()
    times: dict[str, list[float]] = {label: [] for label in cmds}
    with tempfile.TemporaryDirectory() as cwd:  # not the repository root (see tests/README)
        for cmd in cmds.values():  # warm the file cache
            subprocess.run(cmd, cwd=cwd, capture_output=True, check=True)
        for _ in range(args.repeats):
            for label, cmd in cmds.items():
                start = time.perf_counter()
                subprocess.run(cmd, cwd=cwd, capture_output=True, check=True)
                times[label].append(time.perf_counter() - start)
        heavy = {label: heavy_imports(cmd, cwd) for label, cmd in cmds.items()}

    width = max(map(len, cmds))
    print(f"{'':<{width}} {'median s':>9} {'min s':>7} {'max s':>7}  heavy imports")
    for label, ts in times.items():
        print(
            f"{label:<{width}} {statistics.median(ts):>9.3f} {min(ts):>7.3f} {max(ts):>7.3f}  "
            f"{', '.join(heavy[label]) or 'none'}"
        )
    print(f"{args.repeats} runs each, taking turns; target: highfive --help < 0.5 s")


if __name__ == "__main__":
    main()
