"""The base class of samplers: points of the unit hypercube, addressable by case index
(see ``_samplers`` for the samplers themselves)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from ._errors import InvalidParameter

__all__ = ["Sampler"]

_POINT_STREAM = 3  # child index of a case's SeedSequence reserved for its sample point


class Sampler(ABC):
    """Points of ``[0, 1)^d`` for cases ``0 .. n-1`` of a campaign seeded with ``seed``."""

    name: ClassVar[str]

    def __init__(self, d: int, n: int, seed: int) -> None:
        for field, value, low in (("d", d, 1), ("n", n, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise InvalidParameter(
                    f"sampler {self.name}: {field}={value!r}; must be an integer >= {low}"
                )
        self.d, self.n, self.seed = int(d), int(n), int(seed)

    def points(self, start: int, count: int) -> np.ndarray:
        """Points of cases ``start .. start + count - 1``, shape (count, d)."""
        if start < 0 or count < 0 or start + count > self.n:
            raise InvalidParameter(
                f"sampler {self.name}: cases [{start}, {start + count}) outside the "
                f"campaign's [0, {self.n})"
            )
        out = self._points(int(start), int(count))
        assert out.shape == (count, self.d)
        return out

    @abstractmethod
    def _points(self, start: int, count: int) -> np.ndarray: ...

    def _advice(self) -> str | None:
        """Why these settings serve this sampler badly, or None (the default)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d}, n={self.n}, seed={self.seed})"
