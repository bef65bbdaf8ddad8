"""Criteria on rates over all cases: ``failure_rate``, ``agreement`` and
``detection_latency``; each is judged by a one-sided upper confidence bound
(Clopper-Pearson, or anytime-valid with ``[gate] looks = "anytime"``), never by a point
estimate alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from highfive.generators import show
from highfive.harness import FAIL_VERDICTS, counts_agree

from ._criteria import (
    P_MAX,
    Criterion,
    CriterionKind,
    Option,
    Outcome,
    is_number,
    number,
    register_criterion,
)
from ._gaterun import GateRun

__all__ = ["Agreement", "DetectionLatency", "FailureRate"]


@register_criterion
class FailureRate(CriterionKind):
    """The one-sided upper bound of the failure rate over all cases below ``p_max``.

    ``verdicts`` (default every failure verdict) chooses which verdicts count.
    """

    kind = "failure_rate"
    options: ClassVar[Mapping[str, Option]] = {
        "p_max": P_MAX,
        "verdicts": Option(
            f"must be a list of distinct failure verdicts from {list(FAIL_VERDICTS)}",
            lambda v: (
                isinstance(v, list)
                and bool(v)
                and all(x in FAIL_VERDICTS for x in v)
                and len(set(v)) == len(v)
            ),
            list,
            list(FAIL_VERDICTS),
        ),
    }

    def threshold(self, o: Mapping[str, Any]) -> str:
        which = "" if tuple(o["verdicts"]) == FAIL_VERDICTS else f" ({'+'.join(o['verdicts'])})"
        return f"upper bound < {o['p_max']:g}{which}"

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        o = c.options
        f = run.frame()
        v = f.loc[f["model"] == model, "verdict"]
        n, k = len(v), int(v.isin(o["verdicts"]).sum())
        upper = float(run.upper(k, n, o["p_max"]))
        which = "failures" if tuple(o["verdicts"]) == FAIL_VERDICTS else "+".join(o["verdicts"])
        rate = k / n if n else float("nan")
        detail = f"{k:,} {which} in {n:,} cases (rate {rate:.4g}); upper bound {upper:.4g}"
        return f"upper bound {upper:.4g}", n > 0 and upper < o["p_max"], detail


def _two_models(v: Any) -> bool:
    return (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(m, str) and m for m in v)
        and v[0] != v[1]
    )


@register_criterion
class Agreement(CriterionKind):
    """The fraction of cases where two models' predicted counts differ, shown at most ``max``.

    A case where either model gave no count (``error`` or ``timeout``) is a disagreement
    (:func:`~highfive.harness.counts_agree`): a twin that crashes on every case must not
    pass for one that agrees.

    Judged, like every rate criterion, by the one-sided upper bound of the fraction at
    the gate's confidence (the observed fraction is in the detail): 2 disagreements in
    500 cases do not pass ``max = 0.005``, their upper bound being 0.0125.

    One result for the gate (no ``model`` key): ``models`` names the two compared.
    """

    kind = "agreement"
    options: ClassVar[Mapping[str, Option]] = {
        "max": number(
            "must be a fraction of cases in (0, 1) (an upper bound is never 0, and every "
            "one is at most 1: a criterion no run fails), e.g. 0.01",
            low=0,
            high=1,
            open_low=True,
            open_high=True,
        ),
        "models": Option(
            "must be two different model ids, e.g. ['float', 'int8']",
            _two_models,
            list,
            ["float", "int8"],
        ),
    }
    per_model = False

    def threshold(self, o: Mapping[str, Any]) -> str:
        return f"disagreement upper bound <= {o['max']:g}"

    def models_named(self, c: Criterion) -> tuple[tuple[str, ...], str]:
        return tuple(c.options["models"]), "models"

    def label(self, c: Criterion, model: str | None) -> str | None:
        return f"{c.options['models'][0]} vs {c.options['models'][1]}"

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        a, b = c.options["models"]
        f = run.frame()
        cols = ["predicted_count", "verdict"]
        fa = f.loc[f["model"] == a].set_index("case_id")[cols]
        fb = f.loc[f["model"] == b].set_index("case_id")[cols]
        both = fa.join(fb, how="inner", lsuffix="_a", rsuffix="_b")
        n = len(both)
        agree = counts_agree(
            both["predicted_count_a"].to_numpy(),
            both["verdict_a"].to_numpy(),
            both["predicted_count_b"].to_numpy(),
            both["verdict_b"].to_numpy(),
        )
        k = int(np.count_nonzero(~agree))
        frac = k / n if n else 1.0
        upper = float(run.upper(k, n, c.options["max"]))
        detail = (
            f"{a} and {b} count differently (or one gave no count) in {k:,} of {n:,} "
            f"cases ({100 * frac:.3g}%; one-sided upper bound {upper:.4g})"
        )
        value = f"disagreement upper bound {upper:.4g}"
        return value, n > 0 and upper <= c.options["max"], detail


MAX_LATENCY_S = 60.0
"""The longest ``max_s`` taken: a high-five counted a minute late is no count a wearer
sees, so a larger value is milliseconds given for seconds."""


def _fraction(v: Any) -> str | None:
    """A percentile given as a fraction (0.95): the other options are fractions."""
    if is_number(v) and 0 < v < 1:
        return f"is a fraction; percentile is in percent, in [1, 100): did you mean {100 * v:g}?"
    return None


def _milliseconds(v: Any) -> str | None:
    """A ``max_s`` given in milliseconds (500)."""
    if is_number(v) and v > MAX_LATENCY_S:
        return (
            f"is over a minute; max_s is in seconds, in (0, {MAX_LATENCY_S:g}]: did you mean "
            f"{v / 1000:g} ({show(v)} ms)?"
        )
    return None


@register_criterion
class DetectionLatency(CriterionKind):
    """The ``percentile``-th percentile of detection latency below ``max_s``, shown.

    Over the model's cases that hold a high-five (``true_count > 0``), ``k`` of ``n``
    are slower than ``max_s``: a case is slower when its worst counted high-five was
    counted later than ``max_s`` after the impact (``latency_s``), or when one of its
    high-fives was never counted (``fn > 0``: infinitely late). The criterion passes
    when the one-sided upper bound of ``k / n`` at the gate's confidence is at most
    ``1 - percentile / 100``: then the share of cases with a high-five not counted within
    ``max_s`` is shown to be small enough, which is the claim "in ``percentile`` % of the
    cases with a high-five, every high-five is counted within ``max_s``". A counter that
    misses high-fives can therefore not pass on the few it counts.

    Cases, not high-fives, are the units: cases are independent draws, the high-fives
    of one case are not (and the results keep only each case's worst latency). The
    observed percentile over those cases is reported, not judged.
    """

    kind = "detection_latency"
    options: ClassVar[Mapping[str, Option]] = {
        "max_s": number(
            f"must be a positive number of seconds, at most {MAX_LATENCY_S:g}",
            low=0,
            high=MAX_LATENCY_S,
            open_low=True,
            slip=_milliseconds,
        ),
        "percentile": number(
            "must be a percentile in [1, 100), e.g. 95",
            low=1,
            high=100,
            open_high=True,
            default=95.0,
            slip=_fraction,
        ),
    }

    def threshold(self, o: Mapping[str, Any]) -> str:
        share = 1 - o["percentile"] / 100
        return (
            f"p{o['percentile']:g} latency <= {o['max_s']:g} s "
            f"(share above: upper bound <= {share:.4g})"
        )

    def evaluate(self, c: Criterion, model: str | None, run: GateRun) -> Outcome:
        o = c.options
        cases = run.latencies(str(model))
        with_hf = cases.true_count > 0 if cases is not None else np.zeros(0, bool)
        counted = with_hf & (cases.fn < cases.true_count) if cases is not None else with_hf
        if cases is None or (counted.any() and np.isnan(cases.latency_s[counted]).all()):
            why = (
                "no latency_s column"
                if cases is None
                else "latency_s is NaN in every case with a counted high-five"
            )
            return (
                "no latency data",
                False,
                f"{why} for {model}: run the campaign with stream_chunk_s > 0 so that "
                "detection latencies are recorded",
            )
        latency, missed = cases.latency_s[with_hf], cases.fn[with_hf] > 0
        late = ~missed & ~(latency <= o["max_s"])  # a NaN latency is no evidence of speed
        n, k = latency.size, int(np.count_nonzero(missed | late))
        share = 1 - o["percentile"] / 100
        upper = float(run.upper(k, n, share))
        pct = f"p{o['percentile']:g}"
        if n:
            # The empirical quantile (no interpolation): a missed high-five is infinitely late.
            slowest = np.where(missed | np.isnan(latency), np.inf, latency)
            q = float(np.percentile(slowest, o["percentile"], method="inverted_cdf"))
            observed = f"{q:.3g} s" if np.isfinite(q) else "never (a high-five not counted)"
        else:
            observed = "none (no case holds a high-five)"
        detail = (
            f"{n:,} of {cases.latency_s.size:,} cases hold a high-five; "
            f"{int(np.count_nonzero(late)):,} counted later than {o['max_s']:g} s, "
            f"{int(np.count_nonzero(missed)):,} not counted (a high-five never counted is "
            f"later than any max_s); one-sided upper bound of that share {upper:.4g}; "
            f"observed {pct} {observed}"
        )
        value = f"{pct} {observed}, share above: upper bound {upper:.4g}"
        return value, n > 0 and upper <= share, detail
