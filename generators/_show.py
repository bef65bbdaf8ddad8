"""Values as error messages echo them: plain, readable, and short.

One definition for every package (the lowest owns it). A message echoes what the user
gave (a TOML value, a command-line argument) or a figure
computed from it, so it reads as the user would write it: ``0.1``, not
``np.float64(0.1)``; ``[1, 2]``, not ``(1, 2)``; a whole number too large for a float
as ``1e+400``, not ``inf`` or four hundred digits; and anything huge cut to a few dozen
characters.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["LIMIT", "escape", "show", "show_list", "show_number", "show_text"]

LIMIT = 60
"""Longest echo of one value, in characters (longer ones end in ``...``)."""


def _numpy_kind(value: Any, kind: str) -> bool:
    """Whether ``value`` is a NumPy ``generic`` or ``ndarray``, without importing NumPy:
    a message of a command line's parser echoes no array, and until NumPy is imported
    no value is one."""
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, getattr(np, kind))


def show_number(x: Any) -> str:
    """A number for people: ``0.1``, ``1e+308``, ``3``; a whole number of more than 15
    digits in scientific notation (``1e+400``), which no float conversion can break."""
    if _numpy_kind(x, "generic"):
        x = x.item()
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        digits = str(abs(x))
        if len(digits) <= 15:
            return str(x)
        mantissa = f"{digits[0]}.{digits[1:3]}".rstrip("0").rstrip(".")
        return f"{'-' if x < 0 else ''}{mantissa}e+{len(digits) - 1}"
    if isinstance(x, float):
        return repr(x)  # shortest round trip: 0.1, 2.0, 1e+308, inf
    return str(x)


def _plain(value: Any, limit: int) -> str:
    if (isinstance(value, int | float) or _numpy_kind(value, "generic")) and not isinstance(
        value, str
    ):
        return show_number(value)
    if _numpy_kind(value, "ndarray"):
        value = value.tolist()
    if isinstance(value, Mapping):
        items = []
        for k, v in value.items():
            items.append(f"{k!r}: {_plain(v, limit)}")
            if sum(map(len, items)) > limit:
                break
        return "{" + ", ".join(items) + ("" if len(items) == len(value) else ", ...") + "}"
    if isinstance(value, list | tuple | set | frozenset):
        return show_list(value, limit)
    return repr(value)


def show_list(values: Iterable[Any], limit: int = LIMIT) -> str:
    """``[a, b, ...]`` of plain values, cut after about ``limit`` characters (with the
    number of items)."""
    values = list(values)
    out: list[str] = []
    used = 2
    for v in values:
        text = _plain(v, limit)
        if out and used + len(text) > limit:
            return "[" + ", ".join(out) + f", ... ({len(values):,} items)]"
        out.append(text)
        used += len(text) + 2
    return "[" + ", ".join(out) + "]"


def show(value: Any, limit: int = LIMIT) -> str:
    """How a message echoes ``value``: strings quoted, numbers plain, sequences as lists,
    cut to about ``limit`` characters (a long string says how long it was: a megabyte
    of metadata is echoed as its first few dozen characters)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[: limit - 4]!r}... ({len(value):,} characters)"
    text = _plain(value, limit)
    if len(text) > limit + 20:
        text = text[:limit] + "..."
    return text


def _escaped(c: str) -> str:
    return c.encode("unicode_escape").decode("ascii")


def escape(text: str, bad: re.Pattern[str] | Callable[[str], bool]) -> str:
    """``text`` with each character ``bad`` picks (a pattern it matches, or a predicate
    true of it) written as its Python escape (``\\x1b``, ``\\u202e``), the rest as it is.
    The one escape of control characters: :func:`show_text` for a terminal, and the
    XML of junit.xml."""
    if isinstance(bad, re.Pattern):
        return bad.sub(lambda m: _escaped(m.group()), text)
    return "".join(_escaped(c) if bad(c) else c for c in text)


def _unprintable(c: str) -> bool:
    return not c.isprintable()


def show_text(text: str) -> str:
    """``text`` safe to print on a terminal: every character that is not printable
    (NUL, BEL, ESC that starts a terminal's control sequences, a line break, a
    right-to-left override) as its Python escape (``\\x07``, ``\\u202e``), the rest as
    it is. For text a program under test wrote, such as a counter's error message."""
    return escape(text, _unprintable)
