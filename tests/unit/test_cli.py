"""The ``highfive`` command line: subcommands, help, one-line errors with exit 2."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

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
    assert list(frame.columns) == ["t", "x", "y", "z"] and len(frame) >= 500
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf.csv", "hf.png"]  # no temp files


def test_synth_random_uses_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    main(["synth", "high_five", "--random", "--seed", "1"])
    a = capsys.readouterr().out
    main(["synth", "high_five", "--random", "--seed", "1"])
    assert capsys.readouterr().out == a
    main(["synth", "high_five", "--random", "--seed", "2"])
    assert capsys.readouterr().out != a


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
HEAVY = ("pyarrow", "pandas", "scipy", "onnxruntime", "matplotlib", "dask")


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
def test_a_facade_resolves_every_export_lazily(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module._HOME) == set(module.__all__)
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
    typed = {
        ("." * n.level + (n.module or ""), a.name)
        for n in block.body
        if isinstance(n, ast.ImportFrom)
        for a in n.names
    }
    assert typed == {(home, name) for name, home in module._HOME.items()}
