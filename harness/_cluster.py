"""Where batches run: in this process, on an embedded local dask cluster, or on a
cluster the user runs; and how they are scheduled there (bounded in flight, a lost
worker costing only its batches).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import logging
import os
import queue
import re
import signal
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from highfive.generators import ConfigError

from ._batch import BatchJob, BatchOutput, run_batch
from ._config import CampaignConfig, ExecutionConfig
from .counters import CounterChanged

__all__ = [
    "MAX_THREADS_PER_CPU",
    "MAX_WORKERS_PER_CPU",
    "WorkerLosses",
    "check_dashboard",
    "check_workers",
    "dashboard_link",
    "dashboard_served",
    "dask_dashboard",
    "execute",
    "executor",
    "security",
]

MAX_WORKERS_PER_CPU = 4
"""Most local worker processes per CPU core of the machine (each holds its own models
and arrays, a few hundred MB; beyond a few per core they only compete for it)."""


MAX_THREADS_PER_CPU = 4
"""Most ONNX Runtime threads per local worker (or in this process) per CPU core of the
machine: beyond the cores they only compete for them, and 100,000 grew the process by
60 MB/s, made no progress and ignored SIGTERM."""


def check_workers(ex: ExecutionConfig) -> None:
    """Refuse more local workers than :data:`MAX_WORKERS_PER_CPU` per CPU core, or more
    threads per worker than :data:`MAX_THREADS_PER_CPU` per core, in one line, before
    anything starts (an external scheduler's workers run on other machines: they are
    not counted).

    Checked when a campaign starts rather than when its configuration is read: a run
    made on a larger machine is still read, replayed and followed up here."""
    if ex.scheduler:
        return
    cores = os.cpu_count() or 1
    most = MAX_WORKERS_PER_CPU * cores
    if ex.workers > most:
        raise ConfigError(
            f"execution.workers: {ex.workers} local worker processes are more than "
            f"{MAX_WORKERS_PER_CPU} per CPU core ({cores} cores: at most {most}); use fewer, "
            "or a cluster of your own (execution.scheduler)"
        )
    most = MAX_THREADS_PER_CPU * cores
    if ex.threads_per_worker > most:
        raise ConfigError(
            f"execution.threads_per_worker: {ex.threads_per_worker} ONNX Runtime threads per "
            f"worker are more than {MAX_THREADS_PER_CPU} per CPU core ({cores} cores: at most "
            f"{most}); use fewer (1 is the default: each worker is a process of its own)"
        )


def check_dashboard(ex: ExecutionConfig) -> None:
    """Refuse, in one line before anything starts, an embedded cluster's dashboard
    address this machine cannot listen on (one not on this machine, or a host name that
    does not resolve): the cluster's start-up failed with a 60-line traceback. A port
    that is taken or not allowed is not refused: dask then listens on a free one and
    says so."""
    if ex.scheduler or ex.workers == 0 or ex.dashboard.lower() in ("", "none"):
        return
    problem = _cannot_listen(ex.dashboard)
    if problem:
        raise ConfigError(
            f"execution.dashboard: cannot listen on {ex.dashboard!r} ({problem}); give an "
            'address of this machine, e.g. "127.0.0.1:0", or "none"'
        )


def dask_dashboard(address: str) -> str | tuple[str, int]:
    """The dashboard address as dask takes it: ``HOST:PORT``, or ``(HOST, PORT)`` for a
    bracketed IPv6 host, which dask's own parser splits at every colon ("[::1]:0"
    stopped the cluster's start-up with a 60-line traceback)."""
    host, _, port = address.rpartition(":")
    if host.startswith("["):
        return host[1:-1], int(port)
    return address


def dashboard_link(address: str, link: str) -> str:
    """dask's dashboard link, on the IPv6 host of a bracketed ``address`` (dask writes
    the scheduler's host, 127.0.0.1, where the dashboard does not listen)."""
    host = address.rpartition(":")[0]
    if not host.startswith("[") or not link:
        return link
    shown = "[::1]" if host.strip("[]") == "::" else host  # every IPv6 interface
    return re.sub(r"^(\w+://)[^/]*(:\d+)", rf"\g<1>{shown}\g<2>", link, count=1)


def dashboard_served(link: str, timeout: float = 1.0) -> bool:
    """Whether the dashboard page ``link`` answers a GET within ``timeout`` seconds
    with a status below 400. A scheduler without the dashboard (``--no-dashboard``, or
    no bokeh installed) still lists a ``dashboard`` service, its HTTP server of health
    and metrics pages, and dask's link to it answers 404. Asked directly, not through
    a proxy, and redirects are not followed."""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        conn = kind(parts.hostname, parts.port, timeout=timeout)
        try:
            conn.request("GET", parts.path or "/")
            return conn.getresponse().status < 400
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError):
        return False


def _cannot_listen(address: str) -> str:
    """Why the dashboard cannot listen on ``HOST:PORT`` here ("" if it can), tried as
    dask and tornado do: on every address the host resolves to (an empty host is every
    interface), and, since dask moves to a free port when its port fails, on a free
    port of each."""
    host = address.rpartition(":")[0].strip("[]") or "0.0.0.0"
    try:
        found = socket.getaddrinfo(
            host, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return str(exc.strerror or exc)
    except (OSError, UnicodeError) as exc:
        return str(exc)
    for family, kind, proto, _, sockaddr in found:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.bind(sockaddr)
        except OSError as exc:
            if family == socket.AF_INET6 and host == "localhost":
                continue  # no IPv6 loopback: tornado skips it
            return exc.strerror or str(exc)
    return ""


# Where dask's own configuration keeps each of the campaign file's TLS settings.
_DASK_TLS = {
    "tls_ca_file": "distributed.comm.tls.ca-file",
    "tls_cert": "distributed.comm.tls.client.cert",
    "tls_key": "distributed.comm.tls.client.key",
}


@contextlib.contextmanager
def executor(config: CampaignConfig) -> Iterator[Any]:
    """A dask client (existing scheduler or a LocalCluster), or None for in-process.

    An existing scheduler must be reachable and have (or get, within
    ``execution.worker_wait_s``) a worker; TLS settings are checked before connecting.
    Each problem is a one-line :class:`ConfigError`.
    """
    ex = config.execution
    if not ex.scheduler and ex.workers == 0:
        yield None
        return
    check_workers(ex)
    check_dashboard(ex)
    import dask
    from distributed import Client, LocalCluster

    if ex.scheduler:
        tls = security(config)
        try:
            client = Client(ex.scheduler, timeout="10s", set_as_default=False, security=tls)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(
                f"execution.scheduler: cannot reach {ex.scheduler!r} ({exc}); "
                "check the address and that 'dask scheduler' is running"
            ) from None
        # The client logs its giving up on a lost scheduler as an error; the
        # campaign's one-line error says what happened and what to do.
        log, gave_up = logging.getLogger("distributed.client"), Dropped("Failed to reconnect")
        log.addFilter(gave_up)
        try:
            try:
                client.wait_for_workers(1, timeout=ex.worker_wait_s)
            except TimeoutError:
                raise _no_workers(ex, ex.scheduler, None) from None
            check_environments(client)
            yield client
        finally:
            # Closed while it tries to reconnect to a lost scheduler, the client logs
            # a traceback; the campaign's one-line error says what happened.
            level = log.level
            if client.status != "running":
                log.setLevel(logging.CRITICAL)
            try:
                client.close()
            finally:
                log.setLevel(level)
                log.removeFilter(gave_up)
        return
    # (Each worker sets its allocator up in its first batch: see reuse_freed_memory.)
    # The workers' statistical profiler samples every stack 100 times a second and
    # keeps the last 1,000 seconds of profiles: on 2 cores a campaign ran 6 % slower
    # with it (446 against 472 cases/s, side by side) and each worker grew by tens of
    # MB over its first quarter hour. The dashboard's other pages are unaffected.
    # The dashboard listens on loopback unless told otherwise. Without it the scheduler
    # still serves its health and metrics pages: on loopback too, on a free port.
    off = ex.dashboard.lower() in ("", "none")
    # A frozen worker keeps its connection open: the scheduler restarts a worker
    # silent for stall_s (dask's own default is 5 minutes; see ExecutionConfig).
    settings = {
        "distributed.worker.profile.enabled": False,
        "distributed.scheduler.worker-ttl": ex.stall_s,
    }
    with dask.config.set(settings), _no_sigint():
        cluster = LocalCluster(
            n_workers=ex.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None if off else dask_dashboard(ex.dashboard),
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"} if off else None,
            silence_logs=logging.ERROR,
        )
    # The embedded scheduler logs lost workers' batches and templates as errors that
    # cannot be recovered from; the campaign recovers from them (see execute).
    log, recovered = logging.getLogger("distributed.scheduler"), Dropped(*_RECOVERED)
    log.addFilter(recovered)
    try:
        with cluster, Client(cluster, set_as_default=False) as client:
            from ._worker_plugin import QuietHeartbeat  # distributed's base class: on use

            client.register_plugin(QuietHeartbeat())  # on every worker, restarted ones too
            yield client
    finally:
        log.removeFilter(recovered)


_SAME = ("highfive", "numpy", "onnxruntime", "pywavelets", "scipy")
"""Distributions whose versions decide a case's result: a worker must run the client's."""


def environment() -> dict[str, str]:
    """The Python, the versions of :data:`_SAME` and highfive's :func:`code_digest` in
    this process.

    highfive's version alone says little: it changes with releases, not with every
    edit, so a worker with another commit or an edited checkout installed would report
    the same one and mix its results into the run.
    """
    import importlib.metadata as md
    import sys

    out = {"python": "{}.{}".format(*sys.version_info[:2])}
    for name in _SAME:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    out["highfive source"] = code_digest()
    return out


@functools.cache
def code_digest() -> str:
    """A digest of the highfive code that computes a case, once per process.

    :func:`source_digest` of the packages ``highfive.generators`` and ``highfive.harness``
    as this process imported them (the folders their modules come from). The other
    packages (coverage, reports, models) analyse runs and do not compute cases, and a
    counter's model travels with each batch as its bytes (their SHA-256 in campaign.json).
    """
    from highfive import generators, harness

    return source_digest(
        {p.__name__.rsplit(".", 1)[1]: Path(p.__path__[0]) for p in (generators, harness)}
    )


def source_digest(packages: Mapping[str, Path]) -> str:
    """SHA-256 (16 hex digits) of the Python source of packages, given by name and folder.

    Every ``.py`` file of each package and of its subpackages (folders with an
    ``__init__.py``), by its path inside the package and its bytes. Bytecode caches,
    other files and folders that are no package are left out, so an editable install
    (the repository's folders) and a wheel (which ships every module of each package and
    nothing else of them) of the same source give the same digest.
    """
    h = hashlib.sha256()
    for name in sorted(packages):
        root = packages[name]
        files = []
        for folder, dirs, names in os.walk(root):
            here = Path(folder)
            dirs[:] = [d for d in dirs if (here / d / "__init__.py").is_file()]
            files += [here / f for f in names if f.endswith(".py")]
        for path in sorted(files, key=lambda f: f.relative_to(root).as_posix()):
            h.update(f"{name}/{path.relative_to(root).as_posix()}\0".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


def check_environments(client: Any, workers: Sequence[str] | None = None) -> set[str]:
    """Refuse, in one line, workers of an existing cluster that cannot run highfive or
    run other versions than this client of what a case's result depends on; return
    the workers checked.

    A worker without highfive held every batch it was given, so a campaign beside a
    good worker waited forever; one with other versions would give other results.
    ``workers`` checks those only (the campaign checks each worker that joins while it
    runs); one that left before it answered is skipped, not refused.
    """
    mine = environment()
    found = client.run(environment, workers=workers, on_error="return")
    checked: set[str] = set()
    for worker, theirs in sorted(found.items()):
        if workers is not None and isinstance(theirs, (OSError, TimeoutError)):
            continue  # it left (or its connection broke) before it answered
        checked.add(worker)
        if isinstance(theirs, BaseException):
            first = str(theirs).strip().splitlines()[0][:200] if str(theirs).strip() else ""
            raise ConfigError(
                f"execution.scheduler: worker {worker} cannot run highfive "
                f"({type(theirs).__name__}: {first}); install highfive {mine['highfive']} "
                "in every worker's environment"
            )
        differ = [f"{k} {theirs.get(k)} (here {v})" for k, v in mine.items() if theirs.get(k) != v]
        if differ:
            raise ConfigError(
                f"execution.scheduler: worker {worker} runs {', '.join(differ)}; a case's "
                "result depends on them: give every worker this environment"
            )
    return checked


@contextlib.contextmanager
def _no_sigint() -> Iterator[None]:
    """SIGINT ignored while the local cluster's processes start, so that they inherit
    it: a terminal's Ctrl-C reaches the whole process group, and the workers and their
    nannies printed dozens of lines of tracebacks while the campaign, which owns them,
    stopped them anyway and said "interrupted". (A Ctrl-C in the second the cluster
    takes to start is lost with them; the next one stops the campaign.) Outside the
    main thread, where signal handlers cannot be set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


_RECOVERED = (
    "caused the cluster to lose scattered data",
    "marked as failed because",  # KilledWorker: submitted again
)
"""The scheduler's reports of losses that a campaign recovers from."""


class Dropped(logging.Filter):
    """Drops the log records whose message holds one of ``phrases``."""

    def __init__(self, *phrases: str) -> None:
        super().__init__()
        self.phrases = phrases

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(p in text for p in self.phrases)


def security(config: CampaignConfig) -> Any:
    """The client's TLS settings for a ``tls://`` scheduler (None for ``tcp://``).

    Each setting comes from the campaign file (relative to its folder) or else from
    dask's configuration; the files are read here, so a missing setting, a missing
    file or one that is not PEM is a one-line error before anything connects.
    """
    ex = config.execution
    if not ex.tls:
        return None
    import dask
    from distributed import Security

    values: dict[str, str] = {}
    names: dict[str, str] = {}
    for setting, dask_key in _DASK_TLS.items():
        ours = getattr(ex, setting)
        if ours:
            path = Path(config.base or ".", ours)
            if not path.is_file():
                raise ConfigError(
                    f"execution.{setting}: {ours!r} is not a file ({path.absolute()}; a relative "
                    "path resolves against the campaign file's folder)"
                )
            values[setting], names[setting] = str(path), f"execution.{setting}"
        elif theirs := dask.config.get(dask_key, None):
            if "\n" not in theirs and not Path(theirs).is_file():  # dask also takes PEM text
                raise ConfigError(f"{dask_key}: {theirs!r} (in dask's configuration) is not a file")
            values[setting], names[setting] = str(theirs), dask_key
    missing = [k for k in ("tls_ca_file", "tls_cert") if k not in values]
    if missing:
        raise ConfigError(
            f"execution.scheduler: {ex.scheduler!r} needs TLS settings, missing "
            f"{' and '.join(missing)}; give them (and tls_key unless the key is in the "
            "certificate file) in the campaign file's [execution] table, paths relative to "
            f"its folder, or in dask's configuration ({', '.join(_DASK_TLS.values())})"
        )
    ca = values["tls_ca_file"]
    try:
        in_memory = "\n" in ca  # dask's configuration may hold the PEM text itself
        context = ssl.create_default_context(
            cadata=ca if in_memory else None, cafile=None if in_memory else ca
        )
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            f"{names['tls_ca_file']}: {ca!r} holds no PEM CA certificate ({exc})"
        ) from None
    cert: str = values["tls_cert"]
    key: str | None = values.get("tls_key")
    if "\n" not in cert and (key is None or "\n" not in key):
        try:
            context.load_cert_chain(cert, key)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"{names['tls_cert']}: {cert!r} with {names['tls_key']} {key!r} is not a PEM "
                f"certificate and its private key ({exc})"
                if key
                else f"{names['tls_cert']}: {cert!r} is not a PEM certificate followed by its "
                f"private key ({exc}); give the key's file in tls_key"
            ) from None
    return Security(
        require_encryption=True, tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key
    )


@dataclass
class WorkerLosses:
    """The dask workers a campaign lost and the batches that ran again for them.

    ``say`` gets a one-line notice at each loss and when batches in flight on an
    external cluster stall (see :class:`~highfive.harness._config.ExecutionConfig`).
    A batch counts once for each lost worker that was running it (as dask listed it
    when the client last looked, about once a second).
    """

    workers: int = 0
    batches: int = 0
    say: Callable[[str], None] | None = None

    def lost(self, text: str, batches: int, workers: int = 1) -> None:
        """Count lost ``workers`` and the ``batches`` they cost, and say ``text``."""
        self.workers += workers
        self.batches += batches
        self.note(text)

    def note(self, text: str) -> None:
        if self.say is not None:
            self.say(text)


def _batches(n: int) -> str:
    return f"{n:,} batch{'es' * (n != 1)}"


def _batch_list(batches: Sequence[int], most: int = 8) -> str:
    """``batch 3`` or ``batches 3, 7, ...`` (the first ``most``)."""
    shown = ", ".join(map(str, batches[:most])) + (", ..." if len(batches) > most else "")
    return f"batch{'es' * (len(batches) != 1)} {shown}"


def execute(
    template: BatchJob,
    ranges: Iterator[tuple[int, int, int]],
    client: Any,
    config: CampaignConfig,
    losses: WorkerLosses | None = None,
) -> Iterator[BatchOutput]:
    """Yield batch outputs as they finish, with a bounded number in flight.

    ``template`` holds what every batch shares (space, models, seed, ...); it is
    scattered to every worker once, so a task is only ``(batch, start, count)``.
    (Shipping the space with every task cost the scheduler a pickle per task, and
    dask keeps the last 1,000 messages of each worker stream: about 0.1 GiB of
    client memory after some 100,000 cases.)

    A lost worker costs only its batches: dask runs them again elsewhere, a batch
    that several dying workers were running is submitted again, and a template lost
    with the last worker that held it is scattered again (case ``i`` depends only on
    ``(seed, i)``, so results do not change). More than
    ``execution.max_worker_losses`` losses, or no worker for
    ``execution.worker_wait_s``, stop the run with a one-line :class:`ConfigError`.
    ``losses`` counts the workers lost and the batches run again, and says so.
    """
    if client is None:
        for batch, start, count in ranges:
            yield run_batch(replace(template, batch=batch, start=start, count=count))
        return
    yield from _Scheduled(template, client, config.execution, losses).run(ranges)


class _Scheduled:
    """The batches of one campaign on a dask cluster, and the workers it lost.

    Losses are counted from the client's view, through public calls only: every
    second it notes which workers run one of our batches (or hold the template's
    last copy); one of them gone by the next look is a loss. A batch that dask gave
    up on (``KilledWorker``: its every worker died) counts as many losses as dask
    allowed, and a lost template as one, where the looks saw fewer.
    """

    def __init__(
        self,
        template: BatchJob,
        client: Any,
        ex: ExecutionConfig,
        losses: WorkerLosses | None = None,
    ) -> None:
        self.template = template
        self.client = client
        self.ex = ex
        self.losses = losses or WorkerLosses()
        # Our task keys: a prefix no other campaign on the cluster shares.
        self.prefix = f"highfive-{template.seed}-{uuid.uuid4().hex[:12]}"
        self.shared: Any = None  # the scattered template
        self.generation = 0  # how many times it was scattered
        self.inflight: dict[Any, tuple[tuple[int, int, int], int]] = {}
        self.done: queue.Queue[Any] = queue.Queue()  # futures as they finish
        self.submitted = 0
        self.lost: list[str] = []  # workers lost while they ran or held our tasks
        self.lost_at_scatter = 0
        self.died_on: dict[str, int] = {}  # task key -> lost workers seen running it
        self.seen: dict[str, set[str]] = {}  # worker -> our keys on it, at the last look
        self.looked = 0.0
        self.no_worker_since: float | None = None
        self.no_scheduler_since: float | None = None
        self.progressed = time.monotonic()  # when the last batch finished (or the start)
        self.stalled = False  # said that no batch finished for stall_s
        # Kept: once dask's client gives up on a lost scheduler it drops its address.
        self.address = ex.scheduler or str(client.scheduler.address)
        # Workers of an existing cluster whose environment was checked (None: our own
        # local cluster, whose workers run this interpreter).
        self.checked: set[str] | None = set() if ex.scheduler else None

    def run(self, ranges: Iterator[tuple[int, int, int]]) -> Iterator[BatchOutput]:
        client = self.client
        n_threads = sum(client.nthreads().values()) or 1
        limit = self.ex.in_flight or 2 * n_threads
        first = next(ranges, None)
        if first is None:
            return
        try:
            self._scatter()
            self._submit(first)
            self._fill(ranges, limit)
            self.progressed = time.monotonic()
            while self.inflight:
                try:
                    fut = self.done.get(timeout=_LOOK_S)
                except queue.Empty:
                    fut = None
                if time.monotonic() - self.looked >= _LOOK_S:
                    self._look()
                    self._check_stall()
                if fut is None or fut not in self.inflight:
                    continue
                output = self._collect(fut)
                if output is not None:
                    self.progressed, self.stalled = time.monotonic(), False
                    yield output
                    self._fill(ranges, limit)
        finally:
            if client.status == "running":
                client.cancel([f for f in (*self.inflight, self.shared) if f is not None])

    def _scatter(self) -> None:
        """Scatter the template to every worker (again, if the last holder was lost)."""
        deadline = time.monotonic() + self.ex.worker_wait_s
        while True:
            if self._processing() is None:  # no scheduler: wait for it (or fail in one line)
                deadline = time.monotonic() + self.ex.worker_wait_s
                time.sleep(0.2)
                continue
            try:
                [self.shared] = self.client.scatter(
                    [self.template],
                    broadcast=True,
                    hash=False,
                    timeout=max(deadline - time.monotonic(), 0.1),
                )
                break
            except (OSError, TimeoutError):  # no worker, or it died while receiving
                if time.monotonic() >= deadline:
                    raise self._no_workers() from None
                time.sleep(0.2)
        self.generation += 1
        self.lost_at_scatter = len(self.lost)

    def _submit(self, job: tuple[int, int, int]) -> None:
        batch, start, count = job
        self.submitted += 1
        fut = self.client.submit(
            _run_scattered_batch,
            self.shared,
            batch,
            start,
            count,
            retries=self.ex.retries,
            pure=False,
            key=f"{self.prefix}-batch-{batch}-{self.submitted}",
        )
        self.inflight[fut] = (job, self.generation)
        fut.add_done_callback(self.done.put)

    def _fill(self, ranges: Iterator[tuple[int, int, int]], limit: int) -> None:
        while len(self.inflight) < limit:
            job = next(ranges, None)
            if job is None:
                return
            self._submit(job)

    def _collect(self, fut: Any) -> BatchOutput | None:
        """A finished batch's output, or None if it was lost and submitted again."""
        from distributed import KilledWorker

        job, generation = self.inflight.pop(fut)
        try:
            output: BatchOutput | CounterChanged = fut.result(timeout=_LOOK_S)
        except TimeoutError:  # its result was lost with a worker: dask computes it again
            self.inflight[fut] = (job, generation)
            fut.add_done_callback(self.done.put)
            return None
        except KilledWorker as exc:  # the workers running it died, as many as dask allows
            self._look()
            missed = max(exc.allowed_failures + 1 - self.died_on.get(str(fut.key), 0), 0)
            if missed:  # the losses the looks saw were said and counted then
                self._lose(
                    [f"a worker running batch {job[0]}"] * missed,
                    f"lost {missed} dask worker{'s' * (missed != 1)} running batch {job[0]}, "
                    "which dask gave up on; it is submitted again",
                    batches=missed,
                )
            self._check_losses()
            fut.release()
            self._submit(job)
            return None
        except (CancelledError, OSError):  # the template was lost with its last holder,
            fut.release()  # or the connection to the scheduler (every future is cancelled)
            while self.client.status != "running":
                self._processing()  # fails once the client gave up or after worker_wait_s
                time.sleep(0.2)
            seen = self._look()
            if generation == self.generation:
                if seen and len(self.lost) == self.lost_at_scatter:
                    needed = 1 + sum(
                        g == generation and f.status != "finished"
                        for f, (_, g) in self.inflight.items()
                    )
                    self._lose(
                        ["the worker holding the batches' template"],
                        "lost the dask worker holding the batches' template; it is sent "
                        f"again, and {_batches(needed)} that needed it run again",
                        batches=needed,
                    )
                    self._check_losses()
                self._scatter()
            self._submit(job)
            return None
        fut.release()
        if isinstance(output, CounterChanged):  # the campaign stops, as it does in-process
            raise output
        return output

    def _look(self) -> bool:
        """Note the workers running our tasks, count those gone since the last look,
        and fail on too many losses or no worker for ``worker_wait_s``. False if the
        scheduler could not be asked."""
        self.looked = time.monotonic()
        processing = self._processing()
        if processing is None:  # the scheduler is unreachable: no news of the workers
            return False
        if self.checked is not None and not processing.keys() <= self.checked:
            # a worker that joined since: held to the same versions as those at the start
            self.checked |= check_environments(
                self.client, sorted(processing.keys() - self.checked)
            )
        holders: set[str] = set()
        if self.shared.status == "finished":
            with contextlib.suppress(CancelledError, OSError, TimeoutError):  # lost just now
                holders.update(self.client.who_has([self.shared]).get(self.shared.key, ()))
        for worker, mine in self.seen.items():
            if worker not in processing:
                for k in mine:
                    self.died_on[k] = self.died_on.get(k, 0) + 1
                n = sum(k != "template" for k in mine)
                runs = "runs" if n == 1 else "run"
                self._lose(
                    [worker],
                    f"lost dask worker {worker}; {_batches(n)} it was running {runs} again "
                    "elsewhere",
                    batches=n,
                )
        self.seen = {}
        for worker, keys in processing.items():
            ours = {str(k) for k in keys if str(k).startswith(self.prefix)}
            if holders == {worker}:
                ours.add("template")
            if ours:
                self.seen[worker] = ours
        self._check_losses()
        if processing:
            self.no_worker_since = None
        elif self.no_worker_since is None:
            self.no_worker_since = self.looked
        elif self.looked - self.no_worker_since > self.ex.worker_wait_s:
            raise self._no_workers()
        return True

    def _lose(self, lost: list[str], text: str, batches: int) -> None:
        """Count the workers ``lost`` (against ``max_worker_losses``, and in the run's
        summary with the ``batches`` they cost) and say ``text``: one place, so the
        two counts cannot drift apart."""
        self.lost += lost
        self.losses.lost(text, batches=batches, workers=len(lost))

    def _check_stall(self) -> None:
        """On an external cluster, say once that no batch finished for ``stall_s`` while
        batches are in flight, and which workers hold them (a frozen worker keeps its
        connection open, so nothing else notices; the scheduler's worker-ttl is its
        owner's to set). Said again after a batch finishes and another stall."""
        quiet = time.monotonic() - self.progressed < self.ex.stall_s
        if not self.ex.scheduler or self.stalled or quiet or not self.inflight:
            return
        self.stalled = True
        batch_of = {str(f.key): job[0] for f, (job, _) in self.inflight.items()}
        held = [
            f"{worker} holds {_batch_list(sorted(batch_of[k] for k in keys if k in batch_of))}"
            for worker, keys in sorted(self.seen.items())
            if keys & batch_of.keys()
        ]
        self.losses.note(
            f"no batch finished for {self.ex.stall_s:g} s with {_batches(len(self.inflight))} "
            f"in flight: {'; '.join(held) or 'no worker is running them'}; still waiting "
            "(a stopped or frozen worker keeps its batches until it is killed or the "
            "scheduler's distributed.scheduler.worker-ttl removes it)"
        )

    def _processing(self) -> dict[str, list[Any]] | None:
        """Our tasks on each worker; None while the scheduler is unreachable, and a
        one-line error once the client gave up on it or after ``worker_wait_s``."""
        if self.client.status == "running":
            try:
                processing: dict[str, list[Any]] = self.client.processing()
            except (OSError, TimeoutError):
                pass
            else:
                self.no_scheduler_since = None
                return processing
        now = time.monotonic()
        if self.no_scheduler_since is None:
            self.no_scheduler_since = now
        if self.client.status == "closed" or now - self.no_scheduler_since > self.ex.worker_wait_s:
            raise ConfigError(
                f"execution.scheduler: lost the connection to {self.address}; "
                "the run stops here: complete it with --resume once the scheduler is back"
            )
        return None

    def _check_losses(self) -> None:
        n, allowed = len(self.lost), self.ex.max_worker_losses
        if n > allowed:
            raise ConfigError(
                f"execution.max_worker_losses: lost {n} dask worker{'s' * (n != 1)} while "
                f"running this campaign's batches (allowed: {allowed}; last: {self.lost[-1]}); "
                "a worker ends when it is killed or runs out of memory, or when a Python "
                "counter ends its process (os._exit); the run stops here: complete it with "
                "--resume once the workers are stable, or allow more losses"
            )

    def _no_workers(self) -> ConfigError:
        return _no_workers(self.ex, self.address, len(self.lost))


_LOOK_S = 1.0  # how often the client looks at the workers (s)


def _no_workers(ex: ExecutionConfig, address: str, lost: int | None) -> ConfigError:
    """No worker for ``worker_wait_s``: before the run started (``lost`` None) or during it."""
    start = f"start workers ('dask worker {address}'), then " if ex.scheduler else ""
    then = "run again" if lost is None else f"complete the run with --resume ({lost} lost so far)"
    return ConfigError(
        f"execution.worker_wait_s: no dask worker connected to {address} for "
        f"{ex.worker_wait_s:g} s; {start}{then}"
    )


def _run_scattered_batch(
    template: BatchJob, batch: int, start: int, count: int
) -> BatchOutput | CounterChanged:
    try:
        return run_batch(replace(template, batch=batch, start=start, count=count))
    except CounterChanged as exc:  # returned: raised, dask logs it with a traceback there
        return exc
