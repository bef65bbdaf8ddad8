"""Counter plug-ins: one contract for every kind, bad input, failures as findings."""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from highfive.generators import (
    ConfigError,
    Detection,
    InvalidParameter,
    RunDirError,
    default_space,
    synthesize,
)
from highfive.harness import (
    CounterFault,
    CounterOptions,
    CounterPlugin,
    CountResult,
    StreamingCounter,
    judge,
    load_counter,
    to_uniform,
)
from highfive.harness.counters import CounterChanged, chunks, load_recorded
from highfive.harness.counters.onnx import OnnxCounter

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "counters"
FAST = CounterOptions(timeout_s=2.0)


def _trace(seed: int = 3, **params: object) -> object:
    space = default_space()
    row = space.complete(space.validate({"motion": "high_five", **params}, partial=True))
    return synthesize(row, seed, space=space)


@pytest.fixture(scope="module")
def traces() -> list[object]:
    space = default_space()
    rng = np.random.default_rng(5)
    return [synthesize(space.rows(rng.random((1, space.d)))[0], i) for i in range(6)]


# -- one contract for every kind -------------------------------------------------------------
@pytest.fixture(params=["onnx", "python", "python-file-class", "exec"])
def counter(
    request: pytest.FixtureRequest,
    toy_model_path: Path,
    python_counters: Path,
    protocol_program: Callable[..., Path],
) -> CounterPlugin:
    source = {
        "onnx": str(toy_model_path),
        "python": f"{python_counters}:biggest",
        "python-file-class": f"{EXAMPLES / 'baseline.py'}:PeakCounter",
        "exec": f"exec:{protocol_program()}",
    }[request.param]
    c = load_counter(source, options=FAST)
    yield c
    c.close()


class TestCounterContract:
    """What campaigns, replay and count rely on, for every kind."""

    def test_counts_a_trace(self, counter: CounterPlugin, traces: list[object]) -> None:
        for trace in traces:
            res = counter.count(trace)
            assert isinstance(res, CountResult)
            assert all(isinstance(d, Detection) for d in res.detections)
            assert all(math.isfinite(d.time) and 0 <= d.score <= 1 for d in res.detections)
            assert res.emitted is None  # given whole: nothing was streamed
            assert res.probs.shape == res.centres.shape

    def test_same_answer_after_pickling(self, counter: CounterPlugin, traces: list[object]) -> None:
        clone = pickle.loads(pickle.dumps(counter))
        assert clone.identity == counter.identity
        for trace in traces[:3]:
            assert clone.count(trace).detections == counter.count(trace).detections

    def test_identity_is_stable(self, counter: CounterPlugin) -> None:
        ident = counter.identity
        again = load_counter(ident.source, version=ident.details.get("version", ""), options=FAST)
        assert again.identity == ident and again.kind == ident.kind
        assert len(ident.sha256) == 64 and ident.record("x")["kind"] == counter.kind

    @pytest.mark.parametrize("chunk_s", [0.1, 0.37, 1.0, 100.0])
    def test_streaming_emits_within_the_trace(
        self, counter: CounterPlugin, traces: list[object], chunk_s: float
    ) -> None:
        if not counter.streams:  # a campaign refuses to stream it, before any case
            with pytest.raises(ConfigError, match="needs a counter that can be fed"):
                counter.check(chunk_s=chunk_s)
            return
        for trace in traces:
            res = counter.count(trace, chunk_s=chunk_s)
            assert res.emitted is not None and res.emitted.shape == (len(res.detections),)
            t0, t1 = trace.t[0], trace.t[-1]
            assert np.all((res.emitted >= t0) & (res.emitted <= t1))
            # What a counter emits at a chunk's end can only be about samples before it
            # (the ONNX counter's detection time is a window centre, half a window back).
            slack = 1.0 if counter.kind == "onnx" else 1e-9
            pairs = zip(res.detections, res.emitted, strict=True)
            assert all(d.time <= e + slack for d, e in pairs)


def test_streaming_equals_whole_trace_for_the_baseline(traces: list[object]) -> None:
    counter = load_counter(f"{EXAMPLES / 'baseline.py'}:PeakCounter")
    for trace in traces:
        whole = counter.count(trace).detections
        for chunk_s in (0.05, 0.5, 3.0):
            assert counter.count(trace, chunk_s=chunk_s).detections == whole


def test_chunks_cover_every_sample_once() -> None:
    trace = _trace(duration=5.0)
    for c in (0.013, 0.2, 1.0, 7.0):
        parts = list(chunks(trace, c))
        idx = np.concatenate([np.arange(trace.t.size)[sl] for sl, _ in parts])
        assert np.array_equal(idx, np.arange(trace.t.size))
        delivered = [d for _, d in parts]
        assert delivered == sorted(delivered) and delivered[-1] == trace.t[-1]
        for sl, d in parts:  # every sample arrives at or after its own instant
            assert np.all(trace.t[sl] <= d + 1e-12)


@settings(max_examples=25)
@given(chunk_s=st.floats(0.02, 4.0), seed=st.integers(0, 50))
def test_onnx_emission_times_equal_a_real_streaming_run(
    toy_model_path: Path, chunk_s: float, seed: int
) -> None:
    """The ONNX counter derives emission times from the window that decided each event;
    feeding the resampled samples chunk by chunk to the streaming counter (scoring each
    window exactly as the batch did) must emit the same events at the same times."""
    counter = load_counter(str(toy_model_path))
    assert isinstance(counter, OnnxCounter)
    trace = _trace(seed=seed, repetitions=3, gap=1.0)
    res = counter.count(trace, chunk_s=chunk_s)
    spec = counter.model.spec
    tu, xu = to_uniform(trace.t, trace.samples, trace.fs, spec.sample_rate)
    batch_probs = iter(res.probs.tolist())
    stream = StreamingCounter(
        counter.pipeline.config, lambda w: np.array([next(batch_probs) for _ in range(len(w))])
    )
    got, emitted = [], []
    for sl, delivered in chunks(trace, chunk_s):
        # Resampled samples whose instants fall in this chunk arrive with it.
        lo = np.searchsorted(tu, trace.t[sl.start], "left") if sl.start else 0
        hi = tu.size if sl.stop == trace.t.size else np.searchsorted(tu, trace.t[sl.stop], "left")
        for d in stream.feed(xu[lo:hi]):
            got.append(d)
            emitted.append(delivered)
    for d in stream.finish():
        got.append(d)
        emitted.append(trace.t[-1])
    assert [d.score for d in got] == [d.score for d in res.detections]
    assert [d.time + tu[0] for d in got] == pytest.approx([d.time for d in res.detections])
    assert res.emitted is not None
    np.testing.assert_allclose(res.emitted, emitted, rtol=0, atol=1e-9)


# -- bad input: one line naming the counter --------------------------------------------------
@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(
            lambda p, c: "nosuchpkg.mod:f", r"cannot import 'nosuchpkg.mod'", id="no-module"
        ),
        pytest.param(lambda p, c: f"{c}:nope", r"has no attribute 'nope'", id="no-attribute"),
        pytest.param(
            lambda p, c: f"{c}:NOT_CALLABLE", r"is a int, not callable", id="not-callable"
        ),
        pytest.param(
            lambda p, c: f"{c}:two_args", r"wrong signature \(trace, other\)", id="signature"
        ),
        pytest.param(
            lambda p, c: f"{c}:broken_factory",
            r"factory failed \(RuntimeError: no licence",
            id="factory",
        ),
        pytest.param(
            lambda p, c: "missing.py:f", r"file '.*missing.py' does not exist", id="no-file"
        ),
        pytest.param(
            lambda p, c: "exec:./nowhere/prog",
            r"'.*nowhere/prog' does not exist",
            id="exec-missing",
        ),
        pytest.param(
            lambda p, c: "exec:no-such-program-here", r"is not on PATH", id="exec-not-on-path"
        ),
        pytest.param(  # '$' matched before the newline: the spec loaded as c:biggest
            lambda p, c: f"{c}:biggest\n",
            r"counter '.*:biggest\\n': expected package.module:attribute or "
            r"file.py:attribute with nothing around it",
            id="python-spec-newline",
        ),
        pytest.param(lambda p, c: "exec:", r"expected exec:PATH", id="exec-empty"),
        pytest.param(lambda p, c: "exec:'unclosed", r"cannot split the command", id="exec-quote"),
    ],
)
def test_bad_counters_are_refused_in_one_line(
    make: Callable[[Path, Path], str],
    match: str,
    protocol_program: Callable[..., Path],
    python_counters: Path,
) -> None:
    source = make(protocol_program(), python_counters)
    with pytest.raises(ConfigError, match=match) as info:
        load_counter(source, options=FAST).probe()
    assert "\n" not in str(info.value) and repr(source.split(":")[0])[1:-1] in str(info.value)


def test_exec_that_is_not_executable(protocol_program: Callable[..., Path]) -> None:
    prog = protocol_program()
    prog.chmod(0o644)
    with pytest.raises(ConfigError, match=r"is not executable \(chmod \+x it\)"):
        load_counter(f"exec:{prog}")


@pytest.mark.parametrize(
    ("mode", "match"),
    [
        (
            "exit_at_start",
            r"exited with status 3 while the harness waited for greeting; "
            r"stderr: cannot open the sensor config",
        ),
        ("garbage_at_start", r"greeted with b'Welcome to the counter!\\n'; expected"),
        ("hang_at_start", r"no answer within 1 s \(waiting for greeting\)"),
    ],
)
def test_programs_that_fail_at_start_are_refused(
    protocol_program: Callable[..., Path], mode: str, match: str
) -> None:
    c = load_counter(f"exec:{protocol_program(mode)}", options=CounterOptions(timeout_s=1.0))
    with pytest.raises(ConfigError, match=match):
        c.probe()
    c.close()


def test_version_is_for_python_counters_only(toy_model_path: Path) -> None:
    with pytest.raises(ConfigError, match="'version' is for Python counters"):
        load_counter(str(toy_model_path), version="2")


# -- failures during cases are findings ------------------------------------------------------
@pytest.mark.parametrize(
    ("attr", "match"),
    [
        ("malformed", r"returned item 0 = \('soon', 0.5\); times and scores are numbers"),
        ("bad_score", r"returned item 0 = \(1.0, 7.5\); the time must be finite and the score"),
        ("not_a_list", r"returned 3; expected a list of Detection"),
        # float() took "1.5" as 1.5 s and True as 1.0 s
        ("time_as_text", r"returned item 0 = '1.5'; times and scores are numbers"),
        ("time_as_bool", r"returned item 0 = True; times and scores are numbers"),
        # counted, though no plot could show them
        ("before_the_trace", r"returned a detection at -5 s, outside the trace \(0.00996377 to "),
        ("long_after_the_trace", r"returned a detection at 1e\+09 s, outside the trace"),
        ("windows_unequal", r"returned 3 window times and 2 probabilities; expected two lists"),
        # "returned 4 window times and 4 probabilities; expected two lists of one length"
        ("windows_2d", r"returned window times and probabilities of shapes \(2, 2\) and "),
        ("windows_nan", r"returned a window probability of nan; allowed: 0 to 1"),
        ("windows_above_one", r"returned a window probability of 7.0; allowed: 0 to 1"),
        ("windows_infinite_time", r"returned a window time that is not finite"),
    ],
)
def test_malformed_output_is_an_error_verdict(python_counters: Path, attr: str, match: str) -> None:
    c = load_counter(f"{python_counters}:{attr}")
    judged = judge({"c": c}, _trace(), 0.5)
    o = judged.outcomes["c"]
    assert o.verdict == "error" and judged.failed
    assert o.message is not None and __import__("re").search(match, o.message)
    assert o.predicted_count == 0 and o.fn == o.true_count == 1 and o.detection_times == []


def test_window_probabilities_given_as_lists_are_read(python_counters: Path) -> None:
    # CountResult with plain lists crashed count (AttributeError: 'list' ... 'size')
    # and stopped a whole campaign.
    c = load_counter(f"{python_counters}:windows_as_lists")
    result = c.count(_trace())
    assert result.centres.tolist() == [1.0, 2.0] and result.probs.tolist() == [0.25, 0.75]
    judged = judge({"c": c}, _trace(), 0.5)
    assert judged.outcomes["c"].verdict == "miss"


def test_a_raising_counter_fails_only_its_case(python_counters: Path) -> None:
    c = load_counter(f"{python_counters}:raises_on_long")
    short, long = _trace(duration=6.0), _trace(duration=15.0)
    assert judge({"c": c}, short, 0.5).outcomes["c"].verdict != "error"
    o = judge({"c": c}, long, 0.5).outcomes["c"]
    assert (o.verdict, o.message) == (
        "error",
        "ZeroDivisionError: division by zero in the peak finder",
    )
    assert judge({"c": c}, short, 0.5).outcomes["c"].verdict != "error"


def test_a_slow_python_counter_times_out(python_counters: Path) -> None:
    c = load_counter(f"{python_counters}:sleeps_on_long", options=CounterOptions(timeout_s=0.5))
    o = judge({"c": c}, _trace(duration=15.0), 0.5).outcomes["c"]
    assert (o.verdict, o.message) == ("timeout", "no answer within the time limit of 0.5 s")
    assert judge({"c": c}, _trace(duration=6.0), 0.5).outcomes["c"].verdict != "timeout"


@pytest.mark.parametrize("kind", ["python", "exec"])
def test_the_longest_counter_timeout_is_one_the_counters_can_wait(
    kind: str, python_counters: Path, protocol_program: Callable[..., Path]
) -> None:
    # Beyond about 9.2e9 s the timeouts of threads and select overflow: every case of a
    # Python counter was an error verdict, an exec counter a traceback. The campaign
    # refuses more than its bound; the bound itself must be usable.
    source = {"python": f"{python_counters}:biggest", "exec": f"exec:{protocol_program()}"}
    c = load_counter(source[kind], options=CounterOptions(timeout_s=86_400.0))
    try:
        c.probe()
        o = judge({"c": c}, _trace(), 0.5).outcomes["c"]
    finally:
        c.close()
    assert o.verdict not in ("error", "timeout"), o.message


@pytest.mark.parametrize(
    ("mode", "verdict", "match"),
    [
        ("crash_on_long", "error", r"exited with status 139 .*stderr: segmentation fault"),
        ("hang_on_long", "timeout", r"no answer within 1 s \(waiting for a DETS frame\)"),
        ("garbage_on_long", "error", r"sent b'oops, de' where a DETS frame"),
    ],
)
def test_a_failing_program_fails_its_case_and_is_restarted(
    protocol_program: Callable[..., Path], mode: str, verdict: str, match: str
) -> None:
    c = load_counter(f"exec:{protocol_program(mode)}", options=CounterOptions(timeout_s=1.0))
    short, long = _trace(duration=6.0), _trace(duration=15.0)
    try:
        first = judge({"c": c}, short, 0.5).outcomes["c"]
        second = judge({"c": c}, long, 0.5).outcomes["c"]  # after an answer: not retried
        third = judge({"c": c}, short, 0.5).outcomes["c"]  # a fresh process
    finally:
        c.close()
    assert first.verdict != "error" and third == first
    assert second.verdict == verdict and __import__("re").search(match, second.message or "")


@pytest.mark.parametrize("mode", ["junk_at_once", "junk_later", "exit_later", "crash_on_nth"])
def test_a_case_is_judged_as_on_a_fresh_program_whatever_came_before(
    tmp_path: Path, protocol_program: Callable[..., Path], mode: str
) -> None:
    # Bytes a program wrote after its last answer were blamed on the next case (or on
    # this one, if they came in the same read): run in order, a case failed that
    # passed alone, as replay and shrink run it. Now what a program does after its
    # last answer (write, exit) restarts it, and a program that fails a case before
    # its first answer after serving another runs the case again on a fresh start;
    # so a program that crashes on the second trace it sees fails no case either.
    c = load_counter(f"exec:{protocol_program(mode, nth=2)}", options=FAST)
    traces = [_trace(seed=s) for s in (1, 2, 3)]
    try:
        in_order = [judge({"c": c}, t, 0.5).outcomes["c"] for t in traces]
        alone = []
        for t in traces:
            c.close()
            alone.append(judge({"c": c}, t, 0.5).outcomes["c"])
    finally:
        c.close()
    said = [(o.verdict, o.message) for o in in_order]
    assert said == [(o.verdict, o.message) for o in alone]
    assert all(v not in ("error", "timeout") for v, _ in said), said


def test_a_program_that_exits_mid_case_is_said_to_have_done_so_one_way(
    protocol_program: Callable[..., Path],
) -> None:
    # A program exiting before it read a case was said to have "exited with status 3"
    # when the harness found it by writing more samples (a trace larger than a pipe
    # holds), and "... while the harness waited for a DETS frame" when by reading: one
    # crash gave either message as the timing fell, and replay called the case changed.
    c = load_counter(f"exec:{protocol_program('crash_on_begin')}", options=FAST)
    small = _trace(duration=6.0, sample_rate=25)  # 150 samples: written whole at once
    large = _trace(duration=20.0, sample_rate=200)  # 4,000: more than a pipe holds
    try:  # ten tries: each fell either way
        said = [judge({"c": c}, t, 0.5).outcomes["c"] for t in [small] + [large] * 10]
    finally:
        c.close()
    expected = "exited with status 3 while the harness waited for a DETS frame; stderr: crash"
    assert {(o.verdict, o.message) for o in said} == {("error", expected)}


def test_a_program_killed_by_a_signal_is_said_to_be(
    protocol_program: Callable[..., Path],
) -> None:
    # It was said to have "exited with status -11" (Popen's code for signal 11).
    c = load_counter(f"exec:{protocol_program('killed')}", options=FAST)
    try:
        o = judge({"c": c}, _trace(), 0.5).outcomes["c"]
    finally:
        c.close()
    assert (o.verdict, o.message) == (
        "error",
        "was killed by signal 11 (SIGSEGV) while the harness waited for a DETS frame",
    )


def test_a_failed_case_quotes_only_its_own_stderr(
    protocol_program: Callable[..., Path],
) -> None:
    """The program's stderr was one file for its whole life, and a failed case quoted
    its last line, written by an earlier case: run in order, the message differed from
    the same case's replay on a fresh program."""
    c = load_counter(f"exec:{protocol_program('warns_then_exits')}", options=FAST)
    short, long = _trace(duration=6.0), _trace(duration=15.0)  # 300 and 750 samples
    try:
        warned = judge({"c": c}, short, 0.5).outcomes["c"]
        after = judge({"c": c}, long, 0.5).outcomes["c"]
        c.close()
        alone = judge({"c": c}, long, 0.5).outcomes["c"]
    finally:
        c.close()
    assert warned.verdict not in ("error", "timeout"), warned.message
    assert after.verdict == "error" and (after.message or "").startswith("exited with status 3")
    assert (after.verdict, after.message) == (alone.verdict, alone.message)
    assert "warning" not in (after.message or "")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie no init reaps is not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("how", ["timeout", "close"])
def test_a_stopped_program_takes_its_children_with_it(tmp_path: Path, how: str) -> None:
    # Only the direct child was killed: a launcher script's own child (the firmware
    # build it runs) outlived the harness, one orphan per timed-out case.
    child = tmp_path / "child.py"
    child.write_text(
        "import os, sys, time\n"
        f"open({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))\n"
        "sys.stdout.buffer.write(b'highfive-counter 1\\n'); sys.stdout.flush()\n"
        "time.sleep(60)\n"
    )
    launcher = tmp_path / "launch.sh"
    launcher.write_text(f"#!/bin/sh\n{shlex.quote(sys.executable)} {shlex.quote(str(child))}\n")
    launcher.chmod(0o755)
    c = load_counter(f"exec:{launcher}", options=CounterOptions(timeout_s=0.5))
    pid = 0
    try:
        c.probe()
        pid = int((tmp_path / "pid").read_text())
        if how == "timeout":
            with pytest.raises(CounterFault, match=r"no answer within 0.5 s"):
                c.count(_trace())
        c.close()
        deadline = time.monotonic() + 2.0
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not _alive(pid)
    finally:
        c.close()
        if pid and _alive(pid):
            os.kill(pid, 9)


def test_streaming_needs_a_streaming_python_counter(python_counters: Path) -> None:
    with pytest.raises(ConfigError, match=r"stream_chunk_s = 0.5 needs a counter that can be fed"):
        load_counter(f"{python_counters}:biggest").check(chunk_s=0.5)
    load_counter(f"{python_counters}:Streaming").check(chunk_s=0.5)


# -- latency ---------------------------------------------------------------------------------
class _Fixed(CounterPlugin):
    """Detects each high-five at its impact and emits it ``delay`` seconds later."""

    kind = "fixed"
    streams = True

    def __init__(self, delay: float) -> None:
        self.delay = delay

    @classmethod
    def claims(cls, source: str) -> bool:
        return False

    @classmethod
    def from_source(cls, source: str, *, version: str = "", options: CounterOptions) -> object:
        raise NotImplementedError

    @property
    def identity(self) -> object:
        raise NotImplementedError

    def _count(self, trace: object, cache: dict[object, object]) -> CountResult:
        raise NotImplementedError

    def _stream(self, trace: object, chunk_s: float, cache: dict[object, object]) -> CountResult:
        dets = [Detection(e.centre, 1.0) for e in trace.events if e.is_high_five]
        emitted = np.array([d.time + self.delay for d in dets])
        return CountResult(dets, np.empty(0), np.empty(0, np.float32), emitted)


def test_latency_is_worst_emission_minus_impact() -> None:
    trace = _trace(repetitions=3, gap=1.5, duration=14.0)
    o = judge({"c": _Fixed(0.4)}, trace, 0.5, chunk_s=0.5).outcomes["c"]
    assert o.verdict == "pass" and o.latency_s == pytest.approx(0.4, abs=1e-6)
    assert math.isnan(judge({"c": _Fixed(0.4)}, trace, 0.5).outcomes["c"].latency_s)


def test_latency_of_a_streaming_counter_is_its_chunk_end(python_counters: Path) -> None:
    c = load_counter(f"{python_counters}:Streaming")
    trace = _trace(seed=1)
    for chunk_s in (0.25, 1.0):
        res = c.count(trace, chunk_s=chunk_s)
        [d] = res.detections
        k = math.floor((d.time - trace.t[0]) / chunk_s) + 1
        assert res.emitted is not None
        assert res.emitted[0] == pytest.approx(min(trace.t[0] + k * chunk_s, trace.t[-1]))


# -- identity ---------------------------------------------------------------------------------
def test_a_changed_python_counter_is_refused_when_loaded_from_a_record(
    python_counters: Path,
) -> None:
    c = load_counter(f"{python_counters}:biggest")
    entry = c.identity.record("mine")
    assert load_recorded(entry).identity == c.identity
    python_counters.write_text(python_counters.read_text() + "\n# changed\n")
    with pytest.raises(RunDirError, match=r"counter 'mine': .* now a python counter with identity"):
        load_recorded(entry)


def test_version_changes_the_identity(python_counters: Path) -> None:
    a = load_counter(f"{python_counters}:biggest")
    b = load_counter(f"{python_counters}:biggest", version="2.0")
    assert a.identity.details["version"] == "0.1" and b.identity.details["version"] == "2.0"
    assert a.identity.sha256 != b.identity.sha256


# -- the C port of the baseline, built with the system compiler ------------------------------
@pytest.fixture(scope="module")
def c_counter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler on PATH (cc, gcc or clang)")
    out = tmp_path_factory.mktemp("c") / "peak_counter"
    subprocess.run(
        [cc, "-O2", "-o", str(out), str(EXAMPLES / "peak_counter.c"), "-lm"],
        check=True,
        capture_output=True,
    )
    return out


def test_the_c_port_counts_like_the_python_baseline(c_counter: Path, traces: list[object]) -> None:
    port = load_counter(f"exec:{c_counter}")
    ref = load_counter(f"{EXAMPLES / 'baseline.py'}:PeakCounter")
    try:
        port.probe()
        for trace in traces:
            a, b = port.count(trace).detections, ref.count(trace).detections
            assert len(a) == len(b)  # float32 against float64: same events,
            # times within a sample, scores within float32 noise
            for x, y in zip(a, b, strict=True):
                assert abs(x.time - y.time) <= 1.01 / trace.fs
                assert x.score == pytest.approx(y.score, abs=1e-3)
            streamed = port.count(trace, chunk_s=0.3)
            assert streamed.detections == a and streamed.emitted is not None
    finally:
        port.close()


def test_unknown_protocol_reply_is_reported(protocol_program: Callable[..., Path]) -> None:
    fault = None
    c = load_counter(f"exec:{protocol_program('garbage_on_nth', nth=1)}", options=FAST)
    try:
        c.count(_trace())
    except CounterFault as exc:
        fault = exc
    finally:
        c.close()
    assert fault is not None and fault.verdict == "error"


def test_a_relative_program_runs_the_file_it_names_not_one_on_path(
    tmp_path: Path,
    protocol_program: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 'exec:./cnt' was checked and hashed as ./cnt but run as 'cnt', which Popen looks
    # up on PATH: another program ran under the local file's identity.
    import json

    from highfive.harness.cli import main

    protocol_program("ok", name="cnt")
    (tmp_path / "bin").mkdir()
    protocol_program("silent", name="other").rename(tmp_path / "bin" / "cnt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    assert main(["synth", "high_five", "--csv", "hf.csv"]) == 0
    capsys.readouterr()
    assert main(["count", "hf.csv", "--model", "exec:./cnt", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["count"] == 1  # the local program; the one on PATH never detects


def test_a_script_argument_resolves_against_the_campaign_folder_and_is_hashed(
    tmp_path: Path, protocol_program: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 'exec:python3 counter.py' ran the script from the working directory and hashed
    # the interpreter alone: from another folder it did not start, and an edited
    # script kept the identity, so replay compared against another counter's results.
    folder, elsewhere = tmp_path, tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = protocol_program(name="counter.py")
    script.chmod(0o644)  # run by the interpreter: need not be executable
    monkeypatch.chdir(elsewhere)
    options = CounterOptions(timeout_s=2.0, base=str(folder))
    c = load_counter(f"exec:{shlex.quote(sys.executable)} counter.py --gain 2", options=options)
    try:
        c.probe()
        assert judge({"c": c}, _trace(), 0.5).outcomes["c"].verdict not in ("error", "timeout")
    finally:
        c.close()
    assert c.identity.details["argv"][1:] == [str(script), "--gain", "2"]  # as run
    assert c.identity.details["arg_sha256"] == {  # as written
        "counter.py": hashlib.sha256(script.read_bytes()).hexdigest()
    }
    entry = c.identity.record("mine")
    assert load_recorded(entry, options).identity == c.identity  # against the same base
    # A copy of the campaign folder elsewhere holds the same counter.
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(script, copy / "counter.py")
    moved = CounterOptions(timeout_s=2.0, base=str(copy))
    assert load_recorded(entry, moved).identity.sha256 == c.identity.sha256
    script.write_text(script.read_text() + "\n# tuned\n")
    with pytest.raises(RunDirError, match=r"counter 'mine': .* restore the counter"):
        load_recorded(entry, options)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("{python} counter.py --gain 2", "counter"),
        ("{python} -u tools/peak.v2.py cfg.json", "peak.v2"),  # the first file named
        ("{python} -m some.module", "python"),  # names no file: the interpreter's name
        ("./prog counter.py", "prog"),  # not an interpreter: the program's name
    ],
)
def test_an_interpreter_takes_its_id_from_the_script_it_runs(
    tmp_path: Path, protocol_program: Callable[..., Path], command: str, expected: str
) -> None:
    # 'exec:python3 counter.py' got the id 'python3': two scripts run by one
    # interpreter collided, and results named the interpreter, not the counter.
    protocol_program(name="prog")
    (tmp_path / "tools").mkdir()
    for name in ("counter.py", "tools/peak.v2.py", "cfg.json"):
        (tmp_path / name).write_text("# a script\n")
    python = tmp_path / "bin" / "python"  # what interpreters are called, not sys.executable's
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    options = CounterOptions(base=str(tmp_path))
    c = load_counter("exec:" + command.format(python=shlex.quote(str(python))), options=options)
    assert c.default_id == expected


@pytest.mark.parametrize(
    "name",
    [
        "python",
        "python3",
        "python3.12",
        "pypy3",
        "node",
        "bash",
        "sh",
        "Rscript",
        "julia",
        "perl",
        "ruby",
        "java",
    ],
)
def test_the_interpreters_are_the_documented_ones(name: str) -> None:
    from highfive.harness.counters.exec import INTERPRETERS

    assert INTERPRETERS.fullmatch(name)
    for other in (f"{name}-config", f"my{name}", "firmware", "python3.", "python2.7x"):
        assert not INTERPRETERS.fullmatch(other), other


def test_a_recorded_counter_moved_with_its_folder_is_loaded_from_the_new_place(
    tmp_path: Path, protocol_program: Callable[..., Path], python_counters: Path
) -> None:
    # Records hold absolute sources: a moved campaign folder was looked for where it was.
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    protocol_program(name="old/prog")
    shutil.copy(python_counters, old / "mine.py")
    options = CounterOptions(timeout_s=2.0, base=str(old))
    entries = [
        load_counter(source, options=options).identity.record(cid)
        for cid, source in (("p", "exec:./prog --gain 2"), ("py", "mine.py:biggest"))
    ]
    old.rename(new)
    moved = CounterOptions(timeout_s=2.0, base=str(new))
    for entry in entries:
        c = load_recorded(entry, moved, moved_from=str(old))
        assert c.identity.sha256 == entry["sha256"]
        assert str(new) in c.identity.source and str(old) not in c.identity.source
    with pytest.raises(ConfigError, match=r"'.*old/prog' does not exist"):
        load_recorded(entries[0], moved)  # where the run recorded it


def test_a_program_without_file_arguments_keeps_its_identity(
    protocol_program: Callable[..., Path],
) -> None:
    # Runs recorded before file arguments were hashed still resume and replay.
    from highfive.harness.counters._base import digest

    prog = protocol_program()
    c = load_counter(f"exec:{prog} --gain 2")
    sha = hashlib.sha256(prog.read_bytes()).hexdigest()
    assert c.identity.sha256 == digest("exec", sha, ["--gain", "2"])
    assert set(c.identity.details) == {"file_sha256", "argv"}


def test_a_missing_script_argument_is_named_in_one_line(tmp_path: Path) -> None:
    c = load_counter(
        f"exec:{shlex.quote(sys.executable)} countr.py 0.5 --fast",
        options=CounterOptions(timeout_s=2.0, base=str(tmp_path)),
    )
    with pytest.raises(ConfigError) as info:
        c.probe()
    said = str(info.value)
    assert "\n" not in said
    assert said.endswith(
        f"('countr.py': no such file or folder in {str(tmp_path)!r}, the folder relative "
        "arguments resolve against)"
    )


def test_a_recorded_counter_without_its_source_is_damage_not_a_key_error() -> None:
    with pytest.raises(RunDirError, match=r"counter 'float': the run records no source to load"):
        load_recorded({"id": "float", "kind": "onnx", "sha256": "0" * 64})


@given(st.lists(st.floats(0.0, 10.0, allow_nan=False), max_size=8))
def test_detections_come_in_time_order_whatever_order_a_counter_gives(times: list[float]) -> None:
    # A Python counter returning [5.0, 1.0] was printed (and written to --json) in that
    # order, though a recording's detections are documented to be in time order.
    from highfive.harness.counters._base import parse_detections

    out = parse_detections([(t, 0.5) for t in times], "counter")
    assert [d.time for d in out] == sorted(times)


@pytest.mark.parametrize("chunk_s", [1e-12, 0.0009, -0.25, math.inf, math.nan])
def test_a_chunk_too_short_to_hold_samples_is_refused(
    chunk_s: float, python_counters: Path
) -> None:
    """1e-12 s made every case an error ('Unable to allocate 74.6 TiB'): the harness's
    own failure recorded as the counter's."""
    c = load_counter(f"{python_counters}:Streaming")
    with pytest.raises(InvalidParameter, match=r"^chunk_s: got .*; must be 0 \(the whole"):
        c.count(_trace(), chunk_s=chunk_s)
    assert c.count(_trace(), chunk_s=0.001).emitted is not None  # the shortest allowed


def test_an_argument_edited_before_a_restart_stops_the_work(
    protocol_program: Callable[..., Path],
) -> None:
    """An interpreter's script is read again at each start: edited, it is refused, not
    run as the counter under test or blamed on it as an error verdict."""
    script = protocol_program(name="counter.py")
    c = load_counter(f"exec:{shlex.quote(sys.executable)} {script}", options=FAST)
    try:
        assert judge({"c": c}, _trace(), 0.5).outcomes["c"].verdict != "error"
        script.write_text(script.read_text() + "\n# tuned\n")
        assert judge({"c": c}, _trace(), 0.5).outcomes["c"].verdict != "error"  # still running
        c.close()
        with pytest.raises(CounterChanged, match=r"its argument '.*counter\.py' changed since"):
            judge({"c": c}, _trace(), 0.5)
    finally:
        c.close()


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("def make():\n    return 3\n", "the factory returned int, which is not a counter"),
        (  # start, feed and finish alone: the whole-trace call was not said to be missing
            "class Stream:\n"
            "    def start(self, fs): pass\n"
            "    def feed(self, t, x): return []\n"
            "    def finish(self): return []\n",
            "the factory returned Stream, which has start, feed and finish but no "
            "__call__(trace): a streaming counter counts a whole trace too",
        ),
    ],
)
def test_a_factory_that_makes_no_counter_says_what_it_made(
    tmp_path: Path, body: str, said: str
) -> None:
    (tmp_path / "c.py").write_text(body)
    name = body.split()[1].split("(")[0].rstrip(":")
    with pytest.raises(ConfigError) as err:
        load_counter(f"{tmp_path / 'c.py'}:{name}")
    assert said in str(err.value), str(err.value)


def test_a_program_s_paths_in_what_it_says_are_rewritten_whole_only(
    tmp_path: Path, protocol_program: Callable[..., Path]
) -> None:
    # The paths a program was started with were replaced as plain text: with '.' as an
    # argument, /var/PROJECT became /var. and PROJECT0/x became .0/x; 'data/' left
    # data//other.
    from highfive.harness.counters import CounterOptions

    (tmp_path / "data").mkdir()
    protocol_program(name="prog")
    c = load_counter("exec:./prog . data/", options=CounterOptions(base=str(tmp_path)))
    try:
        said = {
            f"{tmp_path}/prog: no such rate": "./prog: no such rate",
            f"/var{tmp_path}/prog: x": f"/var{tmp_path}/prog: x",
            f"{tmp_path}0/x": f"{tmp_path}0/x",
            f"{tmp_path}/data/other": "data/other",
            f"'{tmp_path}/prog' and {tmp_path}": "'./prog' and .",
        }
        assert {k: c._as_written(k) for k in said} == said  # type: ignore[attr-defined]
    finally:
        c.close()


def test_real_time_signals_are_named() -> None:
    import signal

    from highfive.harness.counters.exec import _signal_name

    low = int(signal.SIGRTMIN)
    assert [_signal_name(n) for n in (11, low, low + 1, int(signal.SIGRTMAX))] == [
        "SIGSEGV",
        "SIGRTMIN",
        "SIGRTMIN+1",
        "SIGRTMAX",
    ]
