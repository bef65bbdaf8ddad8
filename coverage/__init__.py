"""Coverage of the parameter space, with statistics per region: ``highfive.coverage``.

Coverpoints bin each dimension; crosses combine them; a counts database holds cases
and failures per cell and model, merges exactly across runs, and feeds exact
(Clopper-Pearson) failure-rate bounds, a status per cell, t-way coverage and holes.
The public names are imported on first use (PEP 562): importing the package is cheap.

>>> from highfive.generators import default_space
>>> from highfive.coverage import Binning, make_crosses
>>> binning = Binning.from_space(default_space())
>>> binning["peak_accel"].bin_labels[0]
'peak_accel[4,7.11)'
>>> len(make_crosses(binning, ways=[1]))
36
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from highfive.generators import lazy_exports

# Re-exported verdicts: one small module, imported now.
from highfive.harness import FAIL_VERDICTS, VERDICTS

if TYPE_CHECKING:
    from ._anytime import cs_lower, cs_pvalue, cs_upper
    from ._bins import IGNORED, ILLEGAL, Binning, Coverpoint, codes, space_fingerprint
    from ._cli import BINS_HELP, add_coverage_commands
    from ._criteria import Criterion, CriterionKind, Option, register_criterion
    from ._criteria_target import register_target_estimator
    from ._crosses import (
        DEFAULT_WAYS,
        Cross,
        cell_codes,
        cell_labels,
        crosses_fingerprint,
        load_crosses,
        make_crosses,
    )
    from ._db import CoverageCounts, merge_counts
    from ._diff import diff_pairs, diff_runs, quantization_diff
    from ._difftest import METHODS, adjust_pvalues, paired_cell_diff
    from ._difftext import RunDiff
    from ._effects import (
        newcombe_interval,
        paired_newcombe_interval,
        paired_ratio_interval,
        ratio_interval,
        wilson_interval,
    )
    from ._focus import plan_focus
    from ._gate import (
        CRITERIA,
        KINDS,
        CriterionResult,
        Gate,
        GateResult,
        evaluate_gate,
        load_gate,
    )
    from ._gaterun import GateRun, sampler_design
    from ._regions import Region, failure_regions, regions_dicts
    from ._run import CoverageSettings, RunCoverage, analyse_run, load_settings, write_coverage
    from ._sequential import CaseTable, CriterionDecision, Decisions, decide, staged_criteria
    from ._spending import SPENDING, Spending, spending_levels, spent_bounds
    from ._staged import (
        SequentialResult,
        check_sequential,
        check_stageable,
        run_until_decided,
        stage_boxes,
    )
    from ._stats import (
        LOOKS,
        STATUSES,
        CellStats,
        cases_needed,
        cases_needed_at_rate,
        cell_stats,
        cells_frame,
        coverage,
        covered_share,
        cp_interval,
        cp_lower,
        cp_upper,
        holes,
        rate_note,
        shown_rate,
        summary,
    )
    from ._unitbox import bin_interval
    from ._wbounds import WeightedRate, kish_ess, weighted_rate

__all__ = [
    "BINS_HELP",
    "CRITERIA",
    "DEFAULT_WAYS",
    "FAIL_VERDICTS",
    "IGNORED",
    "ILLEGAL",
    "KINDS",
    "LOOKS",
    "METHODS",
    "SPENDING",
    "STATUSES",
    "VERDICTS",
    "Binning",
    "CaseTable",
    "CellStats",
    "CoverageCounts",
    "CoverageSettings",
    "Coverpoint",
    "Criterion",
    "CriterionDecision",
    "CriterionKind",
    "CriterionResult",
    "Cross",
    "Decisions",
    "Gate",
    "GateResult",
    "GateRun",
    "Option",
    "Region",
    "RunCoverage",
    "RunDiff",
    "SequentialResult",
    "Spending",
    "WeightedRate",
    "add_coverage_commands",
    "adjust_pvalues",
    "analyse_run",
    "bin_interval",
    "cases_needed",
    "cases_needed_at_rate",
    "cell_codes",
    "cell_labels",
    "cell_stats",
    "cells_frame",
    "check_sequential",
    "check_stageable",
    "codes",
    "coverage",
    "covered_share",
    "cp_interval",
    "cp_lower",
    "cp_upper",
    "crosses_fingerprint",
    "cs_lower",
    "cs_pvalue",
    "cs_upper",
    "decide",
    "diff_pairs",
    "diff_runs",
    "evaluate_gate",
    "failure_regions",
    "holes",
    "kish_ess",
    "load_crosses",
    "load_gate",
    "load_settings",
    "make_crosses",
    "merge_counts",
    "newcombe_interval",
    "paired_cell_diff",
    "paired_newcombe_interval",
    "paired_ratio_interval",
    "plan_focus",
    "quantization_diff",
    "rate_note",
    "ratio_interval",
    "regions_dicts",
    "register_criterion",
    "register_target_estimator",
    "run_until_decided",
    "sampler_design",
    "shown_rate",
    "space_fingerprint",
    "spending_levels",
    "spent_bounds",
    "stage_boxes",
    "staged_criteria",
    "summary",
    "weighted_rate",
    "wilson_interval",
    "write_coverage",
]

# The module that defines each public name (the imports above, for the type checker).
# CRITERIA comes from ``_gate``, which imports every criterion module: the registry is
# complete whenever it is seen.
_EXPORTS = {
    "_anytime": ("cs_lower", "cs_pvalue", "cs_upper"),
    "_bins": ("IGNORED", "ILLEGAL", "Binning", "Coverpoint", "codes", "space_fingerprint"),
    "_cli": ("BINS_HELP", "add_coverage_commands"),
    "_criteria": ("Criterion", "CriterionKind", "Option", "register_criterion"),
    "_criteria_target": ("register_target_estimator",),
    "_crosses": (
        "DEFAULT_WAYS",
        "Cross",
        "cell_codes",
        "cell_labels",
        "crosses_fingerprint",
        "load_crosses",
        "make_crosses",
    ),
    "_db": ("CoverageCounts", "merge_counts"),
    "_diff": ("diff_pairs", "diff_runs", "quantization_diff"),
    "_difftest": ("METHODS", "adjust_pvalues", "paired_cell_diff"),
    "_difftext": ("RunDiff",),
    "_effects": (
        "newcombe_interval",
        "paired_newcombe_interval",
        "paired_ratio_interval",
        "ratio_interval",
        "wilson_interval",
    ),
    "_focus": ("plan_focus",),
    "_gate": (
        "CRITERIA",
        "KINDS",
        "CriterionResult",
        "Gate",
        "GateResult",
        "evaluate_gate",
        "load_gate",
    ),
    "_gaterun": ("GateRun", "sampler_design"),
    "_regions": ("Region", "failure_regions", "regions_dicts"),
    "_run": ("CoverageSettings", "RunCoverage", "analyse_run", "load_settings", "write_coverage"),
    "_sequential": (
        "CaseTable",
        "CriterionDecision",
        "Decisions",
        "decide",
        "staged_criteria",
    ),
    "_spending": ("SPENDING", "Spending", "spending_levels", "spent_bounds"),
    "_staged": (
        "SequentialResult",
        "check_sequential",
        "check_stageable",
        "run_until_decided",
        "stage_boxes",
    ),
    "_stats": (
        "LOOKS",
        "STATUSES",
        "CellStats",
        "cases_needed",
        "cases_needed_at_rate",
        "cell_stats",
        "cells_frame",
        "coverage",
        "covered_share",
        "cp_interval",
        "cp_lower",
        "cp_upper",
        "holes",
        "rate_note",
        "shown_rate",
        "summary",
    ),
    "_unitbox": ("bin_interval",),
    "_wbounds": ("WeightedRate", "kish_ess", "weighted_rate"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
