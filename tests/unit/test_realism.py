"""``highfive realism``: features with known answers, the distance and test, the region
file, bad input through the command line, and BasicMotions end to end."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from highfive.generators import InvalidParameter
from highfive.harness import (
    FEATURES,
    bootstrap_w1_iqr,
    compare_features,
    compare_realism,
    dynamic,
    load_region,
    normalised_wasserstein,
    open_recording,
    piece_features,
)
from highfive.harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ROOT / "examples" / "realism"


def _sine(f: float, amplitude: float, fs: float, seconds: float, axis: int = 0) -> np.ndarray:
    t = np.arange(round(seconds * fs)) / fs
    x = np.zeros((t.size, 3))
    x[:, axis] = amplitude * np.sin(2 * math.pi * f * t)
    return x


# -- features with known answers ---------------------------------------------------------
def test_a_sine_gives_its_std_percentiles_jerk_and_dominant_frequency() -> None:
    # 50 / 2.1 samples a period: the phases repeat only every 238 samples, so the
    # samples' quantiles are close to those of a uniform phase.
    fs, f, a = 50.0, 2.1, 3.0
    x = _sine(f, a, fs, 20.0)
    feats = piece_features(dynamic(x, fs), fs)
    # The 0.3 Hz high-pass passes 2 Hz with a gain of 1 / (1 + (0.3/2)^4) (both
    # directions of a 2nd-order Butterworth): 0.9995, inside the tolerances below.
    assert feats["std_x"] == pytest.approx(a / math.sqrt(2), rel=2e-3)
    assert feats["std_y"] == pytest.approx(0.0, abs=1e-9)
    assert feats["std_z"] == pytest.approx(0.0, abs=1e-9)
    # |a sin(theta)| over uniform phases: its q-quantile is a sin(q pi / 2) (to 1 % of
    # the amplitude: the samples hold 238 phases, not all).
    for q, name in ((0.05, "mag_p5"), (0.5, "mag_p50"), (0.95, "mag_p95")):
        assert feats[name] == pytest.approx(a * math.sin(q * math.pi / 2), abs=0.01 * a), name
    # The magnitude |sin| repeats at twice the sine's frequency.
    assert feats["dom_freq"] == pytest.approx(2 * f, abs=1e-9)
    # diff of a sin(w t) is 2 a sin(w / 2 fs) cos(...): jerk quantiles of |cos| times that.
    step = 2 * a * fs * math.sin(math.pi * f / fs)
    assert feats["jerk_p50"] == pytest.approx(step * math.cos(math.pi / 4), rel=1e-2)
    assert feats["jerk_p95"] == pytest.approx(step * math.cos(0.05 * math.pi / 2), rel=1e-2)
    assert math.isnan(feats["tilt"]) and math.isnan(feats["roll"])  # no gravity given


def test_a_piece_of_dropped_rows_has_no_angles() -> None:
    """Rows of exactly (0, 0, 0) are a dropout, never a reading of gravity at rest: a
    piece of nothing else has no tilt or roll (not atan2(0, 0) = 0 degrees)."""
    fs = 50.0
    raw = np.zeros((500, 3))
    feats = piece_features(dynamic(raw, fs), fs, raw=raw)
    assert math.isnan(feats["tilt"]) and math.isnan(feats["roll"])
    raw[:, 2] = 1.0
    raw[100:200] = 0.0  # a dropout in a piece at rest, face up: its angles are 0
    feats = piece_features(dynamic(raw, fs), fs, raw=raw)
    assert feats["tilt"] == 0.0 and feats["roll"] == 0.0


def test_the_share_above_5_hz_splits_power_as_the_amplitudes_say() -> None:
    fs = 50.0
    low, high = 2.0, 1.0  # m/s^2 at 2 Hz on x and at 8 Hz on y
    x = _sine(2.0, low, fs, 20.0, axis=0) + _sine(8.0, high, fs, 20.0, axis=1)
    feats = piece_features(dynamic(x, fs), fs)
    assert feats["hf_share"] == pytest.approx(high**2 / (low**2 + high**2), rel=5e-3)
    only_high = piece_features(dynamic(_sine(8.0, 1.0, fs, 20.0), fs), fs)
    assert only_high["hf_share"] == pytest.approx(1.0, abs=2e-3)  # Hann leakage


@pytest.mark.parametrize("fs", [10.0, 8.0])
def test_the_share_above_5_hz_is_not_available_at_10_hz_or_less(fs: float) -> None:
    feats = piece_features(dynamic(_sine(2.0, 1.0, fs, 10.0), fs), fs)
    assert math.isnan(feats["hf_share"])
    assert feats["dom_freq"] == pytest.approx(4.0, abs=0.2)  # still found below Nyquist


def test_gravity_direction_is_tilt_from_z_and_roll_about_x() -> None:
    fs = 50.0
    rng = np.random.default_rng(1)
    # Rotated 30 deg about x from face up: (0, sin 30, cos 30) g, with a little noise.
    raw = np.tile([0.0, 0.5, math.sqrt(3) / 2], (500, 1)) * 9.81
    raw = raw + rng.normal(0.0, 0.01, raw.shape)
    feats = piece_features(dynamic(raw, fs), fs, raw)
    assert feats["tilt"] == pytest.approx(30.0, abs=0.2)
    assert feats["roll"] == pytest.approx(30.0, abs=0.2)


def test_the_dynamic_signal_removes_a_constant_and_a_slow_drift() -> None:
    fs = 50.0
    t = np.arange(1000) / fs
    slow = np.stack([9.81 + 0.0 * t, 0.2 * np.sin(2 * math.pi * 0.02 * t), 0.0 * t], axis=1)
    assert np.abs(dynamic(slow, fs)).max() < 0.01
    feats = piece_features(dynamic(slow, fs), fs)
    assert feats["mag_p95"] < 0.01


def test_a_constant_signal_has_no_dominant_frequency() -> None:
    feats = piece_features(np.zeros((200, 3)), 50.0)
    assert math.isnan(feats["dom_freq"])
    assert feats["mag_p50"] == 0.0 and feats["jerk_p95"] == 0.0


def test_a_still_reading_through_the_gravity_filter_does_not_move() -> None:
    """A constant reading leaves about 1e-12 m/s^2 of round-off after the gravity filter,
    whose spectrum gave a dominant frequency of 6.2 Hz and 99.998 % of the power above
    5 Hz: holes of a generator made of nothing."""
    still = dynamic(np.tile([0.3, 0.1, 9.80665], (500, 1)), 50.0)
    assert 0 < np.abs(still).max() < 1e-9  # round-off, not zero
    feats = piece_features(still, 50.0)
    assert math.isnan(feats["dom_freq"]) and math.isnan(feats["hf_share"])
    assert feats["mag_p95"] == feats["std_z"] == feats["jerk_p95"] == 0.0
    # A motion of 1 ug (10x the floor) is still motion.
    fs, t = 50.0, np.arange(500) / 50.0
    tiny = np.zeros((500, 3))
    tiny[:, 2] = 1e-5 * np.sin(2 * np.pi * 3.5 * t)  # its magnitude repeats at 7 Hz
    assert piece_features(dynamic(tiny, fs), fs)["dom_freq"] == pytest.approx(7.0, abs=0.2)


def test_without_real_spread_the_distance_has_no_range() -> None:
    """One real piece (or pieces alike) has no IQR: W1/IQR was n/a and its bootstrap range
    printed 'inf-inf'."""
    real = pd.DataFrame(
        {"source": ["real"], "recording": ["a.csv"], "segment": [0], "piece": [0], "start_s": [0.0]}
    )
    synthetic = pd.DataFrame(
        {
            "source": ["synthetic"] * 5,
            "recording": [""] * 5,
            "segment": [0] * 5,
            "piece": range(5),
            "start_s": [0.0] * 5,
        }
    )
    for f in FEATURES:
        real[f.name] = 1.0
        synthetic[f.name] = np.arange(5.0)
    distances, _ = compare_features(pd.concat([real, synthetic], ignore_index=True))
    assert distances["w1_iqr"].isna().all()
    assert distances["w1_iqr_low"].isna().all() and distances["w1_iqr_high"].isna().all()
    from highfive.harness import interval_text

    assert interval_text(math.nan, math.nan) == "n/a"
    assert interval_text(0.5, math.inf) == "0.50-inf"


# -- the distance and the test -------------------------------------------------------------
samples = st.lists(
    st.floats(-100.0, 100.0, allow_nan=False, allow_infinity=False), min_size=4, max_size=40
)


def _iqr(v: list[float]) -> float:
    p25, p75 = np.percentile(v, [25.0, 75.0])
    return float(p75 - p25)


@given(samples)
def test_the_distance_of_a_sample_to_itself_is_zero(a: list[float]) -> None:
    assume(_iqr(a) > 1e-6)
    assert normalised_wasserstein(a, a) == 0.0


@given(samples, samples)
def test_the_distance_is_symmetric_up_to_the_normalisation(a: list[float], b: list[float]) -> None:
    assume(_iqr(a) > 1e-3 and _iqr(b) > 1e-3)
    ab = normalised_wasserstein(a, b) * _iqr(a)
    ba = normalised_wasserstein(b, a) * _iqr(b)
    assert ab == pytest.approx(ba, rel=1e-9, abs=1e-9)


@given(samples, st.floats(-50.0, 50.0))
def test_a_shifted_copy_is_the_shift_over_the_spread_away(a: list[float], shift: float) -> None:
    assume(_iqr(a) > 1e-3)
    moved = [v + shift for v in a]
    assert normalised_wasserstein(a, moved) == pytest.approx(
        abs(shift) / _iqr(a), rel=1e-6, abs=1e-6
    )


def test_without_spread_or_values_the_distance_is_nan() -> None:
    assert math.isnan(normalised_wasserstein([1.0, 1.0, 1.0, 1.0], [2.0]))
    assert math.isnan(normalised_wasserstein([], [1.0]))


def _frame(real: np.ndarray, synthetic: np.ndarray) -> pd.DataFrame:
    rows = []
    for source, values in (("real", real), ("synthetic", synthetic)):
        for i, v in enumerate(values):
            row = {"source": source, "recording": f"{source}-{i}", "segment": 0, "piece": 0}
            row |= {"start_s": 0.0} | {f.name: math.nan for f in FEATURES}
            row["mag_p50"] = float(v)
            rows.append(row)
    return pd.DataFrame(rows)


def test_comparison_finds_the_holes_and_tells_distributions_apart() -> None:
    rng = np.random.default_rng(3)
    synthetic = rng.normal(0.0, 1.0, 2000)
    real = rng.normal(0.0, 1.0, 60)
    real[7] = 9.0  # far above anything the generator made
    distances, holes = compare_features(_frame(real, synthetic))
    d = distances.set_index("feature").loc["mag_p50"]
    assert d["available"] and d["n_real"] == 60 and d["n_synthetic"] == 2000
    assert d["ks_pvalue"] > 0.01  # same distribution but for one value
    low, high = np.percentile(synthetic, [0.5, 99.5])
    assert (d["synthetic_low"], d["synthetic_high"]) == pytest.approx((low, high), rel=1e-12)
    outside = (real < low) | (real > high)
    assert d["outside"] == outside.sum() and len(holes) == outside.sum()
    seven = holes[holes["recording"] == "real-7"].iloc[0]
    assert seven["side"] == "above" and seven["value"] == 9.0
    assert not distances.set_index("feature").loc["tilt", "available"]

    shifted, _ = compare_features(_frame(real + 3.0, synthetic))
    s = shifted.set_index("feature").loc["mag_p50"]
    assert s["ks_pvalue"] < 1e-6 and s["w1_iqr"] > 1.5


class _Unresampled:
    """A generator whose every "resample" is the sample itself, in its order."""

    def integers(self, low: int, high: int, size: tuple[int, int]) -> np.ndarray:
        return np.broadcast_to(np.arange(size[1]), size)


@given(samples, samples)
def test_the_bootstrap_distance_of_the_samples_themselves_is_the_distance(
    a: list[float], b: list[float]
) -> None:
    # The resamples' distances come from the quantile functions on a shared grid; on
    # the samples themselves that must be scipy's Wasserstein distance over the IQR.
    got = bootstrap_w1_iqr(np.array(a), np.array(b), _Unresampled(), 3)  # type: ignore[arg-type]
    want = normalised_wasserstein(a, b)
    if math.isnan(want):  # no real spread: infinitely far, not "no distance"
        assert (got == math.inf).all()
    else:
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def _normal_w1_iqr(shift: float, scale: float) -> float:
    """W1 between N(0, 1) and N(shift, scale^2) over N(0, 1)'s IQR, by quadrature."""
    from scipy import stats

    u = np.linspace(1e-7, 1.0 - 1e-7, 400_001)
    gap = np.abs(stats.norm.ppf(u) - stats.norm.ppf(u, shift, scale))
    return float(np.trapezoid(gap, u)) / (2.0 * stats.norm.ppf(0.75))


def test_the_bootstrap_range_holds_a_true_distance_and_sits_above_none() -> None:
    # 20 real and 232 synthetic values, as 20 BasicMotions recordings against 200
    # traces: the 90 % range holds a distance of 0.87 in most of 100 seeded trials. Two
    # samples of one distribution are never 0 apart, so for a true distance of 0 the
    # range lies above it: the README says it is not a confidence interval.
    rng = np.random.default_rng(7)
    for shift, scale, least, most in ((1.0, 2.0, 0.8, 1.0), (0.0, 1.0, 0.0, 0.05)):
        truth = _normal_w1_iqr(shift, scale)
        held = 0
        for _ in range(100):
            boot = bootstrap_w1_iqr(rng.normal(0, 1, 20), rng.normal(shift, scale, 232), rng, 500)
            low, high = np.quantile(boot, [0.05, 0.95], method="inverted_cdf")
            held += bool(low <= truth <= high)
        assert least <= held / 100 <= most, (shift, scale, truth, held)


def test_the_distances_carry_their_bootstrap_range_seeded() -> None:
    rng = np.random.default_rng(5)
    frame = _frame(rng.normal(0.0, 1.0, 30), rng.normal(0.5, 1.0, 300))

    def ranges(seed: int) -> pd.DataFrame:
        distances = compare_features(frame, seed=seed)[0].set_index("feature")
        return distances[["w1_iqr_low", "w1_iqr_high"]]

    d, again, other = ranges(0), ranges(0), ranges(1)
    assert 0.0 < d.loc["mag_p50", "w1_iqr_low"] < d.loc["mag_p50", "w1_iqr_high"] < math.inf
    pd.testing.assert_frame_equal(again, d)
    assert not other.loc["mag_p50"].equals(d.loc["mag_p50"])
    assert d.loc["tilt"].isna().all()  # not available: no range


# -- the region file -----------------------------------------------------------------------
def test_region_files_restrict_the_space(tmp_path: Path) -> None:
    restrictions, space = load_region(REGIONS / "walking.toml")
    assert restrictions == {"motion": "rest", "background": "walking", "distractor": "none"}
    assert space["background"].choices == ("walking",)
    table = tmp_path / "t.toml"
    table.write_text('[space]\nbackground = "running"\npeak_accel = [5.0, 10.0]\n')
    _, space = load_region(table)
    assert space["background"].choices == ("running",) and space["peak_accel"].high == 10.0
    assert load_region(None)[0] == {}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('colour = "red"\n', r"region file r.toml: unknown parameter 'colour'"),
        ('background = "swimming"\n', r"region file r.toml: background: 'swimming'"),
        ("peak_accel = [50.0, 60.0]\n", r"region file r.toml: peak_accel: "),
        (  # was "unknown parameter 'space'", though a [space] table alone is read
            'motion = "rest"\n[space]\nbackground = "walking"\n',
            r"region file r.toml: restrictions both in a \[space\] table and outside it "
            r"\(motion\); allowed: one or the other",
        ),
        (
            '[space]\nmotion = "rest"\n[other]\nx = 1\n',
            r"outside it \(other\); allowed: one or the other",
        ),
    ],
)
def test_bad_region_files_are_one_line(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "r.toml").write_text(text)
    with pytest.raises(InvalidParameter, match=match):
        load_region(tmp_path / "r.toml")


# -- through the command line ----------------------------------------------------------------
@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic recordings with gravity (50 Hz, 10 s) and one without (m/s^2)."""
    root = tmp_path_factory.mktemp("recs")
    for i in range(2):
        assert main(["synth", "rest", "--seed", str(i), "--csv", str(root / f"r{i}.csv")]) == 0
    t = np.arange(500) / 50.0
    with open(root / "linear.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t", "x", "y", "z"])
        for k, tk in enumerate(t):
            w.writerow([f"{tk:.3f}", f"{math.sin(k):.4f}", f"{math.cos(k):.4f}", "0.1"])
    return root


def test_bad_recordings_are_listed_and_skipped(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = [
        "realism",
        str(recordings / "r0.csv"),
        str(recordings / "r1.csv"),
        str(recordings / "linear.csv"),
        str(tmp_path / "missing.csv"),
        "--region",
        str(REGIONS / "standing.toml"),
        "--synthetic",
        "6",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "skipped " + str(tmp_path / "missing.csv") + ": recording: " in printed
    assert "linear.csv: recording linear.csv: cannot infer units" in printed
    # 10 s at 50 Hz with jitter: 499 samples on the uniform grid, pieces of 9.98 s.
    assert "2 recordings (2 pieces of 9.98 s at 50 Hz, gravity present)" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gravity"] == "present" and len(summary["skipped"]) == 2
    features = pd.read_parquet(out / "features.parquet")
    # The README names the columns before the features (it said "rate" for fs).
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    named = readme.split("`OUT/features.parquet` (", 1)[1].split("then every feature", 1)[0]
    columns = re.findall(r"`(\w+)`", named)
    assert list(features.columns[: len(columns)]) == columns
    assert (features["source"] == "real").sum() == 2
    assert (features["source"] == "synthetic").sum() >= 6
    assert features["tilt"].notna().all()  # gravity present: angles everywhere


def test_recordings_without_gravity_need_units(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["realism", str(recordings / "linear.csv"), "--out", str(out), "--synthetic", "3"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pass --units g or --units m/s2" in err[0]
    assert not out.exists()
    assert main([*argv, "--units", "m/s2", "--region", str(REGIONS / "standing.toml")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gravity"] == "removed"
    distances = pd.read_parquet(out / "distances.parquet").set_index("feature")
    assert not distances.loc["tilt", "available"] and distances.loc["hf_share", "available"]


def test_a_recording_with_a_gap_is_compared_stretch_by_stretch(
    recordings: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(recordings / "r0.csv")
    frame = frame[(frame["t"] < 4.0) | (frame["t"] > 6.0)]  # 2 s without a sample
    frame.to_csv(tmp_path / "gap.csv", index=False)
    out = tmp_path / "out"
    argv = ["realism", str(tmp_path / "gap.csv"), "--synthetic", "3", "--out", str(out)]
    assert main([*argv, "--region", str(REGIONS / "standing.toml")]) == 0
    real = pd.read_parquet(out / "features.parquet").query("source == 'real'")
    assert real["segment"].tolist() == [0, 1]  # never interpolated across the gap
    assert (real["duration_s"] < 4.0).all()


def test_a_recording_changed_while_read_is_skipped_not_the_comparison(
    recordings: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A recording replaced after it was checked aborted the whole comparison (exit 2,
    or a KeyError traceback): now it is skipped with the reason, as a refused one is."""
    from highfive.harness import _realism

    for name in ("r0.csv", "r1.csv"):
        (tmp_path / name).write_bytes((recordings / name).read_bytes())
    victim = tmp_path / "r1.csv"

    def open_then_change(path: Path, **kwargs: Any) -> Any:
        rec = open_recording(path, **kwargs)
        if Path(path) == victim:
            victim.write_text("t;x;y;z\n0;0;0;1\n")
        return rec

    monkeypatch.setattr(_realism, "open_recording", open_then_change)
    argv = [
        "realism",
        str(tmp_path / "r0.csv"),
        str(victim),
        "--region",
        str(REGIONS / "standing.toml"),
    ]
    assert main([*argv, "--synthetic", "6", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert (
        f"skipped {victim}: recording r1.csv: the file changed while it was read (written "
        "to); read it again once nothing writes to it"
    ) in printed
    assert "1 recordings (1 pieces of 9.98 s at 50 Hz, gravity present)" in printed


def test_recordings_count_refuses_are_skipped_with_its_reason(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A repeated file, a value beyond 1,000 g, a rate under 5 Hz, a recording shorter
    than one window and one moving about 1 (gravity removed): each listed with its
    reason, none aborting the comparison or counted."""
    r0 = pd.read_csv(recordings / "r0.csv")
    huge = r0.copy()
    huge.loc[100, "y_g"] = 1e100  # synth writes its axes as x_g, y_g, z_g
    huge.to_csv(tmp_path / "huge.csv", index=False)
    pd.DataFrame({"t": np.arange(50) * 100.0, "x": 0.0, "y": 0.0, "z": 1.0}).to_csv(
        tmp_path / "slow.csv", index=False
    )
    r0[r0["t"] < 1.0].to_csv(tmp_path / "short.csv", index=False)
    t = np.arange(100) / 10.0
    w = 2 * math.pi * 1.6 * t
    pd.DataFrame({"t": t, "x": 1 + 1.5 * np.sin(w), "y": 1.5 * np.cos(w), "z": 0.0}).to_csv(
        tmp_path / "moving.csv", index=False
    )
    (tmp_path / "link.csv").symlink_to(recordings / "r1.csv")
    names = ["huge", "slow", "short", "moving", "link"]
    argv = [
        "realism",
        str(recordings / "r0.csv"),
        str(recordings / "r1.csv"),
        str(recordings / "r0.csv"),
        *(str(tmp_path / f"{n}.csv") for n in names),
        "--time-unit",
        "s",
        "--synthetic",
        "3",
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    skipped = dict(
        line.removeprefix("skipped ").split(": ", 1)
        for line in printed.splitlines()
        if line.startswith("skipped ")
    )
    assert len(skipped) == 6, printed
    assert "2 recordings (2 pieces" in printed
    assert skipped[str(recordings / "r0.csv")] == "given twice"
    assert skipped[str(tmp_path / "link.csv")] == f"same file as {recordings / 'r1.csv'}"
    assert re.match(
        r"recording huge.csv: row 100 \(x_g, y_g, z_g\) reads \(-?[\d.]+, 1e\+100, -?[\d.]+\), "
        r"1e\+100 g in magnitude",  # named in g
        skipped[str(tmp_path / "huge.csv")],
    )
    assert "allowed: at least 5 Hz" in skipped[str(tmp_path / "slow.csv")]
    assert re.fullmatch(
        r"recording short.csv: 0.9\d* s long \(\d+ samples\), shorter than one window of "
        r"1.5 s; nothing can be counted",
        skipped[str(tmp_path / "short.csv")],
    )
    assert "motion rather than a watch at rest" in skipped[str(tmp_path / "moving.csv")]


@pytest.fixture(scope="module")
def rates(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three recordings at 50, 25 and 12.5 Hz (every 1st, 2nd and 4th sample)."""
    root = tmp_path_factory.mktemp("rates")
    out = []
    for k, (src, step) in enumerate([("r0", 1), ("r1", 2), ("r0", 4)]):
        path = root / f"{'cab'[k]}.csv"
        pd.read_csv(recordings / f"{src}.csv").iloc[::step].to_csv(path, index=False)
        out.append(path)
    return out


@settings(max_examples=6, deadline=None)
@given(order=st.permutations(range(4)))
def test_the_comparison_does_not_depend_on_the_order_of_the_recordings(
    rates: list[Path], order: list[int]
) -> None:
    """Recordings at different rates (synthetic traces take their rates in turn) and one
    given twice: any order gives the same features, distances and facts."""
    given_paths = [*rates, rates[0]]
    first = compare_realism(given_paths, synthetic=5)
    again = compare_realism([given_paths[i] for i in order], synthetic=5)
    pd.testing.assert_frame_equal(again.features, first.features)
    pd.testing.assert_frame_equal(again.distances, first.distances)
    assert again.facts == first.facts and again.skipped == first.skipped


# -- BasicMotions end to end -----------------------------------------------------------------
def _basicmotions(tmp: Path) -> list[Path]:
    if not any(importlib.util.find_spec(p) for p in ("sktime", "aeon")):
        pytest.skip("BasicMotions ships in the sktime or aeon wheel; neither is installed")
    script = ROOT / "examples" / "realdata" / "basicmotions.py"
    subprocess.run([sys.executable, str(script), str(tmp)], check=True, capture_output=True)
    with open(tmp / "labels.csv") as fh:
        return [tmp / r["file"] for r in csv.DictReader(fh) if r["activity"] == "walking"]


def test_basicmotions_walking_against_the_walking_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _basicmotions(tmp_path / "bm")
    assert len(files) == 20
    out, page = tmp_path / "out", tmp_path / "realism.html"
    argv = ["realism", *map(str, files), "--region", str(REGIONS / "walking.toml")]
    argv += ["--units", "m/s2", "--synthetic", "12", "--out", str(out), "--html", str(page)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "20 recordings (20 pieces of 10 s at 10 Hz, gravity removed)" in printed
    assert re.search(r"\npower > 5 Hz +fraction +not available\n", printed)
    distances = pd.read_parquet(out / "distances.parquet").set_index("feature")
    assert list(distances.index) == [f.name for f in FEATURES]
    gone = {"hf_share", "tilt", "roll"}  # 10 Hz: nothing above 5 Hz; no gravity: no angles
    assert set(distances.index[~distances["available"]]) == gone
    assert (distances.loc[~distances.index.isin(gone), "n_real"] == 20).all()
    features = pd.read_parquet(out / "features.parquet")
    synthetic = features[features["source"] == "synthetic"]
    assert (synthetic["fs"] == 10.0).all() and (synthetic["duration_s"] == 10.0).all()
    spectra = pd.read_parquet(out / "spectra.parquet")
    assert set(spectra["source"]) == {"real", "synthetic"} and spectra["frequency_hz"].max() == 5.0
    html = page.read_text()
    assert html.count("<img ") == 2 and "Holes of the generator" in html
    # The same inputs give the same numbers.
    again = tmp_path / "again"
    assert main([*argv[:-4], "--out", str(again)]) == 0
    assert pd.read_parquet(again / "distances.parquet").equals(
        pd.read_parquet(out / "distances.parquet")
    )


def test_matching_compares_only_the_synthetic_pieces_within_the_real_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _basicmotions(tmp_path / "bm")
    out = tmp_path / "out"
    argv = ["realism", *map(str, files), "--region", str(REGIONS / "walking.toml")]
    argv += ["--units", "m/s2", "--synthetic", "60", "--match", "dom_freq", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    features = pd.read_parquet(out / "features.parquet")
    real = features[features["source"] == "real"]
    synthetic = features[features["source"] == "synthetic"]
    # The bounds are the real values' 5 % and 95 % quantiles; every synthetic piece
    # stays in the table, and exactly those within the bounds are compared.
    lo, hi = np.percentile(real["dom_freq"], [5.0, 95.0])
    summary = json.loads((out / "summary.json").read_text())
    match = summary["match"]
    assert (match["feature"], match["central"]) == ("dom_freq", 0.9)
    assert (match["low"], match["high"]) == pytest.approx((lo, hi))
    assert match["synthetic_pieces"] == len(synthetic) >= 60
    inside = synthetic["dom_freq"].between(lo, hi)
    assert real["matched"].all() and (synthetic["matched"] == inside).all()
    kept = int(inside.sum())
    assert 20 <= kept < len(synthetic) and summary["synthetic_pieces"] == kept
    assert "matched on dominant freq: the synthetic pieces within the real central 90% " in printed
    assert f"{kept} of {len(synthetic)}" in printed
    assert re.search(r"\ndominant freq +Hz .* matched\n", printed)
    # The distances are those of the compared pieces; the matched feature is no hole.
    distances = pd.read_parquet(out / "distances.parquet").set_index("feature")
    expected, holes = compare_features(features[features["matched"]].drop(columns="matched"))
    expected = expected.set_index("feature")
    columns = ["n_synthetic", "synthetic_median", "w1_iqr", "ks_pvalue"]
    pd.testing.assert_frame_equal(distances[columns], expected[columns])
    assert distances["matched"].sum() == 1 and distances.loc["dom_freq", "matched"]
    assert distances.loc["dom_freq", "outside"] == 0
    written = pd.read_parquet(out / "holes.parquet")
    assert "dom_freq" not in set(written["feature"])
    pd.testing.assert_frame_equal(
        written, holes[holes["feature"] != "dom_freq"].reset_index(drop=True)
    )


@pytest.mark.parametrize(
    ("region", "match", "error"),
    [
        ("walking", "speed", r"match: 'speed' is not a feature; choose one of mag_p5, "),
        ("walking", "hf_share", r"match: hf_share \(power > 5 Hz\) is not available for these"),
        ("walking", "tilt", r"match: tilt is not available for these recordings \(power "),
        (
            "standing",
            "mag_p50",
            r"match: \d+ of \d+ synthetic pieces have mag_p50 within the real ",
        ),
    ],
)
def test_a_match_that_cannot_be_made_is_one_line_and_writes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    region: str,
    match: str,
    error: str,
) -> None:
    files = _basicmotions(tmp_path / "bm")
    if match != "mag_p50":  # refused before any synthetic trace is made
        from highfive.harness import _realism

        def never(*args: object, **kwargs: object) -> None:
            raise AssertionError("a synthetic trace was made")

        monkeypatch.setattr(_realism, "synthesize", never)
    out = tmp_path / "out"
    argv = ["realism", *map(str, files), "--region", str(REGIONS / f"{region}.toml")]
    argv += ["--units", "m/s2", "--synthetic", "12", "--match", match, "--out", str(out)]
    argv += ["--html", str(tmp_path / "page.html")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(error, err[0]), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm"]


def test_the_command_line_knows_the_output_files_and_the_synthetic_bound() -> None:
    """The CLI keeps copies (importing the module would load scipy for --help)."""
    from highfive.harness import _realism, cli

    assert cli._REALISM_FILES == _realism.OUTPUT_FILES
    assert cli._MAX_SYNTHETIC == _realism.MAX_SYNTHETIC
    empty = pd.DataFrame()
    result = _realism.RealismResult(empty, empty, empty, empty, ())
    assert (*result.tables(), "summary.json") == _realism.OUTPUT_FILES


def test_compare_realism_bounds_the_synthetic_traces(recordings: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"synthetic: 100001 must be a whole number from 1"):
        compare_realism([recordings / "r0.csv"], synthetic=100_001)


def _tree(root: Path) -> dict[str, bytes]:
    return {os.fspath(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", ["html-through-a-link", "recording-named-as-an-output"])
def test_outputs_that_would_overwrite_an_output_or_an_input_are_refused(
    kind: str, recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The --html page through a link to the --out folder replaced summary.json with
    # HTML (exit 0); a recording named features.parquet in --out was replaced by the
    # feature table.
    rec, out = recordings / "r0.csv", tmp_path / "out"
    out.mkdir()
    if kind == "html-through-a-link":
        (tmp_path / "link").symlink_to(out)
        flags = ["--out", str(out), "--html", str(tmp_path / "link" / "summary.json")]
        match = r"--html: '.*link/summary.json' is one of the files --out '.*out' holds"
    else:
        rec = out / "features.parquet"
        pd.read_csv(recordings / "r0.csv").to_parquet(rec, index=False)
        flags = ["--out", str(out)]
        match = (
            r"--out: '.*out' would overwrite the input RECORDING '.*out/features.parquet' with "
            r"its features.parquet; choose another folder"
        )
    before = _tree(tmp_path)
    assert main(["realism", str(rec), str(recordings / "r1.csv"), "--synthetic", "2", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(match, err), err
    assert _tree(tmp_path) == before


def test_a_recording_given_twice_or_linked_is_compared_once(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A hard link was a third recording; a name given twice was "same file as" itself;
    # of a file and a symbolic link to it, the file was the one skipped.
    (tmp_path / "hard.csv").hardlink_to(recordings / "r1.csv")
    (tmp_path / "soft.csv").symlink_to(recordings / "r0.csv")
    r0 = str(recordings / "r0.csv")
    given = [r0, str(tmp_path / "soft.csv"), str(recordings / "r1.csv"), str(tmp_path / "hard.csv")]
    out = tmp_path / "out"
    assert main(["realism", *given, r0, "--synthetic", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 recordings (2 pieces" in printed
    skipped = json.loads((out / "summary.json").read_text())["skipped"]
    reasons = {(name, reason) for name, reason in skipped}
    assert (r0, "given twice") in reasons
    assert (str(tmp_path / "soft.csv"), f"same file as {r0}") in reasons
    assert any(name.endswith("hard.csv") or reason.endswith("hard.csv") for name, reason in reasons)
    assert len(skipped) == 3


def test_stretches_shorter_than_the_pieces_are_left_out_and_said(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A 2.5 s stretch after a gap was compared whole among "pieces of 10 s", and a
    # recording of 1.2 s was one piece of its own. A stretch of fewer samples than a
    # spectrum needs (0.2 s, before a gap) was dropped without a word.
    r0 = pd.read_csv(recordings / "r0.csv")
    after = r0[r0["t"] < 2.5].assign(t=lambda f: f["t"] + 12.0)  # 2 s gap, then 2.5 s
    pd.concat([r0, after]).to_csv(tmp_path / "gap.csv", index=False)
    tiny = r0[r0["t"] < 0.2].assign(t=lambda f: f["t"] - 3.0)  # 10 samples, a 2.8 s gap
    pd.concat([tiny, r0]).to_csv(tmp_path / "tiny.csv", index=False)
    r0[r0["t"] < 1.6].to_csv(tmp_path / "short.csv", index=False)
    out = tmp_path / "out"
    given = [tmp_path / "gap.csv", recordings / "r0.csv", recordings / "r1.csv"]
    given.append(tmp_path / "short.csv")  # stretches of 10, 2.5, 10, 10 and 1.6 s
    given.append(tmp_path / "tiny.csv")  # and of 0.2 and 10 s
    assert main(["realism", *map(str, given), "--synthetic", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    real = pd.read_parquet(out / "features.parquet").query("source == 'real'")
    assert len(real) == 4 and (real["duration_s"] > 9.9).all(), real
    assert "4 recordings (4 pieces of 9.98 s" in printed
    gap, tiny_csv = os.fspath(tmp_path / "gap.csv"), os.fspath(tmp_path / "tiny.csv")
    assert (
        f"left out 2 stretch(es) between gaps shorter than 90% of the pieces: {gap} [1] 2.48 "
        f"s, {tiny_csv} [0] 0.2 s\n"
    ) in printed, [x for x in printed.splitlines() if "left out" in x]
    assert re.search(
        r"skipped .*short.csv: no stretch as long as 90% of the pieces \(9.98 s\); its longest "
        r"is 1.[56]\d* s",
        printed,
    ), printed


def _write(path: Path, fs: float, x: np.ndarray) -> Path:
    t = np.arange(x.shape[0]) / fs
    pd.DataFrame({"t": t, "x": x[:, 0], "y": x[:, 1], "z": x[:, 2]}).to_csv(path, index=False)
    return path


def test_recordings_skipped_after_opening_take_no_part(tmp_path: Path) -> None:
    """Recordings skipped once opened (shorter than a window; no stretch as long as the
    pieces) neither decide the gravity nor the summary nor the synthetic traces' rates:
    five short recordings with gravity made the corpus of three without read as with
    gravity, and a 200 Hz recording left out gave synthetic pieces at 200 Hz."""
    rng = np.random.default_rng(7)
    kept = [  # 10 s at 50 Hz, gravity removed, m/s^2
        _write(tmp_path / f"a{i}.csv", 50.0, rng.normal(0.0, 1.0, (500, 3))) for i in range(3)
    ]
    others = [  # 1.18 s with gravity: shorter than a window
        _write(tmp_path / f"b{i}.csv", 50.0, rng.normal([0.0, 0.0, 9.80665], 0.1, (59, 3)))
        for i in range(5)
    ]
    others.append(_write(tmp_path / "c.csv", 200.0, rng.normal(0.0, 1.0, (990, 3))))  # 4.95 s
    alone = compare_realism(kept, units="m/s2", synthetic=8)
    mixed = compare_realism([*kept, *others], units="m/s2", synthetic=8)
    assert len(mixed.skipped) == 6
    assert mixed.facts["gravity"] == "removed"
    assert set(mixed.features["fs"]) == {50.0}
    pd.testing.assert_frame_equal(mixed.features, alone.features)
    pd.testing.assert_frame_equal(mixed.distances, alone.distances)
    assert {k: v for k, v in mixed.facts.items() if k != "skipped"} == {
        k: v for k, v in alone.facts.items() if k != "skipped"
    }


def test_outputs_are_written_together_or_not_at_all(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """summary.json, the last output, a folder: 'Is a directory', exit 2, yet the four
    tables were already renamed over an earlier run's, a mix of two runs."""
    out = tmp_path / "out"
    argv = ["realism", str(recordings / "r0.csv"), "--synthetic", "2", "--out", str(out)]
    assert main([*argv, "--seed", "1"]) == 0
    (out / "summary.json").unlink()
    (out / "summary.json").mkdir()
    before, names = _tree(tmp_path), sorted(p.name for p in out.iterdir())
    capsys.readouterr()
    assert main([*argv, "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "summary.json" in err and "Is a directory" in err, err
    assert _tree(tmp_path) == before
    assert sorted(p.name for p in out.iterdir()) == names  # no temporary left


def test_a_rename_that_fails_puts_back_what_was_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files renamed before a failing rename are rolled back: the old ones restored,
    the new ones removed; no temporary or copy is left."""
    from highfive.harness import _io, write_together

    old = {"a.txt": b"old a", "b.txt": b"old b"}
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)
    real, renamed = os.replace, []

    def failing(src: Any, dst: Any) -> None:
        if Path(dst).name == "c.txt":
            raise OSError(28, "No space left on device")
        renamed.append(Path(dst).name)
        real(src, dst)

    monkeypatch.setattr(_io.os, "replace", failing)
    writers = {
        f"--{n}": (tmp_path / f"{n}.txt", lambda p, n=n: p.write_text(f"new {n}")) for n in "abc"
    }
    with pytest.raises(InvalidParameter, match=r"cannot write --c '.*c.txt': No space left"):
        write_together(writers)
    assert "a.txt" in renamed and "b.txt" in renamed  # they were renamed, then put back
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old


def test_a_file_written_together_is_never_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each output is old or new at every instant (a reader, or a process killed
    between two renames, never finds it missing): the old one was moved aside before
    the new one was renamed over its name."""
    from highfive.harness import _io, write_together

    for n in "ab":
        (tmp_path / f"{n}.txt").write_text(f"old {n}")
    real = os.replace

    def checking(src: Any, dst: Any) -> None:
        for n in "ab":
            assert (tmp_path / f"{n}.txt").exists(), f"{n}.txt absent during a rename"
        real(src, dst)

    monkeypatch.setattr(_io.os, "replace", checking)
    writers = {
        f"--{n}": (tmp_path / f"{n}.txt", lambda p, n=n: p.write_text(f"new {n}")) for n in "ab"
    }
    write_together(writers)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "a.txt": "new a",
        "b.txt": "new b",
    }


def test_file_names_with_control_characters_are_printed_escaped(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """count's first line and realism's lines printed ESC, BEL, a line break and a
    right-to-left override in a file name as they were."""
    evil = tmp_path / "evil\x1b[31mRED\x07\u202e\nname.csv"
    evil.write_bytes((recordings / "r0.csv").read_bytes())
    assert main(["count", str(evil), "--model", "float"]) == 0
    printed = capsys.readouterr().out
    assert "evil\\x1b[31mRED\\x07\\u202e\\nname.csv: " in printed
    argv = ["realism", str(evil), str(evil), str(recordings / "r1.csv"), "--synthetic", "2"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "skipped " in printed and "evil\\x1b[31mRED" in printed
    assert not any(c in printed for c in "\x1b\x07\u202e")
    assert all(line.isprintable() for line in printed.splitlines())
    # The library returns the names as they are (as GateResult.lines() does): the
    # command line escapes what it prints.
    result = compare_realism([evil, evil, recordings / "r1.csv"], synthetic=2)
    assert any(evil.name in line for line in result.lines())


def test_bidi_and_control_characters_in_names_are_escaped_in_the_html(
    recordings: Path, tmp_path: Path
) -> None:
    """A recording named "\\u202egnp.csv" showed as "csv.png" reversed in the page's
    holes table: HTML escaping leaves a right-to-left override as it is."""
    evil = tmp_path / "\u202egnp\u2066\x07.csv"
    evil.write_bytes((recordings / "r0.csv").read_bytes())
    html = tmp_path / "r.html"
    argv = ["realism", str(evil), str(recordings / "r1.csv"), "--synthetic", "2"]
    assert main([*argv, "--out", str(tmp_path / "out"), "--html", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    assert "\\u202egnp\\u2066\\x07.csv" in page
    assert not any(c in page for c in "\u202e\u2066\x07")


def test_names_that_are_not_utf8_are_written_as_escapes(
    recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A recording named b'\\xff\\xfe.csv' (the file system's bytes, not UTF-8) made
    features.parquet raise UnicodeEncodeError, an --out folder so named raised in
    pyarrow, and count --plot's title raised in matplotlib: tracebacks, exit 1."""
    folder = os.fsencode(tmp_path)
    bad = Path(os.fsdecode(folder + b"/\xff\xfe.csv"))
    bad.write_bytes((recordings / "r0.csv").read_bytes())
    out = Path(os.fsdecode(folder + b"/out\xff"))
    html = tmp_path / "r.html"
    argv = ["realism", str(bad), str(recordings / "r1.csv"), "--synthetic", "2"]
    assert main([*argv, "--out", str(out), "--html", str(html)]) == 0
    with open(out / "features.parquet", "rb") as fh:  # pyarrow opens UTF-8 names only
        names = pd.read_parquet(fh).query("source == 'real'")["recording"]
    assert sorted(Path(n).name for n in names) == ["\\xff\\xfe.csv", "r1.csv"]
    assert "\\xff\\xfe.csv" in html.read_text(encoding="utf-8")
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))
    capsys.readouterr()
    assert main(["count", str(bad), "--plot", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
    # Printed as written to the files, not as Python's stand-ins (\udcff\udcfe).
    assert "\\xff\\xfe.csv: " in capsys.readouterr().out
    # A name that is TeX to matplotlib ("$\\frac$") raised ParseSyntaxException.
    tex = tmp_path / "a$\\frac$.csv"
    tex.write_bytes((recordings / "r0.csv").read_bytes())
    assert main(["count", str(tex), "--plot", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")
    capsys.readouterr()


def test_a_loop_of_links_is_skipped_with_its_reason(recordings: Path, tmp_path: Path) -> None:
    """Path.resolve raised RuntimeError for a link to itself: a traceback."""
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    result = compare_realism([tmp_path / "loop.csv", recordings / "r0.csv"], synthetic=2)
    ((name, reason),) = result.skipped
    assert name == os.fspath(tmp_path / "loop.csv")
    assert re.fullmatch(
        r"recording: .* cannot be opened \(Too many levels of symbolic links\)", reason
    )


def test_a_byte_identical_copy_is_compared_once(recordings: Path, tmp_path: Path) -> None:
    """A copy of a recording under another name was compared as a fourth recording,
    weighing it twice, where a campaign's labels refuse a copy."""
    copy = tmp_path / "copy.csv"
    copy.write_bytes((recordings / "r1.csv").read_bytes())
    r1 = os.fspath(recordings / "r1.csv")
    result = compare_realism([recordings / "r0.csv", r1, copy], synthetic=2)
    assert result.facts["real_recordings"] == 2
    shown = {os.fspath(copy): f"same bytes as {r1}", r1: f"same bytes as {os.fspath(copy)}"}
    assert len(result.skipped) == 1
    name, reason = result.skipped[0]
    assert reason == shown[name]


def test_of_a_file_and_a_path_through_a_linked_folder_the_file_is_kept(
    recordings: Path, tmp_path: Path
) -> None:
    """A link to the folder whose path sorted first was kept, the file skipped as 'same
    file as' the link."""
    link = tmp_path.parent / f"a_link_{tmp_path.name}"  # beside the recordings' folder
    link.symlink_to(recordings)
    try:
        r1, linked = recordings / "r1.csv", link / "r1.csv"
        assert os.fspath(linked) < os.fspath(r1)  # the link's path sorts first
        result = compare_realism([linked, recordings / "r0.csv", r1], synthetic=2)
    finally:
        link.unlink()
    assert result.skipped == ((os.fspath(linked), f"same file as {r1}"),)


def test_a_match_on_readings_that_do_not_move_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Still recordings have no dominant frequency: --match dom_freq named only the rate
    and gravity as reasons, neither of which applied."""
    t = np.arange(500) / 50.0
    for name in ("a.csv", "b.csv"):
        pd.DataFrame({"t": t, "x": 0.0, "y": 0.0, "z": 1.0}).to_csv(tmp_path / name, index=False)
    argv = ["realism", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--match", "dom_freq"]
    assert main([*argv, "--synthetic", "2", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: match: dom_freq (dominant freq) is not available for these")
    assert "a dominant frequency and power above 5 Hz need a reading that moves" in err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()
