"""Reports of a run: ``highfive.reports``.

:func:`write_report` writes the self-contained HTML report (``highfive report RUN``);
:func:`add_report_commands` adds that subcommand to the ``highfive`` parser;
:func:`plot_trace`, :func:`plot_replay`, :func:`plot_count` and :func:`save_figure` draw
single traces, replayed cases and counted recordings; :func:`realism_page` is the page
of ``highfive realism --html``. Importing this package is cheap:
the public names are imported on first use (PEP 562), so heavy imports (matplotlib,
pyarrow) happen only when a report is written or a plot drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from highfive.generators import lazy_exports

if TYPE_CHECKING:
    from ._cli import add_report_commands
    from ._html import write_report
    from ._junit import write_gate
    from ._plot_count import plot_count
    from ._plots import plot_replay, plot_trace, save_figure
    from ._realism import realism_page

__all__ = [
    "add_report_commands",
    "plot_count",
    "plot_replay",
    "plot_trace",
    "realism_page",
    "save_figure",
    "write_gate",
    "write_report",
]

# The module that defines each public name (the imports above, for the type checker).
_EXPORTS = {
    "_cli": ("add_report_commands",),
    "_html": ("write_report",),
    "_junit": ("write_gate",),
    "_plot_count": ("plot_count",),
    "_plots": ("plot_replay", "plot_trace", "save_figure"),
    "_realism": ("realism_page",),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
