"""The pooled sampling density of merged runs, computed on arrays of boxes grouped by
the dimensions they restrict, equals the plain definition box by box.

Reference: ``g(u) = base + sum over boxes containing u of the box's density`` (cases
per unit volume), and a cell's bound counts the boxes that cover the whole cell (every
dimension a box restricts is restricted by the cell, inside the box's interval). The
grouped form replaced a loop over every box that took minutes on a follow-up of
thousands of boxes; these properties hold it to that loop.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from highfive.coverage._weighted import _TOL, RunDesign, _Pooled
from highfive.generators import Dimension, ParameterSpace

SPACE = ParameterSpace([Dimension(f"d{i}", "continuous", 0.0, 1.0) for i in range(4)])
GRID = (0.0, 0.25, 0.5, 0.75, 1.0)  # box and cell edges on a grid, so that they meet


@st.composite
def intervals(draw: st.DrawFn) -> tuple[float, float]:
    a, b = sorted(draw(st.lists(st.sampled_from(GRID), min_size=2, max_size=2, unique=True)))
    return a, b


@st.composite
def boxes(draw: st.DrawFn) -> tuple[tuple[str, float, float], ...]:
    dims = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True))
    return tuple((f"d{j}", *draw(intervals())) for j in dims)


@st.composite
def pooled(
    draw: st.DrawFn,
) -> tuple[_Pooled, list[tuple[tuple[int, float, float], ...]], list[float], int]:
    base = draw(st.sampled_from([0, 64]))
    designs = [RunDesign("base", "base", base, ())] if base else []
    for k in range(draw(st.integers(1, 3))):
        bx = tuple(draw(st.lists(boxes(), min_size=1, max_size=6)))
        cases = tuple(draw(st.integers(1, 50)) for _ in bx)
        designs.append(RunDesign(f"focus{k}", "focus", sum(cases), (), bx, cases))
    plain = [
        (tuple((SPACE.names.index(n), lo, hi) for n, lo, hi in b), dens)
        for d in designs
        for b, dens in zip(d.boxes, d.box_density, strict=True)
    ]
    return _Pooled(designs, SPACE), [b for b, _ in plain], [dens for _, dens in plain], base


@given(
    pooled(), st.lists(st.lists(st.floats(0, 1), min_size=4, max_size=4), min_size=1, max_size=20)
)
def test_weights_equal_the_sum_over_boxes(p: tuple, points: list[list[float]]) -> None:
    pool, bxs, dens, base = p
    u = np.array(points)
    g = np.full(len(u), float(base))
    for box, d in zip(bxs, dens, strict=True):
        inside = np.ones(len(u), dtype=bool)
        for j, lo, hi in box:
            inside &= (u[:, j] >= lo - _TOL) & (u[:, j] < hi + _TOL)
        g += d * inside
    expected = np.where(g > 0, pool.n / np.where(g > 0, g, 1.0), np.inf)
    np.testing.assert_allclose(pool.weights(u), expected, rtol=1e-12)


@given(pooled(), st.dictionaries(st.integers(0, 3), intervals(), max_size=3))
def test_cell_bounds_equal_the_box_by_box_definition(p: tuple, cell: dict) -> None:
    pool, bxs, dens, base = p
    g = float(base)
    for box, d in zip(bxs, dens, strict=True):
        if all(
            j in cell and cell[j][0] >= lo - _TOL and cell[j][1] <= hi + _TOL for j, lo, hi in box
        ):
            g += d
    whole = pool.n / g if g > 0 else math.inf
    if base:
        sampled = whole
    else:
        touching = [
            d
            for box, d in zip(bxs, dens, strict=True)
            if all(
                j not in cell or (cell[j][0] < hi + _TOL and cell[j][1] > lo - _TOL)
                for j, lo, hi in box
            )
        ]
        sampled = pool.n / min(touching) if touching else math.inf
    got = pool.bound(cell)
    np.testing.assert_allclose(got, (whole, sampled), rtol=1e-12)
