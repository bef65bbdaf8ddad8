"""``highfive diff``: the coverage subcommand of the CLI.

:func:`add_coverage_commands` adds it to the main parser's subparsers; the handler
returns an exit status and raises :class:`~highfive.generators.HighfiveError`
subclasses for anything the user can fix, which the main CLI prints as one
``error: ...`` line with status 2. (``highfive gate`` writes gate.json and junit.xml,
a report: it lives in ``highfive.reports``.) Building the parser imports nothing heavy:
the handler imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from highfive.generators import InvalidParameter, whole_number_from_text
from highfive.harness import number_arg, path_arg, whole_number

__all__ = ["BINS_HELP", "add_coverage_commands", "cmd_diff"]

BINS_HELP = (
    "a bins file (TOML; examples/bins.toml shows every key): [bins.<dimension>] tables "
    "with edges = [...] or count = N, labels, ignore and illegal bins; ways = [1, 2]; "
    "[[crosses]] with name and dims; [statistics] with p_target, confidence, min_cases, "
    "adjust and looks (fixed, or anytime for bounds valid however often you look); any "
    "other key is an error"
)
"""What a bins file holds, for the help of every command that takes ``--bins``."""


def _ways(text: str) -> list[int]:
    try:  # ASCII digits, as every number argument
        read = [whole_number_from_text(t.strip()) for t in text.split(",") if t.strip()]
    except ValueError:  # more digits than int reads
        read = [None]
    if None in read:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 1,2")
    ways = sorted({w for w in read if w is not None})
    if not ways or ways[0] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers >= 1, e.g. 1,2")
    return ways


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _check_diff_args(args: argparse.Namespace) -> None:
    """Every option of ``highfive diff`` checked before any run is read."""
    if not (isinstance(args.alpha, float) and math.isfinite(args.alpha) and 0 < args.alpha <= 0.5):
        raise InvalidParameter(
            f"--alpha: {args.alpha!r} must be in (0, 0.5] (the intervals are at 1 - alpha), "
            "e.g. 0.05"
        )
    if args.limit < 1:
        raise InvalidParameter(f"--limit: {args.limit} must be >= 1")
    if args.margin is not None:
        if not (math.isfinite(args.margin) and 0 <= args.margin < 1):
            raise InvalidParameter(
                f"--margin: {args.margin!r} must be a failure-rate difference in [0, 1), "
                "e.g. 0.002 (0.2 points)"
            )
        if args.alpha > 0.25:
            raise InvalidParameter(
                f"--alpha: {args.alpha!r} must be at most 0.25 with --margin (a one-sided "
                "test by a 1 - 2 alpha interval), e.g. 0.05"
            )
    elif args.check:
        raise InvalidParameter("--check: needs --margin (the non-inferiority margin to check)")
    a, b = Path(args.run_a), args.run_b and Path(args.run_b)
    if b is not None and a.exists() and b.exists() and os.path.samefile(a, b):
        raise InvalidParameter(
            f"RUN_B: {os.fspath(b)!r} is RUN_A's directory; omit RUN_B to compare the "
            "models of one run"
        )


def cmd_diff(args: argparse.Namespace) -> int:
    """``highfive diff RUN_A [RUN_B]``: print regressions (and improvements); exit 0, or
    with ``--check`` 1 when non-inferiority is not shown for every comparison."""
    from highfive.harness.cli import say

    from ._diff import diff_pairs, diff_runs  # pandas and scipy: on use
    from ._run import load_settings

    _check_diff_args(args)
    bins: dict[str, Any] = {}
    if args.bins is not None:
        bins = dict(load_settings(args.bins).toml.get("bins", {}))
    pairs: list[str | None] = [args.model]
    if args.model is None:
        pairs = diff_pairs(args.run_a, args.run_b)
    diffs = []
    for i, model in enumerate(pairs):
        d = diff_runs(
            args.run_a,
            args.run_b,
            model=model,
            ways=args.ways,
            bins=bins,
            method=args.method,
            alpha=args.alpha,
            log=_progress,
            margin=args.margin,
        )
        diffs.append(d)
        if i:
            say()
        for line in d.lines(limit=args.limit):  # model ids and labels from the runs
            say(line)
    if args.out is not None:
        _write_cells(args.out, diffs)
        say(f"wrote {args.out}")
    return 1 if args.check and not all(d.noninferior for d in diffs) else 0


def _write_cells(path: Path, diffs: list[Any]) -> None:
    """Every comparison's cells in one Parquet file (written whole or not at all). The
    file's metadata keeps what every comparison shares (``alpha``, ``method``,
    ``alternative``, ``paired``, ``margin``): the level of its intervals and p-values."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from highfive.harness import atomic_path

    frames = []
    for d in diffs:
        cells = d.cells.copy()
        for at, (name, value) in enumerate(
            (("run_a", d.run_a), ("model_a", d.model_a), ("run_b", d.run_b), ("model_b", d.model_b))
        ):
            cells.insert(at, name, value)
        frames.append(cells)
    cells = pd.concat(frames, ignore_index=True)
    first, *rest = (d.cells.attrs for d in diffs)
    cells.attrs = {k: v for k, v in first.items() if all(k in o and o[k] == v for o in rest)}
    table = pa.Table.from_pandas(cells, preserve_index=False)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # pyarrow: UTF-8 names only
        pq.write_table(table, fh)


def add_coverage_commands(subparsers: Any) -> None:
    """Add ``diff`` to the ``highfive`` subparsers.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``; each command sets ``handler``.
    """
    p = subparsers.add_parser(
        "diff",
        help="compare failure rates cell by cell: two runs, or the models of one run",
        description="Compare the failure rate of every 1- and 2-way cell. With two runs "
        "(e.g. two model versions) list cells where B is significantly worse than A "
        "(regressions) or better (improvements): paired exact McNemar tests when the "
        "runs share their case sequence (seed, sampler, space), Fisher's exact tests "
        "otherwise. With one run, compare its models on the same cases "
        "(default: every other model against the first one in campaign.json, one-sided: "
        "is it worse?). p-values are adjusted for "
        "the number of cells (Holm, or Benjamini-Hochberg with --method fdr). Runs of "
        "different parameter spaces are refused. Between two runs the header shows each "
        "compared model's recorded identity, so a changed model is not mistaken for a "
        "change in sampling.",
    )
    p.add_argument("run_a", type=path_arg, metavar="RUN_A", help="baseline run directory")
    p.add_argument(
        "run_b",
        type=path_arg,
        nargs="?",
        metavar="RUN_B",
        help="candidate run directory (default: compare two models of RUN_A)",
    )
    p.add_argument(
        "--model",
        metavar="M|A:B",
        help="model id in both runs, or A_ID:B_ID (default: every shared model; for one "
        "run, each model against the first)",
    )
    p.add_argument(
        "--method",
        choices=("holm", "fdr"),
        default="holm",
        help="multiplicity correction: holm (family-wise error, default) or fdr "
        "(Benjamini-Hochberg false discovery rate)",
    )
    p.add_argument(
        "--alpha",
        type=number_arg(0.05),
        default=0.05,
        help="level of the adjusted p-values, in (0, 0.5] (0.05)",
    )
    p.add_argument(
        "--ways",
        type=_ways,
        metavar="1,2",
        help="t-way crosses to compare (default 1,2, or 1 when one dimension is binned, "
        "as for recordings with one metadata column); more than 1,000,000 cells per "
        "model is refused (3-way crosses of the default space have 693,872)",
    )
    p.add_argument(
        "--bins",
        type=path_arg,
        metavar="BINS.toml",
        help="bins for both runs (default: 4 per dimension, from the space): "
        + BINS_HELP
        + "; diff uses the [bins.<dimension>] tables (--ways chooses the crosses)",
    )
    p.add_argument(
        "--limit",
        type=whole_number("cells", 15),
        default=15,
        help="cells listed per section (default 15)",
    )
    p.add_argument(
        "--margin",
        type=number_arg(0.002),
        metavar="M",
        help="non-inferiority margin in absolute failure rate (0.002 = 0.2 points): test in "
        "every cell that B fails at most M more often than A (one-sided, level --alpha; "
        "an intersection-union test, so no correction across cells) and give a verdict",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="with --margin: exit 1 unless non-inferiority is shown in every cell (for CI)",
    )
    p.add_argument(
        "--out",
        type=path_arg,
        metavar="DIFF.parquet",
        help="write every cell (counts, p-values, effect sizes, non-inferiority) to Parquet",
    )
    p.set_defaults(handler=cmd_diff, outputs={"out": "file"})
