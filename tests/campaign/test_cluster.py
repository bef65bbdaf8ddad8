"""Campaigns on a real cluster: `dask scheduler` and `dask worker` processes on loopback.

:class:`Loopback` starts and stops those processes; ``test_worker_loss.py`` and
``test_tls.py`` use it and the helpers below too.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
from distributed import Client

from highfive.generators import ConfigError
from highfive.harness._campaign import CampaignSummary, run_campaign
from highfive.harness._cluster import dashboard_link, executor
from highfive.harness._config import CampaignConfig, ExecutionConfig
from highfive.harness._rundir import RunDir
from highfive.harness.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Loopback:
    """A `dask scheduler` and `dask worker` processes on 127.0.0.1, stopped by close().

    ``tls`` holds the ``--tls-ca-file/--tls-cert/--tls-key`` arguments of a TLS cluster
    and ``security`` the client's :class:`distributed.Security` for it; ``dashboard``
    False starts the scheduler with ``--no-dashboard``.
    """

    def __init__(
        self,
        folder: Path,
        tls: Sequence[str] = (),
        security: Any = None,
        dashboard: bool = True,
    ) -> None:
        self.folder = folder
        self.tls = list(tls)
        self.security = security
        self.dask = str(Path(sys.executable).with_name("dask"))
        port = _free_port()
        self.address = f"{'tls' if tls else 'tcp'}://127.0.0.1:{port}"
        self.log = open(folder / "cluster.log", "a")  # noqa: SIM115 - closed in close()
        self.procs: list[subprocess.Popen[bytes]] = []
        protocol = ["--protocol", "tls"] if tls else []
        self._spawn(
            "scheduler",
            *("--host", "127.0.0.1", "--port", str(port), *protocol),
            *(("--dashboard-address", "127.0.0.1:0") if dashboard else ("--no-dashboard",)),
        )

    def _spawn(self, *args: str, path: Path | None = None) -> subprocess.Popen[bytes]:
        """Start ``dask ARGS``; ``path`` goes first on its PYTHONPATH."""
        env = None if path is None else {**os.environ, "PYTHONPATH": str(path)}
        proc = subprocess.Popen(
            [self.dask, *args, *self.tls],
            stdout=self.log,
            stderr=self.log,
            cwd=self.folder,
            env=env,
        )
        self.procs.append(proc)
        return proc

    def client(self, timeout: str = "5s") -> Client:
        return Client(self.address, timeout=timeout, security=self.security)

    def start_workers(
        self, n: int, *, nanny: bool = True, wait: bool = True, path: Path | None = None
    ) -> None:
        """Start ``n`` one-thread workers: one process with nannies, or ``n`` without
        (``path``: first on their PYTHONPATH)."""
        common = ["--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"]
        common += ["--local-directory", str(self.folder / "dask")]
        before = len(self.worker_pids()) if wait else 0
        if nanny:
            self._spawn("worker", self.address, "--nworkers", str(n), *common, path=path)
        else:
            for _ in range(n):
                self._spawn("worker", self.address, "--no-nanny", *common, path=path)
        if wait:
            self.wait_for_workers(before + n)

    def wait_for_scheduler(self) -> None:
        self.wait_for_workers(0)

    def wait_for_workers(self, n: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                with self.client("2s") as c:
                    if n:
                        c.wait_for_workers(n, timeout=30)
                return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def worker_addresses(self) -> dict[str, int]:
        """The connected workers' process ids by address."""
        with self.client("2s") as c:
            return dict(c.run(os.getpid))

    def worker_pids(self) -> list[int]:
        """Process ids of the connected workers (empty if none or no scheduler yet)."""
        try:
            with self.client("2s") as c:
                return sorted(c.run(os.getpid).values())
        except (OSError, TimeoutError):
            return []

    def close(self) -> None:
        """Stop the workers, then the scheduler (SIGINT; SIGKILL after 20 s)."""
        for group in (self.procs[1:], self.procs[:1]):
            for p in group:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            for p in group:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.log.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """The address of a loopback scheduler with two one-thread workers (with nannies)."""
    loop = Loopback(tmp_path)
    try:
        loop.start_workers(2)
        yield loop.address
    finally:
        loop.close()


def frame(run: Path) -> pd.DataFrame:
    """All result rows of a run, sorted, for comparisons."""
    rows = RunDir(run).results()
    rows["model"] = rows["model"].astype(str)
    return rows.sort_values(["model", "case_id"]).reset_index(drop=True)


def cfg_run(cfg: CampaignConfig) -> Path:
    return Path(cfg.out) / cfg.name


def manifest_lines(cfg: CampaignConfig) -> int:
    """Batches finished so far."""
    try:
        return (cfg_run(cfg) / "manifest.jsonl").read_text().count("\n")
    except FileNotFoundError:
        return 0


class Background:
    """A campaign in a thread: its summary or its exception; what it says goes to
    ``said`` (a StringIO) when ``talk``, else nowhere."""

    def __init__(
        self, cfg: CampaignConfig, resume: bool = False, client: Any = None, talk: bool = False
    ) -> None:
        self.cfg = cfg
        self.summary: CampaignSummary | None = None
        self.error: BaseException | None = None
        self.said = io.StringIO() if talk else None
        self.thread = threading.Thread(target=self._go, args=(resume, client))
        self.thread.start()

    def _go(self, resume: bool, client: Any) -> None:
        try:
            self.summary = run_campaign(self.cfg, resume=resume, client=client, stream=self.said)
        except BaseException as exc:  # reported by the caller's assertions
            self.error = exc

    def wait_batches(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while manifest_lines(self.cfg) < n:
            assert time.monotonic() < deadline and self.thread.is_alive(), self.error
            time.sleep(0.01)

    def join(self, timeout: float = 300) -> CampaignSummary:
        self.thread.join(timeout=timeout)
        assert not self.thread.is_alive(), "the campaign did not finish"
        if self.error is not None:
            raise self.error
        assert self.summary is not None
        return self.summary


_REFERENCES: dict[str, pd.DataFrame] = {}


def reference(cfg: CampaignConfig) -> pd.DataFrame:
    """The results of the same campaign in this process, undisturbed (computed once)."""
    key = json.dumps(cfg.identity(), sort_keys=True, default=str)
    if key not in _REFERENCES:
        name = f"{cfg.name}-reference"
        local = cfg.with_overrides(
            name=name, scheduler="", workers=0, tls_ca_file="", tls_cert="", tls_key=""
        )
        _REFERENCES[key] = frame(run_campaign(local, stream=None).run_dir)
    return _REFERENCES[key]


@pytest.mark.slow
@pytest.mark.dask
def test_campaign_on_an_existing_scheduler(
    cluster: str, campaign_file: Callable[..., Path]
) -> None:
    path = campaign_file(cases=64, batch_size=8)
    cfg = CampaignConfig.from_toml(path)
    remote = run_campaign(cfg.with_overrides(name="remote", scheduler=cluster), stream=None)
    assert remote.complete and remote.cases == 64
    pd.testing.assert_frame_equal(frame(remote.run_dir), reference(cfg))


@pytest.mark.slow
@pytest.mark.dask
def test_a_scheduler_without_a_dashboard_gets_no_link(
    tmp_path: Path, campaign_file: Callable[..., Path]
) -> None:
    # dask's scheduler info lists a "dashboard" service without one (its health and
    # metrics pages): the link printed answered 404.
    loop = Loopback(tmp_path, dashboard=False)
    try:
        loop.start_workers(2)
        path = campaign_file(cases=64, batch_size=8)
        cfg = CampaignConfig.from_toml(path).with_overrides(scheduler=loop.address)
        run = Background(cfg, talk=True)
        summary = run.join()
    finally:
        loop.close()
    assert run.said is not None
    said = run.said.getvalue().splitlines()
    assert "dask dashboard: not served by this scheduler" in said, said
    assert summary.dashboard == "" and not [line for line in said if "http" in line], said
    # Nothing lost, nothing stalled: nothing said of it, nor recorded.
    assert not [line for line in said if "lost" in line or "no batch" in line], said
    assert "lost" not in summary.table()
    assert "worker_losses" not in RunDir(cfg_run(cfg)).read_campaign()


@pytest.mark.parametrize("status, served", [(200, True), (404, False), (None, False)])
def test_a_dashboard_link_counts_only_when_it_answers(status: int | None, served: bool) -> None:
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from highfive.harness._cluster import dashboard_served

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status or 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    if status is None:  # nothing listens on the port
        assert dashboard_served(f"http://127.0.0.1:{_free_port()}/status") is served
        return
    with HTTPServer(("127.0.0.1", 0), Page) as server:
        thread = threading.Thread(target=server.handle_request)
        thread.start()
        link = f"http://127.0.0.1:{server.server_address[1]}/status"
        assert dashboard_served(link) is served
        thread.join(timeout=10)


@pytest.mark.slow
@pytest.mark.dask
def test_worker_killed_mid_batch_is_retried(
    cluster: str, campaign_file: Callable[..., Path]
) -> None:
    path = campaign_file(cases=512, batch_size=16)
    cfg = CampaignConfig.from_toml(path).with_overrides(name="killed", scheduler=cluster)
    with Client(cluster, timeout="5s") as client:
        pids = list(client.run(os.getpid).values())
    run = Background(cfg)
    run.wait_batches(2)
    os.kill(pids[0], signal.SIGKILL)  # mid-run: batches are in flight on both workers
    summary = run.join()
    assert summary.complete and summary.cases == 512
    pd.testing.assert_frame_equal(frame(cfg_run(cfg)), reference(cfg))


BAD_EXECUTION = [
    ("garbage", {"scheduler": "garbage"}, "execution.scheduler: 'garbage' is not a scheduler"),
    ("no-port", {"scheduler": "tcp://10.0.0.5"}, "'tcp://10.0.0.5' is not a scheduler address"),
    ("port-0", {"scheduler": "10.0.0.5:0"}, "PORT 1-65535"),
    ("scheme", {"scheduler": "udp://10.0.0.5:8786"}, "write tcp://HOST:PORT"),
    ("ipv6", {"scheduler": "tcp://::1:8786"}, "'tcp://::1:8786' is not a scheduler address"),
    ("dashboard", {"dashboard": "8787"}, "execution.dashboard: '8787' must be HOST:PORT"),
    ("losses", {"max_worker_losses": -1}, "execution.max_worker_losses: -1 must be an integer"),
    ("wait", {"worker_wait_s": 0}, "execution.worker_wait_s: 0 must be a number of seconds > 0"),
    ("wait-nan", {"worker_wait_s": float("nan")}, "execution.worker_wait_s: nan must be"),
    ("stall", {"stall_s": 0}, "execution.stall_s: 0 must be a number of seconds > 0"),
    ("stall-day", {"stall_s": 86_401}, "execution.stall_s: 86401 must be a number of seconds > 0"),
    (
        "tls-without-tls",
        {"scheduler": "tcp://10.0.0.5:8786", "tls_ca_file": "ca.pem"},
        "execution.tls_ca_file: TLS settings go with a tls:// scheduler",
    ),
    (
        "key-without-cert",
        {"scheduler": "tls://10.0.0.5:8786", "tls_key": "key.pem"},
        "execution.tls_key: 'key.pem' is the key of a client certificate",
    ),
]


@pytest.mark.parametrize(
    "fields, match", [b[1:] for b in BAD_EXECUTION], ids=[b[0] for b in BAD_EXECUTION]
)
def test_bad_execution_settings_are_one_line(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(match)) as err:
        ExecutionConfig(**fields)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "address", ["tcp://10.0.0.5:8786", "10.0.0.5:8786", "tls://node-1.example:1", "[::1]:80"]
)
def test_scheduler_addresses_that_are_accepted(address: str) -> None:
    assert ExecutionConfig(scheduler=address).scheduler == address


def test_a_garbage_scheduler_is_one_line_at_once(
    campaign_file: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = campaign_file()
    assert main(["run", str(path), "--scheduler", "garbage"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: execution.scheduler: 'garbage' is not a scheduler address")
    assert err.count("\n") == 1 and "tcp://HOST:PORT" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.dask
def test_a_scheduler_without_workers_is_one_line_after_waiting(
    tmp_path: Path, campaign_file: Callable[..., Path]
) -> None:
    loop = Loopback(tmp_path)  # no worker ever joins
    try:
        loop.wait_for_scheduler()
        path = campaign_file()
        cfg = CampaignConfig.from_toml(path).with_overrides(scheduler=loop.address, worker_wait_s=1)
        with pytest.raises(ConfigError) as err:
            Background(cfg).join(timeout=60)
    finally:
        loop.close()
    assert str(err.value) == (
        f"execution.worker_wait_s: no dask worker connected to {loop.address} for 1 s; "
        f"start workers ('dask worker {loop.address}'), then run again"
    )
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.dask
def test_a_worker_that_cannot_run_highfive_is_one_line_before_any_case(
    tmp_path: Path, campaign_file: Callable[..., Path]
) -> None:
    # A worker without the package (here: one that finds a broken highfive first),
    # beside a good one, held every batch it was given: the campaign waited forever.
    shadow = tmp_path / "shadow" / "highfive"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("No module named highfive")\n')
    loop = Loopback(tmp_path)
    try:
        loop.start_workers(1, nanny=False)
        loop.start_workers(1, nanny=False, path=shadow.parent)
        path = campaign_file()
        cfg = CampaignConfig.from_toml(path).with_overrides(scheduler=loop.address)
        with pytest.raises(ConfigError) as err:
            Background(cfg).join(timeout=120)
    finally:
        loop.close()
    assert re.fullmatch(
        r"execution.scheduler: worker tcp://127.0.0.1:\d+ cannot run highfive \(.*No module "
        r"named highfive.*\); install highfive \S+ in every worker's environment",
        str(err.value),
    ), err.value
    assert not (tmp_path / "runs").exists()


def _listening(pids: Sequence[int]) -> list[tuple[str, int]]:
    return [
        (c.laddr.ip, c.laddr.port)
        for pid in pids
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]


@pytest.mark.slow
@pytest.mark.dask
@pytest.mark.parametrize(
    "dashboard, where",
    [
        (None, "127.0.0.1"),
        ("none", "127.0.0.1"),
        ("0.0.0.0:0", "0.0.0.0"),
        ("[::1]:0", "::1"),  # dask's parser split it at every colon: a traceback
    ],
)
def test_the_embedded_cluster_listens_on_loopback_unless_told(
    dashboard: str | None, where: str
) -> None:
    given = {} if dashboard is None else {"dashboard": dashboard}  # None: the default
    cfg = CampaignConfig(execution=ExecutionConfig(workers=1, **given))
    me = psutil.Process()
    with executor(cfg) as client:
        sockets = _listening([me.pid, *(p.pid for p in me.children(recursive=True))])
        http = client.scheduler_info()["services"]["dashboard"]  # also without a dashboard
    assert (where, http) in sockets
    if dashboard == "[::1]:0":  # the link names where it listens
        assert dashboard_link(dashboard, client.dashboard_link).startswith(f"http://[::1]:{http}/")
    assert sockets and {ip for ip, port in sockets if port != http} == {"127.0.0.1"}, sockets


@pytest.mark.slow
@pytest.mark.dask
def test_a_dashboard_this_machine_cannot_listen_on_is_one_line_before_any_process() -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the cluster's start-up
    # failed after seconds with a 60-line traceback through distributed and tornado.
    cfg = CampaignConfig(execution=ExecutionConfig(workers=1, dashboard="192.0.2.1:8787"))
    before = {p.pid for p in psutil.Process().children(recursive=True)}  # a resource tracker
    with pytest.raises(ConfigError) as err, executor(cfg):
        pass
    assert re.fullmatch(
        r"execution\.dashboard: cannot listen on '192\.0\.2\.1:8787' \(.+\); give an address "
        r'of this machine, e\.g\. "127\.0\.0\.1:0", or "none"',
        str(err.value),
    ), err.value
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


@pytest.mark.slow
@pytest.mark.dask
def test_a_worker_with_other_highfive_code_of_the_same_version_is_refused(
    tmp_path: Path, campaign_file: Callable[..., Path]
) -> None:
    # A worker whose highfive.harness is a copy with one file changed (a developer's
    # checkout, a cluster with another commit installed): the same version string, other
    # results. It would have run batches of the campaign beside the good worker.
    import shutil

    import highfive.harness

    fake = tmp_path / "fake"
    harness = fake / "highfive" / "harness"
    shutil.copytree(
        highfive.harness.__path__[0], harness, ignore=shutil.ignore_patterns("__pycache__")
    )
    oracle = harness / "_oracle.py"
    oracle.write_text(oracle.read_text() + "# edited\n")
    loop = Loopback(tmp_path)
    try:
        loop.start_workers(1, nanny=False)
        loop.start_workers(1, nanny=False, path=fake)
        path = campaign_file(cases=64, batch_size=8)
        cfg = CampaignConfig.from_toml(path).with_overrides(scheduler=loop.address)
        with pytest.raises(ConfigError) as err:
            run_campaign(cfg, stream=None)
    finally:
        loop.close()
    assert re.fullmatch(
        r"execution.scheduler: worker tcp://127.0.0.1:\d+ runs highfive source [0-9a-f]{16} "
        r"\(here [0-9a-f]{16}\); a case's result depends on them: give every worker this "
        r"environment",
        str(err.value),
    ), err.value
    assert not cfg_run(cfg).exists() or not RunDir(cfg_run(cfg)).done_batches()


@pytest.mark.slow
@pytest.mark.dask
@pytest.mark.parametrize("when", ["at the start", "later"])
@pytest.mark.filterwarnings("ignore::distributed.versions.VersionMismatchWarning")  # dask's own
def test_a_worker_with_other_versions_is_refused(
    when: str, tmp_path: Path, campaign_file: Callable[..., Path]
) -> None:
    # A worker whose numpy says it is version 0.0.1 (a distribution record found first
    # on its path; the real numpy still imports). Only workers there at the start were
    # checked: one joining mid-run would have run cases with other versions.
    fake = tmp_path / "fake" / "numpy-0.0.1.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 0.0.1\n")
    loop = Loopback(tmp_path)
    try:
        loop.start_workers(1, nanny=False)
        if when == "at the start":
            loop.start_workers(1, nanny=False, path=fake.parent)
        path = campaign_file(cases=1 << 20, batch_size=8)  # far more than the test waits for
        cfg = CampaignConfig.from_toml(path).with_overrides(scheduler=loop.address)
        campaign = Background(cfg)
        if when == "later":
            campaign.wait_batches(2)
            loop.start_workers(1, nanny=False, path=fake.parent, wait=False)
        with pytest.raises(ConfigError) as err:
            campaign.join(timeout=120)
    finally:
        loop.close()
    assert re.fullmatch(
        r"execution.scheduler: worker tcp://127.0.0.1:\d+ runs numpy 0.0.1 \(here \S+\); a "
        r"case's result depends on them: give every worker this environment",
        str(err.value),
    ), err.value


@pytest.mark.dask
def test_the_embedded_workers_drop_the_heartbeat_error_of_a_scheduler_gone_first() -> None:
    """A terminal's Ctrl-C reaches scheduler and workers at once: a worker whose
    heartbeat raced the scheduler's closing logged an error with a traceback beside
    the campaign's 'interrupted' (seen once in CI). Other worker errors still show."""
    import logging

    from highfive.harness._worker_plugin import HEARTBEAT

    def passed() -> list[bool]:
        log = logging.getLogger("distributed.worker")
        records = [
            log.makeRecord(log.name, logging.ERROR, __file__, 1, text, None, None)
            for text in (f"{HEARTBEAT}.", "Compute failed")
        ]
        return [bool(log.filter(r)) for r in records]

    cfg = CampaignConfig(execution=ExecutionConfig(workers=2))
    with executor(cfg) as client:
        seen = client.run(passed)
    assert len(seen) == 2 and all(v == [False, True] for v in seen.values()), seen
