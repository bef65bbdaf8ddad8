"""Reading a recording file in chunks: its columns, its numbers, and the inference of its
units and time unit.

CSV is read with pandas (``chunksize``), Parquet a row batch at a time with pyarrow; a
read error becomes one line that names the file; a file read in several passes is
checked to be the same file in each (:func:`version`). Only :mod:`._recording` uses
these.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from highfive.generators import G, InvalidParameter, show

from ._io import FOLDER, NOT_REGULAR, not_a_file
from ._recording_columns import AXIS_SETS, TIME_NAMES

_NAMED_TIME_UNITS = {
    "time_s": "s",
    "seconds": "s",
    "time_ms": "ms",
    "timestamp_ms": "ms",
    "timestamp_us": "us",
    "timestamp_ns": "ns",
}
"""Time columns whose names say the unit: read in it whatever the spacing (whole
seconds at 1 Hz are not 1 kHz milliseconds); another unit given is refused."""
_NAMED_UNITS: dict[tuple[str, str, str], Literal["g", "m/s2"]] = {("x_g", "y_g", "z_g"): "g"}
"""Axis sets whose names say the units (``highfive synth --csv`` writes ``x_g``): read
in those units whatever the recording reads at rest; other units given are refused."""
_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
# Spacings each unit is inferred from: 5 Hz to 1 kHz. Nanoseconds only from whole numbers
# (what a sensor log's nanosecond timestamps are); no two ranges overlap.
_SPACINGS = (("s", 1e-3, 0.2), ("ms", 1.0, 200.0), ("us", 1e3, 2e5), ("ns", 1e6, 2e8))
_WHOLE_ONLY = ("ns",)
_INT64_MAX, _UINT64_MAX = 2**63 - 1, 2**64 - 1
"""Whole numbers a time column may hold: int64, or uint64 when none is negative."""
_EXACT = 2**53
"""Integers from here on lose digits in a float64 (2**53 ns is 104 days): times that
large are taken relative to the first, exactly, before they become floats."""

MIN_RATE_HZ = 1.0 / _SPACINGS[0][2]
"""Lowest sample rate a recording may have, Hz: a spacing of 0.2 s, the longest one the
time unit is inferred from (slower, most spacings are gaps and a high-five falls
between samples)."""
MAX_INFERRED_HZ = 1.0 / _SPACINGS[0][1]
"""Highest sample rate a time unit is inferred at, Hz (a faster one must be given)."""
_REL = 1e-9
"""Relative slack at the ends of the ranges of spacings and at :data:`MIN_RATE_HZ`: times
written as decimals (0.2, 0.4, ...) are 0.20000000000000018 apart, and must not be
refused or accepted by the rounding of their text."""

MAX_G = 1000.0
"""Largest magnitude a sample may have, in g. Accelerometers worn on the wrist saturate
at 16 g and shock sensors reach a few hundred g, so a larger value is a corrupt row or a
wrong unit, not motion; it also keeps every value far from float32 overflow inside a
model (a value that merely fits float32, such as 1e38 g, overflowed there)."""

CHUNK_ROWS = 1 << 18
"""Rows read at a time (8 MB of float64 for four columns)."""


Advise = Literal["python", "cli", "campaign"]
"""Who reads the recording, and so how a refusal names the two reading settings:
the Python keywords (``units="g"``), the flags of ``highfive count`` and ``highfive
realism`` (``--units g``) or the keys of a campaign's ``[recordings]`` table
(``units = "g"``)."""


@dataclass(frozen=True)
class Settings:
    """The reading settings ``units`` and ``time_unit`` named as ``advise`` takes them,
    so that advice in a refusal can be followed where it is read."""

    advise: Advise = "python"

    def name(self, key: str) -> str:
        """The setting itself: ``--time-unit``, ``time_unit in [recordings]``, ``the
        time_unit argument``."""
        if self.advise == "cli":
            return "--" + key.replace("_", "-")
        if self.advise == "campaign":
            return f"{key} in [recordings]"
        return f"the {key} argument"

    def given(self, key: str, value: str) -> str:
        """The setting with a value: ``--units g``, ``units = "g" in [recordings]``,
        ``units="g"``."""
        if self.advise == "cli":
            return f"{self.name(key)} {value}"
        if self.advise == "campaign":
            return f'{key} = "{value}" in [recordings]'
        return f'{key}="{value}"'

    def give(self, key: str, *values: str) -> str:
        """Advice to give one of ``values``: ``pass --units g or --units m/s2``, ``set units
        = "g" or "m/s2" in [recordings]``, ``pass units="g" or units="m/s2"``."""
        if self.advise == "campaign":
            return f"set {key} = " + " or ".join(f'"{v}"' for v in values) + " in [recordings]"
        return "pass " + " or ".join(self.given(key, v) for v in values)

    def leave_out(self, key: str) -> str:
        """Advice to infer the setting: ``leave --units out``, ``leave units out of
        [recordings]``."""
        if self.advise == "cli":
            return f"leave {self.name(key)} out"
        if self.advise == "campaign":
            return f"leave {key} out of [recordings]"
        return f"leave {key} out"


def settings(advise: Advise) -> Settings:
    """``advise`` checked: a programming error (not a user's) if it is none of the three."""
    if advise not in ("python", "cli", "campaign"):
        raise ValueError(f"advise: {advise!r} is not one of 'python', 'cli', 'campaign'")
    return Settings(advise)


# -- reading in chunks ---------------------------------------------------------------
def _check_path(path: Path) -> str:
    suffix = path.suffix.lower()
    problem = not_a_file(path)
    if problem:
        said = {NOT_REGULAR: f"{NOT_REGULAR} (a device, pipe or socket)"}.get(problem, problem)
        give = "; give a .csv or .parquet file" if problem in (FOLDER, NOT_REGULAR) else ""
        raise InvalidParameter(f"recording: {os.fspath(path)!r} {said}{give}")
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


Version = tuple[int, int, int, int, int]
"""A file's device, inode, size, and times of last modification and of last status
change, ns: what says it is the file read before (a writer that puts the modification
time back still moves the status change time)."""


def version(path: Path) -> Version | None:
    """``path``'s :data:`Version` (None if it cannot be looked up)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def check_unchanged(path: Path, before: Version) -> None:
    """Raise :class:`InvalidParameter` unless ``path`` is still at version ``before``."""
    now = version(path)
    if now == before:
        return
    how = (
        "deleted or moved"
        if now is None
        else "replaced by another file"
        if now[:2] != before[:2]
        else "written to"
    )
    raise InvalidParameter(
        f"recording {path.name}: the file changed while it was read ({how}); read it "
        "again once nothing writes to it"
    )


def _frames(
    path: Path, suffix: str, columns: list[str], rows: int, since: Version | None = None
) -> Iterator[pd.DataFrame]:
    """The recording's columns, ``rows`` rows at a time (read errors: one line).

    With ``since``, each chunk is yielded only once the file is seen to be unchanged
    since then, after the chunk was read: a recording read in several passes is the
    same file in each, or the read stops in one line that says it changed.
    """
    if since is None:
        yield from _chunks(path, suffix, columns, rows)
        return
    check_unchanged(path, since)
    chunks = _chunks(path, suffix, columns, rows)
    while True:
        try:
            frame = next(chunks)
        except StopIteration:
            return
        except (KeyError, InvalidParameter):  # a column gone, a read error: as it changed?
            check_unchanged(path, since)
            raise
        check_unchanged(path, since)
        yield frame


def _chunks(path: Path, suffix: str, columns: list[str], rows: int) -> Iterator[pd.DataFrame]:
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
                # Timestamps and durations as the integers they are, in their type's
                # unit (pandas would make them datetimes, or floats off by up to 256 ns).
                arrays = [c.cast("int64") if _declared(c.type) else c for c in batch.columns]
                yield type(batch).from_arrays(arrays, names=batch.schema.names).to_pandas()
    except pd.errors.ParserWarning:
        raise InvalidParameter(
            f"recording {path.name}: its rows hold more fields than its header names; "
            "fix the header or the rows"
        ) from None
    except _READ_ERRORS as exc:
        raise _cannot_read(path, exc) from None


def _columns(
    names: list[str], name: str
) -> tuple[str, tuple[str, str, str], Literal["g", "m/s2"] | None, str | None]:
    """The time column, the three axis columns, the units the axes' names say and the
    time unit the time column's name says (each None when the name does not say)."""
    lower: dict[str, str] = {}
    known = {*TIME_NAMES, *(a for s in AXIS_SETS for a in s)}
    for n in names:
        key = n.strip().lower()
        if key in lower and key in known:
            raise InvalidParameter(
                f"recording {name}: columns {show(lower[key])} and {show(n)} both read as "
                f"{show(key)}; keep one"
            )
        lower.setdefault(key, n)
    times = [lower[n] for n in TIME_NAMES if n in lower]
    sets = [s for s in AXIS_SETS if all(a in lower for a in s)]
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
            f"expected time one of {list(TIME_NAMES)} and axes one of "
            f"{[list(s) for s in AXIS_SETS]}"
        )
    return (
        time,
        (lower[axes[0]], lower[axes[1]], lower[axes[2]]),
        _NAMED_UNITS.get(axes),
        _NAMED_TIME_UNITS.get(time.strip().lower()),
    )


def _declared(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_timestamp(arrow_type) or pa.types.is_duration(arrow_type))


def _time_type(path: Path, suffix: str, column: str) -> tuple[str, str] | None:
    """The unit and type of a Parquet timestamp or duration column (None otherwise)."""
    if suffix == ".csv":
        return None
    import pyarrow.parquet as pq

    try:
        arrow_type = pq.ParquetFile(path).schema_arrow.field(column).type
    except _READ_ERRORS as exc:
        raise _cannot_read(path, exc) from None
    return (str(arrow_type.unit), str(arrow_type)) if _declared(arrow_type) else None


@dataclass
class _Clock:
    """How a recording's time column becomes float64 numbers in its unit, the same in
    every pass and every chunking.

    Numbers are read as they are, except whole numbers of 2**53 and more (nanoseconds
    since 1970), which are taken relative to the first time exactly, as integers, so
    that they lose no digit. A Parquet timestamp or duration column is read as such
    integers in the unit its type declares (``declared``); a column of text as ISO 8601
    dates and times, in ns (UTC where an offset is given).
    """

    name: str
    column: str
    declared: tuple[str, str] | None = None  # (unit, Arrow type) of a typed column
    text: bool | None = None  # ISO 8601 text (None before the first rows)
    origin: int = 0  # subtracted from every time (exactly from integers)
    started: bool = False
    whole: bool = True  # every time so far a whole number
    settings: Settings = Settings()  # how advice names the time unit setting

    @property
    def unit(self) -> str | None:
        """The unit the column itself gives (its type, or ISO text: ns), or None."""
        return self.declared[0] if self.declared else "ns" if self.text else None

    @property
    def kind(self) -> str:
        """What the column holds, for the user to check ('' for plain numbers)."""
        if self.declared:
            return f"a {self.declared[1]} column"
        return "ISO 8601 text" if self.text else ""

    def times(self, values: pd.Series, row: int) -> np.ndarray:
        """The times of rows ``row ..``, float64, in the column's unit less the origin."""
        kind = values.dtype.kind
        if kind == "O" and pd.api.types.infer_dtype(values, skipna=True) == "decimal":
            values, kind = values.astype(np.float64), "f"  # a Parquet decimal column
        text = kind not in "iuf"
        if text:
            if kind in "bcmM":  # not times, or not as this reads them: True, 1+2j
                raise InvalidParameter(
                    f"recording {self.name}: column {show(self.column)} must hold numbers or "
                    f"ISO 8601 dates and times, not {values.dtype}"
                )
            raw, missing = self._parse(values, row)
        else:
            raw, missing = values.to_numpy(), None
        if self.text is None:
            self.text = text if raw.size else None  # an empty chunk says nothing
        elif self.text != text and raw.size:
            raise InvalidParameter(
                f"recording {self.name}: column {show(self.column)} mixes numbers and ISO "
                "8601 text; write every time one way"
            )
        whole = raw.dtype.kind in "iu"
        if raw.dtype.kind == "u" and raw.size and raw.max() > np.iinfo(np.int64).max:
            whole, raw = False, raw.astype(np.float64)  # past int64: as floats
        if not self.started and raw.size:
            first = raw[0]
            self.started = True
            if whole and abs(int(first)) >= _EXACT:
                self.origin = int(first)
        self.whole &= whole
        if not self.origin:  # as read: nothing to subtract
            t = raw.astype(np.float64)
        elif whole and (not raw.size or raw.min() >= self.origin - 2**63):  # no overflow
            t = (raw.astype(np.int64) - np.int64(self.origin)).astype(np.float64)
        else:
            t = raw.astype(np.float64) - float(self.origin)
        if missing is not None:
            t[missing] = np.nan
        return t

    def _parse(self, values: pd.Series, row: int) -> tuple[np.ndarray, np.ndarray]:
        # ISO 8601 text as ns since 1970 (UTC); a missing cell stays missing (not finite).
        missing = values.isna().to_numpy()
        numbers = pd.to_numeric(values, errors="coerce").isna().to_numpy() == missing
        if numbers[~missing][:1].all() and not numbers.all():  # a cell of text among numbers
            self._wide(values, row)
            i = int(np.flatnonzero(~numbers)[0])
            raise InvalidParameter(
                f"recording {self.name}: column {show(self.column)}, row {row + i}: "
                f"{show(str(values.iloc[i]))} is not a number, as the column's first time is; "
                "write every time as a number"
            )
        if not numbers.all() and numbers[~missing].any():  # a number among ISO 8601 text
            i = int(np.flatnonzero(numbers & ~missing)[0])
            raise InvalidParameter(
                f"recording {self.name}: column {show(self.column)}, row {row + i}: "
                f"{show(str(values.iloc[i]))} is a number, not ISO 8601 text as the column's "
                "first time is; write every time one way"
            )
        when = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
        lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
        for rows, why in (
            (
                when.isna().to_numpy() & ~missing,
                "is neither a number nor an ISO 8601 date and time; write the times as numbers "
                f"in s, ms, us or ns ({self.settings.name('time_unit')}) or as ISO 8601 text "
                "such as '2024-05-01T12:00:00.020'",
            ),
            (
                ((when < lo) | (when > hi)).to_numpy(),
                "is outside the years 1678 to 2261 that times read to the ns can hold; write "
                f"the times as numbers in s, ms, us or ns ({self.settings.name('time_unit')})",
            ),
        ):
            if rows.any():
                self._wide(values, row)
                i = int(np.flatnonzero(rows)[0])
                raise InvalidParameter(
                    f"recording {self.name}: column {show(self.column)}, row {row + i}: "
                    f"{show(str(values.iloc[i]))} {why}"
                )
        raw = when.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").view(np.int64)
        return raw, missing

    def _wide(self, values: pd.Series, row: int) -> None:
        # A column that is not times: whole numbers outside int64 and uint64 (or negative
        # ones and some past int64) make pandas hold it as Python ints or text. Looked for
        # only when the column is refused, to say what the row holds rather than that it
        # is no number.
        found = [(i, v) for i, v in enumerate(map(_whole, values)) if v is not None]
        hi = _INT64_MAX if any(v < 0 for _, v in found) else _UINT64_MAX
        wide = next(((i, v) for i, v in found if not -_INT64_MAX - 1 <= v <= hi), None)
        if wide is not None:
            raise InvalidParameter(
                f"recording {self.name}: column {show(self.column)}, row {row + wide[0]}: "
                f"{wide[1]} is a whole number outside the 64-bit integers; allowed: whole "
                f"numbers from {-_INT64_MAX - 1} to {_INT64_MAX}, or from 0 to {_UINT64_MAX} "
                "when none is negative (ns since 1970 take 19 digits), or numbers with a "
                "decimal point"
            )

    def show(self, value: float) -> str:
        """A time as the file holds it (``value`` as :meth:`times` returned it)."""
        if not math.isfinite(value):
            return show(value)
        if self.unit is not None:  # a timestamp (or ISO text) or a duration
            ns = (self.origin + round(value)) * 10 ** (3 * ("ns", "us", "ms", "s").index(self.unit))
            if self.text or (self.declared and self.declared[1].startswith("timestamp")):
                return show(pd.Timestamp(ns).isoformat())
            return show(str(pd.Timedelta(ns)))
        if self.origin and value == round(value):
            return str(self.origin + round(value))  # every digit (show: 1.71e+18)
        return show(value + self.origin)


_WHOLE = re.compile(r"\s*[+-]?[0-9]{1,4000}\s*")
"""A whole number written as text (at most 4,000 digits: Python's int reads 4,300)."""


def _whole(value: object) -> int | None:
    """A cell's whole number (a Python int, or its text), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    return None


def _spacings(t: np.ndarray, last: float) -> np.ndarray:
    # Differences between consecutive timestamps, the first against the previous
    # chunk's last (NaN before the first chunk: then there is none).
    return np.diff(t) if math.isnan(last) else np.diff(t, prepend=last)


def _numbers(
    frame: pd.DataFrame, clock: _Clock, axes: tuple[str, str, str], row: int
) -> tuple[np.ndarray, np.ndarray]:
    """The times (as ``clock`` reads them) and the readings (n, 3) of rows ``row ..``."""
    allowed = f"columns {', '.join(axes)} must be numeric"
    for axis in axes:
        values = frame[axis]
        if values.dtype.kind in "iuf":
            continue
        if values.dtype.kind != "O":  # bool, dates, ...: not what pandas would make floats of
            raise InvalidParameter(
                f"recording {clock.name}: column {show(axis)} holds {values.dtype} values; "
                f"{allowed}"
            )
        # Text (a CSV cell, a Parquet string column) or Python objects (Parquet decimals).
        text = values.map(lambda v: isinstance(v, str | bytes | bool)).to_numpy(dtype=bool)
        if text.any():
            wrong = text & pd.to_numeric(values.where(text), errors="coerce").isna().to_numpy()
            i = int(np.flatnonzero(wrong if wrong.any() else text)[0])
            said = "not a number" if wrong.any() else "text"
            raise InvalidParameter(
                f"recording {clock.name}: column {show(axis)}, row {row + i}: "
                f"{show(str(values.iloc[i]))} is {said}; {allowed}"
            )
    try:
        x = frame[list(axes)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameter(f"recording {clock.name}: {allowed}") from None
    return clock.times(frame[clock.column], row), x


def _spacing_unit(dt: float, whole: bool, slack: float = 0.0) -> str | None:
    """The unit whose range of spacings holds ``dt`` (ns only for whole numbers), each end
    widened by :data:`_REL` of it and by ``slack`` (how far the times' own rounding can
    move a spacing: float seconds since 1970 are 2.4e-7 s apart)."""
    return next(
        (
            u
            for u, lo, hi in _SPACINGS
            if lo * (1 - _REL) - slack <= dt <= hi * (1 + _REL) + slack
            and (whole or u not in _WHOLE_ONLY)
        ),
        None,
    )


def _digits(value: float, ends: tuple[float, ...]) -> str:
    """``value`` to 3 digits, or as many more as tell it from the ``ends`` it is not
    (a spacing of 0.2000002 is not shown as 0.2, the limit it is over)."""
    for d in range(3, 17):
        text = f"{value:.{d}g}"
        if float(text) not in ends or value in ends:
            return text
    return repr(value)


def _spacing_shown(dt: float) -> str:
    """A median spacing no unit explains, never printed as a range's end."""
    return _digits(dt, tuple(e for _, lo, hi in _SPACINGS for e in (lo, hi)))


def _hz(rate: float) -> str:
    """A sample rate as it is (3 digits, or more where 3 would read as the 5 Hz limit),
    never rounded to the 0.1 Hz a rate is kept to."""
    if 1e3 <= rate < 1e7:
        return f"{rate:,.0f} Hz"
    return f"{_digits(rate, (MIN_RATE_HZ,))} Hz"


def _unit_advice(
    dt: float, span: float, *, slower: bool = True, settings: Settings = Settings()
) -> str:
    """What a median spacing of ``dt`` would be in the unit that first makes it an allowed
    rate (the slowest such rate, the most likely), with how long the recording (``span``
    from first to last time) would be, as advice; '' when no unit does.

    A rate the time unit would be inferred at (at most :data:`MAX_INFERRED_HZ`) is
    advised. A faster one is only offered, after what the unit below reads (with
    ``slower``): a 2 Hz log in s is not advised to be read as 2 kHz in ms.
    """
    below = ""
    for unit, scale in _TIME_SCALE.items():
        rate = 1.0 / (dt * scale)
        if rate < MIN_RATE_HZ * (1 - _REL):
            below = f"in {unit} it is {_hz(rate)}, under the {MIN_RATE_HZ:g} Hz allowed; "
            continue
        long = f"{span * scale:.3g} s long"
        if rate <= MAX_INFERRED_HZ * (1 + _REL):
            give = settings.give("time_unit", unit)
            return f"if the times are in {unit}, {give} ({_hz(rate)}, {long})"
        return (
            f"{below if slower else ''}in {unit} it is {_hz(rate)} and {long}, faster than "
            f"the {MAX_INFERRED_HZ:,g} Hz up to which the time unit is inferred: "
            f"{settings.give('time_unit', unit)} only if the times are in {unit}"
        )
    return ""


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


class _Dropouts:
    """Rows of exactly (0, 0, 0) taken out as lost samples, chunk by chunk, the same
    however the rows are chunked.

    Watch exports write (0, 0, 0) for a sample they lost. In a recording that reads
    gravity (``every``) no real reading is (0, 0, 0), so every such row is taken out.
    Without gravity (0, 0, 0) is what a still watch reads, and quantised data can read
    it for a while; there only a lone one is taken out: a row of (0, 0, 0) whose
    neighbours (the rows before and after it, where it has them) read something. Taken
    out, a row leaves a time without a sample, which resampling interpolates across (a
    gap longer than :data:`~highfive.harness._preprocess.MAX_GAP_S` splits the
    recording instead), as for any dropped sample.
    """

    def __init__(self, *, every: bool) -> None:
        self.every = every
        self.dropped = 0  # rows taken out so far
        self._before = False  # whether the last row decided reads (0, 0, 0)
        # A last row of (0, 0, 0) after one that reads something, which the next row decides.
        self._held: tuple[np.ndarray, np.ndarray] | None = None

    def feed(self, t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The next rows' times (n,) and readings (n, 3) less those taken out (with a row
        held back from the previous rows first, when it is kept)."""
        if self._held is not None:
            t = np.concatenate([self._held[0], t])
            x = np.concatenate([self._held[1], x])
            self._held = None
        if not t.size:
            return t, x
        zero = ~(x != 0.0).any(axis=1)
        if not zero.any():
            self._before = False
            return t, x
        if self.every:
            drop = zero
        else:
            before = np.concatenate([[self._before], zero[:-1]])
            drop = zero & ~before & ~np.concatenate([zero[1:], [False]])
            if drop[-1]:  # the next row decides it
                drop[-1] = False
                self._held = (t[-1:], x[-1:])
                t, x, zero, drop = t[:-1], x[:-1], zero[:-1], drop[:-1]
        self._before = bool(zero[-1]) if self._held is None and zero.size else False
        self.dropped += int(drop.sum())
        return (t[~drop], x[~drop]) if drop.any() else (t, x)

    def finish(self) -> None:
        """The end of the rows: a row held back has no row after it, so it is taken out."""
        if self._held is not None:
            self.dropped += 1
            self._held = None
