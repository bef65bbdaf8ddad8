"""Reading the project's TOML files with one-line errors."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from ._errors import ConfigError

__all__ = ["parse_toml", "read_toml"]


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
    return parse_toml(text, path.name)


def parse_toml(text: str, what: str) -> dict[str, Any]:
    """Parse TOML ``text``; ``what`` names it in the :class:`ConfigError` of text that is
    not TOML, which names the line (``c.toml: not valid TOML at line 2, 'name = "b"': a
    key given a second value``). A byte order mark before the text is skipped."""
    text = text.removeprefix("\ufeff")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what}: not valid TOML {_where(str(exc), text)}") from None


_WORDS = {
    r"Cannot overwrite a value": "a key given a second value",
    r"Cannot declare \(.*\) twice": "a table given twice",
    r"Cannot mutate immutable namespace .*": "an inline table added to after it was written",
}
"""tomllib's reasons, in the words of the file."""

_QUOTED = 80
"""Characters of the line an error names that it quotes."""


def _where(message: str, text: str) -> str:
    """tomllib's message (``Cannot overwrite a value (at line 2, column 9)``) with the
    line it names quoted, in words a user reads: which key is meant shows on it."""
    at = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
    end = re.fullmatch(r"(.*) \(at end of document\)", message, re.DOTALL)
    found = at or end
    if found is None:
        return f"({message})"
    reason, named = found[1], False  # named: the key at the line's start is the point
    for pattern, words in _WORDS.items():
        if re.fullmatch(pattern, reason):
            reason, named = words, True
    reason = reason[:1].lower() + reason[1:]
    if end is not None:
        return f"at the end of the file: {reason}"
    n = int(found[2])
    lines = text.split("\n")  # tomllib's lines: a form feed or U+2028 ends none
    whole = lines[n - 1] if 0 < n <= len(lines) else ""
    # the part around the column named (a long line's error may lie far along it),
    # or its start, which names the key given twice
    start = 0 if named else max(0, min(int(found[3]) - 1 - _QUOTED // 2, len(whole) - _QUOTED))
    line = whole[start : start + _QUOTED].strip()
    cut = f"{'...' if start else ''}{line!r}{'...' if start + _QUOTED < len(whole) else ''}"
    shown = f", {cut}" if line else ""
    return f"at line {n}{shown}: {reason}"
