"""Real recordings (CSV or Parquet): the checked recording, opened and read in bounded memory.

A recording has a time column and three acceleration columns, named as
:mod:`._recording_columns` lists (case does not matter; axes ``x_g/...`` are named in
g: read as g). Units are g or m/s^2, given, named by the axes or
inferred from the quietest stretch of
about a second (where the watch is still it reads gravity alone: about 1 g or 9.81
m/s^2, whatever it does the rest of the time; the median magnitude of a run is about
2 g; g only from a still stretch, whose spread is at most half its reading: see
:func:`~._recording_read._units_of`); the same stretch gives the watch's
orientation. Time is in s, ms, us or ns, given or inferred from the median sample
spacing (ns only from whole numbers), or a Parquet timestamp or duration column in the
unit its type declares, or ISO 8601 text (:class:`~._recording_read._Clock`). The
file is only read, never modified.

A recording may be far larger than memory allows to hold as one array (days at
100 Hz). :func:`open_recording` reads it once in chunks (pandas for CSV, pyarrow row
batches for Parquet) to check it and infer units and rate, keeping only counts and
the quietest windows (:mod:`._recording_quiet`): the median spacing is exact, from
histograms of the values' leading bits, read again within one bin only in the rare
case that the bin straddles a decision (a rate rounding to another 0.1 Hz).
:func:`count_recording` then reads it a second time and feeds it to the counter piece
by piece. Gaps without a sample longer than
:data:`~highfive.harness._preprocess.MAX_GAP_S` split the recording into segments,
each counted on its own (never interpolated across: a day's gap would otherwise be a
day of invented data and gigabytes); the result lists segments and gaps. Rows of
exactly (0, 0, 0), a watch export's lost samples, are taken out as missing samples
(every one where the recording reads gravity, a lone one where it does not:
:class:`~._recording_read._Dropouts`).

:func:`read_recording` returns the whole recording as one trace (memory grows with it).

The chunked readers and the inference of columns and units are in
:mod:`._recording_read`, the exact medians in :mod:`._recording_median`, the quietest
stretch in :mod:`._recording_quiet`, the counting in :mod:`._recording_count`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Literal

import numpy as np

from highfive.generators import G, InvalidParameter, Trace, show

from ._preprocess import MAX_GAP_S
from ._recording_median import _decide, _Median
from ._recording_quiet import Rest, _Quiet
from ._recording_read import (
    _NAMED_UNITS,
    _TIME_SCALE,
    CHUNK_ROWS,
    MAX_G,
    MIN_RATE_HZ,
    STILL,
    Advise,
    Settings,
    Version,
    _check_path,
    _Clock,
    _columns,
    _Dropouts,
    _frames,
    _header,
    _hz,
    _numbers,
    _spacing_shown,
    _spacing_unit,
    _spacings,
    _time_type,
    _unit_advice,
    _units_of,
    check_unchanged,
    settings,
    version,
)

__all__ = ["MAX_GAP_S", "Recording", "Rest", "open_recording", "read_recording"]

_FAR = 1e6
"""Magnitude (g or m/s^2: 100 x MAX_G in m/s^2) values are clipped to where squared."""

Units = Literal["auto", "g", "m/s2"]
TimeUnit = Literal["auto", "s", "ms", "us", "ns"]


# -- the recording ---------------------------------------------------------------------
@dataclass(frozen=True)
class Recording:
    """A checked recording on disk: its columns, units, rate and size, not its samples.

    Make it with :func:`open_recording`; :meth:`pieces` reads the samples in chunks.
    ``rows`` counts the file's rows, ``dropped`` those of them that :meth:`pieces` takes
    out as lost samples (rows of exactly (0, 0, 0): every one in a recording that reads
    gravity, a lone one otherwise; see :class:`~._recording_read._Dropouts`).
    """

    path: Path
    time: str
    axes: tuple[str, str, str]
    units: str
    time_unit: str
    fs: float
    rows: int
    duration_s: float
    rest: Rest
    dropped: int
    _suffix: str = field(repr=False)
    _t_first: float = field(repr=False)
    _chunk: int = field(default=CHUNK_ROWS, repr=False)
    _clock: _Clock | None = field(default=None, repr=False, compare=False)
    _maybe_seconds: bool = field(default=False, repr=False)
    """The time unit was inferred as ms from whole numbers 1 apart: 1 kHz, or 1 Hz seconds."""
    _version: Version | None = field(default=None, repr=False, compare=False)
    """The file as opened: :meth:`pieces` reads that file, or stops in one line."""

    @property
    def _settings(self) -> Settings:
        # How :attr:`info`'s advice names the reading settings: as the opener was told.
        return self._clock.settings if self._clock is not None else Settings()

    @property
    def info(self) -> dict[str, str]:
        """How columns, units and rate were found, for the user to check."""
        out = {
            "time column": self.time,
            "time unit": f"{self.time_unit} ({kind})"
            if (kind := self._reader().kind)
            else self.time_unit,
            "axis columns": ", ".join(self.axes),
            "units": self.units,
            "sample rate": f"{self.fs:g} Hz",
            "duration": f"{self.duration_s:.2f} s",
            "at rest": f"{self.rest.magnitude:.3f} g (the quietest {self.rest.length_s:.3g} s, "
            f"from {self.rest.start_s:.3g} s, spread {self.rest.spread:.3f} g)",
            "orientation": f"face tilted {round(self.rest.tilt_deg)} deg from up, "
            f"roll {round(self.rest.roll_deg)} deg",
        }
        if self.dropped:
            lone = "" if self.rest.gravity else ", each between rows that read something"
            out["dropped"] = (
                f"{self.dropped:,} rows of exactly (0, 0, 0){lone}: lost samples, taken out "
                "and interpolated across like any missing sample"
            )
        if self._maybe_seconds:
            out["check time"] = (
                f"unit: whole numbers 1 apart in {self.time} are read as ms (1,000 Hz); if they "
                "are whole seconds (1 Hz, too slow to count), name the column time_s or "
                + self._settings.give("time_unit", "s")
            )
        # Units the axes' names say cannot be given otherwise: the advice is to rename them.
        x, y, z = (a.strip().lower() for a in self.axes)
        named = _NAMED_UNITS.get((x, y, z))
        axes = ", ".join(self.axes)
        setting = self._settings.name("units")
        units = (
            f"the units (named {named} by the columns {axes}, which {setting} cannot change: "
            "rename them to x, y, z to give the units or have them inferred)"
            if named
            else f"the units ({setting})"
        )
        if not 0.5 <= self.rest.magnitude <= 2.0:  # units given, or gravity removed
            out["orientation"] = "unknown (no reading of about 1 g at rest)"
            out["check"] = (
                f"{units} and that the recording holds gravity: a worn watch at "
                f"rest reads about 1 g, this one {self.rest.magnitude:.3g} g"
            )
            if named == "g" and _units_of(self.rest.magnitude, self.rest.spread) == "m/s2":
                out["check"] = (
                    f"the units: the columns {axes} name g, but at rest they read "
                    f"{self.rest.magnitude:.3g}, as a watch at rest reads in m/s2 (1 g is "
                    f"{G:.2f} m/s2); if the values are m/s2, rename the columns to x, y, z (the "
                    f"units are then inferred, or {self._settings.give('units', 'm/s2')})"
                )
        elif self.rest.flat:  # taken for lack of a stretch that varies
            out["check"] = (
                f"{units}: the quietest stretch does not vary at all (one sample "
                "repeated: a stuck sensor or data without noise), so it may not be a watch at "
                "rest"
            )
        return out

    def _reader(self) -> _Clock:
        # The time column read as the first pass read it (its origin, text or numbers).
        if self._clock is None:
            return _Clock(self.path.name, self.time)
        return replace(self._clock)

    def check_unchanged(self) -> None:
        """Raise :class:`InvalidParameter` unless the file is still the one opened (a
        read of it since then read the file that was checked)."""
        if self._version is not None:
            check_unchanged(self.path, self._version)

    def pieces(
        self, *, rows: int | None = None, max_gap_s: float = MAX_GAP_S
    ) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        """The samples in order, ``rows`` (default: as opened) at a time, in pieces that
        never span a gap.

        Yields
        ------
        t : np.ndarray, shape (m,), float64
            Seconds since the first sample.
        x : np.ndarray, shape (m, 3), float32
            Specific force in g.
        starts_segment : bool
            Whether the piece starts a new segment (the first piece does; so does
            every piece after a gap longer than ``max_gap_s``).

        Raises
        ------
        InvalidParameter
            The file changed since it was opened (each piece is read, then seen to be
            of the file opened, before it is yielded).
        """
        scale = _TIME_SCALE[self.time_unit]
        last = math.nan
        columns = [self.time, *self.axes]
        clock, n = self._reader(), 0
        dropouts = _Dropouts(every=self.rest.gravity)
        chunks = _frames(self.path, self._suffix, columns, rows or self._chunk, self._version)
        for frame in chunks:
            t_raw, x = _numbers(frame, clock, self.axes, n)
            n += t_raw.size
            t_raw, x = dropouts.feed(t_raw, x)
            t = (t_raw - self._t_first) * scale
            if self.units == "m/s2":
                x = x / G
            x32 = x.astype(np.float32)
            d = np.diff(t, prepend=last)
            cuts = [0, *np.flatnonzero(d > max_gap_s).tolist(), t.size]
            for a, b in pairwise(cuts):
                if b > a:
                    yield t[a:b], x32[a:b], math.isnan(last) or a > 0 or d[0] > max_gap_s
            last = float(t[-1]) if t.size else last


def open_recording(
    path: str | os.PathLike[str],
    *,
    units: Units = "auto",
    time_unit: TimeUnit = "auto",
    rows: int = CHUNK_ROWS,
    advise: Advise = "python",
) -> Recording:
    """Check a recording and infer its units and rate, reading it in chunks.

    ``advise`` says who reads it, and so how a refusal's advice names ``units`` and
    ``time_unit``: as Python keywords (the default), as the CLI's flags or as the keys
    of a campaign's ``[recordings]`` table.

    Raises
    ------
    InvalidParameter
        One line naming the problem: a missing file or column, text where numbers
        belong (or time text that is not ISO 8601), a non-finite sample, timestamps
        that do not increase, units or rate that cannot be inferred (a quietest stretch
        near neither 1 g nor 9.81 m/s^2, or near 1 but moving: gravity removed, or
        other units), units or a time unit given against what the columns say, a
        sample beyond 1,000 g in magnitude, nothing but rows of (0, 0, 0).
    """
    path = Path(path)
    said = settings(advise)
    if units not in ("auto", "g", "m/s2"):
        raise InvalidParameter(f"units: {show(units)} is not allowed; choose g or m/s2")
    if time_unit not in ("auto", *_TIME_SCALE):
        raise InvalidParameter(
            f"time_unit: {show(time_unit)} is not allowed; choose s, ms, us or ns"
        )
    suffix = _check_path(path)
    seen = version(path)  # every pass reads this file, or stops
    name = path.name
    time, axes, named, named_time = _columns(_header(path, suffix), name)
    if named is not None and units not in ("auto", named):
        raise InvalidParameter(
            f"recording {name}: its columns {', '.join(axes)} name the units {named}; "
            f"{said.given('units', units)} contradicts them; {said.leave_out('units')} (or "
            f"{said.give('units', named)}), or rename the columns"
        )
    units = named or units  # the names say it: nothing to infer
    columns = [time, *axes]
    clock = _Clock(name, time, declared=_time_type(path, suffix, time), settings=said)
    if clock.declared and time_unit not in ("auto", clock.declared[0]):
        raise InvalidParameter(
            f"recording {name}: column {show(time)} is {clock.declared[1]}, whose type gives "
            f"its unit ({clock.declared[0]}); {said.given('time_unit', time_unit)} contradicts "
            f"it; {said.leave_out('time_unit')}"
        )
    if clock.declared:
        named_time = None  # the type gives the unit exactly; the name is a label
    elif named_time is not None and time_unit not in ("auto", named_time):
        raise InvalidParameter(
            f"recording {name}: its time column {show(time)} names the unit {named_time}; "
            f"{said.given('time_unit', time_unit)} contradicts it; {said.leave_out('time_unit')} "
            f"(or {said.give('time_unit', named_time)}), or rename the column"
        )

    def spacings() -> Iterator[np.ndarray]:
        # The spacings, read again (only to narrow the median's bin).
        last, again, n = math.nan, replace(clock), 0
        for frame in _frames(path, suffix, columns, rows, seen):
            t, _ = _numbers(frame, again, axes, n)
            n += t.size
            yield _spacings(t, last)
            last = float(t[-1]) if t.size else last

    spacing, quiet, lone = _Median(), _Quiet(), _Dropouts(every=False)
    n, first, last = 0, math.nan, math.nan
    # The first sample above MAX_G in magnitude, if in g and if in m/s^2.
    huge: dict[float, tuple[int, tuple[float, ...], float]] = {}
    for frame in _frames(path, suffix, columns, rows, seen):
        t, x = _numbers(frame, clock, axes, n)
        if clock.text and time_unit not in ("auto", "ns"):
            raise InvalidParameter(
                f"recording {name}: column {show(time)} holds ISO 8601 dates and times, read "
                f"to the ns; {said.given('time_unit', time_unit)} does not apply to them; "
                f"{said.leave_out('time_unit')}"
            )
        finite = np.isfinite(x).all(axis=1) & np.isfinite(t)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise InvalidParameter(
                f"recording {name}: row {n + bad} is not finite "
                f"({clock.show(t[bad])}, {show(x[bad])}); drop or fill missing samples"
            )
        # The magnitude, of values clipped far beyond the limit: squaring them overflows
        # nothing, and a clipped row is over the limit in either unit as it was.
        near = np.clip(x, -_FAR, _FAR)
        magnitude = np.sqrt(np.einsum("ij,ij->i", near, near))
        for per_g in (1.0, G):
            over = magnitude > MAX_G * per_g
            if per_g not in huge and over.any():
                i = int(np.argmax(over))
                row = tuple(float(v) for v in x[i])
                huge[per_g] = (n + i, row, math.hypot(*row))  # not clipped
        d = _spacings(t, last)
        if not np.all(d > 0):
            i = int(np.flatnonzero(d <= 0)[0]) + t.size - d.size  # row in this frame
            before = float(t[i - 1]) if i else last
            raise InvalidParameter(
                f"timestamps: not strictly increasing at row {n + i} of {name} (column "
                f"{show(time)}: {clock.show(before)} then {clock.show(t[i])}); sort the "
                "recording and drop duplicate rows"
            )
        spacing.add(d)
        # Squared inside: a value beyond MAX_G in either unit is refused below anyway, so
        # clipping far beyond it changes no accepted recording and overflows nothing.
        quiet.add(t, near)
        lone.feed(t, x)
        if t.size:
            first = float(t[0]) if n == 0 else first
            last = float(t[-1])
        n += t.size
    if n < 2:
        raise InvalidParameter(f"recording {name}: {n} rows; need at least 2")
    lone.finish()
    if quiet.recorded == 0:
        raise InvalidParameter(
            f"recording {name}: every one of its {n} rows reads exactly (0, 0, 0) in "
            f"{', '.join(axes)} (a sensor that recorded nothing); nothing to count"
        )

    # The unit: the column's own (its type, or ISO text), else given, else inferred.
    known = clock.unit or named_time or (None if time_unit == "auto" else time_unit)

    # How far the times' rounding as float64 can move a spacing: one step of the largest.
    slack = 2.0 * float(np.spacing(max(abs(first), abs(last))))

    def rate(dt: float) -> tuple[str | None, float | str, str]:
        unit = known or _spacing_unit(dt, clock.whole, slack)
        if unit is None:
            return None, _spacing_shown(dt), ""
        hz = 1.0 / (dt * _TIME_SCALE[unit])
        fs = round(hz, 1)
        # A rate refused is printed as it is (3 digits), not as kept (0.1 Hz steps).
        return unit, fs, _hz(hz) if fs < MIN_RATE_HZ else ""

    unit, fs, shown = _decide(spacing, rate, spacings)
    if unit is None:
        advice = _unit_advice(float(fs), last - first, settings=said)
        if not advice:
            raise InvalidParameter(
                f"recording {name}: its median spacing of {fs} gives a sample rate under "
                f"{MIN_RATE_HZ:g} Hz in any time unit (s, ms, us or ns); allowed: at least "
                f"{MIN_RATE_HZ:g} Hz"
            )
        raise InvalidParameter(
            f"recording {name}: cannot infer the time unit from a median spacing of {fs} "
            f"time units; {advice}"
        )
    if fs < MIN_RATE_HZ:
        lo, hi = spacing.interval()
        advice = (
            ""
            if clock.unit
            else f"its time column {show(time)} names the unit {named_time}"
            if named_time
            else _unit_advice((lo + hi) / 2, last - first, slower=False, settings=said)
        )
        raise InvalidParameter(
            f"recording {name}: its median spacing in {unit} gives a sample rate of {shown}; "
            f"allowed: at least {MIN_RATE_HZ:g} Hz (a spacing of at most "
            f"{1.0 / MIN_RATE_HZ:g} s){'; ' + advice if advice else ''}"
        )
    if G in huge:  # too large in either unit: say so before any unit is inferred
        raise _too_large(name, axes, *huge[G], units)
    quietest = quiet.quietest(float(fs))
    if quietest is None:  # the rows that read anything are fewer than a window's hop
        raise InvalidParameter(
            f"recording {name}: all but {quiet.recorded} of its {n} rows read exactly "
            f"(0, 0, 0) in {', '.join(axes)} (a sensor that recorded almost nothing); "
            "nothing to count"
        )
    mean, spread, rest_rows, rest_first = quietest
    magnitude = float(np.linalg.norm(mean))
    if units == "auto":
        found = _units_of(magnitude, spread)
        if found is None:
            # Gravity removed: either unit may be right.
            advice = "; " + said.give("units", "g", "m/s2")
            if magnitude < 0.5:
                why = "the recording seems to have gravity removed"
            elif 0.5 <= magnitude <= 2.0:
                why = (
                    f"its spread of {spread:.3g} is more than {STILL:g} times that, motion "
                    "rather than a watch at rest reading 1 g (gravity removed?)"
                )
            else:  # neither unit reads it as a watch on Earth: giving one would not help
                why = (
                    "a worn watch at rest reads about 1 g or 9.81 m/s^2: convert other units "
                    "(milli-g, raw counts) to g or m/s2"
                )
                advice = ""
            raise InvalidParameter(
                f"recording {name}: cannot infer units: its quietest "
                f"{rest_rows / fs:.3g} s read {magnitude:.3g} on average; {why}{advice}"
            )
        units = found
    per_g = G if units == "m/s2" else 1.0
    if per_g in huge:
        raise _too_large(name, axes, *huge[per_g], units)
    rest = Rest(
        vector=(float(mean[0] / per_g), float(mean[1] / per_g), float(mean[2] / per_g)),
        start_s=(rest_first - first) * _TIME_SCALE[unit],
        length_s=rest_rows / float(fs),
        spread=spread / per_g,
    )
    return Recording(
        path=path,
        time=time,
        axes=axes,
        units=units,
        time_unit=unit,
        fs=float(fs),
        rows=n,
        duration_s=(last - first) * _TIME_SCALE[unit],
        rest=rest,
        dropped=n - quiet.recorded if rest.gravity else lone.dropped,
        _suffix=suffix,
        _t_first=float(first),
        _chunk=rows,
        _clock=clock,
        _version=seen,
        _maybe_seconds=known is None and clock.whole and unit == "ms" and fs == 1000.0,
    )


def _too_large(
    name: str,
    axes: tuple[str, str, str],
    row: int,
    values: tuple[float, ...],
    magnitude: float,
    units: str,
) -> InvalidParameter:
    in_g, in_ms2 = f"{MAX_G:,.0f} g", f"{MAX_G * G:,.0f} m/s2"
    limit = {"g": in_g, "m/s2": f"{in_ms2} ({in_g})"}.get(units, f"{in_g} or {in_ms2}")
    per_g = {"g": 1.0, "m/s2": G}.get(units, 1.0)  # unknown units: the smaller limit
    unit = {"g": " g", "m/s2": " m/s2"}.get(units, "")
    shown = ", ".join(f"{v:.6g}" for v in values)
    return InvalidParameter(
        f"recording {name}: row {row} ({', '.join(axes)}) reads ({shown}), "
        f"{_over(magnitude, MAX_G * per_g)}{unit} in magnitude; allowed: at most {limit} in "
        "magnitude (wrist accelerometers saturate at 16 g, shock sensors at a few hundred "
        "g); drop or fix the row"
    )


def _over(value: float, limit: float) -> str:
    """``value`` (> ``limit``) with the digits that show it is over: 1,001, not 1e+03."""
    if value >= 1e9 or not math.isfinite(value):
        return f"{value:.3g}"
    decimals = next((d for d in range(10) if round(value, d) > limit), 9)
    return f"{value:,.{decimals}f}"


def read_recording(
    path: str | os.PathLike[str],
    *,
    units: Units = "auto",
    time_unit: TimeUnit = "auto",
    advise: Advise = "python",
) -> tuple[Trace, dict[str, str]]:
    """Read a whole recording as one :class:`Trace` in g and seconds.

    The trace holds every sample, gaps included (memory grows with the recording;
    :func:`count_recording` counts one of any length). ``advise`` is as in
    :func:`open_recording`.

    Returns
    -------
    trace : Trace
        No truth events; ``fs`` is the nominal rate from the median spacing.
    info : dict
        How columns, units and rate were found, for the user to check.
    """
    rec = open_recording(path, units=units, time_unit=time_unit, advise=advise)
    parts = list(rec.pieces(max_gap_s=math.inf))
    t = np.concatenate([p[0] for p in parts])
    x = np.concatenate([p[1] for p in parts])
    return Trace(t=t, samples=x, fs=rec.fs), rec.info
