"""Progress of a long count: what is being counted, then how far it got.

Counting many crosses (3-way on the default space: 693,872 cells per model) over
millions of rows takes a minute; a command then says so rather than sitting silent.
Below :data:`~highfive.coverage._crosses.LARGE_CELLS` cells nothing is said.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ._crosses import LARGE_CELLS

__all__ = ["Log", "Progress", "progress_for"]

Log = Callable[[str], None]
"""Where a command's progress lines go (e.g. ``print`` to stderr)."""


class Progress:
    """Called with (rows counted, rows in all); logs at most one line every ``every`` s."""

    def __init__(self, log: Log, what: str, every: float = 5.0) -> None:
        self.log, self.what, self.every = log, what, every
        self.start = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < self.every:
            return
        self.last = now
        share = f" ({100 * done / total:.0f}%)" if total else ""
        self.log(f"  {self.what}: {done:,} of {total:,} rows{share}, {now - self.start:.0f} s")


def progress_for(
    log: Log | None, cells: int, crosses: int, where: str, every: float = 5.0
) -> Progress | None:
    """A :class:`Progress` when ``cells`` is large (and ``log`` given), after a line
    saying what is counted; None otherwise."""
    if log is None or cells <= LARGE_CELLS:
        return None
    log(f"counting {cells:,} cells per model in {crosses:,} crosses ({where}); this takes a while")
    return Progress(log, "counted", every)
