"""The architecture rule, checked on the source of the five packages.

Layers, lowest first: generators <- harness <- coverage <- reports <- models. A module
imports only from its own package and from lower layers, and from another package only
what that package exports (its ``__init__``'s ``__all__``, or a public submodule such
as ``highfive.generators.strategies``), never ``highfive.<other>._private``. The command
line, ``harness/cli.py``, may import from every package (public exports only) and is
left out of the package graph, which must have no cycles.

:func:`layer_violations` reads every import statement (also those inside functions and
``if TYPE_CHECKING:`` blocks) with :mod:`ast` and returns one line per violation:

- ``harness/_a.py:5 imports highfive.coverage (coverage is a higher layer than harness)``
- ``models/_a.py:1 imports highfive.harness._io (private module of another package)``
  (or ``private name``, when the name is no module);
- ``models/_a.py:1 imports highfive.generators.secret, which highfive.generators does not
  export``;
- ``import cycle between packages coverage, reports: coverage -> reports at
  coverage/_a.py:1; reports -> coverage at reports/_b.py:1, reports/_b.py:2``.

The table at the end runs it on synthetic packages, good and bad, so it is known to fail.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

LAYERS = ("generators", "harness", "coverage", "reports", "models")  # lowest first
APP = "harness/cli.py"  # the command line: may import every package's public exports
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class _Import:
    """One name an import statement reaches in another package."""

    file: str
    line: int
    package: str  # the other package, one of LAYERS
    parts: tuple[str, ...]  # what follows ``highfive.<package>``, the imported name last
    from_name: bool  # the last part is a name imported with ``from ... import``


def _module_parts(file: str) -> tuple[list[str], bool]:
    """``harness/_io.py`` -> (["highfive", "harness", "_io"], False); packages -> True."""
    parts = ["highfive", *file.removesuffix(".py").split("/")]
    if parts[-1] == "__init__":
        return parts[:-1], True
    return parts, False


def _imports(file: str, source: str) -> Iterator[_Import]:
    """Every reach of ``file`` into a package other than its own (in no set order)."""
    own, is_package = _module_parts(file)
    for node in ast.walk(ast.parse(source, filename=file)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        targets: list[tuple[list[str], bool]] = []
        if isinstance(node, ast.Import):
            targets = [(alias.name.split("."), False) for alias in node.names]
        else:
            if node.level:
                base = own if is_package else own[:-1]
                base = base[: len(base) - (node.level - 1)]
            else:
                base = []
            module = base + (node.module.split(".") if node.module else [])
            targets = [([*module, alias.name], True) for alias in node.names if alias.name != "*"]
        for parts, from_name in targets:
            if parts[:1] != ["highfive"] or len(parts) < 2 or parts[1] not in LAYERS:
                continue
            if parts[1] == own[1]:
                continue
            # ``from highfive import harness`` reaches the package itself, not a name in it.
            from_name = from_name and len(parts) > 2
            yield _Import(file, node.lineno, parts[1], tuple(parts[2:]), from_name)


def _exports(sources: Mapping[str, str], package: str) -> set[str] | None:
    """The literal ``__all__`` of ``<package>/__init__.py``; None if the file is absent."""
    source = sources.get(f"{package}/__init__.py")
    if source is None:
        return None
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            names = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(n, ast.Name) and n.id == "__all__" for n in names):
                assert node.value is not None
                return set(ast.literal_eval(node.value))
    return set()


def _is_module(sources: Mapping[str, str], package: str, parts: tuple[str, ...]) -> bool:
    path = "/".join((package, *parts))
    return f"{path}.py" in sources or f"{path}/__init__.py" in sources


Site = tuple[str, int]  # (file, line)


def _cycles(edges: Mapping[tuple[str, str], set[Site]]) -> list[str]:
    """One line per strongly connected set of two or more packages."""

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            here = todo.pop()
            for a, b in edges:
                if a == here and b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen

    reachable = {p: reach(p) for p in LAYERS}
    out: list[str] = []
    done: set[str] = set()
    for p in LAYERS:
        group = [q for q in LAYERS if q == p or (q in reachable[p] and p in reachable[q])]
        if len(group) < 2 or p in done:
            continue
        done.update(group)
        inside = [
            f"{a} -> {b} at {', '.join(f'{f}:{n}' for f, n in sorted(edges[a, b]))}"
            for a, b in sorted(edges, key=lambda e: (LAYERS.index(e[0]), LAYERS.index(e[1])))
            if a in group and b in group
        ]
        out.append(f"import cycle between packages {', '.join(group)}: {'; '.join(inside)}")
    return out


def _site_problems(imp: _Import, own: str, sources: Mapping[str, str]) -> Iterator[str]:
    """What is wrong with one reach into another package: higher layer, private, unexported."""
    if imp.file != APP and LAYERS.index(imp.package) > LAYERS.index(own):
        module = imp.parts[:-1] if imp.from_name else imp.parts
        name = ".".join(("highfive", imp.package, *module))
        yield f"imports {name} ({imp.package} is a higher layer than {own})"
    private = next((i for i, p in enumerate(imp.parts) if p.startswith("_")), None)
    if private is not None and not imp.parts[private].startswith("__"):
        reached = imp.parts[: private + 1]
        name = ".".join(("highfive", imp.package, *reached))
        last = imp.from_name and private == len(imp.parts) - 1
        kind = "name" if last and not _is_module(sources, imp.package, reached) else "module"
        yield f"imports {name} (private {kind} of another package)"
    elif imp.from_name and len(imp.parts) == 1:
        exports = _exports(sources, imp.package)
        if (
            exports is not None
            and imp.parts[0] not in exports
            and not _is_module(sources, imp.package, imp.parts)
        ):
            pkg = f"highfive.{imp.package}"
            yield f"imports {pkg}.{imp.parts[0]}, which {pkg} does not export"


def layer_violations(sources: Mapping[str, str]) -> list[str]:
    """Violations of the architecture rule in ``sources`` (path -> source), one a line.

    Paths are relative to the repository root with ``/`` (``harness/_io.py``); package
    exports come from the ``<package>/__init__.py`` entries. Import-site lines come
    sorted by file and line, cycle lines last.
    """
    sites: dict[tuple[Site, str], None] = {}  # ordered set
    edges: dict[tuple[str, str], set[Site]] = {}
    for file in sorted(sources):
        own = file.split("/")[0]
        for imp in _imports(file, sources[file]):
            if file != APP:  # the command line sits above the package graph
                edges.setdefault((own, imp.package), set()).add((file, imp.line))
            for problem in _site_problems(imp, own, sources):
                sites[(file, imp.line), problem] = None
    ordered = sorted(sites, key=lambda k: k[0])  # stable: a line's problems keep their order
    return [f"{f}:{n} {problem}" for (f, n), problem in ordered] + _cycles(edges)


def tree_sources(root: Path) -> dict[str, str]:
    """Every ``.py`` file of the five packages under ``root``, by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for package in LAYERS
        for path in sorted((root / package).rglob("*.py"))
    }


# -- the real tree -----------------------------------------------------------------------
def test_the_packages_keep_the_architecture_rule() -> None:
    sources = tree_sources(ROOT)
    assert APP in sources, f"{APP} moved: update APP in this test"
    assert {f.split("/")[0] for f in sources} == set(LAYERS)
    violations = layer_violations(sources)
    assert not violations, f"{len(violations)} violations of the layers:\n" + "\n".join(violations)


@pytest.mark.parametrize("package", ["highfive.harness", "highfive.generators"])
def test_importing_stays_light(package: str, tmp_path: Path) -> None:
    # A fresh interpreter in an empty folder (the repository root must not be on sys.path).
    code = f"""
        import sys
        import {package}
        print([m for m in ("onnxruntime", "torch", "matplotlib") if m in sys.modules])
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"import {package} imported {proc.stdout.strip()}"


# -- the checker itself, on synthetic packages -------------------------------------------
INITS = {f"{p}/__init__.py": f"__all__ = ['{p}_api']\n" for p in LAYERS}

CASES = [
    # Allowed.
    pytest.param({"models/_a.py": "from highfive.harness import harness_api\n"}, [], id="lower"),
    pytest.param(
        {"harness/_a.py": "from ._b import x\nfrom . import _c\n", "harness/_b.py": ""},
        [],
        id="relative",
    ),
    pytest.param({"harness/_a.py": "from highfive.harness._b import x\n"}, [], id="own-private"),
    pytest.param(
        {"harness/cli.py": "def main():\n    from highfive.models import models_api\n"},
        [],
        id="cli-upward",
    ),
    pytest.param(
        {
            "generators/strategies.py": "",
            "harness/_a.py": "from highfive.generators import strategies\n"
            "from highfive.generators.strategies import traces\n",
        },
        [],
        id="public-submodule",
    ),
    pytest.param(
        {
            "harness/_a.py": '"""\n>>> from highfive.models import x\n"""\n'
            'X = "highfive.models._x"\n'
        },
        [],
        id="strings",
    ),
    pytest.param(
        {
            "harness/cli.py": "from highfive.coverage import coverage_api\n",
            "coverage/_a.py": "from highfive.harness import harness_api\n",
        },
        [],
        id="cli-makes-no-cycle",
    ),
    # Higher layers.
    pytest.param(
        {
            "harness/_a.py": "import os\n\n\ndef f():\n"
            "    from highfive.coverage import coverage_api\n"
        },
        ["harness/_a.py:5 imports highfive.coverage (coverage is a higher layer than harness)"],
        id="upward-in-function",
    ),
    pytest.param(
        {"generators/sub/_a.py": "import highfive.harness\n"},
        [
            "generators/sub/_a.py:1 imports highfive.harness "
            "(harness is a higher layer than generators)"
        ],
        id="upward-import",
    ),
    pytest.param(
        {"coverage/_a.py": "from highfive import reports\n"},
        ["coverage/_a.py:1 imports highfive.reports (reports is a higher layer than coverage)"],
        id="upward-from-namespace",
    ),
    pytest.param(
        {"harness/_a.py": "from ..models import models_api\n"},
        ["harness/_a.py:1 imports highfive.models (models is a higher layer than harness)"],
        id="upward-relative",
    ),
    pytest.param(
        {
            "harness/_a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from highfive.reports import reports_api\n"
        },
        ["harness/_a.py:3 imports highfive.reports (reports is a higher layer than harness)"],
        id="upward-type-checking",
    ),
    # Private modules and names.
    pytest.param(
        {"models/_a.py": "from highfive.harness._model import session\n", "harness/_model.py": ""},
        ["models/_a.py:1 imports highfive.harness._model (private module of another package)"],
        id="private-from",
    ),
    pytest.param(
        {"models/_a.py": "import highfive.harness._io as io\n"},
        ["models/_a.py:1 imports highfive.harness._io (private module of another package)"],
        id="private-import",
    ),
    pytest.param(
        {"models/_a.py": "from highfive.harness import _io\n", "harness/_io.py": ""},
        ["models/_a.py:1 imports highfive.harness._io (private module of another package)"],
        id="private-module-as-name",
    ),
    pytest.param(
        {"models/_a.py": "from highfive.harness import _LOCK\n"},
        ["models/_a.py:1 imports highfive.harness._LOCK (private name of another package)"],
        id="private-name",
    ),
    pytest.param(
        {"harness/cli.py": "def plot():\n    from highfive.reports._plots import plot\n"},
        ["harness/cli.py:2 imports highfive.reports._plots (private module of another package)"],
        id="cli-private",
    ),
    pytest.param(
        {"models/_a.py": "from highfive.generators import secret\n"},
        [
            "models/_a.py:1 imports highfive.generators.secret, which highfive.generators does "
            "not export"
        ],
        id="not-exported",
    ),
    pytest.param(
        {"coverage/_a.py": "x = 1\nfrom highfive.reports._junit import junit_xml, other\n"},
        [
            "coverage/_a.py:2 imports highfive.reports._junit (reports is a higher layer than "
            "coverage)",
            "coverage/_a.py:2 imports highfive.reports._junit (private module of another package)",
        ],
        id="upward-and-private",
    ),
    # Cycles.
    pytest.param(
        {
            "coverage/_a.py": "from highfive.reports import reports_api\n",
            "reports/_b.py": "from highfive.coverage import coverage_api\n"
            "from highfive.coverage import coverage_api as again\n",
        },
        [
            "coverage/_a.py:1 imports highfive.reports (reports is a higher layer than coverage)",
            "import cycle between packages coverage, reports: coverage -> reports at "
            "coverage/_a.py:1; reports -> coverage at reports/_b.py:1, reports/_b.py:2",
        ],
        id="cycle",
    ),
    pytest.param(
        {
            "harness/_a.py": "from highfive.models import models_api\n",
            "models/_b.py": "from highfive.coverage import coverage_api\n",
            "coverage/_c.py": "from highfive.harness import harness_api\n",
        },
        [
            "harness/_a.py:1 imports highfive.models (models is a higher layer than harness)",
            "import cycle between packages harness, coverage, models: harness -> models at "
            "harness/_a.py:1; coverage -> harness at coverage/_c.py:1; models -> coverage at "
            "models/_b.py:1",
        ],
        id="cycle-of-three",
    ),
]


@pytest.mark.parametrize(("files", "expected"), CASES)
def test_checker_on_snippets(files: dict[str, str], expected: list[str]) -> None:
    assert layer_violations({**INITS, **files}) == expected
