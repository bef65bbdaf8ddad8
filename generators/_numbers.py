"""The one test for "a real number" shared by every layer, and the one reading of a
number written as text (a command-line argument, a ``--param`` value, a string in a
parameter row).

NumPy is not imported here: a command line's parser reads numbers before any command
needs it.
"""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = ["is_number", "number_from_text", "whole_number_from_text"]

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def is_number(value: Any) -> bool:
    """A real number (int, float or their NumPy kinds), and not a bool.

    Python counts a bool as an int; a configuration's ``true`` is not a number.
    Finiteness is not checked: callers that refuse NaN or infinity say so.
    """
    if isinstance(value, int | float):
        return not isinstance(value, bool)
    np = sys.modules.get("numpy")  # no NumPy value exists before NumPy is imported
    return np is not None and isinstance(value, np.integer | np.floating)


def whole_number_from_text(text: str) -> int | None:
    """The whole number ``text`` writes in ASCII digits with an optional sign, or None.

    ``int`` alone would also read ``'1_000'``, ``' 7 '`` and other scripts' digits
    (``'١٢'`` as 12).
    """
    return int(text) if _INTEGER.fullmatch(text) else None


def number_from_text(text: str) -> float | None:
    """The number ``text`` writes, or None: ASCII digits with an optional sign, decimal
    point and exponent (``12``, ``-0.5``, ``1e-3``), or ``inf`` or ``nan``.

    ``float`` alone would also read ``'1_2'`` as 12, ``' 7 '`` and other scripts'
    digits; a text too large for a float (``'1e400'``) is infinite, as ``float`` reads it.
    """
    if _DECIMAL.fullmatch(text) or _SPECIAL.fullmatch(text):
        return float(text)
    return None
