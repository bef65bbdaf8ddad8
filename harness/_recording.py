"""Reading real recordings (CSV or Parquet) into a :class:`Trace`.

A recording has a time column and three acceleration columns. Recognised names (case
does not matter): time ``t``, ``time``, ``timestamp``, ``time_s``, ``seconds``;
axes ``x/y/z``, ``ax/ay/az``, ``acc_x/acc_y/acc_z``, ``accel_x/...``,
``x_g/...``. Units are g or m/s^2, given or inferred from the median magnitude
(a worn watch is mostly near 1 g); time is in s, ms or us, given or inferred from
the median sample spacing. The file is only read, never modified.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from highfive.generators import G, InvalidParameter, Trace

__all__ = ["read_recording"]

Units = Literal["auto", "g", "m/s2"]
TimeUnit = Literal["auto", "s", "ms", "us"]

_TIME_NAMES = ("t", "time", "timestamp", "time_s", "seconds")
_AXIS_SETS = (
    ("x", "y", "z"),
    ("ax", "ay", "az"),
    ("acc_x", "acc_y", "acc_z"),
    ("accel_x", "accel_y", "accel_z"),
    ("x_g", "y_g", "z_g"),
)
_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def _load(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InvalidParameter(f"recording: {os.fspath(path)!r} does not exist")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InvalidParameter(
            f"recording: cannot read {path.name} ({str(exc).splitlines()[0][:160]})"
        ) from None
    raise InvalidParameter(f"recording: {path.name} has suffix {suffix!r}; allowed: .csv, .parquet")


def _columns(frame: pd.DataFrame, name: str) -> tuple[str, tuple[str, str, str]]:
    lower = {str(c).strip().lower(): str(c) for c in frame.columns}
    time = next((lower[n] for n in _TIME_NAMES if n in lower), None)
    axes = next((s for s in _AXIS_SETS if all(a in lower for a in s)), None)
    if time is None or axes is None:
        missing = "time column" if time is None else "three axis columns"
        raise InvalidParameter(
            f"recording {name}: no {missing} among {list(map(str, frame.columns))}; "
            f"expected time one of {list(_TIME_NAMES)} and axes one of "
            f"{[list(s) for s in _AXIS_SETS]}"
        )
    return time, (lower[axes[0]], lower[axes[1]], lower[axes[2]])


def _time_scale(dt: float, unit: TimeUnit, name: str) -> float:
    if unit != "auto":
        return _TIME_SCALE[unit]
    for u, lo, hi in (("s", 1e-3, 0.2), ("ms", 1.0, 200.0), ("us", 1e3, 2e5)):
        if lo <= dt <= hi:
            return _TIME_SCALE[u]
    raise InvalidParameter(
        f"recording {name}: cannot infer the sample rate from a median spacing of {dt:g} "
        "time units; pass --time-unit s|ms|us"
    )


def read_recording(
    path: str | os.PathLike[str],
    *,
    units: Units = "auto",
    time_unit: TimeUnit = "auto",
) -> tuple[Trace, dict[str, str]]:
    """Read a recording as a :class:`Trace` in g and seconds.

    Returns
    -------
    trace : Trace
        No truth events; ``fs`` is the nominal rate from the median spacing.
    info : dict
        How columns, units and rate were found, for the user to check.
    """
    path = Path(path)
    frame = _load(path)
    time, axes = _columns(frame, path.name)
    try:
        t = frame[time].to_numpy(dtype=np.float64)
        x = frame[list(axes)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameter(
            f"recording {path.name}: columns {time!r}, {', '.join(axes)} must be numeric"
        ) from None
    if t.size < 2:
        raise InvalidParameter(f"recording {path.name}: {t.size} rows; need at least 2")
    finite = np.isfinite(x).all(axis=1) & np.isfinite(t)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InvalidParameter(
            f"recording {path.name}: row {bad} is not finite "
            f"({t[bad]!r}, {x[bad].tolist()}); drop or fill missing samples"
        )
    dt = float(np.median(np.diff(t)))
    if not dt > 0:
        raise InvalidParameter(
            f"recording {path.name}: timestamps do not increase (median spacing {dt!r})"
        )
    scale = _time_scale(dt, time_unit, path.name)
    t = (t - t[0]) * scale
    fs = round(1.0 / (dt * scale), 1)

    magnitude = float(np.median(np.linalg.norm(x, axis=1)))
    if units == "auto":
        if 0.5 <= magnitude <= 2.0:
            units = "g"
        elif 0.5 * G <= magnitude <= 2.0 * G:
            units = "m/s2"
        else:
            raise InvalidParameter(
                f"recording {path.name}: cannot infer units from a median magnitude of "
                f"{magnitude:.3g}; a worn watch reads about 1 g or 9.81 m/s^2; "
                "pass --units g or --units m/s2"
            )
    if units not in ("g", "m/s2"):
        raise InvalidParameter(f"units: {units!r} is not allowed; choose g or m/s2")
    if units == "m/s2":
        x = x / G
    info = {
        "time column": time,
        "axis columns": ", ".join(axes),
        "units": units,
        "sample rate": f"{fs:g} Hz",
        "duration": f"{t[-1] - t[0]:.2f} s",
    }
    return Trace(t=t, samples=x, fs=fs), info
