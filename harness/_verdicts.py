"""The verdicts a case can get: defined once, used by the oracle, counts, gate and report.

Each verdict has a name (stored in the results' ``verdict`` column), a severity rank
(0 for ``pass``; higher is worse, used to pick the cases a report shows first) and
whether it is a failure. Adding a verdict is one line in :data:`VERDICT_INFO`; its
position in that table fixes the column order of coverage counts, so new verdicts go
at the end.

=============== ======== =====================================================
verdict         severity meaning
=============== ======== =====================================================
pass            0        every high-five matched, no false positive
miss            2        some high-five missed, no false positive
double_count    3        every high-five matched, every false positive a duplicate
false_positive  1        every high-five matched, every false positive spurious
mixed           4        misses with false positives, or both kinds of false positive
error           6        the counter raised, exited or returned malformed detections
timeout         5        the counter exceeded the campaign's per-case time limit
=============== ======== =====================================================

A recorded case whose labels give only a count (no impact times) is judged by counts:
``pass``, ``miss`` (fewer counted) or ``false_positive`` (more counted: without times
an extra count cannot be told to be a duplicate), never ``double_count`` or ``mixed``
(see :func:`~highfive.harness._oracle.score_count`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # NumPy is imported where it is used: the verdicts' names import nothing
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "FAIL_VERDICTS",
    "NO_ANSWER",
    "SEVERITY",
    "VERDICTS",
    "VERDICT_INFO",
    "Verdict",
    "VerdictInfo",
    "counts_agree",
    "is_failure",
]

Verdict = Literal["pass", "miss", "double_count", "false_positive", "mixed", "error", "timeout"]


@dataclass(frozen=True)
class VerdictInfo:
    """One verdict: its name, severity rank (0 = pass, higher = worse) and meaning."""

    name: Verdict
    severity: int
    description: str

    @property
    def is_failure(self) -> bool:
        return self.severity > 0


VERDICT_INFO: tuple[VerdictInfo, ...] = (
    VerdictInfo("pass", 0, "every high-five counted once, nothing else counted"),
    VerdictInfo("miss", 2, "a high-five was not counted"),
    VerdictInfo("double_count", 3, "a high-five was counted more than once"),
    VerdictInfo("false_positive", 1, "something that is not a high-five was counted"),
    VerdictInfo("mixed", 4, "misses and false counts in one case"),
    VerdictInfo("error", 6, "the counter raised, exited or returned malformed detections"),
    VerdictInfo("timeout", 5, "the counter exceeded the per-case time limit"),
)
"""Every verdict, ``pass`` first; the order is the column order of coverage counts."""

VERDICTS: tuple[Verdict, ...] = tuple(v.name for v in VERDICT_INFO)
"""Verdict names in :data:`VERDICT_INFO` order."""

FAIL_VERDICTS: tuple[Verdict, ...] = tuple(v.name for v in VERDICT_INFO if v.is_failure)
"""The failing verdicts, in :data:`VERDICTS` order."""

SEVERITY: tuple[Verdict, ...] = tuple(
    v.name for v in sorted(VERDICT_INFO, key=lambda v: -v.severity) if v.is_failure
)
"""The failing verdicts, most severe first."""

NO_ANSWER: tuple[Verdict, ...] = ("error", "timeout")
"""The verdicts of a counter that gave no count (its ``predicted_count`` is recorded as
0): such a case never counts as agreeing with another counter."""

_FAILS = frozenset(FAIL_VERDICTS)


def is_failure(verdict: str) -> bool:
    """Whether ``verdict`` is a failure (every known verdict but ``pass``)."""
    return verdict in _FAILS


def counts_agree(
    count_a: npt.ArrayLike,
    verdict_a: npt.ArrayLike,
    count_b: npt.ArrayLike,
    verdict_b: npt.ArrayLike,
) -> np.ndarray:
    """Per case, whether two counters *agree*: both gave a count (neither verdict is in
    :data:`NO_ANSWER`) and the counts are equal.

    A counter that raised or timed out is recorded with a predicted count of 0, so
    comparing counts alone would have a crashing twin "agree" with every case the other
    counted 0 times.
    """
    import numpy as np

    answered = ~np.isin(verdict_a, NO_ANSWER) & ~np.isin(verdict_b, NO_ANSWER)
    return answered & (np.asarray(count_a) == np.asarray(count_b))
