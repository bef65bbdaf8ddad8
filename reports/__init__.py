"""Reports of a run: ``highfive.reports``.

:func:`write_report` writes the self-contained HTML report (``highfive report RUN``);
:func:`add_report_commands` adds that subcommand to the ``highfive`` parser;
:func:`plot_trace`, :func:`plot_replay` and :func:`save_figure` draw single traces and
replayed cases. Heavy imports (matplotlib, pyarrow) happen only when a report is
written or a plot drawn: the plotting names are resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._cli import add_report_commands
from ._html import write_report
from ._junit import write_gate

if TYPE_CHECKING:
    from ._plots import plot_replay, plot_trace, save_figure

__all__ = [
    "add_report_commands",
    "plot_replay",
    "plot_trace",
    "save_figure",
    "write_gate",
    "write_report",
]

_LAZY = {"plot_replay": "._plots", "plot_trace": "._plots", "save_figure": "._plots"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
