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
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from highfive.generators import ConfigError, default_space, synthesize
from highfive.harness import CounterOptions, judge, load_counter

COUNTERS = """
import sys, time

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


def test_options_keep_their_time_limit(counters: Path) -> None:
    c = load_counter(f"{counters}:hangs", options=CounterOptions(timeout_s=0.3))
    outcome = judge({"c": c}, _trace(), 0.5).outcomes["c"]
    assert (outcome.verdict, outcome.message) == (
        "timeout",
        "no answer within the time limit of 0.3 s",
    )
