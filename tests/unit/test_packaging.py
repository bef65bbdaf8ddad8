"""The install exposes one namespace, ``highfive``, and shadows nothing; no file keeps merge
markers."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _run_elsewhere(code: str, tmp_path: object) -> str:
    # Run from an empty folder so the repository root is not on sys.path.
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_import_coverage_still_gives_coverage_py(tmp_path: object) -> None:
    pytest.importorskip("coverage")
    out = _run_elsewhere(
        """
        import coverage, highfive.coverage
        print(hasattr(coverage, "Coverage"), coverage.__name__, highfive.coverage.__name__)
        """,
        tmp_path,
    )
    assert out.split() == ["True", "coverage", "highfive.coverage"]


@pytest.mark.parametrize("name", ["generators", "harness", "reports", "models", "coverage"])
def test_no_top_level_package_of_ours_is_installed(name: str, tmp_path: object) -> None:
    out = _run_elsewhere(
        f"""
        import importlib.util
        spec = importlib.util.find_spec({name!r})
        print(spec.origin if spec else None)
        """,
        tmp_path,
    )
    # Either absent, or (only for `coverage`) coverage.py from site-packages.
    origin = out.strip()
    assert origin == "None" or ("site-packages" in origin and name == "coverage"), origin


def test_subpackages_import_under_highfive() -> None:
    import highfive.coverage
    import highfive.generators
    import highfive.harness
    import highfive.models
    import highfive.reports

    for mod in (
        highfive.generators,
        highfive.harness,
        highfive.coverage,
        highfive.reports,
        highfive.models,
    ):
        assert mod.__name__.startswith("highfive.")


def test_no_file_holds_merge_conflict_markers() -> None:
    # A merge once left <<<<<<< / ======= / >>>>>>> lines in tests/README.md.
    root = Path(__file__).resolve().parents[2]
    suffixes = {".py", ".md", ".toml", ".txt", ".sh", ".c", ".cfg", ".json", ".yml"}
    marked = []
    for path in root.rglob("*"):
        skipped = set(path.relative_to(root).parts) & {".git", ".venv", "build", "dist", "runs"}
        if skipped or path.suffix not in suffixes or not path.is_file():
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if line.startswith(("<<<<<<< ", ">>>>>>> ")):
                marked.append(f"{path.relative_to(root)}:{n}")
    assert not marked, marked


def test_the_examples_catalogue_lists_every_example_file() -> None:
    # It listed the campaign files only: not recordings.toml, the counters' plug-ins,
    # the BasicMotions script or the model-loop scripts.
    examples = Path(__file__).resolve().parents[2] / "examples"
    text = (examples / "README.md").read_text()
    suffixes = {".toml", ".py", ".sh", ".c"}
    files = [
        p.relative_to(examples).as_posix()
        for p in examples.rglob("*")
        if p.is_file() and p.suffix in suffixes and "data" not in p.relative_to(examples).parts
    ]
    assert len(files) >= 17
    assert [f for f in sorted(files) if f"`{f}`" not in text] == []


def test_git_ignores_what_the_readme_commands_write(tmp_path: Path) -> None:
    # The session's my_recording.csv, bm/, realism-walking/ and compare.parquet showed
    # as untracked files in the repository folder.
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    outputs, inside, lang = set(), False, ""
    for line in (root / "README.md").read_text().splitlines():
        if line.startswith("```"):
            inside, lang = not inside, line[3:]
            continue
        if inside and lang in ("", "sh"):
            command = line.split("  #")[0]
            outputs |= set(re.findall(r"--(?:out|csv|html|plot) (\S+)", command))
            outputs |= set(re.findall(r"basicmotions\.py (\S+)", command))
    assert {"my_recording.csv", "bm", "realism-walking", "compare.parquet"} <= outputs
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        input="\n".join(sorted(outputs)),
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert set(checked.stdout.split()) == outputs


def test_strategies_import_first_and_from_type_draws_traces(tmp_path: Path) -> None:
    # Importing highfive.generators.strategies before Hypothesis failed: Hypothesis,
    # initialising, looked its entry point up on the half-imported module.
    code = textwrap.dedent(
        """
        from highfive.generators import strategies as hst
        from hypothesis import given, settings, strategies as st
        from highfive.generators import Trace

        seen = []

        @settings(max_examples=2, database=None, deadline=None)
        @given(st.from_type(Trace))
        def check(trace):
            seen.append(type(trace).__name__)

        check()
        print(len(seen) > 0 and set(seen) == {"Trace"}, hasattr(hst, "traces"))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True"]


@pytest.mark.parametrize(
    "module",
    [
        "highfive.generators",
        "highfive.generators._space",
        "highfive.generators.strategies",
        "highfive.harness",
        "highfive.harness._pipeline",
        "highfive.coverage",
        "highfive.models",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    # The coverage package's example still said 31 crosses after the space grew to 36.
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_the_documented_cell_counts_of_the_default_space_are_current() -> None:
    # The docs said 144 / 9,929 / 437,094 / 13.8 million cells; the space had grown.
    from highfive.coverage import Binning
    from highfive.coverage._crosses import crosses_size
    from highfive.generators import default_space

    binning = Binning.from_space(default_space())
    cells = [crosses_size(binning, [t])[0] for t in (1, 2, 3, 4)]
    root = Path(__file__).resolve().parents[2]
    said = f"{cells[0]} 1-way cells, {cells[1]:,} 2-way, {cells[2]:,} 3-way and {cells[3]:,} 4-way"
    assert said in " ".join((root / "coverage" / "_crosses.py").read_text().split())
    for doc in ("README.md", "examples/bins.toml", "coverage/_cli.py"):
        assert f"{cells[2]:,}" in (root / doc).read_text(), doc


def test_every_benchmark_says_how_to_run_it_with_help() -> None:
    # bench_priors.py took no options and ran the whole benchmark on --help.
    import subprocess
    import sys

    scripts = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py"))
    assert len(scripts) >= 10
    procs = {
        s.name: subprocess.Popen(
            [sys.executable, str(s), "--help"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in scripts
    }
    said = {name: (p.communicate(timeout=120), p.returncode) for name, p in procs.items()}
    wrong = {
        n: (rc, err[-300:]) for n, ((out, err), rc) in said.items() if rc or "usage:" not in out
    }
    assert wrong == {}
