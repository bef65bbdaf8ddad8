"""Fingerprints: SHA-256 of canonical JSON, so that equal settings hash alike.

Coverage counts merge only when the fingerprints of their space, bins and crosses match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from highfive.generators import ParameterSpace

__all__ = ["fingerprint", "space_fingerprint"]


def _canon(value: Any) -> Any:
    """JSON-ready canonical form: numbers as floats, so 8 and 8.0 fingerprint alike."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    raise TypeError(f"cannot fingerprint {value!r}")


def fingerprint(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (numbers as floats, keys sorted)."""
    text = json.dumps(_canon(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def space_fingerprint(space: ParameterSpace) -> str:
    """SHA-256 of the space's canonical JSON (descriptions and sources left out)."""
    dims = [
        {k: v for k, v in d.to_dict().items() if k not in ("description", "source")} for d in space
    ]
    return fingerprint(dims)
