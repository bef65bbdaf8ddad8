"""The columns a recording is read by, named once: the reader and the command line's
help take them from here (a light module: building the parser loads no pandas)."""

from __future__ import annotations

__all__ = ["AXIS_SETS", "TIME_NAMES", "columns_help"]

TIME_NAMES = (
    "t",
    "time",
    "timestamp",
    "time_s",
    "seconds",
    "time_ms",
    "timestamp_ms",
    "timestamp_us",
    "timestamp_ns",
)
"""Names of the time column, lower case (names are matched case-insensitively)."""
AXIS_SETS = (
    ("x", "y", "z"),
    ("ax", "ay", "az"),
    ("acc_x", "acc_y", "acc_z"),
    ("accel_x", "accel_y", "accel_z"),
    ("x_g", "y_g", "z_g"),
)
"""Sets of three acceleration columns, in the order x, y, z."""


def columns_help() -> str:
    """The columns a recording needs, in words (for ``--help``)."""
    times = f"{', '.join(TIME_NAMES[:-1])} or {TIME_NAMES[-1]}"
    sets = ["/".join(s) for s in AXIS_SETS]
    axes = f"{', '.join(sets[:-1])} or {sets[-1]}"
    return (
        f"one time column, named {times}, and one set of three acceleration columns, "
        f"{axes}; names are case-insensitive, other columns are ignored"
    )
