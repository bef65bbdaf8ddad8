"""Bins as intervals of the unit cube, where samplers draw.

A focus box restricts dimensions to the unit intervals of bins; a cell of a cross is
the product of its bins' intervals, with base probability mass their product of
lengths.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from highfive.generators import Dimension

__all__ = ["bin_interval"]


def bin_interval(dim: Dimension, cp: Any, label: str) -> tuple[float, float]:
    """The unit-coordinate interval ``(low, high)`` of the bin labelled ``label`` of
    coverpoint ``cp`` on dimension ``dim`` (bins of values outside the dimension's
    range reach past [0, 1])."""
    j = list(cp.bin_labels).index(label)
    if dim.kind == "categorical":
        lo = float(dim.to_unit([cp.choices[j]])[0])
        w = np.asarray(dim.weights or [1.0] * len(dim.choices or ()))
        return lo, lo + float(w[list(dim.choices or ()).index(cp.choices[j])] / w.sum())
    if dim.kind == "integer":
        low, high = float(dim.low), float(dim.high)  # type: ignore[arg-type]
        n = high - low + 1.0
        if cp.choices is not None:
            v = float(cp.choices[j])
            return (v - low) / n, (v - low + 1.0) / n
        e0, e1 = cp.edges[j], cp.edges[j + 1]
        last = j == len(cp.edges) - 2
        v0, v1 = math.ceil(e0), (math.floor(e1) if last else math.ceil(e1) - 1)
        return (v0 - low) / n, (v1 - low + 1.0) / n
    lo, hi = dim.to_unit([cp.edges[j], cp.edges[j + 1]])
    return float(lo), float(hi)
