"""The ``highfive`` command line.

Every subcommand has ``--help``. Errors the user can fix are printed as one line
``error: ...`` with exit status 2; nothing is left half-written: output paths are
checked before any work, and a command's output files are written together or not at
all. Python warnings are printed as one line ``warning: ...``. Building the parser
imports no heavy library (the packages' names load on first use); each command
imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from highfive.generators import HighfiveError, InvalidParameter
from highfive.harness import (
    Writer,
    int_at_least,
    int_between,
    json_text,
    path_arg,
    whole_number,
    write_together,
)

from ._io import terminal_text, utf8_text
from ._recording_columns import columns_help

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]

_seed = int_at_least(0)
_case = int_at_least(0)
_LISTED = 20  # failing cases ``highfive replay RUN`` lists
_VERSIONS = ("numpy", "onnxruntime", "dask")  # what ``--version`` reports besides highfive


# -- output files --------------------------------------------------------------------
def _check_output(flag: str, path: Path, kind: str = "file", hint: str = "") -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    ``kind`` is "file", "image" (a file whose suffix names a format matplotlib writes)
    or "folder" (written into). The file's folder, or the folder, must exist or be
    creatable: its nearest existing ancestor a writable folder, which is returned (for
    :func:`_probe`, once every output has passed).
    """
    shown = repr(os.fspath(path))
    if kind != "folder" and path.is_symlink():  # a rename over it replaces the link
        raise InvalidParameter(
            f"{flag}: {shown} is a symbolic link, which writing would replace with a file; "
            "give the file itself"
        )
    if kind != "folder" and path.exists() and not path.is_file() and not path.is_dir():
        raise InvalidParameter(
            f"{flag}: {shown} is not a regular file (a device, pipe or socket), which "
            "writing would replace; give a file name"
        )
    if kind == "folder":
        if path.exists() and not path.is_dir():
            raise InvalidParameter(f"{flag}: {shown} is not a folder; give a folder")
        folder = path.absolute()
    elif path.is_dir():
        raise InvalidParameter(f"{flag}: {shown} is a folder; give a file name")
    else:
        folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InvalidParameter(f"{flag}: cannot write {shown}: {str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidParameter(
            f"{flag}: cannot write {shown}: folder {str(folder)!r} is not writable{hint}"
        )
    if kind == "image":
        from matplotlib.backend_bases import FigureCanvasBase

        formats = sorted(FigureCanvasBase.get_supported_filetypes())
        if path.suffix.lower().lstrip(".") not in formats:
            raise InvalidParameter(
                f"{flag}: {shown} does not end in an image format; use one of "
                + ", ".join(f".{f}" for f in formats)
            )
    return folder


def _probe(flag: str, path: Path, folder: Path) -> None:
    """Create and remove an empty file in ``folder``: ``os.access`` cannot tell whether
    a file can be made there (it says yes to root in ``/proc``, and to anyone on a file
    system out of inodes)."""
    before = folder.stat()
    try:
        fd, name = tempfile.mkstemp(prefix=".highfive-probe.", dir=folder)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidParameter(
            f"{flag}: cannot write {os.fspath(path)!r}: folder {str(folder)!r} takes no new "
            f"file ({reason})"
        ) from None
    os.close(fd)
    os.unlink(name)
    with contextlib.suppress(OSError):  # the folder's times as they were: nothing written
        os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))


_ELSEWHERE = "; pass --out to write elsewhere"

_INPUTS = (
    "run",
    "runs",
    "run_a",
    "run_b",
    "model",
    "float_model",
    "init",
    "gate",
    "config",
    "recording",
    "recordings",
    "region",
)
"""Argument names that hold a command's inputs (files or run directories)."""
_OPTIONS = ("init", "gate", "region")  # of those, the ones given as --flags
_RUN_RECORDS = ("campaign.json", "manifest.jsonl", "stages.json", ".lock")
_RUN_MARKS = _RUN_RECORDS[:3]  # what makes a folder a run directory
_RUN_DATA = ("results", "failures", "corpus")
_RUN_READ = ("gate.json", "junit.xml", "coverage")  # written by folder, read by the report


def _inputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(argument, path) of every input the command was given that exists on disk."""
    found = []
    for dest in _INPUTS:
        value = getattr(args, dest, None)
        for item in value if isinstance(value, list | tuple) else [value]:
            if not isinstance(item, str | os.PathLike):
                continue
            path = Path(item)
            if dest in ("model", "float_model", "init"):  # model commands load it anyway
                from ._model import SHIPPED, shipped_file

                if os.fspath(item) in SHIPPED:  # a shipped model's name: its file
                    path = Path(str(shipped_file(os.fspath(item))))
            if path.exists():
                shown = f"--{dest}" if dest in _OPTIONS else dest.upper().removesuffix("S")
                found.append((shown, path))
    return found


def _is_run(folder: Path) -> bool:
    """Whether ``folder`` is a run directory: it holds a run's records (campaign.json,
    manifest.jsonl, or a staged run's stages.json)."""
    return any((folder / name).is_file() for name in _RUN_MARKS)


def _clobbers(out: Path, given: Path) -> bool:
    """Whether writing the file ``out`` would overwrite the input ``given``: the file
    itself, or a record, data or analysis file of a run directory (report.html beside
    them may be rewritten; coverage/ by the commands that write it as a folder)."""
    if given.is_file():
        return out.exists() and os.path.samefile(out, given)
    run = given.resolve()
    if not _is_run(run):
        return False
    target = out.resolve()
    if run not in target.parents:
        return False
    first = target.relative_to(run).parts[0]
    return first in (*_RUN_RECORDS, *_RUN_DATA, *_RUN_READ) or first.startswith("stage-")


def _enclosing_run(path: Path) -> Path | None:
    """The nearest run directory that holds ``path`` or is it (a folder with a run's
    records: campaign.json, manifest.jsonl, or a staged run's stages.json), if any."""
    here = path.absolute()
    for folder in (here, *here.parents):
        if _is_run(folder):
            return folder
    return None


def _outside_other_runs(flag: str, path: Path, inputs: Sequence[tuple[str, Path]]) -> None:
    """Refuse an output inside a run directory the command does not read: it would
    overwrite that run's records, results or report, or mix with its files. The runs
    it reads (and a staged run holding one of their stages) are checked file by file
    instead (:func:`_clobbers`)."""
    run = _enclosing_run(path)
    if run is None:
        return
    read = set()
    for _, given in inputs:
        if given.is_dir():
            read.add(given.resolve())
            read.update(p.resolve() for p in [_enclosing_run(given.parent)] if p is not None)
    if run.resolve() not in read:
        shown, where = os.fspath(path), os.fspath(run)
        raise InvalidParameter(
            f"{flag}: {shown!r} is inside the run directory {where!r}, which this command "
            "does not read; write it outside that run"
        )


def _check_outputs(args: argparse.Namespace) -> None:
    """Check the command's output paths (``outputs``: dest -> "file", "image" or
    "folder"): writable, not inside a run
    directory the command does not read, not one of the command's inputs or a run's
    own records and data, and no file named by two outputs. Then, all of that passed,
    make and remove a file in each output's folder (:func:`_probe`).
    ``default_outputs`` (dest -> (what to name, kind, path from the arguments, hint))
    are where a command writes when ``dest`` is not given (into the run it reads):
    those are checked too, before anything is computed or printed."""
    outputs: Mapping[str, str] = getattr(args, "outputs", {})
    inputs = _inputs(args)
    files: dict[str, Path] = {}  # flag -> file, of the outputs checked so far
    probes: list[tuple[str, Path, Path]] = []
    defaults: Mapping[str, tuple[str, str, Callable[[argparse.Namespace], Path], str]]
    defaults = getattr(args, "default_outputs", {})
    for dest, (flag, kind, where, hint) in defaults.items():
        if getattr(args, dest, None) is None:
            path = where(args)
            probes.append((flag, path, _check_output(flag, path, kind, hint)))
    for dest, kind in outputs.items():
        path = getattr(args, dest, None)  # a parent's outputs may name another's flags
        if path is None:
            continue
        flag, path = f"--{dest}", Path(path)
        probes.append((flag, path, _check_output(flag, path, kind)))
        _outside_other_runs(flag, path, inputs)
        if kind == "folder":
            continue
        for name, given in inputs:
            if _clobbers(path, given):
                raise InvalidParameter(
                    f"{flag}: {os.fspath(path)!r} would overwrite the input {name} "
                    f"{os.fspath(given)!r}; choose another file"
                )
        for other, earlier in files.items():
            if _same_file(path, earlier):
                raise InvalidParameter(
                    f"{flag}: {os.fspath(path)!r} is also the {other} file; give each output "
                    "its own file"
                )
        files[flag] = path
    for flag, path, folder in probes:
        _probe(flag, path, folder)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two output paths name one file: by device and inode where they exist (a
    symbolic or hard link is the file), else by their resolved paths."""
    from ._io import file_identity

    return file_identity(a) == file_identity(b)


def _parse_params(items: Sequence[str]) -> dict[str, str]:
    """``--param NAME=VALUE`` items as a dict; a name given twice is refused."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise InvalidParameter(f"--param: {item!r} is not of the form NAME=VALUE")
        if key in out:
            raise InvalidParameter(
                f"--param: {key} is given twice ({out[key]!r}, then {value!r}); "
                "give each parameter once"
            )
        out[key] = value
    return out


# -- synth ---------------------------------------------------------------------------
def _cmd_synth(args: argparse.Namespace) -> int:
    import numpy as np

    from highfive.generators import default_space, get_motion, synthesize

    get_motion(args.motion)  # unknown motion: one clear line before anything else
    _check_trace_table(args.csv)
    space = default_space()
    params: dict[str, Any] = dict(_parse_params(args.param))
    if "motion" in params:
        raise InvalidParameter(
            f"--param: 'motion={params['motion']}' sets the motion, which is MOTION "
            f"({args.motion!r}); give it as MOTION, not as --param"
        )
    overrides: dict[str, Any] = {"motion": args.motion, **params}
    given = space.validate(overrides, partial=True)
    if args.random:
        # Unspecified dimensions drawn from the seed (stream independent of the case's).
        free = space.restrict(**given)
        u = np.random.default_rng(np.random.SeedSequence(args.seed, spawn_key=(2**32,)))
        params = free.rows(u.random((1, free.d)))[0]
    else:
        params = space.complete(given)
    trace = synthesize(params, args.seed, space=space)

    print(f"{trace!r}  seed={args.seed}")
    for e in trace.events:
        impact = "-" if e.impact is None else f"{e.impact:.3f} s"
        flag = "count" if e.is_high_five else "ignore"
        print(f"  {e.motion:<13} {e.start:7.3f}-{e.end:7.3f} s  impact {impact:<9} {flag}")
    mag = np.linalg.norm(trace.samples, axis=1)
    print(f"  {trace.t.size} samples; |a| from {mag.min():.3f} to {mag.max():.3f} g")
    writers: dict[str, tuple[Path, Writer]] = {}
    if args.csv:
        writers["--csv"] = (args.csv, lambda tmp: _write_trace_table(trace, tmp))
    if args.plot:
        writers["--plot"] = (args.plot, lambda tmp: _save_plot(trace, tmp))
    write_together(writers)
    for path, _ in writers.values():
        print(f"wrote {path}")
    return 0


def _check_trace_table(path: Path | None) -> None:
    """Refuse a ``--csv`` name that :func:`_write_trace_table` cannot write."""
    if path is not None and path.suffix.lower() not in (".csv", ".parquet"):
        raise InvalidParameter(
            f"--csv: {os.fspath(path)!r} must end in .csv or .parquet (the formats "
            "'highfive count' reads)"
        )


def _write_trace_table(trace: Any, path: Path) -> None:
    """The trace as CSV, or as Parquet for a ``.parquet`` name (CSV text under that
    name was a file 'highfive count' could not read)."""
    import pandas as pd

    # The axes' names say their units, so that 'highfive count' reads the file in g
    # even when it holds no still second to infer them from.
    frame = pd.DataFrame(
        {"t": trace.t, **{f"{a}_g": trace.samples[:, i] for i, a in enumerate("xyz")}}
    )
    if path.suffix.lower() == ".parquet":
        path.write_bytes(_parquet_bytes(frame))  # pyarrow opens no name that is not UTF-8
    else:
        # Each value in the shortest text that reads back to the same bits (float64
        # times, float32 samples): a fixed number of digits rounded the times to 50 us.
        frame.to_csv(path, index=False)


def _save_plot(trace: Any, path: Path) -> None:
    from highfive.reports import plot_trace, save_figure

    save_figure(plot_trace(trace), path)


# -- count ---------------------------------------------------------------------------
def _cmd_count(args: argparse.Namespace) -> int:
    import json

    from highfive.harness import (
        MAX_GAP_S,
        CounterFault,
        count_recording,
        load_counter,
        open_recording,
    )

    # Read in chunks, twice (check and infer, then count): memory does not grow with
    # the recording; gaps longer than MAX_GAP_S split it into segments counted apart.
    recording = open_recording(
        args.recording, units=args.units, time_unit=args.time_unit, advise="cli"
    )
    info = recording.info
    # What a counter prints goes to stderr: stdout holds the count (and --json) alone.
    with _stdout_to_stderr():
        counter = load_counter(args.model)
    ident = counter.identity
    try:
        with _stdout_to_stderr():
            counter.probe()
            result = count_recording(
                recording, counter, plot=args.plot is not None, windows=bool(args.json or args.plot)
            )
    except CounterFault as fault:
        named = f"counter {ident.source!r} "  # a malformed return's message names it already
        raise InvalidParameter(f"{named}failed: {fault.message.removeprefix(named)}") from None
    finally:
        counter.close()
    segments = [
        {"start_s": s.start_s, "end_s": s.end_s, "samples": s.samples, "count": s.count}
        | ({"not_counted": s.note} if s.note else {})
        for s in result.segments
    ]
    gaps = [{"start_s": a, "end_s": b, "length_s": b - a} for a, b in result.gaps]
    spec = counter.spec
    on, off = (spec.on, spec.off) if spec is not None else (counter.threshold_on, None)
    if args.json:
        # Written piece by piece: json.dumps with indent held every piece of a day's
        # window probabilities at once (about 100 MiB of small strings for 10M rows).
        json.dump(
            {
                # A name's bytes as escapes if not UTF-8 (a lone surrogate is no text).
                "recording": utf8_text(os.fspath(args.recording)),
                **info,
                "model": utf8_text(counter.default_id),
                "kind": ident.kind,
                "model_sha256": ident.sha256,
                "count": result.count,
                "max_gap_s": MAX_GAP_S,
                "segments": segments,
                "gaps": gaps,
                "detections": [{"time_s": d.time, "score": d.score} for d in result.detections],
                "windows": _windows_json(result.windows, on, off),
            },
            sys.stdout,
            indent=2,
        )
        print()
    else:
        say(f"{args.recording}: " + ", ".join(f"{k} {v}" for k, v in info.items()))
        if result.gaps:
            print(
                f"{len(result.gaps)} gap(s) without samples for more than {MAX_GAP_S:g} s split "
                f"it into {len(segments)} segments, counted one by one (never across a gap):"
            )
            for i, seg in enumerate(result.segments):
                if i:
                    start, end = result.gaps[i - 1]
                    print(f"  gap        {start:.3f}-{end:.3f} s ({end - start:.3f} s)")
                said = f"count {seg.count}" if seg.count is not None else f"not counted: {seg.note}"
                say(
                    f"  segment {i + 1:<2} {seg.start_s:.3f}-{seg.end_s:.3f} s, "
                    f"{seg.samples:,} samples, {said}"
                )
        say(f"{ident.kind} counter {counter.default_id} (identity {ident.sha256[:12]})")
        if result.detections:  # not the file's own clock (it may be ns since 1970)
            print("detections, t in s from the recording's first sample:")
        for i, d in enumerate(result.detections, 1):
            print(f"  {i:3d}  t = {d.time:8.3f} s   score {d.score:.3f}")
        print(f"count: {result.count}")
    if args.plot:
        from highfive.reports import plot_count, save_figure

        assert result.plot is not None
        figure = plot_count(
            result.plot,
            result.detections,
            windows=result.windows,
            on=on,
            off=off,
            gaps=result.gaps,
            title=utf8_text(os.fspath(args.recording)),  # the name's bytes, if not UTF-8
        )
        save_figure(figure, args.plot)
        # With --json, stdout holds the JSON document alone.
        say(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what is written to stdout to stderr, file descriptor 1 included: a counter's
    ``os.write(1, ...)``, its child processes and C code write there, not to
    ``sys.stdout``, and went into ``count --json``'s document."""
    sys.stdout.flush()
    try:
        out, err = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # streams without a descriptor (captured)
        out = err = -1
    saved = os.dup(out) if out >= 0 and out != err else -1
    try:
        if saved >= 0:
            sys.stderr.flush()
            os.dup2(err, out)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved >= 0:
            sys.stderr.flush()
            os.dup2(saved, out)
            os.close(saved)


def _windows_json(
    windows: tuple[Any, Any] | None, on: float | None, off: float | None
) -> dict[str, Any] | None:
    # Every window's centre and probability as two arrays (4 decimals), or None for a
    # counter that reports no probabilities.
    if windows is None:
        return None
    centres, probs = windows
    return {
        "on": on,
        "off": off,
        "time_s": [round(float(c), 4) for c in centres],
        "probability": [round(float(p), 4) for p in probs],
    }


# -- realism -------------------------------------------------------------------------
def _cmd_realism(args: argparse.Namespace) -> int:
    from highfive.harness import compare_realism

    _check_realism_outputs(args)
    result = compare_realism(
        args.recordings,
        region=args.region,
        synthetic=args.synthetic,
        seed=args.seed,
        units=args.units,
        time_unit=args.time_unit,
        gravity=args.gravity,
        match=args.match,
        stream=sys.stderr,
        advise="cli",
    )
    for line in result.lines():
        say(line)
    out: Path = args.out
    writers: dict[str, tuple[Path, Writer]] = {}
    for name, table in result.tables().items():
        writers[f"--out {name}"] = (out / name, _parquet_writer(table))
    summary = json_text(result.facts)
    writers["--out summary.json"] = (out / "summary.json", _text_writer(summary))
    if args.html:
        from highfive.reports import realism_page

        writers["--html"] = (args.html, _text_writer(realism_page(result)))
    write_together(writers)
    say(f"wrote {', '.join(os.fspath(p) for p, _ in writers.values())}")
    return 0


_REALISM_FILES = (
    "features.parquet",
    "distances.parquet",
    "holes.parquet",
    "spectra.parquet",
    "summary.json",
)  # harness._realism.OUTPUT_FILES, not imported here: it loads scipy (a test keeps them equal)
_MAX_SYNTHETIC = 100_000  # harness._realism.MAX_SYNTHETIC, for the same reason


def _check_realism_outputs(args: argparse.Namespace) -> None:
    """Refuse an --out folder whose files would overwrite an input (a recording named
    features.parquet in it), and an --html page that would be the --out folder, one of
    its files or above it, by resolved paths (a link to the folder is the folder)."""
    out, html = args.out, args.html
    inputs = _inputs(args)
    for name in _REALISM_FILES:
        for what, given in inputs:
            if _clobbers(out / name, given):
                raise InvalidParameter(
                    f"--out: {os.fspath(out)!r} would overwrite the input {what} "
                    f"{os.fspath(given)!r} with its {name}; choose another folder"
                )
    if html is None:
        return
    folder, page = out.resolve(), html.resolve()
    if page == folder or page in folder.parents:
        raise InvalidParameter(
            f"--html: {os.fspath(html)!r} is the --out folder {os.fspath(out)!r} or a folder "
            "above it; give a file outside it"
        )
    if page.parent == folder and page.name in _REALISM_FILES:
        raise InvalidParameter(
            f"--html: {os.fspath(html)!r} is one of the files --out {os.fspath(out)!r} holds "
            f"({', '.join(_REALISM_FILES)}); give another file"
        )


def _parquet_bytes(frame: Any) -> bytes:
    """``frame`` as a Parquet file's bytes. Written by Python, not pyarrow, they go to
    any name: pyarrow refuses a name that is not UTF-8, and pandas hands it the name of
    an open file."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _parquet_writer(table: Any) -> Writer:
    def write(tmp: Path) -> None:
        tmp.write_bytes(_parquet_bytes(table))

    return write


def _text_writer(text: str) -> Writer:
    def write(tmp: Path) -> None:
        tmp.write_text(text)

    return write


# -- run -----------------------------------------------------------------------------
def _cmd_run(args: argparse.Namespace) -> int:
    from highfive.harness import CampaignConfig, run_campaign

    if args.bins is not None and args.focus is None:  # it was ignored, even a missing file
        raise InvalidParameter("run: --bins goes with --focus RUN (it bins the run's gaps)")
    if args.focus is not None and args.until_decided:  # before a focus run is planned
        raise InvalidParameter("run: --until-decided starts from CONFIG.toml, not --focus")
    if not args.until_decided:  # before a focus run is planned and said
        for flag in ("budget", "stage", "gate", "spending"):
            if getattr(args, flag) is not None:
                raise InvalidParameter(f"run: --{flag} goes with --until-decided")
    if args.focus is not None:
        from highfive.coverage import load_settings, plan_focus

        if args.config is not None:
            raise InvalidParameter("run: give CONFIG.toml or --focus RUN, not both")
        config = plan_focus(
            args.focus, settings=load_settings(args.bins), cases=args.cases, name=args.name
        )
    elif args.config is None:
        raise InvalidParameter("run: give a campaign file CONFIG.toml (or --focus RUN)")
    else:
        config = CampaignConfig.from_toml(args.config)
    overrides: dict[str, Any] = {}
    for flag in ("out", "cases", "workers", "scheduler", "name"):
        value = getattr(args, flag)
        if value is not None and not (args.focus and flag in ("cases", "name")):
            overrides[flag] = str(value) if flag == "out" else value
    if overrides:
        config = config.with_overrides(**overrides)
    _outside_runs(Path(config.out))
    if args.focus is not None:  # where it goes, once that is known to be allowed
        say(
            f"focus on {args.focus}: {len(config.focus):,} target cells, "
            f"{config.cases:,} cases -> {Path(config.out) / config.name}"
        )
    from highfive.models import warn_campaign_seeds

    warn_campaign_seeds(config)  # a model judged on cases it was trained on
    if args.until_decided:
        return _run_until_decided(args, config)
    summary = run_campaign(config, resume=args.resume)
    for line in summary.table().splitlines():  # its run directory: printed as escapes
        say(line)
    return 0


def _outside_runs(out: Path) -> None:
    """Refuse a campaign's ``out`` folder inside a run directory: a run nested in
    another's results/ broke it as a Parquet dataset for other tools."""
    folder = _enclosing_run(out)
    if folder is not None:
        raise InvalidParameter(
            f"out: {os.fspath(out)!r} is inside the run directory {os.fspath(folder)!r}; "
            "give a folder that holds runs (e.g. runs)"
        )


def _run_until_decided(args: argparse.Namespace, config: Any) -> int:
    from highfive.coverage import check_stageable, load_gate, run_until_decided

    check_stageable(config)  # a campaign that has no stages: said before any gate is sought
    gate_file = args.gate or Path(args.config).parent / "gate.toml"
    if args.gate is None and not gate_file.exists():
        raise InvalidParameter(
            f"--until-decided: no --gate FILE and no {os.fspath(gate_file)!r} beside the "
            "campaign file; give the gate whose criteria decide the stages"
        )
    gate = load_gate(gate_file)
    stage = config.cases if args.stage is None else args.stage
    budget = 16 * stage if args.budget is None else args.budget
    spending = "anytime" if args.spending is None else args.spending
    result = run_until_decided(  # checks the settings and gate before anything runs
        config, gate, budget=budget, stage=stage, spending=spending, resume=args.resume
    )
    say(f"{result.cases:,} cases in {len(result.stages)} stages -> {result.path}")
    return 0 if result.verdict == "pass" else 1


# -- replay and shrink ---------------------------------------------------------------
def _cmd_replay(args: argparse.Namespace) -> int:
    from highfive.harness import load_run, replay_loaded

    if args.case is None:
        if args.param or args.plot or args.csv:
            raise InvalidParameter(
                "replay: --param, --plot and --csv need a CASE_ID (without one, replay lists "
                "the run's failing cases)"
            )
        return _list_failing(args.run)
    _check_trace_table(args.csv)
    loaded = load_run(args.run)
    if args.csv is not None and loaded.recordings and args.case < len(loaded.recordings):
        raise InvalidParameter(
            f"--csv: case {args.case} is the recording {loaded.recordings[args.case].file}, "
            "which is the file the campaign read; copy that file instead"
        )
    rep = replay_loaded(loaded, args.case, _parse_params(args.param) or None)
    source = f" (recording {rep.row['recording']})" if "recording" in rep.row else ""
    say(f"case {rep.case}{source}: {rep.trace!r}")
    for e in rep.trace.events:
        impact = "-" if e.impact is None else f"{e.impact:.3f} s"
        say(f"  truth  {e.motion:<13} {e.start:7.3f}-{e.end:7.3f} s  impact {impact}")
    width = max([8, *map(len, rep.outcomes)])
    for mid, o in rep.outcomes.items():
        if o.message:
            say(f"  {mid:<{width}} {o.verdict:<14} {o.message}")
            continue
        times = ", ".join(f"{t:.3f}" for t in o.detection_times)
        said = f"detections at {times} s" if times else "no detection"
        say(
            f"  {mid:<{width}} count {o.predicted_count} (true {o.true_count})  "
            f"{o.verdict:<14} {said}"
        )
    unchecked = None if args.param else rep.not_compared()
    if rep.stored:
        if not rep.matches_stored:
            differ = rep.differences()
            what = "; ".join(f"{m}: {', '.join(c)}" for m, c in differ.items())
            say(f"regenerated results are DIFFERENT FROM the campaign's stored rows ({what})")
            messages = any("message" in c for c in differ.values())
            if messages and (why := rep.other_code()) is not None:
                say(f"  {why}")
        elif unchecked is None:
            say(
                "regenerated results are identical to the campaign's stored rows (every "
                "stored column, parameters and outcome alike)"
            )
        else:
            say(f"regenerated results of {', '.join(rep.stored)} are identical to their rows")
    if unchecked is not None:
        say(unchecked)
    writers: dict[str, tuple[Path, Writer]] = {}
    if args.csv:
        writers["--csv"] = (args.csv, lambda tmp: _write_trace_table(rep.trace, tmp))
    if args.plot:
        from highfive.reports import plot_replay, save_figure

        spec = next((c.spec for c in rep.counters.values() if c.spec is not None), None)
        verdicts = ", ".join(f"{m} {o.verdict}" for m, o in rep.outcomes.items())
        title = f"{utf8_text(os.fspath(args.run))} case {rep.case}: {verdicts}"
        fig = plot_replay(rep.trace, rep.results, spec=spec, title=title)
        writers["--plot"] = (args.plot, lambda tmp: save_figure(fig, tmp))
    write_together(writers)
    for path, _ in writers.values():
        say(f"wrote {path}")
    # 0: identical to the stored rows (or a case changed by --param, not compared);
    # 1: different, or nothing stored to compare with.
    return 0 if (args.param or rep.matches_stored) and unchecked is None else 1


def _list_failing(run: Path) -> int:
    """``highfive replay RUN``: the run's failing cases, worst verdicts first."""
    from highfive.harness import SEVERITY, CampaignConfig, RunDir, replay_command

    rundir = RunDir(run)
    record = rundir.read_campaign(config=True)
    models = [str(m["id"]) for m in record.get("models", [])]
    rows = rundir.results(columns=["case_id", "model", "verdict"])
    cases = int(rows["case_id"].nunique())
    failing_ids = set(rows["case_id"][rows["verdict"].astype(str) != "pass"].tolist())
    rows = rows[rows["case_id"].isin(failing_ids)]  # every model's verdict on those cases
    table: dict[int, dict[str, str]] = {}
    for case, model, verdict in zip(
        rows["case_id"].tolist(),
        rows["model"].astype(str).tolist(),
        rows["verdict"].astype(str).tolist(),
        strict=True,
    ):
        table.setdefault(int(case), {})[model] = verdict
    models += sorted({m for verdicts in table.values() for m in verdicts} - set(models))
    rank: dict[str, int] = {v: i for i, v in enumerate(SEVERITY)}  # failing ones, worst first

    def worst(case: int) -> tuple[int, int]:
        return min(rank.get(v, len(rank)) for v in table[case].values()), case

    failing = sorted(table, key=worst)
    shown = failing[:_LISTED]
    per_model = ", ".join(
        f"{m} {sum(t.get(m, 'pass') != 'pass' for t in table.values()):,}" for m in models
    )
    if record.get("status") != "complete":
        config = CampaignConfig.from_dict(record["config"])
        say(
            f"the run is incomplete: status {record.get('status')!r}, "
            f"{len(rundir.done_batches()):,} of {config.n_batches:,} batches done "
            f"({cases:,} of {config.cases:,} cases); only those cases are listed"
        )
    say(
        f"{len(failing):,} of {cases:,} cases fail ({per_model})"
        + (f"; the first {len(shown)}, worst verdicts first:" if failing else "")
    )
    if not shown:
        return 0
    width = max([14, *map(len, models)])
    say(f"  {'CASE_ID':>8}  " + "  ".join(f"{m:<{width}}" for m in models).rstrip())
    for case in shown:
        cells = "  ".join(f"{table[case].get(m, '-'):<{width}}" for m in models)
        say(f"  {case:>8}  {cells}".rstrip())
    say(f"replay one with: {replay_command(run, 'CASE_ID')}")
    return 0


def _cmd_shrink(args: argparse.Namespace) -> int:
    from highfive.harness import replay_command, shrink

    res = shrink(args.run, args.case, args.model, max_steps=args.max_steps)
    changed = res.changed()
    limit = (
        f"; stopped at the limit of {args.max_steps:,} evaluation"
        f"{'s' * (args.max_steps != 1)} (--max-steps), so the "
        "point is not minimal: a larger --max-steps may move it further"
        if res.limited
        else ""
    )
    say(
        f"case {res.case}, model {res.model}: verdict {res.verdict} after "
        f"{res.evaluations} evaluation{'s' * (res.evaluations != 1)}{limit}"
    )
    say(f"{len(changed)} of {len(res.shrunk)} parameters still differ from nominal:")
    for k, v in changed.items():
        say(f"  {k:<18} {v!r:<22} (nominal {res.nominal[k]!r}, was {res.original[k]!r})")
    say("replay it with:")
    moved = {k: v for k, v in res.shrunk.items() if v != res.original[k]}
    say("  " + replay_command(args.run, res.case, moved))
    return 0


# -- coverage ------------------------------------------------------------------------
def _cmd_coverage(args: argparse.Namespace) -> int:
    from highfive.coverage import analyse_run, load_settings, write_coverage

    result = analyse_run(
        list(args.runs),
        load_settings(args.bins),
        allow_partial=args.partial,
        log=lambda line: print(line, file=sys.stderr, flush=True),  # progress on big crosses
    )
    out = args.out or args.runs[0]
    written = write_coverage(out, result)  # first: a failed write prints no analysis
    for line in result.lines():  # worst cells' labels, model ids: from the run
        say(line)
    for path in written:
        say(f"wrote {path}")
    return 0


# -- parser --------------------------------------------------------------------------
def _build_parser() -> argparse.ArgumentParser:
    from highfive.coverage import BINS_HELP
    from highfive.generators import MOTION_NAMES

    parser = argparse.ArgumentParser(
        prog="highfive",
        description="Monte Carlo verification harness for a wrist-worn high-five counter.",
    )
    parser.add_argument(
        "--version",
        action=_Version,
        help="print the versions of highfive, Python and the main libraries, and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "synth",
        help="synthesize one labelled accelerometer trace",
        description="Synthesize one trace of MOTION at the nominal point of the default "
        "space (or at random with --random), print its truth events, and optionally "
        "write it as CSV (columns t in s and x_g, y_g, z_g in g, which 'highfive count' "
        "reads as g) and as a plot.",
    )
    p.add_argument("motion", metavar="MOTION", help=f"one of: {', '.join(MOTION_NAMES)}")
    p.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of this trace's random streams, >= 0 (default 0); a campaign's case is "
        "seeded otherwise, so no --seed remakes one: 'highfive replay RUN CASE_ID --csv "
        "FILE' writes a campaign case's trace",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a dimension other than the motion, e.g. --param peak_accel=20 "
        "(repeatable, each dimension once)",
    )
    p.add_argument(
        "--random",
        action="store_true",
        help="draw the dimensions not given with --param at random from the seed",
    )
    p.add_argument(
        "--csv",
        type=path_arg,
        metavar="FILE",
        help="write the samples as CSV (t in s, x_g, y_g, z_g in g), or as Parquet for a "
        ".parquet name",
    )
    p.add_argument("--plot", type=path_arg, metavar="FILE.png", help="write a plot of the trace")
    p.set_defaults(handler=_cmd_synth, outputs={"csv": "file", "plot": "image"})

    p = sub.add_parser(
        "count",
        help="count high-fives in a recording",
        description=f"Run the counter pipeline on a recording (CSV or Parquet with "
        f"{columns_help()}) and print the detections. Units and rate are inferred unless "
        "given (x_g/y_g/z_g are in g); the recording is resampled to the model's rate. The "
        "file is only read.",
    )
    p.add_argument("recording", type=path_arg, metavar="RECORDING", help=".csv or .parquet file")
    p.add_argument(
        "--model",
        "--counter",
        default="float",
        metavar="COUNTER",
        help="the counter: float, int8, an ONNX file, pkg.module:attr, file.py:attr or "
        "'exec:PROGRAM ARGS' (default: float)",
    )
    _add_reading_options(
        p,
        "acceleration units (default: g for axes named x_g, y_g, z_g, else inferred from "
        "the quietest stretch)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON, with every window's probability (null for "
        "counters that report none)",
    )
    p.add_argument(
        "--plot",
        type=path_arg,
        metavar="FILE.png",
        help="write a plot of the recording with the detections and, under it, every "
        "window's probability with the thresholds",
    )
    p.set_defaults(handler=_cmd_count, outputs={"plot": "image"})

    p = sub.add_parser(
        "realism",
        help="compare real recordings with synthetic traces of a region, feature by feature",
        description=f"Read real recordings as 'count' does ({columns_help()}), synthesize "
        "traces of a region of "
        "the parameter space (with gravity or without, to match), resample them to the "
        "recordings' rate and cut both into pieces of the recordings' median length; "
        "compare per feature (|a| percentiles, per-axis std, dominant frequency, power "
        "above 5 Hz, jerk percentiles, tilt and roll with gravity) with the Wasserstein-1 "
        "distance over the real IQR and the Kolmogorov-Smirnov test, and list the real "
        "pieces outside the synthetic central 99% (the generator's holes). Writes "
        "features, distances, holes and spectra as Parquet and summary.json into --out "
        "(and a self-contained HTML page with --html). Recordings that cannot be read "
        "are listed and skipped.",
    )
    p.add_argument(
        "recordings", type=path_arg, nargs="+", metavar="RECORDING", help=".csv or .parquet files"
    )
    p.add_argument(
        "--region",
        type=path_arg,
        metavar="REGION.toml",
        help="restrictions of the space, as a campaign's [space] table (e.g. background = "
        '"walking"; see examples/realism/); default: the whole default space',
    )
    p.add_argument(
        "--out", type=path_arg, default=Path("realism"), help="output folder (default: realism)"
    )
    p.add_argument(
        "--synthetic",
        type=int_between(1, _MAX_SYNTHETIC),
        default=200,
        metavar="N",
        help=f"synthetic traces to make (1 to {_MAX_SYNTHETIC:,}; default 200)",
    )
    p.add_argument("--seed", type=_seed, default=0, help="seed of the synthetic draw (default 0)")
    p.add_argument(
        "--gravity",
        choices=("auto", "present", "removed"),
        default="auto",
        help="whether the recordings contain gravity (default: from their quietest stretch)",
    )
    p.add_argument(
        "--match",
        metavar="FEATURE",
        help="compare only the synthetic pieces whose FEATURE lies within the real values' "
        "central 90%% (a feature's name as in distances.parquet: mag_p5, mag_p50, mag_p95, "
        "std_x, std_y, std_z, dom_freq, hf_share, jerk_p50, jerk_p95, tilt, roll); "
        "--match dom_freq compares walks at the recordings' own pace",
    )
    _add_reading_options(
        p, "acceleration units (default: inferred; needed for recordings without gravity)"
    )
    p.add_argument(
        "--html", type=path_arg, metavar="FILE", help="also write a self-contained HTML page"
    )
    p.set_defaults(handler=_cmd_realism, outputs={"out": "folder", "html": "file"})

    p = sub.add_parser(
        "run",
        help="run a Monte Carlo campaign (dask)",
        description="Run the campaign a TOML file describes: every case through every model, "
        "results to Parquet in OUT/NAME. An embedded local dask cluster is used unless "
        "--scheduler names one. Interrupted runs complete with --resume.",
    )
    p.add_argument("config", type=path_arg, nargs="?", metavar="CONFIG.toml", help="campaign file")
    p.add_argument(
        "--focus",
        type=path_arg,
        metavar="RUN",
        help="plan a follow-up of RUN that spends its cases on RUN's holes and "
        "undecided cells (no CONFIG needed; merge with 'highfive coverage RUN NEW')",
    )
    p.add_argument(
        "--bins",
        type=path_arg,
        metavar="BINS.toml",
        help="with --focus: " + BINS_HELP + "; its bins, crosses and [statistics] define the "
        "holes and undecided cells the follow-up targets",
    )
    p.add_argument("--out", type=path_arg, help="parent folder of the run directory")
    p.add_argument("--name", help="run directory name (default: the config's name)")
    p.add_argument(
        "--cases", type=whole_number("cases", 1024), help="number of cases (overrides the config)"
    )
    p.add_argument(
        "--workers",
        type=whole_number("worker processes", 4),
        help="local worker processes; 0 runs in this process without dask",
    )
    p.add_argument("--scheduler", metavar="ADDR", help="address of an existing dask scheduler")
    p.add_argument(
        "--resume",
        action="store_true",
        help="complete an interrupted run: only missing batches run",
    )
    p.add_argument(
        "--until-decided",
        action="store_true",
        help="run in stages until the gate is decided (every criterion on cases passed, "
        "or one failed; anytime-valid bounds), each stage's cases on what is undecided; "
        "exit 0 pass, 1 fail or undecided when the budget is spent",
    )
    p.add_argument(
        "--budget",
        type=whole_number("cases", 100000),
        help="with --until-decided: most cases in all (default 16 stages)",
    )
    p.add_argument(
        "--stage",
        type=whole_number("cases", 1024),
        help="with --until-decided: cases per stage (default: --cases)",
    )
    p.add_argument(
        "--spending",
        help="with --until-decided: how the decisions spend the error over the looks: "
        "anytime (default; confidence sequences), or Clopper-Pearson at levels of a "
        "spending function over the ceil(budget/stage) looks: even, pocock, obf",
    )
    p.add_argument(
        "--gate",
        type=path_arg,
        metavar="GATE.toml",
        help="with --until-decided: the gate file (default: gate.toml beside CONFIG)",
    )
    p.set_defaults(handler=_cmd_run, outputs={"out": "folder"})

    p = sub.add_parser(
        "replay",
        help="regenerate one case of a run bit-identically",
        description="Regenerate CASE_ID of RUN from its campaign.json, run every model, "
        "print truth, detections and verdicts, and check them against the stored rows: "
        "parameters, source, weight and outcome, every stored column (exit 1 if they "
        "differ or nothing is stored). --param changes parameters (then nothing is "
        "compared). Without CASE_ID, list the run's failing cases, worst verdicts first "
        "(exit 0; of an incomplete run, the first line says so and only the cases done "
        "are listed).",
    )
    p.add_argument("run", type=path_arg, metavar="RUN", help="run directory")
    p.add_argument(
        "case",
        type=_case,
        nargs="?",
        metavar="CASE_ID",
        help="the case to replay (default: list the failing cases)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter of the case (repeatable, each parameter once)",
    )
    p.add_argument(
        "--plot",
        type=path_arg,
        metavar="FILE.png",
        help="plot trace, scalogram and window probabilities",
    )
    p.add_argument(
        "--csv",
        type=path_arg,
        metavar="FILE",
        help="write the case's trace, the very samples the campaign judged, as 'highfive "
        "synth --csv' does (CSV, or Parquet for a .parquet name): 'highfive count FILE "
        "--model M' gives the stored count",
    )
    p.set_defaults(handler=_cmd_replay, outputs={"plot": "image", "csv": "file"})

    p = sub.add_parser(
        "shrink",
        help="minimise a failing case towards nominal",
        description="Move the parameters of failing CASE_ID towards nominal, one dimension "
        "at a time, while the same verdict persists; print the smallest failing point "
        "and the command that replays it. A case whose stored verdict differs from "
        "today's is refused (it does not reproduce). Shrinking stops after --max-steps "
        "evaluations; if a parameter could still move then, it says so: the point is "
        "not minimal.",
    )
    p.add_argument("run", type=path_arg, metavar="RUN", help="run directory")
    p.add_argument("case", type=_case, metavar="CASE_ID", help="a failing case of RUN")
    p.add_argument("--model", help="the model whose failure to keep (default: the first failing)")
    p.add_argument(
        "--max-steps",
        type=int_at_least(1),
        default=400,
        metavar="N",
        help="evaluations to spend at most (default 400)",
    )
    p.set_defaults(handler=_cmd_shrink)

    p = sub.add_parser(
        "coverage",
        help="coverage map and failure statistics of one or more runs",
        description="Bin every dimension, count cases and failures per cell of every "
        "t-way cross and model, bound failure rates (one-sided Clopper-Pearson), and write "
        "coverage/cells.parquet, holes.parquet, counts.parquet and summary.json into the "
        "run (or --out). Several runs are merged (same space, bins and models).",
    )
    p.add_argument("runs", type=path_arg, nargs="+", metavar="RUN", help="run directories")
    p.add_argument(
        "--bins",
        type=path_arg,
        metavar="BINS.toml",
        help=BINS_HELP + " (default: 4 bins per dimension from the space, 1- and 2-way)",
    )
    p.add_argument("--out", type=path_arg, help="where coverage/ goes (default: the first run)")
    p.add_argument("--partial", action="store_true", help="analyse an unfinished run")
    p.set_defaults(
        handler=_cmd_coverage,
        outputs={"out": "folder"},
        default_outputs={
            "out": ("RUN", "folder", lambda a: Path(a.runs[0]) / "coverage", _ELSEWHERE)
        },
    )

    from highfive.coverage import add_coverage_commands
    from highfive.models import add_model_commands
    from highfive.reports import add_report_commands

    add_coverage_commands(sub)
    add_report_commands(sub)
    model = add_model_commands(sub)
    # Their output files too are checked before the command runs (see main).
    sub.choices["report"].set_defaults(
        outputs={"out": "file"},
        default_outputs={
            "out": ("RUN", "file", lambda a: Path(a.run) / "report.html", _ELSEWHERE),
            # computed into the run when it has none (a dest no option sets: always checked)
            "coverage_of_run": ("RUN", "folder", lambda a: Path(a.run) / "coverage", ""),
        },
    )
    model.set_defaults(outputs={"out": "file"})  # train, quantize
    return parser


def _add_reading_options(p: argparse.ArgumentParser, units_help: str) -> None:
    """``--units`` and ``--time-unit``: how a recording's numbers are read."""
    p.add_argument("--units", choices=("auto", "g", "m/s2"), default="auto", help=units_help)
    p.add_argument(
        "--time-unit",
        choices=("auto", "s", "ms", "us", "ns"),
        default="auto",
        help="unit of a numeric time column (default: inferred from the spacing; ns only "
        "from whole numbers); a Parquet timestamp or duration column's type gives its "
        "unit, and ISO 8601 text is read as dates and times",
    )


class _Version(argparse.Action):
    """``--version``: one line per distribution, read from the installed metadata."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        import platform
        from importlib import metadata

        def version(dist: str) -> str:
            try:
                return f"{dist} {metadata.version(dist)}"
            except metadata.PackageNotFoundError:
                return f"{dist} not installed"

        lines = [version("highfive"), f"python {platform.python_version()}"]
        try:
            print("\n".join(lines + [version(d) for d in _VERSIONS]))
            sys.stdout.flush()
        except BrokenPipeError:  # `highfive --version | head -1`: stop quietly, as cat does
            _discard_stdout()
            parser.exit(141)
        except OSError as exc:  # `> /dev/full`: as the commands say it
            _discard_stdout()
            parser.exit(2, f"error: {terminal_text(_describe(exc))}\n")
        parser.exit()


class _Terminated(KeyboardInterrupt):
    """SIGTERM (kill, timeout, systemd, batch systems), handled as Ctrl-C is: whatever
    runs stops and cleans up, and a campaign records its status "interrupted"."""


def _on_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    if threading.current_thread() is not threading.main_thread():  # no signal handlers
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def say(line: str = "", file: Any = None) -> None:
    """Print one line built from run data (model ids, file names, labels from a
    recording's metadata), each character a terminal would not print as its escape:
    what every command prints of a run goes through here."""
    print(terminal_text(line), file=file)


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed arguments; words no option takes (an unknown option, an extra
    argument) are the chosen command's usage error (``highfive model train: error:
    unrecognized arguments: ...``), not the top level's."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        chosen = parser
        while True:  # down the subcommands chosen, e.g. model, then train
            subs = [a for a in chosen._actions if isinstance(a, argparse._SubParsersAction)]
            name = getattr(args, subs[0].dest, None) if subs else None
            if name is None:
                break
            chosen = subs[0].choices[name]
        chosen.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _main(argv: Sequence[str] | None) -> int:
    if sys.stdout is None:  # started with it closed (`>&-`): every line printed would vanish
        print(
            "error: standard output is closed, so nothing could be printed; redirect it to "
            "a file or to /dev/null instead",
            file=sys.stderr,
        )
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        args = _parse(_build_parser(), argv)
        handler: Handler = args.handler
        try:
            _check_outputs(args)
            status = handler(args)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return status
        except HighfiveError as exc:  # may echo a counter's message: escaped
            print(f"error: {terminal_text(str(exc))}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # stdout closed early (``| head``): stop quietly, as cat does
            _discard_stdout()
            return 141  # 128 + SIGPIPE
        except OSError as exc:  # the machine's refusal (disk full, read-only): no traceback
            print(f"error: {terminal_text(_describe(exc))}", file=sys.stderr)
            return 2
        except _Terminated:
            print("terminated", file=sys.stderr)
            return 143  # 128 + SIGTERM
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Show a Python warning as one line ``warning: ...`` (no library path or source)."""
    print(f"warning: {' '.join(str(message).split())}", file=file or sys.stderr)


def _discard_stdout() -> None:
    """Point standard output at /dev/null: what is still buffered for a stdout that
    cannot take it (closed, full) would fail again when Python flushes it at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _describe(exc: OSError) -> str:
    """One line for an ``OSError``: what failed on which file."""
    reason = exc.strerror or str(exc)
    files = [repr(os.fspath(f)) for f in (exc.filename, exc.filename2) if f is not None]
    return f"{reason}: {' -> '.join(files)}" if files else reason


if __name__ == "__main__":
    sys.exit(main())
