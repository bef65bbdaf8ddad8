"""Campaign configuration in TOML.

.. code-block:: toml

    name = "nominal"          # run directory name under `out`
    seed = 20261127           # campaign seed: case i depends only on (seed, i)
    cases = 20000
    sampler = "sobol"         # random | sobol | halton | lhs | importance (see below)
    batch_size = 250          # cases per dask task (at most 1,000,000)
    models = ["float", "int8"]  # counters under test ("counters" is an alias), each one of:
                              #   "float", "int8", "path/model.onnx"   ONNX through the pipeline
                              #   "pkg.module:attr", "file.py:attr"     a Python counter
                              #   "exec:path/program --flag"            an external program
                              #   { counter = "...", id = "name", version = "1.2" }
                              # (relative paths resolve against this file's folder)
    out = "runs"              # parent of the run directory (relative to the working dir)
    tolerance = 0.5           # s, oracle matching tolerance
    keep_failures = true      # store raw traces of failing cases
    stream_chunk_s = 0.0      # > 0: feed traces in chunks of this many s (at least
                              #   0.001), record latency
    counter_timeout_s = 30.0  # per case, Python and external counters: else "timeout"
                              #   (at most 86,400 s, a day)

    [space]                   # restrictions of the default space
    background = "none"       # fix
    peak_accel = [5.0, 30.0]  # narrow
    motion = ["high_five", "clap"]  # subset

    [importance]              # sampler = "importance" only: cross-entropy stages
    stages = 4                #   (harness/_importance.py shows every key)

    [recordings]              # instead of sampling the space: one case per recording
    folder = "data/basicmotions"  # relative to this file's folder
    labels = "labels.csv"     # relative to the folder (the default)
    metadata = ["activity", "split"]  # labels columns to keep and bin by
    units = "auto"            # g | m/s2 | auto (inferred, as 'highfive count' does)
    time_unit = "auto"        # s | ms | us | ns | auto

    [execution]
    workers = 2               # local worker processes, at most 4 per CPU core (0: in this process)
    threads_per_worker = 1    # ONNX Runtime intra-op threads per worker (local: at most
                              #   4 per CPU core)
    scheduler = ""            # address of an existing scheduler: "tcp://HOST:PORT",
                              #   "tls://HOST:PORT" (with the TLS settings) or "HOST:PORT"
    retries = 2               # per batch, on an error raised in the batch
    max_worker_losses = 10    # workers lost while running batches before the run stops
    worker_wait_s = 60.0      # how long to wait for a worker when none is connected
    in_flight = 0             # tasks in flight at once (0: 2 per worker thread)
    dashboard = "127.0.0.1:0" # the local cluster's dashboard: HOST:PORT of this machine,
                              #   or "none" (an IPv6 HOST in brackets: "[::1]:0")
    tls_ca_file = ""          # TLS with a tls:// scheduler: CA certificate (PEM),
    tls_cert = ""             #   this client's certificate (PEM),
    tls_key = ""              #   its private key (PEM; "" if it is in tls_cert)
                              #   (relative paths resolve against this file's folder)

Unknown keys and bad values are :class:`ConfigError` naming the key.

A campaign of recordings (``[recordings]``) has one case per row of its labels file
(see :mod:`._labels`), so it takes no ``cases``, ``sampler``, ``[space]``,
``[importance]`` or focus: a campaign file samples the space or runs recordings, never
both. Its ``cases`` is the number of recordings, set when the campaign starts.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from highfive.generators import (
    GENERATOR_VERSION,
    SAMPLERS,
    Box,
    ConfigError,
    InvalidParameter,
    ParameterSpace,
    RunDirError,
    default_space,
    read_toml,
    show,
)

from ._importance import check_importance, stage_starts
from ._labels import TRUTH_COLUMNS
from ._pipeline import MIN_CHUNK_S
from ._recording import TimeUnit, Units
from ._records import result_schema

__all__ = ["CampaignConfig", "CounterSpec", "ExecutionConfig", "RecordingsConfig"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # fullmatch: "$" also matches before "\n"
_COUNTER_KEYS = ("counter", "id", "version")


@dataclass(frozen=True)
class CounterSpec:
    """One entry of a campaign's ``models`` list: the counter, its id and version."""

    source: str
    id: str = ""
    version: str = ""


def _counter_spec(i: int, entry: Any) -> CounterSpec:
    if isinstance(entry, str):
        if not entry.strip():
            raise ConfigError(f"models[{i}]: an empty string names no counter")
        return CounterSpec(entry)
    if isinstance(entry, Mapping):
        bad = sorted(set(entry) - set(_COUNTER_KEYS))
        if bad:
            raise ConfigError(
                f"models[{i}]: unknown key {bad[0]!r}; allowed: {', '.join(_COUNTER_KEYS)}"
            )
        if not isinstance(entry.get("counter"), str) or not entry["counter"].strip():
            raise ConfigError(f'models[{i}]: {dict(entry)!r} needs counter = "..."')
        for key in ("id", "version"):
            if not isinstance(entry.get(key, ""), str):
                raise ConfigError(f"models[{i}].{key}: {entry[key]!r} must be a string")
        cid = entry.get("id", "")
        if "id" in entry and not _NAME.fullmatch(cid):  # id = "" was taken as no id
            raise ConfigError(
                f"models[{i}].id: {cid!r} must be 1-100 ASCII letters, digits, '_', '.', '-', "
                "starting with a letter or digit"
            )
        return CounterSpec(entry["counter"], cid, entry.get("version", ""))
    raise ConfigError(
        f"models[{i}]: {entry!r} must be a string or a table {{counter = ..., id = ...}}"
    )


_INTERNAL = ("parent", "base")
"""Fields a campaign file does not write: the run a follow-up or stage continues, and
the folder relative paths resolve against (the file's own)."""
_RECORDINGS_KEYS = ("folder", "labels", "metadata", "units", "time_unit")
_TIME_UNITS = ("auto", "s", "ms", "us", "ns")
_NOT_WITH_RECORDINGS = ("cases", "sampler", "space", "focus", "importance")


@dataclass(frozen=True)
class RecordingsConfig:
    """The ``[recordings]`` table: a folder, its labels file and the metadata columns."""

    folder: str
    labels: str = "labels.csv"
    metadata: tuple[str, ...] = ()
    units: Units = "auto"
    time_unit: TimeUnit = "auto"

    def __post_init__(self) -> None:
        for key, allowed in (("units", ("auto", "g", "m/s2")), ("time_unit", _TIME_UNITS)):
            if getattr(self, key) not in allowed:
                raise ConfigError(
                    f"recordings.{key}: {getattr(self, key)!r} is not allowed; choose one of "
                    f"{', '.join(allowed)} (auto: inferred as 'highfive count' does)"
                )
        for key in ("folder", "labels"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"recordings.{key}: {value!r} must be a non-empty path")
        meta = self.metadata
        if not isinstance(meta, list | tuple) or not all(isinstance(m, str) for m in meta):
            raise ConfigError(f"recordings.metadata: {meta!r} must be a list of column names")
        # Every column a run's results may hold (the model is the parquet partition):
        # a metadata column of the same name would collide with it.
        results = result_schema(default_space(), ParameterSpace([]), weighted=True)
        taken = {"file", *TRUTH_COLUMNS, "model", *results.names}
        for m in meta:
            if not m.isidentifier() or m in taken:
                raise ConfigError(
                    f"recordings.metadata: {m!r} cannot name a metadata column; allowed: "
                    "identifiers other than file, high_fives, count and the result columns"
                )
        if len(set(meta)) != len(meta):
            raise ConfigError(f"recordings.metadata: {list(meta)!r} names a column twice")
        object.__setattr__(self, "metadata", tuple(meta))

    @classmethod
    def from_dict(cls, data: Any) -> RecordingsConfig:
        if not isinstance(data, Mapping):
            raise ConfigError(f"recordings: {data!r} must be a table [recordings]")
        bad = sorted(set(data) - set(_RECORDINGS_KEYS))
        if bad:
            raise ConfigError(
                f"unknown key 'recordings.{bad[0]}'; allowed: {', '.join(_RECORDINGS_KEYS)}"
            )
        if "folder" not in data:
            raise ConfigError('recordings: needs folder = "path/to/recordings"')
        return cls(**data)

    def path(self, base: str) -> Path:
        """The folder, resolved against ``base`` (the campaign file's folder)."""
        return Path(base or ".") / self.folder


# The forms of address and dashboard that ExecutionConfig accepts (whole strings:
# fullmatch, since "$" also matches before a final newline).
_TLS_KEYS = ("tls_ca_file", "tls_cert", "tls_key")
_PORT = r"(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3})"
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])"
_ADDRESS = re.compile(rf"(?:(?:tcp|tls)://)?{_HOST}:{_PORT}")
_DASHBOARD = re.compile(rf"{_HOST}?:(?:0|{_PORT})")


MAX_STALL_S = 86_400.0
"""Longest ``execution.stall_s``: a day (a campaign stalled for longer by a frozen
worker is no longer bounded in any useful sense)."""


@dataclass(frozen=True)
class ExecutionConfig:
    """Where and how a campaign runs; changing it never changes results.

    Without ``scheduler``, ``workers`` local processes form an embedded dask cluster
    (0: no dask, batches run in this process); its dashboard listens on ``dashboard``,
    by default on loopback only (``"0.0.0.0:8787"`` exposes it, ``"none"`` turns it
    off). With ``scheduler``, batches run on the workers of a cluster the user runs.

    A lost worker costs only its batches: they run again elsewhere (an embedded
    cluster restarts its dead workers; with an external one the campaign waits up to
    ``worker_wait_s`` for a worker when none is left, at the start too). After more
    than ``max_worker_losses`` workers were lost while running or holding this
    campaign's batches, when no worker came in time, or when the scheduler is lost,
    the run stops with one line; ``--resume`` completes it. ``retries`` counts
    errors raised in a batch, not worker losses.

    A frozen worker (stopped by SIGSTOP, swapping) keeps its connection open, so its
    loss goes unnoticed. The embedded cluster's scheduler restarts a worker that sent
    no heartbeat for ``stall_s`` (dask's ``distributed.scheduler.worker-ttl``; dask
    checks every ``stall_s`` and waits at least 10 heartbeats, 5 s up to 10 workers),
    so its batches run again within about twice ``stall_s``. An external scheduler's
    configuration is its owner's: when no batch finished for ``stall_s`` while
    batches are in flight, the campaign says in one line which workers hold them,
    and keeps waiting.

    **TLS.** A ``tls://`` scheduler needs the cluster's CA certificate and a client
    certificate signed by it (dask requires both ends to authenticate), with its
    private key unless that is in the certificate file, all PEM files, given either
    in the campaign file::

        [execution]
        scheduler = "tls://10.0.0.5:8786"
        tls_ca_file = "certs/ca.pem"     # relative to the campaign file's folder
        tls_cert = "certs/client.pem"
        tls_key = "certs/client-key.pem"

    or in dask's own configuration (``~/.config/dask/*.yaml`` or environment
    variables), keys ``distributed.comm.tls.ca-file``, ``distributed.comm.tls.client.cert``
    and ``distributed.comm.tls.client.key``, e.g.
    ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/etc/dask/ca.pem``. The campaign file's
    settings take precedence, one by one. Missing settings and files that do not
    exist are one-line :class:`ConfigError` s before anything is started; TLS settings
    with a scheduler that is not ``tls://`` are refused too.
    """

    workers: int = max(os.cpu_count() or 1, 1)
    threads_per_worker: int = 1
    scheduler: str = ""
    retries: int = 2
    max_worker_losses: int = 10
    worker_wait_s: float = 60.0
    stall_s: float = 60.0
    in_flight: int = 0
    dashboard: str = "127.0.0.1:0"
    tls_ca_file: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    def __post_init__(self) -> None:
        _int("execution.workers", self.workers, 0)
        _int("execution.threads_per_worker", self.threads_per_worker, 1)
        _int("execution.retries", self.retries, 0)
        _int("execution.max_worker_losses", self.max_worker_losses, 0)
        _int("execution.in_flight", self.in_flight, 0)
        _seconds("execution.worker_wait_s", self.worker_wait_s)
        _seconds("execution.stall_s", self.stall_s, most=(MAX_STALL_S, "a day"))
        for key in ("scheduler", "dashboard", *_TLS_KEYS):
            if not isinstance(getattr(self, key), str):
                raise ConfigError(f"execution.{key}: {getattr(self, key)!r} must be a string")
        if self.scheduler and not _ADDRESS.fullmatch(self.scheduler):
            raise ConfigError(
                f"execution.scheduler: {self.scheduler!r} is not a scheduler address; write "
                'tcp://HOST:PORT (e.g. "tcp://10.0.0.5:8786", PORT 1-65535, "tcp://" may be '
                "left out) or tls://HOST:PORT with TLS settings"
            )
        if self.dashboard.lower() not in ("", "none") and not _DASHBOARD.fullmatch(self.dashboard):
            raise ConfigError(
                f"execution.dashboard: {self.dashboard!r} must be HOST:PORT (PORT 0-65535, "
                '0: any free port), e.g. "127.0.0.1:0" or "0.0.0.0:8787", or "none"'
            )
        given = [key for key in _TLS_KEYS if getattr(self, key)]
        if given and not self.scheduler.startswith("tls://"):
            raise ConfigError(
                f"execution.{given[0]}: TLS settings go with a tls:// scheduler, but "
                f"execution.scheduler is {self.scheduler!r}; write "
                '"tls://HOST:PORT" or remove the TLS settings'
            )
        if self.tls_key and not self.tls_cert:
            raise ConfigError(
                f"execution.tls_key: {self.tls_key!r} is the key of a client certificate; "
                "give that certificate too (execution.tls_cert)"
            )

    @property
    def tls(self) -> bool:
        """Whether the scheduler is a ``tls://`` address."""
        return self.scheduler.startswith("tls://")


MAX_COUNTER_TIMEOUT_S = 86_400.0
"""Longest ``counter_timeout_s``: a day. The timeouts it becomes (a thread's wait for a
Python counter, ``select`` on an external program's pipe) overflow beyond about 9.2e9 s,
which made every case of a Python counter an ``error`` verdict and an external program
a traceback."""

MAX_BATCH = 1_000_000
"""Most cases per batch: a batch's parameter rows, traces and results are held in
memory on one worker (a million rows of 36 parameters alone take 288 MB)."""


@dataclass(frozen=True)
class CampaignConfig:
    """A campaign: what to sample, how many cases, which models (its keys below)."""

    name: str = "campaign"
    seed: int = 0
    cases: int = 1024
    sampler: str = "sobol"
    batch_size: int = 250
    models: tuple[str | Mapping[str, str], ...] = ("float", "int8")
    out: str = "runs"
    tolerance: float = 0.5
    keep_failures: bool = True
    stream_chunk_s: float = 0.0
    counter_timeout_s: float = 30.0
    space: Mapping[str, Any] = field(default_factory=dict)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    focus: tuple[Mapping[str, Any], ...] = ()
    importance: Mapping[str, Any] = field(default_factory=dict)
    """Settings of the ``importance`` sampler (``harness/_importance.py``)."""
    recordings: RecordingsConfig | None = None
    parent: str = ""
    base: str = ""
    """Folder that relative counter paths resolve against (the campaign file's)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigError(
                f"name: {self.name!r} must be 1-100 ASCII letters, digits, '_', '.', '-', starting "
                "with a letter or digit (it names the run directory)"
            )
        if isinstance(self.out, os.PathLike):
            object.__setattr__(self, "out", os.fspath(self.out))
        if not isinstance(self.out, str):
            raise ConfigError(f"out: {self.out!r} must be a folder path (a string)")
        _int("seed", self.seed, 0)
        _int("cases", self.cases, 0 if self.recordings is not None else 1)
        _int("batch_size", self.batch_size, 1)
        if min(self.batch_size, self.cases) > MAX_BATCH:  # a batch is at most `cases`
            raise ConfigError(
                f"batch_size: {self.batch_size:,} is more than {MAX_BATCH:,}; a batch is held "
                "in memory (parameters, traces and results) on one worker: use more batches"
            )
        object.__setattr__(self, "execution", _execution(self.execution))
        if not isinstance(self.sampler, str) or self.sampler not in SAMPLERS:
            raise ConfigError(
                f"sampler: {self.sampler!r} is not known; choose one of {', '.join(SAMPLERS)}"
            )
        models = self.models
        if isinstance(models, str | Mapping) or not isinstance(models, list | tuple) or not models:
            raise ConfigError(f"models: {models!r} must be a non-empty list of counters")
        specs = [_counter_spec(i, m) for i, m in enumerate(models)]
        sources = [s.source for s in specs]
        if len(set(sources)) != len(sources):
            raise ConfigError(f"models: {sources} lists a counter twice")
        object.__setattr__(
            self, "models", tuple(m if isinstance(m, str) else dict(m) for m in models)
        )
        _seconds(
            "stream_chunk_s",
            self.stream_chunk_s,
            zero="the whole trace at once",
            least=(MIN_CHUNK_S, "1 ms: shorter chunks are mostly empty"),
        )
        _seconds("counter_timeout_s", self.counter_timeout_s, most=(MAX_COUNTER_TIMEOUT_S, "a day"))
        _seconds("tolerance", self.tolerance)
        if not isinstance(self.keep_failures, bool):
            raise ConfigError(f"keep_failures: {self.keep_failures!r} must be true or false")
        if not isinstance(self.space, Mapping):
            raise ConfigError(f"space: {self.space!r} must be a table of restrictions")
        space = self.parameter_space()  # restrictions name known dimensions and values
        if self.recordings is None and (
            problem := SAMPLERS[self.sampler].too_many(self.cases, space.d)
        ):
            raise ConfigError(problem)  # e.g. Sobol beyond 2**30 crashed at index 2**30
        object.__setattr__(self, "space", self.spelled_space(self.space))
        object.__setattr__(self, "focus", tuple(self.focus))
        if (self.sampler == "focus") != bool(self.focus):
            raise ConfigError(
                "sampler: 'focus' goes with target boxes (made by 'highfive run --focus RUN'), "
                f"got sampler {self.sampler!r} with {len(self.focus)} boxes"
            )
        if self.sampler == "importance":
            if not isinstance(self.importance, Mapping):
                raise ConfigError(f"importance: {self.importance!r} must be a table")
            settings = check_importance(self.importance, space.d, self.base)
            stage_starts(settings, self.cases, self.batch_size)
            object.__setattr__(self, "importance", settings)
        elif self.importance:
            raise ConfigError(
                'importance: the table [importance] goes with sampler = "importance", '
                f"got sampler {self.sampler!r}"
            )
        for i, box in enumerate(self.focus):
            if not isinstance(box, Mapping) or not box:
                raise ConfigError(f"focus[{i}]: {box!r} must be a table of dimension = [lo, hi]")
            for dim, iv in box.items():
                if dim not in space:
                    raise ConfigError(f"focus[{i}]: unknown dimension {dim!r}")
                ok = isinstance(iv, list | tuple) and len(iv) == 2
                if (
                    not ok
                    or not all(isinstance(x, int | float) for x in iv)
                    or not (0.0 <= iv[0] < iv[1] <= 1.0)
                ):
                    raise ConfigError(
                        f"focus[{i}].{dim}: {iv!r} must be [lo, hi] with 0 <= lo < hi <= 1"
                    )
                inside = [x for x in iv if space[dim].splits_a_value(x)]
                if inside:  # coverage could not weight its cases: a value's density unknown
                    edges = space[dim].unit_edges()
                    raise ConfigError(
                        f"focus[{i}].{dim}: edge {inside[0]!r} falls inside a value of this "
                        f"{space[dim].kind} dimension; its edges lie between values: "
                        + ", ".join(f"{e:.6g}" for e in edges)  # type: ignore[union-attr]
                    )

    @staticmethod
    def spelled_space(table: Mapping[str, Any]) -> dict[str, Any]:
        """Restrictions in one spelling each, so that campaign.json and the campaign's
        identity hold one spelling of each: the values they select ("2" and 2.0 both
        select repetitions 2), and a single value for a restriction that selects one
        (motion = ["clap"] is motion = "clap", peak_accel = [12, 12] is 12)."""
        full = default_space()
        spelled: dict[str, Any] = {}
        for k, v in table.items():
            dim = full[k]
            if not isinstance(v, list | tuple):
                spelled[k] = dim.check(v)
                continue
            values = [dim.check(x) for x in v]
            one = len(values) == 1 if dim.kind == "categorical" else len(set(values)) == 1
            spelled[k] = values[0] if one and values else values
        return spelled

    @classmethod
    def spelled_identity(cls, identity: Any) -> Any:
        """A recorded identity with its restrictions in the spelling :meth:`spelled_space`
        gives (runs made before it was one spelling compare equal to their
        configuration) and, for generated cases recorded before the generators' version
        was, version 1; anything it cannot read is returned as it is."""
        if not isinstance(identity, Mapping) or not isinstance(identity.get("space"), Mapping):
            return identity
        if identity.get("recordings") is None and "generators" not in identity:
            identity = {**identity, "generators": 1}
        try:
            return {**identity, "space": cls.spelled_space(identity["space"])}
        except (InvalidParameter, ConfigError, KeyError, TypeError, ValueError):
            return identity

    @classmethod
    def generators_of(cls, record: Mapping[str, Any]) -> int | None:
        """The generators version that made a run's cases (``campaign.json``'s record):
        1 for generated cases recorded before it was, None for a run of recordings."""
        identity = cls.spelled_identity(record.get("identity", {}))
        return identity.get("generators") if isinstance(identity, Mapping) else None

    @classmethod
    def require_generators(cls, record: Mapping[str, Any], run: str, consequence: str) -> None:
        """Refuse a run of generated cases made by another version of the generators
        than this one (RunDirError naming ``run`` and the ``consequence``), or whose
        recorded version is not a whole number (a damaged record: ``"2"`` is no version)."""
        made = cls.generators_of(record)
        if made is not None and (isinstance(made, bool) or not isinstance(made, int)):
            raise RunDirError(
                f"{run}: campaign.json's identity.generators is {show(made)}, not a version "
                f"number (a whole number; this highfive makes version {GENERATOR_VERSION}); "
                "the record is damaged: run the campaign again"
            )
        if made is not None and made != GENERATOR_VERSION:
            raise RunDirError(
                f"{run} was made by generators version {made} and this highfive makes "
                f"version {GENERATOR_VERSION}: {consequence}"
            )

    @property
    def counters(self) -> tuple[CounterSpec, ...]:
        """The ``models`` entries as counter specs."""
        return tuple(_counter_spec(i, m) for i, m in enumerate(self.models))

    @property
    def n_batches(self) -> int:
        return -(-self.cases // self.batch_size)

    def batch_range(self, batch: int) -> tuple[int, int]:
        """First case and number of cases of ``batch``."""
        start = batch * self.batch_size
        return start, min(self.batch_size, self.cases - start)

    def parameter_space(self) -> ParameterSpace:
        try:
            return default_space().restrict(**dict(self.space))
        except InvalidParameter as exc:  # "name: ..." about a dimension, else about the table
            text = str(exc)
            field = text.split(":", 1)[0]
            raise ConfigError(
                f"space.{text}" if field in default_space() else f"space: {text}"
            ) from None

    def focus_boxes(self) -> tuple[Box, ...]:
        """The focus boxes as (dimension index, low, high) tuples for the sampler."""
        names = self.parameter_space().names
        return tuple(
            tuple((names.index(dim), float(iv[0]), float(iv[1])) for dim, iv in box.items())
            for box in self.focus
        )

    def identity(self) -> dict[str, Any]:
        """Everything results depend on (execution settings and paths excluded)."""
        d = asdict(self)
        for k in ("execution", "out", "name", "models", "parent", "base"):
            d.pop(k)
        d["space"] = dict(self.space)
        d["focus"] = [{k: list(v) for k, v in box.items()} for box in self.focus]
        _plain_recordings(d)
        if not self.importance:
            d.pop("importance")  # runs of other samplers keep the identity they had
        if self.recordings is None:  # generated cases: the traces depend on the generators
            d["generators"] = GENERATOR_VERSION
        return d

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["space"] = dict(self.space)
        d["models"] = [m if isinstance(m, str) else dict(m) for m in self.models]
        d["focus"] = [{k: list(v) for k, v in box.items()} for box in self.focus]
        _plain_recordings(d)
        return d

    def with_overrides(self, **changes: Any) -> CampaignConfig:
        """A copy with top-level or ``execution`` fields changed (CLI flags)."""
        ex = {k: changes.pop(k) for k in list(changes) if k in ExecutionConfig.__dataclass_fields__}
        if self.recordings is not None and "cases" in changes:
            raise ConfigError(
                f"--cases: {changes['cases']!r}, but a campaign of [recordings] runs each "
                "recording once; drop --cases"
            )
        cfg = replace(self, **changes)
        if ex:
            cfg = replace(cfg, execution=replace(cfg.execution, **ex))
        return cfg

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> CampaignConfig:
        """Read a campaign file; relative counter paths resolve against its folder.

        ``out`` stays relative to the working directory, where a user looks for runs.
        """
        path = Path(path)
        data = read_toml(path, "campaign file")
        given = [k for k in _NOT_WITH_RECORDINGS if k in data]
        if "recordings" in data and given:
            raise ConfigError(
                f"{given[0]}: a campaign of [recordings] runs each recording once; remove "
                f"{given[0]} (sample the space in another campaign file)"
            )
        return cls.from_dict(data, base=path.parent, file=True)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], base: Path | None = None, *, file: bool = False
    ) -> CampaignConfig:
        """A configuration from a table: a campaign file's (``file``: the keys a user
        writes) or campaign.json's ``config``, which also holds the internal fields."""
        top = {f for f in cls.__dataclass_fields__} | {"counters"}
        if file:
            top -= set(_INTERNAL)
        unknown = sorted(set(data) - top)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(top))}")
        kw = dict(data)
        ex = _execution(kw.pop("execution", {}))
        if "counters" in kw:
            if "models" in kw:
                raise ConfigError("counters: an alias of models; give one of them, not both")
            kw["models"] = kw.pop("counters")
        if kw.get("recordings") is not None:
            kw["recordings"] = RecordingsConfig.from_dict(kw["recordings"])
        if base is not None:
            kw["base"] = os.path.abspath(base)
        return cls(**kw, execution=ex)


def _execution(ex: Any) -> ExecutionConfig:
    """An ``[execution]`` table (or an ExecutionConfig) as an ExecutionConfig, its keys
    checked."""
    if isinstance(ex, ExecutionConfig):
        return ex
    if not isinstance(ex, Mapping):
        raise ConfigError(f"execution: {ex!r} must be a table")
    ex_keys = set(ExecutionConfig.__dataclass_fields__)
    bad = sorted(set(ex) - ex_keys)
    if bad:
        raise ConfigError(
            f"unknown key 'execution.{bad[0]}'; allowed: {', '.join(sorted(ex_keys))}"
        )
    return ExecutionConfig(**ex)


def _plain_recordings(d: dict[str, Any]) -> None:
    # asdict made the table a dict with a tuple; TOML and JSON take lists.
    if d.get("recordings") is not None:
        d["recordings"]["metadata"] = list(d["recordings"]["metadata"])
    else:
        d.pop("recordings", None)  # a synthetic campaign's identity is as it was


def _seconds(
    name: str,
    value: Any,
    *,
    zero: str = "",
    most: tuple[float, str] | None = None,
    least: tuple[float, str] | None = None,
) -> None:
    """A finite number of seconds, > 0 (or >= 0 when ``zero`` says what 0 means), at
    least ``least`` unless 0 and at most ``most`` (a bound and how it reads) if given."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value >= 0 if zero else value > 0)
        and (least is None or value == 0 or value >= least[0])
        and (most is None or value <= most[0])
    )
    if not ok:
        bound = f">= 0 (0: {zero})" if zero else "> 0"
        if least is not None:
            bound = f">= {least[0]:g} ({least[1]})" + (f", or 0 ({zero})" if zero else "")
        if most is not None:
            bound += f" and at most {most[0]:,g} ({most[1]})"
        raise ConfigError(f"{name}: {value!r} must be a number of seconds {bound}")


def _int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name}: {value!r} must be an integer >= {low}")


# The keys, documented once (the module doc) and shown by help(CampaignConfig) too.
CampaignConfig.__doc__ = (
    f"{CampaignConfig.__doc__}\n\nAs a campaign file writes them:\n\n"
    + __doc__.split("Unknown keys", 1)[0].split("\n\n", 1)[1]
)
