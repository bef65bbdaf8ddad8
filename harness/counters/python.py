"""Python counters: ``package.module:attribute`` or ``path/to/file.py:attribute``.

The attribute is either a counter (a callable taking one :class:`Trace` and returning
its detections) or a factory (a class, or a function without required arguments)
that returns one; a factory is called once per process. A counter may also stream:
with ``start(fs)``, ``feed(t, samples) -> detections`` and ``finish() -> detections``
it can be fed in chunks (campaign option ``stream_chunk_s``). Detections are
:class:`Detection` objects, ``(time, score)`` pairs or plain times in seconds.

A counter must not carry state from one trace to the next (``start`` resets a
streaming one): cases run in any order, on any worker.

Identity: the module file's SHA-256, the attribute and a version (the campaign's
``version`` for the counter, else the module's ``__version__``). A file given by path
travels to the workers as its text, so a cluster needs no shared file system; a
package module must be importable on every worker, and its file must hash the same
there.

Each case runs in a helper thread with the campaign's time limit: a counter that does
not answer in time gets the verdict ``timeout``; Python cannot stop a running thread,
so the late call is abandoned (it keeps a core busy until it returns) and the next case
uses a fresh instance. Its answer is read (detections parsed) in that thread too, so
whatever the counter's own objects raise there, ``SystemExit`` included, is its
``error``. Importing the module and calling the factory are timed as well, at
:data:`LOAD_TIMEOUT_S` or the case limit if longer: a hang is refused in one line.

The counter cannot reach the harness's data: each call gets its own copy of the trace
(read-only arrays: a write is an ``error``; a counter that makes its copy writable
changes nothing of the trace the other counters and the failure corpus see), and the
working directory it may change is set back after every call (a run directory given
relative to it stays where it was).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import importlib
import inspect
import os
import queue
import re
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from highfive.generators import ConfigError, Trace

from .._pipeline import CountResult
from ._base import (
    CounterFault,
    CounterIdentity,
    CounterOptions,
    CounterPlugin,
    as_reached,
    chunks,
    describe,
    digest,
    parse_detections,
    parse_windows,
    plain_result,
    within,
)

__all__ = ["LOAD_TIMEOUT_S", "PythonCounter"]

LOAD_TIMEOUT_S = 60.0
"""Seconds importing a counter's module and calling its factory may take (or the
campaign's ``counter_timeout_s``, if longer) before the counter is refused."""

# The attribute follows the last ':', so a file's path may hold one ("co:lon/f.py:count").
_SPEC = re.compile(r"(?P<module>[^:\s].*):(?P<attr>[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)")
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")  # an importable module's name
_STREAM_METHODS = ("start", "feed", "finish")


@dataclass
class _Live:
    instance: Any
    executor: _Worker


class _Worker:
    """One daemon thread running the counter's calls in order.

    A counter that never returns is abandoned at its time limit; its thread, being a
    daemon, cannot keep the process from exiting (the threads of a
    ``ThreadPoolExecutor`` are joined at exit, so a hung counter hung the command).
    """

    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="highfive-counter", daemon=True).start()

    def _loop(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, fn, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # the counter's, whatever it is: the caller judges
                future.set_exception(exc)

    def submit(self, fn: Any, *args: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        self._tasks.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        self._tasks.put(None)


_LIVE: dict[tuple[str, int], _Live] = {}
_FAILED: dict[tuple[str, int], str] = {}  # counters whose loading failed in this process


class PythonCounter(CounterPlugin):
    """A counter written in Python (see the module doc)."""

    kind = "python"

    def __init__(
        self,
        source: str,
        module: str,
        attr: str,
        code: bytes | None,
        module_sha256: str,
        version: str,
        timeout_s: float,
        streams: bool,
        shown: str = "",
    ) -> None:
        self.source, self.module, self.attr = source, module, attr
        self.shown = shown or source  # in faults: a campaign's own file relative to it
        self.code = code  # the file's text for a counter given by path, else None
        self.module_sha256, self.version = module_sha256, version
        self.timeout_s = timeout_s
        self._streams = streams

    def __repr__(self) -> str:
        return f"PythonCounter({self.source!r}, version={self.version!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            PythonCounter,
            (
                self.source,
                self.module,
                self.attr,
                self.code,
                self.module_sha256,
                self.version,
                self.timeout_s,
                self._streams,
                self.shown,
            ),
        )

    @property
    def streams(self) -> bool:  # type: ignore[override]
        return self._streams

    # -- loading ------------------------------------------------------------------------
    @classmethod
    def claims(cls, source: str) -> bool:
        # Whitespace around a spec is claimed, to be refused by from_source as such
        # (a name ending in a line break loaded, and was recorded with it).
        return bool(_SPEC.fullmatch(source.strip()))

    @classmethod
    def from_source(
        cls, source: str, *, version: str = "", options: CounterOptions
    ) -> PythonCounter:
        m = _SPEC.fullmatch(source)
        if m is None:
            around = " with nothing around it" if _SPEC.fullmatch(source.strip()) else ""
            raise ConfigError(
                f"counter {source!r}: expected package.module:attribute or "
                f"file.py:attribute{around}"
            )
        module, attr = m["module"], m["attr"]
        code: bytes | None = None
        shown = source
        if module.endswith(".py") or "/" in module or os.sep in module:
            path = Path(module)
            if options.base and not path.is_absolute():
                path = Path(options.base) / path
            path = as_reached(path)  # '..' resolved: found where it stays, if the folder moves
            if not path.is_file():
                raise ConfigError(f"counter {source!r}: file {os.fspath(path)!r} does not exist")
            code = path.read_bytes()
            module, source = os.fspath(path), f"{os.fspath(path)}:{attr}"
            shown = f"{within(module, options.base)}:{attr}"
        elif not _MODULE.fullmatch(module):  # 'zero.py::count' tried to import 'zero.py:'
            raise ConfigError(
                f"counter {source!r}: {module!r} is neither a file (file.py) nor a module "
                "name (package.module); write file.py:attribute or package.module:attribute"
            )

        def load() -> tuple[types.ModuleType, bytes, Any]:
            mod = _load(source, module, code)
            if code is not None:
                file_bytes = code
            else:
                file = getattr(mod, "__file__", None)
                file_bytes = Path(file).read_bytes() if file else b""
            return mod, file_bytes, _instantiate(source, _attribute(source, mod, attr))

        worker = _Worker()
        try:
            mod, file_bytes, counter = _timed_load(worker, source, options.timeout_s, load)
        finally:
            worker.shutdown()  # its thread ends (after a hang's abandoned call, if any)
        if not version:
            version = str(getattr(mod, "__version__", "") or "")
        streams = all(callable(getattr(counter, name, None)) for name in _STREAM_METHODS)
        return cls(
            source,
            module,
            attr,
            code,
            hashlib.sha256(file_bytes).hexdigest(),
            version,
            options.timeout_s,
            streams,
            shown,
        )

    @property
    def identity(self) -> CounterIdentity:
        details = {
            "module": self.module,
            "module_sha256": self.module_sha256,
            "attribute": self.attr,
            "version": self.version,
        }
        return CounterIdentity(
            "python",
            self.source,
            digest("python", self.attr, self.module_sha256, self.version),
            details,
        )

    @property
    def default_id(self) -> str:
        return self.attr.rsplit(".", 1)[-1]

    # -- running ------------------------------------------------------------------------
    def _live(self) -> _Live:
        key = (self.identity.sha256, os.getpid())
        live = _LIVE.get(key)
        if live is None:
            failed = _FAILED.get(key)
            if failed is not None:  # loading failed in this process: every case fails
                raise ConfigError(failed)
            worker = _Worker()  # the instance is made on the thread that will call it
            try:
                instance = _timed_load(worker, self.shown, self.timeout_s, self._instance)
            except ConfigError as exc:
                # Not tried again: a factory that hangs would cost its time limit per case.
                _FAILED[key] = str(exc)
                worker.shutdown()
                raise
            live = _LIVE[key] = _Live(instance, worker)
        return live

    def _instance(self) -> Any:
        mod = _load(self.shown, self.module, self.code)
        if self.code is None:
            file = getattr(mod, "__file__", None)
            got = hashlib.sha256(Path(file).read_bytes() if file else b"").hexdigest()
            if got != self.module_sha256:
                raise ConfigError(
                    f"counter {self.shown!r}: module file {file!r} has sha256 {got[:12]} "
                    f"in this process, the campaign recorded {self.module_sha256[:12]}; "
                    "install the same version everywhere"
                )
        return _instantiate(self.shown, _attribute(self.shown, mod, self.attr))

    def _call(self, fn: Any, trace: Trace, *args: Any) -> Any:  # fn(instance, trace, ...)
        live = self._live()
        events = tuple(dataclasses.replace(e) for e in trace.events)  # the truth, copied
        mine = Trace(trace.t.copy(), trace.samples.copy(), trace.fs, events, trace.params)
        with _same_working_directory():
            future = live.executor.submit(fn, live.instance, mine, *args)
            return self._answer(live, future)

    def _answer(self, live: _Live, future: cf.Future[Any]) -> Any:
        try:
            return future.result(timeout=self.timeout_s)
        except cf.TimeoutError:
            # The thread cannot be stopped: abandon it and this instance.
            live.executor.shutdown()
            _LIVE.pop((self.identity.sha256, os.getpid()), None)
            raise CounterFault(
                "timeout", f"no answer within the time limit of {self.timeout_s:g} s"
            ) from None
        except Exception:
            raise
        except BaseException as exc:  # SystemExit, KeyboardInterrupt raised by the counter
            if not (future.done() and future.exception() is exc):
                raise  # this process interrupted (Ctrl-C, SIGTERM) while it waited
            raise CounterFault("error", describe(exc)) from None

    def _count(self, trace: Trace, cache: dict[Any, Any]) -> CountResult:
        return self._call(_call_whole, trace, self.shown)

    def _stream(self, trace: Trace, chunk_s: float, cache: dict[Any, Any]) -> CountResult:
        return self._call(_call_streaming, trace, chunk_s, self.shown)

    def close(self) -> None:
        live = _LIVE.pop((self.identity.sha256, os.getpid()), None)
        if live is not None:
            live.executor.shutdown()


def _call_whole(instance: Any, trace: Trace, source: str) -> CountResult:
    out = instance(trace)
    where = f"counter {source!r}"
    if isinstance(out, CountResult):
        return CountResult(
            parse_detections(out, where), *parse_windows(out.centres, out.probs, where)
        )
    return plain_result(parse_detections(out, where))


@contextlib.contextmanager
def _same_working_directory() -> Iterator[None]:
    """Set the process's working directory back after a counter's call changed it."""
    try:
        cwd = os.getcwd()
    except OSError:  # it was removed: nothing to go back to
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if os.getcwd() != cwd:
                os.chdir(cwd)


def _timed_load(worker: _Worker, source: str, timeout_s: float, make: Any) -> Any:
    """``make()`` (import and factory) on ``worker``, refused if it takes too long."""
    limit = max(LOAD_TIMEOUT_S, timeout_s)
    with _same_working_directory():
        future = worker.submit(make)
        try:
            return future.result(timeout=limit)
        except cf.TimeoutError:
            worker.shutdown()
            raise ConfigError(
                f"counter {source!r}: importing it and creating the counter took more than "
                f"{limit:g} s (the limit is the larger of {LOAD_TIMEOUT_S:g} s and "
                "counter_timeout_s)"
            ) from None
        except ConfigError:
            raise
        except BaseException as exc:  # the counter's code, whatever it raised
            if not (future.done() and future.exception() is exc):
                raise  # this process interrupted (Ctrl-C, SIGTERM) while it waited
            raise ConfigError(
                f"counter {source!r}: loading it failed ({describe(exc, 200)})"
            ) from None


def _call_streaming(instance: Any, trace: Trace, chunk_s: float, source: str) -> CountResult:
    where = f"counter {source!r}"
    instance.start(float(trace.fs))
    dets, emitted = [], []
    for sl, delivered in chunks(trace, chunk_s):
        # each chunk its own copy: a slice's base would hold the samples not yet fed
        t, x = trace.t[sl].copy(), trace.samples[sl].copy()
        t.flags.writeable = x.flags.writeable = False
        got = parse_detections(instance.feed(t, x), f"{where} feed")
        dets += got
        emitted += [delivered] * len(got)
    got = parse_detections(instance.finish(), f"{where} finish")
    dets += got
    emitted += [float(trace.t[-1])] * len(got)
    return plain_result(dets, emitted)


def _load(source: str, module: str, code: bytes | None) -> types.ModuleType:
    """Import ``module`` (by name), or run ``code`` as a fresh module named after it."""
    try:
        if code is None:
            return importlib.import_module(module)
        name = "highfive_counter_" + hashlib.sha256(code).hexdigest()[:16]
        mod = sys.modules.get(name)
        if mod is None:
            mod = types.ModuleType(name)
            mod.__file__ = module
            sys.modules[name] = mod  # dataclasses and pickle look classes up here
            try:
                exec(compile(code, module, "exec"), mod.__dict__)
            except BaseException:
                sys.modules.pop(name, None)
                raise
        return mod
    except ModuleNotFoundError as exc:
        raise ConfigError(f"counter {source!r}: cannot import {module!r} ({exc})") from None
    except (Exception, SystemExit) as exc:  # a module that calls sys.exit() on import too
        raise ConfigError(
            f"counter {source!r}: importing {module!r} failed ({describe(exc, 200)})"
        ) from None


def _attribute(source: str, mod: types.ModuleType, attr: str) -> Any:
    obj: Any = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            where = mod.__file__ if mod.__name__.startswith("highfive_counter_") else mod.__name__
            raise ConfigError(f"counter {source!r}: {where!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(
            f"counter {source!r}: {attr!r} is a {type(obj).__name__}, not callable; give a "
            "counter function f(trace) or a factory returning one"
        )
    return obj


def _required(obj: Any) -> int | None:
    """Required positional parameters of ``obj``; None if it has no readable signature."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(
        p.default is p.empty and p.kind == inspect.Parameter.KEYWORD_ONLY
        for p in sig.parameters.values()
    ):
        return -1  # a required keyword-only argument: nothing we call can supply it
    return sum(p.default is p.empty and p.kind in kinds for p in sig.parameters.values())


def _instantiate(source: str, obj: Any) -> Any:
    """The counter ``obj`` names: itself (one argument) or what its factory returns."""
    n = _required(obj)
    if n == 1 and not inspect.isclass(obj):
        return obj
    if n == 0:
        try:
            counter = obj()
        except (Exception, SystemExit) as exc:
            raise ConfigError(
                f"counter {source!r}: calling the factory failed ({describe(exc, 200)})"
            ) from None
        if callable(counter) and _required(counter) in (1, None):
            return counter
        if not callable(counter) and all(
            callable(getattr(counter, m, None)) for m in _STREAM_METHODS
        ):
            raise ConfigError(
                f"counter {source!r}: the factory returned {type(counter).__name__}, which has "
                "start, feed and finish but no __call__(trace): a streaming counter counts "
                "a whole trace too"
            )
        raise ConfigError(
            f"counter {source!r}: the factory returned {type(counter).__name__}, which is not "
            "a counter: it must be callable with one argument, the trace"
        )
    sig = "?"
    with contextlib.suppress(TypeError, ValueError):
        sig = str(inspect.signature(obj))
    raise ConfigError(
        f"counter {source!r}: wrong signature {sig}; expected f(trace) -> detections, or a "
        "factory f() / class with no required arguments that returns one"
    )
