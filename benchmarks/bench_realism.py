"""Realism of the generators against BasicMotions: standing, walking and running.

Run: ``python benchmarks/bench_realism.py [OUT] [--before RUN_DIR] [--synthetic N]``.
Writes the BasicMotions recordings (gravity removed, 10 Hz, 10 s; from the installed
sktime or aeon wheel, nothing downloaded) into ``OUT/data``, runs ``highfive realism``
on each activity's 20 recordings against its region (``examples/realism/*.toml``,
``--units m/s2 --gravity removed``) into ``OUT/<activity>/``, and prints one table: the normalised
distance (W1 / real IQR) per feature and activity, and the real median and IQR and the
synthetic median of the dominant frequency. With ``--before RUN_DIR`` (the ``OUT`` of an earlier
run) each distance is followed by its ratio to the earlier one (below 1: closer to the
real recordings now), so a change of the generators is seen before and after, side by
side. The table is also written to ``OUT/table.txt``.
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from highfive.harness import FEATURES
from highfive.harness.cli import main as highfive

ROOT = Path(__file__).resolve().parents[1]
ACTIVITIES = ("standing", "walking", "running")


def _data(out: Path) -> dict[str, list[Path]]:
    """The BasicMotions recordings of each activity (written once into ``out``)."""
    if not (out / "labels.csv").is_file():
        script = ROOT / "examples" / "realdata" / "basicmotions.py"
        subprocess.run([sys.executable, str(script), str(out)], check=True)
    files: dict[str, list[Path]] = {a: [] for a in ACTIVITIES}
    with open(out / "labels.csv") as fh:
        for row in csv.DictReader(fh):
            if row["activity"] in files:
                files[row["activity"]].append(out / row["file"])
    return files


def _distances(run: Path, activity: str) -> pd.DataFrame:
    return pd.read_parquet(run / activity / "distances.parquet").set_index("feature")


def _cell(value: float, before: float | None) -> str:
    if not math.isfinite(value):
        return "n/a"
    if before is None:
        return f"{value:.2f}"
    ratio = value / before if before and math.isfinite(before) else math.nan
    said = f"x{ratio:.2f}" if math.isfinite(ratio) else "x n/a"
    return f"{value:.2f} {said:>6}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("bench-realism"))
    parser.add_argument("--before", type=Path, metavar="RUN_DIR", help="an earlier run's OUT")
    parser.add_argument("--synthetic", type=int, default=200, help="synthetic traces (200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    files = _data(args.out / "data")
    for activity in ACTIVITIES:
        argv = ["realism", *map(str, files[activity]), "--units", "m/s2", "--gravity", "removed"]
        argv += ["--region", str(ROOT / "examples" / "realism" / f"{activity}.toml")]
        argv += ["--synthetic", str(args.synthetic), "--seed", str(args.seed)]
        argv += ["--out", str(args.out / activity)]
        print(f"== {activity}: highfive {' '.join(argv[:1] + argv[-8:])}", file=sys.stderr)
        status = highfive(argv)
        if status:
            raise SystemExit(f"highfive realism failed on {activity} (exit {status})")

    now = {a: _distances(args.out, a) for a in ACTIVITIES}
    then = {a: _distances(args.before, a) for a in ACTIVITIES} if args.before else None
    width = 22 if then else 15
    what = "W1 / real IQR" + (f", x ratio to {args.before}" if then else "")
    lines = [
        f"BasicMotions (20 recordings per activity, gravity removed, 10 Hz, 10 s) against "
        f"the matching region, {args.synthetic} synthetic traces, seed {args.seed}: {what}",
        f"{'feature':<16}" + "".join(f"{a:>{width}}" for a in ACTIVITIES),
    ]
    for feat in FEATURES:
        cells = []
        for a in ACTIVITIES:
            d = now[a].loc[feat.name]
            before = float(then[a].loc[feat.name, "w1_iqr"]) if then else None
            cells.append(_cell(float(d["w1_iqr"]) if d["available"] else math.nan, before))
        lines.append(f"{feat.label:<16}" + "".join(c.rjust(width) for c in cells))
    lines.append("dominant frequency (Hz):")
    for label, column in (
        ("real median", "real_median"),
        ("real IQR", "real_iqr"),
        ("synth median", "synthetic_median"),
    ):
        cells = []
        for a in ACTIVITIES:
            value = float(now[a].loc["dom_freq", column])
            before = float(then[a].loc["dom_freq", column]) if then else None
            was = "" if before is None else f" (was {before:.2f})"
            cells.append(f"{value:.2f}{was}".rjust(width))
        lines.append(f"  {label:<14}" + "".join(cells))
    holes = [
        f"{a} {len(pd.read_parquet(args.out / a / 'holes.parquet').drop_duplicates('recording'))}"
        for a in ACTIVITIES
    ]
    lines.append("recordings with a hole (of 20): " + ", ".join(holes))
    text = "\n".join(lines)
    print(text)
    (args.out / "table.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
