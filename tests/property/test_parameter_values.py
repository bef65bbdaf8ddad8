"""One parameter value as Python gives it: a number, a text, a NumPy scalar or array.

Every dimension reads a value one way, whatever its type: a text by the rule the
command line reads numbers with (ASCII digits, no ``1_2``), a 0-d array as its one
value, a whole number of any size as a number (out of range when it is huge). Anything
else is refused in one line naming the field.
"""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from highfive.generators import Dimension, InvalidParameter, default_space
from highfive.harness import number_arg

SPACE = default_space()
NUMERIC = [d for d in SPACE if d.kind != "categorical"]
WIDE = Dimension("x", "continuous", -1e300, 1e300)
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")

# Texts near a number: digits of every script, signs, points, exponents, underscores.
_NEAR = st.text(st.characters(categories=("Nd",)) | st.sampled_from("+-_ .eE0123456789"))


def _one_line(exc: pytest.ExceptionInfo[InvalidParameter], field: str) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.startswith(f"{field}: ")
    return text


@given(_NEAR.filter(bool) | st.text(max_size=12))
def test_a_parameter_text_is_read_as_the_command_line_reads_a_number(text: str) -> None:
    """``float`` read ``'1_2'`` as 12 and ``'١٢'`` as 12 in a parameter row, while the
    command line refuses both."""
    decimal = _DECIMAL.fullmatch(text) is not None and abs(float(text)) <= 1e300
    try:
        cli = number_arg(1.0)(text)
    except argparse.ArgumentTypeError:
        cli = None
    if decimal:
        assert WIDE.check(text) == float(text) == cli
    else:
        assert cli is None or not np.isfinite(cli) or abs(cli) > 1e300
        with pytest.raises(InvalidParameter) as exc:
            WIDE.check(text)
        _one_line(exc, "x")


@given(st.sampled_from(NUMERIC), st.integers(400, 1000), st.booleans())
def test_a_huge_whole_number_is_out_of_range(dim: Dimension, digits: int, neg: bool) -> None:
    """``10**400`` raised OverflowError (int too large to convert to float)."""
    value = (-1 if neg else 1) * 10**digits
    with pytest.raises(InvalidParameter, match=r"is out of range \(allowed: ") as exc:
        SPACE.validate(dict(SPACE.nominal(), **{dim.name: value}))
    assert _one_line(exc, dim.name).startswith(f"{dim.name}: {'-' if neg else ''}1e+{digits} ")
    with pytest.raises(InvalidParameter, match=r"is out of range"):
        SPACE.restrict(**{dim.name: value})


@given(st.sampled_from(list(SPACE)), st.data())
def test_a_0d_array_is_its_value_and_an_array_of_several_is_refused(
    dim: Dimension, data: st.DataObject
) -> None:
    """A 0-d array of 12.0 was 'not a finite number'; an array of several values raised
    NumPy's 'truth value of an array is ambiguous' for a categorical dimension."""
    u = data.draw(st.floats(0.0, 1.0, exclude_max=True))
    value = dim.from_unit([u])[0]
    assert dim.check(np.array(value)) == dim.check(value)
    size = data.draw(st.integers(1, 4))
    several = np.array([value] * size)
    with pytest.raises(InvalidParameter, match=r"is an array; a single value is needed") as exc:
        dim.check(several)
    _one_line(exc, dim.name)
    with pytest.raises(InvalidParameter, match=r"is an array; give one value, or a list"):
        SPACE.restrict(**{dim.name: several})


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("motion", {"clap", "wave"}, r"is a set; give one value, or a list or tuple of choices"),
        ("peak_accel", frozenset({10.0, 20.0}), r"is a set; give one value, or a list or tuple"),
    ],
)
def test_restrict_to_a_set_asks_for_a_list(name: str, value: object, match: str) -> None:
    """A set of two allowed motions was 'not allowed' (a set has no order to draw by)."""
    with pytest.raises(InvalidParameter, match=match) as exc:
        SPACE.restrict(**{name: value})
    _one_line(exc, name)
    with pytest.raises(InvalidParameter, match=r"is a set; a single value"):
        SPACE.validate(dict(SPACE.nominal(), **{name: value}))
