"""Realism of the generators against BasicMotions: standing, walking, running, badminton.

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

A second table compares walking and running again at the corpus's own pace:
``highfive realism --match dom_freq`` keeps the synthetic pieces whose dominant
frequency (the dynamic magnitude's, the step rate) lies within the real values' central
90 %, from five times as many synthetic traces. The whole region asks "is this corpus
among the walks the space makes?"; the matched comparison asks "at this pace, does the
generated wrist look like the real one?", so a distance that shrinks there came from
the space covering more paces than four people walk at, and one that does not is a
difference of the model itself. Written into ``OUT/<activity>-pace/``.

A third table compares the badminton recordings with a single racket stroke between
still stretches (``motion = "racket_stroke"``, no background) and with racket play
(``examples/realism/racket_play.toml``: footwork and a stroke every few seconds), into
``OUT/badminton-stroke/`` and ``OUT/badminton-play/``.

Last, what the corpus's gyroscope says of the arm swing, beside the space's
``arm_swing`` range: per walking and running recording, the stride rate (the peak of the
z rate's periodogram, 0.3 Hz up) and the forearm's swing amplitude in the sagittal
plane, sqrt(2) x the z rate's standard deviation / (2 pi x stride rate), as if the
swing were one sinusoid. The watch's z axis (out of the face) points sideways both
with the arm hanging (face outwards) and in the running posture (thumb up), so the z
rate is the sagittal swing's.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
from scipy import signal

from highfive.generators._body import GAITS
from highfive.harness import FEATURES, interval_text
from highfive.harness.cli import main as highfive

ROOT = Path(__file__).resolve().parents[1]
ACTIVITIES = ("standing", "walking", "running")
GAITED = ("walking", "running")


def _data(out: Path) -> dict[str, list[Path]]:
    """The BasicMotions recordings of each activity (written once into ``out``)."""
    if not (out / "labels.csv").is_file():
        script = ROOT / "examples" / "realdata" / "basicmotions.py"
        subprocess.run([sys.executable, str(script), str(out)], check=True)
    files: dict[str, list[Path]] = {a: [] for a in (*ACTIVITIES, "badminton")}
    with open(out / "labels.csv") as fh:
        for row in csv.DictReader(fh):
            if row["activity"] in files:
                files[row["activity"]].append(out / row["file"])
    return files


def _distances(run: Path, activity: str) -> pd.DataFrame:
    return pd.read_parquet(run / activity / "distances.parquet").set_index("feature")


def _holed(run: Path) -> int:
    """How many recordings of a realism run have a hole on some feature."""
    return int(pd.read_parquet(run / "holes.parquet")["recording"].nunique())


def _cell(value: float, before: float | None) -> str:
    if not math.isfinite(value):
        return "n/a"
    if before is None:
        return f"{value:.2f}"
    ratio = value / before if before and math.isfinite(before) else math.nan
    said = f"x{ratio:.2f}" if math.isfinite(ratio) else "x n/a"
    return f"{value:.2f} {said:>6}"


def _realism(
    files: list[Path], region: Path, out: Path, args: argparse.Namespace, *more: str
) -> None:
    argv = ["realism", *map(str, files), "--units", "m/s2", "--gravity", "removed"]
    argv += ["--region", str(region), "--synthetic", str(args.synthetic)]
    argv += ["--seed", str(args.seed), "--out", str(out), *more]
    print(
        f"== highfive realism ({len(files)} recordings) {' '.join(argv[len(files) + 1 :])}",
        file=sys.stderr,
    )
    status = highfive(argv)
    if status:
        raise SystemExit(f"highfive realism failed on {region.name} (exit {status})")


def pace_matched(files: dict[str, list[Path]], args: argparse.Namespace) -> list[str]:
    """Walking and running again at the corpus's own pace; the table's lines."""
    n = 5 * args.synthetic
    lines = [
        "",
        f"At the corpus's own pace (--match dom_freq, {n} synthetic traces; W1 / real IQR "
        "and its 90% bootstrap range, whole region -> matched):",
    ]
    header, rows = f"{'feature':<16}", {f.name: f"{f.label:<16}" for f in FEATURES}
    notes = []
    for activity in GAITED:
        region = ROOT / "examples" / "realism" / f"{activity}.toml"
        run = args.out / f"{activity}-pace"
        more = ("--synthetic", str(n), "--match", "dom_freq")
        _realism(files[activity], region, run, args, *more)
        whole, now = _distances(args.out, activity), _distances(args.out, f"{activity}-pace")
        header += f"{activity:>40}"
        for feat in FEATURES:
            d, w = now.loc[feat.name], whole.loc[feat.name]
            cell = "n/a"
            if d["matched"]:
                cell = "matched"
            elif d["available"] and w["available"]:
                cell = f"{_ranged(w)} -> {_ranged(d)}"
            rows[feat.name] += cell.rjust(40)
        summary = json.loads((run / "summary.json").read_text())
        m = summary["match"]
        notes.append(
            f"  {activity}: dominant frequency {m['low']:.2f}-{m['high']:.2f} Hz (cadence "
            f"{60 * m['low']:.0f}-{60 * m['high']:.0f} steps/min), "
            f"{summary['synthetic_pieces']} of {m['synthetic_pieces']} synthetic pieces; "
            f"recordings with a hole: {_holed(run)} of 20"
        )
    return [*lines, header, *rows.values(), *notes]


def badminton_lines(files: list[Path], args: argparse.Namespace) -> list[str]:
    """Badminton against one racket stroke and against racket play; the table's lines."""
    stroke = args.out / "regions" / "racket_stroke.toml"
    stroke.parent.mkdir(parents=True, exist_ok=True)
    stroke.write_text('motion = "racket_stroke"\nbackground = "none"\ndistractor = "none"\n')
    regions = {
        "one stroke": (stroke, args.out / "badminton-stroke"),
        "racket play": (
            ROOT / "examples" / "realism" / "racket_play.toml",
            args.out / "badminton-play",
        ),
    }
    for region, run in regions.values():
        _realism(files, region, run, args)
    runs = {name: run for name, (_, run) in regions.items()}
    dist = {
        name: pd.read_parquet(run / "distances.parquet").set_index("feature")
        for name, run in runs.items()
    }
    lines = [
        "",
        f"BasicMotions badminton (20 recordings) against one racket stroke between still "
        f"stretches and against racket play, {args.synthetic} synthetic traces: W1 / real IQR "
        "(90% range)",
        f"{'feature':<16}" + "".join(f"{name:>22}" for name in runs),
    ]
    for feat in FEATURES:
        cells = [
            _ranged(dist[name].loc[feat.name]) if dist[name].loc[feat.name, "available"] else "n/a"
            for name in runs
        ]
        lines.append(f"{feat.label:<16}" + "".join(c.rjust(22) for c in cells))
    holes = [f"{name} {_holed(run)}" for name, run in runs.items()]
    lines.append("recordings with a hole (of 20): " + ", ".join(holes))
    return lines


def _ranged(d: pd.Series) -> str:
    """A distance and its bootstrap range, ``0.61 (0.40-0.93)``."""
    return f"{float(d['w1_iqr']):.2f} ({interval_text(d['w1_iqr_low'], d['w1_iqr_high'])})"


def gyro_swing(z_rate: np.ndarray, fs: float) -> tuple[float, float]:
    """Stride rate (Hz) and sagittal swing amplitude (deg) from a gyroscope's z rate."""
    z = z_rate - z_rate.mean()
    f, power = signal.periodogram(z, fs=fs, nfft=max(1000, z.size))
    band = f >= 0.3
    stride = float(f[band][np.argmax(power[band])])
    return stride, math.degrees(math.sqrt(2.0) * float(z.std()) / (2.0 * math.pi * stride))


def gyroscope_lines() -> list[str]:
    """The arm swing the corpus's gyroscope shows, beside the space's range."""
    script = ROOT / "examples" / "realdata" / "basicmotions.py"
    bm = load_script(script)
    source = bm.find_source()
    cases = [
        c for split in ("TRAIN", "TEST") for c in bm.read_ts(source / f"BasicMotions_{split}.ts")
    ]
    lines = [
        "",
        "Arm swing from the corpus's gyroscope (z rate; median and IQR of 20 recordings) "
        "against the space's arm_swing ("
        + ", ".join(f"{g} {GAITS[g].swing[0]:g}-{GAITS[g].swing[1]:g} deg" for g in GAITED)
        + "):",
    ]
    for activity in GAITED:
        rows = np.array(
            [
                gyro_swing(data[:, 5], bm.RATE_HZ)
                for label, data in cases
                if label.lower() == activity
            ]
        )
        (s1, s2, s3), (a1, a2, a3) = np.percentile(rows, [25, 50, 75], axis=0).T
        lines.append(
            f"  {activity}: stride {s2:.2f} Hz ({s1:.2f}-{s3:.2f}; cadence {120 * s2:.0f} "
            f"steps/min), forearm swing amplitude {a2:.0f} deg ({a1:.0f}-{a3:.0f})"
        )
    return lines


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("bench-realism"))
    parser.add_argument("--before", type=Path, metavar="RUN_DIR", help="an earlier run's OUT")
    parser.add_argument("--synthetic", type=int, default=200, help="synthetic traces (200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    files = _data(args.out / "data")
    for activity in ACTIVITIES:
        region = ROOT / "examples" / "realism" / f"{activity}.toml"
        _realism(files[activity], region, args.out / activity, args)

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
    holes = [f"{a} {_holed(args.out / a)}" for a in ACTIVITIES]
    lines.append("recordings with a hole (of 20): " + ", ".join(holes))
    lines += pace_matched(files, args)
    lines += badminton_lines(files["badminton"], args)
    lines += gyroscope_lines()
    text = "\n".join(lines)
    print(text)
    (args.out / "table.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
