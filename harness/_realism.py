"""How real are the synthetic traces? Real recordings against synthetic traces of a region
of the parameter space, feature by feature (``highfive realism``).

Real recordings are read as ``highfive count`` reads them (:func:`open_recording`:
units and orientation from the quietest stretch; those it refuses, those shorter than
one window of the shipped models and a file given twice are skipped with the reason),
in the order of their resolved paths (the result does not depend on the order given),
and put on a uniform grid at their own rate; they either contain gravity (a watch's
raw accelerometer) or have it removed (linear acceleration): ``gravity="auto"``
decides for the whole corpus from the median of their quietest stretches' magnitudes
(:data:`PRESENT_G` or more: present). Only the recordings compared count there: one
skipped, or left out for having no stretch as long as a piece, decides nothing, nor
does it give a rate to a synthetic trace or to the summary.
Synthetic traces are drawn at random from the region (the space's own distributions),
made with gravity or without to match, put on a uniform grid, resampled
to a real recording's rate with :func:`scipy.signal.resample_poly`
(anti-alias filter) and, like the real ones, cut into pieces of the real recordings'
median length, so that features are compared at the same rate and duration (shorter
stretches, below :data:`SHORTEST` of it or of fewer than :data:`MIN_SAMPLES`, are left
out and said). Features:
:mod:`._realism_features`.

Per feature: the Wasserstein-1 distance between the real and synthetic values divided
by the real values' interquartile range (:func:`normalised_wasserstein`) with its 90 %
bootstrap range (:data:`BOOTSTRAP` resamples of both sets: how far the distance moves
with other recordings and traces of the same kinds; not a confidence interval, since
two finite samples of one distribution are never 0 apart), the two-sample
Kolmogorov-Smirnov test (:func:`scipy.stats.ks_2samp`, two-sided) and its p-value, and
the real pieces outside the synthetic values' central 99 % (0.5 % to 99.5 % quantiles):
the **holes** of the generator, what it does not produce.

With ``match``, the comparison is conditional on one feature: only the synthetic pieces
whose value of it lies within the real values' central :data:`MATCH_CENTRAL` are
compared (every piece stays in the features table, ``matched`` False for those left
out). Matching on the dominant frequency compares walks at the corpus's own pace, so a
distance that remains is a difference of the wrist model, not of the range of paces.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, TextIO

import numpy as np
import pandas as pd
from scipy import signal, stats

from highfive.generators import (
    G,
    HighfiveError,
    InvalidParameter,
    ParameterSpace,
    default_space,
    read_toml,
    show,
    synthesize,
)

from ._io import file_identity, resolved_path, utf8_text
from ._model_spec import ModelSpec
from ._pipeline import countable
from ._preprocess import to_uniform
from ._progress import Progress
from ._realism_features import FEATURES, dynamic, magnitude_spectrum, piece_features
from ._recording import Advise, open_recording
from ._recording_count import nothing_to_count, stretches

__all__ = [
    "BOOTSTRAP",
    "CENTRAL",
    "INTERVAL",
    "MATCH_CENTRAL",
    "PRESENT_G",
    "Gravity",
    "RealismResult",
    "bootstrap_w1_iqr",
    "compare_features",
    "compare_realism",
    "interval_text",
    "load_region",
    "normalised_wasserstein",
]

Gravity = Literal["auto", "present", "removed"]

MAX_SYNTHETIC = 100_000
"""Most synthetic traces one comparison makes (each takes milliseconds to a second)."""

OUTPUT_FILES = (
    "features.parquet",
    "distances.parquet",
    "holes.parquet",
    "spectra.parquet",
    "summary.json",
)
"""The files ``highfive realism`` writes into its ``--out`` folder."""

CENTRAL = 0.99
"""Share of the synthetic values a real value must fall within (centred), else a hole."""

BOOTSTRAP = 1000
"""Resamples (of the real and the synthetic values together) behind each distance's
interval."""

INTERVAL = 0.9
"""Share of the resampled distances the bootstrap range holds (their 5 % to 95 %)."""

MATCH_CENTRAL = 0.9
"""With ``match``, synthetic pieces are kept whose value lies within this central share of
the real values (5 % to 95 % quantiles, inclusive)."""

MIN_MATCHED = 20
"""With ``match``, fewer synthetic pieces kept than this is an error: too few to compare."""

MIN_SAMPLES = 16
"""A stretch of a recording with fewer samples is left out (too short for a spectrum)."""

SHORTEST = 0.9
"""A stretch shorter than this share of the piece length is left out (and said): a
shorter piece would compare its percentiles, jerk and spectrum at another duration."""

PRESENT_G = 0.75
"""With ``gravity="auto"``, recordings whose quietest stretches read at least this much
(median over the corpus, g) contain gravity. Halfway between 0.5 g and 1 g: the quietest
second of BasicMotions running, gravity removed, reads 0.52 g (median; 0.23 to 1.4 g),
with gravity restored 1.07 g (0.6 to 1.7 g); standing and walking read under 0.3 g
without gravity and about 1 g with it."""
WINDOW_S = ModelSpec.window_s
"""A recording with no stretch between gaps this long (the shipped models' window, s) is
skipped, as ``highfive count`` refuses it."""
_BY_NAME = {f.name: f for f in FEATURES}


# -- the region ------------------------------------------------------------------------
def load_region(path: str | os.PathLike[str] | None) -> tuple[dict[str, Any], ParameterSpace]:
    """The restrictions in a region file and the space they leave.

    A region file holds dimension restrictions as a campaign's ``[space]`` table does
    (``background = "walking"``, ``peak_accel = [5.0, 30.0]``, ``motion = ["clap",
    "wave"]``), at the top level or in a ``[space]`` table. None: the whole default
    space.

    Raises
    ------
    InvalidParameter, ConfigError
        One line naming the file and the unknown key or bad value.
    """
    if path is None:
        return {}, default_space()
    path = Path(path)
    data = read_toml(path, "region file")
    if "space" in data and isinstance(data["space"], Mapping):
        others = sorted(k for k in data if k != "space")
        if others:
            raise InvalidParameter(
                f"region file {path.name}: restrictions both in a [space] table and outside "
                f"it ({', '.join(others)}); allowed: one or the other"
            )
        data = dict(data["space"])
    try:
        return data, default_space().restrict(**data)
    except InvalidParameter as exc:
        raise InvalidParameter(f"region file {path.name}: {exc}") from None


# -- distances ---------------------------------------------------------------------------
def normalised_wasserstein(real: Sequence[float], synthetic: Sequence[float]) -> float:
    """Wasserstein-1 distance between two samples over the first one's interquartile range.

    The distance is the mean absolute difference between matched quantiles (the area
    between the two empirical distribution functions), in the feature's unit; divided
    by the real values' IQR (p75 - p25) it reads as "how many real spreads apart".
    NaN when the real IQR is 0 or a sample is empty.
    """
    r = np.asarray(real, dtype=np.float64)
    s = np.asarray(synthetic, dtype=np.float64)
    if r.size == 0 or s.size == 0:
        return math.nan
    p25, p75 = np.percentile(r, [25.0, 75.0])
    iqr = float(p75 - p25)
    if not iqr > 0:
        return math.nan
    return float(stats.wasserstein_distance(r, s)) / iqr


def bootstrap_w1_iqr(
    real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """:func:`normalised_wasserstein` of ``resamples`` bootstrap resamples of both samples.

    Each resample draws both samples again with replacement, at their own sizes. A
    resample whose real IQR is 0 is infinitely far (the distance has no scale). The
    distance of two empirical distributions is the integral of the gap between their
    quantile functions, which are steps at multiples of 1/n and 1/m: for samples of
    fixed sizes the steps fall at the same places in every resample, so all of them are
    taken at once on that common grid (exact, as :func:`scipy.stats.wasserstein_distance`).
    """
    n, m = real.size, synthetic.size
    edges = np.union1d(np.arange(n + 1) / n, np.arange(m + 1) / m)
    mid, width = 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)
    at_r = np.minimum((mid * n).astype(np.int64), n - 1)
    at_s = np.minimum((mid * m).astype(np.int64), m - 1)
    out = np.empty(resamples)
    block = max(1, 2_000_000 // (n + m))  # resamples at a time: about 16 MB each side
    for first in range(0, resamples, block):
        b = min(block, resamples - first)
        r = np.sort(real[rng.integers(0, n, (b, n))], axis=1)
        s = np.sort(synthetic[rng.integers(0, m, (b, m))], axis=1)
        w1 = np.abs(r[:, at_r] - s[:, at_s]) @ width
        p25, p75 = np.percentile(r, [25.0, 75.0], axis=1)
        iqr = p75 - p25
        scaled = np.full(b, math.inf)
        np.divide(w1, iqr, out=scaled, where=iqr > 0)
        out[first : first + b] = scaled
    return out


def compare_features(features: pd.DataFrame, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Distances per feature and the holes, from per-piece features.

    Parameters
    ----------
    features : pandas.DataFrame
        One row per piece: ``source`` ("real" or "synthetic"), ``recording``,
        ``segment``, ``piece``, ``start_s`` and one column per feature (NaN: not
        available).
    seed : int
        Seed of the bootstrap resamples (each feature draws from a stream of its own).

    Returns
    -------
    distances : pandas.DataFrame
        One row per feature: counts, real median and IQR, synthetic median and central
        range, W1, W1 / IQR and its :data:`INTERVAL` bootstrap range (``w1_iqr_low``,
        ``w1_iqr_high``; infinite where resamples without real spread reach it, NaN
        with W1 / IQR when the real values have no spread), KS
        statistic and p-value, real pieces outside.
    holes : pandas.DataFrame
        One row per (real piece, feature) outside the synthetic central range.
    """
    real = features[features["source"] == "real"]
    synth = features[features["source"] == "synthetic"]
    tail = 100.0 * (1.0 - CENTRAL) / 2.0
    rows: list[dict[str, Any]] = []
    holes: list[tuple[int, int, dict[str, Any]]] = []  # (real row, feature, hole)
    for j, feat in enumerate(FEATURES):
        r_all = real[feat.name].to_numpy(dtype=np.float64)
        r = r_all[np.isfinite(r_all)]
        s = synth[feat.name].to_numpy(dtype=np.float64)
        s = s[np.isfinite(s)]
        row: dict[str, Any] = {
            "feature": feat.name,
            "label": feat.label,
            "unit": feat.unit,
            "n_real": int(r.size),
            "n_synthetic": int(s.size),
            "available": bool(r.size and s.size),
        }
        nan = math.nan
        row |= dict.fromkeys(
            (
                "real_median",
                "real_iqr",
                "synthetic_median",
                "synthetic_low",
                "synthetic_high",
                "w1",
                "w1_iqr",
                "w1_iqr_low",
                "w1_iqr_high",
                "ks_statistic",
                "ks_pvalue",
            ),
            nan,
        )
        row["outside"] = 0
        if row["available"]:
            p25, p50, p75 = np.percentile(r, [25.0, 50.0, 75.0])
            lo, hi = np.percentile(s, [tail, 100.0 - tail])
            ks = stats.ks_2samp(r, s)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**32 + 1, j)))
            boot = bootstrap_w1_iqr(r, s, rng, BOOTSTRAP)
            tail_b = (1.0 - INTERVAL) / 2.0
            low, high = np.quantile(boot, [tail_b, 1.0 - tail_b], method="inverted_cdf")
            w1_iqr = normalised_wasserstein(r, s)
            if math.isnan(w1_iqr):  # no real spread: no distance, so no range of it
                low = high = math.nan
            row |= {
                "real_median": float(p50),
                "real_iqr": float(p75 - p25),
                "synthetic_median": float(np.median(s)),
                "synthetic_low": float(lo),
                "synthetic_high": float(hi),
                "w1": float(stats.wasserstein_distance(r, s)),
                "w1_iqr": w1_iqr,
                "w1_iqr_low": float(low),
                "w1_iqr_high": float(high),
                "ks_statistic": float(ks.statistic),
                "ks_pvalue": float(ks.pvalue),
            }
            out = np.isfinite(r_all) & ((r_all < lo) | (r_all > hi))
            row["outside"] = int(out.sum())
            for i in np.flatnonzero(out):
                rec = real.iloc[i]
                holes.append(
                    (
                        int(i),
                        j,
                        {
                            "recording": str(rec["recording"]),
                            "segment": int(rec["segment"]),
                            "piece": int(rec["piece"]),
                            "start_s": float(rec["start_s"]),
                            "feature": feat.name,
                            "value": float(r_all[i]),
                            "synthetic_low": float(lo),
                            "synthetic_high": float(hi),
                            "side": "below" if r_all[i] < lo else "above",
                        },
                    )
                )
        rows.append(row)
    hole_cols = [
        "recording",
        "segment",
        "piece",
        "start_s",
        "feature",
        "value",
        "synthetic_low",
        "synthetic_high",
        "side",
    ]
    ordered = [h for _, _, h in sorted(holes, key=lambda h: (h[0], h[1]))]  # by piece
    return pd.DataFrame(rows), pd.DataFrame(ordered, columns=hole_cols)


# -- traces to pieces --------------------------------------------------------------------
@dataclass(frozen=True)
class _Stretch:
    """A uniformly sampled stretch of a trace, m/s^2, and where it came from."""

    recording: str
    segment: int
    fs: float
    x: np.ndarray  # (n, 3), m/s^2
    case: int = -1


def _piece_rows(stretch: _Stretch, piece_s: float) -> int:
    """Rows of each piece of ``piece_s`` cut from a stretch; 0 when it is shorter than
    :data:`SHORTEST` of a piece (left out)."""
    n = stretch.x.shape[0]
    m = max(MIN_SAMPLES, round(piece_s * stretch.fs))
    # Up to 10 % shorter: recordings of a few samples less than the median.
    return 0 if n < SHORTEST * m else min(n, m)


def _pieces(
    stretch: _Stretch, piece_s: float, with_gravity: bool
) -> list[tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]]:
    """Features and magnitude spectrum of each piece of ``piece_s`` of a stretch."""
    fs = stretch.fs
    n = stretch.x.shape[0]
    m = _piece_rows(stretch, piece_s)
    if not m:
        return []
    dyn = dynamic(stretch.x, fs)
    out = []
    for k in range(n // m):
        a, b = k * m, (k + 1) * m
        raw = stretch.x[a:b] if with_gravity else None
        row: dict[str, Any] = {
            "recording": stretch.recording,
            "segment": stretch.segment,
            "piece": k,
            "start_s": a / fs,
            "fs": fs,
            "duration_s": m / fs,
            "case": stretch.case,
        }
        row |= piece_features(dyn[a:b], fs, raw)
        out.append((row, magnitude_spectrum(dyn[a:b], fs)))
    return out


def _read_real(
    paths: Sequence[str | os.PathLike[str]],
    units: Any,
    time_unit: Any,
    advise: Advise = "python",
) -> tuple[list[_Stretch], list[tuple[str, str]], dict[str, float], list[tuple[str, int, float]]]:
    """The usable recordings as stretches between gaps, the skipped ones with their
    reason, what each usable one's quietest stretch reads (g), and the stretches of
    usable ones too short for a spectrum (recording, stretch, duration in s).

    Names are :func:`utf8_text`: a name that is not UTF-8 has its bytes as escapes. A
    recording given twice, through a link, or as a copy (the same bytes under another
    name) is compared once: the first in the canonical order, the others skipped.
    """
    opened, skipped = [], []
    first: dict[tuple[object, ...], str] = {}  # file identity -> the name first given
    contents: dict[str, str] = {}  # SHA-256 of a file opened -> its name
    # In a canonical order (resolved path, the file before a path through a link to it or
    # to a folder above it, then name), so that the result does not depend on the order
    # the recordings are given in.
    named = [
        (resolved, resolved != os.fspath(Path(p).absolute()), os.fspath(p), p)
        for p in paths
        for resolved in [os.fspath(resolved_path(Path(p)))]
    ]
    for _, _, given, p in sorted(named, key=lambda x: x[:3]):
        name = utf8_text(given)
        key = file_identity(Path(p))  # a symbolic or hard link is the file
        if key in first:
            said = "given twice" if first[key] == name else f"same file as {first[key]}"
            skipped.append((name, said))
            continue
        first[key] = name
        try:
            rec = open_recording(p, units=units, time_unit=time_unit, advise=advise)
        except HighfiveError as exc:
            skipped.append((name, utf8_text(str(exc))))
            continue
        with open(p, "rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
        if sha in contents:  # a copy would weigh one recording twice
            skipped.append((name, f"same bytes as {contents[sha]}"))
            continue
        contents[sha] = name
        opened.append((name, rec))
    usable: list[_Stretch] = []
    rest_g: dict[str, float] = {}
    tiny: list[tuple[str, int, float]] = []
    for name, rec in opened:
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        segments: list[list[tuple[np.ndarray, np.ndarray]]] = []
        try:
            for t, x, starts in rec.pieces():
                if starts and parts:
                    segments.append(parts)
                    parts = []
                parts.append((t, x))
        except HighfiveError as exc:  # it changed since it was opened
            skipped.append((name, utf8_text(str(exc))))
            continue
        segments.append(parts)
        read = ((t, x, j == 0) for seg in segments for j, (t, x) in enumerate(seg))
        spans = stretches(rec, pieces=read)
        if not any(countable(span, n, rec.fs, WINDOW_S) for span, n in spans):
            # As highfive count refuses it (with the shipped models' window).
            skipped.append((name, utf8_text(nothing_to_count(rec.path.name, spans, WINDOW_S))))
            continue
        kept, few = 0, []
        for i, seg in enumerate(segments):
            t = np.concatenate([p[0] for p in seg])
            x = np.concatenate([p[1] for p in seg])
            if t.size < MIN_SAMPLES:
                few.append((name, i, t.size / rec.fs))
                continue
            _, xu = to_uniform(t, x, rec.fs, rec.fs)
            usable.append(_Stretch(name, i, rec.fs, xu.astype(np.float64) * G))
            kept += 1
        if kept:
            rest_g[name] = rec.rest.magnitude
            tiny += few
        else:
            skipped.append((name, f"no stretch between gaps holds {MIN_SAMPLES} samples"))
    return usable, skipped, rest_g, tiny


def _resampled(t: np.ndarray, x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """``x`` on a uniform grid at ``fs_in``, then at ``fs_out`` (polyphase, anti-aliased)."""
    _, xu = to_uniform(t, x, fs_in, fs_in)
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    x64 = xu.astype(np.float64)
    if ratio == 1:
        return x64
    return np.asarray(
        signal.resample_poly(x64, ratio.numerator, ratio.denominator, axis=0, padtype="line")
    )


# -- the comparison ------------------------------------------------------------------------
@dataclass(frozen=True)
class RealismResult:
    """What :func:`compare_realism` found; see the module docstring.

    Attributes
    ----------
    features : pandas.DataFrame
        One row per piece, real and synthetic (``source``), with every feature.
    distances : pandas.DataFrame
        One row per feature (:func:`compare_features`).
    holes : pandas.DataFrame
        Real pieces outside the synthetic central range, one row per feature.
    spectra : pandas.DataFrame
        Mean Welch spectrum of the dynamic magnitude per source (``frequency_hz``,
        ``psd`` in (m/s^2)^2/Hz) on a common frequency grid.
    skipped : tuple of (str, str)
        Recordings left out and why.
    facts : dict
        Region, gravity, piece length, rates, seed, how many traces.
    """

    features: pd.DataFrame
    distances: pd.DataFrame
    holes: pd.DataFrame
    spectra: pd.DataFrame
    skipped: tuple[tuple[str, str], ...]
    facts: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """File name -> table, for the output folder."""
        return {
            "features.parquet": self.features,
            "distances.parquet": self.distances,
            "holes.parquet": self.holes,
            "spectra.parquet": self.spectra,
        }

    def lines(self) -> list[str]:
        """A short text table: one line per feature, then holes and skipped recordings
        (raw text: file names may hold control characters, which the CLI escapes)."""
        f = self.facts
        out = [
            f"{f['real_recordings']} recordings ({f['real_pieces']} pieces of "
            f"{f['piece_s']:.3g} s at {', '.join(f'{r:g}' for r in f['rates_hz'])} Hz, "
            f"gravity {f['gravity']}) against {f['synthetic_pieces']} synthetic pieces of "
            f"{f['synthetic']} traces from {f['region_name']}",
            f"gravity {f['gravity']} ({'given' if f['gravity_given'] != 'auto' else 'auto'}): "
            f"the recordings' quietest stretches read {f['rest_g']['median']:.2f} g (median; "
            f"{f['rest_g']['min']:.2f} to {f['rest_g']['max']:.2f}); synthetic gravity "
            f"{f['synthetic_gravity']}",
            *self._match_lines(),
            f"{'feature':<15} {'unit':<9} {'real median':>11} {'real IQR':>9} "
            f"{'synth median':>12} {'W1/IQR':>7} {f'{INTERVAL:.0%} range':>13} "
            f"{'KS p':>8} {'outside':>8}",
        ]
        for d in self.distances.to_dict("records"):
            label = f"{d['label']:<15} {d['unit']:<9}"
            if not d["available"]:
                out.append(f"{label} {'not available':>11}")
                continue
            outside = "matched" if d.get("matched") else f"{d['outside']}/{d['n_real']}"
            out.append(
                f"{label} {float(d['real_median']):>11.3g} {float(d['real_iqr']):>9.3g} "
                f"{float(d['synthetic_median']):>12.3g} {_fmt(float(d['w1_iqr']), 7, '.2f')} "
                f"{interval_text(d['w1_iqr_low'], d['w1_iqr_high']):>13} "
                f"{float(d['ks_pvalue']):>8.2g} {outside:>8}"
            )
        holes = self.hole_recordings()
        pieces = f["real_pieces"]
        out.append(
            f"holes: {len(holes)} of {pieces} real pieces fall outside the synthetic central "
            f"{100 * CENTRAL:g}% on some feature" + (":" if holes else "")
        )
        for name, feats in list(holes.items())[:10]:
            out.append(f"  {name}: {', '.join(feats)}")
        if len(holes) > 10:
            out.append(f"  ... and {len(holes) - 10} more (holes.parquet)")
        short = f.get("short_stretches", [])
        if short:
            shown = ", ".join(f"{name} [{seg}] {d:.3g} s" for name, seg, d in short[:3])
            more = f" and {len(short) - 3} more" if len(short) > 3 else ""
            out.append(
                f"left out {len(short)} stretch(es) between gaps shorter than "
                f"{SHORTEST:.0%} of the pieces: {shown}{more}"
            )
        for name, why in self.skipped:
            out.append(f"skipped {name}: {why}")
        return out

    def _match_lines(self) -> list[str]:
        m = self.facts.get("match")
        if not m:
            return []
        feat = _BY_NAME[m["feature"]]
        return [
            f"matched on {feat.label}: the synthetic pieces within the real central "
            f"{m['central']:.0%} ({m['low']:.4g} to {m['high']:.4g} {feat.unit}), "
            f"{self.facts['synthetic_pieces']:,} of {m['synthetic_pieces']:,}; its own "
            "distance says little"
        ]

    def compared(self) -> pd.DataFrame:
        """The pieces compared: every real one, the synthetic ones matched."""
        if "matched" not in self.features:
            return self.features
        return self.features[self.features["matched"]]

    def hole_recordings(self) -> dict[str, list[str]]:
        """Real piece ("recording" or "recording [piece k]") -> features outside."""
        out: dict[str, list[str]] = {}
        multi = self.facts.get("real_pieces", 0) > self.facts.get("real_recordings", 0)
        for h in self.holes.itertuples():
            key = str(h.recording) + (f" [{h.segment}.{h.piece}]" if multi else "")
            out.setdefault(key, []).append(f"{h.feature} {h.side}")
        return out


def interval_text(low: float, high: float, dash: str = "-", infinity: str = "inf") -> str:
    """A distance's bootstrap range as text, ``0.42-0.85``; ``infinity`` for an unbounded
    end, ``n/a`` for a missing one (and for the range when both are)."""
    if math.isnan(low) and math.isnan(high):
        return "n/a"

    def end(x: float) -> str:
        return infinity if math.isinf(x) else "n/a" if math.isnan(x) else f"{x:.2f}"

    return f"{end(float(low))}{dash}{end(float(high))}"


def _fmt(x: float, width: int, spec: str) -> str:
    return f"{'n/a':>{width}}" if not math.isfinite(x) else f"{x:>{width}{spec}}"


def compare_realism(
    recordings: Sequence[str | os.PathLike[str]],
    *,
    region: str | os.PathLike[str] | None = None,
    synthetic: int = 200,
    seed: int = 0,
    units: Any = "auto",
    time_unit: Any = "auto",
    gravity: Gravity = "auto",
    match: str | None = None,
    stream: TextIO | None = None,
    advise: Advise = "python",
) -> RealismResult:
    """Compare real recordings with synthetic traces of a region, feature by feature.

    Parameters
    ----------
    recordings : sequence of path
        CSV or Parquet files (as ``highfive count`` reads them); those that cannot be
        read are skipped and listed with their reason.
    region : path, optional
        Region file (:func:`load_region`); default the whole default space.
    synthetic : int
        Synthetic traces to make (each gives one or more pieces).
    seed : int
        Seed of the synthetic draw: the same inputs give the same result.
    units, time_unit : str
        As for :func:`open_recording` (a recording without gravity needs ``units``).
    gravity : {"auto", "present", "removed"}
        Whether the recordings contain gravity; auto: from their quietest stretches.
    match : str, optional
        A feature's name (``dom_freq``, ...): compare only the synthetic pieces whose
        value of it lies within the real values' central :data:`MATCH_CENTRAL`.
    stream : text stream, optional
        Where to show the synthetic traces made so far, their rate and the time left
        (a line redrawn on a terminal, a line every 10 s elsewhere); default: nowhere.
    advise : {"python", "cli", "campaign"}
        How a skipped recording's reason names ``units`` and ``time_unit``, as in
        :func:`open_recording`.

    Raises
    ------
    InvalidParameter
        A bad region file or argument, no usable recording, a ``match`` feature the
        recordings do not have, or fewer than :data:`MIN_MATCHED` synthetic pieces
        matched.
    """
    if (
        isinstance(synthetic, bool)
        or not isinstance(synthetic, int)
        or not 1 <= synthetic <= MAX_SYNTHETIC
    ):
        raise InvalidParameter(
            f"synthetic: {show(synthetic)} must be a whole number from 1 to {MAX_SYNTHETIC:,}"
        )
    if gravity not in ("auto", "present", "removed"):
        raise InvalidParameter(
            f"gravity: {show(gravity)} is not allowed; choose auto, present or removed"
        )
    if match is not None and match not in _BY_NAME:
        raise InvalidParameter(
            f"match: {show(match)} is not a feature; choose one of {', '.join(_BY_NAME)}"
        )
    restrictions, space = load_region(region)
    real, skipped, rest, tiny = _read_real(recordings, units, time_unit, advise)
    if not real:
        first = f"{skipped[0][0]}: {skipped[0][1]}" if skipped else "none given"
        more = f" (and {len(skipped) - 1} more skipped)" if len(skipped) > 1 else ""
        raise InvalidParameter(f"recordings: no usable recording; {first}{more}")
    piece_s = float(np.median([s.x.shape[0] / s.fs for s in real]))
    dur = space["duration"]
    assert dur.high is not None
    piece_s = min(piece_s, float(dur.high))
    # Only the stretches that give pieces (and their recordings) take part from here on:
    # the gravity decision, the summary and the synthetic traces' rates come from them.
    short = sorted(  # stretches left out: shorter than a piece, or than a spectrum needs
        tiny
        + [
            (s.recording, s.segment, s.x.shape[0] / s.fs)
            for s in real
            if not _piece_rows(s, piece_s)
        ]
    )
    real = [s for s in real if _piece_rows(s, piece_s)]  # at least the median's half
    kept = {s.recording for s in real}
    rest_g = [rest[name] for name in sorted(kept)]
    if gravity == "auto":
        with_gravity = float(np.median(rest_g)) >= PRESENT_G
    else:
        with_gravity = gravity == "present"
    decided = "present" if with_gravity else "removed"
    rows: list[dict[str, Any]] = []
    specs: list[tuple[np.ndarray, np.ndarray]] = []  # each row's magnitude spectrum
    for s in real:
        for row, spec in _pieces(s, piece_s, with_gravity):
            rows.append({"source": "real", **row})
            specs.append(spec)
    bounds = _match_bounds(match, [r[match] for r in rows] if match else [])
    for name in dict.fromkeys(r for r, _, _ in short if r not in kept):
        longest = max(d for r, _, d in short if r == name)
        skipped.append(
            (
                name,
                f"no stretch as long as {SHORTEST:.0%} of the pieces ({piece_s:.3g} s); "
                f"its longest is {longest:.3g} s",
            )
        )
    short = [x for x in short if x[0] in kept]
    # The parameter rows: one uniform draw per case from a stream of its own, mapped
    # through the space's distributions; case i's trace from its own child seed.
    u = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**32,)))
    params = space.rows(u.random((synthetic, space.d)))
    rates = [s.fs for s in real]
    progress = Progress(synthetic, 0, stream, "", unit="synthetic traces", quiet_if_quick=True)
    for i, p in enumerate(params):
        if not dur.is_fixed:
            p["duration"] = min(max(float(p["duration"]), piece_s), float(dur.high))
        case_seed = np.random.SeedSequence(seed, spawn_key=(i,))
        trace = synthesize(p, case_seed, validate=False, gravity=with_gravity)
        fs = rates[i % len(rates)]
        x = _resampled(trace.t, trace.samples, trace.fs, fs) * G
        stretch = _Stretch(f"synthetic-{i}", 0, fs, x, case=i)
        for row, spec in _pieces(stretch, piece_s, with_gravity):
            rows.append({"source": "synthetic", **row})
            specs.append(spec)
        progress.update(1, {})
    progress.close()
    features = pd.DataFrame(rows)
    is_real = (features["source"] == "real").to_numpy()
    compared = np.ones(len(features), dtype=bool)
    if match is not None:
        value = features[match].to_numpy(dtype=np.float64)
        compared = is_real | ((value >= bounds[0]) & (value <= bounds[1]))  # NaN: never
        n_kept, n_all = int((compared & ~is_real).sum()), int((~is_real).sum())
        if n_kept < MIN_MATCHED:
            raise InvalidParameter(
                f"match: {n_kept} of {n_all:,} synthetic pieces have {match} within the real "
                f"central {MATCH_CENTRAL:.0%} ({bounds[0]:.4g} to {bounds[1]:.4g}); at least "
                f"{MIN_MATCHED} are needed: give more --synthetic or a region nearer the "
                "recordings"
            )
    features["matched"] = compared
    distances, holes = compare_features(features[compared], seed=seed)
    # The matched feature's synthetic values lie inside the real central range by
    # construction: real pieces beyond it are not holes of the generator.
    distances["matched"] = distances["feature"] == match
    distances.loc[distances["matched"], "outside"] = 0
    holes = holes[holes["feature"] != match].reset_index(drop=True)
    spectra: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"real": [], "synthetic": []}
    for spec, real_row, keep in zip(specs, is_real, compared, strict=True):
        if keep:
            spectra["real" if real_row else "synthetic"].append(spec)
    n_real = int(is_real.sum())
    facts = {
        "region": restrictions,
        "region_name": os.fspath(region) if region is not None else "the default space",
        "gravity": decided,
        "gravity_given": gravity,
        "rest_g": {
            "median": float(np.median(rest_g)),
            "min": float(np.min(rest_g)),
            "max": float(np.max(rest_g)),
        },
        "synthetic_gravity": "present" if with_gravity else "removed by the generator",
        "piece_s": piece_s,
        "rates_hz": sorted(set(rates)),
        "real_recordings": len(kept),
        "short_stretches": [list(x) for x in short],
        "real_pieces": n_real,
        "synthetic": synthetic,
        "synthetic_pieces": int(compared.sum()) - n_real,
        "match": None
        if match is None
        else {
            "feature": match,
            "low": bounds[0],
            "high": bounds[1],
            "central": MATCH_CENTRAL,
            "synthetic_pieces": int((~is_real).sum()),
        },
        "seed": seed,
        "skipped": [list(s) for s in skipped],
    }
    return RealismResult(
        features=features,
        distances=distances,
        holes=holes,
        spectra=_mean_spectra(spectra),
        skipped=tuple(skipped),
        facts=facts,
    )


def _match_bounds(match: str | None, values: Sequence[float]) -> tuple[float, float]:
    """The real values' central :data:`MATCH_CENTRAL` of feature ``match``; refused
    when no real piece has it (a feature not available at these rates or without
    gravity)."""
    if match is None:
        return (-math.inf, math.inf)
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        label = _BY_NAME[match].label
        said = match if label == match else f"{match} ({label})"
        raise InvalidParameter(
            f"match: {said} is not available for these recordings (power above "
            "5 Hz needs a rate above 10 Hz, tilt and roll need gravity, a dominant "
            "frequency and power above 5 Hz need a reading that moves); choose another "
            "feature"
        )
    tail = 100.0 * (1.0 - MATCH_CENTRAL) / 2.0
    lo, hi = np.percentile(v, [tail, 100.0 - tail])
    return float(lo), float(hi)


def _mean_spectra(spectra: Mapping[str, list[tuple[np.ndarray, np.ndarray]]]) -> pd.DataFrame:
    """Mean spectrum per source on one grid: up to the lowest Nyquist, the finest step."""
    every = [s for specs in spectra.values() for s in specs]
    top = min(float(f[-1]) for f, _ in every)
    step = min(float(f[1] - f[0]) for f, _ in every if f.size > 1)
    grid = np.arange(0.0, top + step / 2, step)
    frames = []
    for source, specs in spectra.items():
        if specs:
            mean = np.mean([np.interp(grid, f, p) for f, p in specs], axis=0)
            frames.append(pd.DataFrame({"source": source, "frequency_hz": grid, "psd": mean}))
    return pd.concat(frames, ignore_index=True)
