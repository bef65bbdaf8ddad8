"""The quietest stretch of a recording, found in one pass in bounded memory: where the
watch was still, it reads gravity alone, so the stretch gives the units (about 1 g or
9.81 m/s^2) and the watch's orientation.

The rate (hence how many rows make about a second) is known only after the pass, so
:class:`_Quiet` keeps the quietest window of every length of 2**k rows (4 to 16,384)
and :meth:`_Quiet.quietest` picks the one nearest to :data:`REST_S` afterwards. A
window of 2**k rows starts every 2**(k-2) rows and is the sum of four blocks of
2**(k-2) rows aligned to the first row; block sums are pairwise sums of the blocks a
level below. The sums, hence the window found and its mean, are therefore the same to
the bit however the file is cut into chunks. Memory: three blocks and one unpaired
block per length. Only :mod:`._recording` uses this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

REST_S = 1.0
"""Length of the stretch looked for, s (the nearest 2**k rows: 1.28 s at 50 or 100 Hz)."""

FLAT = 1e-6
"""A window whose spread is at most this share of its root-mean-square reading does not
vary: one sample repeated (a stuck sensor, or one held at its rails), not a watch at
rest, whose sensor shows noise (a 16-bit accelerometer's step is 6e-5 of 1 g at +-2 g).
Far above float64 rounding of the window sums (1e-16 of them)."""

_LEVELS = 13  # block lengths 2**0 .. 2**12 rows: windows of 4 .. 16,384 rows


@dataclass(frozen=True)
class Rest:
    """What the recording reads where it is quietest, in g.

    Attributes
    ----------
    vector : tuple of float
        Mean reading (x, y, z) over the stretch, g: the specific force at rest, gravity
        pointing the other way (``(0, 0, 1)`` with the face up).
    start_s, length_s : float
        Where the stretch starts (s from the first sample) and how long it is.
    spread : float
        Root-mean-square deviation of the samples from the mean vector, g.
    """

    vector: tuple[float, float, float]
    start_s: float
    length_s: float
    spread: float

    @property
    def magnitude(self) -> float:
        """Length of :attr:`vector` (about 1 when the units are right), g."""
        return math.hypot(*self.vector)

    @property
    def gravity(self) -> bool:
        """Whether the stretch reads gravity (0.5 g or more): a recording without it (linear
        acceleration) reads less where it is quietest."""
        return self.magnitude >= 0.5

    @property
    def flat(self) -> bool:
        """Whether the stretch does not vary (:data:`FLAT`): taken only for lack of any
        other, it may not be a watch at rest."""
        return self.spread <= FLAT * self.magnitude

    @property
    def tilt_deg(self) -> float:
        """Angle between the rest reading and the watch's z axis: 0 face up, 180 face down."""
        x, y, z = self.vector
        return math.degrees(math.atan2(math.hypot(x, y), z))

    @property
    def roll_deg(self) -> float:
        """Rotation about the watch's x axis (the forearm), as the generators' wrist roll."""
        _, y, z = self.vector
        return math.degrees(math.atan2(y, z))


class _Quiet:
    """The quietest window of each length of 2**k rows, fed chunk by chunk.

    Quietness is the sum of the three axes' variances over the window (times its
    rows); ties go to the earliest window. A row of exactly (0, 0, 0) is a dropout (a
    sensor that stopped reporting, its gap filled with zeros), not a watch at rest: a
    window holding one is a candidate only when no window of its length is free of
    them, and a window of nothing else never is. Nor is a window that does not vary
    (:data:`FLAT`: one sample repeated, as a stuck sensor gives): it is a candidate only
    when every other window of its length is all dropouts. Each window's sums carry the
    number of rows in it that read anything (exact in float64), so this too is the same
    however the rows are chunked.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.recorded = 0  # rows that are not (0, 0, 0)
        empty = (np.empty((0, 7)), np.empty(0))
        self._tail = [empty] * _LEVELS  # the last three blocks (sums, first times)
        self._odd = [empty] * _LEVELS  # a block not yet paired into the level above
        # Per length: the quietest window without a dropped row that varies, the
        # quietest with some (but not only) dropped rows, and the quietest that does not
        # vary (no dropped row either: a window of some is never flat).
        self._best: list[list[tuple[float, np.ndarray, float] | None]] = [
            [None, None, None] for _ in range(_LEVELS)
        ]

    def add(self, t: np.ndarray, x: np.ndarray) -> None:
        """The next rows: times (n,) and readings (n, 3), float64."""
        self.rows += t.size
        read = (x != 0.0).any(axis=1)
        self.recorded += int(read.sum())
        v, ts = np.hstack([x, x * x, read[:, None].astype(np.float64)]), t
        for j in range(_LEVELS):
            cat = np.concatenate([self._tail[j][0], v])
            tcat = np.concatenate([self._tail[j][1], ts])
            if cat.shape[0] >= 4:
                s = (cat[:-3] + cat[1:-2]) + (cat[2:-1] + cat[3:])
                q = _scatter(s, 4 << j)
                full = s[:, 6] == float(4 << j)
                flat = q <= FLAT**2 * ((s[:, 3] + s[:, 4]) + s[:, 5])
                tiers = [(0, q)]  # as a rule, no row was dropped and every window varies
                if not full.all() or flat.any():
                    # A window with dropped rows: the variance of the rows that read
                    # anything (two at least), the zeros being no readings.
                    read = s[:, 6]
                    some = ~full & (read >= 2.0)
                    spread = np.full(read.shape, np.inf)
                    np.divide(_scatter(s, np.maximum(read, 1.0)), read, out=spread, where=some)
                    tiers = [
                        (0, np.where(full & ~flat, q, np.inf)),
                        (1, spread),
                        (2, np.where(full & flat, q, np.inf)),
                    ]
                for tier, qt in tiers:
                    i = int(np.argmin(qt))
                    best = self._best[j][tier]
                    if qt[i] < np.inf and (best is None or qt[i] < best[0]):
                        self._best[j][tier] = (float(qt[i]), s[i].copy(), float(tcat[i]))
            self._tail[j] = (cat[-3:], tcat[-3:])
            cat = np.concatenate([self._odd[j][0], v])
            tcat = np.concatenate([self._odd[j][1], ts])
            m = cat.shape[0] // 2 * 2
            self._odd[j] = (cat[m:], tcat[m:])
            v, ts = cat[0:m:2] + cat[1:m:2], tcat[0:m:2]
            if not m:
                break

    def quietest(self, fs: float) -> tuple[np.ndarray, float, int, float] | None:
        """The window about :data:`REST_S` long (at most the whole recording), or None
        when every window of that length reads only (0, 0, 0).

        Returns
        -------
        mean : np.ndarray, shape (3,)
            Mean reading over the window's rows that read anything (a row of exactly
            (0, 0, 0) is a dropout, no reading), in the file's units.
        spread : float
            Root-mean-square deviation of those rows from ``mean``, the file's units.
        rows : int
            Rows in the window.
        t_first : float
            The window's first time, in the file's time units.
        """
        if self.rows < 4:  # the whole recording is the level-0 tail
            sums, times = self._tail[0]
            total, rows, t_first = sums.sum(axis=0), self.rows, float(times[0])
            if total[6] == 0.0:
                return None
        else:
            k = round(math.log2(max(fs * REST_S, 4.0)))
            j = min(k, _LEVELS + 1, self.rows.bit_length() - 1) - 2
            clean, some, flat = self._best[j]  # a window of 2**(j+2) <= rows rows exists
            best = clean or some or flat
            if best is None:
                return None
            _, total, t_first = best
            rows = 4 << j
        read = float(total[6])  # the rows that read anything: the dropped ones are no reading
        q = float(_scatter(total[None], read)[0])
        return total[:3] / read, math.sqrt(max(q, 0.0) / read), rows, t_first


def _scatter(sums: np.ndarray, rows: float | np.ndarray) -> np.ndarray:
    # Summed squared deviations from the mean over the three axes, from the sums of
    # x, y, z, x^2, y^2, z^2 of windows of ``rows`` rows (shape (m, 6); ``rows`` one
    # number or one per window).
    d = sums[:, 3:6] - sums[:, :3] ** 2 / np.reshape(np.asarray(rows, dtype=np.float64), (-1, 1))
    return (d[:, 0] + d[:, 1]) + d[:, 2]
