"""Reports of a run: ``highfive.reports``.

:func:`write_report` writes the self-contained HTML report (``highfive report RUN``);
:func:`add_report_commands` adds that subcommand to the ``highfive`` parser. Heavy
imports (matplotlib, pyarrow) happen only when a report is written.
"""

from ._cli import add_report_commands
from ._html import write_report

__all__ = ["add_report_commands", "write_report"]
