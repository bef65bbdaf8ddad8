"""The time column of a recording: numbers in s, ms, us or ns, Arrow timestamp and
duration columns in the unit their type declares, ISO 8601 text; and the messages when
the unit or rate cannot be read, whose advice must work."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from highfive.generators import InvalidParameter, default_space, synthesize
from highfive.harness._recording import open_recording, read_recording
from highfive.harness.cli import main

SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
EPOCH_NS = 1_714_564_800_010_094_200  # 2024-05-01T12:00:00.0100942 in ns since 1970


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A 10 s synthetic trace at 50 Hz (jittered times, in s; axes in g)."""
    tr = synthesize(default_space().complete({"repetitions": 2}), 3)
    x = tr.samples.astype(np.float64)
    return pd.DataFrame({"t": tr.t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]})


def _ns(frame: pd.DataFrame, start: int = EPOCH_NS) -> np.ndarray:
    return start + np.round((frame["t"] - frame["t"].iloc[0]).to_numpy() * 1e9).astype(np.int64)


def _axes(frame: pd.DataFrame) -> dict[str, pa.Array]:
    return {a: pa.array(frame[a].to_numpy()) for a in "xyz"}


@pytest.mark.parametrize(
    ("make", "unit"),
    [
        pytest.param(pa.timestamp, "ms", id="timestamp[ms]"),
        pytest.param(pa.timestamp, "us", id="timestamp[us]"),
        pytest.param(pa.timestamp, "ns", id="timestamp[ns]"),  # what pandas writes
        pytest.param(lambda u: pa.timestamp(u, tz="Europe/Berlin"), "ns", id="timestamp[ns,tz]"),
        pytest.param(pa.duration, "ms", id="duration[ms]"),
        pytest.param(pa.duration, "ns", id="duration[ns]"),
    ],
)
def test_a_typed_time_column_is_read_in_its_declared_unit(
    make: object, unit: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    """A Parquet timestamp[ns] or duration[ns] column was refused ('median spacing of 2e+07
    time units'), and so was every --time-unit; its type says its unit. The times, in s
    from the first, are the integer differences, exact, in any chunking."""
    ns = _ns(frame, EPOCH_NS if make is not pa.duration else 123_456_789_000)
    values = ns // round(SCALE[unit] / 1e-9)
    typ = make(unit)  # type: ignore[operator]
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"t": pa.array(values, pa.int64()).cast(typ), **_axes(frame)}), path)
    rec = open_recording(path, rows=128)
    assert (rec.time_unit, rec.fs, rec.units, rec.rows) == (unit, 50.0, "g", len(frame))
    assert rec.info["time unit"] == f"{unit} (a {typ} column)"
    trace, _ = read_recording(path)
    np.testing.assert_array_equal(trace.t, (values - values[0]).astype(np.float64) * SCALE[unit])
    assert open_recording(path, time_unit=unit).rest == rec.rest  # the same unit: fine
    other = "s" if unit != "s" else "ms"
    with pytest.raises(InvalidParameter) as err:
        open_recording(path, time_unit=other)  # type: ignore[arg-type]
    assert str(err.value) == (
        f"recording typed.parquet: column 't' is {typ}, whose type gives its unit ({unit}); "
        f'time_unit="{other}" contradicts it; leave time_unit out'
    )


@pytest.mark.parametrize("start", [EPOCH_NS, 86_400_123_456_789], ids=["epoch", "since-boot"])
def test_nanosecond_integers_are_read_as_ns(
    start: int, frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whole numbers 2e7 apart (an Android sensor log at 50 Hz) are ns: inferred, and
    --time-unit ns is allowed (it was not among the choices the message offered). Past
    2**53 a float64 holds them only to 256 ns; the times are the exact differences."""
    ns = _ns(frame, start)
    path = tmp_path / "android.csv"
    frame.assign(t=ns).to_csv(path, index=False)
    rec = open_recording(path, rows=100)
    assert (rec.time_unit, rec.fs, rec.info["time unit"]) == ("ns", 50.0, "ns")
    trace, _ = read_recording(path)
    np.testing.assert_array_equal(trace.t, (ns - ns[0]).astype(np.float64) * 1e-9)
    assert open_recording(path, time_unit="ns").rest == rec.rest
    assert main(["count", str(path), "--time-unit", "ns", "--model", "float"]) == 0
    assert "time unit ns" in capsys.readouterr().out


ISO = {
    "T": "%Y-%m-%dT%H:%M:%S.%f",
    "space-Z": "%Y-%m-%d %H:%M:%S.%fZ",
    "offset": "%Y-%m-%dT%H:%M:%S.%f+02:00",
}


@pytest.mark.parametrize("form", list(ISO))
def test_iso_8601_text_is_read_as_datetimes(form: str, frame: pd.DataFrame, tmp_path: Path) -> None:
    """A CSV time column of ISO 8601 text was 'must be numeric'."""
    when = pd.to_datetime(_ns(frame), unit="ns")
    path = tmp_path / "iso.csv"
    frame.assign(t=when.strftime(ISO[form])).to_csv(path, index=False)
    rec = open_recording(path, rows=64)
    assert (rec.time_unit, rec.fs, rec.info["time unit"]) == ("ns", 50.0, "ns (ISO 8601 text)")
    us = _ns(frame) // 1000 * 1000  # written to the us
    trace, _ = read_recording(path)
    np.testing.assert_array_equal(trace.t, (us - us[0]).astype(np.float64) * 1e-9)
    with pytest.raises(InvalidParameter, match=r"ISO 8601 .*time_unit=\"ms\" does not apply"):
        open_recording(path, time_unit="ms")


@pytest.mark.parametrize(
    ("cell", "row"),
    [("12:00:00.020", 1), ("05/01/2024 12:00:00", 1), ("soon", 321)],
    ids=["time-of-day", "not-iso", "word-in-chunk-3"],
)
def test_text_that_is_no_datetime_says_how_to_convert(
    cell: str, row: int, frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    when = pd.to_datetime(_ns(frame), unit="ns").strftime(ISO["T"]).to_numpy().copy()
    when[row] = cell
    path = tmp_path / "text.csv"
    frame.assign(t=when).to_csv(path, index=False)
    assert main(["count", str(path), "--model", "float"]) == 2
    assert capsys.readouterr().err == (
        f"error: recording text.csv: column 't', row {row}: {cell!r} is neither a number nor "
        "an ISO 8601 date and time; write the times as numbers in s, ms, us or ns "
        "(--time-unit) or as ISO 8601 text such as '2024-05-01T12:00:00.020'\n"
    )


def _spaced(tmp_path: Path, spacing: float, rows: int = 600) -> Path:
    path = tmp_path / "spaced.csv"
    t = np.arange(rows) * spacing
    pd.DataFrame({"t": t, "x": 0.0, "y": 0.0, "z": 1.0}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("spacing", "said"),
    [
        # 2.5 Hz in s; in ms, faster than any unit is inferred at: not advised
        (
            0.4,
            "in s it is 2.5 Hz, under the 5 Hz allowed; in ms it is 2,500 Hz and 0.24 s long, "
            "faster than the 1,000 Hz up to which the time unit is inferred: pass --time-unit "
            "ms only if the times are in ms",
        ),
        # 2 Hz in s: 'pass --time-unit ms (2,000 Hz, 1.8 s long)' made it garbage
        (
            0.5,
            "in s it is 2 Hz, under the 5 Hz allowed; in ms it is 2,000 Hz and 0.299 s long, "
            "faster than the 1,000 Hz up to which the time unit is inferred: pass --time-unit "
            "ms only if the times are in ms",
        ),
        # ns, but not whole numbers: not inferred
        (2e7 + 0.5, "if the times are in ns, pass --time-unit ns (50 Hz, 12 s long)"),
        # 2 Hz in us
        (
            5e5,
            "in us it is 2 Hz, under the 5 Hz allowed; in ns it is 2,000 Hz and 0.3 s long, "
            "faster than the 1,000 Hz up to which the time unit is inferred: pass --time-unit "
            "ns only if the times are in ns",
        ),
        # just over 5 Hz's spacing: shown with the digits that tell it from 0.2
        (
            0.2000002,
            "in s it is 4.999995 Hz, under the 5 Hz allowed; in ms it is 5,000 Hz and 0.12 s "
            "long, faster than the 1,000 Hz up to which the time unit is inferred: pass "
            "--time-unit ms only if the times are in ms",
        ),
        (3e8, None),  # under 5 Hz in every unit
    ],
)
def test_a_spacing_no_unit_explains_gets_advice_that_works(
    spacing: float, said: str | None, tmp_path: Path
) -> None:
    """'pass --time-unit s|ms|us' was offered where none of them could work, and a 2 Hz
    recording in s was advised to be read as 2 kHz in ms."""
    path = _spaced(tmp_path, spacing)
    with pytest.raises(InvalidParameter) as err:
        open_recording(path, advise="cli")
    message = str(err.value)
    if said is None:
        assert re.fullmatch(
            r"recording spaced.csv: its median spacing of 3e\+08 gives a sample rate under 5 Hz "
            r"in any time unit \(s, ms, us or ns\); allowed: at least 5 Hz",
            message,
        ), message
        return
    shown = "0.2000002" if spacing == 0.2000002 else f"{spacing:.3g}"
    assert message == (
        f"recording spaced.csv: cannot infer the time unit from a median spacing of {shown} "
        f"time units; {said}"
    )
    advice = re.search(r"pass --time-unit (\w+)", said)
    assert advice is not None
    unit = advice[1]
    rate = 1.0 / (spacing * SCALE[unit])
    assert open_recording(path, time_unit=unit).fs == round(rate, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [20, 40, 60, 80, 100, 150])
def test_5_hz_in_s_is_inferred_whatever_the_length(seconds: int, tmp_path: Path) -> None:
    """Times 0.2 apart written as decimals have a median spacing of 0.20000000000000018
    from 80 s on: just over the 0.2 s limit, refused with 'cannot infer the time unit from
    a median spacing of 0.2 time units; if the times are in s, pass --time-unit s'."""
    n = seconds * 5
    rng = np.random.default_rng(0)
    x = np.tile([0.0, 0.0, 1.0], (n, 1)) + rng.normal(0.0, 0.02, (n, 3))
    path = tmp_path / "five.csv"
    t = np.arange(n) / 5.0
    pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}).to_csv(path, index=False)
    rec = open_recording(path)
    assert (rec.time_unit, rec.fs) == ("s", 5.0)
    # Seconds since 1970 as floats are 2.4e-7 apart at best: their spacings too.
    t = 1.7e9 + np.arange(n) / 5.0
    pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}).to_csv(path, index=False)
    rec = open_recording(path)
    assert (rec.time_unit, rec.fs) == ("s", 5.0)
    # 1 kHz in s, at the other end.
    t = np.arange(n) / 1000.0 + 7.0
    pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}).to_csv(path, index=False)
    assert (open_recording(path).time_unit, open_recording(path).fs) == ("s", 1000.0)


@pytest.mark.parametrize(
    ("spacing", "unit", "match"),
    [
        # 20 s apart is 0.05 Hz, printed as 0.1 Hz (rounded to the 0.1 Hz the rate is kept to)
        (
            20.0,
            "s",
            r"gives a sample rate of 0\.05 Hz; allowed: at least 5 Hz \(a spacing of at "
            r'most 0\.2 s\); if the times are in ms, pass time_unit="ms" \(50 Hz, 0\.38 s long\)$',
        ),
        (
            2e7,
            "us",
            r'in us gives a sample rate of 0\.05 Hz; .*pass time_unit="ns" \(50 Hz, 0\.38 s '
            r"long\)$",
        ),
        (
            1e9,
            "ns",
            r"in ns gives a sample rate of 1 Hz; allowed: at least 5 Hz \(a spacing of "
            r"at most 0\.2 s\)$",
        ),
    ],
)
def test_a_rate_too_slow_is_printed_as_it_is(
    spacing: float, unit: str, match: str, tmp_path: Path
) -> None:
    path = _spaced(tmp_path, spacing, rows=20)
    with pytest.raises(InvalidParameter, match=match):
        open_recording(path, time_unit=unit)  # type: ignore[arg-type]


def _write(frame: pd.DataFrame, form: str, path: Path) -> None:
    ns = _ns(frame)
    if form == "ns":
        frame.assign(t=ns).to_csv(path, index=False)
    elif form == "iso":
        when = pd.to_datetime(ns, unit="ns").strftime("%Y-%m-%dT%H:%M:%S.%f")
        frame.assign(t=when).to_csv(path, index=False)
    else:
        t = pa.array(ns, pa.int64()).cast(pa.timestamp("ns"))
        pq.write_table(pa.table({"t": t, **_axes(frame)}), path)


@pytest.mark.parametrize("form", ["ns", "iso", "timestamp"])
def test_times_are_the_same_in_any_chunking(form: str, frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / ("r.parquet" if form == "timestamp" else "r.csv")
    _write(frame, form, path)
    whole = open_recording(path)
    t_whole = np.concatenate([p[0] for p in whole.pieces()])
    for rows in (1, 7, 100):
        rec = open_recording(path, rows=rows)
        assert (rec.fs, rec.rest, rec.duration_s) == (whole.fs, whole.rest, whole.duration_s)
        for again in (rec, whole):
            t = np.concatenate([p[0] for p in again.pieces(rows=rows)])
            np.testing.assert_array_equal(t, t_whole)


@pytest.mark.parametrize("form", ["ns", "iso", "timestamp"])
def test_messages_show_times_as_the_file_holds_them(
    form: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Not as offsets from the first time, nor as floats off by 256 ns (1.71e+18)."""
    f = frame.copy()
    f.loc[20, "t"] = f.loc[19, "t"]
    path = tmp_path / ("r.parquet" if form == "timestamp" else "r.csv")
    _write(f, form, path)
    ns = int(_ns(f)[19])
    shown = {
        "ns": str(ns),
        "iso": repr(pd.Timestamp(ns // 1000 * 1000).isoformat()),
        "timestamp": repr(pd.Timestamp(ns).isoformat()),
    }[form]
    with pytest.raises(InvalidParameter) as err:
        open_recording(path, rows=20)
    assert (
        f"not strictly increasing at row 20 of {path.name} (column 't': {shown} then {shown})"
        in str(err.value)
    )


@pytest.mark.parametrize(
    ("column", "scale", "unit"),
    [
        ("time_s", 1.0, "s"),
        ("seconds", 1.0, "s"),
        ("time_ms", 1e3, "ms"),
        ("timestamp_ms", 1e3, "ms"),
        ("timestamp_us", 1e6, "us"),
        ("timestamp_ns", 1e9, "ns"),
    ],
)
def test_a_time_column_named_with_its_unit_is_read_in_it(
    column: str, scale: float, unit: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "named.csv"
    t = frame["t"] - frame["t"].iloc[0]
    frame.assign(t=np.round(t * scale) if unit == "ns" else t * scale).rename(
        columns={"t": column}
    ).to_csv(path, index=False)
    rec = open_recording(path)
    assert (rec.time, rec.time_unit, rec.fs) == (column, unit, 50.0)


def test_whole_seconds_named_as_seconds_are_1_hz_not_1_khz(tmp_path: Path) -> None:
    """A 'time_s' column of whole seconds (a 1 Hz log) was read as milliseconds, a
    1 kHz recording 1,000 times too short, and counted."""
    n = 4_000
    rest = {"x": np.full(n, 0.01), "y": np.zeros(n), "z": np.ones(n)}
    path = tmp_path / "slow.csv"
    pd.DataFrame({"time_s": np.arange(n), **rest}).to_csv(path, index=False)
    with pytest.raises(InvalidParameter) as err:
        open_recording(path)
    assert str(err.value) == (
        "recording slow.csv: its median spacing in s gives a sample rate of 1 Hz; allowed: at "
        "least 5 Hz (a spacing of at most 0.2 s); its time column 'time_s' names the unit s"
    )
    # A plain 't' says no unit: whole numbers 1 apart are 1 kHz milliseconds, as documented.
    pd.DataFrame({"t": np.arange(n), **rest}).to_csv(path, index=False)
    assert (open_recording(path).time_unit, open_recording(path).fs) == ("ms", 1000.0)


def test_whole_numbers_1_apart_read_as_1_khz_say_they_may_be_1_hz(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A plain 't' of whole numbers 1 apart is read as 1 kHz milliseconds without a word,
    though a 1 Hz log in whole seconds writes the same: the output says so, and how to
    say which it is; the advice works (named or given, seconds are refused as 1 Hz)."""
    n = 4_000
    rng = np.random.default_rng(5)
    rest = {a: rng.normal(0.0, 0.01, n) + (a == "z") for a in "xyz"}
    path = tmp_path / "whole.csv"
    pd.DataFrame({"t": np.arange(n), **rest}).to_csv(path, index=False)
    note = (
        "unit: whole numbers 1 apart in t are read as ms (1,000 Hz); if they are whole seconds "
        "(1 Hz, too slow to count), name the column time_s or pass "
    )
    assert open_recording(path).info["check time"] == note + 'time_unit="s"'
    assert main(["count", str(path), "--units", "g"]) == 0
    assert f"check time {note}--time-unit s\n" in capsys.readouterr().out
    for advice in ({"time_unit": "s"}, {}):
        if not advice:
            pd.DataFrame({"time_s": np.arange(n), **rest}).to_csv(path, index=False)
        with pytest.raises(InvalidParameter, match="gives a sample rate of 1 Hz; allowed"):
            open_recording(path, **advice)
    # No note where the unit is given or named, or the times are not whole numbers 1 apart
    # (decimals 1 apart are 1 kHz).
    for f, given in (
        (pd.DataFrame({"t": np.arange(n), **rest}), "ms"),
        (pd.DataFrame({"time_ms": np.arange(n), **rest}), "auto"),
        (pd.DataFrame({"t": np.arange(n) * 2, **rest}), "auto"),
        (pd.DataFrame({"t": np.arange(n) + 0.25, **rest}), "auto"),
    ):
        f.to_csv(path, index=False)
        rec = open_recording(path, time_unit=given)
        assert rec.time_unit == "ms" and "check time" not in rec.info


def test_a_time_unit_given_against_the_columns_name_is_refused(
    frame: pd.DataFrame, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "named.csv"
    frame.assign(t=frame["t"] * 1e3).rename(columns={"t": "time_ms"}).to_csv(path, index=False)
    assert main(["count", str(path), "--time-unit", "s"]) == 2
    assert capsys.readouterr().err == (
        "error: recording named.csv: its time column 'time_ms' names the unit ms; --time-unit "
        "s contradicts it; leave --time-unit out (or pass --time-unit ms), or rename the "
        "column\n"
    )
    assert open_recording(path, time_unit="ms").fs == 50.0


_ISO_START = pd.Timestamp("2024-05-01T12:00:00", tz="UTC")


@pytest.mark.parametrize(
    ("times", "cell", "said"),
    [
        # It named row 0 and its valid '0.0' as 'neither a number nor an ISO 8601 date'.
        (
            [f"{k / 50:.2f}" for k in range(600)],
            "oops",
            "'oops' is not a number, as the column's first time is; write every time as a number",
        ),
        # It called '12.5', a number, 'neither a number nor an ISO 8601 date and time'.
        (
            [(_ISO_START + pd.Timedelta(milliseconds=20 * k)).isoformat() for k in range(600)],
            "12.5",
            "'12.5' is a number, not ISO 8601 text as the column's first time is; write every "
            "time one way",
        ),
    ],
    ids=["text-among-numbers", "number-among-iso"],
)
def test_a_time_cell_of_the_other_kind_is_named(
    times: list[str], cell: str, said: str, tmp_path: Path
) -> None:
    t = list(times)
    t[500] = cell
    path = tmp_path / "mixed.csv"
    pd.DataFrame({"t": t, "x": 0.0, "y": 0.01, "z": 1.0}).to_csv(path, index=False)
    with pytest.raises(InvalidParameter) as err:
        open_recording(path)
    assert str(err.value) == f"recording mixed.csv: column 't', row 500: {said}"


def test_a_decimal_time_column_is_read_as_numbers(tmp_path: Path) -> None:
    """A Parquet decimal128 time column was 'neither a number nor an ISO 8601 date'."""
    import decimal

    n = 600
    rng = np.random.default_rng(0)
    times = [decimal.Decimal(f"{k / 50:.4f}") for k in range(n)]
    table = pa.table(
        {
            "t": pa.array(times, pa.decimal128(12, 4)),
            **{a: rng.normal(0.0, 0.01, n) + (a == "z") for a in "xyz"},
        }
    )
    pq.write_table(table, tmp_path / "dec.parquet")
    rec = open_recording(tmp_path / "dec.parquet")
    assert (rec.time_unit, rec.fs) == ("s", 50.0)


@pytest.mark.parametrize(
    ("start", "value"),
    [
        pytest.param(0, "99999999999999999999", id="past-uint64"),
        pytest.param(0, "-99999999999999999999", id="before-int64"),
        pytest.param(-1000, "18446744073709551615", id="uint64-among-negative"),
    ],
)
@pytest.mark.parametrize("rows", [256, 1 << 18])
def test_a_time_outside_64_bits_is_named_with_what_is_allowed(
    start: int, value: str, rows: int, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A whole number past 64 bits in a CSV time column made pandas hold the column as
    Python ints or text, and the message named row 0 and its valid time as 'neither a
    number nor an ISO 8601 date and time'."""
    n = 600
    t = [str(start + k) for k in range(n)]
    t[500] = value
    path = tmp_path / "wide.csv"
    pd.DataFrame({"t": t, "x": 0.0, "y": 0.01, "z": 1.0}).to_csv(path, index=False)
    message = (
        f"recording wide.csv: column 't', row 500: {value} is a whole number outside the 64-bit "
        "integers; allowed: whole numbers from -9223372036854775808 to 9223372036854775807, or "
        "from 0 to 18446744073709551615 when none is negative (ns since 1970 take 19 digits), "
        "or numbers with a decimal point"
    )
    with pytest.raises(InvalidParameter) as err:
        open_recording(path, rows=rows)
    assert str(err.value) == message
    assert main(["count", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
