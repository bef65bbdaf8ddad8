"""Campaigns on a real cluster: `dask scheduler` and `dask worker` processes on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from highfive.harness._campaign import run_campaign
from highfive.harness._config import CampaignConfig
from highfive.harness._rundir import RunDir

pytestmark = [pytest.mark.slow, pytest.mark.dask]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    dask = str(Path(sys.executable).with_name("dask"))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = open(tmp_path / "cluster.log", "w")  # noqa: SIM115 - closed below
    procs = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
            ],
            stdout=logs,
            stderr=logs,
        )
    ]
    procs.append(
        subprocess.Popen(
            [
                dask,
                "worker",
                address,
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
                "--local-directory",
                str(tmp_path / "dask"),
            ],
            stdout=logs,
            stderr=logs,
        )
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="2s") as c:
                    c.wait_for_workers(2, timeout=30)
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield address
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        logs.close()


def _frame(run: Path) -> pd.DataFrame:
    frame = RunDir(run).results()
    frame["model"] = frame["model"].astype(str)
    return frame.sort_values(["model", "case_id"]).reset_index(drop=True)


def test_campaign_on_an_existing_scheduler(
    cluster: str, campaign_file: Callable[..., Path]
) -> None:
    path = campaign_file(cases=64, batch_size=8)
    cfg = CampaignConfig.from_toml(path)
    remote = run_campaign(cfg.with_overrides(name="remote", scheduler=cluster), stream=None)
    local = run_campaign(cfg.with_overrides(name="local", workers=0), stream=None)
    assert remote.complete and remote.cases == 64
    pd.testing.assert_frame_equal(_frame(remote.run_dir), _frame(local.run_dir))


def test_worker_killed_mid_batch_is_retried(
    cluster: str, campaign_file: Callable[..., Path]
) -> None:
    path = campaign_file(cases=512, batch_size=16)
    cfg = CampaignConfig.from_toml(path).with_overrides(name="killed", scheduler=cluster)
    with Client(cluster, timeout="5s") as client:
        pids = list(client.run(os.getpid).values())
    outcome: dict[str, object] = {}

    def go() -> None:
        try:
            outcome["summary"] = run_campaign(cfg, stream=None)
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    runner = threading.Thread(target=go)
    runner.start()
    manifest = cfg_run(cfg) / "manifest.jsonl"
    deadline = time.monotonic() + 60
    while not (manifest.exists() and manifest.read_text().count("\n") >= 2):
        assert time.monotonic() < deadline and runner.is_alive(), outcome
        time.sleep(0.01)
    os.kill(pids[0], signal.SIGKILL)  # mid-run: batches are in flight on both workers
    runner.join(timeout=300)
    assert "error" not in outcome, outcome.get("error")
    summary = outcome["summary"]
    assert summary.complete and summary.cases == 512  # type: ignore[attr-defined]
    local = run_campaign(cfg.with_overrides(name="reference", scheduler="", workers=0), stream=None)
    pd.testing.assert_frame_equal(_frame(cfg_run(cfg)), _frame(local.run_dir))


def cfg_run(cfg: CampaignConfig) -> Path:
    return Path(cfg.out) / cfg.name
