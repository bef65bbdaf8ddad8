"""ParameterSpace and Dimension: mapping, validation, restriction, round trips."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from highfive.generators import (
    ConfigError,
    Dimension,
    HighfiveError,
    InvalidParameter,
    ParameterSpace,
    default_space,
)


@pytest.fixture
def small() -> ParameterSpace:
    return ParameterSpace(
        [
            Dimension("x", "continuous", 0.0, 2.0, unit="m"),
            Dimension("f", "continuous", 1.0, 100.0, distribution="log-uniform"),
            Dimension("n", "integer", 1, 4, nominal=1),
            Dimension("c", "categorical", choices=("a", "b"), weights=(3.0, 1.0)),
            Dimension("g", "continuous", -3.0, 3.0, nominal=0.0, distribution="normal", sd=1.0),
        ]
    )


def test_from_unit_golden_values(small: ParameterSpace) -> None:
    table = small.from_unit([[0.25, 0.5, 0.0, 0.74, 0.5], [0.999, 0.0, 0.999, 0.76, 0.975]])
    assert table["x"].tolist() == pytest.approx([0.5, 1.998])
    assert table["f"].tolist() == pytest.approx([10.0, 1.0])  # geometric midpoint of 1..100
    assert table["n"].tolist() == [1, 4]
    assert table["c"].tolist() == ["a", "b"]  # weights 3:1 put the edge at 0.75
    # Truncated normal: the median is the mean; the 97.5% point of N(0,1) truncated to
    # +-3 sits inside 1.96: scipy.stats.truncnorm(-3, 3).ppf(0.975) = 1.938479.
    assert table["g"].tolist() == pytest.approx([0.0, 1.938479], abs=1e-6)


@pytest.mark.parametrize("low, high", [(9.0, 10.0), (20.0, 25.0), (2.0, 2.5), (-10.0, -9.0)])
def test_truncated_normal_far_in_a_tail_keeps_its_shape(low: float, high: float) -> None:
    # scipy.stats.truncnorm computes the same quantiles independently (N(0, 1) here).
    dim = Dimension("x", "continuous", low, high, nominal=low, distribution="normal", sd=1.0)
    dim = dataclasses.replace(dim, mean=0.0)
    u = np.linspace(0.0, 0.99, 12)
    x = dim.from_unit(u)
    np.testing.assert_allclose(x, stats.truncnorm.ppf(u, low, high), rtol=1e-12)
    np.testing.assert_allclose(dim.to_unit(x), u, atol=1e-12)


def _tail(low: float, high: float) -> Dimension:
    """N(0, 1) truncated to ``[low, high]``."""
    dim = Dimension("x", "continuous", low, high, nominal=low, distribution="normal", sd=1.0)
    return dataclasses.replace(dim, mean=0.0)


@given(
    st.floats(2.34, 1000.0),
    st.floats(1e-3, 50.0),
    st.lists(st.floats(1e-9, 1.0 - 1e-9), min_size=1, max_size=8),
)
def test_a_range_far_below_the_mean_mirrors_one_far_above(
    near: float, width: float, u: list[float]
) -> None:
    """A range wholly below the mean draws the mirror image of the same range above it.
    From about 38 sd below, where the CDF underflows, every draw was the range's low end,
    though the mass lies at its high end (and 38 sd above, every draw the high end)."""
    lower, upper = _tail(-near - width, -near), _tail(near, near + width)
    uu = np.array(u)
    x = lower.from_unit(uu)
    assert np.all((x >= -near - width) & (x <= -near))
    np.testing.assert_allclose(x, -upper.from_unit(1.0 - uu), rtol=1e-6)
    # The density rises towards the mean: the median draw lies in the upper half.
    assert lower.from_unit([0.5])[0] >= -near - width / 2
    np.testing.assert_allclose(lower.to_unit(x), uu, atol=1e-6)


# SHA-256 over the normal dimensions' from_unit and to_unit of 4096 points, computed
# before the upper tail moved to the survival function: no shipped space changes.
NORMAL_GOLDEN = {
    "default": "6209fda0a09c2b8a3a0566ab1998d1a402d5ae28f57d81589fdc35b5edd820fd",
    "nominal": "1fa8952d302d4ac98f1a1534c124065fae26174e715d1e2e2955e943754028dc",
    "shifted": "68cef80dfe2aa11385aeb1d3c7db02c6c4044e9f173d60a05355513fe77d4a82",
}


@pytest.mark.parametrize(
    "name, restriction",
    [
        ("default", {}),
        ("nominal", dict(elevation_offset=[-12.5, 12.5], wrist_roll=[-30.0, 30.0])),
        ("shifted", dict(elevation_offset=[15.0, 25.0], bias_x=[40.0, 80.0])),
    ],
)
def test_normal_dimensions_draw_the_same_bits(name: str, restriction: dict) -> None:
    space = default_space().restrict(**restriction)
    u = np.random.default_rng(2024).random((4096, space.d))
    h = hashlib.sha256()
    for j, d in enumerate(space):
        if d.distribution == "normal":
            x = d.from_unit(u[:, j])
            h.update(x.tobytes())
            h.update(d.to_unit(x).tobytes())
    assert h.hexdigest() == NORMAL_GOLDEN[name]


def test_from_unit_never_leaves_the_range() -> None:
    space = default_space()
    u = np.random.default_rng(1).random((2000, space.d))
    u[0] = 0.0
    u[1] = np.nextafter(1.0, 0.0)
    for row in space.rows(u):
        assert space.validate(row) == row


@pytest.mark.parametrize(
    "override, name, low, high",
    [
        # exp(log(3.0)) = 3.0000000000000004 and exp(log(70.0)) = 70.00000000000003:
        # a fixed log-uniform dimension must give its value, not the round trip.
        ({"gap": 3.0}, "gap", 3.0, 3.0),
        ({"noise_density": 70.0}, "noise_density", 70.0, 70.0),
        # exp(log(3.6)) = 3.5999999999999996: the low end of a narrowed range.
        ({"gap": [3.6, 5.0]}, "gap", 3.6, 5.0),
    ],
    ids=["fixed-gap", "fixed-noise", "narrowed-gap-low"],
)
def test_restricted_log_dimension_stays_inside(
    override: dict, name: str, low: float, high: float
) -> None:
    space = default_space().restrict(**override)
    u = np.full((2, space.d), 0.5)
    u[:, space.names.index(name)] = [0.0, np.nextafter(1.0, 0.0)]
    rows = space.rows(u)
    assert [space.validate(r) for r in rows] == rows
    assert low <= rows[0][name] <= rows[1][name] <= high
    if low == high:
        assert rows[0][name] == rows[1][name] == low


def test_integer_bins_are_equally_likely(small: ParameterSpace) -> None:
    u = (np.arange(4000) + 0.5) / 4000
    n = small["n"].from_unit(u)
    assert np.bincount(n)[1:].tolist() == [1000, 1000, 1000, 1000]


BAD_DIMENSIONS = [
    ("inverted", dict(name="x", kind="continuous", low=2.0, high=1.0), "inverted range"),
    ("nan", dict(name="x", kind="continuous", low=math.nan, high=1.0), "must be finite"),
    (
        "log-zero",
        dict(name="x", kind="continuous", low=0.0, high=1.0, distribution="log-uniform"),
        "log-uniform range needs low > 0",
    ),
    (
        "normal-no-sd",
        dict(name="x", kind="continuous", low=0.0, high=1.0, distribution="normal"),
        "needs sd > 0",
    ),
    (
        "nominal-out",
        dict(name="x", kind="continuous", low=0.0, high=1.0, nominal=3.0),
        "nominal: 3.0 is outside",
    ),
    ("kind", dict(name="x", kind="real", low=0.0, high=1.0), "kind: 'real' is not one of"),
    ("int-frac", dict(name="x", kind="integer", low=0.5, high=3), "must be whole numbers"),
    ("no-choices", dict(name="x", kind="categorical", choices=()), "needs choices"),
    ("dup-choices", dict(name="x", kind="categorical", choices=("a", "a")), "duplicate"),
    (
        "bad-weights",
        dict(name="x", kind="categorical", choices=("a", "b"), weights=(1, -1)),
        "weights",
    ),
    ("name", dict(name="a b", kind="continuous", low=0.0, high=1.0), "identifier"),
    # Settings that made NaN draws or were ignored without a word.
    *(
        (
            f"sd-{sd}",
            dict(name="x", kind="continuous", low=0.0, high=1.0, distribution="normal", sd=sd),
            rf"^x\.sd: a normal dimension needs sd > 0, a finite number; got {sd}$",
        )
        for sd in (math.inf, math.nan, -math.inf)
    ),
    (
        "sd-uniform",
        dict(name="x", kind="continuous", low=0.0, high=1.0, sd=3),
        r"^x\.sd: 3 goes only with a normal distribution$",
    ),
    (
        "weights-continuous",
        dict(name="x", kind="continuous", low=0.0, high=1.0, weights=(1, 2)),
        r"^x\.weights: \[1, 2\] goes only with a categorical dimension \(x is continuous\)$",
    ),
    (
        "choices-integer",
        dict(name="x", kind="integer", low=1, high=4, choices=(1, 2)),
        r"^x\.choices: \[1, 2\] goes only with a categorical dimension \(x is integer\)$",
    ),
    (
        "normal-integer",
        dict(name="x", kind="integer", low=1, high=4, distribution="normal", sd=1.0),
        r"^x\.distribution: 'normal' goes only with a continuous dimension",
    ),
    (
        "low-categorical",
        dict(name="x", kind="categorical", choices=("a", "b"), low=0.0),
        r"^x\.low: 0\.0 does not apply to a categorical dimension",
    ),
    (
        "int-nominal",
        dict(name="x", kind="integer", low=1, high=4, nominal=1.5),
        r"^x\.nominal: 1\.5 must be a whole number in \[1, 4\]$",
    ),
]


@pytest.mark.parametrize(
    "kwargs, match", [b[1:] for b in BAD_DIMENSIONS], ids=[b[0] for b in BAD_DIMENSIONS]
)
def test_bad_dimensions_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        Dimension(**kwargs)


def test_a_space_file_refuses_settings_that_do_not_apply() -> None:
    x = '[[dimensions]]\nname = "x"\nkind = "continuous"\nlow = 0.0\nhigh = 1.0\n'
    for extra, match in [
        ('distribution = "normal"\nsd = inf\n', r"^x\.sd: .* finite number; got inf$"),
        ("weights = [1, 2]\n", r"^x\.weights: \[1, 2\] goes only with a categorical"),
        ("sd = 3\n", r"^x\.sd: 3 goes only with a normal distribution$"),
    ]:
        with pytest.raises(InvalidParameter, match=match):
            ParameterSpace.from_toml(x + extra)
    r = '[[dimensions]]\nname = "r"\nkind = "integer"\nlow = 1\nhigh = 4\n'
    with pytest.raises(InvalidParameter, match=r"^r\.nominal: 1\.5 must be a whole number"):
        ParameterSpace.from_toml(r + "nominal = 1.5\n")
    # Without a nominal, an integer dimension's is whole too (it was 2.5, which the
    # nominal row's own validation refused).
    space = ParameterSpace.from_toml(r)
    assert space.nominal() == {"r": 2} and space.validate(space.nominal()) == {"r": 2}


BAD_ROWS = [
    ("unknown", {"speed": 1}, r"unknown parameter 'speed'"),
    (
        "out-of-range",
        {"peak_accel": 100.0},
        r"peak_accel: 100.0 is out of range \(allowed: 4 to 40",
    ),
    ("nan", {"gap": math.nan}, r"gap: nan is not a finite number"),
    ("inf", {"duration": math.inf}, r"duration: inf is not a finite number"),
    ("text", {"tempo": "fast"}, r"tempo: 'fast' is not a finite number"),
    ("fraction", {"repetitions": 1.5}, r"repetitions: 1.5 is not a whole number"),
    ("choice", {"motion": "moonwalk"}, r"motion: 'moonwalk' is not allowed; choose one of"),
    ("numeric-choice", {"sensor_range": 3}, r"sensor_range: 3 is not allowed"),
    ("bool", {"repetitions": True}, r"repetitions: True is not a finite number"),
]


@pytest.mark.parametrize("row, match", [b[1:] for b in BAD_ROWS], ids=[b[0] for b in BAD_ROWS])
def test_bad_rows_raise_naming_the_field(row: dict, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        default_space().complete(row)


def test_validate_requires_every_dimension() -> None:
    row = default_space().nominal()
    del row["gap"]
    with pytest.raises(InvalidParameter, match="gap: missing"):
        default_space().validate(row)


def test_a_row_of_the_unit_table_is_a_parameter_row(small: ParameterSpace) -> None:
    # A pandas Series iterates over its values: its first value was called an
    # "unknown parameter".
    u = np.random.default_rng(0).random((3, small.d))
    table = small.from_unit(u)
    assert small.validate(table.iloc[1]) == small.validate(small.rows(u)[1])
    with pytest.raises(InvalidParameter, match=r"^parameters: got list; expected a mapping"):
        small.validate([0.5, 2.0])  # type: ignore[arg-type]
    # a one-row table (a DataFrame has items() too) raised pandas' "truth value of a
    # Series is ambiguous"
    with pytest.raises(InvalidParameter, match=r"^parameters: got a table of 1 rows; give one"):
        small.validate(table.iloc[0:1])


def test_restrict_fixes_narrows_and_subsets() -> None:
    space = default_space().restrict(
        motion="clap" if "clap" in default_space()["motion"].choices else "high_five",
        peak_accel=[5.0, 10.0],
        repetitions=2,
        sensor_range=[2, 4],
    )
    assert space["peak_accel"].low == 5.0 and space["peak_accel"].high == 10.0
    assert space["peak_accel"].nominal == 10.0  # clamped into the narrower range
    assert space["repetitions"].is_fixed and space["repetitions"].nominal == 2
    assert space["sensor_range"].choices == (2, 4)
    rows = space.rows(np.random.default_rng(0).random((300, space.d)))
    assert {r["repetitions"] for r in rows} == {2}
    assert all(5.0 <= r["peak_accel"] <= 10.0 for r in rows)
    assert {r["sensor_range"] for r in rows} <= {2, 4}


@pytest.mark.parametrize(
    "override, match",
    [
        ({"peak_accel": [10.0, 5.0]}, "inverted range"),
        ({"peak_accel": [1.0, 5.0]}, "out of range"),
        ({"peak_accel": [1.0, 2.0, 3.0]}, "must be \\[low, high\\]"),
        ({"nope": 1}, "unknown parameter 'nope'"),
        ({"motion": []}, r"motion: an empty subset leaves nothing to sample; give one or more"),
        ({"motion": ["clap", "clap"]}, r"motion: \['clap', 'clap'\] names a choice twice"),
    ],
    ids=["inverted", "wider", "three", "unknown", "empty-subset", "twice"],
)
def test_restrict_refuses_bad_overrides(override: dict, match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        default_space().restrict(**override)


def test_toml_round_trip() -> None:
    space = default_space()
    again = ParameterSpace.from_toml(space.to_toml())
    assert again == space


def test_toml_unknown_key_is_a_config_error() -> None:
    text = '[[dimensions]]\nname = "x"\nkind = "continuous"\nlow = 0.0\nhigh = 1.0\nspeed = 3\n'
    with pytest.raises(ConfigError, match="unknown key 'speed'"):
        ParameterSpace.from_toml(text)


_DIM = '[[dimensions]]\nname = "x"\n'


@pytest.mark.parametrize(
    "text, match",
    [
        ("dimensions = [1]", r"dimensions\[0\]: 1 must be a table"),
        ('dimensions = "x"', "expected a non-empty list"),
        (_DIM + 'kind = "categorical"\nchoices = 3', "x.choices: 3 must be a list"),
        (
            _DIM + 'kind = "categorical"\nchoices = ["a", "b"]\nweights = ["x", "y"]',
            "x.weights: 'x' must be a number",
        ),
        (_DIM + 'kind = "categorical"\nchoices = [{a = 1}]', "x.choices: .* must be a string"),
        (_DIM + 'kind = "categorical"\nchoices = [true]', "x.choices: True must be a string"),
        ('[[dimensions]]\nname = 3\nkind = "continuous"', "dimension name 3 must be"),
        (_DIM + 'kind = ["continuous"]', r"x.kind: \['continuous'\] must be a string"),
        (_DIM + 'kind = "continuous"\nlow = true\nhigh = 1', "x.low: True must be a number"),
        (_DIM + 'kind = "continuous"\nlow = 0\nhigh = "1"', "x.high: '1' must be a number"),
        (_DIM + 'kind = "continuous"\nlow = 0\nhigh = 1\nnominal = [1]', "x.nominal: \\[1\\]"),
        (_DIM + 'kind = "continuous"\nlow = 0\nhigh = 1\nunit = 3', "x.unit: 3 must be a string"),
    ],
    ids=[
        "entry-not-table",
        "dimensions-not-list",
        "choices-not-list",
        "weights-not-numbers",
        "choice-a-table",
        "choice-a-bool",
        "name-not-string",
        "kind-not-string",
        "low-true",
        "high-a-string",
        "nominal-a-list",
        "unit-not-string",
    ],
)
def test_malformed_space_files_are_refused_naming_the_field(text: str, match: str) -> None:
    with pytest.raises(HighfiveError, match=match) as info:
        ParameterSpace.from_toml(text)
    assert "\n" not in str(info.value)


def test_a_space_file_is_read_from_a_path_or_a_string_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(default_space().restrict(motion="clap").to_toml(), encoding="utf-8")
    assert ParameterSpace.from_toml(path) == ParameterSpace.from_toml(str(path))
    assert ParameterSpace.from_toml(str(path))["motion"].choices == ("clap",)
    with pytest.raises(ConfigError, match=r"parameter space file '.*missing\.toml' does not exist"):
        ParameterSpace.from_toml(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        ParameterSpace.from_toml(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    "metadata, match",
    [
        ("{bad", "schema field 'x': its highfive.dimension metadata is not JSON"),
        ("[1]", r"dimensions\[0\]: \[1\] must be a table"),
        (None, "no field carries highfive.dimension metadata"),
    ],
    ids=["not-json", "not-a-table", "none"],
)
def test_arrow_schemas_without_a_space_are_refused(metadata: str | None, match: str) -> None:
    meta = None if metadata is None else {"highfive.dimension": metadata}
    schema = pa.schema([pa.field("x", pa.float64(), metadata=meta)])
    with pytest.raises(ConfigError, match=match):
        ParameterSpace.from_arrow_schema(schema)


def test_arrow_schema_round_trip() -> None:
    space = default_space()
    schema = space.to_arrow_schema()
    assert schema.field("motion").type == pa.string()
    assert schema.field("repetitions").type == pa.int64()
    assert schema.field("sensor_range").type == pa.int64()
    assert ParameterSpace.from_arrow_schema(schema) == space
    table = pa.Table.from_pandas(space.from_unit(np.full((3, space.d), 0.5)), schema=schema)
    assert table.num_rows == 3


def test_default_space_documents_every_dimension() -> None:
    for dim in default_space():
        assert dim.description, dim.name
        assert dim.source, dim.name
        if dim.kind != "categorical" or dim.name in ("sensor_range", "sample_rate"):
            assert dim.unit, f"{dim.name} has no unit"


def test_default_space_covers_the_solution_space() -> None:
    names = set(default_space().names)
    required = {
        "motion",
        "repetitions",
        "gap",
        "peak_accel",
        "hold_time",
        "return_time",
        "elevation_offset",
        "wrist_roll",
        "arm_length",
        "tempo",
        "sensor_range",
        "resolution_bits",
        "noise_density",
        "bias_x",
        "bias_y",
        "bias_z",
        "scale_x",
        "cross_axis",
        "misalign_x",
        "sample_rate",
        "clock_jitter",
        "drop_rate",
        "background",
        "duration",
    }
    assert required <= names
    assert default_space()["sensor_range"].choices == (2, 4, 8, 16)
    assert default_space()["background"].choices == ("none", "walking", "running", "racket_play")


@given(st.data())
def test_to_unit_inverts_from_unit(data: st.DataObject) -> None:
    space = default_space()
    dim = data.draw(st.sampled_from(space.dimensions))
    u = data.draw(st.floats(0.0, 0.999999))
    value = dim.from_unit([u])
    back = dim.to_unit(value)
    if dim.kind == "continuous":
        assert dim.from_unit(back)[0] == pytest.approx(value[0], rel=1e-9, abs=1e-12)
        if not dim.is_fixed:
            assert back[0] == pytest.approx(u, abs=1e-6)
    else:
        assert dim.from_unit(back).tolist() == value.tolist()  # the same value again
        assert back[0] <= u + 1e-12  # the lower end of the value's interval


def test_is_number_is_one_rule_for_every_layer():
    import numpy as np

    from highfive.coverage._criteria import is_number as finite_number
    from highfive.generators import is_number

    assert all(is_number(v) for v in (1, 2.5, np.int64(3), np.float32(0.5), float("nan")))
    assert not any(is_number(v) for v in (True, np.bool_(False), "1", None, [1]))
    assert not finite_number(float("inf")) and not finite_number(10**400)
