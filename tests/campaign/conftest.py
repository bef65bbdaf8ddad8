"""Fixtures for campaign tests: toy models on disk and a campaign file writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from highfive.harness._rundir import RunDir


@pytest.fixture
def campaign_file(tmp_path: Path, toy_model_path: Path) -> Callable[..., Path]:
    """Write a small campaign TOML (two copies of the toy model) and return its path."""
    second = tmp_path / "toy_b.onnx"
    second.write_bytes(toy_model_path.read_bytes())

    def write(
        name: str = "c",
        cases: int = 32,
        batch_size: int = 8,
        workers: int = 0,
        sampler: str = "sobol",
        extra: str = "",
    ) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(
            f'name = "{name}"\nseed = 11\ncases = {cases}\nsampler = "{sampler}"\n'
            f'batch_size = {batch_size}\nmodels = ["{toy_model_path}", "{second}"]\n'
            f'out = "{tmp_path / "runs"}"\n{extra}\n'
            f"[execution]\nworkers = {workers}\n"
        )
        return path

    return write


def results(run: Path) -> object:
    """All result rows of a run, sorted, for comparisons."""
    frame = RunDir(run).results()
    frame["model"] = frame["model"].astype(str)
    return frame.sort_values(["model", "case_id"]).reset_index(drop=True)
