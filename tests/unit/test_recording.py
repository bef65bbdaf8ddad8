"""Reading recordings and `highfive count` on them (with the toy model)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from highfive.generators import G, InvalidParameter, default_space, synthesize
from highfive.harness._recording import read_recording
from highfive.harness.cli import main


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


def _bad(tmp_path: Path, frame: pd.DataFrame, kind: str) -> Path:
    f = frame.copy()
    if kind == "missing-axis":
        f = f.drop(columns="z")
    elif kind == "missing-time":
        f = f.rename(columns={"t": "when"})
    elif kind == "units":
        f[["x", "y", "z"]] *= 50.0
    elif kind == "rate":
        f["t"] *= 25.0  # 0.5 s spacing: neither s, ms nor us at a plausible rate
    elif kind == "nan":
        f.loc[10, "y"] = np.nan
    elif kind == "backwards":
        f.loc[100, "t"] = f.loc[99, "t"]
    elif kind == "text":
        f["x"] = "high"
    path = tmp_path / f"{kind}.csv"
    f.to_csv(path, index=False)
    return path


BAD = [
    ("missing-axis", "no three axis columns among"),
    ("missing-time", "no time column among"),
    ("units", "cannot infer units from a median magnitude"),
    ("rate", "cannot infer the sample rate"),
    ("nan", "row 10 is not finite"),
    ("backwards", "timestamps: not strictly increasing at row 100"),
    ("text", "must be numeric"),
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


@pytest.mark.parametrize(
    "name, match",
    [("nope.csv", "does not exist"), ("rec.txt", "allowed: .csv, .parquet")],
    ids=["missing", "suffix"],
)
def test_bad_paths(name: str, match: str, tmp_path: Path) -> None:
    (tmp_path / "rec.txt").write_text("t,x,y,z\n")
    with pytest.raises(InvalidParameter, match=match):
        read_recording(tmp_path / name)


def test_missing_model_is_one_line(
    frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = tmp_path / "r.csv"
    frame.to_csv(rec, index=False)
    assert main(["count", str(rec), "--model", str(tmp_path / "none.onnx")]) == 2
    assert "is neither a file nor a shipped model" in capsys.readouterr().err
