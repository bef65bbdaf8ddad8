"""Reports of a run: ``highfive.reports``.

:func:`write_report` writes the self-contained HTML report (``highfive report RUN``);
:func:`add_report_commands` adds that subcommand to the ``highfive`` parser;
:func:`plot_trace`, :func:`plot_replay` and :func:`save_figure` draw single traces and
replayed cases. Importing this package is cheap: the public names are imported on
first use (PEP 562), so heavy imports (matplotlib, pyarrow) happen only when a report
is written or a plot drawn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cli import add_report_commands
    from ._html import write_report
    from ._junit import write_gate
    from ._plots import plot_replay, plot_trace, save_figure

__all__ = [
    "add_report_commands",
    "plot_replay",
    "plot_trace",
    "save_figure",
    "write_gate",
    "write_report",
]

# The module that defines each public name (the imports above, for the type checker).
_EXPORTS = {
    "_cli": ("add_report_commands",),
    "_html": ("write_report",),
    "_junit": ("write_gate",),
    "_plots": ("plot_replay", "plot_trace", "save_figure"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    try:
        home = _HOME[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
