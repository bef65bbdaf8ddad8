"""The progress line of long work (campaigns, realism's synthetic traces), on a terminal
and in a log, against a clock the test moves."""

from __future__ import annotations

import io
import re

import pytest

from highfive.harness import _progress
from highfive.harness._progress import Progress


class _Log(io.StringIO):
    def isatty(self) -> bool:
        return False


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The time progress sees; set ``clock[0]`` to move it."""
    now = [100.0]
    monkeypatch.setattr(_progress.time, "monotonic", lambda: now[0])
    return now


def _traces(stream: io.StringIO, seconds: list[float], clock: list[float]) -> str:
    progress = Progress(len(seconds), 0, stream, "", unit="synthetic traces", quiet_if_quick=True)
    for t in seconds:
        clock[0] = 100.0 + t
        progress.update(1, {})
    progress.close()
    return stream.getvalue()


def test_quick_work_writes_nothing_to_a_log(clock: list[float]) -> None:
    assert _traces(_Log(), [1.0, 2.0, 9.5], clock) == ""


def test_long_work_writes_a_line_every_10_s_and_at_the_end(clock: list[float]) -> None:
    lines = _traces(_Log(), [4.0, 11.0, 15.0, 22.0, 25.0], clock).splitlines()
    # Lines at 11 s (the first due), 22 s (10 s later) and at the end.
    assert [line.split(" (")[0] for line in lines] == [
        "synthetic traces 2/5",
        "synthetic traces 4/5",
        "synthetic traces 5/5",
    ]
    pattern = r"synthetic traces \d/5 \(\d+%\)  [\d,.]+ traces/s  ETA \d:\d\d:\d\d"
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    # 5 traces in 25 s: a slow rate keeps two digits rather than showing 0.
    assert lines[-1] == "synthetic traces 5/5 (100%)  0.2 traces/s  ETA 0:00:00"


def test_a_terminal_sees_the_line_redrawn_and_ended(clock: list[float]) -> None:
    out = _traces(_Terminal(), [1.0, 2.0], clock)
    assert out.count("\r") == 2 and out.endswith("\n")
    assert "synthetic traces 2/2 (100%)" in out and "failures" not in out


def test_a_campaign_always_ends_with_its_failures(clock: list[float]) -> None:
    log = _Log()
    progress = Progress(10, 0, log, "", {"float": 1})
    clock[0] = 101.0
    progress.update(10, {"float": 1, "int8": 2})
    assert re.fullmatch(
        r"cases 10/10 \(100%\)  10 cases/s  ETA 0:00:00  failures: float 2, int8 2\n",
        log.getvalue(),
    )
