"""Write the BasicMotions smartwatch recordings as CSV files that `highfive` reads.

BasicMotions (UEA multivariate time-series archive; Clements et al.) holds 80 ten-second
recordings of a smartwatch's 3-axis accelerometer and gyroscope, sampled at 10 Hz, by
four students standing, walking, running and playing badminton (20 each, split 40/40
into the archive's TRAIN and TEST files). The accelerometer has gravity removed (linear
acceleration, m/s^2); the gyroscope reads rad/s. None of them contains a high-five.

The data ship inside some Python wheels (sktime, aeon); this script reads the `.ts`
files of whichever is installed (or `--source DIR`), so nothing is downloaded. These
recordings are for evaluation and for checking the generators' realism, never for
training: they must stay a fair test.

    python examples/realdata/basicmotions.py OUT [--gravity removed|restored]
        [--posture hanging|face-up|raised]

writes ``OUT/<split>-<nn>-<activity>.csv`` (columns ``t, x, y, z``; seconds, m/s^2) and
``OUT/labels.csv`` (``file, count, activity, split, take``; count 0 for every file).

``--gravity removed`` (the default) keeps the archive's values. ``--gravity restored``
adds gravity back so that the files read like a raw watch accelerometer: the direction
of gravity in the watch frame starts at the stated posture's and is carried along by
integrating the gyroscope (a rotation per sample, Rodrigues' formula); the initial
posture is an assumption (the archive does not record it), so evaluate on all three.
Axes follow the watch convention of `highfive.generators` (x along the forearm towards
the hand, y across the wrist, z out of the face), which is Android's sensor frame for a
watch on the left wrist.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import math
import os
import sys
from pathlib import Path

import numpy as np

G = 9.80665
RATE_HZ = 10.0
ACTIVITIES = ("Standing", "Walking", "Running", "Badminton")
POSTURES = {
    # Specific force at rest (the reaction to gravity) in the watch frame, unit vector.
    "hanging": (-1.0, 0.0, 0.0),  # arm at the side: the forearm (x) points down
    "face-up": (0.0, 0.0, 1.0),  # forearm horizontal, face up
    "raised": (math.sqrt(0.5), 0.0, math.sqrt(0.5)),  # forearm 45 deg up, face up
}
PACKAGES = ("sktime", "aeon")


def find_source() -> Path:
    """The BasicMotions folder of an installed sktime or aeon, without importing them."""
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            folder = Path(root) / "datasets" / "data" / "BasicMotions"
            if (folder / "BasicMotions_TRAIN.ts").is_file():
                return folder
    raise FileNotFoundError(
        "BasicMotions: no installed sktime or aeon holds the data; "
        "`pip install sktime` or pass --source DIR"
    )


def read_ts(path: Path) -> list[tuple[str, np.ndarray]]:
    """The (activity, (n, 6) array) pairs of a BasicMotions ``.ts`` file.

    Raises
    ------
    ValueError
        One line naming the file, the line and what is wrong with it.
    """
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().lower() == "@data"), None)
    if start is None:
        raise ValueError(f"{path.name}: no @data line; is it a .ts file of BasicMotions?")
    cases = []
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if not line.strip():
            continue
        *dims, label = line.strip().split(":")
        where = f"{path.name} line {number}"
        if len(dims) != 6 or label not in ACTIVITIES:
            raise ValueError(f"{where}: unexpected line {line[:60]!r}")
        values = [d.split(",") for d in dims]
        bad = next((v for d in values for v in d if not _is_number(v)), None)
        if bad is not None:
            raise ValueError(f"{where}: {bad[:20]!r} is not a number")
        sizes = sorted({len(d) for d in values})
        if len(sizes) > 1:
            raise ValueError(
                f"{where}: its 6 dimensions hold {sizes[0]} to {sizes[-1]} values; allowed: "
                "the same number in each"
            )
        cases.append((label, np.array([[float(v) for v in d] for d in values]).T))
    return cases


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def restore_gravity(accel: np.ndarray, gyro: np.ndarray, posture: str) -> np.ndarray:
    """Add the reaction to gravity, carried along by the gyroscope, to linear acceleration.

    A vector fixed in the world turns the other way in a rotating frame: over one sample
    the gravity direction ``u`` becomes ``Rot(-w dt) u`` with ``w`` the mean of the two
    samples' angular rates (rad/s).
    """
    u = np.array(POSTURES[posture])
    dt = 1.0 / RATE_HZ
    out = np.empty_like(accel)
    out[0] = accel[0] + G * u
    for i in range(1, len(accel)):
        w = 0.5 * (gyro[i - 1] + gyro[i])
        angle = float(np.linalg.norm(w)) * dt
        if angle > 0.0:
            k = -w / np.linalg.norm(w)
            u = (
                u * math.cos(angle)
                + np.cross(k, u) * math.sin(angle)
                + k * float(k @ u) * (1.0 - math.cos(angle))
            )
        out[i] = accel[i] + G * u
    return out


def write(out: Path, source: Path, gravity: str, posture: str) -> list[Path]:
    """Write every recording and labels.csv into ``out``; return the paths written.
    Both files are read, and checked, before anything is written."""
    splits = {split: read_ts(source / f"BasicMotions_{split}.ts") for split in ("TRAIN", "TEST")}
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    written: list[Path] = []
    for split, cases in splits.items():
        for take, (activity, data) in enumerate(cases):
            accel, gyro = data[:, :3], data[:, 3:]
            if gravity == "restored":
                accel = restore_gravity(accel, gyro, posture)
            name = f"{split.lower()}-{take:02d}-{activity.lower()}.csv"
            t = np.arange(len(accel)) / RATE_HZ
            tmp = out / (name + ".tmp")
            with tmp.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["t", "x", "y", "z"])
                for ti, a in zip(t, accel, strict=True):
                    w.writerow([f"{ti:.1f}", *(f"{v:.6f}" for v in a)])
            os.replace(tmp, out / name)
            written.append(out / name)
            rows.append(
                {
                    "file": name,
                    "count": 0,
                    "activity": activity.lower(),
                    "split": split.lower(),
                    "take": take,
                }
            )
    labels = out / "labels.csv"
    with (out / "labels.csv.tmp").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(out / "labels.csv.tmp", labels)
    return [*written, labels]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the CSV files into")
    parser.add_argument("--gravity", choices=("removed", "restored"), default="removed")
    parser.add_argument(
        "--posture",
        choices=tuple(POSTURES),
        default="hanging",
        help="initial posture for --gravity restored (an assumption)",
    )
    parser.add_argument("--source", type=Path, help="folder holding BasicMotions_*.ts")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        print(f"basicmotions: error: OUT: '{args.out}' is a file; give a folder", file=sys.stderr)
        return 2
    try:
        source = args.source or find_source()
        paths = write(args.out, source, args.gravity, args.posture)
    except (OSError, ValueError) as exc:  # a missing or unreadable file, a malformed one
        print(f"basicmotions: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths) - 1} recordings and labels.csv to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
