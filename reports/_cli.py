"""``highfive report RUN``: the report subcommand of the CLI.

:func:`add_report_commands` adds it to the main parser's subparsers; the handler returns
an exit status and raises :class:`~highfive.generators.HighfiveError` subclasses for
anything the user can fix (the main CLI prints those as one ``error: ...`` line).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from highfive.harness._argtypes import int_at_least

__all__ = ["add_report_commands"]


_cases = int_at_least(0)


def _cmd_report(args: argparse.Namespace) -> int:
    from ._html import write_report

    path = write_report(args.run, args.out, cases=args.cases, log=print)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def add_report_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report RUN [--out FILE] [--cases N]``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The main parser's ``add_subparsers()`` result.

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
    return p
