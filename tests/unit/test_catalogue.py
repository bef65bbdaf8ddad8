"""A catalogue of malformed input, across every command of ``highfive``.

Each row is an id, the command line (split like a shell would), files the row writes
first, and a regular expression the message must match. Every row runs
``highfive.harness.cli.main`` in a fresh working folder and must exit with status 2 and
print exactly one line ``error: ...`` (or, for argument syntax, argparse's usage error),
no traceback, and write nothing: the working folder, which holds copies of the
runs, is compared file by file (sizes and modification times) before and after.

The working folder holds:

- ``run/``: a small complete run (16 cases; the toy model and the shipped float model),
  made once per module in this process; ``{passing}`` in a row is a case that passes
  with both;
- ``partial/``: the same run marked unfinished;
- ``toy.onnx`` (the toy model), ``good.csv`` (a good recording), ``afile`` (an empty
  file) and ``folder/`` (an empty folder).
"""

from __future__ import annotations

import json
import math
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from highfive.harness.cli import main

GOOD_RUN = """name = "small"
seed = 3
cases = 16
sampler = "random"
batch_size = 8
models = ["toy.onnx", "float"]
out = "runs"
[execution]
workers = 0
"""


KNOWN_TRUTH = (
    f"{Path(__file__).resolve().parents[2] / 'examples' / 'counters' / 'known_truth.py'}:KnownTruth"
)
"""A Python counter plug-in (fails with a known probability), for rows on counter kinds."""

SEQ_GATE = '[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n'
"""A gate with one criterion on cases, for sequential-campaign rows."""

SEQ_FOLDER = {
    "seq/stages.json": "{}",
    "seq/stage-000/campaign.json": "{}",
    "seq/stage-001/.lock": "",
}
"""A sequential campaign's folder of two stages (the second one unfinished)."""


def _campaign(**changes: object) -> str:
    """A campaign file of the toy model, with ``changes`` (TOML values) applied."""
    keys = {"name": '"n"', "seed": "1", "cases": "8", "models": '["toy.onnx"]', "out": '"out"'}
    keys["[execution]"] = "workers = 0"  # in this process: cheap if a row is let through
    keys.update({k: str(v) for k, v in changes.items()})
    body = "".join(f"{k} = {v}\n" for k, v in keys.items() if not k.startswith("["))
    tables = "".join(f"{k}\n{v}\n" for k, v in keys.items() if k.startswith("["))
    return body + tables


def _recordings(labels: str, table: str = "", **files: str) -> dict[str, str]:
    """A campaign of the recordings ``l.csv`` lists (in the working folder), with lines
    added to its ``[recordings]`` table, and other files."""
    toml = (
        'name = "n"\nmodels = ["toy.onnx"]\nout = "out"\n'
        f'[recordings]\nfolder = "."\nlabels = "l.csv"\n{table}\n[execution]\nworkers = 0\n'
    )
    return {"r.toml": toml, "l.csv": labels, **files}


def _proposal(row: int = 0, bins: list[float] | None = None) -> dict[str, object]:
    """A proposal file's content for the default space (36 dimensions, 4 bins), with
    one row replaced."""
    rows: list[list[float]] = [[1.0] * 4 for _ in range(36)]
    rows[row] = bins or rows[row]
    return {"probs": rows}


def _importance_files(proposal: dict[str, object], table: str = "") -> dict[str, str]:
    """An importance campaign ``c.toml`` of the toy model starting from ``p.json``."""
    toml = _campaign(
        sampler='"importance"', **{"[importance]": f'stages = 1\nproposal = "p.json"\n{table}'}
    )
    return {"c.toml": toml, "p.json": json.dumps(proposal)}


@dataclass(frozen=True)
class Bad:
    argv: str
    match: str
    files: Mapping[str, str] = field(default_factory=dict)
    usage: bool = False  # argparse's usage error rather than one 'error:' line


def row(
    id: str,
    argv: str,
    match: str,
    *,
    files: Mapping[str, str] | None = None,
    usage: bool = False,
) -> object:
    return pytest.param(Bad(argv, match, files or {}, usage), id=id)


CATALOGUE = [
    # -- synth ---------------------------------------------------------------------
    row("synth-unknown-motion", "synth moonwalk", r"motion: unknown motion 'moonwalk'; allowed: "),
    row("synth-empty-motion", "synth ''", r"motion: unknown motion ''; allowed: .*high_five"),
    row(  # Path('') is '.': it was refused as "'.' is a folder"
        "synth-empty-csv",
        "synth high_five --csv ''",
        r"argument --csv: '' is an empty path; give a file or folder name",
        usage=True,
    ),
    row(  # CSV text was written under the name, which count then could not read
        "synth-csv-other-suffix",
        "synth high_five --csv trace.txt",
        r"--csv: 'trace.txt' must end in .csv or .parquet \(the formats 'highfive count' reads\)",
    ),
    row(
        "count-empty-recording",
        "count ' '",
        r"argument RECORDING: ' ' is an empty path; give a file or folder name",
        usage=True,
    ),
    row(
        "coverage-empty-out",
        "coverage run --out ''",
        r"argument --out: '' is an empty path",
        usage=True,
    ),
    row(
        "synth-out-of-range",
        "synth high_five --param peak_accel=100",
        r"peak_accel: '100' is out of range \(allowed: 4 to 40",
    ),
    row(
        "synth-not-whole",
        "synth high_five --param repetitions=2.5",
        r"repetitions: '2.5' is not a whole number \(allowed: 1 to 4",
    ),
    row(
        "synth-overflow",
        "synth high_five --param duration=1e400",
        r"duration: '1e400' is not a finite number",
    ),
    row("synth-unknown-param", "synth high_five --param speed=2", r"unknown parameter 'speed'"),
    row(
        "synth-param-motion",
        "synth high_five --param motion=clap",
        r"--param: 'motion=clap' sets the motion, which is MOTION \('high_five'\); give it as",
    ),
    row(
        "synth-param-twice",
        "synth high_five --param peak_accel=4 --param peak_accel=40",
        r"--param: peak_accel is given twice \('4', then '40'\); give each parameter once",
    ),
    row(
        "synth-csv-and-plot-one-file",
        "synth high_five --csv same.png --plot ./same.png",
        r"--plot: 'same.png' is also the --csv file; give each output its own file",
    ),
    row("synth-no-equals", "synth high_five --param speed", r"'speed' is not of the form NAME="),
    row("synth-negative-seed", "synth high_five --seed -1", r"--seed: -1 must be >= 0", usage=True),
    row("synth-text-seed", "synth high_five --seed one", r"--seed: 'one' is not an", usage=True),
    row(
        "synth-csv-folder",
        "synth high_five --csv folder",
        r"--csv: 'folder' is a folder; give a file name",
    ),
    row(
        "synth-plot-under-file",
        "synth high_five --csv ok.csv --plot afile/x.png",
        r"--plot: cannot write 'afile/x.png': '.*afile' is not a folder",
    ),
    row(
        "synth-plot-suffix",
        "synth high_five --csv ok.csv --plot x.txt",
        r"--plot: 'x.txt' does not end in an image format; use one of .*\.png",
    ),
    # -- outputs that would overwrite an input -------------------------------------
    row(
        "quantize-onto-its-input",
        "model quantize toy.onnx --out ./toy.onnx",
        r"--out: 'toy.onnx' would overwrite the input FLOAT_MODEL 'toy.onnx'",
    ),
    row(
        "prune-onto-its-input",
        "model prune toy.onnx --out toy.onnx --epochs 0",
        r"--out: 'toy.onnx' would overwrite the input MODEL 'toy.onnx'",
    ),
    row(
        "diff-out-onto-a-run-record",
        "diff run partial --out run/campaign.json",
        r"--out: 'run/campaign.json' would overwrite the input RUN_A 'run'",
    ),
    row(
        "compare-out-into-run-results",
        "model compare run --out run/results/x.parquet",
        r"--out: 'run/results/x.parquet' would overwrite the input RUN 'run'",
    ),
    row(
        "gate-criteria-in-its-own-output",
        "gate run --gate run/junit.xml",
        r"--gate: 'run/junit.xml' is the file the gate writes its verdict to",
        files={"run/junit.xml": '[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n'},
    ),
    row("diff-a-run-with-itself", "diff run ./run/", r"RUN_B: 'run' is RUN_A's directory"),
    row(
        "campaign-json-not-utf8",
        "gate bad --gate g.toml",
        r"bad/campaign.json: not UTF-8 text",
        files={"bad/campaign.json": "\udcc0", "g.toml": SEQ_GATE},
    ),
    row(
        "campaign-json-a-list",
        "replay bad 1",
        r"bad/campaign.json: holds a JSON list, not the campaign record",
        files={"bad/campaign.json": "[1, 2]\n"},
    ),
    row(  # KeyError: 'config'
        "campaign-json-without-config",
        "replay bad 1",
        r"bad/campaign.json: damaged, 'config' is missing; the run cannot be read",
        files={"bad/campaign.json": '{"schema_version": 3, "models": [{"id": "m"}]}\n'},
    ),
    row(  # AttributeError: 'NoneType' object has no attribute 'get'
        "campaign-json-config-null",
        "shrink bad 1",
        r"bad/campaign.json: damaged, 'config' is null, not an object",
        files={"bad/campaign.json": '{"schema_version": 3, "config": null, "models": []}\n'},
    ),
    row(  # "case 1 passes with ;" and "the runs hold no ONNX model"
        "campaign-json-without-models",
        "model compare bad",
        r"bad/campaign.json: damaged, 'models' is missing",
        files={"bad/campaign.json": '{"schema_version": 3, "config": {}}\n'},
    ),
    row(  # TypeError: string indices must be integers
        "campaign-json-models-text",
        "replay bad",
        r"bad/campaign.json: damaged, 'models' is text, not a list",
        files={"bad/campaign.json": '{"schema_version": 3, "config": {}, "models": "x"}\n'},
    ),
    row(  # TypeError: unhashable type: 'list' (exit 1, which a CI reads as "failed")
        "gate-campaign-json-sampler-a-list",
        "gate bad --gate g.toml",
        r"bad/campaign.json: damaged, 'config.sampler' is a list, not text; the run cannot be",
        files={
            "bad/campaign.json": '{"schema_version": 3, "status": "complete", "config": '
            '{"sampler": ["x"]}, "models": [{"id": "m"}]}\n',
            "g.toml": SEQ_GATE,
        },
    ),
    row(  # KeyError: 'sha256' (gate, coverage, report); replay blamed a changed counter
        "coverage-campaign-json-model-without-sha256",
        "coverage bad",
        r"bad/campaign.json: damaged, models\[0\]\.sha256 is null, not text",
        files={
            "bad/campaign.json": '{"schema_version": 3, "status": "complete", "config": {}, '
            '"models": [{"id": "m", "source": "float"}]}\n'
        },
    ),
    row(  # TypeError: unhashable type: 'dict'
        "replay-campaign-json-sampler-a-table",
        "replay bad 1",
        r"bad/campaign.json: damaged, 'config.sampler' is an object, not text",
        files={
            "bad/campaign.json": '{"schema_version": 3, "status": "complete", "config": '
            '{"sampler": {"a": 1}}, "models": [{"id": "m"}]}\n'
        },
    ),
    row(  # ValueError: negative dimensions are not allowed
        "report-campaign-json-cases-negative",
        "report bad",
        r"bad/campaign.json: damaged, 'config.cases' is -1, not a whole number >= 0",
        files={
            "bad/campaign.json": '{"schema_version": 3, "status": "complete", "config": '
            '{"cases": -1}, "models": [{"id": "m"}]}\n'
        },
    ),
    row(  # ZeroDivisionError
        "report-campaign-json-batch-size-zero",
        "report bad",
        r"bad/campaign.json: damaged, 'config.batch_size' is 0, not a whole number >= 1",
        files={
            "bad/campaign.json": '{"schema_version": 3, "status": "complete", "config": '
            '{"batch_size": 0}, "models": [{"id": "m"}]}\n'
        },
    ),
    row(  # AttributeError: 'str' object has no attribute 'get'
        "report-campaign-json-versions-text",
        "report bad",
        r"bad/campaign.json: damaged, 'versions' is text, not an object",
        files={
            "bad/campaign.json": '{"schema_version": 3, "status": "complete", "config": {}, '
            '"versions": "x", "models": [{"id": "m"}]}\n'
        },
    ),
    row(  # written, then every reader raised UnicodeEncodeError in pyarrow
        "run-out-not-utf8",
        "run c.toml --out r\udcff",
        r"run directory 'r\\\\xff/n': its path is not UTF-8, and the results' Parquet files "
        r"are read through UTF-8 paths only; choose a UTF-8 name$",
        files={"c.toml": _campaign()},
    ),
    row(  # a traceback from pyarrow
        "replay-run-not-utf8",
        "replay r\udcff 1",
        r"run directory 'r\\\\xff': its path is not UTF-8",
    ),
    row(
        "run-batch-too-large",
        "run big.toml",
        r"batch_size: 2,000,000 is more than 1,000,000; a batch is held in memory",
        files={"big.toml": _campaign(cases=2_000_000, batch_size=2_000_000)},
    ),
    # -- count ---------------------------------------------------------------------
    row("count-missing", "count missing.csv", r"recording: 'missing.csv' does not exist"),
    row(
        "count-folder",
        "count folder",
        r"recording: 'folder' is a folder; give a .csv or .parquet file",
    ),
    row(
        "count-suffix",
        "count toy.onnx",
        r"recording: toy.onnx has suffix '.onnx'; allowed: .csv, .parquet",
    ),
    row("count-empty", "count empty.csv", r"cannot read empty.csv", files={"empty.csv": ""}),
    row(
        "count-no-time-column",
        "count cols.csv",
        r"recording cols.csv: no time column among \['not', 'a'\]; expected time one of",
        files={"cols.csv": "not,a\n1,2\n"},
    ),
    row(
        "count-text-values",
        "count text.csv",
        r"recording text.csv: column 'x', row 1: 'a' is not a number; columns x, y, z must be "
        r"numeric$",
        files={"text.csv": "t,x,y,z\n0,0,0,1\n0.02,a,0,1\n"},
    ),
    row(
        "count-nan",
        "count nan.csv",
        r"recording nan.csv: row 1 is not finite",
        files={"nan.csv": "t,x,y,z\n0,0,0,1\n0.02,nan,0,1\n0.04,0,0,1\n"},
    ),
    row(
        "count-backwards",
        "count back.csv",
        r"not strictly increasing at row 1 of back.csv",
        files={"back.csv": "t,x,y,z\n0.04,0,0,1\n0.02,0,0,1\n0,0,0,1\n"},
    ),
    row(
        "count-one-row",
        "count one.csv",
        r"recording one.csv: 1 rows; need at least 2",
        files={"one.csv": "t,x,y,z\n0,0,0,1\n"},
    ),
    row(
        "count-junk-parquet",
        "count junk.parquet",
        r"recording: cannot read junk.parquet",
        files={"junk.parquet": "PAR1garbage"},
    ),
    row(
        "count-too-short",
        "count good.csv --time-unit ms",
        r"recording good.csv: .* shorter than one window",
    ),
    row(
        "count-unknown-model",
        "count good.csv --model nope",
        r"model: 'nope' is neither a file nor a shipped model \(float, int8\)",
    ),
    row(
        "count-garbage-model",
        "count good.csv --model garbage.onnx",
        r"model 'garbage.onnx': ONNX Runtime cannot load it",
        files={"garbage.onnx": "garbage"},
    ),
    row("count-empty-exec", "count good.csv --model exec:", r"counter 'exec:': expected exec:PATH"),
    row(
        "count-missing-program",
        "count good.csv --model exec:./nothere",
        r"counter 'exec:./nothere': .* does not exist",
    ),
    row(  # a UnicodeDecodeError traceback
        "report-gate-not-utf8",
        "report run",
        r"run/gate.json: not UTF-8 text \(invalid start byte\); re-run 'highfive gate RUN "
        r"--gate GATE.toml'",
        files={"run/gate.json": "\udcff{}"},
    ),
    row(  # HTML written over what the next report reads
        "report-over-its-own-input",
        "report run --out run/gate.json",
        r"--out: 'run/gate.json' would overwrite the input RUN 'run'; choose another file",
    ),
    row(  # another run's record replaced by HTML: that run could no longer be read
        "report-out-onto-another-runs-record",
        "report run --out partial/campaign.json",
        r"--out: 'partial/campaign.json' is inside the run directory '.*partial', which "
        r"this command does not read; write it outside that run",
    ),
    row(  # a file among another run's results: read as a part of its dataset
        "report-out-into-another-runs-results",
        "report run --out partial/results/r.html",
        r"--out: 'partial/results/r.html' is inside the run directory '.*partial'",
    ),
    row(  # another run's report replaced by this run's
        "report-out-onto-another-runs-report",
        "report run --out partial/report.html",
        r"--out: 'partial/report.html' is inside the run directory '.*partial'",
    ),
    row(  # another run's coverage/ replaced by this run's
        "coverage-out-into-another-run",
        "coverage run --out partial",
        r"--out: 'partial' is inside the run directory '.*partial', which this command does "
        r"not read",
    ),
    row(
        "compare-out-into-another-run",
        "model compare run --out partial/c.parquet",
        r"--out: 'partial/c.parquet' is inside the run directory '.*partial'",
    ),
    row(  # said "does not exist"
        "count-program-is-a-folder",
        "count good.csv --model exec:./folder",
        r"counter 'exec:./folder': .*folder' is a folder, not a program",
    ),
    row(  # was loaded as ONNX: "ONNX Runtime cannot load it (InvalidProtobuf ...)"
        "count-python-file-without-attribute",
        "count good.csv --model counter.py",
        r"counter 'counter.py': a Python file names a counter as file.py:attribute",
        files={"counter.py": "def count(trace):\n    return []\n"},
    ),
    *(
        row(  # "is neither a file nor a shipped model", not what a counter looks like
            f"count-counter-spec-{name}",
            f"count good.csv --model {spec}",
            rf"counter '{spec}': not a counter; write package.module:attribute or "
            r"file.py:attribute \(the attribute a Python name, e.g. count\), exec:program, "
            r"a .onnx file or a shipped model \(float, int8\)$",
            files={"counter.py": "def count(trace):\n    return []\n"},
        )
        for name, spec in (("no-attribute", "counter.py:"), ("bad-attribute", "counter.py:1bad"))
    ),
    row(  # tried to import a module named 'counter.py:'
        "count-counter-spec-double-colon",
        "count good.csv --model counter.py::count",
        r"counter 'counter.py::count': 'counter.py:' is neither a file \(file.py\) nor a "
        r"module name \(package.module\)",
        files={"counter.py": "def count(trace):\n    return []\n"},
    ),
    row(  # a path with ':' could not name a Python counter: "neither a file nor ..."
        "count-counter-in-a-folder-with-a-colon",
        "count good.csv --model co:lon/f.py:nothere",
        r"counter 'co:lon/f.py:nothere': .*'nothere'",
        files={"co:lon/f.py": "def count(trace):\n    return []\n"},
    ),
    row(
        "count-broken-module",
        "count good.csv --model broken.py:f",
        r"counter 'broken.py:f': importing 'broken.py' failed \(SyntaxError",
        files={"broken.py": "def f(:\n"},
    ),
    row(
        "count-not-callable",
        "count good.csv --model plain.py:X",
        r"counter 'plain.py:X': 'X' is a int, not callable",
        files={"plain.py": "X = 3\n"},
    ),
    row(
        "count-plot-under-file",
        "count good.csv --plot afile/x.png",
        r"--plot: cannot write 'afile/x.png'",
    ),
    row("count-units", "count good.csv --units furlongs", r"--units: invalid choice", usage=True),
    row(
        "count-gravity-removed",
        "count linear.csv",
        r"recording linear.csv: cannot infer units: its quietest 0.06 s read 0.0\d+ on average; "
        r"the recording seems to have gravity removed; pass --units g or --units m/s2",
        files={"linear.csv": "t,x,y,z\n0,0.02,0,0\n0.02,0,0.03,0\n0.04,0,0,-0.01\n"},
    ),
    row(
        "count-units-unknown",
        "count lsb.csv",
        r"recording lsb.csv: cannot infer units: its quietest 0.06 s read 4.1 on average; "
        r"a worn watch at rest reads about 1 g or 9.81 m/s\^2: convert other units \(milli-g, "
        r"raw counts\) to g or m/s2$",
        files={"lsb.csv": "t,x,y,z\n0,0,0,4.1\n0.02,0,0,4.1\n0.04,0,0,4.1\n"},
    ),
    row(
        "count-huge-value",
        "count huge.csv",
        r"recording huge.csv: row 1 \(x, y, z\) reads \(0, 1e\+100, 1\), 1e\+100 in magnitude; "
        r"allowed: at most 1,000 g or 9,807 m/s2 in magnitude \(wrist accelerometers "
        r"saturate at 16 g, shock sensors at a few hundred g\); drop or fix the row$",
        files={"huge.csv": "t,x,y,z\n0,0,0,1\n0.02,0,1e100,1\n0.04,0,0,1\n"},
    ),
    row(
        "count-huge-in-g",
        "count huge.csv --units g",
        r"recording huge.csv: row 2 \(x, y, z\) reads \(0, 0, 1e\+39\), 1e\+39 g in magnitude; "
        r"allowed: at most 1,000 g in magnitude \(wrist accelerometers",
        files={"huge.csv": "t,x,y,z\n0,0,0,1\n0.02,0,0,1\n0.04,0,0,1e39\n"},
    ),
    row(
        "count-absurd-but-float32-in-g",  # overflowed inside the model before
        "count absurd.csv --units g",
        r"recording absurd.csv: row 300 \(x, y, z\) reads \(0, 0, 1e\+38\), 1e\+38 g in "
        r"magnitude; allowed: at most 1,000 g",
        files={
            "absurd.csv": "t,x,y,z\n"
            + "".join(f"{i / 50},0,0,{1e38 if i == 300 else 1}\n" for i in range(600))
        },
    ),
    row(
        "count-absurd-in-m/s2",
        "count absurd.csv --units m/s2",
        r"recording absurd.csv: row 1 \(x, y, z\) reads \(10000, 0, 9.8\), 10,000 m/s2 in "
        r"magnitude; allowed: at most 9,807 m/s2 \(1,000 g\) in magnitude",
        files={"absurd.csv": "t,x,y,z\n0,0,0,9.8\n0.02,10000,0,9.8\n0.04,0,0,9.8\n"},
    ),
    row(
        "count-too-slow",
        "count slow.csv --time-unit s",
        r"recording slow.csv: its median spacing in s gives a sample rate of 0.01 Hz; "
        r"allowed: at least 5 Hz \(a spacing of at most 0.2 s\); if the times are in ms, pass "
        r"--time-unit ms \(10 Hz, 0.2 s long\)$",
        files={"slow.csv": "t,x,y,z\n0,0,0,1\n100,0,0,1\n200,0,0,1\n"},
    ),
    row(
        "count-slow-rate",
        "count slow.csv --time-unit s",
        r"recording slow.csv: its median spacing in s gives a sample rate of 2 Hz; "
        r"allowed: at least 5 Hz",
        files={"slow.csv": "t,x,y,z\n0,0,0,1\n0.5,0,0,1\n1,0,0,1\n"},
    ),
    row(  # its quietest stretch 'read 0 on average; ... gravity removed'
        "count-all-zeros",
        "count zeros.csv --units g",
        r"recording zeros.csv: every one of its 3 rows reads exactly \(0, 0, 0\) in x, y, z "
        r"\(a sensor that recorded nothing\); nothing to count$",
        files={"zeros.csv": "t,x,y,z\n0,0,0,0\n0.02,0,0,0\n0.04,0.0,-0,0\n"},
    ),
    row(  # the last two rows, after the last window of 64 rows that starts every 16
        "count-zeros-but-the-last-rows",
        "count zeros.csv",
        r"recording zeros.csv: all but 2 of its 1010 rows read exactly \(0, 0, 0\) in "
        r"x, y, z \(a sensor that recorded almost nothing\); nothing to count$",
        files={
            "zeros.csv": "t,x,y,z\n"
            + "".join(f"{i / 50},0,0,{int(i >= 1008)}\n" for i in range(1010))
        },
    ),
    row(  # one reading in the middle was said to be 'its last'
        "count-zeros-but-one-row-inside",
        "count zeros.csv",
        r"recording zeros.csv: all but 1 of its 1000 rows read exactly \(0, 0, 0\) in "
        r"x, y, z \(a sensor that recorded almost nothing\); nothing to count$",
        files={
            "zeros.csv": "t,x,y,z\n"
            + "".join(f"{i / 50},0,0,{int(i == 500)}\n" for i in range(1000))
        },
    ),
    row(  # 'must be numeric'; now read as ISO 8601 where it is
        "count-time-text",
        "count text.csv",
        r"recording text.csv: column 't', row 1: '12:00:00.02' is neither a number nor an "
        r"ISO 8601 date and time; write the times as numbers in s, ms, us or ns "
        r"\(--time-unit\) or as ISO 8601 text such as '2024-05-01T12:00:00.020'$",
        files={"text.csv": "t,x,y,z\n2024-05-01T12:00:00,0,0,1\n12:00:00.02,0,0,1\n"},
    ),
    row(
        "count-time-iso-beyond-ns",
        "count far.csv",
        r"recording far.csv: column 't', row 1: '3000-05-01T12:00:00.02' is outside the "
        r"years 1678 to 2261 that times read to the ns can hold; write the times as numbers "
        r"in s, ms, us or ns \(--time-unit\)$",
        files={"far.csv": "t,x,y,z\n2024-05-01T12:00:00,0,0,1\n3000-05-01T12:00:00.02,0,0,1\n"},
    ),
    row(
        "count-time-unit-against-iso",
        "count iso.csv --time-unit ms",
        r"recording iso.csv: column 't' holds ISO 8601 dates and times, read to the ns; "
        r"--time-unit ms does not apply to them; leave --time-unit out$",
        files={"iso.csv": "t,x,y,z\n2024-05-01T12:00:00,0,0,1\n2024-05-01T12:00:00.02,0,0,1\n"},
    ),
    row(  # 2e+07 time units were refused, and so was every --time-unit
        "count-time-beyond-every-unit",
        "count slow.csv",
        r"recording slow.csv: its median spacing of 1e\+09 gives a sample rate under 5 Hz in "
        r"any time unit \(s, ms, us or ns\); allowed: at least 5 Hz$",
        files={"slow.csv": "t,x,y,z\n0,0,0,1\n1000000000,0,0,1\n2000000000,0,0,1\n"},
    ),
    row(
        "count-gravity-removed-moving",
        "count moving.csv --time-unit s",
        r"recording moving.csv: cannot infer units: its quietest 0.4 s read 1 on average; "
        r"its spread of 1.5 is more than 0.5 times that, motion rather than a watch at rest",
        files={"moving.csv": "t,x,y,z\n0,2.5,0,0\n0.1,1,1.5,0\n0.2,-0.5,0,0\n0.3,1,-1.5,0\n"},
    ),
    # -- realism ---------------------------------------------------------------------
    row(
        "realism-missing",
        "realism missing.csv",
        r"recordings: no usable recording; missing.csv: recording: 'missing.csv' does not exist",
    ),
    row(
        "realism-none-usable",
        "realism missing.csv afile",
        r"no usable recording; afile: .* \(and 1 more skipped\)",
    ),
    row(
        "realism-region-missing",
        "realism good.csv --region nope.toml",
        r"region file 'nope.toml' does not exist",
    ),
    row(
        "realism-region-unknown-key",
        "realism good.csv --region r.toml",
        r"region file r.toml: unknown parameter 'colour'; known: motion, ",
        files={"r.toml": 'colour = "red"\n'},
    ),
    row(
        "realism-region-bad-value",
        "realism good.csv --region r.toml",
        r"region file r.toml: background: .*'swimming'.*walking",
        files={"r.toml": 'background = "swimming"\n'},
    ),
    row(
        "realism-region-not-toml",
        "realism good.csv --region r.toml",
        r"r.toml: not valid TOML",
        files={"r.toml": "motion = \n"},
    ),
    row("realism-synthetic-0", "realism good.csv --synthetic 0", r"--synthetic: 0", usage=True),
    row("realism-gravity-choice", "realism good.csv --gravity maybe", r"--gravity", usage=True),
    row(
        "realism-html-folder",
        "realism good.csv --html folder",
        r"--html: 'folder' is a folder; give a file name",
    ),
    row("realism-out-file", "realism good.csv --out afile", r"--out: 'afile' is not a folder"),
    row(
        "realism-html-is-an-out-file",
        "realism good.csv --out o --html o/summary.json",
        r"--html: 'o/summary.json' is one of the files --out 'o' holds \(features.parquet, .*"
        r"summary.json\); give another file",
    ),
    row(
        "realism-html-is-the-out-folder",
        "realism good.csv --out o --html o",
        r"--html: 'o' is the --out folder 'o' or a folder above it; give a file outside it",
    ),
    row(
        "realism-synthetic-huge",
        "realism good.csv --synthetic 99999999999999999999",
        r"--synthetic: 99999999999999999999 must be <= 100,000",
        usage=True,
    ),
    row(
        "realism-match-unknown",
        "realism good.csv --match speed",
        r"match: 'speed' is not a feature; choose one of mag_p5, mag_p50, .*, roll$",
    ),
    row(
        "realism-synthetic-one-over",
        "realism good.csv --synthetic 100001",
        r"--synthetic: 100001 must be <= 100,000",
        usage=True,
    ),
    # -- run -----------------------------------------------------------------------
    row("run-nothing", "run", r"run: give a campaign file CONFIG.toml \(or --focus RUN\)"),
    row("run-missing", "run missing.toml", r"campaign file 'missing.toml' does not exist"),
    row(
        "run-broken-toml",
        "run c.toml",
        r"c.toml: not valid TOML",
        files={"c.toml": 'name = "x"\ncases = \n'},
    ),
    row(
        "run-unknown-key",
        "run c.toml",
        r"unknown key 'bogus'; allowed: .*cases",
        files={"c.toml": _campaign(bogus=1)},
    ),
    row(  # nested in another run's results/, which other tools then cannot read
        "run-out-inside-a-run",
        "run c.toml --out run/results",
        r"--out: 'run/results' is inside the run directory '.*run', which this command does "
        r"not read; write it outside that run",
        files={"c.toml": _campaign()},
    ),
    row(  # the run it focuses on is read, not written into
        "run-focus-out-inside-the-focused-run",
        "run --focus run --out run/x",
        r"--out: 'run/x' is inside the run directory '.*run', which this command does not read",
    ),
    row(  # the same folder given in the campaign file
        "run-config-out-inside-a-run",
        "run c.toml",
        r"out: 'run/results' is inside the run directory '.*run'; give a folder that holds runs",
        files={"c.toml": _campaign(out='"run/results"')},
    ),
    row(
        "run-zero-cases",
        "run c.toml",
        r"cases: 0 must be an integer >= 1",
        files={"c.toml": _campaign(cases=0)},
    ),
    row(
        "run-text-cases",
        "run c.toml",
        r"cases: 'many' must be an integer >= 1",
        files={"c.toml": _campaign(cases='"many"')},
    ),
    row(
        "run-negative-seed",
        "run c.toml",
        r"seed: -1 must be an integer >= 0",
        files={"c.toml": _campaign(seed=-1)},
    ),
    row(
        "run-zero-batch",
        "run c.toml",
        r"batch_size: 0 must be an integer >= 1",
        files={"c.toml": _campaign(batch_size=0)},
    ),
    row(
        "run-sampler",
        "run c.toml",
        r"sampler: 'magic' is not known; choose one of .*sobol",
        files={"c.toml": _campaign(sampler='"magic"')},
    ),
    row(
        "run-no-models",
        "run c.toml",
        r"models: \[\] must be a non-empty list of counters",
        files={"c.toml": _campaign(models="[]")},
    ),
    row(
        "run-missing-model",
        "run c.toml",
        r"model: '.*nothere.onnx' is neither a file nor a shipped model",
        files={"c.toml": _campaign(models='["nothere.onnx"]')},
    ),
    row(
        "run-space-range",
        "run c.toml",
        r"space.peak_accel: 50 is out of range \(allowed: 4 to 40",
        files={"c.toml": _campaign(**{"[space]": "peak_accel = [50, 60]"})},
    ),
    row(
        "run-bad-name",
        "run c.toml",
        r"name: '../up' must be 1-100 ASCII letters",
        files={"c.toml": _campaign(name='"../up"')},
    ),
    row(
        "run-text-workers",
        "run c.toml",
        r"execution.workers: 'two' must be an integer >= 0",
        files={"c.toml": _campaign(**{"[execution]": 'workers = "two"'})},
    ),
    row(  # complete: --resume would only print its summary again
        "run-exists",
        "run c.toml",
        r"run directory run already exists and is complete; choose another name \(--name\) "
        r"or --out$",
        files={"c.toml": _campaign(name='"run"', out='"."')},
    ),
    row(
        "run-exists-unfinished",
        "run c.toml",
        r"run directory partial already exists; pass --resume to complete it, or choose "
        r"another name or --out$",
        files={"c.toml": _campaign(name='"partial"', out='"."')},
    ),
    row(
        "run-resume-nothing",
        "run c.toml --resume",
        r"run directory out/n does not exist, so there is nothing to resume",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-negative-cases-flag",
        "run c.toml --cases -5",
        r"cases: -5 must be an integer >= 1",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-negative-workers-flag",
        "run c.toml --workers -1",
        r"execution.workers: -1 must be an integer >= 0",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-too-many-workers-flag",
        "run c.toml --workers 100000",
        r"execution.workers: 100000 local worker processes are more than 4 per CPU core "
        r"\(\d+ cores: at most \d+\); use fewer, or a cluster of your own",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-too-many-workers",
        "run c.toml",
        r"execution.workers: 100000 local worker processes are more than 4 per CPU core",
        files={"c.toml": _campaign(**{"[execution]": "workers = 100000"})},
    ),
    row(  # 100,000 ONNX Runtime threads grew the client by 60 MB/s and ignored SIGTERM
        "run-too-many-threads",
        "run c.toml",
        r"execution.threads_per_worker: 100000 ONNX Runtime threads per worker are more "
        r"than 4 per CPU core \(\d+ cores: at most \d+\); use fewer",
        files={"c.toml": _campaign(**{"[execution]": "workers = 0\nthreads_per_worker = 100000"})},
    ),
    row(  # beyond what a thread's or select's timeout takes, every case was an error
        "run-counter-timeout-beyond-a-day",
        "run c.toml",
        r"counter_timeout_s: 10000000000.0 must be a number of seconds > 0 and at most "
        r"86,400 \(a day\)",
        files={"c.toml": _campaign(counter_timeout_s="1e10")},
    ),
    row(  # a TypeError traceback from pathlib
        "run-out-not-text",
        "run c.toml",
        r"out: 5 must be a folder path \(a string\)",
        files={"c.toml": _campaign(out=5)},
    ),
    row(  # the embedded cluster's start-up failed with a 60-line traceback
        "run-dashboard-cannot-listen",
        "run c.toml",
        r"execution.dashboard: cannot listen on '192.0.2.1:8787' \(.+\); give an address "
        r"of this machine, e.g. \"127.0.0.1:0\", or \"none\"",
        files={"c.toml": _campaign(**{"[execution]": 'workers = 1\ndashboard = "192.0.2.1:8787"'})},
    ),
    row(  # '$' matched before a final newline: a run folder named "nl\n"
        "run-name-ends-in-newline",
        "run c.toml",
        r"name: 'nl\\n' must be 1-100 ASCII letters, digits",
        files={"c.toml": _campaign(name='"nl\\n"')},
    ),
    row(
        "run-name-flag-ends-in-newline",
        "run c.toml --name 'zz\n'",
        r"name: 'zz\\n' must be 1-100 ASCII letters, digits",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-counter-id-ends-in-newline",
        "run c.toml",
        r"models\[0\].id: 'a\\n' must be 1-100 ASCII letters, digits",
        files={"c.toml": _campaign(models='[{counter = "toy.onnx", id = "a\\n"}]')},
    ),
    row(
        "run-scheduler-ends-in-newline",
        "run c.toml",
        r"execution.scheduler: 'tcp://127.0.0.1:8786\\n' is not a scheduler address",
        files={"c.toml": _campaign(**{"[execution]": 'scheduler = "tcp://127.0.0.1:8786\\n"'})},
    ),
    row(
        "run-dashboard-ends-in-newline",
        "run c.toml",
        r"execution.dashboard: '127.0.0.1:0\\n' must be HOST:PORT",
        files={"c.toml": _campaign(**{"[execution]": 'workers = 1\ndashboard = "127.0.0.1:0\\n"'})},
    ),
    row(
        "run-out-is-file",
        "run c.toml --out afile",
        r"--out: 'afile' is not a folder",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-config-and-focus",
        "run c.toml --focus run",
        r"run: give CONFIG.toml or --focus RUN, not both",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-focus-not-a-run", "run --focus folder", r"run directory 'folder' has no campaign.json"
    ),
    # -- run: campaigns of recordings --------------------------------------------------
    row(
        "run-rec-missing-file",
        "run r.toml",
        r"l.csv line 2, column file: 'nope.csv' does not exist in the folder .*; allowed: a",
        files=_recordings("file,count\nnope.csv,0\n"),
    ),
    row(
        "run-rec-negative-time",
        "run r.toml",
        r"l.csv line 2, column high_fives: '-1' is not a time; allowed: seconds >= 0",
        files=_recordings("file,high_fives\ngood.csv,1;-1\n"),
    ),
    row(
        "run-rec-unsorted-times",
        "run r.toml",
        r"l.csv line 2, column high_fives: '2;1' is not increasing \(2 then 1\); allowed: ",
        files=_recordings("file,high_fives\ngood.csv,2;1\n"),
    ),
    row(
        "run-rec-time-after-end",
        "run r.toml",
        r"l.csv line 2, column high_fives: 999 s is after the end of good.csv \(",
        files=_recordings("file,high_fives\ngood.csv,999\n"),
    ),
    row(
        "run-rec-fractional-count",
        "run r.toml",
        r"l.csv line 2, column count: '1.5' is not a count; allowed: a whole number from 0",
        files=_recordings("file,count\ngood.csv,1.5\n"),
    ),
    row(
        "run-rec-negative-count",
        "run r.toml",
        r"l.csv line 2, column count: '-1' is not a count; allowed: a whole number from 0",
        files=_recordings("file,count\ngood.csv,-1\n"),
    ),
    row(
        "run-rec-count-and-times",
        "run r.toml",
        r"l.csv line 1: both high_fives and count; allowed: file, exactly one of",
        files=_recordings("file,count,high_fives\ngood.csv,1,1\n"),
    ),
    row(
        "run-rec-no-truth",
        "run r.toml",
        r"l.csv line 1: neither high_fives nor count; allowed: file, exactly one of",
        files=_recordings("file\ngood.csv\n"),
    ),
    row(
        "run-rec-unknown-column",
        "run r.toml",
        r"l.csv line 1: unknown column 'who'; allowed: file, high_fives, count \(name a",
        files=_recordings("file,count,who\ngood.csv,0,ann\n"),
    ),
    row(
        "run-rec-missing-metadata",
        "run r.toml",
        r"l.csv line 1: no column 'who'; allowed: file, exactly one of .*\['who'\]",
        files=_recordings("file,count\ngood.csv,0\n", 'metadata = ["who"]'),
    ),
    row(
        "run-rec-empty-metadata",
        "run r.toml",
        r"l.csv line 2, column who: empty; allowed: a value for every recording",
        files=_recordings("file,count,who\ngood.csv,0, \n", 'metadata = ["who"]'),
    ),
    row(
        "run-rec-duplicate",
        "run r.toml",
        r"l.csv line 3, column file: './good.csv' is named again \(first on line 2\)",
        files=_recordings("file,count\ngood.csv,0\n./good.csv,1\n"),
    ),
    row(
        "run-rec-huge-value",
        "run r.toml",
        r"l.csv line 2, column file: 'huge.csv' is refused: recording huge.csv: row 1 "
        r"\(x, y, z\) reads \(0, 1e\+100, 1\), 1e\+100 in magnitude; allowed: at most 1,000 g "
        r"or 9,807 m/s2 in magnitude",
        files=_recordings(
            "file,count\nhuge.csv,0\n",
            **{"huge.csv": "t,x,y,z\n0,0,0,1\n0.02,0,1e100,1\n0.04,0,0,1\n"},
        ),
    ),
    row(
        "run-rec-superscript-count",
        "run r.toml",
        r"l.csv line 2, column count: '²' is not a count; allowed: a whole number from 0 to "
        r"32,767 in the digits 0-9",
        files=_recordings("file,count\ngood.csv,²\n"),
    ),
    row(
        "run-rec-arabic-indic-count",
        "run r.toml",
        r"l.csv line 2, column count: '٣' is not a count; allowed: a whole number from 0",
        files=_recordings("file,count\ngood.csv,٣\n"),
    ),
    row(
        "run-rec-huge-count",
        "run r.toml",
        r"l.csv line 2, column count: '9+'\.\.\. \(5,000 characters\) is not a count",
        files=_recordings("file,count\ngood.csv," + "9" * 5000 + "\n"),
    ),
    row(
        "run-rec-arabic-indic-time",
        "run r.toml",
        r"l.csv line 2, column high_fives: '١' is not a time; allowed: seconds >= 0",
        files=_recordings("file,high_fives\ngood.csv,١\n"),
    ),
    row(
        "run-rec-outside-folder",
        "run r.toml",
        r"l.csv line 2, column file: '../good.csv' is outside the folder .*; allowed: a path "
        r"relative to the folder, within it",
        files=_recordings("file,count\n../good.csv,0\n"),
    ),
    row(
        "run-rec-absolute-path",
        "run r.toml",
        r"l.csv line 3, column file: '/.* is outside the folder",
        files=_recordings("file,count\ngood.csv,0\n{root}/good.csv,0\n"),
    ),
    row(
        "run-rec-same-file-twice",
        "run r.toml",
        r"l.csv line 3, column file: 'sub/../good.csv' is named again \(first on line 2\)",
        files=_recordings("file,count\ngood.csv,0\nsub/../good.csv,0\n"),
    ),
    row(
        "run-rec-empty-labels",
        "run r.toml",
        r"recordings.labels: l.csv is empty; allowed: a header line",
        files=_recordings(""),
    ),
    row(
        "run-rec-header-only",
        "run r.toml",
        r"l.csv: a header and no recording; add one row per file",
        files=_recordings("file,count\n"),
    ),
    row(
        "run-rec-missing-labels",
        "run r.toml",
        r"recordings.labels: 'nope.csv' does not exist in the folder .*; allowed: a CSV file",
        files={"r.toml": _recordings("")["r.toml"].replace('"l.csv"', '"nope.csv"')},
    ),
    row(
        "run-rec-refused-by-count",
        "run r.toml",
        r"l.csv line 2, column file: 'bad.csv' is refused: recording bad.csv: no time column",
        files=_recordings("file,count\nbad.csv,0\n", **{"bad.csv": "a,b\n1,2\n"}),
    ),
    row(
        "run-rec-shorter-than-a-window",
        "run r.toml",
        r"l.csv line 2, column file: 'short.csv' is refused: recording short.csv: 0.04 s long "
        r"\(3 samples\), shorter than one window of 1.5 s; nothing can be counted by counter "
        r"toy \(1.5 s window\); drop it from the labels file$",
        files=_recordings(
            "file,count\nshort.csv,0\n",
            **{"short.csv": "t,x,y,z\n0,1,0,0\n0.02,1,0,0\n0.04,1,0,0\n"},
        ),
    ),
    row(  # a count beyond the results' int16 columns crashed the run after campaign.json
        "run-rec-count-too-large",
        "run r.toml",
        r"l.csv line 2, column count: '40000' is not a count; allowed: a whole number from 0 "
        r"to 32,767 in the digits 0-9$",
        files=_recordings("file,count\ngood.csv,40000\n"),
    ),
    row(  # crashed the run: the weight column of importance-sampled results
        "run-rec-metadata-weight",
        "run r.toml",
        r"recordings.metadata: 'weight' cannot name a metadata column",
        files=_recordings("file,count,weight\ngood.csv,0,a\n", 'metadata = ["weight"]'),
    ),
    row(  # blank rows were counted as recordings; the run folder was left half-written
        "run-rec-header-and-blank-rows",
        "run r.toml",
        r"l.csv: a header and no recording; add one row per file",
        files=_recordings("file,count,who\n\n,,\n", 'metadata = ["who"]'),
    ),
    row(  # was run, and every counter's answer an error
        "run-rec-every-stretch-shorter-than-a-window",
        "run r.toml",
        r"l.csv line 3, column file: 'chopped.csv' is refused: recording chopped.csv: none of "
        r"its 4 stretches between gaps of more than 1 s holds one window; nothing can be "
        r"counted by counter toy \(1.5 s window\)",
        files=_recordings(
            "file,count\ngood.csv,0\nchopped.csv,0\n",
            **{
                "chopped.csv": "t,x,y,z\n"
                + "".join(f"{k * 2.5 + i * 0.02:.2f},1,0,0\n" for k in range(4) for i in range(26))
            },
        ),
    ),
    row(
        "run-rec-shorter-than-a-window-named-by-line",
        "run r.toml",
        r"l.csv line 3, column file: 'short.csv' is refused: recording short.csv: 0.04 s long",
        files=_recordings(
            "file,count\ngood.csv,0\nshort.csv,0\n",
            **{"short.csv": "t,x,y,z\n0,1,0,0\n0.02,1,0,0\n0.04,1,0,0\n"},
        ),
    ),
    row(  # the same bytes under two names were two cases, here with contradicting truth
        "run-rec-same-bytes-twice",
        "run r.toml",
        r"l.csv line 3, column file: 'b.csv' holds the same bytes as 'a.csv' \(line 2, SHA-256 "
        r"\w+\.\.\.\); allowed: each recording once",
        files=_recordings(
            "file,count\na.csv,4\nb.csv,0\n",
            **{
                name: "t,x,y,z\n" + "".join(f"{i * 0.02:.2f},0,0,1\n" for i in range(200))
                for name in ("a.csv", "b.csv")
            },
        ),
    ),
    row(  # the record number (3) was given for the value on the file's fourth line
        "run-rec-line-of-the-file",
        "run r.toml",
        r"l.csv line 4, column count: 'x' is not a count",
        files=_recordings(
            'file,count,who\ngood.csv,0,"a\nb"\nb.csv,x,c\n',
            'metadata = ["who"]',
            **{"b.csv": "t,x,y,z\n" + "".join(f"{i * 0.02:.2f},0,0,1\n" for i in range(200))},
        ),
    ),
    row(  # os.stat's ValueError: a traceback
        "run-rec-nul-in-a-file-name",
        "run r.toml",
        r"l.csv line 2, column file: 'go\\x00od.csv' holds a NUL character, which no file "
        r"name does; allowed: a recording's path in the folder$",
        files=_recordings("file,count\ngo\x00od.csv,0\n"),
    ),
    row(  # 'error: File name too long: ...', naming neither the labels file nor its line
        "run-rec-file-name-too-long",
        "run r.toml",
        r"l.csv line 2, column file: 'a+'\.\.\. \(304 characters\) cannot be opened \(File name "
        r"too long\); allowed: a .csv or .parquet file",
        files=_recordings("file,count\n" + "a" * 300 + ".csv,0\n"),
    ),
    row(  # 1e-6 s: a 10 s case took 4 GB and its time limit was blamed on the counter
        "run-stream-chunk-too-short",
        "run c.toml",
        r"stream_chunk_s: 1e-06 must be a number of seconds >= 0.001 \(1 ms: shorter chunks "
        r"are mostly empty\), or 0 \(the whole trace at once\)$",
        files={"c.toml": _campaign(stream_chunk_s="1e-6")},
    ),
    row(  # advised 'pass --units g or --units m/s2', flags that highfive run has not
        "run-rec-units-advice",
        "run r.toml",
        r"l.csv line 2, column file: 'linear.csv' is refused: recording linear.csv: cannot "
        r"infer units: .*gravity removed; set units = \"g\" or \"m/s2\" in \[recordings\]$",
        files=_recordings(
            "file,count\nlinear.csv,0\n",
            **{"linear.csv": "t,x,y,z\n0,0.02,0,0\n0.02,0,0.03,0\n0.04,0,0,-0.01\n"},
        ),
    ),
    # A campaign's recording refused with count's flags as advice ('--units m/s2
    # contradicts them; leave --units out'), which a campaign file cannot follow.
    row(
        "run-rec-units-against-the-columns",
        "run r.toml",
        r"l.csv line 2, column file: 'named.csv' is refused: recording named.csv: its columns "
        r"x_g, y_g, z_g name the units g; units = \"m/s2\" in \[recordings\] contradicts them; "
        r"leave units out of \[recordings\] \(or set units = \"g\" in \[recordings\]\), or rename "
        r"the columns$",
        files=_recordings(
            "file,count\nnamed.csv,0\n",
            'units = "m/s2"',
            **{
                "named.csv": "t,x_g,y_g,z_g\n"
                + "".join(f"{i * 0.02:.2f},0,0,1\n" for i in range(200))
            },
        ),
    ),
    row(
        "run-rec-time-unit-against-the-column",
        "run r.toml",
        r"'named.csv' is refused: recording named.csv: its time column 'time_ms' names the "
        r"unit ms; time_unit = \"s\" in \[recordings\] contradicts it; leave time_unit out of "
        r"\[recordings\] \(or set time_unit = \"ms\" in \[recordings\]\), or rename the column$",
        files=_recordings(
            "file,count\nnamed.csv,0\n",
            'time_unit = "s"',
            **{"named.csv": "time_ms,x,y,z\n" + "".join(f"{i * 20},0,0,1\n" for i in range(200))},
        ),
    ),
    row(
        "run-rec-time-unit-against-iso-text",
        "run r.toml",
        r"'iso.csv' is refused: recording iso.csv: column 't' holds ISO 8601 dates and times, "
        r"read to the ns; time_unit = \"ms\" in \[recordings\] does not apply to them; leave "
        r"time_unit out of \[recordings\]$",
        files=_recordings(
            "file,count\niso.csv,0\n",
            'time_unit = "ms"',
            **{
                "iso.csv": "t,x,y,z\n"
                + "".join(f"2024-05-01T12:00:{i * 0.02:06.3f},0,0,1\n" for i in range(200))
            },
        ),
    ),
    row(
        "run-rec-time-text-not-iso",
        "run r.toml",
        r"'text.csv' is refused: recording text.csv: column 't', row 1: 'soon' is neither a "
        r"number nor an ISO 8601 date and time; write the times as numbers in s, ms, us or ns "
        r"\(time_unit in \[recordings\]\) or as ISO 8601 text",
        files=_recordings(
            "file,count\ntext.csv,0\n",
            **{"text.csv": "t,x,y,z\n2024-05-01T12:00:00,0,0,1\nsoon,0,0,1\n"},
        ),
    ),
    row(  # said "(3.980 s)" of a recording 3.9798 s long, as if 3.98 fitted
        "run-rec-time-just-after-the-end",
        "run r.toml",
        r"l.csv line 2, column high_fives: 3.98 s is after the end of e.csv \(3.9798 s from "
        r"its first sample to its last\); allowed: times within the recording$",
        files=_recordings(
            "file,high_fives\ne.csv,3.98\n",
            **{"e.csv": "t,x,y,z\n" + "".join(f"{i * 0.019999:.6f},0,0,1\n" for i in range(200))},
        ),
    ),
    row(  # accepted: a case that could only ever be a miss
        "run-rec-time-in-a-gap",
        "run r.toml",
        r"l.csv line 2, column high_fives: 3 s falls in a gap of gap.csv \(no sample from 1.98 "
        r"to 4 s\); allowed: times where the recording holds samples$",
        files=_recordings(
            "file,high_fives\ngap.csv,1;3\n",
            **{
                "gap.csv": "t,x,y,z\n"
                + "".join(f"{s + i * 0.02:.2f},0,0,1\n" for s in (0, 4) for i in range(100))
            },
        ),
    ),
    row(  # named a byte position within the decoder's chunk, not a line
        "run-rec-labels-not-utf8",
        "run r.toml",
        r"l.csv line 3: byte 0xe9 is not UTF-8; allowed: a CSV file in UTF-8 \(a byte order "
        r"mark allowed\)$",
        files=_recordings(
            "file,count,who\ngood.csv,0,a\nb.csv,0,caf\udce9\n", 'metadata = ["who"]'
        ),
    ),
    row(
        "run-rec-with-cases",
        "run r.toml",
        r"cases: a campaign of \[recordings\] runs each recording once; remove cases",
        files={"r.toml": "cases = 4\n" + _recordings("")["r.toml"]},
    ),
    row(
        "run-rec-with-importance",
        "run r.toml",
        r"importance: a campaign of \[recordings\] runs each recording once; remove",
        files={"r.toml": _recordings("")["r.toml"] + "[importance]\nstages = 2\n"},
    ),
    row(
        "run-proposal-nan",
        "run c.toml",
        r"importance.proposal.probs: row 3 \(dimension 3\), bin 0 holds nan; every entry "
        r"must be a finite number >= 0 \(in 'p.json'\)$",
        files=_importance_files(_proposal(3, [math.nan, 1, 1, 1])),
    ),
    row(  # said "[1, 2] must be a JSON file name or a table"
        "run-proposal-list",
        "run c.toml",
        r"importance.proposal: '.*p.json': holds a JSON list, not a proposal \(an object\)$",
        files={"c.toml": _importance_files(_proposal())["c.toml"], "p.json": "[1, 2]"},
    ),
    row(
        "run-proposal-unknown-key",
        "run c.toml",
        r"importance.proposal: unknown key 'defensiv'; allowed: defensive, probs \(in 'p.json'\)$",
        files=_importance_files({**_proposal(), "defensiv": 0.2}),
    ),
    row(
        "run-proposal-defensive-differs",
        "run c.toml",
        r"importance.proposal: 'p.json' states defensive = 0.3, the campaign's \[importance\] "
        r"defensive is 0.5; give the same value in both",
        files=_importance_files({**_proposal(), "defensive": 0.3}, "defensive = 0.5"),
    ),
    row(
        "run-proposal-defensive-differs-from-default",
        "run c.toml",
        r"'p.json' states defensive = 0.3, the campaign's \[importance\] defensive is 0.1 "
        r"\(the default\)",
        files=_importance_files({**_proposal(), "defensive": 0.3}),
    ),
    row(  # the table's 8 was recorded while every stage drew from 4 bins
        "run-proposal-bins-differ",
        "run c.toml",
        r"importance.proposal: 'p.json' has 4 bins per dimension, the campaign's "
        r"\[importance\] bins is 8; give the same number in both",
        files=_importance_files(_proposal(), "bins = 8"),
    ),
    row(  # taken without a word, past the limit the table's bins has
        "run-proposal-bins-too-many",
        "run c.toml",
        r"importance.proposal: 'p.json' has 1,001 bins per dimension; at most 1,000$",
        files=_importance_files({"probs": [[1.0] * 1001 for _ in range(36)]}),
    ),
    row(
        "run-rec-until-decided",
        "run r.toml --until-decided --gate g.toml",
        r"--until-decided: a campaign of \[recordings\] runs each recording once",
        files={**_recordings("file,count\ngood.csv,0\n"), "g.toml": SEQ_GATE},
    ),
    row(  # refused as such before the gate is looked for (it said 'no --gate FILE')
        "run-rec-until-decided-no-gate",
        "run r.toml --until-decided",
        r"^error: --until-decided: a campaign of \[recordings\] runs each recording once; it "
        r"has no cases to sample in stages \(drop --until-decided\)$",
        files=_recordings("file,count\ngood.csv,0\n"),
    ),
    row(  # the same for a sampler that cannot start one
        "run-importance-until-decided-no-gate",
        "run c.toml --until-decided",
        r"^error: sampler: 'importance' cannot start a sequential campaign; its first stage "
        r"samples the base distribution \(random, sobol, halton, lhs\)$",
        files=_importance_files(_proposal()),
    ),
    row(
        "run-rec-cases-flag",
        "run r.toml --cases 5",
        r"--cases: 5, but a campaign of \[recordings\] runs each recording once",
        files=_recordings("file,count\ngood.csv,0\n"),
    ),
    row(
        "run-rec-unknown-key",
        "run r.toml",
        r"unknown key 'recordings.bins'; allowed: folder, labels, metadata, units, time_unit",
        files=_recordings("file,count\ngood.csv,0\n", "bins = 3"),
    ),
    row(
        "run-rec-reserved-metadata",
        "run r.toml",
        r"recordings.metadata: 'verdict' cannot name a metadata column; allowed: ",
        files=_recordings("file,count,verdict\ngood.csv,0,x\n", 'metadata = ["verdict"]'),
    ),
    row(
        "run-rec-bad-units",
        "run r.toml",
        r"recordings.units: 'mg' is not allowed; choose one of auto, g, m/s2",
        files=_recordings("file,count\ngood.csv,0\n", 'units = "mg"'),
    ),
    row(
        "run-rec-no-folder",
        "run r.toml",
        r"recordings.folder: '.*nowhere' is not a folder",
        files={"r.toml": _recordings("")["r.toml"].replace('folder = "."', 'folder = "nowhere"')},
    ),
    row(
        "run-budget-below-stage",
        "run c.toml --until-decided --gate g.toml --stage 100 --budget 50",
        r"--budget: 50 is smaller than one stage \(100 cases\)",
        files={"c.toml": _campaign(), "g.toml": SEQ_GATE},
    ),
    row(  # each look's level alpha / K underflowed to 0, then an OverflowError traceback
        "run-budget-beyond-spending",
        f"run c.toml --until-decided --gate g.toml --spending even --budget {10**301}",
        r"--budget: 1e\+301 cases with --spending even split the error over so many looks "
        r"that their levels are 0 in double precision .*; give at most 1e\+300 cases",
        files={"c.toml": _campaign(), "g.toml": SEQ_GATE},
    ),
    row(  # ceil(4 / 3) = 2 batches per stage: stage 2 drew nothing, its proposal was
        # still fitted and recorded and loosened every weight bound
        "run-importance-empty-stage",
        "run c.toml",
        r"importance.stages: 3 stages over 4 batches \(cases / batch_size\) take "
        r"ceil\(4 / 3\) = 2 batches each, which leaves the last stage no case; give "
        r"stages = 2, or a multiple of 3 batches \(e.g. 6\)",
        files={
            "c.toml": _campaign(
                sampler='"importance"', batch_size=2, **{"[importance]": "stages = 3"}
            )
        },
    ),
    row(  # 4 stages over 4 batches: the last stage got 1 batch (0.25), not 0.9
        "run-importance-final-too-large",
        "run c.toml",
        r"importance.final: 0.9 of 4 batches \(cases / batch_size\) is 4 batches for the "
        r"last stage, but 4 stages leave it at most 1 \(one batch to each earlier stage\), "
        r"a share of 0.25; give final <= 0.25, fewer stages or more batches",
        files={
            "c.toml": _campaign(
                sampler='"importance"', batch_size=2, **{"[importance]": "stages = 4\nfinal = 0.9"}
            )
        },
    ),
    row(  # 2 stages over 4 batches: the last stage got 1 batch (0.25), not 0.01
        "run-importance-final-too-small",
        "run c.toml",
        r"importance.final: 0.01 of 4 batches \(cases / batch_size\) rounds to no batch for "
        r"the last stage, which needs at least one \(a share of 0.25\); give final >= 0.25, "
        r"or more batches",
        files={
            "c.toml": _campaign(
                sampler='"importance"',
                batch_size=2,
                **{"[importance]": "stages = 2\nfinal = 0.01"},
            )
        },
    ),
    # Argument syntax is argparse's usage error, as for every command; its message is
    # in the words of the option's other errors (it was "invalid int value: '1e9'").
    row(
        "run-budget-text",
        "run c.toml --until-decided --gate g.toml --budget 1e9",
        r"argument --budget: '1e9' is not a whole number of cases, e\.g\. 100000$",
        files={"c.toml": _campaign(), "g.toml": SEQ_GATE},
        usage=True,
    ),
    row(
        "run-stage-text",
        "run c.toml --until-decided --gate g.toml --stage 2.5",
        r"argument --stage: '2\.5' is not a whole number of cases, e\.g\. 1024$",
        files={"c.toml": _campaign(), "g.toml": SEQ_GATE},
        usage=True,
    ),
    row(
        "run-cases-text",
        "run c.toml --cases abc",
        r"argument --cases: 'abc' is not a whole number of cases, e\.g\. 1024$",
        files={"c.toml": _campaign()},
        usage=True,
    ),
    row(
        "run-workers-text",
        "run c.toml --workers many",
        r"argument --workers: 'many' is not a whole number of worker processes, e\.g\. 4$",
        files={"c.toml": _campaign()},
        usage=True,
    ),
    row(
        "run-stage-zero",
        "run c.toml --until-decided --gate g.toml --stage 0",
        r"--stage: 0 must be a whole number of cases >= 1",
        files={"c.toml": _campaign(), "g.toml": SEQ_GATE},
    ),
    row(
        "run-spending-unknown",
        "run c.toml --until-decided --gate g.toml --spending fast",
        r"--spending: 'fast' must be one of anytime, even, pocock, obf",
        files={"c.toml": _campaign(), "g.toml": SEQ_GATE},
    ),
    row(
        "run-spending-without-until-decided",
        "run c.toml --spending even",
        r"run: --spending goes with --until-decided",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-until-decided-nothing-gated",
        "run c.toml --until-decided --gate g.toml",
        r"--until-decided: g.toml has no criterion on cases to decide",
        files={
            "c.toml": _campaign(),
            "g.toml": '[[criteria]]\nkind = "model_bytes"\nmodel = "toy"\nmax = 100000\n',
        },
    ),
    row(
        "run-until-decided-no-gate",
        "run c.toml --until-decided",
        r"--until-decided: no --gate FILE and no 'gate.toml' beside the campaign file",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-until-decided-agreement-unknown-model",
        "run c.toml --until-decided --gate g.toml",
        r"criterion 'a': models 'float' is not a model of the campaign; its models: toy$",
        files={
            "c.toml": _campaign(),
            "g.toml": '[[criteria]]\nkind = "agreement"\nname = "a"\n'
            'models = ["toy", "float"]\nmax = 0.01\n',
        },
    ),
    row(
        "run-until-decided-criterion-unknown-model",
        "run c.toml --until-decided --gate g.toml",
        r"criterion 'r': model 'nope' is not a model of the campaign; its models: toy$",
        files={"c.toml": _campaign(), "g.toml": SEQ_GATE + 'name = "r"\nmodel = "nope"\n'},
    ),
    row(
        "run-until-decided-model-bytes-python",
        "run c.toml --until-decided --gate g.toml",
        r"criterion 'b': model_bytes applies to ONNX counters; 'kt' is a python counter",
        files={
            "c.toml": _campaign(models=f'[{{counter = "{KNOWN_TRUTH}", id = "kt"}}]'),
            "g.toml": SEQ_GATE + '[[criteria]]\nkind = "model_bytes"\nname = "b"\nmax = 100\n',
        },
    ),
    row(
        "run-until-decided-resume-truncated-stages-json",
        "run c.toml --until-decided --gate g.toml --resume",
        r"out/n/stages.json: damaged, not valid JSON \(Expecting .*\); it cannot be resumed",
        files={"c.toml": _campaign(), "g.toml": SEQ_GATE, "out/n/stages.json": '{"identity": {'},
    ),
    row(
        "run-until-decided-resume-stages-json-list",
        "run c.toml --until-decided --gate g.toml --resume",
        r"out/n/stages.json: damaged, holds a JSON list, not the record of a sequential",
        files={"c.toml": _campaign(), "g.toml": SEQ_GATE, "out/n/stages.json": "[1, 2]"},
    ),
    row(  # refused before the focus run is planned (or its folder read)
        "run-until-decided-with-focus",
        "run --focus folder --until-decided",
        r"run: --until-decided starts from CONFIG.toml, not --focus",
    ),
    row(
        "run-resume-sequential-folder",
        "run c.toml --resume",
        r"run directory out/n is a sequential campaign's folder \(made by --until-decided\); "
        r"resume it with --until-decided --resume and the same gate, --budget, --stage",
        files={"c.toml": _campaign(), "out/n/stages.json": "{}", "out/n/stage-000/.lock": ""},
    ),
    row(
        "run-sequential-folder",
        "run c.toml",
        r"run directory out/n is a sequential campaign's folder",
        files={"c.toml": _campaign(), "out/n/stages.json": "{}"},
    ),
    row(
        "coverage-sequential-folder",
        "coverage seq",
        r"'seq' is a sequential campaign's folder \(made by --until-decided\), not a run "
        r"directory; its runs: seq/stage-000, seq/stage-001 \(pass them, e.g. seq/stage-\*\)",
        files=SEQ_FOLDER,
    ),
    row(  # was told to pass its last stage, a focus stage that the gate refuses
        "gate-sequential-folder",
        "gate seq --gate g.toml",
        r"'seq' is a sequential campaign's folder \(made by --until-decided\), not a run "
        r"directory; its runs: seq/stage-000, seq/stage-001 \(gate its first stage "
        r"seq/stage-000, drawn from the base distribution, or let --until-decided gate its "
        r"stages\)$",
        files={**SEQ_FOLDER, "g.toml": SEQ_GATE},
    ),
    row(
        "replay-sequential-folder",
        "replay seq 1",
        r"not a run directory; its runs: seq/stage-000, seq/stage-001 \(pass one of them, "
        r"e.g. its last stage seq/stage-001\)$",
        files=SEQ_FOLDER,
    ),
    row(  # the report of the first stage shows the stages' merged coverage
        "report-sequential-folder",
        "report seq",
        r"not a run directory; its runs: seq/stage-000, seq/stage-001 \(report one of them; "
        r"'highfive coverage seq/stage-\*' merges them into seq/stage-000's coverage, which "
        r"'highfive report seq/stage-000' then shows\)$",
        files=SEQ_FOLDER,
    ),
    row(
        "diff-sequential-folder",
        "diff seq",
        r"not a run directory; its runs: seq/stage-000, seq/stage-001 \(pass one or two of "
        r"them, e.g. seq/stage-000 seq/stage-001\)$",
        files=SEQ_FOLDER,
    ),
    row(
        "gate-incomplete-stage",
        "gate seq/stage-000 --gate g.toml",
        r"is incomplete .* finish it with 'highfive run CONFIG --until-decided --resume' "
        r"\(the same gate, --budget, --stage and --spending\)",
        files={
            "seq/stages.json": "{}",
            "seq/stage-000/campaign.json": (
                '{"schema_version": 3, "status": "running", "config": {}, '
                '"models": [{"id": "m", "sha256": "0"}]}'
            ),
            "g.toml": SEQ_GATE,
        },
    ),
    row(
        "run-bins-without-focus",  # it ran the campaign, ignoring the file (here missing)
        "run c.toml --bins nonexistent.toml",
        r"run: --bins goes with --focus RUN \(it bins the run's gaps\)",
        files={"c.toml": _campaign()},
    ),
    row(
        "run-budget-without-until-decided",
        "run c.toml --budget 10",
        r"run: --budget goes with --until-decided",
        files={"c.toml": _campaign()},
    ),
    # -- replay and shrink -----------------------------------------------------------
    row("replay-not-a-run", "replay folder 1", r"run directory 'folder' has no campaign.json"),
    row("replay-list-not-a-run", "replay folder", r"run directory 'folder' has no campaign.json"),
    row(
        "replay-manifest-line-not-an-entry",
        "replay run 1",
        r"is damaged: manifest.jsonl line 1 is not a manifest entry: 'batch' is 'x', not a whole",
        files={"run/manifest.jsonl": '{"batch":"x"}\n'},
    ),
    row(
        "coverage-manifest-line-an-object",
        "coverage run",
        r"is damaged: manifest.jsonl line 1 is not a manifest entry: no 'batch'",
        files={"run/manifest.jsonl": '{"foo":1}\n'},
    ),
    row(
        "gate-manifest-line-a-list",
        "gate run --gate g.toml",
        r"is damaged: manifest.jsonl line 1 is not a manifest entry: a JSON list, not an object",
        files={"run/manifest.jsonl": "[1,2]\n", "g.toml": SEQ_GATE},
    ),
    row("replay-case-range", "replay run 99", r"case: 99 is outside the run's cases 0..15"),
    row("replay-negative-case", "replay run -1", r"CASE_ID: -1 must be >= 0", usage=True),
    row("replay-param-unknown", "replay run 1 --param speed=3", r"unknown parameter 'speed'"),
    row(
        "replay-param-choice",
        "replay run 1 --param motion=moonwalk",
        r"motion: 'moonwalk' is not allowed; choose one of",
    ),
    row("replay-param-text", "replay run 1 --param gap=abc", r"gap: 'abc' is not a finite number"),
    row(
        "replay-param-twice",
        "replay run 1 --param gap=1 --param gap=2",
        r"--param: gap is given twice \('1', then '2'\); give each parameter once",
    ),
    row(
        "replay-param-without-case",
        "replay run --param gap=1",
        r"replay: --param, --plot and --csv need a CASE_ID",
    ),
    row(
        "replay-csv-without-case",
        "replay run --csv t.csv",
        r"replay: --param, --plot and --csv need a CASE_ID",
    ),
    row(
        "replay-csv-other-suffix",
        "replay run 1 --csv trace.txt",
        r"--csv: 'trace.txt' must end in .csv or .parquet",
    ),
    row("replay-csv-folder", "replay run 1 --csv folder", r"--csv: 'folder' is a folder"),
    row("replay-case-other-digits", "replay run ١٢", r"CASE_ID: '١٢' is not an", usage=True),
    row("replay-case-full-width", "replay run ０", r"CASE_ID: '０' is not an", usage=True),
    row("replay-case-underscore", "replay run 1_0", r"CASE_ID: '1_0' is not an", usage=True),
    row("replay-model", "replay run 1 --model ''", r"unrecognized arguments: --model", usage=True),
    row("replay-plot-suffix", "replay run 1 --plot x.txt", r"--plot: 'x.txt' does not end in an"),
    row("shrink-not-a-run", "shrink folder 1", r"run directory 'folder' has no campaign.json"),
    row("shrink-case-range", "shrink run 99", r"case: 99 is outside the run's cases 0..15"),
    row(
        "shrink-passing-case",
        "shrink run {passing}",
        r"case \d+ passes with toy, float; only failing cases can be shrunk",
    ),
    row("shrink-unknown-model", "shrink run 1 --model nope", r"model: 'nope' is not in this run"),
    row("shrink-empty-model", "shrink run 1 --model ''", r"model: '' is not in this run \(toy,"),
    row(
        "shrink-no-steps", "shrink run 1 --max-steps 0", r"--max-steps: 0 must be >= 1", usage=True
    ),
    row("shrink-case-other-digits", "shrink run ١", r"CASE_ID: '١' is not an", usage=True),
    # -- coverage, gate, report, diff ---------------------------------------------
    row(  # the command's usage, not the top level's
        "coverage-unknown-option",
        "coverage --bogus run",
        r"^highfive coverage: error: unrecognized arguments: --bogus$",
        usage=True,
    ),
    row(
        "gate-extra-argument",
        "gate run run --gate g.toml",
        r"^highfive gate: error: unrecognized arguments: run$",
        files={"g.toml": SEQ_GATE},
        usage=True,
    ),
    row("coverage-not-a-run", "coverage folder", r"run directory 'folder' has no campaign.json"),
    row(  # it said the folder had no campaign.json, as if it existed
        "coverage-no-such-runs",
        "coverage gone1 gone2",
        r"run directory 'gone1' does not exist; give a folder made by 'highfive run'$",
    ),
    row("coverage-partial", "coverage partial", r"'partial' is incomplete .* pass --partial"),
    row("coverage-twice", "coverage run run", r"cannot merge coverage: cases 0..15 .* twice"),
    row(
        "coverage-bins-missing", "coverage run --bins b.toml", r"bins file 'b.toml' does not exist"
    ),
    row(
        "coverage-bins-unknown",
        "coverage run --bins b.toml",
        r"bins.nope: unknown dimension; known: motion",
        files={"b.toml": "[bins]\nnope = 3\n"},
    ),
    row(
        "coverage-bins-type",
        "coverage run --bins b.toml",
        r"bins.peak_accel: expected a table, got 0",
        files={"b.toml": "[bins]\npeak_accel = 0\n"},
    ),
    row(
        "coverage-bins-toml",
        "coverage run --bins b.toml",
        r"b.toml: not valid TOML",
        files={"b.toml": "[bins\n"},
    ),
    row("coverage-out-is-file", "coverage run --out afile", r"--out: 'afile' is not a folder"),
    row(
        "coverage-looks",
        "coverage run --bins b.toml",
        r"statistics.looks: 'often' must be 'fixed' \(default\) or 'anytime'",
        files={"b.toml": '[statistics]\nlooks = "often"\n'},
    ),
    row("gate-no-gate", "gate run", r"the following arguments are required: --gate", usage=True),
    row("gate-missing", "gate run --gate g.toml", r"gate file 'g.toml' does not exist"),
    row(
        "gate-unknown-kind",
        "gate run --gate g.toml",
        r"criteria\[0\].kind: 'magic' is not a criterion kind; use one of",
        files={"g.toml": '[[criteria]]\nkind = "magic"\n'},
    ),
    row(
        "gate-bad-threshold",
        "gate run --gate g.toml",
        r"criteria\[0\] \(failure_rate\).p_max: 2 must be a failure rate in \(0, 1\]",
        files={"g.toml": '[[criteria]]\nkind = "failure_rate"\np_max = 2\n'},
    ),
    row(
        "gate-two-unnamed-of-a-kind",
        "gate run --gate g.toml",
        r"criteria\[0\] and criteria\[1\] are both named 'failure_rate' \(a criterion without "
        r"a `name` is named after its kind\); give them distinct `name`s",
        files={"g.toml": 2 * '[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n'},
    ),
    row(
        "gate-looks",
        "gate run --gate g.toml",
        r"gate.looks: 'often' must be 'fixed' \(default\) or 'anytime'",
        files={
            "g.toml": '[gate]\nlooks = "often"\n[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n'
        },
    ),
    row(
        "gate-no-criteria",
        "gate run --gate g.toml",
        r"criteria: a gate needs at least one \[\[criteria\]\] table",
        files={"g.toml": "criteria = 3\n"},
    ),
    row(
        "gate-partial",
        "gate partial --gate g.toml",
        r"'partial' is incomplete .* a gate needs a complete run",
        files={"g.toml": '[[criteria]]\nkind = "failure_rate"\np_max = 0.5\n'},
    ),
    row("report-not-a-run", "report folder", r"run directory 'folder' has no campaign.json"),
    row("report-partial", "report partial", r"'partial' is incomplete .* a report needs"),
    row("report-cases", "report run --cases -1", r"--cases: -1 must be >= 0", usage=True),
    row("report-out-folder", "report run --out folder", r"--out: 'folder' is a "),
    row("report-out-under-file", "report run --out afile/r.html", r"--out: cannot write 'afile/r"),
    row("report-bins-missing", "report run --bins b.toml", r"bins file 'b.toml' does not exist"),
    row(
        "report-bins-unknown",
        "report run --bins b.toml",
        r"bins.nope: unknown dimension; known: motion",
        files={"b.toml": "[bins]\nnope = 3\n"},
    ),
    row(
        "report-bins-toml",
        "report run --bins b.toml",
        r"b.toml: not valid TOML",
        files={"b.toml": "[bins\n"},
    ),
    row("diff-not-a-run", "diff folder", r"run directory 'folder' has no campaign.json"),
    row("diff-second-not-a-run", "diff run folder", r"run directory 'folder' has no campaign"),
    row("diff-partial", "diff run partial", r"'partial' is incomplete .* diff needs"),
    row(
        "diff-alpha",
        "diff run --alpha 2",
        r"--alpha: 2.0 must be in \(0, 0\.5\] \(.*\), e\.g\. 0\.05",
    ),
    row(  # was "confidence: 0.4 must be in [0.5, 1)": a field and a value never given
        "diff-alpha-above-half",
        "diff run --alpha 0.6",
        r"--alpha: 0.6 must be in \(0, 0\.5\] \(.*\), e\.g\. 0\.05",
    ),
    row("diff-limit", "diff run --limit 0", r"--limit: 0 must be >= 1"),
    row("diff-model", "diff run --model nope", r"--model: 'nope' is not a model of run 'run'"),
    row("diff-ways", "diff run --ways 0", r"--ways: '0': give whole numbers >= 1", usage=True),
    row(
        "diff-ways-full-width",
        "diff run --ways １",
        r"--ways: '１' is not a list like 1,2",
        usage=True,
    ),
    row("diff-method", "diff run --method bad", r"--method: invalid choice: 'bad'", usage=True),
    row("diff-margin-negative", "diff run --margin -0.1", r"--margin: -0.1 must be a failure"),
    row(
        "diff-margin-one", "diff run --margin 1", r"--margin: 1.0 must be a failure-rate difference"
    ),
    row("diff-margin-nan", "diff run --margin nan", r"--margin: nan must be a failure-rate"),
    row(
        "diff-margin-text",
        "diff run --margin wide",
        r"argument --margin: 'wide' is not a number, e\.g\. 0\.002$",
        usage=True,
    ),
    row(
        "diff-alpha-text",
        "diff run --alpha five",
        r"argument --alpha: 'five' is not a number, e\.g\. 0\.05$",
        usage=True,
    ),
    row(
        "diff-limit-text",
        "diff run --limit 1.5",
        r"argument --limit: '1\.5' is not a whole number of cells, e\.g\. 15$",
        usage=True,
    ),
    row("diff-check-alone", "diff run --check", r"--check: needs --margin"),
    row(
        "diff-margin-alpha",
        "diff run --margin 0.01 --alpha 0.3",
        r"--alpha: 0.3 must be at most 0.25 with --margin",
    ),
    row("diff-out-folder", "diff run --out folder", r"--out: 'folder' is a folder"),
    # -- model -----------------------------------------------------------------------
    row("model-no-action", "model", r"the following arguments are required: ACTION", usage=True),
    row(  # a nested command's usage
        "model-train-unknown-option",
        "model train --out t.onnx --bogus 3",
        r"^highfive model train: error: unrecognized arguments: --bogus 3$",
        usage=True,
    ),
    row(
        "model-info-extra-argument",
        "model info float extra",
        r"^highfive model info: error: unrecognized arguments: extra$",
        usage=True,
    ),
    row("model-info-unknown", "model info nope", r"model: 'nope' is neither a file nor a"),
    row(
        "model-info-not-onnx",
        "model info good.csv",
        r"model 'good.csv': ONNX Runtime cannot load it",
    ),
    row(
        "model-quantize-suffix",
        "model quantize float --out x.txt",
        r"--out: 'x.txt' does not end in .onnx",
    ),
    row("model-quantize-folder", "model quantize float --out folder", r"--out: 'folder' is a "),
    row(
        "model-quantize-under-file",
        "model quantize float --out afile/q.onnx",
        r"--out: cannot write 'afile/q.onnx'",
    ),
    row("model-quantize-unknown", "model quantize nope --out q.onnx", r"'nope' is neither a"),
    row(
        "model-quantize-traces",
        "model quantize float --out q.onnx --calibration-traces 0",
        r"--calibration-traces: 0 must be >= 1",
        usage=True,
    ),
    row("model-train-suffix", "model train --out x.txt", r"--out: 'x.txt' does not end in .onnx"),
    row(  # started 'epoch 1/99999999999999999999'
        "model-train-epochs-too-many",
        "model train --traces 4 --epochs 99999999999999999999 --out t.onnx",
        r"argument --epochs: 99999999999999999999 must be <= 10,000",
        usage=True,
    ),
    row(
        "model-prune-epochs",
        "model prune float --epochs 10001 --out p.onnx",
        r"argument --epochs: 10001 must be <= 10,000",
        usage=True,
    ),
    row(
        "model-prune-suffix",
        "model prune float --out x.txt",
        r"--out: 'x.txt' does not end in .onnx",
    ),
    row("model-compare-not-a-run", "model compare folder", r"run directory 'folder' has no "),
    row(
        "model-compare-run-twice",
        "model compare run ./run/",
        r"compare: run 'run' is given twice; name each run once",
    ),
    row(  # seed 0 made the float model's training traces: reported as held-out ones
        "model-compare-training-seed",
        "model compare run --seed 0 --traces 1",
        r"--seed: 0 trained model 'float' \(its metadata train\.seed = '0'\): its held-out "
        r"traces would be training traces; give a seed no compared model was trained on",
    ),
    row(
        "model-compare-reference-of-none",
        "model compare run --reference nope",
        r"--reference: 'nope' is not a model of the runs; their models: toy, float",
    ),
    row(
        "model-train-under-file",
        "model train --out afile/t.onnx",
        r"--out: cannot write 'afile/t.onnx'",
    ),
    row("model-train-epochs", "model train --out t.onnx --epochs 0", r"--epochs: 0", usage=True),
    row(
        "model-train-widths-too-wide",
        "model train --out t.onnx --widths 16 32 100000",
        r"--widths: 100000 must be <= 256",
        usage=True,
    ),
    row(
        "model-prune-sparsity",
        "model prune float --sparsity 1.5 --out p.onnx",
        r"--sparsity: '1.5' is not a fraction in \[0, 1\)",
        usage=True,
    ),
    row(
        "model-prune-sparsity-full-width",
        "model prune float --sparsity ０.３ --out p.onnx",
        r"--sparsity: '０.３' is not a fraction in \[0, 1\)",
        usage=True,
    ),
    row("model-compare-no-run", "model compare", r"required: RUN", usage=True),
    row("model-target-no-model", "model target", r"required: MODEL", usage=True),
    row("model-target-unknown", "model target nope", r"model: 'nope' is neither a file nor a"),
    row(
        "model-target-unknown-target",
        "model target float --target nope",
        r"target: 'nope' is neither a shipped profile \(.*\) nor a .toml file",
    ),
    row(
        "model-target-profile-key",
        "model target float --target t.toml",
        r"target profile 't.toml': unknown key 'name'; allowed keys: .*clock_mhz",
        files={"t.toml": 'name = "x"\n'},
    ),
]


# -- the world each row starts from ------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, toy_model_path: Path) -> dict[str, object]:
    """A folder with the small run, made once; ``passing`` is a case that passes."""
    root = tmp_path_factory.mktemp("world")
    shutil.copy(toy_model_path, root / "toy.onnx")
    (root / "small.toml").write_text(
        GOOD_RUN.replace("toy.onnx", str(root / "toy.onnx")).replace('"runs"', f'"{root / "runs"}"')
    )
    assert main(["run", str(root / "small.toml")]) == 0
    assert main(["synth", "high_five", "--csv", str(root / "good.csv")]) == 0
    from highfive.harness import RunDir

    rows = RunDir(root / "runs" / "small").results(columns=["case_id", "verdict"])
    failing = set(rows.case_id[rows.verdict != "pass"])
    passing = min(set(rows.case_id) - failing)
    return {"root": root, "passing": int(passing)}


def _snapshot(root: Path) -> dict[str, tuple[bool, int, int]]:
    """Every path under ``root``: (is a folder, size, modification time in ns).

    A run's ``.lock`` counts by its presence only: whoever takes the lock writes its pid
    there (bookkeeping of the lock, not output), also to refuse a run that exists.
    """
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        stamp = (p.is_dir(), st.st_size, st.st_mtime_ns) if p.name != ".lock" else (False, 0, 0)
        out[p.relative_to(root).as_posix()] = stamp
    return out


@pytest.fixture
def workdir(world: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = world["root"]
    assert isinstance(root, Path)
    shutil.copytree(root / "runs" / "small", tmp_path / "run")
    shutil.copytree(root / "runs" / "small", tmp_path / "partial")
    record = json.loads((tmp_path / "partial" / "campaign.json").read_text())
    record["status"] = "running"
    (tmp_path / "partial" / "campaign.json").write_text(json.dumps(record))
    for name in ("toy.onnx", "good.csv"):
        shutil.copy(root / name, tmp_path / name)
    (tmp_path / "afile").write_text("")
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("bad", CATALOGUE)
def test_malformed_input_is_one_line_exit_2_and_writes_nothing(
    bad: Bad,
    workdir: Path,
    world: dict[str, object],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, text in bad.files.items():  # {root}: the working folder; lone surrogates
        text = text.replace("{root}", str(workdir))  # stand for raw bytes
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    before = _snapshot(workdir)
    argv = shlex.split(bad.argv.format(passing=world["passing"]))
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse
        status = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.splitlines()
    if bad.usage:  # the chosen command's usage and name ("highfive model train: error:")
        command = " ".join(argv[:2] if argv[0] == "model" else argv[:1])
        assert status == 2 and lines[0].startswith(f"usage: highfive {command} "), err
        assert lines[-1].startswith(f"highfive {command}: error: "), err
    else:
        assert status == 2, (status, out, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(bad.match, lines[-1]), lines[-1]
    assert _snapshot(workdir) == before, "something was written"


def test_the_catalogue_covers_every_command() -> None:
    import argparse

    from highfive.harness.cli import _build_parser

    def commands(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
        (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        out: set[str] = set()
        for name, child in sub.choices.items():
            nested = [a for a in child._actions if isinstance(a, argparse._SubParsersAction)]
            out |= commands(child, f"{prefix}{name} ") if nested else {f"{prefix}{name}"}
        return out

    rows = [p.values[0] for p in CATALOGUE]  # type: ignore[attr-defined]
    assert len(rows) >= 40
    ids = [p.id for p in CATALOGUE]  # type: ignore[attr-defined]
    assert len(set(ids)) == len(ids)
    tested = {" ".join(r.argv.split()[:2]) for r in rows} | {r.argv.split()[0] for r in rows}
    assert commands(_build_parser()) <= tested
