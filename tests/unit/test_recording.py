"""Reading recordings and `highfive count` on them (with the toy model)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import highfive.reports
from highfive.generators import (
    Detection,
    G,
    InvalidParameter,
    Trace,
    default_space,
    synthesize,
)
from highfive.harness import CounterPipeline, Model, load_counter
from highfive.harness import _pipeline as pipeline_module
from highfive.harness import _recording as recording_module
from highfive.harness import _recording_count as count_module
from highfive.harness import _recording_median as median_module
from highfive.harness._recording import open_recording, read_recording
from highfive.harness._recording_count import count_recording
from highfive.harness._recording_quiet import _Quiet
from highfive.harness._recording_read import STILL, _units_of
from highfive.harness.cli import main
from highfive.reports import _plot_count as plot_module
from highfive.reports import plot_count
from highfive.reports._plots import plot_replay, plot_trace


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    tr = synthesize(default_space().complete({"repetitions": 2}), 3)
    return pd.DataFrame(
        {"t": tr.t, "x": tr.samples[:, 0], "y": tr.samples[:, 1], "z": tr.samples[:, 2]}
    )


@pytest.fixture(scope="module")
def model_path(toy_model_path: Path) -> Path:
    return toy_model_path


def test_units_and_time_unit_are_inferred(frame: pd.DataFrame, tmp_path: Path) -> None:
    other = pd.DataFrame(
        {
            "Timestamp": frame["t"] * 1000.0,
            "acc_x": frame["x"] * G,
            "acc_y": frame["y"] * G,
            "acc_z": frame["z"] * G,
        }
    )
    other.to_parquet(tmp_path / "r.parquet")
    frame.to_csv(tmp_path / "r.csv", index=False)
    a, info_a = read_recording(tmp_path / "r.csv")
    b, info_b = read_recording(tmp_path / "r.parquet")
    assert info_a["units"] == "g" and info_b["units"] == "m/s2"
    assert a.fs == b.fs == 50.0
    np.testing.assert_allclose(a.samples, b.samples, atol=1e-5)
    np.testing.assert_allclose(a.t, b.t, atol=1e-9)


def test_count_prints_detections_and_leaves_the_file_alone(
    frame: pd.DataFrame, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = tmp_path / "r.csv"
    frame.to_csv(rec, index=False)
    before = hashlib.sha256(rec.read_bytes()).hexdigest(), rec.stat().st_mtime_ns
    assert (
        main(["count", str(rec), "--model", str(model_path), "--plot", str(tmp_path / "r.png")])
        == 0
    )
    out = capsys.readouterr().out
    assert "units g" in out and "sample rate 50 Hz" in out and "count: " in out
    assert (hashlib.sha256(rec.read_bytes()).hexdigest(), rec.stat().st_mtime_ns) == before
    assert (tmp_path / "r.png").exists()
    assert main(["count", str(rec), "--model", str(model_path), "--json"]) == 0
    assert '"count"' in capsys.readouterr().out
    # With --plot too, stdout stays one JSON document ("wrote" followed it there).
    png = tmp_path / "j.png"
    assert main(["count", str(rec), "--model", str(model_path), "--json", "--plot", str(png)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["count"] >= 0 and err == f"wrote {png}\n"


def _bad(tmp_path: Path, frame: pd.DataFrame, kind: str) -> Path:
    f = frame.copy()
    if kind == "missing-axis":
        f = f.drop(columns="z")
    elif kind == "missing-time":
        f = f.rename(columns={"t": "when"})
    elif kind == "units":
        f[["x", "y", "z"]] *= 50.0
    elif kind == "milli-g":
        f[["x", "y", "z"]] *= 1000.0
    elif kind == "rate":
        f["t"] *= 25.0  # 0.5 s spacing: neither s, ms nor us at a plausible rate
    elif kind == "nan":
        f.loc[10, "y"] = np.nan
    elif kind == "backwards":
        f.loc[100, "t"] = f.loc[99, "t"]
    elif kind == "text":
        f["x"] = "high"
    elif kind == "huge":  # squared before the check: overflow warnings came first
        f["y"] = f["y"].astype(np.float64)
        f.loc[50, "y"] = 1e300
    elif kind == "x-and-X":  # X was taken silently (the last of the two)
        f["X"] = 5.0
    elif kind == "t-and-time":  # t was taken silently, time ignored
        f["time"] = f["t"] * 1000.0
    elif kind == "two-axis-sets":  # x, y, z were taken silently, ax, ay, az ignored
        f[["ax", "ay", "az"]] = f[["x", "y", "z"]].to_numpy() * 9.81
    path = tmp_path / f"{kind}.csv"
    f.to_csv(path, index=False)
    if kind == "x-twice":  # pandas renamed the second x to x.1, and it was dropped
        lines = path.read_text().splitlines()
        lines = [lines[0] + ",x"] + [line + ",5" for line in lines[1:]]
        path.write_text("\n".join(lines) + "\n")
    if kind == "extra-field-everywhere":  # pandas made the first column an index
        lines = path.read_text().splitlines()
        lines = lines[:1] + [line + ",1" for line in lines[1:]]
        path.write_text("\n".join(lines) + "\n")
    if kind == "extra-field":  # a row of five fields was read shifted, without a word
        lines = path.read_text().splitlines()
        lines[101] += ",1"
        path.write_text("\n".join(lines) + "\n")
    return path


BAD = [
    ("missing-axis", "no three axis columns among"),
    ("missing-time", "no time column among"),
    (  # 50 x the about 1 g that the synthetic watch reads at rest; it was told to pass
        # --units g or m/s2, neither of which reads it
        "units",
        r"cannot infer units: its quietest 1.28 s read (49\.[5-9]\d*|50(\.\d+)?) on average; a "
        r"worn watch at rest reads about 1 g or 9.81 m/s\^2: convert other units \(milli-g, "
        r"raw counts\) to g or m/s2\n",
    ),
    (  # as a watch exporting milli-g writes it
        "milli-g",
        r"its quietest 1.28 s read (99[5-9]|100\d)(\.\d+)? on average; a worn watch at rest "
        r"reads about 1 g or 9.81 m/s\^2: convert other units \(milli-g, raw counts\) to g or "
        r"m/s2\n",
    ),
    (  # 'pass --time-unit s|ms|us', then 'pass --time-unit ms' for 2 Hz in s
        "rate",
        r"cannot infer the time unit from a median spacing of 0.5 time units; in s it is 2 "
        r"Hz, under the 5 Hz allowed; in ms it is 2,000 Hz and 0.25 s long, faster than the "
        r"1,000 Hz up to which the time unit is inferred: pass --time-unit ms only if the "
        r"times are in ms\n",
    ),
    ("nan", "row 10 is not finite"),
    ("backwards", "timestamps: not strictly increasing at row 100"),
    ("text", "must be numeric"),
    (
        "huge",
        r"row 50 \(x, y, z\) reads \(-?\d\.\d+, 1e\+300, -?\d\.\d+\), 1e\+300 in "
        r"magnitude; allowed: at most 1,000 g",
    ),
    ("x-and-X", r"columns 'x' and 'X' both read as 'x'; keep one"),
    ("x-twice", r"columns 'x' and 'x' both read as 'x'; keep one"),
    ("t-and-time", r"columns 't' and 'time' both name the time; keep one"),
    ("two-axis-sets", r"columns 'x' and 'ax' both name the axes; keep one"),
    ("extra-field-everywhere", r"its rows hold more fields than its header names"),
    ("extra-field", r"cannot read extra-field.csv \(.*Expected 4 fields in line 102, saw 5"),
]


@pytest.mark.parametrize("kind, match", BAD, ids=[b[0] for b in BAD])
def test_bad_recordings_exit_2_with_one_line(
    kind: str,
    match: str,
    frame: pd.DataFrame,
    model_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _bad(tmp_path, frame, kind)
    assert main(["count", str(path), "--model", str(model_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(match, err), err


@pytest.mark.parametrize("seed", [11, 13])
def test_synth_csv_is_read_by_count_as_written(
    seed: int, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'synth --random --csv' wrote x, y, z: a walking or running background has no
    still second, so count could not infer g (seeds 11 and 13 of 10..40, among 13).
    Its header names the units (x_g, y_g, z_g), which count reads as g."""
    path = tmp_path / "r.csv"
    assert main(["synth", "high_five", "--random", "--seed", str(seed), "--csv", str(path)]) == 0
    assert path.read_text().splitlines()[0] == "t,x_g,y_g,z_g"
    capsys.readouterr()
    assert main(["count", str(path), "--model", str(model_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"] == "g"
    rec = open_recording(path)
    assert rec.rest.spread > STILL * rec.rest.magnitude  # not still: named, not inferred
    assert open_recording(path, units="g").rest == rec.rest


@pytest.mark.parametrize("name", ["x_g", "X_G"])
def test_units_given_against_the_column_names_are_refused(
    name: str, frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = frame.rename(columns={a: name.replace("x", a).replace("X", a.upper()) for a in "xyz"})
    path = tmp_path / "named.csv"
    f.to_csv(path, index=False)
    axes = ", ".join(f.columns[1:])
    assert main(["count", str(path), "--units", "m/s2"]) == 2
    assert capsys.readouterr().err == (
        f"error: recording named.csv: its columns {axes} name the units g; --units m/s2 "
        "contradicts them; leave --units out (or pass --units g), or rename the columns\n"
    )
    assert open_recording(path, units="g").units == "g"


def test_axes_named_in_g_holding_m_s2_get_advice_that_works(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Axes named x_g, y_g, z_g holding m/s^2 (9.81 at rest) were read as g and told to
    'check the units (--units)', which refuses --units m/s2 against those names. The
    advice names what works: renaming the columns, after which the units are right."""
    named = frame.copy()
    named[["x", "y", "z"]] *= G
    named = named.rename(columns={a: f"{a}_g" for a in "xyz"})
    path = tmp_path / "named.csv"
    named.to_csv(path, index=False)
    rec = open_recording(path)
    assert rec.units == "g" and rec.info["check"] == (
        f"the units: the columns x_g, y_g, z_g name g, but at rest they read "
        f"{rec.rest.magnitude:.3g}, as a watch at rest reads in m/s2 (1 g is 9.81 m/s2); if the "
        "values are m/s2, rename the columns to x, y, z (the units are then inferred, or pass "
        'units="m/s2")'
    )
    named.rename(columns={f"{a}_g": a for a in "xyz"}).to_csv(path, index=False)
    for units in ("auto", "m/s2"):
        renamed = open_recording(path, units=units)
        assert renamed.units == "m/s2" and "check" not in renamed.info
        assert renamed.rest.magnitude == pytest.approx(rec.rest.magnitude / G)
    # Gravity removed, in g: the advice on the units says how to give others too.
    linear = frame.copy()
    linear[["x", "y", "z"]] -= linear[["x", "y", "z"]].iloc[:50].mean()
    linear.rename(columns={a: f"{a}_g" for a in "xyz"}).to_csv(path, index=False)
    assert (
        open_recording(path)
        .info["check"]
        .startswith(
            "the units (named g by the columns x_g, y_g, z_g, which the units argument cannot "
            "change: rename them to x, y, z to give the units or have them inferred) and that "
            "the recording holds gravity: "
        )
    )


@pytest.mark.parametrize(
    ("row", "units", "match"),
    [
        pytest.param(
            (900.0, 900.0, 900.0),
            "auto",
            r"row 100 \(x, y, z\) reads \(900, 900, 900\), 1,559 g in magnitude; allowed: at "
            r"most 1,000 g in magnitude",  # inferred: the file reads 1 g at rest
            id="each-axis-under-the-limit",  # 1,559 g was accepted, each axis being < 1,000
        ),
        pytest.param(
            (1001.0, 0.0, 0.0),
            "g",
            r"row 100 \(x, y, z\) reads \(1001, 0, 0\), 1,001 g in magnitude; allowed: at "
            r"most 1,000 g in magnitude",
            id="just-over",  # printed as 1e+03, which reads as the limit itself
        ),
        pytest.param(
            (0.0, 1000.0, 0.04),
            "g",
            r"reads \(0, 1000, 0\.04\), 1,000\.000001 g in magnitude",
            id="a-hair-over",
        ),
        pytest.param(
            (7000.0, 7000.0, 0.0),
            "m/s2",
            r"reads \(7000, 7000, 0\), 9,899 m/s2 in magnitude; allowed: at most 9,807 m/s2 "
            r"\(1,000 g\)",
            id="m/s2",
        ),
    ],
)
def test_the_1000_g_limit_is_on_the_magnitude(
    row: tuple[float, float, float],
    units: str,
    match: str,
    frame: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's rule, 'a sample larger than 1,000 g in magnitude', on the vector, with
    the magnitude printed to the digit that puts it over the limit."""
    f = frame.astype(np.float64)
    if units == "m/s2":
        f[["x", "y", "z"]] *= G
    f.loc[100, ["x", "y", "z"]] = row
    path = tmp_path / "big.csv"
    f.to_csv(path, index=False)
    assert main(["count", str(path), "--units", units]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: recording big.csv: ") and err.count("\n") == 1
    assert re.search(match, err), err
    limit = 1000.0 * (G if units == "m/s2" else 1.0)
    f.loc[100, ["x", "y", "z"]] = np.array(row) * (0.999 * limit / np.linalg.norm(row))
    f.to_csv(path, index=False)
    assert open_recording(path, units=units if units != "auto" else "g").rows == len(f)


@pytest.mark.parametrize(
    "name, match",
    [
        ("nope.csv", "does not exist"),
        ("rec.txt", "allowed: .csv, .parquet"),
        # A named pipe was said not to exist.
        ("pipe.csv", r"pipe.csv' is not a regular file \(a device, pipe or socket\); give a"),
    ],
    ids=["missing", "suffix", "fifo"],
)
def test_bad_paths(name: str, match: str, tmp_path: Path) -> None:
    # In a folder with a long name: a path of more than 60 characters was cut
    # ("'/tmp/.../pip'... (61 characters)"), naming no file the user could find.
    folder = tmp_path / ("long-folder-name-" * 4)
    folder.mkdir()
    (folder / "rec.txt").write_text("t,x,y,z\n")
    os.mkfifo(folder / "pipe.csv")
    with pytest.raises(InvalidParameter, match=match) as err:
        read_recording(folder / name)
    assert name == "rec.txt" or str(folder / name) in str(err.value)


def test_missing_model_is_one_line(
    frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = tmp_path / "r.csv"
    frame.to_csv(rec, index=False)
    assert main(["count", str(rec), "--model", str(tmp_path / "none.onnx")]) == 2
    assert "is neither a file nor a shipped model" in capsys.readouterr().err


# -- long recordings: read in chunks, counted in pieces, the same result --------------
def _long_frame(rate: int, cases: int, seed: int = 5) -> pd.DataFrame:
    """Generated cases back to back at ``rate`` Hz, as a recording's columns."""
    space = default_space()
    rows = space.rows(np.random.default_rng(seed).random((cases, space.d)))
    ts, xs, offset = [], [], 0.0
    for i, row in enumerate(rows):
        tr = synthesize({**dict(row), "sample_rate": rate}, i, validate=False)
        ts.append(tr.t - tr.t[0] + offset)
        xs.append(tr.samples)
        offset = float(ts[-1][-1]) + 1.0 / rate
    t, x = np.concatenate(ts), np.concatenate(xs)
    return pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]})


@pytest.fixture(scope="module")
def long_frame() -> pd.DataFrame:
    return _long_frame(100, 70)  # 15 minutes at 100 Hz, about 100,000 rows


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_long_recording_is_counted_in_pieces_as_the_whole_trace(
    suffix: str, long_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read 4,096 rows at a time and streamed: the detections (to the bit) of the whole
    recording through CounterPipeline.run, while no step sees more than a chunk of rows
    or a filter-bank chunk of windows (10 million rows took 5-6 GB; now memory does not
    grow with the recording: benchmarks/bench_count.py)."""
    path = tmp_path / f"long{suffix}"
    if suffix == ".csv":
        long_frame.to_csv(path, index=False)
    else:
        long_frame.to_parquet(path)
    read = pd.read_csv(path) if suffix == ".csv" else long_frame
    t = read["t"].to_numpy()
    fs = round(1.0 / float(np.median(np.diff(t))), 1)  # as the whole-file reader found it
    whole = CounterPipeline("float").run(Trace(t=t - t[0], samples=read[["x", "y", "z"]], fs=fs))
    assert whole.count > 5

    biggest = {"rows": 0, "windows": 0}
    frames, features = recording_module._frames, pipeline_module.features_of_windows

    def frames_seen(*args: object) -> object:
        for f in frames(*args):  # type: ignore[arg-type]
            biggest["rows"] = max(biggest["rows"], len(f))
            yield f

    def features_seen(windows: np.ndarray, spec: object) -> np.ndarray:
        biggest["windows"] = max(biggest["windows"], windows.shape[0])
        return features(windows, spec)  # type: ignore[arg-type]

    monkeypatch.setattr(recording_module, "_frames", frames_seen)
    monkeypatch.setattr(count_module, "WHOLE_ROWS", 1000)
    monkeypatch.setattr(pipeline_module, "features_of_windows", features_seen)
    rec = open_recording(path, rows=4096)
    assert (rec.rows, rec.fs, rec.units) == (len(long_frame), fs, "g")
    result = count_recording(rec, load_counter("float"))
    assert result.detections == whole.detections
    assert [(s.samples, s.count) for s in result.segments] == [(len(long_frame), whole.count)]
    assert biggest["rows"] == 4096 and 0 < biggest["windows"] < whole.probs.size / 3


def _gapped(frame: pd.DataFrame, at: list[int], gap_s: list[float]) -> pd.DataFrame:
    out = frame.copy()
    for i, g in zip(at, gap_s, strict=True):
        out.loc[i:, "t"] += g
    return out


def test_gaps_split_a_recording_into_segments_counted_one_by_one(
    frame: pd.DataFrame, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A day without samples is not interpolated (it took 2.3 GB for 500 rows and made
    up a day of data): each side is counted on its own, and the output says so."""
    rec = tmp_path / "day.csv"
    n = len(frame)
    _gapped(frame, [n // 2], [86400.0]).to_csv(rec, index=False)
    assert main(["count", str(rec), "--model", str(model_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    first, second = out["segments"]
    assert first["samples"] + second["samples"] == n and out["max_gap_s"] == 1.0
    assert [g["length_s"] > 86400 for g in out["gaps"]] == [True]
    assert (
        out["gaps"][0]["start_s"] == first["end_s"] and out["gaps"][0]["end_s"] == second["start_s"]
    )
    assert out["count"] == first["count"] + second["count"] == len(out["detections"])
    back = pd.read_csv(rec)
    t = back["t"].to_numpy() - back["t"].iloc[0]
    pipe = CounterPipeline(Model.load(model_path))
    want = []
    for part in (slice(0, n // 2), slice(n // 2, n)):
        trace = Trace(t=t[part], samples=back[["x", "y", "z"]].to_numpy()[part], fs=50.0)
        want += [d.time for d in pipe.run(trace).detections]
    assert [d["time_s"] for d in out["detections"]] == want
    assert main(["count", str(rec), "--model", str(model_path)]) == 0
    text = capsys.readouterr().out
    assert "1 gap(s) without samples for more than 1 s split it into 2 segments" in text
    assert re.search(r"gap +\d+\.\d+-86\d+\.\d+ s \(864\d\d\.\d+ s\)", text), text


def test_a_month_gap_and_short_stretches(
    frame: pd.DataFrame, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """30 days without samples (a 58 GiB allocation) and a stretch shorter than one
    window: listed, not counted, no error; nothing to count at all is one line."""
    rec = tmp_path / "month.csv"
    gapped = _gapped(frame, [200, 230], [30 * 86400.0, 5.0])
    gapped.to_csv(rec, index=False)
    assert main(["count", str(rec), "--model", str(model_path), "--json"]) == 0
    segments = json.loads(capsys.readouterr().out)["segments"]
    assert [s["samples"] for s in segments] == [200, 30, len(frame) - 230]
    assert segments[1]["count"] is None
    assert segments[1]["not_counted"] == "0.58 s, shorter than one window (1.5 s)"
    short = tmp_path / "short.csv"
    _gapped(frame.iloc[:120], [60], [3600.0]).to_csv(short, index=False)
    assert main(["count", str(short), "--model", str(model_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: recording short.csv: none of its 2 stretches between gaps of more than 1 s "
        "holds one window; nothing can be counted\n"
    )


def test_other_counters_get_each_segment_whole(
    frame: pd.DataFrame, python_counters: Path, tmp_path: Path
) -> None:
    rec = tmp_path / "gap.csv"
    _gapped(frame, [300], [100.0]).to_csv(rec, index=False)
    counter = load_counter(f"{python_counters}:biggest")
    result = count_recording(open_recording(rec), counter)
    assert len(result.segments) == 2 and result.gaps[0][1] - result.gaps[0][0] > 100
    assert all(s.count is not None and s.count <= 1 for s in result.segments)
    assert result.count == sum(s.count or 0 for s in result.segments)


def test_medians_are_exact_when_a_bin_straddles_a_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rate is round(1 / median spacing, 0.1 Hz) of np.median over the whole
    column, also when the counted bins cannot decide it (forced here with octave-wide
    bins, so the median is read again, 16 bits finer each time, down to the value)."""
    rng = np.random.default_rng(4)
    t = np.cumsum(rng.uniform(0.9, 1.1, 3001) / 50.05)  # around a 0.1 Hz rounding edge
    x = np.tile([0.0, 0.0, 1.0], (t.size, 1)) + rng.normal(0, 0.3, (t.size, 3))
    path = tmp_path / "edge.csv"
    pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}).to_csv(path, index=False)
    back = pd.read_csv(path)
    want_fs = round(1.0 / float(np.median(np.diff(back["t"].to_numpy()))), 1)
    monkeypatch.setattr(median_module, "_SHIFT", 52)
    passes = []
    real = median_module._Median.narrow
    monkeypatch.setattr(
        median_module._Median, "narrow", lambda self, v: passes.append(1) or real(self, v)
    )
    rec = open_recording(path, rows=500)
    assert rec.fs == want_fs and len(passes) >= 1  # read again to narrow the bin
    assert rec.units == "g"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param("nan", r"row 700 is not finite \(\d+\.\d+, \[nan, -?\d", id="nan-in-chunk-3"),
        pytest.param(
            "repeat",
            r"timestamps: not strictly increasing at row 512 of r\.csv \(column 't': "
            r"(\d+\.\d+) then \1\)",
            id="repeat-across-chunks",
        ),
    ],
)
def test_bad_rows_are_found_in_any_chunk(
    change: str, match: str, long_frame: pd.DataFrame, tmp_path: Path
) -> None:
    f = long_frame.iloc[:2000].copy()
    if change == "nan":
        f.loc[700, "x"] = np.nan
    else:
        f.loc[512, "t"] = f.loc[511, "t"]
    f.to_csv(tmp_path / "r.csv", index=False, float_format="%.6g")
    with pytest.raises(InvalidParameter, match=match) as err:
        open_recording(tmp_path / "r.csv", rows=256)
    assert "np." not in str(err.value)


def test_a_plot_of_a_long_recording_is_thinned(
    frame: pd.DataFrame, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = tmp_path / "r.csv"
    _gapped(frame, [300], [100.0]).to_csv(rec, index=False)
    counter = load_counter(str(model_path))
    full = count_recording(open_recording(rec), counter, plot=True).plot
    assert full is not None and full.t.size == len(frame) + 1  # a NaN sample in the gap
    assert np.isnan(full.samples[300]).all() and not np.isnan(full.samples[301]).any()
    monkeypatch.setattr(count_module, "PLOT_POINTS", 100)
    thin = count_recording(open_recording(rec), counter, plot=True).plot
    # Each axis's least and largest of every bucket; a bucket cut by the gap twice over.
    assert thin is not None and thin.t.size <= 100 + 6 + 1 and thin.t[0] == 0.0


def test_thinning_for_a_plot_keeps_every_spike(
    frame: pd.DataFrame, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every k-th sample was kept: an impact spike between two was not drawn."""
    f = frame.copy()
    f.loc[157, "x"], f.loc[311, "z"] = 7.5, -6.5
    f.to_csv(tmp_path / "r.csv", index=False)
    monkeypatch.setattr(count_module, "PLOT_POINTS", 60)
    for rows in (None, 100):
        rec = open_recording(tmp_path / "r.csv", rows=rows or 1 << 18)
        thin = count_recording(rec, load_counter(str(model_path)), plot=True).plot
        assert thin is not None and thin.t.size <= 60 + 6
        assert thin.samples[:, 0].max() == np.float32(7.5)
        assert thin.samples[:, 2].min() == np.float32(-6.5)
        assert np.all(np.diff(thin.t) > 0)


@pytest.mark.parametrize("kind", ["bool", "string"])
def test_parquet_axes_of_bool_or_text_are_refused(kind: str, tmp_path: Path) -> None:
    """A bool x column was read as 0 and 1 g (and gave a detection); one of text such
    as '0.0123' was read as numbers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 600
    x = (
        pa.array(np.arange(n) % 2 == 0)
        if kind == "bool"
        else pa.array([f"{0.01 * (k % 3)}" for k in range(n)])
    )
    table = pa.table({"t": np.arange(n) / 50.0, "x": x, "y": np.zeros(n), "z": np.ones(n)})
    pq.write_table(table, tmp_path / "r.parquet")
    with pytest.raises(InvalidParameter) as err:
        open_recording(tmp_path / "r.parquet")
    said = " holds bool values" if kind == "bool" else ", row 0: '0.0' is text"
    assert str(err.value) == (
        f"recording r.parquet: column 'x'{said}; columns x, y, z must be numeric"
    )


@pytest.mark.parametrize("level", [-0.577, 0.0, 3.0])
def test_detection_markers_sit_above_the_data(level: float) -> None:
    """At 1.08 times the largest sample, markers fell inside the data when it was 0 or
    less (a watch face down)."""
    rng = np.random.default_rng(0)
    samples = level + rng.normal(0.0, 0.02, (1000, 3))
    trace = Trace(t=np.arange(1000) / 50.0, samples=samples, fs=50.0)
    fig = plot_count(trace, [Detection(time=5.0, score=0.9)])
    (marker,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "detected"]
    top, bottom = samples.max(), samples.min()
    assert marker.get_ydata()[0] == pytest.approx(top + 0.08 * (top - bottom))
    assert fig.axes[0].get_ylim()[1] > marker.get_ydata()[0] > top


# -- units and orientation from the quietest stretch ------------------------------------
ELEVATION, ROLL = math.radians(-60.0), math.radians(20.0)
REST = np.array(
    [
        math.sin(ELEVATION),
        math.sin(ROLL) * math.cos(ELEVATION),
        math.cos(ROLL) * math.cos(ELEVATION),
    ]
)  # what a still watch reads, g (generators/_kinematics.py: forearm elevation, wrist roll)


def _running(gravity: bool = True) -> pd.DataFrame:
    """A minute's run in g at 100 Hz: the forearm swings at 1.4 Hz (its elevation +-40
    degrees about -60, 1.5 g of swing acceleration), still only from 30 s to 32 s;
    without ``gravity``, as a linear-acceleration sensor reads it."""
    rng = np.random.default_rng(11)
    t = np.arange(6000) / 100.0
    w = 2 * math.pi * 1.4 * t
    elev = ELEVATION + math.radians(40.0) * np.sin(w)
    felt = np.stack([np.sin(elev), np.zeros_like(w), np.cos(elev)], axis=1)
    swing = 1.5 * np.stack([np.sin(w), 0.3 * np.sin(2 * w + 1.0), np.cos(w)], axis=1)
    x = felt * gravity + swing + rng.normal(0.0, 0.02, (t.size, 3))
    still = (t >= 30.0) & (t < 32.0)
    x[still] = REST * gravity + rng.normal(0.0, 0.005, (int(still.sum()), 3))
    return pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]})


@pytest.fixture(scope="module")
def running() -> pd.DataFrame:
    return _running()


def test_a_run_in_g_is_read_as_g_from_its_quiet_stretch(
    running: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The median magnitude of a run is over 2 g (neither about 1 g nor 9.81 m/s^2, so
    the median could not tell); its 2 s standing still read about 1 g."""
    x = running[["x", "y", "z"]].to_numpy()
    assert float(np.median(np.linalg.norm(x, axis=1))) > 2.0
    running.to_csv(tmp_path / "run.csv", index=False)
    rec = open_recording(tmp_path / "run.csv")
    assert rec.units == "g" and rec.rest.length_s == 1.28  # 128 rows at 100 Hz
    assert 30.0 <= rec.rest.start_s <= 32.0 - 1.28
    np.testing.assert_allclose(rec.rest.vector, REST, atol=0.002)
    assert rec.rest.tilt_deg == pytest.approx(
        math.degrees(math.acos(math.cos(ROLL) * math.cos(ELEVATION))), abs=0.2
    )
    assert rec.rest.roll_deg == pytest.approx(20.0, abs=0.2)
    assert rec.rest.spread == pytest.approx(0.005 * math.sqrt(3), rel=0.2)
    assert main(["count", str(tmp_path / "run.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"] == "g" and out["orientation"] == "face tilted 62 deg from up, roll 20 deg"
    assert re.fullmatch(r"1\.00\d g \(the quietest 1\.28 s, from 3\d\.\d+ s, .*\)", out["at rest"])


def test_a_run_in_m_s2_is_read_as_m_s2(running: pd.DataFrame, tmp_path: Path) -> None:
    metric = running.copy()
    metric[["x", "y", "z"]] *= G
    metric.to_parquet(tmp_path / "run.parquet")
    running.to_csv(tmp_path / "run.csv", index=False)
    a, b = open_recording(tmp_path / "run.csv"), open_recording(tmp_path / "run.parquet")
    assert (a.units, b.units) == ("g", "m/s2")
    np.testing.assert_allclose(b.rest.vector, a.rest.vector, atol=1e-9)
    assert (b.rest.start_s, b.rest.length_s) == (a.rest.start_s, a.rest.length_s)


def test_a_recording_without_gravity_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Linear acceleration (gravity taken out by the phone's sensor fusion): its still
    stretch reads about 0, which is neither unit; with --units it is read."""
    path = tmp_path / "linear.csv"
    _running(gravity=False).to_csv(path, index=False)
    plot = tmp_path / "linear.png"
    assert main(["count", str(path), "--plot", str(plot)]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"error: recording linear.csv: cannot infer units: its quietest 1.28 s read 0\.00\d+ "
        r"on average; the recording seems to have gravity removed; pass --units g or "
        r"--units m/s2\n",
        err,
    ), err
    assert not plot.exists()
    assert open_recording(path, units="g").rest.magnitude < 0.01


@pytest.mark.parametrize(
    ("advise", "said"),
    [
        ("python", 'pass units="g" or units="m/s2"'),  # was '--units', a flag Python has not
        ("cli", "pass --units g or --units m/s2"),
        ("campaign", 'set units = "g" or "m/s2" in [recordings]'),
    ],
)
def test_advice_names_the_settings_of_whoever_reads(
    advise: Literal["python", "cli", "campaign"], said: str, tmp_path: Path
) -> None:
    """The same refusal advises the Python keywords, the CLI's flags or a campaign's
    [recordings] keys, and each names a value that reads the recording."""
    path = tmp_path / "linear.csv"
    _running(gravity=False).to_csv(path, index=False)
    with pytest.raises(InvalidParameter) as err:
        open_recording(path, advise=advise)
    assert str(err.value).endswith(f"the recording seems to have gravity removed; {said}")
    for units in ("g", "m/s2"):
        assert open_recording(path, units=units).units == units
    with pytest.raises(ValueError, match="advise: 'flags' is not one of"):
        open_recording(path, advise="flags")  # type: ignore[arg-type]


def _swinging(seconds: float = 10.0, fs: float = 10.0) -> pd.DataFrame:
    """A walk's linear acceleration in m/s^2 (gravity removed), never still: about 1
    m/s^2 of bias plus 1.5 m/s^2 of swing at 1.6 Hz, as BasicMotions walking reads."""
    t = np.arange(round(seconds * fs)) / fs
    w = 2 * math.pi * 1.6 * t
    x = np.stack([1.0 + 1.5 * np.sin(w), 1.5 * np.cos(w), 0.3 * np.sin(2 * w)], axis=1)
    return pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]})


def test_motion_reading_about_1_is_not_taken_for_g(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Gravity removed, in m/s^2: the quietest stretch reads about 1 on average, but it
    moves by as much as it reads; that is not a watch at rest in g. Refused in one line
    pointing to --units; with --units it is read."""
    path = tmp_path / "walk.csv"
    _swinging().to_csv(path, index=False)
    assert main(["count", str(path)]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"error: recording walk.csv: cannot infer units: its quietest 0\.8 s read \d\.\d+ on "
        r"average; its spread of \d\.\d+ is more than 0\.5 times that, motion rather than a "
        r"watch at rest reading 1 g \(gravity removed\?\); pass --units g or --units m/s2\n",
        err,
    ), err
    rec = open_recording(path, units="m/s2")
    assert rec.rest.spread > 0.5 * rec.rest.magnitude and 0.5 <= rec.rest.magnitude * G <= 2


@settings(max_examples=40, deadline=None)
@given(
    magnitude=st.floats(0.5, 2.0),
    ratio=st.floats(0.0, 3.0),
)
def test_g_is_inferred_only_from_a_still_stretch(magnitude: float, ratio: float) -> None:
    """Whatever the reading between 0.5 and 2, g is inferred exactly when the quietest
    stretch's spread is at most half of it."""
    spread = ratio * magnitude
    assert (_units_of(magnitude, spread) == "g") == (ratio <= STILL)
    assert _units_of(magnitude * G, spread * G) == "m/s2"


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 3000),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
    fs=st.sampled_from([12.5, 50.0, 100.0, 400.0]),
    seed=st.integers(0, 2**16),
)
def test_the_quietest_window_does_not_depend_on_the_chunks(
    rows: int, cuts: list[int], fs: float, seed: int
) -> None:
    """Fed whole or cut anywhere: the same window, its mean and spread to the bit; and
    no window of its length starting on its grid is quieter."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows) / fs
    x = rng.normal(0.0, rng.uniform(0.01, 1.0, (rows, 1)), (rows, 3)) + np.array([0.0, 0.0, 1.0])
    whole, pieces = _Quiet(), _Quiet()
    whole.add(t, x)
    for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), rows], strict=True):
        pieces.add(t[min(a, rows) : min(b, rows)], x[min(a, rows) : min(b, rows)])
    mean, spread, n, t_first = whole.quietest(fs)
    again = pieces.quietest(fs)
    assert again[1:] == (spread, n, t_first) and np.array_equal(again[0], mean)
    start = round(t_first * fs)
    assert n == min(2 ** round(math.log2(fs)), 2 ** (rows.bit_length() - 1)) or rows < 4
    np.testing.assert_allclose(mean, x[start : start + n].mean(axis=0), rtol=1e-9, atol=1e-12)
    hop = max(n // 4, 1)
    var = [x[i : i + n].var(axis=0).sum() for i in range(0, rows - n + 1, hop)]
    assert spread**2 == pytest.approx(min(var), rel=1e-7, abs=1e-12)


def test_a_dropout_is_not_the_quietest_stretch(
    frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows of exactly (0, 0, 0), a sensor that stopped reporting, were the quietest
    stretch of a recording that reads 1 g at rest elsewhere: 'its quietest 1.28 s read 0
    on average; the recording seems to have gravity removed'. A recording of nothing but
    such rows is refused in one line that says so."""
    later = frame.copy()
    later["t"] += 10.5
    f = pd.concat([frame, later], ignore_index=True).astype(np.float64)
    f.loc[600:699, ["x", "y", "z"]] = 0.0
    path = tmp_path / "dropout.csv"
    f.to_csv(path, index=False)
    rec = open_recording(path, rows=256)
    assert rec.units == "g" and 0.9 < rec.rest.magnitude < 1.1
    first = round(rec.rest.start_s * rec.fs)
    assert not (f.loc[first : first + 63, ["x", "y", "z"]] == 0).all(axis=1).any()
    assert open_recording(path).rest == rec.rest  # the same in any chunking
    f[["x", "y", "z"]] = 0.0
    f.to_csv(tmp_path / "zeros.csv", index=False)
    for units in ("auto", "g"):
        assert main(["count", str(tmp_path / "zeros.csv"), "--units", units]) == 2
        assert capsys.readouterr().err == (
            "error: recording zeros.csv: every one of its 1000 rows reads exactly (0, 0, 0) "
            "in x, y, z (a sensor that recorded nothing); nothing to count\n"
        )


def test_a_stretch_with_dropouts_is_averaged_over_what_it_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where every window held dropped rows, the zeros were averaged in as readings:
    every other row (0, 0, 0) read 0.498 g, 'gravity removed'; 496 of 500 rows of zeros,
    with --units g, were counted (0) as a watch without gravity."""
    rng = np.random.default_rng(0)
    t = np.arange(500) / 50.0
    x = np.array([0.0, 0.0, 1.0]) + rng.normal(0.0, 0.01, (500, 3))
    x[1::2] = 0.0
    pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}).to_csv(
        tmp_path / "alternate.csv", index=False
    )
    for rows in (7, 256):  # the same in any chunking
        rec = open_recording(tmp_path / "alternate.csv", rows=rows)
        assert rec.units == "g" and rec.dropped == 250 and 0.99 < rec.rest.magnitude < 1.01
        assert 0.005 < rec.rest.spread < 0.03  # the readings' noise, not zeros against 1 g
    x[1::2] = x[0::2]
    x[2:498] = 0.0
    pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}).to_csv(
        tmp_path / "mostly.csv", index=False
    )
    assert main(["count", str(tmp_path / "mostly.csv"), "--units", "g"]) == 2
    assert capsys.readouterr().err == (
        "error: recording mostly.csv: none of its 2 stretches between gaps of more than 1 s "
        "holds one window; nothing can be counted\n"
    )


def test_rows_of_zeros_in_a_recording_with_gravity_are_lost_samples(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows of exactly (0, 0, 0) (a watch export's lost samples) were counted as
    readings: in a recording that reads gravity each is a 1 g step down and back. They
    are taken out, so the count, detections and window probabilities are those of the
    recording without them, and the output says how many."""
    path = tmp_path / "synth.csv"
    synth = ["synth", "high_five", "--param", "repetitions=2", "--seed", "3", "--csv"]
    assert main([*synth, str(path)]) == 0
    f = pd.read_csv(path)
    lost = [90, 91, 255, 400, 401, 402, len(f) - 1]  # alone, in runs, the last row
    zeros = f.copy()
    zeros.loc[lost, ["x_g", "y_g", "z_g"]] = 0.0
    zeros.to_csv(tmp_path / "zeros.csv", index=False)
    f.drop(index=lost).to_csv(tmp_path / "without.csv", index=False)
    capsys.readouterr()
    out = {}
    for name in ("zeros", "without"):
        args = ["count", str(tmp_path / f"{name}.csv"), "--model", str(model_path), "--json"]
        assert main(args) == 0
        out[name] = json.loads(capsys.readouterr().out)
    for key in ("count", "detections", "windows", "segments"):
        assert out["zeros"][key] == out["without"][key], key
    assert out["zeros"]["dropped"] == (
        "7 rows of exactly (0, 0, 0): lost samples, taken out and interpolated across like "
        "any missing sample"
    )
    assert "dropped" not in out["without"]
    rec = open_recording(tmp_path / "zeros.csv", rows=91)  # row 90 ends a chunk
    assert rec.dropped == 7 and rec.rows == len(f)
    t = np.concatenate([p[0] for p in rec.pieces(max_gap_s=math.inf)])
    without = read_recording(tmp_path / "without.csv")[0]
    assert np.array_equal(t, without.t)


@pytest.mark.parametrize("rows", [3, 7, 101, 102, 256, 1 << 18])
def test_a_lone_row_of_zeros_without_gravity_is_a_lost_sample(
    frame: pd.DataFrame, rows: int, tmp_path: Path
) -> None:
    """Without gravity (0, 0, 0) is what a still watch reads: a run of such rows is kept,
    a lone one among readings (a lost sample, a step to 0 and back amid motion) is taken
    out, in any chunking."""
    linear = frame.copy()
    linear[["x", "y", "z"]] -= linear[["x", "y", "z"]].iloc[:50].mean()
    lone, run = [0, 100, 250, len(frame) - 1], [400, 401, 402]
    zeros = linear.copy()
    zeros.loc[lone + run, ["x", "y", "z"]] = 0.0
    zeros.to_csv(tmp_path / "zeros.csv", index=False)
    zeros.drop(index=lone).to_csv(tmp_path / "without.csv", index=False)
    rec = open_recording(tmp_path / "zeros.csv", units="g", rows=rows)
    assert not rec.rest.gravity and rec.dropped == len(lone)
    assert rec.info["dropped"].startswith("4 rows of exactly (0, 0, 0), each between rows ")
    parts = list(rec.pieces(max_gap_s=math.inf))
    t = np.concatenate([p[0] for p in parts])
    x = np.concatenate([p[1] for p in parts])
    expected = open_recording(tmp_path / "without.csv", units="g")
    want = list(expected.pieces(max_gap_s=math.inf))
    # Times from the file's first row, a lost one too: the other file starts a row later.
    shift = expected._t_first - rec._t_first
    np.testing.assert_allclose(t, np.concatenate([p[0] for p in want]) + shift, rtol=0, atol=1e-9)
    assert np.array_equal(x, np.concatenate([p[1] for p in want]))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 1500),
    runs=st.lists(st.tuples(st.integers(0, 1500), st.integers(1, 600)), max_size=4),
    held=st.lists(st.tuples(st.integers(0, 1500), st.integers(1, 600)), max_size=2),
    cuts=st.lists(st.integers(0, 1500), max_size=6),
    seed=st.integers(0, 2**16),
)
def test_dropouts_are_never_the_quietest_window(
    rows: int,
    runs: list[tuple[int, int]],
    held: list[tuple[int, int]],
    cuts: list[int],
    seed: int,
) -> None:
    """Runs of rows of exactly (0, 0, 0) anywhere, the signal around them as still as
    they or louder: the window found holds none of them when a window without one
    exists, else holds two rows that read something at least, is averaged over those
    rows alone, and is the same however the rows are chunked. Runs of one repeated
    sample (a stuck sensor) likewise: a window of nothing else is found only when every
    other window is all dropouts."""
    rng = np.random.default_rng(seed)
    fs = 50.0
    t = np.arange(rows) / fs
    x = rng.normal(0.0, rng.uniform(1e-3, 1.0, (rows, 1)), (rows, 3)) + np.array([0.0, 0.0, 1.0])
    for start, length in runs:
        x[start : start + length] = 0.0
    for start, length in held:
        x[start : start + length] = x[min(start, rows - 1)]
    whole, pieces = _Quiet(), _Quiet()
    whole.add(t, x)
    for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), rows], strict=True):
        pieces.add(t[min(a, rows) : min(b, rows)], x[min(a, rows) : min(b, rows)])
    dropped = (x == 0).all(axis=1)
    # The windows on the grid (the whole recording under 4 rows): those without a dropped
    # row, else those not all dropped.
    n = min(64, 2 ** (rows.bit_length() - 1)) if rows >= 4 else rows
    starts = range(0, rows - n + 1, max(n // 4, 1))
    flat = [i for i in starts if (x[i : i + n] == x[i]).all() and not dropped[i]]
    clean = [i for i in starts if not dropped[i : i + n].any() and i not in flat]
    read = [(~dropped[i : i + n]).sum() for i in starts]
    some = [i for i, k in zip(starts, read, strict=True) if dropped[i : i + n].any() and k >= 2]
    pool = clean or some or flat
    if rows < 4:  # the whole recording, if it read anything
        pool = [] if dropped.all() else [0]
    found, again = whole.quietest(fs), pieces.quietest(fs)
    if found is None or again is None:
        assert found is again is None and not pool
        return
    assert again[1:] == found[1:] and np.array_equal(again[0], found[0])
    mean, spread, rows_found, t_first = found
    assert rows_found == n and round(t_first * fs) in pool
    readings = [x[i : i + n][~dropped[i : i + n]] for i in pool]
    var = min(w.var(axis=0).sum() for w in readings)
    assert spread**2 == pytest.approx(var, rel=1e-7, abs=1e-12)
    i = pool.index(round(t_first * fs))
    np.testing.assert_allclose(mean, readings[i].mean(axis=0), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("held", [(5.0, 2.0, 1.0), (8.0, -8.0, 8.0)], ids=["stuck", "rails"])
def test_a_stuck_sensor_is_not_the_quietest_stretch(
    frame: pd.DataFrame, held: tuple[float, float, float], tmp_path: Path
) -> None:
    """2 s of one repeated sample (a stuck sensor, or one held at its rails) had a spread
    of exactly 0 and was the quietest stretch: the recording in g read as m/s^2 (at rest
    0.559 g), every sample divided by 9.81, without a word. A real sensor at rest shows
    noise; a stretch that does not vary is taken only when nothing else is left, and
    then said."""
    f = frame.copy()
    f.loc[(f["t"] > 5.0) & (f["t"] < 7.0), ["x", "y", "z"]] = held
    path = tmp_path / "stuck.csv"
    f.to_csv(path, index=False)
    rec = open_recording(path)
    assert rec.units == "g" and 0.9 < rec.rest.magnitude < 1.1 and rec.rest.spread > 0
    assert open_recording(path, rows=100).rest == rec.rest  # the same in any chunking
    assert "check" not in rec.info
    # Nothing but the repeated sample: taken (no other stretch is left), and said.
    f[["x", "y", "z"]] = (0.0, 0.6, 0.8)
    f.to_csv(path, index=False)
    rec = open_recording(path)
    assert rec.units == "g" and rec.rest.flat
    assert rec.info["check"] == (
        "the units (the units argument): the quietest stretch does not vary at all (one sample "
        "repeated: a stuck sensor or data without noise), so it may not be a watch at rest"
    )


@pytest.mark.parametrize("rows", [3, 100, 4096])
def test_a_recording_read_in_chunks_has_the_same_rest(
    rows: int, running: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "run.csv"
    running.iloc[:4000].to_csv(path, index=False)
    whole = open_recording(path)
    assert open_recording(path, rows=rows).rest == whole.rest


# -- per-window probabilities in --json and --plot ---------------------------------------
def test_json_lists_every_window_probability_as_the_pipeline_gives_it(
    frame: pd.DataFrame, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Across a gap too: each segment's windows as CounterPipeline.run gives them (centres
    and probabilities to 4 decimals), in time order, with the model's thresholds."""
    rec = tmp_path / "gap.csv"
    n = len(frame)
    _gapped(frame, [n // 2], [60.0]).to_csv(rec, index=False)
    assert main(["count", str(rec), "--model", str(model_path), "--json"]) == 0
    windows = json.loads(capsys.readouterr().out)["windows"]
    model = Model.load(model_path)
    assert (windows["on"], windows["off"]) == (model.spec.on, model.spec.off)
    back = pd.read_csv(rec)
    t = back["t"].to_numpy() - back["t"].iloc[0]
    pipe = CounterPipeline(model)
    centres, probs = [], []
    for part in (slice(0, n // 2), slice(n // 2, n)):
        run = pipe.run(Trace(t=t[part], samples=back[["x", "y", "z"]].to_numpy()[part], fs=50.0))
        centres += [round(float(c), 4) for c in run.centres]
        probs += [round(float(p), 4) for p in run.probs]
    assert windows["time_s"] == centres and windows["probability"] == probs
    assert len(centres) > 20 and max(probs) > model.spec.on


def test_a_streamed_recording_keeps_its_windows(
    long_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamed in pieces: the windows of the whole-trace run, bit for bit."""
    path = tmp_path / "long.csv"
    long_frame.iloc[:20000].to_csv(path, index=False)
    monkeypatch.setattr(count_module, "WHOLE_ROWS", 1000)
    rec = open_recording(path, rows=4096)
    result = count_recording(rec, load_counter("float"), windows=True)
    back = pd.read_csv(path)
    t = back["t"].to_numpy()
    whole = CounterPipeline("float").run(
        Trace(t=t - t[0], samples=back[["x", "y", "z"]].to_numpy(), fs=rec.fs)
    )
    assert result.windows is not None
    np.testing.assert_array_equal(result.windows[0], whole.centres)
    np.testing.assert_array_equal(result.windows[1], whole.probs)
    assert count_recording(rec, load_counter("float")).windows is None  # only when asked


def test_a_counter_without_probabilities_says_null_and_plots_one_panel(
    frame: pd.DataFrame,
    python_counters: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = tmp_path / "r.csv"
    frame.to_csv(rec, index=False)
    counter = f"{python_counters}:biggest"
    assert main(["count", str(rec), "--model", counter, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["windows"] is None and out["count"] == 1
    panels = []
    real = plot_module.plot_count

    def seen(*args: object, **kwargs: object) -> object:
        figure = real(*args, **kwargs)  # type: ignore[arg-type]
        panels.append(len(figure.axes))
        return figure

    monkeypatch.setattr(highfive.reports, "plot_count", seen)
    assert main(["count", str(rec), "--model", counter, "--plot", str(tmp_path / "r.png")]) == 0
    assert panels == [1] and (tmp_path / "r.png").stat().st_size > 0


def _overlaps(fig: object, with_legend: object) -> list[float]:
    """Times of the detection markers whose drawn extent meets the legend's (figure
    coordinates, after drawing)."""
    import matplotlib.transforms as mtransforms

    fig.canvas.draw()  # type: ignore[attr-defined]
    to_fig = fig.transFigure.inverted()  # type: ignore[attr-defined]
    legend = with_legend.get_window_extent().transformed(to_fig)  # type: ignore[attr-defined]
    hit = []
    for ax in fig.axes:  # type: ignore[attr-defined]
        for line in ax.get_lines():
            if not str(line.get_label()).startswith("detect") and not str(
                line.get_label()
            ).endswith(" detections"):
                continue
            half = line.get_markersize() * fig.dpi / 72 / 2  # type: ignore[attr-defined]
            for (x, y), time in zip(
                line.get_transform().transform(line.get_xydata()), line.get_xdata(), strict=True
            ):
                box = mtransforms.Bbox([[x - half, y - half], [x + half, y + half]])
                if box.transformed(to_fig).overlaps(legend):
                    hit.append(float(time))
    return hit


def test_no_legend_hides_a_detection(frame: pd.DataFrame, model_path: Path, tmp_path: Path) -> None:
    """Detections at the upper right, where a legend inside the axes goes: the trace
    plot's legend covers them; the count plot's, above the axes, covers none and stays
    in the figure."""
    trace = Trace(t=frame["t"].to_numpy(), samples=frame[["x", "y", "z"]].to_numpy(), fs=50.0)
    end = float(trace.t[-1])
    detections = [Detection(time=end - k * 0.4, score=0.9) for k in range(1, 6)]
    inside = plot_trace(trace, detections)
    inside.legends.clear()
    legend = inside.axes[0].legend(loc="upper right", ncols=4, fontsize=8)
    assert _overlaps(inside, legend)  # the check finds a hidden one
    windows = CounterPipeline(Model.load(model_path)).run(trace)
    figures = [
        plot_count(trace, detections, windows=shown, on=0.6, off=0.4, title="r.csv")
        for shown in (None, (windows.centres, windows.probs))
    ]
    # The synthesized trace's plot and the replay plot had their legends inside the
    # signal panel too, over the detections.
    figures.append(plot_trace(trace, detections))
    result = dataclasses.replace(windows, detections=detections)
    figures.append(plot_replay(trace, {"float": result, "int8": result}, title="case 1"))
    for fig in figures:
        (legend,) = fig.legends
        assert _overlaps(fig, legend) == []
        box = legend.get_window_extent().transformed(fig.transFigure.inverted())
        assert 0 <= box.x0 < box.x1 <= 1 and 0 <= box.y0 < box.y1 <= 1
    assert [len(f.axes) for f in figures[:2]] == [1, 2]


def test_the_probability_line_keeps_peaks_and_breaks_at_gaps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    centres = np.arange(1000) * 0.2
    probs = np.zeros(1000, dtype=np.float32)
    probs[537] = 0.97
    monkeypatch.setattr(plot_module, "PROB_POINTS", 100)
    c, p = plot_module._thinned(centres, probs)
    assert c.size == 100 and p.max() == np.float32(0.97) and c[53] == centres[530]
    c, p = plot_module._broken(c, p, [(50.5, 51.5)])
    assert c.size == 101 and list(c[25:28]) == [50.0, 51.0, 52.0]
    assert np.isnan(p).tolist() == [i == 26 for i in range(101)]


def test_detections_are_drawn_on_a_recording_with_gaps(frame: pd.DataFrame) -> None:
    """The plotted trace has a NaN row in each gap: the markers still sit above the
    largest sample, not at NaN."""
    samples = frame[["x", "y", "z"]].to_numpy().copy()
    samples[100] = np.nan
    trace = Trace(t=frame["t"].to_numpy(), samples=samples, fs=50.0)
    fig = plot_count(trace, [Detection(time=2.0, score=0.9)])
    (marker,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "detected"]
    top, bottom = np.nanmax(samples), np.nanmin(samples)
    assert marker.get_ydata()[0] == pytest.approx(top + 0.08 * (top - bottom))


def test_given_units_that_read_far_from_one_g_at_rest_are_questioned(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    # A recording in m/s^2 read with --units g showed "at rest 9.8 g" and an
    # orientation, with nothing to say that the units were wrong.
    f = frame.copy()
    f[["x", "y", "z"]] *= G
    f.to_csv(tmp_path / "ms2.csv", index=False)
    info = open_recording(tmp_path / "ms2.csv", units="g").info
    assert info["orientation"] == "unknown (no reading of about 1 g at rest)"
    assert re.match(r"the units \(the units argument\) and .* this one 9\.\d+ g$", info["check"])
    info = open_recording(tmp_path / "ms2.csv", units="m/s2").info
    assert "check" not in info and info["orientation"].startswith("face tilted")
    assert info["time unit"] == "s"


def test_count_says_its_times_are_from_the_first_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'t = 7.840 s' of a file whose clock read 7.851 there looked like the file's own
    time; the output says the times are from its first sample, on any clock."""
    path = tmp_path / "hf.csv"
    assert main(["synth", "high_five", "--seed", "1", "--csv", str(path)]) == 0
    said = []
    for shift in (0.0, 100.0):
        frame = pd.read_csv(path)
        frame["t"] = frame["t"] - frame["t"].iloc[0] * (shift == 0.0) + shift
        frame.to_csv(path, index=False)
        capsys.readouterr()
        assert main(["count", str(path)]) == 0
        out = capsys.readouterr().out
        _, _, rest = out.partition("detections, t in s from the recording's first sample:\n")
        assert rest, out
        said.append(re.findall(r"t = +([\d.]+) s", rest))
    assert said[0] == said[1] and said[0], said


def _changed(path: Path, how: str, frame: pd.DataFrame) -> None:
    """Change the recording at ``path`` as another program might while it is read."""
    if how == "replaced":  # another file moved over it, all zeros
        other = path.with_name("other.csv")
        frame.assign(x=0.0, y=0.0, z=0.0).to_csv(other, index=False)
        os.replace(other, path)
    elif how == "written":  # rewritten in place, NaN in it
        frame.assign(x=np.nan).to_csv(path, index=False)
    elif how == "same size, time put back":  # as a writer that keeps timestamps
        before = path.stat()
        text = path.read_text()
        last = text.rstrip("\n").rsplit("\n", 1)[1].split(",")[1]
        path.write_text(text.replace(last, "9" * len(last)))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_size == before.st_size
    else:
        path.unlink()


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("replaced", "replaced by another file"),
        ("written", "written to"),
        ("same size, time put back", "written to"),
        ("deleted", "deleted or moved"),
    ],
)
def test_a_recording_that_changes_after_it_was_checked_is_not_read(
    frame: pd.DataFrame, tmp_path: Path, how: str, said: str
) -> None:
    """A recording is read twice (checked, then counted): a file changed in between was
    counted unchecked (an AssertionError for zeros, NaN blamed on the counter, a
    KeyError for other columns). Now every piece is yielded only once the file is seen
    to be the one checked."""
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    rec = open_recording(path, rows=100)
    _changed(path, how, frame)
    with pytest.raises(
        InvalidParameter,
        match=rf"^recording r\.csv: the file changed while it was read \({said}\); read it "
        "again once nothing writes to it$",
    ):
        list(rec.pieces())
    # Changed in the middle of a pass: the pieces before are the file's; no piece after.
    frame.to_csv(path, index=False)
    rec = open_recording(path, rows=100)
    pieces = rec.pieces()
    next(pieces)
    _changed(path, how, frame)
    with pytest.raises(InvalidParameter, match=said):
        next(pieces)


def test_count_of_a_recording_changed_while_read_is_one_line(
    frame: pd.DataFrame,
    model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import highfive.harness

    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)

    def open_then_change(*args: object, **kwargs: object) -> object:
        rec = open_recording(*args, **kwargs)  # type: ignore[arg-type]
        _changed(path, "replaced", frame)
        return rec

    monkeypatch.setattr(highfive.harness, "open_recording", open_then_change)
    assert main(["count", str(path), "--model", str(model_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: recording r.csv: the file changed while it was read (replaced by another "
        "file); read it again once nothing writes to it\n"
    )


def test_count_json_names_a_file_that_is_not_utf8_in_utf8(
    frame: pd.DataFrame, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON held the name's byte 0xff as a lone surrogate, which no UTF-8 encoder
    writes and jq replaced; the text output printed it as an escape already."""
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/bad\xffname.csv"))
    frame.to_csv(path, index=False)
    assert main(["count", str(path), "--model", str(model_path), "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["recording"].endswith("/bad\\xffname.csv")
    json.dumps(doc, ensure_ascii=False).encode("utf-8")  # no lone surrogate in it
