"""``highfive report RUN`` and ``highfive gate RUN``: the report subcommands of the CLI.

:func:`add_report_commands` adds them to the main parser's subparsers; each handler
returns an exit status (gate: 0 pass, 1 fail) and raises
:class:`~highfive.generators.HighfiveError` subclasses for anything the user can fix
(the main CLI prints those as one ``error: ...`` line with status 2). A gate writes
nothing unless both the gate file and the run are good. A bad gate file changes
nothing. When a good gate file cannot be evaluated on the run, the gate removes the
run's gate.json and junit.xml of an earlier gate (saying so on its error line), so that
CI, which publishes RUN/junit.xml whatever the exit status, never shows an old verdict
for this evaluation. Building the parser imports
nothing heavy: each handler imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from highfive.coverage import BINS_HELP
from highfive.generators import HighfiveError, InvalidParameter
from highfive.harness import int_at_least, path_arg

__all__ = ["DEFAULT_CASES", "add_report_commands", "cmd_gate"]

DEFAULT_CASES = 4
"""Failing cases a report replays and plots unless told otherwise."""


_cases = int_at_least(0)


def _cmd_report(args: argparse.Namespace) -> int:
    from highfive.harness.cli import say  # a run's path: printed as escapes

    from ._html import write_report

    path = write_report(args.run, args.out, cases=args.cases, bins=args.bins, log=say)
    say(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _remove_verdicts(run: Path) -> list[str]:
    """Remove a run's gate.json and junit.xml (a gate that could not be evaluated must
    leave no earlier verdict for CI to publish as this one); return those removed (and
    those that could not be, saying so). A
    folder that is no run directory (no campaign.json) is left alone."""
    from highfive.harness import RunDir

    if not RunDir(run).exists():
        return []
    removed = []
    for name in ("gate.json", "junit.xml"):
        try:
            (run / name).unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:  # said on the error line: CI may still find it
            removed.append(f"(could not remove {run / name}: {exc.strerror or exc})")
            continue
        removed.append(str(run / name))
    return removed


def cmd_gate(args: argparse.Namespace) -> int:
    """``highfive gate RUN --gate GATE.toml``: 0 if the gate passes, 1 if it fails.

    Progress lines of a long count go to stderr; the criteria and the verdict to stdout.
    """
    from highfive.coverage import evaluate_gate, load_gate  # pyarrow and scipy: on use
    from highfive.harness.cli import say

    from ._junit import write_gate

    for written in ("gate.json", "junit.xml"):
        out = Path(args.run) / written
        if out.exists() and Path(args.gate).exists() and os.path.samefile(out, args.gate):
            raise InvalidParameter(
                f"--gate: {os.fspath(args.gate)!r} is the file the gate writes its verdict "
                f"to (RUN/{written}); keep the criteria in another file"
            )
    gate = load_gate(args.gate)  # a bad gate file: refused, nothing written or removed
    try:
        result = evaluate_gate(args.run, gate, log=_progress)
    except HighfiveError as exc:  # a good gate file that cannot judge this run
        removed = _remove_verdicts(Path(args.run))
        if not removed:
            raise
        raise type(exc)(
            f"{exc}; removed {' and '.join(removed)} of an earlier gate (they are "
            "not this gate's verdict)"
        ) from None
    try:  # written before the verdict is printed: a verdict said is a verdict on record
        paths = write_gate(args.run, result)
    except OSError:
        _remove_verdicts(Path(args.run))  # an earlier gate's verdict is not this one's
        raise
    for line in result.lines():  # model ids and labels from the run: printed as escapes
        say(line)
    for path in paths:
        say(f"wrote {path}")
    return 0 if result.passed else 1


def add_report_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report RUN [--out FILE] [--cases N] [--bins BINS.toml]`` and ``gate RUN --gate
    GATE.toml``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The main parser's ``add_subparsers()`` result.

    Returns
    -------
    argparse.ArgumentParser
        The ``report`` parser; it sets ``handler`` (Namespace -> exit status).
    """
    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description="Write one self-contained HTML file (inline images and CSS, no network) "
        "for a finished run: the gate verdict (RUN/gate.json, if evaluated), campaign facts, "
        "failure rates by verdict and model agreement, coverage and failure-rate heatmaps of "
        "the most informative 2-way crosses, the worst cells, failure regions and a few "
        "failing cases replayed. Coverage is computed first if RUN/coverage/ is missing, "
        "or with --bins.",
    )
    p.add_argument("run", type=path_arg, metavar="RUN", help="run directory")
    p.add_argument(
        "--out", type=path_arg, metavar="FILE", help="report file (default: RUN/report.html)"
    )
    p.add_argument(
        "--cases",
        type=_cases,
        default=DEFAULT_CASES,
        metavar="N",
        help=f"failing cases to replay and plot, worst verdicts first (default {DEFAULT_CASES})",
    )
    p.add_argument(
        "--bins",
        type=path_arg,
        metavar="BINS.toml",
        help="compute RUN/coverage/ with this bins file first, as 'highfive coverage RUN "
        "--bins BINS.toml' does (default: RUN/coverage/ as it is, computed with the "
        "default bins if missing): " + BINS_HELP,
    )
    p.set_defaults(handler=_cmd_report)

    g = subparsers.add_parser(
        "gate",
        help="check a run against release criteria (exit 0 pass, 1 fail)",
        description="Evaluate the criteria of GATE.toml on a complete run directory: "
        "per-cell failure-rate bounds, t-way coverage, overall failure rate, agreement "
        "of two counters, detection latency, model size, whether a model fits a watch "
        "microcontroller (fits_target) and the inference latency the campaign recorded "
        "(so the same run and gate file always give the same verdict). Bounds are "
        'one-sided Clopper-Pearson, or anytime-valid with [gate] looks = "anytime". '
        "Prints one line per criterion and the verdict, and writes "
        "RUN/gate.json and RUN/junit.xml (atomically). Exit status: 0 pass, 1 fail, 2 bad "
        "gate file or run (nothing written; a bad gate file changes nothing, while a gate "
        "that cannot be evaluated on the run removes an earlier gate's gate.json and "
        "junit.xml: they are not this gate's verdict).",
    )
    g.add_argument("run", type=path_arg, metavar="RUN", help="run directory")
    g.add_argument(
        "--gate",
        type=path_arg,
        required=True,
        metavar="GATE.toml",
        help="criteria file (see examples/gate.toml)",
    )
    g.set_defaults(
        handler=cmd_gate,
        # Checked before the gate is evaluated (see the main CLI's output check).
        default_outputs={
            dest: (
                "RUN",
                "file",
                lambda a, name=name: Path(a.run) / name,
                "; the gate writes gate.json and junit.xml into the run: gate a writable "
                "copy of it",
            )
            for dest, name in (("verdict", "gate.json"), ("junit", "junit.xml"))
        },
    )
    return p
