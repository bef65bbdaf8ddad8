"""The one test for "a real number" shared by every layer."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_number(value: Any) -> bool:
    """A real number (int, float or their NumPy kinds), and not a bool.

    Python counts a bool as an int; a configuration's ``true`` is not a number.
    Finiteness is not checked: callers that refuse NaN or infinity say so.
    """
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
