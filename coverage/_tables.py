"""Reading coverage TOML: ``[bins.<dimension>]`` tables, ``ways``, ``[[crosses]]``.

The same file may hold a ``[statistics]`` table (see ``_run``); this module checks its
top-level keys and the keys of every bins table.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from highfive.generators import ConfigError, ParameterSpace

__all__ = ["check_bin_tables", "read_coverage_toml"]

_BIN_KEYS = ("edges", "count", "labels", "ignore", "illegal")
_TOML_KEYS = ("bins", "crosses", "ways", "statistics")


def check_bin_tables(space: ParameterSpace, bins: Mapping[str, Any]) -> None:
    """:class:`ConfigError` for a bins table of an unknown or fixed dimension, or a bad key."""
    for name, spec in bins.items():
        if name not in space:
            raise ConfigError(f"bins.{name}: unknown dimension; known: {', '.join(space.names)}")
        if not isinstance(spec, Mapping):
            raise ConfigError(f"bins.{name}: expected a table, got {spec!r}")
        bad = sorted(set(spec) - set(_BIN_KEYS))
        if bad:
            raise ConfigError(f"bins.{name}: unknown key {bad[0]!r}; allowed: {_BIN_KEYS}")
        if space[name].is_fixed:
            raise ConfigError(
                f"bins.{name}: the dimension is fixed in this space, so it has no bins; "
                "remove the table"
            )


def read_coverage_toml(source: str | Path) -> dict[str, Any]:
    """Parse coverage TOML text, or a ``.toml`` file given as a :class:`~pathlib.Path`."""
    text = Path(source).read_text() if isinstance(source, Path) else source
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"coverage TOML: {exc}") from None
    bad = sorted(set(data) - set(_TOML_KEYS))
    if bad:
        raise ConfigError(f"coverage TOML: unknown key {bad[0]!r}; allowed: {list(_TOML_KEYS)}")
    return data
