"""The known-truth statistics benchmark in its quick mode: its report and bound coverage."""

from __future__ import annotations

import re
from pathlib import Path

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
    assert sum(line.startswith("(b) cases to decide") for line in out) == 1
    assert sum(line.startswith("(c) rare region") for line in out) == 3
    spending = [line for line in out if line.startswith("    error spending, budget")]
    assert spending and all(
        all(f"{k} " in line for k in ("even", "pocock", "obf")) for line in spending
    )
    reference = [line for line in out if line.startswith("    reference, a plan sized")]
    assert len(reference) == 1
    decides = re.search(r"decides in (\d+)% of reps", reference[0])
    assert decides and int(decides.group(1)) >= 90, reference[0]
    judged = [line for line in out[1:-1] if line not in spending + reference]
    assert all(line.endswith(("PASS", "FAIL")) for line in judged)
    assert out[-1].startswith("runtime ")
