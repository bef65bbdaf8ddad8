"""Reading coverage TOML: ``[bins.<dimension>]`` tables, ``ways``, ``[[crosses]]``.

The same file may hold a ``[statistics]`` table (see ``_run``); this module checks its
top-level keys and the keys of every bins table. ``examples/bins.toml`` shows every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from highfive.generators import ConfigError, ParameterSpace, parse_toml, show

__all__ = ["TOML_KEYS", "check_bin_tables", "check_top_keys", "read_coverage_toml"]

_BIN_KEYS = ("edges", "count", "labels", "ignore", "illegal")
TOML_KEYS = ("bins", "crosses", "ways", "statistics")
"""The top-level keys of a bins file."""


def check_top_keys(data: Mapping[str, Any], where: str) -> None:
    """:class:`ConfigError` for a top-level key of a bins file that is not in :data:`TOML_KEYS`,
    or a ``bins`` that is not a table of tables; ``where`` names the file."""
    bad = sorted(set(data) - set(TOML_KEYS))
    if bad:
        raise ConfigError(
            f"{where}: unknown key {show(bad[0])}; allowed: {', '.join(TOML_KEYS)} "
            "(see examples/bins.toml)"
        )
    bins = data.get("bins", {})
    if not isinstance(bins, Mapping):
        raise ConfigError(f"{where}: bins = {show(bins)} must be tables [bins.<dimension>]")


def check_bin_tables(space: ParameterSpace, bins: Mapping[str, Any]) -> None:
    """:class:`ConfigError` for a bins table of an unknown or fixed dimension, or a bad key."""
    for name, spec in bins.items():
        if name not in space:
            raise ConfigError(f"bins.{name}: unknown dimension; known: {', '.join(space.names)}")
        if not isinstance(spec, Mapping):
            raise ConfigError(f"bins.{name}: expected a table, got {show(spec)}")
        bad = sorted(set(spec) - set(_BIN_KEYS))
        if bad:
            raise ConfigError(
                f"bins.{name}: unknown key {show(bad[0])}; allowed: {', '.join(_BIN_KEYS)}"
            )
        if space[name].is_fixed:
            raise ConfigError(
                f"bins.{name}: the dimension is fixed in this space, so it has no bins; "
                "remove the table"
            )


def read_coverage_toml(source: str | Path) -> dict[str, Any]:
    """Parse coverage TOML text, or a ``.toml`` file given as a :class:`~pathlib.Path`."""
    text = Path(source).read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    data = parse_toml(text, "coverage TOML")
    check_top_keys(data, "coverage TOML")
    return data
