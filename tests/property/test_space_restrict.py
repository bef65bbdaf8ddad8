"""Restricted parameter spaces: what they sample is what they allow.

A campaign's ``[space]`` table fixes a dimension to one value or narrows it to a
sub-range; its rows are later validated against the same restricted space (by replay
and shrink). So every row a restricted space draws must validate against it, whatever
the coordinate (both ends of ``[0, 1)`` included), and a fixed dimension must give
exactly its value: ``exp(log(v))`` is not always ``v``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from highfive.generators import Dimension, default_space

SPACE = default_space()
CONTINUOUS = [d for d in SPACE if d.kind == "continuous"]
LAST = float(np.nextafter(1.0, 0.0))  # the largest coordinate a sampler can give


@st.composite
def restrictions(draw: st.DrawFn) -> tuple[Dimension, float | list[float]]:
    dim = draw(st.sampled_from(CONTINUOUS))
    lo, hi = float(dim.low), float(dim.high)  # type: ignore[arg-type]
    a = draw(st.floats(lo, hi))
    if draw(st.booleans()):
        return dim, a
    return dim, [a, draw(st.floats(a, hi))]


@given(
    restrictions(),
    st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=8),
)
def test_rows_of_a_restricted_space_validate_against_it(
    restriction: tuple[Dimension, float | list[float]], coords: list[float]
) -> None:
    dim, value = restriction
    space = SPACE.restrict(**{dim.name: value})
    j = space.names.index(dim.name)
    u = [0.0, LAST, *coords]
    points = np.full((len(u), space.d), 0.5)
    points[:, j] = u
    for row in space.rows(points):
        assert space.validate(row) == row
        if isinstance(value, list):
            assert value[0] <= row[dim.name] <= value[1]
        else:
            assert row[dim.name] == value  # exactly, not within rounding


NORMAL = [d for d in CONTINUOUS if d.distribution == "normal"]


@given(st.sampled_from(NORMAL), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_a_narrowed_normal_dimension_draws_the_default_distribution_in_its_range(
    dim: Dimension, a: float, b: float, t: float
) -> None:
    # elevation_offset = [15, 25] moved the normal's mean to 15 (the clamped nominal):
    # draws had mean 19.6, not 18.5, that of the default space's draws in [15, 25].
    lo, hi = sorted(dim.from_unit(np.array([a, b])).tolist())
    if hi - lo < 1e-6 * (float(dim.high) - float(dim.low)):  # type: ignore[arg-type]
        return  # too narrow to compare probabilities
    narrowed = SPACE.restrict(**{dim.name: [lo, hi]})[dim.name]
    x = lo + t * (hi - lo)
    p_lo, p_hi, p_x = dim.to_unit(np.array([lo, hi, x]))
    conditional = (p_x - p_lo) / (p_hi - p_lo)  # the default's CDF, conditioned on [lo, hi]
    assert narrowed.to_unit(np.array([x]))[0] == pytest.approx(conditional, abs=1e-7)
    assert narrowed.nominal == min(max(float(dim.nominal), lo), hi)  # the shrink target
