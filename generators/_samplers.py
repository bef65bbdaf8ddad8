"""Samplers of the unit hypercube, addressable by case index.

Case ``i``'s point depends only on (seed, i, n, d): a batch of cases ``[start, start +
count)`` is computed without the others, so results do not depend on batch size,
worker count or resumes. :meth:`Sampler.points` validates and calls the one hook
``_points`` that each sampler overrides (as scipy's ``QMCEngine.random`` does). A
second hook, ``_advice``, names settings a sampler handles badly; ``make_sampler(...,
warn=True)`` turns it into a ``UserWarning``, once, where a campaign is planned (not in
workers or replays, which build the same sampler again).

- ``random``: independent uniform points, case ``i`` from its own stream
  ``SeedSequence(seed, spawn_key=(i, 3))`` (children 0-2 of case ``i`` feed the
  generators, so the streams never overlap).
- ``sobol``, ``halton``: scrambled low-discrepancy sequences, scipy.stats.qmc's
  points bit for bit but computed from the case index (Sobol from the Gray code of
  ``i``, Halton as the scrambled radical inverse of ``i``), so a batch costs the same
  wherever it starts (scipy's ``fast_forward`` builds every earlier point). Sobol's
  balance needs ``n`` a power of two: its advice says so otherwise.

Each sampler draws at most :meth:`Sampler.limit` cases (Sobol 2**30, Halton until a
dimension's kept digits repeat, LHS 2**53, the others 2**63 - 1, the case ids'
integers); more is refused when the sampler is made, and by the campaign's
configuration.
- ``lhs``: Latin hypercube over ``n`` cases; per dimension a keyed pseudorandom
  permutation of ``range(n)`` computed index by index (a Feistel network with cycle
  walking), so no O(n) table is ever held in memory.
- ``focus``: for follow-up campaigns: case ``i`` falls uniformly into target box
  ``i mod B`` (boxes restrict a few dimensions to sub-intervals of [0, 1); the other
  dimensions are drawn as by ``random``). Within a box the distribution is the base
  one restricted to the box; merged with a base run, coverage weights the cases by
  the pooled design.
- ``importance``: case ``i`` from the proposal of its stage (``_importance``), a
  defensive mixture of the base distribution and histograms; each case carries its
  weight, base over proposal density.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.stats import qmc

from ._errors import InvalidParameter
from ._importance import ImportanceSampler, Proposal
from ._sampler_base import _POINT_STREAM, Sampler

__all__ = ["SAMPLERS", "Box", "Sampler", "make_sampler"]


class RandomSampler(Sampler):
    name = "random"

    def _points(self, start: int, count: int) -> np.ndarray:
        out = np.empty((count, self.d))
        for k in range(count):
            ss = np.random.SeedSequence(self.seed, spawn_key=(start + k, _POINT_STREAM))
            out[k] = np.random.Generator(np.random.PCG64(ss)).random(self.d)
        return out


def _qmc_rng(seed: int) -> np.random.Generator:
    # The scrambling stream: a child of the campaign seed no case stream uses.
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**62,)))


_SOBOL_MAX = 2**30
"""Most points of scipy's Sobol engine (its ``bits`` = 30; more bits would draw other
scrambles and so change every recorded Sobol run)."""

Box = tuple[tuple[int, float, float], ...]
"""A target box: (dimension index, low, high) in unit coordinates, per restricted dim."""


class FocusSampler(Sampler):
    name = "focus"

    def __init__(self, d: int, n: int, seed: int, boxes: tuple[Box, ...] = ()) -> None:
        super().__init__(d, n, seed)
        if not boxes:
            raise InvalidParameter("sampler focus: needs target boxes (highfive run --focus)")
        for box in boxes:
            for j, lo, hi in box:
                if not (0 <= j < d and 0.0 <= lo < hi <= 1.0):
                    raise InvalidParameter(
                        f"sampler focus: box entry ({j}, {lo}, {hi}) must have 0 <= dim < {d} "
                        "and 0 <= low < high <= 1"
                    )
        self.boxes = boxes

    def _points(self, start: int, count: int) -> np.ndarray:
        u = RandomSampler(self.d, self.n, self.seed)._points(start, count)
        for k in range(count):
            for j, lo, hi in self.boxes[(start + k) % len(self.boxes)]:
                u[k, j] = lo + u[k, j] * (hi - lo)
        return np.minimum(u, np.nextafter(1.0, 0.0))


class SobolSampler(Sampler):
    name = "sobol"

    def __init__(self, d: int, n: int, seed: int) -> None:
        super().__init__(d, n, seed)
        if self.d > qmc.Sobol.MAXDIM:
            raise InvalidParameter(
                f"sampler sobol: d={self.d} exceeds {qmc.Sobol.MAXDIM}; use halton or lhs"
            )

    @classmethod
    def limit(cls, d: int) -> tuple[int, str]:
        return _SOBOL_MAX, "scipy's Sobol engine makes at most 2**30 distinct points"

    def _points(self, start: int, count: int) -> np.ndarray:
        # Point i is the shift XOR the direction numbers of the set bits of i's Gray
        # code, times 2**-bits: what scipy's engine reaches after fast_forward(i), bit
        # for bit, without its walk over every earlier index (15 s at 2**30 - 1).
        engine = qmc.Sobol(self.d, scramble=True, rng=_qmc_rng(self.seed))
        if not _sobol_internals(engine):
            return _walked(engine, start, count, self.d)  # another scipy: its own walk
        idx = np.arange(start, start + count, dtype=np.uint64)
        gray = idx ^ (idx >> np.uint64(1))
        quasi = np.broadcast_to(engine._shift, (count, self.d)).copy()
        for k in range(engine.bits):
            quasi[((gray >> np.uint64(k)) & np.uint64(1)).astype(bool)] ^= engine._sv[:, k]
        return quasi * engine._scale

    def _advice(self) -> str | None:
        n = self.n
        if not n & (n - 1):
            return None
        # Only sizes Sobol can make: n <= 2**30, so the power below always is one.
        below, above = 1 << max(n.bit_length() - 1, 0), 1 << n.bit_length()
        sizes = f"{below} or {above}" if above <= _SOBOL_MAX else f"{below}"
        return (
            f"sampler sobol: cases={n} is not a power of two; Sobol points keep "
            f"their balance only for powers of two (e.g. {sizes})"
        )


class HaltonSampler(Sampler):
    """Scrambled Halton points computed from the case index (no earlier point is built).

    Dimension ``j`` is the radical inverse of ``i`` in the ``j``-th prime base, each
    digit mapped by its own random permutation (Owen 2017, as ``scipy.stats.qmc.Halton``
    does): the permutations are the ones scipy's scrambled Halton engine draws from the
    campaign's scrambling stream, and the digits are summed in scipy's order with its
    float operations, so the points equal scipy's ``fast_forward(i)`` then ``random``
    bit for bit (``tests/property/test_qmc_points.py``) while a batch costs the same time and
    memory wherever it starts. scipy keeps ``ceil(54 / log2(base)) - 1`` digits per
    base, so dimension ``j`` repeats after ``base ** digits`` points: that is the
    sampler's limit (:meth:`limit`).
    """

    name = "halton"

    def __init__(self, d: int, n: int, seed: int) -> None:
        super().__init__(d, n, seed)
        engine = qmc.Halton(self.d, scramble=True, rng=_qmc_rng(self.seed))
        self._bases = [int(b) for b in engine.base]
        # The digit permutations are scipy's own (a private attribute): a scipy without
        # them gets its engine's walk, slow for late cases but the same points.
        perms = getattr(engine, "_permutations", None)
        self._perms = None if perms is None else [np.asarray(p, dtype=np.int64) for p in perms]

    @classmethod
    def limit(cls, d: int) -> tuple[int, str]:
        bases = [int(b) for b in qmc.Halton(d, scramble=False).base]
        periods = [b ** (math.ceil(54 / math.log2(b)) - 1) for b in bases]
        worst = min(range(d), key=lambda j: periods[j])
        return periods[worst], (
            f"its base-{bases[worst]} dimension repeats after {bases[worst]}**"
            f"{math.ceil(54 / math.log2(bases[worst])) - 1} points"
        )

    def _points(self, start: int, count: int) -> np.ndarray:
        if self._perms is None:
            engine = qmc.Halton(self.d, scramble=True, rng=_qmc_rng(self.seed))
            return _walked(engine, start, count, self.d)
        idx = np.arange(start, start + count, dtype=np.int64)
        out = np.empty((count, self.d))
        for j, (base, perm) in enumerate(zip(self._bases, self._perms, strict=True)):
            q, acc, scale = idx.copy(), np.zeros(count), 1.0 / base
            for row in perm:  # scipy's loop: every kept digit, lowest first
                acc += row[q % base] * scale
                scale /= base
                q //= base
            out[:, j] = acc
        return out


def _sobol_internals(engine: qmc.Sobol) -> bool:
    """Whether scipy's Sobol engine holds the (private) state the direct computation reads."""
    return all(hasattr(engine, a) for a in ("_shift", "_sv", "_scale", "bits"))


def _walked(engine: qmc.QMCEngine, start: int, count: int, d: int) -> np.ndarray:
    """Points ``start`` to ``start + count`` by the engine's own walk (``fast_forward``,
    which builds every earlier point): the fallback where scipy's internals differ."""
    if start:  # scipy's Sobol cannot fast_forward(0)
        engine.fast_forward(start)
    with warnings.catch_warnings():
        # Balance is a property of the whole campaign (n a power of two, see
        # SobolSampler._advice); a batch of it is not meant to be balanced on its own.
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        return engine.random(count) if count else np.empty((0, d))


_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray, key: np.uint64) -> np.ndarray:
    """SplitMix64 finaliser of ``x ^ key``: a fast, well-mixed keyed hash of uint64."""
    with np.errstate(over="ignore"):
        z = x ^ key
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _feistel_permute(i: np.ndarray, n: int, keys: np.ndarray) -> np.ndarray:
    """A keyed bijection of ``range(n)``, evaluated at ``i`` (cycle walking)."""
    half = max(1, int(np.ceil(np.log2(max(n, 2)) / 2)))
    mask = np.uint64((1 << half) - 1)
    x = i.astype(np.uint64)
    walk = np.ones(x.shape, dtype=bool)
    while walk.any():
        left, right = x[walk] >> np.uint64(half), x[walk] & mask
        for k in keys:
            left, right = right, left ^ (_mix(right, k) & mask)
        x[walk] = (left << np.uint64(half)) | right
        walk = x >= np.uint64(n)  # outside range(n): walk on (each cycle returns inside)
    return x.astype(np.int64)


class LatinHypercubeSampler(Sampler):
    name = "lhs"

    @classmethod
    def limit(cls, d: int) -> tuple[int, str]:
        return 2**53, "float64 cannot tell more than 2**53 strata apart"

    def _points(self, start: int, count: int) -> np.ndarray:
        idx = np.arange(start, start + count)
        root = np.random.SeedSequence(self.seed, spawn_key=(2**63,))
        keys = root.generate_state(4 * self.d, dtype=np.uint64).reshape(self.d, 4)
        jitter = RandomSampler(self.d, self.n, self.seed)._points(start, count)
        strata = np.stack([_feistel_permute(idx, self.n, keys[j]) for j in range(self.d)], 1)
        return (strata + jitter) / self.n


SAMPLERS: dict[str, type[Sampler]] = {
    c.name: c
    for c in (
        RandomSampler,
        SobolSampler,
        HaltonSampler,
        LatinHypercubeSampler,
        FocusSampler,
        ImportanceSampler,
    )
}


def make_sampler(
    name: str,
    d: int,
    n: int,
    seed: int,
    boxes: tuple[Box, ...] = (),
    *,
    proposals: tuple[Proposal, ...] = (),
    starts: tuple[int, ...] = (0,),
    warn: bool = False,
) -> Sampler:
    """The sampler called ``name`` for ``n`` cases in ``d`` dimensions.

    ``boxes`` are the target boxes of the ``focus`` sampler, ``proposals`` and
    ``starts`` the stages of the ``importance`` sampler (each ignored by the others).
    With ``warn=True``, the sampler's advice on these settings (e.g. Sobol with ``n``
    not a power of two) is issued as a ``UserWarning``; call it so once per campaign,
    where it is planned, and without ``warn`` wherever the sampler is built again.
    """
    try:
        cls = SAMPLERS[name]
    except KeyError:
        raise InvalidParameter(
            f"sampler: {name!r} is not known; choose one of {', '.join(SAMPLERS)}"
        ) from None
    if cls is FocusSampler:
        sampler: Sampler = FocusSampler(d, n, seed, boxes)
    elif cls is ImportanceSampler:
        sampler = ImportanceSampler(d, n, seed, proposals, starts)
    else:
        sampler = cls(d, n, seed)
    if warn and (advice := sampler._advice()) is not None:
        warnings.warn(advice, UserWarning, stacklevel=2)
    return sampler
