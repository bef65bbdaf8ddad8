"""External programs as counters: ``exec:PATH [ARGS]`` (a firmware build for the host,
a C or fixed-point port), speaking a small binary protocol over stdin and stdout.

One long-lived process per worker process serves every case; it is started on first
use, and again after it failed a case (exited, timed out, sent garbage). It runs in
a process group of its own (a new session), and the whole group is killed when the
program is stopped: a launcher script's children do not outlive it. PATH with a ``/``
resolves against the campaign file's folder; a bare name is looked up on PATH. An
argument that names an existing file or folder (absolute, or relative to the campaign
file's folder) is made absolute, and a file's bytes are hashed like the program's:
``exec:python3 counter.py`` is identified by the script, not by the interpreter alone.
Identity: the SHA-256 of the executable's bytes, of the arguments and of the files
they name.

Protocol (all numbers little-endian; full description in the README):

1. On start the program writes the greeting line ``highfive-counter 1\\n``.
2. Then frames, each an 8-byte header (4 ASCII tag bytes, uint32 payload length in
   bytes) and the payload. The harness sends, per trace:

   - ``BEGN``: float64 nominal sample rate in Hz; the program resets its state;
   - ``DATA``: samples, 20 bytes each: float64 time (s), float32 x, y, z (g);
     one frame per chunk (the whole trace when not streaming);
   - ``DONE``: empty; the trace ended.

   After every ``DATA`` and ``DONE`` the program answers one ``DETS`` frame: 16 bytes
   per detection, float64 time (s) and float64 score in [0, 1] (empty if none).
3. When stdin closes the program exits.

Between cases the program is silent. What it writes or does after its last answer to
a case (stray bytes, an exit) fails no case: the next case starts a fresh program. A
program that served an earlier case and fails this one before its first answer
(garbage, exit) runs it again on a fresh program, whose outcome counts: the failure
may be the earlier case's trailing output arriving late. So a case's verdict is the
one it gets alone on a fresh program, as replay and shrink run it.

Binary framing was measured against text lines (``t x y z``) for a 10 s case at
200 Hz: formatting and parsing 2,000 lines costs milliseconds in Python, a binary
frame microseconds (benchmarks/bench_counters.py).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import re
import select
import shlex
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from highfive.generators import ConfigError, Trace

from .._pipeline import CountResult
from ._base import (
    CounterChanged,
    CounterFault,
    CounterIdentity,
    CounterOptions,
    CounterPlugin,
    as_reached,
    chunks,
    digest,
    parse_detections,
    plain_result,
    rebase,
    within,
)

__all__ = ["GREETING", "INTERPRETERS", "SAMPLE_DTYPE", "ExecCounter"]

GREETING = b"highfive-counter 1\n"
SAMPLE_DTYPE = np.dtype([("t", "<f8"), ("x", "<f4"), ("y", "<f4"), ("z", "<f4")])
_HEADER = struct.Struct("<4sI")
_DETECTION = np.dtype([("time", "<f8"), ("score", "<f8")])
_MAX_REPLY = 1 << 24  # bytes: a DETS frame larger than this is garbage
_PIPE_CHUNK = 1 << 16  # bytes written per call (a pipe's default capacity)
INTERPRETERS = re.compile(r"python(3(\.[0-9]+)?)?|pypy3?|node|bash|sh|Rscript|julia|perl|ruby|java")
"""Programs named after what they run, not what they are: such a counter's default id
is the stem of its first argument that names a file (``java -jar fw.jar`` is ``fw``)."""


@dataclass
class _Proc:
    popen: subprocess.Popen[bytes]
    stderr: IO[bytes]
    buf: bytearray
    served: int = 0  # cases it answered


_PROCS: dict[tuple[str, int], _Proc] = {}


@atexit.register
def _stop_all() -> None:
    # Programs exit when their stdin closes; one that does not is killed.
    for key in [k for k in _PROCS if k[1] == os.getpid()]:
        _stop(_PROCS.pop(key))


class ExecCounter(CounterPlugin):
    """A counter in its own process (see the module doc)."""

    kind = "exec"
    streams = True

    def __init__(
        self,
        source: str,
        argv: tuple[str, ...],
        file_sha256: str,
        timeout_s: float,
        arg_sha256: tuple[tuple[str, str], ...] = (),
        not_found: str = "",
        shown: str = "",
    ) -> None:
        self.source, self.argv = source, argv
        self.shown = shown or source  # in faults: a campaign's own program relative to it
        self.file_sha256 = file_sha256
        self.timeout_s = timeout_s
        self.arg_sha256 = arg_sha256  # (argument as written, SHA-256) of each file argument
        self.not_found = not_found  # said when the program fails to start

    def __repr__(self) -> str:
        return f"ExecCounter({self.source!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            ExecCounter,
            (
                self.source,
                self.argv,
                self.file_sha256,
                self.timeout_s,
                self.arg_sha256,
                self.not_found,
                self.shown,
            ),
        )

    @classmethod
    def claims(cls, source: str) -> bool:
        return source.startswith("exec:")

    @classmethod
    def from_source(cls, source: str, *, version: str = "", options: CounterOptions) -> ExecCounter:
        if version:
            raise ConfigError(
                f"counter {source!r}: 'version' is for Python counters; a program is "
                "identified by its file's SHA-256 and its arguments"
            )
        try:
            argv = shlex.split(source.removeprefix("exec:"))
        except ValueError as exc:
            raise ConfigError(f"counter {source!r}: cannot split the command ({exc})") from None
        if not argv:
            raise ConfigError(f"counter {source!r}: expected exec:PATH [ARGS]")
        prog = argv[0]
        if "/" in prog:
            # Made absolute: 'cnt.py' (what Path('./cnt.py') prints) would be looked up
            # on PATH when run, another program than the file checked and hashed here.
            path = as_reached(Path(options.base or Path.cwd()) / prog)
        else:
            found = shutil.which(prog)
            if found is None:
                raise ConfigError(f"counter {source!r}: {prog!r} is not on PATH")
            path = Path(found)
        if path.is_dir():
            raise ConfigError(f"counter {source!r}: {os.fspath(path)!r} is a folder, not a program")
        if not path.is_file():
            raise ConfigError(f"counter {source!r}: {os.fspath(path)!r} does not exist")
        if not os.access(path, os.X_OK):
            raise ConfigError(
                f"counter {source!r}: {os.fspath(path)!r} is not executable (chmod +x it)"
            )
        argv[0] = os.fspath(path)
        written = list(argv)  # the arguments as the campaign wrote them: its identity
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        base = Path(options.base or Path.cwd()).absolute()
        hashed, missing = [], []
        for i, arg in enumerate(argv[1:], start=1):
            named = base / arg  # an absolute argument stays itself
            if arg and named.is_file():
                argv[i] = os.fspath(named)
                try:
                    hashed.append((arg, hashlib.sha256(named.read_bytes()).hexdigest()))
                except OSError as exc:
                    raise ConfigError(
                        f"counter {source!r}: cannot read argument {argv[i]!r} "
                        f"({exc.strerror or exc})"
                    ) from None
            elif arg and named.is_dir():
                argv[i] = os.fspath(named)
            elif _looks_like_a_path(arg):
                missing.append(arg)
        not_found = (
            f" ({' '.join(map(repr, missing))}: no such file or folder in {os.fspath(base)!r}, "
            "the folder relative arguments resolve against)"
            if missing
            else ""
        )
        program = within(written[0], options.base)
        if "/" not in program:  # a file of the campaign's folder, not one found on PATH
            program = f"./{program}"
        return cls(
            "exec:" + shlex.join(written),
            tuple(argv),
            sha,
            options.timeout_s,
            tuple(hashed),
            not_found,
            "exec:" + shlex.join([program, *written[1:]]),
        )

    @classmethod
    def relocated(cls, source: str, old: str, new: str) -> str:
        # The program only: the arguments are recorded as written (relative ones
        # resolve against the folder the counter is loaded from) and are its identity.
        argv = shlex.split(source.removeprefix("exec:"))
        return "exec:" + shlex.join([rebase(argv[0], old, new), *argv[1:]]) if argv else source

    def lost(self, recorded: Mapping[str, Any]) -> list[str]:
        was, now = recorded.get("arg_sha256"), dict(self.arg_sha256)
        return [arg for arg in was if arg not in now] if isinstance(was, Mapping) else []

    @property
    def identity(self) -> CounterIdentity:
        # The arguments as written (relative ones resolve against the campaign's folder
        # when run): a copy of the campaign folder elsewhere is the same counter.
        written = shlex.split(self.source.removeprefix("exec:"))[1:]
        details: dict[str, Any] = {"file_sha256": self.file_sha256, "argv": list(self.argv)}
        parts: list[Any] = ["exec", self.file_sha256, written]
        if self.arg_sha256:  # absent for programs without file arguments, as before
            details["arg_sha256"] = dict(self.arg_sha256)
            parts.append(dict(self.arg_sha256))
        return CounterIdentity("exec", self.source, digest(*parts), details)

    @property
    def default_id(self) -> str:
        """The program's name; for an interpreter (:data:`INTERPRETERS`), the stem of the
        first argument that names a file: ``exec:python3 counter.py`` is ``counter``."""
        name = Path(self.argv[0]).name
        if INTERPRETERS.fullmatch(name) and self.arg_sha256:
            return Path(self.arg_sha256[0][0]).stem or name
        return name

    # -- the process --------------------------------------------------------------------
    def _unchanged(self) -> None:
        """Refuse to start the program if its file or a file argument changed since it
        was loaded: each start reads them from disk again (after a crash, on each dask
        worker), and a rebuild mid-run made one run of two counters."""
        written = shlex.split(self.source.removeprefix("exec:"))
        hashed = dict(self.arg_sha256)
        files = [(f"program {written[0]!r}", self.argv[0], self.file_sha256)]
        pairs = zip(written[1:], self.argv[1:], strict=True)
        files += [(f"argument {w!r}", a, hashed[w]) for w, a in pairs if w in hashed]
        for shown, path, was in files:
            try:
                now = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            except OSError as exc:
                now = f"unreadable: {exc.strerror or exc}"
            if now != was:
                raise CounterChanged(
                    f"counter {self.source!r}: its {shown} changed since the counter was loaded "
                    f"(SHA-256 {was[:12]} -> {now[:12] if len(now) == 64 else now}); restore "
                    "it to go on (run --resume), or start a new run with it"
                )

    def _start(self) -> _Proc:
        self._unchanged()
        err = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        # Appended to whatever its offset (shared with the program): emptied as each
        # case starts (see _run), the file holds that case's stderr alone.
        fcntl.fcntl(
            err.fileno(), fcntl.F_SETFL, fcntl.fcntl(err.fileno(), fcntl.F_GETFL) | os.O_APPEND
        )
        try:
            popen = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,  # its own process group, killed whole by _stop
            )
        except OSError as exc:
            err.close()
            raise CounterFault("error", f"cannot start {self.argv[0]!r} ({exc})") from None
        proc = _Proc(popen, err, bytearray())
        try:
            got = self._recv_line(proc, 80, time.monotonic() + self.timeout_s)
        except CounterFault:
            _stop(proc, 0.0)
            raise
        if got != GREETING:
            _stop(proc, 0.0)
            raise CounterFault(
                "error",
                f"greeted with {got!r}; expected {GREETING!r} (see the protocol in the README)",
            )
        return proc

    def _proc(self) -> _Proc:
        key = (self.identity.sha256, os.getpid())
        proc = _PROCS.get(key)
        if proc is not None and (_exit_status(proc.popen, 0.0) is not None or _unasked(proc)):
            # Exited, or wrote something since its last answer: out of protocol, and
            # whatever it was, not the next case's doing; that case gets a fresh program.
            self.close(grace=0.0)
            proc = None
        if proc is None:
            proc = _PROCS[key] = self._start()
        return proc

    def probe(self) -> None:
        """Start the program once and check its greeting; one-line ConfigError if not."""
        try:
            self._proc()
        except CounterFault as fault:
            raise ConfigError(f"counter {self.source!r}: {fault.message}{self.not_found}") from None

    def close(self, grace: float = 0.5) -> None:
        """Stop this process's program: ``grace`` s to exit once its input closes."""
        proc = _PROCS.pop((self.identity.sha256, os.getpid()), None)
        if proc is not None:
            _stop(proc, grace)

    # -- counting -----------------------------------------------------------------------
    def _count(self, trace: Trace, cache: dict[Any, Any]) -> CountResult:
        return self._run(trace, [(slice(0, trace.t.size), float(trace.t[-1]))], timed=False)

    def _stream(self, trace: Trace, chunk_s: float, cache: dict[Any, Any]) -> CountResult:
        return self._run(trace, list(chunks(trace, chunk_s)), timed=True)

    def _run(self, trace: Trace, parts: list[tuple[slice, float]], *, timed: bool) -> CountResult:
        samples = np.empty(trace.t.size, dtype=SAMPLE_DTYPE)
        samples["t"] = trace.t
        for i, axis in enumerate("xyz"):
            samples[axis] = trace.samples[:, i]
        frames = [_HEADER.pack(b"BEGN", 8), struct.pack("<d", float(trace.fs))]
        for sl, _ in parts:
            data = samples[sl].tobytes()
            frames += [_HEADER.pack(b"DATA", len(data)), data]
        frames.append(_HEADER.pack(b"DONE", 0))
        sent = b"".join(frames)
        for again in (False, True):
            deadline = time.monotonic() + self.timeout_s
            proc = self._proc()
            # What the program said to stderr before (its start, earlier cases) is not
            # this case's: a message quoting it would depend on the cases run before.
            os.ftruncate(proc.stderr.fileno(), 0)
            replies: list[list[Any]] = []
            try:
                self._exchange(proc, sent, len(parts) + 1, deadline, replies)
                break
            except CounterFault as fault:
                self.close(grace=0.0)  # its state is unknown: the next case starts a fresh one
                # A program that served an earlier case and fails before its first
                # answer to this one (garbage, exit) may be showing the end of the
                # earlier case (bytes or an exit after its last answer): the case runs
                # again on a fresh program, as replay and shrink run it, and that counts.
                if again or proc.served == 0 or replies or fault.verdict != "error":
                    raise
        proc.served += 1
        dets, emitted = [], []
        delivered = [d for _, d in parts] + [float(trace.t[-1])]
        for got, when in zip(replies, delivered, strict=True):
            dets += got
            emitted += [when] * len(got)
        return plain_result(dets, emitted if timed else None)

    def _exchange(
        self, proc: _Proc, data: bytes, n_replies: int, deadline: float, replies: list[list[Any]]
    ) -> None:
        """Write ``data`` (all of a trace's frames) and read ``n_replies`` DETS frames
        into ``replies`` (which holds those read so far if this raises).

        Writing and reading overlap: the program reads its input in order, so its
        answer to chunk ``k`` can only reflect chunks up to ``k``, as if each chunk had
        waited for the previous answer, without a round trip per chunk (40 chunks of
        0.25 s in a 10 s case cost 40 round trips of tens of microseconds otherwise).
        """
        fd_in = proc.popen.stdin.fileno()  # type: ignore[union-attr]
        fd_out = proc.popen.stdout.fileno()  # type: ignore[union-attr]
        os.set_blocking(fd_in, False)
        out = memoryview(data)
        while len(replies) < n_replies:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timeout("a DETS frame" if not out else "")
            readable, writable, _ = select.select([fd_out], [fd_in] if out else [], [], left)
            if writable:
                try:
                    out = out[os.write(fd_in, out[:_PIPE_CHUNK]) :]
                except BrokenPipeError:  # as when found by reading: one exit, one message
                    raise self._exited(proc, "a DETS frame") from None
            if readable:
                chunk = os.read(fd_out, 65536)
                if not chunk:
                    raise self._exited(proc, "a DETS frame")
                proc.buf += chunk
                while len(replies) < n_replies and (got := self._take_reply(proc)) is not None:
                    replies.append(got)
        # Bytes after the last answer stay in the buffer: the next case restarts the
        # program (see _proc), whether they came with the answer or a moment later.

    def _take_reply(self, proc: _Proc) -> list[Any] | None:
        """One complete DETS frame from the buffer, or None if none is complete yet."""
        if len(proc.buf) < _HEADER.size:
            return None
        tag, size = _HEADER.unpack(proc.buf[: _HEADER.size])
        if tag != b"DETS" or size % _DETECTION.itemsize or size > _MAX_REPLY:
            raise CounterFault(
                "error",
                f"sent {bytes(proc.buf[: _HEADER.size])!r} where a DETS frame (tag b'DETS', "
                f"length a multiple of {_DETECTION.itemsize}) was expected",
            )
        if len(proc.buf) < _HEADER.size + size:
            return None
        payload = bytes(proc.buf[_HEADER.size : _HEADER.size + size])
        del proc.buf[: _HEADER.size + size]
        arr = np.frombuffer(payload, dtype=_DETECTION)
        return parse_detections(
            [(float(t), float(s)) for t, s in arr.tolist()], f"counter {self.shown!r}"
        )

    def _recv_line(self, proc: _Proc, limit: int, deadline: float) -> bytes:
        """The greeting: bytes up to and including a newline (at most ``limit``)."""
        while b"\n" not in proc.buf and len(proc.buf) < limit:
            self._fill(proc, deadline, "greeting")
        end = proc.buf.find(b"\n")
        n = end + 1 if 0 <= end < limit else limit
        out = bytes(proc.buf[:n])
        del proc.buf[:n]
        return out

    def _fill(self, proc: _Proc, deadline: float, what: str, want: int = 1) -> None:
        """Read what the program has written (at least one byte) into its buffer."""
        fd = proc.popen.stdout.fileno()  # type: ignore[union-attr]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timeout(what)
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, max(want, 65536))
            if not chunk:
                raise self._exited(proc, what)
            proc.buf += chunk
            return

    def _timeout(self, what: str = "") -> CounterFault:
        waiting = f" (waiting for {what})" if what else ""
        return CounterFault("timeout", f"no answer within {self.timeout_s:g} s{waiting}")

    def _exited(self, proc: _Proc, what: str) -> CounterFault:
        status = _exit_status(proc.popen, 1.0)
        fd = proc.stderr.fileno()
        size = os.fstat(fd).st_size  # read without moving the offset the program writes at
        said = os.pread(fd, 2000, max(0, size - 2000))
        lines = said.decode(errors="replace").strip().splitlines()
        tail = f"; stderr: {self._as_written(lines[-1])[:200]}" if lines else ""
        how = "closed its output"
        if status is not None and status < 0:  # Popen's -N: ended by signal N
            how = f"was killed by signal {-status} ({_signal_name(-status)})"
        elif status is not None:
            how = f"exited with status {status}"
        return CounterFault("error", f"{how} while the harness waited for {what}{tail}")

    def _as_written(self, said: str) -> str:
        """What the program said with the paths it was started with (absolute, in the
        campaign's folder) as the campaign writes them: a program that names its own
        file (``perror(argv[0])``, a shell's errors) says the same wherever the folder
        is, so a moved project replays."""
        written = shlex.split(self.shown.removeprefix("exec:"))
        pairs = sorted(zip(self.argv, written, strict=True), key=lambda p: -len(p[0]))
        for started, shown in pairs:
            if started != shown and os.path.isabs(started):
                # a whole path only: not inside /var/PATH, nor the start of PATH0 or PATH.x
                whole = rf"(?<![\w./-]){re.escape(started)}(?![\w.-])"
                said = re.sub(whole, (shown.rstrip("/") or shown).replace("\\", "\\\\"), said)
        return said


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # the real-time signals between SIGRTMIN and SIGRTMAX
        low, high = signal.SIGRTMIN, signal.SIGRTMAX
        return f"SIGRTMIN+{number - low}" if low < number < high else "unknown signal"


def _looks_like_a_path(arg: str) -> bool:
    """Whether an argument that names nothing was probably meant to name a file: it
    holds a ``/`` or ends in a suffix (``counter.py``), and is not an option or a number."""
    if not arg or arg.startswith("-") or "=" in arg:
        return False
    try:
        float(arg)
    except ValueError:
        return "/" in arg or bool(Path(arg).suffix)
    return False


def _unasked(proc: _Proc) -> bool:
    """Whether the program wrote anything (or closed its output) since its last answer."""
    if proc.buf:
        return True
    fd = proc.popen.stdout.fileno()  # type: ignore[union-attr]
    readable, _, _ = select.select([fd], [], [], 0)
    return bool(readable)


def _exit_status(popen: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The program's exit status if it exits within ``timeout`` s (a signal as minus its
    number, as :attr:`subprocess.Popen.returncode`), else None.

    The program is not reaped: until :func:`_stop` has killed its process group, the
    group's id stays the program's and cannot name another process's group.
    """
    if popen.returncode is not None or not hasattr(os, "waitid"):  # waitid: not macOS < 3.13
        with contextlib.suppress(subprocess.TimeoutExpired):
            return popen.wait(timeout=timeout)
        return None
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere
            return popen.poll()
        if info is not None:
            return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.005)


def _stop(proc: _Proc, grace: float = 0.5) -> None:
    """Close the program's input, give it ``grace`` s to exit, then kill its process
    group (whatever the program started that is still running) and reap it."""
    with contextlib.suppress(OSError):
        proc.popen.stdin.close()  # type: ignore[union-attr]
    _exit_status(proc.popen, grace)
    if proc.popen.returncode is None:  # not reaped: the group id is still the program's
        try:
            os.killpg(proc.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.popen.kill()
    proc.popen.wait()
    with contextlib.suppress(OSError):
        proc.popen.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()
