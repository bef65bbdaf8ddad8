"""Reading a recording file in chunks: its columns, its numbers, and the inference of its
units and time unit.

CSV is read with pandas (``chunksize``), Parquet a row batch at a time with pyarrow; a
read error becomes one line that names the file. Only :mod:`._recording` uses these.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from highfive.generators import G, InvalidParameter, show

_TIME_NAMES = ("t", "time", "timestamp", "time_s", "seconds")
_AXIS_SETS = (
    ("x", "y", "z"),
    ("ax", "ay", "az"),
    ("acc_x", "acc_y", "acc_z"),
    ("accel_x", "accel_y", "accel_z"),
    ("x_g", "y_g", "z_g"),
)
_NAMED_UNITS: dict[tuple[str, str, str], Literal["g", "m/s2"]] = {("x_g", "y_g", "z_g"): "g"}
"""Axis sets whose names say the units (``highfive synth --csv`` writes ``x_g``): read
in those units whatever the recording reads at rest; other units given are refused."""
_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_SPACINGS = (("s", 1e-3, 0.2), ("ms", 1.0, 200.0), ("us", 1e3, 2e5))

MIN_RATE_HZ = 1.0 / _SPACINGS[0][2]
"""Lowest sample rate a recording may have, Hz: a spacing of 0.2 s, the longest one the
time unit is inferred from (slower, most spacings are gaps and a high-five falls
between samples)."""

MAX_G = 1000.0
"""Largest magnitude a sample may have, in g. Accelerometers worn on the wrist saturate
at 16 g and shock sensors reach a few hundred g, so a larger value is a corrupt row or a
wrong unit, not motion; it also keeps every value far from float32 overflow inside a
model (a value that merely fits float32, such as 1e38 g, overflowed there)."""

CHUNK_ROWS = 1 << 18
"""Rows read at a time (8 MB of float64 for four columns)."""


# -- reading in chunks ---------------------------------------------------------------
def file_identity(path: Path) -> tuple[object, ...]:
    """What names one file however it is written: its device and inode when it exists
    (a symbolic or hard link is the file), else its resolved path."""
    resolved = path.resolve()  # 'missing/../a.csv' is a.csv, as the resolved path says
    try:
        st = resolved.stat()
    except OSError:
        return (os.fspath(resolved),)
    return (st.st_dev, st.st_ino)


def _check_path(path: Path) -> str:
    suffix = path.suffix.lower()
    if path.is_dir():
        raise InvalidParameter(
            f"recording: {show(os.fspath(path))} is a folder; give a .csv or .parquet file"
        )
    if not path.is_file():
        raise InvalidParameter(f"recording: {show(os.fspath(path))} does not exist")
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InvalidParameter(
            f"recording: {path.name} has suffix {show(suffix)}; allowed: .csv, .parquet"
        )
    return suffix


def _cannot_read(path: Path, exc: BaseException) -> InvalidParameter:
    first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return InvalidParameter(f"recording: cannot read {path.name} ({first})")


_READ_ERRORS = (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError)


def _header(path: Path, suffix: str) -> list[str]:
    try:
        if suffix == ".csv":
            # The header row as written: pandas would rename a repeated name (x, x.1).
            first = pd.read_csv(path, nrows=1, header=None, dtype=str, keep_default_na=False)
            return [str(c) for c in first.iloc[0].tolist()] if len(first) else []
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    except _READ_ERRORS as exc:
        raise _cannot_read(path, exc) from None


def _frames(path: Path, suffix: str, columns: list[str], rows: int) -> Iterator[pd.DataFrame]:
    """The recording's columns, ``rows`` rows at a time (read errors: one line)."""
    try:
        if suffix == ".csv":
            # Every column is parsed, not only ``columns``: with usecols, pandas reads a
            # row with more fields than the header without a word, its values shifted;
            # and rows that all have one more field would make the first an index.
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                with pd.read_csv(path, chunksize=rows, index_col=False) as reader:
                    for frame in reader:
                        yield frame[columns]
        else:
            import pyarrow.parquet as pq

            # Without pre-buffering, pyarrow holds one row group's pages, not its whole
            # byte range plus read-ahead (10M rows: 150 MB less at the peak).
            parquet = pq.ParquetFile(path, pre_buffer=False)
            for batch in parquet.iter_batches(batch_size=rows, columns=columns):
                yield batch.to_pandas()
    except pd.errors.ParserWarning:
        raise InvalidParameter(
            f"recording {path.name}: its rows hold more fields than its header names; "
            "fix the header or the rows"
        ) from None
    except _READ_ERRORS as exc:
        raise _cannot_read(path, exc) from None


def _columns(
    names: list[str], name: str
) -> tuple[str, tuple[str, str, str], Literal["g", "m/s2"] | None]:
    """The time column, the three axis columns and the units their names say (or None)."""
    lower: dict[str, str] = {}
    known = {*_TIME_NAMES, *(a for s in _AXIS_SETS for a in s)}
    for n in names:
        key = n.strip().lower()
        if key in lower and key in known:
            raise InvalidParameter(
                f"recording {name}: columns {show(lower[key])} and {show(n)} both read as "
                f"{show(key)}; keep one"
            )
        lower.setdefault(key, n)
    times = [lower[n] for n in _TIME_NAMES if n in lower]
    sets = [s for s in _AXIS_SETS if all(a in lower for a in s)]
    if len(times) > 1 or len(sets) > 1:
        what, both = (
            ("the time", times) if len(times) > 1 else ("the axes", [lower[s[0]] for s in sets])
        )
        raise InvalidParameter(
            f"recording {name}: columns {show(both[0])} and {show(both[1])} both name "
            f"{what}; keep one"
        )
    time = times[0] if times else None
    axes = sets[0] if sets else None
    if time is None or axes is None:
        missing = "time column" if time is None else "three axis columns"
        raise InvalidParameter(
            f"recording {name}: no {missing} among {show(names, 200)}; "
            f"expected time one of {list(_TIME_NAMES)} and axes one of "
            f"{[list(s) for s in _AXIS_SETS]}"
        )
    return time, (lower[axes[0]], lower[axes[1]], lower[axes[2]]), _NAMED_UNITS.get(axes)


def _spacings(t: np.ndarray, last: float) -> np.ndarray:
    # Differences between consecutive timestamps, the first against the previous
    # chunk's last (NaN before the first chunk: then there is none).
    return np.diff(t) if math.isnan(last) else np.diff(t, prepend=last)


def _numbers(
    frame: pd.DataFrame, time: str, axes: tuple[str, str, str], name: str
) -> tuple[np.ndarray, np.ndarray]:
    try:
        t = frame[time].to_numpy(dtype=np.float64)
        x = frame[list(axes)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameter(
            f"recording {name}: columns {show(time)}, {', '.join(axes)} must be numeric"
        ) from None
    return t, x


def _spacing_unit(dt: float) -> str | None:
    return next((u for u, lo, hi in _SPACINGS if lo <= dt <= hi), None)


STILL = 0.5
"""Largest spread of the quietest stretch, as a share of its mean reading, that still
reads as a watch at rest when inferring g (see :func:`_units_of`)."""


def _units_of(magnitude: float, spread: float) -> Literal["g", "m/s2"] | None:
    """The units a quietest stretch reading ``magnitude`` (its mean vector's length) with
    ``spread`` (rms deviation from the mean) implies, or None.

    About 1 g (0.5 to 2) is g, about 9.81 (0.5 g to 2 g) is m/s^2. A reading of 0.5 to 2
    is also what a recording without gravity, in m/s^2, reads where the wrist moves
    gently, but then the stretch is motion, not rest: its spread is as large as its
    mean. So g is inferred only where the stretch is still, its spread at most
    :data:`STILL` (half) of its reading. The m/s^2 range needs no such test: a recording
    without gravity, in g, would have to read 5 to 20 g where it is quietest.
    """
    if 0.5 <= magnitude <= 2.0 and spread <= STILL * magnitude:
        return "g"
    if 0.5 * G <= magnitude <= 2.0 * G:
        return "m/s2"
    return None
