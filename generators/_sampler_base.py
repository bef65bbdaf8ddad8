"""The base class of samplers: points of the unit hypercube, addressable by case index
(see ``_samplers`` for the samplers themselves)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from ._errors import InvalidParameter

__all__ = ["Sampler"]

MAX_CASES = 2**63 - 1
"""Most cases of any campaign: case ids are stored as 64-bit integers."""

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
        if (problem := self.too_many(self.n, self.d)) is not None:
            raise InvalidParameter(problem)

    @classmethod
    def limit(cls, d: int) -> tuple[int, str]:
        """Most cases this sampler can draw in ``d`` dimensions, and why."""
        return MAX_CASES, "case ids are stored as 64-bit integers"

    @classmethod
    def too_many(cls, n: int, d: int) -> str | None:
        """One line on why ``n`` cases are more than this sampler can draw, naming the
        samplers that can, or None."""
        most, why = cls.limit(d)
        if n <= most:
            return None
        others = [
            c.name
            for c in _registry()
            if c is not cls and c.name not in ("focus", "importance") and n <= c.limit(d)[0]
        ]
        instead = f"sampler {' or '.join(repr(o) for o in others)}, or " if others else ""
        return (
            f"cases: {n:,} is more than sampler {cls.name!r} can draw ({most:,}: {why}); "
            f"use {instead}at most {most:,} cases"
        )

    def points(self, start: int, count: int) -> np.ndarray:
        """Points of cases ``start .. start + count - 1``, shape (count, d)."""
        for field, value in (("start", start), ("count", count)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InvalidParameter(
                    f"sampler {self.name}: {field}={value!r}; must be a whole number of cases"
                )
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


def _registry() -> tuple[type[Sampler], ...]:
    from ._samplers import SAMPLERS  # the samplers live there, built on this class

    return tuple(SAMPLERS.values())
