"""The known-truth statistics benchmark in its quick mode: its report and bound coverage."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from .._helpers import load_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_reports_every_target_and_bounds_cover(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = load_module(ROOT / "benchmarks" / "bench_statistics.py", "bench_statistics")
    bench.main(["--quick", "--reps", "10", "--seed", "1"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("settings: quick=True reps=10")
    assert re.match(
        r"plug-in check: real campaign (\d+) failures, direct simulation \1 .* PASS", out[1]
    )
    kinds = ("fixed sobol", "fixed random", "sequential", "merged", "importance")
    coverage = [line for line in out if line.startswith("(a) bound coverage")]
    assert [k for k in kinds if any(k in line for line in coverage)] == list(kinds)
    for line in coverage:  # the share above the bound, against nominal plus noise
        share = re.search(r": ([\d.]+)% of", line)
        target = re.search(r"target <= ([\d.]+)%", line)
        assert share and target, line
        assert float(share.group(1)) <= float(target.group(1)), line
    decide = [line for line in out if line.startswith("(b) cases to decide")]
    assert len(decide) == 1
    interval = re.search(r"ratio ([\d.]+)x, bootstrap 90% interval ([\d.]+)-([\d.]+)x", decide[0])
    assert interval, decide[0]
    assert 0 < float(interval.group(2)) <= float(interval.group(3)), decide[0]
    assert sum(line.startswith("(c) rare region") for line in out) == 3
    spending = [line for line in out if line.startswith("    error spending, budget")]
    assert spending and all(
        all(f"{k} " in line for k in ("even", "pocock", "obf")) for line in spending
    )
    reference = [line for line in out if line.startswith("    reference, a plan sized")]
    assert len(reference) == 1
    decides = re.search(r"decides in (\d+)% of reps", reference[0])
    assert decides and int(decides.group(1)) >= 90, reference[0]
    passage = [line for line in out if line.startswith("    not a fixed design: each rep")]
    assert len(passage) == 1
    judged = [line for line in out[1:-1] if line not in spending + reference + passage]
    assert all(line.endswith(("PASS", "FAIL")) for line in judged)
    assert out[-1].startswith("runtime ")


def test_the_fixed_campaigns_one_look_decision_is_the_harness_own() -> None:
    """The benchmark decides a fixed campaign's prefixes with running counts; each must
    be the decision the harness takes at one look (one look spends the whole alpha:
    Clopper-Pearson), on outcomes that leave some prefixes undecided and some decided."""
    from highfive.coverage import CaseTable, Spending, decide

    bench = load_module(ROOT / "benchmarks" / "bench_statistics.py", "bench_statistics")
    w = bench.World()
    rng = np.random.default_rng(3)
    u = bench._sobol(8192, 5)
    verdict = w.outcomes(u, rng)
    sizes = np.array([256, 1024, 2048, 3072, 4096, 6144, 8192])
    fast = bench.decided_at(w, u, verdict, sizes)
    slow = []
    for n in sizes:
        table = CaseTable(
            w.codes(u[:n]), np.full(n, -1), [], {"truth": verdict[:n]}, stage=np.zeros(n, int)
        )
        slow.append(decide(w.gate, w.binning, ["truth"], table, Spending("even", n, n)).decided)
    assert fast.tolist() == slow
    assert 0 < sum(slow) < len(slow)  # both kinds of prefix are checked
