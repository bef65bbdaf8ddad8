"""Lost dask workers cost only their batches: results equal an undisturbed run's.

Real `dask scheduler` and `dask worker` processes on loopback (``Loopback`` in
``test_cluster.py``); workers are killed with SIGKILL, or frozen with SIGSTOP, while
batches are in flight.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest

from highfive.generators import ConfigError
from highfive.harness._cluster import executor
from highfive.harness._config import CampaignConfig

from .._helpers import load_module

pytestmark = [pytest.mark.slow, pytest.mark.dask]


# test_cluster.py, whose loopback cluster and helpers these tests share.
ct = load_module(Path(__file__).with_name("test_cluster.py"), "highfive_tests_cluster", shared=True)


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[ct.Loopback]:
    """A loopback scheduler without workers; each test starts its own."""
    cluster = ct.Loopback(tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()


def _config(
    campaign_file: Callable[..., Path],
    loop: ct.Loopback,
    name: str,
    cases: int = 768,
    **execution: object,
) -> CampaignConfig:
    path = campaign_file(cases=cases, batch_size=16, sampler="random")
    return CampaignConfig.from_toml(path).with_overrides(
        name=name, scheduler=loop.address, **execution
    )


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_worker_killed_again_and_again_costs_only_its_batches(
    loop: ct.Loopback, campaign_file: Callable[..., Path]
) -> None:
    loop.start_workers(2)  # with nannies, which restart a killed worker
    # 96 batches: toy batches are fast, and the fifth kill must come before the end.
    cfg = _config(campaign_file, loop, "again", cases=1536, max_worker_losses=50)
    run = ct.Background(cfg)
    kills = []
    for k in range(5):
        run.wait_batches(3 + 4 * k)  # progress between kills, so restarted workers work
        pids = loop.worker_pids()
        while not pids:  # both are being restarted
            assert run.thread.is_alive(), run.error
            pids = loop.worker_pids()
        os.kill(pids[k % len(pids)], signal.SIGKILL)
        kills.append(ct.manifest_lines(cfg))
    summary = run.join()
    assert summary.complete and summary.cases == 1536
    assert kills[-1] < cfg.n_batches, "the last kill came after the campaign had finished"
    pd.testing.assert_frame_equal(ct.frame(ct.cfg_run(cfg)), ct.reference(cfg))


def _said(run: ct.Background, pattern: str) -> list[re.Match[str]]:
    """The lines the campaign said that match ``pattern`` whole."""
    assert run.said is not None
    return [m for line in run.said.getvalue().splitlines() if (m := re.fullmatch(pattern, line))]


_LOST = r"lost dask worker (\S+); (\d+) batch(?:es)? it was running runs? again elsewhere"


def test_a_lost_worker_is_said_and_counted_in_the_summary(
    loop: ct.Loopback, campaign_file: Callable[..., Path]
) -> None:
    # The campaign recovered in silence: nobody learnt that a worker died.
    loop.start_workers(2, nanny=False)
    cfg = _config(campaign_file, loop, "said")
    run = ct.Background(cfg, talk=True)
    run.wait_batches(3)
    address, pid = sorted(loop.worker_addresses().items())[0]
    os.kill(pid, signal.SIGKILL)
    summary = run.join()
    assert summary.complete and summary.cases == 768
    # Seen when a look (one a second) saw the worker run a batch: with fast toy batches
    # and a busy client it may have held none then (test_looks_count_... checks the
    # rule itself). What is said, summed up and recorded must agree.
    notices = _said(run, _LOST)
    assert [n[1] for n in notices] in ([], [address])
    b = sum(int(n[2]) for n in notices)
    assert (summary.workers_lost, summary.batches_run_again) == (len(notices), b)
    recorded = ct.RunDir(ct.cfg_run(cfg)).read_campaign().get("worker_losses")
    if notices:
        assert f"lost 1 dask worker; {b} batch{'es' * (b != 1)} ran again elsewhere" in (
            summary.table()
        )
        assert recorded == {"workers": 1, "batches_run_again": b}
    else:
        # "dask worker", not "lost": the run's path holds that word
        assert recorded is None and "dask worker" not in summary.table()
    pd.testing.assert_frame_equal(ct.frame(ct.cfg_run(cfg)), ct.reference(cfg))


class _FakeClient:
    """What the looks ask of a dask client: its status and each worker's tasks."""

    status = "running"

    def __init__(self, snapshots: list[dict[str, list[str]]]) -> None:
        self.snapshots = snapshots
        self.scheduler = type("S", (), {"address": "tcp://127.0.0.1:1"})()

    def processing(self) -> dict[str, list[str]]:
        return self.snapshots.pop(0)


def test_looks_count_a_worker_gone_with_a_batch_once_and_say_so() -> None:
    # The rule under the notices, without a cluster's timing: a worker seen running
    # our batches at one look and gone at the next is lost with them; one that ran
    # none, or another campaign's, is not.
    from highfive.harness._cluster import WorkerLosses, _Scheduled
    from highfive.harness._config import ExecutionConfig

    said: list[str] = []
    losses = WorkerLosses(say=said.append)
    client = _FakeClient([])
    template = type("Template", (), {"seed": 11})()
    sched = _Scheduled(template, client, ExecutionConfig(workers=2), losses)  # type: ignore[arg-type]
    sched.shared = type("Future", (), {"status": "pending"})()  # the template, not lost
    ours = [f"{sched.prefix}-batch-{b}-{b + 1}" for b in range(3)]
    client.snapshots += [
        {"tcp://a:1": ours[:2], "tcp://b:1": [ours[2]], "tcp://c:1": ["other-key"]},
        {"tcp://b:1": [ours[2]]},  # a lost with two batches, c with none of ours
        {"tcp://b:1": []},
    ]
    for _ in range(3):
        assert sched._look()
    assert said == ["lost dask worker tcp://a:1; 2 batches it was running run again elsewhere"]
    assert (losses.workers, losses.batches) == (1, 2)
    assert sched.died_on == {ours[0]: 1, ours[1]: 1}


@contextlib.contextmanager
def _frozen(pid: int) -> Iterator[None]:
    """Stop process ``pid`` (SIGSTOP); kill it afterwards if it is still there."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            process.kill()  # SIGKILL ends a stopped process too
            process.wait(timeout=30)


def test_a_frozen_worker_of_the_embedded_cluster_is_restarted_in_bounded_time(
    campaign_file: Callable[..., Path],
) -> None:
    # A stopped worker keeps its connection open: the campaign waited for its batches
    # until dask's default worker-ttl of 5 minutes, checked every 5 minutes.
    path = campaign_file(cases=256, batch_size=16, sampler="random", workers=2)
    cfg = CampaignConfig.from_toml(path).with_overrides(name="frozen", stall_s=2)
    with executor(cfg) as client:
        pid = sorted(client.run(os.getpid).values())[0]
        run = ct.Background(cfg, client=client, talk=True)
        run.wait_batches(2)
        with _frozen(pid):
            # dask waits at least 10 heartbeats (5 s), checks every stall_s, and its
            # nanny kills the stopped process after 4 s: well within 45 s.
            deadline = time.monotonic() + 45
            while not _said(run, _LOST):
                assert time.monotonic() < deadline and run.thread.is_alive(), run.error
                time.sleep(0.1)
            summary = run.join(timeout=120)
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert summary.complete and summary.cases == 256 and summary.workers_lost >= 1
    pd.testing.assert_frame_equal(ct.frame(ct.cfg_run(cfg)), ct.reference(cfg))


def test_a_frozen_worker_of_an_external_cluster_is_named_once(
    loop: ct.Loopback, campaign_file: Callable[..., Path]
) -> None:
    # The scheduler's worker-ttl is its owner's: the campaign waited without a word.
    loop.start_workers(2, nanny=False)
    cfg = _config(campaign_file, loop, "stalled", cases=256, stall_s=2)
    run = ct.Background(cfg, talk=True)
    run.wait_batches(2)
    address, pid = sorted(loop.worker_addresses().items())[0]
    with _frozen(pid):
        stall = (
            r"no batch finished for 2 s with (\d+) batch(?:es)? in flight: (.*); still waiting "
            r"\(a stopped or frozen worker keeps its batches until it is killed or the "
            r"scheduler's distributed\.scheduler\.worker-ttl removes it\)"
        )
        holds = rf"(?:^|; ){re.escape(address)} holds batch(?:es)? [\d, ]+(?:;|$)"
        deadline = time.monotonic() + 60
        # (On a busy machine a slow start may be said too, naming both workers.)
        while not (said := _said(run, stall)) or not re.search(holds, said[-1][2]):
            assert time.monotonic() < deadline and run.thread.is_alive(), run.error
            time.sleep(0.1)
        time.sleep(3)  # said once, not at every look
        assert len(_said(run, stall)) == len(said), run.said and run.said.getvalue()
        assert ct.manifest_lines(cfg) < cfg.n_batches
    summary = run.join()  # killed: its batches run again on the other worker
    assert summary.complete and summary.cases == 256
    assert [m[1] for m in _said(run, _LOST)] == [address], run.said and run.said.getvalue()
    pd.testing.assert_frame_equal(ct.frame(ct.cfg_run(cfg)), ct.reference(cfg))


def test_both_workers_killed_at_once_and_replaced(
    loop: ct.Loopback, campaign_file: Callable[..., Path]
) -> None:
    loop.start_workers(2, nanny=False)  # nobody restarts them: the test starts new ones
    cfg = _config(campaign_file, loop, "both")
    run = ct.Background(cfg)
    run.wait_batches(3)
    for pid in loop.worker_pids():
        os.kill(pid, signal.SIGKILL)  # the template's every copy is lost with them
    time.sleep(1.0)
    assert ct.manifest_lines(cfg) < cfg.n_batches
    loop.start_workers(2, nanny=False, wait=False)
    summary = run.join()
    assert summary.complete and summary.cases == 768
    pd.testing.assert_frame_equal(ct.frame(ct.cfg_run(cfg)), ct.reference(cfg))


def test_the_embedded_cluster_restarts_killed_workers(
    campaign_file: Callable[..., Path],
) -> None:
    path = campaign_file(cases=768, batch_size=16, sampler="random", workers=2)
    cfg = CampaignConfig.from_toml(path).with_overrides(name="embedded")
    scheduler_log, errors = logging.getLogger("distributed.scheduler"), _Records()
    with executor(cfg) as client:  # the campaign's own LocalCluster, with nannies
        run = ct.Background(cfg, client=client)
        run.wait_batches(3)
        scheduler_log.addHandler(errors)
        try:
            for pid in client.run(os.getpid).values():
                os.kill(pid, signal.SIGKILL)  # both at once: the template is lost with them
            summary = run.join()
        finally:
            scheduler_log.removeHandler(errors)
    assert summary.complete and summary.cases == 768
    # The user is not told that what was recovered cannot be recovered:
    assert not [r.getMessage() for r in errors.records if "recovered" in r.getMessage()]
    pd.testing.assert_frame_equal(ct.frame(ct.cfg_run(cfg)), ct.reference(cfg))


def test_no_worker_left_stops_in_one_line_and_resume_completes(
    loop: ct.Loopback, campaign_file: Callable[..., Path]
) -> None:
    loop.start_workers(2, nanny=False)
    cfg = _config(campaign_file, loop, "gone", worker_wait_s=2)
    run = ct.Background(cfg)
    run.wait_batches(3)
    for pid in loop.worker_pids():
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(ConfigError) as err:
        run.join(timeout=60)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        f"execution.worker_wait_s: no dask worker connected to {loop.address}"
    )
    assert re.search(
        r"for 2 s; start workers \('dask worker [^']+'\), then complete the run "
        r"with --resume \([12] lost so far\)$",
        message,
    ), message
    record = ct.RunDir(ct.cfg_run(cfg)).read_campaign()
    assert record["status"] == "interrupted"
    lost = record["worker_losses"]["workers"]
    assert lost in (1, 2)
    loop.start_workers(2, nanny=False)
    resumed = ct.Background(cfg, resume=True).join()
    assert resumed.complete and resumed.cases == 768
    assert resumed.workers_lost == lost  # kept over the resume, which lost none
    pd.testing.assert_frame_equal(ct.frame(ct.cfg_run(cfg)), ct.reference(cfg))


def test_more_losses_than_allowed_stop_in_one_line(
    loop: ct.Loopback, campaign_file: Callable[..., Path]
) -> None:
    loop.start_workers(1)  # its one copy of the template makes every loss count
    cfg = _config(campaign_file, loop, "fragile", max_worker_losses=0)
    run = ct.Background(cfg)
    run.wait_batches(2)
    [pid] = loop.worker_pids()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ConfigError) as err:
        run.join(timeout=60)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("execution.max_worker_losses: lost 1 dask worker ")
    assert "(allowed: 0" in message and "--resume" in message
    assert "a Python counter ends its process (os._exit)" in message  # a cause it can be


def test_a_lost_scheduler_stops_in_one_line(
    loop: ct.Loopback, campaign_file: Callable[..., Path]
) -> None:
    loop.start_workers(2)
    cfg = _config(campaign_file, loop, "orphan", worker_wait_s=3)
    run = ct.Background(cfg)
    run.wait_batches(3)
    dask_log, errors = logging.getLogger("distributed.client"), _Records()
    dask_log.addHandler(errors)
    try:
        loop.procs[0].kill()  # the scheduler
        with pytest.raises(ConfigError) as err:
            run.join(timeout=60)
    finally:
        dask_log.removeHandler(errors)
    assert str(err.value) == (
        f"execution.scheduler: lost the connection to {loop.address}; the run stops here: "
        "complete it with --resume once the scheduler is back"
    )
    assert not [r for r in errors.records if r.exc_info], "dask logged a traceback"
    assert ct.RunDir(ct.cfg_run(cfg)).read_campaign()["status"] == "interrupted"


def test_a_scheduler_lost_after_the_client_closed_is_one_line() -> None:
    """Once dask's client gives up reconnecting (after its own timeout, shorter than
    ``worker_wait_s``), it has no scheduler object left; the error still names the
    address the campaign connected to."""
    from types import SimpleNamespace

    from highfive.harness._cluster import _Scheduled
    from highfive.harness._config import ExecutionConfig

    address = "tcp://127.0.0.1:45112"
    client = SimpleNamespace(status="running", scheduler=SimpleNamespace(address=address))
    ex = ExecutionConfig(scheduler=address)
    scheduled = _Scheduled(SimpleNamespace(seed=1), client, ex)  # type: ignore[arg-type]
    client.status, client.scheduler = "closed", None  # as distributed leaves it
    with pytest.raises(ConfigError) as err:
        scheduled._processing()
    assert str(err.value) == (
        f"execution.scheduler: lost the connection to {address}; the run stops here: "
        "complete it with --resume once the scheduler is back"
    )
