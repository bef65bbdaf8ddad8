"""What a campaign shows while it runs and when it ends: progress line and summary."""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from ._io import terminal_text
from ._verdicts import FAIL_VERDICTS

__all__ = ["CampaignSummary", "Progress"]

_ONLY_IF_SEEN = ("error", "timeout")


@dataclass
class CampaignSummary:
    """Totals over every finished batch of a run."""

    run_dir: Path
    cases: int
    verdicts: dict[str, dict[str, int]]  # model -> verdict -> cases
    agree: int
    seconds: float
    status: str
    dashboard: str = ""
    complete: bool = field(default=False)
    workers_lost: int = 0  # dask workers lost while running the run's batches (all resumes)
    batches_run_again: int = 0  # the batches they were running, run again elsewhere
    weighted: bool = False  # cases drawn from target boxes or a proposal, not the space

    def table(self) -> str:
        """A short plain-text summary for the terminal.

        The counter's own failures (``error``, ``timeout``) get a column only when
        some case had them.
        """
        shown = [
            v
            for v in FAIL_VERDICTS
            if v not in _ONLY_IF_SEEN or any(c.get(v) for c in self.verdicts.values())
        ]
        w = max([10, *map(len, self.verdicts)])
        lines = [
            f"{'model':<{w}} {'cases':>9} {'fail %':>7}  " + " ".join(f"{v:>14}" for v in shown)
        ]
        for mid, counts in self.verdicts.items():
            n = sum(counts.values())
            failed = n - counts.get("pass", 0)
            lines.append(
                f"{mid:<{w}} {n:>9,} {100 * failed / max(n, 1):>6.2f}%  "
                + " ".join(f"{counts.get(v, 0):>14,}" for v in shown)
            )
        if len(self.verdicts) > 1:
            lines.append(
                f"count agreement between models: {self.agree:,}/{self.cases:,} "
                f"({100 * self.agree / max(self.cases, 1):.2f}%)"
            )
        if self.weighted:
            lines.append(
                "shares of the cases drawn, not weighted: not the space's failure rates "
                "(highfive coverage and report weight the cases)"
            )
        if self.workers_lost:
            n, b = self.workers_lost, self.batches_run_again
            lines.append(
                f"lost {n:,} dask worker{'s' * (n != 1)}; {b:,} batch{'es' * (b != 1)} "
                f"ran again elsewhere (a case's result depends only on the seed and its index)"
            )
        # The folder as a terminal can print it: a line break or ESC in it as its escape.
        folder = terminal_text(os.fspath(self.run_dir))
        lines.append(f"run directory: {folder}  ({self.status})")
        return "\n".join(lines)


class Progress:
    """Cases done, rate, ETA and failures on one terminal line (or periodic lines).

    On a terminal the line is redrawn at every update; elsewhere (a log file) a line is
    written every 10 s and at the end. ``unit`` names what is counted; with
    ``failures=None`` no failures are shown; with ``quiet_if_quick`` a run that ends
    before its first periodic line writes nothing where it is not a terminal.
    """

    def __init__(
        self,
        total: int,
        done: int,
        stream: TextIO | None,
        dashboard: str,
        failures: Mapping[str, int] | None = None,
        *,
        unit: str = "cases",
        quiet_if_quick: bool = False,
    ) -> None:
        # ``done`` and ``failures`` count the batches finished before a resume.
        self.total, self.done0, self.done = total, done, done
        self.unit, self.quiet_if_quick, self.said = unit, quiet_if_quick, False
        self.show_failures = failures is not None
        self.stream = stream
        self.tty = bool(stream is not None and stream.isatty())
        self.t0 = self.last = time.monotonic()
        self.failures: Tally[str] = Tally(failures or {})
        if stream is not None and dashboard:
            print(f"dask dashboard: {dashboard}", file=stream)

    def note(self, text: str) -> None:
        """Say one line, on a line of its own (the progress line is drawn again below
        it at the next update on a terminal)."""
        if self.stream is not None:
            print(("\r\033[K" if self.tty else "") + text, file=self.stream, flush=True)

    def update(self, cases: int, failures: Mapping[str, int]) -> None:
        self.done += cases
        self.failures.update(failures)
        now = time.monotonic()
        if self.stream is None or (
            not self.tty and now - self.last < 10 and self.done < self.total
        ):
            return
        if not self.tty and self.quiet_if_quick and not self.said and now - self.last < 10:
            return  # finished before its first line was due
        self.last, self.said = now, True
        rate = (self.done - self.done0) / max(now - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        fails = ", ".join(f"{m} {n:,}" for m, n in sorted(self.failures.items())) or "0"
        u = self.unit
        shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"  # slow work keeps 2 digits
        line = (
            f"{u} {self.done:,}/{self.total:,} ({100 * self.done / self.total:.0f}%)  "
            f"{shown} {u.split()[-1]}/s  ETA {_hms(eta)}"
            + (f"  failures: {fails}" if self.show_failures else "")
        )
        print(
            ("\r" + line + "\033[K") if self.tty else line,
            end="" if self.tty else "\n",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self.stream is not None and self.tty:
            print(file=self.stream)


def _hms(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "--:--"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
