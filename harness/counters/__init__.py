"""Counters under test, as plug-ins: one class per kind, one registry.

=========== ===================================== ==========================================
kind        written in a campaign as              identity
=========== ===================================== ==========================================
``exec``    ``exec:PATH [ARGS]``                  SHA-256 of the program, arguments, files
``python``  ``pkg.module:attr``, ``file.py:attr`` SHA-256 of the module file, attr, version
``onnx``    ``float``, ``int8``, ``model.onnx``   SHA-256 of the ONNX file
=========== ===================================== ==========================================

:func:`load_counter` asks each kind in :data:`KINDS` order whether it claims the
source (ONNX, the fallback, last). Adding a kind is one module with one
:class:`CounterPlugin` subclass and one entry in :data:`KINDS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from highfive.generators import ConfigError, RunDirError

from ._base import (
    DEFAULT_TIMEOUT_S,
    CounterChanged,
    CounterFault,
    CounterIdentity,
    CounterOptions,
    CounterPlugin,
    chunks,
    delivery_times,
    parse_detections,
    plain_result,
    with_article,
)
from .exec import GREETING, SAMPLE_DTYPE, ExecCounter
from .onnx import OnnxCounter, load_model
from .python import PythonCounter

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "GREETING",
    "KINDS",
    "SAMPLE_DTYPE",
    "CounterChanged",
    "CounterFault",
    "CounterIdentity",
    "CounterOptions",
    "CounterPlugin",
    "ExecCounter",
    "OnnxCounter",
    "PythonCounter",
    "chunks",
    "delivery_times",
    "load_counter",
    "load_model",
    "load_recorded",
    "parse_detections",
    "plain_result",
    "recorded_source",
    "with_article",
]

KINDS: dict[str, type[CounterPlugin]] = {
    "exec": ExecCounter,
    "python": PythonCounter,
    "onnx": OnnxCounter,
}
"""Every counter kind, in the order they are asked to claim a source."""


def load_counter(
    source: str, *, version: str = "", options: CounterOptions | None = None
) -> CounterPlugin:
    """The counter ``source`` names, loaded and checked (one-line errors name it)."""
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"counter: {source!r} must be a non-empty string")
    opts = options or CounterOptions()
    for cls in KINDS.values():
        if cls.claims(source):
            plugin: CounterPlugin = cls.from_source(source, version=version, options=opts)
            return plugin
    raise AssertionError("the onnx kind claims every source")  # pragma: no cover


def recorded_source(entry: Mapping[str, Any]) -> str:
    """The source a run's campaign.json records for a counter; :class:`RunDirError`
    if it records none."""
    source = entry.get("source")
    if not isinstance(source, str):
        raise RunDirError(
            f"counter {entry.get('id')!r}: the run records no source to load it from "
            "(campaign.json damaged); run the campaign again"
        )
    return source


def load_recorded(
    entry: Mapping[str, Any], options: CounterOptions | None = None, *, moved_from: str = ""
) -> CounterPlugin:
    """Load the counter a run's campaign.json recorded; refuse it if its identity changed.

    ``moved_from``: the folder the run recorded as the campaign's, now ``options.base``
    (the campaign's folder moved or copied with the run): the source's paths inside it
    are taken from the new one. A file the record names that is not there is refused
    with :class:`ConfigError` naming it. Records written before counters were plug-ins
    have no ``kind``: they are ONNX.
    """
    kind = entry.get("kind", "onnx")
    source = recorded_source(entry)
    opts = options or CounterOptions()
    if moved_from and kind in KINDS:
        source = KINDS[kind].relocated(source, moved_from, opts.base)
    identity = entry.get("identity")
    details = identity if isinstance(identity, dict) else {}
    version = str(details.get("version", "") or "")
    counter = load_counter(source, version=version, options=opts)
    lost = counter.lost(details)
    if lost:
        counter.close()
        raise ConfigError(
            f"counter {entry.get('id')!r}: {source}: the run's counter read "
            f"{', '.join(map(repr, lost))}, not found in {opts.base or os.getcwd()!r} (the "
            "folder relative arguments resolve against); restore it there"
        )
    if counter.kind != kind or counter.identity.sha256 != entry.get("sha256"):
        raise RunDirError(
            f"counter {entry.get('id')!r}: {source} is now "
            f"{with_article(counter.kind)} counter with identity "
            f"{counter.identity.sha256[:12]}, the run used {with_article(kind)} counter with "
            f"{str(entry.get('sha256'))[:12]}; restore the counter the run was made with"
        )
    return counter
