"""Reading the project's TOML files with one-line errors."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ._errors import ConfigError

__all__ = ["read_toml"]


def read_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """Parse the TOML file at ``path``; ``what`` names it in errors ("campaign file").

    Raises :class:`ConfigError` when the file is missing, not text, or not valid TOML.
    The text is UTF-8; a byte order mark before it (as some Windows editors write) is
    skipped, since TOML itself refused it as an "invalid statement" at line 1.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{what} {os.fspath(path)!r} does not exist") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {os.fspath(path)!r} is not readable text ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML ({exc})") from None
