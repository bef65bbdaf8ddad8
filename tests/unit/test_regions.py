"""Failure regions (PRIM boxes with exact statistics): recovery of planted boxes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from highfive.coverage import (
    Region,
    _run,
    analyse_run,
    cp_interval,
    failure_regions,
    load_settings,
    regions_dicts,
)
from highfive.coverage._regions import HELD_OUT, TRAIN, VALID, mix64, roles, subsample
from highfive.generators import Dimension, InvalidParameter, ParameterSpace, default_space
from highfive.harness import SCHEMA_VERSION, RunDir

SPACE = default_space()


def synthetic(
    n: int, seed: int, fail_p: Callable[[pd.DataFrame], np.ndarray], model: str = "float"
) -> pd.DataFrame:
    """Result rows over the default space with a failure probability per row."""
    rng = np.random.default_rng(seed)
    f = SPACE.from_unit(rng.random((n, SPACE.d)))
    f.insert(0, "case_id", np.arange(n))
    f["model"] = model
    f["verdict"] = np.where(rng.random(n) < fail_p(f), "miss", "pass")
    return f


def planted(f: pd.DataFrame) -> np.ndarray:
    box = (f["peak_accel"] > 30) & (f["motion"] == "reach_up")
    return np.where(box, 0.6, 0.01)


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return synthetic(100_000, 1, planted)


def test_first_region_recovers_the_planted_box(big: pd.DataFrame) -> None:
    t0 = time.perf_counter()
    regions = failure_regions(big, SPACE, model="float")
    seconds = time.perf_counter() - t0
    assert seconds < 15  # 100k rows, 31 dimensions: about a second here
    assert len(regions) == 1  # nothing else stands out of the 1% background
    r = regions[0]
    # Only the two planted dimensions are restricted, to bounds near the planted ones.
    assert set(r.conditions) == {"peak_accel", "motion"}
    assert r.conditions["motion"] == ("reach_up",)
    low, high = r.conditions["peak_accel"]
    assert low is not None and 28.5 <= low <= 31.5 and high is None
    inside = (big["peak_accel"] > 30) & (big["motion"] == "reach_up")
    assert abs(r.n - int(inside.sum())) < 0.1 * inside.sum()
    assert r.lower < 0.6 < r.upper
    # The interval counts the held-out quarter of the box's cases only: none of them
    # shaped, chose or cleaned up the box.
    box = (big["peak_accel"] >= low) & (big["motion"] == "reach_up")
    held = np.asarray(roles(big["case_id"]) == HELD_OUT)
    assert r.held_out_n == int((box & held).sum()) and 0.2 < r.held_out_n / r.n < 0.3
    assert r.held_out_failures == int((box & held & (big["verdict"] != "pass")).sum())
    assert (r.lower, r.upper) == tuple(cp_interval(r.held_out_failures, r.held_out_n, 0.95))
    assert (
        r.describe().startswith(f"peak_accel >= {low:.3g} and motion in {{reach_up}}: ")
        and f"on {r.held_out_n:,} held-out cases, 95% CI" in r.describe()
    )


def test_regions_are_deterministic_and_json_ready(big: pd.DataFrame) -> None:
    a = failure_regions(big, SPACE, model="float", max_boxes=2)
    b = failure_regions(big.sample(frac=1.0, random_state=3), SPACE, model="float", max_boxes=2)
    assert [r.describe() for r in a] == [r.describe() for r in b]  # row order is irrelevant
    dicts = regions_dicts(a)
    assert json.loads(json.dumps(dicts)) == dicts
    d = dicts[0]
    assert set(d) == {
        "model",
        "conditions",
        "n",
        "failures",
        "rate",
        "lower",
        "upper",
        "confidence",
        "interval_cases",
        "held_out_n",
        "held_out_failures",
        "description",
    }
    assert d["interval_cases"].startswith("held-out quarter")
    assert d["model"] == "float" and d["conditions"]["motion"] == ["reach_up"]
    assert d["conditions"]["peak_accel"][1] is None


def test_no_region_without_a_concentration() -> None:
    flat = synthetic(20_000, 2, lambda f: np.full(len(f), 0.02))
    assert failure_regions(flat, SPACE, model="float") == []
    clean = synthetic(2_000, 3, lambda f: np.zeros(len(f)))
    assert failure_regions(clean, SPACE, model="float") == []


def test_two_boxes_integer_and_numeric_categories() -> None:
    def fail_p(f: pd.DataFrame) -> np.ndarray:
        a = (f["sample_rate"] == 25) & (f["background"] == "running")
        b = (f["repetitions"] >= 3) & (f["gap"] < 0.6)
        return np.select([a, b], [0.3, 0.5], 0.01)

    f = synthetic(60_000, 4, fail_p)
    regions = failure_regions(f, SPACE, model="float")
    found = [set(r.conditions) for r in regions]
    assert {"sample_rate", "background"} in found and {"repetitions", "gap"} in found
    reps = next(r for r in regions if "repetitions" in r.conditions)
    assert reps.conditions["repetitions"] == (3.0, None)
    assert "repetitions >= 3 " in reps.describe() + " "
    rate = next(r for r in regions if "sample_rate" in r.conditions)
    assert rate.conditions["sample_rate"] == (25,)
    assert rate.conditions["background"] == ("running",)


def test_other_models_rows_are_ignored(big: pd.DataFrame) -> None:
    other = synthetic(5_000, 5, lambda f: np.full(len(f), 0.5), model="int8")
    both = pd.concat([big, other], ignore_index=True)
    a = failure_regions(both, SPACE, model="float", max_boxes=1)
    b = failure_regions(big, SPACE, model="float", max_boxes=1)
    assert [r.describe() for r in a] == [r.describe() for r in b]


def test_describe_reads_like_a_sentence() -> None:
    lo, hi = cp_interval(13, 21, 0.95)  # exact 95% interval of 13/21: 38% to 82%
    r = Region(
        "int8",
        {"motion": ("reach_up",), "background": ("running",), "sample_rate": (None, 25.0)},
        21,
        13,
        13 / 21,
        float(lo),
        float(hi),
        excluded={"motion": ("clap", "wave"), "background": ("none", "walking")},
        held_out_n=21,
        held_out_failures=13,
    )
    assert r.describe() == (
        "motion in {reach_up} and background in {running} and sample_rate <= 25: "
        "13/21 fail (62%); on 21 held-out cases, 95% CI 38-82%"
    )
    wide = Region(
        "int8",
        {"motion": ("clap", "wave", "knock"), "gap": (0.5, 1.25), "repetitions": (2.0, 2.0)},
        400,
        8,
        0.02,
        0.0087,
        0.039,
        excluded={"motion": ("reach_up",)},
        integer=("repetitions",),
        held_out_n=1600,
    )
    assert wide.describe() == (
        "motion not in {reach_up} and 0.5 <= gap <= 1.25 and repetitions = 2: "
        "8/400 fail (2%); on 1,600 held-out cases, 95% CI 0.87-3.9%"
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "int4"}, r"model: 'int4' has no rows; models present: float"),
        ({"max_boxes": 0}, r"max_boxes: 0 must be a whole number >= 1"),
        ({"min_cases": 1}, r"min_cases: 1 must be a whole number >= 2"),
        ({"alpha": 0.7}, r"alpha: 0\.7 must be a peeling fraction"),
        ({"confidence": 1.5}, r"confidence: 1\.5 must be in \[0\.5, 1\)"),
        ({"min_lift": 0.5}, r"min_lift: 0\.5 must be a ratio >= 1"),
    ],
    ids=["model", "max_boxes", "min_cases", "alpha", "confidence", "min_lift"],
)
def test_bad_region_arguments(kwargs: dict[str, object], match: str) -> None:
    f = synthetic(200, 6, planted)
    args: dict[str, object] = {"model": "float", **kwargs}
    with pytest.raises(InvalidParameter, match=match):
        failure_regions(f, SPACE, **args)  # type: ignore[arg-type]


def test_frame_without_verdicts_is_refused() -> None:
    f = synthetic(200, 6, planted).drop(columns="verdict")
    with pytest.raises(InvalidParameter, match=r"no 'verdict' column"):
        failure_regions(f, SPACE, model="float")


# -- the case-id hash -----------------------------------------------------------------
def test_mix64_is_splitmix64() -> None:
    # splitmix64 seeded with 0 (Steele, Lea & Flood 2014; the reference C code of
    # prng.di.unimi.it/splitmix64.c) outputs 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4,
    # 0x06C45D188009454F: the n-th output is mix64 of n - 1 plus the step, ours of n.
    step = 0x9E3779B97F4A7C15
    ids = np.array([0, step, 2 * step % 2**64], dtype=np.uint64)
    assert [int(x) for x in mix64(ids)] == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
    ]


def sobol_unit(m: int) -> np.ndarray:
    """The first 2**m points of the unscrambled 2-d Sobol sequence, in case-id order."""
    from scipy.stats import qmc

    return qmc.Sobol(2, scramble=False).random_base2(m)


def test_subsample_and_roles_do_not_split_a_sobol_sequence() -> None:
    u = sobol_unit(14)
    ids = np.arange(len(u))
    kept = subsample(ids, 4)
    assert 0.23 < kept.mean() < 0.27
    # Every 4th Sobol point lies in the first half of dimension 0; the hash keeps
    # points all over it.
    assert u[ids % 4 == 0, 0].max() < 0.5
    assert np.histogram(u[kept, 0], bins=4, range=(0, 1))[0].min() > 0.2 * kept.sum()
    role = roles(ids)
    shares = [np.mean(role == r) for r in (TRAIN, VALID, HELD_OUT)]
    assert np.allclose(shares, [0.5, 0.25, 0.25], atol=0.02)
    # The kept cases take the three roles in the usual shares (a second hash round).
    kept_shares = [np.mean(role[kept] == r) for r in (TRAIN, VALID, HELD_OUT)]
    assert np.allclose(kept_shares, [0.5, 0.25, 0.25], atol=0.04)
    assert np.array_equal(subsample(ids, 4), kept) and subsample(ids, 1).all()
    with pytest.raises(InvalidParameter, match=r"keep: 0 must be a whole number >= 1"):
        subsample(ids, 0)


def _xy_run(path: Path, sampler: str, u: np.ndarray, failed: np.ndarray) -> None:
    """A complete run at ``path`` of model ``m`` over the unit square (x, y): case ``i`` at
    ``u[i]``, a miss where ``failed[i]``, else a pass."""
    space = ParameterSpace([Dimension(x, "continuous", 0.0, 1.0) for x in ("x", "y")])
    schema = space.to_arrow_schema()
    table = pa.table(
        {
            "case_id": pa.array(np.arange(len(u)), pa.int64()),
            "x": u[:, 0],
            "y": u[:, 1],
            "verdict": np.where(failed, "miss", "pass").astype(object),
        }
    ).cast(
        pa.schema([pa.field("case_id", pa.int64()), schema.field("x"), schema.field("y")])
        .append(pa.field("verdict", pa.string()))
        .with_metadata(schema.metadata)
    )
    run = RunDir(path)
    run.write_campaign(
        {
            "schema_version": SCHEMA_VERSION,
            "name": path.name,
            "identity": {"seed": 0, "sampler": sampler, "space": {}},
            "models": [{"id": "m", "source": "m", "sha256": "0" * 64, "bytes": 1}],
            "status": "complete",
        }
    )
    run.write_batch(0, {"m": table}, None)


def test_a_subsampled_sobol_run_still_shows_its_failing_corner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2**14 Sobol cases fail where both coordinates exceed 0.8 (4 % of the square).
    # Subsampled to a quarter, every 4th case id would keep x < 0.5 only: no failure
    # and no region at all.
    u = sobol_unit(14)
    _xy_run(tmp_path / "sobol", "sobol", u, (u[:, 0] > 0.8) & (u[:, 1] > 0.8))
    monkeypatch.setattr(_run, "REGION_ROWS", len(u) // 4)
    regions = analyse_run(tmp_path / "sobol").summary["regions"]
    assert regions, "no failure region found in the subsample"
    x_low, _ = regions[0]["conditions"]["x"]
    y_low, _ = regions[0]["conditions"]["y"]
    assert 0.7 < x_low < 0.9 and 0.7 < y_low < 0.9


def test_regions_take_the_coverage_confidence(tmp_path: Path) -> None:
    # 4,000 random cases failing at 0.3 where x < 0.5 and y < 0.5. With [statistics]
    # confidence = 0.999 the region's interval was still the 95 % one (the coverage never
    # passed its confidence on), though the summary said 0.999.
    rng = np.random.default_rng(5)
    u = rng.random((4000, 2))
    failed = rng.random(len(u)) < np.where((u[:, 0] < 0.5) & (u[:, 1] < 0.5), 0.3, 0.0)
    _xy_run(tmp_path / "run", "random", u, failed)
    bins = tmp_path / "bins.toml"
    bins.write_text("[statistics]\nconfidence = 0.999\n")
    summary = analyse_run(tmp_path / "run", load_settings(bins)).summary
    assert summary["confidence"] == 0.999
    assert summary["regions"], "no failure region found"
    for r in summary["regions"]:
        lo, hi = cp_interval(r["held_out_failures"], r["held_out_n"], 0.999)
        assert (r["lower"], r["upper"]) == (float(lo), float(hi))
        assert r["confidence"] == 0.999 and "99.9% CI" in r["description"]
