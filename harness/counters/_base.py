"""What every counter under test is to the harness: one base class, one contract.

A counter takes a :class:`~highfive.generators.Trace` and says when it counted a
high-five. The harness never asks which kind it holds (an ONNX model through our
pipeline, a Python callable, an external program): campaigns, replay, shrink and
``count`` call :meth:`CounterPlugin.count`, which

- feeds the trace whole (``chunk_s = 0``) or in chunks of ``chunk_s`` seconds, as a
  watch's firmware receives samples, and records when each detection was *emitted*;
- checks what the counter returned (finite, sorted-able times; scores in [0, 1]);
- turns anything the counter does wrong on one case (raise, malformed output, exit,
  time limit) into a :class:`CounterFault`, which the case records as the verdict
  ``error`` or ``timeout`` with its message: a finding, not a crash.

A kind overrides the hooks :meth:`CounterPlugin._count` (and, to stream, sets
``streams`` and overrides :meth:`CounterPlugin._stream` or, if its streaming mode
equals its batch mode, :meth:`CounterPlugin._emitted`), :meth:`CounterPlugin.claims`
and :meth:`CounterPlugin.from_source`; it is registered in ``counters/__init__.py``.

Chunk arithmetic (one definition, used for every kind): with ``t0`` the trace's first
sample instant, chunk ``k`` holds the samples with ``t0 + k c <= t < t0 + (k+1) c`` and
is delivered at ``min(t0 + (k+1) c, t_last)``; what a counter returns after a chunk is
emitted at that chunk's delivery time, what it returns at the end of the trace at
``t_last``. Detection latency is emission time minus the matched high-five's impact.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from highfive.generators import ConfigError, Detection, InvalidParameter, Trace

from .._model import ModelSpec
from .._pipeline import MIN_CHUNK_S, CountResult
from .._records import MAX_COUNT

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "CounterFault",
    "CounterIdentity",
    "CounterOptions",
    "CounterPlugin",
    "as_reached",
    "chunks",
    "delivery_times",
    "describe",
    "digest",
    "parse_detections",
    "parse_windows",
    "plain_result",
    "with_article",
    "within",
]

DEFAULT_TIMEOUT_S = 30.0
"""Seconds a Python or external counter may take for one case before it times out."""


class CounterFault(Exception):
    """A counter failed on one case; the case gets ``verdict`` and keeps ``message``."""

    def __init__(self, verdict: Literal["error", "timeout"], message: str) -> None:
        message = _ADDRESS.sub("", message)  # a repr's address differs from run to run
        super().__init__(message)
        self.verdict: Literal["error", "timeout"] = verdict
        self.message = message


class CounterChanged(ConfigError):
    """A counter's files changed since it was loaded: what would run now is not the
    counter under test, so the work stops (no case is judged by it)."""


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
MAX_DETECTIONS = MAX_COUNT
"""Most detections one case may return (the results' count columns are int16)."""


def digest(*parts: Any) -> str:
    """SHA-256 of parts (bytes as they are, anything else as canonical JSON)."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True).encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


@dataclass(frozen=True)
class CounterIdentity:
    """What a counter's results depend on, recorded in campaign.json.

    Attributes
    ----------
    kind : str
        ``"onnx"``, ``"python"`` or ``"exec"``.
    source : str
        The counter as the campaign names it (paths resolved).
    sha256 : str
        Digest of everything its results depend on: the ONNX file; the executable's
        bytes, its arguments and the files they name; the Python module file,
        attribute and version.
    details : mapping
        The kind's own facts behind the digest (file hashes, version, arguments).
    """

    kind: str
    source: str
    sha256: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def record(self, counter_id: str) -> dict[str, Any]:
        """The campaign.json entry of this counter."""
        return {
            "id": counter_id,
            "source": self.source,
            "kind": self.kind,
            "sha256": self.sha256,
            "identity": dict(self.details),
        }


def chunks(trace: Trace, chunk_s: float) -> Iterator[tuple[slice, float]]:
    """Sample slices of consecutive chunks and each chunk's delivery time (s).

    The last chunk (possibly partial) is delivered at the last sample's instant.
    """
    t = trace.t
    t0, t_last = float(t[0]), float(t[-1])
    n_chunks = max(math.floor((t_last - t0) / chunk_s) + 1, 1)
    edges = np.searchsorted(t, t0 + chunk_s * np.arange(1, n_chunks + 1), side="left")
    start = 0
    for k, stop in enumerate(edges.tolist()):
        if k == n_chunks - 1:
            stop = t.size
        yield slice(start, stop), min(t0 + (k + 1) * chunk_s, t_last)
        start = stop


def delivery_times(times: np.ndarray, trace: Trace, chunk_s: float) -> np.ndarray:
    """When samples taken at ``times`` reach a counter fed in chunks of ``chunk_s``."""
    t0, t_last = float(trace.t[0]), float(trace.t[-1])
    k = np.floor((np.asarray(times, dtype=np.float64) - t0) / chunk_s) + 1
    return np.minimum(t0 + k * chunk_s, t_last)


def rebase(path: str, old: str, new: str) -> str:
    """``path`` moved from the folder ``old`` to ``new`` if it is an absolute path inside
    ``old``; else ``path`` as it is."""
    p = Path(path)
    if not (old and new and p.is_absolute() and p.is_relative_to(old)):
        return path
    return os.fspath(Path(new) / p.relative_to(old))


def as_reached(path: Path) -> Path:
    """``path`` with its ``..`` resolved as the system resolves them: through the real
    folder a symbolic link names (``lib/../x`` with ``lib`` a link is beside the link's
    target, not beside ``lib``); a path without ``..`` as it is, its own name kept. A
    file beside a campaign's folder (``../common/x.py``) is then recorded where it is,
    and found there after the folder moves."""
    if ".." not in path.parts:
        return path
    if path.name == "..":
        return Path(os.path.realpath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def within(path: str, base: str) -> str:
    """``path`` relative to the folder ``base`` if it is inside it, else as it is: how a
    counter's fault names a campaign's own file, the same wherever the campaign's
    folder has been moved or copied (replay compares the messages)."""
    p = Path(path)
    if not (base and p.is_absolute() and p.is_relative_to(base)):
        return path
    return os.fspath(p.relative_to(base))


def with_article(kind: str) -> str:
    """A counter kind with its article, for messages: "an exec", "a python"."""
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def describe(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message`` of a counter's exception, in one line.

    Never raises: the message is the counter's code (``__str__``), and one that raises
    is said to, instead of taking the harness down.
    """
    name = type(exc).__name__
    try:
        text = str(exc).strip()
    except BaseException as inner:  # SystemExit, KeyboardInterrupt from __str__ too
        return f"{name} (its message could not be shown: {type(inner).__name__})"
    first = text.splitlines()[0][:limit] if text else ""
    return f"{name}: {first}" if first else name


def parse_detections(value: Any, where: str) -> list[Detection]:
    """A counter's output as detections, or :class:`CounterFault` naming what is wrong.

    Accepted: a sequence of :class:`Detection`, of ``(time, score)`` pairs, or of plain
    times (score 1). Times must be finite; scores finite and in [0, 1]. Returned in time
    order, whatever order the counter gave them in.
    """
    if isinstance(value, CountResult):
        value = value.detections
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise CounterFault(
            "error",
            f"{where} returned {_short(value)}; expected a list of Detection, "
            "(time, score) pairs or times",
        )
    out = []
    for i, item in enumerate(value):
        if isinstance(item, Detection):
            time, score = item.time, item.score
        elif isinstance(item, Sequence | np.ndarray) and not isinstance(item, str | bytes):
            if len(item) != 2:
                raise CounterFault(
                    "error", f"{where} returned item {i} = {_short(item)}; expected (time, score)"
                )
            time, score = item[0], item[1]
        else:
            time, score = item, 1.0
        try:
            if any(isinstance(x, bool | np.bool_ | str | bytes) for x in (time, score)):
                raise TypeError  # float() would take True as 1 and "1.5" as 1.5
            time, score = float(time), float(score)
        except (TypeError, ValueError):
            raise CounterFault(
                "error", f"{where} returned item {i} = {_short(item)}; times and scores are numbers"
            ) from None
        if not math.isfinite(time) or not (0.0 <= score <= 1.0):
            raise CounterFault(
                "error",
                f"{where} returned item {i} = {_short(item)}; the time must be finite and the "
                "score in [0, 1]",
            )
        out.append(Detection(time=time, score=score))
    return sorted(out, key=lambda d: d.time)  # stable: equal times keep their order


def parse_windows(centres: Any, probs: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A counter's per-window times and probabilities as arrays, or :class:`CounterFault`.

    Both one-dimensional and of one length; times finite; probabilities in [0, 1].
    """
    try:
        t = np.asarray(centres, dtype=np.float64)
        p = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise CounterFault(
            "error", f"{where} returned window times or probabilities that are not numbers"
        ) from None
    if t.ndim != 1 or p.ndim != 1:
        raise CounterFault(
            "error",
            f"{where} returned window times and probabilities of shapes {t.shape} and "
            f"{p.shape}; expected two flat lists of one length",
        )
    if t.size != p.size:
        raise CounterFault(
            "error",
            f"{where} returned {t.size} window times and {p.size} probabilities; expected "
            "two lists of one length",
        )
    if not np.all(np.isfinite(t)):
        raise CounterFault("error", f"{where} returned a window time that is not finite")
    if not np.all((p >= 0.0) & (p <= 1.0)):  # False for NaN too
        bad = p[~((p >= 0.0) & (p <= 1.0))][0]
        raise CounterFault(
            "error", f"{where} returned a window probability of {float(bad)!r}; allowed: 0 to 1"
        )
    return t, p.astype(np.float32)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _no_windows() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.float64), np.empty(0, dtype=np.float32)


class CounterPlugin(ABC):
    """A counter under test; subclasses implement one kind (see the module doc).

    Instances are picklable and cheap to send to dask workers: they hold plain data
    (file bytes, specs); anything live (an ONNX Runtime session, a Python instance,
    a child process) is built in each process on first use and cached there.
    """

    kind: ClassVar[str]
    streams: ClassVar[bool] = False
    """Whether the counter can be fed in chunks (campaigns refuse to stream it if not)."""

    @property
    @abstractmethod
    def identity(self) -> CounterIdentity:
        """What this counter's results depend on."""

    @property
    def default_id(self) -> str:
        """The id results use for this counter unless the campaign names one."""
        return "counter"

    @property
    def spec(self) -> ModelSpec | None:
        """The model front end (rate, window, scales) of a counter that has one."""
        return None

    @property
    def threshold_on(self) -> float | None:
        """The probability that starts a detection, for counters that report
        per-window probabilities (the case's ``margin`` is measured from it)."""
        return None

    @classmethod
    def relocated(cls, source: str, old: str, new: str) -> str:
        """``source`` as a run recorded it, its paths inside the folder ``old`` moved to
        ``new`` (a campaign folder moved or copied with its runs)."""
        return rebase(source, old, new)

    def lost(self, recorded: Mapping[str, Any]) -> list[str]:
        """Files a run's record of this counter (its identity's details) names that
        this counter did not find, as the record writes them."""
        return []

    # -- the hooks -------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def claims(cls, source: str) -> bool:
        """Whether ``source`` (as written in a campaign) names a counter of this kind."""

    @classmethod
    @abstractmethod
    def from_source(cls, source: str, *, version: str = "", options: CounterOptions) -> Any:
        """Load and check the counter; one-line :class:`ConfigError` naming it if unusable."""

    @abstractmethod
    def _count(self, trace: Trace, cache: dict[Any, Any]) -> CountResult:
        """Count one whole trace (``CountResult.emitted`` may stay None)."""

    def _stream(self, trace: Trace, chunk_s: float, cache: dict[Any, Any]) -> CountResult:
        """Count one trace fed in chunks, with ``emitted`` set (see :func:`chunks`).

        By default: count it whole and ask :meth:`_emitted` when each detection would
        have been emitted (right for a counter whose streaming equals its batch mode).
        """
        result = self._count(trace, cache)
        return replace(result, emitted=self._emitted(trace, result, chunk_s))

    def _emitted(self, trace: Trace, result: CountResult, chunk_s: float) -> np.ndarray | None:
        """Emission times of a whole-trace result, if the kind knows them (ONNX does)."""
        return None

    def check(self, *, chunk_s: float) -> None:
        """Refuse campaign settings this counter cannot honour (before any case runs)."""
        if chunk_s > 0 and not self.streams:
            raise ConfigError(
                f"counter {self.identity.source!r}: stream_chunk_s = {chunk_s:g} needs a "
                "counter that can be fed in chunks; give it start(fs), feed(t, samples) "
                "and finish() methods, or set stream_chunk_s = 0"
            )

    def probe(self) -> None:  # noqa: B027 (most kinds have nothing to start)
        """Start whatever runs the counter and check it answers (before any case runs)."""

    def close(self) -> None:  # noqa: B027 (most kinds hold nothing)
        """Release what this process holds for the counter (child processes, threads)."""

    # -- the public method ---------------------------------------------------------------
    def count(
        self, trace: Trace, *, chunk_s: float = 0.0, cache: dict[Any, Any] | None = None
    ) -> CountResult:
        """Count the high-fives in ``trace``.

        Parameters
        ----------
        trace : Trace
        chunk_s : float
            0: the counter gets the whole trace at once. > 0: it is fed in chunks of
            ``chunk_s`` seconds and ``CountResult.emitted`` says when each detection
            was emitted (needed for detection latency).
        cache : dict, optional
            Shared by the counters judging the same trace: counters with the same
            preprocessing (a float model and its int8 twin) compute it once.

        Raises
        ------
        CounterFault
            The counter failed on this trace (the case's verdict is error or timeout).
        """
        if not (chunk_s == 0 or (chunk_s >= MIN_CHUNK_S and math.isfinite(chunk_s))):
            raise InvalidParameter(
                f"chunk_s: got {chunk_s!r}; must be 0 (the whole trace) or a number of seconds "
                f">= {MIN_CHUNK_S:g}"
            )
        cache = {} if cache is None else cache
        try:
            if chunk_s > 0:
                result = self._stream(trace, chunk_s, cache)
            else:
                result = self._count(trace, cache)
        except (CounterFault, CounterChanged):
            raise
        except Exception as exc:  # whatever the counter raised is the finding
            raise CounterFault("error", describe(exc)) from None
        if len(result.detections) > MAX_DETECTIONS:
            raise CounterFault(
                "error",
                f"returned {len(result.detections):,} detections; at most {MAX_DETECTIONS:,} "
                "per case",
            )
        # a detection is an instant of the trace (one sample period of slack at each end)
        slack = 1.0 / float(trace.fs)
        t_first, t_last = float(trace.t[0]), float(trace.t[-1])
        for d in result.detections:
            if not t_first - slack <= d.time <= t_last + slack:
                raise CounterFault(
                    "error",
                    f"returned a detection at {d.time:g} s, outside the trace ({t_first:g} to "
                    f"{t_last:g} s)",
                )
        if result.emitted is not None:  # streamed: nothing from samples not yet fed
            for d, fed in zip(result.detections, result.emitted, strict=True):
                if d.time > fed + slack:
                    raise CounterFault(
                        "error",
                        f"returned a detection at {d.time:g} s when fed the samples up to "
                        f"{fed:g} s only (a streaming counter cannot see ahead)",
                    )
        return result


@dataclass(frozen=True)
class CounterOptions:
    """Settings every kind receives when loaded (from the campaign)."""

    threads: int = 1
    timeout_s: float = DEFAULT_TIMEOUT_S
    base: str = ""
    """Folder relative paths resolve against (the campaign file's); "" = working dir."""


def plain_result(
    detections: list[Detection], emitted: Sequence[float] | None = None
) -> CountResult:
    """A result without per-window probabilities."""
    centres, probs = _no_windows()
    return CountResult(
        detections,
        centres,
        probs,
        None if emitted is None else np.asarray(emitted, dtype=np.float64),
    )
