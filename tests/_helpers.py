"""Helpers shared by test modules (fixtures live in ``conftest.py``).

Test files import it relatively (``from .._helpers import load_module``): pytest's
``--import-mode=importlib`` puts no test folder on ``sys.path``, but imports every test
module under a name derived from the repository root (``tests.unit.test_cli``), with
``tests`` and its folders as its parent packages.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def load_module(path: Path, name: str, *, shared: bool = False) -> ModuleType:
    """The Python file at ``path`` (a script, a benchmark, another test file) run as a
    module named ``name``.

    With ``shared``, the module is registered in ``sys.modules`` under ``name``
    before it runs, and a later call with that name returns it: every test file that
    loads it shares one module (its classes, its module-level state). Otherwise each
    call runs the file afresh into a module of its own, registered nowhere.
    """
    if shared and name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if shared:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_and_move(project: Path, monkeypatch: Any, to: Path | None = None) -> Path:
    """Run the campaign ``c.toml`` of the folder ``project`` from there, then move the
    folder with its runs to ``to`` (default: ``moved`` beside it) and work there
    (``monkeypatch`` changes the working directory); return the moved folder."""
    from highfive.harness.cli import main

    monkeypatch.chdir(project)
    assert main(["run", "c.toml"]) == 0
    moved = project.parent / "moved" if to is None else to
    moved.parent.mkdir(parents=True, exist_ok=True)
    project.rename(moved)
    monkeypatch.chdir(moved)
    return moved
