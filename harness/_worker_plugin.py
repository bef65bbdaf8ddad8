"""A plugin for the workers of the embedded cluster (imported on use: it needs
distributed's base class, which the command line does not load to start)."""

from __future__ import annotations

import logging
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from ._cluster import Dropped

__all__ = ["HEARTBEAT", "QuietHeartbeat"]

HEARTBEAT = "Failed to communicate with scheduler during heartbeat"
"""A worker's error, with a traceback, when its scheduler is gone before it."""


class QuietHeartbeat(WorkerPlugin):
    """Drops :data:`HEARTBEAT` in a worker of the embedded cluster.

    A terminal's Ctrl-C reaches the scheduler's process and the workers at once; a
    worker whose heartbeat raced the scheduler's closing logged the error with a
    traceback beside the campaign's one line "interrupted". A scheduler lost in
    mid-campaign is said by the campaign itself, so nothing is hidden.
    """

    name = "highfive-quiet-heartbeat"

    def setup(self, worker: Any) -> None:
        log = logging.getLogger("distributed.worker")
        if not any(isinstance(f, Dropped) and HEARTBEAT in f.phrases for f in log.filters):
            log.addFilter(Dropped(HEARTBEAT))
