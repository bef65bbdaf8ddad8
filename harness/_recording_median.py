"""Exact medians of a stream of values in bounded memory (for a recording's rate).

:class:`_Median` counts the values' leading bits; :func:`_decide` narrows the median's
bin (reading the values again) only while a decision depends on where in the bin it lies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

_SHIFT = 36  # a first pass keeps sign, exponent and 16 mantissa bits: bins 2**-16 wide
_NARROW = 16  # each further pass, 16 more bits
_MAX_KEYS = 1 << 20  # more distinct bins than this: coarser bins (memory stays bounded)


class _Median:
    """The median of a stream of non-negative float64 values, as ``np.median`` gives it,
    from counts of their leading bits (the bit pattern of a float >= 0 orders as its
    value). :meth:`interval` bounds it; :meth:`narrow` reads the values again and keeps
    only those in the median's bin, 16 bits finer, until the bin is one value."""

    def __init__(self) -> None:
        self.n = 0
        self.shift = _SHIFT
        self._keys = np.empty(0, dtype=np.uint64)
        self._counts = np.empty(0, dtype=np.int64)
        self._targets: list[tuple[int, int, int, int]] | None = None  # (rank, key, shift, below)

    def add(self, values: np.ndarray) -> None:
        bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64) >> np.uint64(
            self.shift
        )
        keys, counts = np.unique(bits, return_counts=True)
        self._merge(keys, counts)
        self.n += values.size
        while self._keys.size > _MAX_KEYS:
            self.shift += 4
            self._merge(self._keys >> np.uint64(4), self._counts, replace=True)

    def _merge(self, keys: np.ndarray, counts: np.ndarray, *, replace: bool = False) -> None:
        if not replace:
            keys = np.concatenate([self._keys, keys])
            counts = np.concatenate([self._counts, counts])
        self._keys, inverse = np.unique(keys, return_inverse=True)
        self._counts = np.bincount(inverse, weights=counts, minlength=self._keys.size).astype(
            np.int64
        )

    def _locate(self) -> None:
        # The bin of each rank the median depends on (one, or two for an even count).
        ranks = [self.n // 2] if self.n % 2 else [self.n // 2 - 1, self.n // 2]
        cum = np.cumsum(self._counts)
        self._targets = []
        for r in ranks:
            i = int(np.searchsorted(cum, r, side="right"))
            below = int(cum[i - 1]) if i else 0
            self._targets.append((r, int(self._keys[i]), self.shift, below))

    def interval(self) -> tuple[float, float]:
        """Smallest and largest value the median can have, given what was counted."""
        if self._targets is None:
            self._locate()
        assert self._targets is not None
        los, his = [], []
        for _, key, shift, _ in self._targets:
            lo = np.uint64(key) << np.uint64(shift)
            hi = (np.uint64(key + 1) << np.uint64(shift)) - np.uint64(1)
            los.append(float(np.array(lo).view(np.float64)))
            his.append(float(np.array(hi).view(np.float64)))
        if len(los) == 1:
            return los[0], his[0]
        return (los[0] + los[1]) / 2, (his[0] + his[1]) / 2

    @property
    def exact(self) -> bool:
        return self._targets is not None and all(t[2] == 0 for t in self._targets)

    def narrow(self, values: Iterator[np.ndarray]) -> None:
        """One more pass over the same values: each median bin 16 bits finer."""
        assert self._targets is not None
        found: list[dict[int, int]] = [{} for _ in self._targets]
        for v in values:
            bits = np.ascontiguousarray(v, dtype=np.float64).view(np.uint64)
            for (_, key, shift, _), hist in zip(self._targets, found, strict=True):
                inside = bits[(bits >> np.uint64(shift)) == np.uint64(key)]
                sub = inside >> np.uint64(max(0, shift - _NARROW))
                for k, c in zip(*np.unique(sub, return_counts=True), strict=True):
                    hist[int(k)] = hist.get(int(k), 0) + int(c)
        targets = []
        for (rank, _, shift, below), hist in zip(self._targets, found, strict=True):
            for k in sorted(hist):
                if below + hist[k] > rank:
                    targets.append((rank, k, max(0, shift - _NARROW), below))
                    break
                below += hist[k]
        self._targets = targets


def _decide(
    median: _Median, decide: Callable[[float], Any], again: Callable[[], Iterator[np.ndarray]]
) -> Any:
    """``decide(median)``, exactly: the bins are narrowed (the values read again with
    ``again``) only while the decision differs across the interval they leave.
    ``decide`` must be monotone (equal at both ends means equal in between)."""
    lo, hi = median.interval()
    while decide(lo) != decide(hi) and not median.exact:
        median.narrow(again())
        lo, hi = median.interval()
    return decide(lo)
