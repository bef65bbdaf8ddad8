"""``highfive report RUN`` and ``highfive gate RUN``: the report subcommands of the CLI.

:func:`add_report_commands` adds them to the main parser's subparsers; each handler
returns an exit status (gate: 0 pass, 1 fail) and raises
:class:`~highfive.generators.HighfiveError` subclasses for anything the user can fix
(the main CLI prints those as one ``error: ...`` line with status 2). A gate writes
nothing unless both the gate file and the run are good.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from highfive.harness import int_at_least

if TYPE_CHECKING:
    from highfive.coverage import Profiler

__all__ = ["add_report_commands", "cmd_gate"]


_cases = int_at_least(0)


def _cmd_report(args: argparse.Namespace) -> int:
    from ._html import write_report

    path = write_report(args.run, args.out, cases=args.cases, log=print)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    """``highfive gate RUN --gate GATE.toml``: 0 if the gate passes, 1 if it fails.

    ``args.profile`` (set by :func:`add_report_commands`) measures models for
    ``latency`` criteria.
    """
    from highfive.coverage import evaluate_gate, load_gate  # pyarrow and scipy: on use

    from ._junit import write_gate

    gate = load_gate(args.gate)
    result = evaluate_gate(args.run, gate, profile=getattr(args, "profile", None))
    for line in result.lines():
        print(line)
    for path in write_gate(args.run, result):
        print(f"wrote {path}")
    return 0 if result.passed else 1


def add_report_commands(
    subparsers: Any, *, profile: Profiler | None = None
) -> argparse.ArgumentParser:
    """Add ``report RUN [--out FILE] [--cases N]`` and ``gate RUN --gate GATE.toml``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The main parser's ``add_subparsers()`` result.
    profile : callable, optional
        Measures a model for the gate's ``latency`` criteria
        (``highfive.models.profile``; models sit above reports, so the top-level
        command line passes it). Without it a gate with a latency criterion is refused.

    Returns
    -------
    argparse.ArgumentParser
        The ``report`` parser; it sets ``handler`` (Namespace -> exit status).
    """
    from ._html import DEFAULT_CASES

    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description="Write one self-contained HTML file (inline images and CSS, no network) "
        "for a finished run: the gate verdict (RUN/gate.json, if evaluated), campaign facts, "
        "failure rates by verdict and model agreement, coverage and failure-rate heatmaps of "
        "the most informative 2-way crosses, the worst cells, failure regions and a few "
        "failing cases replayed. Coverage is computed first if RUN/coverage/ is missing.",
    )
    p.add_argument("run", type=Path, metavar="RUN", help="run directory")
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="report file (default: RUN/report.html)"
    )
    p.add_argument(
        "--cases",
        type=_cases,
        default=DEFAULT_CASES,
        metavar="N",
        help=f"failing cases to replay and plot, worst verdicts first (default {DEFAULT_CASES})",
    )
    p.set_defaults(handler=_cmd_report)

    g = subparsers.add_parser(
        "gate",
        help="check a run against release criteria (exit 0 pass, 1 fail)",
        description="Evaluate the criteria of GATE.toml on a complete run directory: "
        "per-cell failure-rate bounds (one-sided Clopper-Pearson), t-way coverage, "
        "overall failure rate, agreement of two counters, detection latency, model size "
        "and latency. Prints one line per criterion and the verdict, and writes "
        "RUN/gate.json and RUN/junit.xml (atomically). Exit status: 0 pass, 1 fail, 2 bad "
        "gate file or run (nothing written).",
    )
    g.add_argument("run", type=Path, metavar="RUN", help="run directory")
    g.add_argument(
        "--gate",
        type=Path,
        required=True,
        metavar="GATE.toml",
        help="criteria file (see examples/gate.toml)",
    )
    g.set_defaults(handler=cmd_gate, profile=profile)
    return p
