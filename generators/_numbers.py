"""The one test for "a real number" shared by every layer.

NumPy is not imported here: a command line's parser checks numbers before any command
needs it.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_number"]


def is_number(value: Any) -> bool:
    """A real number (int, float or their NumPy kinds), and not a bool.

    Python counts a bool as an int; a configuration's ``true`` is not a number.
    Finiteness is not checked: callers that refuse NaN or infinity say so.
    """
    if isinstance(value, int | float):
        return not isinstance(value, bool)
    np = sys.modules.get("numpy")  # no NumPy value exists before NumPy is imported
    return np is not None and isinstance(value, np.integer | np.floating)
