"""Known-truth benchmark of the statistics: bound coverage, sequential savings, rare events.

Run: ``python benchmarks/bench_statistics.py [--quick] [--reps N] [--seed S] [--stage N]``

The counter ``examples/counters/known_truth.py`` fails with a known probability
``p(params)`` (planted regions: a rare one, base mass 1e-2 at rate 1e-4; motion
reach_up at 0.20, near the gate's 25 % limit; a drop-rate x sample-rate corner at
0.12), so every cell's true failure rate is exact. The statistics need only sampled
rows and ``p``: the replications draw points of the unit cube and outcomes from ``p``
directly (no trace synthesis). One small real campaign through the counter plug-in
checks that the counter and the direct simulation give the same verdicts.

Measured, side by side, over seeded replications (dimensions: motion, impact_peak,
impact_decay, drop_rate, sample_rate and gap, the one that does not matter):

(a) bound coverage: the share of 1-way cells whose true rate lies above the 95 %
    upper bound, for a fixed Sobol and a fixed random campaign (Clopper-Pearson), the
    sequential campaign at its stop (anytime bounds), a base run merged with a focus
    follow-up (pooled-design weights) and an importance-sampled campaign (its
    weights); target: at most 5 % plus two binomial standard errors;
(b) cases to decide examples/gate.toml's criteria on cases for one model (1-way cell
    bounds, 2-way coverage, overall and double-count rates) with probability 0.9: the
    sequential campaign's 90th percentile of cases (stages of ``--stage``, default 128,
    anytime bounds, base stages fresh Sobol sets as the harness draws them; a run
    undecided when its budget ran out counts as never deciding; the percentile
    interpolates linearly between replications) against the fixed Sobol campaign's size:
    the smallest, in steps of the stage, at which one look (Clopper-Pearson) decides the
    gate in at least 90 % of the replications, the size a campaign fixed in advance
    needs for the same guarantee; with a bootstrap interval of the ratio over
    replications (four times as many replications as (a): 90th percentiles are noisy);
    target: 5x fewer. Beside it, not judged: the 90th percentile of each replication's
    fewest cases that decide (the figure used before: a first passage over a look every
    stage, which is a sequential design without correction, not a fixed one); a
    reference plan sized with the true rates known (``oracle_plan``: the fewest base
    cases, then each cell's remaining cases for a one-look decision with probability
    0.9), which no campaign can make; and the sequential campaign deciding with
    Clopper-Pearson bounds at levels spent over its looks (``--spending even, pocock, obf``),
    with the benchmark's budget and with a budget of the fixed campaign's size;
(c) the rare region alone: importance sampling (three short cross-entropy pilot
    stages fitted to the cases inside the region, a near-miss signal, then an
    estimation stage of 85 % of the cases from the last proposal) estimates its rate
    within a factor of 2 in 90 % of replications (the last stage's estimate); cases
    for the same precision and cases to the first rare failure, against plain
    sampling (binomial and geometric, exact); target 10x.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from scipy.stats import qmc

ROOT = Path(__file__).resolve().parents[1]
DIMS = ("motion", "impact_peak", "impact_decay", "drop_rate", "sample_rate", "gap")
NOMINAL = 0.05


def _truth() -> ModuleType:
    path = ROOT / "examples" / "counters" / "known_truth.py"
    spec = importlib.util.spec_from_file_location("known_truth", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


KT = _truth()


class World:
    """The small space, its bins as unit intervals, the gate and the true cell rates."""

    def __init__(self) -> None:
        from highfive.coverage import Binning, Gate, bin_interval, load_gate
        from highfive.generators import ParameterSpace, default_space

        full = default_space()
        self.space = ParameterSpace([full[n] for n in DIMS])
        self.binning = Binning.from_space(self.space)
        self.edges = [
            np.clip([bin_interval(self.space[d], cp, label) for label in cp.bin_labels], 0.0, 1.0)
            for d, cp in zip(DIMS, self.binning, strict=True)
        ]
        gate = load_gate(ROOT / "examples" / "gate.toml")
        kinds = ("cell_upper_bound", "coverage", "failure_rate")
        self.gate = Gate(tuple(c for c in gate.criteria if c.kind in kinds), gate.confidence)
        self.cells = [(j, b) for j in range(len(DIMS)) for b in range(len(self.edges[j]))]
        self.true = np.array(
            [KT.cell_rate({DIMS[j]: tuple(self.edges[j][b])}) for j, b in self.cells]
        )

    def codes(self, u: np.ndarray) -> np.ndarray:
        out = np.empty(u.shape, dtype=np.int64)
        for j, e in enumerate(self.edges):
            out[:, j] = np.clip(np.searchsorted(e[:, 0], u[:, j], side="right") - 1, 0, len(e) - 1)
        return out

    def outcomes(
        self, u: np.ndarray, rng: np.random.Generator, groups: Any = KT.ALL_GROUPS
    ) -> np.ndarray:
        """Verdicts drawn from p: double_count in the rare region of a high-five, miss else."""
        row = {d: u[:, j] for j, d in enumerate(DIMS)}
        fail = rng.random(len(u)) < KT.probability(row, groups)
        rare = np.ones(len(u), dtype=bool)
        for d, (lo, hi) in KT.RARE[2].items():
            rare &= (row[d] >= lo) & (row[d] < hi)
        return np.where(fail, np.where(rare, "double_count", "miss"), "pass")

    def upper_miss(self, upper: np.ndarray) -> float:
        """Share of 1-way cells whose true rate is above its upper bound."""
        return float(np.mean(self.true > upper))


def _sobol(n: int, seed: int) -> np.ndarray:
    return qmc.Sobol(len(DIMS), scramble=True, seed=seed).random(n)


def _cell_cases(w: World, codes: np.ndarray, box_dim: Any = None) -> np.ndarray:
    """Which cases count for each 1-way cell (cells x cases); with ``box_dim`` (per
    case, -1 for a base case, else the dimension its focus box restricts) a focus case
    counts only for cells of its box's dimension."""
    fits = np.full(len(codes), -1) if box_dim is None else np.asarray(box_dim)
    return np.array([(codes[:, j] == b) & ((fits < 0) | (fits == j)) for j, b in w.cells])


def _cp_cells(
    w: World, codes: np.ndarray, failed: np.ndarray, box_dim: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Failures and cases per 1-way cell (see :func:`_cell_cases`)."""
    inside = _cell_cases(w, codes, box_dim)
    return (inside & failed).sum(axis=1), inside.sum(axis=1)


def fixed_miss(w: World, u: np.ndarray, rng: np.random.Generator) -> float:
    from highfive.coverage import cp_upper

    failed = w.outcomes(u, rng) != "pass"
    k, n = _cp_cells(w, w.codes(u), failed)
    return w.upper_miss(cp_upper(k, n, w.gate.confidence))


def decided_at(
    w: World,
    u: np.ndarray,
    verdict: np.ndarray,
    sizes: Any,
    cells: bool = True,
    box_dim: Any = None,
) -> np.ndarray:
    """Whether one look at the first ``n`` cases decides the gate (Clopper-Pearson), for
    each ``n`` of ``sizes``.

    ``cells=False`` leaves the 1-way cell criterion out; ``box_dim`` (per case: -1 for
    a draw of the base distribution, else the dimension of its focus box) keeps focus
    cases out of the rates over the whole space and out of other dimensions' cells.
    Each look is judged on its own: the counts at ``n`` are running sums, so asking
    for many sizes costs little more than asking for one.
    """
    from highfive.coverage import cp_lower, cp_upper

    at = np.asarray(sizes, dtype=np.int64) - 1  # the last case of each prefix
    codes, failed = w.codes(u), verdict != "pass"
    base = np.ones(len(u), dtype=bool) if box_dim is None else np.asarray(box_dim) < 0
    ok = np.ones(at.shape, dtype=bool)
    for c in w.gate.criteria:
        o = c.options
        if c.kind == "cell_upper_bound":
            if not cells:
                continue
            inside = _cell_cases(w, codes, box_dim)
            n = np.cumsum(inside, axis=1)[:, at]
            k = np.cumsum(inside & failed, axis=1)[:, at]
            up, lo = cp_upper(k, n, 0.95), cp_lower(k, n, 0.95)
            passing = np.all((n >= o["min_cases"]) & (up < o["p_max"]), axis=0)
            ok &= np.any(lo > o["p_max"], axis=0) | passing
        elif c.kind == "coverage":
            # a 2-way cell is covered from the case that brings it to min_cases on
            m, reach, total = o["min_cases"], [], 0
            for a in range(len(DIMS)):
                for b in range(a + 1, len(DIMS)):
                    shape = (len(w.edges[a]), len(w.edges[b]))
                    cell = np.ravel_multi_index((codes[:, a], codes[:, b]), shape)
                    order = np.argsort(cell, kind="stable")
                    count = np.bincount(cell, minlength=math.prod(shape))
                    first = np.searchsorted(cell[order], np.arange(count.size))
                    full = count >= m
                    reach.append(order[first[full] + m - 1])
                    total += count.size
            covered = np.searchsorted(np.sort(np.concatenate(reach)), at, side="right")
            ok &= 1 - (total - covered) / total >= o["min"]
        else:
            k = np.cumsum(np.isin(verdict, o["verdicts"]) & base)[at]
            n = np.cumsum(base)[at]
            ok &= (cp_upper(k, n, 0.95) < o["p_max"]) | (cp_lower(k, n, 0.95) > o["p_max"])
    return ok


def fixed_decides(
    w: World, u: np.ndarray, verdict: np.ndarray, cells: bool = True, box_dim: Any = None
) -> bool:
    """Whether a fixed campaign of these cases decides the gate at one look."""
    return bool(decided_at(w, u, verdict, [len(u)], cells, box_dim)[0])


def fixed_decisions(
    w: World, grid: np.ndarray, rng_seed: int, sobol_seed: int, cells: bool = True
) -> np.ndarray:
    """For each size of ``grid``, whether a fixed campaign of that many cases (the
    prefix of one Sobol sequence of the largest size) decides the gate at one look."""
    rng = np.random.default_rng(rng_seed)
    u = _sobol(int(grid[-1]), sobol_seed)
    return decided_at(w, u, w.outcomes(u, rng), grid, cells)


def fewest_fixed(
    w: World, grid: np.ndarray, rng_seed: int, sobol_seed: int, cells: bool = True
) -> float:
    """The fewest cases of ``grid`` at which one Sobol sequence of the largest size,
    prefix by prefix, decides the gate at one look (inf: none does); ``cells=False``
    leaves the 1-way cell criterion out. A first passage: it looks at every size, so
    it is not the size of a fixed campaign (see :func:`fixed_size`)."""
    return float(first_size(fixed_decisions(w, grid, rng_seed, sobol_seed, cells), grid))


def first_size(decided: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The first size of ``grid`` whose look decides, per row of ``decided`` (inf: none)."""
    return np.where(decided.any(axis=-1), grid[np.argmax(decided, axis=-1)], math.inf)


def fixed_size(decided: np.ndarray, grid: np.ndarray, power: float = 0.9) -> float:
    """The size of a fixed campaign that decides the gate with probability ``power``:
    the smallest of ``grid`` at which one look decides in at least that share of the
    replications (rows of ``decided``, from :func:`fixed_decisions`); inf if none."""
    share = decided.mean(axis=0)
    return float(grid[np.argmax(share >= power)]) if np.any(share >= power) else math.inf


def _cell_power_size(p: float, p_max: float, min_cases: int, power: float = 0.9) -> int:
    """Fewest cases of one cell at true rate ``p`` whose one-look Clopper-Pearson
    bound decides it against ``p_max`` with probability ``power`` (exact binomial)."""
    from scipy.stats import binom

    from highfive.coverage import cp_lower, cp_upper

    for n in range(min_cases, 200_000):
        k = np.arange(n + 1)
        pmf = binom.pmf(k, n, p)
        if p < p_max:
            decided = cp_upper(k, np.full(k.shape, n), 0.95) < p_max
        else:
            decided = cp_lower(k, np.full(k.shape, n), 0.95) > p_max
        if float(pmf[decided].sum()) >= power:
            return n
    return 200_000


def oracle_plan(w: World, reps: int, seed: int, step: int = 64) -> tuple[int, float]:
    """A reference no honest design is expected to beat: a plan sized with the true
    rates known, deciding every criterion at one look (Clopper-Pearson).

    Base cases ``B`` (in steps of ``step``): the ``q``-quantile, over replications, of
    the fewest Sobol base cases that decide the rates over the whole space and the
    2-way coverage; then, per 1-way cell, focus cases for the rest of the cases its
    true rate needs to be decided with probability ``q`` (at least ``min_cases``). ``q``
    is the smallest of 0.9, 0.95, 0.975, 0.99 at which the whole plan decides the gate
    in 90 % of fresh replications. The plan is fixed before any outcome, so its one
    look is valid; it needs knowledge no campaign has. Returns its size (90th
    percentile over the replications) and the share of them in which it decides.
    """
    cell = next(c for c in w.gate.criteria if c.kind == "cell_upper_bound").options
    grid = np.arange(step, 65_536 + 1, step)
    needs = [
        min(fewest_fixed(w, grid, seed * 100_003 + r + 11, seed * 100_003 + r + 13, False), 65_536)
        for r in range(reps)
    ]
    size, share = 0, 0.0
    for q in (0.9, 0.95, 0.975, 0.99):
        base = int(np.quantile(needs, q, method="higher"))
        need = np.array([_cell_power_size(p, cell["p_max"], cell["min_cases"], q) for p in w.true])
        sizes, decided = [], 0
        for r in range(reps):
            rng = np.random.default_rng(seed * 100_003 + r + 17)
            first = _sobol(1 << (base - 1).bit_length(), seed * 100_003 + r + 19)[:base]
            parts, dims = [first], [np.full(base, -1)]  # a Sobol prefix, as fixed runs take
            _, have = _cp_cells(w, w.codes(parts[0]), np.zeros(base, dtype=bool))
            # the cases each cell still needs, from where the base cases fell (their
            # positions, not their outcomes: the plan stays fixed before any outcome)
            for (j, b), x in zip(w.cells, np.maximum(0, need - have), strict=True):
                if x:
                    lo, hi = w.edges[j][b]
                    box = rng.random((int(x), len(DIMS)))
                    box[:, j] = lo + box[:, j] * (hi - lo)
                    parts.append(box)
                    dims.append(np.full(int(x), j))
            u = np.concatenate(parts)
            sizes.append(len(u))
            decided += fixed_decides(w, u, w.outcomes(u, rng), box_dim=np.concatenate(dims))
        size, share = int(np.quantile(sizes, 0.9, method="higher")), decided / reps
        if share >= 0.9:
            break
    return size, share


def sequential(
    w: World, seed: int, stage: int, budget: int, spending: str = "anytime"
) -> tuple[float, float, np.ndarray, np.ndarray, list[Any]]:
    """One sequential campaign: cases spent (inf when the budget ran out undecided),
    miss share at the stop, and its cases."""
    from highfive.coverage import CaseTable, Spending, cs_upper, decide, spent_bounds, stage_boxes

    rng = np.random.default_rng(seed)
    us, boxes, verdicts, box_dims, looks = [], [], [], [], []
    spent, s = 0, 0
    decisions = None
    plan = Spending(spending, budget, stage)
    while True:
        size = min(stage, budget - spent)
        cells = decisions.cells() if decisions is not None else []
        if decisions is None or decisions.needs_base or not cells:
            u = _sobol(size, seed * 1000 + s)  # a fresh Sobol set, as the harness draws
            box = np.full(size, -1)
        else:
            planned = stage_boxes(w.binning, cells[:size])
            lows = np.zeros((len(planned), len(DIMS)))
            highs = np.ones((len(planned), len(DIMS)))
            for i, b in enumerate(planned):
                for d, (lo, hi) in b.items():
                    lows[i, DIMS.index(d)], highs[i, DIMS.index(d)] = lo, hi
            box_local = np.arange(size) % len(planned)
            u = lows[box_local] + rng.random((size, len(DIMS))) * (highs - lows)[box_local]
            box = len(box_dims) + box_local
            box_dims += [frozenset(b) for b in planned]
        us.append(u)
        boxes.append(box)
        looks.append(np.full(size, s))
        verdicts.append(w.outcomes(u, rng))
        spent += size
        allu = np.concatenate(us)
        table = CaseTable(
            w.codes(allu),
            np.concatenate(boxes),
            box_dims,
            {"truth": np.concatenate(verdicts)},
            stage=np.concatenate(looks),
        )
        decisions = decide(w.gate, w.binning, ["truth"], table, plan)
        if decisions.decided or spent >= budget:
            break
        s += 1
    # the 1-way bound at the stop, over the cases that count for each cell: the
    # confidence sequence, or the tightest of the looks' spent Clopper-Pearson bounds
    failed = table.verdict["truth"] != "pass"
    upper = []
    for j, b in w.cells:
        ok = (table.codes[:, j] == b) & (
            (table.box < 0)
            | np.isin(table.box, [i for i, d in enumerate(box_dims) if d <= {DIMS[j]}])
        )
        bound = 1.0
        for seen, level in table.looks(w.gate.confidence, plan):
            k, n = int(failed[ok & seen].sum()), int((ok & seen).sum())
            if spending == "anytime":
                cell = cs_upper(k, n, 1 - level, 0.25)
            else:
                cell = spent_bounds(k, n, level)[0]
            bound = min(bound, float(cell))
        upper.append(bound)
    cases = float(spent) if decisions.decided else math.inf
    return cases, w.upper_miss(np.array(upper)), allu, table.box, box_dims


def _weighted_upper(
    weights: np.ndarray, failed: np.ndarray, inside: np.ndarray, bound: float, mass: float
) -> float:
    """95 % upper bound of a cell's rate from weighted cases (a-priori weight bound over
    the cell; cases outside it enter with weight 0)."""
    from highfive.coverage import weighted_rate

    w = np.where(inside, weights, 0.0)
    return weighted_rate(w, failed, weight_bound=bound, inside=inside, mass=mass, min_ess=10).upper


def merged_miss(w: World, seed: int, n: int) -> float:
    """A base run and a focus follow-up on its undecided 1-way cells, weighted by the
    pooled design (balance heuristic), bounded with the a-priori weight bound."""
    from highfive.coverage import CaseTable, decide, stage_boxes

    rng = np.random.default_rng(seed)
    u0 = rng.random((n, len(DIMS)))
    v0 = w.outcomes(u0, rng)
    table = CaseTable(w.codes(u0), np.full(n, -1), [], {"truth": v0})
    cells = [c for c in decide(w.gate, w.binning, ["truth"], table).cells() if len(c) == 1]
    boxes = stage_boxes(w.binning, cells[:n]) or [{DIMS[0]: [0.0, 1.0]}]
    lows, highs = np.zeros((len(boxes), len(DIMS))), np.ones((len(boxes), len(DIMS)))
    for i, b in enumerate(boxes):
        for d, (lo, hi) in b.items():
            lows[i, DIMS.index(d)], highs[i, DIMS.index(d)] = lo, hi
    k = np.arange(n) % len(boxes)
    u1 = lows[k] + rng.random((n, len(DIMS))) * (highs - lows)[k]
    u = np.concatenate([u0, u1])
    failed = np.concatenate([v0, w.outcomes(u1, rng)]) != "pass"
    per_box = np.bincount(k, minlength=len(boxes))
    dens = per_box / np.prod(highs - lows, axis=1)
    inside = np.all((u[:, None, :] >= lows[None]) & (u[:, None, :] < highs[None]), axis=2)
    g = n + inside @ dens
    weights = 2 * n / g
    codes = w.codes(u)
    upper = []
    for j, b in w.cells:
        lo, hi = w.edges[j][b]
        covers = np.all((lows <= 1e-12) | (np.arange(len(DIMS)) == j), axis=1)
        covers &= (lows[:, j] <= lo + 1e-12) & (highs[:, j] >= hi - 1e-12)
        bound = 2 * n / (n + float(dens[covers].sum()))
        upper.append(_weighted_upper(weights, failed, codes[:, j] == b, bound, hi - lo))
    return w.upper_miss(np.array(upper))


def importance(w: World, seed: int, cases: int, stages: int, final: float) -> dict[str, float]:
    """Cross-entropy stages on the rare region alone, as a campaign with
    ``[importance] stages, final`` runs them (short pilot stages, then the last stage
    with ``final`` of the cases drawn from the last fitted proposal); the region's rate
    estimated from the last stage alone (its proposal was fixed before its outcomes:
    Horvitz-Thompson, unbiased), and from every stage pooled with per-stage weights
    (what ``highfive coverage`` reports)."""
    from highfive.coverage import weighted_rate
    from highfive.generators import Proposal, fit_cross_entropy
    from highfive.harness._importance import stage_starts

    rng = np.random.default_rng(seed)
    prop = Proposal.base(len(DIMS), bins=16, defensive=0.1)
    starts = [*stage_starts({"stages": stages, "final": final}, cases, 1), cases]
    us, ws, fs, props = [], [], [], []
    box = KT.RARE[2]
    first = math.inf
    for s in range(stages):
        n = starts[s + 1] - starts[s]
        u = prop.draw(rng, n)
        lw = np.log(prop.weights(u))
        row = {d: u[:, j] for j, d in enumerate(DIMS)}
        inside = np.ones(n, dtype=bool)
        for d, (lo, hi) in box.items():
            inside &= (row[d] >= lo) & (row[d] < hi)
        failed = rng.random(n) < KT.probability(row, KT.RARE_GROUPS)
        if failed.any() and math.isinf(first):
            first = starts[s] + int(np.argmax(failed)) + 1
        us.append(u), ws.append(np.exp(lw)), fs.append(failed), props.append(prop)
        prop = fit_cross_entropy(prop, u, np.where(inside, 1.0, -np.inf), lw, elite=0.1)
    region = {DIMS.index(d): (lo, hi) for d, (lo, hi) in box.items()}

    def rate(u: np.ndarray, wt: np.ndarray, failed: np.ndarray, bound: float) -> float:
        inside = np.ones(len(u), dtype=bool)
        for j, (lo, hi) in region.items():
            inside &= (u[:, j] >= lo) & (u[:, j] < hi)
        r = weighted_rate(
            np.where(inside, wt, 0.0), failed, weight_bound=bound, inside=inside, mass=0.01
        )
        return r.rate

    last = rate(us[-1], ws[-1], fs[-1], props[-1].max_ratio(region))
    u, wt, failed = np.concatenate(us), np.concatenate(ws), np.concatenate(fs)
    pooled = rate(u, wt, failed, max(p.max_ratio(region) for p in props))
    codes = w.codes(u)
    uppers = []
    for j, b in w.cells:
        lo, hi = w.edges[j][b]
        cb = max(p.max_ratio({j: (lo, hi)}) for p in props)
        uppers.append(_weighted_upper(wt, failed, codes[:, j] == b, cb, hi - lo))
    truth = np.array(
        [KT.cell_rate({DIMS[j]: tuple(w.edges[j][b])}, KT.RARE_GROUPS) for j, b in w.cells]
    )
    return {
        "estimate": last,
        "pooled": pooled,
        "cases": float(len(u)),
        "first": first,
        "miss": float(np.mean(truth > np.array(uppers))),
    }


def real_campaign_agrees(cases: int) -> tuple[int, int]:
    """Failures of a real campaign through the plug-in and of the direct rule on its rows."""
    from highfive.generators import default_space
    from highfive.harness import CampaignConfig, ExecutionConfig, RunDir, run_campaign

    with tempfile.TemporaryDirectory() as tmp:
        counter = f"{ROOT / 'examples' / 'counters' / 'known_truth.py'}:KnownTruth"
        config = CampaignConfig(
            name="kt",
            seed=11,
            cases=cases,
            sampler="random",
            batch_size=128,
            models=({"id": "truth", "counter": counter},),
            out=tmp,
            execution=ExecutionConfig(workers=0),
        )
        run_campaign(config, stream=None)
        space = default_space()
        rows = RunDir(Path(tmp) / "kt").results(columns=["verdict", *space.names])
        real = int((rows["verdict"].astype(str) != "pass").sum())
        params = rows[list(space.names)].to_dict("records")
        direct = sum(KT.fails(p, space) for p in params)
    return real, int(direct)


def _mark(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized: few replications")
    ap.add_argument("--reps", type=int, help="replications for bound coverage")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--stage",
        type=int,
        default=128,
        help="cases per sequential stage, and the fixed sizes' step",
    )
    args = ap.parse_args(argv)
    if not 1 <= args.stage <= 65536:
        ap.error(f"--stage {args.stage}: must be 1 to 65536 (the budget)")
    reps = args.reps or (40 if args.quick else 500)
    seq_reps = max(10, reps // 5)
    decide_reps = 4 * reps  # (b)'s figures are 90th percentiles: they need many reps
    n_fixed, stage, budget = 2048, args.stage, 65536
    is_cases = 80_000 if args.quick else 200_000
    is_stages, is_final = 4, 0.85  # three short cross-entropy pilots, then the estimation stage
    print(
        f"settings: quick={args.quick} reps={reps} cases-to-decide reps={decide_reps} "
        f"spending and importance-coverage reps={seq_reps} seed={args.seed} "
        f"fixed n={n_fixed} stage={stage} budget={budget} importance={is_cases} cases in "
        f"{is_stages} stages, final share {is_final}"
    )
    t0 = time.perf_counter()
    w = World()
    real, direct = real_campaign_agrees(256 if args.quick else 1024)
    print(
        f"plug-in check: real campaign {real} failures, direct simulation {direct} on the same rows"
        f" -> {_mark(real == direct)}"
    )
    ok = real == direct
    # (a) bound coverage
    miss = {"fixed sobol": [], "fixed random": [], "sequential": [], "merged": [], "importance": []}
    seq_cases = []
    for r in range(reps):
        seed = args.seed * 100_003 + r
        rng = np.random.default_rng(seed)
        miss["fixed sobol"].append(fixed_miss(w, _sobol(n_fixed, seed), rng))
        miss["fixed random"].append(fixed_miss(w, rng.random((n_fixed, len(DIMS))), rng))
        miss["merged"].append(merged_miss(w, seed, n_fixed))
        spent, m, *_ = sequential(w, seed, stage, budget)
        seq_cases.append(spent)
        miss["sequential"].append(m)
        if r < seq_reps:
            small = importance(w, seed, is_cases // 4, is_stages, is_final)
            miss["importance"].append(small["miss"])
    cells = len(w.cells)
    for kind, values in miss.items():
        share = float(np.mean(values))
        noise = 2 * math.sqrt(NOMINAL * (1 - NOMINAL) / (cells * len(values)))
        passed = share <= NOMINAL + noise
        ok &= passed
        print(
            f"(a) bound coverage {kind:>13}: {100 * share:.2f}% of {cells} cells x "
            f"{len(values)} reps above the 95% upper bound "
            f"(target <= {100 * (NOMINAL + noise):.2f}%) -> {_mark(passed)}"
        )
    # (b) cases to decide, with probability 0.9, on the same seeds: the sequential
    # campaign's 90th percentile of stops against the fixed campaign that decides at
    # one look in 90 % of replications
    grid = np.arange(stage, budget + 1, stage)  # fixed sizes as fine as the stages
    seeds = [args.seed * 100_003 + r for r in range(decide_reps)]
    decided = np.array([fixed_decisions(w, grid, s, s + 7) for s in seeds])
    fixed90 = fixed_size(decided, grid)
    more = [sequential(w, s, stage, budget)[0] for s in seeds[reps:]]
    seq = np.array(seq_cases + more)
    seq90 = float(np.quantile(seq, 0.9))
    ratio = fixed90 / seq90
    ok &= ratio >= 5
    boot = np.random.default_rng(args.seed)
    again = [boot.integers(0, decide_reps, decide_reps) for _ in range(1000)]
    ratios = [fixed_size(decided[i], grid) / np.quantile(seq[i], 0.9) for i in again]
    low, high = np.quantile(ratios, [0.05, 0.95])
    print(
        f"(b) cases to decide the gate in 90% of {decide_reps} reps: sequential {seq90:,.0f} (90th "
        f"percentile of its stops), fixed Sobol {fixed90:,.0f} (one look, the smallest size "
        f"deciding in >= 90%); ratio {ratio:.2f}x, bootstrap 90% interval {low:.2f}-{high:.2f}x "
        f"(target >= 5x) -> {_mark(ratio >= 5)}"
    )
    first90 = float(np.quantile(first_size(decided, grid), 0.9))
    print(
        f"    not a fixed design: each rep stopped at the first size that decides (a look "
        f"every {stage} cases, uncorrected), 90th percentile {first90:,.0f} "
        f"({first90 / seq90:.2f}x)"
    )
    # beside it, the reference: a plan sized with the truth known, one look
    oracle, share = oracle_plan(w, seq_reps, args.seed)
    print(
        f"    reference, a plan sized with the true rates known (one look, not a method): "
        f"{oracle:,} cases ({fixed90 / oracle:.2f}x; decides in {100 * share:.0f}% of reps); "
        f"5x needs <= {fixed90 / 5:,.0f}"
    )
    # beside it: Clopper-Pearson at spent levels over the K looks, for this budget and
    # for a budget of the fixed campaign's size (fewer looks, larger levels)
    for b in (budget, math.ceil(fixed90 / stage) * stage if math.isfinite(fixed90) else 0):
        if b < stage:
            continue
        figures = []
        for kind in ("even", "pocock", "obf"):
            runs = [sequential(w, args.seed * 100_003 + r, stage, b, kind) for r in range(seq_reps)]
            p90 = float(np.quantile([x[0] for x in runs], 0.9))
            share = 100 * float(np.mean([x[1] for x in runs]))
            figures.append(f"{kind} {p90:,.0f} ({fixed90 / p90:.2f}x, {share:.2f}% above)")
        print(
            f"    error spending, budget {b:,} ({-(-b // stage)} looks), 90th percentile of "
            f"{seq_reps} reps: " + ", ".join(figures)
        )
    # (c) rare region
    runs = [
        importance(w, args.seed * 7 + r, is_cases, is_stages, is_final)
        for r in range(20 if args.quick else 100)
    ]
    est = np.array([x["estimate"] for x in runs])  # the region's rate (per its mass)
    within = float(np.mean((est >= 0.5e-4) & (est <= 2e-4)))
    pooled = np.array([x["pooled"] for x in runs])  # every stage, as coverage reports it
    pooled_within = float(np.mean((pooled >= 0.5e-4) & (pooled <= 2e-4)))
    rel = float(np.std(est) / 1e-4)
    n_is = runs[0]["cases"]
    n_plain = 1 / (rel**2 * 1e-6) if rel > 0 else math.inf  # binomial: rel sd = 1/sqrt(n p)
    first_is = float(np.median([x["first"] for x in runs]))
    first_plain = math.log(2) / 1e-6  # median of a geometric count at rate 1e-6
    for label, passed, text in (
        (
            "estimate within 2x",
            within >= 0.9,
            f"{100 * within:.0f}% of {len(runs)} runs (target >= 90%; every stage pooled: "
            f"{100 * pooled_within:.0f}%, rel. sd {np.std(pooled) / 1e-4:.2f})",
        ),
        (
            "cases, same precision",
            n_plain / n_is >= 10,
            f"importance {n_is:,.0f} vs plain {n_plain:,.0f} "
            f"({n_plain / n_is:.1f}x; rel. sd {rel:.2f})",
        ),
        (
            "first rare failure",
            first_plain / first_is >= 10,
            f"median importance {first_is:,.0f} vs plain {first_plain:,.0f} "
            f"({first_plain / first_is:.1f}x)",
        ),
    ):
        ok &= passed
        print(f"(c) rare region {label}: {text} -> {_mark(passed)}")
    print(f"runtime {time.perf_counter() - t0:.1f} s; overall {_mark(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
