"""The ``highfive`` command line: subcommands, help, one-line errors with exit 2."""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from highfive.generators import default_space, synthesize
from highfive.harness.cli import main


def _subcommands() -> list[str]:
    import argparse

    from highfive.harness.cli import _build_parser

    parser = _build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    listing = capsys.readouterr().out
    commands = _subcommands()
    assert "synth" in commands
    for cmd in commands:
        assert cmd in listing
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0, cmd
        assert f"usage: highfive {cmd}" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["count", "realism"])
def test_help_names_every_column_the_reader_takes(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The names a recording's columns may have, as the reader lists them when none
    fits: the help named 5 of the 9 time columns."""
    (tmp_path / "r.csv").write_text("a,x,y,z\n0,0,0,1\n")
    assert main(["count", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    times, axes = re.search(
        r"expected time one of (\[.*?\]) and axes one of (\[.*\])", err
    ).groups()
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for name in ast.literal_eval(times):
        assert re.search(rf"[ ,]{name}[ ,]", help_text), name
    for names in ast.literal_eval(axes):
        assert "/".join(names) in help_text, names


def test_readme_names_every_option_of_every_command() -> None:
    """--help showed options the README never named (coverage --partial, report
    --cases, diff --method and --limit, model train --epochs, ...)."""
    import argparse

    from highfive.harness.cli import _build_parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = []
    todo = [("", _build_parser())]
    while todo:
        command, parser = todo.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{command} {n}".strip(), p) for n, p in action.choices.items()]
            for option in action.option_strings:
                known = option in ("-h", "--help", "--version") or not option.startswith("--")
                if not known and not re.search(rf"`[^`]*{re.escape(option)}(?![\w-])", readme):
                    missing.append(f"{command} {option}")
    assert missing == []


def test_no_help_text_shows_a_doubled_percent_sign() -> None:
    """Descriptions are printed as written (argparse %-formats only argument help), so
    a "%%" there shows as such: every parser's help, nested ones too, reads "%"."""
    import argparse

    from highfive.harness.cli import _build_parser

    todo = [_build_parser()]
    seen = 0
    while todo:
        parser = todo.pop()
        seen += 1
        assert "%%" not in parser.format_help(), parser.prog
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    assert seen > 12  # the nested subcommands (model compare, ...) were reached


def test_synth_writes_csv_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, png = tmp_path / "hf.csv", tmp_path / "hf.png"
    assert (
        main(
            [
                "synth",
                "high_five",
                "--seed",
                "3",
                "--param",
                "repetitions=2",
                "--csv",
                str(csv),
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("high_five ") == 2 and "count" in out
    frame = pd.read_csv(csv)
    assert list(frame.columns) == ["t", "x_g", "y_g", "z_g"] and len(frame) >= 500
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf.csv", "hf.png"]  # no temp files


def test_synth_csv_holds_the_trace_exactly(tmp_path: Path) -> None:
    # Times past 10 s with 0.5 % jitter at 200 Hz: six digits rounded them to 50 us.
    csv = tmp_path / "j.csv"
    params = ["sample_rate=200", "repetitions=4", "gap=6", "duration=20"]
    argv = ["synth", "high_five", "--seed", "5", "--csv", str(csv)]
    assert main([*argv, *(a for p in params for a in ("--param", p))]) == 0
    row = default_space().complete(
        dict(motion="high_five", sample_rate=200, repetitions=4, gap=6.0, duration=20.0)
    )
    trace = synthesize(row, 5)
    frame = pd.read_csv(csv, float_precision="round_trip")
    np.testing.assert_array_equal(frame["t"].to_numpy(), trace.t)
    samples = frame[["x_g", "y_g", "z_g"]].to_numpy().astype(np.float32)
    np.testing.assert_array_equal(samples, trace.samples)


def test_synth_random_uses_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    main(["synth", "high_five", "--random", "--seed", "1"])
    a = capsys.readouterr().out
    main(["synth", "high_five", "--random", "--seed", "1"])
    assert capsys.readouterr().out == a
    main(["synth", "high_five", "--random", "--seed", "2"])
    assert capsys.readouterr().out != a


def test_synth_random_draws_the_distractor_too(capsys: pytest.CaptureFixture[str]) -> None:
    # It was fixed to "none" before the draw, though --random draws every dimension
    # not given with --param: 12 seeds gave no distractor (half the space's cases have one).
    def motions(*extra: str) -> set[str]:
        seen = set()
        for seed in range(1, 13):
            main(["synth", "high_five", "--random", "--seed", str(seed), *extra])
            seen |= {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:-1]}
        return seen

    assert motions() - {"high_five"}  # some trace has a distractor
    assert motions("--param", "distractor=none") == {"high_five"}


BAD = [
    ("unknown-motion", ["synth", "moonwalk"], "motion: unknown motion 'moonwalk'"),
    (
        "out-of-range",
        ["synth", "high_five", "--param", "peak_accel=100"],
        "peak_accel: '100' is out of range",
    ),
    ("unknown-param", ["synth", "high_five", "--param", "speed=2"], "unknown parameter 'speed'"),
    ("no-equals", ["synth", "high_five", "--param", "speed"], "not of the form NAME=VALUE"),
    ("nan", ["synth", "high_five", "--param", "gap=nan"], "gap: 'nan' is not a finite number"),
]


@pytest.mark.parametrize("argv, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], match: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.csv"
    assert main([*argv, "--csv", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and match in err
    assert not out.exists()


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("highfive")
    proc = subprocess.run([str(exe), "synth", "nope"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: motion: unknown motion 'nope'")


def test_atomic_files_get_ordinary_permissions(tmp_path: Path) -> None:
    import os

    from highfive.harness._io import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask


# -- first contact: cheap imports ------------------------------------------------------
FACADES = [
    "highfive.generators",
    "highfive.harness",
    "highfive.coverage",
    "highfive.reports",
    "highfive.models",
]
HEAVY = ("numpy", "pyarrow", "pandas", "scipy", "onnxruntime", "matplotlib", "dask")


def _heavy_after(code: str, cwd: Path) -> list[str]:
    """The heavy libraries a fresh interpreter has imported after running ``code``."""
    script = textwrap.dedent(code) + f"\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    script = "import sys\n" + script
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=str(cwd), capture_output=True, text=True
    )
    assert proc.returncode in (0, 2), proc.stderr  # not the repository root: see tests/README
    return ast.literal_eval(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", FACADES)
def test_importing_a_facade_imports_nothing_heavy(package: str, tmp_path: Path) -> None:
    assert _heavy_after(f"import {package}", tmp_path) == []


@pytest.mark.parametrize("package", FACADES)
def test_a_facade_resolves_every_export_lazily(package: str, tmp_path: Path) -> None:
    # Right after import, only re-exports of a lower package's small modules are bound.
    code = f"""
        import {package} as m
        print(sorted(set(m.__all__) & set(vars(m))))
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, capture_output=True, text=True
    )
    eager = set(ast.literal_eval(proc.stdout))
    module = importlib.import_module(package)
    home = {name: sub for sub, names in module._EXPORTS.items() for name in names}
    assert set(home) == set(module.__all__) - eager
    assert set(dir(module)) >= set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018
    # What the type checker reads (``if TYPE_CHECKING:`` imports) is what runs.
    tree = ast.parse(Path(module.__file__ or "").read_text())
    (block,) = (
        n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    )
    imports = [n for n in block.body if isinstance(n, ast.ImportFrom)]
    typed = {(n.module or "", a.name) for n in imports for a in n.names}
    assert typed == {(sub, name) for name, sub in home.items()}


# Building the parser with only the command line's own commands, and each package's.
_NO_OTHER_COMMANDS = """
import highfive.coverage, highfive.models, highfive.reports
def bare(name):
    return lambda subparsers, **kwargs: subparsers.add_parser(name)
highfive.coverage.add_coverage_commands = bare("diff")
highfive.reports.add_report_commands = bare("report")
highfive.models.add_model_commands = bare("model")
from highfive.harness.cli import _build_parser
_build_parser()
"""
_ONE_PACKAGE = """
import argparse
from highfive.{package} import add_{what}_commands as add
add(argparse.ArgumentParser().add_subparsers())
"""


PARSERS = [
    pytest.param(_NO_OTHER_COMMANDS, id="cli-own-commands"),
    pytest.param(_ONE_PACKAGE.format(package="coverage", what="coverage"), id="coverage-commands"),
    pytest.param(_ONE_PACKAGE.format(package="reports", what="report"), id="report-commands"),
    pytest.param(_ONE_PACKAGE.format(package="models", what="model"), id="model-commands"),
    pytest.param("from highfive.harness.cli import main\nmain(['--help'])", id="highfive--help"),
]


@pytest.mark.parametrize("code", PARSERS)
def test_building_the_parser_imports_nothing_heavy(code: str, tmp_path: Path) -> None:
    # --help exits with SystemExit(0) before the report line: catch it.
    wrapped = f"try:\n{textwrap.indent(code.strip(), '    ')}\nexcept SystemExit:\n    pass"
    assert _heavy_after(wrapped, tmp_path) == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import metadata

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"highfive {metadata.version('highfive')}"
    names = [line.split()[0] for line in lines]
    assert names == ["highfive", "python", "numpy", "onnxruntime", "dask"]
    assert f"numpy {metadata.version('numpy')}" in lines


@pytest.mark.filterwarnings("default")  # the command line, not pytest, shows this warning
def test_warnings_are_one_line_without_source(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "c"\nseed = 1\ncases = 3\nsampler = "sobol"\nbatch_size = 3\n'
        f'models = ["{toy_model_path}"]\nout = "{tmp_path / "runs"}"\n'
        "[execution]\nworkers = 0\n"
    )
    assert main(["run", str(config)]) == 0
    err = capsys.readouterr().err.splitlines()
    shown = [line for line in err if "power of two" in line]
    assert shown == [
        "warning: sampler sobol: cases=3 is not a power of two; Sobol points keep their "
        "balance only for powers of two (e.g. 2 or 4)"
    ]
    assert not any(".py:" in line or "warnings.warn" in line for line in err)


def test_a_negative_seed_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["synth", "high_five", "--seed", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --seed: -1 must be >= 0" in err and "Traceback" not in err


BAD_OUTPUTS = [
    ("plot-under-a-file", ["--plot", "afile/x.png"], "--plot: cannot write 'afile/x.png': "),
    ("plot-is-a-folder", ["--plot", "folder"], "--plot: 'folder' is a folder; give a file name"),
    ("csv-is-a-folder", ["--csv", "folder"], "--csv: 'folder' is a folder; give a file name"),
    ("plot-suffix", ["--plot", "x.txt"], "--plot: 'x.txt' does not end in an image format"),
    ("plot-no-suffix", ["--plot", "x"], "--plot: 'x' does not end in an image format; use "),
]


@pytest.mark.parametrize(
    "flags, match", [b[1:] for b in BAD_OUTPUTS], ids=[b[0] for b in BAD_OUTPUTS]
)
def test_unwritable_outputs_are_refused_before_any_work(
    flags: list[str],
    match: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    (tmp_path / "folder").mkdir()
    before = sorted(tmp_path.rglob("*"))
    # A good --csv next to the bad output must not be written either.
    assert main(["synth", "high_five", "--csv", "sub/ok.csv", *flags]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert match in captured.err
    assert captured.out == ""  # refused before the trace was even made
    assert sorted(tmp_path.rglob("*")) == before


# A folder that takes no new file whoever asks, root included (os.access says yes to
# root there): the output is refused before the work, naming the option, not a temporary.
NO_NEW_FILES = [
    ("synth-plot", "synth high_five --plot /proc/x.png"),
    ("synth-csv", "synth high_five --csv /proc/x.csv"),
    ("quantize", "model quantize float --calibration-traces 5 --out /proc/q.onnx"),
    ("prune", "model prune float --sparsity 0.3 --epochs 0 --out /proc/x.onnx"),
    ("train", "model train --traces 20 --epochs 1 --out /proc/t.onnx"),
]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("argv", [b[1] for b in NO_NEW_FILES], ids=[b[0] for b in NO_NEW_FILES])
def test_a_folder_that_takes_no_files_is_refused_before_any_work(
    argv: str, capsys: pytest.CaptureFixture[str]
) -> None:
    *_, flag, path = argv.split()
    assert main(argv.split()) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing made, trained or quantized first
    assert captured.err.startswith(f"error: {flag}: cannot write {path!r}: ")
    assert captured.err.count("\n") == 1 and ".tmp" not in captured.err


SAME_FILE = [  # (id, how --plot names the --csv file; the files made first)
    ("same-name", "same.png", {}),
    ("other-spelling", "./sub/../same.png", {"sub": None}),
    ("symlink", "link.png", {"link.png": "same.png"}),
]


@pytest.mark.parametrize("plot, made", [b[1:] for b in SAME_FILE], ids=[b[0] for b in SAME_FILE])
def test_two_outputs_naming_one_file_are_refused(
    plot: str,
    made: dict[str, str | None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, target in made.items():  # None: a folder; else a symlink to target
        (tmp_path / name).mkdir() if target is None else (tmp_path / name).symlink_to(target)
    before = sorted(tmp_path.rglob("*"))
    assert main(["synth", "high_five", "--csv", "same.png", "--plot", plot]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    if plot == "link.png":  # writing would replace the link with a file: refused first
        said = "is a symbolic link, which writing would replace with a file; give the file itself"
    else:
        said = "is also the --csv file; give each output its own file"
    assert captured.err == f"error: --plot: {os.fspath(Path(plot))!r} {said}\n"
    assert sorted(tmp_path.rglob("*")) == before


def test_a_failed_write_leaves_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    import highfive.reports

    def disk_full(fig: object, path: object) -> None:
        Path(path).write_bytes(b"\x89PNG half")  # type: ignore[arg-type]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(highfive.reports, "save_figure", disk_full)
    csv, png = tmp_path / "new" / "hf.csv", tmp_path / "plots" / "hf.png"
    assert main(["synth", "high_five", "--csv", str(csv), "--plot", str(png)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: cannot write --plot {str(png)!r}: No space left on device\n"
    assert list(tmp_path.iterdir()) == []  # no file, no temporary, no folder made for them


def test_an_os_error_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    import highfive.generators

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "x"))

    monkeypatch.setattr(highfive.generators, "synthesize", read_only)
    assert main(["synth", "high_five"]) == 2
    assert capsys.readouterr().err == f"error: Read-only file system: {str(tmp_path / 'x')!r}\n"


def test_replay_without_a_case_lists_the_failing_cases(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from highfive.harness import SEVERITY, RunDir

    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "c"\nseed = 3\ncases = 16\nsampler = "random"\nbatch_size = 8\n'
        f'models = ["{toy_model_path}", "float"]\nout = "{tmp_path / "with space"}"\n'
        "[execution]\nworkers = 0\n"
    )
    assert main(["run", str(config)]) == 0
    run = tmp_path / "with space" / "c"  # the printed command quotes it
    rows = RunDir(run).results(columns=["case_id", "model", "verdict"])
    failing = set(rows.case_id[rows.verdict != "pass"])
    by_model = {m: int((rows[rows.model == m].verdict != "pass").sum()) for m in ("toy", "float")}
    assert 0 < len(failing) < 16  # the toy model fails some cases, not all
    capsys.readouterr()

    assert main(["replay", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"{len(failing)} of 16 cases fail (toy {by_model['toy']}, float {by_model['float']}); "
        f"the first {len(failing)}, worst verdicts first:"
    )
    assert out[1].split() == ["CASE_ID", "toy", "float"]  # the campaign's order
    listed = {int(line.split()[0]): line.split()[1:] for line in out[2:-1]}
    assert set(listed) == failing
    rank = [min(SEVERITY.index(v) for v in vs if v != "pass") for vs in listed.values()]
    assert rank == sorted(rank)  # worst verdicts first
    command = out[-1].removeprefix("replay one with: ")
    assert shlex.split(command) == ["highfive", "replay", str(run), "CASE_ID"]
    assert main(["replay", str(run), str(min(failing))]) == 0  # a listed case replays


def test_version_into_a_full_disk_is_one_line(tmp_path: Path) -> None:
    # It ended in an OSError traceback (exit 1), as no command does.
    exe = Path(sys.executable).with_name("highfive")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [str(exe), "--version"], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert (proc.returncode, proc.stderr) == (2, "error: No space left on device\n")


@pytest.mark.parametrize("argv", [["synth", "high_five"], ["--version"]])
def test_a_closed_stdout_stops_quietly(tmp_path: Path, argv: list[str]) -> None:
    # --version printed before any command ran, outside the command's handling of a
    # closed pipe: `highfive --version | head -1` ended in a BrokenPipeError traceback.
    exe = Path(sys.executable).with_name("highfive")
    proc = subprocess.Popen(
        [str(exe), *argv],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `highfive ... | head -0` would
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait() == 141 and err == ""  # 128 + SIGPIPE, no traceback or message


@pytest.mark.parametrize("command", [["synth", "high_five"], ["realism", "--help"]])
def test_a_stdout_closed_from_the_start_is_one_line(tmp_path: Path, command: list[str]) -> None:
    """`highfive ... >&-`: Python starts with no sys.stdout; printing dropped every line
    and the final flush raised AttributeError, a traceback with exit 1."""
    exe = Path(sys.executable).with_name("highfive")
    proc = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", str(exe), *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        "error: standard output is closed, so nothing could be printed; redirect it to a "
        "file or to /dev/null instead\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_replay_of_a_case_the_run_has_not_stored_compares_nothing(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As after a kill: the second batch's files written, its manifest line not."""
    run = _killed_after_batch_0(_toy_run(tmp_path, toy_model_path))
    capsys.readouterr()

    assert main(["replay", str(run), "3"]) == 0  # a stored case: compared, identical
    assert "identical to the campaign's stored rows" in capsys.readouterr().out
    assert main(["replay", str(run), "12"]) == 1  # regenerated, but nothing to compare
    out = capsys.readouterr().out
    assert "identical" not in out and "DIFFERENT" not in out
    assert out.splitlines()[0].startswith("case 12: ")  # the regenerated case is shown
    assert out.splitlines()[-1] == (
        "case 12 is not in the run's stored results (the run is incomplete: status "
        "'running', 1 of 2 batches done); nothing was compared"
    )
    # A changed case is not compared by design, and is no failure.
    assert main(["replay", str(run), "12", "--param", "gap=1"]) == 0
    assert "nothing was compared" not in capsys.readouterr().out


def test_an_output_that_is_a_pipe_is_refused_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Outputs are renamed over their path: /dev/null became a regular file. (A pipe
    # stands for any special file here: a test must not touch the system's devices.)
    import stat

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    assert main(["synth", "high_five", "--csv", str(pipe)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: --csv: {str(pipe)!r} is not a regular file (a device, pipe or socket), which "
        "writing would replace; give a file name\n"
    )
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_report_checks_the_coverage_it_would_compute_into_the_run(
    tmp_path: Path,
    small_campaign: Callable[..., Path],
    toy_model_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A file named coverage in the run: the report computed coverage first, then failed
    # with a bare "File exists"; the message named --out, which was not given.
    run = small_campaign(tmp_path, "r", 1, 16, {"toy": str(toy_model_path)})
    (run / "coverage").write_text("")
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: RUN: {str(run / 'coverage')!r} is not a folder; give a folder\n"


def test_a_disk_full_while_writing_a_model_names_the_model_not_its_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ENOSPC from a write names no file, and from a flush or rename the temporary
    ``.x.onnx.1a2b.tmp``: the user should read the file they asked for."""
    import errno

    real = Path.write_bytes

    def disk_full(self: Path, data: bytes) -> int:  # type: ignore[override]
        if self.name.endswith(".tmp"):
            real(self, data[:10])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    out = tmp_path / "q.onnx"
    argv = ["model", "quantize", "float", "--out", str(out), "--calibration-traces", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"error: No space left on device: {str(out)!r}\n"
    assert list(tmp_path.iterdir()) == []  # no model, no temporary


def test_synth_writes_parquet_for_a_parquet_name_and_count_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # CSV text was written under clap.parquet: count said "Parquet magic bytes not found".
    out = tmp_path / "hf.parquet"
    assert main(["synth", "high_five", "--param", "repetitions=2", "--csv", str(out)]) == 0
    assert main(["count", str(out)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("count: 2")


def test_a_printed_replay_command_gives_back_the_run_and_exact_values() -> None:
    # Shrink printed values rounded to 6 digits (another point than the one it found)
    # and the run path unquoted (a run in "runs/with space" gave a failing command).
    import numpy as np

    from highfive.harness import replay_command

    values = {
        "duration": 9.441697677830234,
        "bias_x": np.float64(-6.004140485738763),
        "gap": 0.1 + 0.2,  # 0.30000000000000004
        "repetitions": np.int64(3),
        "motion": "clap",
    }
    command = replay_command(Path("runs/with space"), 109, values)
    words = shlex.split(command)
    assert words[:4] == ["highfive", "replay", "runs/with space", "109"]
    assert words[4::2] == ["--param"] * len(values)
    given = dict(w.split("=", 1) for w in words[5::2])
    assert given.keys() == values.keys()
    for k in ("duration", "bias_x", "gap"):
        assert float(given[k]) == values[k], k  # reads back as the very same float
    assert given["repetitions"] == "3" and given["motion"] == "clap"


def test_a_run_resumes_whatever_the_spelling_of_its_restrictions(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # motion = "clap" and motion = ["clap"] select the same cases, but a resume with
    # the other spelling was refused as "another configuration".
    def campaign(motion: str) -> str:
        path = tmp_path / "c.toml"
        path.write_text(
            f'name = "c"\nseed = 3\ncases = 8\nsampler = "random"\nbatch_size = 8\n'
            f'models = ["{toy_model_path}"]\nout = "{tmp_path}"\n'
            f"[space]\nmotion = {motion}\npeak_accel = [12, 12]\n[execution]\nworkers = 0\n"
        )
        return str(path)

    assert main(["run", campaign('["clap"]')]) == 0
    assert main(["run", campaign('"clap"'), "--resume"]) == 0
    record = tmp_path / "c" / "campaign.json"
    data = json.loads(record.read_text())
    # a run made before one spelling: its identity holds the lists as written
    data["identity"]["space"] = {"motion": ["clap"], "peak_accel": [12.0, 12.0]}
    record.write_text(json.dumps(data))
    for motion in ('["clap"]', '"clap"'):
        assert main(["run", campaign(motion), "--resume"]) == 0, capsys.readouterr().err


def test_control_characters_of_a_counter_message_are_escaped_when_printed(
    tmp_path: Path, small_campaign: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # NUL, BEL, ESC (a terminal obeys "\x1b[2J") and a right-to-left override from a
    # counter's exception reached the terminal raw in replay's output.
    (tmp_path / "loud.py").write_text(
        "def count(trace):\n    raise ValueError('bad \\x00\\x07\\x1b[2J \\u202e end')\n"
    )
    run = small_campaign(tmp_path, "loud", 1, 2, {"loud": f"{tmp_path / 'loud.py'}:count"})
    capsys.readouterr()
    assert main(["replay", str(run), "0"]) == 0
    out = capsys.readouterr().out
    assert all(c.isprintable() or c == "\n" for c in out), repr(out)
    assert r"bad \x00\x07\x1b[2J \u202e end" in out
    # and in an error line: 'highfive count' with the counter
    trace = tmp_path / "t.csv"
    assert main(["synth", "high_five", "--csv", str(trace)]) == 0
    capsys.readouterr()
    assert main(["count", str(trace), "--model", f"{tmp_path / 'loud.py'}:count"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert r"bad \x00\x07\x1b[2J \u202e end" in err and "\x1b" not in err


def _toy_run(root: Path, model: Path) -> Path:
    """A complete run of the toy model, made in this process: ``root/c``."""
    config = root / "c.toml"
    config.write_text(
        f'name = "c"\nseed = 3\ncases = 16\nsampler = "random"\nbatch_size = 8\n'
        f'models = ["{model}"]\nout = "{root}"\n[execution]\nworkers = 0\n'
    )
    assert main(["run", str(config)]) == 0
    return root / "c"


def _killed_after_batch_0(run: Path) -> Path:
    """``run`` (a complete ``_toy_run``) as a kill leaves it after its first batch: status
    running, batch 0 (cases 0-7) the only one listed, batch 1's files still there."""
    record = json.loads((run / "campaign.json").read_text())
    record["status"] = "running"
    (run / "campaign.json").write_text(json.dumps(record))
    manifest = (run / "manifest.jsonl").read_text().splitlines(keepends=True)
    (run / "manifest.jsonl").write_text(manifest[0])
    return run


def _rewrite_cell(run: Path, model: str, case: int, column: str, value: object) -> None:
    """Set one cell of ``case``'s stored row in a result part file and give the file's
    new size and SHA-256 to the manifest, as a deliberate edit would (no damage)."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = (run / "manifest.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        for f in entry["files"]:
            path = run / f["path"]
            if f"model={model}" not in f["path"]:
                continue
            table = pq.read_table(path)
            ids = table.column("case_id").to_pylist()
            if case not in ids:
                continue
            i = table.schema.get_field_index(column)
            cells = table.column(column).to_pylist()
            cells[ids.index(case)] = value
            table = table.set_column(i, table.schema.field(i), pa.array(cells, table[column].type))
            pq.write_table(table, path)
            data = path.read_bytes()
            f.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    text = "".join(json.dumps(e) + "\n" for e in entries)
    (run / "manifest.jsonl").write_text(text)


def test_replay_compares_the_case_s_parameters_and_source_too(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only the outcome columns were compared: a stored row whose parameters were not
    # the case replayed was "identical to the campaign's stored rows".
    run = _toy_run(tmp_path, toy_model_path)
    rows = pd.read_parquet(run / "results")
    motion = rows.loc[rows.case_id == 5, "motion"].item()
    other = "high_five" if motion != "high_five" else "clap"
    capsys.readouterr()
    assert main(["replay", str(run), "5"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("regenerated results are identical to the campaign's stored rows")
    _rewrite_cell(run, "toy", 5, "motion", other)
    _rewrite_cell(run, "toy", 5, "repetitions", 99)
    _rewrite_cell(run, "toy", 5, "source", "recording")
    assert main(["replay", str(run), "5"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "regenerated results are DIFFERENT FROM the campaign's stored rows "
        "(toy: motion, repetitions, source)"
    )


def test_replay_of_a_run_made_by_other_code_says_so_where_rows_differ(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A run made before a message's wording changed (a counter named by its absolute
    # path, then relative to its campaign's folder) was only "DIFFERENT FROM the
    # campaign's stored rows", as if the counter or the case had changed.
    from highfive.harness import RunDir
    from highfive.harness._cluster import code_digest

    run = _toy_run(tmp_path, toy_model_path)
    _rewrite_cell(run, "toy", 5, "message", "counter '/old/place/toy.onnx': worded before")
    capsys.readouterr()
    assert main(["replay", str(run), "5"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("regenerated results are DIFF")
    record = RunDir(run).read_campaign()
    record["versions"]["highfive source"] = "0123456789abcdef"
    RunDir(run).write_campaign(record)
    assert main(["replay", str(run), "5"]) == 1
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "regenerated results are DIFFERENT FROM the campaign's stored rows (toy: message)",
        "  the run was made by other highfive code (source 0123456789abcdef, this is "
        f"{code_digest()}): its messages may be worded otherwise",
    ]
    # Other columns than a message: no word about wording
    _rewrite_cell(run, "toy", 6, "repetitions", 99)
    assert main(["replay", str(run), "6"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "regenerated results are DIFFERENT FROM the campaign's stored rows (toy: repetitions)"
    )


def test_the_failure_list_of_an_incomplete_run_says_so_first(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "3 of 448 cases fail" of a killed run of 2,048 cases read as the whole run.
    run = _killed_after_batch_0(_toy_run(tmp_path, toy_model_path))
    capsys.readouterr()
    assert main(["replay", str(run)]) == 0  # a listing, as of a complete run
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "the run is incomplete: status 'running', 1 of 2 batches done (8 of 16 cases); "
        "only those cases are listed"
    )
    assert " of 8 cases fail (toy " in out[1]


@pytest.mark.parametrize("verdict", ["pass", "fail"])
def test_replay_csv_writes_the_case_s_trace_which_count_counts_as_stored(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str], verdict: str
) -> None:
    # No --seed of synth remakes a campaign's case (seeded from the campaign's seed and
    # the case id): the trace of a case could not be had as a file count reads.
    run = _toy_run(tmp_path, toy_model_path)
    rows = pd.read_parquet(run / "results")
    chosen = rows[(rows.verdict == "pass") == (verdict == "pass")]
    assert not chosen.empty  # the toy model passes some cases and fails others
    case, stored = int(chosen.case_id.iloc[0]), int(chosen.predicted_count.iloc[0])
    out = tmp_path / "case.csv"
    capsys.readouterr()
    assert main(["replay", str(run), str(case), "--csv", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {out}"
    assert main(["count", str(out), "--model", str(toy_model_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == stored


def test_what_replay_and_shrink_print_of_a_run_s_path_is_escaped(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A run folder named with ESC put "\x1b[31m" raw on the terminal in "replay one
    # with: ..." and "replay it with: ..."; "wrote <file>" printed a BEL raw.
    run = _toy_run(tmp_path, toy_model_path).rename(tmp_path / "red\x1b[31m")  # replays moved
    rows = pd.read_parquet(run / "results")
    case = int(rows.loc[rows.verdict != "pass", "case_id"].iloc[0])
    capsys.readouterr()
    assert main(["replay", str(run)]) == 0
    listing = capsys.readouterr().out
    assert all(c.isprintable() or c == "\n" for c in listing), repr(listing)
    assert r"red\x1b[31m" in listing
    assert main(["shrink", str(run), str(case), "--max-steps", "2"]) == 0
    shrunk = capsys.readouterr().out
    assert all(c.isprintable() or c == "\n" for c in shrunk), repr(shrunk)
    assert r"red\x1b[31m" in shrunk
    assert main(["replay", str(run), str(case), "--csv", str(tmp_path / "t\a.csv")]) == 0
    replayed = capsys.readouterr().out
    assert all(c.isprintable() or c == "\n" for c in replayed), repr(replayed)
    assert replayed.splitlines()[-1] == f"wrote {tmp_path}/t\\x07.csv"


def test_shrink_says_when_it_stopped_at_its_evaluation_limit(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It stopped after max_steps evaluations and printed "after 400 evaluations" as
    # for a point no parameter could leave: not the smallest failing point.
    from highfive.harness import shrink

    run = _toy_run(tmp_path, toy_model_path)
    rows = pd.read_parquet(run / "results")
    case = int(rows.loc[rows.verdict != "pass", "case_id"].iloc[0])
    res = shrink(run, case, max_steps=3)
    assert res.limited and res.evaluations == 3
    capsys.readouterr()
    assert main(["shrink", str(run), str(case), "--max-steps", "3"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith(
        "after 3 evaluations; stopped at the limit of 3 evaluations (--max-steps), so the "
        "point is not minimal: a larger --max-steps may move it further"
    )


def test_a_printed_replay_command_of_a_run_named_like_an_option_runs() -> None:
    # A run folder named -r gave "highfive replay -r 338 ...": unrecognized arguments.
    from highfive.harness import replay_command

    assert shlex.split(replay_command(Path("-r"), 338, {"gap": 1.5})) == [
        "highfive",
        "replay",
        "./-r",
        "338",
        "--param",
        "gap=1.5",
    ]
    assert shlex.split(replay_command("/runs/-r", "CASE_ID")) == [
        "highfive",
        "replay",
        "/runs/-r",
        "CASE_ID",
    ]


def test_run_and_report_print_an_odd_run_path_as_escapes(
    tmp_path: Path, toy_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'run directory: ...' and report's 'wrote ...' printed an out folder's ESC and line
    break raw: the line split and the terminal's colour changed (coverage, gate, replay
    and shrink printed them as escapes)."""
    odd = tmp_path / "odd \x1b[31m\nx"
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "c"\ncases = 4\nbatch_size = 4\nmodels = ["{toy_model_path}"]\n'
        f"out = {json.dumps(str(odd))}\n[execution]\nworkers = 0\n"
    )
    assert main(["run", str(config)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and f"run directory: {tmp_path}/odd \\x1b[31m\\nx/c  (complete)" in out
    assert main(["report", str(odd / "c"), "--cases", "0"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and f"wrote {tmp_path}/odd \\x1b[31m\\nx/c/report.html (" in out
