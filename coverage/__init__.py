"""Coverage of the parameter space, with statistics per region: ``highfive.coverage``.

Coverpoints bin each dimension; crosses combine them; a counts database holds cases
and failures per cell and model, merges exactly across runs, and feeds exact
(Clopper-Pearson) failure-rate bounds, a status per cell, t-way coverage and holes.

>>> from highfive.generators import default_space
>>> from highfive.coverage import Binning, make_crosses
>>> binning = Binning.from_space(default_space())
>>> binning["peak_accel"].bin_labels[0]
'peak_accel[4,7.11)'
>>> len(make_crosses(binning, ways=[1]))
31
"""

from ._bins import IGNORED, ILLEGAL, Binning, Coverpoint, codes, space_fingerprint
from ._crosses import (
    DEFAULT_WAYS,
    Cross,
    cell_codes,
    cell_labels,
    crosses_fingerprint,
    load_crosses,
    make_crosses,
)
from ._db import FAIL_VERDICTS, VERDICTS, CoverageCounts, merge_counts
from ._stats import (
    STATUSES,
    CellStats,
    cases_needed,
    cell_stats,
    cells_frame,
    coverage,
    cp_interval,
    cp_lower,
    cp_upper,
    holes,
    summary,
)

__all__ = [
    "DEFAULT_WAYS",
    "FAIL_VERDICTS",
    "IGNORED",
    "ILLEGAL",
    "STATUSES",
    "VERDICTS",
    "Binning",
    "CellStats",
    "CoverageCounts",
    "Coverpoint",
    "Cross",
    "cases_needed",
    "cell_codes",
    "cell_labels",
    "cell_stats",
    "cells_frame",
    "codes",
    "coverage",
    "cp_interval",
    "cp_lower",
    "cp_upper",
    "crosses_fingerprint",
    "holes",
    "load_crosses",
    "make_crosses",
    "merge_counts",
    "space_fingerprint",
    "summary",
]
