"""Python counters that misbehave in ways that once took the harness down with them.

Each case here was reproduced through ``highfive run`` or ``highfive count``: a counter
that never returns kept the process from exiting; ``sys.exit`` in a counter (or in its
module's import) ended the campaign; 40,000 detections crashed the results writer; a
counter's print went into ``count --json``; a generator's repr put a memory address in
the stored message, so replay saw a difference; a missing attribute named an internal
module.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from highfive.generators import ConfigError, default_space, synthesize
from highfive.harness import CounterOptions, judge, load_counter

COUNTERS = """
import os, sys, time

def truth(trace):
    return [(float(e.centre), 1.0) for e in trace.events if e.is_high_five]

def hangs(trace):
    time.sleep(3600)

def exits(trace):
    sys.exit(3)

def interrupts(trace):
    raise KeyboardInterrupt

def slow(trace):
    time.sleep(2)
    return truth(trace)

def many(trace):
    return [0.5] * 40_000

def generator(trace):
    return (t for t, _ in truth(trace))

def prints(trace):
    print("HELLO FROM COUNTER")
    return truth(trace)

def counts_none(trace):
    return []

def boom(trace):
    raise RuntimeError("boom")

def moves_away(trace):
    os.chdir(os.environ["HIGHFIVE_TEST_ELSEWHERE"])
    return truth(trace)

def writes_through(trace):
    trace.samples.setflags(write=True)
    trace.samples[:] = 0.0
    return []

class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no message")

def unprintable(trace):
    raise Unprintable()

class ExitsWhenRead:
    def __float__(self):
        sys.exit(4)

def exits_when_read(trace):
    return [ExitsWhenRead()]

class InterruptsWhenRead(list):
    def __iter__(self):
        raise KeyboardInterrupt

def interrupts_when_read(trace):
    return InterruptsWhenRead([1.0])

class SlowToMake:
    def __init__(self):
        time.sleep(3600)
    def __call__(self, trace):
        return []

def two_line_factory():
    raise ValueError("first line\\nsecond line")

def unsays_the_truth(trace):
    for e in trace.events:
        object.__setattr__(e, "is_high_five", False)
    return []

class ExitsWhenShown(Exception):
    def __str__(self):
        raise SystemExit(5)

def raises_exits_when_shown(trace):
    raise ExitsWhenShown()

def factory_exits_when_shown():
    raise ExitsWhenShown()

def factory_interrupts():
    raise KeyboardInterrupt

class Peeks:
    def start(self, fs):
        self.seen = 0
    def feed(self, t, samples):
        self.seen = max(self.seen, len(samples.base) if samples.base is not None else len(samples))
        return []
    def finish(self):
        return [] if self.seen <= 200 else [0.5]
    def __call__(self, trace):
        return []

def _keep_moving_away(stop):
    while not os.path.exists(stop):
        os.chdir(os.environ["HIGHFIVE_TEST_ELSEWHERE"])
        time.sleep(0.001)

def moves_away_later(trace):
    import threading
    stop = os.environ["HIGHFIVE_TEST_STOP"]
    threading.Thread(target=_keep_moving_away, args=(stop,), daemon=True).start()
    return []

class SeesAhead:
    def start(self, fs):
        self.said = False
    def feed(self, t, samples):
        if self.said:
            return []
        self.said = True
        return [float(t[0]) + 3.0]
    def finish(self):
        return []
    def __call__(self, trace):
        return []
"""


@pytest.fixture
def counters(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.py"
    path.write_text(COUNTERS)
    return path


def _trace() -> object:
    space = default_space().restrict(motion="high_five", duration=6.0, sample_rate=50)
    return synthesize(space.nominal(), 1)


@pytest.mark.parametrize(
    ("attr", "match"),
    [
        ("exits", "SystemExit: 3"),
        ("interrupts", "KeyboardInterrupt"),
        ("many", "returned 40,000 detections; at most 32,767 per case"),
    ],
)
def test_a_counter_that_exits_interrupts_or_floods_fails_its_case(
    counters: Path, attr: str, match: str
) -> None:
    outcome = judge({"c": load_counter(f"{counters}:{attr}")}, _trace(), 0.5).outcomes["c"]
    assert outcome.verdict == "error" and outcome.message is not None
    assert match in outcome.message


def test_an_interrupt_of_the_process_while_a_counter_runs_is_not_its_failure(
    counters: Path,
) -> None:
    """Ctrl-C or SIGTERM (which the command line turns into KeyboardInterrupt) while the
    harness waits for a counter stops the command; it is not the counter's error."""
    import os
    import signal
    import threading

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    counter = load_counter(f"{counters}:slow")
    previous = signal.signal(signal.SIGUSR1, interrupt)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            judge({"c": counter}, _trace(), 0.5)
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
        counter.close()


def test_a_counter_that_gives_no_count_agrees_with_no_other(counters: Path) -> None:
    # "boom" raises: recorded as error with a predicted count of 0, which
    # counts_none also counts. A campaign's agreement counted such a case as agreeing.
    trace = _trace()
    pair = {m: load_counter(f"{counters}:{m}") for m in ("counts_none", "boom")}
    judged = judge(pair, trace, 0.5)
    assert [o.predicted_count for o in judged.outcomes.values()] == [0, 0]
    assert judged.outcomes["boom"].verdict == "error" and not judged.agree
    same = {m: load_counter(f"{counters}:counts_none") for m in ("a", "b")}
    assert judge(same, trace, 0.5).agree


def test_the_stored_message_holds_no_memory_address(counters: Path) -> None:
    messages = {
        judge({"c": load_counter(f"{counters}:generator")}, _trace(), 0.5).outcomes["c"].message
        for _ in range(3)
    }
    assert len(messages) == 1, messages
    assert " at 0x" not in messages.pop()  # type: ignore[operator]


def test_a_module_that_exits_on_import_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "quits.py").write_text("import sys\nsys.exit(4)\ndef f(trace):\n    return []\n")
    with pytest.raises(ConfigError, match=r"importing .*quits.py' failed \(SystemExit: 4\)"):
        load_counter(f"{tmp_path / 'quits.py'}:f")


def test_a_missing_attribute_names_the_file(counters: Path) -> None:
    with pytest.raises(ConfigError, match=r"hostile.py' has no attribute 'nothing'"):
        load_counter(f"{counters}:nothing")


def test_a_command_with_a_hung_counter_still_exits(counters: Path, tmp_path: Path) -> None:
    # The timed-out call's thread is abandoned; it must not keep the process alive.
    code = textwrap.dedent(
        f"""
        from highfive.generators import default_space, synthesize
        from highfive.harness import CounterOptions, judge, load_counter
        space = default_space().restrict(motion="high_five", duration=6.0, sample_rate=50)
        c = load_counter({str(counters)!r} + ":hangs", options=CounterOptions(timeout_s=0.5))
        print(judge({{"c": c}}, synthesize(space.nominal(), 1), 0.5).outcomes["c"].verdict)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.strip() == "timeout", done.stderr


def test_count_json_is_not_mixed_with_what_a_counter_prints(
    counters: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from highfive.harness.cli import main

    rec = tmp_path / "rec.csv"
    assert main(["synth", "high_five", "--csv", str(rec)]) == 0
    capsys.readouterr()
    assert main(["count", str(rec), "--model", f"{counters}:prints", "--json"]) == 0
    out, err = capsys.readouterr()
    assert isinstance(json.loads(out)["count"], int)  # stdout is the JSON alone
    assert "HELLO FROM COUNTER" in err


@pytest.mark.parametrize("how", ["os.write", "child"])
def test_count_json_is_not_mixed_with_what_a_counter_writes_to_the_descriptor(
    how: str, tmp_path: Path
) -> None:
    """Only sys.stdout went to stderr: os.write(1, ...), a child process or C code
    still wrote into the document, and json.load failed on 'RAW'."""
    write = {
        "os.write": "os.write(1, b'RAW FROM COUNTER\\n')",
        "child": "subprocess.run([sys.executable, '-c', 'print(\"RAW FROM COUNTER\")'])",
    }[how]
    (tmp_path / "fd.py").write_text(
        f"import os, subprocess, sys\n{write}\ndef count(trace):\n    {write}\n    return []\n"
    )
    code = "import sys; from highfive.harness.cli import main; raise SystemExit(main(sys.argv[1:]))"
    cli = [sys.executable, "-c", code]
    subprocess.run([*cli, "synth", "high_five", "--csv", "rec.csv"], cwd=tmp_path, check=True)
    done = subprocess.run(
        [*cli, "count", "rec.csv", "--model", "fd.py:count", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["count"] == 0  # stdout is the JSON alone
    assert done.stderr.count("RAW FROM COUNTER") == 2  # on import, and when counting


def test_options_keep_their_time_limit(counters: Path) -> None:
    c = load_counter(f"{counters}:hangs", options=CounterOptions(timeout_s=0.3))
    outcome = judge({"c": c}, _trace(), 0.5).outcomes["c"]
    assert (outcome.verdict, outcome.message) == (
        "timeout",
        "no answer within the time limit of 0.3 s",
    )


# -- a counter's reach into the harness -------------------------------------------------
def _run_in_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counter: str, name: str
) -> tuple[Path, Path, Any]:
    """A 4-case campaign of ``counter`` run from ``here`` with the default, relative
    ``out``; the counter's environment names the folder ``elsewhere`` it moves to."""
    from highfive.harness import CampaignConfig, ExecutionConfig, run_campaign

    elsewhere, here = tmp_path / "elsewhere", tmp_path / "here"
    elsewhere.mkdir()
    here.mkdir()
    monkeypatch.setenv("HIGHFIVE_TEST_ELSEWHERE", str(elsewhere))
    monkeypatch.chdir(here)
    cfg = CampaignConfig(
        name=name,
        cases=4,
        batch_size=1,
        models=({"counter": counter, "id": "c"},),
        execution=ExecutionConfig(workers=0),
    )
    return here, elsewhere, run_campaign(cfg, stream=None)


def test_a_counter_that_changes_the_working_directory_moves_nothing(
    counters: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With workers = 0 the run directory ("runs" by default) is relative to the working
    # directory: a counter's os.chdir sent the run's files to another folder, and left
    # the one the command named "running".
    here, elsewhere, summary = _run_in_here(
        tmp_path, monkeypatch, f"{counters}:moves_away", "moved"
    )
    assert summary.complete and Path.cwd() == here
    assert (here / "runs" / "moved" / "manifest.jsonl").is_file()
    assert not (elsewhere / "runs").exists()


def test_a_counter_cannot_change_the_trace_the_others_see(counters: Path) -> None:
    trace = _trace()
    before = trace.samples.copy()
    pair = {m: load_counter(f"{counters}:{m}") for m in ("writes_through", "truth")}
    judged = judge(pair, trace, 0.5)
    assert judged.outcomes["truth"].verdict == "pass"
    assert np.array_equal(trace.samples, before)  # the corpus keeps the real trace


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ("unprintable", "Unprintable (its message could not be shown: RuntimeError)"),
        ("exits_when_read", "SystemExit: 4"),
        ("interrupts_when_read", "KeyboardInterrupt"),
    ],
)
def test_what_a_counters_own_objects_raise_when_read_is_its_error(
    counters: Path, attr: str, message: str
) -> None:
    # Each escaped the harness: a traceback and exit 1, exit 4 without a word, or a run
    # "interrupted" (exit 130).
    outcome = judge({"c": load_counter(f"{counters}:{attr}")}, _trace(), 0.5).outcomes["c"]
    assert (outcome.verdict, outcome.message) == ("error", message)


def test_a_factory_that_hangs_is_refused_in_one_line(
    counters: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from highfive.harness.counters import python

    monkeypatch.setattr(python, "LOAD_TIMEOUT_S", 0.3)
    with pytest.raises(ConfigError, match=r"SlowToMake'.*took more than 0.3 s") as err:
        load_counter(f"{counters}:SlowToMake", options=CounterOptions(timeout_s=0.2))
    assert "\n" not in str(err.value)


def test_a_factorys_error_of_several_lines_is_shown_in_one(counters: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(ValueError: first line\)$") as err:
        load_counter(f"{counters}:two_line_factory")
    assert "\n" not in str(err.value)


def test_a_streaming_counter_cannot_report_what_it_was_not_fed(counters: Path) -> None:
    # It answered 3 s ahead of the samples fed, and the campaign recorded negative
    # detection latencies.
    c = load_counter(f"{counters}:SeesAhead")
    outcome = judge({"c": c}, _trace(), 0.5, chunk_s=1.0).outcomes["c"]
    assert outcome.verdict == "error" and outcome.message is not None
    assert "cannot see ahead" in outcome.message


def test_a_counter_cannot_change_the_truth_it_is_judged_by(counters: Path) -> None:
    # The events were the harness's own: a counter that set is_high_five to False on
    # them passed every case without counting, and failed the real model beside it.
    trace = _trace()
    pair = {m: load_counter(f"{counters}:{m}") for m in ("unsays_the_truth", "truth")}
    judged = judge(pair, trace, 0.5)
    assert judged.outcomes["unsays_the_truth"].verdict == "miss"
    assert judged.outcomes["truth"].verdict == "pass"
    assert all(e.is_high_five for e in trace.events if e.motion == "high_five")


def test_an_exception_whose_message_exits_is_still_a_finding(counters: Path) -> None:
    # str(exc) raising SystemExit ended the command silently with exit 5.
    outcome = judge(
        {"c": load_counter(f"{counters}:raises_exits_when_shown")}, _trace(), 0.5
    ).outcomes["c"]
    assert (outcome.verdict, outcome.message) == (
        "error",
        "ExitsWhenShown (its message could not be shown: SystemExit)",
    )


@pytest.mark.parametrize(
    ("attr", "shown"),
    [
        ("factory_exits_when_shown", "ExitsWhenShown (its message could not be shown"),
        ("factory_interrupts", "loading it failed (KeyboardInterrupt)"),
    ],
)
def test_a_factory_that_exits_or_interrupts_is_refused_in_one_line(
    counters: Path, attr: str, shown: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(shown)) as err:
        load_counter(f"{counters}:{attr}")
    assert "\n" not in str(err.value)


def test_a_streaming_counter_is_fed_only_the_samples_of_its_chunks(counters: Path) -> None:
    # The chunks were slices of the whole trace: their base held every sample.
    c = load_counter(f"{counters}:Peeks")
    outcome = judge({"c": c}, _trace(), 0.5, chunk_s=1.0).outcomes["c"]
    assert outcome.verdict == "miss" and outcome.predicted_count == 0


def test_a_counter_that_failed_to_load_in_a_process_is_not_loaded_again(
    counters: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A factory that hangs on its second making (a device the first one holds) cost
    # the load limit on every case: 4 cases took 4 minutes.
    from highfive.harness.counters import python

    c = load_counter(f"{counters}:truth")
    c.close()  # an instance made by an earlier test would be used
    calls = []

    def hangs(self: object) -> object:
        calls.append(1)
        raise ConfigError("counter 'x': importing it and creating the counter took more than 60 s")

    monkeypatch.setattr(python.PythonCounter, "_instance", hangs)
    outcomes = [judge({"c": c}, _trace(), 0.5).outcomes["c"] for _ in range(3)]
    assert [o.verdict for o in outcomes] == ["error"] * 3 and len(calls) == 1
    python._FAILED.clear()


def test_a_counter_that_moves_away_between_calls_moves_nothing(
    counters: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A thread a counter leaves behind (one abandoned at its time limit, or started by
    # it) changed the working directory while the campaign wrote a batch: "cannot
    # write runs/late/failures/part-000000.parquet", no manifest, and a campaign.json
    # in the other folder.
    import time

    stop = tmp_path / "stop"
    monkeypatch.setenv("HIGHFIVE_TEST_STOP", str(stop))
    try:
        here, elsewhere, summary = _run_in_here(
            tmp_path, monkeypatch, f"{counters}:moves_away_later", "late"
        )
    finally:
        stop.touch()
        time.sleep(0.05)  # the threads see it and end
    assert summary.complete and summary.run_dir == Path("runs/late")
    assert (here / "runs" / "late" / "manifest.jsonl").is_file()
    assert not (elsewhere / "runs").exists()
