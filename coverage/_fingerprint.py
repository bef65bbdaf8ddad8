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

__all__ = [
    "differing_dimensions",
    "fingerprint",
    "label_union",
    "labels_within",
    "space_fingerprint",
]


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


def differing_dimensions(a: ParameterSpace, b: ParameterSpace) -> list[str]:
    """The dimensions two spaces do not share alike: ``a``'s that ``b`` lacks or holds
    otherwise, in ``a``'s order, then ``b``'s that ``a`` lacks."""
    return [d.name for d in a if d.name not in b or b[d.name].to_dict() != d.to_dict()] + [
        d.name for d in b if d.name not in a
    ]


def _labels(space: ParameterSpace) -> list[tuple[str, tuple[str, ...] | None]]:
    """(name, its categorical choices) per dimension; None: not categorical."""
    return [
        (d.name, tuple(map(str, d.choices or ())) if d.kind == "categorical" else None)
        for d in space
    ]


def labels_within(space: ParameterSpace, wider: ParameterSpace) -> bool:
    """Whether ``wider`` holds ``space``'s categorical dimensions, in its order, with
    every one of their values and perhaps more (the label space of merged runs of
    recordings), and nothing else."""
    mine, theirs = _labels(space), _labels(wider)
    return (
        len(mine) == len(theirs)
        and all(c is not None for _, c in mine + theirs)
        and all(
            a == b and set(ca or ()) <= set(cb or ())
            for (a, ca), (b, cb) in zip(mine, theirs, strict=True)
        )
    )


def label_union(spaces: list[ParameterSpace]) -> ParameterSpace | None:
    """The space of every label value of several runs of recordings, or None when their
    dimensions differ in name or order (or one is not categorical): each dimension's
    values are the union, sorted, as a labels file's are."""
    from highfive.generators import Dimension

    first = _labels(spaces[0])
    if any(c is None for _, c in first):
        return None
    names = [n for n, _ in first]
    if any([n for n, _ in _labels(s)] != names for s in spaces[1:]):
        return None
    if any(c is None for s in spaces[1:] for _, c in _labels(s)):
        return None
    dims = []
    for j, name in enumerate(names):
        values = sorted({v for s in spaces for v in (_labels(s)[j][1] or ())})
        d = spaces[0][name]
        dims.append(
            Dimension(
                name,
                "categorical",
                choices=tuple(values),
                description=d.description,
                source=d.source,
            )
        )
    return ParameterSpace(dims)
