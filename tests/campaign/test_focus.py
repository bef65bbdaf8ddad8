"""Coverage-driven follow-up campaigns: `highfive run --focus RUN`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from highfive.coverage import analyse_run, codes, plan_focus
from highfive.harness._campaign import run_campaign
from highfive.harness._config import CampaignConfig
from highfive.harness._replay import replay
from highfive.harness._rundir import RunDir
from highfive.harness.cli import main

pytestmark = pytest.mark.slow


def test_focus_targets_undecided_cells_and_merges(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = run_campaign(
        CampaignConfig.from_toml(campaign_file(name="base", cases=64)), stream=None
    ).run_dir
    cfg = plan_focus(base, cases=48)
    assert cfg.sampler == "focus" and cfg.name == "base-focus" and cfg.cases == 48
    assert 0 < len(cfg.focus) <= 48 and cfg.parent == str(base)
    first = analyse_run(base)
    holes = first.cells[(first.cells["n"] == 0)]
    if not holes.empty:  # holes come first: the first box is a hole's cell
        cross = holes.iloc[0]["cross"]
        assert set(cfg.focus[0]) == set(cross.split(" x "))

    follow = run_campaign(cfg, stream=None).run_dir
    frame = RunDir(follow).results()
    frame = frame[frame["model"].astype(str) == "toy"].sort_values("case_id")
    binning = first.counts.binning
    got, _ = codes(binning, frame)
    space = binning.space
    for i, row in enumerate(got):
        box = cfg.focus[i % len(cfg.focus)]
        for dim, (lo, hi) in box.items():
            # The case's bin on a box dimension is the bin the box's middle maps to.
            want, _ = codes(binning, space.from_unit(_point(space, dim, (lo + hi) / 2)))
            j = binning.names.index(dim)
            assert row[j] == want[0, j], (i, dim)

    merged = analyse_run([base, follow])
    assert merged.counts.n.sum() == first.counts.n.sum() + analyse_run(follow).counts.n.sum()
    assert replay(follow, 5).matches_stored

    assert (
        main(["run", "--focus", str(base), "--cases", "16", "--name", "again", "--workers", "0"])
        == 0
    )
    assert "target cells" in capsys.readouterr().out


def _point(space: object, dim: str, u: float) -> np.ndarray:
    p = np.full((1, space.d), 0.5)  # type: ignore[attr-defined]
    p[0, space.names.index(dim)] = u  # type: ignore[attr-defined]
    return p


def test_focus_needs_boxes_and_refuses_config_too(
    campaign_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = campaign_file(name="f")
    text = path.read_text().replace('sampler = "sobol"', 'sampler = "focus"')
    path.write_text(text)
    assert main(["run", str(path)]) == 2
    assert "sampler: 'focus' goes with target boxes" in capsys.readouterr().err
    assert main(["run", str(path), "--focus", str(path.parent)]) == 2
    assert "not both" in capsys.readouterr().err
